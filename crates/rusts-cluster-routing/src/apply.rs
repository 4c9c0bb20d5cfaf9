//! Taking a newer config into a running router.

use std::sync::Arc;

use rusts_cluster_config::{address_handovers, split_factor, ClusterConfig, CopyEntry};
use rusts_cluster_sharding::{CopyState, Shard, ShardId, ShardMapper, ShardSplit};

use crate::{
    snapshot::{Snapshot, Successor},
    topology::Topology,
    RoutingError, ShardRouter,
};

/// What [`ShardRouter::apply`] changed: the generations, the split if it
/// was one, the shards whose copies moved, and the nodes that came, went or
/// changed address.
///
/// Every list is sorted (shards by id, nodes by id). An engine uses it to
/// start copying the shards it now holds, stop serving the ones it lost,
/// and open or close connections.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConfigChange {
    /// The generation the router ran before.
    pub previous_generation: u64,
    /// The generation it runs now.
    pub generation: u64,
    /// The split, when the new config is one: the old shard count and the
    /// factor. Each node then re-files the points of every parent it holds
    /// under the children (`docs/operations.md`, "Growing the shard
    /// count").
    pub split: Option<ShardSplit>,
    /// The shards whose copies changed: another primary, or a replica
    /// added or removed. After a split, each child is compared with its
    /// parent, so a split alone changes none.
    pub changed_shards: Vec<ShardId>,
    /// Nodes in the new config that the old one did not have.
    pub added_nodes: Vec<String>,
    /// Nodes of the old config that the new one does not have.
    pub removed_nodes: Vec<String>,
    /// Nodes in both whose address changed.
    pub readdressed_nodes: Vec<String>,
}

impl ConfigChange {
    /// Whether the new config places every shard where the old one did, on
    /// the same nodes at the same addresses (it may still change the
    /// replication mode or factor, or tags). A split is a change: it adds
    /// shards.
    pub fn is_placement_unchanged(&self) -> bool {
        self.split.is_none()
            && self.changed_shards.is_empty()
            && self.added_nodes.is_empty()
            && self.removed_nodes.is_empty()
            && self.readdressed_nodes.is_empty()
    }
}

/// Which checks [`ShardRouter::apply_with`] and
/// [`check_apply_with`](ShardRouter::check_apply_with) run.
///
/// [`All`](Self::All) is what [`apply`](ShardRouter::apply) runs, and the
/// only safe choice: every other one exists for emergencies and may lose
/// acknowledged writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ApplyChecks {
    /// Every check: the config must be the next generation, each shard's
    /// copies must change as one transition step does, and the
    /// replication settings must stay.
    #[default]
    All,
    /// **Unsafe: it may lose acknowledged writes.** Skips the checks that
    /// keep two adjacent generations safe beside each other: that the
    /// generation is the next one ([`RoutingError::GenerationSkipped`]),
    /// the step shape of each copy ([`RoutingError::UnsafeCopyChange`])
    /// and of each shard's reads ([`RoutingError::UnsafeReadChange`]), and
    /// the replication settings ([`RoutingError::ReplicationChanged`]).
    /// While nodes run the two configs at once, one may acknowledge a
    /// write that a read on the other misses, for good
    /// (`docs/decisions/0019-joint-copies.md`, "Why three steps").
    ///
    /// Every other check still runs: a generation not greater than the
    /// router's, another node id, another strategy, an invalid config, a
    /// shard count that is not a split, another split record and an
    /// address handed over are refused as by [`All`](Self::All). For an
    /// operator who has stopped taking writes, or who accepts the loss
    /// (say, to recover a cluster that lost the nodes a transition needs).
    UnsafeSkipStepChecks,
}

