//! A split taken live with `apply`: what it accepts and refuses, that every
//! key stays on its nodes and lands on a child of its shard, that runtime
//! state carries to the children, that answers during the swap come wholly
//! from one generation, and how peers on either side of the split are
//! served (`refile`, `shards_for_peer_read`), also by a router restarted on
//! the split config.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use crate::util::ids;
use proptest::prelude::*;
use rusts_cluster_config::{
    strategies::{round_robin_cluster, valid_config},
    ClusterConfig, NotASplit, SplitFrom,
};
use rusts_cluster_routing::{ApplyChecks, RoutingError, ShardHandle, ShardRouter};
use rusts_cluster_sharding::{ShardId, ShardKey, ShardKeyRef, ShardSplit, ShardState};

/// The shipped two-node example: 16 shards BySeries, node1 primary of 0-7
/// (node2 replicas), node2 alone on 8-15. This process is node1.
fn example() -> ClusterConfig {
    ClusterConfig::from_file_as(
        concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"),
        "node1",
    )
    .unwrap()
}

/// A shard's nodes: the primary, then the replicas in id order.
fn nodes(shard: &ShardHandle) -> Vec<String> {
    shard.all_nodes().map(str::to_owned).collect()
}

#[test]
fn apply_takes_a_split_and_children_inherit_their_parents_state() {
    let mut config = example();
    config.read_only_shards = vec![3];
    config.offline_shards = vec![12];
    let router = ShardRouter::from_config(&config).unwrap();
    router.set_node_available("node2", false).unwrap();
    let before = router.route(ShardKeyRef::new("cpu", 19, 0)).unwrap();

    let split = config.split(3).unwrap();
    let change = router.apply(&split).unwrap();
    assert_eq!(change.split, Some(ShardSplit::new(16, 3).unwrap()));
    assert_eq!((change.previous_generation, change.generation), (0, 1));
    assert!(change.changed_shards.is_empty(), "no child moved");
    assert!(!change.is_placement_unchanged(), "a split adds shards");
    assert_eq!(router.shard_count(), 48);
    assert_eq!(
        router.split_from(),
        Some(SplitFrom {
            generation: 0,
            shard_count: 16
        })
    );

    for (child, state) in [
        (3, ShardState::ReadOnly),
        (19, ShardState::ReadOnly),
        (35, ShardState::ReadOnly),
        (12, ShardState::Offline),
        (44, ShardState::Offline),
        (4, ShardState::Active),
        (20, ShardState::Active),
    ] {
        assert_eq!(
            router.get_shard(child).unwrap().state,
            state,
            "shard {child}"
        );
    }
    assert_eq!(router.is_node_available("node2"), Some(false));
    assert_eq!(
        ids(&router.local_shards()),
        (0..8).chain(16..24).chain(32..40).collect::<Vec<_>>()
    );
    // Series 19 was on shard 3; now on 19 % 48 = 19, a child of 3, on the
    // same nodes. A handle taken before keeps its generation.
    let after = router.route(ShardKeyRef::new("cpu", 19, 0)).unwrap();
    assert_eq!((before.id, before.generation()), (3, 0));
    assert_eq!((after.id, after.generation()), (19, 1));
    assert_eq!(nodes(&after), nodes(&before));
    assert_eq!(after.state, ShardState::ReadOnly);
    assert!(!after.accepts_writes());
}

