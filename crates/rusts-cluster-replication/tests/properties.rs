//! Property tests of the quorum invariants.

use std::collections::HashMap;

use proptest::prelude::*;
use rusts_cluster_replication::{
    ReplicationAck, ReplicationError, ReplicationMode, ReplicationProtocol,
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
