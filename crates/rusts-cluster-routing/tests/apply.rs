//! `ShardRouter::apply`: what it refuses (leaving the router unchanged),
//! what it keeps (states, availability), what it reports, and that routes,
//! batches, readers and plans running beside it always see one whole
//! generation.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rusts_cluster_config::{
    strategies::round_robin_cluster, ClusterConfig, MoveReads, NodeConfig, NotASplit,
};
use rusts_cluster_replication::{QuorumStatus, ReplicationAck, ReplicationError, ReplicationMode};
use rusts_cluster_routing::{ApplyChecks, Query, ReadConsistency, RoutingError, ShardRouter};
use rusts_cluster_sharding::{CopyState, ShardKeyRef, ShardState, ShardingStrategy};

/// Four nodes, 8 shards, two copies each: shard s on node s%4 and s+1%4.
fn base() -> ClusterConfig {
    round_robin_cluster(8, 4, 2)
}

/// What a router shows of its placement: each shard's primary and replicas.
fn placement(router: &ShardRouter) -> Vec<(String, Vec<String>)> {
    router
        .all_shards()
        .iter()
        .map(|s| (s.primary.clone(), s.replicas.clone()))
        .collect()
}

#[test]
fn refusals_name_the_problem_and_leave_the_router_unchanged() {
    let config = base();
    let router = ShardRouter::from_config(&config).unwrap();
    let before = placement(&router);
    let mut moved = config.clone();
    moved.nodes[0].shards.retain(|&s| s != 0);
    moved.nodes[1].shards.push(0);
    moved.nodes[1].replica_shards.retain(|&s| s != 0);
    moved.nodes[0].replica_shards.push(0);

    // Same generation: stale.
    let err = router.apply(&moved).unwrap_err();
    assert!(
        matches!(err, RoutingError::StaleGeneration { from: 0, to: 0 }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "config generation 0 is not newer than generation 0, which this router runs; raise \
         `generation` above 0 in the new file"
    );

    let mut other_node = moved.clone();
    other_node.generation = 1;
    other_node.node_id = "node1".into();
    assert!(matches!(
        router.apply(&other_node).unwrap_err(),
        RoutingError::NodeIdChanged { from, to } if from == "node0" && to == "node1"
    ));

    let mut more_shards = round_robin_cluster(16, 4, 2);
    more_shards.generation = 1;
    let err = router.apply(&more_shards).unwrap_err();
    assert!(
        matches!(
            err,
            RoutingError::ShardCountChanged {
                from: 8,
                to: 16,
                reason: NotASplit::MissingRecord {
                    from_shard_count: 8
                }
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains(
            "it is not a split of the router's config (the new config has no `[split_from]`"
        ),
        "{err}"
    );

    let mut by_measurement = moved.clone();
    by_measurement.generation = 1;
    by_measurement.sharding_strategy = ShardingStrategy::ByMeasurement;
    assert!(matches!(
        router.apply(&by_measurement).unwrap_err(),
        RoutingError::StrategyChanged {
            from: ShardingStrategy::BySeries,
            to: ShardingStrategy::ByMeasurement
        }
    ));

    let mut invalid = moved.clone();
    invalid.generation = 1;
    invalid.nodes[2].shards.push(0); // a second primary for shard 0
    assert!(matches!(
        router.apply(&invalid).unwrap_err(),
        RoutingError::InvalidConfig(e) if e.validation_errors().len() == 1
    ));

    // node0 and node1 swap addresses: a node still on generation 0 would
    // send node0's writes to node1.
    let mut swapped = config.clone();
    swapped.generation = 1;
    let (a, b) = (
        swapped.nodes[0].address.clone(),
        swapped.nodes[1].address.clone(),
    );
    swapped.nodes[0].address = b.clone();
    swapped.nodes[1].address = a.clone();
    let err = router.apply(&swapped).unwrap_err();
    assert!(
        matches!(
            &err,
            RoutingError::AddressHandedOver(h)
                if h.address == a && h.from_node == "node0" && h.to_node == "node1"
        ),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("so hand the address over in two generations"),
        "{err}"
    );
    // A new node that takes a removed node's address, when the removed
    // node held copies: the same. A node that held none may pass its
    // address at once (nothing is routed to it).
    let mut replaced = config.clone();
    replaced.generation = 1;
    replaced.nodes[3].id = "node9".into();
    assert!(matches!(
        router.apply(&replaced).unwrap_err(),
        RoutingError::AddressHandedOver(h)
            if h.from_node == "node3" && h.to_node == "node9"
    ));

    assert_eq!(router.generation(), 0);
    assert_eq!(
        placement(&router),
        before,
        "every refusal left it unchanged"
    );

    // The primary moves to the other copy: no copy changes its part in a
    // move, so one generation takes it.
    moved.generation = 1;
    let change = router.apply(&moved).unwrap();
    assert_eq!(change.changed_shards, [0]);
    assert_eq!(router.generation(), 1);
    assert_eq!(router.get_shard(0).unwrap().primary, "node1");
    assert_eq!(router.get_shard(0).unwrap().replicas, ["node0"]);
    moved.generation = 0;
    assert!(matches!(
        router.apply(&moved).unwrap_err(),
        RoutingError::StaleGeneration { from: 1, to: 0 }
    ));
}

#[test]
fn states_follow_the_config_availability_is_kept_and_new_nodes_start_available() {
    let mut config = base();
    config.read_only_shards = vec![2];
    config.offline_shards = vec![5];
    let router = ShardRouter::from_config(&config).unwrap();
    assert_eq!(router.get_shard(2).unwrap().state, ShardState::ReadOnly);
    assert_eq!(router.get_shard(5).unwrap().state, ShardState::Offline);
    router.set_node_available("node3", false).unwrap();
    router.set_node_available("node2", false).unwrap();

    // Generation 1: node2 leaves, node4 joins and takes over node2's
    // copies, node1 moves to another address.
    let mut next = config.clone();
    next.generation = 1;
    let mut node4 = NodeConfig::new("node4", "10.0.0.9:8086");
    node4.shards = std::mem::take(&mut next.nodes[2].shards);
    node4.replica_shards = std::mem::take(&mut next.nodes[2].replica_shards);
    next.nodes.remove(2);
    next.nodes.push(node4);
    next.nodes[1].address = "10.0.1.2:8086".into();

    // Not a step of a transition (node4 takes node2's copies at once):
    // this test is about what `apply` carries over, so it skips the step
    // checks.
    let change = router
        .apply_with(&next, ApplyChecks::UnsafeSkipStepChecks)
        .unwrap();
    assert_eq!((change.previous_generation, change.generation), (0, 1));
    // node2 held shards 2 and 6 (primary) and 1 and 5 (replica).
    assert_eq!(change.changed_shards, [1, 2, 5, 6]);
    assert_eq!(change.added_nodes, ["node4"]);
    assert_eq!(change.removed_nodes, ["node2"]);
    assert_eq!(change.readdressed_nodes, ["node1"]);
    assert!(!change.is_placement_unchanged());

    assert_eq!(router.get_shard(2).unwrap().state, ShardState::ReadOnly);
    assert_eq!(router.get_shard(5).unwrap().state, ShardState::Offline);
    assert_eq!(router.get_shard(2).unwrap().primary, "node4");
    assert_eq!(router.is_node_available("node3"), Some(false), "kept");
    assert_eq!(
        router.is_node_available("node4"),
        Some(true),
        "new: available"
    );
    assert_eq!(router.is_node_available("node2"), None, "gone");
    // Shard 1's primary is node1: its address is the new one.
    assert_eq!(
        router.get_shard(1).unwrap().address.as_deref(),
        Some("10.0.1.2:8086")
    );
    let copies: Vec<_> = router
        .get_shard(0)
        .unwrap()
        .copies()
        .map(|c| (c.node_id.to_owned(), c.address.to_owned()))
        .collect();
    assert_eq!(
        copies,
        [
            ("node0".to_owned(), "10.0.0.1:8086".to_owned()),
            ("node1".to_owned(), "10.0.1.2:8086".to_owned())
        ]
    );
    // A node set down before keeps being skipped after.
    // Shard 2's copies are node4 and node3; reading both needs node3.
    let all = Query::new().series(&[2]).consistency(ReadConsistency::All);
    let plan = router.plan_query(&all).unwrap();
    assert_eq!(plan.unavailable_shards(), [2], "node3 is still down");
    let copies: Vec<_> = plan.read(2).unwrap().copies().map(|c| c.node_id).collect();
    assert_eq!(copies, ["node4"]);
    assert!(router.set_node_available("node2", true).is_err());

    // Nothing moved: an unchanged placement, and shard entries shared. A
    // change of the factor is no safe step either (`ReplicationChanged`).
    let mut same = next.clone();
    same.generation = 2;
    same.replication_factor = 1;
    assert!(matches!(
        router.apply(&same).unwrap_err(),
        RoutingError::ReplicationChanged {
            from_factor: 2,
            to_factor: 1,
            ..
        }
    ));
    let change = router
        .apply_with(&same, ApplyChecks::UnsafeSkipStepChecks)
        .unwrap();
    assert!(change.is_placement_unchanged(), "{change:?}");
    assert_eq!(router.replication_factor(), 1);

    // A generation without the states ends them: the config alone gives a
    // shard its state, whatever the router ran before.
    let mut cleared = same.clone();
    cleared.generation = 3;
    cleared.read_only_shards.clear();
    cleared.offline_shards = vec![2];
    let change = router.apply(&cleared).unwrap();
    assert_eq!(change.changed_shards, [] as [u32; 0], "no copy changed");
    assert_eq!(router.get_shard(2).unwrap().state, ShardState::Offline);
    assert_eq!(router.get_shard(5).unwrap().state, ShardState::Active);
}

#[test]
fn the_write_rule_follows_the_applied_config() {
    let mut config = base();
    let router = ShardRouter::from_config(&config).unwrap();
    assert_eq!(router.write_quorum(0).unwrap().required(), 2);
    config.generation = 1;
    config.replication_mode = ReplicationMode::Asynchronous;
    // No step changes the mode safely (`apply` refuses it); this test is
    // about the write rule after such a change, so it skips the checks.
    let err = router.apply(&config).unwrap_err();
    assert_eq!(err.code(), "replication-changed");
    router
        .apply_with(&config, ApplyChecks::UnsafeSkipStepChecks)
        .unwrap();
    assert_eq!(router.replication_mode(), ReplicationMode::Asynchronous);
    assert_eq!(
        router.write_quorum(0).unwrap().status(),
        QuorumStatus::Reached
    );
    config.generation = 2;
    config.read_only_shards = vec![0];
    router.apply(&config).unwrap();
    assert!(matches!(
        router.write_quorum(0).unwrap_err(),
        RoutingError::Replication(ReplicationError::ShardNotWritable {
            shard: 0,
            state: ShardState::ReadOnly
        })
    ));
    assert!(matches!(
        router.write_quorum(8).unwrap_err(),
        RoutingError::ShardNotFound { shard: 8, .. }
    ));
    let mut q = router.write_quorum(1).unwrap();
    assert!(q.record(ReplicationAck::success("node3", 1)).is_err());
}

/// Two placements of the same 64 shards over 6 nodes, 3 copies each:
/// generation parity says which one a router runs.
fn placements() -> [ClusterConfig; 2] {
    let a = round_robin_cluster(64, 6, 3);
    // b: every shard one node further along.
    let mut b = a.clone();
    let n = b.nodes.len();
    for (i, node) in b.nodes.iter_mut().enumerate() {
        let from = &a.nodes[(i + n - 1) % n];
        node.shards = from.shards.clone();
        node.replica_shards = from.replica_shards.clone();
    }
    [a, b]
}

#[test]
fn concurrent_answers_come_wholly_from_one_generation() {
    let configs = placements();
    let expected: Vec<Vec<(String, Vec<String>)>> = configs
        .iter()
        .map(|c| placement(&ShardRouter::from_config(c).unwrap()))
        .collect();
    assert_ne!(expected[0], expected[1]);
    let router = ShardRouter::from_config(&configs[0]).unwrap();
    let done = AtomicBool::new(false);
    let answers = AtomicU64::new(0);
    // Times a reader saw another generation than in its previous answer:
    // the applier goes on until every reader has, so the test always
    // checks answers taken while configs change.
    let changes_seen = AtomicU64::new(0);
    let keys: Vec<_> = (0..256u64).map(|s| ShardKeyRef::new("cpu", s, 0)).collect();

    std::thread::scope(|scope| {
        for thread in 0..3 {
            let (router, done, expected, answers, keys, changes_seen) =
                (&router, &done, &expected, &answers, &keys, &changes_seen);
            scope.spawn(move || {
                let mut reader = router.reader();
                let mut seen = 0u64;
                let mut last_generation = 0;
                let mut i = thread as u64;
                while !done.load(Ordering::Acquire) || seen < 200 {
                    i += 1;
                    let generation = match i % 4 {
                        0 => {
                            let shard = router.route(keys[(i % 256) as usize]).unwrap();
                            let want =
                                &expected[(shard.generation() % 2) as usize][shard.id as usize];
                            assert_eq!((&shard.primary, &shard.replicas), (&want.0, &want.1));
                            let nodes: Vec<_> = shard.copies().map(|c| c.node_id).collect();
                            assert_eq!(nodes[0], want.0, "copies and shard agree");
                            assert_eq!(nodes[1..], want.1[..]);
                            shard.generation()
                        }
                        1 => {
                            let shard = reader.route(keys[(i % 256) as usize]).unwrap();
                            let want =
                                &expected[(shard.generation() % 2) as usize][shard.id as usize];
                            assert_eq!((&shard.primary, &shard.replicas), (&want.0, &want.1));
                            shard.generation()
                        }
                        2 => {
                            let batch = router.route_batch(keys).unwrap();
                            let want = &expected[(batch.generation() % 2) as usize];
                            for group in batch.groups() {
                                let shard = group.shard();
                                assert_eq!(shard.generation(), batch.generation());
                                let placed = &want[shard.id as usize];
                                assert_eq!(
                                    (&shard.primary, &shard.replicas),
                                    (&placed.0, &placed.1)
                                );
                            }
                            batch.generation()
                        }
                        _ => {
                            let plan = router
                                .plan_query(&Query::new().consistency(ReadConsistency::All))
                                .unwrap();
                            let want = &expected[(plan.generation() % 2) as usize];
                            for read in plan.reads() {
                                let mut nodes: Vec<_> =
                                    read.targets().map(|c| c.node_id.to_owned()).collect();
                                let placed = &want[read.shard() as usize];
                                let mut all = placed.1.clone();
                                all.push(placed.0.clone());
                                nodes.sort();
                                all.sort();
                                assert_eq!(nodes, all, "shard {}", read.shard());
                            }
                            plan.generation()
                        }
                    };
                    if generation != last_generation {
                        changes_seen.fetch_add(1, Ordering::Relaxed);
                        last_generation = generation;
                    }
                    seen += 1;
                }
                answers.fetch_add(seen, Ordering::Relaxed);
            });
        }
        let mut generation = 0;
        while generation < 1_000 || changes_seen.load(Ordering::Relaxed) < 30 {
            generation += 1;
            assert!(
                generation < 10_000_000,
                "the readers never saw a config change"
            );
            let mut next = configs[(generation % 2) as usize].clone();
            next.generation = generation;
            // Every shard moves at once, no transition step: this test is
            // about what readers see of a swap, so it skips the checks.
            let change = router
                .apply_with(&next, ApplyChecks::UnsafeSkipStepChecks)
                .unwrap();
            assert_eq!(change.changed_shards.len(), 64);
        }
        done.store(true, Ordering::Release);
    });
    assert!(router.generation() >= 1_000);
    assert!(answers.load(Ordering::Relaxed) >= 600);
}

#[test]
fn a_change_of_replicas_alone_is_seen_and_reported() {
    let config = base();
    let router = ShardRouter::from_config(&config).unwrap();
    // Shard 4: primary node0, replica node1 -> replicas node1 and node3,
    // in the three steps of a transition: node3 joins, reads move to the
    // new copies, node3's copy is stable.
    let mut joint = config.clone();
    joint.generation = 1;
    joint.nodes[3].replica_shards.push(4);
    joint.nodes[3].joining_shards.push(4);
    let change = router.apply(&joint).unwrap();
    assert_eq!(change.changed_shards, [4]);
    assert_eq!(router.get_shard(4).unwrap().joining, ["node3"]);
    let mut read_new = joint.clone();
    read_new.generation = 2;
    read_new.move_reads = MoveReads::New;
    assert!(router.apply(&read_new).unwrap().changed_shards.is_empty());
    let mut next = config.clone();
    next.generation = 3;
    next.nodes[3].replica_shards.push(4);
    let change = router.apply(&next).unwrap();
    assert_eq!(change.changed_shards, [4]);
    // The move ended, so the shard is Active again, and counts by the
    // plain rule: no router state adds 0007's extra acknowledgement to a
    // shard whose copies do not move (decision 0046).
    let shard = router.get_shard(4).unwrap();
    assert_eq!(shard.state, ShardState::Active);
    assert_eq!(shard.primary, "node0");
    assert_eq!(shard.replicas, ["node1", "node3"]);
    assert_eq!(shard.copies().len(), 3);
    assert_eq!(router.write_quorum(4).unwrap().required(), 2);
}

/// The file every node shares has no `node_id`: a router that runs as a
/// node takes it as itself, keeps its node id, and refuses a file that no
/// longer lists it or that names another node.
#[test]
fn a_shared_file_is_taken_as_the_routers_node() {
    let config = base();
    assert_eq!(config.node_id, "node0");
    let router = ShardRouter::from_config(&config).unwrap();
    let held: Vec<_> = router.local_shards().iter().map(|s| s.id).collect();

    let mut shared = config.clone().for_node("");
    shared.generation = 1;
    let change = router.apply(&shared).unwrap();
    assert!(change.is_placement_unchanged());
    assert_eq!(router.node_id(), "node0");
    assert_eq!(
        router
            .local_shards()
            .iter()
            .map(|s| s.id)
            .collect::<Vec<_>>(),
        held
    );

    // The same file loaded as node0 is the same as the shared one.
    shared.generation = 2;
    router.apply(&shared.clone().for_node("node0")).unwrap();

    // Loaded as another node: refused, and the message says what to do.
    shared.generation = 3;
    let err = router.apply(&shared.clone().for_node("node1")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the new config is for node \"node1\" but this router runs as node \"node0\"; leave \
         `node_id` out of the file, so that every node takes it as itself, or load it as node \
         \"node0\""
    );

    // A shared file without node0 cannot be taken by node0.
    let mut without = round_robin_cluster(8, 4, 2).for_node("");
    without.nodes[0].id = "node4".into();
    without.generation = 3;
    let err = router.apply(&without).unwrap_err();
    let RoutingError::InvalidConfig(invalid) = &err else {
        panic!("expected an invalid config, got {err:?}");
    };
    assert_eq!(invalid.validation_errors()[0].code(), "unknown-this-node");
    assert!(
        invalid.to_string().contains("`node_id` is \"node0\""),
        "{invalid}"
    );
    assert_eq!(router.generation(), 2, "a refused config changes nothing");
}

/// A router built without a node id runs as none: it routes and plans,
/// holds nothing, and stays no node's whatever node a later config names.
#[test]
fn a_router_without_a_node_id_routes_and_holds_nothing() {
    let config = base().for_node("");
    let router = ShardRouter::from_config(&config).unwrap();
    assert_eq!(router.node_id(), "");
    let shard = router.route(ShardKeyRef::new("cpu", 3, 0)).unwrap();
    assert_eq!(shard.primary, "node3");
    assert!(router.local_shards().is_empty() && router.local_primary_shards().is_empty());
    assert!((0..8).all(|s| !router.holds_shard(s) && !router.is_primary_for(s)));
    let plan = router.plan_query(&Query::new()).unwrap();
    assert_eq!(plan.shards().len(), 8);

    let mut named = base();
    named.generation = 1;
    router.apply(&named).unwrap();
    assert_eq!(
        router.node_id(),
        "",
        "apply never changes the node a router runs as"
    );
    assert!(router.local_shards().is_empty());

    // A config that names a node it does not have is still refused.
    named.generation = 2;
    named.node_id = "node9".into();
    assert!(matches!(
        router.apply(&named).unwrap_err(),
        RoutingError::InvalidConfig(_)
    ));
}

/// A transition of `base()` written by hand, as `plan_transition` shapes
/// it: shard 0's copy on node1 moves to node4, a new node. `steps()[0]` is
/// A (generation 0), then step 1 (joint writes, generation 1), step 2
/// (reads from the new copies, generation 2) and step 3 (the final
/// placement, generation 3).
fn steps() -> [ClusterConfig; 4] {
    let a = base();
    let mut joint = a.clone();
    joint.generation = 1;
    let mut node4 = NodeConfig::new("node4", "10.0.0.9:8086");
    node4.replica_shards = vec![0];
    node4.joining_shards = vec![0];
    joint.nodes.push(node4);
    joint.nodes[1].leaving_shards = vec![0];
    let mut read_new = joint.clone();
    read_new.generation = 2;
    read_new.move_reads = MoveReads::New;
    let mut last = joint.clone();
    last.generation = 3;
    last.nodes[4].joining_shards.clear();
    last.nodes[1].leaving_shards.clear();
    last.nodes[1].replica_shards.retain(|&s| s != 0);
    for config in [&a, &joint, &read_new, &last] {
        config.validate().unwrap();
    }
    [a, joint, read_new, last]
}

/// Shard 0's copies as a router shows them: (node, state), in node order.
fn copies_of_shard_0(router: &ShardRouter) -> Vec<(String, String)> {
    let mut copies: Vec<_> = router
        .get_shard(0)
        .unwrap()
        .copies()
        .map(|c| (c.node_id.to_owned(), c.state.to_string()))
        .collect();
    copies.sort();
    copies
}

/// The copy shapes of `copies_of_shard_0`, written short.
fn shape(copies: &[(&str, &str)]) -> Vec<(String, String)> {
    copies
        .iter()
        .map(|(n, s)| (n.to_string(), s.to_string()))
        .collect()
}

#[test]
fn the_steps_of_a_transition_are_each_taken_in_order() {
    let [a, joint, read_new, last] = steps();
    let router = ShardRouter::from_config(&a).unwrap();
    let change = router.apply(&joint).unwrap();
    assert_eq!(change.changed_shards, [0]);
    assert_eq!(
        copies_of_shard_0(&router),
        shape(&[
            ("node0", "stable"),
            ("node1", "leaving"),
            ("node4", "joining")
        ])
    );
    assert!(router.apply(&read_new).unwrap().changed_shards.is_empty());
    let change = router.apply(&last).unwrap();
    assert_eq!(change.changed_shards, [0]);
    assert_eq!(router.generation(), 3);
    assert_eq!(
        copies_of_shard_0(&router),
        shape(&[("node0", "stable"), ("node4", "stable")])
    );
}

#[test]
fn the_final_config_deployed_directly_is_refused() {
    let [a, joint, _, last] = steps();
    let router = ShardRouter::from_config(&a).unwrap();
    // As `rebalance` numbers it, three generations on: skipped.
    let err = router.apply(&last).unwrap_err();
    assert!(
        matches!(err, RoutingError::GenerationSkipped { from: 0, to: 3 }),
        "{err:?}"
    );
    assert_eq!(err.code(), "generation-skipped");
    assert_eq!(
        err.to_string(),
        "config generation 3 skips generation(s) after 0, which this router runs; apply each \
         step in turn (generation 1 first)"
    );
    // Numbered as the next generation: node4's copy appears stable.
    let mut direct = last.clone();
    direct.generation = 1;
    let err = router.apply(&direct).unwrap_err();
    let RoutingError::UnsafeCopyChange {
        shard,
        node,
        from,
        to,
    } = &err
    else {
        panic!("expected an unsafe copy change, got {err:?}");
    };
    assert_eq!(
        (*shard, node.as_str(), *from, *to),
        (0, "node4", None, Some(CopyState::Stable))
    );
    assert_eq!(err.code(), "unsafe-step");
    assert_eq!(
        err.to_string(),
        "shard 0's copy on node \"node4\" goes from absent to stable in one generation, which \
         no transition step does (a copy goes absent, joining, stable as it arrives and stable, \
         leaving, absent as it goes, and turns back only from joining to absent or from \
         leaving to stable), so nodes on the two generations could each acknowledge writes the \
         other's reads miss; deploy the transition's steps in order: `rusts-cluster transition \
         OLD NEW`"
    );
    // check_apply says the same, and neither changed the router.
    assert_eq!(
        router.check_apply(&direct).unwrap_err().code(),
        "unsafe-step"
    );
    assert_eq!(router.generation(), 0);
    assert_eq!(
        copies_of_shard_0(&router),
        shape(&[("node0", "stable"), ("node1", "stable")])
    );
    router.check_apply(&joint).unwrap();
}

#[test]
fn a_generation_more_than_one_ahead_is_refused() {
    let [a, joint, ..] = steps();
    let router = ShardRouter::from_config(&a).unwrap();
    let mut skipped = joint.clone();
    skipped.generation = 2;
    assert!(matches!(
        router.apply(&skipped).unwrap_err(),
        RoutingError::GenerationSkipped { from: 0, to: 2 }
    ));
    // A typo for the next generation: were it taken, no later generation
    // could follow it.
    let mut typo = a.clone();
    typo.generation = u64::MAX;
    assert!(matches!(
        router.apply(&typo).unwrap_err(),
        RoutingError::GenerationSkipped {
            from: 0,
            to: u64::MAX
        }
    ));
    assert!(matches!(
        router.check_apply(&typo).unwrap_err(),
        RoutingError::GenerationSkipped { .. }
    ));
    assert_eq!(router.generation(), 0);
    router.apply(&joint).unwrap();
    assert_eq!(router.generation(), 1);
}

/// Each shape of a copy's change that no step makes, from the step it
/// would follow: refused, naming the shard, the node and both states.
#[test]
fn each_unsafe_copy_change_is_refused_by_name() {
    use CopyState::{Joining, Leaving, Stable};
    let [a, joint, ..] = steps();
    // Each case: the config the router runs, how the next one differs,
    // and the copy that must be named.
    type Edit = fn(&mut ClusterConfig);
    type Case<'a> = (
        &'a ClusterConfig,
        Edit,
        &'a str,
        Option<CopyState>,
        Option<CopyState>,
    );
    let cases: [Case<'_>; 6] = [
        // A new copy that does not join first.
        (
            &a,
            |c| c.nodes[2].replica_shards.push(0),
            "node2",
            None,
            Some(Stable),
        ),
        (
            &a,
            |c| {
                c.nodes[2].replica_shards.push(0);
                c.nodes[2].leaving_shards.push(0);
                c.nodes[3].replica_shards.push(0);
                c.nodes[3].joining_shards.push(0);
            },
            "node2",
            None,
            Some(Leaving),
        ),
        // A stable copy that goes without leaving first (node3 joins in
        // its place, which alone is allowed).
        (
            &a,
            |c| {
                c.nodes[1].replica_shards.retain(|&s| s != 0);
                c.nodes[3].replica_shards.push(0);
                c.nodes[3].joining_shards.push(0);
            },
            "node1",
            Some(Stable),
            None,
        ),
        // A stable copy that joins again.
        (
            &a,
            |c| c.nodes[1].joining_shards.push(0),
            "node1",
            Some(Stable),
            Some(Joining),
        ),
        // A joining copy that leaves before it was ever stable (node1 turns
        // stable again, which alone is allowed).
        (
            &joint,
            |c| {
                c.nodes[1].leaving_shards.clear();
                c.nodes[4].joining_shards.clear();
                c.nodes[4].leaving_shards.push(0);
            },
            "node4",
            Some(Joining),
            Some(Leaving),
        ),
        // A leaving copy that joins again.
        (
            &joint,
            |c| {
                c.nodes[1].leaving_shards.clear();
                c.nodes[1].joining_shards.push(0);
            },
            "node1",
            Some(Leaving),
            Some(Joining),
        ),
    ];
    for (i, (running, edit, want_node, want_from, want_to)) in cases.into_iter().enumerate() {
        let router = ShardRouter::from_config(running).unwrap();
        let mut next = running.clone();
        next.generation += 1;
        edit(&mut next);
        next.validate().unwrap_or_else(|e| panic!("case {i}: {e}"));
        let err = router.apply(&next).unwrap_err();
        let RoutingError::UnsafeCopyChange {
            shard,
            node,
            from,
            to,
        } = &err
        else {
            panic!("case {i}: expected an unsafe copy change, got {err:?}");
        };
        assert_eq!(
            (*shard, node.as_str(), *from, *to),
            (0, want_node, want_from, want_to),
            "case {i}"
        );
        assert!(err
            .to_string()
            .contains(&format!("on node \"{want_node}\"")));
        assert_eq!(router.generation(), running.generation, "case {i}");
        // The same change is taken with the checks skipped.
        router
            .apply_with(&next, ApplyChecks::UnsafeSkipStepChecks)
            .unwrap_or_else(|e| panic!("case {i}: {e}"));
    }
}

#[test]
fn copies_and_reads_do_not_change_in_one_generation() {
    let [a, joint, read_new, last] = steps();
    // Step 1 straight to the final placement: each copy's change is one
    // a step makes, but shard 0 would read node4 instead of node1 at once.
    let router = ShardRouter::from_config(&joint).unwrap();
    let mut skip_step_2 = last.clone();
    skip_step_2.generation = 2;
    let err = router.apply(&skip_step_2).unwrap_err();
    let RoutingError::UnsafeReadChange { shard, from, to } = &err else {
        panic!("expected an unsafe read change, got {err:?}");
    };
    assert_eq!(*shard, 0);
    assert_eq!(from, &["node0", "node1"]);
    assert_eq!(to, &["node0", "node4"]);
    assert_eq!(err.code(), "unsafe-step");
    assert_eq!(
        err.to_string(),
        "shard 0 changes its copies and the copies it reads from (nodes \"node0\", \"node1\" \
         to nodes \"node0\", \"node4\") in one generation, so a read on one generation could \
         miss a write acknowledged on the other; change the copies (joining or leaving marks) \
         and `move_reads` in separate generations: deploy the transition's steps in order: \
         `rusts-cluster transition OLD NEW`"
    );
    // A straight to step 2: node4 joins and is read at once.
    let router = ShardRouter::from_config(&a).unwrap();
    let mut skip_step_1 = read_new.clone();
    skip_step_1.generation = 1;
    assert!(matches!(
        router.apply(&skip_step_1).unwrap_err(),
        RoutingError::UnsafeReadChange { shard: 0, .. }
    ));
    // Step 2 straight back to A: node1 would be read again at once.
    let router = ShardRouter::from_config(&read_new).unwrap();
    let mut back = a.clone();
    back.generation = 3;
    assert!(matches!(
        router.apply(&back).unwrap_err(),
        RoutingError::UnsafeReadChange { shard: 0, .. }
    ));
}

#[test]
fn a_change_of_the_replication_settings_is_refused() {
    let [a, ..] = steps();
    let router = ShardRouter::from_config(&a).unwrap();
    let mut sync = a.clone();
    sync.generation = 1;
    sync.replication_mode = ReplicationMode::Synchronous;
    let err = router.apply(&sync).unwrap_err();
    assert!(
        matches!(
            err,
            RoutingError::ReplicationChanged {
                from_mode: ReplicationMode::Quorum,
                to_mode: ReplicationMode::Synchronous,
                from_factor: 2,
                to_factor: 2
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.code(), "replication-changed");
    assert!(
        err.to_string()
            .starts_with("the new config replicates with `replication_mode` Synchronous and"),
        "{err}"
    );
    let mut one = a.clone();
    one.generation = 1;
    one.replication_factor = 1;
    assert!(matches!(
        router.apply(&one).unwrap_err(),
        RoutingError::ReplicationChanged {
            from_factor: 2,
            to_factor: 1,
            ..
        }
    ));
}

/// The way back from step 1 is A again, at the next generation: the
/// joining copy goes and the leaving one is stable again. From step 2, it
/// is step 1's shape first (reads back on the old copies), then A.
#[test]
fn a_transition_can_be_undone_step_by_step() {
    let [a, joint, read_new, _] = steps();
    let router = ShardRouter::from_config(&a).unwrap();
    router.apply(&joint).unwrap();
    let mut back = a.clone();
    back.generation = 2;
    let change = router.apply(&back).unwrap();
    assert_eq!(change.changed_shards, [0]);
    assert_eq!(change.removed_nodes, ["node4"]);
    assert_eq!(
        copies_of_shard_0(&router),
        shape(&[("node0", "stable"), ("node1", "stable")])
    );
    assert_eq!(router.get_shard(0).unwrap().state, ShardState::Active);

    let router = ShardRouter::from_config(&read_new).unwrap();
    let mut reads_back = joint.clone();
    reads_back.generation = 3;
    assert!(router.apply(&reads_back).unwrap().changed_shards.is_empty());
    back.generation = 4;
    router.apply(&back).unwrap();
    assert_eq!(router.generation(), 4);
}

/// `apply_with(.., UnsafeSkipStepChecks)` takes what only a skipped step
/// would, and still refuses what breaks the router itself.
#[test]
fn the_override_takes_a_direct_deploy_and_nothing_more() {
    let [a, _, _, last] = steps();
    let router = ShardRouter::from_config(&a).unwrap();
    let unsafe_checks = ApplyChecks::UnsafeSkipStepChecks;
    router.check_apply_with(&last, unsafe_checks).unwrap();
    assert_eq!(router.generation(), 0, "a check changes nothing");
    let change = router.apply_with(&last, unsafe_checks).unwrap();
    assert_eq!((change.previous_generation, change.generation), (0, 3));
    assert_eq!(
        copies_of_shard_0(&router),
        shape(&[("node0", "stable"), ("node4", "stable")])
    );
    // Still refused: the same generation, another strategy, another node.
    assert!(matches!(
        router.apply_with(&last, unsafe_checks).unwrap_err(),
        RoutingError::StaleGeneration { from: 3, to: 3 }
    ));
    let mut strategy = last.clone();
    strategy.generation = 4;
    strategy.sharding_strategy = ShardingStrategy::ByMeasurement;
    assert!(matches!(
        router.apply_with(&strategy, unsafe_checks).unwrap_err(),
        RoutingError::StrategyChanged { .. }
    ));
    let mut other = last.clone();
    other.generation = 4;
    other.node_id = "node1".into();
    assert!(matches!(
        router.check_apply_with(&other, unsafe_checks).unwrap_err(),
        RoutingError::NodeIdChanged { .. }
    ));
    assert_eq!(ApplyChecks::default(), ApplyChecks::All);
}
