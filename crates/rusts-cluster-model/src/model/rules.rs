//! The engine's rules of issue 13 as nodes and coordinators apply them,
//! shared by both networks, each the protocol core's answer. Rules 1 and
//! 3: a receiver admits a request by its core's `admit_write` or
//! `admit_read`: refused for a generation more than one away, "not held"
//! for a copy neither its generation nor its kept copies (for a sender one
//! generation behind) hold. Rule 2 (fencing): a coordinator's undecided
//! requests fail when it moves generation, as its core's `commit` fails
//! them (and when it crashes). Writes are decided by the coordinator's
//! core, reads by its `Quorum` read plan.

use super::{
    bit,
    generation::Decision,
    network::{Answer, Msg},
    ones,
    state::{ReadState, State, WriteState},
    TransitionModel,
};

impl TransitionModel {
    /// Fails every request `node` coordinates, and forgets their replies:
    /// rule 2 when it moves generation, and a crash.
    pub(super) fn fail_coordinated(state: &mut State, node: u8) {
        Self::fail_writes(state, node);
        Self::fail_read(state, node);
    }

    /// Fails every write `node` coordinates, and forgets their replies.
    pub(super) fn fail_writes(state: &mut State, node: u8) {
        for w in 0..state.writes.len() {
            if matches!(state.writes[w], WriteState::Pending { coord, .. } if coord == node) {
                state.writes[w] = WriteState::Failed;
                state.forget_write_replies(w as u8);
            }
        }
    }

    /// Fails the read if `node` coordinates it.
    pub(super) fn fail_read(state: &mut State, node: u8) {
        if matches!(state.read, ReadState::Pending { coord, .. } if coord == node) {
            state.read = ReadState::Idle;
            state.forget_read();
        }
    }

    /// Node `to` receives write `w` sent under `step`: its core's
    /// admission (rules 1 and 3, kept copies), then the store. Returns its
    /// answer.
    pub(super) fn receive_write(&self, state: &mut State, w: u8, to: u8, step: u8) -> Answer {
        let node = to as usize;
        let answer = self.steps[state.steps[node] as usize].write_answers[node][step as usize];
        if answer == Answer::Stored {
            state.stores[node] |= bit(w as usize);
        }
        answer
    }

    /// The coordinator counts node `from`'s first answer to write `w` and
    /// decides with the layer's write rule.
    pub(super) fn count_write_answer(&self, state: &mut State, w: u8, from: u8, answer: Answer) {
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
        state.forget(
            |m| matches!(m, Msg::WriteReply { w: x, from: f, .. } if *x == w && *f == from),
        );
        state.writes[w as usize] =
            match self.steps[step as usize].decisions[coord as usize].get(ok, failed) {
                Decision::Acked => WriteState::Acked,
                Decision::Failed => WriteState::Failed,
                Decision::Pending => WriteState::Pending {
                    coord,
                    step,
                    ok,
                    failed,
                },
            };
        if !matches!(state.writes[w as usize], WriteState::Pending { .. }) {
            state.forget_write_replies(w);
        }
    }

    /// Node `to` receives the read sent under `step`: its copy's data, or
    /// `None` when its core does not admit the read (rules 1 and 3), or
    /// its answer would not count (it answered already, or the read is
    /// over).
    pub(super) fn receive_read(&self, state: &State, to: u8, step: u8) -> Option<u8> {
        let node = to as usize;
        let serves = self.steps[state.steps[node] as usize].serves_read[node][step as usize];
        (state.read_awaits(to) && serves).then_some(state.stores[node])
    }

    /// The read's coordinator counts node `from`'s data; with as many
    /// copies as the read plan needs, the read is done.
    pub(super) fn count_read_answer(&self, state: &mut State, from: u8, data: u8) {
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
        state.forget(|m| matches!(m, Msg::ReadReply { from: f, .. } if *f == from));
        let (_, needed) =
            self.steps[step as usize].reads[coord as usize].expect("a pending read has a plan");
        if ones(answered) < needed {
            state.read = ReadState::Pending {
                coord,
                step,
                must_see,
                answered,
                seen,
            };
            return;
        }
        // A read that returned every write it must see is over, and the
        // next read may start: reads change no store, so the states after
        // it are those before it. Only a read that missed one is kept, for
        // the checker to report.
        if must_see & !seen != 0 {
            state.read = ReadState::Done { must_see, seen };
        } else {
            if must_see == (1 << self.bounds.writes) - 1 {
                state.read_saw_all = true;
            }
            state.read = ReadState::Idle;
        }
        state.forget_read();
    }
}
