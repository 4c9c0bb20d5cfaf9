//! Balanced, zone-aware placement of shard copies, and rebalancing that
//! moves as few copies as it can.
//!
//! One algorithm serves both `generate` and `rebalance`: [`balance`] starts
//! from whatever copies the config already lists (none, for a new cluster)
//! and reaches a balanced placement. It works in four steps:
//!
//! 1. **Keep** every listed copy that is still allowed (its node exists, the
//!    shard is in range, the shard has no more than `replication_factor`
//!    copies and no more copies in one zone than spread allows).
//! 2. **Targets.** Zones get copy quotas by water-filling: in proportion to
//!    their node count, but never more than one copy of each shard per zone
//!    while there are at least `replication_factor` zones (with fewer zones,
//!    every shard gets a copy in every zone, and no more in one zone than the
//!    others leave room for). Inside a zone the quota is split evenly, within
//!    one copy; the rounding extras go to the nodes that already hold the
//!    most, so that rounding never causes a move.
//! 3. **Fill and move.** Missing copies go to the compatible node furthest
//!    below its target; then each node above its target gives copies to
//!    nodes below theirs (a direct move where one exists, otherwise along a
//!    shortest chain of moves found by breadth-first search). Every copy
//!    moved is one a node above its target must give up, so adding a node
//!    moves about its fair share and removing one moves only its copies.
//! 4. **Primaries.** Each shard keeps its primary if that node still holds
//!    it; the others get the holder furthest below its primary target; then
//!    primaries move along chains until every node is in its range (within
//!    one of the mean, and leaving replicas within one per zone). Changing a
//!    primary moves no data.
//!
//! See `docs/decisions/0009-placement-and-rebalance.md` for why this and not
//! consistent hashing or a solver.

use std::collections::VecDeque;

use rusts_cluster_config::{
    zone_indices, ClusterConfig, ConfigError, NodeConfig, ValidationError, ValidationErrorKind,
};
use rusts_cluster_sharding::{CopyRole, ShardId};

use crate::{ConfigRole, PlacementError};

/// Returns `config` with its shard lists rewritten into a balanced,
/// zone-aware placement that keeps as many of the copies it already lists as
/// balance allows.
///
/// For a new cluster, pass a config whose nodes list no shards: the result
/// is a fresh placement. For a rebalance, pass the current config with nodes
/// added or removed ([`with_node_changes`]).
///
/// The result has, for `shard_count` S, `replication_factor` R and N nodes:
/// every shard's R copies on distinct nodes; each shard's copies in
/// `min(R, zones)` distinct zones (a zone is a value of the `zone_tag` tag;
/// nodes without the tag form one zone together); primaries per node within
/// one of each other; copies per node within one of each other inside each
/// zone, and replicas too. It validates, and gives no warning unless
/// `S * R` is below N (some node must then hold nothing).
///
/// Runs in well under a second for 65,536 shards on 256 nodes in release
/// builds (`docs/performance.md`).
///
/// # Errors
///
/// [`PlacementError::Invalid`] when the node set, `shard_count`,
/// `replication_factor` or strategy break a validation rule (checked as if
/// no node listed any shard, since the lists are what this rewrites), and
/// [`PlacementError::Moving`] when the config marks copies as joining or
/// leaving: a step of a transition is not a placement to start from.
///
/// ```
/// use rusts_cluster_config::{ClusterConfig, NodeConfig};
/// use rusts_cluster_placement::{balance, DEFAULT_ZONE_TAG};
///
/// let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
/// config.nodes[0].shards.clear();
/// config.nodes.push(NodeConfig::new("b", "10.0.0.2:8086"));
/// config.nodes.push(NodeConfig::new("c", "10.0.0.3:8086"));
/// config.replication_factor = 2;
/// let placed = balance(&config, DEFAULT_ZONE_TAG)?;
/// placed.validate()?;
/// assert!(placed.warnings().is_empty());
/// // 16 shards x 2 copies over 3 nodes: 10 or 11 copies each.
/// for node in &placed.nodes {
///     let copies = node.shards.len() + node.replica_shards.len();
///     assert!(copies == 10 || copies == 11, "{copies}");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn balance(config: &ClusterConfig, zone_tag: &str) -> Result<ClusterConfig, PlacementError> {
    let moving = config.moving_shards();
    if !moving.is_empty() {
        return Err(PlacementError::Moving {
            config: ConfigRole::Placed,
            shards: moving,
        });
    }
    let mut skeleton = config.clone();
    for node in &mut skeleton.nodes {
        node.shards.clear();
        node.replica_shards.clear();
    }
    // With empty lists, validation checks only the node set and the
    // cluster-wide keys, which is what placement needs; the one error that
    // empty lists cause by themselves is ignored.
    if let Err(e) = skeleton.validate() {
        let errors: Vec<ValidationError> = e
            .validation_errors()
            .iter()
            .filter(|e| !matches!(e.kind(), ValidationErrorKind::MissingPrimary { .. }))
            .cloned()
            .collect();
        if !errors.is_empty() {
            return Err(PlacementError::Invalid {
                config: ConfigRole::Placed,
                source: ConfigError::Invalid { errors },
            });
        }
    }
    let mut state = State::new(config, zone_tag);
    state.keep_allowed_copies(config);
    state.set_copy_targets();
    state.fill_missing();
    state.move_to_targets();
    state.assign_primaries();
    Ok(state.write(skeleton))
}

