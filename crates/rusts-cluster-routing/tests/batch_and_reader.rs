//! `route_batch`, the per-thread reader and node availability agree with
//! `route`: the same shard for every key, every key in exactly one group.

use crate::util::any_key;
use proptest::prelude::*;
use rusts_cluster_config::strategies::{round_robin_cluster, valid_config};
use rusts_cluster_routing::{BatchRoute, ShardRouter};
use rusts_cluster_sharding::{ShardKey, ShardKeyRef, ShardingStrategy};

/// Checks a batch against routing each key alone: groups ascending and
/// distinct, every key in exactly one group, the group being its shard.
fn check_batch(router: &ShardRouter, keys: &[ShardKey], batch: &BatchRoute) {
    assert_eq!(batch.key_count(), keys.len());
    let mut seen = vec![false; keys.len()];
    let mut last = None;
    for group in batch.groups() {
        let id = group.shard().id;
        assert!(
            last < Some(id),
            "groups ascending and distinct: {last:?} then {id}"
        );
        last = Some(id);
        assert!(!group.key_indices().is_empty(), "no empty group");
        assert!(group.key_indices().windows(2).all(|w| w[0] < w[1]));
        for &i in group.key_indices() {
            let i = i as usize;
            assert!(!seen[i], "key {i} in two groups");
            seen[i] = true;
            assert_eq!(router.route(&keys[i]).unwrap().id, id);
            assert_eq!(batch.shard_of(i), id);
        }
        assert_eq!(*group.shard(), *router.get_shard(id).unwrap());
    }
    assert!(seen.iter().all(|&s| s), "every key is in a group");
    assert_eq!(batch.shards().len(), keys.len());
}

proptest! {
    #[test]
    fn prop_batch_groups_every_key_by_its_routed_shard(
        config in valid_config(), keys in prop::collection::vec(any_key(), 0..200)
    ) {
        let router = ShardRouter::from_config(&config).unwrap();
        let batch = router.route_batch(&keys).unwrap();
        check_batch(&router, &keys, &batch);
        let borrowed: Vec<ShardKeyRef<'_>> = keys.iter().map(ShardKeyRef::from).collect();
        let again = router.route_batch(&borrowed).unwrap();
        prop_assert_eq!(again.shards(), batch.shards());
    }

    #[test]
    fn prop_reader_routes_like_route(
        config in valid_config(), keys in prop::collection::vec(any_key(), 1..50)
    ) {
        let router = ShardRouter::from_config(&config).unwrap();
        let mut reader = router.reader();
        for key in &keys {
            let expected = router.route(key).unwrap();
            let got = reader.route(key).unwrap();
            prop_assert_eq!(&*got, &*expected);
        }
    }
}

#[test]
fn both_grouping_methods_agree_on_large_and_small_batches() {
    // 4096 shards: a batch of 100 keys is grouped by sorting, one of 10,000
    // by counting; 50 distinct series repeat, so groups have several keys.
    for strategy in [
        ShardingStrategy::BySeries,
        ShardingStrategy::ByMeasurement,
        ShardingStrategy::composite(1_000).unwrap(),
    ] {
        let mut config = round_robin_cluster(4096, 16, 2);
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        for count in [0, 1, 100, 511, 512, 10_000] {
            let keys: Vec<ShardKey> = (0..count as u64)
                .map(|i| ShardKey::new(format!("m{}", i % 13), i % 50 * 7919, i as i64 * 377))
                .collect();
            let batch = router.route_batch(&keys).unwrap();
            check_batch(&router, &keys, &batch);
        }
    }
}

#[test]
fn a_group_that_cannot_take_writes_is_kept_and_says_so() {
    let mut config = round_robin_cluster(8, 3, 2);
    config.read_only_shards = vec![1];
    let router = ShardRouter::from_config(&config).unwrap();
    // Shard 2: primary node2, replica node0.
    router.set_node_available("node2", false).unwrap();
    let keys: Vec<ShardKey> = (0..8).map(|i| ShardKey::new("m", i, 0)).collect();
    let batch = router.route_batch(&keys).unwrap();
    let writable: Vec<(u32, bool)> = batch
        .groups()
        .map(|g| (g.shard().id, g.shard().accepts_writes()))
        .collect();
    assert_eq!(
        writable,
        [
            (0, true),
            (1, false),
            (2, false),
            (3, true),
            (4, true),
            (5, false),
            (6, true),
            (7, true)
        ]
    );
    let group = batch.groups().nth(2).unwrap();
    assert_eq!(group.shard().down_copies().collect::<Vec<_>>(), ["node2"]);
    // Shard 1 (primary node1, replica node2): writable primary, down replica,
    // but read-only by state.
    let shard = router.get_shard(1).unwrap();
    assert_eq!(shard.down_copies().collect::<Vec<_>>(), ["node2"]);
    assert!(!shard.accepts_writes());
}

#[test]
fn availability_changes_are_seen_by_the_next_call() {
    let config = round_robin_cluster(4, 2, 2);
    let router = ShardRouter::from_config(&config).unwrap();
    let mut reader = router.reader();
    let key = ShardKey::new("m", 1, 0); // shard 1: primary node1, replica node0
    assert!(reader.route(&key).unwrap().accepts_writes());
    let before = router.route(&key).unwrap();

    router.set_node_available("node1", false).unwrap();
    assert_eq!(router.is_node_available("node1"), Some(false));
    assert_eq!(router.is_node_available("node7"), None);
    assert!(before.accepts_writes(), "a handle keeps its snapshot");
    assert!(!reader.route(&key).unwrap().accepts_writes());
    assert_eq!(reader.route(&key).unwrap().available_copies(), 1);
    assert_eq!(
        reader
            .route(&key)
            .unwrap()
            .down_copies()
            .collect::<Vec<_>>(),
        ["node1"]
    );
    router.set_node_available("node0", false).unwrap();
    assert_eq!(router.route(&key).unwrap().available_copies(), 0);
    assert_eq!(
        router
            .route(&key)
            .unwrap()
            .down_copies()
            .collect::<Vec<_>>(),
        ["node1", "node0"],
        "primary first, then replicas"
    );

    router.set_node_available("node1", true).unwrap();
    router.set_node_available("node0", true).unwrap();
    let shard = reader.route(&key).unwrap();
    assert!(shard.accepts_writes());
    assert_eq!(shard.down_copies().count(), 0);

    let err = router.set_node_available("node7", true).unwrap_err();
    assert_eq!(
        err.to_string(),
        "node \"node7\" is not in the cluster config; use one of the ids under [[nodes]]"
    );
}
