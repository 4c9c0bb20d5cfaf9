//! Generation fencing is needed: without it (`Bounds::fencing` off) the
//! three steps of `plan_transition` lose an acknowledged write, and the
//! checker finds the path.

use rusts_cluster_model::{Bounds, Procedure, Scenario, TransitionModel};
use rusts_cluster_replication::ReplicationMode;
use stateright::{Checker, HasDiscoveries, Model};

use crate::util::{FINAL, READ};

#[test]
fn without_fencing_a_write_is_lost() {
    // Factor 1, the copy moves from a to b. Without fencing, a write that
    // a coordinator started under A stays pending when it moves to the
    // joint step, and is still decided under A's rule (a's copy alone).
    // The catch-up starts once every node runs the joint step and copies
    // a to b; the A-write, still in flight, then reaches a (which, on the
    // joint step, admits a sender one generation behind) and is
    // acknowledged on the old copy only, after the catch-up. B's copy b
    // never gets it: a Quorum read of the read-new step misses it, and
    // the plan completes without it. Fencing fails that write when its
    // coordinator moves, before any node can start the catch-up.
    let scenario = Scenario::new(ReplicationMode::Quorum, 1, 4, &[0], &[1]);
    let procedure = Procedure::staged(&scenario);
    let bounds = Bounds {
        fencing: false,
        ..Bounds::default()
    };
    let checker = TransitionModel::new(&scenario, &procedure, bounds)
        .checker()
        .threads(2)
        .finish_when(HasDiscoveries::AnyFailures)
        .spawn_bfs()
        .join();
    let model = checker.model();
    let found: Vec<_> = [READ, FINAL]
        .into_iter()
        .filter_map(|name| checker.discovery(name).map(|path| (name, path)))
        .collect();
    assert!(
        !found.is_empty(),
        "{}: no counterexample without fencing",
        model.describe()
    );
    for (name, path) in found {
        println!(
            "{}, no fencing: {name}, after {} states:\n{}",
            model.describe(),
            checker.unique_state_count(),
            model.explain(&path.into_actions())
        );
    }
    // The same procedure with fencing passes (the required transitions
    // check it too; this pins the one difference).
    let checker = TransitionModel::new(&scenario, &procedure, Bounds::default())
        .checker()
        .threads(2)
        .spawn_bfs()
        .join();
    assert!(
        [READ, FINAL]
            .iter()
            .all(|name| checker.discovery(name).is_none()),
        "with fencing the three steps pass"
    );
}
