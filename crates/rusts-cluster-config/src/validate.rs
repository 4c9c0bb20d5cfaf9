use std::{
    collections::{hash_map::Entry, HashMap},
    fmt,
};

use rusts_cluster_sharding::{ShardId, ShardingError};
use thiserror::Error;

use crate::{address::check_address, AddressProblem, ClusterConfig};

/// The most shards a cluster may have: 2^18 (262,144).
///
/// Validation checks `shard_count` against this before it allocates
/// anything per shard, so a typo such as `shard_count = 1000000000000` fails
/// at once instead of exhausting memory. The ceiling is four times the
/// largest cluster the performance targets are set for (65,536 shards), and
/// a config that lists every copy of this many shards still fits in
/// [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES).
pub const MAX_SHARD_COUNT: u32 = 1 << 18;

/// The most problems [`ClusterConfig::validate`] lists one by one: 1,000.
///
/// A broken file can hold millions of problems (a generated list of
/// 100,000 bad shard ids), and each listed problem copies node ids, so the
/// list is capped; the problems past the cap (or past 1 MiB of listed text)
/// are counted in a final [`ValidationError::TooManyProblems`]. Fixing the
/// listed ones and validating again shows the rest.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// The most warnings [`ClusterConfig::warnings`] lists one by one: 1,000.
///
/// A hostile or generated file can give hundreds of thousands of warnings
/// (one `node-without-shards` per node: a tester's file printed 199,986
/// lines, 25 MB), so warnings are bounded as problems are
/// ([`MAX_REPORTED_ERRORS`]): past 1,000 warnings or 1 MiB of text, the
/// rest are counted in a final [`ValidationWarning::TooManyWarnings`].
pub const MAX_REPORTED_WARNINGS: usize = 1000;

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

