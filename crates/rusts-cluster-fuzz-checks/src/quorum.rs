use std::collections::HashMap;

use arbitrary::{Arbitrary, Unstructured};
use rusts_cluster_replication::{
    QuorumStatus, ReplicationAck, ReplicationError, ReplicationMode, ReplicationProtocol,
    WriteQuorum,
};
use rusts_cluster_sharding::{Shard, ShardState};

use crate::config::{Count, Mode, Name};

/// What the `quorum` target reads from the fuzzer's bytes.
#[derive(Arbitrary, Debug)]
struct QuorumInput {
    mode: Mode,
    replication_factor: Count,
    acks: Vec<Ack>,
    /// The copies an incremental [`WriteQuorum`] expects.
    expected: Vec<Name>,
    /// Whether that quorum is for a `Rebalancing` shard.
    rebalancing: bool,
    /// For a third quorum, of a moving shard: each expected copy's state
    /// (`n % 3`: stable, joining, leaving; stable past the list's end).
    states: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Ack {
    node: Name,
    success: bool,
    error: Option<String>,
    latency_ms: u64,
}

/// The `quorum` target: any mode, any replication factor (0 and
/// `usize::MAX` included) and any sequence of answers (duplicates, unknown
/// and empty node names, failures, none at all).
///
/// Checks, against a count made here with a hash map, that
/// `check_quorum` never claims a quorum with fewer distinct nodes whose
/// first answer was a success than the mode needs (`Synchronous`: every
/// copy and at least one; `Quorum`: a strict majority; `Asynchronous`:
/// none), never refuses one that has them, reports the right counts, keeps
/// every answer, and lists the failed nodes right.
///
/// Then feeds the same answers, one by one, to a [`WriteQuorum`] over the
/// `expected` copies (through [`WriteQuorum::for_shard`], counted against
/// the replication factor, for a `Rebalancing` shard when asked) and checks that an answer from a node it does not
/// expect is refused and not counted, that a decided status never changes,
/// that `Reached` always has what the mode needs of the distinct expected
/// copies, that `Failed` is only given when the silent copies can no longer
/// make up the difference, and that `finish` agrees.
pub fn quorum(data: &[u8]) {
    let Ok(input) = QuorumInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mode = input.mode.mode();
    let rf = input.replication_factor.value();
    let acks: Vec<ReplicationAck> = input
        .acks
        .iter()
        .map(|a| ReplicationAck {
            node_id: a.node.to_id(),
            success: a.success,
            error: a.error.clone(),
            latency_ms: a.latency_ms,
        })
        .collect();

    // Each node's first answer, counted independently of the crate.
    let mut first: HashMap<&str, bool> = HashMap::new();
    let mut failed_in_order = Vec::new();
    for ack in &acks {
        if !first.contains_key(ack.node_id.as_str()) {
            first.insert(&ack.node_id, ack.success);
            if !ack.success {
                failed_in_order.push(ack.node_id.as_str());
            }
        }
    }
    let distinct_successes = first.values().filter(|&&s| s).count();
    // u128 so that `2 * got` cannot overflow for any usize.
    let enough = |got: usize| match mode {
        ReplicationMode::Synchronous => got >= rf.max(1),
        ReplicationMode::Quorum => 2 * got as u128 > rf as u128,
        ReplicationMode::Asynchronous => true,
    };

    let protocol = ReplicationProtocol::new(mode, rf);
    match protocol.check_quorum(&acks) {
        Ok(result) => {
            assert!(
                enough(distinct_successes),
                "{mode:?} with replication factor {rf} claimed a quorum with \
                 {distinct_successes} distinct successful copies: {acks:?}"
            );
            assert!(result.quorum_reached);
            assert_eq!(result.success_count, distinct_successes);
            assert_eq!(result.total_count, rf);
            assert_eq!(result.acks, acks, "every answer is kept as received");
            assert_eq!(result.failed_nodes(), failed_in_order);
            assert_eq!(result.all_success(), distinct_successes >= rf);
        }
        Err(ReplicationError::QuorumNotReached { got, needed }) => {
            assert!(
                !enough(distinct_successes),
                "{mode:?} with replication factor {rf} refused a write with \
                 {distinct_successes} distinct successful copies"
            );
            assert_eq!(got, distinct_successes);
            assert!(got < needed);
            assert_eq!(needed, protocol.required_acks());
        }
        Err(other) => panic!("unexpected error {other:?}"),
    }

    write_quorum(mode, &input, &acks);
    joint_quorum(mode, &input, &acks);
}

/// A [`WriteQuorum`] of a shard whose `expected` copies are stable, joining
/// or leaving as `states` says: checks, against sides counted here, that
/// `Reached` means the factor's requirement on the old copies (all but
/// joining) and on the new copies (all but leaving), that `Failed` means
/// one side can no longer reach it, that a decided status never changes,
/// and that `finish` agrees, naming both counts when it fails.
fn joint_quorum(mode: ReplicationMode, input: &QuorumInput, acks: &[ReplicationAck]) {
    let expected: Vec<String> = input.expected.iter().map(Name::to_id).collect();
    let mut distinct: Vec<&str> = Vec::new();
    for node in &expected {
        if !distinct.contains(&node.as_str()) {
            distinct.push(node);
        }
    }
    let Some((&primary, replicas)) = distinct.split_first() else {
        return;
    };
    let protocol = ReplicationProtocol::new(mode, input.replication_factor.value());
    let mut shard = Shard::new(0, primary);
    for node in replicas {
        shard.add_replica(*node);
    }
    for (node, state) in distinct.iter().zip(&input.states) {
        match state % 3 {
            1 => shard.joining.push((*node).to_owned()),
            2 => shard.leaving.push((*node).to_owned()),
            _ => {}
        }
    }
    let old: Vec<&str> = shard.old_copies().collect();
    let new: Vec<&str> = shard.new_copies().collect();
    let mut quorum = WriteQuorum::for_shard(protocol, &shard)
        .unwrap_or_else(|e| panic!("an Active shard takes writes: {e}"));
    let required = quorum.required();
    if shard.is_moving() {
        assert_eq!(
            required,
            protocol.required_acks(),
            "both sides need the factor's rule"
        );
    }
    let mut first: HashMap<&str, bool> = HashMap::new();
    let mut decided: Option<QuorumStatus> = None;
    for ack in acks {
        let Ok(status) = quorum.record(ack.clone()) else {
            assert!(!distinct.contains(&ack.node_id.as_str()));
            continue;
        };
        first.entry(&ack.node_id).or_insert(ack.success);
        let count = |side: &[&str], success: bool| {
            side.iter()
                .filter(|n| first.get(*n) == Some(&success))
                .count()
        };
        let reach = |side: &[&str]| count(side, true) >= required;
        let possible = |side: &[&str]| side.len() - count(side, false) >= required;
        match status {
            QuorumStatus::Reached => assert!(reach(&old) && reach(&new), "{shard:?} {first:?}"),
            QuorumStatus::Failed => {
                assert!(!possible(&old) || !possible(&new), "{shard:?} {first:?}")
            }
            QuorumStatus::Pending => assert!(
                !(reach(&old) && reach(&new)) && possible(&old) && possible(&new),
                "undecided although decidable: {shard:?} {first:?}"
            ),
        }
        if let Some(d) = decided {
            assert_eq!(status, d, "a decided status changed");
        } else if status.is_decided() {
            decided = Some(status);
        }
    }
    let on = |side: &[&str]| side.iter().filter(|n| first.get(*n) == Some(&true)).count();
    let (old_successes, new_successes) = (on(&old), on(&new));
    let reached = old_successes >= required && new_successes >= required;
    match quorum.finish() {
        Ok(result) => {
            assert!(reached);
            assert!(decided != Some(QuorumStatus::Failed));
            if shard.is_moving() {
                let joint = result
                    .joint
                    .expect("a moving shard's result has both counts");
                assert_eq!((joint.old, joint.new), (old_successes, new_successes));
            }
        }
        Err(ReplicationError::JointQuorumNotReached { old, new, needed }) => {
            assert!(shard.is_moving() && !reached);
            assert_eq!((old, new, needed), (old_successes, new_successes, required));
        }
        Err(ReplicationError::QuorumNotReached { got, needed }) => {
            assert!(!shard.is_moving() && !reached);
            assert_eq!(
                (got, needed),
                (first.values().filter(|&&s| s).count(), required)
            );
        }
        Err(other) => panic!("finish gave {other:?}"),
    }
}

fn write_quorum(mode: ReplicationMode, input: &QuorumInput, acks: &[ReplicationAck]) {
    let expected: Vec<String> = input.expected.iter().map(Name::to_id).collect();
    let mut distinct: Vec<&str> = Vec::new();
    for node in &expected {
        if !distinct.contains(&node.as_str()) {
            distinct.push(node);
        }
    }
    let n = distinct.len();
    let rf = input.replication_factor.value();
    // What "enough successes" means: against the replication factor for a
    // shard's quorum, against the copies listed for `WriteQuorum::new`.
    // u128 so that `2 * got` cannot overflow for any usize.
    let promised = if input.rebalancing && !expected.is_empty() {
        rf
    } else {
        n
    };
    let enough = |got: usize| match mode {
        ReplicationMode::Synchronous => got >= promised.max(1),
        ReplicationMode::Quorum => 2 * got as u128 > promised as u128,
        ReplicationMode::Asynchronous => true,
    };
    let mut quorum = if input.rebalancing && !expected.is_empty() {
        let mut shard = Shard::new(0, expected[0].clone());
        for node in &expected[1..] {
            shard.add_replica(node.clone());
        }
        shard.state = ShardState::Rebalancing;
        let quorum = WriteQuorum::for_shard(ReplicationProtocol::new(mode, rf), &shard)
            .unwrap_or_else(|e| panic!("a Rebalancing shard takes writes: {e}"));
        // Moving needs one success more than the factor requires, up to
        // every copy, and never less than the factor requires.
        let base = match mode {
            ReplicationMode::Asynchronous => 0,
            ReplicationMode::Synchronous => rf.max(1),
            ReplicationMode::Quorum => rf / 2 + 1,
        };
        let moving = if base == 0 {
            0
        } else {
            base.saturating_add(1).min(n).max(base)
        };
        assert_eq!(quorum.required(), moving, "{mode:?} rf {rf}, {n} copies");
        quorum
    } else {
        let quorum = WriteQuorum::new(mode, expected.iter().cloned());
        assert_eq!(quorum.required(), mode.required_acks(n));
        quorum
    };
    assert_eq!(
        quorum.expected_nodes().len(),
        quorum.expected_nodes().count()
    );
    let required = quorum.required();

    let mut first: HashMap<&str, bool> = HashMap::new();
    let mut decided: Option<QuorumStatus> = None;
    let mut last = quorum.status();
    for ack in acks {
        let known = distinct.contains(&ack.node_id.as_str());
        match quorum.record(ack.clone()) {
            Ok(status) => {
                assert!(
                    known,
                    "an answer from {:?}, not expected, was counted",
                    ack.node_id
                );
                first.entry(&ack.node_id).or_insert(ack.success);
                last = status;
            }
            Err(ReplicationError::UnexpectedNode { node, .. }) => {
                assert!(!known, "expected node {node:?} was refused");
                assert_eq!(node, ack.node_id);
            }
            Err(other) => panic!("record gave {other:?}"),
        }
        let successes = first.values().filter(|&&s| s).count();
        let failures = first.len() - successes;
        assert_eq!(quorum.successes(), successes);
        assert_eq!(quorum.failures(), failures);
        assert_eq!(last, quorum.status());
        match last {
            QuorumStatus::Reached => assert!(
                enough(successes) && successes >= required,
                "{mode:?}: Reached with {successes} of {n} distinct copies"
            ),
            QuorumStatus::Failed => assert!(
                successes + (n - successes - failures) < required,
                "{mode:?}: Failed while {} copies are silent and {successes} succeeded of {required}",
                n - successes - failures
            ),
            QuorumStatus::Pending => {}
        }
        if let Some(d) = decided {
            assert_eq!(last, d, "a decided status changed");
        } else if last.is_decided() {
            decided = Some(last);
        }
    }
    let successes = first.values().filter(|&&s| s).count();
    match quorum.finish() {
        Ok(result) => {
            assert!(successes >= required && enough(successes));
            assert_eq!(result.success_count, successes);
            assert!(decided != Some(QuorumStatus::Failed));
        }
        Err(ReplicationError::QuorumNotReached { got, needed }) => {
            assert_eq!((got, needed), (successes, required));
            assert!(got < needed);
            assert!(decided != Some(QuorumStatus::Reached));
        }
        Err(other) => panic!("finish gave {other:?}"),
    }
}
