use rusts_cluster_sharding::ShardState;

use crate::{ReplicationAck, ReplicationError, ReplicationMode, ReplicationResult, WriteQuorum};

/// The replication rule of a cluster: a mode and the number of copies each
/// write is sent to.
///
/// ```
/// use rusts_cluster_replication::{ReplicationMode, ReplicationProtocol};
///
/// let protocol = ReplicationProtocol::new(ReplicationMode::Synchronous, 2);
/// assert_eq!(protocol.mode(), ReplicationMode::Synchronous);
/// assert_eq!(protocol.replication_factor(), 2);
/// assert_eq!(protocol.required_acks(), 2);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ReplicationProtocol {
    mode: ReplicationMode,
    replication_factor: usize,
}

impl ReplicationProtocol {
    /// Creates a protocol for writes sent to `replication_factor` copies.
    pub fn new(mode: ReplicationMode, replication_factor: usize) -> Self {
        ReplicationProtocol {
            mode,
            replication_factor,
        }
    }

    /// The replication mode.
    pub fn mode(&self) -> ReplicationMode {
        self.mode
    }

    /// The number of copies each write is sent to.
    pub fn replication_factor(&self) -> usize {
        self.replication_factor
    }

    /// The successful acknowledgements a write needs.
    pub fn required_acks(&self) -> usize {
        self.mode.required_acks(self.replication_factor)
    }

    /// The successes a write to one shard needs, given how many copies the
    /// shard has and its state: the one rule that
    /// [`WriteQuorum::for_shard`] and a router's `write_quorum` apply.
    ///
    /// It counts against the replication factor, never against the copies
    /// the shard happens to have, so the promise holds for under- and
    /// over-replicated shards alike:
    ///
    /// - `Active` (and any state but `Rebalancing`): `required_acks()`,
    ///   what [`check_quorum`](Self::check_quorum) requires.
    /// - `Rebalancing`: one success more, since one of the copies is
    ///   arriving or leaving, but never more than the shard has copies and
    ///   never less than `required_acks()`:
    ///   `max(required_acks(), min(required_acks() + 1, copies))`. With the
    ///   usual `copies = replication_factor + 1` this is decision 0007's
    ///   `required_acks(copies - 1) + 1`
    ///   (`docs/decisions/0007-moving-shards-need-one-more-ack.md`).
    /// - `Asynchronous` requires 0 in every state.
    ///
    /// A shard with fewer copies than this number can acknowledge no
    /// write; `ClusterConfig::warnings` reports such shards.
    ///
    /// ```
    /// use rusts_cluster_replication::{ReplicationMode, ReplicationProtocol};
    /// use rusts_cluster_sharding::ShardState;
    ///
    /// let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
    /// assert_eq!(protocol.required_acks_for(3, ShardState::Active), 2);
    /// assert_eq!(protocol.required_acks_for(1, ShardState::Active), 2, "under-replicated");
    /// assert_eq!(protocol.required_acks_for(5, ShardState::Active), 2, "over-replicated");
    /// assert_eq!(protocol.required_acks_for(4, ShardState::Rebalancing), 3);
    /// ```
    pub fn required_acks_for(&self, copies: usize, state: ShardState) -> usize {
        let required = self.required_acks();
        if state == ShardState::Rebalancing && self.mode != ReplicationMode::Asynchronous {
            required.max(required.saturating_add(1).min(copies))
        } else {
            required
        }
    }

