use std::{
    fmt,
    sync::{
        atomic::{AtomicU64, AtomicUsize, Ordering},
        Mutex, MutexGuard, PoisonError,
    },
    time::Instant,
};

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
/// # Layout
///
/// Write `id` lives in slot `id % capacity` ([`with_capacity`](Self::with_capacity),
/// 4,096 slots by default), each slot with its own lock on its own cache
/// lines, so threads answering different writes share no memory, and a
/// write's quorum is kept inline in its slot (no heap allocation for up to
/// five copies with ids of at most 22 bytes). Give writes ids from a
/// counter and keep fewer writes in flight than there are slots, and every
/// write has a slot of its own. A write whose slot is taken by another
/// write goes to an overflow map (a [`DashMap`]), slower but unbounded:
/// any ids work, and nothing is refused for lack of room. Why, with the
/// figures: `docs/decisions/0010-in-flight-writes-in-slots.md`.
///
/// Beside the slots the table keeps a count of the writes in flight, so
/// [`len`](Self::len) and [`is_empty`](Self::is_empty) read one number,
/// and a map of the slots in use, one bit per slot, so
/// [`expire`](Self::expire) locks only the slots that hold a write and
/// returns at once from an empty table. Each costs the write path one
/// atomic operation when a write begins and one when it is decided.
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
pub struct PendingWrites<T = Instant> {
    slots: Box<[Slot<T>]>,
    /// Writes whose slot held another write when they began.
    overflow: DashMap<u64, Pending<T>, FxBuildHasher>,
    /// How many writes are in `overflow`. Read before looking there, so an
    /// answer to a write in a slot, or to no write, never touches the map.
    spilled: AtomicUsize,
    /// How many writes are in flight, in slots and in `overflow`: counted
    /// before a write can be found, uncounted when the call that decides
    /// it removes it, so it never goes below the true count of writes that
    /// can still be decided.
    in_flight: AtomicUsize,
    /// Bit `i % 64` of word `i / 64` is set while slot `i` holds a write.
    /// Set and cleared under the slot's lock; read without it by `expire`,
    /// which then locks only the slots whose bit is set.
    used: Box<[UsedWord]>,
}

/// 64 bits of the map of slots in use, alone on its cache lines: a thread
/// that fills or empties a slot writes only the word of its 64 slots.
#[repr(align(128))]
struct UsedWord(AtomicU64);

/// One slot: a lock and the write it holds, alone on its cache lines (128
/// bytes: the pair of lines Intel cores fetch together) so that threads
/// answering writes in different slots never contend.
#[repr(align(128))]
struct Slot<T>(Mutex<Option<Pending<T>>>);

/// One write in flight. `repr(C)`: the id and the quorum's counters and
/// answers right after the slot's lock, in its first 128 bytes.
#[repr(C)]
struct Pending<T> {
    id: u64,
    quorum: WriteQuorum,
    deadline: T,
}

/// The slots of [`PendingWrites::new`].
const DEFAULT_SLOTS: usize = 4_096;

/// The most slots a table takes: 2^20, about 400 MiB of slots.
const MAX_SLOTS: usize = 1 << 20;

