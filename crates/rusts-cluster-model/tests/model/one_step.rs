//! Today's procedure, deploying config B directly (after copying the
//! moving copies while every node runs A), fails the check: the checker
//! finds a path to each broken invariant and prints it.

use std::time::Instant;

use rusts_cluster_model::{Bounds, Procedure, Scenario, TransitionModel};
use rusts_cluster_replication::ReplicationMode;
use stateright::{Checker, HasDiscoveries, Model};

use crate::util::{FINAL, READ};

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