/// How many zones `config`'s nodes form under `zone_tag`, and whether any
/// node has the tag at all. Nodes without the tag count as one zone
/// together, when at least one other node has it.
///
/// ```
/// use rusts_cluster_config::ClusterConfig;
/// use rusts_cluster_placement::zone_count;
///
/// let config = ClusterConfig::single_node("a", "10.0.0.1:8086");
/// assert_eq!(zone_count(&config, "zone"), (1, false));
/// ```
pub fn zone_count(config: &ClusterConfig, zone_tag: &str) -> (usize, bool) {
    let (_, zones) = zone_indices(&config.nodes, zone_tag);
    let tagged = config.nodes.iter().any(|n| n.tags.contains_key(zone_tag));
    (zones, tagged)
}

/// `config` with the nodes named in `remove` taken out (their copies
/// become missing copies) and `add` appended, ready for [`balance`].
///
/// When `node_id` names a removed node, it is set to the first node left,
/// since a config must name a node this process runs as.
///
/// # Errors
///
/// [`PlacementError::NodeNotFound`] when `remove` names a node the config
/// does not have.
///
/// ```
/// use rusts_cluster_config::{ClusterConfig, NodeConfig};
/// use rusts_cluster_placement::{balance, plan_moves, with_node_changes};
///
/// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/three-zones.toml"))?;
/// let mut node = NodeConfig::new("db-a3", "10.0.1.3:8086");
/// node.tags.insert("zone".into(), "us-east-1a".into());
/// let changed = with_node_changes(&config, vec![node], &[])?;
/// let new = balance(&changed, "zone")?;
/// // 48 shards x 3 copies, one per zone: zone us-east-1a's 48 copies are
/// // now shared by three nodes, so the new node takes 16 of them.
/// assert_eq!(plan_moves(&config, &new).copies_added, 16);
/// assert!(with_node_changes(&config, vec![], &["db-x9".into()]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn with_node_changes(
    config: &ClusterConfig,
    add: Vec<NodeConfig>,
    remove: &[String],
) -> Result<ClusterConfig, PlacementError> {
    if let Some(missing) = remove.iter().find(|id| config.get_node(id).is_none()) {
        return Err(PlacementError::NodeNotFound {
            node: missing.clone(),
        });
    }
    let mut config = config.clone();
    config.nodes.retain(|n| !remove.contains(&n.id));
    config.nodes.extend(add);
    if config.get_node(&config.node_id).is_none() {
        if let Some(first) = config.nodes.first() {
            config.node_id = first.id.clone();
        }
    }
    Ok(config)
}

/// A node, by its position in `config.nodes` (the file's order). Balance's
/// tie-breaks follow this order and [`mix`] hashes it, so it is not the
/// copy index's node index (node-id order): changing it would change the
/// placements written, which operators diff.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Node(u32);

impl Node {
    /// The node's position in `config.nodes`, for indexing per-node arrays.
    fn at(self) -> usize {
        self.0 as usize
    }
}

/// The primary of a shard moving between two nodes.
#[derive(Clone, Copy, Debug)]
struct PrimaryMove {
    from: Node,
    to: Node,
    shard: ShardId,
}

/// Which end of a chain of primary moves the search starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ChainStart {
    /// The start node has a primary too many: each step moves the primary
    /// of a shard the step's first node leads to a node that holds it.
    Gives,
    /// The start node has a primary too few: the chain is found backwards,
    /// from the shards the start node holds to the nodes that lead them.
    Takes,
}

/// The working state of one placement while it is built.
///
/// It keeps its own arrays, not the config's [`CopyIndex`]: copies come and
/// go as it places them. Its initial copies are read from the index
/// ([`keep_allowed_copies`](State::keep_allowed_copies)).
///
/// [`CopyIndex`]: rusts_cluster_config::CopyIndex
struct State {
    shard_count: usize,
    replication_factor: usize,
    node_count: usize,
    /// Per node: its zone.
    zone_of: Vec<u32>,
    /// Per zone: its nodes, in file order.
    zone_nodes: Vec<Vec<Node>>,
    /// Per zone: the fewest copies of one shard it must hold.
    zone_min: Vec<u32>,
    /// Per zone: the most copies of one shard it may hold.
    zone_max: Vec<u32>,
    /// `slots[s * replication_factor..][..replication_factor]` are the
    /// nodes holding shard `s`; `None` is a copy not placed yet.
    slots: Vec<Option<Node>>,
    /// Per shard: the node that leads it, once chosen.
    primary: Vec<Option<Node>>,
    /// Per node: the shards it holds, in no order.
    held: Vec<Vec<ShardId>>,
    /// Per node: how many copies it should end with.
    copy_target: Vec<usize>,
    /// Per zone: how many copies it should end with.
    zone_quota: Vec<usize>,
    /// The copies the config listed and step 1 kept, laid out as `slots`
    /// (at most `replication_factor` per shard). Moving a copy that is not
    /// among them (one placed by this run) costs no data movement. A scan
    /// of a shard's few entries, not a hash set: looking these up was most
    /// of `balance`'s time when a node was added.
    original: Vec<Option<Node>>,
}

