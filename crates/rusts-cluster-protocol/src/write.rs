//! The coordinator's writes: a batch becomes one request per node, each
//! shard is decided under its rule in one generation, and late answers are
//! told apart from unknown ones.

use std::{collections::VecDeque, sync::Arc};

use fxhash::FxHashMap;
use rusts_cluster_replication::{QuorumStatus, WriteQuorum};
use rusts_cluster_routing::{RoutingError, ShardView};
use rusts_cluster_sharding::{ShardId, ShardState};

use crate::{
    message::{Batch, Header, Message, Part, Peer, WriteAnswer, WriteRequest},
    Delivery, Output,
};

/// What became of one shard's points in a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardOutcome {
    /// The shard's rule was met (for a moving shard, on its old copies and
    /// on its new ones).
    Acknowledged,
    /// Stored on some copies, below the rule: not acknowledged, but not
    /// nowhere either. A retry may duplicate these points, which the merge
    /// folds into one.
    Partial {
        /// The copies that stored it.
        stored: u32,
    },
    /// Stored on no copy, as far as the coordinator knows.
    Failed,
}

/// Why a shard's write was not acknowledged.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum FailReason {
    /// The shard takes no writes in the coordinator's generation.
    NotWritable(ShardState),
    /// The shard's copies that can answer (listed, on nodes not marked
    /// down) are too few for its rule: failed before anything was sent.
    /// An under-replicated shard, with fewer copies than its rule needs
    /// (the validator's `under-replicated` warning), fails so on every
    /// write.
    Unavailable,
    /// The copies' answers could no longer reach the rule.
    Refused,
    /// The deadline passed first.
    Timeout,
    /// The coordinator took a newer config before the write was decided
    /// (generation fencing): the client must retry under the new one.
    Fenced {
        /// The generation the coordinator moved to.
        generation: u64,
    },
}

/// One shard of a [`WriteDone`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ShardWrite {
    /// The shard, in the write's generation.
    pub shard: ShardId,
    /// How many points of the batch it had.
    pub points: u32,
    /// What became of them.
    pub outcome: ShardOutcome,
    /// Why, when not acknowledged.
    pub reason: Option<FailReason>,
}

/// A write decided: acknowledged when every shard is, with the engine's
/// payload (its reply handle) given back. From [`Core::poll`](crate::Core::poll).
#[derive(Debug)]
pub struct WriteDone<T> {
    /// The write's id, as [`Core::write`](crate::Core::write) returned it.
    pub id: u64,
    /// The generation it was decided under.
    pub generation: u64,
    /// The engine's payload.
    pub payload: T,
    /// Each shard's outcome, by shard id.
    pub shards: Vec<ShardWrite>,
}

impl<T> WriteDone<T> {
    /// Whether every shard was acknowledged: the write may be acknowledged
    /// to its client.
    pub fn is_acknowledged(&self) -> bool {
        self.shards
            .iter()
            .all(|s| s.outcome == ShardOutcome::Acknowledged)
    }
}

/// A write whose every copy has answered, or whose deadline passed: the
/// copies that never confirmed it, for the engine's hints or repair. Comes
/// after the write's [`WriteDone`], which is sent as soon as the rule is
/// decided.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriteSettled {
    /// The write's id.
    pub id: u64,
    /// By shard: the copies that did not confirm it (refused, failed, or
    /// silent until the deadline). Only shards with such copies; empty when
    /// every copy of every shard stored it.
    pub unconfirmed: Vec<(ShardId, Vec<Arc<str>>)>,
}

struct Group {
    shard: ShardId,
    points: u32,
    /// `None` for a shard that takes no writes.
    quorum: Option<WriteQuorum>,
    decided: Option<(ShardOutcome, Option<FailReason>)>,
    /// Copies still to answer, of those the write was sent to.
    outstanding: u32,
}

struct Ask {
    node: Arc<str>,
    /// Indices into `groups` of the shards sent to this node.
    groups: Vec<u32>,
    answered: bool,
}

