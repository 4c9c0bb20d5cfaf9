//! Transition plans: the configs that move a running cluster from one
//! placement to another while nodes run different generations
//! (`docs/decisions/0019-joint-copies.md`).
//!
//! The plan is built from two indexed tables of copies, one per config, in
//! which every node is a number: per shard, its old copies and its new
//! copies are short sorted runs of node numbers, compared and merged in one
//! pass. No per-shard map or string is built until the step configs are
//! written, which is what keeps 65,536 shards on 256 nodes in milliseconds
//! (`docs/performance.md`).

use std::collections::HashMap;

use rusts_cluster_config::{
    address_handovers, canonical_address, AddressHandover, CatchUp, ClusterConfig, CopyDrop,
    MoveReads, NodeConfig, StepKind,
};
use rusts_cluster_sharding::{CopyState, ShardId};
use serde::Serialize;

use crate::{ConfigRole, PlacementError};

/// The configs that take a cluster from one placement to another, each safe
/// to run beside the next, and the copies to catch up between the first
/// two. From [`plan_transition`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransitionPlan {
    /// The steps, in the order they are deployed; empty when no copy moves.
    pub steps: Vec<TransitionStep>,
    /// The copies to catch up once every node runs the first step, and
    /// before the second is deployed: by shard, then node id. The first
    /// step's [`ClusterConfig::catch_ups`], so that a node given that step
    /// computes the same list.
    pub catch_up: Vec<CatchUp>,
    /// The leaving copies, which may be deleted once every node runs the
    /// final step: by shard, then node id. The first step's
    /// [`ClusterConfig::drops`].
    pub drops: Vec<CopyDrop>,
    /// The shards whose copies move, ascending.
    pub moving_shards: Vec<ShardId>,
}

impl TransitionPlan {
    /// Whether no copy moves: then there are no steps, and the new config
    /// can be deployed as it is (with a generation above the old one's).
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }
}

/// One step of a [`TransitionPlan`]: a config to deploy to every node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TransitionStep {
    /// Which step it is.
    pub kind: StepKind,
    /// The config to deploy. Its generation is the old config's plus the
    /// step's number.
    pub config: ClusterConfig,
}

