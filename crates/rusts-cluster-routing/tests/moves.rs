//! Copies that move: the joint write rule, the read side before and after
//! the cut-over, and the states `apply` gives a shard as a move starts and
//! ends (`docs/decisions/0019-joint-copies.md`).

use rusts_cluster_config::{ClusterConfig, MoveReads};
use rusts_cluster_replication::{PendingWrites, QuorumStatus, ReplicationAck};
use rusts_cluster_routing::{Query, ReadConsistency, ShardRouter};
use rusts_cluster_sharding::{CopyRole, CopyState, ShardState};

/// The shared fixture `testdata/valid/moving.toml`, generation 5: shard 0's
/// copy on c moving to d, reads from the new copies. Nodes a, b, c, d in
/// that order; a is the primary of shards 0 and 1, b a replica of both, d
/// of shard 1. RF 3, Quorum.
fn fixture() -> ClusterConfig {
    ClusterConfig::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/valid/moving.toml"
    ))
    .unwrap()
}

/// The cluster before the move, generation 4: shard 0 on a (primary), b and
/// c; shard 1 on a, b and d.
fn before() -> ClusterConfig {
    let mut config = fixture();
    config.generation = 4;
    config.move_reads = MoveReads::Old;
    for node in &mut config.nodes {
        node.joining_shards.clear();
        node.leaving_shards.clear();
    }
    config.nodes[3].replica_shards.retain(|&s| s != 0);
    config
}

/// The fixture: shard 0's copy on c moving to d, reads from `reads`.
fn moving(generation: u64, reads: MoveReads) -> ClusterConfig {
    let mut config = fixture();
    config.generation = generation;
    config.move_reads = reads;
    config
}

/// The cluster after the move, generation 7: shard 0 on a, b and d; c
/// holds nothing now, and is out of the cluster.
fn after() -> ClusterConfig {
    let mut config = before();
    config.generation = 7;
    config.nodes[3].replica_shards.push(0);
    config.nodes.remove(2);
    config
}

fn read_set(router: &ShardRouter, level: ReadConsistency, shard: u32) -> (usize, Vec<String>) {
    let plan = router.plan_query(&Query::new().consistency(level)).unwrap();
    let read = plan.read(shard).unwrap();
    let mut copies: Vec<String> = read.copies().map(|c| c.node_id.to_owned()).collect();
    copies.sort();
    (read.copies_needed(), copies)
}

#[test]
fn a_moving_copy_validates_and_saves_back() {
    let config = moving(5, MoveReads::New);
    config.validate().unwrap();
    // 4 copies while 3 are old and 3 new: not over-replicated.
    let codes: Vec<&str> = config.warnings().iter().map(|w| w.code()).collect();
    assert!(!codes.contains(&"over-replicated"), "{codes:?}");
    let text = config.to_toml().unwrap();
    assert!(text.contains("move_reads = \"new\""), "{text}");
    assert!(text.contains("joining_shards = [0]"), "{text}");
    assert!(text.contains("leaving_shards = [0]"), "{text}");
    assert_eq!(ClusterConfig::from_toml(&text).unwrap(), config);
    // The default is left out.
    let plain = before().to_toml().unwrap();
    assert!(!plain.contains("move_reads"), "{plain}");
}

#[test]
fn writes_need_the_mode_on_the_old_and_the_new_copies() {
    let router = ShardRouter::from_config(&moving(5, MoveReads::Old)).unwrap();
    let mut quorum = router.write_quorum(0).unwrap();
    assert_eq!(quorum.required(), 2);
    assert_eq!(
        quorum.expected_nodes().collect::<Vec<_>>(),
        ["a", "b", "c", "d"],
        "stable copies, then leaving, then joining"
    );
    // c is only old and d only new: one success on each side so far.
    quorum.record(ReplicationAck::success("c", 1)).unwrap();
    assert_eq!(
        quorum.record(ReplicationAck::success("d", 1)).unwrap(),
        QuorumStatus::Pending
    );
    assert_eq!(
        quorum.record(ReplicationAck::success("b", 1)).unwrap(),
        QuorumStatus::Reached
    );
    // Shard 1 is not moving: the plain rule.
    let mut plain = router.write_quorum(1).unwrap();
    plain.record(ReplicationAck::success("d", 1)).unwrap();
    assert_eq!(
        plain.record(ReplicationAck::success("b", 1)).unwrap(),
        QuorumStatus::Reached
    );
}