impl ShardRouter {
    /// Takes a newer generation of the cluster config, live.
    ///
    /// The new config must have the next `generation` (the router's plus
    /// one), no other node's `node_id`, the same `sharding_strategy`
    /// (another would move keys to other shards) and the same replication
    /// settings, and it must be valid as the router's node. Each shard's
    /// copies must change as one step of a transition does
    /// (`rusts-cluster transition OLD NEW` writes the steps;
    /// `docs/decisions/0019-joint-copies.md` says why each is safe beside
    /// the next): a copy arrives joining and becomes stable in a later
    /// generation, a stable copy leaves before it goes, and a shard whose
    /// copies change in a generation reads from the same copies as before
    /// (`move_reads` changes in a generation of its own). So the steps
    /// are taken one by one, in order, and each may also be undone by the
    /// generation after it (a joining copy dropped, a leaving one stable
    /// again). [`apply_with`](Self::apply_with) can skip these checks, in
    /// an emergency and at the risk of losing acknowledged writes.
    ///
    /// The node a router runs as comes from the process, not the file: it
    /// was fixed when the router was built, and `apply` never changes it.
    /// So the file every node shares, without a `node_id`, is taken by
    /// each node as itself, and must still list that node (rule
    /// `unknown-this-node`: a node left out of the new placement cannot
    /// serve it; stop the node instead). Node ids are compared only when
    /// both the router and the config have one: a config that names
    /// another node is refused (`NodeIdChanged`), and a router that runs as
    /// no node keeps running as none, whatever node the config names. Its `shard_count` must be the same,
    /// or it must be a split of the config the router runs
    /// ([`split_factor`](rusts_cluster_config::split_factor): the count
    /// multiplied by a whole number, every child on its parent's copies in
    /// the same roles, the split recorded in `[split_from]`), the one
    /// change of the key mapping a running router takes: every key then
    /// maps to a child of its shard, on the same nodes. Each child starts
    /// in its parent's state (the split config lists it so).
    /// Then the router's snapshot is replaced in one atomic store: a
    /// `route`, `route_batch`, reader or `plan_query` running at the same
    /// time sees wholly the old config or wholly the new one, never a mix,
    /// and never waits. Handles, batches and plans taken before keep the
    /// generation they were made with ([`ShardView::generation`](crate::ShardView::generation)).
    ///
    /// Each node still present keeps its availability
    /// ([`set_node_available`](Self::set_node_available), advisory); new
    /// nodes start available, and a node that left and comes back starts
    /// available.
    ///
    /// Each shard's state in the new generation is the one the new config
    /// gives it, as in a router built from it (decision 0046): `ReadOnly`
    /// or `Offline` when the config lists it in `read_only_shards` or
    /// `offline_shards`, else `Rebalancing` while its copies move
    /// ([`Shard::is_moving`](rusts_cluster_sharding::Shard::is_moving):
    /// some copy joining or leaving), else `Active`. Nothing set at run
    /// time changes it, so every node on one generation counts a shard's
    /// writes and reads by the same rule. The replication mode and factor may change only
    /// through [`apply_with`](Self::apply_with); the write rule
    /// ([`write_quorum`](Self::write_quorum)) and the read sets of
    /// [`plan_query`](Self::plan_query) then follow the new ones.
    ///
    /// Costs about as much as [`from_config`](Self::from_config): it
    /// validates and lays out the new config, in time linear in its size.
    /// Shards whose copies and primary address did not change keep their
    /// old shared entry. Concurrent `apply` and `set_node_available` calls
    /// take turns.
    ///
    /// # Errors
    ///
    /// Each leaves the router unchanged:
    ///
    /// - [`RoutingError::StaleGeneration`] when the generation is not
    ///   greater than [`generation`](Self::generation);
    /// - [`RoutingError::GenerationSkipped`] when it is greater than the
    ///   next one (`generation() + 1`): apply each step in turn;
    /// - [`RoutingError::NodeIdChanged`] for a `node_id` that is set and
    ///   is not the router's (when the router runs as a node);
    /// - [`RoutingError::StrategyChanged`];
    /// - [`RoutingError::InvalidConfig`], listing every problem, checked
    ///   as the router's node
    ///   ([`validate_as`](rusts_cluster_config::ClusterConfig::validate_as));
    /// - [`RoutingError::ShardCountChanged`] for another shard count that
    ///   is not a split of the router's config, with the reason;
    /// - [`RoutingError::AddressHandedOver`] when an address passes from a
    ///   node that holds copies to another node
    ///   ([`address_handovers`](rusts_cluster_config::address_handovers)):
    ///   the other node must wait one generation for it;
    /// - [`RoutingError::ReplicationChanged`] for another
    ///   `replication_mode` or `replication_factor`;
    /// - [`RoutingError::UnsafeCopyChange`], naming the shard, the node and
    ///   the copy's two states, when a copy appears without joining
    ///   (stable or leaving), a stable copy vanishes without leaving, or
    ///   a copy turns from stable or leaving to joining, or from joining to
    ///   leaving;
    /// - [`RoutingError::UnsafeReadChange`], naming the shard and both
    ///   read sets, when a shard's copies change and so do the copies it
    ///   reads from (for a moving shard, all but the joining ones while
    ///   `move_reads = "old"`, all but the leaving ones after; for any
    ///   other shard, all).
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::{RoutingError, ShardRouter};
    /// use rusts_cluster_sharding::{ShardKeyRef, ShardState};
    ///
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml");
    /// let mut config = ClusterConfig::from_file_as(path, "node1")?;
    /// config.read_only_shards = vec![9];
    /// let router = ShardRouter::from_config(&config)?;
    ///
    /// // Generation 1: node1 also keeps a replica of shard 10. A new copy
    /// // joins first (a stable one at once would be refused).
    /// let mut next = config.clone();
    /// next.generation = 1;
    /// next.nodes[0].replica_shards.push(10);
    /// let mut direct = next.clone();
    /// next.nodes[0].joining_shards.push(10);
    /// let refused = router.apply(&direct).unwrap_err();
    /// assert!(matches!(refused, RoutingError::UnsafeCopyChange { shard: 10, .. }));
    /// let change = router.apply(&next)?;
    /// assert_eq!((change.previous_generation, change.generation), (0, 1));
    /// assert_eq!(change.changed_shards, [10]);
    /// assert_eq!(router.route(ShardKeyRef::new("cpu", 10, 0))?.replicas, ["node1"]);
    /// assert_eq!(router.get_shard(9).unwrap().state, ShardState::ReadOnly, "the config's state");
    ///
    /// // The same file again is refused, and changes nothing; so is a
    /// // generation that skips one.
    /// assert!(matches!(router.apply(&next), Err(RoutingError::StaleGeneration { from: 1, to: 1 })));
    /// direct.generation = 3;
    /// assert!(matches!(router.apply(&direct), Err(RoutingError::GenerationSkipped { from: 1, to: 3 })));
    ///
    /// // The shared file, without a node id, is taken as node1; one loaded
    /// // as another node is refused.
    /// next.generation = 2;
    /// router.apply(&next.clone().for_node(""))?;
    /// next.generation = 3;
    /// let other = router.apply(&next.clone().for_node("node2")).unwrap_err();
    /// assert!(matches!(other, RoutingError::NodeIdChanged { .. }));
    /// assert_eq!(router.node_id(), "node1");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply(&self, config: &ClusterConfig) -> Result<ConfigChange, RoutingError> {
        self.apply_with(config, ApplyChecks::All)
    }

    /// [`apply`](Self::apply), running the checks `checks` names. With
    /// [`ApplyChecks::All`] it is `apply`; with
    /// [`ApplyChecks::UnsafeSkipStepChecks`] it also takes a config that
    /// skips generations or transition steps, which **may lose
    /// acknowledged writes**: for emergencies only.
    ///
    /// # Errors
    ///
    /// Those of [`apply`](Self::apply), less the ones `checks` skips.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::{ApplyChecks, RoutingError, ShardRouter};
    ///
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml");
    /// let config = ClusterConfig::from_file_as(path, "node1")?;
    /// let router = ShardRouter::from_config(&config)?;
    ///
    /// // Shard 10's replica on node1 added stable, at once: no step does that.
    /// let mut direct = config.clone();
    /// direct.generation = 3;
    /// direct.nodes[0].replica_shards.push(10);
    /// let refused = router.apply(&direct).unwrap_err();
    /// assert!(matches!(refused, RoutingError::GenerationSkipped { from: 0, to: 3 }));
    ///
    /// // Unsafe: writes acknowledged meanwhile may be lost.
    /// router.apply_with(&direct, ApplyChecks::UnsafeSkipStepChecks)?;
    /// assert_eq!(router.generation(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_with(
        &self,
        config: &ClusterConfig,
        checks: ApplyChecks,
    ) -> Result<ConfigChange, RoutingError> {
        self.table.update(|current| {
            let split = check_successor(current, self.node_id(), config, checks)?;
            let next = Topology::build(config);
            if checks == ApplyChecks::All {
                check_steps(current, &next)?;
            }
            let mut change = diff_nodes(&current.topology, &next, split);
            let was = previous_indices(&current.topology, &next);
            let shards = carry_shards(current, &next, &was, &mut change.changed_shards);
            let node_up = carry_availability(current, &was);
            let snapshot = Snapshot {
                topology: Arc::new(next),
                mapper: ShardMapper::new(config.sharding_strategy, config.shard_count),
                shards,
                node_up,
            };
            Ok(Successor::Next(snapshot, change))
        })
    }
}