#[test]
fn apply_refuses_every_count_change_that_is_not_a_split_and_says_why() {
    let config = round_robin_cluster(8, 4, 2);
    let router = ShardRouter::from_config(&config).unwrap();
    let split = config.split(2).unwrap();

    let mut twelve = round_robin_cluster(12, 4, 2);
    twelve.generation = 1;
    let mut no_record = split.clone();
    no_record.split_from = None;
    let mut wrong_record = split.clone();
    wrong_record.split_from = Some(SplitFrom {
        generation: 0,
        shard_count: 4,
    });
    let mut moved = split.clone();
    // Child 9 (of parent 1: node1 primary, node2 replica) moves its
    // primary to node2.
    moved.nodes[1].shards.retain(|&s| s != 9);
    moved.nodes[1].replica_shards.push(9);
    moved.nodes[2].replica_shards.retain(|&s| s != 9);
    moved.nodes[2].shards.push(9);
    let cases: [(&ClusterConfig, NotASplit); 4] = [
        (
            &twelve,
            NotASplit::NotAMultiple {
                from_shard_count: 8,
                to_shard_count: 12,
            },
        ),
        (
            &no_record,
            NotASplit::MissingRecord {
                from_shard_count: 8,
            },
        ),
        (
            &wrong_record,
            NotASplit::RecordMismatch {
                record: SplitFrom {
                    generation: 0,
                    shard_count: 4,
                },
                from_generation: 0,
                from_shard_count: 8,
            },
        ),
        (
            &moved,
            NotASplit::ChildMoved {
                child: 9,
                parent: 1,
            },
        ),
    ];
    for (offered, why) in cases {
        match router.apply(offered) {
            Err(RoutingError::ShardCountChanged {
                from: 8,
                to: count,
                reason,
            }) => {
                assert_eq!(count, offered.shard_count);
                assert_eq!(reason, why);
            }
            other => panic!("{why:?}: {other:?}"),
        }
        assert_eq!((router.generation(), router.shard_count()), (0, 8));
    }
    let err = router.apply(&moved).unwrap_err().to_string();
    assert_eq!(
        err,
        "the new config has 16 shards but this router has 8, and it is not a split of the \
         router's config (shard 9 is not on the copies of its parent, shard 1, with the same \
         primary; a split leaves every child where its parent is, so that no data crosses the \
         network (move copies afterwards, in a later generation, with `rebalance`)); a running \
         router takes no other change of the shard count, since it would move keys to other nodes"
    );

    // A merge back is refused too, once split.
    router.apply(&split).unwrap();
    let mut merged = config.clone();
    merged.generation = 2;
    assert!(matches!(
        router.apply(&merged),
        Err(RoutingError::ShardCountChanged {
            reason: NotASplit::NotAMultiple { .. },
            ..
        })
    ));
}

