use std::{fmt, ops::Deref, sync::Arc};

use arc_swap::{ArcSwap, Guard};
use fxhash::FxHashMap;
use rusts_cluster_config::ClusterConfig;
use rusts_cluster_sharding::{Shard, ShardId, ShardKeyRef, ShardState, ShardingStrategy};

use crate::RoutingError;

/// An immutable shard table, indexed by shard id. Readers only read it; a
/// change builds a new one.
#[derive(Debug)]
struct Snapshot {
    /// `shards[id]` is shard `id`. The `Arc`s let a new snapshot share every
    /// shard that did not change.
    shards: Vec<Arc<Shard>>,
}

/// The shards one node holds, ascending. Topology is fixed when the router is
/// built, so this index lives outside the snapshot.
#[derive(Debug, Default)]
struct NodeShards {
    primaries: Vec<ShardId>,
    all: Vec<ShardId>,
}

/// A concurrent router from keys to shards, for one node of a cluster.
///
/// Build it with [`from_config`](Self::from_config), share it between threads
/// (`ShardRouter` is `Send + Sync`; wrap it in an `Arc`), and call
/// [`route`](Self::route) from all of them. Shard states change with
/// [`set_shard_state`](Self::set_shard_state), concurrently with routing.
///
/// The shards, their nodes and the strategy are fixed when the router is
/// built; to change the topology, build a router from the new config.
pub struct ShardRouter {
    strategy: ShardingStrategy,
    num_shards: u32,
    node_id: String,
    table: ArcSwap<Snapshot>,
    nodes: FxHashMap<String, NodeShards>,
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

impl fmt::Debug for ShardRouter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardRouter")
            .field("node_id", &self.node_id)
            .field("strategy", &self.strategy)
            .field("num_shards", &self.num_shards)
            .finish_non_exhaustive()
    }
}

impl ShardRouter {
    /// Builds a router for the node named by `config.node_id`, after
    /// validating the config.
    ///
    /// Runs in time linear in the nodes, the listed shards and the shard
    /// count: each list is read once. Each shard's replicas are sorted by
    /// node id, so the order of nodes in the file never changes routing.
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
        // fits u32), every listed id is in range, and every shard has
        // exactly one primary.
        let shard_count = config.shard_count;
        let mut primary_of = vec![0usize; shard_count];
        for (i, node) in config.nodes.iter().enumerate() {
            for &s in &node.shards {
                primary_of[s as usize] = i;
            }
        }
        let mut shards: Vec<Shard> = primary_of
            .iter()
            .enumerate()
            .map(|(id, &p)| {
                let node = &config.nodes[p];
                let mut shard = Shard::new(id as ShardId, node.id.clone());
                shard.address = Some(node.address.clone());
                shard
            })
            .collect();
        let mut nodes = FxHashMap::default();
        for node in &config.nodes {
            for &s in &node.replica_shards {
                shards[s as usize].replicas.push(node.id.clone());
            }
            let mut primaries = node.shards.clone();
            primaries.sort_unstable();
            let mut all: Vec<ShardId> = node
                .shards
                .iter()
                .chain(&node.replica_shards)
                .copied()
                .collect();
            all.sort_unstable();
            nodes.insert(node.id.clone(), NodeShards { primaries, all });
        }
        for shard in &mut shards {
            shard.replicas.sort_unstable();
        }
        Ok(ShardRouter {
            strategy: config.sharding_strategy,
            num_shards: shard_count as u32,
            node_id: config.node_id.clone(),
            table: ArcSwap::from_pointee(Snapshot {
                shards: shards.into_iter().map(Arc::new).collect(),
            }),
            nodes,
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cluster.toml"))?;
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
        let shard = self.strategy.compute_shard(key, self.num_shards);
        self.get_shard(shard).ok_or(RoutingError::ShardNotFound {
            shard,
            shard_count: self.num_shards,
        })
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
        (0..self.num_shards)
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?;
    /// let ids = |shards: Vec<_>| shards.iter().map(|s: &rusts_cluster_routing::ShardHandle| s.id).collect::<Vec<_>>();
    /// assert_eq!(ids(router.shards_for_node("node2")), (0..16).collect::<Vec<_>>());
    /// assert_eq!(ids(router.primary_shards_for_node("node2")), (8..16).collect::<Vec<_>>());
    /// assert_eq!(ids(router.local_shards()), (0..8).collect::<Vec<_>>()); // node1
    /// assert!(router.shards_for_node("node9").is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shards_for_node(&self, node_id: &str) -> Vec<ShardHandle> {
        self.handles(self.nodes.get(node_id).map(|n| n.all.as_slice()))
    }

    /// The shards `node_id` is primary for, sorted by id. An unknown node is
    /// primary for none.
    pub fn primary_shards_for_node(&self, node_id: &str) -> Vec<ShardHandle> {
        self.handles(self.nodes.get(node_id).map(|n| n.primaries.as_slice()))
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
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?;
    /// // This process is node1: primary of 0-7, no copy of 8-15.
    /// assert!(router.is_primary_for(3) && router.holds_shard(3));
    /// assert!(!router.is_primary_for(12) && !router.holds_shard(12));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn is_primary_for(&self, id: ShardId) -> bool {
        self.nodes
            .get(&self.node_id)
            .is_some_and(|n| n.primaries.binary_search(&id).is_ok())
    }

    /// Whether this node holds a copy of shard `id`, as primary or replica.
    pub fn holds_shard(&self, id: ShardId) -> bool {
        self.nodes
            .get(&self.node_id)
            .is_some_and(|n| n.all.binary_search(&id).is_ok())
    }

    /// The id of the node this router runs on.
    pub fn node_id(&self) -> &str {
        &self.node_id
    }

    /// The sharding strategy.
    pub fn strategy(&self) -> ShardingStrategy {
        self.strategy
    }

    /// The number of shards.
    pub fn shard_count(&self) -> u32 {
        self.num_shards
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
        if index >= self.num_shards as usize {
            return Err(RoutingError::ShardNotFound {
                shard: id,
                shard_count: self.num_shards,
            });
        }
        if self.table.load().shards[index].state == state {
            return Ok(());
        }
        self.table.rcu(|current| {
            let mut shards = current.shards.clone();
            if shards[index].state != state {
                let mut shard = Shard::clone(&shards[index]);
                shard.state = state;
                shards[index] = Arc::new(shard);
            }
            Snapshot { shards }
        });
        Ok(())
    }

    fn handles(&self, ids: Option<&[ShardId]>) -> Vec<ShardHandle> {
        let Some(ids) = ids else { return Vec::new() };
        let snapshot = self.table.load_full();
        ids.iter().map(|&id| handle(&snapshot, id)).collect()
    }
}

/// A handle that owns a reference to `snapshot`, for handles returned in
/// bulk: a guard per handle from `load()` would exhaust arc-swap's few
/// per-thread slots and fall back to the same reference count anyway.
fn handle(snapshot: &Arc<Snapshot>, id: ShardId) -> ShardHandle {
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
