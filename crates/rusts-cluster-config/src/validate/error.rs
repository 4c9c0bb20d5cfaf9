//! The problems validation reports: a [`ValidationError`] is the broken
//! rule ([`ValidationErrorKind`]) and where in the config it is
//! ([`Position`]).

use std::fmt;

use rusts_cluster_sharding::{ShardId, ShardingError};
use thiserror::Error;

use super::{report::MAX_REPORTED_ERRORS, shards_have::ShardsHave};
use crate::AddressProblem;

/// Which of a node's shard lists a problem is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ShardList {
    /// `shards`: the shards the node is primary for.
    Primary,
    /// `replica_shards`: the shards the node holds a replica of.
    Replica,
    /// `joining_shards`: the node's copies that a move is adding.
    Joining,
    /// `leaving_shards`: the node's copies that a move is removing.
    Leaving,
}

impl ShardList {
    /// The list's key in a node's table.
    pub fn key(self) -> &'static str {
        match self {
            ShardList::Primary => "shards",
            ShardList::Replica => "replica_shards",
            ShardList::Joining => "joining_shards",
            ShardList::Leaving => "leaving_shards",
        }
    }
}

impl fmt::Display for ShardList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Which of the config's shard-state lists a problem is in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StateList {
    /// `read_only_shards`: shards that take no writes.
    ReadOnly,
    /// `offline_shards`: shards that take neither writes nor reads.
    Offline,
}

impl StateList {
    /// The list's key in the config.
    pub fn key(self) -> &'static str {
        match self {
            StateList::ReadOnly => "read_only_shards",
            StateList::Offline => "offline_shards",
        }
    }
}

impl fmt::Display for StateList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.key())
    }
}

/// Why a node id would look like another: from
/// [`ValidationErrorKind::LookAlikeNodeId`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LookAlike {
    /// A space (or another whitespace character) at the start or the end.
    EdgeWhitespace,
    /// A character that shows nothing: a format character (soft hyphen,
    /// zero-width space or joiner, a direction mark), a variation
    /// selector, or a space other than U+0020.
    Invisible {
        /// The first such character.
        ch: char,
    },
    /// Not in Unicode's composed form (NFC): `é` written as `e` and a
    /// combining accent.
    NotNfc {
        /// The id in NFC.
        nfc: String,
    },
}

impl fmt::Display for LookAlike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LookAlike::EdgeWhitespace => f.write_str(
                "starts or ends with whitespace, which a reader does not see; remove it",
            ),
            LookAlike::Invisible { ch } => write!(
                f,
                "holds U+{:04X}, a character that shows nothing (or looks like a plain space); \
                 remove it",
                u32::from(*ch)
            ),
            LookAlike::NotNfc { nfc } => write!(
                f,
                "is not in Unicode's composed form (NFC), so it differs from the id that looks \
                 the same written with composed characters; write it as \"{}\"",
                super::node_ids::escaped(nfc)
            ),
        }
    }
}

/// Where in a config's `nodes` a problem is: the node, and for a problem
/// about one entry of a shard list, that entry.
///
/// Validation runs on a parsed config, which has no line numbers, so a
/// problem says where it is as positions in the config itself; a
/// [`SourceMap`](crate::SourceMap) turns them into a line and column of
/// the file. Which key of the node (its `id`, its `address`, or which
/// shard list) the position is in follows from the rule: see
/// [`ValidationError::position`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Position {
    /// The node's position in `nodes`, from 0.
    pub node: usize,
    /// The entry's position in the shard list the rule is about, from 0;
    /// `None` for a problem with a node's `id` or `address`.
    pub element: Option<usize>,
}

impl Position {
    /// A node's `id` or `address`.
    pub(crate) fn node(node: usize) -> Option<Position> {
        Some(Position {
            node,
            element: None,
        })
    }

    /// Entry `element` of one of node `node`'s shard lists.
    pub(crate) fn entry(node: usize, element: usize) -> Option<Position> {
        Some(Position {
            node,
            element: Some(element),
        })
    }
}

