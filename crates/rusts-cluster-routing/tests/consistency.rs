//! The read and write rules against each other, over random clusters with
//! under-, over- and fully replicated shards, every mode, replication
//! factors 1-5, random shard states, random down nodes, and random moves
//! (copies joining and leaving, reads from either side):
//!
//! - every read set has exactly the size its level needs, found here by
//!   brute force from the write rule, holds only available nodes with a
//!   copy, and meets every set of copies that can acknowledge a write;
//! - a shard is unavailable exactly when too few copies are up;
//! - `ShardRouter::write_quorum` and `ReplicationProtocol::check_quorum`
//!   decide every combination of answers alike (for a moving shard, the
//!   quorum and the joint rule's definition: the mode on each side).

use proptest::{prelude::*, sample::Index};
use rusts_cluster_config::{strategies::any_mode, ClusterConfig, MoveReads, NodeConfig};
use rusts_cluster_replication::{
    QuorumStatus, ReplicationAck, ReplicationMode, ReplicationProtocol, WriteQuorum,
};
use rusts_cluster_routing::{Query, ReadConsistency, ShardRouter};
use rusts_cluster_sharding::{Shard, ShardState};

const LEVELS: [ReadConsistency; 3] = [
    ReadConsistency::One,
    ReadConsistency::Quorum,
    ReadConsistency::All,
];

/// A valid cluster of 1-6 nodes, replication factor 1-5 (at most the
/// nodes), 1-12 shards each with 1 to all nodes' copies (so under-, over-
/// and fully replicated), any mode; in about half of them, copies of some
/// shards joining or leaving and reads from either side.
fn any_cluster() -> impl Strategy<Value = ClusterConfig> {
    (1usize..=6)
        .prop_flat_map(|nodes| {
            (
                Just(nodes),
                1..=nodes.min(5),
                prop::collection::vec((1..=nodes, any::<[Index; 6]>(), any::<[u8; 6]>()), 1..=12),
                0..nodes,
                any_mode(),
                prop::option::of(any::<bool>()),
            )
        })
        .prop_map(|(node_count, rf, shards, this, mode, moves)| {
            let mut nodes: Vec<NodeConfig> = (0..node_count)
                .map(|i| NodeConfig::new(format!("n{i}"), format!("10.0.0.{}:8086", i + 1)))
                .collect();
            for (shard, (copies, picks, moving)) in shards.iter().enumerate() {
                let mut left: Vec<usize> = (0..node_count).collect();
                let mut held = Vec::new();
                for (copy, pick) in picks.iter().take(*copies).enumerate() {
                    let node = left.swap_remove(pick.index(left.len()));
                    held.push(node);
                    if copy == 0 {
                        nodes[node].shards.push(shard as u32);
                    } else {
                        nodes[node].replica_shards.push(shard as u32);
                    }
                }
                if moves.is_none() {
                    continue;
                }
                // Each copy stable, joining or leaving; the first copy of a
                // shard stays stable so that both sides have a copy.
                for (&node, &m) in held.iter().zip(moving).skip(1) {
                    match m % 4 {
                        2 => nodes[node].joining_shards.push(shard as u32),
                        3 => nodes[node].leaving_shards.push(shard as u32),
                        _ => {}
                    }
                }
            }
            let mut config = ClusterConfig::single_node(format!("n{this}"), "10.0.0.1:8086");
            config.nodes = nodes;
            config.shard_count = shards.len() as u32;
            config.replication_factor = rf;
            config.replication_mode = mode;
            if moves == Some(true) {
                config.move_reads = MoveReads::New;
            }
            config
        })
}

/// A state a config can give a shard; `Rebalancing` comes from its moves.
fn any_state() -> impl Strategy<Value = ShardState> {
    prop_oneof![
        8 => Just(ShardState::Active),
        1 => Just(ShardState::ReadOnly),
        1 => Just(ShardState::Offline),
    ]
}