#[test]
fn pending_writes_decide_a_joint_quorum_unchanged() {
    let router = ShardRouter::from_config(&moving(5, MoveReads::Old)).unwrap();
    let pending: PendingWrites<u64> = PendingWrites::new();
    assert_eq!(
        pending
            .begin(1, router.write_quorum(0).unwrap(), 100)
            .unwrap(),
        None
    );
    // Two old copies succeed: not yet, the new side has only b.
    assert_eq!(
        pending.ack(1, ReplicationAck::success("b", 1)).unwrap(),
        None
    );
    assert_eq!(
        pending.ack(1, ReplicationAck::success("c", 1)).unwrap(),
        None
    );
    let result = pending
        .ack(1, ReplicationAck::success("d", 1))
        .unwrap()
        .expect("decided once b, c and d succeeded");
    assert!(result.quorum_reached);
    assert_eq!(result.missing_nodes, ["a"]);
    let joint = result.joint.unwrap();
    assert_eq!((joint.old, joint.new), (2, 2));
}

#[test]
fn reads_come_from_the_old_copies_then_from_the_new() {
    let old = ShardRouter::from_config(&moving(5, MoveReads::Old)).unwrap();
    let new = ShardRouter::from_config(&moving(6, MoveReads::New)).unwrap();
    use ReadConsistency::*;
    for (level, needed) in [(One, 1), (Quorum, 2), (All, 3)] {
        assert_eq!(
            read_set(&old, level, 0),
            (needed, vec!["a".into(), "b".into(), "c".into()])
        );
        assert_eq!(
            read_set(&new, level, 0),
            (needed, vec!["a".into(), "b".into(), "d".into()])
        );
    }
    // A copy off the read side is neither a target nor a fallback, and the
    // copies the plan names say what they are.
    let plan = old.plan_query(&Query::new()).unwrap();
    let read = plan.read(0).unwrap();
    assert!(read
        .targets()
        .chain(read.fallbacks())
        .all(|c| c.node_id != "d"));
    let c = read.copies().find(|c| c.node_id == "c").unwrap();
    assert_eq!((c.role, c.state), (CopyRole::Replica, CopyState::Leaving));
    // The shard's own copies show all four.
    let shard = old.get_shard(0).unwrap();
    let states: Vec<_> = shard.copies().map(|c| (c.node_id, c.state)).collect();
    assert_eq!(
        states,
        [
            ("a", CopyState::Stable),
            ("b", CopyState::Stable),
            ("c", CopyState::Leaving),
            ("d", CopyState::Joining)
        ]
    );
}

#[test]
fn reads_never_fall_back_to_the_other_side() {
    // With b down, a Quorum read before the cut-over has a and c: enough.
    // With c down too it is unavailable, although d is up: d may not yet
    // hold what old writers acknowledged.
    let router = ShardRouter::from_config(&moving(5, MoveReads::Old)).unwrap();
    router.set_node_available("b", false).unwrap();
    let plan = router
        .plan_query(&Query::new().consistency(ReadConsistency::Quorum))
        .unwrap();
    assert!(plan.read(0).unwrap().is_available());
    router.set_node_available("c", false).unwrap();
    let plan = router
        .plan_query(&Query::new().consistency(ReadConsistency::Quorum))
        .unwrap();
    let read = plan.read(0).unwrap();
    let copies: Vec<_> = read.copies().map(|c| c.node_id).collect();
    assert!(!read.is_available(), "{copies:?} {}", read.copies_needed());
    assert_eq!(plan.unavailable_shards(), [0]);
}

#[test]
fn a_shard_rebalances_while_its_copies_move() {
    let router = ShardRouter::from_config(&before()).unwrap();
    let change = router.apply(&moving(5, MoveReads::Old)).unwrap();
    assert_eq!(change.changed_shards, [0]);
    assert_eq!(router.get_shard(0).unwrap().state, ShardState::Rebalancing);
    assert_eq!(router.get_shard(1).unwrap().state, ShardState::Active);
    assert_eq!(router.get_shard(0).unwrap().joining, ["d"]);
    // The cut-over moves no copy.
    let change = router.apply(&moving(6, MoveReads::New)).unwrap();
    assert!(change.changed_shards.is_empty(), "{change:?}");
    assert_eq!(router.get_shard(0).unwrap().state, ShardState::Rebalancing);
    let change = router.apply(&after()).unwrap();
    assert_eq!(change.changed_shards, [0]);
    assert_eq!(change.removed_nodes, ["c"]);
    let shard = router.get_shard(0).unwrap();
    assert_eq!(shard.state, ShardState::Active);
    assert!(!shard.is_moving());
    assert_eq!(shard.replicas, ["b", "d"]);
    // A state the config gives a shard holds through a move.
    let read_only = |mut config: ClusterConfig| {
        config.read_only_shards = vec![0];
        config
    };
    let router = ShardRouter::from_config(&read_only(before())).unwrap();
    router.apply(&read_only(moving(5, MoveReads::Old))).unwrap();
    assert_eq!(router.get_shard(0).unwrap().state, ShardState::ReadOnly);
    // A router started on a step starts the shard Rebalancing.
    let router = ShardRouter::from_config(&moving(6, MoveReads::New)).unwrap();
    assert_eq!(router.get_shard(0).unwrap().state, ShardState::Rebalancing);
}