/// Plans the transition from `from` to `to`: three configs, with
/// generations `from`'s plus 1, 2 and 3, each safe to run beside the next,
/// and the catch-up between the first two
/// (`docs/decisions/0019-joint-copies.md`).
///
/// Per shard, with `O` its copies in `from` and `N` in `to` (a shard moves
/// when they differ):
///
/// 1. [`StepKind::JointWrites`]: copies `O ∪ N`, those in `N` only listed
///    in the node's `joining_shards`, those in `O` only in
///    `leaving_shards`; `move_reads = "old"`; `from`'s primaries. Nodes:
///    `to`'s, then every node of `from` that `to` drops (with `from`'s
///    address and tags, in `from`'s order), also one that holds no copy:
///    it still coordinates writes, and "every node reports step 1" must
///    include it, or it could acknowledge a write under `from` after the
///    catch-up (`docs/decisions/0035-removed-nodes-stay-through-step-2.md`).
///    Every other setting is `to`'s.
/// 2. [`StepKind::ReadNew`]: the same copies and nodes,
///    `move_reads = "new"`, and `to`'s primaries.
/// 3. [`StepKind::Final`]: `to` itself, at generation `from`'s plus 3.
///
/// `to`'s own generation plays no part: steps are numbered from `from`'s,
/// so that each is one above the last. When no shard's copies change, the
/// plan has no steps: deploy `to` directly, with its generation above
/// `from`'s.
///
/// # Errors
///
/// - [`PlacementError::Invalid`] when either config is invalid (every
///   problem listed), and [`PlacementError::Moving`] when either marks
///   copies as moving: it is already a step of a transition.
/// - [`PlacementError::ShardCountChanged`],
///   [`PlacementError::StrategyChanged`]: keys would map to other shards.
/// - [`PlacementError::ReplicationChanged`]: a transition keeps
///   `replication_mode` and `replication_factor`.
/// - [`PlacementError::Config`] ([`ConfigError::GenerationOverflow`](rusts_cluster_config::ConfigError::GenerationOverflow)): `from`'s generation plus 3
///   does not fit.
/// - [`PlacementError::AddressInUse`]: a node `to` drops, which runs
///   through step 2, shares its address with a node of `to` (compared in
///   [`canonical_address`] form);
///   [`PlacementError::AddressHandedOver`]: a node that stays gives its
///   address to another ([`address_handovers`]).
/// - [`PlacementError::InvalidStep`]: a step breaks a validation rule.
///   The checks above are meant to rule this out; the steps are validated
///   all the same, so that a plan is never one that `validate` and every
///   node refuse.
///
/// ```
/// use rusts_cluster_config::{ClusterConfig, MoveReads};
/// use rusts_cluster_placement::{plan_transition, StepKind};
///
/// // Node "b" is replaced by node "c": shard 1's copy moves.
/// let old = ClusterConfig::from_toml(r#"
///     node_id = "a"
///     generation = 4
///     replication_factor = 2
///     shard_count = 2
///     [[nodes]]
///     id = "a"
///     address = "10.0.0.1:8086"
///     shards = [0]
///     replica_shards = [1]
///     [[nodes]]
///     id = "b"
///     address = "10.0.0.2:8086"
///     shards = [1]
///     replica_shards = [0]
/// "#)?;
/// let mut new = old.clone();
/// new.nodes[1].id = "c".into();
/// new.nodes[1].address = "10.0.0.3:8086".into();
///
/// let plan = plan_transition(&old, &new)?;
/// assert_eq!(plan.moving_shards, [0, 1]);
/// let kinds: Vec<StepKind> = plan.steps.iter().map(|s| s.kind).collect();
/// assert_eq!(kinds, [StepKind::JointWrites, StepKind::ReadNew, StepKind::Final]);
/// let step1 = &plan.steps[0].config;
/// assert_eq!((step1.generation, step1.move_reads), (5, MoveReads::Old));
/// // c joins and b leaves; b is still shard 1's primary until step 2.
/// assert_eq!(step1.get_node("c").unwrap().joining_shards, [0, 1]);
/// assert_eq!(step1.get_node("b").unwrap().leaving_shards, [0, 1]);
/// assert_eq!(step1.get_node("b").unwrap().shards, [1]);
/// assert_eq!(plan.steps[1].config.get_node("c").unwrap().shards, [1]);
/// // Quorum of 2 copies needs both, so one old copy holds every
/// // acknowledged write: c copies shard 1 from a, the copy that stays.
/// assert_eq!(plan.catch_up[1].sources, ["a"]);
/// assert_eq!(plan.steps[2].config.generation, 7);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn plan_transition(
    from: &ClusterConfig,
    to: &ClusterConfig,
) -> Result<TransitionPlan, PlacementError> {
    check(from, to)?;
    let generation = from.generation;
    let nodes = NodeTable::new(from, to);
    let old = CopyTable::new(from, &nodes, Side::Old);
    let new = CopyTable::new(to, &nodes, Side::New);

    // Per node of the steps: its lists in step 1 and 2 (primaries differ).
    let step_nodes = nodes.step_nodes();
    let mut lists = vec![StepLists::default(); nodes.ids.len()];
    let mut moving_shards = Vec::new();
    let mut merged: Vec<(u32, CopyState)> = Vec::new();
    for s in 0..from.shard_count as usize {
        let (o, n) = (old.copies(s), new.copies(s));
        let shard = s as ShardId;
        let (old_primary, new_primary) = (old.primary[s], new.primary[s]);
        if o == n {
            for &v in o {
                let lists = &mut lists[v as usize];
                lists.push(shard, Some(v) == old_primary, Some(v) == new_primary);
            }
            continue;
        }
        moving_shards.push(shard);
        merge(o, n, &mut merged);
        for &(v, state) in &merged {
            let lists = &mut lists[v as usize];
            lists.push(shard, Some(v) == old_primary, Some(v) == new_primary);
            match state {
                CopyState::Joining => lists.joining.push(shard),
                CopyState::Leaving => lists.leaving.push(shard),
                _ => {}
            }
        }
    }
    if moving_shards.is_empty() {
        return Ok(TransitionPlan {
            steps: Vec::new(),
            catch_up: Vec::new(),
            drops: Vec::new(),
            moving_shards,
        });
    }
    check_kept_addresses(from, to)?;
    let step = |kind: StepKind, reads: MoveReads| {
        let mut config = ClusterConfig {
            generation: generation + kind.number(),
            move_reads: reads,
            nodes: Vec::with_capacity(step_nodes.len()),
            ..settings_of(to)
        };
        for &v in &step_nodes {
            let mut node = nodes.config(v, from, to).clone();
            let lists = &lists[v as usize];
            let (shards, replicas) = if kind == StepKind::JointWrites {
                (&lists.old_primary, &lists.old_replica)
            } else {
                (&lists.new_primary, &lists.new_replica)
            };
            node.shards.clone_from(shards);
            node.replica_shards.clone_from(replicas);
            node.joining_shards.clone_from(&lists.joining);
            node.leaving_shards.clone_from(&lists.leaving);
            config.nodes.push(node);
        }
        TransitionStep { kind, config }
    };
    let mut last = to.clone();
    last.generation = generation + StepKind::Final.number();
    let steps = vec![
        step(StepKind::JointWrites, MoveReads::Old),
        step(StepKind::ReadNew, MoveReads::New),
        TransitionStep {
            kind: StepKind::Final,
            config: last,
        },
    ];
    // The catch-ups and drops are read back from the first step, by the
    // function a node given that step calls: one mechanism, so the printed
    // plan and the nodes cannot disagree. Its nodes are numbered in the
    // order of `step_nodes`, which is the order the step lists them in.
    for step in &steps {
        step.config
            .validate()
            .map_err(|source| PlacementError::InvalidStep {
                step: step.kind,
                source,
            })?;
    }
    let catch_up = steps[0].config.catch_ups();
    let drops = steps[0].config.drops();
    Ok(TransitionPlan {
        steps,
        catch_up,
        drops,
        moving_shards,
    })
}

