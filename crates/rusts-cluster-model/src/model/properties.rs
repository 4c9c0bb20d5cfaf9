//! What the checker checks: two invariants (`always`), and the runs that
//! show the check is not vacuous (`sometimes`). The tests match on these
//! names.

use stateright::Property;

use super::{
    bit,
    state::{ReadState, State, WriteState},
    Bounds, TransitionModel,
};

/// The properties of a model with `bounds`: the crash example only where a
/// node may crash.
pub(super) fn all(bounds: Bounds) -> Vec<Property<TransitionModel>> {
    let mut properties = vec![
        Property::always(
            "a Quorum read returns every write acknowledged before it began",
            read_returns_every_acknowledged_write,
        ),
        Property::always(
            "once the plan completes, every acknowledged write is on the required final copies",
            acknowledged_writes_are_on_the_final_copies,
        ),
        Property::sometimes(
            "a Quorum read sees every write, all acknowledged before it began",
            |_, state: &State| state.read_saw_all,
        ),
        Property::sometimes(
            "the plan completes with every write acknowledged",
            completes_with_every_write_acknowledged,
        ),
    ];
    if bounds.crash {
        properties.push(Property::sometimes(
            "the plan completes with every write acknowledged, after a crash",
            |model: &TransitionModel, state: &State| {
                state.crashed && completes_with_every_write_acknowledged(model, state)
            },
        ));
    }
    properties
}

fn read_returns_every_acknowledged_write(_: &TransitionModel, state: &State) -> bool {
    !matches!(state.read, ReadState::Done { must_see, seen } if must_see & !seen != 0)
}

fn acknowledged_writes_are_on_the_final_copies(model: &TransitionModel, state: &State) -> bool {
    !model.plan_complete(state)
        || (0..model.bounds.writes).all(|w| {
            !matches!(state.writes[w], WriteState::Acked)
                || final_copies_holding(model, state, w) >= model.final_required
        })
}

/// How many of B's copies hold write `w`.
fn final_copies_holding(model: &TransitionModel, state: &State, w: usize) -> usize {
    (0..model.nodes())
        .filter(|&n| model.final_copies & bit(n) != 0 && state.stores[n] & bit(w) != 0)
        .count()
}

fn completes_with_every_write_acknowledged(model: &TransitionModel, state: &State) -> bool {
    model.plan_complete(state) && state.all_acked(model.bounds.writes)
}
