//! The one shard -> holders index of a config, which routing, placement,
//! splits, validation and the zone warnings all read.

use rusts_cluster_sharding::{CopyRole, CopyState, ShardId};

use crate::{ClusterConfig, NodeConfig};

/// Every copy of every shard of a config, by shard: built once, in time
/// linear in the nodes, the listed shards and `shard_count`
/// ([`ClusterConfig::copy_index`]).
///
/// Nodes are numbered by **node index**: their rank in node-id order, so
/// that nothing depends on the order of `[[nodes]]` in the file
/// (`docs/decisions/0006-node-order-never-changes-routing.md`). A shard's
/// copies come primaries first, then replicas, each in node-index order;
/// each carries the node's joining or leaving mark for it.
///
/// The index is total, so that validation can build it too: on an invalid
/// config it lists what the file says, a shard with two primaries, none, or
/// one node twice included, and leaves out shard ids that are not below
/// `shard_count`. On a valid config each shard has exactly one primary,
/// first, and its copies are on distinct nodes.
///
/// ```
/// use rusts_cluster_config::ClusterConfig;
/// use rusts_cluster_sharding::CopyRole;
///
/// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
/// let index = config.copy_index();
/// let copies = index.copies(3);
/// assert_eq!(copies.len(), 2);
/// assert_eq!(copies[0].role, CopyRole::Primary);
/// assert_eq!(index.node(&config, copies[0].node).id, "node1");
/// assert_eq!(index.primary(3).map(|n| index.node(&config, n).id.as_str()), Some("node1"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CopyIndex {
    /// `by_id[i]` is the position in `config.nodes` of node index `i`.
    by_id: Vec<u32>,
    /// The copies of shard `s` are `copies[start[s]..start[s + 1]]`.
    start: Vec<u32>,
    copies: Vec<CopyEntry>,
}

/// One copy in a [`CopyIndex`]: which node holds it, in which role, and its
/// part in a move.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CopyEntry {
    /// The node's index: its rank in node-id order.
    pub node: u32,
    /// Whether the node lists the shard in `shards` or `replica_shards`.
    pub role: CopyRole,
    /// Whether the node lists the shard in `joining_shards` or
    /// `leaving_shards`.
    pub state: CopyState,
}

/// The ids in `list` below `shard_count`: the ones a [`CopyIndex`] holds.
fn in_range(list: &[ShardId], shard_count: usize) -> impl Iterator<Item = &ShardId> {
    list.iter().filter(move |&&s| (s as usize) < shard_count)
}

impl CopyIndex {
    fn build(config: &ClusterConfig) -> CopyIndex {
        let shard_count = config.shard_count as usize;
        // Node indices in id order: sorting the nodes (not the shards) is
        // what makes replica order independent of the file's node order.
        let mut by_id: Vec<u32> = (0..config.nodes.len() as u32).collect();
        by_id.sort_by(|&a, &b| {
            config.nodes[a as usize]
                .id
                .cmp(&config.nodes[b as usize].id)
        });
        let nodes = || by_id.iter().map(|&at| &config.nodes[at as usize]);

        // A counting sort by shard: count, then place primaries before
        // replicas, each pass in node-index order.
        let mut start = vec![0u32; shard_count + 1];
        for node in nodes() {
            for &s in in_range(&node.shards, shard_count)
                .chain(in_range(&node.replica_shards, shard_count))
            {
                start[s as usize + 1] += 1;
            }
        }
        for s in 0..shard_count {
            start[s + 1] += start[s];
        }
        let mut cursor = start.clone();
        let placeholder = CopyEntry {
            node: 0,
            role: CopyRole::Primary,
            state: CopyState::Stable,
        };
        let mut copies = vec![placeholder; start[shard_count] as usize];
        type List = fn(&NodeConfig) -> &[ShardId];
        let lists: [(CopyRole, List); 2] = [
            (CopyRole::Primary, |n| &n.shards),
            (CopyRole::Replica, |n| &n.replica_shards),
        ];
        for (role, list) in lists {
            for (index, node) in nodes().enumerate() {
                for &s in in_range(list(node), shard_count) {
                    let slot = &mut cursor[s as usize];
                    copies[*slot as usize] = CopyEntry {
                        node: index as u32,
                        role,
                        state: CopyState::Stable,
                    };
                    *slot += 1;
                }
            }
        }

        // Marks: each names copies the node holds (a validation rule), found
        // by a scan of the shard's handful of copies.
        for (index, node) in nodes().enumerate() {
            let marks = [
                (&node.joining_shards, CopyState::Joining),
                (&node.leaving_shards, CopyState::Leaving),
            ];
            for (list, state) in marks {
                for &s in in_range(list, shard_count) {
                    let range = start[s as usize] as usize..start[s as usize + 1] as usize;
                    for copy in &mut copies[range] {
                        if copy.node == index as u32 {
                            copy.state = state;
                        }
                    }
                }
            }
        }
        CopyIndex {
            by_id,
            start,
            copies,
        }
    }