impl State {
    fn new(config: &ClusterConfig, zone_tag: &str) -> State {
        let (zone_of, zones) = zone_indices(&config.nodes, zone_tag);
        let node_count = config.nodes.len();
        let (shard_count, factor) = (config.shard_count as usize, config.replication_factor);
        let mut zone_nodes = vec![Vec::new(); zones];
        for (i, &zone) in zone_of.iter().enumerate() {
            zone_nodes[zone as usize].push(Node(i as u32));
        }
        let (zone_min, zone_max) = if zones >= factor {
            (vec![0; zones], vec![1; zones])
        } else {
            // Every shard gets a copy in every zone; one zone may hold at
            // most what the other zones' single copies leave of R.
            let max = zone_nodes
                .iter()
                .map(|nodes| nodes.len().min(factor - (zones - 1)) as u32)
                .collect();
            (vec![1; zones], max)
        };
        State {
            shard_count,
            replication_factor: factor,
            node_count,
            zone_of,
            zone_nodes,
            zone_min,
            zone_max,
            slots: vec![None; shard_count * factor],
            primary: vec![None; shard_count],
            held: vec![Vec::new(); node_count],
            copy_target: vec![0; node_count],
            zone_quota: vec![0; zones],
            original: vec![None; shard_count * factor],
        }
    }

    /// Every node, in file order.
    fn nodes(&self) -> impl Iterator<Item = Node> {
        (0..self.node_count as u32).map(Node)
    }

    fn zone(&self, node: Node) -> u32 {
        self.zone_of[node.at()]
    }

    fn slots(&self, shard: usize) -> &[Option<Node>] {
        let r = self.replication_factor;
        &self.slots[shard * r..(shard + 1) * r]
    }

