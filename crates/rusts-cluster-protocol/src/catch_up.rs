//! Catch-up: a copy that joins fetches the merged data of its sources,
//! once every node runs the generation that made it join; so does a copy
//! whose data was lost ([`Core::lost`](crate::Core::lost)).

use std::sync::Arc;

use rusts_cluster_sharding::{CopyState, ShardId};
use serde::{Deserialize, Serialize};

use crate::point::PointId;

/// One source of a catch-up, and how far this node has read it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    /// The source node.
    pub node: Arc<str>,
    /// The last point read from it; `None` before the first page.
    pub after: Option<PointId>,
    /// Whether every page has been read.
    pub done: bool,
    /// When the last request was sent (the engine's clock), while one is
    /// out.
    #[serde(skip)]
    pub(crate) sent_at: Option<u64>,
}

/// A copy of this node that must catch up: which shard, from which
/// sources, under which generation, and how far it is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpTask {
    /// The shard, in the numbering of [`generation`](Self::generation).
    pub shard: ShardId,
    /// The generation that made the copy join: the fetch starts only once
    /// every node of the config reports it or a later one, since no node
    /// can acknowledge a write under an older one from then on.
    pub generation: u64,
    /// [`CopyState::Joining`], or [`CopyState::Stable`] for a kept copy
    /// that must also catch up (the shard loses more copies than it gains).
    pub state: CopyState,
    /// The old copies to merge: `n - w + 1` of them (of the other old
    /// copies, for a [`lost`](Self::lost) copy).
    pub sources: Vec<Source>,
    /// Whether the copy lost its data ([`Core::lost`](crate::Core::lost)):
    /// until the task is done, the copy takes writes and refuses reads and
    /// catch-up pages ([`Refusal::CatchingUp`](crate::Refusal::CatchingUp)),
    /// and its fetch starts [`Options::write_timeout`](crate::Options::write_timeout)
    /// after the core first sees the clock, so that every write an earlier
    /// run of this copy may have acknowledged is decided, and stored on
    /// its other copies, before they are read.
    pub lost: bool,
    /// When a lost copy's fetch may start, on the engine's clock: set the
    /// first time the core sees the clock after the loss.
    #[serde(skip)]
    pub(crate) not_before: Option<u64>,
    /// Whether `not_before` has passed.
    #[serde(skip)]
    pub(crate) waited: bool,
}

impl CatchUpTask {
    /// Whether every source has been read to its end: the copy holds every
    /// write acknowledged before its generation.
    pub fn is_done(&self) -> bool {
        self.sources.iter().all(|s| s.done)
    }
}

/// What the core reports of one catch-up: from
/// [`Core::catch_ups`](crate::Core::catch_ups).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CatchUpStatus {
    /// The shard.
    pub shard: ShardId,
    /// Sources read to their end.
    pub sources_done: usize,
    /// Sources in all.
    pub sources: usize,
    /// Whether the fetch may run: every node reports the task's
    /// generation or a later one (and, for a lost copy, its wait of
    /// [`Options::write_timeout`](crate::Options::write_timeout) is over).
    pub started: bool,
    /// Whether the copy lost its data ([`CatchUpTask::lost`]): it refuses
    /// reads until the catch-up is done.
    pub lost: bool,
}
