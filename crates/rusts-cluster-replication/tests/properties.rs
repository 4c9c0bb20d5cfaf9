//! Property tests of the quorum invariants.

use std::collections::HashMap;

use proptest::prelude::*;
use rusts_cluster_replication::{
    QuorumStatus, ReplicationAck, ReplicationError, ReplicationMode, ReplicationProtocol,
    WriteQuorum,
};

fn any_mode() -> impl Strategy<Value = ReplicationMode> {
    prop_oneof![
        Just(ReplicationMode::Synchronous),
        Just(ReplicationMode::Quorum),
        Just(ReplicationMode::Asynchronous),
    ]
}

/// Answers from a small pool of nodes, so duplicates and conflicting answers
/// from one node are common; long sequences cross the scan-to-set switch.
fn any_acks() -> impl Strategy<Value = Vec<ReplicationAck>> {
    let ack = (0u8..8, any::<bool>()).prop_map(|(node, success)| {
        let node = format!("node{node}");
        if success {
            ReplicationAck::success(node, 1)
        } else {
            ReplicationAck::failure(node, "timeout", 1000)
        }
    });
    prop::collection::vec(ack, 0..40)
}

/// A plain model: each node's first answer decides it.
fn distinct_first_successes(acks: &[ReplicationAck]) -> usize {
    let mut first: HashMap<&str, bool> = HashMap::new();
    for ack in acks {
        first.entry(&ack.node_id).or_insert(ack.success);
    }
    first.values().filter(|&&s| s).count()
}

proptest! {
    #[test]
    fn prop_quorum_never_reached_with_fewer_distinct_successes_than_required(
        mode in any_mode(), rf in 0usize..8, acks in any_acks()
    ) {
        let protocol = ReplicationProtocol::new(mode, rf);
        let distinct = distinct_first_successes(&acks);
        match protocol.check_quorum(&acks) {
            Ok(result) => {
                prop_assert!(distinct >= mode.required_acks(rf));
                prop_assert_eq!(result.success_count, distinct);
                prop_assert_eq!(result.total_count, rf);
                prop_assert!(result.quorum_reached);
                prop_assert_eq!(result.acks, acks);
            }
            Err(ReplicationError::QuorumNotReached { got, needed }) => {
                prop_assert_eq!(got, distinct);
                prop_assert_eq!(needed, mode.required_acks(rf));
                prop_assert!(got < needed);
            }
            Err(other) => prop_assert!(false, "unexpected error {other:?}"),
        }
    }

    #[test]
    fn prop_asynchronous_never_fails(rf in 0usize..8, acks in any_acks()) {
        prop_assert!(ReplicationProtocol::new(ReplicationMode::Asynchronous, rf).check_quorum(&acks).is_ok());
    }

    #[test]
    fn prop_repeating_answers_changes_nothing(mode in any_mode(), rf in 0usize..8, acks in any_acks()) {
        // Sending every answer twice (a retrying network) decides the same.
        let protocol = ReplicationProtocol::new(mode, rf);
        let doubled: Vec<_> = acks.iter().chain(&acks).cloned().collect();
        let once = protocol.check_quorum(&acks).map(|r| r.success_count);
        let twice = protocol.check_quorum(&doubled).map(|r| r.success_count);
        prop_assert_eq!(once, twice);
    }

    #[test]
    fn prop_required_acks_is_a_majority_or_all(n in 1usize..1000) {
        let quorum = ReplicationMode::Quorum.required_acks(n);
        prop_assert!(2 * quorum > n, "two quorums always share a copy");
        prop_assert!(quorum <= n);
        prop_assert_eq!(ReplicationMode::Synchronous.required_acks(n), n);
    }
}

/// Answers from a pool of eight nodes and the copies (`node0..node{rf}`) a
/// write was sent to, for the `WriteQuorum` properties.
fn any_write() -> impl Strategy<Value = (ReplicationMode, Vec<String>, Vec<ReplicationAck>)> {
    (any_mode(), 0usize..6, any_acks()).prop_map(|(mode, rf, acks)| {
        let nodes = (0..rf).map(|i| format!("node{i}")).collect();
        (mode, nodes, acks)
    })
}