/// One broken validation rule. [`ClusterConfig::validate`] reports every one
/// it finds, in a [`ConfigError::Invalid`](crate::ConfigError::Invalid).
///
/// Each variant names the offending node, shard or field; [`code`] gives a
/// stable identifier for scripts and tests.
///
/// [`code`]: ValidationError::code
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationError {
    /// `nodes` is empty.
    #[error("`nodes` is empty; add a [[nodes]] table for every node of the cluster")]
    NoNodes,
    /// `node_id` names no node in `nodes`.
    #[error("`node_id` is \"{node_id}\", but no node in `nodes` has that id; set it to the id of the node this process runs as")]
    UnknownThisNode {
        /// The value of `node_id`.
        node_id: String,
    },
    /// A node's `id` is empty.
    #[error("node #{index} (counting from 0) has an empty `id`; give every node a unique id")]
    EmptyNodeId {
        /// The node's position in `nodes`, from 0.
        index: usize,
    },
    /// Two nodes share an id.
    #[error("node id \"{id}\" is used by {count} nodes; node ids must be unique")]
    DuplicateNodeId {
        /// The repeated id.
        id: String,
        /// How many nodes use it.
        count: usize,
        /// The position in `nodes` (from 0) of the second node with this
        /// id, where the repeat is first seen.
        index: usize,
    },
    /// Two nodes share an address. Addresses are compared in a canonical
    /// form: host names ignoring case, IP addresses and ports by value.
    #[error("nodes \"{}\" and \"{}\" both have address \"{address}\"; each node needs its own address", nodes[0], nodes[1])]
    DuplicateAddress {
        /// The shared address, as the later node writes it.
        address: String,
        /// Two of the nodes that use it, sorted.
        nodes: [String; 2],
        /// The position in `nodes` (from 0) of the later node: the one
        /// whose address an earlier node already uses.
        index: usize,
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
        /// The node's position in `nodes`, from 0.
        index: usize,
    },
    /// `shard_count` is 0.
    #[error("`shard_count` is 0; a cluster needs at least one shard")]
    ZeroShardCount,
    /// `shard_count` is above [`MAX_SHARD_COUNT`].
    #[error("`shard_count` is {shard_count}, above the limit of {max}; use at most {max} shards")]
    ShardCountTooLarge {
        /// The value given.
        shard_count: u32,
        /// [`MAX_SHARD_COUNT`].
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
        /// The node's position in `nodes`, from 0.
        index: usize,
        /// The shard's position in the list, from 0.
        element: usize,
    },
    /// A node lists the same shard twice in one list.
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
        /// The node's position in `nodes`, from 0.
        index: usize,
        /// The position in the list (from 0) of this repeat: a shard listed
        /// three times gives two errors, one at each repeat.
        element: usize,
    },
    /// Two nodes list the same shard in `shards`. With three or more, each
    /// later node is reported beside the first.
    #[error("shard {shard} is in the `shards` of both \"{}\" and \"{}\", but a shard has one primary; keep it in one node's `shards` (and in the other's `replica_shards` if that node should keep a copy)", nodes[0], nodes[1])]
    DuplicatePrimary {
        /// The shard.
        shard: ShardId,
        /// Two of the nodes listing it in `shards`, sorted.
        nodes: [String; 2],
        /// The position in `nodes` (from 0) of the later node: the one
        /// that lists the shard after the first node did.
        index: usize,
        /// The position of the shard in that node's `shards`, from 0 (its
        /// first listing there).
        element: usize,
    },
    /// A node lists a shard both as primary and as replica.
    #[error("node \"{node}\" lists shard {shard} in both `shards` and `replica_shards`; a node holds at most one copy of a shard, so remove it from `replica_shards`")]
    ReplicaOnPrimary {
        /// The node's id.
        node: String,
        /// The shard.
        shard: ShardId,
        /// The node's position in `nodes`, from 0.
        index: usize,
        /// The position of the shard in the node's `replica_shards`, from 0.
        element: usize,
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
        /// The node's position in `nodes`, from 0.
        index: usize,
        /// The position of the shard in the list, from 0.
        element: usize,
    },
    /// A node marks its copy of a shard as both joining and leaving.
    #[error("node \"{node}\" lists shard {shard} in both `joining_shards` and `leaving_shards`; a copy is either being added or being removed, so keep it in one of them")]
    JoiningAndLeaving {
        /// The node's id.
        node: String,
        /// The shard.
        shard: ShardId,
        /// The node's position in `nodes`, from 0.
        index: usize,
        /// The position of the shard in the node's `leaving_shards`.
        element: usize,
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

impl ValidationError {
    /// A stable, kebab-case identifier of the rule, e.g.
    /// `"duplicate-primary"`, for scripts and data-driven tests.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::NoNodes => "no-nodes",
            ValidationError::UnknownThisNode { .. } => "unknown-this-node",
            ValidationError::EmptyNodeId { .. } => "empty-node-id",
            ValidationError::DuplicateNodeId { .. } => "duplicate-node-id",
            ValidationError::DuplicateAddress { .. } => "duplicate-address",
            ValidationError::InvalidAddress { .. } => "invalid-address",
            ValidationError::ZeroShardCount => "zero-shard-count",
            ValidationError::ShardCountTooLarge { .. } => "shard-count-too-large",
            ValidationError::ZeroReplicationFactor => "zero-replication-factor",
            ValidationError::ReplicationFactorExceedsNodes { .. } => {
                "replication-factor-exceeds-nodes"
            }
            ValidationError::InvalidStrategy(_) => "invalid-strategy",
            ValidationError::ShardOutOfRange { .. } => "shard-out-of-range",
            ValidationError::DuplicateShardInList { .. } => "duplicate-shard-in-list",
            ValidationError::DuplicatePrimary { .. } => "duplicate-primary",
            ValidationError::ReplicaOnPrimary { .. } => "replica-on-primary",
            ValidationError::MissingPrimary { .. } => "missing-primary",
            ValidationError::MovingCopyNotHeld { .. } => "moving-copy-not-held",
            ValidationError::JoiningAndLeaving { .. } => "joining-and-leaving",
            ValidationError::MoveWithoutCopies { .. } => "move-without-copies",
            ValidationError::SplitFromShardCount { .. } => "split-from-shard-count",
            ValidationError::SplitFromGeneration { .. } => "split-from-generation",
            ValidationError::TooManyProblems { .. } => "too-many-problems",
        }
    }
}

