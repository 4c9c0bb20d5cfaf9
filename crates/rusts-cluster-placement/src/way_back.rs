//! The way back: the configs that take a cluster from step 1 or step 2 of
//! a transition back to the placement it started from
//! (`docs/decisions/0043-the-way-back.md`).
//!
//! Every copy of both placements receives writes in steps 1 and 2, so the
//! start's copies hold every acknowledged write throughout, and going back
//! needs no catch-up. What it needs is the shape of each generation beside
//! the one before: from step 1 the start's placement follows at once
//! (joining copies dropped, leaving ones stable again, reads still on the
//! start's copies); from step 2 reads are on the new copies, so the start's
//! placement one generation later would change a shard's copies and its
//! read set at once, which loses writes (the model's
//! `way_back::going_straight_back_from_step_2_fails_the_check`). Step 1
//! comes first again.

use std::collections::HashMap;

use rusts_cluster_config::{address_handovers, ClusterConfig, MoveReads, StepKind};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::{CopyState, ShardId, ShardingStrategy};
use serde::Serialize;

use crate::{ConfigRole, PlacementError};

/// The configs that take a cluster from step 1 or 2 of a transition back
/// to the placement it started from. From [`plan_way_back`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct WayBack {
    /// The step the cluster runs: [`StepKind::JointWrites`] or
    /// [`StepKind::ReadNew`].
    pub from: StepKind,
    /// The configs, in the order they are deployed: one from step 1, two
    /// from step 2.
    pub steps: Vec<BackStep>,
    /// The nodes of the step that the start config does not have (the
    /// transition's new nodes), by id: each holds only joining copies and
    /// is in every step but the last, so it is stopped once every node
    /// reports the last step's generation, and before any later config is
    /// deployed.
    pub stop: Vec<String>,
}

/// One config of a [`WayBack`], to deploy to every node it names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BackStep {
    /// Which config it is.
    pub kind: BackStepKind,
    /// Its place in the way back, from 1.
    pub number: u64,
    /// The config to deploy: one generation above the one before.
    pub config: ClusterConfig,
}

impl BackStep {
    /// The file it is written to, `NN-back-NAME.toml`, so that name order
    /// is deployment order: `01-back-joint-writes.toml` and
    /// `02-back-start.toml` from step 2, `01-back-start.toml` from step 1.
    pub fn file_name(&self) -> String {
        format!("{:02}-back-{}.toml", self.number, self.kind.name())
    }
}

/// The two kinds of config on the way back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum BackStepKind {
    /// Step 1 of the transition again (the start's primaries, every copy
    /// with its mark, `move_reads = "old"`) at the generation after step
    /// 2: reads go back to the start's copies while copies stay.
    JointWrites,
    /// The start config's placement: joining copies dropped, leaving ones
    /// stable again.
    Start,
}

impl BackStepKind {
    /// The name: `joint-writes` or `start`.
    pub fn name(self) -> &'static str {
        match self {
            BackStepKind::JointWrites => "joint-writes",
            BackStepKind::Start => "start",
        }
    }
}

/// One way in which a config is not step 1 or 2 of a transition from the
/// start config ([`PlacementError::NotTheStart`]).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StepMismatch {
    /// Another `shard_count`.
    ShardCount {
        /// The start config's.
        start: u32,
        /// The step's.
        step: u32,
    },
    /// Another `sharding_strategy`.
    Strategy {
        /// The start config's.
        start: ShardingStrategy,
        /// The step's.
        step: ShardingStrategy,
    },
    /// Other replication settings.
    Replication {
        /// The start config's mode.
        start_mode: ReplicationMode,
        /// The step's mode.
        step_mode: ReplicationMode,
        /// The start config's factor.
        start_factor: usize,
        /// The step's factor.
        step_factor: usize,
    },
    /// The step's generation is not the start's plus its number.
    Generation {
        /// Which step the step is, by its `move_reads`.
        kind: StepKind,
        /// The start config's generation.
        start: u64,
        /// The step's generation.
        step: u64,
    },
    /// A node of the start config is not in the step (a transition keeps
    /// every node of its start through step 2).
    NodeMissing {
        /// The node's id.
        node: String,
    },
    /// A copy differs in a way no transition step has: a copy of the
    /// start that the step lacks or marks joining, or a copy of the step
    /// that the start lacks and that is not joining.
    Copy {
        /// The shard.
        shard: ShardId,
        /// The node.
        node: String,
        /// Whether the start config has the copy.
        in_start: bool,
        /// The copy's state in the step, `None` for no copy.
        in_step: Option<CopyState>,
    },
    /// Step 1 has another primary than the start (a transition changes
    /// primaries only at step 2).
    Primary {
        /// The shard.
        shard: ShardId,
        /// The start config's primary.
        start: String,
        /// The step's primary.
        step: String,
    },
}

