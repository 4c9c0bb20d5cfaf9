//! The deployments the model shows unsafe are refused by the router and
//! the protocol core themselves, for every required transition shape
//! (issue 21): B deployed directly, a step skipped (as numbered by the
//! plan, or renumbered to look adjacent), and a restart onto an older
//! file. The model check shows what each would lose
//! (`one_step::deploying_b_directly_fails_the_check`); these show that no
//! node takes it without the unsafe override.

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_model::Procedure;
use rusts_cluster_protocol::{ApplyChecks, Core, Options, Point, ProtocolError};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::{RoutingError, ShardRouter};
use rusts_cluster_sharding::ShardKeyRef;

use crate::util::required;

/// A point type for cores that never write.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Nothing;

impl Point for Nothing {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new("nothing", 0, 0)
    }
}

/// `config` renumbered `generation`.
fn numbered(config: &ClusterConfig, generation: u64) -> ClusterConfig {
    let mut config = config.clone();
    config.generation = generation;
    config
}

/// The router of `node` on `config` refuses `next` with a step refusal,
/// and takes it under the unsafe override.
fn refused(config: &ClusterConfig, next: &ClusterConfig, node: &str, what: &str) {
    let router = ShardRouter::from_config(&config.clone().for_node(node)).unwrap();
    match router.check_apply(next) {
        Err(
            RoutingError::GenerationSkipped { .. }
            | RoutingError::UnsafeCopyChange { .. }
            | RoutingError::UnsafeReadChange { .. },
        ) => {}
        other => panic!("{what}: expected a step refusal, got {other:?}"),
    }
    router
        .check_apply_with(next, ApplyChecks::UnsafeSkipStepChecks)
        .unwrap_or_else(|e| panic!("{what}: the override refused it too: {e}"));
}

#[test]
fn every_unsafe_deployment_of_a_required_transition_is_refused() {
    let mut checked = 0;
    for mode in [ReplicationMode::Quorum, ReplicationMode::Synchronous] {
        for scenario in required(mode) {
            let staged = Procedure::staged(&scenario);
            let [a, one, two, three] = <[ClusterConfig; 4]>::try_from(staged.steps)
                .unwrap_or_else(|s| panic!("{}: {} steps", scenario.name(), s.len()));
            let g = a.generation;
            let node = a.nodes[0].id.clone();
            let name = scenario.name();
            // B directly, as the plan numbers it and renumbered adjacent.
            refused(&a, &three, &node, &format!("{name}: B at g+3"));
            refused(
                &a,
                &numbered(&three, g + 1),
                &node,
                &format!("{name}: B at g+1"),
            );
            // Step 1 skipped, step 2 skipped.
            refused(&a, &two, &node, &format!("{name}: step 2 on A"));
            refused(
                &a,
                &numbered(&two, g + 1),
                &node,
                &format!("{name}: step 2 as g+1"),
            );
            refused(&one, &three, &node, &format!("{name}: step 3 on step 1"));
            refused(
                &one,
                &numbered(&three, g + 2),
                &node,
                &format!("{name}: step 3 as g+2"),
            );
            // The steps in order are taken.
            let router = ShardRouter::from_config(&a.clone().for_node(&node)).unwrap();
            for step in [&one, &two, &three] {
                router
                    .apply(step)
                    .unwrap_or_else(|e| panic!("{name}: a step in order: {e}"));
            }
            // A restart onto the file before: refused, with how to recover.
            let core = Core::<Nothing, ()>::new(one.clone(), &node, Options::default()).unwrap();
            let restoring =
                Core::<Nothing, ()>::restore(&core.saved(), &node, Options::default()).unwrap();
            assert!(
                matches!(
                    restoring.prepare_file(a.clone()),
                    Err(ProtocolError::FileOlder { .. })
                ),
                "{name}: a restart onto A after step 1"
            );
            assert!(
                matches!(
                    restoring.prepare_file(three.clone()),
                    Err(ProtocolError::FileSkipsGenerations { .. })
                ),
                "{name}: a restart onto step 3 after step 1"
            );
            assert!(restoring.prepare_file(one.clone()).unwrap().is_none());
            assert!(restoring.prepare_file(two.clone()).unwrap().is_some());
            checked += 1;
        }
    }
    assert!(checked >= 20, "only {checked} shapes");
}