struct InFlight<T> {
    generation: u64,
    payload: Option<T>,
    deadline: u64,
    groups: Vec<Group>,
    asks: Vec<Ask>,
    undecided: u32,
    outstanding: u32,
}

/// The write rule of each shard, built from the router once per generation
/// and shard state and cloned for each write: building a rule copies and
/// compares its copies' node ids, a clone copies bytes, and the rules were
/// half of what a write cost beyond routing (docs/performance.md, "The
/// protocol core"). A router's topology changes only with its generation,
/// which `apply` always raises, and a rule depends on nothing else but the
/// shard's state, which is checked on every use.
pub(crate) struct Rules {
    generation: Option<u64>,
    by_shard: Vec<Option<(ShardState, WriteQuorum)>>,
}

impl Rules {
    pub(crate) fn new() -> Self {
        Rules {
            generation: None,
            by_shard: Vec::new(),
        }
    }

    /// The rule of `view`'s shard, as `view.write_quorum()` gives it.
    pub(crate) fn quorum(&mut self, view: &ShardView<'_>) -> Result<WriteQuorum, RoutingError> {
        let generation = view.generation();
        if self.generation != Some(generation) {
            self.by_shard.clear();
            self.generation = Some(generation);
        }
        let index = view.id as usize;
        if self.by_shard.len() <= index {
            self.by_shard.resize_with(index + 1, || None);
        }
        match &self.by_shard[index] {
            Some((state, quorum)) if *state == view.state => Ok(quorum.clone()),
            _ => {
                let quorum = view.write_quorum()?;
                self.by_shard[index] = Some((view.state, quorum.clone()));
                Ok(quorum)
            }
        }
    }
}

/// A write in the making, built group by group by the core.
pub(crate) struct Builder<P> {
    groups: Vec<Group>,
    /// Per node index of the generation: the groups sent there.
    per_node: Vec<Vec<u32>>,
    batch: Option<Batch<P>>,
    starts: Vec<u32>,
}

impl<P> Builder<P> {
    pub(crate) fn new(nodes: usize, groups: usize) -> Self {
        Builder {
            groups: Vec::with_capacity(groups),
            // Room for every group on every node: no growth while the
            // groups are added.
            per_node: (0..nodes).map(|_| Vec::with_capacity(groups)).collect(),
            batch: None,
            starts: Vec::with_capacity(groups + 1),
        }
    }

    /// Gives the batch: the points and their order grouped by shard.
    pub(crate) fn with_batch(mut self, points: Vec<P>, order: Vec<u32>) -> Self {
        self.batch = Some(Batch { points, order });
        self
    }

    /// Adds the next group: `len` points of `view`'s shard, from `start`
    /// in the batch's order, under `rule` (the shard's write rule, or why
    /// it has none), sent to the shard's available copies. A shard that
    /// takes no writes, or whose down copies are too many for its rule
    /// (the joint rule of a moving shard included), fails at once and is
    /// sent nowhere. The rule is moved into place once and counted there,
    /// since it is the largest part of a group.
    pub(crate) fn group(
        &mut self,
        view: &ShardView<'_>,
        start: u32,
        len: u32,
        rule: Result<WriteQuorum, RoutingError>,
    ) {
        let g = self.groups.len() as u32;
        self.starts.push(start);
        self.groups.push(Group {
            shard: view.id,
            points: len,
            quorum: rule.ok(),
            decided: None,
            outstanding: 0,
        });
        let group = self.groups.last_mut().expect("a group was just added");
        let failed = match &mut group.quorum {
            None => Some(FailReason::NotWritable(view.state)),
            Some(quorum) => {
                for node in view.down_copies() {
                    let _ = quorum.record_answer(node, false);
                }
                (quorum.status() == QuorumStatus::Failed).then_some(FailReason::Unavailable)
            }
        };
        if let Some(reason) = failed {
            group.decided = Some((ShardOutcome::Failed, Some(reason)));
            return;
        }
        for copy in view.copies().filter(|c| c.available) {
            self.per_node[copy.node_index as usize].push(g);
            group.outstanding += 1;
        }
    }
}

