//! The warnings: problems that do not stop routing but put data at risk
//! or waste a node.

use std::fmt;

use rusts_cluster_sharding::ShardId;

use super::{report::MAX_REPORTED_WARNINGS, shards_have::ShardsHave};

/// A problem that does not stop routing but puts data at risk or wastes a
/// node. [`ClusterConfig::warnings`](crate::ClusterConfig::warnings) reports
/// them; they never make
/// [`ClusterConfig::validate`](crate::ClusterConfig::validate) fail.
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
    /// for [`ClusterConfig::warnings`](crate::ClusterConfig::warnings)); nodes without the tag count as one
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
    /// A node id with letters of two scripts whose letters look alike
    /// (Latin, Greek, Cyrillic), such as Latin with a Cyrillic `а`: likely
    /// a look-alike of an id written in one.
    MixedScripts {
        /// The node's id.
        node: String,
        /// The first two scripts its letters are in, in order.
        scripts: [&'static str; 2],
    },
    /// More warnings than [`MAX_REPORTED_WARNINGS`](crate::MAX_REPORTED_WARNINGS) (or than 1 MiB of
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
            ValidationWarning::MixedScripts { .. } => "mixed-scripts",
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
            ValidationWarning::MixedScripts { node, scripts } => write!(
                f,
                "node id \"{}\" mixes {} and {} letters, which look alike, so it may be read \
                 as another id; write it in one script",
                super::node_ids::escaped(node),
                scripts[0],
                scripts[1]
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
