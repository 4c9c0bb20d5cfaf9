//! Transition plans (`plan_transition`): the shape of every step, checked
//! against the configs directly; a router for every step; generations that
//! only adjacent steps accept; and the catch-up, checked against its
//! purpose: after it, every write the old config could acknowledge sits on
//! `w` new copies; and the catch-ups and drops, which must be what a node
//! computes from its step config alone.
//!
//! `RUSTS_TRANSITION_CASES` or `PROPTEST_CASES` (e.g. 2000) ask for a
//! longer run than the default 64 cases.

use std::collections::{BTreeMap, BTreeSet};

use proptest::{prelude::*, sample::Index};
use rusts_cluster_config::{ClusterConfig, ConfigError, MoveReads, NodeConfig};
use rusts_cluster_placement::{
    address_handovers, balance, plan_transition, with_node_changes, ConfigRole, PlacementError,
    StepKind, TransitionPlan, DEFAULT_ZONE_TAG,
};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{CopyState, ShardId, ShardingStrategy};

use crate::util::{self, cases, skeleton};

/// Per shard of a config: its copies (node ids) and its primary.
fn copies(config: &ClusterConfig) -> Vec<(BTreeSet<String>, String)> {
    let mut out = vec![(BTreeSet::new(), String::new()); config.shard_count as usize];
    for node in &config.nodes {
        for &s in &node.shards {
            out[s as usize].0.insert(node.id.clone());
            out[s as usize].1 = node.id.clone();
        }
        for &s in &node.replica_shards {
            out[s as usize].0.insert(node.id.clone());
        }
    }
    out
}

/// Per shard of a step config: the joining and the leaving copies.
fn states(config: &ClusterConfig) -> Vec<(BTreeSet<String>, BTreeSet<String>)> {
    let mut out = vec![(BTreeSet::new(), BTreeSet::new()); config.shard_count as usize];
    for node in &config.nodes {
        for &s in &node.joining_shards {
            out[s as usize].0.insert(node.id.clone());
        }
        for &s in &node.leaving_shards {
            out[s as usize].1.insert(node.id.clone());
        }
    }
    out
}

/// Every property of a plan, checked from `from` and `to` alone.
fn check_plan(
    from: &ClusterConfig,
    to: &ClusterConfig,
    plan: &TransitionPlan,
) -> Result<(), TestCaseError> {
    let (old, new) = (copies(from), copies(to));
    let moving: Vec<ShardId> = (0..from.shard_count as usize)
        .filter(|&s| old[s].0 != new[s].0)
        .map(|s| s as ShardId)
        .collect();
    prop_assert_eq!(&plan.moving_shards, &moving);
    if moving.is_empty() {
        prop_assert!(
            plan.steps.is_empty()
                && plan.catch_up.is_empty()
                && plan.drops.is_empty()
                && plan.is_empty()
        );
        return Ok(());
    }
    let kinds: Vec<StepKind> = plan.steps.iter().map(|s| s.kind).collect();
    prop_assert_eq!(
        kinds,
        [StepKind::JointWrites, StepKind::ReadNew, StepKind::Final]
    );
    // Every step validates, builds a router, and runs beside its
    // neighbours only: the old config beside step 1, each step beside the
    // next, never two apart.
    let mut routers = vec![ShardRouter::from_config(from).unwrap()];
    for (k, step) in plan.steps.iter().enumerate() {
        prop_assert_eq!(step.config.generation, from.generation + k as u64 + 1);
        if let Err(e) = step.config.validate() {
            return Err(TestCaseError::fail(format!("step {} invalid: {e}", k + 1)));
        }
        routers.push(ShardRouter::from_config(&step.config).unwrap());
    }
    for (i, a) in routers.iter().enumerate() {
        for (j, b) in routers.iter().enumerate() {
            let accepted = a.check_peer_generation(b.generation()).is_ok();
            prop_assert_eq!(accepted, i.abs_diff(j) <= 1, "{} beside {}", i, j);
        }
    }
    // The last step is the new config, at the next generation.
    let mut last = to.clone();
    last.generation = from.generation + 3;
    prop_assert_eq!(&plan.steps[2].config, &last);
    // Steps 1 and 2: every copy of both, marked; primaries old then new.
    for (step, reads, primaries) in [(0, MoveReads::Old, &old), (1, MoveReads::New, &new)] {
        let config = &plan.steps[step].config;
        prop_assert_eq!(config.move_reads, reads);
        prop_assert_eq!(
            (&config.node_id, &config.cluster_name),
            (&to.node_id, &to.cluster_name)
        );
        let (held, marked) = (copies(config), states(config));
        for s in 0..from.shard_count as usize {
            let union: BTreeSet<String> = old[s].0.union(&new[s].0).cloned().collect();
            prop_assert_eq!(&held[s].0, &union, "shard {}", s);
            prop_assert_eq!(&held[s].1, &primaries[s].1, "shard {} primary", s);
            let joining: BTreeSet<String> = new[s].0.difference(&old[s].0).cloned().collect();
            let leaving: BTreeSet<String> = old[s].0.difference(&new[s].0).cloned().collect();
            prop_assert_eq!(&marked[s], &(joining, leaving), "shard {} states", s);
        }
        // Nodes: the new config's, then the old one's others, whether they
        // hold a copy or not, each with the address of the config it comes
        // from.
        let mut expected: Vec<(&str, &str)> = to
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.address.as_str()))
            .collect();
        for n in &from.nodes {
            if to.get_node(&n.id).is_none() {
                expected.push((&n.id, &n.address));
            }
        }
        let got: Vec<(&str, &str)> = config
            .nodes
            .iter()
            .map(|n| (n.id.as_str(), n.address.as_str()))
            .collect();
        prop_assert_eq!(got, expected);
    }
    check_one_mechanism(plan)?;
    check_catch_up(from, plan, &old, &new)
}

