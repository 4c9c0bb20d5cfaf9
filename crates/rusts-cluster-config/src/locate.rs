//! Where in a TOML file a validation problem is.

use std::fmt;

use toml::{
    de::{DeTable, DeValue},
    Spanned,
};

use crate::{
    error::LineIndex, Location, Position, ShardList, ValidationError, ValidationErrorKind,
};

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
    lines: LineIndex,
}

impl fmt::Debug for SourceMap<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourceMap")
            .field("bytes", &self.text.len())
            .finish_non_exhaustive()
    }
}

impl<'a> SourceMap<'a> {
    /// Parses `text` and indexes its lines; `None` when it is not TOML
    /// (then [`ClusterConfig::from_toml`](crate::ClusterConfig::from_toml)
    /// has already given the location).
    pub fn parse(text: &'a str) -> Option<SourceMap<'a>> {
        let root = DeTable::parse(text).ok()?;
        Some(SourceMap {
            text,
            root,
            lines: LineIndex::new(text.as_bytes()),
        })
    }

    /// The line and column `error` points at: the value of the key it is
    /// about, or the offending element of a shard list (each repeat of a
    /// shard at its own place). `None` for a problem that has no one place
    /// (`missing-primary`), that the text does not show (a value left at
    /// its default), or whose node or element is not in this text (an
    /// error of another config).
    ///
    /// Each lookup goes straight to its node and element by the
    /// [`position`](ValidationError::position) the error carries, and scans at most 4 KiB of text for the column,
    /// so locating every listed problem costs about as much as parsing.
    pub fn locate(&self, error: &ValidationError) -> Option<Location> {
        use ValidationErrorKind as Kind;
        let span = match (error.kind(), error.position()) {
            // A problem of one node: its entry in the list the rule is
            // about, or its `id` or `address`, checked against the value
            // the error names.
            (kind, Some(Position { node, element })) => match (kind, element, error.list()) {
                (_, Some(element), Some(list)) => {
                    let shard = match kind {
                        Kind::ShardOutOfRange { shard, .. }
                        | Kind::DuplicateShardInList { shard, .. }
                        | Kind::DuplicatePrimary { shard, .. }
                        | Kind::ReplicaOnPrimary { shard, .. }
                        | Kind::MovingCopyNotHeld { shard, .. }
                        | Kind::JoiningAndLeaving { shard, .. } => *shard,
                        _ => return None,
                    };
                    self.element(node, list, element, shard)
                }
                (Kind::EmptyNodeId { .. }, None, _) => self.field(node, "id", None),
                (Kind::DuplicateNodeId { id, .. }, None, _)
                | (Kind::LookAlikeNodeId { id, .. }, None, _) => self.field(node, "id", Some(id)),
                (
                    Kind::DuplicateAddress { address, .. } | Kind::InvalidAddress { address, .. },
                    None,
                    _,
                ) => self.field(node, "address", Some(address)),
                _ => None,
            },
            (Kind::NoNodes, None) => self.key("nodes"),
            (Kind::UnknownThisNode { .. }, None) => self.key("node_id"),
            (Kind::ZeroShardCount | Kind::ShardCountTooLarge { .. }, None) => {
                self.key("shard_count")
            }
            (Kind::ZeroReplicationFactor | Kind::ReplicationFactorExceedsNodes { .. }, None) => {
                self.key("replication_factor")
            }
            (Kind::InvalidStrategy(_), None) => self.key("sharding_strategy"),
            (Kind::SplitFromShardCount { .. }, None) => self.subkey("split_from", "shard_count"),
            (Kind::SplitFromGeneration { .. }, None) => self.subkey("split_from", "generation"),
            _ => None,
        }?;
        Some(self.lines.locate(self.text.as_bytes(), span))
    }

    fn key(&self, key: &str) -> Option<usize> {
        self.root.get_ref().get(key).map(|v| v.span().start)
    }

    /// The start of `key` in the top-level table `table`.
    fn subkey(&self, table: &str, key: &str) -> Option<usize> {
        let table = self.root.get_ref().get(table)?.get_ref().as_table()?;
        table.get(key).map(|v| v.span().start)
    }

    /// The node table at position `index` of `nodes`.
    fn node(&self, index: usize) -> Option<&DeTable<'a>> {
        self.root
            .get_ref()
            .get("nodes")?
            .get_ref()
            .as_array()?
            .get(index)?
            .get_ref()
            .as_table()
    }

    /// The start of node `index`'s `key`, when its string value is
    /// `expected` (when given): a check that the error is about this text.
    fn field(&self, index: usize, key: &str, expected: Option<&str>) -> Option<usize> {
        let value = self.node(index)?.get(key)?;
        match expected {
            Some(expected) if value.get_ref().as_str() != Some(expected) => None,
            _ => Some(value.span().start),
        }
    }

    /// The start of element `element` of node `index`'s list, when it is
    /// `shard`.
    fn element(&self, index: usize, list: ShardList, element: usize, shard: u32) -> Option<usize> {
        let key = list.key();
        let value = self
            .node(index)?
            .get(key)?
            .get_ref()
            .as_array()?
            .get(element)?;
        (integer(value.get_ref()) == Some(u64::from(shard))).then(|| value.span().start)
    }
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
