use std::{
    collections::HashMap,
    fmt,
    ops::Deref,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use arc_swap::{ArcSwap, Guard};
use fxhash::FxHashMap;
use rusts_cluster_config::{ClusterConfig, MoveReads};
use rusts_cluster_replication::{ReplicationMode, ReplicationProtocol, WriteQuorum};
use rusts_cluster_sharding::{
    CopyRole, CopyState, Shard, ShardId, ShardKeyRef, ShardMapper, ShardState, ShardingStrategy,
};

use crate::{
    batch::{self, BatchRoute},
    reader::RouterReader,
    RoutingError,
};

/// One config generation's layout: the nodes, which nodes hold a copy of
/// each shard, and the replication rule. Replaced whole by
/// [`ShardRouter::apply`]; state and availability changes share it.
#[derive(Debug)]
pub(crate) struct Topology {
    /// The config's generation.
    pub(crate) generation: u64,
    /// The config this topology was built from: [`ShardRouter::apply`]
    /// compares a new shard count with it to recognise a split.
    pub(crate) config: ClusterConfig,
    /// The config's replication mode and factor.
    pub(crate) protocol: ReplicationProtocol,
    /// Node ids, sorted. A node's position here is its index in every other
    /// per-node table.
    pub(crate) node_ids: Vec<String>,
    /// Each node's address, by node index.
    pub(crate) addresses: Vec<String>,
    /// Each node's tags, by node index.
    pub(crate) tags: Vec<HashMap<String, String>>,
    /// Node id to node index.
    index: FxHashMap<String, u32>,
    /// The copies of shard `s` are
    /// `copy_nodes[copy_start[s]..copy_start[s + 1]]`: the primary's node
    /// index first, then the replicas' in node-id order.
    pub(crate) copy_start: Vec<u32>,
    pub(crate) copy_nodes: Vec<u32>,
    /// Each copy's part in a move, parallel to `copy_nodes`; all stable
    /// when nothing moves.
    pub(crate) copy_states: Vec<CopyState>,
    /// Which copies of a moving shard serve reads.
    pub(crate) move_reads: MoveReads,
    /// The shards each node is primary for, ascending, by node index.
    primaries: Vec<Vec<ShardId>>,
    /// The shards each node holds a copy of, ascending, by node index.
    held: Vec<Vec<ShardId>>,
}

impl Topology {
    /// The node indices of shard `shard`'s copies, primary first.
    #[inline]
    pub(crate) fn copies(&self, shard: usize) -> &[u32] {
        let start = self.copy_start[shard] as usize;
        let end = self.copy_start[shard + 1] as usize;
        &self.copy_nodes[start..end]
    }

    pub(crate) fn node_index(&self, node_id: &str) -> Option<u32> {
        self.index.get(node_id).copied()
    }

    /// The states of shard `shard`'s copies, in the order of
    /// [`copies`](Self::copies).
    #[inline]
    pub(crate) fn states(&self, shard: usize) -> &[CopyState] {
        let start = self.copy_start[shard] as usize;
        let end = self.copy_start[shard + 1] as usize;
        &self.copy_states[start..end]
    }

    /// Whether some copy of shard `shard` is joining or leaving.
    pub(crate) fn is_moving(&self, shard: usize) -> bool {
        self.states(shard).iter().any(|&s| s != CopyState::Stable)
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

    /// The state a shard starts in under this topology: `Rebalancing` while
    /// its copies move, else `Active`.
    pub(crate) fn initial_state(&self, shard: usize) -> ShardState {
        if self.is_moving(shard) {
            ShardState::Rebalancing
        } else {
            ShardState::Active
        }
    }

    /// The shards node `node` (an index) holds a copy of, ascending.
    pub(crate) fn held(&self, node: u32) -> &[ShardId] {
        &self.held[node as usize]
    }
}

/// The snapshots the writers replaced that readers may still hold; see
/// [`ShardRouter::replace`].
#[derive(Debug)]
pub(crate) struct Retired(Vec<Arc<Snapshot>>);

/// An immutable view of everything that changes at run time, indexed by
/// shard id and node index. Readers only read it; a change builds a new one.
#[derive(Debug)]
pub(crate) struct Snapshot {
    pub(crate) topology: Arc<Topology>,
    /// The strategy bound to this generation's shard count. It is here,
    /// not beside the snapshot, because a split changes the count: a key
    /// is mapped and looked up in one snapshot, so never with one
    /// generation's count and another's table.
    pub(crate) mapper: ShardMapper,
    /// `shards[id]` is shard `id`. The `Arc`s let a new snapshot share every
    /// shard that did not change.
    pub(crate) shards: Vec<Arc<Shard>>,
    /// Whether each node (by index) is available; all are at first.
    pub(crate) node_up: Vec<bool>,
}

impl Snapshot {
    /// The shard `key` maps to under this snapshot's mapper, checked
    /// against this snapshot's table: the key is mapped and looked up in
    /// one generation (after a split, both are the new one's).
    #[inline]
    pub(crate) fn shard_of<'k>(
        &self,
        key: impl Into<ShardKeyRef<'k>>,
    ) -> Result<ShardId, RoutingError> {
        let shard = self.mapper.compute_shard(key);
        if (shard as usize) < self.shards.len() {
            Ok(shard)
        } else {
            Err(RoutingError::ShardNotFound {
                shard,
                shard_count: self.mapper.shard_count(),
            })
        }
    }
}

/// A concurrent router from keys to shards, for one node of a cluster.
///
/// Build it with [`from_config`](Self::from_config), share it between threads
/// (`ShardRouter` is `Send + Sync`; wrap it in an `Arc`), and call
/// [`route`](Self::route) or [`route_batch`](Self::route_batch) from all of
/// them; a thread that routes in a loop keeps a [`reader`](Self::reader).
/// Shard states change with [`set_shard_state`](Self::set_shard_state),
/// node availability with [`set_node_available`](Self::set_node_available),
/// and the whole placement with [`apply`](Self::apply) (a newer config
/// generation), all concurrently with routing: every answer comes wholly
/// from one snapshot, and readers never wait.
///
/// The node it runs as and the strategy are fixed when the router is built:
/// changing the strategy moves every key. The shard count changes only by a
/// split ([`apply`](Self::apply)), which keeps every key on a child of its
/// shard, on the same nodes.
pub struct ShardRouter {
    node_id: String,
    pub(crate) table: ArcSwap<Snapshot>,
    /// Serializes the writers (state, availability and config changes), so
    /// each reads the snapshot it replaces, and holds the snapshots they
    /// replaced until no reader holds them. Readers never take it.
    writer: Mutex<Retired>,
}

/// A cheap handle to one shard of a router's snapshot: it dereferences to the
/// [`Shard`] without copying it.
///
/// Creating one allocates nothing and, on the route path, writes no memory
/// shared with other threads. A handle shows the shard as it was when it was
/// taken; route again to see later state changes. Holding many handles for a
/// long time keeps an old snapshot alive (and, past a few per thread, makes
/// taking new ones slower), so use them and let them go.
pub struct ShardHandle {
    snapshot: Guard<Arc<Snapshot>>,
    index: u32,
}

impl ShardHandle {
    /// A borrowed view of the shard, with the node availability seen when
    /// the handle was taken.
    #[inline]
    pub fn view(&self) -> ShardView<'_> {
        ShardView {
            snapshot: &self.snapshot,
            index: self.index,
        }
    }

    /// Whether a write to this shard can go ahead now: its state takes
    /// writes and its primary is not marked down. See
    /// [`ShardView::accepts_writes`].
    #[inline]
    pub fn accepts_writes(&self) -> bool {
        self.view().accepts_writes()
    }

    /// The number of this shard's copies on nodes not marked down. See
    /// [`ShardView::available_copies`].
    pub fn available_copies(&self) -> usize {
        self.view().available_copies()
    }

    /// The copies of this shard on nodes marked down, primary first. See
    /// [`ShardView::down_copies`].
    pub fn down_copies(&self) -> impl Iterator<Item = &str> + '_ {
        self.view().down_copies()
    }

    /// Every copy of this shard: node id, address, role, availability. See
    /// [`ShardView::copies`].
    pub fn copies(&self) -> impl ExactSizeIterator<Item = ShardCopy<'_>> + '_ {
        self.view().copies()
    }

    /// The generation of the config this handle was routed with.
    pub fn generation(&self) -> u64 {
        self.view().generation()
    }

    /// The write rule of this shard in this handle's generation; see
    /// [`ShardRouter::write_quorum`].
    ///
    /// # Errors
    ///
    /// [`RoutingError::Replication`] when the shard's state takes no
    /// writes.
    pub fn write_quorum(&self) -> Result<WriteQuorum, RoutingError> {
        self.view().write_quorum()
    }
}

