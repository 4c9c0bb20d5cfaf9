//! Property tests of the sharding invariants.

use proptest::prelude::*;
use rusts_cluster_sharding::{
    testing::strategies, ShardKey, ShardKeyRef, ShardMapper, ShardSplit, ShardingStrategy,
};

/// Any strategy value, including the ones validation refuses (zero, negative
/// and extreme durations): `compute_shard` must be total over all of them.
fn any_strategy() -> impl Strategy<Value = ShardingStrategy> {
    strategies(prop_oneof![
        any::<i64>(),
        1..=i64::MAX,
        Just(1i64),
        Just(3_600_000_000_000)
    ])
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

/// A parent count and a factor whose product is a valid shard count,
/// weighted toward the small counts configs use and the largest products.
fn any_split() -> impl Strategy<Value = ShardSplit> {
    prop_oneof![
        (1u32..=64, 2u32..=16),
        (1u32..=(1 << 18), 2u32..=64),
        (1u32..=u32::MAX / 2, Just(2u32)),
        (Just(1u32), prop_oneof![Just(u32::MAX), 2u32..]),
    ]
    .prop_filter_map("the product fits a u32", |(n, k)| {
        ShardSplit::new(n, k).ok()
    })
}

/// Keys at the edges of each formula: `i64::MIN` and negative timestamps,
/// series near `u64::MAX`, and series plus bucket sums that wrap.
fn edge_key() -> impl Strategy<Value = ShardKey> {
    let series = prop_oneof![
        any::<u64>(),
        (0u64..1024).prop_map(|d| u64::MAX - d),
        0u64..1024,
    ];
    let timestamp = prop_oneof![
        any::<i64>(),
        (0i64..1024).prop_map(|d| i64::MIN + d),
        (0i64..1024).prop_map(|d| i64::MAX - d),
        -1_000_000_000_000i64..0,
    ];
    ("[a-z]{0,12}", series, timestamp).prop_map(|(m, id, ts)| ShardKey::new(m, id, ts))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4096))]

    /// The split property: under `k * n` shards, every key maps to a
    /// child of its shard under `n`, for every strategy (also the values
    /// validation refuses) and every factor; the prepared mapper agrees.
    #[test]
    fn prop_split_keeps_every_key_in_its_family(
        strategy in any_strategy(),
        key in prop_oneof![any_key(), edge_key()],
        split in any_split(),
    ) {
        let (n, kn) = (split.parent_count(), split.child_count());
        let parent = strategy.compute_shard(&key, n);
        let child = strategy.compute_shard(&key, kn);
        prop_assert!(split.is_child_of(child, parent), "{} is not a child of {}", child, parent);
        prop_assert_eq!(split.children_of(parent).len(), split.factor() as usize);
        prop_assert_eq!(ShardMapper::new(strategy, kn).compute_shard(&key), child);
        prop_assert_eq!(ShardMapper::new(strategy, n).compute_shard(&key), parent);
    }
}

/// The split property on the extreme keys one by one, with the smallest
/// and largest factors: no random draw is needed to reach them.
#[test]
fn split_keeps_extreme_keys_in_their_family() {
    let series = [0, 1, u64::MAX / 2, u64::MAX - 1, u64::MAX];
    let times = [
        i64::MIN,
        i64::MIN + 1,
        -3_600_000_000_001,
        -1,
        0,
        1,
        i64::MAX,
    ];
    let durations = [1, 7, 3_600_000_000_000, i64::MAX];
    let mut strategies = vec![ShardingStrategy::ByMeasurement, ShardingStrategy::BySeries];
    for d in durations {
        strategies.push(ShardingStrategy::ByTime { duration_nanos: d });
        strategies.push(ShardingStrategy::Composite {
            time_duration_nanos: d,
        });
    }
    let splits = [
        (1, 2),
        (1, u32::MAX),
        (3, 5),
        (16, 2),
        (16, 3),
        (1 << 17, 2),
        (u32::MAX / 2, 2),
    ];
    for strategy in strategies {
        for (n, k) in splits {
            let split = ShardSplit::new(n, k).unwrap();
            for s in series {
                for t in times {
                    let key = ShardKey::new("cpu", s, t);
                    let parent = strategy.compute_shard(&key, n);
                    let child = strategy.compute_shard(&key, split.child_count());
                    assert!(
                        split.is_child_of(child, parent),
                        "{strategy:?}, {n} x {k}, key {key:?}: {child} not a child of {parent}"
                    );
                }
            }
        }
    }
}