/// A poisoned lock means a panic elsewhere while it was held; the table's
/// own code cannot panic under a lock, and every write it holds is whole,
/// so the table goes on.
fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl<T: Ord> PendingWrites<T> {
    /// An empty table with 4,096 slots: room for that many writes in
    /// flight, with ids from a counter, before any goes to the overflow
    /// map.
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_SLOTS)
    }

    /// An empty table with `slots` slots, rounded up to a power of two
    /// (at least 1, at most 2^20). Each slot takes 384 bytes with the
    /// default deadline type; size it to the writes the engine keeps in
    /// flight (rate × deadline). More writes than slots still work: the
    /// extra ones go to the overflow map.
    pub fn with_capacity(slots: usize) -> Self {
        let slots = slots.clamp(1, MAX_SLOTS).next_power_of_two();
        PendingWrites {
            slots: (0..slots).map(|_| Slot(Mutex::new(None))).collect(),
            overflow: DashMap::with_hasher(FxBuildHasher::default()),
            spilled: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            used: (0..slots.div_ceil(64))
                .map(|_| UsedWord(AtomicU64::new(0)))
                .collect(),
        }
    }

    /// The number of slots.
    pub fn capacity(&self) -> usize {
        self.slots.len()
    }

    /// The index of write `id`'s slot.
    fn slot_index(&self, id: u64) -> usize {
        // The length is a power of two: the mask is `id % len`.
        id as usize & (self.slots.len() - 1)
    }

    /// Marks slot `index` in use or free. Called with its lock held, so the
    /// bit and the slot agree for anyone who takes the lock.
    fn mark(&self, index: usize, in_use: bool) {
        let (word, bit) = (&self.used[index / 64].0, 1u64 << (index % 64));
        if in_use {
            word.fetch_or(bit, Ordering::AcqRel);
        } else {
            word.fetch_and(!bit, Ordering::AcqRel);
        }
    }

    /// Uncounts one write, removed by the call that decided it.
    fn uncount(&self) {
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
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
        // Every call about `id` takes this slot's lock first, so two
        // `begin`s of one id cannot both pass the checks below.
        let index = self.slot_index(id);
        let mut slot = lock(&self.slots[index].0);
        let in_slot = slot.as_ref().is_some_and(|pending| pending.id == id);
        if in_slot || (self.spilled.load(Ordering::SeqCst) > 0 && self.overflow.contains_key(&id)) {
            return Err(ReplicationError::WriteIdInFlight { id });
        }
        let pending = Pending {
            id,
            quorum,
            deadline,
        };
        if slot.is_none() {
            // Counted and marked before the lock is released: the write
            // can be found, and so decided and uncounted, only after.
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            self.mark(index, true);
            *slot = Some(pending);
            return Ok(None);
        }
        match self.overflow.entry(id) {
            MapEntry::Occupied(_) => Err(ReplicationError::WriteIdInFlight { id }),
            MapEntry::Vacant(entry) => {
                // Counted before it can be found, so an answer never
                // misses it, and no decision uncounts it before.
                self.in_flight.fetch_add(1, Ordering::AcqRel);
                self.spilled.fetch_add(1, Ordering::SeqCst);
                entry.insert(pending);
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
        let decided = {
            let index = self.slot_index(id);
            let mut slot = lock(&self.slots[index].0);
            match slot.as_mut() {
                Some(pending) if pending.id == id => {
                    // Recording and removing under the same lock is what
                    // makes the decision reach exactly one caller.
                    if pending.quorum.record(ack)?.is_decided() {
                        self.mark(index, false);
                        self.uncount();
                        slot.take()
                    } else {
                        None
                    }
                }
                _ => {
                    drop(slot);
                    return self.ack_spilled(id, ack);
                }
            }
        };
        // The result is built after the lock is released.
        Ok(decided.map(|pending| pending.quorum.into_result()))
    }

    /// [`ack`](Self::ack) for a write that is not in its slot: in the
    /// overflow map, or nowhere.
    fn ack_spilled(
        &self,
        id: u64,
        ack: ReplicationAck,
    ) -> Result<Option<ReplicationResult>, ReplicationError> {
        if self.spilled.load(Ordering::SeqCst) == 0 {
            return Ok(None);
        }
        let mut rejected = None;
        let decided =
            self.overflow
                .remove_if_mut(&id, |_, pending| match pending.quorum.record(ack) {
                    Ok(status) => status.is_decided(),
                    Err(error) => {
                        rejected = Some(error);
                        false
                    }
                });
        if let Some(error) = rejected {
            return Err(error);
        }
        Ok(decided.map(|(_, pending)| {
            self.spilled.fetch_sub(1, Ordering::SeqCst);
            self.uncount();
            pending.quorum.into_result()
        }))
    }

    /// Decides and removes every write whose deadline is at or before
    /// `now`: their silent copies count as failures
    /// ([`WriteQuorum::finish`]). Returns each with its result, in no
    /// particular order.
    ///
    /// Safe to call concurrently with [`ack`](Self::ack): a write an answer
    /// decides in the meantime is returned by that `ack` and not here. A
    /// clock that jumps backward expires nothing; one that jumps forward
    /// expires everything it passed.
    ///
    /// The cost: on an empty table, one atomic load (no lock, no
    /// allocation). Otherwise a read of the map of slots in use (one word
    /// per 64 slots), a lock of each slot that holds a write, due or not,
    /// and a scan of the overflow map when it holds any. So call it on a
    /// timer (every few milliseconds), not per write. (The table cannot
    /// skip the writes not yet due without locking them: a deadline of any
    /// `T` cannot be read atomically.)
    pub fn expire(&self, now: T) -> Vec<(u64, ReplicationResult)> {
        if self.in_flight.load(Ordering::Acquire) == 0 {
            return Vec::new();
        }
        let mut due = Vec::new();
        for (w, word) in self.used.iter().enumerate() {
            let mut bits = word.0.load(Ordering::Acquire);
            while bits != 0 {
                let index = w * 64 + bits.trailing_zeros() as usize;
                bits &= bits - 1;
                let mut slot = lock(&self.slots[index].0);
                // Checked under the lock: an answer may have decided the
                // write since the bit was read, and another begun.
                if slot.as_ref().is_some_and(|pending| pending.deadline <= now) {
                    self.mark(index, false);
                    self.uncount();
                    due.extend(slot.take());
                }
            }
        }
        if self.spilled.load(Ordering::SeqCst) > 0 {
            // Collect first: removing while iterating would deadlock on
            // the shard the iterator holds.
            let ids: Vec<u64> = self
                .overflow
                .iter()
                .filter(|entry| entry.deadline <= now)
                .map(|entry| *entry.key())
                .collect();
            for id in ids {
                // Checked again under the write lock: an answer may have
                // decided the write, and a new one begun with its id.
                if let Some((_, pending)) = self
                    .overflow
                    .remove_if(&id, |_, pending| pending.deadline <= now)
                {
                    self.spilled.fetch_sub(1, Ordering::SeqCst);
                    self.uncount();
                    due.push(pending);
                }
            }
        }
        // Results are built with no lock held.
        due.into_iter()
            .map(|pending| (pending.id, pending.quorum.into_result()))
            .collect()
    }

    /// The number of writes in flight: one atomic load, no lock.
    ///
    /// Exact while no other call on the table is running. During
    /// concurrent calls it is the count at one instant, in which a write
    /// is counted from inside its [`begin`](Self::begin) (before `begin`
    /// returns) until inside the call that decides it (before that call
    /// returns its result). So, for a thread that has seen those calls
    /// return, a write whose `begin` returned and whose result no call has
    /// returned yet is always counted, and one whose result was returned
    /// never is; writes being begun or decided meanwhile may or may not be.
    pub fn len(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    /// Whether no write is in flight: [`len`](Self::len) is 0, with the
    /// same meaning under concurrent calls.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<T: Ord> Default for PendingWrites<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for PendingWrites<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingWrites")
            .field("capacity", &self.slots.len())
            .field("in_flight", &self.in_flight.load(Ordering::SeqCst))
            .field("spilled", &self.spilled.load(Ordering::SeqCst))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_acks::{fail, ok};
    use crate::ReplicationMode::*;

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
    fn capacity_is_a_power_of_two_within_bounds() {
        let capacity = |slots| PendingWrites::<u64>::with_capacity(slots).capacity();
        assert_eq!(capacity(0), 1);
        assert_eq!(capacity(3), 4);
        assert_eq!(capacity(4_096), 4_096);
        assert_eq!(capacity(usize::MAX), MAX_SLOTS);
        assert_eq!(PendingWrites::<u64>::new().capacity(), DEFAULT_SLOTS);
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn a_slot_is_three_pairs_of_cache_lines() {
        // The figure `with_capacity` documents.
        assert_eq!(std::mem::size_of::<Slot<Instant>>(), 384);
    }

    #[cfg(target_pointer_width = "64")]
    #[test]
    fn an_answer_writes_only_the_first_128_bytes_of_its_slot() {
        let slot: Slot<Instant> = Slot(Mutex::new(None));
        let quorum = WriteQuorum::new(Quorum, ["a", "b", "c", "d"]);
        *lock(&slot.0) = Some(Pending {
            id: 1,
            quorum,
            deadline: Instant::now(),
        });
        let guard = lock(&slot.0);
        let pending = guard.as_ref().expect("just put");
        let base = &slot as *const Slot<Instant> as usize;
        let write = pending as *const Pending<Instant> as usize - base;
        let quorum = &pending.quorum as *const WriteQuorum as usize - base;
        // The lock word is before the write; the id, the counters and the
        // answers of up to four copies follow it within one line pair.
        assert_eq!(write, 8);
        assert!(
            quorum + WriteQuorum::written_by_answers(4) <= 128,
            "quorum at {quorum}, answers end {} bytes in",
            WriteQuorum::written_by_answers(4)
        );
    }

    #[test]
    fn writes_whose_slot_is_taken_spill_and_are_decided_once() {
        let p = PendingWrites::<u64>::with_capacity(4);
        // Ids 0..16 share 4 slots: 12 go to the overflow map.
        for id in 0..16 {
            assert_eq!(p.begin(id, abc(), 10).unwrap(), None);
        }
        assert_eq!(p.len(), 16);
        assert_eq!(p.spilled.load(Ordering::SeqCst), 12);
        for id in (0..16).rev() {
            assert_eq!(p.ack(id, ok("a")).unwrap(), None);
            assert!(p.ack(id, ok("z")).is_err(), "foreign, in slot or not");
            assert!(p.ack(id, ok("b")).unwrap().unwrap().quorum_reached);
            assert_eq!(p.ack(id, ok("c")).unwrap(), None, "late");
        }
        assert!(p.is_empty());
        assert_eq!(p.spilled.load(Ordering::SeqCst), 0);
        assert_eq!(p.ack(3, ok("a")).unwrap(), None, "unknown id: dropped");
    }

    #[test]
    fn an_id_in_flight_is_refused_wherever_it_lives() {
        let p = PendingWrites::<u64>::with_capacity(1);
        p.begin(1, abc(), 10).unwrap(); // the slot
        p.begin(2, abc(), 10).unwrap(); // the overflow map
        let in_flight = |id| Err(ReplicationError::WriteIdInFlight { id });
        assert_eq!(p.begin(1, abc(), 10), in_flight(1));
        assert_eq!(p.begin(2, abc(), 10), in_flight(2));
        // Write 1 decided: the slot is free, but 2 is still in flight.
        p.ack(1, fail("a")).unwrap();
        assert!(p.ack(1, fail("b")).unwrap().is_some());
        assert_eq!(p.begin(2, abc(), 10), in_flight(2));
        // A new write takes the free slot.
        assert_eq!(p.begin(3, abc(), 10).unwrap(), None);
        assert_eq!(p.len(), 2);
    }

    #[test]
    fn expire_takes_due_writes_from_slots_and_overflow() {
        let p = PendingWrites::<u64>::with_capacity(2);
        for id in 0..6 {
            p.begin(id, abc(), id).unwrap();
        }
        let mut expired: Vec<u64> = p.expire(3).into_iter().map(|(id, _)| id).collect();
        expired.sort_unstable();
        assert_eq!(expired, [0, 1, 2, 3]);
        assert_eq!(p.len(), 2);
        let mut expired: Vec<u64> = p.expire(9).into_iter().map(|(id, _)| id).collect();
        expired.sort_unstable();
        assert_eq!(expired, [4, 5]);
        assert!(p.is_empty());
        assert_eq!(p.spilled.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn len_counts_every_write_from_begin_to_its_decision() {
        let p = PendingWrites::<u64>::with_capacity(2);
        assert_eq!((p.len(), p.is_empty()), (0, true));
        // 0 and 1 take the slots, 2 and 3 spill.
        for id in 0..4 {
            p.begin(id, abc(), id).unwrap();
            assert_eq!(p.len(), id as usize + 1);
        }
        assert!(!p.is_empty());
        // Refused and already-decided writes are never counted.
        assert!(p.begin(0, abc(), 9).is_err());
        p.begin(8, WriteQuorum::new(Asynchronous, ["a"]), 9)
            .unwrap();
        assert_eq!(p.len(), 4, "write 8 was decided at once");
        // 9 shares 1's slot: it spills.
        p.begin(9, abc(), 9).unwrap();
        assert_eq!(p.len(), 5);
        // Decided by answers: in a slot, then spilled; late answers change
        // nothing.
        p.ack(0, ok("a")).unwrap();
        assert!(p.ack(0, ok("b")).unwrap().is_some());
        assert_eq!(p.len(), 4);
        p.ack(0, ok("c")).unwrap();
        p.ack(2, fail("a")).unwrap();
        assert!(p.ack(2, fail("b")).unwrap().is_some());
        assert_eq!(p.len(), 3);
        // Expired: 1 from its slot, 3 from the overflow map.
        assert_eq!(p.expire(3).len(), 2);
        assert_eq!(p.len(), 1);
        assert_eq!(p.expire(9).len(), 1);
        assert_eq!((p.len(), p.is_empty()), (0, true));
    }

    #[test]
    fn expire_finds_writes_in_every_word_of_the_map_of_slots() {
        // 192 slots: three words of the map, both ends of each in use.
        let p = PendingWrites::<u64>::with_capacity(192);
        assert_eq!(p.used.len(), 4, "256 slots after rounding: four words");
        let ids = [0, 63, 64, 127, 128, 191, 192, 255];
        for &id in &ids {
            p.begin(id, abc(), id).unwrap();
        }
        assert_eq!(p.spilled.load(Ordering::SeqCst), 0);
        assert!(p.expire(0).iter().map(|(id, _)| *id).eq([0]));
        let mut expired: Vec<u64> = p.expire(200).into_iter().map(|(id, _)| id).collect();
        expired.sort_unstable();
        assert_eq!(expired, [63, 64, 127, 128, 191, 192]);
        // The bits of expired and of decided writes are cleared.
        p.ack(255, fail("a")).unwrap();
        p.ack(255, fail("b")).unwrap();
        assert!(p.used.iter().all(|w| w.0.load(Ordering::SeqCst) == 0));
        assert!(p.is_empty());
        // A slot freed and taken again is found again.
        p.begin(64 + 256, abc(), 1).unwrap();
        assert!(p.expire(1).iter().map(|(id, _)| *id).eq([320]));
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
