use serde::{Deserialize, Serialize};

use crate::ReplicationError;

/// One copy's answer to a write.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationAck {
    /// The node that answered.
    pub node_id: String,
    /// Whether the node stored the write.
    pub success: bool,
    /// Why the node failed, when it says.
    pub error: Option<String>,
    /// How long the node took to answer, in milliseconds.
    pub latency_ms: u64,
}

impl ReplicationAck {
    /// A successful answer from `node_id`.
    pub fn success(node_id: impl Into<String>, latency_ms: u64) -> Self {
        ReplicationAck {
            node_id: node_id.into(),
            success: true,
            error: None,
            latency_ms,
        }
    }

    /// A failed answer from `node_id`, with the reason it gave.
    pub fn failure(node_id: impl Into<String>, error: impl Into<String>, latency_ms: u64) -> Self {
        ReplicationAck {
            node_id: node_id.into(),
            success: false,
            error: Some(error.into()),
            latency_ms,
        }
    }
}

/// The outcome of a replicated write, as
/// [`ReplicationProtocol::check_quorum`](crate::ReplicationProtocol::check_quorum)
/// or a [`WriteQuorum`](crate::WriteQuorum) found it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplicationResult {
    /// Distinct nodes whose first answer was a success.
    pub success_count: usize,
    /// The copies the write was sent to: the shard's copies, which is the
    /// replication factor for a shard that is not moving, and more while
    /// copies move (both sides of a joint write: 3 for a move of one copy
    /// at factor 2), or fewer for an under-replicated shard.
    pub total_count: usize,
    /// The successes the write needed (`0` under `Asynchronous`).
    #[serde(default)]
    pub required_count: usize,
    /// The answers. From `check_quorum`: every answer, as received,
    /// duplicates included. From a `WriteQuorum`: each expected node's
    /// first answer, in the order received (later answers are dropped, so
    /// a flood of retries cannot grow a pending write).
    pub acks: Vec<ReplicationAck>,
    /// The copies that had not answered when the write was decided (from a
    /// `WriteQuorum`; `check_quorum` cannot know them and leaves this
    /// empty). After [`WriteQuorum::finish`](crate::WriteQuorum::finish) at
    /// a deadline they are the copies that never answered; after an early
    /// decision, the copies whose answers were not needed.
    #[serde(default)]
    pub missing_nodes: Vec<String>,
    /// Whether the write met the mode's requirement: `success_count`
    /// reached `required_count`, and for a write to a moving shard, on the
    /// old copies and on the new copies alike (`joint`).
    pub quorum_reached: bool,
    /// For a write to a shard whose copies are moving: the successes among
    /// its old copies and among its new copies, each of which must reach
    /// `required_count`. `None` for every other write.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub joint: Option<JointSuccesses>,
}

/// The successes of a write to a moving shard, counted on each side of the
/// move (`docs/decisions/0019-joint-copies.md`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JointSuccesses {
    /// Successes among the old copies: every copy but the joining ones.
    pub old: usize,
    /// Successes among the new copies: every copy but the leaving ones.
    pub new: usize,
}

impl ReplicationResult {
    /// Whether every copy the write was sent to acknowledged success.
    ///
    /// ```
    /// use rusts_cluster_replication::{ReplicationAck, ReplicationMode, ReplicationProtocol};
    ///
    /// let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
    /// let acks = ["a", "a", "b"].map(|node| ReplicationAck::success(node, 1));
    /// let result = protocol.check_quorum(&acks)?;
    /// assert!(result.quorum_reached);
    /// assert!(!result.all_success(), "two distinct copies of three");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn all_success(&self) -> bool {
        self.success_count >= self.total_count
    }

    /// The error a failed write reports,
    /// [`ReplicationError::QuorumNotReached`], or `None` when the quorum
    /// was reached.
    ///
    /// ```
    /// use rusts_cluster_replication::{ReplicationAck, ReplicationError, ReplicationMode, WriteQuorum};
    ///
    /// let mut quorum = WriteQuorum::new(ReplicationMode::Quorum, ["a", "b", "c"]);
    /// quorum.record(ReplicationAck::success("a", 1))?;
    /// let result = quorum.into_result(); // the deadline passed
    /// assert_eq!(result.error(), Some(ReplicationError::QuorumNotReached { got: 1, needed: 2 }));
    /// assert_eq!(result.missing_nodes, ["b", "c"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error(&self) -> Option<ReplicationError> {
        if self.quorum_reached {
            return None;
        }
        Some(match self.joint {
            Some(JointSuccesses { old, new }) => ReplicationError::JointQuorumNotReached {
                old,
                new,
                needed: self.required_count,
            },
            None => ReplicationError::QuorumNotReached {
                got: self.success_count,
                needed: self.required_count,
            },
        })
    }

    /// The distinct nodes whose first answer was a failure, in the order
    /// they answered. Copies that never answered are not listed: they are
    /// unknown to a result built from answers alone.
    ///
    /// ```
    /// use rusts_cluster_replication::{ReplicationAck, ReplicationMode, ReplicationProtocol};
    ///
    /// let protocol = ReplicationProtocol::new(ReplicationMode::Asynchronous, 3);
    /// let result = protocol.check_quorum(&[
    ///     ReplicationAck::failure("b", "timeout", 1000),
    ///     ReplicationAck::success("a", 1),
    ///     ReplicationAck::failure("b", "timeout", 1000),
    /// ])?;
    /// assert_eq!(result.failed_nodes(), ["b"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn failed_nodes(&self) -> Vec<&str> {
        first_answers(&self.acks)
            .filter(|ack| !ack.success)
            .map(|ack| ack.node_id.as_str())
            .collect()
    }
}

/// Each node's first answer, in the order received: later answers from the
/// same node are ignored, so a node that fails and then succeeds (or the
/// reverse) counts as its first answer says.
pub(crate) fn first_answers(acks: &[ReplicationAck]) -> impl Iterator<Item = &ReplicationAck> {
    // Writes go to a handful of copies, so a scan of the earlier answers is
    // cheaper than hashing; past that, a set keeps hostile inputs linear.
    const SCAN_LIMIT: usize = 16;
    let mut seen = if acks.len() > SCAN_LIMIT {
        Some(std::collections::HashSet::with_capacity(acks.len()))
    } else {
        None
    };
    acks.iter().enumerate().filter_map(move |(i, ack)| {
        let first = match seen.as_mut() {
            Some(seen) => seen.insert(ack.node_id.as_str()),
            None => !acks[..i]
                .iter()
                .any(|earlier| earlier.node_id == ack.node_id),
        };
        first.then_some(ack)
    })
}