impl std::fmt::Display for StepMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StepMismatch::ShardCount { start, step } => {
                write!(f, "`shard_count` is {start} in the start config and {step} in the step")
            }
            StepMismatch::Strategy { start, step } => write!(
                f,
                "`sharding_strategy` is {start:?} in the start config and {step:?} in the step"
            ),
            StepMismatch::Replication {
                start_mode,
                step_mode,
                start_factor,
                step_factor,
            } => write!(
                f,
                "the replication settings are {start_mode} at factor {start_factor} in the start \
                 config and {step_mode} at factor {step_factor} in the step"
            ),
            StepMismatch::Generation { kind, start, step } => write!(
                f,
                "the step has generation {step}, but step {} ({}) of a transition from \
                 generation {start} has generation {}",
                kind.number(),
                kind.name(),
                start.saturating_add(kind.number())
            ),
            StepMismatch::NodeMissing { node } => {
                write!(f, "node \"{node}\" of the start config is not in the step")
            }
            StepMismatch::Copy {
                shard,
                node,
                in_start,
                in_step,
            } => match (in_start, in_step) {
                (true, None) => write!(
                    f,
                    "shard {shard} has a copy on \"{node}\" in the start config and none in the step"
                ),
                (true, Some(state)) => write!(
                    f,
                    "shard {shard}'s copy on \"{node}\" is {state} in the step, but the start \
                     config has it already"
                ),
                (false, Some(state)) => write!(
                    f,
                    "shard {shard} has a {state} copy on \"{node}\" in the step, which the start \
                     config does not have (only joining copies are new in a step)"
                ),
                (false, None) => write!(f, "shard {shard} has no copy on \"{node}\""),
            },
            StepMismatch::Primary { shard, start, step } => write!(
                f,
                "shard {shard}'s primary is \"{start}\" in the start config and \"{step}\" in \
                 the step, which keeps the start's primaries at step 1"
            ),
        }
    }
}

