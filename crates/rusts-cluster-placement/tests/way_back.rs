//! The way back from step 1 or 2 of a transition (`plan_way_back`): each
//! config of it taken by a real router after the real steps, in order;
//! the shapes (the start at once from step 1, step 1 again first from
//! step 2); and the refusals of a step that is not one of a transition
//! from the start, or of a settled config.

use proptest::prelude::*;
use rusts_cluster_config::{ClusterConfig, MoveReads, NodeConfig};
use rusts_cluster_placement::{
    plan_transition, plan_way_back, BackStepKind, ConfigRole, PlacementError, StepKind,
    StepMismatch,
};
use rusts_cluster_routing::{RoutingError, ShardRouter};

use crate::{
    transition::{three_nodes, transition_pair},
    util::cases,
};

/// A router as no node, on `config`: it checks each config as the file
/// every node shares, whatever node it names.
fn router(config: &ClusterConfig) -> ShardRouter {
    ShardRouter::from_config(&config.clone().for_node("")).unwrap()
}

fn apply(router: &ShardRouter, config: &ClusterConfig) -> Result<(), RoutingError> {
    router.apply(&config.clone().for_node("")).map(drop)
}

/// Node c of `three_nodes` replaced by d.
fn replace_c() -> (ClusterConfig, ClusterConfig) {
    let from = three_nodes();
    let mut to = from.clone();
    to.nodes[2].id = "d".into();
    to.nodes[2].address = "10.0.0.4:8086".into();
    (from, to)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases("RUSTS_TRANSITION_CASES", 64)))]

    /// From step 1 and from step 2, every config of the way back is taken
    /// by a router that took the real steps before it, and the last is the
    /// start's placement; step 2 straight back to the start is refused.
    #[test]
    fn prop_the_way_back_is_taken_step_by_step((from, to) in transition_pair()) {
        let plan = plan_transition(&from, &to).unwrap();
        prop_assume!(!plan.is_empty());
        let (step1, step2) = (&plan.steps[0].config, &plan.steps[1].config);
        let new_nodes: Vec<String> = {
            let mut ids: Vec<String> = step1
                .nodes
                .iter()
                .filter(|n| from.get_node(&n.id).is_none())
                .map(|n| n.id.clone())
                .collect();
            ids.sort();
            ids
        };

        // From step 1: the start at the next generation.
        let back = plan_way_back(&from, step1).unwrap();
        prop_assert_eq!(back.from, StepKind::JointWrites);
        prop_assert_eq!(back.steps.len(), 1);
        let mut start = from.clone();
        start.generation = from.generation + 2;
        prop_assert_eq!(back.steps[0].kind, BackStepKind::Start);
        prop_assert_eq!(&back.steps[0].config, &start);
        prop_assert_eq!(back.steps[0].file_name(), "01-back-start.toml");
        prop_assert_eq!(&back.stop, &new_nodes);
        let r = router(&from);
        apply(&r, step1).unwrap();
        for step in &back.steps {
            if let Err(e) = apply(&r, &step.config) {
                return Err(TestCaseError::fail(format!("{}: {e}", step.file_name())));
            }
        }

        // From step 2: step 1 again, then the start.
        let back = plan_way_back(&from, step2).unwrap();
        prop_assert_eq!(back.from, StepKind::ReadNew);
        let kinds: Vec<BackStepKind> = back.steps.iter().map(|s| s.kind).collect();
        prop_assert_eq!(kinds, [BackStepKind::JointWrites, BackStepKind::Start]);
        let mut again = step1.clone();
        again.generation = from.generation + 3;
        prop_assert_eq!(&back.steps[0].config, &again);
        prop_assert_eq!(back.steps[0].config.move_reads, MoveReads::Old);
        start.generation = from.generation + 4;
        prop_assert_eq!(&back.steps[1].config, &start);
        prop_assert_eq!(&back.stop, &new_nodes);
        let r = router(&from);
        apply(&r, step1).unwrap();
        apply(&r, step2).unwrap();
        let mut direct = from.clone();
        direct.generation = from.generation + 3;
        let refused = r.check_apply(&direct.clone().for_node("")).unwrap_err();
        prop_assert!(
            matches!(refused, RoutingError::UnsafeReadChange { .. }),
            "step 2 straight back: {}", refused
        );
        for step in &back.steps {
            if let Err(e) = apply(&r, &step.config) {
                return Err(TestCaseError::fail(format!("{}: {e}", step.file_name())));
            }
        }
    }
}