/// A problem that does not stop routing but puts data at risk or wastes a
/// node. [`ClusterConfig::warnings`] reports them; they never make
/// [`ClusterConfig::validate`] fail.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValidationWarning {
    /// Shards with fewer copies (primary plus replicas) than
    /// `replication_factor`: losing fewer nodes than planned loses them.
    UnderReplicated {
        /// The shards, ascending.
        shards: Vec<ShardId>,
        /// The copies each of them has.
        copies: usize,
        /// The config's `replication_factor`.
        replication_factor: usize,
        /// The acknowledgements `replication_mode` requires of a write to
        /// `replication_factor` copies. When `copies` is below it, writes
        /// to these shards cannot succeed until replicas are added.
        required_acks: usize,
    },
    /// Shards with more copies than `replication_factor`: writes are sent to
    /// every copy, but quorums computed from `replication_factor` ignore the
    /// extra ones.
    OverReplicated {
        /// The shards, ascending.
        shards: Vec<ShardId>,
        /// The copies each of them has.
        copies: usize,
        /// The config's `replication_factor`.
        replication_factor: usize,
    },
    /// A node that holds no shard at all.
    NodeWithoutShards {
        /// The node's id.
        node: String,
    },
    /// Shards whose copies sit in fewer zones than they could: fewer than
    /// the smaller of their copy count and the number of zones. Losing one
    /// zone then loses more copies of them than it must (every copy, when
    /// they all share one zone). A zone is a value of the zone tag (`zone`
    /// for [`ClusterConfig::warnings`]); nodes without the tag count as one
    /// zone together. Given only when some node has the tag.
    ZoneSpread {
        /// The shards, ascending.
        shards: Vec<ShardId>,
        /// The tag that names zones.
        zone_tag: String,
        /// How many zones the nodes form.
        zones: usize,
    },
    /// Nodes' primary counts differ by more than one: the busiest node takes
    /// more of the writes than it needs to.
    PrimaryImbalance {
        /// A node with the most primaries (the smallest id among them).
        most: String,
        /// Its primary count.
        most_count: usize,
        /// A node with the fewest primaries (the smallest id among them).
        least: String,
        /// Its primary count.
        least_count: usize,
    },
    /// Replica counts of nodes in one zone differ by more than one. Nodes
    /// are compared within their zone only: zone spread can require a
    /// small zone's nodes to hold more copies than a large zone's.
    ReplicaImbalance {
        /// The zone (the zone tag's value; `None` for nodes without it).
        zone: Option<String>,
        /// A node with the most replicas (the smallest id among them).
        most: String,
        /// Its replica count.
        most_count: usize,
        /// A node with the fewest replicas (the smallest id among them).
        least: String,
        /// Its replica count.
        least_count: usize,
    },
    /// More warnings than [`MAX_REPORTED_WARNINGS`] (or than 1 MiB of
    /// text): the rest were counted, not listed. Always the last in the
    /// list.
    TooManyWarnings {
        /// How many warnings were found but not listed.
        omitted: usize,
    },
}

impl ValidationWarning {
    /// A stable, kebab-case identifier of the warning, e.g.
    /// `"under-replicated"`.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationWarning::UnderReplicated { .. } => "under-replicated",
            ValidationWarning::OverReplicated { .. } => "over-replicated",
            ValidationWarning::NodeWithoutShards { .. } => "node-without-shards",
            ValidationWarning::ZoneSpread { .. } => "zone-spread",
            ValidationWarning::PrimaryImbalance { .. } => "primary-imbalance",
            ValidationWarning::ReplicaImbalance { .. } => "replica-imbalance",
            ValidationWarning::TooManyWarnings { .. } => "too-many-warnings",
        }
    }
}

