//! The model's state: what the engine holds (each node's generation and
//! store, the catch-up so far, the node that is down) and what the
//! coordinators have decided. Small and hashable: the checker keeps
//! millions.

use super::{bit, network::Msg};
use crate::scenario::MAX_NODES;

/// The most writes a model may issue: each is a bit of a `u8` store.
pub const MAX_WRITES: usize = 3;

/// A write as its coordinator sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum WriteState {
    /// Not issued yet.
    Idle,
    /// Sent, not decided: the coordinator, its step, and the nodes whose
    /// first answer was a success or not.
    Pending {
        /// The coordinating node.
        coord: u8,
        /// The step it decides under.
        step: u8,
        /// Nodes whose first answer was `Stored`.
        ok: u8,
        /// Nodes whose first answer was anything else.
        failed: u8,
    },
    /// Acknowledged to the client.
    Acked,
    /// Failed (the client may retry it as a new write).
    Failed,
}

/// The one `Quorum` read. Reads do not change any store, so one read,
/// started at any point of any run, covers every read of every run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ReadState {
    /// Not started yet.
    Idle,
    /// Sent, waiting for enough copies.
    Pending {
        /// The coordinating node.
        coord: u8,
        /// The step it reads under.
        step: u8,
        /// The writes acknowledged before the read began.
        must_see: u8,
        /// The nodes that answered with data.
        answered: u8,
        /// The union of their data.
        seen: u8,
    },
    /// Enough copies answered.
    Done {
        /// The writes acknowledged before the read began.
        must_see: u8,
        /// What the read returned.
        seen: u8,
    },
}

/// The model's state: small and hashable.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct State {
    /// Each node's step (index into the procedure's generations).
    pub steps: [u8; MAX_NODES],
    /// Each node's stored writes for the shard, as bits of write ids.
    pub stores: [u8; MAX_NODES],
    /// For each catch-up target, the sources it has merged (bits of nodes).
    pub merged: [u8; MAX_NODES],
    /// The node that is down, if any.
    pub down: Option<u8>,
    /// Whether the one crash has happened.
    pub crashed: bool,
    /// The writes.
    pub writes: [WriteState; MAX_WRITES],
    /// The read in progress, or the one that missed a write.
    pub read: ReadState,
    /// Whether a read has returned every write, all acknowledged before it
    /// began (evidence that the check is not vacuous).
    pub read_saw_all: bool,
    /// The messages in flight, sorted and distinct: a set, because the
    /// network may deliver each any number of times.
    pub net: Vec<Msg>,
}

impl State {
    /// Every node at config A with an empty store, nothing issued, nothing
    /// in flight.
    pub(super) fn initial() -> Self {
        State {
            steps: [0; MAX_NODES],
            stores: [0; MAX_NODES],
            merged: [0; MAX_NODES],
            down: None,
            crashed: false,
            writes: [WriteState::Idle; MAX_WRITES],
            read: ReadState::Idle,
            read_saw_all: false,
            net: Vec::new(),
        }
    }

    pub(super) fn is_up(&self, node: usize) -> bool {
        self.down != Some(node as u8)
    }

    /// Whether write `w`'s coordinator still waits for node `from`'s first
    /// answer.
    pub(super) fn write_awaits(&self, w: u8, from: u8) -> bool {
        matches!(self.writes[w as usize], WriteState::Pending { ok, failed, .. } if (ok | failed) & bit(from as usize) == 0)
    }

    /// Whether the read's coordinator still waits for node `from`'s answer.
    pub(super) fn read_awaits(&self, from: u8) -> bool {
        matches!(self.read, ReadState::Pending { answered, .. } if answered & bit(from as usize) == 0)
    }

    /// Whether writes `..writes` are all acknowledged.
    pub(super) fn all_acked(&self, writes: usize) -> bool {
        self.writes[..writes]
            .iter()
            .all(|w| matches!(w, WriteState::Acked))
    }
}