/// The writes a coordinator has in flight, by id.
pub(crate) struct Writes<T> {
    inflight: FxHashMap<u64, InFlight<T>>,
}

impl<T> Writes<T> {
    pub(crate) fn new() -> Self {
        Writes {
            inflight: FxHashMap::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inflight.len()
    }

    /// Starts write `id`: gives its requests (to send) and, when no shard
    /// needs an answer, its outcome at once. True when it stays in flight
    /// (and needs a deadline).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start<P>(
        &mut self,
        id: u64,
        generation: u64,
        header: &Header,
        peers: &[Peer],
        builder: Builder<P>,
        payload: T,
        deadline: u64,
        out: &mut VecDeque<Output<P, T>>,
    ) -> bool {
        let Builder {
            mut groups,
            per_node,
            batch,
            mut starts,
        } = builder;
        let batch = batch.unwrap_or(Batch {
            points: Vec::new(),
            order: Vec::new(),
        });
        starts.push(batch.order.len() as u32);
        let batch = Arc::new(batch);
        let mut asks = Vec::new();
        for (node, list) in per_node.into_iter().enumerate() {
            if list.is_empty() {
                continue;
            }
            let parts = list
                .iter()
                .map(|&g| Part {
                    shard: groups[g as usize].shard,
                    start: starts[g as usize],
                    end: starts[g as usize + 1],
                })
                .collect();
            let peer = peers[node].clone();
            out.push_back(Output::Send(
                peer.clone(),
                Message::Write(WriteRequest::from_parts(
                    header.clone(),
                    id,
                    parts,
                    Arc::clone(&batch),
                )),
            ));
            asks.push(Ask {
                node: peer.node,
                groups: list,
                answered: false,
            });
        }
        // A group with no copy to wait for is decided by its rule now (a
        // rule of 0 under `Asynchronous`, or one no answer can meet).
        let mut undecided = 0;
        for group in &mut groups {
            if group.decided.is_none() {
                let status = group
                    .quorum
                    .as_ref()
                    .map_or(QuorumStatus::Failed, |q| q.status());
                decide_if(group, status, None);
            }
            undecided += u32::from(group.decided.is_none());
        }
        let outstanding = groups.iter().map(|g| g.outstanding).sum();
        let mut write = InFlight {
            generation,
            payload: Some(payload),
            deadline,
            groups,
            asks,
            undecided,
            outstanding,
        };
        if write.undecided == 0 {
            out.push_back(Output::WriteDone(write.done(id)));
        }
        if write.outstanding == 0 {
            out.push_back(Output::WriteSettled(write.settled(id)));
            false
        } else {
            self.inflight.insert(id, write);
            true
        }
    }

    /// Counts a replica's answer.
    pub(crate) fn answer<P>(
        &mut self,
        answer: &WriteAnswer,
        issued: u64,
        out: &mut VecDeque<Output<P, T>>,
    ) -> Delivery {
        let id = answer.write;
        let Some(write) = self.inflight.get_mut(&id) else {
            return if id < issued {
                Delivery::Late
            } else {
                Delivery::Unknown
            };
        };
        let Some(ask) = write
            .asks
            .iter_mut()
            .find(|a| *a.node == *answer.header.node)
        else {
            return Delivery::Unknown;
        };
        if ask.answered {
            return Delivery::Duplicate;
        }
        ask.answered = true;
        // Every shard sent to this node is counted once: the answer's
        // entry for it, or a failure when the answer leaves it out.
        for (i, &g) in ask.groups.iter().enumerate() {
            let group = &mut write.groups[g as usize];
            // A replica answers the request's shards in the order sent, so
            // the entry is usually at the same place; else it is searched.
            let entry = match answer.shards.get(i) {
                Some(entry) if entry.shard == group.shard => Some(entry),
                _ => answer.shards.iter().find(|s| s.shard == group.shard),
            };
            let stored = entry.is_some_and(|s| s.refusal.is_none());
            group.outstanding -= 1;
            write.outstanding -= 1;
            let Some(quorum) = group.quorum.as_mut() else {
                continue;
            };
            let status = quorum
                .record_answer(&ask.node, stored)
                .unwrap_or(QuorumStatus::Pending);
            if group.decided.is_none() && decide_if(group, status, None) {
                write.undecided -= 1;
            }
        }
        if write.undecided == 0 && write.payload.is_some() {
            out.push_back(Output::WriteDone(write.done(id)));
        }
        if write.outstanding == 0 {
            if let Some(write) = self.inflight.remove(&id) {
                out.push_back(Output::WriteSettled(write.settled(id)));
            }
        }
        Delivery::Counted
    }

