use std::time::Instant;

use dashmap::{mapref::entry::Entry as MapEntry, DashMap};
use fxhash::FxBuildHasher;

use crate::{ReplicationAck, ReplicationError, ReplicationResult, WriteQuorum};

/// The table of in-flight writes, keyed by a write id, that network
/// threads complete concurrently.
///
/// The engine [`begin`](Self::begin)s a write before sending it to its
/// copies, each network thread passes the answers it receives to
/// [`ack`](Self::ack), and a timer thread calls [`expire`](Self::expire)
/// with the current time. Whichever call decides a write returns its
/// [`ReplicationResult`] and removes it, under the same lock: **a write's
/// outcome is returned exactly once, to exactly one caller**, and no entry
/// outlives its decision. An answer for an id that is unknown (never begun,
/// already decided, expired) is dropped and allocates nothing, so a flood of
/// late or forged answers cannot grow the table; a pending write keeps at
/// most one answer per copy.
///
/// `T` is the deadline's type: [`Instant`] by default, or any ordered
/// clock value (a simulated one in tests). The table reads no clock itself.
///
/// It is a [`DashMap`] with FxHash: many threads, each touching different
/// write ids, lock only one of its shards per call (figures in
/// `docs/performance.md`, "Replication").
///
/// ```
/// use std::time::{Duration, Instant};
/// use rusts_cluster_replication::{PendingWrites, ReplicationAck, ReplicationMode, WriteQuorum};
///
/// let pending = PendingWrites::new();
/// let deadline = Instant::now() + Duration::from_secs(2);
/// let quorum = WriteQuorum::new(ReplicationMode::Quorum, ["a", "b", "c"]);
/// assert!(pending.begin(1, quorum, deadline)?.is_none(), "pending until acked");
///
/// // Network threads, as answers arrive:
/// assert!(pending.ack(1, ReplicationAck::success("a", 2))?.is_none());
/// let result = pending.ack(1, ReplicationAck::success("c", 3))?.expect("decided");
/// assert!(result.quorum_reached);
/// // Too late: the write was decided and removed; this answer is dropped.
/// assert!(pending.ack(1, ReplicationAck::success("b", 900))?.is_none());
/// assert!(pending.is_empty());
///
/// // A timer thread, now and then:
/// assert!(pending.expire(Instant::now()).is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct PendingWrites<T = Instant> {
    entries: DashMap<u64, Pending<T>, FxBuildHasher>,
}

/// One write in flight.
#[derive(Debug)]
struct Pending<T> {
    quorum: WriteQuorum,
    deadline: T,
}

impl<T: Ord> PendingWrites<T> {
    /// An empty table.
    pub fn new() -> Self {
        PendingWrites {
            entries: DashMap::with_hasher(FxBuildHasher::default()),
        }
    }

    /// Starts tracking write `id`, to be decided by its answers or at
    /// `deadline`. Call it **before** sending the write to its copies: an
    /// answer that arrives before `begin` finds no write and is dropped.
    ///
    /// Returns `Ok(Some(result))`, and keeps nothing, when `quorum` is
    /// decided already (an `Asynchronous` write, or one sent to no copy):
    /// the caller is then the one that gets the outcome. Otherwise
    /// `Ok(None)`: the outcome will come from [`ack`](Self::ack) or
    /// [`expire`](Self::expire).
    ///
    /// # Errors
    ///
    /// [`ReplicationError::WriteIdInFlight`] when `id` is pending already;
    /// the table is unchanged.
    pub fn begin(
        &self,
        id: u64,
        quorum: WriteQuorum,
        deadline: T,
    ) -> Result<Option<ReplicationResult>, ReplicationError> {
        if quorum.status().is_decided() {
            return Ok(Some(quorum.into_result()));
        }
        match self.entries.entry(id) {
            MapEntry::Occupied(_) => Err(ReplicationError::WriteIdInFlight { id }),
            MapEntry::Vacant(slot) => {
                slot.insert(Pending { quorum, deadline });
                Ok(None)
            }
        }
    }

    /// Records an answer to write `id`.
    ///
    /// Returns `Ok(Some(result))` to the one caller whose answer decided
    /// the write (reached, or no longer reachable), and removes it.
    /// `Ok(None)` when the write is still pending, or when `id` is not in
    /// the table (never begun, decided, expired): such an answer is
    /// dropped.
    ///
    /// # Errors
    ///
    /// [`ReplicationError::UnexpectedNode`] when the write is pending and
    /// `ack` comes from a node it was not sent to; the answer is not
    /// counted and the write stays pending.
    pub fn ack(
        &self,
        id: u64,
        ack: ReplicationAck,
    ) -> Result<Option<ReplicationResult>, ReplicationError> {
        let mut rejected = None;
        // Recording and removing under the same shard lock is what makes
        // the decision reach exactly one caller.
        let decided =
            self.entries
                .remove_if_mut(&id, |_, pending| match pending.quorum.record(ack) {
                    Ok(status) => status.is_decided(),
                    Err(error) => {
                        rejected = Some(error);
                        false
                    }
                });
        match (decided, rejected) {
            (_, Some(error)) => Err(error),
            (Some((_, pending)), None) => Ok(Some(pending.quorum.into_result())),
            (None, None) => Ok(None),
        }
    }

