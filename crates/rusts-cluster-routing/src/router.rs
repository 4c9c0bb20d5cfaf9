//! The router: built from a config, routing keys from many threads, and
//! taking state and availability changes through the one writer path.

use std::{fmt, sync::Arc};

use arc_swap::Guard;
use rusts_cluster_config::ClusterConfig;
use rusts_cluster_replication::{ReplicationMode, ReplicationProtocol, WriteQuorum};
use rusts_cluster_sharding::{ShardId, ShardKeyRef, ShardMapper, ShardingStrategy};

#[cfg(doc)]
use crate::ShardView;
use crate::{
    batch::{self, BatchRoute},
    reader::RouterReader,
    snapshot::{Published, Snapshot, Successor},
    topology::Topology,
    view::{handle, ShardHandle},
    RoutingError,
};

/// A concurrent router from keys to shards, for one node of a cluster.
///
/// Build it with [`from_config`](Self::from_config), share it between threads
/// (`ShardRouter` is `Send + Sync`; wrap it in an `Arc`), and call
/// [`route`](Self::route) or [`route_batch`](Self::route_batch) from all of
/// them; a thread that routes in a loop keeps a [`reader`](Self::reader).
/// Node availability changes with
/// [`set_node_available`](Self::set_node_available), and the whole
/// placement, shard states included, with [`apply`](Self::apply) (the next
/// config generation), all concurrently with routing: every answer comes wholly
/// from one snapshot, and readers never wait.
///
/// The node it runs as and the strategy are fixed when the router is built:
/// changing the strategy moves every key. A router built from a config
/// with no node id (the file every node shares, loaded as no node's) runs
/// as no node: it routes and plans like any other, but holds no shard, as
/// a client or a tool needs (see [`from_config`](Self::from_config)). The shard count changes only by a
/// split ([`apply`](Self::apply)), which keeps every key on a child of its
/// shard, on the same nodes.
pub struct ShardRouter {
    node_id: String,
    /// The snapshot readers load; every writer replaces it through
    /// [`Published::update`].
    pub(crate) table: Published,
}

impl fmt::Debug for ShardRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mapper = self.table.load().mapper;
        f.debug_struct("ShardRouter")
            .field("node_id", &self.node_id)
            .field("strategy", &mapper.strategy())
            .field("num_shards", &mapper.shard_count())
            .finish_non_exhaustive()
    }
}

