use rusts_cluster_sharding::{ShardId, ShardState};
use thiserror::Error;

/// An error from this crate: a write whose outcome is a failure, or an
/// answer or write the quorum cannot take.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicationError {
    /// Fewer distinct copies acknowledged success than the mode requires.
    #[error("write reached {got} of the {needed} copies a quorum needs")]
    QuorumNotReached {
        /// Distinct copies that acknowledged success.
        got: usize,
        /// Successful copies the mode requires.
        needed: usize,
    },
    /// A write to a moving shard that did not reach the mode's requirement
    /// on its old copies, on its new copies, or on both: it must reach it on
    /// each (`docs/decisions/0019-joint-copies.md`).
    #[error(
        "write to a moving shard reached {old} of its old copies and {new} of its new copies, \
         but needs {needed} on each side; once the move ends it needs {needed} of the new copies only"
    )]
    JointQuorumNotReached {
        /// Distinct old copies (all but the joining ones) that succeeded.
        old: usize,
        /// Distinct new copies (all but the leaving ones) that succeeded.
        new: usize,
        /// Successes the mode requires on each side.
        needed: usize,
    },
    /// An answer from a node the write was not sent to. It was not counted.
    #[error(
        "ack from node \"{node}\" rejected: the write was sent to {expected:?} only; \
         route each ack to the write it answers"
    )]
    UnexpectedNode {
        /// The node that answered.
        node: String,
        /// The copies the write was sent to.
        expected: Vec<String>,
    },
    /// A write to a shard that takes none (`ReadOnly` or `Offline`).
    #[error(
        "shard {shard} is {state} and takes no writes; write only to shards whose state takes \
         writes (`ShardState::can_write`, or `accepts_writes` on a router's shard handle, which \
         also checks that the primary is up)"
    )]
    ShardNotWritable {
        /// The shard.
        shard: ShardId,
        /// Its state.
        state: ShardState,
    },
    /// [`PendingWrites::begin`](crate::PendingWrites::begin) with an id
    /// that is already in flight. The table is unchanged.
    #[error(
        "write id {id} is already in flight; give each write a new id (e.g. from a counter) \
         and begin it once"
    )]
    WriteIdInFlight {
        /// The write id.
        id: u64,
    },
}

impl ReplicationError {
    /// A short, stable, kebab-case name of what went wrong, for scripts
    /// (the CLI's JSON `code`).
    pub fn code(&self) -> &'static str {
        match self {
            ReplicationError::QuorumNotReached { .. } => "quorum-not-reached",
            ReplicationError::JointQuorumNotReached { .. } => "joint-quorum-not-reached",
            ReplicationError::UnexpectedNode { .. } => "unexpected-node",
            ReplicationError::ShardNotWritable { .. } => "shard-not-writable",
            ReplicationError::WriteIdInFlight { .. } => "write-id-in-flight",
        }
    }
}