impl AsRef<Shard> for ShardHandle {
    fn as_ref(&self) -> &Shard {
        self
    }
}

impl Deref for ShardHandle {
    type Target = Shard;

    #[inline]
    fn deref(&self) -> &Shard {
        &self.snapshot.shards[self.index as usize]
    }
}

impl fmt::Debug for ShardHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// A borrowed view of one shard in a router's snapshot: what
/// [`RouterReader::route`] and [`BatchRoute`] groups give. It dereferences to
/// the [`Shard`] and also knows which of its copies are on nodes marked down
/// ([`ShardRouter::set_node_available`]).
#[derive(Clone, Copy)]
pub struct ShardView<'a> {
    pub(crate) snapshot: &'a Snapshot,
    pub(crate) index: u32,
}

impl<'a> ShardView<'a> {
    /// The shard.
    #[inline]
    pub fn shard(&self) -> &'a Shard {
        &self.snapshot.shards[self.index as usize]
    }

    /// Whether a write to this shard can go ahead now: the shard's state
    /// takes writes ([`Shard::can_write`]) and its primary is not marked
    /// down. When it is `false`, fail the write at once rather than wait for
    /// a timeout.
    #[inline]
    pub fn accepts_writes(&self) -> bool {
        let primary = self.snapshot.topology.copies(self.index as usize)[0];
        self.shard().can_write() && self.snapshot.node_up[primary as usize]
    }

    /// The number of this shard's copies on nodes not marked down. Compare
    /// it with the write's required acks (`ReplicationMode::required_acks`
    /// of the replication crate) to fail a write that cannot reach its quorum at once: with two copies
    /// in `Quorum` mode, one copy down already leaves too few.
    pub fn available_copies(&self) -> usize {
        let snapshot = self.snapshot;
        snapshot
            .topology
            .copies(self.index as usize)
            .iter()
            .filter(|&&node| snapshot.node_up[node as usize])
            .count()
    }

    /// The ids of this shard's copies on nodes marked down: the primary
    /// first if it is down, then replicas in node-id order. Empty when every
    /// copy's node is available.
    pub fn down_copies(&self) -> impl Iterator<Item = &'a str> + 'a {
        let snapshot = self.snapshot;
        snapshot
            .topology
            .copies(self.index as usize)
            .iter()
            .filter(move |&&node| !snapshot.node_up[node as usize])
            .map(move |&node| snapshot.topology.node_ids[node as usize].as_str())
    }

    /// Every copy of this shard, with its node's id and address, its role
    /// and whether its node is available: the primary first, then the
    /// replicas in node-id order. Everything an engine needs to send a
    /// write to each copy, without keeping the config beside the router.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::{CopyRole, ShardKeyRef};
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?;
    /// router.set_node_available("node2", false)?;
    /// let shard = router.route(ShardKeyRef::new("cpu", 3, 0))?;
    /// let copies: Vec<_> = shard
    ///     .copies()
    ///     .map(|c| (c.node_id, c.address, c.role, c.available))
    ///     .collect();
    /// assert_eq!(copies, [
    ///     ("node1", "10.0.1.1:8086", CopyRole::Primary, true),
    ///     ("node2", "10.0.1.2:8086", CopyRole::Replica, false),
    /// ]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn copies(&self) -> impl ExactSizeIterator<Item = ShardCopy<'a>> + 'a {
        let snapshot = self.snapshot;
        let index = self.index as usize;
        snapshot
            .topology
            .copies(self.index as usize)
            .iter()
            .enumerate()
            .map(move |(i, &node)| {
                ShardCopy::new(
                    &snapshot.topology,
                    node,
                    i == 0,
                    snapshot.topology.states(index)[i],
                    snapshot.node_up[node as usize],
                )
            })
    }

    /// The generation of the config this view was routed with.
    pub fn generation(&self) -> u64 {
        self.snapshot.topology.generation
    }

    /// The write rule of this shard in this view's generation; see
    /// [`ShardRouter::write_quorum`].
    ///
    /// # Errors
    ///
    /// [`RoutingError::Replication`] ([`ReplicationError::ShardNotWritable`](rusts_cluster_replication::ReplicationError::ShardNotWritable))
    /// when the shard's state takes no writes.
    pub fn write_quorum(&self) -> Result<WriteQuorum, RoutingError> {
        Ok(WriteQuorum::for_shard(
            self.snapshot.topology.protocol,
            self.shard(),
        )?)
    }
}

