//! Property tests of the sharding invariants.

use proptest::prelude::*;
use rusts_cluster_sharding::{ShardKey, ShardKeyRef, ShardMapper, ShardingStrategy};

/// Any strategy value, including the ones validation refuses (zero, negative
/// and extreme durations): `compute_shard` must be total over all of them.
fn any_strategy() -> impl Strategy<Value = ShardingStrategy> {
    let duration = prop_oneof![
        any::<i64>(),
        1..=i64::MAX,
        Just(1i64),
        Just(3_600_000_000_000)
    ];
    prop_oneof![
        Just(ShardingStrategy::ByMeasurement),
        Just(ShardingStrategy::BySeries),
        duration
            .clone()
            .prop_map(|duration_nanos| ShardingStrategy::ByTime { duration_nanos }),
        duration.prop_map(|time_duration_nanos| ShardingStrategy::Composite {
            time_duration_nanos
        }),
    ]
}

fn any_key() -> impl Strategy<Value = ShardKey> {
    let timestamp = prop_oneof![
        any::<i64>(),
        Just(i64::MIN),
        Just(i64::MAX),
        Just(0i64),
        Just(-1i64)
    ];
    ("\\PC{0,24}", any::<u64>(), timestamp).prop_map(|(m, id, ts)| ShardKey::new(m, id, ts))
}

/// Shard counts weighted toward the edges: small, powers of two (the
/// prepared divisor takes a shortcut for them), and the extremes.
fn any_shard_count() -> impl Strategy<Value = u32> {
    prop_oneof![
        any::<u32>(),
        0u32..=64,
        (0u32..32).prop_map(|bits| 1 << bits),
        Just(u32::MAX),
        Just(u32::MAX - 1),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    #[test]
    fn prop_prepared_mapper_is_bit_identical_to_compute_shard(
        strategy in any_strategy(),
        key in any_key(),
        n in any_shard_count(),
    ) {
        let mapper = ShardMapper::new(strategy, n);
        prop_assert_eq!(mapper.compute_shard(&key), strategy.compute_shard(&key, n));
        let bucket = mapper.time_bucket(key.timestamp);
        match strategy {
            ShardingStrategy::ByTime { .. } => {
                prop_assert_eq!(mapper.shard_of_bucket(bucket), strategy.compute_shard(&key, n));
            }
            ShardingStrategy::Composite { .. } => {
                prop_assert_eq!(
                    mapper.shard_of_series_in_bucket(key.series_id, bucket),
                    strategy.compute_shard(&key, n)
                );
            }
            _ => prop_assert_eq!(bucket, 0),
        }
    }
}

proptest! {
    #[test]
    fn prop_result_is_below_the_shard_count(strategy in any_strategy(), key in any_key(), n in 1u32..) {
        prop_assert!(strategy.compute_shard(&key, n) < n);
    }

    #[test]
    fn prop_zero_shards_gives_zero(strategy in any_strategy(), key in any_key()) {
        prop_assert_eq!(strategy.compute_shard(&key, 0), 0);
    }

    #[test]
    fn prop_same_key_same_shard(strategy in any_strategy(), key in any_key(), n in 1u32..) {
        let copy = key.clone();
        prop_assert_eq!(strategy.compute_shard(&key, n), strategy.compute_shard(&copy, n));
    }

    #[test]
    fn prop_borrowed_key_routes_like_the_owned_one(strategy in any_strategy(), key in any_key(), n in 1u32..) {
        let borrowed = ShardKeyRef::new(&key.measurement, key.series_id, key.timestamp);
        prop_assert_eq!(strategy.compute_shard(borrowed, n), strategy.compute_shard(&key, n));
        prop_assert_eq!(borrowed.to_owned_key(), key);
    }

    #[test]
    fn prop_by_time_ignores_measurement_and_series(
        d in 1i64.., ts in any::<i64>(), a in any_key(), b in any_key(), n in 1u32..
    ) {
        let s = ShardingStrategy::ByTime { duration_nanos: d };
        let ka = ShardKeyRef::new(&a.measurement, a.series_id, ts);
        let kb = ShardKeyRef::new(&b.measurement, b.series_id, ts);
        prop_assert_eq!(s.compute_shard(ka, n), s.compute_shard(kb, n));
    }

    #[test]
    fn prop_by_time_consecutive_buckets_take_consecutive_shards(
        d in 1i64..=1_000_000_000_000, bucket in -1_000_000i64..1_000_000, n in 1u32..
    ) {
        // Every timestamp of a bucket maps to one shard; the next bucket to
        // the next shard (mod n), across the epoch too.
        let s = ShardingStrategy::ByTime { duration_nanos: d };
        let start = bucket * d;
        let shard = s.compute_shard(ShardKeyRef::new("m", 0, start), n);
        prop_assert_eq!(s.compute_shard(ShardKeyRef::new("m", 0, start + d - 1), n), shard);
        let next = s.compute_shard(ShardKeyRef::new("m", 0, start + d), n);
        prop_assert_eq!(next, ((u64::from(shard) + 1) % u64::from(n)) as u32);
    }

    #[test]
    fn prop_by_series_and_measurement_ignore_time(key in any_key(), ts in any::<i64>(), n in 1u32..) {
        let moved = ShardKeyRef::new(&key.measurement, key.series_id, ts);
        for s in [ShardingStrategy::BySeries, ShardingStrategy::ByMeasurement] {
            prop_assert_eq!(s.compute_shard(moved, n), s.compute_shard(&key, n));
        }
    }

    #[test]
    fn prop_constructors_accept_exactly_positive_durations(d in any::<i64>()) {
        prop_assert_eq!(ShardingStrategy::by_time(d).is_ok(), d > 0);
        prop_assert_eq!(ShardingStrategy::composite(d).is_ok(), d > 0);
    }
}