impl ShardRouter {
    /// Builds a router for the node named by `config.node_id`, after
    /// validating the config.
    ///
    /// A process that runs as a node loads the shared file as that node
    /// first (`ClusterConfig::from_file_as(path, "node1")`), so that the
    /// router knows which shards are its own. A config with no node id
    /// gives a router that runs as no node, which a client, a proxy or a
    /// tool (the CLI's `route`) uses: it routes every key and plans every
    /// query, and plans prefer no copy as local; but it holds nothing:
    /// [`local_shards`](Self::local_shards) and
    /// [`local_primary_shards`](Self::local_primary_shards) are empty,
    /// [`holds_shard`](Self::holds_shard) and
    /// [`is_primary_for`](Self::is_primary_for) are false, and
    /// [`node_id`](Self::node_id) is `""`. It is not refused, because
    /// routing needs no node id and a tool has none to give; a storage
    /// engine that finds `node_id()` empty was started without its id
    /// (`docs/decisions/0029-one-file-for-every-node.md`).
    ///
    /// Runs in time linear in the nodes, the listed shards and the shard
    /// count: each list is read a constant number of times, and the only sort
    /// is of the node ids. Each shard's replicas are in node-id order, so the
    /// order of nodes in the file never changes routing.
    ///
    /// # Errors
    ///
    /// [`RoutingError::InvalidConfig`] listing every problem when
    /// [`ClusterConfig::validate`] fails.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::{RoutingError, ShardRouter};
    ///
    /// let mut config = ClusterConfig::single_node("node1", "10.0.1.1:8086");
    /// assert!(ShardRouter::from_config(&config).is_ok());
    ///
    /// // As no node: it routes, but holds nothing.
    /// let client = ShardRouter::from_config(&config.clone().for_node(""))?;
    /// assert_eq!(client.node_id(), "");
    /// assert_eq!(client.get_shard(3).map(|s| s.primary.clone()), Some("node1".to_owned()));
    /// assert!(!client.holds_shard(3) && client.local_shards().is_empty());
    ///
    /// config.shard_count = 17; // shard 16 has no primary
    /// assert!(matches!(ShardRouter::from_config(&config), Err(RoutingError::InvalidConfig(_))));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_config(config: &ClusterConfig) -> Result<Self, RoutingError> {
        config.validate()?;
        // Node indices fit u32 because the file size limit bounds the node
        // count far below it.
        let topology = Topology::build(config);
        let shards = (0..config.shard_count)
            .map(|s| Arc::new(topology.shard(s, topology.state(s))))
            .collect();
        let node_up = vec![true; topology.node_count()];
        Ok(ShardRouter {
            node_id: config.node_id.clone(),
            table: Published::new(Snapshot {
                topology: Arc::new(topology),
                mapper: ShardMapper::new(config.sharding_strategy, config.shard_count),
                shards,
                node_up,
            }),
        })
    }

    /// Routes a key to its shard. The key may be a `&ShardKey`, a
    /// [`ShardKeyRef`] or a `&ShardKeyRef`; a borrowed key lets the caller
    /// route without building a `String` per point.
    ///
    /// Takes no lock and allocates nothing.
    ///
    /// # Errors
    ///
    /// [`RoutingError::ShardNotFound`] if the strategy gives a shard the
    /// table does not have; a router built from a valid config always has
    /// every shard, so this does not happen.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::{ShardKey, ShardKeyRef};
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?;
    /// // The example config shards BySeries over 16 shards: series 42 is shard 10.
    /// let shard = router.route(&ShardKey::new("cpu", 42, 0))?;
    /// assert_eq!((shard.id, shard.primary.as_str()), (10, "node2"));
    /// // A borrowed key routes the same without a String.
    /// assert_eq!(router.route(ShardKeyRef::new("cpu", 42, 0))?.id, 10);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[inline]
    pub fn route<'k>(&self, key: impl Into<ShardKeyRef<'k>>) -> Result<ShardHandle, RoutingError> {
        let snapshot = self.table.load();
        let index = snapshot.shard_of(key)?;
        Ok(ShardHandle { snapshot, index })
    }

    /// Routes a batch of keys with one snapshot load, grouping the keys'
    /// indices by shard, in shard-id order.
    ///
    /// `keys` may be a slice of [`ShardKey`](rusts_cluster_sharding::ShardKey)s
    /// or of borrowed [`ShardKeyRef`]s. Every key is in exactly one group;
    /// a group whose shard cannot take writes is still returned, and says so
    /// ([`ShardView::accepts_writes`]), so no key is dropped silently. All
    /// groups see the same snapshot.
    ///
    /// Allocates the output only (a few arrays: one entry per key, one per
    /// shard touched, and scratch space proportional to the batch or to the
    /// shard count), never per key. The cost is linear in the batch, plus the
    /// shard count when the batch is at least an eighth of it.
    ///
    /// # Errors
    ///
    /// [`RoutingError::BatchTooLarge`] for a batch of more than `u32::MAX`
    /// keys (split it).
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::ShardKey;
    ///
    /// let mut config = ClusterConfig::single_node("n1", "10.0.0.1:8086");
    /// config.read_only_shards = vec![3];
    /// let router = ShardRouter::from_config(&config)?;
    /// let keys = [ShardKey::new("cpu", 3, 0), ShardKey::new("cpu", 1, 0), ShardKey::new("cpu", 19, 0)];
    /// let batch = router.route_batch(&keys)?;
    /// let groups: Vec<_> = batch
    ///     .groups()
    ///     .map(|g| (g.shard().id, g.key_indices().to_vec(), g.shard().accepts_writes()))
    ///     .collect();
    /// // BySeries over 16 shards: series 1 is shard 1; series 3 and 19 are shard 3, read-only.
    /// assert_eq!(groups, [(1, vec![1], true), (3, vec![0, 2], false)]);
    /// assert_eq!(batch.shard_of(2), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn route_batch<'k, K>(&self, keys: &'k [K]) -> Result<BatchRoute, RoutingError>
    where
        &'k K: Into<ShardKeyRef<'k>>,
    {
        batch::route_batch(self.table.load(), keys.iter().map(Into::into))
    }

    /// [`route_batch`](Self::route_batch) over items that are not keys
    /// themselves (an engine's points), each read through `key`: the same
    /// grouping, without building a slice of keys first.
    ///
    /// # Errors
    ///
    /// As [`route_batch`](Self::route_batch).
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::ShardKeyRef;
    ///
    /// struct Point { series: u64, value: f64 }
    /// # impl Point { fn value(&self) -> f64 { self.value } }
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?;
    /// let points = [Point { series: 3, value: 1.0 }, Point { series: 19, value: 2.0 }];
    /// let batch = router.route_batch_by(&points, |p| ShardKeyRef::new("cpu", p.series, 0))?;
    /// assert_eq!(batch.shards(), [3, 3]);
    /// # assert_eq!(points[1].value(), 2.0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn route_batch_by<'k, T, F>(
        &self,
        items: &'k [T],
        key: F,
    ) -> Result<BatchRoute, RoutingError>
    where
        F: FnMut(&'k T) -> ShardKeyRef<'k>,
    {
        batch::route_batch(self.table.load(), items.iter().map(key))
    }

    /// A reader for one thread: routes single keys without the per-call
    /// snapshot load, and sees state and availability changes on its next
    /// call. See [`RouterReader`].
    pub fn reader(&self) -> RouterReader<'_> {
        RouterReader::new(self.table.current())
    }

    /// The shard with id `id`, if there is one.
    #[inline]
    pub fn get_shard(&self, id: ShardId) -> Option<ShardHandle> {
        let snapshot = self.table.load();
        if (id as usize) < snapshot.shards.len() {
            Some(ShardHandle {
                snapshot,
                index: id,
            })
        } else {
            None
        }
    }

    /// Every shard, sorted by id.
    pub fn all_shards(&self) -> Vec<ShardHandle> {
        let snapshot = self.table.load_full();
        (0..snapshot.shards.len() as ShardId)
            .map(|id| handle(&snapshot, id))
            .collect()
    }

    /// The shards `node_id` holds, as primary or replica, sorted by id. An
    /// unknown node holds none.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?;
    /// let ids = |shards: Vec<_>| shards.iter().map(|s: &rusts_cluster_routing::ShardHandle| s.id).collect::<Vec<_>>();
    /// assert_eq!(ids(router.shards_for_node("node2")), (0..16).collect::<Vec<_>>());
    /// assert_eq!(ids(router.primary_shards_for_node("node2")), (8..16).collect::<Vec<_>>());
    /// assert_eq!(ids(router.local_shards()), (0..8).collect::<Vec<_>>()); // node1
    /// assert!(router.shards_for_node("node9").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shards_for_node(&self, node_id: &str) -> Vec<ShardHandle> {
        self.handles(node_id, Topology::held)
    }

    /// The shards `node_id` is primary for, sorted by id. An unknown node is
    /// primary for none.
    pub fn primary_shards_for_node(&self, node_id: &str) -> Vec<ShardHandle> {
        self.handles(node_id, Topology::primaries)
    }

    /// The shards this node holds, as primary or replica, sorted by id;
    /// none when the router runs as no node.
    pub fn local_shards(&self) -> Vec<ShardHandle> {
        self.shards_for_node(&self.node_id)
    }

    /// The shards this node is primary for, sorted by id; none when the
    /// router runs as no node.
    pub fn local_primary_shards(&self) -> Vec<ShardHandle> {
        self.primary_shards_for_node(&self.node_id)
    }

    /// Whether this node is the primary of shard `id`; false when the
    /// router runs as no node.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?;
    /// // This process is node1: primary of 0-7, no copy of 8-15.
    /// assert!(router.is_primary_for(3) && router.holds_shard(3));
    /// assert!(!router.is_primary_for(12) && !router.holds_shard(12));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_primary_for(&self, id: ShardId) -> bool {
        self.local_contains(id, Topology::primaries)
    }

    /// Whether this node holds a copy of shard `id`, as primary or replica;
    /// false when the router runs as no node.
    pub fn holds_shard(&self, id: ShardId) -> bool {
        self.local_contains(id, Topology::held)
    }

    /// The id of the node this router runs on, or `""` when it runs as no
    /// node (built from a config without a node id).
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The sharding strategy.
    pub fn strategy(&self) -> ShardingStrategy {
        self.table.load().mapper.strategy()
    }

    /// The number of shards in the generation the router runs now: the
    /// one it was built with, or more after [`apply`](Self::apply) took a
    /// split.
    ///
    /// A `u32` because shard ids are (`ShardId`): a config's `shard_count`
    /// is a `usize` like every count read from a file, and validation keeps
    /// it at most [`MAX_SHARD_COUNT`](rusts_cluster_config::MAX_SHARD_COUNT),
    /// so it always fits.
    pub fn shard_count(&self) -> u32 {
        self.table.load().mapper.shard_count()
    }

    /// The generation of the config the router runs now: the one it was
    /// built from, or the last one [`apply`](Self::apply) took.
    pub fn generation(&self) -> u64 {
        self.table.load().topology.generation
    }

    /// The replication mode and factor of the config the router runs now.
    pub fn protocol(&self) -> ReplicationProtocol {
        self.table.load().topology.protocol
    }

    /// The replication mode of the config the router runs now.
    pub fn replication_mode(&self) -> ReplicationMode {
        self.protocol().mode()
    }

    /// The replication factor of the config the router runs now.
    pub fn replication_factor(&self) -> usize {
        self.protocol().replication_factor()
    }

    /// Checks the generation a peer's request carries against this
    /// router's: a peer at `g - 1`, `g` or `g + 1` may be served, any
    /// other is refused.
    ///
    /// A transition moves copies through configs that are each safe to run
    /// beside the next and the previous one, never beside one two steps
    /// away (`docs/decisions/0019-joint-copies.md`). The engine sends its
    /// generation with every request between nodes and calls this on
    /// receipt, before reading or writing anything.
    ///
    /// # Errors
    ///
    /// [`RoutingError::PeerGeneration`], naming both generations.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::{RoutingError, ShardRouter};
    ///
    /// let mut config = ClusterConfig::single_node("node1", "10.0.1.1:8086");
    /// config.generation = 7;
    /// let router = ShardRouter::from_config(&config)?;
    /// assert!((6..=8).all(|peer| router.check_peer_generation(peer).is_ok()));
    /// let err = router.check_peer_generation(5).unwrap_err();
    /// assert!(matches!(err, RoutingError::PeerGeneration { ours: 7, peer: 5 }));
    /// assert!(router.check_peer_generation(u64::MAX).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_peer_generation(&self, peer: u64) -> Result<(), RoutingError> {
        let ours = self.generation();
        if peer.abs_diff(ours) <= 1 {
            Ok(())
        } else {
            Err(RoutingError::PeerGeneration { ours, peer })
        }
    }

    /// The write rule of shard `shard` in the config the router runs now: a
    /// [`WriteQuorum`] over the shard's copies that needs what the
    /// replication mode requires of the **replication factor**
    /// ([`ReplicationProtocol::required_acks_for`]), so an under-replicated
    /// shard never acknowledges below the promise and the decision agrees
    /// with [`ReplicationProtocol::check_quorum`]. Feed it the copies'
    /// answers, or hand it to a
    /// [`PendingWrites`](rusts_cluster_replication::PendingWrites).
    ///
    /// # Errors
    ///
    /// [`RoutingError::ShardNotFound`] when there is no shard `shard`, and
    /// [`RoutingError::Replication`] when its state takes no writes.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_replication::{QuorumStatus, ReplicationAck};
    /// use rusts_cluster_routing::ShardRouter;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?; // Quorum, replication_factor = 2
    /// let mut quorum = router.write_quorum(3)?; // node1 and node2
    /// assert_eq!(quorum.record(ReplicationAck::success("node1", 1))?, QuorumStatus::Pending);
    /// assert_eq!(quorum.record(ReplicationAck::success("node2", 1))?, QuorumStatus::Reached);
    ///
    /// // Shard 10 has one copy: 2 successes can never come, as `validate` warns.
    /// assert_eq!(router.write_quorum(10)?.status(), QuorumStatus::Failed);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_quorum(&self, shard: ShardId) -> Result<WriteQuorum, RoutingError> {
        let handle = self
            .get_shard(shard)
            .ok_or_else(|| RoutingError::ShardNotFound {
                shard,
                shard_count: self.shard_count(),
            })?;
        handle.write_quorum()
    }

    /// Marks node `node_id` available or down. Routes and plans that start
    /// after this returns skip its copies for reads and report them in
    /// [`ShardView::down_copies`]; a shard whose primary is down no longer
    /// [accepts writes](ShardView::accepts_writes).
    ///
    /// It builds a new snapshot that shares every shard with the old one,
    /// in O(shards): meant for operational changes, not per-request ones.
    /// Concurrent calls, and `apply`, never lose each other's changes. The
    /// caller's failure detector decides; the router records.
    ///
    /// **Advisory** (decision 0046): a node marked down is skipped for
    /// reads and counted as a missing copy for writes, which only narrows
    /// what this router asks; it never changes how many answers a write or
    /// a read needs, so a wrong mark costs availability, never a lost write
    /// or a stale read. It is this router's alone, and a restart forgets it.
    /// A shard's state, which does change what may be read and written,
    /// comes from the config (`read_only_shards`, `offline_shards`, and its
    /// copies' moves).
    ///
    /// # Errors
    ///
    /// [`RoutingError::NodeNotFound`] when no node has this id.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::ShardKey;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?;
    /// router.set_node_available("node1", false)?;
    /// // Series 2 is shard 2: primary node1 (down), replica node2.
    /// let shard = router.route(&ShardKey::new("cpu", 2, 0))?;
    /// assert!(!shard.accepts_writes());
    /// assert_eq!(shard.down_copies().collect::<Vec<_>>(), ["node1"]);
    /// assert!(router.set_node_available("node9", false).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_node_available(&self, node_id: &str, available: bool) -> Result<(), RoutingError> {
        // The node is looked up in each snapshot the change would replace: a
        // config applied meanwhile may have renumbered or removed it.
        self.table.update(|current| {
            let node =
                current
                    .topology
                    .node_index(node_id)
                    .ok_or_else(|| RoutingError::NodeNotFound {
                        node: node_id.to_owned(),
                    })? as usize;
            if current.node_up[node] == available {
                return Ok(Successor::Unchanged(()));
            }
            let mut node_up = current.node_up.clone();
            node_up[node] = available;
            Ok(Successor::Next(
                current.with(current.shards.clone(), node_up),
                (),
            ))
        })
    }

    /// Whether node `node_id` is available (not marked down), or `None` for
    /// a node that is not in the cluster.
    pub fn is_node_available(&self, node_id: &str) -> Option<bool> {
        let snapshot = self.table.load();
        let node = snapshot.topology.node_index(node_id)?;
        Some(snapshot.node_up[node as usize])
    }

    /// The current snapshot (with its mapper) and this node's id, for the
    /// query planner.
    pub(crate) fn parts(&self) -> (Guard<Arc<Snapshot>>, &str) {
        (self.table.load(), &self.node_id)
    }

    /// Whether this node's list (primaries or held shards) has `id`.
    fn local_contains(&self, id: ShardId, list: fn(&Topology, u32) -> &[ShardId]) -> bool {
        let snapshot = self.table.load();
        let topology = &snapshot.topology;
        topology
            .node_index(&self.node_id)
            .is_some_and(|node| list(topology, node).binary_search(&id).is_ok())
    }

    fn handles(&self, node_id: &str, list: fn(&Topology, u32) -> &[ShardId]) -> Vec<ShardHandle> {
        let snapshot = self.table.load_full();
        let Some(node) = snapshot.topology.node_index(node_id) else {
            return Vec::new();
        };
        list(&snapshot.topology, node)
            .iter()
            .map(|&id| handle(&snapshot, id))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusts_cluster_config::{ConfigError, NodeConfig};
    use rusts_cluster_sharding::{ShardKey, ShardState};

    fn three_nodes() -> ClusterConfig {
        let mut config = ClusterConfig::single_node("b", "10.0.0.2:8086");
        config.shard_count = 6;
        config.replication_factor = 2;
        let mut a = NodeConfig::new("a", "10.0.0.1:8086");
        a.shards = vec![0, 1];
        a.replica_shards = vec![4, 5, 2];
        let mut b = NodeConfig::new("b", "10.0.0.2:8086");
        b.shards = vec![3, 2];
        b.replica_shards = vec![0, 5];
        let mut c = NodeConfig::new("c", "10.0.0.3:8086");
        c.shards = vec![4, 5];
        c.replica_shards = vec![1, 3];
        config.nodes = vec![c, a, b];
        config
    }

    fn ids(handles: &[ShardHandle]) -> Vec<ShardId> {
        handles.iter().map(|h| h.id).collect()
    }

    #[test]
    fn builds_the_table_from_the_config() {
        let router = ShardRouter::from_config(&three_nodes()).unwrap();
        let s5 = router.get_shard(5).unwrap();
        assert_eq!(s5.primary, "c");
        assert_eq!(s5.address.as_deref(), Some("10.0.0.3:8086"));
        assert_eq!(
            s5.replicas,
            ["a", "b"],
            "replicas sorted by node id, not file order"
        );
        assert_eq!(ids(&router.all_shards()), [0, 1, 2, 3, 4, 5]);
        assert_eq!(ids(&router.local_shards()), [0, 2, 3, 5]);
        assert_eq!(ids(&router.local_primary_shards()), [2, 3]);
        assert_eq!(ids(&router.shards_for_node("a")), [0, 1, 2, 4, 5]);
        assert_eq!(ids(&router.primary_shards_for_node("c")), [4, 5]);
        assert!(router.shards_for_node("nobody").is_empty());
        assert!(router.is_primary_for(2) && !router.is_primary_for(0));
        assert!(router.holds_shard(0) && !router.holds_shard(1) && !router.holds_shard(99));
        assert_eq!(router.node_id(), "b");
        assert!(router.get_shard(6).is_none());
    }

    #[test]
    fn refuses_an_invalid_config() {
        let mut config = three_nodes();
        config.nodes[0].shards.push(0);
        let err = ShardRouter::from_config(&config).unwrap_err();
        assert!(
            matches!(&err, RoutingError::InvalidConfig(ConfigError::Invalid { errors }) if errors.len() == 1),
            "{err:?}"
        );
    }

    #[test]
    fn state_changes_are_seen_by_the_next_route_only() {
        let config = three_nodes();
        let router = ShardRouter::from_config(&config).unwrap();
        let key = ShardKey::new("cpu", 4, 0);
        let before = router.route(&key).unwrap();
        // A state comes from the config: a new generation changes it.
        let mut next = config.clone();
        next.generation += 1;
        next.offline_shards = vec![4];
        router.apply(&next).unwrap();
        assert_eq!(before.state, ShardState::Active, "a handle is a snapshot");
        let after = router.route(&key).unwrap();
        assert_eq!(after.state, ShardState::Offline);
        assert!(!after.can_read());
        assert_eq!(router.get_shard(3).unwrap().state, ShardState::Active);
        let err = router.write_quorum(6).unwrap_err();
        assert_eq!(
            err.to_string(),
            "shard 6 does not exist; this cluster has shards 0 to 5"
        );
    }

    #[test]
    fn router_and_handles_cross_threads() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<ShardRouter>();
        send_sync::<ShardHandle>();
    }
}