/// The plan's catch-ups and drops are what a node computes from the step
/// it is given: steps 1 and 2 give the same (primaries and `move_reads`
/// play no part), the final step none. Drops are exactly the leaving
/// copies, each deleted after the final step.
fn check_one_mechanism(plan: &TransitionPlan) -> Result<(), TestCaseError> {
    for step in &plan.steps[..2] {
        prop_assert_eq!(&plan.catch_up, &step.config.catch_ups(), "{:?}", step.kind);
        prop_assert_eq!(&plan.drops, &step.config.drops(), "{:?}", step.kind);
    }
    let last = &plan.steps[2].config;
    prop_assert!(last.catch_ups().is_empty() && last.drops().is_empty());
    let mut leaving: Vec<(ShardId, &str)> = Vec::new();
    for node in &plan.steps[0].config.nodes {
        leaving.extend(node.leaving_shards.iter().map(|&s| (s, node.id.as_str())));
    }
    leaving.sort_unstable();
    let drops: Vec<(ShardId, &str)> = plan
        .drops
        .iter()
        .map(|d| (d.shard, d.node.as_str()))
        .collect();
    prop_assert_eq!(drops, leaving);
    prop_assert!(plan.drops.iter().all(|d| d.after == StepKind::Final));
    Ok(())
}

