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
}
