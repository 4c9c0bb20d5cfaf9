use std::fmt;

use rusts_cluster_config::{ConfigError, ValidationError};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::{ShardId, ShardingStrategy};
use thiserror::Error;

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
    #[error("no node has id \"{node}\"; check the id against the config's `[[nodes]]`")]
    UnknownNode {
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
        "`shard_count` differs ({old} in the old config, {new} in the new one): a transition moves \
         copies of the same shards; change the count on its own with `rusts-cluster split` (by an \
         integer factor), then plan the transition from the split config"
    )]
    ShardCountChanged {
        /// The old config's `shard_count`.
        old: usize,
        /// The new config's `shard_count`.
        new: usize,
    },
    /// The two configs of a transition have different sharding strategies.
    #[error(
        "`sharding_strategy` differs ({old:?} in the old config, {new:?} in the new one): keys \
         would map to other shards, which no move of copies can follow; keep the old config's \
         strategy in the new one"
    )]
    StrategyChanged {
        /// The old config's strategy.
        old: ShardingStrategy,
        /// The new config's strategy.
        new: ShardingStrategy,
    },
    /// The two configs of a transition replicate differently.
    #[error(
        "the replication settings differ (old: `replication_mode` {old_mode}, \
         `replication_factor` {old_factor}; new: {new_mode}, {new_factor}): a transition keeps \
         them, so change them in a separate step, before or after the move"
    )]
    ReplicationChanged {
        /// The old config's mode.
        old_mode: ReplicationMode,
        /// The new config's mode.
        new_mode: ReplicationMode,
        /// The old config's factor.
        old_factor: usize,
        /// The new config's factor.
        new_factor: usize,
    },
    /// The old config's generation leaves no room for the steps, which are
    /// numbered from it.
    #[error(
        "the old config's `generation` is {generation}, so its steps would need generations past \
         the largest there is; lower the generation in every node's copy first"
    )]
    GenerationOverflow {
        /// The old config's generation.
        generation: u64,
    },
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
    /// A node that stays moves to another address, and another node takes
    /// its old one: nodes still running the old config would send the
    /// first node's requests to the second
    /// ([`address_handovers`](crate::address_handovers)).
    #[error(
        "address {address} is node \"{old_node}\"'s in the old config and node \"{new_node}\"'s \
         in the new one; nodes still running the old config would send \"{old_node}\"'s \
         requests to \"{new_node}\": give \"{new_node}\" another address, or hand the address \
         over in two deployments (move \"{old_node}\" off it first and wait until every node \
         runs that config)"
    )]
    AddressHandedOver {
        /// The address.
        address: String,
        /// The node that has it in the old config.
        old_node: String,
        /// The other node that has it in the new config.
        new_node: String,
    },
}

impl PlacementError {
    /// The validation problems behind the error, when a config breaks
    /// validation rules; empty otherwise.
    pub fn validation_errors(&self) -> &[ValidationError] {
        match self {
            PlacementError::Invalid { source, .. } => source.validation_errors(),
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
    Old,
    /// The config a transition ends with.
    New,
}

impl fmt::Display for ConfigRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ConfigRole::Placed => "the config to place",
            ConfigRole::Old => "the old config",
            ConfigRole::New => "the new config",
        })
    }
}

fn invalid_message(config: ConfigRole) -> &'static str {
    match config {
        ConfigRole::Placed => "cannot place shards on these nodes and settings",
        ConfigRole::Old => "the old config is invalid; a transition starts from a valid config",
        ConfigRole::New => "the new config is invalid; fix it before planning a transition to it",
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
