use std::{error::Error as StdError, fmt};

use rusts_cluster_config::ConfigError;
use rusts_cluster_protocol::ProtocolError;
use rusts_cluster_replication::ReplicationError;
use rusts_cluster_routing::RoutingError;
use rusts_cluster_sharding::ShardingError;

/// The one error type of the whole cluster layer, as the architecture
/// defines it.
///
/// Each layer has its own structured error and converts into this one with
/// `?`, into the variant of its layer ([`Config`](Self::Config),
/// [`Sharding`](Self::Sharding), [`Replication`](Self::Replication),
/// [`Routing`](Self::Routing)), which keeps it whole: its
/// [`source()`](StdError::source) is the layer's error, to downcast or to
/// match on, so a program can tell exactly which rule failed and for which
/// shard or node. A layer error that wraps another layer's (a router built
/// from an invalid config) converts into that layer's variant.
///
/// The seed's seven variants are kept, built from strings as the seed
/// builds them, for an engine's own errors: the layer never returns them
/// itself ([`Network`](Self::Network), for example, is for the engine's
/// transport, since the layer does no I/O).
///
/// `{}` prints this error's own message; `{:#}` adds each cause,
/// `: `-separated, as a log line wants it:
///
/// ```
/// use rusts_cluster::{ClusterConfig, ClusterError, ConfigError};
/// use std::error::Error;
///
/// let error = ClusterError::from(ClusterConfig::from_file("/nonexistent.toml").unwrap_err());
/// assert_eq!(error.to_string(), "cluster config error");
/// assert!(format!("{error:#}").starts_with(
///     "cluster config error: cannot read cluster config `/nonexistent.toml`: "
/// ));
/// // The config layer's own error, to match on.
/// let layer = error.source().unwrap().downcast_ref::<ConfigError>().unwrap();
/// assert!(matches!(layer, ConfigError::Io { .. }));
/// assert_eq!(error.code(), "io");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClusterError {
    /// The cluster description cannot be read, is not valid TOML of the
    /// right shape, or breaks a validation rule.
    Configuration(String),
    /// A node id that is not in the cluster.
    NodeNotFound(String),
    /// A shard id that the cluster does not have.
    ShardNotFound(u32),
    /// A write could not be replicated.
    ReplicationFailed(String),
    /// Fewer copies acknowledged a write than its mode requires.
    QuorumNotReached {
        /// Distinct copies that acknowledged success.
        got: usize,
        /// Successful copies the mode requires.
        needed: usize,
    },
    /// A node could not be reached: the engine's transport errors (the
    /// layer does no I/O, so it never returns this).
    Network(String),
    /// A value could not be written as text (TOML).
    Serialization(String),
    /// An error of the config layer: reading, parsing, validating, writing
    /// or splitting a config.
    Config(ConfigError),
    /// An error of the sharding layer: a strategy or a split refused.
    Sharding(ShardingError),
    /// An error of the replication layer: a write's outcome is a failure,
    /// or an answer the quorum cannot take.
    Replication(ReplicationError),
    /// An error of the routing layer: an unknown shard or node, a config a
    /// running router refuses, a peer on another generation.
    Routing(RoutingError),
    /// An error of the protocol core that is its own (a config prepared on
    /// another generation, saved state it cannot read); the core's config
    /// and routing errors convert into [`Config`](Self::Config) and
    /// [`Routing`](Self::Routing).
    Protocol(ProtocolError),
}

/// A `Result` whose error is [`ClusterError`].
pub type Result<T, E = ClusterError> = std::result::Result<T, E>;

impl ClusterError {
    /// A short, stable, kebab-case name of what went wrong: the layer
    /// error's own code (as the CLI's JSON prints it), or, for the seed's
    /// variants, the variant's name.
    pub fn code(&self) -> &'static str {
        match self {
            ClusterError::Configuration(_) => "configuration",
            ClusterError::NodeNotFound(_) => "unknown-node",
            ClusterError::ShardNotFound(_) => "unknown-shard",
            ClusterError::ReplicationFailed(_) => "replication-failed",
            ClusterError::QuorumNotReached { .. } => "quorum-not-reached",
            ClusterError::Network(_) => "network",
            ClusterError::Serialization(_) => "serialization",
            ClusterError::Config(e) => e.code(),
            ClusterError::Sharding(e) => e.code(),
            ClusterError::Replication(e) => e.code(),
            ClusterError::Routing(e) => e.code(),
            ClusterError::Protocol(e) => e.code(),
        }
    }
}

