use std::fmt;

use rusts_cluster_sharding::Shard;

use crate::{
    copies::{Answer, Copies},
    JointSuccesses, ReplicationAck, ReplicationError, ReplicationMode, ReplicationProtocol,
    ReplicationResult,
};

/// Where a write stands after the answers recorded so far.
///
/// The status only ever moves from `Pending` to one of the two decided
/// states, and a decided status never changes: successes only grow, and the
/// successes still possible only shrink.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum QuorumStatus {
    /// Not decided yet: enough copies are still silent that the write can
    /// both succeed and fail.
    Pending,
    /// Enough distinct expected copies acknowledged success.
    Reached,
    /// Enough copies failed (or, after [`WriteQuorum::finish`], stayed
    /// silent) that the required successes can no longer come.
    Failed,
}

impl QuorumStatus {
    /// Whether the outcome is certain (`Reached` or `Failed`).
    pub fn is_decided(self) -> bool {
        !matches!(self, QuorumStatus::Pending)
    }
}

impl fmt::Display for QuorumStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            QuorumStatus::Pending => "pending",
            QuorumStatus::Reached => "reached",
            QuorumStatus::Failed => "failed",
        })
    }
}

/// The incremental quorum of one write: fed the copies' answers one by one,
/// it says the outcome the moment it is certain.
///
/// It does no I/O, starts no thread and reads no clock: the engine feeds it
/// answers as they arrive and calls [`finish`](Self::finish) when the
/// write's deadline passes. [`PendingWrites`](crate::PendingWrites) keeps
/// many of them for network threads to complete concurrently.
///
/// The rules, all in `docs/replication.md`:
///
/// - The write needs [`required`](Self::required) successes from distinct
///   **expected** copies: [`ReplicationMode::required_acks`] of their number
///   for [`new`](Self::new); for [`for_shard`](Self::for_shard), what the
///   mode requires of the replication factor (a `Rebalancing` shard needs
///   one more).
/// - [`record`](Self::record) returns [`QuorumStatus::Reached`] as soon as
///   that many succeeded, [`QuorumStatus::Failed`] as soon as the successes
///   plus the copies still silent fall below it, and
///   [`QuorumStatus::Pending`] otherwise.
/// - An answer from a node outside the expected copies is rejected with
///   [`ReplicationError::UnexpectedNode`] and never counted.
/// - A node's **first** answer wins: a second answer from the same node is
///   ignored, whatever it says (the rule of `check_quorum`).
/// - `Asynchronous` is decided at creation: the status is `Reached` before
///   any answer.
///
/// ```
/// use rusts_cluster_replication::{QuorumStatus, ReplicationAck, ReplicationMode, WriteQuorum};
///
/// let mut quorum = WriteQuorum::new(ReplicationMode::Quorum, ["a", "b", "c"]);
/// assert_eq!(quorum.required(), 2);
/// assert_eq!(quorum.record(ReplicationAck::success("a", 1))?, QuorumStatus::Pending);
/// // A retry of the same answer does not count twice.
/// assert_eq!(quorum.record(ReplicationAck::success("a", 1))?, QuorumStatus::Pending);
/// // The second distinct success decides: no need to wait for "c".
/// assert_eq!(quorum.record(ReplicationAck::success("b", 3))?, QuorumStatus::Reached);
/// // A node that holds no copy is refused.
/// assert!(quorum.record(ReplicationAck::success("z", 1)).is_err());
///
/// let result = quorum.finish()?;
/// assert_eq!(result.success_count, 2);
/// assert_eq!(result.missing_nodes, ["c"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
// `repr(C)`, the fields an answer writes first: see `Copies`.
#[repr(C)]
pub struct WriteQuorum {
    required: usize,
    successes: usize,
    failures: usize,
    /// First answers recorded so far.
    answered: usize,
    mode: ReplicationMode,
    /// The expected copies, distinct, in the order given, each with its
    /// first answer. Inline for the usual handful of copies: a quorum owns
    /// no heap memory, so the thread that decides a write frees nothing
    /// another thread allocated (`src/copies.rs`).
    copies: Copies,
    /// Copies at `leaving_start..joining_start` are leaving and copies from
    /// `joining_start` on are joining; both equal the copy count when the
    /// shard is not moving, so a plain write only reads `leaving_start`. After `copies`:
    /// only a write to a moving shard writes the counters.
    leaving_start: u32,
    joining_start: u32,
    /// Successes and failures of leaving and of joining copies: the old
    /// copies' successes are `successes - joining_successes`, the new
    /// copies' `successes - leaving_successes`.
    leaving_successes: u32,
    joining_successes: u32,
    leaving_failures: u32,
    joining_failures: u32,
    /// The error texts of first answers that gave one, by copy. Later
    /// answers are dropped, so a flood of retries cannot grow a write.
    errors: Vec<(usize, String)>,
}