/// Plans the way back from `at`, step 1 or step 2 of a transition that
/// started from `start`, to `start`'s placement
/// (`docs/decisions/0043-the-way-back.md`).
///
/// `at` is recognised by its marks: it marks copies joining or leaving,
/// and `move_reads = "old"` makes it step 1 (at `start`'s generation plus
/// 1), `"new"` step 2 (plus 2). Its copies less the joining ones must be
/// `start`'s, its leaving marks only on `start`'s copies, with `start`'s
/// nodes, shard count, strategy and replication settings, and at step 1
/// `start`'s primaries.
///
/// - From step 1 (generation `g + 1`): one config, [`BackStepKind::Start`]:
///   `start` at `g + 2`. Each joining copy is dropped and each leaving one
///   is stable again; every shard still reads from `start`'s copies.
/// - From step 2 (`g + 2`): two. [`BackStepKind::JointWrites`], `at` with
///   `start`'s primaries and `move_reads = "old"` at `g + 3` (step 1
///   again: the same copies, reads back on `start`'s), then
///   [`BackStepKind::Start`], `start` at `g + 4`.
///
/// No catch-up is needed: every copy of `start` received every write in
/// steps 1 and 2. The nodes `at` has and `start` lacks are listed in
/// [`WayBack::stop`].
///
/// # Errors
///
/// - [`PlacementError::Invalid`] when `start` ([`ConfigRole::From`]) or `at`
///   ([`ConfigRole::Step`]) is invalid; [`PlacementError::Moving`] when
///   `start` marks copies as moving.
/// - [`PlacementError::NotInTransition`] when `at` marks no copy as
///   moving: a settled config (a transition's final step, or none) is left
///   by a new transition, not a way back.
/// - [`PlacementError::NotTheStart`], listing every mismatch, when `at` is
///   not step 1 or 2 of a transition from `start`.
/// - [`PlacementError::Config`] when the generations overflow;
///   [`PlacementError::AddressInUse`] or
///   [`PlacementError::AddressHandedOver`] when a node the way back drops
///   has an address `start` gives another node;
///   [`PlacementError::InvalidBackStep`] when a config of the way back
///   breaks a validation rule (the checks are meant to rule it out).
///
/// ```
/// use rusts_cluster_config::{ClusterConfig, MoveReads};
/// use rusts_cluster_placement::{plan_transition, plan_way_back, BackStepKind};
///
/// let start = ClusterConfig::from_toml(r#"
///     generation = 4
///     replication_factor = 2
///     shard_count = 2
///     [[nodes]]
///     id = "a"
///     address = "10.0.0.1:8086"
///     shards = [0]
///     replica_shards = [1]
///     [[nodes]]
///     id = "b"
///     address = "10.0.0.2:8086"
///     shards = [1]
///     replica_shards = [0]
/// "#)?;
/// // Node "b" is being replaced by node "c"; the cluster runs step 2.
/// let mut new = start.clone();
/// new.nodes[1].id = "c".into();
/// new.nodes[1].address = "10.0.0.3:8086".into();
/// let plan = plan_transition(&start, &new)?;
///
/// let back = plan_way_back(&start, &plan.steps[1].config)?;
/// let kinds: Vec<BackStepKind> = back.steps.iter().map(|s| s.kind).collect();
/// assert_eq!(kinds, [BackStepKind::JointWrites, BackStepKind::Start]);
/// // Step 1 again, two generations later, then the start's placement.
/// let mut again = plan.steps[0].config.clone();
/// again.generation = 7;
/// assert_eq!(back.steps[0].config, again);
/// assert_eq!(back.steps[0].config.move_reads, MoveReads::Old);
/// assert_eq!(back.steps[1].config.generation, 8);
/// assert_eq!(back.steps[1].file_name(), "02-back-start.toml");
/// assert_eq!(back.stop, ["c"]);
///
/// // From step 1, the start's placement at once.
/// let back = plan_way_back(&start, &plan.steps[0].config)?;
/// assert_eq!(back.steps.len(), 1);
/// assert_eq!(back.steps[0].config.generation, 6);
///
/// // The final step is settled: leave it by a new transition instead.
/// let refused = plan_way_back(&start, &plan.steps[2].config).unwrap_err();
/// assert_eq!(refused.code(), "not-in-transition");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_way_back(start: &ClusterConfig, at: &ClusterConfig) -> Result<WayBack, PlacementError> {
    for (config, role) in [(start, ConfigRole::From), (at, ConfigRole::Step)] {
        config
            .validate()
            .map_err(|source| PlacementError::Invalid {
                config: role,
                source,
            })?;
    }
    let shards = start.moving_shards();
    if !shards.is_empty() {
        return Err(PlacementError::Moving {
            config: ConfigRole::From,
            shards,
        });
    }
    if at.moving_shards().is_empty() {
        return Err(PlacementError::NotInTransition {
            generation: at.generation,
        });
    }
    let from = match at.move_reads {
        MoveReads::Old => StepKind::JointWrites,
        MoveReads::New => StepKind::ReadNew,
    };
    let mismatches = mismatches(start, at, from);
    if !mismatches.is_empty() {
        return Err(PlacementError::NotTheStart { mismatches });
    }
    let back_to = |generation: u64| {
        let mut config = start.clone();
        config.generation = generation;
        config
    };
    let steps = match from {
        StepKind::JointWrites => vec![BackStep {
            kind: BackStepKind::Start,
            number: 1,
            config: back_to(start.next_generation(2).map_err(PlacementError::Config)?),
        }],
        _ => vec![
            BackStep {
                kind: BackStepKind::JointWrites,
                number: 1,
                config: joint_writes_again(
                    start,
                    at,
                    start.next_generation(3).map_err(PlacementError::Config)?,
                ),
            },
            BackStep {
                kind: BackStepKind::Start,
                number: 2,
                config: back_to(start.next_generation(4).map_err(PlacementError::Config)?),
            },
        ],
    };
    let mut before = at;
    for step in &steps {
        step.config
            .validate()
            .map_err(|source| PlacementError::InvalidBackStep {
                step: step.kind,
                source,
            })?;
        if let Some(handover) = address_handovers(before, &step.config).into_iter().next() {
            return Err(handover.into());
        }
        before = &step.config;
    }
    let mut stop: Vec<String> = at
        .nodes
        .iter()
        .filter(|n| start.get_node(&n.id).is_none())
        .map(|n| n.id.clone())
        .collect();
    stop.sort_unstable();
    Ok(WayBack { from, steps, stop })
}

