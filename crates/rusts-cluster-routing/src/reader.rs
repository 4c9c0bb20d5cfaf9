use std::{fmt, sync::Arc};

use arc_swap::{ArcSwap, Cache};
use rusts_cluster_sharding::{ShardId, ShardKeyRef};

use crate::{snapshot::Snapshot, RoutingError, ShardView};

/// A router handle for one thread, that routes single keys without loading
/// the shared snapshot on every call.
///
/// [`ShardRouter::route`](crate::ShardRouter::route) loads the snapshot for
/// each key, which costs a few atomic operations on memory local to the
/// thread. A reader keeps the snapshot it last saw and only checks, with one
/// atomic read, whether a newer one was published; it sees every state or
/// availability change on its first call after the change returns.
///
/// Make one per worker thread with
/// [`ShardRouter::reader`](crate::ShardRouter::reader) and keep it for the
/// thread's life. The views it returns borrow it, so route, use the view, and
/// route again. It keeps the last snapshot it saw alive until its next call.
///
/// ```
/// use rusts_cluster_config::ClusterConfig;
/// use rusts_cluster_routing::ShardRouter;
/// use rusts_cluster_sharding::{ShardKeyRef, ShardState};
///
/// let router = ShardRouter::from_config(&ClusterConfig::single_node("n1", "10.0.0.1:8086"))?;
/// std::thread::scope(|scope| {
///     scope.spawn(|| {
///         let mut reader = router.reader();
///         for series in 0..1000u64 {
///             let shard = reader.route(ShardKeyRef::new("cpu", series, 0)).unwrap();
///             assert_eq!(u64::from(shard.id), series % 16);
///         }
///     });
/// });
/// let mut reader = router.reader();
/// let mut next = ClusterConfig::single_node("n1", "10.0.0.1:8086");
/// next.generation = 1;
/// next.offline_shards = vec![5];
/// router.apply(&next)?;
/// assert_eq!(reader.get_shard(5).unwrap().state, ShardState::Offline, "a reader sees the new generation");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct RouterReader<'r> {
    cache: Cache<&'r ArcSwap<Snapshot>, Arc<Snapshot>>,
}

impl<'r> RouterReader<'r> {
    pub(crate) fn new(table: &'r ArcSwap<Snapshot>) -> Self {
        RouterReader {
            cache: Cache::new(table),
        }
    }

    /// Routes a key to its shard, like
    /// [`ShardRouter::route`](crate::ShardRouter::route).
    ///
    /// # Errors
    ///
    /// [`RoutingError::ShardNotFound`] if the strategy gives a shard the
    /// table does not have; a router built from a valid config always has
    /// every shard, so this does not happen.
    #[inline]
    pub fn route<'k>(
        &mut self,
        key: impl Into<ShardKeyRef<'k>>,
    ) -> Result<ShardView<'_>, RoutingError> {
        // The key is mapped with the mapper of the snapshot it is looked
        // up in: after a split, both are of the new generation.
        let snapshot: &Snapshot = self.cache.load();
        let index = snapshot.shard_of(key)?;
        Ok(ShardView { snapshot, index })
    }

    /// The shard with id `id`, if there is one, from the newest snapshot.
    #[inline]
    pub fn get_shard(&mut self, id: ShardId) -> Option<ShardView<'_>> {
        let snapshot: &Snapshot = self.cache.load();
        ((id as usize) < snapshot.shards.len()).then_some(ShardView {
            snapshot,
            index: id,
        })
    }
}

impl fmt::Debug for RouterReader<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RouterReader").finish_non_exhaustive()
    }
}