impl fmt::Display for ValidationWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ValidationWarning::UnderReplicated {
                shards,
                copies,
                replication_factor,
                required_acks,
            } => {
                write!(
                    f,
                    "{} only {copies} cop{} but `replication_factor` is {replication_factor}",
                    ShardsHave(shards),
                    if *copies == 1 { "y" } else { "ies" }
                )?;
                if copies < required_acks {
                    write!(
                        f,
                        ", so writes to them cannot get the {required_acks} acknowledgement{} \
                         `replication_mode` requires",
                        if *required_acks == 1 { "" } else { "s" }
                    )?;
                }
                f.write_str("; add replicas in other nodes' `replica_shards`")
            }
            ValidationWarning::OverReplicated {
                shards,
                copies,
                replication_factor,
            } => write!(
                f,
                "{} {copies} copies but `replication_factor` is {replication_factor}; \
                 quorums are computed from `replication_factor`, so raise it or remove replicas",
                ShardsHave(shards)
            ),
            ValidationWarning::NodeWithoutShards { node } => {
                write!(f, "node \"{node}\" holds no shard; give it `shards` or `replica_shards`, or remove it")
            }
            ValidationWarning::ZoneSpread {
                shards,
                zone_tag,
                zones,
            } => write!(
                f,
                "{} copies in fewer zones than they could (the nodes form {zones} zones by tag \
                 `{zone_tag}`), so losing one zone loses more copies than it must; put each \
                 copy of a shard in a different zone",
                ShardsHave(shards)
            ),
            ValidationWarning::PrimaryImbalance {
                most,
                most_count,
                least,
                least_count,
            } => write!(
                f,
                "primaries are unbalanced: node \"{most}\" is primary for {most_count} shards \
                 but node \"{least}\" for {least_count}; move shards from the first node's \
                 `shards` to nodes that hold a copy and have fewer, until counts differ by at most one"
            ),
            ValidationWarning::ReplicaImbalance {
                zone,
                most,
                most_count,
                least,
                least_count,
            } => write!(
                f,
                "replicas are unbalanced{}: node \"{most}\" holds {most_count} replicas but \
                 node \"{least}\" {least_count}; move replicas from the first node's \
                 `replica_shards` to nodes in the same zone that lack those shards, until \
                 counts differ by at most one",
                match zone {
                    Some(zone) => format!(" in zone \"{zone}\""),
                    None => String::new(),
                }
            ),
            ValidationWarning::TooManyWarnings { omitted } => write!(
                f,
                "and {omitted} more warning{} not listed (warnings are listed up to \
                 {MAX_REPORTED_WARNINGS}); fix the ones above and check again",
                if *omitted == 1 { "" } else { "s" }
            ),
        }
    }
}

/// Formats "shard 3 has" or "shards 0-7, 12 have", listing at most
/// `MAX_RANGES` ranges so that a message stays readable for any input.
struct ShardsHave<'a>(&'a [ShardId]);

impl fmt::Display for ShardsHave<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_RANGES: usize = 16;
        let shards = self.0;
        f.write_str(if shards.len() == 1 {
            "shard "
        } else {
            "shards "
        })?;
        let mut ranges = 0;
        let mut i = 0;
        while i < shards.len() {
            let first = i;
            let start = shards[i];
            let mut end = start;
            while i + 1 < shards.len() && shards[i + 1] == end.wrapping_add(1) {
                i += 1;
                end = shards[i];
            }
            i += 1;
            if ranges == MAX_RANGES {
                write!(f, " and {} more", shards.len() - first)?;
                break;
            }
            if ranges > 0 {
                f.write_str(", ")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            ranges += 1;
        }
        f.write_str(if shards.len() == 1 { " has" } else { " have" })
    }
}

/// Every rule `config` breaks, in O(nodes + listed shards + shard_count)
/// time: nodes and shards are indexed once, and no list is scanned inside a
/// loop over another.
pub(crate) fn validate(config: &ClusterConfig) -> Vec<ValidationError> {
    let mut errors = Errors::default();
    let nodes = &config.nodes;

    if let Err(e) = config.sharding_strategy.validate() {
        errors.add(|| e.into());
    }
    let shard_count_ok = match config.shard_count {
        0 => {
            errors.add(|| ValidationError::ZeroShardCount);
            false
        }
        n if n > MAX_SHARD_COUNT => {
            errors.add(|| ValidationError::ShardCountTooLarge {
                shard_count: n,
                max: MAX_SHARD_COUNT,
            });
            false
        }
        _ => true,
    };
    if config.replication_factor == 0 {
        errors.add(|| ValidationError::ZeroReplicationFactor);
    } else if !nodes.is_empty() && config.replication_factor > nodes.len() {
        errors.add(|| ValidationError::ReplicationFactorExceedsNodes {
            replication_factor: config.replication_factor,
            nodes: nodes.len(),
        });
    }
    if nodes.is_empty() {
        errors.add(|| ValidationError::NoNodes);
    } else if !nodes.iter().any(|n| n.id == config.node_id) {
        errors.add(|| ValidationError::UnknownThisNode {
            node_id: config.node_id.clone(),
        });
    }

    if let Some(from) = config.split_from {
        let n = from.shard_count;
        if n == 0 || n >= config.shard_count || config.shard_count % n != 0 {
            errors.add(|| ValidationError::SplitFromShardCount {
                from_shard_count: n,
                shard_count: config.shard_count,
            });
        }
        if from.generation >= config.generation {
            errors.add(|| ValidationError::SplitFromGeneration {
                from_generation: from.generation,
                generation: config.generation,
            });
        }
    }

    check_node_ids(config, &mut errors);
    check_addresses(config, &mut errors);
    if shard_count_ok {
        check_shard_lists(config, &mut errors);
    }
    errors.finish(|omitted| ValidationError::TooManyProblems { omitted })
}