    /// The number of shards indexed: the config's `shard_count`.
    pub fn shard_count(&self) -> u32 {
        (self.start.len() - 1) as u32
    }

    /// The number of nodes.
    pub fn node_count(&self) -> usize {
        self.by_id.len()
    }

    /// The copies of `shard`, primaries first, then replicas, each in
    /// node-index order; empty for a shard id not below `shard_count`.
    #[inline]
    pub fn copies(&self, shard: ShardId) -> &[CopyEntry] {
        let s = shard as usize;
        match (self.start.get(s), self.start.get(s + 1)) {
            (Some(&from), Some(&to)) => &self.copies[from as usize..to as usize],
            _ => &[],
        }
    }

    /// The node index of `shard`'s primary: the first node, in node-index
    /// order, that lists it in `shards`.
    pub fn primary(&self, shard: ShardId) -> Option<u32> {
        self.copies(shard)
            .first()
            .filter(|c| c.role == CopyRole::Primary)
            .map(|c| c.node)
    }

    /// The copies of `shard` that node index `node` holds: at most one on
    /// a valid config; on an invalid one, each of the node's listings of
    /// the shard (in both lists, or one list twice). Found by binary search
    /// among the shard's copies, which are in node-index order within each
    /// role, so a lookup costs `O(log copies)`.
    pub fn copies_on(&self, shard: ShardId, node: u32) -> impl Iterator<Item = &CopyEntry> + '_ {
        let copies = self.copies(shard);
        let (primaries, replicas) =
            copies.split_at(copies.partition_point(|c| c.role == CopyRole::Primary));
        fn on(role: &[CopyEntry], node: u32) -> &[CopyEntry] {
            let from = role.partition_point(|c| c.node < node);
            let to = role.partition_point(|c| c.node <= node);
            &role[from..to]
        }
        on(primaries, node).iter().chain(on(replicas, node))
    }

    /// Every copy of every shard, by shard: `(shard, copies)` in shard
    /// order.
    pub fn shards(&self) -> impl ExactSizeIterator<Item = (ShardId, &[CopyEntry])> + '_ {
        (0..self.shard_count()).map(|s| (s, self.copies(s)))
    }

    /// The node with index `node` in `config`, the config this index was
    /// built from.
    ///
    /// # Panics
    ///
    /// When `node` is not below [`node_count`](Self::node_count).
    pub fn node<'c>(&self, config: &'c ClusterConfig, node: u32) -> &'c NodeConfig {
        &config.nodes[self.by_id[node as usize] as usize]
    }

    /// The nodes of `config` in node-index order (node-id order).
    pub fn nodes<'c>(
        &'c self,
        config: &'c ClusterConfig,
    ) -> impl ExactSizeIterator<Item = &'c NodeConfig> + 'c {
        self.by_id.iter().map(|&at| &config.nodes[at as usize])
    }

    /// The position in `config.nodes` (the file's order) of node index
    /// `node`.
    ///
    /// # Panics
    ///
    /// When `node` is not below [`node_count`](Self::node_count).
    pub fn position(&self, node: u32) -> usize {
        self.by_id[node as usize] as usize
    }
}

/// A shard's copies once per node, for counting the copies of a config
/// that may list one node twice for a shard (in both lists, or one list
/// twice: errors of their own). On a valid config every copy is on its own
/// node already.
#[derive(Debug)]
pub(crate) struct Distinct {
    /// One plus the last shard each node index was counted for.
    seen: Vec<u32>,
}

impl Distinct {
    pub(crate) fn new(index: &CopyIndex) -> Distinct {
        Distinct {
            seen: vec![0; index.node_count()],
        }
    }

    /// Calls `f` with the first copy of `shard` on each node that holds it.
    pub(crate) fn each(
        &mut self,
        index: &CopyIndex,
        shard: ShardId,
        mut f: impl FnMut(&CopyEntry),
    ) {
        for copy in index.copies(shard) {
            let seen = &mut self.seen[copy.node as usize];
            if *seen != shard + 1 {
                *seen = shard + 1;
                f(copy);
            }
        }
    }
}

