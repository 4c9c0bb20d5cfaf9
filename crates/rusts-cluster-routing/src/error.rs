use rusts_cluster_config::ConfigError;
use rusts_cluster_sharding::ShardId;
use thiserror::Error;

/// An error from this crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// The config the router was to be built from is invalid; the config
    /// error lists every problem.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    /// No shard has this id.
    #[error("shard {shard} does not exist; this cluster has shards 0 to {}", shard_count.saturating_sub(1))]
    ShardNotFound {
        /// The id asked for.
        shard: ShardId,
        /// The router's shard count.
        shard_count: u32,
    },
    /// No node has this id.
    #[error("node \"{node_id}\" is not in the cluster config; use one of the ids under [[nodes]]")]
    NodeNotFound {
        /// The id asked for.
        node_id: String,
    },
    /// A query asked not to be planned as a full fan-out, and it would read
    /// every shard.
    #[error("query would read all {shard_count} shards: {reason}")]
    QueryNotPruned {
        /// The router's shard count.
        shard_count: u32,
        /// Why the strategy cannot narrow it, and how to narrow it.
        reason: String,
    },
    /// A batch passed to `route_batch` has more keys than its `u32` key
    /// indices can count.
    #[error("a batch of {keys} keys is too large to route at once; split it into batches of at most 4294967295 keys")]
    BatchTooLarge {
        /// The batch's length.
        keys: usize,
    },
}