/// The catch-up, against its purpose: for every set of `w` old copies that
/// can acknowledge a write, at least `min(w, |N|)` new copies hold the
/// write once the catch-up is done (a stable copy that was among the `w`,
/// or a caught-up copy one of whose sources was). Also: sources are
/// `n - w + 1` distinct old copies, every joining copy catches up once,
/// and a stable copy only when the shard loses more copies than it gains.
fn check_catch_up(
    from: &ClusterConfig,
    plan: &TransitionPlan,
    old: &[(BTreeSet<String>, String)],
    new: &[(BTreeSet<String>, String)],
) -> Result<(), TestCaseError> {
    let w = from.replication_mode.required_acks(from.replication_factor);
    let mut by_shard: BTreeMap<ShardId, Vec<_>> = BTreeMap::new();
    for c in &plan.catch_up {
        by_shard.entry(c.shard).or_default().push(c);
    }
    prop_assert!(
        plan.catch_up
            .windows(2)
            .all(|p| (p[0].shard, &p[0].node) < (p[1].shard, &p[1].node)),
        "catch-ups are sorted and each copy is listed once"
    );
    for &shard in &plan.moving_shards {
        let s = shard as usize;
        let (o, n) = (&old[s].0, &new[s].0);
        let entries = by_shard.remove(&shard).unwrap_or_default();
        let joining: BTreeSet<&String> = n.difference(o).collect();
        let leaving = o.difference(n).count();
        let caught: BTreeSet<&String> = entries
            .iter()
            .filter(|c| c.state == CopyState::Joining)
            .map(|c| &c.node)
            .collect();
        prop_assert_eq!(&caught, &joining, "shard {}: every joining copy", shard);
        let stable_targets = entries
            .iter()
            .filter(|c| c.state == CopyState::Stable)
            .count();
        let expected = if joining.len() < leaving {
            w.saturating_sub(joining.len())
                .min(o.intersection(n).count())
        } else {
            0
        };
        prop_assert_eq!(stable_targets, expected, "shard {} stable catch-ups", shard);
        let needed = (o.len() + 1).saturating_sub(w).clamp(1, o.len());
        for c in &entries {
            let sources: BTreeSet<&String> = c.sources.iter().collect();
            prop_assert_eq!(sources.len(), c.sources.len(), "distinct");
            prop_assert_eq!(sources.len(), needed, "shard {} sources", shard);
            prop_assert!(sources.iter().all(|v| o.contains(*v)), "old copies only");
            prop_assert!(n.contains(&c.node));
        }
        // Every write the old config can acknowledge: on some `w` of `o`.
        if w == 0 || o.len() < w {
            continue;
        }
        let o: Vec<&String> = o.iter().collect();
        for acked in subsets(o.len(), w) {
            let on: BTreeSet<&String> = acked.iter().map(|&i| o[i]).collect();
            let holders = n
                .iter()
                .filter(|v| {
                    on.contains(v)
                        || entries
                            .iter()
                            .any(|c| c.node == **v && c.sources.iter().any(|x| on.contains(x)))
                })
                .count();
            prop_assert!(
                holders >= w.min(n.len()),
                "shard {}: a write on {:?} ends on {} new copies of {:?}",
                shard,
                on,
                holders,
                n
            );
        }
    }
    prop_assert!(by_shard.is_empty(), "catch-ups of shards that do not move");
    Ok(())
}

/// Every `k`-subset of `0..n`, as index lists.
fn subsets(n: usize, k: usize) -> Vec<Vec<usize>> {
    (0u32..1 << n)
        .filter(|m| m.count_ones() as usize == k)
        .map(|m| (0..n).filter(|i| m & (1 << i) != 0).collect())
        .collect()
}

/// Node `i` of the pool, in one of three zones.
fn node(i: usize) -> NodeConfig {
    util::node(i, 3)
}

/// A config over the nodes `members` of a pool: per shard, the copies
/// (indices into `members`) and which of them is primary.
fn config_of(
    members: &[usize],
    rf: usize,
    mode: ReplicationMode,
    shards: &[(Vec<usize>, usize)],
    generation: u64,
) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("x", "10.9.9.9:1");
    config.nodes = members.iter().map(|&i| node(i)).collect();
    config.node_id = config.nodes[0].id.clone();
    config.replication_factor = rf;
    config.replication_mode = mode;
    config.shard_count = shards.len() as u32;
    config.generation = generation;
    for (s, (holders, primary)) in shards.iter().enumerate() {
        for (k, &v) in holders.iter().enumerate() {
            if k == *primary {
                config.nodes[v].shards.push(s as ShardId);
            } else {
                config.nodes[v].replica_shards.push(s as ShardId);
            }
        }
    }
    config
}

/// Per shard: `count` distinct members, picked by `picks`, and a primary.
fn pick(members: usize, count: usize, picks: &[Index], primary: Index) -> (Vec<usize>, usize) {
    let mut left: Vec<usize> = (0..members).collect();
    let holders: Vec<usize> = picks
        .iter()
        .take(count.clamp(1, members))
        .map(|p| left.swap_remove(p.index(left.len())))
        .collect();
    let primary = primary.index(holders.len());
    (holders, primary)
}