    /// Decides and removes every write whose deadline is at or before
    /// `now`: their silent copies count as failures
    /// ([`WriteQuorum::finish`]). Returns each with its result, in no
    /// particular order.
    ///
    /// Safe to call concurrently with [`ack`](Self::ack): a write an answer
    /// decides in the meantime is returned by that `ack` and not here. A
    /// clock that jumps backward expires nothing; one that jumps forward
    /// expires everything it passed. The cost is a scan of the whole
    /// table, so call it on a timer (every few milliseconds), not per write.
    pub fn expire(&self, now: T) -> Vec<(u64, ReplicationResult)> {
        // Collect first: removing while iterating would deadlock on the
        // shard the iterator holds.
        let due: Vec<u64> = self
            .entries
            .iter()
            .filter(|entry| entry.deadline <= now)
            .map(|entry| *entry.key())
            .collect();
        due.into_iter()
            .filter_map(|id| {
                // Checked again under the write lock: an answer may have
                // decided the write, and a new one begun with its id.
                self.entries
                    .remove_if(&id, |_, pending| pending.deadline <= now)
                    .map(|(id, pending)| (id, pending.quorum.into_result()))
            })
            .collect()
    }

    /// The number of writes in flight.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether no write is in flight.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<T: Ord> Default for PendingWrites<T> {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReplicationMode::*;

    fn ok(node: &str) -> ReplicationAck {
        ReplicationAck::success(node, 1)
    }

    fn fail(node: &str) -> ReplicationAck {
        ReplicationAck::failure(node, "disk full", 1)
    }

    fn abc() -> WriteQuorum {
        WriteQuorum::new(Quorum, ["a", "b", "c"])
    }

    #[test]
    fn decided_once_then_removed() {
        let p = PendingWrites::<u64>::new();
        assert_eq!(p.begin(1, abc(), 10).unwrap(), None);
        assert_eq!(p.ack(1, fail("a")).unwrap(), None);
        assert_eq!(p.ack(1, fail("a")).unwrap(), None, "duplicate ignored");
        let r = p.ack(1, fail("b")).unwrap().expect("two failures of three");
        assert!(!r.quorum_reached);
        assert_eq!(r.missing_nodes, ["c"]);
        assert!(p.is_empty());
        assert_eq!(p.ack(1, ok("c")).unwrap(), None);
        assert!(p.expire(u64::MAX).is_empty());
    }

    #[test]
    fn duplicate_ids_are_refused() {
        let p = PendingWrites::<u64>::new();
        p.begin(7, abc(), 10).unwrap();
        let err = p.begin(7, abc(), 20).unwrap_err();
        assert_eq!(err, ReplicationError::WriteIdInFlight { id: 7 });
        assert_eq!(
            err.to_string(),
            "write id 7 is already in flight; give each write a new id (e.g. from a counter) \
             and begin it once"
        );
        // The first write keeps its deadline.
        assert!(p.expire(9).is_empty());
        assert_eq!(p.expire(10).len(), 1);
    }

    #[test]
    fn decided_writes_are_returned_by_begin_and_never_kept() {
        let p = PendingWrites::<u64>::new();
        let r = p
            .begin(1, WriteQuorum::new(Asynchronous, ["a"]), 10)
            .unwrap();
        assert!(r.unwrap().quorum_reached);
        let r = p.begin(2, WriteQuorum::new(Quorum, Vec::<String>::new()), 10);
        assert!(!r.unwrap().unwrap().quorum_reached);
        assert!(p.is_empty());
    }

    #[test]
    fn foreign_acks_are_errors_only_while_pending() {
        let p = PendingWrites::<u64>::new();
        p.begin(1, abc(), 10).unwrap();
        assert!(matches!(
            p.ack(1, ok("z")),
            Err(ReplicationError::UnexpectedNode { .. })
        ));
        assert_eq!(p.len(), 1);
        assert_eq!(p.ack(2, ok("z")).unwrap(), None, "unknown id: dropped");
    }

    #[test]
    fn expire_takes_due_writes_only_and_counts_silence_as_failure() {
        let p = PendingWrites::<u64>::new();
        p.begin(1, abc(), 10).unwrap();
        p.begin(2, abc(), 20).unwrap();
        p.ack(1, ok("a")).unwrap();
        assert!(p.expire(9).is_empty());
        let expired = p.expire(10);
        assert_eq!(expired.len(), 1);
        let (id, r) = &expired[0];
        assert_eq!(*id, 1);
        assert_eq!(
            r.error(),
            Some(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
        assert_eq!(r.missing_nodes, ["b", "c"]);
        assert!(
            p.expire(5).is_empty(),
            "a clock jumping back expires nothing"
        );
        assert_eq!(p.expire(u64::MAX).len(), 1);
        assert!(p.is_empty());
    }

    #[test]
    fn racing_threads_get_each_decision_exactly_once() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let p = PendingWrites::<u64>::new();
        const WRITES: u64 = 2_000;
        for id in 0..WRITES {
            p.begin(id, abc(), id).unwrap();
        }
        let decided = AtomicUsize::new(0);
        std::thread::scope(|s| {
            for node in ["a", "b", "c"] {
                let (p, decided) = (&p, &decided);
                s.spawn(move || {
                    for id in 0..WRITES {
                        if p.ack(id, ok(node)).unwrap().is_some() {
                            decided.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                });
            }
            s.spawn(|| {
                for now in 0..WRITES {
                    decided.fetch_add(p.expire(now / 2).len(), Ordering::Relaxed);
                }
            });
        });
        decided.fetch_add(p.expire(u64::MAX).len(), Ordering::Relaxed);
        assert_eq!(decided.into_inner(), WRITES as usize);
        assert!(p.is_empty());
    }
}
