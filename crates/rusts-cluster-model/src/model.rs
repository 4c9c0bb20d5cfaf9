//! The stateright model of a transition: nodes that move through the
//! procedure's generations in any order, coordinators that write and read
//! with the layer's own rules, catch-up, a network that loses, duplicates
//! and reorders, and at most one crash.

use std::fmt::{self, Write as _};

use rusts_cluster_replication::{QuorumStatus, ReplicationAck, WriteQuorum};
use rusts_cluster_routing::{Query, ReadConsistency, ShardRouter};
use stateright::{Model, Property};

use crate::scenario::{Procedure, Scenario, MAX_NODES};

/// The most writes a model may issue: each is a bit of a `u8` store.
pub const MAX_WRITES: usize = 3;

/// `Action::CatchUp`'s source when a target merges all its sources in one
/// step. Without a crash every node is up, and merging the sources one by
/// one only gives the target more data than merging them all at the
/// first of those moments (stores only grow before the last step), and
/// more data never breaks an invariant; so one step finds every violation
/// that several would. With a crash a source may be down at that moment,
/// and the sources are merged one by one.
pub const ALL_SOURCES: u8 = u8::MAX;

/// What the model explores beyond the scenario and the procedure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Bounds {
    /// How many writes clients issue (at most [`MAX_WRITES`]).
    pub writes: usize,
    /// Whether one node may stop (keeping its disk) and later restart.
    pub crash: bool,
    /// How the network is modelled.
    pub network: Network,
}

/// How the model represents the network. Both lose, duplicate and reorder
/// messages; docs/decisions/0021-model-checking-transitions.md says why
/// they find the same violations, and a test checks that they do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Network {
    /// Every request and answer is a message in a set (the network may
    /// deliver each any number of times, in any order, or drop it).
    Explicit,
    /// A copy's first answer to a request arrives with the request's
    /// delivery, and requests whose delivery can no longer change a
    /// decision are not delivered. Loss is a request never delivered;
    /// later duplicates only add data to a store, which never breaks an
    /// invariant, or repeat an answer that no longer counts.
    Reduced,
}

impl Default for Bounds {
    fn default() -> Self {
        Bounds {
            writes: 2,
            crash: false,
            network: Network::Reduced,
        }
    }
}

/// A node's answer to a write.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Answer {
    /// The node holds the copy under its generation and stored the write.
    Stored,
    /// The node's generation does not list it as a copy (rule 3: never counts).
    NotHeld,
    /// `check_peer_generation` refused the sender's generation (rule 1).
    Refused,
}

/// A message in flight. Requests carry the step (generation) of the
/// coordinator that sent them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Msg {
    /// Write `w`, sent under `step` to node `to`.
    Write {
        /// The write.
        w: u8,
        /// The receiving node.
        to: u8,
        /// The coordinator's step.
        step: u8,
    },
    /// Node `from`'s answer to write `w`.
    WriteReply {
        /// The write.
        w: u8,
        /// The answering node.
        from: u8,
        /// What it answered.
        answer: Answer,
    },
    /// The read, sent under `step` to node `to`.
    Read {
        /// The receiving node.
        to: u8,
        /// The coordinator's step.
        step: u8,
    },
    /// Node `from`'s copy of the shard, as the write ids it holds. Only a
    /// node that holds the copy and accepts the sender's generation
    /// answers with data; any other answer never counts, and is not sent.
    ReadReply {
        /// The answering node.
        from: u8,
        /// The writes its copy holds.
        data: u8,
    },
}

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