/// Every way in which `at` is not step `kind` of a transition from
/// `start`, both valid and settled or moving as [`plan_way_back`] checked.
fn mismatches(start: &ClusterConfig, at: &ClusterConfig, kind: StepKind) -> Vec<StepMismatch> {
    let mut found = Vec::new();
    if start.sharding_strategy != at.sharding_strategy {
        found.push(StepMismatch::Strategy {
            start: start.sharding_strategy,
            step: at.sharding_strategy,
        });
    }
    if (start.replication_mode, start.replication_factor)
        != (at.replication_mode, at.replication_factor)
    {
        found.push(StepMismatch::Replication {
            start_mode: start.replication_mode,
            step_mode: at.replication_mode,
            start_factor: start.replication_factor,
            step_factor: at.replication_factor,
        });
    }
    if start.generation.checked_add(kind.number()) != Some(at.generation) {
        found.push(StepMismatch::Generation {
            kind,
            start: start.generation,
            step: at.generation,
        });
    }
    for node in &start.nodes {
        if at.get_node(&node.id).is_none() {
            found.push(StepMismatch::NodeMissing {
                node: node.id.clone(),
            });
        }
    }
    if start.shard_count != at.shard_count {
        // The copies of other shards cannot be compared.
        found.push(StepMismatch::ShardCount {
            start: start.shard_count,
            step: at.shard_count,
        });
        return found;
    }
    let (start_index, at_index) = (start.copy_index(), at.copy_index());
    let at_number: HashMap<&str, u32> = at_index
        .nodes(at)
        .enumerate()
        .map(|(i, n)| (n.id.as_str(), i as u32))
        .collect();
    // Each of `start`'s node indices as `at` numbers it.
    let in_at: Vec<Option<u32>> = start_index
        .nodes(start)
        .map(|n| at_number.get(n.id.as_str()).copied())
        .collect();
    let start_id = |node: u32| start_index.node(start, node).id.clone();
    let at_id = |node: u32| at_index.node(at, node).id.clone();
    for s in 0..start.shard_count {
        let (before, now) = (start_index.copies(s), at_index.copies(s));
        for copy in before {
            let state = in_at[copy.node as usize]
                .and_then(|v| now.iter().find(|c| c.node == v))
                .map(|c| c.state);
            if !matches!(state, Some(CopyState::Stable | CopyState::Leaving)) {
                found.push(StepMismatch::Copy {
                    shard: s,
                    node: start_id(copy.node),
                    in_start: true,
                    in_step: state,
                });
            }
        }
        for copy in now {
            let in_start = before
                .iter()
                .any(|c| in_at[c.node as usize] == Some(copy.node));
            if !in_start && copy.state != CopyState::Joining {
                found.push(StepMismatch::Copy {
                    shard: s,
                    node: at_id(copy.node),
                    in_start,
                    in_step: Some(copy.state),
                });
            }
        }
        if kind == StepKind::JointWrites {
            if let (Some(p), Some(q)) = (start_index.primary(s), at_index.primary(s)) {
                if in_at[p as usize] != Some(q) {
                    found.push(StepMismatch::Primary {
                        shard: s,
                        start: start_id(p),
                        step: at_id(q),
                    });
                }
            }
        }
    }
    found
}

/// `at` (step 2) as step 1 again at `generation`: the same nodes and
/// copies with their marks, `start`'s primaries and `move_reads = "old"`.
/// Every copy of `start` is one of `at`'s ([`mismatches`] found none).
fn joint_writes_again(start: &ClusterConfig, at: &ClusterConfig, generation: u64) -> ClusterConfig {
    let index = start.copy_index();
    let primary: Vec<Option<&str>> = (0..start.shard_count)
        .map(|s| index.primary(s).map(|p| index.node(start, p).id.as_str()))
        .collect();
    let mut config = at.clone();
    config.generation = generation;
    config.move_reads = MoveReads::Old;
    for node in &mut config.nodes {
        let mut copies: Vec<ShardId> = node
            .shards
            .iter()
            .chain(&node.replica_shards)
            .copied()
            .collect();
        copies.sort_unstable();
        let (shards, replicas): (Vec<ShardId>, Vec<ShardId>) = copies
            .into_iter()
            .partition(|&s| primary[s as usize] == Some(node.id.as_str()));
        node.shards = shards;
        node.replica_shards = replicas;
    }
    config
}