impl ShardRouter {
    /// Whether [`apply`](Self::apply) would take `config` now, without
    /// taking it: the same checks, and the same errors (the step shapes
    /// included, so it lays out the config as `apply` does). For a caller that
    /// must persist a config before it runs it (the protocol core), so
    /// that it never persists one it then cannot run.
    ///
    /// # Errors
    ///
    /// Those of [`apply`](Self::apply).
    pub fn check_apply(&self, config: &ClusterConfig) -> Result<(), RoutingError> {
        self.check_apply_with(config, ApplyChecks::All)
    }

    /// Whether [`apply_with`](Self::apply_with) would take `config` with
    /// `checks` now, without taking it.
    ///
    /// # Errors
    ///
    /// Those of [`apply_with`](Self::apply_with).
    pub fn check_apply_with(
        &self,
        config: &ClusterConfig,
        checks: ApplyChecks,
    ) -> Result<(), RoutingError> {
        let current = self.table.load();
        check_successor(&current, self.node_id(), config, checks)?;
        if checks == ApplyChecks::All {
            check_steps(&current, &Topology::build(config))?;
        }
        Ok(())
    }
}

/// Checks that `config` may follow the generation `current` runs, on node
/// `node_id` (empty for none): a greater generation (with
/// [`ApplyChecks::All`], the next one), no other node's id, the same
/// strategy, a config valid as this node, the same shard count or a split
/// of it (with its record), no address handed over, and (with
/// [`ApplyChecks::All`]) the same replication settings. Returns the split,
/// when it is one. The step shape of each shard is [`check_steps`]'s.
fn check_successor(
    current: &Snapshot,
    node_id: &str,
    config: &ClusterConfig,
    checks: ApplyChecks,
) -> Result<Option<ShardSplit>, RoutingError> {
    let old = &current.topology;
    let (from, to) = (old.generation, config.generation);
    if to <= from {
        return Err(RoutingError::StaleGeneration { from, to });
    }
    // `to > from`, so `from + 1` does not overflow.
    if checks == ApplyChecks::All && to != from + 1 {
        return Err(RoutingError::GenerationSkipped { from, to });
    }
    // The router's node comes from the process; a file without one (the
    // file every node shares) is taken as that node.
    if !node_id.is_empty() && !config.node_id.is_empty() && config.node_id != node_id {
        return Err(RoutingError::NodeIdChanged {
            from: node_id.to_owned(),
            to: config.node_id.clone(),
        });
    }
    let strategy = current.mapper.strategy();
    if config.sharding_strategy != strategy {
        return Err(RoutingError::StrategyChanged {
            from: strategy,
            to: config.sharding_strategy,
        });
    }
    // As this node: the shared file must still list it. A router that runs
    // as no node checks the config as it is.
    let checked_as = if node_id.is_empty() {
        &config.node_id
    } else {
        node_id
    };
    config.validate_as(checked_as)?;
    let shard_count = current.mapper.shard_count();
    let split = if config.shard_count == shard_count {
        // A record appears only with a split; a later generation keeps it
        // or drops it. Another one would misnumber older peers.
        if config.split_from.is_some() && config.split_from != old.config.split_from {
            return Err(RoutingError::SplitRecordChanged {
                from: old.config.split_from,
                to: config.split_from,
            });
        }
        None
    } else {
        let split = split_factor(&old.config, config).map_err(|reason| {
            RoutingError::ShardCountChanged {
                from: shard_count,
                to: config.shard_count,
                reason,
            }
        })?;
        Some(split)
    };
    if let Some(handover) = address_handovers(&old.config, config).into_iter().next() {
        return Err(handover.into());
    }
    let was = (old.config.replication_mode, old.config.replication_factor);
    let now = (config.replication_mode, config.replication_factor);
    if checks == ApplyChecks::All && was != now {
        return Err(RoutingError::ReplicationChanged {
            from_mode: was.0,
            to_mode: now.0,
            from_factor: was.1,
            to_factor: now.1,
        });
    }
    Ok(split)
}

