//! `shards` and `replica_shards`: every entry in range and listed once per
//! list, one primary per shard, and no node holding a shard twice.

use rusts_cluster_sharding::{CopyRole, ShardId};

use super::{sorted_pair, Copies, Errors, Position, ShardList, ValidationErrorKind};
use crate::ClusterConfig;

/// The entries of one shard list of every node, in the file's order: the
/// scan behind `shard-out-of-range` and `duplicate-shard-in-list`, which
/// every list shares.
///
/// The rules that report one entry walk the lists themselves rather than
/// the copy index: each problem points at its own entry (a shard listed
/// three times gives two errors, at the second and the third listing, for
/// a [`SourceMap`](crate::SourceMap) to locate), and the index keeps no
/// entry positions and leaves out ids that are not below `shard_count`.
pub(super) struct ListScan<'c> {
    config: &'c ClusterConfig,
    list: ShardList,
    /// One plus the position of the last node that listed each shard in
    /// this list: it finds repeats within one node's list without a set
    /// per node. Bounded by `MAX_SHARD_COUNT`.
    stamps: Vec<u32>,
}

impl<'c> ListScan<'c> {
    pub(super) fn new(config: &'c ClusterConfig, list: ShardList) -> ListScan<'c> {
        ListScan {
            config,
            list,
            stamps: vec![0; config.shard_count as usize],
        }
    }

    /// The list this scan walks.
    pub(super) fn list(&self) -> ShardList {
        self.list
    }

    /// Entry `element`, `shard`, of the list of the node at `node` in
    /// `nodes`: reports it when it is out of range or repeats an earlier
    /// entry of the same list, and returns whether it is the node's first
    /// listing of an in-range shard, which the list's own rules check.
    pub(super) fn first(
        &mut self,
        errors: &mut Errors,
        node: usize,
        element: usize,
        shard: ShardId,
    ) -> bool {
        let (config, list) = (self.config, self.list);
        let id = || config.nodes[node].id.clone();
        let at = Position::entry(node, element);
        let stamp = node as u32 + 1;
        match self.stamps.get_mut(shard as usize) {
            None => {
                errors.at(at, || ValidationErrorKind::ShardOutOfRange {
                    node: id(),
                    list,
                    shard,
                    shard_count: config.shard_count,
                });
                false
            }
            Some(last) if *last == stamp => {
                errors.at(at, || ValidationErrorKind::DuplicateShardInList {
                    node: id(),
                    list,
                    shard,
                });
                false
            }
            Some(last) => {
                *last = stamp;
                true
            }
        }
    }

    /// Whether the node at `node` has listed `shard` so far.
    pub(super) fn listed(&self, node: usize, shard: ShardId) -> bool {
        self.stamps.get(shard as usize) == Some(&(node as u32 + 1))
    }
}

pub(super) fn check(config: &ClusterConfig, copies: &Copies, errors: &mut Errors) {
    // A second primary is reported beside the node that listed the shard
    // first in the file, at the later node's entry: the index orders
    // nodes by id, so this rule keeps its own table of first primaries.
    let mut first_primary: Vec<Option<u32>> = vec![None; config.shard_count as usize];
    let mut primaries = ListScan::new(config, ShardList::Primary);
    for (i, node) in config.nodes.iter().enumerate() {
        for (element, &shard) in node.shards.iter().enumerate() {
            if !primaries.first(errors, i, element, shard) {
                continue;
            }
            match first_primary[shard as usize] {
                None => first_primary[shard as usize] = Some(i as u32),
                Some(owner) => errors.at(Position::entry(i, element), || {
                    ValidationErrorKind::DuplicatePrimary {
                        shard,
                        nodes: sorted_pair(&config.nodes[owner as usize].id, &node.id),
                    }
                }),
            }
        }
    }
    let mut replicas = ListScan::new(config, ShardList::Replica);
    for (i, node) in config.nodes.iter().enumerate() {
        for (element, &shard) in node.replica_shards.iter().enumerate() {
            // By the node's position, not its id: two nodes sharing an id
            // are already reported as a duplicate id.
            if replicas.first(errors, i, element, shard)
                && copies.on(shard, i).any(|c| c.role == CopyRole::Primary)
            {
                errors.at(Position::entry(i, element), || {
                    ValidationErrorKind::ReplicaOnPrimary {
                        node: node.id.clone(),
                        shard,
                    }
                });
            }
        }
    }
    let missing: Vec<ShardId> = copies
        .index
        .shards()
        .filter(|&(shard, _)| copies.index.primary(shard).is_none())
        .map(|(shard, _)| shard)
        .collect();
    if !missing.is_empty() {
        errors.rule(|| ValidationErrorKind::MissingPrimary { shards: missing });
    }
}