/// The problems found so far, bounded so that no input makes the report
/// itself exhaust memory.
///
/// Most problems copy a node's id (and some an address) into the report,
/// so without a bound one long id and a long list of bad shards would be
/// copied once per shard: a 10 KB id and 10,000 out-of-range shards, 40 KB
/// of TOML, made a 100 MB report. Past [`MAX_REPORTED_ERRORS`] problems or
/// `MAX_REPORTED_BYTES` of text, problems are counted, not built, and one
/// [`ValidationError::TooManyProblems`] says how many were left out.
///
/// Warnings are bounded the same way ([`MAX_REPORTED_WARNINGS`]).
struct Report<T> {
    items: Vec<T>,
    max: usize,
    bytes: usize,
    omitted: usize,
}

/// The problems of one validation.
type Errors = Report<ValidationError>;

/// The text the listed problems (or warnings) may hold before the rest are
/// only counted: 1 MiB, far more than an operator reads.
const MAX_REPORTED_BYTES: usize = 1 << 20;

impl<T: fmt::Display> Report<T> {
    fn new(max: usize) -> Self {
        Report {
            items: Vec::new(),
            max,
            bytes: 0,
            omitted: 0,
        }
    }

    /// Adds the item `make` builds, or only counts it once the report is
    /// full, so that a full report costs no copying.
    fn add(&mut self, make: impl FnOnce() -> T) {
        if self.items.len() >= self.max || self.bytes >= MAX_REPORTED_BYTES {
            self.omitted += 1;
            return;
        }
        let item = make();
        self.bytes += display_len(&item);
        self.items.push(item);
    }

    /// The listed items, then `too_many(omitted)` when some were left out.
    fn finish(mut self, too_many: impl FnOnce(usize) -> T) -> Vec<T> {
        if self.omitted > 0 {
            self.items.push(too_many(self.omitted));
        }
        self.items
    }
}

impl Default for Errors {
    fn default() -> Self {
        Report::new(MAX_REPORTED_ERRORS)
    }
}

/// The length of `item`'s `Display` text, without building it.
fn display_len(item: &impl fmt::Display) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail.
    let _ = fmt::write(&mut count, format_args!("{item}"));
    count.0
}

fn check_node_ids(config: &ClusterConfig, errors: &mut Errors) {
    // Count per id, remembering the first appearance so the report follows
    // the file's order, and the second, where the repeat is.
    let mut counts: HashMap<&str, (usize, usize, usize)> =
        HashMap::with_capacity(config.nodes.len());
    for (index, node) in config.nodes.iter().enumerate() {
        if node.id.is_empty() {
            errors.add(|| ValidationError::EmptyNodeId { index });
            continue;
        }
        let (_, count, second) = counts.entry(&node.id).or_insert((index, 0, index));
        *count += 1;
        if *count == 2 {
            *second = index;
        }
    }
    let mut repeated: Vec<_> = counts
        .into_iter()
        .filter(|(_, (_, count, _))| *count > 1)
        .collect();
    repeated.sort_by_key(|(_, (first, _, _))| *first);
    for (id, (_, count, second)) in repeated {
        errors.add(|| ValidationError::DuplicateNodeId {
            id: id.to_owned(),
            count,
            index: second,
        });
    }
}

