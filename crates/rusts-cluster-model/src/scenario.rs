//! The transitions the model and the simulation check: one shard's copies
//! moving from config A to config B, and the generations a procedure
//! deploys between them.

use rusts_cluster_config::{ClusterConfig, NodeConfig};
use rusts_cluster_placement::{plan_transition, plan_way_back, CatchUp};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::ApplyChecks;

/// The most nodes a [`Scenario`] may have: the model keeps per-node sets as
/// bits of a `u8`.
pub const MAX_NODES: usize = 6;

/// The generation of config A in every scenario; the procedure's steps
/// follow it, one generation each.
pub const FIRST_GENERATION: u64 = 1;

/// One shard (shard 0 of a one-shard cluster) whose copies change from
/// `from` (config A) to `to` (config B), in a cluster of `nodes` nodes named
/// `a`, `b`, `c`, ... Every config lists every node, so that any node can
/// coordinate under any generation; a node without a copy holds no shard.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// The replication mode of both configs.
    pub mode: ReplicationMode,
    /// The replication factor of both configs.
    pub replication_factor: usize,
    /// How many nodes the cluster has (at most [`MAX_NODES`]).
    pub nodes: usize,
    /// A's copies of the shard, as node indices, primary first.
    pub from: Vec<usize>,
    /// B's copies of the shard, as node indices, primary first.
    pub to: Vec<usize>,
    /// The nodes B drops (indices), each holding no copy of B: empty
    /// unless [`Scenario::removing`] names some. A lists every node.
    pub removed: Vec<usize>,
}

impl Scenario {
    /// A scenario; panics when a copy is not one of the `nodes` nodes or
    /// there are more than [`MAX_NODES`] nodes (a mistake in a test).
    pub fn new(
        mode: ReplicationMode,
        replication_factor: usize,
        nodes: usize,
        from: &[usize],
        to: &[usize],
    ) -> Self {
        assert!(nodes <= MAX_NODES, "at most {MAX_NODES} nodes");
        assert!(from.iter().chain(to).all(|&n| n < nodes));
        Scenario {
            mode,
            replication_factor,
            nodes,
            from: from.to_vec(),
            to: to.to_vec(),
            removed: Vec::new(),
        }
    }

    /// This scenario with `removed` left out of B (decision 0035); panics
    /// when one is not a node or holds a copy of B (a mistake in a test).
    pub fn removing(mut self, removed: &[usize]) -> Self {
        assert!(removed
            .iter()
            .all(|&n| n < self.nodes && !self.to.contains(&n)));
        self.removed = removed.to_vec();
        self
    }

    /// The id of node `index`: `a`, `b`, ...
    pub fn node_id(index: usize) -> String {
        char::from(b'a' + index as u8).to_string()
    }

    /// A short description, e.g. `quorum rf 3: {a,b,c} -> {a,b,d}`.
    pub fn name(&self) -> String {
        let set = |copies: &[usize]| {
            let ids: Vec<String> = copies.iter().map(|&n| Self::node_id(n)).collect();
            format!("{{{}}}", ids.join(","))
        };
        let removed = if self.removed.is_empty() {
            String::new()
        } else {
            format!(", {} removed", set(&self.removed))
        };
        format!(
            "{} rf {}: {} -> {}{removed}",
            format!("{:?}", self.mode).to_lowercase(),
            self.replication_factor,
            set(&self.from),
            set(&self.to)
        )
    }

    /// The config that places the shard on `copies` (primary first), at
    /// `generation`, as node 0 reads it.
    pub fn config(&self, copies: &[usize], generation: u64) -> ClusterConfig {
        self.config_of(copies, generation, &[])
    }

    /// [`Scenario::config`] without the nodes `left_out`.
    fn config_of(&self, copies: &[usize], generation: u64, left_out: &[usize]) -> ClusterConfig {
        let mut config = ClusterConfig::single_node(Self::node_id(0), address(0));
        config.generation = generation;
        config.replication_mode = self.mode;
        config.replication_factor = self.replication_factor;
        config.shard_count = 1;
        config.nodes = (0..self.nodes)
            .filter(|n| !left_out.contains(n))
            .map(|n| {
                let mut node = NodeConfig::new(Self::node_id(n), address(n));
                if copies.first() == Some(&n) {
                    node.shards = vec![0];
                } else if copies.contains(&n) {
                    node.replica_shards = vec![0];
                }
                node
            })
            .collect();
        config
    }

    /// Config A, at [`FIRST_GENERATION`].
    pub fn config_a(&self) -> ClusterConfig {
        self.config(&self.from, FIRST_GENERATION)
    }

    /// Config B, at `generation`: without the removed nodes.
    pub fn config_b(&self, generation: u64) -> ClusterConfig {
        self.config_of(&self.to, generation, &self.removed)
    }
}

