use strength_reduce::StrengthReducedU64;

use crate::{
    strategy::measurement_hash, SeriesId, ShardId, ShardKeyRef, ShardingStrategy, Timestamp,
};

/// A [`ShardingStrategy`] bound to a shard count, with its divisions prepared
/// once so that mapping a key costs multiplies and shifts instead of hardware
/// divisions.
///
/// Every result is bit-identical to
/// [`ShardingStrategy::compute_shard`] with the same shard count, for every
/// key and every strategy value (property tests check it over random and
/// extreme values); only the cost differs. A router builds one when it is
/// built and uses it for every key.
///
/// It also exposes the two halves of the time-based formulas,
/// [`time_bucket`](Self::time_bucket) and
/// [`shard_of_bucket`](Self::shard_of_bucket), so that a query planner can
/// list the shards of a time range with exactly the arithmetic that placed
/// the data.
///
/// ```
/// use rusts_cluster_sharding::{ShardKey, ShardMapper, ShardingStrategy};
///
/// let strategy = ShardingStrategy::by_time(3_600_000_000_000)?;
/// let mapper = ShardMapper::new(strategy, 16);
/// let key = ShardKey::new("cpu", 42, -1);
/// assert_eq!(mapper.compute_shard(&key), strategy.compute_shard(&key, 16));
/// assert_eq!(mapper.compute_shard(&key), 15); // bucket -1 is the last shard
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct ShardMapper {
    strategy: ShardingStrategy,
    num_shards: u32,
    /// `None` when `num_shards` is zero: every key maps to shard 0, as
    /// `compute_shard` documents.
    shards: Option<StrengthReducedU64>,
    /// The bucket width for time-based strategies; `None` for the others and
    /// for a width of zero or below (every timestamp is in bucket 0).
    bucket: Option<StrengthReducedU64>,
}

impl ShardMapper {
    /// Prepares `strategy` for `num_shards` shards.
    ///
    /// Costs a few divisions; build it once and keep it.
    pub fn new(strategy: ShardingStrategy, num_shards: u32) -> Self {
        let width = match strategy {
            ShardingStrategy::ByMeasurement | ShardingStrategy::BySeries => 0,
            ShardingStrategy::ByTime { duration_nanos } => duration_nanos,
            ShardingStrategy::Composite {
                time_duration_nanos,
            } => time_duration_nanos,
        };
        ShardMapper {
            strategy,
            num_shards,
            shards: (num_shards > 0).then(|| StrengthReducedU64::new(u64::from(num_shards))),
            // `width > 0`, so the cast keeps its value.
            bucket: (width > 0).then(|| StrengthReducedU64::new(width as u64)),
        }
    }

    /// The strategy.
    pub fn strategy(&self) -> ShardingStrategy {
        self.strategy
    }

    /// The shard count.
    pub fn shard_count(&self) -> u32 {
        self.num_shards
    }

    /// Maps a key to a shard in `0..shard_count`: the same shard as
    /// [`ShardingStrategy::compute_shard`].
    #[inline]
    pub fn compute_shard<'k>(&self, key: impl Into<ShardKeyRef<'k>>) -> ShardId {
        let key = key.into();
        let Some(n) = self.shards else { return 0 };
        let shard = match self.strategy {
            ShardingStrategy::ByMeasurement => measurement_hash(key.measurement) % n,
            ShardingStrategy::BySeries => key.series_id % n,
            ShardingStrategy::ByTime { .. } => rem_euclid(self.time_bucket(key.timestamp), n),
            ShardingStrategy::Composite { .. } => {
                series_in_bucket(key.series_id, self.time_bucket(key.timestamp)) % n
            }
        };
        // `shard < n <= u32::MAX`, so the cast is lossless.
        shard as ShardId
    }

    /// The time bucket of `timestamp`: `timestamp.div_euclid(width)` (a floor
    /// division, so times before 1970 are in buckets -1, -2, ...), or `0` for
    /// strategies without buckets and for a width of zero or below.
    #[inline]
    pub fn time_bucket(&self, timestamp: Timestamp) -> i64 {
        let Some(width) = self.bucket else { return 0 };
        if timestamp >= 0 {
            // Both operands are non-negative; the quotient is at most
            // `i64::MAX`.
            (timestamp as u64 / width) as i64
        } else {
            // floor(t / w) = -(floor((-t - 1) / w)) - 1 for t < 0 and w > 0;
            // `-(t + 1)` is in `0..=i64::MAX`, so nothing overflows.
            let magnitude = (-(timestamp + 1)) as u64 / width;
            -(magnitude as i64) - 1
        }
    }

    /// The shard of time bucket `bucket` under `ByTime`:
    /// `bucket.rem_euclid(shard_count)`.
    #[inline]
    pub fn shard_of_bucket(&self, bucket: i64) -> ShardId {
        match self.shards {
            Some(n) => rem_euclid(bucket, n) as ShardId,
            None => 0,
        }
    }

    /// The shard of series `series_id` in time bucket `bucket` under
    /// `Composite`: `series_id.wrapping_add(bucket as u64) % shard_count`.
    #[inline]
    pub fn shard_of_series_in_bucket(&self, series_id: SeriesId, bucket: i64) -> ShardId {
        match self.shards {
            Some(n) => (series_in_bucket(series_id, bucket) % n) as ShardId,
            None => 0,
        }
    }
}

/// `series_id + bucket` in two's complement, as the Composite formula
/// defines it.
#[inline]
fn series_in_bucket(series_id: SeriesId, bucket: i64) -> u64 {
    series_id.wrapping_add(bucket as u64)
}

/// `value.rem_euclid(n)` for a positive `n`, through the prepared divisor.
#[inline]
fn rem_euclid(value: i64, n: StrengthReducedU64) -> u64 {
    if value >= 0 {
        value as u64 % n
    } else {
        // -value mod n, then mirrored: (-a) mod n = n - (a mod n) unless 0.
        match value.unsigned_abs() % n {
            0 => 0,
            r => n.get() - r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShardKey;

    #[test]
    fn matches_compute_shard_on_extreme_values() {
        let durations = [
            i64::MIN,
            -1,
            0,
            1,
            2,
            3,
            1_000,
            3_600_000_000_000,
            i64::MAX - 1,
            i64::MAX,
        ];
        let mut strategies = vec![ShardingStrategy::ByMeasurement, ShardingStrategy::BySeries];
        for &d in &durations {
            strategies.push(ShardingStrategy::ByTime { duration_nanos: d });
            strategies.push(ShardingStrategy::Composite {
                time_duration_nanos: d,
            });
        }
        let times = [
            i64::MIN,
            i64::MIN + 1,
            -3_600_000_000_001,
            -2,
            -1,
            0,
            1,
            2,
            i64::MAX - 1,
            i64::MAX,
        ];
        let series = [0, 1, 2, u64::MAX / 2, u64::MAX - 1, u64::MAX];
        let counts = [0, 1, 2, 3, 7, 16, 1 << 18, u32::MAX - 1, u32::MAX];
        let measurements = ["", "cpu", "a much longer measurement name"];
        for strategy in strategies {
            for n in counts {
                let mapper = ShardMapper::new(strategy, n);
                for t in times {
                    for s in series {
                        for m in measurements {
                            let key = ShardKey::new(m, s, t);
                            assert_eq!(
                                mapper.compute_shard(&key),
                                strategy.compute_shard(&key, n),
                                "{strategy:?}, n = {n}, key {key:?}"
                            );
                        }
                    }
                }
            }
        }
    }
}