fn check_addresses(config: &ClusterConfig, errors: &mut Errors) {
    // Keyed by canonical form, so `DB1:8086` and `db1:08086` are one address.
    let mut owners: HashMap<String, &str> = HashMap::with_capacity(config.nodes.len());
    for (index, node) in config.nodes.iter().enumerate() {
        let canonical = match check_address(&node.address) {
            Ok(canonical) => canonical,
            Err(problem) => {
                errors.add(|| ValidationError::InvalidAddress {
                    node: node.id.clone(),
                    address: node.address.clone(),
                    problem,
                    index,
                });
                continue;
            }
        };
        match owners.entry(canonical) {
            Entry::Occupied(other) => errors.add(|| ValidationError::DuplicateAddress {
                address: node.address.clone(),
                nodes: sorted_pair(other.get(), &node.id),
                index,
            }),
            Entry::Vacant(slot) => {
                slot.insert(&node.id);
            }
        }
    }
}

fn check_shard_lists(config: &ClusterConfig, errors: &mut Errors) {
    let shard_count = config.shard_count as usize;
    // Per-shard arrays, bounded by MAX_SHARD_COUNT. `first_primary[s]` is
    // the first node listing shard `s` in `shards`. The stamps hold one plus
    // the index of the node that last listed `s`, which finds repeats within
    // one node's list without a set per node.
    let mut first_primary: Vec<Option<u32>> = vec![None; shard_count];
    let mut primary_stamp: Vec<u32> = vec![0; shard_count];
    let mut replica_stamp: Vec<u32> = vec![0; shard_count];
    // Each problem carries the node's position and the element's, so that
    // a SourceMap points at this very occurrence: a shard listed three times
    // gives two errors, at the second and the third listing.
    let out_of_range = |node: &str, list, shard, index, element| ValidationError::ShardOutOfRange {
        node: node.to_owned(),
        list,
        shard,
        shard_count: config.shard_count,
        index,
        element,
    };
    let repeated =
        |node: &str, list, shard, index, element| ValidationError::DuplicateShardInList {
            node: node.to_owned(),
            list,
            shard,
            index,
            element,
        };

    for (i, node) in config.nodes.iter().enumerate() {
        let stamp = i as u32 + 1;
        for (element, &shard) in node.shards.iter().enumerate() {
            let s = shard as usize;
            if s >= shard_count {
                errors.add(|| out_of_range(&node.id, ShardList::Primary, shard, i, element));
            } else if primary_stamp[s] == stamp {
                errors.add(|| repeated(&node.id, ShardList::Primary, shard, i, element));
            } else {
                primary_stamp[s] = stamp;
                match first_primary[s] {
                    None => first_primary[s] = Some(i as u32),
                    Some(owner) => errors.add(|| ValidationError::DuplicatePrimary {
                        shard,
                        nodes: sorted_pair(&config.nodes[owner as usize].id, &node.id),
                        index: i,
                        element,
                    }),
                }
            }
        }
    }
    for (i, node) in config.nodes.iter().enumerate() {
        let stamp = i as u32 + 1;
        // Later nodes may have overwritten this node's primary stamps in the
        // first pass; stamp them again so the replica check below sees them.
        for &shard in &node.shards {
            if let Some(slot) = primary_stamp.get_mut(shard as usize) {
                *slot = stamp;
            }
        }
        for (element, &shard) in node.replica_shards.iter().enumerate() {
            let s = shard as usize;
            if s >= shard_count {
                errors.add(|| out_of_range(&node.id, ShardList::Replica, shard, i, element));
            } else if replica_stamp[s] == stamp {
                errors.add(|| repeated(&node.id, ShardList::Replica, shard, i, element));
            } else {
                replica_stamp[s] = stamp;
                // Compared by position, not id: two nodes sharing an id are
                // already reported as a duplicate id.
                if primary_stamp[s] == stamp {
                    errors.add(|| ValidationError::ReplicaOnPrimary {
                        node: node.id.clone(),
                        shard,
                        index: i,
                        element,
                    });
                }
            }
        }
    }
    let missing: Vec<ShardId> = (0..shard_count)
        .filter(|&s| first_primary[s].is_none())
        .map(|s| s as ShardId)
        .collect();
    if !missing.is_empty() {
        errors.add(|| ValidationError::MissingPrimary { shards: missing });
    }
    check_moving_lists(config, errors);
}