#[test]
fn a_later_generation_keeps_or_drops_the_split_record_but_writes_no_other() {
    let config = example();
    let router = ShardRouter::from_config(&config).unwrap();
    let split = config.split(2).unwrap();
    router.apply(&split).unwrap();
    // The same count with a made-up record: older peers would be numbered
    // wrongly, so it is refused and the router keeps its generation.
    let mut forged = split.clone();
    forged.generation += 1;
    forged.split_from = Some(SplitFrom {
        generation: 0,
        shard_count: 8,
    });
    let err = router.apply(&forged).unwrap_err();
    assert!(
        matches!(err, RoutingError::SplitRecordChanged { .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "the new config's `[split_from]` is generation 0, shard_count 8 but this router's is \
         generation 0, shard_count 16, and the shard count is unchanged; only a split writes a \
         new record (a later generation keeps it or drops it), so restore the record or remove \
         it"
    );
    assert_eq!(router.generation(), split.generation);
    // Kept, then dropped: both fine.
    let mut kept = split.clone();
    kept.generation += 1;
    router.apply(&kept).unwrap();
    let mut dropped = kept.clone();
    dropped.generation += 1;
    dropped.split_from = None;
    router.apply(&dropped).unwrap();
    // A record never comes back without a split.
    let mut again = dropped.clone();
    again.generation += 1;
    again.split_from = split.split_from;
    assert!(matches!(
        router.apply(&again),
        Err(RoutingError::SplitRecordChanged { from: None, .. })
    ));
}

#[test]
fn peers_before_the_split_are_served_by_parent_and_the_restarted_router_agrees() {
    let config = example();
    let split = config.split(2).unwrap();
    let live = ShardRouter::from_config(&config).unwrap();
    live.apply(&split).unwrap();
    let restarted = ShardRouter::from_config(&split).unwrap();
    for router in [&live, &restarted] {
        // A generation-0 peer writes series 19 for parent 3: filed under 19.
        let key = ShardKey::new("cpu", 19, 0);
        let shard = router.refile(0, 3, &key).unwrap();
        assert_eq!(shard.id, 19);
        assert!(shard.holds(router.node_id()));
        // The same key from a generation-1 peer names child 19 itself.
        assert_eq!(router.refile(1, 19, &key).unwrap().id, 19);
        // And from a newer peer that split 32 into 64: child 51 is within 19.
        let key51 = ShardKey::new("cpu", 51, 0);
        assert_eq!(router.refile(2, 51, &key51).unwrap().id, 19);
        match router.refile(0, 4, &key) {
            Err(RoutingError::MisroutedKey {
                peer_generation: 0,
                peer_shard: 4,
                generation: 1,
                shard: 19,
            }) => {}
            other => panic!("{other:?}"),
        }
        assert!(
            router.refile(1, 3, &key).is_err(),
            "3 is not 19 in generation 1"
        );

        assert_eq!(ids(&router.shards_for_peer_read(0, 3).unwrap()), [3, 19]);
        assert_eq!(
            ids(&router.shards_for_peer_read(0, 12).unwrap()),
            Vec::<ShardId>::new(),
            "node1 holds no copy of parent 12"
        );
        assert_eq!(ids(&router.shards_for_peer_read(1, 19).unwrap()), [19]);
        assert_eq!(ids(&router.shards_for_peer_read(2, 51).unwrap()), [19]);
        assert!(matches!(
            router.shards_for_peer_read(0, 16),
            Err(RoutingError::ShardNotFound {
                shard: 16,
                shard_count: 16
            })
        ));
        assert!(router.shards_for_peer_read(1, 32).is_err());
    }
}

#[test]
fn a_peer_on_the_parents_numbering_two_generations_back_is_refused() {
    // Split, then a later generation keeps the record but moves child 16
    // (of parent 0) off node0: node0 holds only part of parent 0. A peer
    // still numbering by parents (generation 0) is two generations back,
    // so it is refused before anything is read, and a peer on
    // generation 1 reads children by their own numbers.
    let config = round_robin_cluster(16, 4, 2);
    let split = config.split(2).unwrap();
    let mut later = split.clone();
    later.generation = 2;
    let copies_of = |c: &ClusterConfig, s: u32| -> Vec<String> {
        c.nodes
            .iter()
            .filter(|n| n.shards.contains(&s) || n.replica_shards.contains(&s))
            .map(|n| n.id.clone())
            .collect()
    };
    assert_eq!(copies_of(&later, 16), ["node0", "node1"]);
    // Child 16 (parent 0) moves its primary copy from node0 to node2.
    later.nodes[0].shards.retain(|&s| s != 16);
    later.nodes[2].shards.push(16);
    let router = ShardRouter::from_config(&config).unwrap();
    router.apply(&split).unwrap();
    // The copy moves at once, which no transition step does (`apply`
    // refuses it); this test is about peers' numbering, so it skips the
    // step checks.
    assert_eq!(router.apply(&later).unwrap_err().code(), "unsafe-step");
    router
        .apply_with(&later, ApplyChecks::UnsafeSkipStepChecks)
        .unwrap();
    assert!(matches!(
        router.shards_for_peer_read(0, 4),
        Err(RoutingError::PeerGeneration { ours: 2, peer: 0 })
    ));
    assert!(router.refile(0, 4, ShardKeyRef::new("cpu", 20, 0)).is_err());
    assert!(router.shards_for_peer_read(1, 16).unwrap().is_empty());
    assert_eq!(ids(&router.shards_for_peer_read(1, 20).unwrap()), [20]);
}

#[test]
fn answers_during_a_split_come_wholly_from_one_generation() {
    // 8 shards BySeries, split by 2 then by 2 again while readers route:
    // every answer's shard id must be the key's shard under the count of
    // the generation it reports.
    let config = round_robin_cluster(8, 4, 2);
    let once = config.split(2).unwrap();
    let twice = once.split(2).unwrap();
    let router = ShardRouter::from_config(&config).unwrap();
    let count_at = |generation: u64| 8u64 << generation;
    let done = AtomicBool::new(false);
    let checked = AtomicU64::new(0);
    std::thread::scope(|scope| {
        let mut readers = Vec::new();
        for thread in 0..2u64 {
            let (router, done, checked) = (&router, &done, &checked);
            readers.push(scope.spawn(move || {
                let mut reader = router.reader();
                let mut i = thread;
                while !done.load(Ordering::Acquire) {
                    i += 1;
                    let key = ShardKeyRef::new("cpu", i.wrapping_mul(0x9e37_79b9), 0);
                    let series = key.series_id;
                    let shard = router.route(key).unwrap();
                    assert_eq!(u64::from(shard.id), series % count_at(shard.generation()));
                    let view = reader.route(key).unwrap();
                    assert_eq!(u64::from(view.id), series % count_at(view.generation()));
                    let keys = [key, ShardKeyRef::new("cpu", series + 1, 0)];
                    let batch = router.route_batch(&keys).unwrap();
                    for (k, key) in keys.iter().enumerate() {
                        assert_eq!(
                            u64::from(batch.shard_of(k)),
                            key.series_id % count_at(batch.generation())
                        );
                    }
                    checked.fetch_add(1, Ordering::Relaxed);
                }
            }));
        }
        // Waits for 100 more checked answers, or for a reader that stopped
        // (a failed assertion), whose panic the scope then reports.
        let wait = |from: u64| {
            while checked.load(Ordering::Relaxed) < from + 100
                && !readers.iter().any(|r| r.is_finished())
            {
                std::thread::yield_now();
            }
        };
        wait(0);
        router.apply(&once).unwrap();
        wait(checked.load(Ordering::Relaxed));
        router.apply(&twice).unwrap();
        wait(checked.load(Ordering::Relaxed));
        done.store(true, Ordering::Release);
    });
    assert_eq!(router.shard_count(), 32);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// The property: split a random config of any strategy by any
    /// factor and apply it; every key keeps its nodes (the same primary and
    /// replicas) and lands on a child of its old shard. A router restarted
    /// on the split config routes the same, and serves a peer of the old
    /// generation the same.
    #[test]
    fn prop_a_split_keeps_every_key_on_its_nodes_and_in_its_family(
        config in valid_config(),
        factor in 2u32..=5,
        keys in prop::collection::vec(("[a-z]{0,6}", any::<u64>(), any::<i64>()), 1..32),
    ) {
        let split = config.split(factor).unwrap();
        let router = ShardRouter::from_config(&config).unwrap();
        let before: Vec<_> = keys
            .iter()
            .map(|(m, s, t)| router.route(ShardKeyRef::new(m, *s, *t)).unwrap())
            .collect();
        let change = router.apply(&split).unwrap();
        let family = change.split.unwrap();
        prop_assert_eq!(family.factor(), factor);
        prop_assert!(change.changed_shards.is_empty());
        let restarted = ShardRouter::from_config(&split).unwrap();
        for ((m, s, t), old) in keys.iter().zip(&before) {
            let key = ShardKeyRef::new(m, *s, *t);
            let new = router.route(key).unwrap();
            prop_assert!(family.is_child_of(new.id, old.id), "{} is not a child of {}", new.id, old.id);
            prop_assert_eq!(nodes(&new), nodes(old));
            prop_assert_eq!(restarted.route(key).unwrap().id, new.id);
            prop_assert_eq!(router.refile(config.generation, old.id, key).unwrap().id, new.id);
            prop_assert_eq!(restarted.refile(config.generation, old.id, key).unwrap().id, new.id);
            let held = old.holds(router.node_id());
            let answer = ids(&router.shards_for_peer_read(config.generation, old.id).unwrap());
            if held {
                prop_assert_eq!(answer, family.children_of(old.id).collect::<Vec<_>>());
            } else {
                prop_assert!(answer.is_empty());
            }
        }
    }
}