/// A step of the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// A client sends write `w` to coordinator `at`.
    Write {
        /// The write.
        w: u8,
        /// The coordinating node.
        at: u8,
    },
    /// A client starts the read at coordinator `at`.
    Read {
        /// The coordinating node.
        at: u8,
    },
    /// The network delivers a message (it stays in flight: it may be
    /// delivered again).
    Deliver(Msg),
    /// The network drops a message.
    Drop(Msg),
    /// Reduced network: node `to` receives write `w` and its first answer
    /// reaches the coordinator.
    WriteAt {
        /// The write.
        w: u8,
        /// The receiving node.
        to: u8,
    },
    /// Reduced network: node `to` receives the read and its answer reaches
    /// the coordinator.
    ReadAt {
        /// The receiving node.
        to: u8,
    },
    /// A node moves to the next step.
    Upgrade {
        /// The node.
        node: u8,
    },
    /// Catch-up target `target` merges the copy of `source`.
    CatchUp {
        /// The catching-up node.
        target: u8,
        /// The node copied from.
        source: u8,
    },
    /// A node stops; it keeps its disk and its generation.
    Crash {
        /// The node.
        node: u8,
    },
    /// The stopped node starts again.
    Restart {
        /// The node.
        node: u8,
    },
}

/// One generation of the procedure, prepared once: the routers and the
/// rules the coordinators use.
struct Step {
    generation: u64,
    /// One router per node (the config with that node's `node_id`).
    routers: Vec<ShardRouter>,
    /// The nodes this generation lists as copies of the shard.
    holds: u8,
    /// Per coordinator: the nodes a write goes to (the shard's copies).
    write_targets: Vec<u8>,
    /// Per coordinator: the write rule, as `write_quorum(0)` returned it.
    quorums: Vec<WriteQuorum>,
    /// Per coordinator: the `Quorum` read's copies and how many to read,
    /// or `None` when the plan cannot read the shard.
    reads: Vec<Option<(u8, usize)>>,
}

/// The model of one scenario under one procedure.
pub struct TransitionModel {
    scenario: Scenario,
    procedure: Procedure,
    procedure_name: String,
    bounds: Bounds,
    node_ids: Vec<String>,
    steps: Vec<Step>,
    /// For each node that catches up, the sources it merges (bits); 0 for
    /// the others.
    catch_up_sources: [u8; MAX_NODES],
    catch_up_start: usize,
    catch_up_gate: Option<usize>,
    /// B's copies, and what B's write rule requires.
    final_copies: u8,
    final_required: usize,
}

impl fmt::Debug for TransitionModel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransitionModel")
            .field("scenario", &self.scenario.name())
            .field("procedure", &self.procedure_name)
            .field("bounds", &self.bounds)
            .finish_non_exhaustive()
    }
}

fn bit(node: usize) -> u8 {
    1 << node
}

fn ones(bits: u8) -> usize {
    bits.count_ones() as usize
}

