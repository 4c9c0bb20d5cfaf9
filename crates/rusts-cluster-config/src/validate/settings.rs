//! The cluster-wide settings: the sharding strategy, `shard_count`,
//! `replication_factor`, and `nodes` and `node_id`.

use super::{Errors, ValidationErrorKind};
use crate::ClusterConfig;

/// The most shards a cluster may have: 2^18 (262,144).
///
/// Validation checks `shard_count` against this before it allocates
/// anything per shard, so a typo such as `shard_count = 1000000000000` fails
/// at once instead of exhausting memory. The ceiling is four times the
/// largest cluster the performance targets are set for (65,536 shards), and
/// a config that lists every copy of this many shards still fits in
/// [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES).
pub const MAX_SHARD_COUNT: u32 = 1 << 18;

/// Checks the settings, with `node_id` as the node the config is checked
/// as; returns whether `shard_count` is usable, that is whether the rules
/// that allocate per shard may run.
pub(super) fn check(config: &ClusterConfig, node_id: &str, errors: &mut Errors) -> bool {
    let nodes = &config.nodes;
    if let Err(e) = config.sharding_strategy.validate() {
        errors.rule(|| e.into());
    }
    let shard_count_ok = match config.shard_count {
        0 => {
            errors.rule(|| ValidationErrorKind::ZeroShardCount);
            false
        }
        n if n > MAX_SHARD_COUNT => {
            errors.rule(|| ValidationErrorKind::ShardCountTooLarge {
                shard_count: n,
                max: MAX_SHARD_COUNT,
            });
            false
        }
        _ => true,
    };
    if config.replication_factor == 0 {
        errors.rule(|| ValidationErrorKind::ZeroReplicationFactor);
    } else if !nodes.is_empty() && config.replication_factor > nodes.len() {
        errors.rule(|| ValidationErrorKind::ReplicationFactorExceedsNodes {
            replication_factor: config.replication_factor,
            nodes: nodes.len(),
        });
    }
    // An empty `node_id` is a config that is no node's (the file every
    // node shares), valid as a description of the cluster.
    if nodes.is_empty() {
        errors.rule(|| ValidationErrorKind::NoNodes);
    } else if !node_id.is_empty() && !nodes.iter().any(|n| n.id == node_id) {
        errors.rule(|| ValidationErrorKind::UnknownThisNode {
            node_id: node_id.to_owned(),
        });
    }
    shard_count_ok
}