/// The checks before planning: both configs valid and settled, the same
/// shards, the same replication, room for three generations, and no
/// address held twice while the steps run.
fn check(from: &ClusterConfig, to: &ClusterConfig) -> Result<(), PlacementError> {
    for (config, role) in [(from, ConfigRole::From), (to, ConfigRole::To)] {
        config
            .validate()
            .map_err(|source| PlacementError::Invalid {
                config: role,
                source,
            })?;
    }
    for (config, role) in [(from, ConfigRole::From), (to, ConfigRole::To)] {
        let shards = config.moving_shards();
        if !shards.is_empty() {
            return Err(PlacementError::Moving {
                config: role,
                shards,
            });
        }
    }
    if from.shard_count != to.shard_count {
        return Err(PlacementError::ShardCountChanged {
            from: from.shard_count,
            to: to.shard_count,
        });
    }
    if from.sharding_strategy != to.sharding_strategy {
        return Err(PlacementError::StrategyChanged {
            from: from.sharding_strategy,
            to: to.sharding_strategy,
        });
    }
    if from.replication_mode != to.replication_mode
        || from.replication_factor != to.replication_factor
    {
        return Err(PlacementError::ReplicationChanged {
            from_mode: from.replication_mode,
            to_mode: to.replication_mode,
            from_factor: from.replication_factor,
            to_factor: to.replication_factor,
        });
    }
    from.next_generation(StepKind::Final.number())
        .map_err(PlacementError::Config)?;
    if let Some(handover) = address_handovers(from, to).into_iter().next() {
        return Err(handover.into());
    }
    Ok(())
}

/// A node `to` drops stays in steps 1 and 2 even when it holds no copy
/// (which `address_handovers` leaves out: no request is sent to such a
/// node), so its address is still its own there: no node of `to` may have
/// it, compared in canonical form. Checked only when copies move: with no
/// steps, `to` is deployed as it is.
fn check_kept_addresses(from: &ClusterConfig, to: &ClusterConfig) -> Result<(), PlacementError> {
    let canonical = |a: &str| canonical_address(a).unwrap_or_else(|_| a.to_owned());
    let taken: HashMap<String, &str> = to
        .nodes
        .iter()
        .map(|n| (canonical(&n.address), n.id.as_str()))
        .collect();
    for node in &from.nodes {
        if to.get_node(&node.id).is_some() {
            continue;
        }
        if let Some(&other) = taken.get(&canonical(&node.address)) {
            return Err(PlacementError::AddressInUse {
                address: node.address.clone(),
                leaving: node.id.clone(),
                node: other.to_owned(),
            });
        }
    }
    Ok(())
}