/// One broken validation rule, and where it is broken.
/// [`ClusterConfig::validate`](crate::ClusterConfig::validate) reports
/// every one it finds, in a [`ConfigError::Invalid`](crate::ConfigError::Invalid).
///
/// The rule and its values are the [`kind`](Self::kind), to match on; the
/// [`position`](Self::position) says which node, and which entry of its
/// list, the problem is at, for problems that have one place in `nodes`.
/// [`code`](Self::code) gives a stable identifier for scripts and tests.
///
/// ```
/// use rusts_cluster_config::{ClusterConfig, Position, ShardList, ValidationErrorKind};
///
/// let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
/// config.nodes[0].shards.push(3);
/// let err = config.validate().unwrap_err();
/// let problem = &err.validation_errors()[0];
/// assert!(matches!(
///     problem.kind(),
///     ValidationErrorKind::DuplicateShardInList { shard: 3, list: ShardList::Primary, .. }
/// ));
/// // The repeat is the 17th entry of the first node's `shards`.
/// assert_eq!(problem.position(), Some(Position { node: 0, element: Some(16) }));
/// assert_eq!(problem.code(), "duplicate-shard-in-list");
/// assert_eq!(problem.to_string(), "node \"a\" lists shard 3 more than once in `shards`; list each shard once");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ValidationError {
    kind: ValidationErrorKind,
    at: Option<Position>,
}

impl ValidationError {
    pub(crate) fn new(kind: ValidationErrorKind, at: Option<Position>) -> ValidationError {
        ValidationError { kind, at }
    }

    /// The rule that is broken, with the values that break it.
    pub fn kind(&self) -> &ValidationErrorKind {
        &self.kind
    }

    /// Where in `nodes` the problem is, for a problem about one node:
    ///
    /// - `empty-node-id`, `duplicate-node-id` (the second node with the
    ///   id), `invalid-address` and `duplicate-address` (the later node):
    ///   the node, whose `id` or `address` it is about;
    /// - `shard-out-of-range`, `duplicate-shard-in-list` and
    ///   `moving-copy-not-held`: the entry, in the list the kind names;
    /// - `duplicate-primary`: the later node's first entry of the shard in
    ///   its `shards`; `replica-on-primary`: the entry in the node's
    ///   `replica_shards`; `joining-and-leaving`: the entry in its
    ///   `leaving_shards`.
    ///
    /// `None` for the other rules, which are about a cluster-wide key or
    /// several shards.
    pub fn position(&self) -> Option<Position> {
        self.at
    }

    /// A stable, kebab-case identifier of the rule, e.g.
    /// `"duplicate-primary"`, for scripts and data-driven tests: the
    /// kind's [`code`](ValidationErrorKind::code).
    pub fn code(&self) -> &'static str {
        self.kind.code()
    }

    /// The shard list the position's `element` is in.
    pub(crate) fn list(&self) -> Option<ShardList> {
        match &self.kind {
            ValidationErrorKind::ShardOutOfRange { list, .. }
            | ValidationErrorKind::DuplicateShardInList { list, .. }
            | ValidationErrorKind::MovingCopyNotHeld { list, .. } => Some(*list),
            ValidationErrorKind::DuplicatePrimary { .. } => Some(ShardList::Primary),
            ValidationErrorKind::ReplicaOnPrimary { .. } => Some(ShardList::Replica),
            ValidationErrorKind::JoiningAndLeaving { .. } => Some(ShardList::Leaving),
            _ => None,
        }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl std::error::Error for ValidationError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.kind.source()
    }
}

