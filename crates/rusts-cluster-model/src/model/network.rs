//! The network: how it is modelled, the messages of the explicit network,
//! and what delivering or dropping one does.

use super::{state::State, TransitionModel};

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

impl Msg {
    /// The node a request goes to; `None` for an answer, which goes to a
    /// coordinator that is up (a stopped one has forgotten the request).
    pub(super) fn receiver(self) -> Option<u8> {
        match self {
            Msg::Write { to, .. } | Msg::Read { to, .. } => Some(to),
            Msg::WriteReply { .. } | Msg::ReadReply { .. } => None,
        }
    }
}

impl State {
    /// Puts `msg` in flight (once: the set already lets the network deliver
    /// it any number of times).
    pub(super) fn send(&mut self, msg: Msg) {
        if let Err(at) = self.net.binary_search(&msg) {
            self.net.insert(at, msg);
        }
    }

    /// Forgets every message `forget` matches: answers that can no longer
    /// count, and the requests of a decided or abandoned read.
    pub(super) fn forget(&mut self, forget: impl Fn(&Msg) -> bool) {
        self.net.retain(|m| !forget(m));
    }

    /// Forgets every answer to write `w`.
    pub(super) fn forget_write_replies(&mut self, w: u8) {
        self.forget(|m| matches!(m, Msg::WriteReply { w: x, .. } if *x == w));
    }

    /// Forgets the read's requests and answers.
    pub(super) fn forget_read(&mut self) {
        self.forget(|m| matches!(m, Msg::Read { .. } | Msg::ReadReply { .. }));
    }
}

impl TransitionModel {
    /// The explicit network delivers `msg` (it stays in flight: it may be
    /// delivered again). `None` when the delivery changes nothing a
    /// coordinator waits for.
    pub(super) fn deliver(&self, state: &mut State, msg: Msg) -> Option<()> {
        match msg {
            Msg::Write { w, to, step } => {
                let answer = self.receive_write(state, w, to, step);
                // An answer nobody waits for (the write is decided, or
                // this copy answered already) changes nothing: not sent.
                if state.write_awaits(w, to) {
                    state.send(Msg::WriteReply {
                        w,
                        from: to,
                        answer,
                    });
                }
            }
            Msg::WriteReply { w, from, answer } => {
                if !state.write_awaits(w, from) {
                    return None;
                }
                self.count_write_answer(state, w, from, answer);
            }
            Msg::Read { to, step } => {
                if let Some(data) = self.receive_read(state, to, step) {
                    state.send(Msg::ReadReply { from: to, data });
                }
            }
            Msg::ReadReply { from, data } => {
                if !state.read_awaits(from) {
                    return None;
                }
                self.count_read_answer(state, from, data);
            }
        }
        Some(())
    }
}

/// The network drops `msg`.
pub(super) fn drop_message(state: &mut State, msg: Msg) {
    state.forget(|m| *m == msg);
}
