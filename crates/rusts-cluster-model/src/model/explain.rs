//! The counterexample printer: a path of actions as numbered lines, node
//! names and write numbers spelled out, with the state each step led to.
//! What the tests print and the docs quote.

use std::fmt::Write as _;

use stateright::Model;

use super::{
    actions::{Action, ALL_SOURCES},
    bit,
    network::Msg,
    state::{ReadState, State, WriteState},
    TransitionModel,
};

impl TransitionModel {
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
        let id = |n: u8| self.node_id(n);
        match *action {
            Action::Write { w, at } => format!("client sends write w{w} to {}", id(at)),
            Action::Read { at } => format!("client starts a Quorum read at {}", id(at)),
            Action::Deliver(msg) => self.format_msg("deliver", msg),
            Action::Drop(msg) => self.format_msg("network drops", msg),
            Action::WriteAt { w, to } => format!("{} receives w{w}", id(to)),
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

    /// What the explicit network does with `msg`, `verb` first.
    fn format_msg(&self, verb: &str, msg: Msg) -> String {
        let id = |n: u8| self.node_id(n);
        let generation = |s: u8| self.steps[s as usize].generation;
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
            Msg::Read { to, step } => format!(
                "{verb} the read (generation {}) to {}",
                generation(step),
                id(to)
            ),
            Msg::ReadReply { from, data } => {
                format!("{verb} {}'s read answer: {}", id(from), writes(data))
            }
        }
    }

    fn node_id(&self, node: u8) -> &str {
        &self.node_ids[node as usize]
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
            if let (Action::Upgrade { .. }, Some(down)) = (action, next.down) {
                if state.down.is_none() {
                    let _ = write!(what, "; {} is stopped", self.node_id(down));
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
                // A step of the second of two plans: g2' for its g2.
                let plan = if self.on_second_plan(state.steps[n]) {
                    "'"
                } else {
                    ""
                };
                format!(
                    "{}{mark}:g{}{plan}{}",
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
