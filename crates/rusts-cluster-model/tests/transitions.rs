//! The bounded model check of the transition procedure (issue 13).
//!
//! Every required transition (factors 1-3, `Quorum` and `Synchronous`, moves
//! of one and of two copies, adds and removes, 4 or 5 nodes, 2 writes)
//! passes under the three steps of `plan_transition`; deploying config B
//! directly fails. The explicit-message network breaks the same properties
//! as the reduced one the checks use (factors 1 and 2 here, factor 3 in an
//! ignored test). State counts and times are printed (`--nocapture`) and
//! recorded in docs/reliability.md, "Proof of the transition protocol".
//!
//! ```sh
//! cargo test -p rusts-cluster-model --test transitions -- --nocapture
//! cargo test -p rusts-cluster-model --test transitions -- --ignored --nocapture   # the larger bounds
//! ```

use std::{collections::BTreeSet, time::Instant};

use rusts_cluster_model::{Action, Bounds, Network, Procedure, Scenario, TransitionModel};
use rusts_cluster_replication::ReplicationMode;
use stateright::{Checker, HasDiscoveries, Model};

const READ: &str = "a Quorum read returns every write acknowledged before it began";
const FINAL: &str =
    "once the plan completes, every acknowledged write is on the required final copies";
const READ_EXAMPLE: &str = "a Quorum read sees every write, all acknowledged before it began";
const PLAN_EXAMPLE: &str = "the plan completes with every write acknowledged";
const CRASH_EXAMPLE: &str = "the plan completes with every write acknowledged, after a crash";

/// The transitions the issue requires, per mode: (factor, nodes, A's
/// copies, B's copies), primary first.
fn required(mode: ReplicationMode) -> Vec<Scenario> {
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

struct Outcome {
    unique: usize,
    total: usize,
    seconds: f64,
    failures: Vec<(&'static str, Vec<Action>)>,
    examples: BTreeSet<&'static str>,
}

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
    };
    let model = checker.model();
    let model = TransitionModel::new(model.scenario(), model.procedure(), model.bounds());
    (model, outcome)
}