impl ClusterConfig {
    /// The index of every copy of every shard, by shard: who holds each
    /// shard, in which role and state. Built in one linear pass; build it
    /// once and keep it rather than calling it per shard.
    ///
    /// It allocates per shard, so build it from a config whose
    /// `shard_count` is at most [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT)
    /// (a validated one): validation and the warnings check that first.
    pub fn copy_index(&self) -> CopyIndex {
        CopyIndex::build(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> ClusterConfig {
        ClusterConfig::from_toml(
            r#"
            node_id = "c"
            shard_count = 3
            [[nodes]]
            id = "c"
            address = "10.0.0.3:8086"
            shards = [2]
            replica_shards = [0, 1, 9]
            leaving_shards = [0]
            [[nodes]]
            id = "a"
            address = "10.0.0.1:8086"
            shards = [0, 1]
            replica_shards = [2]
            [[nodes]]
            id = "b"
            address = "10.0.0.2:8086"
            shards = [1]
            replica_shards = [0, 2]
            joining_shards = [0]
            "#,
        )
        .unwrap()
    }

    fn ids<'c>(config: &'c ClusterConfig, index: &CopyIndex, shard: ShardId) -> Vec<&'c str> {
        index
            .copies(shard)
            .iter()
            .map(|c| index.node(config, c.node).id.as_str())
            .collect()
    }

    #[test]
    fn primaries_first_then_replicas_each_in_id_order() {
        let config = config();
        let index = config.copy_index();
        assert_eq!(index.shard_count(), 3);
        assert_eq!(index.node_count(), 3);
        assert_eq!(
            index
                .nodes(&config)
                .map(|n| n.id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(index.position(0), 1, "a is second in the file");
        assert_eq!(ids(&config, &index, 0), ["a", "b", "c"]);
        assert_eq!(ids(&config, &index, 2), ["c", "a", "b"]);
        assert_eq!(index.primary(2), Some(2));
    }

    #[test]
    fn invalid_configs_are_indexed_as_written() {
        let config = config();
        let index = config.copy_index();
        // Shard 1 has two primaries, both listed, the first by id first.
        let roles: Vec<CopyRole> = index.copies(1).iter().map(|c| c.role).collect();
        assert_eq!(
            roles,
            [CopyRole::Primary, CopyRole::Primary, CopyRole::Replica]
        );
        assert_eq!(ids(&config, &index, 1), ["a", "b", "c"]);
        // Shard 9 is out of range: left out, and asking for it is empty.
        assert!(index.copies(9).is_empty());
        assert_eq!(index.primary(9), None);
        assert_eq!(index.shards().map(|(_, c)| c.len()).sum::<usize>(), 9);
    }

    #[test]
    fn copies_carry_their_marks() {
        let config = config();
        let index = config.copy_index();
        let states: Vec<CopyState> = index.copies(0).iter().map(|c| c.state).collect();
        assert_eq!(
            states,
            [CopyState::Stable, CopyState::Joining, CopyState::Leaving]
        );
        assert!(index.copies(2).iter().all(|c| c.state == CopyState::Stable));
    }

    #[test]
    fn copies_on_a_node_are_found_in_each_role() {
        let mut config = config();
        // b lists shard 1 as primary and, a mistake, as replica too.
        config.nodes[2].replica_shards.push(1);
        let index = config.copy_index();
        let on = |shard, node| -> Vec<CopyRole> {
            index.copies_on(shard, node).map(|c| c.role).collect()
        };
        assert_eq!(on(1, 1), [CopyRole::Primary, CopyRole::Replica]);
        assert_eq!(on(1, 0), [CopyRole::Primary]);
        assert_eq!(on(0, 2), [CopyRole::Replica]);
        assert_eq!(on(2, 1), [CopyRole::Replica]);
        assert!(on(9, 0).is_empty() && on(0, 7).is_empty());
        let leaving: Vec<CopyState> = index.copies_on(0, 2).map(|c| c.state).collect();
        assert_eq!(leaving, [CopyState::Leaving]);
    }

    #[test]
    fn a_shard_without_a_primary_has_none() {
        let mut config = config();
        config.nodes[1].shards = vec![1];
        let index = config.copy_index();
        assert_eq!(index.primary(0), None);
        assert_eq!(ids(&config, &index, 0), ["b", "c"]);
    }
}