/// Which rule a [`ValidationError`] breaks, with the values that break it.
///
/// Each variant names the offending node, shard or field; where the
/// problem is in `nodes` is the error's [`position`](ValidationError::position).
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationErrorKind {
    /// `nodes` is empty.
    #[error("`nodes` is empty; add a [[nodes]] table for every node of the cluster")]
    NoNodes,
    /// `node_id` is set (by the file, or by the node id the config was
    /// loaded as) but names no node in `nodes`. An unset `node_id` breaks
    /// no rule.
    #[error("`node_id` is \"{node_id}\", but no node in `nodes` has that id; load the config as the id of one of its nodes (the id the process is started with, or `node_id` in the file), or add a [[nodes]] table for it")]
    UnknownThisNode {
        /// The node id, from the file or given when loading.
        node_id: String,
    },
    /// A node's `id` is empty.
    #[error("node #{index} (counting from 0) has an empty `id`; give every node a unique id")]
    EmptyNodeId {
        /// The node's position in `nodes`, from 0: the node has no id, so
        /// the message names it by its position.
        index: usize,
    },
    /// Two nodes share an id.
    #[error("node id \"{id}\" is used by {count} nodes; node ids must be unique")]
    DuplicateNodeId {
        /// The repeated id.
        id: String,
        /// How many nodes use it.
        count: usize,
    },
    /// A node id that would look like another id when read: whitespace at
    /// an end, an invisible character, or text not in NFC. The id is shown
    /// with every character but printable ASCII escaped, so the culprit
    /// shows.
    #[error("node id \"{}\" {problem}", super::node_ids::escaped(id))]
    LookAlikeNodeId {
        /// The id, as written.
        id: String,
        /// What makes it a look-alike.
        problem: LookAlike,
    },
    /// Two nodes share an address. Addresses are compared in a canonical
    /// form: host names ignoring case, IP addresses and ports by value.
    #[error("nodes \"{}\" and \"{}\" both have address \"{address}\"; each node needs its own address", nodes[0], nodes[1])]
    DuplicateAddress {
        /// The shared address, as the later node writes it.
        address: String,
        /// Two of the nodes that use it, sorted.
        nodes: [String; 2],
    },
    /// A node's address is not `host:port`.
    #[error("node \"{node}\" has address \"{address}\", which is not host:port: {problem}")]
    InvalidAddress {
        /// The node's id.
        node: String,
        /// The address as written.
        address: String,
        /// What is wrong with it.
        problem: AddressProblem,
    },
    /// `shard_count` is 0.
    #[error("`shard_count` is 0; a cluster needs at least one shard")]
    ZeroShardCount,
    /// `shard_count` is above [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT).
    #[error("`shard_count` is {shard_count}, above the limit of {max}; use at most {max} shards")]
    ShardCountTooLarge {
        /// The value given.
        shard_count: u32,
        /// [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT).
        max: u32,
    },
    /// `replication_factor` is 0.
    #[error("`replication_factor` is 0; every shard needs at least one copy, so use 1 or more")]
    ZeroReplicationFactor,
    /// `replication_factor` is larger than the number of nodes.
    #[error(
        "`replication_factor` is {replication_factor}, but the cluster has only {nodes} node{}; \
         a node holds at most one copy of a shard, so lower it or add nodes",
        if *nodes == 1 { "" } else { "s" }
    )]
    ReplicationFactorExceedsNodes {
        /// The value given.
        replication_factor: usize,
        /// The number of nodes.
        nodes: usize,
    },
    /// The sharding strategy cannot place data.
    #[error(transparent)]
    InvalidStrategy(#[from] ShardingError),
    /// A node lists a shard id that is not below `shard_count`.
    #[error("node \"{node}\" lists shard {shard} in `{list}`, but shard ids run from 0 to {} (`shard_count` is {shard_count})", shard_count.saturating_sub(1))]
    ShardOutOfRange {
        /// The node's id.
        node: String,
        /// The list the shard is in.
        list: ShardList,
        /// The out-of-range id.
        shard: ShardId,
        /// The config's `shard_count`.
        shard_count: u32,
    },
    /// A node lists the same shard twice in one list. A shard listed three
    /// times gives two errors, one at each repeat.
    #[error(
        "node \"{node}\" lists shard {shard} more than once in `{list}`; list each shard once"
    )]
    DuplicateShardInList {
        /// The node's id.
        node: String,
        /// The list with the repeat.
        list: ShardList,
        /// The repeated shard.
        shard: ShardId,
    },
    /// Two nodes list the same shard in `shards`. With three or more, each
    /// later node is reported beside the first.
    #[error("shard {shard} is in the `shards` of both \"{}\" and \"{}\", but a shard has one primary; keep it in one node's `shards` (and in the other's `replica_shards` if that node should keep a copy)", nodes[0], nodes[1])]
    DuplicatePrimary {
        /// The shard.
        shard: ShardId,
        /// Two of the nodes listing it in `shards`, sorted.
        nodes: [String; 2],
    },
    /// A node lists a shard both as primary and as replica.
    #[error("node \"{node}\" lists shard {shard} in both `shards` and `replica_shards`; a node holds at most one copy of a shard, so remove it from `replica_shards`")]
    ReplicaOnPrimary {
        /// The node's id.
        node: String,
        /// The shard.
        shard: ShardId,
    },
    /// A node marks a shard as joining or leaving but holds no copy of it.
    #[error("node \"{node}\" lists shard {shard} in `{list}`, but holds no copy of it; `{list}` marks one of the node's own copies as moving, so also list {shard} in its `replica_shards` (or `shards`), or remove it from `{list}`")]
    MovingCopyNotHeld {
        /// The node's id.
        node: String,
        /// `joining_shards` or `leaving_shards`.
        list: ShardList,
        /// The shard.
        shard: ShardId,
    },
    /// A node marks its copy of a shard as both joining and leaving.
    #[error("node \"{node}\" lists shard {shard} in both `joining_shards` and `leaving_shards`; a copy is either being added or being removed, so keep it in one of them")]
    JoiningAndLeaving {
        /// The node's id.
        node: String,
        /// The shard.
        shard: ShardId,
    },
    /// `read_only_shards` or `offline_shards` lists a shard id that is not
    /// below `shard_count`.
    #[error("`{list}` lists shard {shard}, but shard ids run from 0 to {} (`shard_count` is {shard_count}); remove it", shard_count.saturating_sub(1))]
    StateShardOutOfRange {
        /// The list.
        list: StateList,
        /// The out-of-range id.
        shard: ShardId,
        /// The config's `shard_count`.
        shard_count: u32,
    },
    /// `read_only_shards` or `offline_shards` lists a shard twice.
    #[error("`{list}` lists shard {shard} more than once; list each shard once")]
    DuplicateStateShard {
        /// The list.
        list: StateList,
        /// The repeated id.
        shard: ShardId,
    },
    /// A shard is in both `read_only_shards` and `offline_shards`.
    #[error("shard {shard} is in both `{first}` and `{second}`, but a shard has one state; keep it in `offline_shards` to stop its reads too, or in `read_only_shards` to keep serving them")]
    ShardInTwoStates {
        /// The shard.
        shard: ShardId,
        /// The list it is in first.
        first: StateList,
        /// The other list.
        second: StateList,
    },
    /// Moving shards every copy of which is joining, or every copy of which
    /// is leaving: a move needs an old copy that holds the data and a new
    /// copy that keeps it.
    #[error(
        "{} every copy {}; a move needs at least one copy that is not {} (`rusts-cluster transition` writes the steps of a move)",
        ShardsHave(shards),
        if *joining { "joining, so no copy holds the shard's data yet" } else { "leaving, so no copy keeps the data after the move" },
        if *joining { "joining" } else { "leaving" }
    )]
    MoveWithoutCopies {
        /// The shards, ascending.
        shards: Vec<ShardId>,
        /// True when every copy is joining, false when every copy is leaving.
        joining: bool,
    },
    /// Shards that no node lists in `shards`.
    #[error(
        "{} no primary node; list each shard in exactly one node's `shards`",
        ShardsHave(shards)
    )]
    MissingPrimary {
        /// The shards without a primary, ascending.
        shards: Vec<ShardId>,
    },
    /// `split_from.shard_count` does not divide `shard_count` into two or
    /// more parts, so this config cannot be a split of one with that many
    /// shards.
    #[error(
        "`split_from.shard_count` is {from_shard_count}, but a split multiplies the shard count \
         by a whole number of 2 or more and `shard_count` is {shard_count}; set it to the shard \
         count of the config this one was split from, or remove `[split_from]` if it was not split"
    )]
    SplitFromShardCount {
        /// The value of `split_from.shard_count`.
        from_shard_count: u32,
        /// The config's `shard_count`.
        shard_count: u32,
    },
    /// `split_from.generation` is not below `generation`: the config that
    /// was split must be an older one.
    #[error(
        "`split_from.generation` is {from_generation}, but the config it was split from must be \
         older than this one, whose `generation` is {generation}; set it to that config's \
         generation, or raise `generation`"
    )]
    SplitFromGeneration {
        /// The value of `split_from.generation`.
        from_generation: u64,
        /// The config's `generation`.
        generation: u64,
    },
    /// More problems than [`MAX_REPORTED_ERRORS`] (or than 1 MiB of text):
    /// the rest were counted, not listed. Always the last in the list.
    #[error(
        "and {omitted} more problem{} not listed (validation lists at most {MAX_REPORTED_ERRORS}); \
         fix the ones above and validate again",
        if *omitted == 1 { "" } else { "s" }
    )]
    TooManyProblems {
        /// How many problems were found but not listed.
        omitted: usize,
    },
}

