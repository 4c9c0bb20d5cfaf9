use serde::{Deserialize, Serialize};

use crate::{ShardId, ShardKeyRef, ShardingError, Timestamp};

/// How a key is mapped to a shard.
///
/// Every formula below is part of the crate's contract: data already stored
/// stays where these formulas put it, so none of them may change. Value
/// stability tests pin exact outputs. `n` is the shard count.
///
/// | strategy | shard |
/// |---|---|
/// | `ByMeasurement` | `fxhash::hash64(measurement) % n` |
/// | `BySeries` | `series_id % n` |
/// | `ByTime` | `timestamp.div_euclid(duration_nanos).rem_euclid(n)` |
/// | `Composite` | `series_id.wrapping_add(bucket as u64) % n`, where `bucket = timestamp.div_euclid(time_duration_nanos)` |
///
/// `fxhash::hash64` is the 64-bit FxHash of the measurement fed through
/// `str`'s standard `Hash` implementation, which is what RusTs computed on
/// 64-bit machines; using the 64-bit hash explicitly keeps the mapping the
/// same on 32-bit targets. This crate computes it itself, reading bytes as
/// little-endian words: the `fxhash` crate reads native-endian words, so a
/// big-endian node would otherwise route measurements to other shards than
/// its little-endian peers (`docs/decisions/0004-measurement-hash.md`). Time buckets are floor divisions, so times before
/// 1970 fall into their own contiguous buckets (-1, -2, ...) instead of
/// sharing bucket 0 with the first hour after the epoch.
///
/// In TOML a strategy is written in serde's default form:
///
/// ```toml
/// sharding_strategy = "BySeries"
/// # or
/// sharding_strategy = { ByTime = { duration_nanos = 3600000000000 } }
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum ShardingStrategy {
    /// All points of a measurement go to one shard.
    ByMeasurement,
    /// Points are spread by series id (the default).
    #[default]
    BySeries,
    /// Points are grouped into time buckets of `duration_nanos`, and
    /// consecutive buckets go to consecutive shards.
    ByTime {
        /// The bucket width in nanoseconds; must be positive.
        duration_nanos: i64,
    },
    /// Points are spread by series id, and each series moves to the next
    /// shard with every time bucket.
    Composite {
        /// The bucket width in nanoseconds; must be positive.
        time_duration_nanos: i64,
    },
}

impl ShardingStrategy {
    /// Creates a [`ShardingStrategy::ByTime`] strategy, refusing a duration of
    /// zero or below.
    ///
    /// ```
    /// use rusts_cluster_sharding::ShardingStrategy;
    ///
    /// assert!(ShardingStrategy::by_time(3_600_000_000_000).is_ok());
    /// assert!(ShardingStrategy::by_time(0).is_err());
    /// ```
    pub fn by_time(duration_nanos: i64) -> Result<Self, ShardingError> {
        let strategy = ShardingStrategy::ByTime { duration_nanos };
        strategy.validate()?;
        Ok(strategy)
    }

    /// Creates a [`ShardingStrategy::Composite`] strategy, refusing a
    /// duration of zero or below.
    ///
    /// ```
    /// use rusts_cluster_sharding::ShardingStrategy;
    ///
    /// assert!(ShardingStrategy::composite(86_400_000_000_000).is_ok());
    /// assert!(ShardingStrategy::composite(-1).is_err());
    /// ```
    pub fn composite(time_duration_nanos: i64) -> Result<Self, ShardingError> {
        let strategy = ShardingStrategy::Composite {
            time_duration_nanos,
        };
        strategy.validate()?;
        Ok(strategy)
    }

    /// Checks that this strategy can place data: its durations, if any, are
    /// positive.
    ///
    /// The variants' fields are public (and come from TOML), so a strategy
    /// may be built without its constructor; configuration validation calls
    /// this.
    ///
    /// ```
    /// use rusts_cluster_sharding::{ShardingError, ShardingStrategy};
    ///
    /// let bad = ShardingStrategy::ByTime { duration_nanos: 0 };
    /// assert!(matches!(
    ///     bad.validate(),
    ///     Err(ShardingError::NonPositiveDuration { duration_nanos: 0, .. })
    /// ));
    /// ```
    pub fn validate(&self) -> Result<(), ShardingError> {
        let (strategy, field, duration_nanos) = match *self {
            ShardingStrategy::ByMeasurement | ShardingStrategy::BySeries => return Ok(()),
            ShardingStrategy::ByTime { duration_nanos } => {
                ("ByTime", "duration_nanos", duration_nanos)
            }
            ShardingStrategy::Composite {
                time_duration_nanos,
            } => ("Composite", "time_duration_nanos", time_duration_nanos),
        };
        if duration_nanos > 0 {
            Ok(())
        } else {
            Err(ShardingError::NonPositiveDuration {
                strategy,
                field,
                duration_nanos,
            })
        }
    }

