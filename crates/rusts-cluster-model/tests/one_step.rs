//! Today's procedure, deploying config B directly, must fail the check.

use std::time::Instant;

use rusts_cluster_model::{Bounds, Procedure, Scenario, TransitionModel};
use rusts_cluster_replication::ReplicationMode;
use stateright::{Checker, HasDiscoveries, Model};

const READ: &str = "a Quorum read returns every write acknowledged before it began";

#[test]
fn deploying_b_directly_loses_a_write_rf3_quorum() {
    // a, b, c hold the shard; c's copy moves to d.
    let scenario = Scenario::new(ReplicationMode::Quorum, 3, 4, &[0, 1, 2], &[0, 1, 3]);
    let model = TransitionModel::new(
        &scenario,
        &Procedure::one_step(&scenario),
        Bounds::default(),
    );
    let started = Instant::now();
    let checker = model
        .checker()
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs()
        .join();
    for (name, path) in checker.discoveries() {
        println!("{name}:\n{}", checker.model().explain(&path.into_actions()));
    }
    let path = checker.discovery(READ).expect("a counterexample");
    let actions = path.into_actions();
    println!(
        "{}: {} states ({} unique) in {:?}\n{}",
        checker.model().describe(),
        checker.state_count(),
        checker.unique_state_count(),
        started.elapsed(),
        checker.model().explain(&actions)
    );
}

#[test]
fn no_move_passes_rf3_quorum() {
    let scenario = Scenario::new(ReplicationMode::Quorum, 3, 4, &[0, 1, 2], &[0, 1, 2]);
    let model = TransitionModel::new(
        &scenario,
        &Procedure::unchanged(&scenario),
        Bounds::default(),
    );
    let started = Instant::now();
    let checker = model.checker().threads(2).spawn_bfs().join();
    println!(
        "{}: {} states ({} unique) depth {} in {:?} done {}",
        checker.model().describe(),
        checker.state_count(),
        checker.unique_state_count(),
        checker.max_depth(),
        started.elapsed(),
        checker.is_done()
    );
    checker.assert_properties();
}