impl fmt::Display for ClusterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClusterError::Configuration(message) | ClusterError::Serialization(message) => {
                f.write_str(message)?
            }
            ClusterError::NodeNotFound(node) => {
                write!(f, "node \"{node}\" is not in the cluster config")?
            }
            ClusterError::ShardNotFound(shard) => write!(f, "shard {shard} does not exist")?,
            ClusterError::ReplicationFailed(message) => write!(f, "replication failed: {message}")?,
            ClusterError::QuorumNotReached { got, needed } => write!(
                f,
                "write reached {got} of the {needed} copies a quorum needs"
            )?,
            ClusterError::Network(message) => write!(f, "network error: {message}")?,
            // The layer's error is the source, so its message is not
            // repeated here; `{:#}` prints it.
            ClusterError::Config(_) => f.write_str("cluster config error")?,
            ClusterError::Sharding(_) => f.write_str("sharding error")?,
            ClusterError::Replication(_) => f.write_str("replication error")?,
            ClusterError::Routing(_) => f.write_str("routing error")?,
            ClusterError::Protocol(_) => f.write_str("protocol error")?,
        }
        if f.alternate() {
            let mut source = self.source();
            while let Some(cause) = source {
                write!(f, ": {cause}")?;
                source = cause.source();
            }
        }
        Ok(())
    }
}

