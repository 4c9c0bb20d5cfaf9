//! The explicit-message network, which keeps every request and answer in
//! flight for the checker to deliver, duplicate, reorder or drop, breaks
//! exactly the properties the reduced network breaks (factors 1 and 2
//! here, factor 3 in an ignored test).

use std::time::Instant;

use rusts_cluster_model::{Bounds, Network, Procedure, Scenario};
use rusts_cluster_replication::ReplicationMode;

use crate::util::{required, Checks, FINAL, READ, READ_EXAMPLE};

/// Checks each scenario with one write under both networks, for the three
/// steps and for deploying B directly, and asserts that the networks break
/// the same properties: the three steps none, deploying B whichever the
/// reduced network finds.
fn check_both_networks(checks: &mut Checks, scenarios: &[Scenario]) {
    let started = Instant::now();
    // Every explicit check's states, and those of the distinct models searched.
    let (mut states, mut searched) = (0, 0);
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
            let (reduced, _) = checks.verdicts(scenario, &procedure, bounds(Network::Reduced));
            let (explicit, outcome) =
                checks.verdicts(scenario, &procedure, bounds(Network::Explicit));
            println!(
                "{:<34} {name:<11} explicit {:>9} states {:>7.2} s, breaks {}{}",
                scenario.name(),
                outcome.unique,
                outcome.seconds,
                explicit.len(),
                outcome.shared()
            );
            states += outcome.unique;
            if outcome.checked_as.is_none() {
                searched += outcome.unique;
            }
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
        "{} transitions under both networks, {states} explicit states ({searched} searched) in {:.1} s",
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
    let mut checks = Checks::default();
    check_both_networks(&mut checks, &scenarios);
    // Not vacuous: deploying B directly breaks something on a move.
    let moved = Scenario::new(ReplicationMode::Quorum, 1, 4, &[0], &[1]);
    let (broken, _) = checks.verdicts(
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
    check_both_networks(&mut Checks::default(), &scenarios);
}
