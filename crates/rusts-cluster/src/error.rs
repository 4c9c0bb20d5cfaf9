use std::{error::Error as StdError, fmt::Write as _};

use rusts_cluster_config::ConfigError;
use rusts_cluster_replication::ReplicationError;
use rusts_cluster_routing::RoutingError;
use rusts_cluster_sharding::ShardingError;
use thiserror::Error;

/// The one error type of the whole cluster layer, as the architecture
/// defines it.
///
/// Each layer has its own structured error, and converts into this one with
/// `?`. The conversion keeps what the variants below can hold (a shard id, a
/// quorum's counts) and renders the rest, causes included, into the
/// message. Match on the layer's own error (e.g.
/// [`ConfigError::Invalid`]'s list of [`ValidationError`](crate::ValidationError)s)
/// when a program must know exactly which rule failed.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster description cannot be read, is not valid TOML of the
    /// right shape, or breaks a validation rule.
    #[error("{0}")]
    Configuration(String),
    /// A node id that is not in the cluster.
    #[error("node \"{0}\" is not in the cluster config")]
    NodeNotFound(String),
    /// A shard id that the cluster does not have.
    #[error("shard {0} does not exist")]
    ShardNotFound(u32),
    /// A write could not be replicated.
    #[error("replication failed: {0}")]
    ReplicationFailed(String),
    /// Fewer copies acknowledged a write than its mode requires.
    #[error("write reached {got} of the {needed} copies a quorum needs")]
    QuorumNotReached {
        /// Distinct copies that acknowledged success.
        got: usize,
        /// Successful copies the mode requires.
        needed: usize,
    },
    /// A node could not be reached.
    #[error("network error: {0}")]
    Network(String),
    /// A value could not be written as text (TOML).
    #[error("{0}")]
    Serialization(String),
}

/// A `Result` whose error is [`ClusterError`].
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

/// The error's message followed by each of its causes, `: `-separated.
fn with_causes(error: &dyn StdError) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let _ = write!(text, ": {cause}");
        source = cause.source();
    }
    text
}

impl From<ConfigError> for ClusterError {
    fn from(error: ConfigError) -> Self {
        // A file an operator got wrong (unreadable, not TOML, breaking a
        // rule) is a configuration problem; only failing to write TOML is a
        // serialization one.
        match error {
            ConfigError::Serialize { .. } => ClusterError::Serialization(with_causes(&error)),
            _ => ClusterError::Configuration(with_causes(&error)),
        }
    }
}

impl From<ShardingError> for ClusterError {
    fn from(error: ShardingError) -> Self {
        ClusterError::Configuration(with_causes(&error))
    }
}

impl From<ReplicationError> for ClusterError {
    fn from(error: ReplicationError) -> Self {
        match error {
            ReplicationError::QuorumNotReached { got, needed } => {
                ClusterError::QuorumNotReached { got, needed }
            }
            _ => ClusterError::ReplicationFailed(with_causes(&error)),
        }
    }
}

impl From<RoutingError> for ClusterError {
    fn from(error: RoutingError) -> Self {
        match error {
            RoutingError::InvalidConfig(e) => e.into(),
            RoutingError::ShardNotFound { shard, .. } => ClusterError::ShardNotFound(shard),
            RoutingError::NodeNotFound { node_id } => ClusterError::NodeNotFound(node_id),
            RoutingError::ShardNotWritable { .. } => {
                ClusterError::ReplicationFailed(with_causes(&error))
            }
            _ => ClusterError::Configuration(with_causes(&error)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClusterConfig, ShardRouter, ShardingStrategy};

    #[test]
    fn layer_errors_keep_their_structure_where_the_variants_allow() {
        let quorum = ReplicationError::QuorumNotReached { got: 1, needed: 2 };
        assert_eq!(
            ClusterError::from(quorum),
            ClusterError::QuorumNotReached { got: 1, needed: 2 }
        );

        let router =
            ShardRouter::from_config(&ClusterConfig::single_node("n", "127.0.0.1:1")).unwrap();
        let missing = router
            .set_shard_state(99, crate::ShardState::Offline)
            .unwrap_err();
        assert_eq!(ClusterError::from(missing), ClusterError::ShardNotFound(99));
    }

    #[test]
    fn replication_errors_without_a_variant_keep_their_message() {
        let foreign = ReplicationError::UnexpectedNode {
            node: "z".into(),
            expected: vec!["a".into()],
        };
        assert_eq!(
            ClusterError::from(foreign).to_string(),
            "replication failed: ack from node \"z\" rejected: the write was sent to [\"a\"] \
             only; route each ack to the write it answers"
        );
        let busy = ReplicationError::WriteIdInFlight { id: 3 };
        assert!(matches!(
            ClusterError::from(busy),
            ClusterError::ReplicationFailed(text) if text.starts_with("write id 3 is already in flight")
        ));
    }

    #[test]
    fn config_errors_carry_their_causes_into_the_message() {
        let io = ClusterConfig::from_file("/nonexistent/cluster.toml").unwrap_err();
        let ClusterError::Configuration(text) = ClusterError::from(io) else {
            panic!("an unreadable file is a configuration error")
        };
        assert!(
            text.starts_with("cannot read cluster config `/nonexistent/cluster.toml`: "),
            "{text}"
        );
        assert!(text.contains("No such file"), "{text}");

        let parse = ClusterConfig::from_toml("node_id = ").unwrap_err();
        assert!(matches!(
            ClusterError::from(parse),
            ClusterError::Configuration(_)
        ));

        let mut config = ClusterConfig::single_node("n", "127.0.0.1:1");
        config.sharding_strategy = ShardingStrategy::ByTime { duration_nanos: 0 };
        let invalid = ShardRouter::from_config(&config).unwrap_err();
        assert_eq!(
            ClusterError::from(invalid).to_string(),
            "invalid cluster config (1 problem): `duration_nanos` of the ByTime sharding strategy is 0; \
             it must be a positive number of nanoseconds, e.g. 3600000000000 for one hour"
        );
    }
}
