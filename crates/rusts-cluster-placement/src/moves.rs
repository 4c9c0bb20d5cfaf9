//! What changes between two configs, shard by shard and node by node: the
//! plan an operator reads before deploying a new placement.

use std::collections::BTreeMap;

use rusts_cluster_config::{ClusterConfig, MAX_SHARD_COUNT};
use rusts_cluster_sharding::ShardId;
use serde::Serialize;

/// The moves that turn one config into another, shard by shard and node by
/// node, from [`plan_moves`].
///
/// This is the operator's view, read before deploying a new placement:
/// which copies go where, the totals per node, and what is at risk. It is
/// not the routing crate's `ConfigChange`, which `ShardRouter::apply`
/// returns once a running router has taken the next generation: the
/// generations, the split if it was one, the shards whose copies changed
/// (by id only; a split's children compared with their parents) and the
/// nodes that came, went or changed address, for an engine to act on. Use
/// a `MovePlan` to review or schedule a change, and a `ConfigChange` to
/// react to one. Both compare the two configs' copy indexes
/// ([`ClusterConfig::copy_index`]); neither is derived from the other,
/// since they compare shards differently across a split (here shards are
/// compared by id, and a changed `shard_count` sets
/// [`mapping_changed`](Self::mapping_changed)).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MovePlan {
    /// Every shard whose copies or primary change, ascending.
    pub shards: Vec<ShardMove>,
    /// Totals for every node of either config, sorted by id.
    pub nodes: Vec<NodeMoves>,
    /// Copies that must be created (streamed from a node that has the
    /// shard).
    pub copies_added: usize,
    /// Copies that are dropped once the new config is in place.
    pub copies_removed: usize,
    /// Shards whose primary changes (no data moves for this alone).
    pub primary_changes: usize,
    /// True when `shard_count` or `sharding_strategy` differ: keys map to
    /// other shards, so every stored series moves, not just copies.
    pub mapping_changed: bool,
}

impl MovePlan {
    /// True when the plan needs a person's attention: the key mapping
    /// changes, a shard has no copy afterwards, or every copy of a shard
    /// changes at once.
    pub fn has_problems(&self) -> bool {
        self.mapping_changed
            || self
                .shards
                .iter()
                .any(|m| m.every_copy_changes || m.left_without_copy)
    }
}

/// How one shard's copies change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShardMove {
    /// The shard.
    pub shard: ShardId,
    /// Its primary before, if it had one.
    pub old_primary: Option<String>,
    /// Its primary after, if it has one.
    pub new_primary: Option<String>,
    /// Nodes that gain a copy, sorted.
    pub added: Vec<String>,
    /// Nodes that lose their copy, sorted.
    pub removed: Vec<String>,
    /// Nodes that hold a copy before and after, sorted.
    pub kept: Vec<String>,
    /// No node keeps a copy: the new copies must be filled from nodes that
    /// are about to drop theirs, so they may only drop them afterwards.
    pub every_copy_changes: bool,
    /// The shard had copies and has none afterwards: its data is lost.
    pub left_without_copy: bool,
}

/// One node's totals in a [`MovePlan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeMoves {
    /// The node's id.
    pub node: String,
    /// Copies it gains.
    pub copies_in: usize,
    /// Copies it drops.
    pub copies_out: usize,
    /// Shards it becomes primary for.
    pub primaries_in: usize,
    /// Shards it stops being primary for.
    pub primaries_out: usize,
}