/// The error [`plan_transition`] gives for a hand-over:
/// [`PlacementError::AddressInUse`] when the old node is removed,
/// [`PlacementError::AddressHandedOver`] when it moved.
impl From<AddressHandover> for PlacementError {
    fn from(handover: AddressHandover) -> PlacementError {
        if handover.removed {
            PlacementError::AddressInUse {
                address: handover.address,
                leaving: handover.from_node,
                node: handover.to_node,
            }
        } else {
            PlacementError::AddressHandedOver(handover)
        }
    }
}

/// Which config a table of copies comes from.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    Old,
    New,
}

/// Every node of either config, numbered: the new config's nodes first, in
/// its order, then the nodes only the old config has, in its order.
struct NodeTable<'c> {
    ids: Vec<&'c str>,
    /// Per number: the node's index in the old config's `nodes`, if any.
    in_old: Vec<Option<u32>>,
    /// Per number: the node's index in the new config's `nodes`, if any.
    in_new: Vec<Option<u32>>,
}

impl<'c> NodeTable<'c> {
    fn new(from: &'c ClusterConfig, to: &'c ClusterConfig) -> Self {
        let mut number: HashMap<&str, u32> = HashMap::with_capacity(to.nodes.len());
        let mut table = NodeTable {
            ids: Vec::new(),
            in_old: Vec::new(),
            in_new: Vec::new(),
        };
        for (i, node) in to.nodes.iter().enumerate() {
            number.insert(&node.id, table.ids.len() as u32);
            table.ids.push(&node.id);
            table.in_old.push(None);
            table.in_new.push(Some(i as u32));
        }
        for (i, node) in from.nodes.iter().enumerate() {
            match number.get(node.id.as_str()) {
                Some(&v) => table.in_old[v as usize] = Some(i as u32),
                None => {
                    table.ids.push(&node.id);
                    table.in_old.push(Some(i as u32));
                    table.in_new.push(None);
                }
            }
        }
        table
    }

    /// The node's entry in the config it is taken from: the new config's
    /// (its address and tags now), else the old one's.
    fn config<'a>(&self, v: u32, from: &'a ClusterConfig, to: &'a ClusterConfig) -> &'a NodeConfig {
        match (self.in_new[v as usize], self.in_old[v as usize]) {
            (Some(i), _) => &to.nodes[i as usize],
            (None, Some(i)) => &from.nodes[i as usize],
            (None, None) => unreachable!("every numbered node is in one config"),
        }
    }

    /// The nodes of steps 1 and 2: the new config's, then every other of
    /// the old config's, whether it holds copies (every one of which is
    /// leaving) or none. A removed node that holds none still coordinates
    /// writes under the old config until it takes step 1; left out, it was
    /// not among the nodes whose step 1 the catch-up waits for, and an
    /// A-write it acknowledged after the catch-up was missed by step-2
    /// reads (issue 21, item 1).
    fn step_nodes(&self) -> Vec<u32> {
        (0..self.ids.len() as u32).collect()
    }
}

/// One config's copies by shard: `nodes[start[s]..start[s + 1]]` are the
/// numbers of the nodes holding shard `s`, ascending.
struct CopyTable {
    start: Vec<u32>,
    nodes: Vec<u32>,
    /// Per shard: the number of the node that leads it.
    primary: Vec<Option<u32>>,
}