impl AsRef<Shard> for ShardView<'_> {
    fn as_ref(&self) -> &Shard {
        self.shard()
    }
}

/// One copy of a shard: where it is, what it is, and whether its node is
/// available. Given by [`ShardView::copies`], [`ShardHandle::copies`] and
/// the read sets of a [`QueryPlan`](crate::QueryPlan).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ShardCopy<'a> {
    /// The id of the node that holds the copy.
    pub node_id: &'a str,
    /// That node's `host:port` address.
    pub address: &'a str,
    /// Whether the copy is the shard's primary or a replica.
    pub role: CopyRole,
    /// Whether the copy is stable, joining or leaving.
    pub state: CopyState,
    /// Whether the node is available (not marked down with
    /// [`ShardRouter::set_node_available`]).
    pub available: bool,
}

impl<'a> ShardCopy<'a> {
    /// The copy of `topology`'s shard on node index `node`.
    pub(crate) fn new(
        topology: &'a Topology,
        node: u32,
        primary: bool,
        state: CopyState,
        available: bool,
    ) -> Self {
        ShardCopy {
            state,
            node_id: &topology.node_ids[node as usize],
            address: &topology.addresses[node as usize],
            role: if primary {
                CopyRole::Primary
            } else {
                CopyRole::Replica
            },
            available,
        }
    }
}