/// The moves between `old` and `new`: per shard, primary changes and copies
/// added or removed; totals per node; and the shards at risk.
///
/// Shards are compared by id up to the larger `shard_count`. A node is
/// known by its id, so a node whose address changed is the same node.
///
/// ```
/// use rusts_cluster_config::ClusterConfig;
/// use rusts_cluster_placement::plan_moves;
///
/// let old = ClusterConfig::single_node("a", "10.0.0.1:8086");
/// let mut new = old.clone();
/// new.nodes[0].id = "b".into();
/// new.node_id = "b".into();
/// let plan = plan_moves(&old, &new);
/// assert_eq!(plan.copies_added, 16);
/// assert!(plan.shards.iter().all(|m| m.every_copy_changes));
/// assert!(plan.has_problems());
/// ```
pub fn plan_moves(old: &ClusterConfig, new: &ClusterConfig) -> MovePlan {
    let shards = old.shard_count.max(new.shard_count).min(MAX_SHARD_COUNT) as usize;
    let (old_copies, old_primary) = holders(old, shards);
    let (new_copies, new_primary) = holders(new, shards);
    let mut totals: BTreeMap<&str, NodeMoves> = BTreeMap::new();
    for node in old.nodes.iter().chain(&new.nodes) {
        totals.entry(&node.id).or_insert_with(|| NodeMoves {
            node: node.id.clone(),
            copies_in: 0,
            copies_out: 0,
            primaries_in: 0,
            primaries_out: 0,
        });
    }
    let mut moves = Vec::new();
    let (mut added_total, mut removed_total, mut primary_changes) = (0, 0, 0);
    for s in 0..shards {
        let (before, after) = (&old_copies[s], &new_copies[s]);
        let added: Vec<String> = after
            .iter()
            .filter(|n| !before.contains(n))
            .map(|n| n.to_string())
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|n| !after.contains(n))
            .map(|n| n.to_string())
            .collect();
        let kept: Vec<String> = before
            .iter()
            .filter(|n| after.contains(n))
            .map(|n| n.to_string())
            .collect();
        let primary_changed = old_primary[s] != new_primary[s];
        if added.is_empty() && removed.is_empty() && !primary_changed {
            continue;
        }
        for id in &added {
            if let Some(t) = totals.get_mut(id.as_str()) {
                t.copies_in += 1;
            }
        }
        for id in &removed {
            if let Some(t) = totals.get_mut(id.as_str()) {
                t.copies_out += 1;
            }
        }
        if primary_changed {
            primary_changes += 1;
            if let Some(t) = new_primary[s].and_then(|p| totals.get_mut(p)) {
                t.primaries_in += 1;
            }
            if let Some(t) = old_primary[s].and_then(|p| totals.get_mut(p)) {
                t.primaries_out += 1;
            }
        }
        added_total += added.len();
        removed_total += removed.len();
        moves.push(ShardMove {
            shard: s as ShardId,
            old_primary: old_primary[s].map(str::to_owned),
            new_primary: new_primary[s].map(str::to_owned),
            every_copy_changes: !before.is_empty() && !after.is_empty() && kept.is_empty(),
            left_without_copy: !before.is_empty() && after.is_empty(),
            added,
            removed,
            kept,
        });
    }
    MovePlan {
        shards: moves,
        nodes: totals.into_values().collect(),
        copies_added: added_total,
        copies_removed: removed_total,
        primary_changes,
        mapping_changed: old.shard_count != new.shard_count
            || old.sharding_strategy != new.sharding_strategy,
    }
}

/// The sorted node ids holding each shard below `shards`, and each shard's
/// primary, read from the config's copy index (which holds only the shard
/// ids below the config's own `shard_count`; a shard beyond it has no
/// copies). On an invalid config that lists a shard's primary twice, the
/// primary is the first by node id (the copy index's order).
#[allow(clippy::type_complexity)]
fn holders(config: &ClusterConfig, shards: usize) -> (Vec<Vec<&str>>, Vec<Option<&str>>) {
    let index = config.copy_index();
    let id = |node: u32| index.node(config, node).id.as_str();
    let mut copies: Vec<Vec<&str>> = Vec::with_capacity(shards);
    let mut primary = Vec::with_capacity(shards);
    for s in 0..shards as ShardId {
        // Node indices are ranks in id order: sorted indices give sorted
        // ids, and two nodes with one id (invalid) end up side by side.
        let mut nodes: Vec<u32> = index.copies(s).iter().map(|c| c.node).collect();
        nodes.sort_unstable();
        let mut ids: Vec<&str> = nodes.into_iter().map(id).collect();
        ids.dedup();
        copies.push(ids);
        primary.push(index.primary(s).map(id));
    }
    (copies, primary)
}