    /// Decides a write from the answers its copies gave.
    ///
    /// Counts the distinct nodes whose first answer was a success and
    /// compares them with [`required_acks`](Self::required_acks). A copy
    /// that did not answer is a failure; a node that answered more than once
    /// counts once, by its first answer. `Asynchronous` never fails.
    ///
    /// This checks counts, not names: it cannot know which nodes the write
    /// was sent to, so the caller must pass only answers from the shard's
    /// copies.
    ///
    /// # Errors
    ///
    /// [`ReplicationError::QuorumNotReached`] when fewer distinct copies
    /// succeeded than the mode requires.
    ///
    /// ```
    /// use rusts_cluster_replication::{ReplicationAck, ReplicationError, ReplicationMode, ReplicationProtocol};
    ///
    /// let protocol = ReplicationProtocol::new(ReplicationMode::Synchronous, 3);
    /// let acks = [ReplicationAck::success("a", 1), ReplicationAck::success("b", 1)];
    /// assert_eq!(
    ///     protocol.check_quorum(&acks),
    ///     Err(ReplicationError::QuorumNotReached { got: 2, needed: 3 })
    /// );
    /// ```
    pub fn check_quorum(
        &self,
        acks: &[ReplicationAck],
    ) -> Result<ReplicationResult, ReplicationError> {
        // The counting is `WriteQuorum`'s, so the two can never disagree
        // (`prop_check_quorum_agrees_with_write_quorum`). Only the expected
        // copies differ: this function knows their number, not their names,
        // so every node that answered is taken as expected.
        let mut quorum = WriteQuorum::with_required(
            self.mode,
            acks.iter().map(|ack| ack.node_id.as_str()),
            self.required_acks(),
        );
        for ack in acks {
            quorum.count(&ack.node_id, ack.success);
        }
        // The result is built here, not by `finish`: it holds the answers
        // as given, and the names `finish` would copy are not needed.
        let (got, needed) = (quorum.successes(), quorum.required());
        if got < needed {
            return Err(ReplicationError::QuorumNotReached { got, needed });
        }
        Ok(ReplicationResult {
            joint: None,
            success_count: got,
            total_count: self.replication_factor,
            required_count: needed,
            acks: acks.to_vec(),
            missing_nodes: Vec::new(),
            quorum_reached: true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ReplicationMode::*;

    fn ok(node: &str) -> ReplicationAck {
        ReplicationAck::success(node, 1)
    }

    fn fail(node: &str) -> ReplicationAck {
        ReplicationAck::failure(node, "io error", 1)
    }

    #[test]
    fn missing_acks_are_failures() {
        // Three copies, one answer: counting received answers would say 1/1.
        let p = ReplicationProtocol::new(Quorum, 3);
        assert_eq!(
            p.check_quorum(&[ok("a")]),
            Err(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
        assert_eq!(
            p.check_quorum(&[]),
            Err(ReplicationError::QuorumNotReached { got: 0, needed: 2 })
        );
    }

    #[test]
    fn a_node_counts_once_by_its_first_answer() {
        let p = ReplicationProtocol::new(Quorum, 3);
        assert_eq!(
            p.check_quorum(&[ok("a"), ok("a"), ok("a")]),
            Err(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
        // A failure then a success from the same node is still a failure.
        assert_eq!(
            p.check_quorum(&[fail("b"), ok("a"), ok("b")]),
            Err(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
        let r = p.check_quorum(&[ok("b"), fail("b"), ok("a")]).unwrap();
        assert_eq!(r.success_count, 2);
        assert_eq!(r.acks.len(), 3, "every answer is kept");
        assert!(r.failed_nodes().is_empty());
    }

    #[test]
    fn duplicates_are_ignored_past_the_scan_limit_too() {
        let p = ReplicationProtocol::new(Quorum, 3);
        let mut acks: Vec<_> = (0..100).map(|_| ok("a")).collect();
        acks.push(fail("b"));
        acks.push(ok("b"));
        assert_eq!(
            p.check_quorum(&acks),
            Err(ReplicationError::QuorumNotReached { got: 1, needed: 2 })
        );
        acks.push(ok("c"));
        assert_eq!(p.check_quorum(&acks).unwrap().success_count, 2);
    }

    #[test]
    fn synchronous_needs_every_copy() {
        let p = ReplicationProtocol::new(Synchronous, 2);
        assert!(p.check_quorum(&[ok("a"), fail("b")]).is_err());
        let r = p.check_quorum(&[ok("a"), ok("b")]).unwrap();
        assert!(r.all_success() && r.quorum_reached);
    }

    #[test]
    fn asynchronous_never_fails() {
        let p = ReplicationProtocol::new(Asynchronous, 3);
        let r = p.check_quorum(&[fail("a"), fail("b")]).unwrap();
        assert!(r.quorum_reached);
        assert_eq!(r.success_count, 0);
        assert_eq!(r.failed_nodes(), ["a", "b"]);
        assert!(p.check_quorum(&[]).is_ok());
    }

    #[test]
    fn zero_copies_never_succeed_unless_asynchronous() {
        assert!(ReplicationProtocol::new(Synchronous, 0)
            .check_quorum(&[])
            .is_err());
        assert!(ReplicationProtocol::new(Quorum, 0)
            .check_quorum(&[])
            .is_err());
        assert!(ReplicationProtocol::new(Asynchronous, 0)
            .check_quorum(&[])
            .is_ok());
    }
}