/// Checks that every shard of `next` changes from `current` as one step of
/// a transition does (`docs/decisions/0038-apply-refuses-unsafe-steps.md`),
/// comparing each shard with the one it comes from (its parent after a
/// split, `s % n`): each copy's change by [`copy_step_allowed`], and a
/// shard whose copies change keeps the copies it reads from.
///
/// `next` must be built from a config [`check_successor`] accepted.
/// Returns the first refusal, by shard.
fn check_steps(current: &Snapshot, next: &Topology) -> Result<(), RoutingError> {
    let old = &current.topology;
    let was = previous_indices(old, next);
    let shard_count = current.mapper.shard_count();
    for s in 0..next.config.shard_count {
        let from = s % shard_count;
        let before = old.copies(from);
        let after = next.copies(s);
        // The common case, a shard that does not change: the same nodes
        // with the same marks, in the same order.
        if after
            .iter()
            .map(|c| (was[c.node as usize], c.state))
            .eq(before.iter().map(|c| (Some(c.node), c.state)))
        {
            continue;
        }
        let old_state = |node: Option<u32>| {
            before
                .iter()
                .find(|c| Some(c.node) == node)
                .map(|c| c.state)
        };
        let mut copies_change = false;
        for copy in after {
            let from_state = old_state(was[copy.node as usize]);
            copies_change |= from_state != Some(copy.state);
            if !copy_step_allowed(from_state, Some(copy.state)) {
                return Err(RoutingError::UnsafeCopyChange {
                    shard: s,
                    node: next.node_id(copy.node).to_owned(),
                    from: from_state,
                    to: Some(copy.state),
                });
            }
        }
        for copy in before {
            if !after
                .iter()
                .any(|c| was[c.node as usize] == Some(copy.node))
            {
                copies_change = true;
                if !copy_step_allowed(Some(copy.state), None) {
                    return Err(RoutingError::UnsafeCopyChange {
                        shard: s,
                        node: old.node_id(copy.node).to_owned(),
                        from: Some(copy.state),
                        to: None,
                    });
                }
            }
        }
        if !copies_change {
            // Only the primary moved among the same copies.
            continue;
        }
        // The read sets: the same when they are as large and every new
        // reader was an old one. No allocation unless refused.
        let old_reads = || before.iter().filter(|c| old.reads_from(c.state));
        let new_reads = || after.iter().filter(|c| next.reads_from(c.state));
        let same_reads = old_reads().count() == new_reads().count()
            && new_reads().all(|c| {
                was[c.node as usize].is_some_and(|node| old_reads().any(|o| o.node == node))
            });
        if !same_reads {
            let names = |topology: &Topology, copies: &mut dyn Iterator<Item = &CopyEntry>| {
                let mut ids: Vec<String> = copies
                    .map(|c| topology.node_id(c.node).to_owned())
                    .collect();
                ids.sort_unstable();
                ids
            };
            return Err(RoutingError::UnsafeReadChange {
                shard: s,
                from: names(old, &mut old_reads()),
                to: names(next, &mut new_reads()),
            });
        }
    }
    Ok(())
}