impl TransitionModel {
    /// Prepares the model: builds every generation's routers with
    /// `ShardRouter::from_config` and takes each coordinator's write rule
    /// and `Quorum` read plan from them.
    ///
    /// # Panics
    ///
    /// When a step's config is invalid, or a bound is out of range.
    pub fn new(scenario: &Scenario, procedure: &Procedure, bounds: Bounds) -> Self {
        assert!(bounds.writes <= MAX_WRITES);
        assert!(procedure.steps.len() <= u8::MAX as usize);
        let node_ids: Vec<String> = (0..scenario.nodes).map(Scenario::node_id).collect();
        let index = |id: &str| {
            node_ids
                .iter()
                .position(|n| n == id)
                .unwrap_or_else(|| panic!("unknown node {id}"))
        };
        let steps: Vec<Step> = procedure
            .steps
            .iter()
            .map(|config| {
                let routers: Vec<ShardRouter> = node_ids
                    .iter()
                    .map(|id| {
                        let mut config = config.clone();
                        config.node_id = id.clone();
                        ShardRouter::from_config(&config).unwrap_or_else(|error| {
                            panic!("generation {}: {error}", config.generation)
                        })
                    })
                    .collect();
                let holds = routers[0]
                    .get_shard(0)
                    .expect("shard 0")
                    .copies()
                    .fold(0, |bits, copy| bits | bit(index(copy.node_id)));
                let write_targets = routers
                    .iter()
                    .map(|router| {
                        router
                            .get_shard(0)
                            .expect("shard 0")
                            .copies()
                            .fold(0, |bits, copy| bits | bit(index(copy.node_id)))
                    })
                    .collect();
                let quorums = routers
                    .iter()
                    .map(|router| router.write_quorum(0).expect("shard 0 takes writes"))
                    .collect();
                let query = Query::new().consistency(ReadConsistency::Quorum);
                let reads = routers
                    .iter()
                    .map(|router| {
                        let plan = router.plan_query(&query).expect("a plan");
                        let read = plan.read(0).expect("the plan reads shard 0");
                        read.is_available().then(|| {
                            let copies = read
                                .targets()
                                .chain(read.fallbacks())
                                .fold(0, |bits, copy| bits | bit(index(copy.node_id)));
                            (copies, read.copies_needed())
                        })
                    })
                    .collect();
                Step {
                    generation: config.generation,
                    routers,
                    holds,
                    write_targets,
                    quorums,
                    reads,
                }
            })
            .collect();
        let last = steps.last().expect("at least one step");
        let final_copies = last.holds;
        let final_required = last.routers[0].protocol().required_acks();
        let mut catch_up_sources = [0; MAX_NODES];
        for (target, sources) in &procedure.catch_up.targets {
            catch_up_sources[*target] = sources.iter().fold(0, |bits, &n| bits | bit(n));
        }
        TransitionModel {
            scenario: scenario.clone(),
            procedure: procedure.clone(),
            procedure_name: procedure.name.clone(),
            bounds,
            node_ids,
            final_copies,
            final_required,
            catch_up_sources,
            catch_up_start: procedure.catch_up.start_step,
            catch_up_gate: procedure.catch_up.gate_step,
            steps,
        }
    }

    /// The scenario checked.
    pub fn scenario(&self) -> &Scenario {
        &self.scenario
    }

    /// The procedure checked.
    pub fn procedure(&self) -> &Procedure {
        &self.procedure
    }

    /// The bounds of the check.
    pub fn bounds(&self) -> Bounds {
        self.bounds
    }

    /// The scenario's description and the procedure's name.
    pub fn describe(&self) -> String {
        format!("{}, {}", self.scenario.name(), self.procedure_name)
    }

    fn nodes(&self) -> usize {
        self.node_ids.len()
    }

    fn is_up(state: &State, node: usize) -> bool {
        state.down != Some(node as u8)
    }

    fn last_step(&self) -> u8 {
        (self.steps.len() - 1) as u8
    }

    /// Whether every node runs the last step: the plan is complete.
    pub fn plan_complete(&self, state: &State) -> bool {
        state.steps[..self.nodes()]
            .iter()
            .all(|&s| s == self.last_step())
    }

    fn catch_up_done(&self, state: &State) -> bool {
        (0..self.nodes()).all(|n| state.merged[n] == self.catch_up_sources[n])
    }

    fn min_step(&self, state: &State) -> u8 {
        *state.steps[..self.nodes()].iter().min().expect("nodes")
    }

    /// Rule 1: the receiver checks the sender's generation with its own
    /// router.
    fn accepts(&self, state: &State, node: usize, sender_step: u8) -> bool {
        let ours = &self.steps[state.steps[node] as usize];
        let peer = self.steps[sender_step as usize].generation;
        ours.routers[node].check_peer_generation(peer).is_ok()
    }

    /// Decides a write from its answers with the coordinator's own
    /// `WriteQuorum`: a copy of `write_quorum(0)` fed every first answer.
    fn decide(&self, coord: u8, step: u8, ok: u8, failed: u8) -> QuorumStatus {
        let mut quorum = self.steps[step as usize].quorums[coord as usize].clone();
        let mut status = quorum.status();
        for n in 0..self.nodes() {
            let ack = if ok & bit(n) != 0 {
                ReplicationAck::success(self.node_ids[n].as_str(), 1)
            } else if failed & bit(n) != 0 {
                ReplicationAck::failure(self.node_ids[n].as_str(), "not stored", 1)
            } else {
                continue;
            };
            status = quorum
                .record(ack)
                .expect("a write only hears from the copies it was sent to");
        }
        status
    }

