/*!
Decides whether a replicated write succeeded: how many copies must
acknowledge it under each [`ReplicationMode`], and whether the copies'
acknowledgements reach that number.

Use this crate directly in the part of a storage engine that sends writes to
a shard's copies and collects their answers. Applications that also load the
cluster description and route keys should use the `rusts-cluster` facade.

Three levels, each built on the one before:

- [`ReplicationProtocol::check_quorum`] decides a write from all its answers
  at once.
- [`WriteQuorum`] is fed the answers one by one, checks that each comes from
  a copy the write was sent to, and says the outcome the moment it is
  certain ([`QuorumStatus`]). `check_quorum` counts with it, so the two
  never disagree.
- [`PendingWrites`] is the table of in-flight writes that network threads
  complete concurrently: each write's outcome goes to exactly one caller,
  from the answer that decided it or from [`PendingWrites::expire`] at its
  deadline. Each write sits in a slot of its own (its id modulo the
  capacity), so threads answering different writes share no memory
  (`docs/decisions/0010-in-flight-writes-in-slots.md`).
  `docs/replication.md` shows the write path that uses it.

The design decision that shapes this crate is that **a quorum counts distinct
copies against the copies the write was sent to**, never against the answers
that happened to arrive. A copy that never answers counts as a failure, and a
copy that answers twice counts once (its first answer wins). Both are
mistakes other systems have shipped: counting received answers lets a write
"succeed" when most copies are silent, and counting duplicates lets one node
form a quorum alone. An answer from a node that holds no copy is refused,
and a shard that is moving a copy needs one success more
(`docs/decisions/0007-moving-shards-need-one-more-ack.md`).

# Example

```
use rusts_cluster_replication::{ReplicationAck, ReplicationMode, ReplicationProtocol};

let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
let acks = [
    ReplicationAck::success("node1", 2),
    ReplicationAck::success("node1", 2), // a retry: counted once
    ReplicationAck::failure("node2", "disk full", 5),
];
// One distinct success out of three copies: a quorum needs two.
let err = protocol.check_quorum(&acks).unwrap_err();
assert_eq!(err.to_string(), "write reached 1 of the 2 copies a quorum needs");

let acks = [ReplicationAck::success("node1", 2), ReplicationAck::success("node3", 4)];
let result = protocol.check_quorum(&acks)?;
assert!(result.quorum_reached && !result.all_success());
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    ack::{JointSuccesses, ReplicationAck, ReplicationResult},
    error::ReplicationError,
    mode::ReplicationMode,
    pending::PendingWrites,
    protocol::ReplicationProtocol,
    quorum::{QuorumStatus, WriteQuorum},
};

mod ack;
mod copies;
mod error;
mod mode;
mod pending;
mod protocol;
mod quorum;

/// Answers the unit tests feed to quorums and tables.
#[cfg(test)]
mod test_acks {
    use crate::ReplicationAck;

    pub(crate) fn ok(node: &str) -> ReplicationAck {
        ReplicationAck::success(node, 1)
    }

    pub(crate) fn fail(node: &str) -> ReplicationAck {
        ReplicationAck::failure(node, "disk full", 1)
    }
}

/// Compiles and runs the examples of this crate's README as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
