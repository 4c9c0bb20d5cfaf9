//! The coordinator's reads: each shard of a plan accumulated from distinct
//! copies, falling back to the next copy on a refusal or a timeout, and the
//! answers merged.

use fxhash::FxHashMap;
use rusts_cluster_routing::KeyFilter;
use rusts_cluster_sharding::ShardId;

use crate::{
    message::{Header, Peer, ReadAnswer, ReadRequest},
    point::{merge, Point},
    Delivery,
};

/// A read decided. From [`Core::poll`](crate::Core::poll).
#[derive(Debug)]
pub struct ReadDone<P, T> {
    /// The read's id, as [`Core::read`](crate::Core::read) returned it.
    pub id: u64,
    /// The generation it was planned under.
    pub generation: u64,
    /// The engine's payload.
    pub payload: T,
    /// The merged rows ([`merge`]) of every copy's answer that counted.
    /// For a shard in `incomplete`, they are what fewer copies than the
    /// level needs returned: a partial answer, which may miss points.
    pub rows: Vec<P>,
    /// The shards that did not get as many distinct copies' answers as the
    /// read level needs, ascending: empty when the read is complete.
    pub incomplete: Vec<ShardId>,
    /// When the read was ended by generation fencing: the generation the
    /// coordinator moved to. Every shard not yet complete is incomplete.
    pub fenced: Option<u64>,
}

impl<P, T> ReadDone<P, T> {
    /// Whether every shard got the answers its read level needs.
    pub fn is_complete(&self) -> bool {
        self.incomplete.is_empty()
    }
}

struct ShardState {
    shard: ShardId,
    needed: usize,
    /// The copies to ask, in the plan's order: targets, then fallbacks.
    candidates: Vec<u32>,
    /// How many of `candidates` were asked.
    asked: usize,
    /// Asked and not yet answered.
    waiting: usize,
    /// Distinct copies whose answer counted.
    answered: Vec<u32>,
    complete: bool,
}

impl ShardState {
    fn settled(&self) -> bool {
        self.complete || (self.waiting == 0 && self.asked == self.candidates.len())
    }
}

struct Ask {
    node: u32,
    /// Indices into the read's shards.
    shards: Vec<u32>,
    deadline: u64,
    open: bool,
}

struct InFlight<P, T> {
    generation: u64,
    payload: T,
    filter: KeyFilter,
    deadline: u64,
    shards: Vec<ShardState>,
    asks: Vec<Ask>,
    rows: Vec<P>,
    unsettled: usize,
}

/// A read to start: the plan's shards, as node indices.
pub(crate) struct Planned {
    pub(crate) shard: ShardId,
    pub(crate) needed: usize,
    pub(crate) candidates: Vec<u32>,
}

/// The reads a coordinator has in flight, by id.
pub(crate) struct Reads<P, T> {
    inflight: FxHashMap<u64, InFlight<P, T>>,
}

/// What the core must do after a change to a read.
pub(crate) struct Effects<'a, P, T> {
    pub(crate) header: &'a Header,
    pub(crate) peers: &'a [Peer],
    pub(crate) ask_timeout: u64,
    pub(crate) now: u64,
    pub(crate) send: &'a mut Vec<(Peer, ReadRequest)>,
    pub(crate) done: &'a mut Vec<ReadDone<P, T>>,
    /// Asks to time out: (deadline, read id, ask index).
    pub(crate) timers: &'a mut Vec<(u64, u64, u32)>,
}

