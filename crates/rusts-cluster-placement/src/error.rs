use std::fmt;

use rusts_cluster_config::{AddressHandover, ConfigError, ValidationError};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::{ShardId, ShardingStrategy};
use thiserror::Error;

use crate::{BackStepKind, StepMismatch};

/// An error from this crate: a placement or plan that cannot be made from
/// the configs given.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// A config breaks validation rules. For [`balance`](crate::balance)
    /// ([`ConfigRole::Placed`]) only the nodes and cluster-wide settings
    /// count (`shard_count`, `replication_factor`, strategy), as if no node
    /// listed any shard, since the lists are what placement writes.
    #[error("{}", invalid_message(*config))]
    Invalid {
        /// Which config.
        config: ConfigRole,
        /// [`ConfigError::Invalid`], listing every rule broken.
        #[source]
        source: ConfigError,
    },
    /// A node to remove is not in the config.
    #[error("node \"{node}\" is not in the cluster config; use one of the ids under [[nodes]]")]
    NodeNotFound {
        /// The id given.
        node: String,
    },
    /// A config marks copies as moving (`joining_shards`, `leaving_shards`):
    /// it is a step of a transition, not a placement to start or end at.
    #[error(
        "{config} is a step of a transition: {} moving copies (`joining_shards` or `leaving_shards`); \
         finish that transition first, and plan from the config it ends with (its final step)",
        Shards(shards)
    )]
    Moving {
        /// Which config.
        config: ConfigRole,
        /// The shards with joining or leaving copies, ascending.
        shards: Vec<ShardId>,
    },
    /// The two configs of a transition have different shard counts.
    #[error(
        "`shard_count` differs ({from} in the old config, {to} in the new one): a transition moves \
         copies of the same shards; change the count on its own, by a split (an integer factor), \
         then plan the transition from the split config"
    )]
    ShardCountChanged {
        /// The old config's `shard_count`.
        from: u32,
        /// The new config's `shard_count`.
        to: u32,
    },
    /// The two configs of a transition have different sharding strategies.
    #[error(
        "`sharding_strategy` differs ({from:?} in the old config, {to:?} in the new one): keys \
         would map to other shards, which no move of copies can follow; keep the old config's \
         strategy in the new one"
    )]
    StrategyChanged {
        /// The old config's strategy.
        from: ShardingStrategy,
        /// The new config's strategy.
        to: ShardingStrategy,
    },
    /// The two configs of a transition replicate differently.
    #[error(
        "the replication settings differ (old: `replication_mode` {from_mode}, \
         `replication_factor` {from_factor}; new: {to_mode}, {to_factor}), and the change cannot \
         be deployed in one step: nodes running the two configs at once count a write's \
         acknowledgements and a read's copies by different rules, so a read under one can miss \
         a write acknowledged under the other (Quorum and Synchronous at factor 3, factor 3 to \
         4); a transition keeps them and no plan changes them yet, so keep the old settings in \
         the new config (docs/operations.md, \"Changing the replication settings\")"
    )]
    ReplicationChanged {
        /// The old config's mode.
        from_mode: ReplicationMode,
        /// The new config's mode.
        to_mode: ReplicationMode,
        /// The old config's factor.
        from_factor: usize,
        /// The new config's factor.
        to_factor: usize,
    },
    /// A config-layer error about the old config that is not a broken
    /// rule: its generation leaves no room for the steps, which are
    /// numbered from it ([`ConfigError::GenerationOverflow`]).
    #[error(transparent)]
    Config(ConfigError),
    /// A node that the new config drops holds copies that leave during the
    /// transition, so it runs beside the new config's nodes; but one of
    /// those has its address.
    #[error(
        "node \"{leaving}\" leaves the cluster and node \"{node}\" has its address {address}, \
         but both run at once while \"{leaving}\"'s copies move; give \"{node}\" another \
         address, and move it to this one in a later generation, once \"{leaving}\" is gone \
         (keeping the id \"{leaving}\" is right only for the same disk: a node with that id is \
         taken to hold its copies' data)"
    )]
    AddressInUse {
        /// The address both have.
        address: String,
        /// The node the old config has and the new one drops.
        leaving: String,
        /// The new config's node with that address.
        node: String,
    },
    /// A step of the plan breaks a validation rule, so `validate` and every
    /// node would refuse it. The planner's checks are meant to rule this
    /// out; it is reported instead of writing such a step.
    #[error(
        "step {} ({}) of the plan is not a valid config, so no node would take it; no step \
         is written: fix what the problems below name in the old or new config",
        step.number(), step.name()
    )]
    InvalidStep {
        /// The step.
        step: rusts_cluster_config::StepKind,
        /// [`ConfigError::Invalid`], listing every rule broken.
        #[source]
        source: ConfigError,
    },
    /// A node that stays moves to another address, and another node takes
    /// its old one: nodes still running the old config would send the
    /// first node's requests to the second
    /// ([`address_handovers`](crate::address_handovers)).
    #[error(transparent)]
    AddressHandedOver(AddressHandover),
    /// The config given as a step of a transition marks no copy as
    /// joining or leaving: it is settled (a transition's final step, or a
    /// placement no transition has left), so there is no step to go back
    /// from ([`plan_way_back`](crate::plan_way_back)).
    #[error(
        "the step (generation {generation}) marks no copy as joining or leaving, so it is not \
         step 1 or 2 of a transition: the cluster runs a settled placement (a transition's final \
         step, or none), and the way back from it is a new transition, planned from it to the \
         placement wanted"
    )]
    NotInTransition {
        /// The config's generation.
        generation: u64,
    },
    /// The config given as a step is not step 1 or 2 of a transition from
    /// the config given as its start ([`plan_way_back`](crate::plan_way_back)).
    #[error(
        "the step is not step 1 or 2 of a transition from the start config: {}; give as the \
         start the config every node ran before step 1 was deployed, and as the step the one \
         they run now",
        Mismatches(mismatches)
    )]
    NotTheStart {
        /// Every mismatch found, by kind, then shard and node.
        mismatches: Vec<StepMismatch>,
    },
    /// A config of the way back breaks a validation rule, so `validate`
    /// and every node would refuse it. [`plan_way_back`](crate::plan_way_back)'s
    /// checks are meant to rule this out.
    #[error(
        "the way back's {} config is not valid, so no node would take it; nothing is written: \
         fix what the problems below name in the start config or the step",
        step.name()
    )]
    InvalidBackStep {
        /// Which config of the way back.
        step: BackStepKind,
        /// [`ConfigError::Invalid`], listing every rule broken.
        #[source]
        source: ConfigError,
    },
}

