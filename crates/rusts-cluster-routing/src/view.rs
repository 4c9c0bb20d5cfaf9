//! The views of one shard that routing gives: an owning [`ShardHandle`], a
//! borrowed [`ShardView`], and the [`ShardCopy`]s they list.

use std::{fmt, ops::Deref, sync::Arc};

use arc_swap::Guard;
use rusts_cluster_config::CopyEntry;
use rusts_cluster_replication::WriteQuorum;
use rusts_cluster_sharding::{CopyRole, CopyState, Shard, ShardId};

use crate::{snapshot::Snapshot, topology::Topology, RoutingError};
#[cfg(doc)]
use crate::{BatchRoute, RouterReader, ShardRouter};

/// A cheap handle to one shard of a router's snapshot: it dereferences to the
/// [`Shard`] without copying it.
///
/// Creating one allocates nothing and, on the route path, writes no memory
/// shared with other threads. A handle shows the shard as it was when it was
/// taken; route again to see later state changes. Holding many handles for a
/// long time keeps an old snapshot alive (and, past a few per thread, makes
/// taking new ones slower), so use them and let them go.
pub struct ShardHandle {
    pub(crate) snapshot: Guard<Arc<Snapshot>>,
    pub(crate) index: u32,
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
}

/// Gives `ShardHandle` each listed method of [`ShardView`], written once
/// there: the handle's method is the view's, called on
/// [`view`](ShardHandle::view), with the doc given here. (`ShardHandle`
/// already dereferences to the [`Shard`], so it cannot dereference to its
/// view as well.)
macro_rules! forward_to_view {
    ($($(#[$attr:meta])* pub fn $name:ident(&self) -> $ret:ty;)*) => {
        impl ShardHandle {
            $(
                $(#[$attr])*
                pub fn $name(&self) -> $ret {
                    self.view().$name()
                }
            )*
        }
    };
}

forward_to_view! {
    /// Whether a write to this shard can go ahead now: its state takes
    /// writes and its primary is not marked down. See
    /// [`ShardView::accepts_writes`].
    #[inline]
    pub fn accepts_writes(&self) -> bool;

    /// The number of this shard's copies on nodes not marked down. See
    /// [`ShardView::available_copies`].
    pub fn available_copies(&self) -> usize;

    /// Whether a write to this shard can still reach its rule with every
    /// copy on a node marked down failing. See
    /// [`ShardView::write_can_succeed`].
    pub fn write_can_succeed(&self) -> bool;

    /// The copies of this shard on nodes marked down, primary first. See
    /// [`ShardView::down_copies`].
    pub fn down_copies(&self) -> impl Iterator<Item = &str> + '_;

    /// Every copy of this shard: node id, address, role, availability. See
    /// [`ShardView::copies`].
    pub fn copies(&self) -> impl ExactSizeIterator<Item = ShardCopy<'_>> + '_;

    /// The generation of the config this handle was routed with.
    pub fn generation(&self) -> u64;

    /// The write rule of this shard in this handle's generation; see
    /// [`ShardRouter::write_quorum`].
    ///
    /// # Errors
    ///
    /// [`RoutingError::Replication`] when the shard's state takes no
    /// writes.
    pub fn write_quorum(&self) -> Result<WriteQuorum, RoutingError>;
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
        let primary = self.snapshot.topology.primary(self.index);
        self.shard().can_write() && self.snapshot.node_up[primary as usize]
    }

    /// The number of this shard's copies on nodes not marked down: a
    /// count for metrics and logs. To fail a write that cannot reach its
    /// rule, use [`write_can_succeed`](Self::write_can_succeed), not this
    /// count against the required acks: a moving shard needs the rule on
    /// each side of its move, which no count of all its copies can say.
    pub fn available_copies(&self) -> usize {
        let snapshot = self.snapshot;
        snapshot
            .topology
            .copies(self.index)
            .iter()
            .filter(|c| snapshot.node_up[c.node as usize])
            .count()
    }

    /// Whether a write to this shard can still reach its rule if every
    /// copy in [`down_copies`](Self::down_copies) fails: the fail-fast
    /// check before sending, [`WriteQuorum::can_succeed_without`] on
    /// [`write_quorum`](Self::write_quorum). `false` when the shard's state
    /// takes no writes. It looks at the copies only: check
    /// [`accepts_writes`](Self::accepts_writes) too, which also asks for
    /// the primary.
    ///
    /// It knows the joint rule of a moving shard, which a count of the
    /// copies up does not: at factor 2 under `Quorum`, with copy c leaving,
    /// d joining and d down, two of the three copies are up (the count says
    /// "enough"), yet the new side {a, d} can give one success at most.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// let router = ShardRouter::from_config(&config)?; // Quorum, replication_factor = 2
    /// let shard = router.get_shard(3).expect("shard 3"); // node1 and node2
    /// assert!(shard.write_can_succeed());
    /// router.set_node_available("node2", false)?;
    /// let shard = router.get_shard(3).expect("shard 3");
    /// assert!(shard.accepts_writes(), "its primary, node1, is up");
    /// assert!(!shard.write_can_succeed(), "both copies must succeed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn write_can_succeed(&self) -> bool {
        self.write_quorum()
            .is_ok_and(|quorum| quorum.can_succeed_without(self.down_copies()))
    }

    /// The ids of this shard's copies on nodes marked down: the primary
    /// first if it is down, then replicas in node-id order. Empty when every
    /// copy's node is available.
    pub fn down_copies(&self) -> impl Iterator<Item = &'a str> + 'a {
        let snapshot = self.snapshot;
        snapshot
            .topology
            .copies(self.index)
            .iter()
            .filter(move |c| !snapshot.node_up[c.node as usize])
            .map(move |c| snapshot.topology.node_id(c.node))
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
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
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
        snapshot
            .topology
            .copies(self.index)
            .iter()
            .map(move |copy| {
                ShardCopy::new(
                    &snapshot.topology,
                    copy,
                    snapshot.node_up[copy.node as usize],
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
    /// That node's index in this generation's config: its position in
    /// node-id order, from 0. For an engine's table of connections, read
    /// without hashing the id. An index names the same node only within
    /// one generation: a node added or removed renumbers those after it.
    pub node_index: u32,
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
    /// The copy `copy` of one of `topology`'s shards.
    pub(crate) fn new(topology: &'a Topology, copy: &CopyEntry, available: bool) -> Self {
        let node = topology.node(copy.node);
        ShardCopy {
            node_id: &node.id,
            node_index: copy.node,
            address: &node.address,
            role: copy.role,
            state: copy.state,
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

/// A handle that owns a reference to `snapshot`, for handles returned in
/// bulk: a guard per handle from `load()` would exhaust arc-swap's few
/// per-thread slots and fall back to the same reference count anyway.
pub(crate) fn handle(snapshot: &Arc<Snapshot>, id: ShardId) -> ShardHandle {
    ShardHandle {
        snapshot: Guard::from_inner(Arc::clone(snapshot)),
        index: id,
    }
}