/// A shard's state is what its config says, whichever way the router got
/// there (decision 0046): `ReadOnly` or `Offline` as the config lists it,
/// else `Rebalancing` while its copies move, else `Active`. A router taken
/// through a move by `apply` holds, at each step, the states of a router
/// built from that step's config; the states follow the lists as they
/// come and go, also in the middle of a move.
#[test]
fn a_shards_state_is_its_configs_at_every_step() {
    use ShardState::*;
    let steps = [
        before(),
        moving(5, MoveReads::Old),
        moving(6, MoveReads::New),
        after(),
    ];
    // Which list shard 0 (the moving one) and shard 1 are in at each step:
    // none, read-only, offline.
    let lists: [[u8; 4]; 4] = [[0, 0, 0, 0], [1, 1, 1, 1], [0, 1, 2, 0], [2, 0, 1, 2]];
    for pattern in lists {
        let configs: Vec<ClusterConfig> = steps
            .iter()
            .zip(pattern)
            .map(|(step, list)| {
                let mut config = step.clone();
                match list {
                    1 => config.read_only_shards = vec![0, 1],
                    2 => config.offline_shards = vec![0, 1],
                    _ => {}
                }
                config
            })
            .collect();
        let router = ShardRouter::from_config(&configs[0]).unwrap();
        for (k, config) in configs.iter().enumerate() {
            if k > 0 {
                router.apply(config).unwrap();
            }
            let fresh = ShardRouter::from_config(config).unwrap();
            for shard in 0..2 {
                let state = router.get_shard(shard).unwrap().state;
                assert_eq!(
                    state,
                    fresh.get_shard(shard).unwrap().state,
                    "{pattern:?} step {k}"
                );
                let moving = shard == 0 && (k == 1 || k == 2);
                let expected = match (pattern[k], moving) {
                    (1, _) => ReadOnly,
                    (2, _) => Offline,
                    (_, true) => Rebalancing,
                    (_, false) => Active,
                };
                assert_eq!(state, expected, "{pattern:?} step {k} shard {shard}");
            }
        }
    }
}

/// The fail-fast check that `docs/queries.md` once gave, the copies up
/// against the required acks, is wrong for a moving shard: at factor 2 with
/// the joining copy down it says the write can succeed, yet the write's
/// quorum decides `Failed` as soon as that copy's failure is recorded.
/// `write_can_succeed` counts each side of the move.
#[test]
fn write_can_succeed_knows_the_joint_rule_where_a_count_does_not() {
    // Factor 2: shard 0 on a (primary) and c, c's copy moving to d. Old
    // copies {a, c}, new copies {a, d}. Shard 1 on a and b.
    let mut config = fixture();
    config.replication_factor = 2;
    config.nodes[1].replica_shards = vec![1];
    config.nodes[3].replica_shards = vec![0];
    config.validate().unwrap();
    let router = ShardRouter::from_config(&config).unwrap();
    let shard = router.get_shard(0).unwrap();
    assert!(shard.is_moving());
    assert!(shard.write_can_succeed(), "every node up");

    router.set_node_available("d", false).unwrap();
    let shard = router.get_shard(0).unwrap();
    let required = shard.write_quorum().unwrap().required();
    assert_eq!((shard.available_copies(), required), (2, 2));
    assert!(
        shard.available_copies() >= required,
        "the old check says the write can succeed"
    );
    assert!(shard.accepts_writes(), "the primary, a, is up");
    assert!(!shard.write_can_succeed());
    assert!(!shard.view().write_can_succeed(), "the view says the same");
    // What the write's quorum decides when d's failure comes in.
    let mut quorum = shard.write_quorum().unwrap();
    assert_eq!(
        quorum
            .record(ReplicationAck::failure("d", "down", 0))
            .unwrap(),
        QuorumStatus::Failed
    );

    // The leaving copy down is as bad for the old side; a stable shard
    // with its one replica up is fine.
    router.set_node_available("d", true).unwrap();
    router.set_node_available("c", false).unwrap();
    assert!(!router.get_shard(0).unwrap().write_can_succeed());
    assert!(router.get_shard(1).unwrap().write_can_succeed());
    router.set_node_available("b", false).unwrap();
    assert!(!router.get_shard(1).unwrap().write_can_succeed());

    // A shard that takes no writes cannot succeed, whatever is up.
    config.read_only_shards = vec![1];
    let router = ShardRouter::from_config(&config).unwrap();
    assert!(router
        .get_shard(1)
        .unwrap()
        .view()
        .copies()
        .all(|c| c.available));
    assert!(!router.get_shard(1).unwrap().write_can_succeed());
}