impl CopyTable {
    /// The table of a valid config (every shard has one primary, and no
    /// node lists a shard twice), read from its copy index with each node
    /// renumbered as `nodes` numbers it; each run is then sorted by
    /// number (a few copies each).
    fn new(config: &ClusterConfig, nodes: &NodeTable<'_>, side: Side) -> Self {
        let index = config.copy_index();
        // The number of each of the config's nodes, by its position in
        // `config.nodes`.
        let mut number = vec![0u32; config.nodes.len()];
        for v in 0..nodes.ids.len() {
            let at = match side {
                Side::Old => nodes.in_old[v],
                Side::New => nodes.in_new[v],
            };
            if let Some(at) = at {
                number[at as usize] = v as u32;
            }
        }
        let number_of = |node: u32| number[index.position(node)];
        let mut start = Vec::with_capacity(index.shard_count() as usize + 1);
        let mut copies = Vec::new();
        let mut primary = Vec::with_capacity(index.shard_count() as usize);
        start.push(0);
        for (shard, entries) in index.shards() {
            let run = copies.len();
            copies.extend(entries.iter().map(|c| number_of(c.node)));
            copies[run..].sort_unstable();
            start.push(copies.len() as u32);
            primary.push(index.primary(shard).map(number_of));
        }
        CopyTable {
            start,
            nodes: copies,
            primary,
        }
    }

    fn copies(&self, shard: usize) -> &[u32] {
        &self.nodes[self.start[shard] as usize..self.start[shard + 1] as usize]
    }
}

/// A node's shard lists in steps 1 and 2, filled shard by shard (so each
/// comes out ascending).
#[derive(Clone, Default)]
struct StepLists {
    old_primary: Vec<ShardId>,
    old_replica: Vec<ShardId>,
    new_primary: Vec<ShardId>,
    new_replica: Vec<ShardId>,
    joining: Vec<ShardId>,
    leaving: Vec<ShardId>,
}

impl StepLists {
    fn push(&mut self, shard: ShardId, old_primary: bool, new_primary: bool) {
        if old_primary {
            self.old_primary.push(shard);
        } else {
            self.old_replica.push(shard);
        }
        if new_primary {
            self.new_primary.push(shard);
        } else {
            self.new_replica.push(shard);
        }
    }
}

/// `o ∪ n` (both ascending) with each copy's state, ascending.
fn merge(o: &[u32], n: &[u32], out: &mut Vec<(u32, CopyState)>) {
    out.clear();
    let (mut i, mut j) = (0, 0);
    while i < o.len() || j < n.len() {
        match (o.get(i), n.get(j)) {
            (Some(&a), Some(&b)) if a == b => {
                out.push((a, CopyState::Stable));
                i += 1;
                j += 1;
            }
            (Some(&a), Some(&b)) if a < b => {
                out.push((a, CopyState::Leaving));
                i += 1;
            }
            (Some(&a), None) => {
                out.push((a, CopyState::Leaving));
                i += 1;
            }
            (_, Some(&b)) => {
                out.push((b, CopyState::Joining));
                j += 1;
            }
            (None, None) => unreachable!("the loop stops when both are done"),
        }
    }
}

/// `config`'s settings with no nodes, for building a step. A field added to
/// `ClusterConfig` fails to compile here until a step says what it holds.
fn settings_of(config: &ClusterConfig) -> ClusterConfig {
    ClusterConfig {
        node_id: config.node_id.clone(),
        generation: config.generation,
        cluster_name: config.cluster_name.clone(),
        replication_mode: config.replication_mode,
        replication_factor: config.replication_factor,
        shard_count: config.shard_count,
        sharding_strategy: config.sharding_strategy,
        // The states only refuse requests, so the steps may take the new
        // config's from step 1 on (decision 0046).
        read_only_shards: config.read_only_shards.clone(),
        offline_shards: config.offline_shards.clone(),
        move_reads: config.move_reads,
        split_from: config.split_from,
        nodes: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_marks_each_copy_by_the_side_it_is_on() {
        let mut out = Vec::new();
        merge(&[0, 2, 5], &[1, 2, 6], &mut out);
        assert_eq!(
            out,
            [
                (0, CopyState::Leaving),
                (1, CopyState::Joining),
                (2, CopyState::Stable),
                (5, CopyState::Leaving),
                (6, CopyState::Joining),
            ]
        );
        merge(&[3], &[3], &mut out);
        assert_eq!(out, [(3, CopyState::Stable)]);
    }
}