/// Two valid configs with the same shards and replication over a pool of
/// nodes: the old one's nodes and the new one's overlap (nodes added,
/// removed, replaced); each shard keeps its copies (about half of them)
/// or gets others, with 1 to `rf + 1` copies (so under- and
/// over-replicated shards are among them).
pub(crate) fn transition_pair() -> impl Strategy<Value = (ClusterConfig, ClusterConfig)> {
    let mode = prop_oneof![
        Just(ReplicationMode::Quorum),
        Just(ReplicationMode::Synchronous),
        Just(ReplicationMode::Asynchronous),
    ];
    (1usize..=8, 1usize..=4, 1usize..=48, mode, 0u64..1000)
        .prop_flat_map(|(pool, rf, shards, mode, generation)| {
            let rf = rf.min(pool);
            let members = proptest::sample::subsequence((0..pool).collect::<Vec<_>>(), rf..=pool);
            let shard = (
                0..=rf + 1,
                proptest::collection::vec(any::<Index>(), rf + 1),
                any::<Index>(),
                any::<bool>(),
                0..=rf + 1,
                proptest::collection::vec(any::<Index>(), rf + 1),
                any::<Index>(),
            );
            (
                Just((rf, mode, generation)),
                members.clone(),
                members,
                proptest::collection::vec(shard, shards),
            )
        })
        .prop_map(|((rf, mode, generation), a, b, shards)| {
            let (mut old, mut new) = (Vec::new(), Vec::new());
            for (count, picks, primary, keep, new_count, new_picks, new_primary) in shards {
                let before = pick(a.len(), count, &picks, primary);
                let ids: Vec<usize> = before.0.iter().map(|&v| a[v]).collect();
                // Keep the copies when every holder is in the new config.
                let kept: Option<Vec<usize>> = ids
                    .iter()
                    .map(|id| b.iter().position(|x| x == id))
                    .collect();
                let after = match kept {
                    Some(holders) if keep => {
                        let primary = new_primary.index(holders.len());
                        (holders, primary)
                    }
                    _ => pick(b.len(), new_count, &new_picks, new_primary),
                };
                old.push(before);
                new.push(after);
            }
            (
                config_of(&a, rf, mode, &old, generation),
                // The new config's own generation plays no part.
                config_of(&b, rf, mode, &new, generation / 2),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases("RUSTS_TRANSITION_CASES", 64)))]

    #[test]
    fn prop_every_transition_step_is_safe_beside_the_next((from, to) in transition_pair()) {
        prop_assert!(from.validate().is_ok() && to.validate().is_ok());
        let plan = plan_transition(&from, &to).unwrap();
        check_plan(&from, &to, &plan)?;
    }

    /// The transitions `rebalance` leads to: a node added to or removed
    /// from a balanced cluster in zones.
    #[test]
    fn prop_rebalanced_clusters_transition_safely(
        nodes in 2usize..=12,
        shards in 1u32..=256,
        rf in 1usize..=3,
        remove in any::<Index>(),
        add in any::<bool>(),
    ) {
        let rf = rf.min(nodes - 1);
        let from = balance(&skeleton(nodes, 3, shards, rf), DEFAULT_ZONE_TAG).unwrap();
        let changed = if add {
            with_node_changes(&from, vec![node(nodes)], &[]).unwrap()
        } else {
            let gone = from.nodes[remove.index(nodes)].id.clone();
            with_node_changes(&from, vec![], &[gone]).unwrap()
        };
        let mut to = balance(&changed, DEFAULT_ZONE_TAG).unwrap();
        to.generation = from.generation + 1;
        let plan = plan_transition(&from, &to).unwrap();
        check_plan(&from, &to, &plan)?;
    }
}

/// A check that could not fail would prove nothing: a plan whose catch-up
/// names too few sources is caught.
#[test]
fn the_catch_up_check_can_fail() {
    let from = three_nodes();
    let mut to = from.clone();
    to.nodes[2].id = "d".into();
    to.nodes[2].address = "10.0.0.4:8086".into();
    let mut plan = plan_transition(&from, &to).unwrap();
    assert!(check_plan(&from, &to, &plan).is_ok());
    plan.catch_up[0].sources.truncate(1);
    assert!(check_plan(&from, &to, &plan).is_err());
    let mut plan = plan_transition(&from, &to).unwrap();
    // d's copies, unmarked: they would serve reads before catching up.
    plan.steps[0].config.nodes[2].joining_shards.clear();
    assert!(check_plan(&from, &to, &plan).is_err());
    // A leaving copy left off the drops would never be deleted.
    let mut plan = plan_transition(&from, &to).unwrap();
    plan.drops.pop();
    assert!(check_plan(&from, &to, &plan).is_err());
}

