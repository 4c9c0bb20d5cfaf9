//! The model's actions, and which ones a state enables. The order in which
//! they are listed is the order the checker tries them, so it decides which
//! of the shortest counterexamples a breadth-first search reports.

use super::Identity;
use super::{
    bit,
    network::Msg,
    state::{ReadState, State, WriteState},
    Network, TransitionModel,
};

/// `Action::CatchUp`'s source when a target merges all its sources in one
/// step. Without a crash every node is up, and merging the sources one by
/// one only gives the target more data than merging them all at the
/// first of those moments (stores only grow before the last step), and
/// more data never breaks an invariant; so one step finds every violation
/// that several would. With a crash a source may be down at that moment,
/// and the sources are merged one by one.
pub const ALL_SOURCES: u8 = u8::MAX;

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

impl TransitionModel {
    /// Every action `state` enables: the clients', the network's, the
    /// operator's, the catch-up's and the crash's, in that order.
    pub(super) fn enabled_actions(&self, state: &State, actions: &mut Vec<Action>) {
        self.client_writes(state, actions);
        self.client_reads(state, actions);
        explicit_deliveries(state, actions);
        if self.bounds.network == Network::Reduced {
            self.reduced_write_deliveries(state, actions);
            self.reduced_read_deliveries(state, actions);
        }
        self.upgrades(state, actions);
        self.catch_ups(state, actions);
        self.crashes(state, actions);
    }

    /// The up nodes, as indices.
    fn up_nodes<'a>(&self, state: &'a State) -> impl Iterator<Item = usize> + 'a {
        (0..self.nodes()).filter(|&n| state.is_up(n))
    }

    /// The next write, at any up coordinator. Writes are issued in order:
    /// the writes are interchangeable, so this loses no behaviour and
    /// halves the states.
    fn client_writes(&self, state: &State, actions: &mut Vec<Action>) {
        let Some(w) = state.writes[..self.bounds.writes]
            .iter()
            .position(|w| *w == WriteState::Idle)
        else {
            return;
        };
        actions.extend(self.up_nodes(state).map(|at| Action::Write {
            w: w as u8,
            at: at as u8,
        }));
    }

    /// The read, at any up coordinator, once a write is acknowledged: a
    /// read that must see no write cannot miss one.
    fn client_reads(&self, state: &State, actions: &mut Vec<Action>) {
        if state.read == ReadState::Idle && TransitionModel::acked(state) != 0 {
            actions.extend(self.up_nodes(state).map(|at| Action::Read { at: at as u8 }));
        }
    }

    /// Reduced network: every copy a pending write was sent to that is up
    /// and whose first answer the coordinator still waits for.
    fn reduced_write_deliveries(&self, state: &State, actions: &mut Vec<Action>) {
        for (w, write) in state.writes.iter().enumerate() {
            let WriteState::Pending { coord, step, .. } = *write else {
                continue;
            };
            let targets = self.steps[step as usize].write_targets[coord as usize];
            for to in self.up_nodes(state) {
                if targets & bit(to) != 0 && state.write_awaits(w as u8, to as u8) {
                    actions.push(Action::WriteAt {
                        w: w as u8,
                        to: to as u8,
                    });
                }
            }
        }
    }

    /// Reduced network: every copy the pending read may ask that is up and
    /// would answer with data that counts.
    fn reduced_read_deliveries(&self, state: &State, actions: &mut Vec<Action>) {
        let ReadState::Pending { coord, step, .. } = state.read else {
            return;
        };
        let (copies, _) =
            self.steps[step as usize].reads[coord as usize].expect("a pending read has a plan");
        for to in self.up_nodes(state) {
            if copies & bit(to) != 0 && self.receive_read(state, to as u8, step).is_some() {
                actions.push(Action::ReadAt { to: to as u8 });
            }
        }
    }

    /// The operator deploys step s + 1 only once every node runs s (or
    /// the last step that lists it), and a node never skips a step; the
    /// step that waits for catch-up waits until every target has caught
    /// up.
    fn upgrades(&self, state: &State, actions: &mut Vec<Action>) {
        let min = self.min_step(state);
        let next = min as usize + 1;
        if next >= self.plan_len || (self.catch_up_gate == Some(next) && !self.catch_up_done(state))
        {
            return;
        }
        for node in self.up_nodes(state) {
            if self.position(state.steps[node]) == min && !self.done(state, node) {
                actions.push(Action::Upgrade { node: node as u8 });
            }
        }
    }

    /// Once every node runs the catch-up's first step: each up target that
    /// has sources left merges them, all at once without a crash (see
    /// [`ALL_SOURCES`]), one up source at a time with one.
    fn catch_ups(&self, state: &State, actions: &mut Vec<Action>) {
        if (self.min_step(state) as usize) < self.catch_up_start {
            return;
        }
        for target in self.up_nodes(state) {
            let sources = self.catch_up_sources[target] & !state.merged[target];
            if sources == 0 || !self.hears_every_node(state, target) {
                continue;
            }
            if !self.bounds.crash {
                actions.push(Action::CatchUp {
                    target: target as u8,
                    source: ALL_SOURCES,
                });
                continue;
            }
            for source in self.up_nodes(state) {
                if sources & bit(source) != 0 {
                    actions.push(Action::CatchUp {
                        target: target as u8,
                        source: source as u8,
                    });
                }
            }
        }
    }

    /// Whether `target`'s core takes every node's header as one of its
    /// lineage (decision 0039): its catch-up waits for every node to
    /// report its generation, and a conflicting header does not count.
    /// Always, but where two plans meet under [`Identity::Checked`].
    fn hears_every_node(&self, state: &State, target: usize) -> bool {
        if self.identity == Identity::RequestsOnly {
            return true;
        }
        let hears = &self.steps[state.steps[target] as usize].hears[target];
        (0..self.nodes()).all(|n| hears[state.steps[n] as usize])
    }

    /// The one crash, of any node, while it has not happened; the restart
    /// of the node that crashed. (A removed node the operator stopped
    /// stays down; the model does not crash another beside it.)
    fn crashes(&self, state: &State, actions: &mut Vec<Action>) {
        if self.bounds.crash && !state.crashed {
            actions.extend((0..self.nodes()).map(|node| Action::Crash { node: node as u8 }));
        }
        if let (Some(node), true) = (state.down, state.crashed) {
            actions.push(Action::Restart { node });
        }
    }
}

/// Explicit network: every message in flight may be delivered (a request
/// only to a node that is up; a stopped node's requests wait, or are lost)
/// and may be dropped.
fn explicit_deliveries(state: &State, actions: &mut Vec<Action>) {
    for &msg in &state.net {
        if msg.receiver().is_none_or(|to| state.is_up(to as usize)) {
            actions.push(Action::Deliver(msg));
        }
        actions.push(Action::Drop(msg));
    }
}
