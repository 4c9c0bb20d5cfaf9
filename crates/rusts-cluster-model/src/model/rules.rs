//! The engine's rules of issue 13 as nodes and coordinators apply them,
//! shared by both networks. Rule 1: a receiver refuses a sender's
//! generation when its router's `check_peer_generation` does. Rule 2: a
//! coordinator's undecided requests fail when it moves generation (or
//! crashes). Rule 3: a node its generation does not list as a copy answers
//! "not held". Writes are decided by the coordinator's `WriteQuorum`, reads
//! by its `Quorum` read plan.

use rusts_cluster_replication::QuorumStatus;

use super::{
    bit,
    network::{Answer, Msg},
    ones,
    state::{ReadState, State, WriteState},
    TransitionModel,
};

impl TransitionModel {
    /// Rule 1: the receiver checks the sender's generation with its own
    /// router, asked before the search (`Step::accepts`).
    fn accepts(&self, state: &State, node: usize, sender_step: u8) -> bool {
        self.steps[state.steps[node] as usize].accepts[node][sender_step as usize]
    }

    /// Rule 3: whether `node`'s own generation lists it as a copy.
    fn holds(&self, state: &State, node: usize) -> bool {
        self.steps[state.steps[node] as usize].holds & bit(node) != 0
    }

    /// Fails every request `node` coordinates, and forgets their replies:
    /// rule 2 when it moves generation, and a crash.
    pub(super) fn fail_coordinated(state: &mut State, node: u8) {
        for w in 0..state.writes.len() {
            if matches!(state.writes[w], WriteState::Pending { coord, .. } if coord == node) {
                state.writes[w] = WriteState::Failed;
                state.forget_write_replies(w as u8);
            }
        }
        if matches!(state.read, ReadState::Pending { coord, .. } if coord == node) {
            state.read = ReadState::Idle;
            state.forget_read();
        }
    }

    /// Node `to` receives write `w` sent under `step`: rule 1, then rule 3,
    /// then the store. Returns its answer.
    pub(super) fn receive_write(&self, state: &mut State, w: u8, to: u8, step: u8) -> Answer {
        let node = to as usize;
        if !self.accepts(state, node, step) {
            Answer::Refused
        } else if self.holds(state, node) {
            state.stores[node] |= bit(w as usize);
            Answer::Stored
        } else {
            Answer::NotHeld
        }
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
            state.forget_write_replies(w);
        }
    }

    /// Node `to` receives the read sent under `step`: its copy's data, or
    /// `None` when it refuses the generation, does not hold the copy, or
    /// its answer would not count (it answered already, or the read is
    /// over).
    pub(super) fn receive_read(&self, state: &State, to: u8, step: u8) -> Option<u8> {
        let node = to as usize;
        (state.read_awaits(to) && self.accepts(state, node, step) && self.holds(state, node))
            .then_some(state.stores[node])
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