/// The subsets of `0..n` (as bit masks) whose successes reach `shard`'s
/// write quorum, every other copy failing: found by feeding the answers to
/// the quorum, not from any formula.
fn acknowledging_sets(protocol: ReplicationProtocol, shard: &Shard) -> Vec<u32> {
    // The write rule of a shard that takes no writes, as if it did.
    let mut writable = shard.clone();
    if !writable.can_write() {
        writable.state = ShardState::Active;
    }
    let nodes: Vec<&str> = writable.all_nodes().collect();
    (0..1u32 << nodes.len())
        .filter(|&set| {
            let mut quorum = WriteQuorum::for_shard(protocol, &writable).unwrap();
            for (i, node) in nodes.iter().enumerate() {
                let ack = if set & (1 << i) != 0 {
                    ReplicationAck::success(*node, 1)
                } else {
                    ReplicationAck::failure(*node, "down", 1)
                };
                quorum.record(ack).unwrap();
            }
            quorum.status() == QuorumStatus::Reached
        })
        .collect()
}

/// The fewest copies of the side `side` (a mask over the shard's `n`
/// copies) such that every set of that many of them meets every
/// acknowledging set; the whole side when no number does (a set without a
/// copy on the side acknowledges).
fn smallest_meeting_size(n: usize, side: u32, acknowledging: &[u32]) -> usize {
    let size_of_side = side.count_ones() as usize;
    (1..=size_of_side)
        .find(|&size| {
            (0..1u32 << n)
                .filter(|read| read & !side == 0 && read.count_ones() as usize == size)
                .all(|read| acknowledging.iter().all(|&write| read & write != 0))
        })
        .unwrap_or(size_of_side)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn prop_read_sets_are_exactly_as_large_as_needed_and_meet_every_acknowledged_write(
        config in any_cluster(),
        down in any::<[bool; 6]>(),
        states in prop::collection::vec(any_state(), 12),
    ) {
        let mut config = config;
        for shard in 0..config.shard_count {
            match states[shard as usize] {
                ShardState::ReadOnly => config.read_only_shards.push(shard),
                ShardState::Offline => config.offline_shards.push(shard),
                _ => {}
            }
        }
        let router = ShardRouter::from_config(&config).unwrap();
        for (node, &is_down) in config.nodes.iter().zip(&down) {
            router.set_node_available(&node.id, !is_down).unwrap();
        }
        let protocol = router.protocol();
        for level in LEVELS {
            let plan = router.plan_query(&Query::new().consistency(level)).unwrap();
            prop_assert_eq!(plan.consistency(), level);
            prop_assert_eq!(plan.reads().len(), config.shard_count as usize);
            let mut unavailable = Vec::new();
            for read in plan.reads() {
                let shard = router.get_shard(read.shard()).unwrap();
                let nodes: Vec<&str> = shard.all_nodes().collect();
                let n = nodes.len();
                let acknowledging = acknowledging_sets(protocol, &shard);
                // A moving shard is read from one side of its move only.
                let side: Vec<&str> = match config.move_reads {
                    MoveReads::Old => shard.old_copies().collect(),
                    MoveReads::New => shard.new_copies().collect(),
                };
                let side_mask: u32 = (0..n).filter(|&i| side.contains(&nodes[i])).map(|i| 1 << i).sum();
                let needed = match level {
                    ReadConsistency::One => 1,
                    ReadConsistency::All => side.len(),
                    _ => smallest_meeting_size(n, side_mask, &acknowledging),
                };
                if shard.is_moving() && level == ReadConsistency::Quorum && acknowledging.is_empty() {
                    // No write can be acknowledged (one side is short of
                    // copies): any read size keeps the promise.
                    prop_assert!(read.copies_needed() >= 1);
                } else {
                    prop_assert_eq!(read.copies_needed(), needed, "{:?} shard {}", level, read.shard());
                }
                let needed = read.copies_needed();

                // The readable copies: available nodes' copies of a
                // readable shard, this node first, then in shard order.
                let is_up = |node: &str| router.is_node_available(node) == Some(true);
                let mut readable: Vec<&str> = if shard.can_read() {
                    side.iter().copied().filter(|n| is_up(n)).collect()
                } else {
                    Vec::new()
                };
                if let Some(at) = readable.iter().position(|&n| n == config.node_id) {
                    let local = readable.remove(at);
                    readable.insert(0, local);
                }
                let copies: Vec<&str> = read.copies().map(|c| c.node_id).collect();
                prop_assert_eq!(&copies, &readable);

                let available = readable.len() >= needed;
                prop_assert_eq!(read.is_available(), available);
                let targets: Vec<&str> = read.targets().map(|c| c.node_id).collect();
                let fallbacks: Vec<&str> = read.fallbacks().map(|c| c.node_id).collect();
                if available {
                    prop_assert_eq!(&targets[..], &readable[..needed]);
                    prop_assert_eq!(&fallbacks[..], &readable[needed..]);
                    // At Quorum and All the read set meets every set that
                    // acknowledges a write (under Asynchronous, where the
                    // empty set does, it is every copy). One promises
                    // nothing of the kind.
                    let mask: u32 = targets
                        .iter()
                        .map(|t| 1 << nodes.iter().position(|n| n == t).unwrap())
                        .sum();
                    let promised = if level == ReadConsistency::One { &[][..] } else { &acknowledging[..] };
                    for &write in promised {
                        prop_assert!(
                            write & mask != 0 || (write & side_mask == 0 && targets.len() == side.len()),
                            "{:?} reads {:?} of shard {}, missing the write acknowledged by {:b}",
                            level, targets, read.shard(), write
                        );
                    }
                } else {
                    unavailable.push(read.shard());
                    prop_assert!(targets.is_empty());
                    prop_assert_eq!(&fallbacks, &readable);
                }
                // Each target node lists the shard exactly when it reads it.
                for target in plan.targets() {
                    prop_assert_eq!(
                        target.shards.contains(&read.shard()),
                        targets.contains(&target.node_id.as_str())
                    );
                }
            }
            prop_assert_eq!(plan.unavailable_shards(), &unavailable[..]);
            prop_assert_eq!(plan.is_complete(), unavailable.is_empty());
        }
    }

    #[test]
    fn prop_write_quorum_and_check_quorum_decide_every_answer_alike(
        config in any_cluster(),
        mode in any_mode(),
    ) {
        let mut config = config;
        config.replication_mode = mode;
        let router = ShardRouter::from_config(&config).unwrap();
        let protocol = ReplicationProtocol::new(mode, config.replication_factor);
        prop_assert_eq!(router.protocol(), protocol);
        for shard in router.all_shards() {
            let nodes: Vec<&str> = shard.all_nodes().collect();
            // Each copy succeeds, fails or stays silent: 3^n answers.
            for combination in 0..3u32.pow(nodes.len() as u32) {
                let mut acks = Vec::new();
                let mut code = combination;
                for node in &nodes {
                    match code % 3 {
                        0 => acks.push(ReplicationAck::success(*node, 1)),
                        1 => acks.push(ReplicationAck::failure(*node, "disk full", 1)),
                        _ => {}
                    }
                    code /= 3;
                }
                let mut quorum = router.write_quorum(shard.id).unwrap();
                for ack in &acks {
                    quorum.record(ack.clone()).unwrap();
                }
                let incremental = quorum.finish().is_ok();
                // `check_quorum` counts without names, so it cannot know a
                // move's sides: a moving shard is checked against the
                // joint rule's definition instead.
                let at_once = if shard.is_moving() {
                    let on = |side: Vec<&str>| {
                        acks.iter().filter(|a| a.success && side.contains(&a.node_id.as_str())).count()
                    };
                    let need = protocol.required_acks();
                    on(shard.old_copies().collect()) >= need && on(shard.new_copies().collect()) >= need
                } else {
                    protocol.check_quorum(&acks).is_ok()
                };
                prop_assert_eq!(
                    incremental, at_once,
                    "{:?} rf {} shard {} with {} copies, answers {:?}",
                    mode, config.replication_factor, shard.id, nodes.len(), acks
                );
            }
        }
    }
}

/// The table of `docs/queries.md`: copies a `Quorum` read takes of a fully
/// replicated shard, per mode and factor.
#[test]
fn quorum_reads_per_mode_and_factor() {
    let table = [
        // rf, Synchronous, Quorum, Asynchronous
        (1, 1, 1, 1),
        (2, 1, 1, 2),
        (3, 1, 2, 3),
        (4, 1, 2, 4),
        (5, 1, 3, 5),
    ];
    for (rf, sync, quorum, none) in table {
        for (mode, expected) in [
            (ReplicationMode::Synchronous, sync),
            (ReplicationMode::Quorum, quorum),
            (ReplicationMode::Asynchronous, none),
        ] {
            let protocol = ReplicationProtocol::new(mode, rf);
            assert_eq!(
                ReadConsistency::Quorum.copies_to_read(protocol, rf, ShardState::Active),
                expected,
                "{mode} rf {rf}"
            );
        }
    }
}