/// a, b, c holding each of 3 shards; RF 3, Quorum; generation 10.
pub(crate) fn three_nodes() -> ClusterConfig {
    let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    config.generation = 10;
    config.shard_count = 3;
    config.replication_factor = 3;
    config.nodes = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, id)| NodeConfig::new(*id, format!("10.0.0.{}:8086", i + 1)))
        .collect();
    for s in 0..3u32 {
        for (i, node) in config.nodes.iter_mut().enumerate() {
            if i == s as usize {
                node.shards.push(s);
            } else {
                node.replica_shards.push(s);
            }
        }
    }
    config
}

#[test]
fn replacing_a_node_moves_its_copies_through_three_steps() {
    let from = three_nodes();
    let mut to = from.clone();
    to.nodes[2].id = "d".into();
    to.nodes[2].address = "10.0.0.4:8086".into();
    to.generation = 0; // ignored: steps count from the old config's
    let plan = plan_transition(&from, &to).unwrap();
    assert_eq!(plan.moving_shards, [0, 1, 2]);
    let gens: Vec<u64> = plan.steps.iter().map(|s| s.config.generation).collect();
    assert_eq!(gens, [11, 12, 13]);
    let files: Vec<String> = plan.steps.iter().map(|s| s.kind.file_name()).collect();
    assert_eq!(
        files,
        ["01-joint-writes.toml", "02-read-new.toml", "03-final.toml"]
    );
    let step1 = &plan.steps[0].config;
    let ids: Vec<&str> = step1.nodes.iter().map(|n| n.id.as_str()).collect();
    assert_eq!(ids, ["a", "b", "d", "c"]);
    assert_eq!(step1.get_node("c").unwrap().shards, [2]);
    assert_eq!(step1.get_node("c").unwrap().leaving_shards, [0, 1, 2]);
    assert_eq!(step1.get_node("d").unwrap().joining_shards, [0, 1, 2]);
    assert_eq!(plan.steps[1].config.get_node("d").unwrap().shards, [2]);
    // Quorum of 3: 2 acknowledgements, so 3 - 2 + 1 = 2 old copies, the
    // stable ones (a and b) before the leaving one.
    assert_eq!(plan.catch_up.len(), 3);
    for c in &plan.catch_up {
        assert_eq!((c.node.as_str(), c.state), ("d", CopyState::Joining));
        assert_eq!(c.sources, ["a", "b"]);
    }
    // The plan's list is the one a node computes from step 1 alone.
    assert_eq!(plan.catch_up, step1.catch_ups());
    // c's copies may go once every node runs step 3.
    let drops: Vec<(ShardId, &str, StepKind)> = plan
        .drops
        .iter()
        .map(|d| (d.shard, d.node.as_str(), d.after))
        .collect();
    assert_eq!(
        drops,
        [0, 1, 2].map(|s| (s, "c", StepKind::Final)),
        "{:?}",
        plan.drops
    );
    // No warning says the move is over- or under-replicated.
    assert!(step1.warnings().is_empty(), "{:?}", step1.warnings());
}