    /// The writes acknowledged in `state`, as bits.
    pub fn acked(state: &State) -> u8 {
        state
            .writes
            .iter()
            .enumerate()
            .filter(|(_, w)| matches!(w, WriteState::Acked))
            .fold(0, |bits, (i, _)| bits | (1 << i))
    }

    /// Fails every request `node` coordinates, and forgets their replies:
    /// rule 2 when it moves generation, and a crash.
    fn fail_coordinated(state: &mut State, node: u8) {
        for (i, write) in state.writes.iter_mut().enumerate() {
            if matches!(write, WriteState::Pending { coord, .. } if *coord == node) {
                *write = WriteState::Failed;
                state
                    .net
                    .retain(|m| !matches!(m, Msg::WriteReply { w, .. } if *w as usize == i));
            }
        }
        if matches!(state.read, ReadState::Pending { coord, .. } if coord == node) {
            state.read = ReadState::Idle;
            state
                .net
                .retain(|m| !matches!(m, Msg::Read { .. } | Msg::ReadReply { .. }));
        }
    }

    /// Node `to` receives write `w` sent under `step`: rule 1, then rule 3,
    /// then the store. Returns its answer.
    fn receive_write(&self, state: &mut State, w: u8, to: u8, step: u8) -> Answer {
        let node = to as usize;
        if !self.accepts(state, node, step) {
            Answer::Refused
        } else if self.steps[state.steps[node] as usize].holds & bit(node) != 0 {
            state.stores[node] |= 1 << w;
            Answer::Stored
        } else {
            Answer::NotHeld
        }
    }

    /// Whether write `w`'s coordinator still waits for node `from`'s first
    /// answer.
    fn awaits_answer(state: &State, w: u8, from: u8) -> bool {
        matches!(state.writes[w as usize], WriteState::Pending { ok, failed, .. } if (ok | failed) & bit(from as usize) == 0)
    }

    /// The coordinator counts node `from`'s first answer to write `w` and
    /// decides with the layer's write rule.
    fn count_write_answer(&self, state: &mut State, w: u8, from: u8, answer: Answer) {
        let WriteState::Pending {
            coord,
            step,
            mut ok,
            mut failed,
        } = state.writes[w as usize]
        else {
            return;
        };
        if answer == Answer::Stored {
            ok |= bit(from as usize);
        } else {
            failed |= bit(from as usize);
        }
        // The copy's first answer is the one that counts; its other answers
        // can no longer change anything.
        state.net.retain(
            |m| !matches!(m, Msg::WriteReply { w: x, from: f, .. } if *x == w && *f == from),
        );
        state.writes[w as usize] = match self.decide(coord, step, ok, failed) {
            QuorumStatus::Reached => WriteState::Acked,
            QuorumStatus::Failed => WriteState::Failed,
            _ => WriteState::Pending {
                coord,
                step,
                ok,
                failed,
            },
        };
        if !matches!(state.writes[w as usize], WriteState::Pending { .. }) {
            state
                .net
                .retain(|m| !matches!(m, Msg::WriteReply { w: x, .. } if *x == w));
        }
    }

    /// Node `to` receives the read sent under `step`: its copy's data, or
    /// `None` when it refuses the generation, does not hold the copy, or
    /// its answer would not count (it answered already, or the read is
    /// over).
    fn receive_read(&self, state: &State, to: u8, step: u8) -> Option<u8> {
        let node = to as usize;
        (Self::read_awaits(state, to)
            && self.accepts(state, node, step)
            && self.steps[state.steps[node] as usize].holds & bit(node) != 0)
            .then_some(state.stores[node])
    }

    fn read_awaits(state: &State, from: u8) -> bool {
        matches!(state.read, ReadState::Pending { answered, .. } if answered & bit(from as usize) == 0)
    }

