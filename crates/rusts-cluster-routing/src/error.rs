use rusts_cluster_config::{AddressHandover, ConfigError, NotASplit, SplitFrom};
use rusts_cluster_replication::{ReplicationError, ReplicationMode};
use rusts_cluster_sharding::{CopyState, ShardId, ShardingStrategy};
use thiserror::Error;

/// An error from this crate.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RoutingError {
    /// The config the router was to be built from is invalid; the config
    /// error lists every problem.
    #[error(transparent)]
    InvalidConfig(#[from] ConfigError),
    /// No shard has this id.
    #[error("shard {shard} does not exist; this cluster has shards 0 to {}", shard_count.saturating_sub(1))]
    ShardNotFound {
        /// The id asked for.
        shard: ShardId,
        /// The router's shard count.
        shard_count: u32,
    },
    /// No node has this id.
    #[error("node \"{node}\" is not in the cluster config; use one of the ids under [[nodes]]")]
    NodeNotFound {
        /// The id asked for.
        node: String,
    },
    /// A query asked not to be planned as a full fan-out, and it would read
    /// every shard.
    #[error("query would read all {shard_count} shards: {reason}")]
    QueryNotPruned {
        /// The router's shard count.
        shard_count: u32,
        /// Why the strategy cannot narrow it, and how to narrow it.
        reason: String,
    },
    /// A write rule refused: a write was asked of a shard whose state
    /// takes no writes ([`ReplicationError::ShardNotWritable`]).
    #[error(transparent)]
    Replication(#[from] ReplicationError),
    /// `apply` was given a config whose generation is not newer than the
    /// one the router runs: an old file delivered late, or the same file
    /// twice.
    #[error("config generation {to} is not newer than generation {from}, which this router runs; raise `generation` above {from} in the new file")]
    StaleGeneration {
        /// The router's generation.
        from: u64,
        /// The generation of the config given.
        to: u64,
    },
    /// `apply` was given a config more than one generation ahead of the
    /// one the router runs: the steps between were skipped, and the two
    /// generations may place copies that no transition step made safe
    /// beside each other (a final step deployed directly, or a typo such
    /// as `u64::MAX`).
    #[error("config generation {to} skips generation(s) after {from}, which this router runs; apply each step in turn (generation {} first)", from.saturating_add(1))]
    GenerationSkipped {
        /// The router's generation.
        from: u64,
        /// The generation of the config given.
        to: u64,
    },
    /// `apply` was given a config in which a copy of a shard changes its
    /// part in a move in a way no single transition step does: it appears
    /// without joining first, vanishes without leaving first, or turns
    /// from stable or leaving to joining, or from joining to leaving.
    /// `None` is a copy the config does not have.
    #[error("shard {shard}'s copy on node \"{node}\" goes from {} to {} in one generation, which no transition step does (a copy goes absent, joining, stable as it arrives and stable, leaving, absent as it goes, and turns back only from joining to absent or from leaving to stable), so nodes on the two generations could each acknowledge writes the other's reads miss; deploy the transition's steps in order: `rusts-cluster transition OLD NEW`", describe_copy(*from), describe_copy(*to))]
    UnsafeCopyChange {
        /// The shard, numbered as in the config given.
        shard: ShardId,
        /// The node holding the copy.
        node: String,
        /// The copy's state in the router's config (after a split, its
        /// parent's copy); `None` when it has none.
        from: Option<CopyState>,
        /// The copy's state in the config given; `None` when it has none.
        to: Option<CopyState>,
    },
    /// `apply` was given a config in which a shard's copies change and, in
    /// the same generation, the copies it reads from: a step changes one
    /// or the other (steps 1 and 3 the copies, step 2 the reads), so that
    /// each write acknowledged under one generation sits on copies the
    /// other reads.
    #[error("shard {shard} changes its copies and the copies it reads from (nodes {} to nodes {}) in one generation, so a read on one generation could miss a write acknowledged on the other; change the copies (joining or leaving marks) and `move_reads` in separate generations: deploy the transition's steps in order: `rusts-cluster transition OLD NEW`", describe_nodes(from), describe_nodes(to))]
    UnsafeReadChange {
        /// The shard, numbered as in the config given.
        shard: ShardId,
        /// The nodes it reads from in the router's config (after a split,
        /// its parent's), in node-id order.
        from: Vec<String>,
        /// The nodes it reads from in the config given, in node-id order.
        to: Vec<String>,
    },
    /// `apply` was given a config with another replication mode or factor:
    /// nodes on the two generations would count a write's
    /// acknowledgements and a read's copies by different rules, and no
    /// transition step makes that change safe yet.
    #[error("the new config replicates with `replication_mode` {to_mode} and `replication_factor` {to_factor} but this router runs {from_mode} and {from_factor}; nodes running the two at once count writes and reads by different rules, so a read could miss an acknowledged write, and no step makes the change safe yet: keep the old settings in the new config")]
    ReplicationChanged {
        /// The router's mode.
        from_mode: ReplicationMode,
        /// The mode of the config given.
        to_mode: ReplicationMode,
        /// The router's factor.
        from_factor: usize,
        /// The factor of the config given.
        to_factor: usize,
    },
    /// A request came from a node whose config generation is not next to
    /// this router's: more than one step apart, the two may route by
    /// placements that no transition step made safe together.
    #[error("peer runs config generation {peer} but this node runs generation {ours}; nodes may differ by at most one generation, so refuse the request until the rollout brings both to adjacent generations (deploy each transition step to every node before the next)")]
    PeerGeneration {
        /// This router's generation.
        ours: u64,
        /// The generation the peer's request carried.
        peer: u64,
    },
    /// `apply` was given a config whose `node_id` is set and names another
    /// node than the router's.
    #[error("the new config is for node \"{to}\" but this router runs as node \"{from}\"; leave `node_id` out of the file, so that every node takes it as itself, or load it as node \"{from}\"")]
    NodeIdChanged {
        /// The router's node id.
        from: String,
        /// The `node_id` of the config given.
        to: String,
    },
    /// `apply` was given a config with another shard count that is not a
    /// split of the router's config: keys would move to shards on other
    /// nodes.
    #[error("the new config has {to} shards but this router has {from}, and it is not a split of the router's config ({reason}); a running router takes no other change of the shard count, since it would move keys to other nodes")]
    ShardCountChanged {
        /// The router's shard count.
        from: u32,
        /// The `shard_count` of the config given.
        to: u32,
        /// Why the config is not a split of the router's.
        reason: NotASplit,
    },
    /// `apply` was given a config with the same shard count whose
    /// `[split_from]` record differs from the router's: the record says how
    /// peers on older generations number shards, and only a split may
    /// write a new one.
    #[error("the new config's `[split_from]` is {} but this router's is {}, and the shard count is unchanged; only a split writes a new record (a later generation keeps it or drops it), so restore the record or remove it", describe_record(to), describe_record(from))]
    SplitRecordChanged {
        /// The router's record.
        from: Option<SplitFrom>,
        /// The record of the config given.
        to: Option<SplitFrom>,
    },
    /// `apply` was given a config that gives the address of a node holding
    /// copies to another node
    /// ([`address_handovers`](rusts_cluster_config::address_handovers)):
    /// nodes still on the router's generation would send the first node's
    /// requests to the second, which could acknowledge writes for a copy
    /// that never stored them.
    #[error(transparent)]
    AddressHandedOver(#[from] AddressHandover),
    /// `apply` was given a config with another sharding strategy: keys
    /// would move to other shards.
    #[error("the new config shards {to:?} but this router shards {from:?}; changing the strategy moves keys to other shards, so it cannot be applied to a running router")]
    StrategyChanged {
        /// The router's strategy.
        from: ShardingStrategy,
        /// The `sharding_strategy` of the config given.
        to: ShardingStrategy,
    },
    /// A peer sent a key for a shard that the key does not belong to in
    /// this router's generation: not that shard, nor (across a split) one
    /// of its children or its parent.
    #[error("a peer on generation {peer_generation} sent a key for its shard {peer_shard}, but in generation {generation} the key maps to shard {shard}, which is neither that shard nor, across a split, its child or parent; the two nodes shard keys differently, so check that both run configs of this cluster")]
    MisroutedKey {
        /// The peer's generation.
        peer_generation: u64,
        /// The shard the peer sent the key for, in its numbering.
        peer_shard: ShardId,
        /// This router's generation.
        generation: u64,
        /// The shard the key maps to in it.
        shard: ShardId,
    },
    /// A batch passed to `route_batch` has more keys than its `u32` key
    /// indices can count.
    #[error("a batch of {keys} keys is too large to route at once; split it into batches of at most 4294967295 keys")]
    BatchTooLarge {
        /// The batch's length.
        keys: usize,
    },
}

impl RoutingError {
    /// A short, stable, kebab-case name of what went wrong, for scripts
    /// (the CLI's JSON `code`); a wrapped layer's error gives its own
    /// ([`RoutingError::InvalidConfig`] gives the config error's).
    pub fn code(&self) -> &'static str {
        match self {
            RoutingError::InvalidConfig(e) => e.code(),
            RoutingError::ShardNotFound { .. } => "unknown-shard",
            RoutingError::NodeNotFound { .. } => "unknown-node",
            RoutingError::QueryNotPruned { .. } => "not-pruned",
            RoutingError::Replication(e) => e.code(),
            RoutingError::StaleGeneration { .. } => "stale-generation",
            RoutingError::GenerationSkipped { .. } => "generation-skipped",
            RoutingError::UnsafeCopyChange { .. } | RoutingError::UnsafeReadChange { .. } => {
                "unsafe-step"
            }
            RoutingError::ReplicationChanged { .. } => "replication-changed",
            RoutingError::PeerGeneration { .. } => "peer-generation",
            RoutingError::NodeIdChanged { .. } => "node-id-changed",
            RoutingError::ShardCountChanged { .. } => "mapping-changed",
            RoutingError::SplitRecordChanged { .. } => "split-record-changed",
            RoutingError::AddressHandedOver(_) => "address-in-use",
            RoutingError::StrategyChanged { .. } => "mapping-changed",
            RoutingError::MisroutedKey { .. } => "misrouted-key",
            RoutingError::BatchTooLarge { .. } => "batch-too-large",
        }
    }
}

/// A `[split_from]` record as an error message shows it.
fn describe_record(record: &Option<SplitFrom>) -> String {
    match record {
        Some(r) => format!("generation {}, shard_count {}", r.generation, r.shard_count),
        None => "absent".to_owned(),
    }
}

/// A copy's state as an error message shows it: `absent` for none.
fn describe_copy(state: Option<CopyState>) -> String {
    state.map_or_else(|| "absent".to_owned(), |s| s.to_string())
}

/// Node ids as an error message shows them: quoted, comma-separated, or
/// `none`.
fn describe_nodes(nodes: &[String]) -> String {
    if nodes.is_empty() {
        return "none".to_owned();
    }
    let quoted: Vec<String> = nodes.iter().map(|n| format!("\"{n}\"")).collect();
    quoted.join(", ")
}
