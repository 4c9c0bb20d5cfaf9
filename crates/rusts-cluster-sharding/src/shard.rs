use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ShardId;

/// One shard: which node holds its primary copy, which nodes hold replicas,
/// and whether it takes reads and writes.
///
/// ```
/// use rusts_cluster_sharding::{Shard, ShardState};
///
/// let mut shard = Shard::new(3, "node1");
/// assert!(shard.add_replica("node2"));
/// assert!(!shard.add_replica("node2"), "a node holds at most one copy");
/// assert_eq!(shard.all_nodes().collect::<Vec<_>>(), ["node1", "node2"]);
///
/// shard.state = ShardState::ReadOnly;
/// assert!(shard.can_read() && !shard.can_write());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    /// The shard id, in `0..shard_count`.
    pub id: ShardId,
    /// The id of the node that holds the primary copy.
    pub primary: String,
    /// The primary node's `host:port` address, where known.
    pub address: Option<String>,
    /// The ids of the nodes that hold replica copies. A router lists them
    /// sorted by node id, so that the order of nodes in the config file
    /// never changes routing.
    pub replicas: Vec<String>,
    /// Whether the shard takes reads and writes.
    pub state: ShardState,
}

impl Shard {
    /// Creates an [`Active`](ShardState::Active) shard with the given
    /// primary, no known address and no replicas.
    pub fn new(id: ShardId, primary: impl Into<String>) -> Self {
        Shard {
            id,
            primary: primary.into(),
            address: None,
            replicas: Vec::new(),
            state: ShardState::Active,
        }
    }

    /// Adds a replica on `node`, returning `false` (and changing nothing)
    /// when that node already holds a copy, as primary or replica.
    pub fn add_replica(&mut self, node: impl Into<String>) -> bool {
        let node = node.into();
        if self.holds(&node) {
            return false;
        }
        self.replicas.push(node);
        true
    }

    /// Removes the replica on `node`, returning whether there was one. The
    /// primary is not a replica and is never removed by this.
    pub fn remove_replica(&mut self, node: &str) -> bool {
        let before = self.replicas.len();
        self.replicas.retain(|r| r != node);
        self.replicas.len() != before
    }

    /// Every node that holds a copy: the primary first, then the replicas
    /// in order. Allocates nothing.
    pub fn all_nodes(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        std::iter::once(self.primary.as_str()).chain(self.replicas.iter().map(String::as_str))
    }

    /// Whether `node` holds a copy of this shard, as primary or replica.
    pub fn holds(&self, node: &str) -> bool {
        self.all_nodes().any(|n| n == node)
    }

    /// Whether the shard takes writes: when it is
    /// [`Active`](ShardState::Active) or
    /// [`Rebalancing`](ShardState::Rebalancing).
    pub fn can_write(&self) -> bool {
        self.state.can_write()
    }

    /// Whether the shard serves reads: in every state but
    /// [`Offline`](ShardState::Offline).
    pub fn can_read(&self) -> bool {
        self.state.can_read()
    }
}

/// What a copy of a shard is to its shard.
///
/// Every shard has one [`Primary`](CopyRole::Primary) copy (the node that
/// lists it in `shards`) and any number of
/// [`Replica`](CopyRole::Replica) copies (nodes that list it in
/// `replica_shards`). Both receive every write and both serve reads; the
/// primary is preferred for reads when no closer copy is known. More roles
/// may be added (copies that are joining or leaving during a move), so
/// match with a wildcard arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CopyRole {
    /// The copy on the node that lists the shard in its `shards`.
    Primary,
    /// A copy on a node that lists the shard in its `replica_shards`.
    Replica,
}

impl fmt::Display for CopyRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopyRole::Primary => "primary",
            CopyRole::Replica => "replica",
        })
    }
}

/// Lets functions that take `impl AsRef<Shard>` accept a `&Shard` as well
/// as the routing crate's handles, which implement it too.
impl AsRef<Shard> for Shard {
    fn as_ref(&self) -> &Shard {
        self
    }
}

/// Whether a shard takes reads and writes.
///
/// | state | reads | writes |
/// |---|---|---|
/// | `Active` | yes | yes |
/// | `Rebalancing` | yes | yes |
/// | `ReadOnly` | yes | no |
/// | `Offline` | no | no |
///
/// A `Rebalancing` shard keeps taking both: while a copy moves, the copies it
/// moves from still hold every point and must keep receiving new ones, or
/// every rebalance would be write downtime for its shards
/// (`docs/decisions/0003-rebalancing-shards-read-and-write.md`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShardState {
    /// Healthy: takes reads and writes (the default).
    #[default]
    Active,
    /// A copy is being moved or added; still takes reads and writes.
    Rebalancing,
    /// Maintenance: serves reads, refuses writes.
    ReadOnly,
    /// Unavailable: neither reads nor writes.
    Offline,
}

impl ShardState {
    /// Whether a shard in this state takes writes.
    pub fn can_write(self) -> bool {
        matches!(self, ShardState::Active | ShardState::Rebalancing)
    }

    /// Whether a shard in this state serves reads.
    pub fn can_read(self) -> bool {
        !matches!(self, ShardState::Offline)
    }
}

impl fmt::Display for ShardState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ShardState::Active => "active",
            ShardState::Rebalancing => "rebalancing",
            ShardState::ReadOnly => "read-only",
            ShardState::Offline => "offline",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_table() {
        use ShardState::*;
        let table = [
            (Active, true, true),
            (Rebalancing, true, true),
            (ReadOnly, true, false),
            (Offline, false, false),
        ];
        for (state, read, write) in table {
            let mut shard = Shard::new(0, "n");
            shard.state = state;
            assert_eq!(shard.can_read(), read, "{state:?} reads");
            assert_eq!(shard.can_write(), write, "{state:?} writes");
        }
    }

    #[test]
    fn replicas_are_distinct_from_each_other_and_from_the_primary() {
        let mut shard = Shard::new(0, "a");
        assert!(!shard.add_replica("a"), "the primary is not also a replica");
        assert!(shard.add_replica("b"));
        assert!(shard.add_replica("c"));
        assert!(!shard.add_replica("c"));
        assert_eq!(shard.replicas, ["b", "c"]);
        assert!(shard.remove_replica("b"));
        assert!(!shard.remove_replica("b"));
        assert!(
            !shard.remove_replica("a"),
            "the primary is not removed as a replica"
        );
        assert_eq!(shard.all_nodes().collect::<Vec<_>>(), ["a", "c"]);
        assert!(shard.holds("a") && shard.holds("c") && !shard.holds("b"));
    }
}