impl Deref for ShardView<'_> {
    type Target = Shard;

    #[inline]
    fn deref(&self) -> &Shard {
        self.shard()
    }
}

impl fmt::Debug for ShardView<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.shard(), f)
    }
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
    /// config.shard_count = 17; // shard 16 has no primary
    /// assert!(matches!(ShardRouter::from_config(&config), Err(RoutingError::InvalidConfig(_))));
    /// ```
    pub fn from_config(config: &ClusterConfig) -> Result<Self, RoutingError> {
        config.validate()?;
        // Validation guarantees: 1 <= shard_count <= MAX_SHARD_COUNT (so it
        // fits u32), node ids are distinct, every listed id is in range,
        // every shard has exactly one primary, and no node lists a shard
        // twice or as both primary and replica. Node indices fit u32 because
        // the file size limit bounds the node count far below it.
        let topology = Topology::build(config);
        let shards = (0..config.shard_count as usize)
            .map(|s| Arc::new(topology.shard(s, topology.initial_state(s))))
            .collect();
        let node_up = vec![true; topology.node_ids.len()];
        Ok(ShardRouter {
            node_id: config.node_id.clone(),
            table: ArcSwap::from_pointee(Snapshot {
                topology: Arc::new(topology),
                mapper: ShardMapper::new(config.sharding_strategy, config.shard_count),
                shards,
                node_up,
            }),
            writer: Mutex::new(Retired(Vec::new())),
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
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
    /// use rusts_cluster_sharding::{ShardKey, ShardState};
    ///
    /// let router = ShardRouter::from_config(&ClusterConfig::single_node("n1", "10.0.0.1:8086"))?;
    /// router.set_shard_state(3, ShardState::ReadOnly)?;
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
        batch::route_batch(self.table.load(), keys)
    }

    /// A reader for one thread: routes single keys without the per-call
    /// snapshot load, and sees state and availability changes on its next
    /// call. See [`RouterReader`].
    pub fn reader(&self) -> RouterReader<'_> {
        RouterReader::new(&self.table)
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?;
    /// let ids = |shards: Vec<_>| shards.iter().map(|s: &rusts_cluster_routing::ShardHandle| s.id).collect::<Vec<_>>();
    /// assert_eq!(ids(router.shards_for_node("node2")), (0..16).collect::<Vec<_>>());
    /// assert_eq!(ids(router.primary_shards_for_node("node2")), (8..16).collect::<Vec<_>>());
    /// assert_eq!(ids(router.local_shards()), (0..8).collect::<Vec<_>>()); // node1
    /// assert!(router.shards_for_node("node9").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shards_for_node(&self, node_id: &str) -> Vec<ShardHandle> {
        self.handles(node_id, |topology, node| &topology.held[node])
    }

    /// The shards `node_id` is primary for, sorted by id. An unknown node is
    /// primary for none.
    pub fn primary_shards_for_node(&self, node_id: &str) -> Vec<ShardHandle> {
        self.handles(node_id, |topology, node| &topology.primaries[node])
    }

    /// The shards this node holds, as primary or replica, sorted by id.
    pub fn local_shards(&self) -> Vec<ShardHandle> {
        self.shards_for_node(&self.node_id)
    }

    /// The shards this node is primary for, sorted by id.
    pub fn local_primary_shards(&self) -> Vec<ShardHandle> {
        self.primary_shards_for_node(&self.node_id)
    }

    /// Whether this node is the primary of shard `id`.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?;
    /// // This process is node1: primary of 0-7, no copy of 8-15.
    /// assert!(router.is_primary_for(3) && router.holds_shard(3));
    /// assert!(!router.is_primary_for(12) && !router.holds_shard(12));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_primary_for(&self, id: ShardId) -> bool {
        self.local_contains(id, |topology, node| &topology.primaries[node])
    }

    /// Whether this node holds a copy of shard `id`, as primary or replica.
    pub fn holds_shard(&self, id: ShardId) -> bool {
        self.local_contains(id, |topology, node| &topology.held[node])
    }

    /// The id of the node this router runs on.
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
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

    /// Sets the state of shard `id`. Routes that start after this returns see
    /// the new state; handles taken before keep showing the old one.
    ///
    /// Builds a new snapshot that shares every other shard with the old one
    /// (one reference-count increment per shard), so it costs O(shards):
    /// meant for operational changes, not per-request ones. Concurrent calls
    /// never lose each other's changes.
    ///
    /// # Errors
    ///
    /// [`RoutingError::ShardNotFound`] when there is no shard `id`.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::ShardState;
    ///
    /// let router = ShardRouter::from_config(&ClusterConfig::single_node("n", "10.0.0.1:8086"))?;
    /// let before = router.get_shard(5).unwrap();
    /// router.set_shard_state(5, ShardState::ReadOnly)?;
    /// assert_eq!(before.state, ShardState::Active, "a handle keeps its snapshot");
    /// assert_eq!(router.get_shard(5).unwrap().state, ShardState::ReadOnly);
    /// assert!(router.set_shard_state(16, ShardState::Offline).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn set_shard_state(&self, id: ShardId, state: ShardState) -> Result<(), RoutingError> {
        let index = id as usize;
        let not_found = |shard_count: usize| RoutingError::ShardNotFound {
            shard: id,
            shard_count: shard_count as u32,
        };
        let snapshot = self.table.load();
        match snapshot.shards.get(index) {
            None => return Err(not_found(snapshot.shards.len())),
            Some(shard) if shard.state == state => return Ok(()),
            Some(_) => {}
        }
        drop(snapshot);
        let mut writer = self.lock_writer();
        let current = self.table.load();
        // A split applied meanwhile only adds shards, but check again
        // against the snapshot this change replaces.
        if index >= current.shards.len() {
            return Err(not_found(current.shards.len()));
        }
        let mut shards = current.shards.clone();
        let mut shard = Shard::clone(&shards[index]);
        shard.state = state;
        shards[index] = Arc::new(shard);
        let next = Snapshot {
            topology: Arc::clone(&current.topology),
            mapper: current.mapper,
            shards,
            node_up: current.node_up.clone(),
        };
        drop(current);
        self.replace(&mut writer, next);
        Ok(())
    }

    /// Marks node `node_id` available or down. Routes and plans that start
    /// after this returns skip its copies for reads and report them in
    /// [`ShardView::down_copies`]; a shard whose primary is down no longer
    /// [accepts writes](ShardView::accepts_writes).
    ///
    /// Like [`set_shard_state`](Self::set_shard_state), it builds a new
    /// snapshot in O(shards), and concurrent calls never lose each other's
    /// changes. The caller's failure detector decides; the router records.
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
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
        let not_found = || RoutingError::NodeNotFound {
            node: node_id.to_owned(),
        };
        let snapshot = self.table.load();
        let node = snapshot
            .topology
            .node_index(node_id)
            .ok_or_else(not_found)?;
        if snapshot.node_up[node as usize] == available {
            return Ok(());
        }
        drop(snapshot);
        let mut writer = self.lock_writer();
        // Look the node up again: a config applied meanwhile may have
        // renumbered or removed it.
        let current = self.table.load();
        let node = current.topology.node_index(node_id).ok_or_else(not_found)? as usize;
        let mut node_up = current.node_up.clone();
        node_up[node] = available;
        let next = Snapshot {
            topology: Arc::clone(&current.topology),
            mapper: current.mapper,
            shards: current.shards.clone(),
            node_up,
        };
        drop(current);
        self.replace(&mut writer, next);
        Ok(())
    }

    /// Whether node `node_id` is available (not marked down), or `None` for
    /// a node that is not in the cluster.
    pub fn is_node_available(&self, node_id: &str) -> Option<bool> {
        let snapshot = self.table.load();
        let node = snapshot.topology.node_index(node_id)?;
        Some(snapshot.node_up[node as usize])
    }

    /// Takes the writers' lock. The lock guards no data of its own (each
    /// writer replaces the snapshot whole), so a writer that panicked left
    /// nothing half-done and the lock is taken even when poisoned.
    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, Retired> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Publishes `next` and retires the snapshot it replaces.
    ///
    /// Whoever drops the last reference to a snapshot frees it: after an
    /// `apply` that is every shard, and freeing a router of 65,536 shards
    /// takes milliseconds (the `apply/drop_router` bench,
    /// `docs/performance.md`). A reader must never be that one, or a route
    /// would stall behind a config change. So the writer keeps
    /// each replaced snapshot, and frees those no reader holds any more
    /// each time it writes: readers only ever drop a reference that is not
    /// the last. A snapshot a reader still held at the last write is freed
    /// by the next one.
    pub(crate) fn replace(&self, retired: &mut Retired, next: Snapshot) {
        let old = self.table.swap(Arc::new(next));
        retired.0.push(old);
        // A count of one is the list's own reference: no handle, batch,
        // reader or guard holds the snapshot, and none can take it again,
        // since it is no longer published.
        retired.0.retain(|snapshot| Arc::strong_count(snapshot) > 1);
    }

    /// The current snapshot (with its mapper) and this node's id, for the
    /// query planner.
    pub(crate) fn parts(&self) -> (Guard<Arc<Snapshot>>, &str) {
        (self.table.load(), &self.node_id)
    }

    /// Whether this node's list (primaries or held shards) has `id`.
    fn local_contains(&self, id: ShardId, list: impl Fn(&Topology, usize) -> &[ShardId]) -> bool {
        let snapshot = self.table.load();
        let topology = &snapshot.topology;
        topology
            .node_index(&self.node_id)
            .is_some_and(|node| list(topology, node as usize).binary_search(&id).is_ok())
    }

    fn handles(
        &self,
        node_id: &str,
        list: impl Fn(&Topology, usize) -> &[ShardId],
    ) -> Vec<ShardHandle> {
        let snapshot = self.table.load_full();
        let Some(node) = snapshot.topology.node_index(node_id) else {
            return Vec::new();
        };
        list(&snapshot.topology, node as usize)
            .iter()
            .map(|&id| handle(&snapshot, id))
            .collect()
    }
}