/// Checks each scenario under the three steps, printing each one's and
/// the total's states and time.
fn check_staged(scenarios: &[(Scenario, Bounds)]) {
    let started = Instant::now();
    let mut states = 0;
    let mut broken = Vec::new();
    for (scenario, bounds) in scenarios {
        let model = TransitionModel::new(scenario, &Procedure::staged(scenario), *bounds);
        let (model, outcome) = check(model);
        println!(
            "{:<44} crash {:<5} {:>10} states {:>11} visits {:>7.2} s",
            scenario.name(),
            bounds.crash,
            outcome.unique,
            outcome.total,
            outcome.seconds
        );
        states += outcome.unique;
        for (name, actions) in &outcome.failures {
            broken.push(format!(
                "{}: {name}\n{}",
                model.describe(),
                model.explain(actions)
            ));
        }
        // Not vacuous: writes are acknowledged, reads see them, plans end.
        let mut expected = vec![READ_EXAMPLE, PLAN_EXAMPLE];
        if bounds.crash {
            expected.push(CRASH_EXAMPLE);
        }
        for name in expected {
            assert!(
                outcome.examples.contains(name),
                "{}: no run where {name}",
                model.describe()
            );
        }
    }
    assert!(broken.is_empty(), "counterexamples:\n{}", broken.join("\n"));
    println!(
        "{} transitions, {states} states in {:.1} s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );
}

/// Quorum with factor 3 tolerates one node down: those runs may crash one.
fn crash_tolerated(scenario: &Scenario) -> bool {
    scenario.mode == ReplicationMode::Quorum && scenario.replication_factor == 3
}

#[test]
fn the_three_steps_pass_every_required_transition() {
    let mut scenarios = Vec::new();
    for mode in [ReplicationMode::Quorum, ReplicationMode::Synchronous] {
        for scenario in required(mode) {
            let five_nodes_quorum = scenario.nodes == 5 && crash_tolerated(&scenario);
            if five_nodes_quorum {
                // 10.5 million states and more: the ignored larger bound.
                continue;
            }
            // One crash costs 5x the states: in `cargo test`, only where a
            // copy moves; the larger bound crashes in every rf 3 Quorum run.
            let crash =
                crash_tolerated(&scenario) && scenario.from == [0, 1, 2] && scenario.nodes == 4;
            scenarios.push((
                scenario,
                Bounds {
                    crash,
                    ..Bounds::default()
                },
            ));
        }
    }
    check_staged(&scenarios);
}

#[test]
#[ignore = "the larger bound: minutes and gigabytes; run with --ignored"]
fn the_three_steps_pass_the_larger_bound() {
    let mut scenarios = Vec::new();
    for scenario in required(ReplicationMode::Quorum) {
        if crash_tolerated(&scenario) {
            // Two copies moving on 5 nodes: without a crash (with one, it
            // outgrows this machine's memory).
            let crash = scenario.nodes == 4;
            scenarios.push((
                scenario.clone(),
                Bounds {
                    crash,
                    ..Bounds::default()
                },
            ));
        }
    }
    // Three writes where a factor of 2 moves every copy.
    for mode in [ReplicationMode::Quorum, ReplicationMode::Synchronous] {
        scenarios.push((
            Scenario::new(mode, 2, 4, &[0, 1], &[2, 3]),
            Bounds {
                writes: 3,
                ..Bounds::default()
            },
        ));
    }
    check_staged(&scenarios);
}

#[test]
fn deploying_b_directly_fails_the_check() {
    // a, b, c hold the shard under Quorum with factor 3; c's copy moves to d.
    let scenario = Scenario::new(ReplicationMode::Quorum, 3, 4, &[0, 1, 2], &[0, 1, 3]);
    let model = TransitionModel::new(
        &scenario,
        &Procedure::one_step(&scenario),
        Bounds::default(),
    );
    let started = Instant::now();
    let checker = model
        .checker()
        .threads(2)
        .finish_when(HasDiscoveries::AllOf([READ, FINAL].into_iter().collect()))
        .spawn_bfs()
        .join();
    let seconds = started.elapsed().as_secs_f64();
    let model = checker.model();
    for name in [READ, FINAL] {
        let path = checker
            .discovery(name)
            .unwrap_or_else(|| panic!("{}: no counterexample to {name}", model.describe()));
        println!(
            "{}: {name}, found after {} states in {seconds:.2} s:\n{}",
            model.describe(),
            checker.unique_state_count(),
            model.explain(&path.into_actions())
        );
    }
}

#[test]
fn deploying_b_directly_with_two_copies_moving_fails_the_check() {
    // Factor 2, every copy moves: a write acknowledged by a and b under A
    // is on no copy of B that did not catch up before it.
    for mode in [ReplicationMode::Quorum, ReplicationMode::Synchronous] {
        let scenario = Scenario::new(mode, 2, 4, &[0, 1], &[2, 3]);
        let model = TransitionModel::new(
            &scenario,
            &Procedure::one_step(&scenario),
            Bounds::default(),
        );
        let checker = model
            .checker()
            .threads(2)
            .finish_when(HasDiscoveries::AnyFailures)
            .spawn_bfs()
            .join();
        let model = checker.model();
        let found: Vec<_> = [READ, FINAL]
            .into_iter()
            .filter(|name| checker.discovery(name).is_some())
            .collect();
        assert!(!found.is_empty(), "{}: no counterexample", model.describe());
    }
}

#[test]
fn redeploying_a_without_a_move_passes() {
    for mode in [ReplicationMode::Quorum, ReplicationMode::Synchronous] {
        let scenario = Scenario::new(mode, 3, 4, &[0, 1, 2], &[0, 1, 2]);
        let model = TransitionModel::new(
            &scenario,
            &Procedure::unchanged(&scenario),
            Bounds {
                crash: crash_tolerated(&scenario),
                ..Bounds::default()
            },
        );
        let (_, outcome) = check(model);
        assert!(outcome.failures.is_empty());
        assert!(outcome.examples.contains(READ_EXAMPLE));
    }
}

/// The properties a model breaks, checked exhaustively.
fn verdicts(
    scenario: &Scenario,
    procedure: &Procedure,
    bounds: Bounds,
) -> (BTreeSet<&'static str>, Outcome) {
    let (_, outcome) = check(TransitionModel::new(scenario, procedure, bounds));
    let broken = outcome.failures.iter().map(|(name, _)| *name).collect();
    (broken, outcome)
}

/// Checks each scenario with one write under both networks, for the three
/// steps and for deploying B directly, and asserts that the networks break
/// the same properties: the three steps none, deploying B whichever the
/// reduced network finds.
fn check_both_networks(scenarios: &[Scenario]) {
    let started = Instant::now();
    let mut states = 0;
    for scenario in scenarios {
        for (name, procedure) in [
            ("three steps", Procedure::staged(scenario)),
            ("B directly", Procedure::one_step(scenario)),
        ] {
            let bounds = |network| Bounds {
                writes: 1,
                network,
                ..Bounds::default()
            };
            let (reduced, _) = verdicts(scenario, &procedure, bounds(Network::Reduced));
            let (explicit, outcome) = verdicts(scenario, &procedure, bounds(Network::Explicit));
            println!(
                "{:<34} {name:<11} explicit {:>9} states {:>7.2} s, breaks {}",
                scenario.name(),
                outcome.unique,
                outcome.seconds,
                explicit.len()
            );
            states += outcome.unique;
            assert_eq!(
                explicit,
                reduced,
                "{}, {name}: the networks disagree",
                scenario.name()
            );
            if name == "three steps" {
                assert!(explicit.is_empty(), "{}: {explicit:?}", scenario.name());
                assert!(outcome.examples.contains(READ_EXAMPLE));
            }
        }
    }
    println!(
        "{} transitions under both networks, {states} explicit states in {:.1} s",
        scenarios.len(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn the_explicit_network_gives_the_same_verdicts() {
    // Every message in a set the network may deliver any number of times,
    // in any order, or drop: the reduced network must agree with it on
    // every required transition of factors 1 and 2, both modes.
    let scenarios: Vec<Scenario> = [ReplicationMode::Quorum, ReplicationMode::Synchronous]
        .into_iter()
        .flat_map(required)
        .filter(|scenario| scenario.replication_factor <= 2)
        .collect();
    check_both_networks(&scenarios);
    // Not vacuous: deploying B directly breaks something on a move.
    let moved = Scenario::new(ReplicationMode::Quorum, 1, 4, &[0], &[1]);
    let (broken, _) = verdicts(
        &moved,
        &Procedure::one_step(&moved),
        Bounds {
            writes: 1,
            network: Network::Explicit,
            ..Bounds::default()
        },
    );
    assert_eq!(broken, [READ, FINAL].into_iter().collect());
}

#[test]
#[ignore = "the explicit network at factor 3: minutes and gigabytes; run with --ignored"]
fn the_explicit_network_gives_the_same_verdicts_at_factor_3() {
    let scenarios: Vec<Scenario> = [ReplicationMode::Quorum, ReplicationMode::Synchronous]
        .into_iter()
        .flat_map(required)
        // Removing a fourth copy and moving two on 5 nodes did not finish
        // in 10 minutes and 13 GB: left to the reduced network.
        .filter(|scenario| scenario.replication_factor == 3 && scenario.from.len() < 4)
        .filter(|scenario| scenario.nodes == 4)
        .collect();
    check_both_networks(&scenarios);
}