    /// Ends write `id` at its deadline, if it is still in flight and its
    /// deadline is `now` or earlier.
    pub(crate) fn expire<P>(&mut self, id: u64, now: u64, out: &mut VecDeque<Output<P, T>>) {
        if self.inflight.get(&id).is_none_or(|w| w.deadline > now) {
            return;
        }
        if let Some(mut write) = self.inflight.remove(&id) {
            write.end(id, FailReason::Timeout, out);
        }
    }

    /// Fencing: ends every write of a generation below `generation`, as one
    /// step. Undecided shards fail; the rest settle.
    pub(crate) fn fence<P>(&mut self, generation: u64, out: &mut VecDeque<Output<P, T>>) {
        let mut stale: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, w)| w.generation < generation)
            .map(|(&id, _)| id)
            .collect();
        stale.sort_unstable();
        for id in stale {
            if let Some(mut write) = self.inflight.remove(&id) {
                write.end(id, FailReason::Fenced { generation }, out);
            }
        }
    }
}

/// Decides `group` when `status` is decided, or, when `end` gives the
/// reason no answer is coming, as that; true when it did.
fn decide_if(group: &mut Group, status: QuorumStatus, end: Option<FailReason>) -> bool {
    let stored = stored_outcome(group.quorum.as_ref());
    group.decided = Some(match (status, end) {
        (QuorumStatus::Reached, _) => (ShardOutcome::Acknowledged, None),
        (QuorumStatus::Failed, _) => (stored, Some(FailReason::Refused)),
        (_, Some(reason)) => (stored, Some(reason)),
        (_, None) => return false,
    });
    true
}

fn stored_outcome(quorum: Option<&WriteQuorum>) -> ShardOutcome {
    match quorum.map_or(0, WriteQuorum::successes) {
        0 => ShardOutcome::Failed,
        n => ShardOutcome::Partial { stored: n as u32 },
    }
}

impl<T> InFlight<T> {
    /// Ends the write: undecided shards fail with `reason`; reports what
    /// has not been reported.
    fn end<P>(&mut self, id: u64, reason: FailReason, out: &mut VecDeque<Output<P, T>>) {
        for group in &mut self.groups {
            if group.decided.is_none() {
                let status = group
                    .quorum
                    .as_ref()
                    .map_or(QuorumStatus::Failed, |q| q.status());
                decide_if(group, status, Some(reason));
            }
        }
        self.undecided = 0;
        if self.payload.is_some() {
            out.push_back(Output::WriteDone(self.done(id)));
        }
        out.push_back(Output::WriteSettled(self.settled(id)));
    }

    fn done(&mut self, id: u64) -> WriteDone<T> {
        let payload = self.payload.take().expect("a write is done once");
        WriteDone {
            id,
            generation: self.generation,
            payload,
            shards: self
                .groups
                .iter()
                .map(|g| {
                    let (outcome, reason) = g.decided.expect("every shard is decided");
                    ShardWrite {
                        shard: g.shard,
                        points: g.points,
                        outcome,
                        reason,
                    }
                })
                .collect(),
        }
    }

    fn settled(&self, id: u64) -> WriteSettled {
        WriteSettled {
            id,
            unconfirmed: self
                .groups
                .iter()
                .filter_map(|g| {
                    let nodes: Vec<Arc<str>> = g
                        .quorum
                        .iter()
                        .flat_map(WriteQuorum::unconfirmed)
                        .map(Arc::from)
                        .collect();
                    (!nodes.is_empty()).then_some((g.shard, nodes))
                })
                .collect(),
        }
    }
}