fn address(node: usize) -> String {
    format!("10.0.0.{}:8086", node + 1)
}

/// When, within a procedure, the new copies are brought up to date, and
/// which: the planner's own [`CatchUp`]s, each a copy and the old copies it
/// merges.
///
/// Not a second catch-up type beside placement's, and so not named like
/// one: a [`CatchUp`] says what one copy merges; this says between which
/// steps of a procedure the merging runs. `plan_transition` fixes that
/// window for its own three steps (after the first, before the second),
/// but the model also checks procedures that are not the plan's (B
/// deployed directly after copying under A, or no move at all), so the
/// window belongs to the procedure.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CatchUpSchedule {
    /// Catch-up may start once every node runs at least this step.
    pub start_step: usize,
    /// This step may not be deployed before every target has caught up
    /// (`None`: nothing waits for it).
    pub gate_step: Option<usize>,
    /// The copies that catch up, as the planner names them (node ids of
    /// the scenario, [`Scenario::node_id`]); only shard 0's are checked.
    pub copies: Vec<CatchUp>,
}

/// A procedure's generations: `steps[0]` is config A, the last is B (each
/// as node 0 reads it; the model and the simulation set `node_id` for each
/// node), and how the new copies catch up.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Procedure {
    /// What the procedure is called in reports.
    pub name: String,
    /// One config per generation, A first, B last.
    pub steps: Vec<ClusterConfig>,
    /// The catch-up of the new copies.
    pub catch_up: CatchUpSchedule,
    /// The checks each node's core prepares every step with: all of them
    /// for a procedure of real steps; a procedure that skips steps (to
    /// show what that loses) needs the router's override, which is what
    /// an operator skipping them would have to use.
    pub checks: ApplyChecks,
}

impl Procedure {
    /// The transition procedure: A, then the three steps of
    /// `plan_transition(A, B)` (joint writes, read new, final), with the
    /// plan's catch-up once every node runs the first step and before the
    /// second is deployed.
    ///
    /// # Panics
    ///
    /// When the planner refuses the scenario.
    pub fn staged(scenario: &Scenario) -> Self {
        let a = scenario.config_a();
        let plan = plan_transition(&a, &scenario.config_b(a.generation + 1))
            .unwrap_or_else(|error| panic!("{}: {error}", scenario.name()));
        let mut steps = vec![a];
        steps.extend(plan.steps.iter().map(|step| step.config.clone()));
        Procedure {
            name: "three steps (plan_transition)".to_owned(),
            catch_up: CatchUpSchedule {
                start_step: 1,
                gate_step: Some(2),
                copies: plan.catch_up,
            },
            steps,
            checks: ApplyChecks::All,
        }
    }

    /// Today's procedure (docs/operations.md before issue 13): copy each
    /// moving shard to its new nodes while every node runs A, then deploy
    /// B directly, one node after another; a node deletes a copy B no
    /// longer lists when it moves to B. The copying is the planner's
    /// catch-up (its targets and sources), so that the only difference from
    /// [`Procedure::staged`] is the missing joint steps.
    pub fn one_step(scenario: &Scenario) -> Self {
        let a = scenario.config_a();
        let b = scenario.config_b(a.generation + 1);
        let plan =
            plan_transition(&a, &b).unwrap_or_else(|error| panic!("{}: {error}", scenario.name()));
        Procedure {
            name: "one step (deploy B directly)".to_owned(),
            catch_up: CatchUpSchedule {
                start_step: 0,
                gate_step: Some(1),
                copies: plan.catch_up,
            },
            steps: vec![a, b],
            // B follows A in one step, which `apply` refuses.
            checks: ApplyChecks::UnsafeSkipStepChecks,
        }
    }

    /// The procedure before decision 0035: [`Procedure::staged`] with the
    /// removed nodes (those holding no copy) left out of all three steps,
    /// as the planner once made them. Such a node runs A until the
    /// operator stops it, which the old runbook allowed as late as just
    /// before step 2 (after the catch-up); the model stops a node that
    /// no step after A lists when step 2 is deployed.
    ///
    /// # Panics
    ///
    /// When the planner refuses the scenario.
    pub fn staged_without_removed(scenario: &Scenario) -> Self {
        let mut procedure = Self::staged(scenario);
        let removed: Vec<String> = scenario
            .removed
            .iter()
            .map(|&n| Scenario::node_id(n))
            .collect();
        for step in &mut procedure.steps[1..] {
            step.nodes.retain(|node| !removed.contains(&node.id));
        }
        procedure.name = "three steps, removed nodes in none (before 0035)".to_owned();
        procedure
    }

