//! The `[split_from]` record of a split config.

use super::{Errors, ValidationErrorKind};
use crate::ClusterConfig;

/// The record names an older config with a shard count that divides this
/// one's into two or more parts.
pub(super) fn check(config: &ClusterConfig, errors: &mut Errors) {
    let Some(from) = config.split_from else {
        return;
    };
    let n = from.shard_count;
    if n == 0 || n >= config.shard_count || config.shard_count % n != 0 {
        errors.rule(|| ValidationErrorKind::SplitFromShardCount {
            from_shard_count: n,
            shard_count: config.shard_count,
        });
    }
    if from.generation >= config.generation {
        errors.rule(|| ValidationErrorKind::SplitFromGeneration {
            from_generation: from.generation,
            generation: config.generation,
        });
    }
}
