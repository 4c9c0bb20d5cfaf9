//! One config generation's layout, read from the config's one copy index.

use fxhash::FxHashMap;
use rusts_cluster_config::{ClusterConfig, CopyEntry, CopyIndex, MoveReads, NodeConfig};
use rusts_cluster_replication::ReplicationProtocol;
use rusts_cluster_sharding::{CopyState, Shard, ShardId, ShardState};

/// One config generation's layout: the nodes, which nodes hold a copy of
/// each shard, and the replication rule. Replaced whole by
/// [`ShardRouter::apply`](crate::ShardRouter::apply); state and
/// availability changes share it.
///
/// Who holds what is the config's [`CopyIndex`], kept as it is built, not
/// copied into tables of this crate's own: nodes are numbered by its node
/// index (node-id order), everywhere in this crate.
#[derive(Debug)]
pub(crate) struct Topology {
    /// The config's generation.
    pub(crate) generation: u64,
    /// The config this topology was built from: [`ShardRouter::apply`](crate::ShardRouter::apply)
    /// compares a new shard count with it to recognise a split.
    pub(crate) config: ClusterConfig,
    /// The config's replication mode and factor.
    pub(crate) protocol: ReplicationProtocol,
    /// Which copies of a moving shard serve reads.
    pub(crate) move_reads: MoveReads,
    /// Every copy of every shard, by shard: on a valid config, the primary
    /// first, then the replicas in node-index order.
    copies: CopyIndex,
    /// Node id to node index.
    index: FxHashMap<String, u32>,
    /// The shards each node is primary for, ascending, by node index.
    primaries: Vec<Vec<ShardId>>,
    /// The shards each node holds a copy of, ascending, by node index.
    held: Vec<Vec<ShardId>>,
    /// The config's `read_only_shards` and `offline_shards`, by shard.
    states: FxHashMap<ShardId, ShardState>,
}

impl Topology {
    /// Builds the topology of a validated config, in time linear in its
    /// size: the copy index is built once, and the per-node lists are read
    /// off it.
    pub(crate) fn build(config: &ClusterConfig) -> Topology {
        // Validation guarantees: 1 <= shard_count <= MAX_SHARD_COUNT (so it
        // fits u32), node ids are distinct, every listed id is in range,
        // every shard has exactly one primary, and no node lists a shard
        // twice or as both primary and replica. So each shard's copies are
        // its primary, first, then its replicas.
        let copies = config.copy_index();
        // Each list allocated once, at its size: a node's lists in the
        // config say how many shards it is primary for and holds.
        let mut primaries: Vec<Vec<ShardId>> = copies
            .nodes(config)
            .map(|n| Vec::with_capacity(n.shards.len()))
            .collect();
        let mut held: Vec<Vec<ShardId>> = copies
            .nodes(config)
            .map(|n| Vec::with_capacity(n.shards.len() + n.replica_shards.len()))
            .collect();
        // Walking shards in id order fills the per-node lists already sorted.
        for (shard, entries) in copies.shards() {
            primaries[entries[0].node as usize].push(shard);
            for entry in entries {
                held[entry.node as usize].push(shard);
            }
        }
        let index = copies
            .nodes(config)
            .enumerate()
            .map(|(i, node)| (node.id.clone(), i as u32))
            .collect();
        let states = (config.read_only_shards.iter())
            .map(|&s| (s, ShardState::ReadOnly))
            .chain(
                config
                    .offline_shards
                    .iter()
                    .map(|&s| (s, ShardState::Offline)),
            )
            .collect();
        Topology {
            generation: config.generation,
            protocol: ReplicationProtocol::new(config.replication_mode, config.replication_factor),
            move_reads: config.move_reads,
            config: config.clone(),
            copies,
            index,
            primaries,
            held,
            states,
        }
    }

    /// The copies of shard `shard`, primary first.
    #[inline]
    pub(crate) fn copies(&self, shard: ShardId) -> &[CopyEntry] {
        self.copies.copies(shard)
    }

    /// The node index of shard `shard`'s primary.
    #[inline]
    pub(crate) fn primary(&self, shard: ShardId) -> u32 {
        self.copies(shard)[0].node
    }

    /// The number of nodes.
    pub(crate) fn node_count(&self) -> usize {
        self.copies.node_count()
    }

    /// The node with index `node`.
    #[inline]
    pub(crate) fn node(&self, node: u32) -> &NodeConfig {
        self.copies.node(&self.config, node)
    }

    /// The id of the node with index `node`.
    #[inline]
    pub(crate) fn node_id(&self, node: u32) -> &str {
        &self.node(node).id
    }

    /// The nodes in node-index order.
    pub(crate) fn nodes(&self) -> impl ExactSizeIterator<Item = &NodeConfig> + '_ {
        self.copies.nodes(&self.config)
    }

    /// The index of the node with id `node_id`.
    pub(crate) fn node_index(&self, node_id: &str) -> Option<u32> {
        self.index.get(node_id).copied()
    }

    /// Whether some copy of shard `shard` is joining or leaving.
    pub(crate) fn is_moving(&self, shard: ShardId) -> bool {
        self.copies(shard)
            .iter()
            .any(|c| c.state != CopyState::Stable)
    }

    /// Whether a copy in `state` serves reads under this config's
    /// `move_reads`: old copies (all but joining) before the cut-over, new
    /// copies (all but leaving) after it.
    #[inline]
    pub(crate) fn reads_from(&self, state: CopyState) -> bool {
        match self.move_reads {
            MoveReads::Old => state != CopyState::Joining,
            MoveReads::New => state != CopyState::Leaving,
        }
    }

    /// The state of a shard under this topology, which the config alone
    /// decides (decision 0046): `ReadOnly` or `Offline` as the config
    /// lists it, else `Rebalancing` while its copies move, else `Active`.
    pub(crate) fn state(&self, shard: ShardId) -> ShardState {
        if let Some(&state) = self.states.get(&shard) {
            state
        } else if self.is_moving(shard) {
            ShardState::Rebalancing
        } else {
            ShardState::Active
        }
    }

    /// The shards node `node` (an index) holds a copy of, ascending.
    pub(crate) fn held(&self, node: u32) -> &[ShardId] {
        &self.held[node as usize]
    }

    /// The shards node `node` (an index) is primary for, ascending.
    pub(crate) fn primaries(&self, node: u32) -> &[ShardId] {
        &self.primaries[node as usize]
    }

    /// Shard `s` as this topology places it, in `state`.
    pub(crate) fn shard(&self, s: ShardId, state: ShardState) -> Shard {
        let copies = self.copies(s);
        let primary = self.node(copies[0].node);
        let mut shard = Shard::new(s, primary.id.clone());
        shard.address = Some(primary.address.clone());
        shard.replicas = copies[1..]
            .iter()
            .map(|c| self.node_id(c.node).to_owned())
            .collect();
        for copy in copies {
            let list = match copy.state {
                CopyState::Joining => &mut shard.joining,
                CopyState::Leaving => &mut shard.leaving,
                _ => continue,
            };
            list.push(self.node_id(copy.node).to_owned());
        }
        shard.state = state;
        shard
    }
}