/// Whether one step may take a copy from state `from` to state `to`
/// (`None`: the shard has no copy on that node). A copy arrives absent,
/// joining, stable and goes stable, leaving, absent, one mark a step; the
/// way back from step 1 drops a joining copy and turns a leaving one
/// stable again.
fn copy_step_allowed(from: Option<CopyState>, to: Option<CopyState>) -> bool {
    use CopyState::{Joining, Leaving, Stable};
    match (from, to) {
        (from, to) if from == to => true,
        (None, Some(Joining))
        | (Some(Joining), Some(Stable) | None)
        | (Some(Stable), Some(Leaving))
        | (Some(Leaving), Some(Stable) | None) => true,
        _ => false,
    }
}

/// The nodes `next` adds, removes and readdresses against `old`, in a
/// [`ConfigChange`] whose `changed_shards` are left for
/// [`carry_shards`] to fill.
fn diff_nodes(old: &Topology, next: &Topology, split: Option<ShardSplit>) -> ConfigChange {
    let mut change = ConfigChange {
        previous_generation: old.generation,
        generation: next.generation,
        split,
        ..ConfigChange::default()
    };
    for node in next.nodes() {
        match old.node_index(&node.id) {
            None => change.added_nodes.push(node.id.clone()),
            Some(before) if old.node(before).address != node.address => {
                change.readdressed_nodes.push(node.id.clone())
            }
            Some(_) => {}
        }
    }
    change.removed_nodes = old
        .nodes()
        .filter(|node| next.node_index(&node.id).is_none())
        .map(|node| node.id.clone())
        .collect();
    change
}

