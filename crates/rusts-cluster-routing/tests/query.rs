//! Query planning: soundness (a plan never misses a shard that `route`
//! gives for a matching key), exactness where the strategy allows it, and
//! replica choice around down nodes.

use std::{collections::BTreeSet, ops::Range};

use proptest::prelude::*;
use rusts_cluster_config::{
    strategies::{round_robin_cluster, valid_config},
    ClusterConfig,
};
use rusts_cluster_routing::{Query, QueryPlan, RoutingError, ShardRouter};
use rusts_cluster_sharding::{testing::strategies, ShardId, ShardKeyRef, ShardingStrategy};

const MEASUREMENTS: [&str; 4] = ["cpu", "mem", "disk", ""];

/// Every strategy, with bucket widths small enough that random ranges cover
/// several buckets, and the extremes.
fn any_strategy() -> impl Strategy<Value = ShardingStrategy> {
    strategies(prop_oneof![
        1i64..=1_000,
        Just(3_600_000_000_000i64),
        1..=i64::MAX
    ])
}

fn any_series() -> impl Strategy<Value = u64> {
    prop_oneof![0u64..100, any::<u64>(), u64::MAX - 10..=u64::MAX]
}

fn any_range() -> impl Strategy<Value = Range<i64>> {
    let start = prop_oneof![
        -5_000i64..5_000,
        any::<i64>(),
        Just(i64::MIN),
        i64::MAX - 1_000..=i64::MAX
    ];
    let len = prop_oneof![
        0i64..3_000,
        Just(0i64),
        Just(1i64),
        any::<i64>().prop_map(i64::abs)
    ];
    (start, len).prop_map(|(start, len)| start..start.saturating_add(len))
}

fn any_query() -> impl Strategy<Value = Query> {
    (
        prop::option::of(prop::sample::select(&MEASUREMENTS[..])),
        prop::option::of(prop::collection::vec(any_series(), 0..6)),
        prop::option::of(any_range()),
    )
        .prop_map(|(measurement, series, range)| {
            let mut query = Query::new();
            if let Some(m) = measurement {
                query = query.measurement(m);
            }
            if let Some(series) = series {
                query = query.series(&series);
            }
            if let Some(range) = range {
                query = query.time_range(range);
            }
            query
        })
}

/// A key matching `query`, steered by the random picks.
fn matching_key(query: &Query, pick: (usize, usize, u64, i64)) -> Option<(String, u64, i64)> {
    let measurement = query
        .get_measurement()
        .unwrap_or(MEASUREMENTS[pick.0 % MEASUREMENTS.len()])
        .to_owned();
    let series = match query.get_series() {
        Some([]) => return None,
        Some(ids) => ids[pick.1 % ids.len()],
        None => pick.2,
    };
    let timestamp = match query.get_time_range() {
        Some(r) if r.end <= r.start => return None,
        Some(r) => {
            let len = (i128::from(r.end) - i128::from(r.start)) as u128;
            (i128::from(r.start) + (u128::from(pick.3.unsigned_abs()) % len) as i128) as i64
        }
        None => pick.3,
    };
    Some((measurement, series, timestamp))
}

/// Checks the plan's own consistency: shards ascending and distinct, and
/// every shard either in exactly one target on a node that holds a copy,
/// or unavailable.
fn check_partition(router: &ShardRouter, plan: &QueryPlan) {
    assert!(
        plan.shards().windows(2).all(|w| w[0] < w[1]),
        "{:?}",
        plan.shards()
    );
    let mut placed: Vec<ShardId> = plan.unavailable_shards().to_vec();
    for target in plan.targets() {
        assert!(!target.shards.is_empty());
        for &shard in &target.shards {
            let s = router.get_shard(shard).unwrap();
            assert!(
                s.all_nodes().any(|n| n == target.node_id),
                "shard {shard} is not on {}",
                target.node_id
            );
        }
        placed.extend(&target.shards);
    }
    placed.sort_unstable();
    assert_eq!(placed, plan.shards());
}

