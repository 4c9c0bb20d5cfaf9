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
    /// The nodes whose copy is **joining**: being added by a move. Each is
    /// also the primary or in `replicas`. A joining copy receives every
    /// write but is read only once the move's reads cut over to the new
    /// copies. Empty when the shard is not moving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joining: Vec<String>,
    /// The nodes whose copy is **leaving**: being removed by a move. Each is
    /// also the primary or in `replicas`. A leaving copy still holds the
    /// data and receives every write, and is read until the move's reads
    /// cut over. Empty when the shard is not moving.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaving: Vec<String>,
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
            joining: Vec::new(),
            leaving: Vec::new(),
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
    /// primary is not a replica and is never removed by this. A removed
    /// replica is no longer joining or leaving either.
    pub fn remove_replica(&mut self, node: &str) -> bool {
        let before = self.replicas.len();
        self.replicas.retain(|r| r != node);
        if self.replicas.len() == before {
            return false;
        }
        self.joining.retain(|r| r != node);
        self.leaving.retain(|r| r != node);
        true
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

    /// Whether a move is under way: some copy is joining or leaving.
    pub fn is_moving(&self) -> bool {
        !self.joining.is_empty() || !self.leaving.is_empty()
    }

    /// How `node`'s copy takes part in a move, or `None` when `node` holds
    /// no copy.
    ///
    /// ```
    /// use rusts_cluster_sharding::{CopyState, Shard};
    ///
    /// // Moving the copy on "c" to "d".
    /// let mut shard = Shard::new(0, "a");
    /// for node in ["b", "c", "d"] {
    ///     shard.add_replica(node);
    /// }
    /// shard.leaving.push("c".to_owned());
    /// shard.joining.push("d".to_owned());
    /// assert_eq!(shard.copy_state("a"), Some(CopyState::Stable));
    /// assert_eq!(shard.copy_state("d"), Some(CopyState::Joining));
    /// assert_eq!(shard.copy_state("e"), None);
    /// assert_eq!(shard.old_copies().collect::<Vec<_>>(), ["a", "b", "c"]);
    /// assert_eq!(shard.new_copies().collect::<Vec<_>>(), ["a", "b", "d"]);
    /// ```
    pub fn copy_state(&self, node: &str) -> Option<CopyState> {
        if !self.holds(node) {
            None
        } else if self.joining.iter().any(|n| n == node) {
            Some(CopyState::Joining)
        } else if self.leaving.iter().any(|n| n == node) {
            Some(CopyState::Leaving)
        } else {
            Some(CopyState::Stable)
        }
    }

    /// The copies the shard had before the move: every copy but the joining
    /// ones, primary first. Every copy when the shard is not moving.
    pub fn old_copies(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.all_nodes()
            .filter(move |n| !self.joining.iter().any(|j| j == n))
    }

    /// The copies the shard has after the move: every copy but the leaving
    /// ones, primary first. Every copy when the shard is not moving.
    pub fn new_copies(&self) -> impl Iterator<Item = &str> + Clone + '_ {
        self.all_nodes()
            .filter(move |n| !self.leaving.iter().any(|l| l == n))
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
/// primary is preferred for reads when no closer copy is known. Whether a
/// copy is joining or leaving during a move is its [`CopyState`], separate
/// from its role. More roles may be added, so match with a wildcard arm.
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

/// How a copy takes part in a move (`docs/decisions/0019-joint-copies.md`).
///
/// A move changes a shard's copies from an old set to a new one. Copies in
/// both are [`Stable`](CopyState::Stable); copies only in the new set are
/// [`Joining`](CopyState::Joining), only in the old set
/// [`Leaving`](CopyState::Leaving). Every copy receives every write, and an
/// acknowledged write meets the replication mode on the old copies and on
/// the new copies; reads come from one side, as the config's `move_reads`
/// says. The role ([`CopyRole`]) is separate: a joining or leaving copy may
/// be the primary.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum CopyState {
    /// In the old and the new copies (every copy of a shard not moving).
    #[default]
    Stable,
    /// Being added: receives writes; read only after the cut-over.
    Joining,
    /// Being removed: receives writes; read only before the cut-over.
    Leaving,
}

impl fmt::Display for CopyState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CopyState::Stable => "stable",
            CopyState::Joining => "joining",
            CopyState::Leaving => "leaving",
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

    #[test]
    fn copy_states_split_old_and_new_copies() {
        // Replacing "b" and "c" with "d"; "a" is the primary and leaves too.
        let mut shard = Shard::new(0, "a");
        for node in ["b", "c", "d"] {
            shard.add_replica(node);
        }
        assert!(!shard.is_moving());
        assert_eq!(shard.old_copies().count(), 4);
        shard.leaving = vec!["a".into(), "c".into()];
        shard.joining = vec!["d".into()];
        assert!(shard.is_moving());
        assert_eq!(shard.old_copies().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(shard.new_copies().collect::<Vec<_>>(), ["b", "d"]);
        assert_eq!(shard.copy_state("a"), Some(CopyState::Leaving));
        assert_eq!(shard.copy_state("b"), Some(CopyState::Stable));
        // Removing a replica removes its state with it.
        assert!(shard.remove_replica("d"));
        assert!(shard.joining.is_empty());
        assert_eq!(shard.copy_state("d"), None);
    }
}