    /// The nodes holding `shard`, in slot order.
    fn holders(&self, shard: usize) -> impl Iterator<Item = Node> + '_ {
        self.slots(shard).iter().flatten().copied()
    }

    fn holds(&self, shard: usize, node: Node) -> bool {
        self.slots(shard).contains(&Some(node))
    }

    fn is_full(&self, shard: usize) -> bool {
        !self.slots(shard).contains(&None)
    }

    fn zone_count(&self, shard: usize, zone: u32) -> u32 {
        self.holders(shard)
            .filter(|&v| self.zone(v) == zone)
            .count() as u32
    }

    fn add(&mut self, shard: usize, node: Node) {
        let r = self.replication_factor;
        let slot = self.slots[shard * r..(shard + 1) * r]
            .iter()
            .position(Option::is_none)
            .expect("a free slot was checked for");
        self.slots[shard * r + slot] = Some(node);
        self.held[node.at()].push(shard as ShardId);
    }

    fn remove(&mut self, shard: usize, node: Node) {
        let r = self.replication_factor;
        if let Some(slot) = self.slots[shard * r..(shard + 1) * r]
            .iter()
            .position(|&v| v == Some(node))
        {
            self.slots[shard * r + slot] = None;
        }
        let held = &mut self.held[node.at()];
        if let Some(i) = held.iter().position(|&x| x == shard as ShardId) {
            held.swap_remove(i);
        }
        if self.primary[shard] == Some(node) {
            self.primary[shard] = None;
        }
    }

    /// Records that the config listed `node`'s copy of `shard`, just kept.
    fn mark_original(&mut self, shard: usize, node: Node) {
        let r = self.replication_factor;
        let entries = &mut self.original[shard * r..(shard + 1) * r];
        let free = entries
            .iter()
            .position(Option::is_none)
            .expect("step 1 keeps at most replication_factor copies of a shard");
        entries[free] = Some(node);
    }

    /// Whether the config listed `node`'s copy of `shard` and step 1 kept
    /// it.
    fn is_original(&self, shard: ShardId, node: Node) -> bool {
        let r = self.replication_factor;
        let s = shard as usize;
        self.original[s * r..(s + 1) * r].contains(&Some(node))
    }

    fn load(&self, node: Node) -> usize {
        self.held[node.at()].len()
    }

    fn deficit(&self, node: Node) -> i64 {
        self.copy_target[node.at()] as i64 - self.load(node) as i64
    }

    /// The copies above their nodes' targets: what [`move_to_targets`]
    /// must move.
    ///
    /// [`move_to_targets`]: State::move_to_targets
    fn excess(&self) -> usize {
        self.nodes()
            .map(|v| (-self.deficit(v)).max(0) as usize)
            .sum()
    }

    /// Step 1: the listed copies that are still allowed. Primaries are
    /// taken first, so an over-replicated shard keeps its primary.
    ///
    /// The listed copies come from the config's copy index, which orders a
    /// shard's copies by node id; this step takes them, shard by shard,
    /// primaries then replicas, each in file order, as it always has (the
    /// first allowed copies win, and a node's copies stay in the order it
    /// lists them, which later tie-breaks follow).
    fn keep_allowed_copies(&mut self, config: &ClusterConfig) {
        let index = config.copy_index();
        let mut listed: Vec<Node> = Vec::new();
        for role in [CopyRole::Primary, CopyRole::Replica] {
            for (shard, copies) in index.shards() {
                listed.clear();
                listed.extend(
                    copies
                        .iter()
                        .filter(|c| c.role == role)
                        .map(|c| Node(index.position(c.node) as u32)),
                );
                listed.sort_unstable();
                let s = shard as usize;
                for &v in &listed {
                    let zone = self.zone(v);
                    if self.holds(s, v)
                        || self.is_full(s)
                        || self.zone_count(s, zone) >= self.zone_max[zone as usize]
                    {
                        continue;
                    }
                    self.add(s, v);
                    self.mark_original(s, v);
                    if role == CopyRole::Primary && self.primary[s].is_none() {
                        self.primary[s] = Some(v);
                    }
                }
            }
        }
        // The index gives each node's copies in shard order; movable() and
        // the primary chains break ties in the order a node lists its
        // shards, so each node's copies are put back in that order: first
        // listing, primaries before replicas. (A copy refused at a node's
        // first listing of the shard is refused at the second too: a
        // shard's copies only grow here.) The lists are read for that order
        // only; which copies exist comes from the index.
        let mut kept = vec![false; self.shard_count];
        for (node, held) in config.nodes.iter().zip(&mut self.held) {
            for &shard in held.iter() {
                kept[shard as usize] = true;
            }
            held.clear();
            for &shard in node.shards.iter().chain(&node.replica_shards) {
                if let Some(mark) = kept.get_mut(shard as usize).filter(|m| **m) {
                    *mark = false;
                    held.push(shard);
                }
            }
        }
        // With fewer zones than copies, a full shard missing a zone gives up
        // a copy from its most crowded zone, so that the fill can reach it.
        if self.zone_min.iter().any(|&min| min > 0) {
            let zones = self.zone_nodes.len() as u32;
            for s in 0..self.shard_count {
                if !self.is_full(s) {
                    continue;
                }
                let missing =
                    (0..zones).any(|zone| self.zone_count(s, zone) < self.zone_min[zone as usize]);
                if !missing {
                    continue;
                }
                let crowded = (0..zones)
                    .max_by_key(|&zone| self.zone_count(s, zone))
                    .unwrap_or(0);
                let victim = self
                    .holders(s)
                    .filter(|&v| self.zone(v) == crowded)
                    .max_by_key(|&v| (self.primary[s] != Some(v), self.load(v)));
                if let Some(v) = victim {
                    self.remove(s, v);
                }
            }
        }
    }

    /// Step 2: zone quotas by water-filling, then even node targets inside
    /// each zone. Rounding extras go to what already holds the most.
    fn set_copy_targets(&mut self) {
        let total = (self.shard_count * self.replication_factor) as f64;
        let z = self.zone_nodes.len();
        let bounds: Vec<(f64, f64)> = (0..z)
            .map(|i| {
                (
                    (self.zone_min[i] as usize * self.shard_count) as f64,
                    (self.zone_max[i] as usize * self.shard_count) as f64,
                )
            })
            .collect();
        let fill = |level: f64| -> f64 {
            (0..z)
                .map(|i| (level * self.zone_nodes[i].len() as f64).clamp(bounds[i].0, bounds[i].1))
                .sum()
        };
        let (mut low, mut high) = (0.0f64, self.shard_count as f64 + 1.0);
        for _ in 0..200 {
            let mid = (low + high) / 2.0;
            if fill(mid) < total {
                low = mid;
            } else {
                high = mid;
            }
        }
        let ideal: Vec<f64> = (0..z)
            .map(|i| (high * self.zone_nodes[i].len() as f64).clamp(bounds[i].0, bounds[i].1))
            .collect();
        let mut quota: Vec<usize> = ideal.iter().map(|q| (q + 1e-6).floor() as usize).collect();
        let zone_load: Vec<usize> = (0..z)
            .map(|i| self.zone_nodes[i].iter().map(|&v| self.load(v)).sum())
            .collect();
        let mut order: Vec<usize> = (0..z).collect();
        // Zones that already hold more than their rounded-down quota keep
        // the extras first: rounding should not cause moves.
        order.sort_by(|&a, &b| {
            let fa = ideal[a] - quota[a] as f64;
            let fb = ideal[b] - quota[b] as f64;
            (zone_load[b] > quota[b])
                .cmp(&(zone_load[a] > quota[a]))
                .then(fb.partial_cmp(&fa).unwrap_or(std::cmp::Ordering::Equal))
                .then(zone_load[b].cmp(&zone_load[a]))
                .then(a.cmp(&b))
        });
        let mut left =
            (self.shard_count * self.replication_factor).saturating_sub(quota.iter().sum());
        while left > 0 {
            let before = left;
            for &i in &order {
                if left > 0 && quota[i] < self.zone_max[i] as usize * self.shard_count {
                    quota[i] += 1;
                    left -= 1;
                }
            }
            if before == left {
                break;
            }
        }
        // Float rounding could overshoot by a copy; take it back.
        let mut over = quota
            .iter()
            .sum::<usize>()
            .saturating_sub(self.shard_count * self.replication_factor);
        for &i in order.iter().rev() {
            while over > 0 && quota[i] > self.zone_min[i] as usize * self.shard_count {
                quota[i] -= 1;
                over -= 1;
            }
        }
        for (zone, nodes) in self.zone_nodes.iter().enumerate() {
            let q = quota[zone];
            let (base, extra) = (q / nodes.len(), q % nodes.len());
            let mut by_load = nodes.clone();
            by_load.sort_by_key(|&v| (std::cmp::Reverse(self.load(v)), v));
            for (rank, &v) in by_load.iter().enumerate() {
                self.copy_target[v.at()] = base + usize::from(rank < extra);
            }
        }
        self.zone_quota = quota;
    }

    /// Whether `node` may take `leaving`'s copy of `shard` (ignoring
    /// targets).
    fn can_take(&self, shard: usize, node: Node, leaving: Node) -> bool {
        if self.holds(shard, node) {
            return false;
        }
        let zone = self.zone(node);
        let from = self.zone(leaving);
        if from == zone {
            return true;
        }
        self.zone_count(shard, zone) < self.zone_max[zone as usize]
            && self.zone_count(shard, from) > self.zone_min[from as usize]
    }

    /// Step 3a: every missing copy goes to the compatible node furthest
    /// below its target (zone first, then node).
    fn fill_missing(&mut self) {
        let z = self.zone_nodes.len();
        let mut zone_load: Vec<i64> = (0..z)
            .map(|i| {
                self.zone_nodes[i]
                    .iter()
                    .map(|&v| self.load(v) as i64)
                    .sum()
            })
            .collect();
        let mut counts = vec![0u32; z];
        let needs_min = self.zone_min.iter().any(|&min| min > 0);
        for round in 0..self.replication_factor {
            for s in 0..self.shard_count {
                // One copy per shard per round, so that every shard gets
                // its first copy before any gets its second.
                if self.holders(s).count() > round {
                    continue;
                }
                // Ties go by a hash of (shard, node), not by node order, so
                // that each node shares shards with many others: when a node
                // leaves, its copies can then go to every other node without
                // extra moves (with ties by order, node 0's shards all sat
                // on nodes 2 and 4 of 6, and removing it moved 40% more).
                let mut best: Option<(i64, i64, u64, Node)> = None;
                #[allow(clippy::needless_range_loop)] // zone indexes five arrays
                // Per-zone checks once per copy, not once per node: this
                // loop runs shards x copies x nodes times.
                counts.iter_mut().for_each(|c| *c = 0);
                for v in self.holders(s) {
                    counts[self.zone(v) as usize] += 1;
                }
                let needy = needs_min && (0..z).any(|i| counts[i] < self.zone_min[i]);
                for zone in 0..z {
                    if counts[zone] >= self.zone_max[zone]
                        || (needy && counts[zone] >= self.zone_min[zone])
                    {
                        continue;
                    }
                    let zone_deficit = self.zone_quota[zone] as i64 - zone_load[zone];
                    for &v in &self.zone_nodes[zone] {
                        if self.holds(s, v) {
                            continue;
                        }
                        let deficit = self.deficit(v);
                        let hash = mix(s as u64, v);
                        let better = match best {
                            None => true,
                            Some(b) => {
                                (deficit, zone_deficit) > (b.0, b.1)
                                    || ((deficit, zone_deficit) == (b.0, b.1) && hash > b.2)
                            }
                        };
                        if better {
                            best = Some((deficit, zone_deficit, hash, v));
                        }
                    }
                }
                if let Some((_, _, _, v)) = best {
                    self.add(s, v);
                    zone_load[self.zone(v) as usize] += 1;
                }
            }
        }
    }

    /// A shard on `from` that may move to `to`: preferably a copy placed by
    /// this run (moving it moves no data), then one `from` is not primary
    /// for (so the primary stays).
    fn movable(&self, from: Node, to: Node) -> Option<ShardId> {
        let mut best: Option<(u8, ShardId)> = None;
        for &s in &self.held[from.at()] {
            if self.can_take(s as usize, to, from) {
                let rank = if !self.is_original(s, from) {
                    return Some(s);
                } else if !self
                    .holders(s as usize)
                    .any(|v| v != from && self.is_original(s, v))
                {
                    // The shard's last original copy: moving it would
                    // change every copy at once.
                    3
                } else if self.primary[s as usize] != Some(from) {
                    1
                } else {
                    2
                };
                if best.is_none_or(|(r, _)| rank < r) {
                    best = Some((rank, s));
                }
            }
        }
        best.map(|(_, s)| s)
    }

    fn shift(&mut self, shard: ShardId, from: Node, to: Node) {
        // `remove` clears the primary if `from` led the shard; the copy
        // arrives on `to` as a replica.
        self.remove(shard as usize, from);
        self.add(shard as usize, to);
    }

    /// Step 3b: nodes above target give copies to nodes below theirs.
    ///
    /// Returns how many copies it moved, for the test of the bound below.
    fn move_to_targets(&mut self) -> usize {
        // Every pass that does not end the loop moves one copy from `u`, a
        // node above its target, to a node below its target (directly, or
        // at the end of a chain whose other nodes each give one and take
        // one, and which is always applied whole: `move_along_chain`). So
        // each pass lowers `excess()` by exactly one, and the passes number
        // at most the excess at the start, at most `shard_count *
        // replication_factor`. The loop needs no guard (the old one gave up
        // silently after four times that); this checks the argument.
        let bound = self.excess();
        let mut moved = 0;
        loop {
            debug_assert!(
                moved <= bound,
                "moved {moved} copies, more than the {bound} above target"
            );
            let Some(u) = self.nodes().find(|&u| self.deficit(u) < 0) else {
                return moved;
            };
            moved += 1;
            // First re-place copies this run placed, which moves no data:
            // directly or along a chain of such copies.
            let placed_here = self.held[u.at()].iter().any(|&s| !self.is_original(s, u));
            if placed_here && self.move_along_chain(u, true) {
                continue;
            }
            // Direct: same zone first, then the largest deficit.
            let mut under: Vec<Node> = self.nodes().filter(|&v| self.deficit(v) > 0).collect();
            let zu = self.zone(u);
            under.sort_by_key(|&v| (self.zone(v) != zu, std::cmp::Reverse(self.deficit(v)), v));
            if let Some((s, v)) = under
                .iter()
                .find_map(|&v| self.movable(u, v).map(|s| (s, v)))
            {
                self.shift(s, u, v);
                continue;
            }
            // Any other chain moves one copy per step.
            if !self.move_along_chain(u, false) {
                return moved - 1;
            }
        }
    }

    /// Breadth-first search for a chain of moves from `start` to a node
    /// below its target; applies it. False when there is none.
    fn move_along_chain(&mut self, start: Node, placed_only: bool) -> bool {
        let mut parent: Vec<Option<(Node, ShardId)>> = vec![None; self.node_count];
        let mut seen = vec![false; self.node_count];
        seen[start.at()] = true;
        let mut queue = VecDeque::from([start]);
        let mut end = None;
        'search: while let Some(x) = queue.pop_front() {
            for y in self.nodes() {
                if seen[y.at()] {
                    continue;
                }
                let found = self
                    .movable(x, y)
                    .filter(|&s| !placed_only || !self.is_original(s, x));
                if let Some(s) = found {
                    seen[y.at()] = true;
                    parent[y.at()] = Some((x, s));
                    if self.deficit(y) > 0 {
                        end = Some(y);
                        break 'search;
                    }
                    queue.push_back(y);
                }
            }
        }
        let Some(mut y) = end else {
            return false;
        };
        // Apply from the end, so each node passes on a copy before it
        // receives one. Every move is still allowed when its turn comes, so
        // the chain is applied whole (which `move_to_targets` counts on).
        // The search checked each move against the state before the chain,
        // and a move changes only the shard it moves, so move a (shard s,
        // x_a to x_{a+1}) can only be affected by a later move b of the
        // same s, applied first. A chain visits each node once, so x_b and
        // x_{b+1} are neither x_a nor x_{a+1}: who holds s on move a's two
        // nodes is unchanged, and only s's zone counts can change, when
        // move b crosses zones. But x_a could not have given s to x_{b+1}
        // directly (the search would then have reached x_{b+1} from x_a, at
        // depth a + 1 < b + 1); as x_{b+1}'s zone had room for s (move b
        // enters it) and differs from x_a's (a move inside a zone is always
        // allowed), x_a's zone held its fewest copies of s, so move a, to be
        // allowed at all, stays inside x_a's zone, which zone counts never
        // block. Either way move a is still allowed.
        while let Some((x, s)) = parent[y.at()] {
            debug_assert!(
                self.can_take(s as usize, y, x) && self.holds(s as usize, x),
                "a chain move of shard {s} from {x:?} to {y:?} became disallowed"
            );
            self.shift(s, x, y);
            y = x;
        }
        true
    }

    /// Step 4: one primary per shard, within one of the mean per node.
    ///
    /// Returns how many chains of primary moves it applied, for the test of
    /// the bound below.
    fn assign_primaries(&mut self) -> usize {
        let (base, extra) = (
            self.shard_count / self.node_count,
            self.shard_count % self.node_count,
        );
        let mut kept = vec![0usize; self.node_count];
        for v in self.primary.iter().flatten() {
            kept[v.at()] += 1;
        }
        let zone_floor: Vec<usize> = self
            .zone_nodes
            .iter()
            .enumerate()
            .map(|(z, nodes)| self.zone_quota[z] / nodes.len())
            .collect();
        let mut order: Vec<Node> = self.nodes().collect();
        // Extras go first to nodes that can hold one more primary, then to
        // nodes with a rounding-extra copy (so replicas, copies minus
        // primaries, stay within one inside a zone), then to those that
        // already have the most.
        order.sort_by_key(|&v| {
            let target = self.copy_target[v.at()];
            (
                std::cmp::Reverse(target > base),
                std::cmp::Reverse(target > zone_floor[self.zone(v) as usize]),
                std::cmp::Reverse(kept[v.at()]),
                v,
            )
        });
        let mut primary_target = vec![base; self.node_count];
        for &v in order.iter().take(extra) {
            primary_target[v.at()] += 1;
        }
        let mut count = kept;
        for s in 0..self.shard_count {
            if self.primary[s].is_some() {
                continue;
            }
            let best = self.holders(s).max_by_key(|&v| {
                (
                    primary_target[v.at()] as i64 - count[v.at()] as i64,
                    std::cmp::Reverse(v),
                )
            });
            if let Some(v) = best {
                self.primary[s] = Some(v);
                count[v.at()] += 1;
            }
        }
        // Primaries of each node, for the chain search.
        let mut primaries: Vec<Vec<ShardId>> = vec![Vec::new(); self.node_count];
        for (s, v) in self.primary.iter().enumerate() {
            if let Some(v) = v {
                primaries[v.at()].push(s as ShardId);
            }
        }
        // The targets fix which nodes take the extra primaries before any
        // chain of moves is known, and a chain may reach none of the nodes
        // left short: removing node4 of 12 (one zone, 8 shards, RF 2) left
        // node5 primary for 2 shards and node10 for none, because the short
        // node was node8 (tests/placement.rs). So each node may end anywhere
        // in a range: within one of the mean, and keeping its zone's
        // replica counts (copies minus primaries) within one, at the
        // zone's level `m` that the targets give.
        let zones = self.zone_nodes.len();
        let replicas = |v: Node| self.load(v) as i64 - primary_target[v.at()] as i64;
        let mut level = vec![i64::MAX; zones];
        for v in self.nodes() {
            let zone = self.zone(v) as usize;
            level[zone] = level[zone].min(replicas(v));
        }
        let (lo, hi): (Vec<usize>, Vec<usize>) = self
            .nodes()
            .map(|v| {
                // Replicas in {m, m + 1} means primaries in {r - 1, r}.
                let r = self.load(v) as i64 - level[self.zone(v) as usize];
                let hi = r.min(base as i64 + 1).max(0);
                let lo = (r - 1).max(base as i64).min(hi);
                (lo as usize, hi as usize)
            })
            .unzip();
        // Each pass moves one primary from a node above its range (`hi`) to
        // one below its top, or, when none is above, from a node above its
        // bottom (`lo`) to one below it; every other node of the chain
        // gives one and takes one (its shards are distinct: a shard has one
        // primary). The primaries above the tops fall by one per pass of
        // the first kind and never rise, so the first kind runs at most
        // `primaries` times, and once none is above its top none is again.
        // Those missing below the bottoms never rise in either kind, fall
        // by one per pass of the second, start at most `sum(lo)` and cannot
        // fall below `sum(lo) - primaries`, since the primaries are
        // constant: the second kind runs at most `primaries` times too.
        // Hence at most `2 * primaries` passes: the loop needs no guard
        // (the old one gave up silently after `2 * shard_count + 63`); this
        // checks the argument.
        let assigned = count.iter().sum::<usize>();
        let mut passes = 0;
        loop {
            debug_assert!(
                passes <= 2 * assigned,
                "{passes} chains of primary moves for {assigned} primaries"
            );
            // A node above its range passes a primary along a chain to one
            // below its top; a node below its range takes one along a chain
            // from a node above its bottom. Either way every node in the
            // chain but its ends keeps its count.
            let found = if let Some(u) = self.nodes().find(|&u| count[u.at()] > hi[u.at()]) {
                self.primary_chain(
                    u,
                    &primaries,
                    |y| count[y.at()] < hi[y.at()],
                    ChainStart::Gives,
                )
                .map(|(end, chain)| (u, end, chain))
            } else if let Some(w) = self.nodes().find(|&w| count[w.at()] < lo[w.at()]) {
                self.primary_chain(
                    w,
                    &primaries,
                    |x| count[x.at()] > lo[x.at()],
                    ChainStart::Takes,
                )
                .map(|(end, chain)| (end, w, chain))
            } else {
                None
            };
            let Some((giver, taker, chain)) = found else {
                return passes;
            };
            passes += 1;
            for PrimaryMove { from, to, shard } in chain {
                self.primary[shard as usize] = Some(to);
                primaries[to.at()].push(shard);
                let list = &mut primaries[from.at()];
                if let Some(i) = list.iter().position(|&t| t == shard) {
                    list.swap_remove(i);
                }
            }
            count[giver.at()] -= 1;
            count[taker.at()] += 1;
        }
    }

    /// The end of a shortest chain of primary moves from `start` to a node
    /// that `done` accepts, and the chain; `direction` says whether `start`
    /// gives a primary or takes one.
    fn primary_chain(
        &self,
        start: Node,
        primaries: &[Vec<ShardId>],
        done: impl Fn(Node) -> bool,
        direction: ChainStart,
    ) -> Option<(Node, Vec<PrimaryMove>)> {
        // parent[v] = (the neighbour towards start, the shard between them).
        let mut parent: Vec<Option<(Node, ShardId)>> = vec![None; self.node_count];
        let mut seen = vec![false; self.node_count];
        seen[start.at()] = true;
        let mut queue = VecDeque::from([start]);
        let mut end = None;
        'search: while let Some(x) = queue.pop_front() {
            // Gives: x leads s, and y holds it. Takes: x holds s, y leads it.
            let steps: Vec<(ShardId, Node)> = match direction {
                ChainStart::Gives => primaries[x.at()]
                    .iter()
                    .flat_map(|&s| self.holders(s as usize).map(move |y| (s, y)))
                    .collect(),
                ChainStart::Takes => self.held[x.at()]
                    .iter()
                    .filter_map(|&s| self.primary[s as usize].map(|y| (s, y)))
                    .collect(),
            };
            for (s, y) in steps {
                if seen[y.at()] {
                    continue;
                }
                seen[y.at()] = true;
                parent[y.at()] = Some((x, s));
                if done(y) {
                    end = Some(y);
                    break 'search;
                }
                queue.push_back(y);
            }
        }
        let end = end?;
        let (mut y, mut chain) = (end, Vec::new());
        while let Some((x, shard)) = parent[y.at()] {
            chain.push(match direction {
                ChainStart::Gives => PrimaryMove {
                    from: x,
                    to: y,
                    shard,
                },
                ChainStart::Takes => PrimaryMove {
                    from: y,
                    to: x,
                    shard,
                },
            });
            y = x;
        }
        Some((end, chain))
    }

    fn write(&self, mut config: ClusterConfig) -> ClusterConfig {
        for s in 0..self.shard_count {
            for v in self.holders(s) {
                let node = &mut config.nodes[v.at()];
                if self.primary[s] == Some(v) {
                    node.shards.push(s as ShardId);
                } else {
                    node.replica_shards.push(s as ShardId);
                }
            }
        }
        config
    }
}

