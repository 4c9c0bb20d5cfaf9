//! Each generation of the procedure, prepared once before the search: the
//! layer's routers, and the rules the nodes and coordinators take from
//! them. The search only reads these.
//!
//! Two rules are asked of the layer for every case ahead of the search
//! rather than at every state: whether a node accepts a sender's
//! generation (`check_peer_generation`), and how a coordinator's
//! `WriteQuorum` decides each set of first answers. Both are pure for a
//! fixed config, so the answers are the same; asked at every state they
//! took 28% of the checker's time (perf, the factor-3 `Quorum` move with a
//! crash).

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_replication::{QuorumStatus, ReplicationAck, WriteQuorum};
use rusts_cluster_routing::{Query, ReadConsistency, ShardRouter};

use super::bit;
use crate::scenario::MAX_NODES;

/// One generation of the procedure, prepared once: the rules the nodes and
/// coordinators take from the layer's routers.
#[derive(PartialEq)]
pub(super) struct Step {
    pub(super) generation: u64,
    /// The nodes this generation lists as copies of the shard.
    pub(super) holds: u8,
    /// What the write rule requires (`required_acks`).
    pub(super) required_acks: usize,
    /// Per node, per sender step: whether the node, running this
    /// generation, accepts a request sent under that step (rule 1, its
    /// router's `check_peer_generation`).
    pub(super) accepts: Vec<Vec<bool>>,
    /// Per coordinator: the nodes a write goes to (the shard's copies).
    pub(super) write_targets: Vec<u8>,
    /// Per coordinator: whether a write needs no answer, or can never be
    /// met (`write_quorum(0)`'s status before any answer).
    pub(super) initial_status: Vec<QuorumStatus>,
    /// Per coordinator: the write rule's decision for each set of answers.
    pub(super) decisions: Vec<Decisions>,
    /// Per coordinator: the `Quorum` read's copies and how many to read,
    /// or `None` when the plan cannot read the shard.
    pub(super) reads: Vec<Option<(u8, usize)>>,
}

impl Step {
    /// Builds `config` into one router per node (`node_ids`, in index
    /// order) and takes each one's copies, write rule and `Quorum` read
    /// plan of shard 0, and which of the procedure's `generations` it
    /// accepts from a sender.
    ///
    /// # Panics
    ///
    /// When the config is invalid, or names a node outside `node_ids`.
    pub(super) fn prepare(
        config: &ClusterConfig,
        node_ids: &[String],
        generations: &[u64],
    ) -> Self {
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
        let quorums: Vec<WriteQuorum> = routers
            .iter()
            .map(|router| router.write_quorum(0).expect("shard 0 takes writes"))
            .collect();
        let decisions = quorums
            .iter()
            .zip(&write_targets)
            .map(|(quorum, &targets)| Decisions::prepare(quorum, targets, node_ids))
            .collect();
        let accepts = routers
            .iter()
            .map(|router| {
                generations
                    .iter()
                    .map(|&peer| router.check_peer_generation(peer).is_ok())
                    .collect()
            })
            .collect();
        let query = Query::new().consistency(ReadConsistency::Quorum);
        let reads = routers
            .iter()
            .map(|router| nodes.quorum_read(router, &query))
            .collect();
        Step {
            generation: config.generation,
            holds: write_targets[0],
            required_acks: routers[0].protocol().required_acks(),
            accepts,
            write_targets,
            initial_status: quorums.iter().map(WriteQuorum::status).collect(),
            decisions,
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

/// A coordinator's write rule, decided ahead for every pair of disjoint
/// sets of its copies (those whose first answer was a success, and the
/// others that answered).
#[derive(PartialEq)]
pub(super) struct Decisions {
    /// By `ok << MAX_NODES | failed`; `None` for sets a write never has.
    table: Vec<Option<QuorumStatus>>,
}

impl Decisions {
    /// Feeds a copy of `quorum` each case's answers, in node order, as the
    /// coordinator would.
    fn prepare(quorum: &WriteQuorum, targets: u8, node_ids: &[String]) -> Self {
        let subsets = |of: u8| (0..1u8 << MAX_NODES).filter(move |set| set & !of == 0);
        let mut table = vec![None; 1 << (2 * MAX_NODES)];
        for ok in subsets(targets) {
            for failed in subsets(targets & !ok) {
                table[Self::index(ok, failed)] = Some(decide(quorum, ok, failed, node_ids));
            }
        }
        Decisions { table }
    }

    fn index(ok: u8, failed: u8) -> usize {
        usize::from(ok) << MAX_NODES | usize::from(failed)
    }

    /// The decision once the nodes `ok` answered success and `failed`
    /// anything else.
    ///
    /// # Panics
    ///
    /// When a node outside the write's copies answered, or one counted both
    /// ways: the model never sends such answers.
    pub(super) fn get(&self, ok: u8, failed: u8) -> QuorumStatus {
        self.table[Self::index(ok, failed)]
            .expect("a write only hears from the copies it was sent to")
    }
}

/// Decides a write from its answers with the coordinator's own
/// `WriteQuorum`: a copy of `write_quorum(0)` fed every first answer.
fn decide(quorum: &WriteQuorum, ok: u8, failed: u8, node_ids: &[String]) -> QuorumStatus {
    let mut quorum = quorum.clone();
    let mut status = quorum.status();
    for (n, id) in node_ids.iter().enumerate() {
        let ack = if ok & bit(n) != 0 {
            ReplicationAck::success(id.as_str(), 1)
        } else if failed & bit(n) != 0 {
            ReplicationAck::failure(id.as_str(), "not stored", 1)
        } else {
            continue;
        };
        status = quorum
            .record(ack)
            .expect("a write only hears from the copies it was sent to");
    }
    status
}