impl ValidationErrorKind {
    /// A stable, kebab-case identifier of the rule, e.g.
    /// `"duplicate-primary"`.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationErrorKind::NoNodes => "no-nodes",
            ValidationErrorKind::UnknownThisNode { .. } => "unknown-this-node",
            ValidationErrorKind::EmptyNodeId { .. } => "empty-node-id",
            ValidationErrorKind::DuplicateNodeId { .. } => "duplicate-node-id",
            ValidationErrorKind::LookAlikeNodeId { .. } => "look-alike-node-id",
            ValidationErrorKind::DuplicateAddress { .. } => "duplicate-address",
            ValidationErrorKind::InvalidAddress { .. } => "invalid-address",
            ValidationErrorKind::ZeroShardCount => "zero-shard-count",
            ValidationErrorKind::ShardCountTooLarge { .. } => "shard-count-too-large",
            ValidationErrorKind::ZeroReplicationFactor => "zero-replication-factor",
            ValidationErrorKind::ReplicationFactorExceedsNodes { .. } => {
                "replication-factor-exceeds-nodes"
            }
            ValidationErrorKind::InvalidStrategy(_) => "invalid-strategy",
            ValidationErrorKind::ShardOutOfRange { .. } => "shard-out-of-range",
            ValidationErrorKind::DuplicateShardInList { .. } => "duplicate-shard-in-list",
            ValidationErrorKind::DuplicatePrimary { .. } => "duplicate-primary",
            ValidationErrorKind::ReplicaOnPrimary { .. } => "replica-on-primary",
            ValidationErrorKind::MissingPrimary { .. } => "missing-primary",
            ValidationErrorKind::MovingCopyNotHeld { .. } => "moving-copy-not-held",
            ValidationErrorKind::JoiningAndLeaving { .. } => "joining-and-leaving",
            ValidationErrorKind::MoveWithoutCopies { .. } => "move-without-copies",
            ValidationErrorKind::StateShardOutOfRange { .. } => "state-shard-out-of-range",
            ValidationErrorKind::DuplicateStateShard { .. } => "duplicate-state-shard",
            ValidationErrorKind::ShardInTwoStates { .. } => "shard-in-two-states",
            ValidationErrorKind::SplitFromShardCount { .. } => "split-from-shard-count",
            ValidationErrorKind::SplitFromGeneration { .. } => "split-from-generation",
            ValidationErrorKind::TooManyProblems { .. } => "too-many-problems",
        }
    }
}

impl From<ValidationErrorKind> for ValidationError {
    /// The error of a rule that has no one place in `nodes`.
    fn from(kind: ValidationErrorKind) -> ValidationError {
        ValidationError::new(kind, None)
    }
}