impl<P: Point + Ord, T> Reads<P, T> {
    pub(crate) fn new() -> Self {
        Reads {
            inflight: FxHashMap::default(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.inflight.len()
    }

    #[allow(clippy::too_many_arguments)]
    pub(crate) fn start(
        &mut self,
        id: u64,
        generation: u64,
        filter: KeyFilter,
        planned: Vec<Planned>,
        payload: T,
        deadline: u64,
        fx: &mut Effects<'_, P, T>,
    ) {
        let shards: Vec<ShardState> = planned
            .into_iter()
            .map(|p| ShardState {
                shard: p.shard,
                needed: p.needed,
                candidates: p.candidates,
                asked: 0,
                waiting: 0,
                answered: Vec::new(),
                complete: p.needed == 0,
            })
            .collect();
        let mut read = InFlight {
            generation,
            payload,
            filter,
            deadline,
            unsettled: shards.len(),
            shards,
            asks: Vec::new(),
            rows: Vec::new(),
        };
        let all: Vec<u32> = (0..read.shards.len() as u32).collect();
        read.ask_more(id, &all, fx);
        read.count_settled();
        if read.unsettled == 0 {
            fx.done.push(read.done(id, None));
        } else {
            self.inflight.insert(id, read);
        }
    }

    /// Counts a replica's answer.
    pub(crate) fn answer(
        &mut self,
        answer: ReadAnswer<P>,
        issued: u64,
        fx: &mut Effects<'_, P, T>,
    ) -> Delivery {
        let id = answer.read;
        let Some(read) = self.inflight.get_mut(&id) else {
            return if id < issued {
                Delivery::Late
            } else {
                Delivery::Unknown
            };
        };
        let from = &*answer.header.node;
        let Some(a) = read
            .asks
            .iter()
            .position(|a| a.open && *fx.peers[a.node as usize].node == *from)
        else {
            return if read
                .asks
                .iter()
                .any(|a| *fx.peers[a.node as usize].node == *from)
            {
                Delivery::Duplicate
            } else {
                Delivery::Unknown
            };
        };
        read.asks[a].open = false;
        let node = read.asks[a].node;
        // An answer from a generation more than one away from the plan's
        // never counts (the replica should have refused it).
        let in_step = answer.header.generation.abs_diff(read.generation) <= 1;
        let mut retry = Vec::new();
        let asked = std::mem::take(&mut read.asks[a].shards);
        let mut rows_of = answer.shards;
        for &s in &asked {
            let state = &mut read.shards[s as usize];
            state.waiting -= 1;
            let got = rows_of
                .iter_mut()
                .find(|r| r.shard == state.shard && r.refusal.is_none())
                .map(|r| std::mem::take(&mut r.rows));
            match got {
                Some(rows) if in_step && !state.complete && !state.answered.contains(&node) => {
                    state.answered.push(node);
                    read.rows.extend(rows);
                    if state.answered.len() >= state.needed {
                        state.complete = true;
                    }
                }
                Some(_) if in_step => {}
                _ => retry.push(s),
            }
        }
        read.ask_more(id, &retry, fx);
        read.count_settled();
        if read.unsettled == 0 {
            if let Some(read) = self.inflight.remove(&id) {
                fx.done.push(read.done(id, None));
            }
        }
        Delivery::Counted
    }

    /// An ask's timer fired: its unanswered shards fall back to the next
    /// copies; the read ends at its own deadline.
    pub(crate) fn timer(&mut self, id: u64, ask: u32, fx: &mut Effects<'_, P, T>) {
        let Some(read) = self.inflight.get_mut(&id) else {
            return;
        };
        if read.deadline <= fx.now {
            if let Some(read) = self.inflight.remove(&id) {
                fx.done.push(read.done(id, None));
            }
            return;
        }
        let Some(a) = read.asks.get_mut(ask as usize) else {
            return;
        };
        if !a.open || a.deadline > fx.now {
            return;
        }
        a.open = false;
        let shards = std::mem::take(&mut a.shards);
        for &s in &shards {
            read.shards[s as usize].waiting -= 1;
        }
        read.ask_more(id, &shards, fx);
        read.count_settled();
        if read.unsettled == 0 {
            if let Some(read) = self.inflight.remove(&id) {
                fx.done.push(read.done(id, None));
            }
        }
    }

    /// Fencing: ends every read of a generation below `generation`.
    pub(crate) fn fence(&mut self, generation: u64, done: &mut Vec<ReadDone<P, T>>) {
        let mut stale: Vec<u64> = self
            .inflight
            .iter()
            .filter(|(_, r)| r.generation < generation)
            .map(|(&id, _)| id)
            .collect();
        stale.sort_unstable();
        for id in stale {
            if let Some(read) = self.inflight.remove(&id) {
                done.push(read.done(id, Some(generation)));
            }
        }
    }
}

impl<P: Point + Ord, T> InFlight<P, T> {
    /// Asks the next copies of each shard in `shards` until it has as many
    /// asked-and-waiting or answered copies as it needs, grouped into one
    /// request per node.
    fn ask_more(&mut self, id: u64, shards: &[u32], fx: &mut Effects<'_, P, T>) {
        let mut per_node: Vec<(u32, Vec<u32>)> = Vec::new();
        for &s in shards {
            let state = &mut self.shards[s as usize];
            while !state.complete
                && state.answered.len() + state.waiting < state.needed
                && state.asked < state.candidates.len()
            {
                let node = state.candidates[state.asked];
                state.asked += 1;
                if state.answered.contains(&node) {
                    continue;
                }
                state.waiting += 1;
                match per_node.iter_mut().find(|(n, _)| *n == node) {
                    Some((_, list)) => list.push(s),
                    None => per_node.push((node, vec![s])),
                }
            }
        }
        for (node, list) in per_node {
            let ask = self.asks.len() as u32;
            let deadline = fx.now.saturating_add(fx.ask_timeout).min(self.deadline);
            fx.send.push((
                fx.peers[node as usize].clone(),
                ReadRequest {
                    header: fx.header.clone(),
                    read: id,
                    filter: self.filter.clone(),
                    shards: list
                        .iter()
                        .map(|&s| self.shards[s as usize].shard)
                        .collect(),
                },
            ));
            fx.timers.push((deadline, id, ask));
            self.asks.push(Ask {
                node,
                shards: list,
                deadline,
                open: true,
            });
        }
    }

    fn count_settled(&mut self) {
        self.unsettled = self.shards.iter().filter(|s| !s.settled()).count();
    }

    fn done(self, id: u64, fenced: Option<u64>) -> ReadDone<P, T> {
        let incomplete = self
            .shards
            .iter()
            .filter(|s| !s.complete)
            .map(|s| s.shard)
            .collect::<Vec<_>>();
        let mut incomplete = incomplete;
        incomplete.sort_unstable();
        ReadDone {
            id,
            generation: self.generation,
            payload: self.payload,
            rows: merge(self.rows),
            incomplete,
            fenced,
        }
    }
}