/// The exact shard set for the cases the strategy can prune, computed by
/// enumerating keys with `compute_shard` (the `%` formula), or `None` where
/// the plan must read every shard.
fn oracle(config: &ClusterConfig, query: &Query) -> Option<BTreeSet<ShardId>> {
    let n = config.shard_count;
    let strategy = config.sharding_strategy;
    let shard = |m: &str, s: u64, t: i64| strategy.compute_shard(ShardKeyRef::new(m, s, t), n);
    if query.get_series() == Some(&[]) || query.get_time_range().is_some_and(|r| r.end <= r.start) {
        return Some(BTreeSet::new());
    }
    // A timestamp in each bucket the range covers, as far as the shards
    // can tell apart: the first and the last 3n buckets. Consecutive
    // buckets cycle through the shards, except that Composite's u64 sum may
    // wrap once; either part of a wrapped run that is n long covers every
    // shard, and if both are shorter the whole run is under 2n.
    let bucket_times = |width: i64, range: Range<i64>| -> Vec<i64> {
        let (start, last, w) = (
            i128::from(range.start),
            i128::from(range.end) - 1,
            i128::from(width),
        );
        let (first_bucket, last_bucket) = (start.div_euclid(w), last.div_euclid(w));
        let span = 3 * i128::from(n);
        let head = first_bucket..=last_bucket.min(first_bucket + span);
        let tail = (last_bucket - span).max(first_bucket)..=last_bucket;
        head.chain(tail)
            .map(|b| (b * w).clamp(start, last) as i64)
            .collect()
    };
    match (
        strategy,
        query.get_measurement(),
        query.get_series(),
        query.get_time_range(),
    ) {
        (ShardingStrategy::ByMeasurement, Some(m), _, _) => Some([shard(m, 0, 0)].into()),
        (ShardingStrategy::BySeries, _, Some(ids), _) => {
            Some(ids.iter().map(|&s| shard("", s, 0)).collect())
        }
        (ShardingStrategy::ByTime { duration_nanos }, _, _, Some(range)) => Some(
            bucket_times(duration_nanos, range)
                .into_iter()
                .map(|t| shard("", 0, t))
                .collect(),
        ),
        (
            ShardingStrategy::Composite {
                time_duration_nanos,
            },
            _,
            Some(ids),
            Some(range),
        ) => {
            let starts = bucket_times(time_duration_nanos, range);
            Some(
                ids.iter()
                    .flat_map(|&s| starts.iter().map(move |&t| (s, t)))
                    .map(|(s, t)| shard("", s, t))
                    .collect(),
            )
        }
        _ => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1024))]

    #[test]
    fn prop_a_plan_holds_the_shard_of_every_matching_key(
        mut config in valid_config(),
        strategy in any_strategy(),
        query in any_query(),
        picks in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u64>(), any::<i64>()), 1..40),
    ) {
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        let plan = router.plan_query(&query).unwrap();
        check_partition(&router, &plan);
        prop_assert!(plan.is_complete());
        for pick in picks {
            let Some((m, s, t)) = matching_key(&query, pick) else { continue };
            let key = ShardKeyRef::new(&m, s, t);
            prop_assert!(query.matches(key));
            let shard = router.route(key).unwrap().id;
            prop_assert!(plan.shards().binary_search(&shard).is_ok(),
                "{key:?} routes to shard {shard}, which the plan {:?} omits", plan.shards());
        }
    }

    #[test]
    fn prop_plans_are_exact_where_the_strategy_allows(
        mut config in valid_config(),
        strategy in any_strategy(),
        query in any_query(),
    ) {
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        let plan = router.plan_query(&query).unwrap();
        let all: BTreeSet<ShardId> = (0..config.shard_count).collect();
        let expected = oracle(&config, &query).unwrap_or_else(|| all.clone());
        let got: BTreeSet<ShardId> = plan.shards().iter().copied().collect();
        prop_assert_eq!(&got, &expected, "{:?} on {:?}", query, strategy);
        prop_assert_eq!(plan.is_pruned(), expected != all);
        // Refusing full fan-outs refuses exactly the plans that read all of
        // more than one shard.
        let refused = router.plan_query(&query.clone().require_pruning());
        prop_assert_eq!(refused.is_err(), expected == all && all.len() > 1);
    }

    #[test]
    fn prop_down_nodes_are_never_read_and_shards_never_dropped(
        mut config in valid_config(),
        query in any_query(),
        down in prop::collection::vec(any::<bool>(), 8),
    ) {
        config.sharding_strategy = ShardingStrategy::BySeries;
        let router = ShardRouter::from_config(&config).unwrap();
        for (node, &is_down) in config.nodes.iter().zip(&down) {
            router.set_node_available(&node.id, !is_down).unwrap();
        }
        let plan = router.plan_query(&query).unwrap();
        check_partition(&router, &plan);
        for target in plan.targets() {
            prop_assert_eq!(router.is_node_available(&target.node_id), Some(true));
        }
        for &shard in plan.unavailable_shards() {
            let s = router.get_shard(shard).unwrap();
            prop_assert!(s.all_nodes().all(|n| router.is_node_available(n) == Some(false)));
        }
    }
}

