//! What a config in the middle of a transition asks of its copies: which
//! catch up, from which sources, and which may be deleted when
//! (`docs/decisions/0019-joint-copies.md`).
//!
//! Both lists are read from ONE config, a step-1 or step-2 config whose
//! nodes mark copies in `joining_shards` and `leaving_shards`, so that a
//! node given that config and the operator's tool that printed the plan
//! (`rusts-cluster transition`, through `rusts-cluster-placement`) compute
//! them by the same function and cannot disagree.

use rusts_cluster_sharding::{CopyState, ShardId};
use serde::Serialize;

use crate::{ClusterConfig, StepKind};

/// A copy that must be filled from old copies before reads move to the new
/// copies: its node copies the merged data of `sources` into it.
///
/// This is the workspace's public catch-up type, by shard and node id: what
/// an operator tool prints and a node acts on, from
/// [`ClusterConfig::catch_ups`]. The model checker keeps its own
/// `CatchUpSchedule` (in `rusts-cluster-model`), which says when a
/// procedure's catch-ups start and which step waits for them, over node
/// indices; it describes a checked procedure, not a plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CatchUp {
    /// The shard.
    pub shard: ShardId,
    /// The node whose copy catches up.
    pub node: String,
    /// [`CopyState::Joining`] for a copy the move adds;
    /// [`CopyState::Stable`] for a kept copy that must also be caught up,
    /// because the shard loses more copies than it gains.
    pub state: CopyState,
    /// The old copies to merge: `n - w + 1` distinct nodes (`n` old copies,
    /// `w` the acknowledgements the replication mode requires of the
    /// factor; at least 1, at most `n`), stable copies first. Any that many
    /// old copies together hold every write acknowledged before the
    /// transition. A stable copy that catches up counts its own data, so
    /// it can be among its sources. Sorted by node id.
    pub sources: Vec<String>,
}

/// A leaving copy whose data may be deleted, and from when: from
/// [`ClusterConfig::drops`].
///
/// Not before every node runs the step `after`: until then its node keeps
/// admitting writes for it from peers still on the step before (a node on
/// read-new writes to every old and new copy), and no node may delete
/// data that a peer can still acknowledge a write on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CopyDrop {
    /// The shard.
    pub shard: ShardId,
    /// The node whose copy is deleted.
    pub node: String,
    /// The step every node must run before the copy is deleted: always
    /// [`StepKind::Final`], the first config that no longer lists it.
    pub after: StepKind,
}

impl ClusterConfig {
    /// Every copy that must catch up in this config, by shard, then node
    /// id: empty unless it marks copies joining or leaving (a step-1 or
    /// step-2 config of a transition).
    ///
    /// Per shard with a joining or leaving copy, every joining copy
    /// catches up. An acknowledged write sits on `w` old copies (the
    /// replication mode's acknowledgements of the factor), so on at least
    /// `w - |leaving|` stable ones; after the catch-up it is also on every
    /// joining copy. When the shard gains fewer copies than it loses, that
    /// can fall short of `w` new copies, and stable copies catch up too,
    /// the least caught-up so far first, until `w` new copies (joining or
    /// stable) have caught up. Each takes `n - w + 1` sources among the `n`
    /// old copies: its own data first (a stable target), then stable
    /// copies before leaving ones, each the least used as a source so far,
    /// so that no node serves every catch-up.
    ///
    /// The balancing runs over the shards in order, and breaks ties
    /// between equally used nodes by their position in `nodes`: the one
    /// place where the order of `[[nodes]]` matters. Every node is given
    /// the same file, so every node and the plan agree; a step config
    /// whose nodes were reordered by hand may balance sources differently
    /// (still correctly).
    ///
    /// Meant for a valid config. On an invalid one it still returns
    /// (a shard whose copies all join gets catch-ups without sources).
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, StepKind};
    ///
    /// // Step 1 of node "c" replacing node "b": c joins both shards, b
    /// // leaves them.
    /// let step1 = ClusterConfig::from_toml(r#"
    ///     node_id = "a"
    ///     generation = 5
    ///     replication_factor = 2
    ///     shard_count = 2
    ///     [[nodes]]
    ///     id = "a"
    ///     address = "10.0.0.1:8086"
    ///     shards = [0]
    ///     replica_shards = [1]
    ///     [[nodes]]
    ///     id = "c"
    ///     address = "10.0.0.3:8086"
    ///     replica_shards = [0, 1]
    ///     joining_shards = [0, 1]
    ///     [[nodes]]
    ///     id = "b"
    ///     address = "10.0.0.2:8086"
    ///     shards = [1]
    ///     replica_shards = [0]
    ///     leaving_shards = [0, 1]
    /// "#)?;
    /// step1.validate()?;
    /// // A quorum of 2 copies needs both, so one old copy holds every
    /// // acknowledged write: c copies each shard from a, which stays.
    /// let catch_ups = step1.catch_ups();
    /// assert_eq!(catch_ups.len(), 2);
    /// assert_eq!((catch_ups[1].shard, catch_ups[1].node.as_str()), (1, "c"));
    /// assert_eq!(catch_ups[1].sources, ["a"]);
    /// assert_eq!(step1.catch_ups_of("c"), catch_ups);
    /// assert!(step1.catch_ups_of("a").is_empty());
    /// // b's copies may go once every node runs the final step.
    /// let drops = step1.drops();
    /// assert_eq!(drops.len(), 2);
    /// assert!(drops.iter().all(|d| d.node == "b" && d.after == StepKind::Final));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn catch_ups(&self) -> Vec<CatchUp> {
        let index = self.copy_index();
        let w = self.replication_mode.required_acks(self.replication_factor);
        // How many catch-ups each node (by position in `nodes`) serves as a
        // source, and receives, so far: ties go to the least loaded.
        let mut served = vec![0u32; self.nodes.len()];
        let mut received = vec![0u32; self.nodes.len()];
        let mut copies: Vec<(u32, CopyState)> = Vec::new();
        let mut out = Vec::new();
        for (shard, entries) in index.shards() {
            if entries.iter().all(|c| c.state == CopyState::Stable) {
                continue;
            }
            copies.clear();
            copies.extend(
                entries
                    .iter()
                    .map(|c| (index.position(c.node) as u32, c.state)),
            );
            copies.sort_unstable_by_key(|c| c.0);
            let mut balance = Balance {
                served: &mut served,
                received: &mut received,
            };
            shard_catch_ups(self, shard, &copies, w, &mut balance, &mut out);
        }
        out.sort_by(|a: &CatchUp, b: &CatchUp| (a.shard, &a.node).cmp(&(b.shard, &b.node)));
        out
    }

    /// The catch-ups of [`catch_ups`](Self::catch_ups) whose copy is on
    /// node `node`: what that node does once every node runs step 1. The
    /// sources are balanced over every shard, so this computes them all
    /// and keeps the node's.
    pub fn catch_ups_of(&self, node: &str) -> Vec<CatchUp> {
        let mut all = self.catch_ups();
        all.retain(|c| c.node == node);
        all
    }

    /// The copies this config marks leaving (each node's
    /// `leaving_shards`), each with the step after which its data may be
    /// deleted ([`StepKind::Final`]), by shard, then node id: empty unless
    /// it marks copies leaving (a step-1 or step-2
    /// config of a transition; the final config lists none, so a node
    /// keeps this list from the step before).
    pub fn drops(&self) -> Vec<CopyDrop> {
        // Read from the nodes' `leaving_shards`, not the copy index: the
        // few leaving copies are all there is to sort, where the index
        // would visit every copy (65,536 shards' worth on a large cluster)
        // to find them.
        let mut out: Vec<CopyDrop> = self
            .nodes
            .iter()
            .flat_map(|node| {
                node.leaving_shards
                    .iter()
                    .filter(|&&s| s < self.shard_count)
                    .map(move |&shard| CopyDrop {
                        shard,
                        node: node.id.clone(),
                        after: StepKind::Final,
                    })
            })
            .collect();
        out.sort_by(|a, b| (a.shard, &a.node).cmp(&(b.shard, &b.node)));
        out.dedup();
        out
    }
}