impl StdError for ClusterError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ClusterError::Config(e) => Some(e),
            ClusterError::Sharding(e) => Some(e),
            ClusterError::Replication(e) => Some(e),
            ClusterError::Routing(e) => Some(e),
            ClusterError::Protocol(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ConfigError> for ClusterError {
    fn from(error: ConfigError) -> Self {
        match error {
            ConfigError::Sharding(e) => ClusterError::Sharding(e),
            e => ClusterError::Config(e),
        }
    }
}

impl From<ShardingError> for ClusterError {
    fn from(error: ShardingError) -> Self {
        ClusterError::Sharding(error)
    }
}

impl From<ReplicationError> for ClusterError {
    fn from(error: ReplicationError) -> Self {
        ClusterError::Replication(error)
    }
}

impl From<RoutingError> for ClusterError {
    fn from(error: RoutingError) -> Self {
        match error {
            RoutingError::InvalidConfig(e) => e.into(),
            RoutingError::Replication(e) => e.into(),
            e => ClusterError::Routing(e),
        }
    }
}

impl From<ProtocolError> for ClusterError {
    fn from(error: ProtocolError) -> Self {
        match error {
            ProtocolError::Config(e) => e.into(),
            ProtocolError::Routing(e) => e.into(),
            e => ClusterError::Protocol(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClusterConfig, ShardRouter, ShardingStrategy, ValidationErrorKind};

    fn router() -> ShardRouter {
        ShardRouter::from_config(&ClusterConfig::single_node("n", "127.0.0.1:1")).unwrap()
    }

    #[test]
    fn a_routing_error_is_the_source_and_can_be_matched() {
        let error = ClusterError::from(router().write_quorum(99).unwrap_err());
        let layer = error
            .source()
            .unwrap()
            .downcast_ref::<RoutingError>()
            .unwrap();
        assert!(matches!(
            layer,
            RoutingError::ShardNotFound {
                shard: 99,
                shard_count: 16
            }
        ));
        assert!(matches!(
            error,
            ClusterError::Routing(RoutingError::ShardNotFound { shard: 99, .. })
        ));
        assert_eq!(error.code(), "unknown-shard");
        assert_eq!(error.to_string(), "routing error");
        assert_eq!(
            format!("{error:#}"),
            "routing error: shard 99 does not exist; this cluster has shards 0 to 15"
        );
    }

    #[test]
    fn a_config_error_is_the_source_and_keeps_every_problem() {
        let mut config = ClusterConfig::single_node("n", "127.0.0.1:1");
        config.sharding_strategy = ShardingStrategy::ByTime { duration_nanos: 0 };
        // Through the router, which wraps the config error: it converts into
        // the config layer's variant, not the routing layer's.
        let error = ClusterError::from(ShardRouter::from_config(&config).unwrap_err());
        let layer = error
            .source()
            .unwrap()
            .downcast_ref::<ConfigError>()
            .unwrap();
        assert!(matches!(
            layer.validation_errors(),
            [e] if matches!(e.kind(), ValidationErrorKind::InvalidStrategy(_))
        ));
        assert_eq!(error.code(), "invalid-config");
        assert_eq!(
            format!("{error:#}"),
            "cluster config error: invalid cluster config (1 problem): `duration_nanos` of the \
             ByTime sharding strategy is 0; it must be a positive number of nanoseconds, e.g. \
             3600000000000 for one hour"
        );
    }

    #[test]
    fn causes_below_the_layer_error_are_printed_with_the_alternate_form() {
        let error =
            ClusterError::from(ClusterConfig::from_file("/nonexistent/cluster.toml").unwrap_err());
        let text = format!("{error:#}");
        assert!(
            text.starts_with(
                "cluster config error: cannot read cluster config `/nonexistent/cluster.toml`: "
            ),
            "{text}"
        );
        assert!(text.contains("No such file"), "{text}");
        // The io error is the config error's source, one level down.
        let io = error.source().unwrap().source().unwrap();
        assert!(io.downcast_ref::<std::io::Error>().is_some());
    }

    #[test]
    fn replication_and_sharding_errors_keep_their_variants() {
        let quorum = ClusterError::from(ReplicationError::QuorumNotReached { got: 1, needed: 2 });
        assert!(matches!(
            quorum,
            ClusterError::Replication(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        ));
        assert_eq!(quorum.code(), "quorum-not-reached");
        // A write rule refused through the router converts into the
        // replication layer's variant.
        let mut config = ClusterConfig::single_node("n", "127.0.0.1:1");
        config.read_only_shards = vec![3];
        let router = ShardRouter::from_config(&config).unwrap();
        let refused = ClusterError::from(router.write_quorum(3).unwrap_err());
        assert!(matches!(
            refused,
            ClusterError::Replication(ReplicationError::ShardNotWritable { shard: 3, .. })
        ));
        // A config error that is a sharding rule converts into sharding's.
        let split = ClusterConfig::single_node("n", "127.0.0.1:1")
            .split(1)
            .unwrap_err();
        let split = ClusterError::from(split);
        assert!(matches!(
            split,
            ClusterError::Sharding(ShardingError::SplitFactor { factor: 1 })
        ));
        assert_eq!(split.code(), "split-factor");
    }

    #[test]
    fn the_seed_variants_still_build_from_strings() {
        let errors = [
            ClusterError::Configuration("bad file".to_owned()),
            ClusterError::NodeNotFound("node9".to_owned()),
            ClusterError::ShardNotFound(7),
            ClusterError::ReplicationFailed("disk full".to_owned()),
            ClusterError::QuorumNotReached { got: 1, needed: 2 },
            ClusterError::Network("connection refused".to_owned()),
            ClusterError::Serialization("not TOML".to_owned()),
        ];
        let messages: Vec<String> = errors.iter().map(|e| format!("{e:#}")).collect();
        assert_eq!(
            messages,
            [
                "bad file",
                "node \"node9\" is not in the cluster config",
                "shard 7 does not exist",
                "replication failed: disk full",
                "write reached 1 of the 2 copies a quorum needs",
                "network error: connection refused",
                "not TOML",
            ]
        );
        assert!(errors.iter().all(|e| e.source().is_none()));
        let codes: Vec<&str> = errors.iter().map(ClusterError::code).collect();
        assert_eq!(
            codes,
            [
                "configuration",
                "unknown-node",
                "unknown-shard",
                "replication-failed",
                "quorum-not-reached",
                "network",
                "serialization"
            ]
        );
    }
}