#[test]
fn replacing_a_node_and_going_back() {
    let (from, to) = replace_c();
    let plan = plan_transition(&from, &to).unwrap();
    let back = plan_way_back(&from, &plan.steps[1].config).unwrap();
    let files: Vec<String> = back.steps.iter().map(|s| s.file_name()).collect();
    assert_eq!(files, ["01-back-joint-writes.toml", "02-back-start.toml"]);
    let gens: Vec<u64> = back.steps.iter().map(|s| s.config.generation).collect();
    assert_eq!(gens, [13, 14]);
    // Step 1's primaries again: c leads shard 2, d (joining) none.
    let again = &back.steps[0].config;
    assert_eq!(again.get_node("c").unwrap().shards, [2]);
    assert_eq!(again.get_node("d").unwrap().shards, Vec::<u32>::new());
    assert_eq!(again.get_node("d").unwrap().joining_shards, [0, 1, 2]);
    assert_eq!(back.stop, ["d"]);
}

#[test]
fn a_settled_config_has_no_way_back() {
    let (from, to) = replace_c();
    let plan = plan_transition(&from, &to).unwrap();
    for settled in [&plan.steps[2].config, &from] {
        let err = plan_way_back(&from, settled).unwrap_err();
        assert!(
            matches!(err, PlacementError::NotInTransition { generation } if generation == settled.generation)
        );
        assert_eq!(err.code(), "not-in-transition");
        assert!(err.to_string().contains("is a new transition"), "{err}");
    }
}

#[test]
fn a_step_of_another_transition_is_refused_naming_each_mismatch() {
    let (from, to) = replace_c();
    let plan = plan_transition(&from, &to).unwrap();
    let step1 = &plan.steps[0].config;

    // The start given one generation off.
    let mut later = from.clone();
    later.generation += 1;
    let err = plan_way_back(&later, step1).unwrap_err();
    assert_eq!(err.code(), "not-the-start");
    let PlacementError::NotTheStart { mismatches } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        mismatches,
        &[StepMismatch::Generation {
            kind: StepKind::JointWrites,
            start: 11,
            step: 11
        }]
    );
    assert!(
        err.to_string().starts_with(
            "the step is not step 1 or 2 of a transition from the start config: the step has \
             generation 11, but step 1 (joint-writes) of a transition from generation 11 has \
             generation 12; give as the start"
        ),
        "{err}"
    );

    // The transition's end given as its start: d's copies are not in it,
    // and it lacks c; step 1's primaries are the same here.
    let mut end = to.clone();
    end.generation = 10;
    let err = plan_way_back(&end, step1).unwrap_err();
    let PlacementError::NotTheStart { mismatches } = &err else {
        panic!("{err:?}")
    };
    assert!(!mismatches.contains(&StepMismatch::NodeMissing { node: "d".into() }));
    assert!(mismatches.contains(&StepMismatch::Copy {
        shard: 0,
        node: "d".into(),
        in_start: true,
        in_step: Some(rusts_cluster_sharding::CopyState::Joining),
    }));
    assert!(mismatches.contains(&StepMismatch::Copy {
        shard: 0,
        node: "c".into(),
        in_start: false,
        in_step: Some(rusts_cluster_sharding::CopyState::Leaving),
    }));

    // A start with a node the step lacks, and another primary at step 1.
    let mut other = from.clone();
    other.nodes.push(NodeConfig::new("e", "10.0.0.5:8086"));
    other.nodes[0].shards = vec![0, 1];
    other.nodes[0].replica_shards = vec![2];
    other.nodes[1].shards = vec![];
    other.nodes[1].replica_shards = vec![0, 1, 2];
    other.validate().unwrap();
    let err = plan_way_back(&other, step1).unwrap_err();
    let PlacementError::NotTheStart { mismatches } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        mismatches,
        &[
            StepMismatch::NodeMissing { node: "e".into() },
            StepMismatch::Primary {
                shard: 1,
                start: "a".into(),
                step: "b".into()
            },
        ]
    );

    // A step 2 with another factor.
    let mut step2 = plan.steps[1].config.clone();
    step2.replication_factor = 2;
    let err = plan_way_back(&from, &step2).unwrap_err();
    assert!(
        err.to_string().contains(
            "the replication settings are Quorum at factor 3 in the start config and Quorum at \
             factor 2 in the step"
        ),
        "{err}"
    );
}

#[test]
fn invalid_and_moving_configs_are_refused_naming_which() {
    let (from, to) = replace_c();
    let plan = plan_transition(&from, &to).unwrap();
    let mut broken = plan.steps[0].config.clone();
    broken.nodes[0].shards.clear();
    let err = plan_way_back(&from, &broken).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::Invalid {
            config: ConfigRole::Step,
            ..
        }
    ));
    assert!(err.to_string().starts_with("the step is invalid"), "{err}");
    let err = plan_way_back(&plan.steps[0].config, &plan.steps[1].config).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::Moving {
            config: ConfigRole::From,
            ..
        }
    ));
}
