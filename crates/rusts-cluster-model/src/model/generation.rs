//! Each generation of the procedure, prepared once before the search: the
//! layer's routers, and the write and read rules the coordinators take
//! from them. The search only reads these.

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_replication::WriteQuorum;
use rusts_cluster_routing::{Query, ReadConsistency, ShardRouter};

use super::bit;

/// One generation of the procedure, prepared once: the routers and the
/// rules the coordinators use.
pub(super) struct Step {
    pub(super) generation: u64,
    /// One router per node (the config with that node's `node_id`).
    pub(super) routers: Vec<ShardRouter>,
    /// The nodes this generation lists as copies of the shard.
    pub(super) holds: u8,
    /// Per coordinator: the nodes a write goes to (the shard's copies).
    pub(super) write_targets: Vec<u8>,
    /// Per coordinator: the write rule, as `write_quorum(0)` returned it.
    pub(super) quorums: Vec<WriteQuorum>,
    /// Per coordinator: the `Quorum` read's copies and how many to read,
    /// or `None` when the plan cannot read the shard.
    pub(super) reads: Vec<Option<(u8, usize)>>,
}

impl Step {
    /// Builds `config` into one router per node (`node_ids`, in index
    /// order) and takes each one's copies, write rule and `Quorum` read
    /// plan of shard 0.
    ///
    /// # Panics
    ///
    /// When the config is invalid, or names a node outside `node_ids`.
    pub(super) fn prepare(config: &ClusterConfig, node_ids: &[String]) -> Self {
        let nodes = NodeIndex(node_ids);
        let routers: Vec<ShardRouter> = node_ids
            .iter()
            .map(|id| {
                let mut config = config.clone();
                config.node_id = id.clone();
                ShardRouter::from_config(&config)
                    .unwrap_or_else(|error| panic!("generation {}: {error}", config.generation))
            })
            .collect();
        let write_targets: Vec<u8> = routers.iter().map(|r| nodes.copies(r)).collect();
        let quorums = routers
            .iter()
            .map(|router| router.write_quorum(0).expect("shard 0 takes writes"))
            .collect();
        let query = Query::new().consistency(ReadConsistency::Quorum);
        let reads = routers
            .iter()
            .map(|router| nodes.quorum_read(router, &query))
            .collect();
        Step {
            generation: config.generation,
            holds: write_targets[0],
            routers,
            write_targets,
            quorums,
            reads,
        }
    }
}

/// Node ids to the model's node indices.
struct NodeIndex<'a>(&'a [String]);

impl NodeIndex<'_> {
    fn of(&self, id: &str) -> usize {
        self.0
            .iter()
            .position(|n| n == id)
            .unwrap_or_else(|| panic!("unknown node {id}"))
    }

    /// The copies of shard 0 as `router` lists them, as bits.
    fn copies(&self, router: &ShardRouter) -> u8 {
        router
            .get_shard(0)
            .expect("shard 0")
            .copies()
            .fold(0, |bits, copy| bits | bit(self.of(copy.node_id)))
    }

    /// `router`'s `Quorum` read of shard 0: the copies it may ask (targets
    /// and fallbacks, as bits) and how many must answer; `None` when the
    /// plan cannot read the shard.
    fn quorum_read(&self, router: &ShardRouter, query: &Query) -> Option<(u8, usize)> {
        let plan = router.plan_query(query).expect("a plan");
        let read = plan.read(0).expect("the plan reads shard 0");
        read.is_available().then(|| {
            let copies = read
                .targets()
                .chain(read.fallbacks())
                .fold(0, |bits, copy| bits | bit(self.of(copy.node_id)));
            (copies, read.copies_needed())
        })
    }
}