impl PlacementError {
    /// A short, stable, kebab-case name of what went wrong, for scripts
    /// (the CLI's JSON `code`); a wrapped layer's error gives its own.
    /// [`PlacementError::Invalid`] is `invalid-config`: each of its
    /// [`validation_errors`](Self::validation_errors) has a code of its own.
    pub fn code(&self) -> &'static str {
        match self {
            PlacementError::Invalid { .. } => "invalid-config",
            PlacementError::InvalidStep { .. } | PlacementError::InvalidBackStep { .. } => {
                "invalid-step"
            }
            PlacementError::NotInTransition { .. } => "not-in-transition",
            PlacementError::NotTheStart { .. } => "not-the-start",
            PlacementError::NodeNotFound { .. } => "unknown-node",
            PlacementError::Moving { .. } => "in-transition",
            PlacementError::ShardCountChanged { .. } | PlacementError::StrategyChanged { .. } => {
                "mapping-changed"
            }
            PlacementError::ReplicationChanged { .. } => "replication-changed",
            PlacementError::Config(e) => e.code(),
            PlacementError::AddressInUse { .. } | PlacementError::AddressHandedOver(_) => {
                "address-in-use"
            }
        }
    }

    /// The validation problems behind the error, when a config breaks
    /// validation rules; empty otherwise.
    pub fn validation_errors(&self) -> &[ValidationError] {
        match self {
            PlacementError::Invalid { source, .. }
            | PlacementError::InvalidStep { source, .. }
            | PlacementError::InvalidBackStep { source, .. } => source.validation_errors(),
            _ => &[],
        }
    }
}

/// Which config an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConfigRole {
    /// The config given to [`balance`](crate::balance).
    Placed,
    /// The config a transition starts from.
    From,
    /// The config a transition ends with.
    To,
    /// The step of a transition the cluster runs, to go back from
    /// ([`plan_way_back`](crate::plan_way_back)).
    Step,
}

impl fmt::Display for ConfigRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigRole::Placed => "the config to place",
            ConfigRole::From => "the old config",
            ConfigRole::To => "the new config",
            ConfigRole::Step => "the step",
        })
    }
}

fn invalid_message(config: ConfigRole) -> &'static str {
    match config {
        ConfigRole::Placed => "cannot place shards on these nodes and settings",
        ConfigRole::From => "the old config is invalid; a transition starts from a valid config",
        ConfigRole::To => "the new config is invalid; fix it before planning a transition to it",
        ConfigRole::Step => "the step is invalid; the way back starts from a valid step",
    }
}

/// `shard 3 has` or `shards 1, 4 and 7 more have`, for messages.
struct Shards<'a>(&'a [ShardId]);

impl fmt::Display for Shards<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        match self.0 {
            [one] => write!(f, "shard {one} has"),
            many => {
                let shown: Vec<String> = many.iter().take(SHOWN).map(u32::to_string).collect();
                write!(f, "shards {}", shown.join(", "))?;
                if many.len() > SHOWN {
                    write!(f, " and {} more", many.len() - SHOWN)?;
                }
                f.write_str(" have")
            }
        }
    }
}

/// The first few mismatches, joined, and how many more there are.
struct Mismatches<'a>(&'a [StepMismatch]);

impl fmt::Display for Mismatches<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 4;
        for (i, m) in self.0.iter().take(SHOWN).enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{m}")?;
        }
        if self.0.len() > SHOWN {
            write!(f, "; and {} more", self.0.len() - SHOWN)?;
        }
        Ok(())
    }
}