impl Topology {
    /// Builds the topology of a validated config, reading each list a
    /// constant number of times.
    pub(crate) fn build(config: &ClusterConfig) -> Topology {
        let shard_count = config.shard_count as usize;
        // Node indices in id order: sorting the nodes (not the shards) is
        // what makes replica order independent of the file's node order.
        let mut order: Vec<usize> = (0..config.nodes.len()).collect();
        order.sort_unstable_by(|&a, &b| config.nodes[a].id.cmp(&config.nodes[b].id));
        let nodes: Vec<_> = order.iter().map(|&i| &config.nodes[i]).collect();

        let mut primary_of = vec![0u32; shard_count];
        let mut replica_count = vec![0u32; shard_count];
        for (index, node) in nodes.iter().enumerate() {
            for &s in &node.shards {
                primary_of[s as usize] = index as u32;
            }
            for &s in &node.replica_shards {
                replica_count[s as usize] += 1;
            }
        }
        // The copies of shard s start at copy_start[s]: a counting sort by
        // shard.
        let mut copy_start = Vec::with_capacity(shard_count + 1);
        let mut next = 0u32;
        for &replicas in &replica_count {
            copy_start.push(next);
            next += 1 + replicas;
        }
        copy_start.push(next);
        let mut copy_nodes = vec![0u32; next as usize];
        // `cursor[s]` is where shard s's next replica goes, after its
        // primary. Reusing `replica_count` as the cursors saves an
        // allocation.
        let mut cursor = replica_count;
        for s in 0..shard_count {
            copy_nodes[copy_start[s] as usize] = primary_of[s];
            cursor[s] = copy_start[s] + 1;
        }
        // Nodes in id order, so each shard's replicas come out in id order.
        for (index, node) in nodes.iter().enumerate() {
            for &s in &node.replica_shards {
                let slot = &mut cursor[s as usize];
                copy_nodes[*slot as usize] = index as u32;
                *slot += 1;
            }
        }

        // Copy states: each node's moving lists name copies it holds
        // (validated), found by a scan of the shard's handful of copies.
        let mut copy_states = vec![CopyState::Stable; copy_nodes.len()];
        for (index, node) in nodes.iter().enumerate() {
            let lists = [
                (&node.joining_shards, CopyState::Joining),
                (&node.leaving_shards, CopyState::Leaving),
            ];
            for (list, state) in lists {
                for &s in list {
                    let start = copy_start[s as usize] as usize;
                    let end = copy_start[s as usize + 1] as usize;
                    if let Some(at) = copy_nodes[start..end]
                        .iter()
                        .position(|&n| n == index as u32)
                    {
                        copy_states[start + at] = state;
                    }
                }
            }
        }

        // Walking shards in id order fills the per-node lists already sorted.
        let mut primaries: Vec<Vec<ShardId>> = nodes
            .iter()
            .map(|n| Vec::with_capacity(n.shards.len()))
            .collect();
        let mut held: Vec<Vec<ShardId>> = nodes
            .iter()
            .map(|n| Vec::with_capacity(n.shards.len() + n.replica_shards.len()))
            .collect();
        for s in 0..shard_count {
            let copies = &copy_nodes[copy_start[s] as usize..copy_start[s + 1] as usize];
            primaries[copies[0] as usize].push(s as ShardId);
            for &node in copies {
                held[node as usize].push(s as ShardId);
            }
        }

        let node_ids: Vec<String> = nodes.iter().map(|n| n.id.clone()).collect();
        let index = node_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        Topology {
            generation: config.generation,
            config: config.clone(),
            protocol: ReplicationProtocol::new(config.replication_mode, config.replication_factor),
            addresses: nodes.iter().map(|n| n.address.clone()).collect(),
            tags: nodes.iter().map(|n| n.tags.clone()).collect(),
            node_ids,
            index,
            copy_start,
            copy_nodes,
            copy_states,
            move_reads: config.move_reads,
            primaries,
            held,
        }
    }