/// Each of `next`'s nodes' index in `old`, if it was there, by node index.
fn previous_indices(old: &Topology, next: &Topology) -> Vec<Option<u32>> {
    next.nodes().map(|node| old.node_index(&node.id)).collect()
}

/// The shards of `next`, each carried over from the shard of `current` it
/// comes from (its parent after a split, `s % n`, else itself), with its
/// state carried as [`ShardRouter::apply`] documents; `was` is
/// [`previous_indices`]. Pushes to `changed` each shard whose copies
/// changed. A shard whose copies, state and primary address are unchanged
/// keeps its old shared entry.
fn carry_shards(
    current: &Snapshot,
    next: &Topology,
    was: &[Option<u32>],
    changed: &mut Vec<ShardId>,
) -> Vec<Arc<Shard>> {
    let old = &current.topology;
    let shard_count = current.mapper.shard_count();
    (0..next.config.shard_count)
        .map(|s| {
            let from = s % shard_count;
            let before = &current.shards[from as usize];
            let same_copies = next
                .copies(s)
                .iter()
                .map(|c| (was[c.node as usize], c.role, c.state))
                .eq(old
                    .copies(from)
                    .iter()
                    .map(|c| (Some(c.node), c.role, c.state)));
            if !same_copies {
                changed.push(s);
            }
            let state = next.state(s);
            // Compared last, and only when all else is the same: the old
            // shard's address is its own allocation, a cache miss per shard
            // that a moved shard need not pay.
            let same_address =
                || before.address.as_deref() == Some(next.node(next.primary(s)).address.as_str());
            if s == from && same_copies && state == before.state && same_address() {
                Arc::clone(before)
            } else {
                Arc::new(next.shard(s, state))
            }
        })
        .collect()
}

/// Each of the next generation's nodes' availability: as in `current` for a
/// node that was there (`was`, by [`previous_indices`]), available for a
/// new one.
fn carry_availability(current: &Snapshot, was: &[Option<u32>]) -> Vec<bool> {
    was.iter()
        .map(|before| before.is_none_or(|node| current.node_up[node as usize]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_steps_one_mark_at_a_time() {
        use CopyState::{Joining, Leaving, Stable};
        let states = [None, Some(Stable), Some(Joining), Some(Leaving)];
        let allowed = [
            (None, Some(Joining)),
            (Some(Joining), Some(Stable)),
            (Some(Stable), Some(Leaving)),
            (Some(Leaving), None),
            // The way back from step 1.
            (Some(Joining), None),
            (Some(Leaving), Some(Stable)),
        ];
        for from in states {
            for to in states {
                let expected = from == to || allowed.contains(&(from, to));
                assert_eq!(copy_step_allowed(from, to), expected, "{from:?} -> {to:?}");
            }
        }
    }
}