/// `joining_shards` and `leaving_shards`: each lists some of the node's own
/// copies, once, never both; and every moving shard keeps an old copy and
/// a new one.
fn check_moving_lists(config: &ClusterConfig, errors: &mut Errors) {
    let shard_count = config.shard_count as usize;
    if config
        .nodes
        .iter()
        .all(|n| n.joining_shards.is_empty() && n.leaving_shards.is_empty())
    {
        return;
    }
    // Per shard: copies, joining copies and leaving copies, counted once
    // per node. `held[s]` and `moving[s]` are stamps: one plus the node.
    let mut copies = vec![0u32; shard_count];
    let mut joining = vec![0u32; shard_count];
    let mut leaving = vec![0u32; shard_count];
    let mut held = vec![0u32; shard_count];
    let mut joining_stamp = vec![0u32; shard_count];
    let mut leaving_stamp = vec![0u32; shard_count];
    let mut both_stamp = vec![0u32; shard_count];
    for (i, node) in config.nodes.iter().enumerate() {
        let stamp = i as u32 + 1;
        for &s in node.shards.iter().chain(&node.replica_shards) {
            if let Some(slot) = held.get_mut(s as usize) {
                if *slot != stamp {
                    *slot = stamp;
                    copies[s as usize] += 1;
                }
            }
        }
        let lists = [
            (
                ShardList::Joining,
                &node.joining_shards,
                &mut joining_stamp,
                &mut joining,
            ),
            (
                ShardList::Leaving,
                &node.leaving_shards,
                &mut leaving_stamp,
                &mut leaving,
            ),
        ];
        for (list, shards, stamps, counts) in lists {
            for (element, &shard) in shards.iter().enumerate() {
                let s = shard as usize;
                if s >= shard_count {
                    errors.add(|| ValidationError::ShardOutOfRange {
                        node: node.id.clone(),
                        list,
                        shard,
                        shard_count: config.shard_count,
                        index: i,
                        element,
                    });
                } else if stamps[s] == stamp {
                    errors.add(|| ValidationError::DuplicateShardInList {
                        node: node.id.clone(),
                        list,
                        shard,
                        index: i,
                        element,
                    });
                } else if held[s] != stamp {
                    stamps[s] = stamp;
                    errors.add(|| ValidationError::MovingCopyNotHeld {
                        node: node.id.clone(),
                        list,
                        shard,
                        index: i,
                        element,
                    });
                } else {
                    stamps[s] = stamp;
                    counts[s] += 1;
                }
            }
        }
        // Joining and leaving both: reported at the first `leaving_shards`
        // listing (the stamps say it was the node's first there).
        for (element, &shard) in node.leaving_shards.iter().enumerate() {
            let s = shard as usize;
            if s < shard_count && joining_stamp[s] == stamp && both_stamp[s] != stamp {
                both_stamp[s] = stamp;
                errors.add(|| ValidationError::JoiningAndLeaving {
                    node: node.id.clone(),
                    shard,
                    index: i,
                    element,
                });
            }
        }
    }
    for (side, counted) in [(true, &joining), (false, &leaving)] {
        let shards: Vec<ShardId> = (0..shard_count)
            .filter(|&s| counted[s] > 0 && counted[s] >= copies[s])
            .map(|s| s as ShardId)
            .collect();
        if !shards.is_empty() {
            errors.add(|| ValidationError::MoveWithoutCopies {
                shards,
                joining: side,
            });
        }
    }
}

/// The warnings for `config`, with zones named by the `zone` tag.
pub(crate) fn warnings(config: &ClusterConfig) -> Vec<ValidationWarning> {
    warnings_for_zone_tag(config, crate::DEFAULT_ZONE_TAG)
}

