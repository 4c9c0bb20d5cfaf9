//! The warnings about copies: shards with fewer or more copies than
//! `replication_factor`, and nodes that hold nothing. Zone spread and
//! balance are in `crate::zones`.

use std::collections::BTreeMap;

use rusts_cluster_sharding::{CopyState, ShardId};

use super::{report::Report, ValidationWarning, MAX_REPORTED_WARNINGS, MAX_SHARD_COUNT};
use crate::{copies::Distinct, ClusterConfig};

/// The warnings for `config`, with zones named by the `zone` tag.
pub(crate) fn warnings(config: &ClusterConfig) -> Vec<ValidationWarning> {
    warnings_for_zone_tag(config, crate::DEFAULT_ZONE_TAG)
}

/// The warnings for `config`. Shard-level warnings need a usable
/// `shard_count`; with an invalid one only node-level warnings are given.
pub(crate) fn warnings_for_zone_tag(
    config: &ClusterConfig,
    zone_tag: &str,
) -> Vec<ValidationWarning> {
    let mut warnings = Report::new(MAX_REPORTED_WARNINGS);
    // Built once for every shard-level warning, and only for a shard count
    // that validation would accept: the index allocates per shard.
    let index = (1..=MAX_SHARD_COUNT)
        .contains(&config.shard_count)
        .then(|| config.copy_index());
    let rf = config.replication_factor;
    // With `replication_factor = 0` (an error of its own) every shard would
    // look over-replicated; say nothing about copies until it is fixed.
    if let Some(index) = index.as_ref().filter(|_| rf > 0) {
        // Copies are nodes holding the shard, not list entries: a node that
        // lists a shard twice, or in both lists, is one copy (an error of
        // its own). Counting entries reported "4 copies" where 2 nodes held
        // the shard. A moving shard is counted on each side of its move:
        // its old copies (all but the joining) and its new copies (all but
        // the leaving), each of which should hold the factor.
        let mut distinct = Distinct::new(index);
        // Grouped by copy count so one message covers each group.
        let mut under: BTreeMap<usize, Vec<ShardId>> = BTreeMap::new();
        let mut over: BTreeMap<usize, Vec<ShardId>> = BTreeMap::new();
        for shard in 0..index.shard_count() {
            let (mut old, mut new) = (0, 0);
            distinct.each(index, shard, |copy| {
                old += usize::from(copy.state != CopyState::Joining);
                new += usize::from(copy.state != CopyState::Leaving);
            });
            if old.min(new) < rf {
                under.entry(old.min(new)).or_default().push(shard);
            } else if old.max(new) > rf {
                over.entry(old.max(new)).or_default().push(shard);
            }
        }
        for (copies, shards) in under {
            warnings.add(|| ValidationWarning::UnderReplicated {
                shards,
                copies,
                replication_factor: rf,
                required_acks: config.replication_mode.required_acks(rf),
            });
        }
        for (copies, shards) in over {
            warnings.add(|| ValidationWarning::OverReplicated {
                shards,
                copies,
                replication_factor: rf,
            });
        }
    }
    for node in &config.nodes {
        if let Some(scripts) = super::node_ids::confusable_scripts(&node.id) {
            warnings.add(|| ValidationWarning::MixedScripts {
                node: node.id.clone(),
                scripts,
            });
        }
        if node.shards.is_empty() && node.replica_shards.is_empty() {
            warnings.add(|| ValidationWarning::NodeWithoutShards {
                node: node.id.clone(),
            });
        }
    }
    // At most two of these plus one per zone, each copying at most two ids
    // and a zone name: linear in the file, and bounded below.
    let mut placement = Vec::new();
    crate::zones::spread_and_balance_warnings(config, index.as_ref(), zone_tag, &mut placement);
    for warning in placement {
        warnings.add(|| warning);
    }
    warnings.finish(|omitted| ValidationWarning::TooManyWarnings { omitted })
}