impl fmt::Debug for WriteQuorum {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteQuorum")
            .field("mode", &self.mode)
            .field("status", &self.status())
            .field("required", &self.required)
            .field("successes", &self.successes)
            .field("failures", &self.failures)
            .field("copies", &self.copies)
            .field("errors", &self.errors)
            .finish()
    }
}

impl WriteQuorum {
    /// A quorum over `expected_nodes`, the copies the write is sent to
    /// (`shard.all_nodes()`, or any node ids).
    ///
    /// A node listed twice counts once: a node holds at most one copy. The
    /// required successes are `mode.required_acks(distinct copies)`, so a
    /// write sent to no copy fails at once unless `Asynchronous`.
    ///
    /// ```
    /// use rusts_cluster_replication::{QuorumStatus, ReplicationMode, WriteQuorum};
    ///
    /// assert_eq!(WriteQuorum::new(ReplicationMode::Synchronous, ["a", "b"]).required(), 2);
    /// let none = WriteQuorum::new(ReplicationMode::Quorum, Vec::<String>::new());
    /// assert_eq!(none.status(), QuorumStatus::Failed);
    /// let fire_and_forget = WriteQuorum::new(ReplicationMode::Asynchronous, ["a"]);
    /// assert_eq!(fire_and_forget.status(), QuorumStatus::Reached);
    /// ```
    pub fn new<I>(mode: ReplicationMode, expected_nodes: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        let mut quorum = Self::empty(mode);
        for node in expected_nodes {
            quorum.copies.insert_string(node.into());
        }
        quorum.required = mode.required_acks(quorum.copies.len());
        quorum.end_sides();
        quorum
    }