    /// The read's coordinator counts node `from`'s data; with as many
    /// copies as the read plan needs, the read is done.
    fn count_read_answer(&self, state: &mut State, from: u8, data: u8) {
        let ReadState::Pending {
            coord,
            step,
            must_see,
            answered,
            seen,
        } = state.read
        else {
            return;
        };
        let answered = answered | bit(from as usize);
        let seen = seen | data;
        state
            .net
            .retain(|m| !matches!(m, Msg::ReadReply { from: f, .. } if *f == from));
        let (_, needed) =
            self.steps[step as usize].reads[coord as usize].expect("a pending read has a plan");
        if ones(answered) >= needed {
            // A read that returned every write it must see is over, and the
            // next read may start: reads change no store, so the states
            // after it are those before it. Only a read that missed one is
            // kept, for the checker to report.
            if must_see & !seen != 0 {
                state.read = ReadState::Done { must_see, seen };
            } else {
                if must_see == (1 << self.bounds.writes) - 1 {
                    state.read_saw_all = true;
                }
                state.read = ReadState::Idle;
            }
            state
                .net
                .retain(|m| !matches!(m, Msg::Read { .. } | Msg::ReadReply { .. }));
        } else {
            state.read = ReadState::Pending {
                coord,
                step,
                must_see,
                answered,
                seen,
            };
        }
    }

    fn send(state: &mut State, msg: Msg) {
        if let Err(at) = state.net.binary_search(&msg) {
            state.net.insert(at, msg);
        }
    }

    /// Formats a path of steps as numbered lines, node names and write
    /// numbers spelled out: what the docs show.
    pub fn format_path(&self, actions: &[Action]) -> String {
        let mut out = String::new();
        for (i, action) in actions.iter().enumerate() {
            let _ = writeln!(out, "{:>2}. {}", i + 1, self.format_step_action(action));
        }
        out
    }

    fn format_step_action(&self, action: &Action) -> String {
        let id = |n: u8| self.node_ids[n as usize].as_str();
        let generation = |s: u8| self.steps[s as usize].generation;
        match *action {
            Action::Write { w, at } => format!("client sends write w{w} to {}", id(at)),
            Action::Read { at } => format!("client starts a Quorum read at {}", id(at)),
            Action::Deliver(msg) | Action::Drop(msg) => {
                let verb = if matches!(action, Action::Drop(_)) {
                    "network drops"
                } else {
                    "deliver"
                };
                match msg {
                    Msg::Write { w, to, step } => {
                        format!(
                            "{verb} w{w} (generation {}) to {}",
                            generation(step),
                            id(to)
                        )
                    }
                    Msg::WriteReply { w, from, answer } => {
                        format!("{verb} {}'s answer to w{w}: {answer:?}", id(from))
                    }
                    Msg::Read { to, step } => {
                        format!(
                            "{verb} the read (generation {}) to {}",
                            generation(step),
                            id(to)
                        )
                    }
                    Msg::ReadReply { from, data } => {
                        format!("{verb} {}'s read answer: {}", id(from), writes(data))
                    }
                }
            }
            Action::WriteAt { w, to } => {
                format!("{} receives w{w}", id(to))
            }
            Action::ReadAt { to } => format!("{} answers the read", id(to)),
            Action::Upgrade { node } => format!("{} moves to the next generation", id(node)),
            Action::CatchUp { target, source } if source == ALL_SOURCES => {
                let sources: Vec<&str> = (0..self.nodes())
                    .filter(|&n| self.catch_up_sources[target as usize] & bit(n) != 0)
                    .map(|n| self.node_ids[n].as_str())
                    .collect();
                format!("{} catches up from {}", id(target), sources.join(" and "))
            }
            Action::CatchUp { target, source } => {
                format!("{} catches up from {}", id(target), id(source))
            }
            Action::Crash { node } => format!("{} crashes (keeps its disk)", id(node)),
            Action::Restart { node } => format!("{} restarts", id(node)),
        }
    }