/// A shard with 4 copies brought down to 3, with none added: the copies
/// that stay must catch up, since a write acknowledged on the 2 leaving
/// copies would otherwise be on no new copy.
#[test]
fn a_shard_that_loses_copies_catches_up_stable_ones() {
    let mut from = three_nodes();
    from.nodes.push(NodeConfig::new("d", "10.0.0.4:8086"));
    from.nodes[3].replica_shards.push(0);
    let mut to = from.clone();
    to.nodes[1].replica_shards.retain(|&s| s != 0); // b drops shard 0
    to.nodes[3].replica_shards.clear(); // d too
    to.nodes[3].shards.clear();
    to.nodes[3].replica_shards.push(1); // and takes shard 1
    let plan = plan_transition(&from, &to).unwrap();
    let shard0: Vec<_> = plan.catch_up.iter().filter(|c| c.shard == 0).collect();
    // O = {a, b, c, d}, N = {a, c}: w = 2 new copies must hold every
    // write, so both catch up, from 4 - 2 + 1 = 3 old copies each, their
    // own data first.
    assert_eq!(shard0.len(), 2);
    for c in &shard0 {
        assert_eq!(c.state, CopyState::Stable);
        assert_eq!(c.sources.len(), 3);
        assert!(c.sources.contains(&c.node), "{c:?}");
    }
    let shard1: Vec<_> = plan.catch_up.iter().filter(|c| c.shard == 1).collect();
    assert_eq!(shard1.len(), 1);
    assert_eq!(shard1[0].state, CopyState::Joining);
}

#[test]
fn nothing_moves_no_steps() {
    let from = three_nodes();
    let mut to = from.clone();
    // Primaries, addresses and names change; no copy moves.
    to.nodes[0].shards.clear();
    to.nodes[0].replica_shards = vec![0, 1, 2];
    to.nodes[1].replica_shards = vec![2];
    to.nodes[1].shards = vec![0, 1];
    to.nodes[2].address = "10.0.0.9:8086".into();
    to.cluster_name = "renamed".into();
    let plan = plan_transition(&from, &to).unwrap();
    assert!(plan.is_empty() && plan.catch_up.is_empty() && plan.moving_shards.is_empty());
    assert!(plan.drops.is_empty());
    assert!(plan_transition(&from, &from).unwrap().is_empty());
}

#[test]
fn changes_a_transition_cannot_make_are_refused_naming_both_values() {
    let from = three_nodes();
    let mut to = from.clone();
    to.shard_count = 6;
    for s in 3..6 {
        to.nodes[0].shards.push(s);
    }
    let err = plan_transition(&from, &to).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::ShardCountChanged { from: 3, to: 6 }
    ));
    assert!(
        err.to_string().contains("by a split (an integer factor)"),
        "{err}"
    );

    let mut to = from.clone();
    to.sharding_strategy = ShardingStrategy::ByMeasurement;
    let err = plan_transition(&from, &to).unwrap_err();
    assert!(matches!(err, PlacementError::StrategyChanged { .. }));
    assert!(err.to_string().contains("ByMeasurement"), "{err}");

    let mut to = from.clone();
    to.replication_factor = 2;
    let err = plan_transition(&from, &to).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::ReplicationChanged {
            from_factor: 3,
            to_factor: 2,
            ..
        }
    ));
    assert_eq!(
        err.to_string(),
        "the replication settings differ (old: `replication_mode` Quorum, `replication_factor` 3; \
         new: Quorum, 2), and the change cannot be deployed in one step: nodes running the two \
         configs at once count a write's acknowledgements and a read's copies by different \
         rules, so a read under one can miss a write acknowledged under the other (Quorum and \
         Synchronous at factor 3, factor 3 to 4); a transition keeps them and no plan changes \
         them yet, so keep the old settings in the new config (docs/operations.md, \"Changing \
         the replication settings\")"
    );

    let mut from_max = from.clone();
    from_max.generation = u64::MAX - 2;
    let err = plan_transition(&from_max, &from).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::Config(ConfigError::GenerationOverflow { steps: 3, .. })
    ));
}

#[test]
fn invalid_and_moving_configs_are_refused_naming_which() {
    let from = three_nodes();
    let mut broken = from.clone();
    broken.nodes[0].shards.clear();
    let err = plan_transition(&from, &broken).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::Invalid {
            config: ConfigRole::To,
            ..
        }
    ));
    assert_eq!(err.validation_errors()[0].code(), "missing-primary");
    let err = plan_transition(&broken, &from).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::Invalid {
            config: ConfigRole::From,
            ..
        }
    ));

    // A step of a transition is not where one starts.
    let mut to = from.clone();
    to.nodes[2].id = "d".into();
    to.nodes[2].address = "10.0.0.4:8086".into();
    let step1 = plan_transition(&from, &to).unwrap().steps[0].config.clone();
    let err = plan_transition(&step1, &to).unwrap_err();
    assert!(matches!(
        &err,
        PlacementError::Moving { config: ConfigRole::From, shards } if shards == &[0, 1, 2]
    ));
    assert!(err.to_string().starts_with(
        "the old config is a step of a transition: shards 0, 1, 2 have moving copies"
    ));
    let err = balance(&step1, DEFAULT_ZONE_TAG).unwrap_err();
    assert!(matches!(
        err,
        PlacementError::Moving {
            config: ConfigRole::Placed,
            ..
        }
    ));
}