    /// The quorum of a write to `shard` under `protocol`, sent to every
    /// copy in [`Shard::all_nodes`].
    ///
    /// The required successes count against the protocol's
    /// **replication factor**, not against the copies the shard happens to
    /// have: [`ReplicationProtocol::required_acks_for`] gives the number.
    /// An under-replicated shard (one copy where the factor is 2, under
    /// `Quorum`) therefore never acknowledges with fewer successes than the
    /// mode promises, and the decision always agrees with
    /// [`ReplicationProtocol::check_quorum`] for the same answers.
    ///
    /// A **moving** shard (some copy joining or leaving, see
    /// [`Shard::is_moving`]) needs that many successes among its old copies
    /// **and** among its new copies: a joint quorum, so that readers of
    /// either side see the write (`docs/decisions/0019-joint-copies.md`).
    /// A **`Rebalancing`** shard that does not say which copies move needs
    /// one success more, which meets the rule for any one moving copy
    /// (`docs/decisions/0007-moving-shards-need-one-more-ack.md`).
    ///
    /// `shard` may be a `&Shard` or anything that dereferences to one
    /// through [`AsRef`]: a `ShardHandle` or `ShardView` of the routing
    /// crate, so that `WriteQuorum::for_shard(protocol, &router.route(key)?)`
    /// compiles. A router's own `write_quorum(shard_id)` does this for you.
    ///
    /// # Errors
    ///
    /// [`ReplicationError::ShardNotWritable`] when the shard is `ReadOnly`
    /// or `Offline`: route writes only to shards whose `can_write()` is
    /// true.
    ///
    /// ```
    /// use rusts_cluster_replication::{
    ///     QuorumStatus, ReplicationAck, ReplicationMode, ReplicationProtocol, WriteQuorum,
    /// };
    /// use rusts_cluster_sharding::{Shard, ShardState};
    ///
    /// let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
    /// let mut shard = Shard::new(0, "a");
    /// shard.add_replica("b");
    /// shard.add_replica("c");
    /// assert_eq!(WriteQuorum::for_shard(protocol, &shard)?.required(), 2);
    ///
    /// // "d" is receiving a copy: 2, plus one.
    /// shard.add_replica("d");
    /// shard.state = ShardState::Rebalancing;
    /// assert_eq!(WriteQuorum::for_shard(protocol, &shard)?.required(), 3);
    ///
    /// // Or say which copy moves: 2 of the old copies and 2 of the new.
    /// shard.state = ShardState::Active;
    /// shard.leaving.push("c".to_owned());
    /// shard.joining.push("d".to_owned());
    /// let mut joint = WriteQuorum::for_shard(protocol, &shard)?;
    /// assert_eq!(joint.required(), 2);
    /// joint.record(ReplicationAck::success("c", 1))?;
    /// joint.record(ReplicationAck::success("d", 1))?;
    /// assert_eq!(joint.status(), QuorumStatus::Pending, "1 old and 1 new");
    /// assert_eq!(joint.record(ReplicationAck::success("b", 1))?, QuorumStatus::Reached);
    ///
    /// // Under-replicated: one copy where the factor is 3 still needs 2.
    /// let lonely = Shard::new(1, "a");
    /// assert_eq!(WriteQuorum::for_shard(protocol, &lonely)?.required(), 2);
    ///
    /// shard.state = ShardState::ReadOnly;
    /// assert!(WriteQuorum::for_shard(protocol, &shard).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn for_shard(
        protocol: ReplicationProtocol,
        shard: impl AsRef<Shard>,
    ) -> Result<Self, ReplicationError> {
        let shard = shard.as_ref();
        if !shard.can_write() {
            return Err(ReplicationError::ShardNotWritable {
                shard: shard.id,
                state: shard.state,
            });
        }
        // Names copied straight from the shard: no allocation for the
        // usual handful of copies with short ids.
        let mut quorum = Self::empty(protocol.mode());
        if !shard.is_moving() {
            for node in shard.all_nodes() {
                quorum.copies.insert(node);
            }
            quorum.required = protocol.required_acks_for(quorum.copies.len(), shard.state);
            quorum.end_sides();
            return Ok(quorum);
        }
        // A move: stable copies first, then leaving, then joining, so a
        // copy's side is its position. Both sides need the factor's rule.
        let is = |list: &[String], node: &str| list.iter().any(|n| n == node);
        for node in shard.all_nodes() {
            if !is(&shard.joining, node) && !is(&shard.leaving, node) {
                quorum.copies.insert(node);
            }
        }
        quorum.leaving_start = quorum.copy_count();
        for node in shard.all_nodes().filter(|n| is(&shard.leaving, n)) {
            quorum.copies.insert(node);
        }
        quorum.joining_start = quorum.copy_count();
        for node in shard.all_nodes().filter(|n| is(&shard.joining, n)) {
            if !is(&shard.leaving, node) {
                quorum.copies.insert(node);
            }
        }
        quorum.required = protocol.required_acks();
        Ok(quorum)
    }

    /// A quorum over `nodes` that needs exactly `required` successes:
    /// `check_quorum`'s way in, which knows the count but not the names.
    pub(crate) fn with_required<'a>(
        mode: ReplicationMode,
        nodes: impl IntoIterator<Item = &'a str>,
        required: usize,
    ) -> Self {
        let mut quorum = Self::empty(mode);
        for node in nodes {
            quorum.copies.insert(node);
        }
        quorum.required = required;
        quorum.end_sides();
        quorum
    }

    /// The copy count, which fits `u32`: a write goes to at most one copy
    /// per node, and a router's node indices are `u32`.
    fn copy_count(&self) -> u32 {
        u32::try_from(self.copies.len()).unwrap_or(u32::MAX)
    }

    /// Marks every copy stable: a write to a shard that is not moving.
    fn end_sides(&mut self) {
        self.leaving_start = self.copy_count();
        self.joining_start = self.leaving_start;
    }

    /// Whether the write is to a moving shard, counted on each side.
    fn is_joint(&self) -> bool {
        (self.leaving_start as usize) < self.copies.len()
    }

    /// Successes among the old copies (all but the joining ones) and among
    /// the new copies (all but the leaving ones).
    fn side_successes(&self) -> (usize, usize) {
        (
            self.successes - self.joining_successes as usize,
            self.successes - self.leaving_successes as usize,
        )
    }

    fn empty(mode: ReplicationMode) -> Self {
        WriteQuorum {
            mode,
            copies: Copies::new(),
            required: 0,
            successes: 0,
            failures: 0,
            answered: 0,
            leaving_start: 0,
            joining_start: 0,
            leaving_successes: 0,
            joining_successes: 0,
            leaving_failures: 0,
            joining_failures: 0,
            errors: Vec::new(),
        }
    }

    /// Records one copy's answer and returns the status after it.
    ///
    /// A node's first answer counts; any later answer from it is ignored
    /// (and dropped). Recording after the outcome is decided is allowed and
    /// fills in the final [`ReplicationResult`], but never changes the
    /// status.
    ///
    /// # Errors
    ///
    /// [`ReplicationError::UnexpectedNode`] when `ack` comes from a node the
    /// write was not sent to. It is not counted, and the quorum is
    /// unchanged.
    pub fn record(&mut self, ack: ReplicationAck) -> Result<QuorumStatus, ReplicationError> {
        let ReplicationAck {
            node_id,
            success,
            error,
            latency_ms,
        } = ack;
        let Some(i) = self.copies.position(&node_id) else {
            return Err(ReplicationError::UnexpectedNode {
                node: node_id,
                expected: self.expected_nodes().map(str::to_owned).collect(),
            });
        };
        // The answer is kept as its parts, and its node id (allocated by
        // the thread that decoded it) is freed here, by that same thread.
        if self.count_at(i, success, latency_ms) {
            if let Some(error) = error {
                self.errors.push((i, error));
            }
        }
        Ok(self.status())
    }

    /// Records copy `node`'s answer, stored or not, without allocating:
    /// the protocol core's path, whose answers carry a refusal code rather
    /// than an error text. Otherwise as [`record`](Self::record): a node's
    /// first answer counts, later ones are ignored.
    ///
    /// # Errors
    ///
    /// [`ReplicationError::UnexpectedNode`] when the write was not sent to
    /// `node`; nothing is counted.
    ///
    /// ```
    /// use rusts_cluster_replication::{QuorumStatus, ReplicationMode, WriteQuorum};
    ///
    /// let mut quorum = WriteQuorum::new(ReplicationMode::Quorum, ["a", "b", "c"]);
    /// assert_eq!(quorum.record_answer("a", true)?, QuorumStatus::Pending);
    /// assert_eq!(quorum.record_answer("b", false)?, QuorumStatus::Pending);
    /// assert_eq!(quorum.record_answer("c", true)?, QuorumStatus::Reached);
    /// assert_eq!(quorum.unconfirmed().collect::<Vec<_>>(), ["b"]);
    /// assert!(quorum.record_answer("z", true).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn record_answer(
        &mut self,
        node: &str,
        stored: bool,
    ) -> Result<QuorumStatus, ReplicationError> {
        match self.count(node, stored) {
            Some(_) => Ok(self.status()),
            None => Err(ReplicationError::UnexpectedNode {
                node: node.to_owned(),
                expected: self.expected_nodes().map(str::to_owned).collect(),
            }),
        }
    }

    /// Whether the write can still reach its rule if every copy in `down`
    /// fails: the fail-fast check before sending, which knows the joint
    /// rule of a moving shard. Counting the copies that are up
    /// ([`ShardView::available_copies`] in the routing crate) against
    /// [`required`](Self::required) is wrong for a moving shard: at factor
    /// 2 with the joining copy down, two of three copies are up, yet the
    /// new side can reach only one success. The routing crate's
    /// [`ShardView::write_can_succeed`] is this check with the copies on
    /// nodes marked down.
    ///
    /// Copies in `down` that the write was not sent to, or that have
    /// answered already, change nothing.
    ///
    /// ```
    /// use rusts_cluster_replication::{ReplicationMode, ReplicationProtocol, WriteQuorum};
    /// use rusts_cluster_sharding::Shard;
    ///
    /// let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 2);
    /// // Copies a and b; b leaves and c joins: joint writes need 2 of {a, b}
    /// // and 2 of {a, c}.
    /// let mut shard = Shard::new(0, "a");
    /// shard.replicas = vec!["b".into(), "c".into()];
    /// shard.joining = vec!["c".into()];
    /// shard.leaving = vec!["b".into()];
    /// let quorum = WriteQuorum::for_shard(protocol, &shard)?;
    /// assert!(quorum.can_succeed_without(["z"]));
    /// assert!(!quorum.can_succeed_without(["c"]), "the new side is short of one");
    /// assert!(!quorum.can_succeed_without(["b"]), "the old side is short of one");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    ///
    /// [`ShardView::available_copies`]: https://docs.rs/rusts-cluster-routing
    /// [`ShardView::write_can_succeed`]: https://docs.rs/rusts-cluster-routing
    pub fn can_succeed_without<'a>(&self, down: impl IntoIterator<Item = &'a str>) -> bool {
        let mut quorum = self.clone();
        for node in down {
            quorum.count(node, false);
        }
        quorum.status() != QuorumStatus::Failed
    }

    /// The copies whose first answer was not a success, or that have not
    /// answered: once the write is decided, those that did not confirm it,
    /// for the engine's hints or repair. In the order given.
    pub fn unconfirmed(&self) -> impl Iterator<Item = &str> + '_ {
        self.copies
            .iter()
            .filter_map(|(node, answer)| match answer {
                Answer::Given { success: true, .. } => None,
                _ => Some(node),
            })
    }

    /// Counts `node`'s answer: `Some(true)` when it was the node's first,
    /// `Some(false)` when the node had answered already (ignored), `None`
    /// when the node is not expected. The one place answers are counted,
    /// shared by [`record`](Self::record) and `check_quorum`.
    pub(crate) fn count(&mut self, node: &str, success: bool) -> Option<bool> {
        let i = self.copies.position(node)?;
        Some(self.count_at(i, success, 0))
    }

    /// Counts the answer of the copy at `i`; false when it had answered.
    fn count_at(&mut self, i: usize, success: bool, latency_ms: u64) -> bool {
        let order = u32::try_from(self.answered).unwrap_or(u32::MAX);
        let Some(answer) = self.copies.answer_mut(i) else {
            return false;
        };
        if *answer != Answer::Missing {
            return false;
        }
        *answer = Answer::Given {
            success,
            order,
            latency_ms,
        };
        self.answered += 1;
        if success {
            self.successes += 1;
        } else {
            self.failures += 1;
        }
        // `i` is below the copy count, which fits `u32`.
        let i = i as u32;
        if i >= self.leaving_start {
            let joining = i >= self.joining_start;
            let counter = match (joining, success) {
                (false, true) => &mut self.leaving_successes,
                (false, false) => &mut self.leaving_failures,
                (true, true) => &mut self.joining_successes,
                (true, false) => &mut self.joining_failures,
            };
            *counter += 1;
        }
        true
    }

    /// The status after the answers recorded so far.
    pub fn status(&self) -> QuorumStatus {
        if self.is_joint() {
            return self.joint_status();
        }
        // `required` is 0 under `Asynchronous`, so it is reached at once.
        if self.successes >= self.required {
            QuorumStatus::Reached
        } else if self.copies.len() - self.failures < self.required {
            // The successes so far plus every silent copy: the most this
            // write can still get.
            QuorumStatus::Failed
        } else {
            QuorumStatus::Pending
        }
    }

    /// The status of a write to a moving shard: each side must reach
    /// `required`, and fails as soon as one side cannot.
    #[cold]
    fn joint_status(&self) -> QuorumStatus {
        let (old, new) = self.side_successes();
        let len = self.copies.len();
        let old_len = self.joining_start as usize;
        let new_len = len - (self.joining_start - self.leaving_start) as usize;
        let old_failures = self.failures - self.joining_failures as usize;
        let new_failures = self.failures - self.leaving_failures as usize;
        if old >= self.required && new >= self.required {
            QuorumStatus::Reached
        } else if old_len - old_failures < self.required || new_len - new_failures < self.required {
            QuorumStatus::Failed
        } else {
            QuorumStatus::Pending
        }
    }

    /// Ends the write, typically at its deadline: every copy that has not
    /// answered counts as a failure.
    ///
    /// # Errors
    ///
    /// [`ReplicationError::QuorumNotReached`] when fewer distinct expected
    /// copies succeeded than required. Use
    /// [`into_result`](Self::into_result) to keep the answers of a failed
    /// write (to log which copies failed).
    pub fn finish(self) -> Result<ReplicationResult, ReplicationError> {
        let result = self.into_result();
        match result.error() {
            Some(error) => Err(error),
            None => Ok(result),
        }
    }

    /// Ends the write like [`finish`](Self::finish), but returns the
    /// result whether or not the quorum was reached
    /// ([`ReplicationResult::quorum_reached`] says which).
    pub fn into_result(self) -> ReplicationResult {
        let quorum_reached = self.status() == QuorumStatus::Reached;
        let joint = self.is_joint().then(|| {
            let (old, new) = self.side_successes();
            JointSuccesses { old, new }
        });
        let WriteQuorum {
            copies,
            required,
            successes,
            answered,
            mut errors,
            ..
        } = self;
        // Each first answer, rebuilt with its node id and in the order
        // received; each error text goes back to its answer.
        errors.sort_unstable_by_key(|(i, _)| *i);
        let mut errors = errors.into_iter().peekable();
        let mut acks = Vec::with_capacity(answered);
        let mut missing_nodes = Vec::new();
        for (i, (node, answer)) in copies.iter().enumerate() {
            match answer {
                Answer::Missing => missing_nodes.push(node.to_owned()),
                Answer::Given {
                    success,
                    order,
                    latency_ms,
                } => {
                    let error = errors.next_if(|(at, _)| *at == i).map(|(_, text)| text);
                    let ack = ReplicationAck {
                        node_id: node.to_owned(),
                        success,
                        error,
                        latency_ms,
                    };
                    acks.push((order, ack));
                }
            }
        }
        acks.sort_by_key(|(order, _)| *order);
        ReplicationResult {
            success_count: successes,
            total_count: copies.len(),
            required_count: required,
            acks: acks.into_iter().map(|(_, ack)| ack).collect(),
            missing_nodes,
            quorum_reached,
            joint,
        }
    }

    /// The replication mode.
    pub fn mode(&self) -> ReplicationMode {
        self.mode
    }

    /// The successes from distinct expected copies the write needs
    /// (`0` under `Asynchronous`).
    pub fn required(&self) -> usize {
        self.required
    }

    /// The copies the write was sent to, distinct, in the order given.
    pub fn expected_nodes(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.copies.ids()
    }

    /// Distinct expected copies whose first answer was a success.
    pub fn successes(&self) -> usize {
        self.successes
    }

    /// Distinct expected copies whose first answer was a failure.
    pub fn failures(&self) -> usize {
        self.failures
    }
}

