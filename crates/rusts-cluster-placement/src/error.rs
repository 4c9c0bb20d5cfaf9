use rusts_cluster_config::{ConfigError, ValidationError};
use thiserror::Error;

/// An error from this crate: a placement or plan that cannot be made from
/// the configs given.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PlacementError {
    /// The nodes or the cluster-wide settings (`shard_count`,
    /// `replication_factor`, strategy) break validation rules, so no
    /// placement of the shards on them is valid. They are checked as if no
    /// node listed any shard, since the lists are what placement writes.
    #[error("cannot place shards on these nodes and settings")]
    InvalidConfig {
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
}

impl PlacementError {
    /// The validation problems behind the error, when a config breaks
    /// validation rules; empty otherwise.
    pub fn validation_errors(&self) -> &[ValidationError] {
        match self {
            PlacementError::InvalidConfig { source } => source.validation_errors(),
            PlacementError::UnknownNode { .. } => &[],
        }
    }
}
