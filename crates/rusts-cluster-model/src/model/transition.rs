//! The transition function: each action's effect, in its own function.
//! An effect that returns `None` is not taken (the action changes nothing
//! a coordinator waits for); one that leaves the state as it was is not a
//! step either.

use super::{
    actions::{Action, ALL_SOURCES},
    bit,
    generation::Decision,
    network,
    network::{Msg, Network},
    state::{ReadState, State, WriteState},
    TransitionModel,
};

impl TransitionModel {
    /// The state `action` leads to from `last`, or `None` when it is not a
    /// step.
    pub(super) fn successor(&self, last: &State, action: Action) -> Option<State> {
        let mut state = last.clone();
        match action {
            Action::Write { w, at } => self.start_write(&mut state, w, at),
            Action::Read { at } => self.start_read(&mut state, at)?,
            Action::Deliver(msg) => self.deliver(&mut state, msg)?,
            Action::Drop(msg) => network::drop_message(&mut state, msg),
            Action::WriteAt { w, to } => self.write_at(&mut state, w, to)?,
            Action::ReadAt { to } => self.read_at(&mut state, to)?,
            Action::Upgrade { node } => self.upgrade(&mut state, node),
            Action::CatchUp { target, source } => self.catch_up(&mut state, target, source),
            Action::Crash { node } => crash(&mut state, node),
            Action::Restart { .. } => state.down = None,
        }
        (state != *last).then_some(state)
    }

    /// A client sends write `w` to coordinator `at`, which decides at once
    /// when its write rule needs no answer (or can never be met), and
    /// otherwise sends the write to the shard's copies.
    fn start_write(&self, state: &mut State, w: u8, at: u8) {
        let step = state.steps[at as usize];
        let rules = &self.steps[step as usize];
        state.writes[w as usize] = match rules.initial[at as usize] {
            Decision::Failed => WriteState::Failed,
            Decision::Acked => WriteState::Acked,
            Decision::Pending => {
                if self.bounds.network == Network::Explicit {
                    let targets = rules.write_targets[at as usize];
                    for to in (0..self.nodes()).filter(|&to| targets & bit(to) != 0) {
                        state.send(Msg::Write {
                            w,
                            to: to as u8,
                            step,
                        });
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

    /// A client starts the read at coordinator `at`, which asks every copy
    /// its `Quorum` read plan may read; `None` when the plan cannot read
    /// the shard.
    fn start_read(&self, state: &mut State, at: u8) -> Option<()> {
        let step = state.steps[at as usize];
        let (copies, _) = self.steps[step as usize].reads[at as usize]?;
        state.read = ReadState::Pending {
            coord: at,
            step,
            must_see: TransitionModel::acked(state),
            answered: 0,
            seen: 0,
        };
        if self.bounds.network == Network::Explicit {
            for to in (0..self.nodes()).filter(|&to| copies & bit(to) != 0) {
                state.send(Msg::Read { to: to as u8, step });
            }
        }
        Some(())
    }

    /// Reduced network: node `to` receives write `w` and its first answer
    /// reaches the coordinator.
    fn write_at(&self, state: &mut State, w: u8, to: u8) -> Option<()> {
        let WriteState::Pending { step, .. } = state.writes[w as usize] else {
            return None;
        };
        let answer = self.receive_write(state, w, to, step);
        self.count_write_answer(state, w, to, answer);
        Some(())
    }

    /// Reduced network: node `to` receives the read and its answer reaches
    /// the coordinator.
    fn read_at(&self, state: &mut State, to: u8) -> Option<()> {
        let ReadState::Pending { step, .. } = state.read else {
            return None;
        };
        let data = self.receive_read(state, to, step)?;
        self.count_read_answer(state, to, data);
        Some(())
    }

    /// `node` moves to the next step: it deletes a copy its core neither
    /// holds nor keeps any longer, and (rule 2, fencing) fails what it
    /// coordinates. Without fencing ([`Bounds::fencing`](super::Bounds))
    /// its pending writes stay pending, decided under their own step.
    fn upgrade(&self, state: &mut State, node: u8) {
        let n = node as usize;
        let from = state.steps[n] as usize;
        state.steps[n] += 1;
        let has = |step: usize| (self.steps[step].holds | self.steps[step].keeps) & bit(n) != 0;
        if has(from) && !has(from + 1) {
            state.stores[n] = 0;
        }
        if self.bounds.fencing {
            Self::fail_writes(state, node);
        }
        Self::fail_read(state, node);
        // The runbook stops a removed node before any node runs two steps
        // past the last that lists it (decision 0035); what it coordinated
        // fails, its disk stays.
        for stopped in self.stopped_at(state, self.position(state.steps[n])) {
            state.down = Some(stopped as u8);
            Self::fail_coordinated(state, stopped as u8);
        }
    }

    /// Catch-up target `target` merges the copy of `source`, or of all its
    /// sources left ([`ALL_SOURCES`]).
    fn catch_up(&self, state: &mut State, target: u8, source: u8) {
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
}

/// `node` stops, keeping its disk and its generation; what it coordinated
/// fails.
fn crash(state: &mut State, node: u8) {
    state.down = Some(node);
    state.crashed = true;
    TransitionModel::fail_coordinated(state, node);
}