/// The per-node counters the balancing carries from shard to shard, by
/// position in `nodes`.
struct Balance<'b> {
    served: &'b mut [u32],
    received: &'b mut [u32],
}

/// The catch-ups of one moving shard, from its copies (node position and
/// state, ascending by position), into `out`; see
/// [`ClusterConfig::catch_ups`] for the rule.
fn shard_catch_ups(
    config: &ClusterConfig,
    shard: ShardId,
    copies: &[(u32, CopyState)],
    w: usize,
    balance: &mut Balance<'_>,
    out: &mut Vec<CatchUp>,
) {
    let count = |state: CopyState| copies.iter().filter(|c| c.1 == state).count();
    let (joining, leaving, stable) = (
        count(CopyState::Joining),
        count(CopyState::Leaving),
        count(CopyState::Stable),
    );
    let n = stable + leaving;
    // `max` then `min`, not `clamp`: a shard with no old copy (an invalid
    // config) gets no sources rather than a panic.
    let needed = (n + 1).saturating_sub(w).max(1).min(n);
    let mut targets: Vec<(u32, CopyState)> = copies
        .iter()
        .copied()
        .filter(|c| c.1 == CopyState::Joining)
        .collect();
    if joining < leaving {
        let extra = w.saturating_sub(joining).min(stable);
        let mut kept: Vec<u32> = copies
            .iter()
            .filter(|c| c.1 == CopyState::Stable)
            .map(|c| c.0)
            .collect();
        kept.sort_by_key(|&v| (balance.received[v as usize], v));
        targets.extend(kept.into_iter().take(extra).map(|v| (v, CopyState::Stable)));
    }
    for (target, state) in targets {
        balance.received[target as usize] += 1;
        // A stable copy counts its own data first; then stable copies, then
        // leaving ones, each the least used as a source so far.
        let mut candidates: Vec<(bool, bool, u32, u32)> = copies
            .iter()
            .filter(|c| c.1 != CopyState::Joining)
            .map(|&(v, s)| {
                (
                    v != target,
                    s == CopyState::Leaving,
                    balance.served[v as usize],
                    v,
                )
            })
            .collect();
        candidates.sort_unstable();
        let sources: Vec<u32> = candidates.iter().take(needed).map(|c| c.3).collect();
        for &v in &sources {
            if v != target {
                balance.served[v as usize] += 1;
            }
        }
        let id = |v: u32| config.nodes[v as usize].id.clone();
        let mut sources: Vec<String> = sources.into_iter().map(id).collect();
        sources.sort_unstable();
        out.push(CatchUp {
            shard,
            node: id(target),
            state,
            sources,
        });
    }
}
