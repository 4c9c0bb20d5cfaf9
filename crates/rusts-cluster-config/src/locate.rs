//! Where in a TOML file a validation problem is.

use std::fmt;

use toml::{
    de::{DeTable, DeValue},
    Spanned,
};

use crate::{Location, ShardList, ValidationError};

/// A config file's text parsed with positions, to find where a
/// [`ValidationError`] is in it.
///
/// Validation runs on the parsed [`ClusterConfig`](crate::ClusterConfig),
/// which has no positions, so that programs that build configs in memory
/// get the same rules; a tool that read the config from a file re-parses
/// the text once here and asks for each problem's line and column.
///
/// ```
/// use rusts_cluster_config::{ClusterConfig, Location, SourceMap};
///
/// let text = "node_id = \"a\"\nshard_count = 2\n\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [0, 7]\n";
/// let config = ClusterConfig::from_toml(text)?;
/// let err = config.validate().unwrap_err();
/// let map = SourceMap::parse(text).expect("it parsed above");
/// // Shard 7 is out of range: line 7, where the `7` is.
/// assert_eq!(map.locate(&err.validation_errors()[0]), Some(Location { line: 7, column: 14 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct SourceMap<'a> {
    text: &'a str,
    root: Spanned<DeTable<'a>>,
}

impl fmt::Debug for SourceMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap")
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl<'a> SourceMap<'a> {
    /// Parses `text`; `None` when it is not TOML (then
    /// [`ClusterConfig::from_toml`](crate::ClusterConfig::from_toml) has
    /// already given the location).
    pub fn parse(text: &'a str) -> Option<SourceMap<'a>> {
        let root = DeTable::parse(text).ok()?;
        Some(SourceMap { text, root })
    }

    /// The line and column `error` points at: the value of the key it is
    /// about, or the offending element of a shard list. `None` for a
    /// problem that has no one place (`missing-primary`) or that the text
    /// does not show (a value left at its default).
    pub fn locate(&self, error: &ValidationError) -> Option<Location> {
        let span = match error {
            ValidationError::NoNodes => self.key("nodes"),
            ValidationError::UnknownThisNode { .. } => self.key("node_id"),
            ValidationError::EmptyNodeId { index } => {
                self.nodes().nth(*index).and_then(|n| field(n, "id"))
            }
            ValidationError::DuplicateNodeId { id, .. } => self
                .nodes()
                .filter(|n| node_id(n) == Some(id.as_str()))
                .nth(1)
                .and_then(|n| field(n, "id")),
            ValidationError::DuplicateAddress { address, .. } => self
                .nodes()
                .filter(|n| field_str(n, "address") == Some(address.as_str()))
                .last()
                .and_then(|n| field(n, "address")),
            ValidationError::InvalidAddress { node, .. } => {
                self.node(node, 0).and_then(|n| field(n, "address"))
            }
            ValidationError::ZeroShardCount | ValidationError::ShardCountTooLarge { .. } => {
                self.key("shard_count")
            }
            ValidationError::ZeroReplicationFactor
            | ValidationError::ReplicationFactorExceedsNodes { .. } => {
                self.key("replication_factor")
            }
            ValidationError::InvalidStrategy(_) => self.key("sharding_strategy"),
            ValidationError::ShardOutOfRange {
                node, list, shard, ..
            } => self.element(node, *list, *shard, 0),
            ValidationError::DuplicateShardInList { node, list, shard } => {
                self.element(node, *list, *shard, 1)
            }
            ValidationError::DuplicatePrimary { shard, nodes } => {
                // The later of the two nodes in the file is the one reported.
                let later = self
                    .nodes()
                    .filter_map(|n| node_id(n))
                    .filter(|id| nodes.iter().any(|x| x == id))
                    .last()?;
                self.element(later, ShardList::Primary, *shard, 0)
            }
            ValidationError::ReplicaOnPrimary { node, shard } => {
                self.element(node, ShardList::Replica, *shard, 0)
            }
            _ => None,
        }?;
        Some(Location::of_offset(self.text.as_bytes(), span))
    }

    fn key(&self, key: &str) -> Option<usize> {
        self.root.get_ref().get(key).map(|v| v.span().start)
    }

    fn nodes(&self) -> impl Iterator<Item = &DeTable<'a>> {
        self.root
            .get_ref()
            .get("nodes")
            .and_then(|v| v.get_ref().as_array())
            .into_iter()
            .flat_map(|a| a.iter())
            .filter_map(|v| v.get_ref().as_table())
    }

    /// The `nth` (from 0) node table whose `id` is `id`.
    fn node(&self, id: &str, nth: usize) -> Option<&DeTable<'a>> {
        self.nodes().filter(|n| node_id(n) == Some(id)).nth(nth)
    }

    /// The start of the `nth` occurrence of `shard` in node `id`'s list.
    fn element(&self, id: &str, list: ShardList, shard: u32, nth: usize) -> Option<usize> {
        let key = match list {
            ShardList::Primary => "shards",
            ShardList::Replica => "replica_shards",
        };
        // With duplicate node ids, the element is in one of them: search all.
        self.nodes()
            .filter(|n| node_id(n) == Some(id))
            .filter_map(|n| n.get(key)?.get_ref().as_array())
            .flat_map(|a| a.iter())
            .filter(|v| integer(v.get_ref()) == Some(u64::from(shard)))
            .nth(nth)
            .map(|v| v.span().start)
    }
}

fn node_id<'t>(node: &'t DeTable<'_>) -> Option<&'t str> {
    field_str(node, "id")
}

fn field(node: &DeTable<'_>, key: &str) -> Option<usize> {
    node.get(key).map(|v| v.span().start)
}

fn field_str<'t>(node: &'t DeTable<'_>, key: &str) -> Option<&'t str> {
    node.get(key)?.get_ref().as_str()
}

fn integer(value: &DeValue<'_>) -> Option<u64> {
    let int = value.as_integer()?;
    let digits: String = int.as_str().chars().filter(|&c| c != '_').collect();
    let digits = digits.strip_prefix('+').unwrap_or(&digits);
    let digits = match int.radix() {
        16 => digits.strip_prefix("0x").unwrap_or(digits),
        8 => digits.strip_prefix("0o").unwrap_or(digits),
        2 => digits.strip_prefix("0b").unwrap_or(digits),
        _ => digits,
    };
    u64::from_str_radix(digits, int.radix()).ok()
}