    /// Maps a key to a shard in `0..num_shards`.
    ///
    /// The key may be a `&ShardKey`, a [`ShardKeyRef`] or a `&ShardKeyRef`.
    /// The formulas are in the type's documentation.
    ///
    /// This function is total and never panics. For values that validation
    /// refuses, it returns:
    /// - `0` when `num_shards` is `0` (there is no shard to return; a router
    ///   never has zero shards);
    /// - for a duration of zero or below, the result with every timestamp in
    ///   bucket `0`: shard `0` for `ByTime`, `series_id % num_shards` for
    ///   `Composite`.
    ///
    /// ```
    /// use rusts_cluster_sharding::{ShardKey, ShardingStrategy};
    ///
    /// let key = ShardKey::new("cpu", 1001, 0);
    /// assert_eq!(ShardingStrategy::BySeries.compute_shard(&key, 16), 1001 % 16);
    /// ```
    #[inline]
    pub fn compute_shard<'k>(&self, key: impl Into<ShardKeyRef<'k>>, num_shards: u32) -> ShardId {
        let key = key.into();
        if num_shards == 0 {
            return 0;
        }
        let n = u64::from(num_shards);
        let shard = match *self {
            ShardingStrategy::ByMeasurement => measurement_hash(key.measurement) % n,
            ShardingStrategy::BySeries => key.series_id % n,
            ShardingStrategy::ByTime { duration_nanos } => {
                // `rem_euclid` by a positive `n` is in `0..n`, so the cast
                // cannot lose a sign.
                time_bucket(key.timestamp, duration_nanos).rem_euclid(i64::from(num_shards)) as u64
            }
            ShardingStrategy::Composite {
                time_duration_nanos,
            } => {
                // The bucket is reinterpreted as u64 (two's complement), as
                // RusTs did; wrapping keeps the sum total for every input.
                let bucket = time_bucket(key.timestamp, time_duration_nanos);
                key.series_id.wrapping_add(bucket as u64) % n
            }
        };
        // `shard < n <= u32::MAX`, so the cast is lossless.
        shard as ShardId
    }
}

/// The 64-bit FxHash of `measurement` as `fxhash::hash64(measurement)`
/// computes it on a little-endian machine, on every machine.
///
/// `str`'s `Hash` writes the bytes, then a `0xff` byte; FxHasher64 folds in
/// 8-byte words, then a 4-byte word, then single bytes, each by
/// `hash = (hash.rotate_left(5) ^ word) * 0x517cc1b727220a95`.
#[inline]
pub(crate) fn measurement_hash(measurement: &str) -> u64 {
    const SEED: u64 = 0x517c_c1b7_2722_0a95;
    #[inline]
    fn fold(hash: u64, word: u64) -> u64 {
        (hash.rotate_left(5) ^ word).wrapping_mul(SEED)
    }
    let mut hash = 0;
    let mut chunks = measurement.as_bytes().chunks_exact(8);
    for chunk in &mut chunks {
        let word: [u8; 8] = chunk.try_into().unwrap_or([0; 8]);
        hash = fold(hash, u64::from_le_bytes(word));
    }
    let mut rest = chunks.remainder();
    if rest.len() >= 4 {
        let word = [rest[0], rest[1], rest[2], rest[3]];
        hash = fold(hash, u64::from(u32::from_le_bytes(word)));
        rest = &rest[4..];
    }
    for &byte in rest {
        hash = fold(hash, u64::from(byte));
    }
    fold(hash, 0xff)
}