/// Six nodes in three zones, RF 3, 12 shards; this process is node0.
fn zoned() -> ShardRouter {
    ShardRouter::from_config(&zoned_config()).unwrap()
}

fn zoned_config() -> ClusterConfig {
    let mut config = round_robin_cluster(12, 6, 3);
    for (i, node) in config.nodes.iter_mut().enumerate() {
        node.tags.insert("zone".into(), format!("z{}", i % 3));
    }
    config
}

fn targets(plan: &QueryPlan) -> Vec<(&str, Vec<ShardId>)> {
    plan.targets()
        .iter()
        .map(|t| (t.node_id.as_str(), t.shards.clone()))
        .collect()
}

#[test]
fn reads_go_local_then_preferred_zone_then_primary_then_replicas() {
    let router = zoned();
    // Shard s: primary node(s % 6), replicas node(s+1 % 6), node(s+2 % 6).
    // Shards 4, 5 and 0 have a copy on node0 (this node); the others go to
    // their primary.
    let plan = router
        .plan_query(&Query::new().series(&[0, 1, 4, 5]))
        .unwrap();
    assert_eq!(
        targets(&plan),
        [("node0", vec![0, 4, 5]), ("node1", vec![1])]
    );
    // Preferring zone z2 (node2, node5): shard 1 (node1, node2, node3) reads
    // on node2; the local copies still win.
    let plan = router
        .plan_query(&Query::new().series(&[0, 1, 4, 5]).prefer_tag("zone", "z2"))
        .unwrap();
    assert_eq!(
        targets(&plan),
        [("node0", vec![0, 4, 5]), ("node2", vec![1])]
    );
    // With node0 and node2 down: shard 0 (node0, node1, node2) reads from
    // node1, its first available copy; shard 1 from node1 (primary).
    router.set_node_available("node0", false).unwrap();
    router.set_node_available("node2", false).unwrap();
    let plan = router
        .plan_query(&Query::new().series(&[0, 1]).prefer_tag("zone", "z2"))
        .unwrap();
    assert_eq!(targets(&plan), [("node1", vec![0, 1])]);
    assert!(plan.is_complete());
    // And with node1 down too, shard 0 has no copy left.
    router.set_node_available("node1", false).unwrap();
    let plan = router.plan_query(&Query::new().series(&[0, 1])).unwrap();
    assert_eq!(plan.unavailable_shards(), [0]);
    assert_eq!(targets(&plan), [("node3", vec![1])]);
}

#[test]
fn an_offline_shard_is_unavailable_not_dropped() {
    let mut config = zoned_config();
    config.offline_shards = vec![3];
    config.read_only_shards = vec![4];
    let router = ShardRouter::from_config(&config).unwrap();
    let plan = router.plan_query(&Query::new().series(&[3, 4])).unwrap();
    assert_eq!(plan.shards(), [3, 4]);
    assert_eq!(plan.unavailable_shards(), [3]);
    assert!(!plan.is_complete());
}