#[cfg(test)]
impl WriteQuorum {
    /// Where the counters and the first `copies` answers end, in bytes
    /// from the start: what an answer writes.
    pub(crate) fn written_by_answers(copies: usize) -> usize {
        std::mem::offset_of!(WriteQuorum, copies) + Copies::answers_end(copies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_acks::{fail, ok};
    use rusts_cluster_sharding::ShardState;
    use ReplicationMode::*;

    /// Shard 0 with copies a, b, c (old) moving c to d: a, b stable.
    fn moving(leaving: &[&str], joining: &[&str]) -> Shard {
        let mut shard = Shard::new(0, "a");
        for node in ["b", "c", "d", "e"] {
            if node < "c" || leaving.contains(&node) || joining.contains(&node) || node == "c" {
                shard.add_replica(node);
            }
        }
        shard.leaving = leaving.iter().map(|n| n.to_string()).collect();
        shard.joining = joining.iter().map(|n| n.to_string()).collect();
        shard
    }

    #[test]
    fn joint_quorum_needs_the_mode_on_old_and_new_copies() {
        let protocol = ReplicationProtocol::new(Quorum, 3);
        let shard = moving(&["c"], &["d"]);
        let mut q = WriteQuorum::for_shard(protocol, &shard).unwrap();
        assert_eq!(q.expected_nodes().collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        // c (old only) and d (new only): one success on each side.
        assert_eq!(q.record(ok("c")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(ok("d")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(ok("a")).unwrap(), QuorumStatus::Reached);
        let r = q.finish().unwrap();
        assert_eq!(r.joint, Some(JointSuccesses { old: 2, new: 2 }));

        // Two successes, both old: the new side has only a left.
        let mut q = WriteQuorum::for_shard(protocol, &shard).unwrap();
        q.record(ok("c")).unwrap();
        q.record(ok("b")).unwrap();
        assert_eq!(q.status(), QuorumStatus::Pending);
        assert_eq!(q.record(fail("d")).unwrap(), QuorumStatus::Pending);
        // a failing leaves the new side at most b: decided at once.
        assert_eq!(q.record(fail("a")).unwrap(), QuorumStatus::Failed);
        assert_eq!(
            q.finish(),
            Err(ReplicationError::JointQuorumNotReached {
                old: 2,
                new: 1,
                needed: 2
            })
        );
    }

    #[test]
    fn joint_quorum_fails_as_soon_as_one_side_cannot_reach() {
        // Synchronous, RF 3, moving b and c to d and e: every copy of each
        // side must succeed, so one failure on either side decides.
        let protocol = ReplicationProtocol::new(Synchronous, 3);
        let shard = moving(&["b", "c"], &["d", "e"]);
        let mut q = WriteQuorum::for_shard(protocol, &shard).unwrap();
        assert_eq!(q.required(), 3);
        assert_eq!(q.record(ok("a")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(fail("e")).unwrap(), QuorumStatus::Failed);
        // Recording after the decision fills in but changes nothing.
        for node in ["b", "c", "d"] {
            assert_eq!(q.record(ok(node)).unwrap(), QuorumStatus::Failed);
        }
        let r = q.into_result();
        assert!(!r.quorum_reached);
        assert_eq!(r.joint, Some(JointSuccesses { old: 3, new: 2 }));
    }

    #[test]
    fn joint_quorum_agrees_with_counting_each_side_for_every_answer_order() {
        // Every subset of answers over RF 1-3, both modes, every move of
        // one or two copies: the quorum's decision equals the definition.
        let moves: [(&[&str], &[&str]); 5] = [
            (&["c"], &["d"]),
            (&["b", "c"], &["d", "e"]),
            (&[], &["d"]),
            (&["c"], &[]),
            (&["a"], &["d"]),
        ];
        for mode in [Quorum, Synchronous, Asynchronous] {
            for rf in 1..=3 {
                let protocol = ReplicationProtocol::new(mode, rf);
                for (leaving, joining) in moves {
                    let shard = moving(leaving, joining);
                    let copies: Vec<&str> = shard.all_nodes().collect();
                    let old: Vec<&str> = shard.old_copies().collect();
                    let new: Vec<&str> = shard.new_copies().collect();
                    let need = protocol.required_acks();
                    for mask in 0u32..(1 << copies.len()) {
                        let mut q = WriteQuorum::for_shard(protocol, &shard).unwrap();
                        for (i, node) in copies.iter().enumerate() {
                            let success = mask & (1 << i) != 0;
                            q.record(if success { ok(node) } else { fail(node) })
                                .unwrap();
                        }
                        let on = |side: &[&str]| {
                            side.iter()
                                .filter(|n| {
                                    mask & (1 << copies.iter().position(|c| c == *n).unwrap()) != 0
                                })
                                .count()
                        };
                        let expect = on(&old) >= need && on(&new) >= need;
                        assert_eq!(
                            q.status() == QuorumStatus::Reached,
                            expect,
                            "{mode:?} rf {rf} {leaving:?}->{joining:?} mask {mask:b}"
                        );
                        assert_ne!(q.status(), QuorumStatus::Pending, "every copy answered");
                    }
                }
            }
        }
    }

    #[test]
    fn decides_as_soon_as_reached() {
        let mut q = WriteQuorum::new(Quorum, ["a", "b", "c"]);
        assert_eq!(q.status(), QuorumStatus::Pending);
        assert_eq!(q.record(fail("a")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(ok("b")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(ok("c")).unwrap(), QuorumStatus::Reached);
        let r = q.finish().unwrap();
        assert_eq!(
            (r.success_count, r.total_count, r.required_count),
            (2, 3, 2)
        );
        assert_eq!(r.failed_nodes(), ["a"]);
        assert!(r.missing_nodes.is_empty());
    }

    #[test]
    fn decides_as_soon_as_impossible() {
        // Quorum of 5 needs 3: after 3 failures only 2 can still succeed.
        let mut q = WriteQuorum::new(Quorum, ["a", "b", "c", "d", "e"]);
        assert_eq!(q.record(fail("a")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(fail("b")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(fail("c")).unwrap(), QuorumStatus::Failed);
        // Later successes fill in the result but cannot undo the decision.
        assert_eq!(q.record(ok("d")).unwrap(), QuorumStatus::Failed);
        let r = q.clone().into_result();
        assert!(!r.quorum_reached);
        assert_eq!(r.missing_nodes, ["e"]);
        assert_eq!(
            q.finish(),
            Err(ReplicationError::QuorumNotReached { got: 1, needed: 3 })
        );
    }

    #[test]
    fn synchronous_fails_on_the_first_failure() {
        let mut q = WriteQuorum::new(Synchronous, ["a", "b", "c"]);
        assert_eq!(q.record(ok("a")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(fail("b")).unwrap(), QuorumStatus::Failed);
    }

    #[test]
    fn first_answer_wins_and_duplicates_are_dropped() {
        let mut q = WriteQuorum::new(Quorum, ["a", "b", "c"]);
        q.record(fail("a")).unwrap();
        for _ in 0..1000 {
            assert_eq!(q.record(ok("a")).unwrap(), QuorumStatus::Pending);
        }
        assert_eq!((q.successes(), q.failures()), (0, 1));
        assert_eq!(q.clone().into_result().acks, [fail("a")], "one per node");
        assert_eq!(q.record(fail("b")).unwrap(), QuorumStatus::Failed);
    }

    #[test]
    fn foreign_acks_are_rejected_and_never_counted() {
        let mut q = WriteQuorum::new(Quorum, ["a", "b", "c"]);
        let err = q.record(ok("z")).unwrap_err();
        assert_eq!(
            err,
            ReplicationError::UnexpectedNode {
                node: "z".into(),
                expected: vec!["a".into(), "b".into(), "c".into()],
            }
        );
        assert_eq!(
            err.to_string(),
            "ack from node \"z\" rejected: the write was sent to [\"a\", \"b\", \"c\"] only; \
             route each ack to the write it answers"
        );
        q.record(ok("a")).unwrap();
        assert!(q.record(ok("y")).is_err());
        assert_eq!(q.status(), QuorumStatus::Pending);
        assert_eq!(q.successes(), 1);
    }

    #[test]
    fn finish_turns_silence_into_failure() {
        let mut q = WriteQuorum::new(Quorum, ["a", "b", "c"]);
        q.record(ok("a")).unwrap();
        assert_eq!(
            q.clone().finish(),
            Err(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
        let r = q.into_result();
        assert_eq!(r.missing_nodes, ["b", "c"]);
        assert_eq!(
            r.error(),
            Some(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
    }

    #[test]
    fn asynchronous_is_decided_at_creation() {
        let mut q = WriteQuorum::new(Asynchronous, ["a", "b"]);
        assert_eq!(q.status(), QuorumStatus::Reached);
        assert_eq!(q.required(), 0);
        assert_eq!(q.record(fail("a")).unwrap(), QuorumStatus::Reached);
        let r = q.finish().unwrap();
        assert_eq!(r.missing_nodes, ["b"]);
        assert_eq!(r.failed_nodes(), ["a"]);
    }

    #[test]
    fn listed_twice_counts_once() {
        let q = WriteQuorum::new(Quorum, ["a", "b", "a"]);
        assert_eq!(q.expected_nodes().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(q.required(), 2);
    }

    #[test]
    fn many_copies_use_the_index_and_stay_correct() {
        let nodes: Vec<String> = (0..40).map(|i| format!("n{i}")).collect();
        let mut q = WriteQuorum::new(Quorum, nodes.iter().chain(&nodes).cloned());
        assert_eq!(q.expected_nodes().len(), 40);
        assert_eq!(q.required(), 21);
        for node in &nodes[..20] {
            q.record(ok(node)).unwrap();
            q.record(ok(node)).unwrap();
        }
        assert_eq!(q.status(), QuorumStatus::Pending);
        assert!(q.record(ok("n40")).is_err());
        assert_eq!(q.record(ok("n39")).unwrap(), QuorumStatus::Reached);
    }

    #[test]
    fn required_acks_for_one_to_five_copies() {
        // (replication factor, synchronous, quorum, quorum while a copy
        // moves: the shard then has rf + 1 copies)
        let table = [
            (1, 1, 1, 2),
            (2, 2, 2, 3),
            (3, 3, 2, 3),
            (4, 4, 3, 4),
            (5, 5, 3, 4),
        ];
        for (rf, sync, quorum, moving) in table {
            let mut shard = Shard::new(0, "n0");
            for i in 1..rf {
                shard.add_replica(format!("n{i}"));
            }
            let required = |mode, shard: &Shard| {
                WriteQuorum::for_shard(ReplicationProtocol::new(mode, rf), shard)
                    .unwrap()
                    .required()
            };
            assert_eq!(required(Synchronous, &shard), sync, "sync {rf}");
            assert_eq!(required(Quorum, &shard), quorum, "quorum {rf}");
            assert_eq!(required(Asynchronous, &shard), 0, "async {rf}");
            shard.add_replica("incoming");
            shard.state = ShardState::Rebalancing;
            assert_eq!(
                required(Synchronous, &shard),
                sync + 1,
                "sync rebalancing {rf}"
            );
            assert_eq!(required(Quorum, &shard), moving, "quorum rebalancing {rf}");
            assert_eq!(required(Asynchronous, &shard), 0, "async rebalancing {rf}");
        }
    }

    #[test]
    fn under_and_over_replicated_shards_count_against_the_factor() {
        // (replication factor, copies, quorum, synchronous)
        let table = [
            (2, 1, 2, 2),
            (3, 1, 2, 3),
            (3, 2, 2, 3),
            (3, 5, 2, 3),
            (1, 3, 1, 1),
        ];
        for (rf, copies, quorum, sync) in table {
            let mut shard = Shard::new(0, "n0");
            for i in 1..copies {
                shard.add_replica(format!("n{i}"));
            }
            for (mode, required) in [(Quorum, quorum), (Synchronous, sync), (Asynchronous, 0)] {
                let protocol = ReplicationProtocol::new(mode, rf);
                let q = WriteQuorum::for_shard(protocol, &shard).unwrap();
                assert_eq!(q.required(), required, "{mode} rf {rf} copies {copies}");
                // Fewer copies than required: failed before any answer,
                // as check_quorum would fail every set of answers.
                let expected = if required > copies {
                    QuorumStatus::Failed
                } else if required == 0 {
                    QuorumStatus::Reached
                } else {
                    QuorumStatus::Pending
                };
                assert_eq!(q.status(), expected, "{mode} rf {rf} copies {copies}");
            }
        }
    }

    #[test]
    fn a_moving_shard_cannot_lose_a_write_on_either_side() {
        // rf 3 moving c -> d: copies a, b, c, d; old owners a b c, new a b d.
        let mut shard = Shard::new(7, "a");
        for r in ["b", "c", "d"] {
            shard.add_replica(r);
        }
        shard.state = ShardState::Rebalancing;
        // a + c is a majority of the old owners but one copy of the new:
        // the write must not be reached yet.
        let mut q = WriteQuorum::for_shard(ReplicationProtocol::new(Quorum, 3), &shard).unwrap();
        q.record(ok("a")).unwrap();
        assert_eq!(q.record(ok("c")).unwrap(), QuorumStatus::Pending);
        assert_eq!(q.record(ok("d")).unwrap(), QuorumStatus::Reached);
        // Two failures make it impossible: 2 successes left, 3 needed.
        let mut q = WriteQuorum::for_shard(ReplicationProtocol::new(Quorum, 3), &shard).unwrap();
        q.record(fail("b")).unwrap();
        assert_eq!(q.record(fail("d")).unwrap(), QuorumStatus::Failed);
    }

    #[test]
    fn unwritable_shards_are_refused_with_their_state() {
        let mut shard = Shard::new(4, "a");
        for state in [ShardState::ReadOnly, ShardState::Offline] {
            shard.state = state;
            let err =
                WriteQuorum::for_shard(ReplicationProtocol::new(Quorum, 3), &shard).unwrap_err();
            assert_eq!(err, ReplicationError::ShardNotWritable { shard: 4, state });
        }
        shard.state = ShardState::ReadOnly;
        assert_eq!(
            WriteQuorum::for_shard(ReplicationProtocol::new(Quorum, 3), &shard)
                .unwrap_err()
                .to_string(),
            "shard 4 is read-only and takes no writes; write only to shards whose state takes \
             writes (`ShardState::can_write`, or `accepts_writes` on a router's shard handle, \
             which also checks that the primary is up)"
        );
    }
}