/// A fixed 64-bit mix of a shard and a node (SplitMix64's finalizer), for
/// tie-breaking that does not follow node order.
fn mix(shard: u64, node: Node) -> u64 {
    let mut x = shard.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(node.0).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The problems of the nodes and settings are reported, each by rule;
    /// the missing primaries of the lists placement is about to write are
    /// not among them.
    #[test]
    fn an_unplaceable_config_names_each_broken_rule() {
        let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
        config.nodes.push(NodeConfig::new("a", "10.0.0.2:8086"));
        config.replication_factor = 0;
        let err = balance(&config, "zone").unwrap_err();
        let codes: Vec<&str> = err.validation_errors().iter().map(|e| e.code()).collect();
        assert_eq!(codes, ["zero-replication-factor", "duplicate-node-id"]);
        assert!(matches!(
            err,
            PlacementError::Invalid {
                config: ConfigRole::Placed,
                ..
            }
        ));
        assert_eq!(
            err.to_string(),
            "cannot place shards on these nodes and settings"
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    fn zoned(nodes: usize, zones: usize, shards: u32, factor: usize) -> ClusterConfig {
        let mut config = ClusterConfig::single_node("node0", "10.0.0.1:8086");
        config.nodes = (0..nodes)
            .map(|i| {
                let mut node =
                    NodeConfig::new(format!("node{i}"), format!("10.0.0.{}:8086", i + 1));
                node.tags.insert("zone".into(), format!("z{}", i % zones));
                node
            })
            .collect();
        config.shard_count = shards;
        config.replication_factor = factor;
        config
    }

    /// The arguments that replaced the two loops' guards, checked on new
    /// clusters, added nodes and removed ones: moving to targets takes
    /// exactly one pass per copy above target and leaves none above, and
    /// primaries settle in at most two chains per primary.
    #[test]
    fn balancing_loops_stay_within_their_proven_bounds() {
        let mut chains = 0;
        for (nodes, zones, shards, factor) in [
            (12, 1, 8, 2),
            (24, 5, 15, 2),
            (7, 2, 100, 3),
            (13, 4, 500, 3),
        ] {
            let old = balance(&zoned(nodes, zones, shards, factor), "zone").unwrap();
            let mut extra = NodeConfig::new("extra", "10.0.9.1:8086");
            extra.tags.insert("zone".into(), "z0".into());
            let mut changes = vec![
                old.clone(),
                with_node_changes(&old, vec![extra], &[]).unwrap(),
            ];
            for gone in &old.nodes {
                changes
                    .push(with_node_changes(&old, vec![], std::slice::from_ref(&gone.id)).unwrap());
            }
            for config in changes {
                let mut state = State::new(&config, "zone");
                state.keep_allowed_copies(&config);
                state.set_copy_targets();
                state.fill_missing();
                assert!(
                    state.slots.iter().all(Option::is_some),
                    "a copy left unplaced"
                );
                let excess = state.excess();
                assert_eq!(state.move_to_targets(), excess);
                assert_eq!(state.excess(), 0);
                let passes = state.assign_primaries();
                assert!(
                    passes <= 2 * shards as usize,
                    "{passes} chains for {shards} shards"
                );
                chains += passes;
            }
        }
        assert!(chains > 0, "no case needed a chain of primary moves");
    }

    #[test]
    fn removing_an_unknown_node_names_it() {
        let config = ClusterConfig::single_node("a", "10.0.0.1:8086");
        let err = with_node_changes(&config, vec![], &["b".to_owned()]).unwrap_err();
        assert!(matches!(&err, PlacementError::NodeNotFound { node } if node == "b"));
        assert!(err.validation_errors().is_empty());
        assert_eq!(
            err.to_string(),
            "node \"b\" is not in the cluster config; use one of the ids under [[nodes]]"
        );
    }
}