#[test]
fn refusing_an_unprunable_query_says_why() {
    let hour = 3_600_000_000_000;
    let cases = [
        (
            ShardingStrategy::BySeries,
            Query::new().measurement("cpu"),
            "names no series ids",
        ),
        (
            ShardingStrategy::ByMeasurement,
            Query::new().series(&[1]),
            "names no measurement",
        ),
        (
            ShardingStrategy::by_time(hour).unwrap(),
            Query::new(),
            "has no time range",
        ),
        (
            ShardingStrategy::by_time(hour).unwrap(),
            Query::new().time_range(0..30 * hour),
            "covers 30 time buckets",
        ),
        (
            ShardingStrategy::composite(hour).unwrap(),
            Query::new().series(&[1]),
            "lacks series ids or a time range",
        ),
        (
            // Series 0, 3, 6 and 9 over three buckets: every shard.
            ShardingStrategy::composite(hour).unwrap(),
            Query::new().series(&[0, 3, 6, 9]).time_range(0..3 * hour),
            "over the time range, map to every shard; name fewer series or narrow the range",
        ),
        (
            ShardingStrategy::BySeries,
            Query::new().series(&(0..12).collect::<Vec<_>>()),
            "map to every shard",
        ),
    ];
    for (strategy, query, why) in cases {
        let mut config = round_robin_cluster(12, 3, 2);
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        assert_eq!(router.plan_query(&query).unwrap().shards().len(), 12);
        let err = router.plan_query(&query.require_pruning()).unwrap_err();
        assert!(matches!(
            err,
            RoutingError::QueryNotPruned {
                shard_count: 12,
                ..
            }
        ));
        let message = err.to_string();
        assert!(
            message.starts_with("query would read all 12 shards: "),
            "{message}"
        );
        assert!(message.contains(why), "{message} should say {why:?}");
    }
}

#[test]
fn worked_examples_of_docs_queries_md() {
    let hour = 3_600_000_000_000i64;
    let t0 = 472_222 * hour; // 2023-11-14 22:00 UTC, the start of bucket 472222
    let plan = |strategy, query: Query| {
        let mut config = round_robin_cluster(16, 4, 2);
        config.sharding_strategy = strategy;
        ShardRouter::from_config(&config)
            .unwrap()
            .plan_query(&query)
            .unwrap()
            .shards()
            .to_vec()
    };
    assert_eq!(
        plan(
            ShardingStrategy::ByMeasurement,
            Query::new().measurement("cpu")
        ),
        [2]
    );
    assert_eq!(
        plan(
            ShardingStrategy::BySeries,
            Query::new().series(&[3, 19, 40])
        ),
        [3, 8]
    );
    // Buckets 472222 and 472223: 472222 % 16 = 14.
    assert_eq!(
        plan(
            ShardingStrategy::by_time(hour).unwrap(),
            Query::new().time_range(t0..t0 + hour + 1)
        ),
        [14, 15]
    );
    assert_eq!(
        plan(
            ShardingStrategy::by_time(hour).unwrap(),
            Query::new().time_range(t0..t0 + 30 * 24 * hour)
        )
        .len(),
        16
    );
    // Series 1 and 5 in buckets 472222-472224: (s + b) % 16, with b % 16 = 14, 15, 0.
    assert_eq!(
        plan(
            ShardingStrategy::composite(hour).unwrap(),
            Query::new().series(&[1, 5]).time_range(t0..t0 + 3 * hour)
        ),
        [0, 1, 3, 4, 5, 15]
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// After a split taken live, plans prune with the new shard count:
    /// exact where the strategy allows it (the same oracle, at `k * n`),
    /// and never missing the shard of a matching key.
    #[test]
    fn prop_plans_after_a_split_are_exact_at_the_new_count(
        mut config in valid_config(),
        strategy in any_strategy(),
        factor in 2u32..=3,
        query in any_query(),
        picks in prop::collection::vec((any::<usize>(), any::<usize>(), any::<u64>(), any::<i64>()), 1..16),
    ) {
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        let split = config.split(factor).unwrap();
        router.apply(&split).unwrap();
        let plan = router.plan_query(&query).unwrap();
        check_partition(&router, &plan);
        let all: BTreeSet<ShardId> = (0..split.shard_count).collect();
        let expected = oracle(&split, &query).unwrap_or_else(|| all.clone());
        let got: BTreeSet<ShardId> = plan.shards().iter().copied().collect();
        prop_assert_eq!(&got, &expected, "{:?} on {:?} split by {}", query, strategy, factor);
        for pick in picks {
            let Some((m, s, t)) = matching_key(&query, pick) else { continue };
            let shard = router.route(ShardKeyRef::new(&m, s, t)).unwrap().id;
            prop_assert!(plan.shards().binary_search(&shard).is_ok());
        }
    }
}