/// Only the answers from `nodes`: what `check_quorum`'s contract asks its
/// caller to pass.
fn from_copies(nodes: &[String], acks: &[ReplicationAck]) -> Vec<ReplicationAck> {
    acks.iter()
        .filter(|ack| nodes.contains(&ack.node_id))
        .cloned()
        .collect()
}

proptest! {
    #[test]
    fn prop_check_quorum_agrees_with_write_quorum((mode, nodes, acks) in any_write()) {
        let acks = from_copies(&nodes, &acks);
        let protocol = ReplicationProtocol::new(mode, nodes.len());
        let mut quorum = WriteQuorum::new(mode, &nodes);
        prop_assert_eq!(quorum.required(), protocol.required_acks());
        for ack in &acks {
            quorum.record(ack.clone()).unwrap();
        }
        match (protocol.check_quorum(&acks), quorum.finish()) {
            (Ok(a), Ok(b)) => {
                prop_assert_eq!(a.success_count, b.success_count);
                prop_assert_eq!(a.total_count, b.total_count);
                prop_assert_eq!(a.required_count, b.required_count);
                prop_assert!(a.quorum_reached && b.quorum_reached);
                prop_assert_eq!(a.failed_nodes(), b.failed_nodes());
            }
            (Err(a), Err(b)) => prop_assert_eq!(a, b),
            (a, b) => prop_assert!(false, "check_quorum {a:?} but WriteQuorum {b:?}"),
        }
    }

    #[test]
    fn prop_write_quorum_decides_exactly_when_the_outcome_is_certain(
        (mode, nodes, acks) in any_write()
    ) {
        // After every answer, the status must say Reached iff the answers
        // so far already make the write succeed, Failed iff even a success
        // from every silent copy could not, Pending otherwise.
        let acks = from_copies(&nodes, &acks);
        let protocol = ReplicationProtocol::new(mode, nodes.len());
        let mut quorum = WriteQuorum::new(mode, &nodes);
        let mut status = quorum.status();
        for i in 0..=acks.len() {
            if i > 0 {
                let next = quorum.record(acks[i - 1].clone()).unwrap();
                prop_assert!(!status.is_decided() || next == status, "a decision changed");
                prop_assert_eq!(next, quorum.status());
                status = next;
            }
            let so_far = &acks[..i];
            let best_case: Vec<_> = so_far
                .iter()
                .cloned()
                .chain(nodes.iter().map(|n| ReplicationAck::success(n.as_str(), 1)))
                .collect();
            let reached_now = protocol.check_quorum(so_far).is_ok();
            let reachable = protocol.check_quorum(&best_case).is_ok();
            let expected = match (reached_now, reachable) {
                (true, _) => QuorumStatus::Reached,
                (false, false) => QuorumStatus::Failed,
                (false, true) => QuorumStatus::Pending,
            };
            prop_assert_eq!(status, expected, "after {} answers", i);
        }
    }

    #[test]
    fn prop_foreign_answers_are_never_counted((mode, nodes, acks) in any_write()) {
        let mut quorum = WriteQuorum::new(mode, &nodes);
        let mut only_copies = WriteQuorum::new(mode, &nodes);
        for ack in acks {
            let expected = nodes.contains(&ack.node_id);
            match quorum.record(ack.clone()) {
                Ok(_) => {
                    prop_assert!(expected);
                    only_copies.record(ack).unwrap();
                }
                Err(ReplicationError::UnexpectedNode { node, .. }) => {
                    prop_assert!(!expected);
                    prop_assert_eq!(node, ack.node_id);
                }
                Err(other) => prop_assert!(false, "unexpected error {other:?}"),
            }
        }
        prop_assert_eq!(quorum.into_result(), only_copies.into_result());
    }
}