/// The floor bucket of `timestamp` for buckets of `duration_nanos`, or `0`
/// when the duration is not positive.
///
/// With a positive divisor `div_euclid` cannot overflow (the one overflowing
/// case, `i64::MIN / -1`, needs a negative divisor).
#[inline]
fn time_bucket(timestamp: Timestamp, duration_nanos: i64) -> i64 {
    if duration_nanos > 0 {
        timestamp.div_euclid(duration_nanos)
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ShardKey;

    const HOUR: i64 = 3_600_000_000_000;

    #[test]
    fn by_time_uses_floor_buckets_before_the_epoch() {
        let s = ShardingStrategy::by_time(HOUR).unwrap();
        // The hour before the epoch is bucket -1, which maps to shard n-1,
        // not to bucket 0 alongside the first hour after the epoch.
        assert_eq!(s.compute_shard(&ShardKey::new("m", 0, -1), 16), 15);
        assert_eq!(s.compute_shard(&ShardKey::new("m", 0, -HOUR), 16), 15);
        assert_eq!(s.compute_shard(&ShardKey::new("m", 0, -HOUR - 1), 16), 14);
        assert_eq!(s.compute_shard(&ShardKey::new("m", 0, 0), 16), 0);
        assert_eq!(s.compute_shard(&ShardKey::new("m", 0, HOUR - 1), 16), 0);
        assert_eq!(s.compute_shard(&ShardKey::new("m", 0, HOUR), 16), 1);
    }

    #[test]
    fn composite_shifts_each_series_by_its_bucket() {
        let s = ShardingStrategy::composite(HOUR).unwrap();
        assert_eq!(s.compute_shard(&ShardKey::new("m", 5, 0), 16), 5);
        assert_eq!(s.compute_shard(&ShardKey::new("m", 5, 3 * HOUR), 16), 8);
        // Bucket -1 wraps to u64::MAX, so series 5 lands on (5 - 1) mod 2^64,
        // then mod 16.
        assert_eq!(s.compute_shard(&ShardKey::new("m", 5, -1), 16), 4);
    }

    #[test]
    fn invalid_values_never_panic_and_return_the_documented_shard() {
        let key = ShardKey::new("m", 21, i64::MIN);
        for strategy in [
            ShardingStrategy::ByMeasurement,
            ShardingStrategy::BySeries,
            ShardingStrategy::ByTime { duration_nanos: 0 },
            ShardingStrategy::ByTime { duration_nanos: -1 },
            ShardingStrategy::ByTime {
                duration_nanos: i64::MIN,
            },
            ShardingStrategy::Composite {
                time_duration_nanos: 0,
            },
            ShardingStrategy::Composite {
                time_duration_nanos: i64::MIN,
            },
        ] {
            assert_eq!(
                strategy.compute_shard(&key, 0),
                0,
                "{strategy:?} with n = 0"
            );
        }
        assert_eq!(
            ShardingStrategy::ByTime { duration_nanos: -5 }.compute_shard(&key, 16),
            0
        );
        assert_eq!(
            ShardingStrategy::Composite {
                time_duration_nanos: 0
            }
            .compute_shard(&key, 16),
            21 % 16
        );
    }

    #[test]
    fn extreme_timestamps_with_valid_durations() {
        for ts in [i64::MIN, i64::MIN + 1, -1, 0, 1, i64::MAX] {
            for d in [1, HOUR, i64::MAX] {
                for n in [1, 2, 7, u32::MAX] {
                    let key = ShardKey::new("m", u64::MAX, ts);
                    assert!(
                        ShardingStrategy::ByTime { duration_nanos: d }.compute_shard(&key, n) < n
                    );
                    assert!(
                        ShardingStrategy::Composite {
                            time_duration_nanos: d
                        }
                        .compute_shard(&key, n)
                            < n
                    );
                }
            }
        }
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn measurement_hash_is_fxhash64_on_little_endian() {
        let mut text = String::new();
        for i in 0..40u32 {
            assert_eq!(
                measurement_hash(&text),
                fxhash::hash64(text.as_str()),
                "{text:?}"
            );
            text.push(char::from_u32(0x61 + i % 26).unwrap());
            if i % 7 == 0 {
                text.push('é');
            }
        }
    }

    #[test]
    fn constructors_refuse_non_positive_durations() {
        assert_eq!(
            ShardingStrategy::by_time(0),
            Err(ShardingError::NonPositiveDuration {
                strategy: "ByTime",
                field: "duration_nanos",
                duration_nanos: 0
            })
        );
        assert_eq!(
            ShardingStrategy::composite(-7),
            Err(ShardingError::NonPositiveDuration {
                strategy: "Composite",
                field: "time_duration_nanos",
                duration_nanos: -7
            })
        );
        assert_eq!(
            ShardingStrategy::by_time(1).unwrap(),
            ShardingStrategy::ByTime { duration_nanos: 1 }
        );
    }

    #[test]
    fn error_message_names_the_value_and_the_fix() {
        let msg = ShardingStrategy::by_time(-3).unwrap_err().to_string();
        assert_eq!(
            msg,
            "`duration_nanos` of the ByTime sharding strategy is -3; it must be a positive \
             number of nanoseconds, e.g. 3600000000000 for one hour"
        );
    }
}