/// The warnings for `config`. Shard-level warnings need a usable
/// `shard_count`; with an invalid one only node-level warnings are given.
pub(crate) fn warnings_for_zone_tag(
    config: &ClusterConfig,
    zone_tag: &str,
) -> Vec<ValidationWarning> {
    let mut warnings = Report::new(MAX_REPORTED_WARNINGS);
    let rf = config.replication_factor;
    // With `replication_factor = 0` (an error of its own) every shard would
    // look over-replicated; say nothing about copies until it is fixed.
    if rf > 0 && (1..=MAX_SHARD_COUNT).contains(&config.shard_count) {
        // Copies are nodes holding the shard, not list entries: a node that
        // lists a shard twice, or in both lists, is one copy (an error of
        // its own). Counting entries reported "4 copies" where 2 nodes held
        // the shard. `last[s]` is one plus the last node counted for `s`.
        let mut copies = vec![0usize; config.shard_count as usize];
        let mut last = vec![0u32; config.shard_count as usize];
        for (i, node) in config.nodes.iter().enumerate() {
            let stamp = i as u32 + 1;
            for &s in node.shards.iter().chain(&node.replica_shards) {
                let s = s as usize;
                if s < copies.len() && last[s] != stamp {
                    last[s] = stamp;
                    copies[s] += 1;
                }
            }
        }
        // A moving shard is counted on each side of its move: its old
        // copies (all but the joining) and its new copies (all but the
        // leaving), each of which should hold the factor. Moving lists with
        // errors of their own are counted as far as they make sense.
        let mut joining = vec![0usize; config.shard_count as usize];
        let mut leaving = vec![0usize; config.shard_count as usize];
        for node in &config.nodes {
            for (list, counts) in [
                (&node.joining_shards, &mut joining),
                (&node.leaving_shards, &mut leaving),
            ] {
                for &s in list {
                    if let Some(count) = counts.get_mut(s as usize) {
                        *count += 1;
                    }
                }
            }
        }
        // Group shards by copy count so one message covers each group.
        let mut under: std::collections::BTreeMap<usize, Vec<ShardId>> = Default::default();
        let mut over: std::collections::BTreeMap<usize, Vec<ShardId>> = Default::default();
        for (s, &c) in copies.iter().enumerate() {
            let old = c.saturating_sub(joining[s]);
            let new = c.saturating_sub(leaving[s]);
            if old.min(new) < rf {
                under.entry(old.min(new)).or_default().push(s as ShardId);
            } else if old.max(new) > rf {
                over.entry(old.max(new)).or_default().push(s as ShardId);
            }
        }
        for (copies, shards) in under {
            warnings.add(|| ValidationWarning::UnderReplicated {
                shards,
                copies,
                replication_factor: rf,
                required_acks: config.replication_mode.required_acks(rf),
            });
        }
        for (copies, shards) in over {
            warnings.add(|| ValidationWarning::OverReplicated {
                shards,
                copies,
                replication_factor: rf,
            });
        }
    }
    for node in &config.nodes {
        if node.shards.is_empty() && node.replica_shards.is_empty() {
            warnings.add(|| ValidationWarning::NodeWithoutShards {
                node: node.id.clone(),
            });
        }
    }
    // At most two of these plus one per zone, each copying at most two ids
    // and a zone name: linear in the file, and bounded below.
    let mut placement = Vec::new();
    crate::zones::spread_and_balance_warnings(config, zone_tag, &mut placement);
    for warning in placement {
        warnings.add(|| warning);
    }
    warnings.finish(|omitted| ValidationWarning::TooManyWarnings { omitted })
}

fn sorted_pair(a: &str, b: &str) -> [String; 2] {
    if a <= b {
        [a.to_owned(), b.to_owned()]
    } else {
        [b.to_owned(), a.to_owned()]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_lists_are_shown_as_ranges() {
        assert_eq!(ShardsHave(&[3]).to_string(), "shard 3 has");
        assert_eq!(
            ShardsHave(&[0, 1, 2, 3, 7, 9, 10]).to_string(),
            "shards 0-3, 7, 9-10 have"
        );
        let many: Vec<ShardId> = (0..100).map(|s| s * 2).collect();
        let text = ShardsHave(&many).to_string();
        assert!(text.starts_with("shards 0, 2, 4,"), "{text}");
        assert!(text.ends_with("30 and 84 more have"), "{text}");
    }
}
