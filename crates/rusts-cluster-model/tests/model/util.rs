//! What the model-check topics share: the property names, the required
//! transitions, and a checker that runs each distinct model once.

use std::{collections::BTreeSet, rc::Rc, time::Instant};

use rusts_cluster_model::{Action, Bounds, Procedure, Scenario, TransitionModel};
use rusts_cluster_replication::ReplicationMode;
use stateright::{Checker, Model};

pub(crate) const READ: &str = "a Quorum read returns every write acknowledged before it began";
pub(crate) const FINAL: &str =
    "once the plan completes, every acknowledged write is on the required final copies";
pub(crate) const READ_EXAMPLE: &str =
    "a Quorum read sees every write, all acknowledged before it began";
pub(crate) const PLAN_EXAMPLE: &str = "the plan completes with every write acknowledged";
pub(crate) const CRASH_EXAMPLE: &str =
    "the plan completes with every write acknowledged, after a crash";

/// The transitions the issue requires, per mode: (factor, nodes, A's
/// copies, B's copies), primary first.
pub(crate) fn required(mode: ReplicationMode) -> Vec<Scenario> {
    let cases: [(usize, usize, &[usize], &[usize]); 11] = [
        (1, 4, &[0], &[1]),                // move one copy
        (1, 4, &[0], &[0, 1]),             // add a copy
        (1, 4, &[0, 1], &[0]),             // remove a copy
        (2, 4, &[0, 1], &[0, 2]),          // move one copy
        (2, 4, &[0, 1], &[2, 3]),          // move two copies (every copy, the primary too)
        (2, 4, &[0], &[0, 1]),             // add a copy
        (2, 4, &[0, 1, 2], &[0, 1]),       // remove a copy
        (3, 4, &[0, 1, 2], &[0, 1, 3]),    // move one copy
        (3, 5, &[0, 1, 2], &[0, 3, 4]),    // move two copies
        (3, 4, &[0, 1], &[0, 1, 2]),       // add a copy
        (3, 4, &[0, 1, 2, 3], &[0, 1, 2]), // remove a copy
    ];
    cases
        .iter()
        .map(|(rf, nodes, from, to)| Scenario::new(mode, *rf, *nodes, from, to))
        .collect()
}

/// Quorum with factor 3 tolerates one node down: those runs may crash one.
pub(crate) fn crash_tolerated(scenario: &Scenario) -> bool {
    scenario.mode == ReplicationMode::Quorum && scenario.replication_factor == 3
}

/// What an exhaustive check found.
pub(crate) struct Outcome {
    pub(crate) unique: usize,
    pub(crate) total: usize,
    pub(crate) seconds: f64,
    /// The invariants broken, each with its path.
    pub(crate) failures: Vec<(&'static str, Vec<Action>)>,
    /// The `sometimes` properties that have an example.
    pub(crate) examples: BTreeSet<&'static str>,
    /// The model this outcome was checked on, when it was checked on
    /// another model that behaves alike (`TransitionModel::behaves_like`).
    pub(crate) checked_as: Option<String>,
}

impl Outcome {
    /// The invariants broken.
    pub(crate) fn broken(&self) -> BTreeSet<&'static str> {
        self.failures.iter().map(|(name, _)| *name).collect()
    }

    /// `" (checked as ...)"` when the outcome is another model's, for the
    /// printed line.
    pub(crate) fn shared(&self) -> String {
        self.checked_as
            .as_ref()
            .map(|other| format!(" (the same rules as {other}: checked once)"))
            .unwrap_or_default()
    }
}

/// Checks models exhaustively (breadth first, two threads), each distinct
/// model once: a model that behaves like one checked already is the same
/// transition system (`TransitionModel::behaves_like` compares every rule
/// the model takes from the layer), so it gets that one's outcome, marked
/// with its name. Factors 1 and 2 decide alike under both modes, so this
/// halves those checks; a change that makes the modes differ makes each
/// checked on its own.
#[derive(Default)]
pub(crate) struct Checks {
    done: Vec<(TransitionModel, Rc<Outcome>)>,
}

impl Checks {
    /// The outcome of `model`'s check, and the model.
    pub(crate) fn check(&mut self, model: TransitionModel) -> (TransitionModel, Rc<Outcome>) {
        if let Some((same, outcome)) = self.done.iter().find(|(m, _)| m.behaves_like(&model)) {
            let outcome = Rc::new(Outcome {
                failures: outcome.failures.clone(),
                examples: outcome.examples.clone(),
                checked_as: Some(same.describe()),
                ..**outcome
            });
            return (model, outcome);
        }
        let (model, outcome) = check(model);
        let outcome = Rc::new(outcome);
        let copy = TransitionModel::new(model.scenario(), model.procedure(), model.bounds());
        self.done.push((copy, Rc::clone(&outcome)));
        (model, outcome)
    }

    /// The invariants `scenario` under `procedure` breaks within `bounds`.
    pub(crate) fn verdicts(
        &mut self,
        scenario: &Scenario,
        procedure: &Procedure,
        bounds: Bounds,
    ) -> (BTreeSet<&'static str>, Rc<Outcome>) {
        let (_, outcome) = self.check(TransitionModel::new(scenario, procedure, bounds));
        (outcome.broken(), outcome)
    }
}

/// Checks `model` exhaustively, breadth first, with two threads.
fn check(model: TransitionModel) -> (TransitionModel, Outcome) {
    let started = Instant::now();
    let checker = model.checker().threads(2).spawn_bfs().join();
    let seconds = started.elapsed().as_secs_f64();
    let mut failures = Vec::new();
    let mut examples = BTreeSet::new();
    for (name, path) in checker.discoveries() {
        if name == READ || name == FINAL {
            failures.push((name, path.into_actions()));
        } else {
            examples.insert(name);
        }
    }
    let outcome = Outcome {
        unique: checker.unique_state_count(),
        total: checker.state_count(),
        seconds,
        failures,
        examples,
        checked_as: None,
    };
    let model = checker.model();
    let model = TransitionModel::new(model.scenario(), model.procedure(), model.bounds());
    (model, outcome)
}

/// Searches `model` until the read invariant ([`READ`]) breaks, prints the
/// trace with the states searched and the time, and returns the trace:
/// the counterexample a test that expects a lost write asserts on.
pub(crate) fn lost_write_trace(model: TransitionModel) -> String {
    let started = Instant::now();
    let checker = model
        .checker()
        .threads(2)
        .finish_when(stateright::HasDiscoveries::AnyOf(
            [READ].into_iter().collect(),
        ))
        .spawn_bfs()
        .join();
    let seconds = started.elapsed().as_secs_f64();
    let model = checker.model();
    let path = checker
        .discovery(READ)
        .unwrap_or_else(|| panic!("{}: no counterexample to {READ}", model.describe()));
    let trace = model.explain(&path.into_actions());
    println!(
        "{}: {READ}, found after {} states in {seconds:.2} s:\n{trace}",
        model.describe(),
        checker.unique_state_count(),
    );
    trace
}