    /// Shard `s` as this topology places it, in `state`.
    pub(crate) fn shard(&self, s: usize, state: ShardState) -> Shard {
        let copies = self.copies(s);
        let primary = copies[0] as usize;
        let mut shard = Shard::new(s as ShardId, self.node_ids[primary].clone());
        shard.address = Some(self.addresses[primary].clone());
        shard.replicas = copies[1..]
            .iter()
            .map(|&node| self.node_ids[node as usize].clone())
            .collect();
        for (&node, &copy) in copies.iter().zip(self.states(s)) {
            let list = match copy {
                CopyState::Joining => &mut shard.joining,
                CopyState::Leaving => &mut shard.leaving,
                _ => continue,
            };
            list.push(self.node_ids[node as usize].clone());
        }
        shard.state = state;
        shard
    }
}

/// A handle that owns a reference to `snapshot`, for handles returned in
/// bulk: a guard per handle from `load()` would exhaust arc-swap's few
/// per-thread slots and fall back to the same reference count anyway.
pub(crate) fn handle(snapshot: &Arc<Snapshot>, id: ShardId) -> ShardHandle {
    ShardHandle {
        snapshot: Guard::from_inner(Arc::clone(snapshot)),
        index: id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusts_cluster_config::{ConfigError, NodeConfig};
    use rusts_cluster_sharding::ShardKey;

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
        let router = ShardRouter::from_config(&three_nodes()).unwrap();
        let key = ShardKey::new("cpu", 4, 0);
        let before = router.route(&key).unwrap();
        router.set_shard_state(4, ShardState::Offline).unwrap();
        assert_eq!(before.state, ShardState::Active, "a handle is a snapshot");
        let after = router.route(&key).unwrap();
        assert_eq!(after.state, ShardState::Offline);
        assert!(!after.can_read());
        assert_eq!(router.get_shard(3).unwrap().state, ShardState::Active);
        let err = router.set_shard_state(6, ShardState::Offline).unwrap_err();
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