    /// What happened at each step, with the state it led to, for a path
    /// of actions from the initial state: the counterexample as the docs
    /// print it.
    pub fn explain(&self, actions: &[Action]) -> String {
        let mut state = self.init_states().remove(0);
        let mut out = String::new();
        for (i, action) in actions.iter().enumerate() {
            let next = self
                .next_state(&state, *action)
                .expect("a path's steps change the state");
            let mut what = self.format_step_action(action);
            if let Action::WriteAt { w, to } = *action {
                if let WriteState::Pending { step, .. } = state.writes[w as usize] {
                    let answer = self.receive_write(&mut state.clone(), w, to, step);
                    let _ = write!(
                        what,
                        " (generation {}): {answer:?}",
                        self.steps[step as usize].generation
                    );
                }
            }
            let _ = writeln!(out, "{:>2}. {:<52} {}", i + 1, what, self.summary(&next));
            state = next;
        }
        out
    }

    fn summary(&self, state: &State) -> String {
        let nodes: Vec<String> = (0..self.nodes())
            .map(|n| {
                let mark = if state.down == Some(n as u8) { "!" } else { "" };
                format!(
                    "{}{mark}:g{}{}",
                    self.node_ids[n],
                    self.steps[state.steps[n] as usize].generation,
                    writes(state.stores[n])
                )
            })
            .collect();
        let ws: Vec<String> = state
            .writes
            .iter()
            .take(self.bounds.writes)
            .enumerate()
            .map(|(i, w)| match w {
                WriteState::Idle => format!("w{i} -"),
                WriteState::Pending { .. } => format!("w{i} pending"),
                WriteState::Acked => format!("w{i} ACKED"),
                WriteState::Failed => format!("w{i} failed"),
            })
            .collect();
        let read = match state.read {
            ReadState::Idle => String::new(),
            ReadState::Pending { seen, .. } => format!(", read so far {}", writes(seen)),
            ReadState::Done { must_see, seen } => {
                format!(
                    ", read returned {} (must see {})",
                    writes(seen),
                    writes(must_see)
                )
            }
        };
        format!("[{}] {}{read}", nodes.join(" "), ws.join(", "))
    }
}

/// Write ids as `{w0,w1}`.
fn writes(bits: u8) -> String {
    let ids: Vec<String> = (0..8)
        .filter(|i| bits & (1 << i) != 0)
        .map(|i| format!("w{i}"))
        .collect();
    format!("{{{}}}", ids.join(","))
}