/// A node that leaves runs until its copies are gone; a new node cannot
/// take its address meanwhile.
#[test]
fn a_leaving_nodes_address_cannot_be_reused() {
    let from = three_nodes();
    let mut to = from.clone();
    to.nodes[2].id = "d".into();
    let err = plan_transition(&from, &to).unwrap_err();
    assert!(matches!(
        &err,
        PlacementError::AddressInUse { address, leaving, node }
            if address == "10.0.0.3:8086" && leaving == "c" && node == "d"
    ));
}

/// A node that stays and moves to another address cannot hand its old one
/// to another node in the same transition: nodes still on the old config
/// would send it the first node's writes, which it would acknowledge.
#[test]
fn a_moved_nodes_old_address_cannot_pass_to_another_node() {
    let from = three_nodes();
    let mut to = from.clone();
    to.nodes[2].address = "10.0.0.9:8086".into();
    let mut d = NodeConfig::new("d", "10.0.0.3:8086");
    d.replica_shards.push(0);
    to.nodes[0].replica_shards.retain(|&s| s != 0);
    to.nodes[1].replica_shards.retain(|&s| s != 0);
    to.nodes[1].replica_shards.push(0);
    to.nodes[2].replica_shards.retain(|&s| s != 0);
    to.nodes.push(d);
    to.validate().unwrap();
    let handovers = address_handovers(&from, &to);
    assert_eq!(handovers.len(), 1);
    let h = &handovers[0];
    assert_eq!(
        (
            h.address.as_str(),
            h.from_node.as_str(),
            h.to_node.as_str(),
            h.removed
        ),
        ("10.0.0.3:8086", "c", "d", false)
    );
    let err = plan_transition(&from, &to).unwrap_err();
    assert!(matches!(
        &err,
        PlacementError::AddressHandedOver(h)
            if h.address == "10.0.0.3:8086" && h.from_node == "c" && h.to_node == "d"
    ));
    assert!(
        err.to_string()
            .contains("move \"c\" off it (or remove it) first"),
        "{err}"
    );
    // In two deployments: c moves first (nothing moves, no steps)...
    let mut moved = from.clone();
    moved.nodes[2].address = "10.0.0.9:8086".into();
    assert!(address_handovers(&from, &moved).is_empty());
    assert!(plan_transition(&from, &moved).unwrap().is_empty());
    // ...then d takes the free address.
    assert!(address_handovers(&moved, &to).is_empty());
    assert!(!plan_transition(&moved, &to).unwrap().is_empty());
}

/// Two nodes that swap addresses hand each one over; a node without
/// copies receives no requests, so its address may pass at once.
#[test]
fn address_handovers_count_only_nodes_that_hold_copies() {
    let from = three_nodes();
    let mut swapped = from.clone();
    swapped.nodes[0].address = "10.0.0.2:8086".into();
    swapped.nodes[1].address = "10.0.0.1:8086".into();
    let pairs: Vec<(String, String)> = address_handovers(&from, &swapped)
        .into_iter()
        .map(|h| (h.from_node, h.to_node))
        .collect();
    assert_eq!(pairs, [("a".into(), "b".into()), ("b".into(), "a".into())]);
    // A swap moves no copy, but the plan still refuses it.
    assert!(matches!(
        plan_transition(&from, &swapped).unwrap_err(),
        PlacementError::AddressHandedOver { .. }
    ));
    let mut idle = from.clone();
    idle.nodes.push(NodeConfig::new("e", "10.0.0.5:8086"));
    let mut taken = idle.clone();
    taken.nodes.retain(|n| n.id != "e");
    taken.nodes.push(NodeConfig::new("f", "10.0.0.5:8086"));
    assert!(address_handovers(&idle, &taken).is_empty());
    assert!(plan_transition(&idle, &taken).unwrap().is_empty());
}

