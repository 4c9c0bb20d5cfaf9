//! The published snapshot, the one writer path that replaces it, and the
//! retirement of the snapshots it replaced.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::{ArcSwap, Guard};
use rusts_cluster_sharding::{Shard, ShardId, ShardKeyRef, ShardMapper};

use crate::{topology::Topology, RoutingError};

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

    /// This snapshot with `shards` and `node_up` replaced, sharing the
    /// topology and the mapper: the successor of a run-time change.
    pub(crate) fn with(&self, shards: Vec<Arc<Shard>>, node_up: Vec<bool>) -> Snapshot {
        Snapshot {
            topology: Arc::clone(&self.topology),
            mapper: self.mapper,
            shards,
            node_up,
        }
    }
}

/// What a writer's step makes of the current snapshot; see
/// [`Published::update`].
#[derive(Debug)]
pub(crate) enum Successor<T> {
    /// The current snapshot already is what the writer asks for: nothing is
    /// published, and the writer returns `T`.
    Unchanged(T),
    /// Publish this snapshot in place of the current one, and return `T`.
    Next(Snapshot, T),
}

/// The snapshot readers load, and the one path by which writers replace it.
///
/// Readers load [`current`](Self::current) and never take the lock. Every
/// writer (a state, an availability or a config change) goes through
/// [`update`](Self::update), which serializes them, so each successor is
/// computed from the snapshot it replaces and no change is lost, and which
/// retires the snapshots it replaced.
#[derive(Debug)]
pub(crate) struct Published {
    current: ArcSwap<Snapshot>,
    /// Serializes the writers, and holds the snapshots they replaced until
    /// no reader holds them.
    writer: Mutex<Retired>,
}

/// The snapshots the writers replaced that readers may still hold; see
/// [`Published::update`].
#[derive(Debug)]
struct Retired(Vec<Arc<Snapshot>>);

impl Published {
    pub(crate) fn new(first: Snapshot) -> Self {
        Published {
            current: ArcSwap::from_pointee(first),
            writer: Mutex::new(Retired(Vec::new())),
        }
    }

    /// The current snapshot, for one answer.
    #[inline]
    pub(crate) fn load(&self) -> Guard<Arc<Snapshot>> {
        self.current.load()
    }

    /// The current snapshot as an owned reference, for handles made in bulk.
    pub(crate) fn load_full(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    /// The cell readers load from, for a [`RouterReader`](crate::RouterReader)'s cache.
    pub(crate) fn current(&self) -> &ArcSwap<Snapshot> {
        &self.current
    }

    /// The one writer path: computes the successor of the current snapshot
    /// with `step` and publishes it, or returns `step`'s error (or its
    /// `Unchanged` answer) and publishes nothing.
    ///
    /// `step` first runs on the snapshot loaded without the lock, so a
    /// writer that changes nothing (the state already set, a stale
    /// generation) never waits for another writer. A successor is
    /// published only under the lock and only if the snapshot it was
    /// computed from is still the current one; if another writer published
    /// in between, `step` runs again, under the lock, on the snapshot it
    /// now replaces. So `step` runs at most twice, and every successor is
    /// computed from the snapshot it replaces: concurrent writers take
    /// turns and never lose each other's changes.
    pub(crate) fn update<T>(
        &self,
        mut step: impl FnMut(&Snapshot) -> Result<Successor<T>, RoutingError>,
    ) -> Result<T, RoutingError> {
        let seen = self.current.load_full();
        let (next, answer) = match step(&seen)? {
            Successor::Unchanged(answer) => return Ok(answer),
            Successor::Next(next, answer) => (next, answer),
        };
        let mut retired = self.lock();
        let now = self.current.load();
        let (next, answer) = if Arc::ptr_eq(&seen, &now) {
            (next, answer)
        } else {
            drop(next);
            match step(&now)? {
                Successor::Unchanged(answer) => return Ok(answer),
                Successor::Next(next, answer) => (next, answer),
            }
        };
        // Let go of the writer's own references first, so that the
        // retirement below sees only the readers'.
        drop((seen, now));
        self.replace(&mut retired, next);
        Ok(answer)
    }

    /// Takes the writers' lock. The lock guards no data but the retired
    /// list (each writer replaces the snapshot whole), so a writer that
    /// panicked left nothing half-done and the lock is taken even when
    /// poisoned.
    fn lock(&self) -> MutexGuard<'_, Retired> {
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
    fn replace(&self, retired: &mut Retired, next: Snapshot) {
        let old = self.current.swap(Arc::new(next));
        retired.0.push(old);
        // A count of one is the list's own reference: no handle, batch,
        // reader or guard holds the snapshot, and none can take it again,
        // since it is no longer published.
        retired.0.retain(|snapshot| Arc::strong_count(snapshot) > 1);
    }
}