impl Model for TransitionModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![State {
            steps: [0; MAX_NODES],
            stores: [0; MAX_NODES],
            merged: [0; MAX_NODES],
            down: None,
            crashed: false,
            writes: [WriteState::Idle; MAX_WRITES],
            read: ReadState::Idle,
            read_saw_all: false,
            net: Vec::new(),
        }]
    }

    fn actions(&self, state: &State, actions: &mut Vec<Action>) {
        let nodes = self.nodes();
        // Writes are issued in order: the writes are interchangeable, so
        // this loses no behaviour and halves the states.
        if let Some(w) = state.writes[..self.bounds.writes]
            .iter()
            .position(|w| *w == WriteState::Idle)
        {
            for at in 0..nodes {
                if Self::is_up(state, at) {
                    actions.push(Action::Write {
                        w: w as u8,
                        at: at as u8,
                    });
                }
            }
        }
        // A read that must see no write cannot miss one.
        if state.read == ReadState::Idle && Self::acked(state) != 0 {
            for at in 0..nodes {
                if Self::is_up(state, at) {
                    actions.push(Action::Read { at: at as u8 });
                }
            }
        }
        for &msg in &state.net {
            let to = match msg {
                Msg::Write { to, .. } | Msg::Read { to, .. } => Some(to),
                Msg::WriteReply { .. } | Msg::ReadReply { .. } => None,
            };
            // A stopped node receives nothing; its messages wait (or are lost).
            if to.is_none_or(|to| Self::is_up(state, to as usize)) {
                actions.push(Action::Deliver(msg));
            }
            actions.push(Action::Drop(msg));
        }
        if self.bounds.network == Network::Reduced {
            for (w, write) in state.writes.iter().enumerate() {
                if let WriteState::Pending { coord, step, .. } = *write {
                    let targets = self.steps[step as usize].write_targets[coord as usize];
                    for to in 0..nodes {
                        if targets & bit(to) != 0
                            && Self::is_up(state, to)
                            && Self::awaits_answer(state, w as u8, to as u8)
                        {
                            actions.push(Action::WriteAt {
                                w: w as u8,
                                to: to as u8,
                            });
                        }
                    }
                }
            }
            if let ReadState::Pending { coord, step, .. } = state.read {
                let (copies, _) = self.steps[step as usize].reads[coord as usize]
                    .expect("a pending read has a plan");
                for to in 0..nodes {
                    if copies & bit(to) != 0
                        && Self::is_up(state, to)
                        && self.receive_read(state, to as u8, step).is_some()
                    {
                        actions.push(Action::ReadAt { to: to as u8 });
                    }
                }
            }
        }
        let min = self.min_step(state);
        for node in 0..nodes {
            let step = state.steps[node];
            // The operator deploys step s + 1 only once every node runs s;
            // a node never skips a step.
            let next = step as usize + 1;
            if Self::is_up(state, node)
                && step == min
                && next < self.steps.len()
                && (self.catch_up_gate != Some(next) || self.catch_up_done(state))
            {
                actions.push(Action::Upgrade { node: node as u8 });
            }
        }
        if min as usize >= self.catch_up_start {
            for target in 0..nodes {
                let sources = self.catch_up_sources[target] & !state.merged[target];
                if sources == 0 || !Self::is_up(state, target) {
                    continue;
                }
                if !self.bounds.crash {
                    // All sources at once: see `ALL_SOURCES`.
                    actions.push(Action::CatchUp {
                        target: target as u8,
                        source: ALL_SOURCES,
                    });
                    continue;
                }
                for source in 0..nodes {
                    if sources & bit(source) != 0 && Self::is_up(state, source) {
                        actions.push(Action::CatchUp {
                            target: target as u8,
                            source: source as u8,
                        });
                    }
                }
            }
        }
        if self.bounds.crash && !state.crashed {
            for node in 0..nodes {
                actions.push(Action::Crash { node: node as u8 });
            }
        }
        if let Some(node) = state.down {
            actions.push(Action::Restart { node });
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Write { w, at } => {
                let step = state.steps[at as usize];
                let rules = &self.steps[step as usize];
                state.writes[w as usize] = match rules.quorums[at as usize].status() {
                    QuorumStatus::Failed => WriteState::Failed,
                    QuorumStatus::Reached => WriteState::Acked,
                    _ => {
                        for to in 0..self.nodes() {
                            if self.bounds.network == Network::Explicit
                                && rules.write_targets[at as usize] & bit(to) != 0
                            {
                                Self::send(
                                    &mut state,
                                    Msg::Write {
                                        w,
                                        to: to as u8,
                                        step,
                                    },
                                );
                            }
                        }
                        WriteState::Pending {
                            coord: at,
                            step,
                            ok: 0,
                            failed: 0,
                        }
                    }
                };
            }
            Action::Read { at } => {
                let step = state.steps[at as usize];
                match self.steps[step as usize].reads[at as usize] {
                    None => return None,
                    Some((copies, _)) => {
                        state.read = ReadState::Pending {
                            coord: at,
                            step,
                            must_see: Self::acked(&state),
                            answered: 0,
                            seen: 0,
                        };
                        for to in 0..self.nodes() {
                            if self.bounds.network == Network::Explicit && copies & bit(to) != 0 {
                                Self::send(&mut state, Msg::Read { to: to as u8, step });
                            }
                        }
                    }
                }
            }
            Action::Deliver(msg) => match msg {
                Msg::Write { w, to, step } => {
                    let answer = self.receive_write(&mut state, w, to, step);
                    // An answer nobody waits for (the write is decided, or
                    // this copy answered already) changes nothing: not sent.
                    if Self::awaits_answer(&state, w, to) {
                        Self::send(
                            &mut state,
                            Msg::WriteReply {
                                w,
                                from: to,
                                answer,
                            },
                        );
                    }
                }
                Msg::WriteReply { w, from, answer } => {
                    if !Self::awaits_answer(&state, w, from) {
                        return None;
                    }
                    self.count_write_answer(&mut state, w, from, answer);
                }
                Msg::Read { to, step } => {
                    if let Some(data) = self.receive_read(&state, to, step) {
                        Self::send(&mut state, Msg::ReadReply { from: to, data });
                    }
                }
                Msg::ReadReply { from, data } => {
                    if !Self::read_awaits(&state, from) {
                        return None;
                    }
                    self.count_read_answer(&mut state, from, data);
                }
            },
            Action::WriteAt { w, to } => {
                let WriteState::Pending { step, .. } = state.writes[w as usize] else {
                    return None;
                };
                let answer = self.receive_write(&mut state, w, to, step);
                self.count_write_answer(&mut state, w, to, answer);
            }
            Action::ReadAt { to } => {
                let ReadState::Pending { step, .. } = state.read else {
                    return None;
                };
                let data = self.receive_read(&state, to, step)?;
                self.count_read_answer(&mut state, to, data);
            }
            Action::Drop(msg) => state.net.retain(|m| *m != msg),
            Action::Upgrade { node } => {
                let n = node as usize;
                let from = state.steps[n] as usize;
                state.steps[n] += 1;
                // A copy the new generation no longer lists is deleted.
                if self.steps[from].holds & bit(n) != 0 && self.steps[from + 1].holds & bit(n) == 0
                {
                    state.stores[n] = 0;
                }
                Self::fail_coordinated(&mut state, node);
            }
            Action::CatchUp { target, source } => {
                let t = target as usize;
                let sources = if source == ALL_SOURCES {
                    self.catch_up_sources[t] & !state.merged[t]
                } else {
                    bit(source as usize)
                };
                for s in (0..self.nodes()).filter(|&s| sources & bit(s) != 0) {
                    state.stores[t] |= state.stores[s];
                }
                state.merged[t] |= sources;
            }
            Action::Crash { node } => {
                state.down = Some(node);
                state.crashed = true;
                Self::fail_coordinated(&mut state, node);
            }
            Action::Restart { .. } => state.down = None,
        }
        (state != *last).then_some(state)
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut properties = vec![
            Property::always(
                "a Quorum read returns every write acknowledged before it began",
                |_, state: &State| !matches!(state.read, ReadState::Done { must_see, seen } if must_see & !seen != 0),
            ),
            Property::always(
                "once the plan completes, every acknowledged write is on the required final copies",
                |model: &TransitionModel, state: &State| {
                    !model.plan_complete(state)
                        || (0..model.bounds.writes).all(|w| {
                            !matches!(state.writes[w], WriteState::Acked)
                                || (0..model.nodes())
                                    .filter(|&n| {
                                        model.final_copies & bit(n) != 0
                                            && state.stores[n] & (1 << w) != 0
                                    })
                                    .count()
                                    >= model.final_required
                        })
                },
            ),
            Property::sometimes(
                "a Quorum read sees every write, all acknowledged before it began",
                |_, state: &State| state.read_saw_all,
            ),
            Property::sometimes(
                "the plan completes with every write acknowledged",
                |model: &TransitionModel, state: &State| {
                    model.plan_complete(state)
                        && state.writes[..model.bounds.writes]
                            .iter()
                            .all(|w| matches!(w, WriteState::Acked))
                },
            ),
        ];
        if self.bounds.crash {
            properties.push(Property::sometimes(
                "the plan completes with every write acknowledged, after a crash",
                |model: &TransitionModel, state: &State| {
                    state.crashed
                        && model.plan_complete(state)
                        && state.writes[..model.bounds.writes]
                            .iter()
                            .all(|w| matches!(w, WriteState::Acked))
                },
            ));
        }
        properties
    }
}