/// Issue 21, item 1. Before, a removed node that held no copy (e) was left
/// out of steps 1-3, so it kept running the old config while its peers on
/// step 1 accepted it, and "every node reports step 1" did not wait for
/// it: after the catch-up, e acknowledged a write on the old copies of
/// {a, b, c} (Quorum, factor 3: a and c), which the catch-up into d had
/// passed; once step 2 was out, a Quorum read of {a, b, d} from b and d
/// missed it. Now e is in steps 1 and 2, holding nothing, so it takes each
/// before the cluster goes on; it is not in step 3, and is stopped once
/// every node runs step 3.
#[test]
fn a_removed_node_without_copies_stays_through_step_2() {
    let mut from = three_nodes();
    from.nodes.push(NodeConfig::new("e", "10.0.0.5:8086"));
    let mut to = three_nodes();
    to.nodes[2].id = "d".into();
    to.nodes[2].address = "10.0.0.4:8086".into();
    let plan = plan_transition(&from, &to).unwrap();
    let ids = |k: usize| -> Vec<&str> {
        plan.steps[k]
            .config
            .nodes
            .iter()
            .map(|n| n.id.as_str())
            .collect()
    };
    assert_eq!(ids(0), ["a", "b", "d", "c", "e"]);
    assert_eq!(ids(1), ["a", "b", "d", "c", "e"]);
    assert_eq!(ids(2), ["a", "b", "d"]);
    for step in &plan.steps[..2] {
        let e = step.config.get_node("e").unwrap();
        assert_eq!(e.address, "10.0.0.5:8086");
        assert!(e.shards.is_empty() && e.replica_shards.is_empty());
        assert!(e.joining_shards.is_empty() && e.leaving_shards.is_empty());
    }
    // So its address stays its own until step 3: a new node may not take
    // it in the same transition, also respelled.
    let mut taken = to.clone();
    taken.nodes[2].address = "10.0.0.5:08086".into();
    assert!(matches!(
        plan_transition(&from, &taken).unwrap_err(),
        PlacementError::AddressInUse { address, leaving, node }
            if address == "10.0.0.5:8086" && leaving == "e" && node == "d"
    ));
}

/// Issue 21, item 2. Before, the hand-over check compared addresses as
/// written, so c removed and d given `10.0.0.3:08086` (c's address with
/// another port spelling) passed, and step 1, which holds both, was
/// refused by `validate` (`duplicate-address`) after the plan was written.
/// Now the plan is refused, naming both nodes.
#[test]
fn a_removed_nodes_address_respelled_is_still_its_address() {
    let from = three_nodes();
    for respelled in ["10.0.0.3:08086", "10.0.0.3:8086"] {
        let mut to = from.clone();
        to.nodes[2].id = "d".into();
        to.nodes[2].address = respelled.into();
        let err = plan_transition(&from, &to).unwrap_err();
        assert!(
            matches!(
                &err,
                PlacementError::AddressInUse { address, leaving, node }
                    if address == "10.0.0.3:8086" && leaving == "c" && node == "d"
            ),
            "{respelled}: {err}"
        );
    }
}

/// Every step of every plan validates: the plan is checked before it is
/// returned, so a planner bug gives `invalid-step` instead of a file that
/// every node refuses.
#[test]
fn an_invalid_step_is_an_error_with_its_problems() {
    let from = three_nodes();
    let mut to = from.clone();
    to.nodes[2].id = "d".into();
    to.nodes[2].address = "10.0.0.4:8086".into();
    let plan = plan_transition(&from, &to).unwrap();
    for step in &plan.steps {
        step.config.validate().unwrap();
    }
    let err = PlacementError::InvalidStep {
        step: StepKind::JointWrites,
        source: plan.steps[0]
            .config
            .clone()
            .for_node("zz")
            .validate()
            .unwrap_err(),
    };
    assert_eq!(err.code(), "invalid-step");
    assert_eq!(err.validation_errors()[0].code(), "unknown-this-node");
}