    /// The way back from step 1 (`docs/decisions/0043-the-way-back.md`):
    /// A, step 1 of `plan_transition(A, B)`, then `plan_way_back`'s A at
    /// the next generation. The catch-up may start once every node runs
    /// step 1 (the operator may turn back while it runs, or after it), and
    /// nothing waits for it.
    ///
    /// # Panics
    ///
    /// When a planner refuses the scenario.
    pub fn back_from_joint_writes(scenario: &Scenario) -> Self {
        let (staged, plan) = Self::staged_and_plan(scenario);
        let mut steps = staged.steps[..2].to_vec();
        steps.extend(back_steps(scenario, &steps[0], &steps[1]));
        Procedure {
            name: "step 1, then back (plan_way_back)".to_owned(),
            catch_up: CatchUpSchedule {
                start_step: 1,
                gate_step: None,
                copies: plan,
            },
            steps,
            checks: ApplyChecks::All,
        }
    }

    /// The way back from step 2: A, steps 1 and 2 of the plan (with its
    /// catch-up before step 2), then `plan_way_back`'s step 1 again and A.
    ///
    /// # Panics
    ///
    /// When a planner refuses the scenario.
    pub fn back_from_read_new(scenario: &Scenario) -> Self {
        let (staged, plan) = Self::staged_and_plan(scenario);
        let mut steps = staged.steps[..3].to_vec();
        steps.extend(back_steps(scenario, &steps[0], &steps[2]));
        Procedure {
            name: "steps 1 and 2, then back through step 1 (plan_way_back)".to_owned(),
            catch_up: CatchUpSchedule {
                start_step: 1,
                gate_step: Some(2),
                copies: plan,
            },
            steps,
            checks: ApplyChecks::All,
        }
    }

    /// The unsafe way back from step 2: A, steps 1 and 2, then A at the
    /// next generation, without step 1 again. `apply` refuses it (the
    /// shard's copies and read set change at once), so, like
    /// [`Procedure::one_step`], it is prepared with the router's override.
    ///
    /// # Panics
    ///
    /// When a planner refuses the scenario.
    pub fn straight_back_from_read_new(scenario: &Scenario) -> Self {
        let (staged, plan) = Self::staged_and_plan(scenario);
        let mut steps = staged.steps[..3].to_vec();
        let mut a = steps[0].clone();
        a.generation = steps[2].generation + 1;
        steps.push(a);
        Procedure {
            name: "steps 1 and 2, then A directly".to_owned(),
            catch_up: CatchUpSchedule {
                start_step: 1,
                gate_step: Some(2),
                copies: plan,
            },
            steps,
            checks: ApplyChecks::UnsafeSkipStepChecks,
        }
    }

    /// [`Procedure::staged`] and its catch-up copies.
    fn staged_and_plan(scenario: &Scenario) -> (Procedure, Vec<CatchUp>) {
        let staged = Self::staged(scenario);
        let copies = staged.catch_up.copies.clone();
        (staged, copies)
    }

    /// No move at all: A, then A again at the next generation. Every
    /// write rule and read rule is the stable one.
    pub fn unchanged(scenario: &Scenario) -> Self {
        let a = scenario.config_a();
        let mut again = a.clone();
        again.generation += 1;
        Procedure {
            name: "no move (A redeployed)".to_owned(),
            catch_up: CatchUpSchedule {
                start_step: 0,
                gate_step: None,
                copies: Vec::new(),
            },
            steps: vec![a, again],
            checks: ApplyChecks::All,
        }
    }
}

/// `plan_way_back(a, at)`'s configs.
fn back_steps(scenario: &Scenario, a: &ClusterConfig, at: &ClusterConfig) -> Vec<ClusterConfig> {
    plan_way_back(a, at)
        .unwrap_or_else(|error| panic!("{}: {error}", scenario.name()))
        .steps
        .into_iter()
        .map(|step| step.config)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_keeps_a_removed_node_without_copies_in_steps_1_and_2_only() {
        // Decision 0035: e (4) holds no copy and B drops it.
        let scenario = Scenario::new(ReplicationMode::Quorum, 3, 5, &[0, 1, 2], &[0, 1, 3]);
        let removing = scenario.clone().removing(&[4]);
        assert_eq!(removing.config_a(), scenario.config_a());
        let lists_e = |config: &ClusterConfig| {
            config
                .nodes
                .iter()
                .find(|n| n.id == "e")
                .map(|n| n.shards.is_empty() && n.replica_shards.is_empty())
        };
        assert_eq!(lists_e(&scenario.config_b(2)), Some(true));
        assert_eq!(lists_e(&removing.config_b(2)), None);
        let steps = Procedure::staged(&removing).steps;
        let listed: Vec<_> = steps.iter().map(lists_e).collect();
        assert_eq!(listed, [Some(true), Some(true), Some(true), None]);
        assert_eq!(
            removing.name(),
            "quorum rf 3: {a,b,c} -> {a,b,d}, {e} removed"
        );
    }
}
