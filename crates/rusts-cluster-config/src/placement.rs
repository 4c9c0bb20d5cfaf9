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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use rusts_cluster_sharding::ShardId;
use serde::Serialize;

use crate::{ClusterConfig, ConfigError, NodeConfig};

/// The tag that names a node's zone unless told otherwise: `zone`.
pub const DEFAULT_ZONE_TAG: &str = "zone";

const NONE: u32 = u32::MAX;

/// Returns `config` with its shard lists rewritten into a balanced,
/// zone-aware placement that keeps as many of the copies it already lists as
/// balance allows.
///
/// For a new cluster, pass a config whose nodes list no shards: the result
/// is a fresh placement. For a rebalance, pass the current config with nodes
/// added or removed ([`ClusterConfig::with_node_changes`]).
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
/// [`ConfigError::Invalid`] when the node set, `shard_count`,
/// `replication_factor` or strategy break a validation rule (checked as if
/// no node listed any shard, since the lists are what this rewrites).
///
/// ```
/// use rusts_cluster_config::{balance, ClusterConfig, NodeConfig, DEFAULT_ZONE_TAG};
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
pub fn balance(config: &ClusterConfig, zone_tag: &str) -> Result<ClusterConfig, ConfigError> {
    let mut skeleton = config.clone();
    for node in &mut skeleton.nodes {
        node.shards.clear();
        node.replica_shards.clear();
    }
    // With empty lists, validation checks only the node set and the
    // cluster-wide keys, which is what placement needs; the one error that
    // empty lists cause by themselves is ignored.
    let errors: Vec<_> = crate::validate::validate(&skeleton)
        .into_iter()
        .filter(|e| !matches!(e, crate::ValidationError::MissingPrimary { .. }))
        .collect();
    if !errors.is_empty() {
        return Err(ConfigError::Invalid { errors });
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
/// use rusts_cluster_config::{zone_count, ClusterConfig};
///
/// let config = ClusterConfig::single_node("a", "10.0.0.1:8086");
/// assert_eq!(zone_count(&config, "zone"), (1, false));
/// ```
pub fn zone_count(config: &ClusterConfig, zone_tag: &str) -> (usize, bool) {
    let (zone_of, zones) = zones(&config.nodes, zone_tag);
    let tagged = config.nodes.iter().any(|n| n.tags.contains_key(zone_tag));
    let _ = zone_of;
    (zones, tagged)
}

/// The zone index of each node, by first appearance, and the zone count.
pub(crate) fn zones(nodes: &[NodeConfig], zone_tag: &str) -> (Vec<u32>, usize) {
    let mut index: HashMap<Option<&str>, u32> = HashMap::new();
    let zone_of = nodes
        .iter()
        .map(|n| {
            let key = n.tags.get(zone_tag).map(String::as_str);
            let next = index.len() as u32;
            *index.entry(key).or_insert(next)
        })
        .collect();
    (zone_of, index.len())
}

impl ClusterConfig {
    /// This config with the nodes named in `remove` taken out (their copies
    /// become missing copies) and `add` appended, ready for [`balance`].
    ///
    /// When `node_id` names a removed node, it is set to the first node
    /// left, since a config must name a node this process runs as.
    ///
    /// # Errors
    ///
    /// [`ConfigError::UnknownNode`] when `remove` names a node the config
    /// does not have.
    ///
    /// ```
    /// use rusts_cluster_config::{balance, plan_moves, ClusterConfig, NodeConfig};
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/valid/three-nodes-rf3.toml"))?;
    /// let changed = config.with_node_changes(vec![NodeConfig::new("node4", "10.0.1.4:8086")], &[])?;
    /// let new = balance(&changed, "zone")?;
    /// let plan = plan_moves(&config, &new);
    /// // 6 shards x 3 copies over 4 nodes: the new node gets 4 or 5 copies.
    /// assert!(plan.copies_added <= 5, "{}", plan.copies_added);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_node_changes(
        &self,
        add: Vec<NodeConfig>,
        remove: &[String],
    ) -> Result<ClusterConfig, ConfigError> {
        if let Some(missing) = remove.iter().find(|id| self.get_node(id).is_none()) {
            return Err(ConfigError::UnknownNode {
                node: missing.clone(),
            });
        }
        let mut config = self.clone();
        config.nodes.retain(|n| !remove.contains(&n.id));
        config.nodes.extend(add);
        if config.get_node(&config.node_id).is_none() {
            if let Some(first) = config.nodes.first() {
                config.node_id = first.id.clone();
            }
        }
        Ok(config)
    }
}

impl ClusterConfig {
    /// [`warnings`](ClusterConfig::warnings) with zones named by `zone_tag`
    /// instead of `zone`.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, NodeConfig};
    ///
    /// let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    /// config.replication_factor = 2;
    /// let mut b = NodeConfig::new("b", "10.0.0.2:8086");
    /// b.replica_shards = (0..16).collect();
    /// config.nodes.push(b);
    /// config.nodes.push(NodeConfig::new("c", "10.0.0.3:8086"));
    /// for (node, rack) in config.nodes.iter_mut().zip(["r1", "r1", "r2"]) {
    ///     node.tags.insert("rack".into(), rack.into());
    /// }
    /// // Both copies of every shard are in rack r1, though rack r2 exists.
    /// let codes: Vec<_> = config.warnings_for_zone_tag("rack").iter().map(|w| w.code()).collect();
    /// assert!(codes.contains(&"zone-spread"), "{codes:?}");
    /// assert!(config.warnings().iter().all(|w| w.code() != "zone-spread"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn warnings_for_zone_tag(&self, zone_tag: &str) -> Vec<crate::ValidationWarning> {
        crate::validate::warnings_for_zone_tag(self, zone_tag)
    }
}

/// A node id and a count.
type Count<'n> = (&'n str, usize);

/// The primary of a shard moving between two nodes: (from, to, shard).
type PrimaryMove = (usize, usize, u32);

/// Adds the zone-spread and balance warnings of `config` to `warnings`.
/// Every choice of a node among equals is by id, so node order in the file
/// never changes a warning.
pub(crate) fn spread_and_balance_warnings(
    config: &ClusterConfig,
    zone_tag: &str,
    warnings: &mut Vec<crate::ValidationWarning>,
) {
    use crate::ValidationWarning;
    let shard_count = config.shard_count;
    let (zone_of, z) = zones(&config.nodes, zone_tag);
    let tagged = config.nodes.iter().any(|n| n.tags.contains_key(zone_tag));
    if tagged && z > 1 && (1..=crate::MAX_SHARD_COUNT).contains(&shard_count) {
        // (shard, node) for every copy, then per shard its copies and zones.
        let mut pairs: Vec<(u32, u32)> = Vec::new();
        for (i, node) in config.nodes.iter().enumerate() {
            for &s in node.shards.iter().chain(&node.replica_shards) {
                if (s as usize) < shard_count {
                    pairs.push((s, i as u32));
                }
            }
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut bad = Vec::new();
        for group in pairs.chunk_by(|a, b| a.0 == b.0) {
            let copies = group.len();
            let mut used: Vec<u32> = group.iter().map(|&(_, v)| zone_of[v as usize]).collect();
            used.sort_unstable();
            used.dedup();
            if used.len() < copies.min(z) {
                bad.push(group[0].0);
            }
        }
        if !bad.is_empty() {
            warnings.push(ValidationWarning::ZoneSpread {
                shards: bad,
                zone_tag: zone_tag.to_owned(),
                zones: z,
            });
        }
    }
    fn spread<'n>(
        nodes: &mut dyn Iterator<Item = (&'n str, usize)>,
    ) -> Option<(Count<'n>, Count<'n>)> {
        let mut most: Option<(&str, usize)> = None;
        let mut least: Option<(&str, usize)> = None;
        for (id, count) in nodes {
            if most.is_none_or(|(m, c)| count > c || (count == c && id < m)) {
                most = Some((id, count));
            }
            if least.is_none_or(|(m, c)| count < c || (count == c && id < m)) {
                least = Some((id, count));
            }
        }
        match (most, least) {
            (Some(most), Some(least)) if most.1 > least.1 + 1 => Some((most, least)),
            _ => None,
        }
    }
    if let Some((most, least)) =
        spread(&mut config.nodes.iter().map(|n| (n.id.as_str(), n.shards.len())))
    {
        warnings.push(ValidationWarning::PrimaryImbalance {
            most: most.0.to_owned(),
            most_count: most.1,
            least: least.0.to_owned(),
            least_count: least.1,
        });
    }
    let mut by_zone: BTreeMap<Option<&str>, Vec<&NodeConfig>> = BTreeMap::new();
    for node in &config.nodes {
        by_zone
            .entry(node.tags.get(zone_tag).map(String::as_str))
            .or_default()
            .push(node);
    }
    for (zone, nodes) in by_zone {
        if let Some((most, least)) = spread(
            &mut nodes
                .iter()
                .map(|n| (n.id.as_str(), n.replica_shards.len())),
        ) {
            warnings.push(ValidationWarning::ReplicaImbalance {
                zone: zone.map(str::to_owned),
                most: most.0.to_owned(),
                most_count: most.1,
                least: least.0.to_owned(),
                least_count: least.1,
            });
        }
    }
}

/// The working state of one placement: `copies[s * r..][..r]` are the nodes
/// holding shard `s` (`NONE` for a missing copy).
struct State {
    s: usize,
    r: usize,
    n: usize,
    zone_of: Vec<u32>,
    zone_nodes: Vec<Vec<u32>>,
    /// Per zone: the fewest and most copies of one shard it may hold.
    lo: Vec<u32>,
    hi: Vec<u32>,
    copies: Vec<u32>,
    primary: Vec<u32>,
    /// The shards each node holds, in no order.
    held: Vec<Vec<u32>>,
    target: Vec<usize>,
    zone_quota: Vec<usize>,
    /// The (shard, node) copies the config listed. Moving a copy that is
    /// not among them (one placed by this run) costs no data movement.
    original: HashSet<(u32, u32)>,
}

impl State {
    fn new(config: &ClusterConfig, zone_tag: &str) -> State {
        let (zone_of, z) = zones(&config.nodes, zone_tag);
        let n = config.nodes.len();
        let (s, r) = (config.shard_count, config.replication_factor);
        let mut zone_nodes = vec![Vec::new(); z];
        for (i, &zone) in zone_of.iter().enumerate() {
            zone_nodes[zone as usize].push(i as u32);
        }
        let (lo, hi) = if z >= r {
            (vec![0; z], vec![1; z])
        } else {
            // Every shard gets a copy in every zone; one zone may hold at
            // most what the other zones' single copies leave of R.
            let hi = zone_nodes
                .iter()
                .map(|nodes| nodes.len().min(r - (z - 1)) as u32)
                .collect();
            (vec![1; z], hi)
        };
        State {
            s,
            r,
            n,
            zone_of,
            zone_nodes,
            lo,
            hi,
            copies: vec![NONE; s * r],
            primary: vec![NONE; s],
            held: vec![Vec::new(); n],
            target: vec![0; n],
            zone_quota: vec![0; z],
            original: HashSet::new(),
        }
    }

    fn slots(&self, shard: usize) -> &[u32] {
        &self.copies[shard * self.r..(shard + 1) * self.r]
    }

    fn holds(&self, shard: usize, node: u32) -> bool {
        self.slots(shard).contains(&node)
    }

    fn zone_count(&self, shard: usize, zone: u32) -> u32 {
        self.slots(shard)
            .iter()
            .filter(|&&v| v != NONE && self.zone_of[v as usize] == zone)
            .count() as u32
    }

    fn add(&mut self, shard: usize, node: u32) {
        let r = self.r;
        let slot = self.copies[shard * r..(shard + 1) * r]
            .iter()
            .position(|&v| v == NONE)
            .expect("a free slot was checked for");
        self.copies[shard * r + slot] = node;
        self.held[node as usize].push(shard as u32);
    }

    fn remove(&mut self, shard: usize, node: u32) {
        let r = self.r;
        if let Some(slot) = self.copies[shard * r..(shard + 1) * r]
            .iter()
            .position(|&v| v == node)
        {
            self.copies[shard * r + slot] = NONE;
        }
        let held = &mut self.held[node as usize];
        if let Some(i) = held.iter().position(|&x| x == shard as u32) {
            held.swap_remove(i);
        }
        if self.primary[shard] == node {
            self.primary[shard] = NONE;
        }
    }

    fn load(&self, node: u32) -> usize {
        self.held[node as usize].len()
    }

    fn deficit(&self, node: u32) -> i64 {
        self.target[node as usize] as i64 - self.load(node) as i64
    }

    /// Step 1: the listed copies that are still allowed. Primaries are
    /// taken first, so an over-replicated shard keeps its primary.
    fn keep_allowed_copies(&mut self, config: &ClusterConfig) {
        for pass in 0..2 {
            for (i, node) in config.nodes.iter().enumerate() {
                let list = if pass == 0 {
                    &node.shards
                } else {
                    &node.replica_shards
                };
                let v = i as u32;
                for &shard in list {
                    let s = shard as usize;
                    if s >= self.s
                        || self.holds(s, v)
                        || !self.slots(s).contains(&NONE)
                        || self.zone_count(s, self.zone_of[i]) >= self.hi[self.zone_of[i] as usize]
                    {
                        continue;
                    }
                    self.add(s, v);
                    self.original.insert((shard, v));
                    if pass == 0 && self.primary[s] == NONE {
                        self.primary[s] = v;
                    }
                }
            }
        }
        // With fewer zones than copies, a full shard missing a zone gives up
        // a copy from its most crowded zone, so that the fill can reach it.
        if self.lo.iter().any(|&lo| lo > 0) {
            for s in 0..self.s {
                if self.slots(s).contains(&NONE) {
                    continue;
                }
                let z = self.zone_nodes.len();
                let missing =
                    (0..z as u32).any(|zone| self.zone_count(s, zone) < self.lo[zone as usize]);
                if !missing {
                    continue;
                }
                let crowded = (0..z as u32)
                    .max_by_key(|&zone| self.zone_count(s, zone))
                    .unwrap_or(0);
                let victim = self
                    .slots(s)
                    .iter()
                    .copied()
                    .filter(|&v| self.zone_of[v as usize] == crowded)
                    .max_by_key(|&v| (self.primary[s] != v, self.load(v)));
                if let Some(v) = victim {
                    self.remove(s, v);
                }
            }
        }
    }

    /// Step 2: zone quotas by water-filling, then even node targets inside
    /// each zone. Rounding extras go to what already holds the most.
    fn set_copy_targets(&mut self) {
        let total = (self.s * self.r) as f64;
        let z = self.zone_nodes.len();
        let bounds: Vec<(f64, f64)> = (0..z)
            .map(|i| {
                (
                    (self.lo[i] as usize * self.s) as f64,
                    (self.hi[i] as usize * self.s) as f64,
                )
            })
            .collect();
        let fill = |level: f64| -> f64 {
            (0..z)
                .map(|i| (level * self.zone_nodes[i].len() as f64).clamp(bounds[i].0, bounds[i].1))
                .sum()
        };
        let (mut low, mut high) = (0.0f64, self.s as f64 + 1.0);
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
        let mut left = (self.s * self.r).saturating_sub(quota.iter().sum());
        while left > 0 {
            let before = left;
            for &i in &order {
                if left > 0 && quota[i] < self.hi[i] as usize * self.s {
                    quota[i] += 1;
                    left -= 1;
                }
            }
            if before == left {
                break;
            }
        }
        // Float rounding could overshoot by a copy; take it back.
        let mut over = quota.iter().sum::<usize>().saturating_sub(self.s * self.r);
        for &i in order.iter().rev() {
            while over > 0 && quota[i] > self.lo[i] as usize * self.s {
                quota[i] -= 1;
                over -= 1;
            }
        }
        for (zone, nodes) in self.zone_nodes.iter().enumerate() {
            let q = quota[zone];
            let (base, extra) = (q / nodes.len(), q % nodes.len());
            let mut by_load = nodes.clone();
            by_load.sort_by_key(|&v| (std::cmp::Reverse(self.held[v as usize].len()), v));
            for (rank, &v) in by_load.iter().enumerate() {
                self.target[v as usize] = base + usize::from(rank < extra);
            }
        }
        self.zone_quota = quota;
    }

    /// Whether `node` may take a new copy of `shard` (ignoring targets).
    fn can_take(&self, shard: usize, node: u32, leaving: u32) -> bool {
        if self.holds(shard, node) {
            return false;
        }
        let zone = self.zone_of[node as usize];
        if leaving != NONE && self.zone_of[leaving as usize] == zone {
            return true;
        }
        if self.zone_count(shard, zone) >= self.hi[zone as usize] {
            return false;
        }
        if leaving != NONE {
            let from = self.zone_of[leaving as usize];
            if self.zone_count(shard, from) <= self.lo[from as usize] {
                return false;
            }
        } else {
            // A shard below its minimum in some zone must be filled there
            // first.
            let needy = (0..self.zone_nodes.len() as u32)
                .any(|z| z != zone && self.zone_count(shard, z) < self.lo[z as usize]);
            if needy && self.zone_count(shard, zone) >= self.lo[zone as usize] {
                return false;
            }
        }
        true
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
        let needs_lo = self.lo.iter().any(|&lo| lo > 0);
        for round in 0..self.r {
            for s in 0..self.s {
                // One copy per shard per round, so that every shard gets
                // its first copy before any gets its second.
                if self.slots(s).iter().filter(|&&v| v != NONE).count() > round {
                    continue;
                }
                // Ties go by a hash of (shard, node), not by node order, so
                // that each node shares shards with many others: when a node
                // leaves, its copies can then go to every other node without
                // extra moves (with ties by order, node 0's shards all sat
                // on nodes 2 and 4 of 6, and removing it moved 40% more).
                let mut best: Option<(i64, i64, u64, u32)> = None;
                #[allow(clippy::needless_range_loop)] // zone indexes five arrays
                // Per-zone checks once per copy, not once per node: this
                // loop runs shards x copies x nodes times.
                counts.iter_mut().for_each(|c| *c = 0);
                for &v in self.slots(s) {
                    if v != NONE {
                        counts[self.zone_of[v as usize] as usize] += 1;
                    }
                }
                let needy = needs_lo && (0..z).any(|i| counts[i] < self.lo[i]);
                for zone in 0..z {
                    if counts[zone] >= self.hi[zone] || (needy && counts[zone] >= self.lo[zone]) {
                        continue;
                    }
                    let zone_deficit = self.zone_quota[zone] as i64 - zone_load[zone];
                    for &v in &self.zone_nodes[zone] {
                        if self.holds(s, v) {
                            continue;
                        }
                        let deficit = self.deficit(v);
                        let better = match best {
                            None => true,
                            Some(b) => {
                                (deficit, zone_deficit) > (b.0, b.1)
                                    || ((deficit, zone_deficit) == (b.0, b.1)
                                        && mix(s as u64, v) > b.2)
                            }
                        };
                        if better {
                            best = Some((deficit, zone_deficit, mix(s as u64, v), v));
                        }
                    }
                }
                if let Some((_, _, _, v)) = best {
                    self.add(s, v);
                    zone_load[self.zone_of[v as usize] as usize] += 1;
                }
            }
        }
    }

    /// A shard on `from` that may move to `to`: preferably a copy placed by
    /// this run (moving it moves no data), then one `from` is not primary
    /// for (so the primary stays).
    fn movable(&self, from: u32, to: u32) -> Option<u32> {
        let mut best: Option<(u8, u32)> = None;
        for &s in &self.held[from as usize] {
            if self.can_take(s as usize, to, from) {
                let rank = if !self.original.contains(&(s, from)) {
                    return Some(s);
                } else if !self
                    .slots(s as usize)
                    .iter()
                    .any(|&v| v != from && self.original.contains(&(s, v)))
                {
                    // The shard's last original copy: moving it would
                    // change every copy at once.
                    3
                } else if self.primary[s as usize] != from {
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

    fn shift(&mut self, shard: u32, from: u32, to: u32) {
        let was_primary = self.primary[shard as usize] == from;
        self.remove(shard as usize, from);
        self.add(shard as usize, to);
        if was_primary {
            self.primary[shard as usize] = NONE;
        }
    }

    /// Step 3b: nodes above target give copies to nodes below theirs.
    fn move_to_targets(&mut self) {
        let mut guard = self.s * self.r * 4 + 64;
        loop {
            let Some(u) = (0..self.n as u32).find(|&u| self.deficit(u) < 0) else {
                return;
            };
            guard -= 1;
            if guard == 0 {
                return;
            }
            // First re-place copies this run placed, which moves no data:
            // directly or along a chain of such copies.
            let placed_here = self.held[u as usize]
                .iter()
                .any(|&s| !self.original.contains(&(s, u)));
            if placed_here && self.move_along_chain(u, true) {
                continue;
            }
            // Direct: same zone first, then the largest deficit.
            let mut under: Vec<u32> = (0..self.n as u32)
                .filter(|&v| self.deficit(v) > 0)
                .collect();
            let zu = self.zone_of[u as usize];
            under.sort_by_key(|&v| {
                (
                    self.zone_of[v as usize] != zu,
                    std::cmp::Reverse(self.deficit(v)),
                    v,
                )
            });
            if let Some((s, v)) = under
                .iter()
                .find_map(|&v| self.movable(u, v).map(|s| (s, v)))
            {
                self.shift(s, u, v);
                continue;
            }
            // Any other chain moves one copy per step.
            if !self.move_along_chain(u, false) {
                return;
            }
        }
    }

    /// Breadth-first search for a chain of moves from `start` to a node
    /// below its target; applies it. False when there is none.
    fn move_along_chain(&mut self, start: u32, placed_only: bool) -> bool {
        let mut parent: Vec<Option<(u32, u32)>> = vec![None; self.n];
        let mut seen = vec![false; self.n];
        seen[start as usize] = true;
        let mut queue = VecDeque::from([start]);
        let mut end = None;
        'search: while let Some(x) = queue.pop_front() {
            for y in 0..self.n as u32 {
                if seen[y as usize] {
                    continue;
                }
                let found = self
                    .movable(x, y)
                    .filter(|&s| !placed_only || !self.original.contains(&(s, x)));
                if let Some(s) = found {
                    seen[y as usize] = true;
                    parent[y as usize] = Some((x, s));
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
        // receives one; recheck each move against the current state.
        while let Some((x, s)) = parent[y as usize] {
            if !self.can_take(s as usize, y, x) || !self.holds(s as usize, x) {
                return true;
            }
            self.shift(s, x, y);
            y = x;
        }
        true
    }

    /// Step 4: one primary per shard, within one of the mean per node.
    fn assign_primaries(&mut self) {
        let (base, extra) = (self.s / self.n, self.s % self.n);
        let mut kept = vec![0usize; self.n];
        for s in 0..self.s {
            if self.primary[s] != NONE {
                kept[self.primary[s] as usize] += 1;
            }
        }
        let zone_floor: Vec<usize> = self
            .zone_nodes
            .iter()
            .enumerate()
            .map(|(z, nodes)| self.zone_quota[z] / nodes.len())
            .collect();
        let mut order: Vec<u32> = (0..self.n as u32).collect();
        // Extras go first to nodes that can hold one more primary, then to
        // nodes with a rounding-extra copy (so replicas, copies minus
        // primaries, stay within one inside a zone), then to those that
        // already have the most.
        order.sort_by_key(|&v| {
            let v = v as usize;
            (
                std::cmp::Reverse(self.target[v] > base),
                std::cmp::Reverse(self.target[v] > zone_floor[self.zone_of[v] as usize]),
                std::cmp::Reverse(kept[v]),
                v,
            )
        });
        let mut ptarget = vec![base; self.n];
        for &v in order.iter().take(extra) {
            ptarget[v as usize] += 1;
        }
        let mut count = kept;
        for s in 0..self.s {
            if self.primary[s] != NONE {
                continue;
            }
            let best = self
                .slots(s)
                .iter()
                .copied()
                .filter(|&v| v != NONE)
                .max_by_key(|&v| {
                    (
                        ptarget[v as usize] as i64 - count[v as usize] as i64,
                        std::cmp::Reverse(v),
                    )
                });
            if let Some(v) = best {
                self.primary[s] = v;
                count[v as usize] += 1;
            }
        }
        // Primaries of each node, for the chain search.
        let mut primaries: Vec<Vec<u32>> = vec![Vec::new(); self.n];
        for s in 0..self.s {
            if self.primary[s] != NONE {
                primaries[self.primary[s] as usize].push(s as u32);
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
        let replicas = |v: usize| self.load(v as u32) as i64 - ptarget[v] as i64;
        let mut level = vec![i64::MAX; zones];
        for v in 0..self.n {
            let zone = self.zone_of[v] as usize;
            level[zone] = level[zone].min(replicas(v));
        }
        let (lo, hi): (Vec<usize>, Vec<usize>) = (0..self.n)
            .map(|v| {
                // Replicas in {m, m + 1} means primaries in {r - 1, r}.
                let r = self.load(v as u32) as i64 - level[self.zone_of[v] as usize];
                let hi = r.min(base as i64 + 1).max(0);
                let lo = (r - 1).max(base as i64).min(hi);
                (lo as usize, hi as usize)
            })
            .unzip();
        let mut guard = 2 * self.s + 64;
        loop {
            guard -= 1;
            if guard == 0 {
                return;
            }
            // A node above its range passes a primary along a chain to one
            // below its top; a node below its range takes one along a chain
            // from a node above its bottom. Either way every node in the
            // chain but its ends keeps its count.
            let (giver, taker, chain) = if let Some(u) = (0..self.n).find(|&u| count[u] > hi[u]) {
                match self.primary_chain(u, &primaries, |y| count[y] < hi[y], true) {
                    Some((end, chain)) => (u, end, chain),
                    None => return,
                }
            } else if let Some(w) = (0..self.n).find(|&w| count[w] < lo[w]) {
                match self.primary_chain(w, &primaries, |x| count[x] > lo[x], false) {
                    Some((end, chain)) => (end, w, chain),
                    None => return,
                }
            } else {
                return;
            };
            for (from, to, s) in chain {
                self.primary[s as usize] = to as u32;
                primaries[to].push(s);
                let list = &mut primaries[from];
                if let Some(i) = list.iter().position(|&t| t == s) {
                    list.swap_remove(i);
                }
            }
            count[giver] -= 1;
            count[taker] += 1;
        }
    }

    /// The end of a shortest chain of primary moves `(from, to, shard)`
    /// from `start` to a node that `done` accepts, and the chain. With
    /// `push`, `start` gives: each step moves the primary of a shard `from`
    /// leads to a node `to` that holds it. Otherwise `start` takes, and the
    /// chain is found backwards, from the shards `start` holds to their
    /// primaries.
    fn primary_chain(
        &self,
        start: usize,
        primaries: &[Vec<u32>],
        done: impl Fn(usize) -> bool,
        push: bool,
    ) -> Option<(usize, Vec<PrimaryMove>)> {
        // parent[v] = (the neighbour towards start, the shard between them).
        let mut parent: Vec<Option<(usize, u32)>> = vec![None; self.n];
        let mut seen = vec![false; self.n];
        seen[start] = true;
        let mut queue = VecDeque::from([start]);
        let mut end = None;
        'search: while let Some(x) = queue.pop_front() {
            // Push: x leads s, and y holds it. Pull: x holds s, y leads it.
            let steps: Vec<(u32, usize)> = if push {
                primaries[x]
                    .iter()
                    .flat_map(|&s| self.slots(s as usize).iter().map(move |&y| (s, y)))
                    .filter(|&(_, y)| y != NONE)
                    .map(|(s, y)| (s, y as usize))
                    .collect()
            } else {
                self.held[x]
                    .iter()
                    .map(|&s| (s, self.primary[s as usize]))
                    .filter(|&(_, y)| y != NONE)
                    .map(|(s, y)| (s, y as usize))
                    .collect()
            };
            for (s, y) in steps {
                if seen[y] {
                    continue;
                }
                seen[y] = true;
                parent[y] = Some((x, s));
                if done(y) {
                    end = Some(y);
                    break 'search;
                }
                queue.push_back(y);
            }
        }
        let end = end?;
        let (mut y, mut chain) = (end, Vec::new());
        while let Some((x, s)) = parent[y] {
            chain.push(if push { (x, y, s) } else { (y, x, s) });
            y = x;
        }
        Some((end, chain))
    }

    fn write(&self, mut config: ClusterConfig) -> ClusterConfig {
        for s in 0..self.s {
            for &v in self.slots(s) {
                if v == NONE {
                    continue;
                }
                let node = &mut config.nodes[v as usize];
                if self.primary[s] == v {
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
fn mix(shard: u64, node: u32) -> u64 {
    let mut x = shard.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ u64::from(node).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 30;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 27;
    x = x.wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The moves that turn one config into another, shard by shard and node by
/// node, from [`plan_moves`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct MovePlan {
    /// Every shard whose copies or primary change, ascending.
    pub shards: Vec<ShardMove>,
    /// Totals for every node of either config, sorted by id.
    pub nodes: Vec<NodeMoves>,
    /// Copies that must be created (streamed from a node that has the
    /// shard).
    pub copies_added: usize,
    /// Copies that are dropped once the new config is in place.
    pub copies_removed: usize,
    /// Shards whose primary changes (no data moves for this alone).
    pub primary_changes: usize,
    /// True when `shard_count` or `sharding_strategy` differ: keys map to
    /// other shards, so every stored series moves, not just copies.
    pub mapping_changed: bool,
}

impl MovePlan {
    /// True when the plan needs a person's attention: the key mapping
    /// changes, a shard has no copy afterwards, or every copy of a shard
    /// changes at once.
    pub fn has_problems(&self) -> bool {
        self.mapping_changed
            || self
                .shards
                .iter()
                .any(|m| m.every_copy_changes || m.left_without_copy)
    }
}

/// How one shard's copies change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ShardMove {
    /// The shard.
    pub shard: ShardId,
    /// Its primary before, if it had one.
    pub old_primary: Option<String>,
    /// Its primary after, if it has one.
    pub new_primary: Option<String>,
    /// Nodes that gain a copy, sorted.
    pub added: Vec<String>,
    /// Nodes that lose their copy, sorted.
    pub removed: Vec<String>,
    /// Nodes that hold a copy before and after, sorted.
    pub kept: Vec<String>,
    /// No node keeps a copy: the new copies must be filled from nodes that
    /// are about to drop theirs, so they may only drop them afterwards.
    pub every_copy_changes: bool,
    /// The shard had copies and has none afterwards: its data is lost.
    pub left_without_copy: bool,
}

/// One node's totals in a [`MovePlan`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct NodeMoves {
    /// The node's id.
    pub node: String,
    /// Copies it gains.
    pub copies_in: usize,
    /// Copies it drops.
    pub copies_out: usize,
    /// Shards it becomes primary for.
    pub primaries_in: usize,
    /// Shards it stops being primary for.
    pub primaries_out: usize,
}

/// The moves between `old` and `new`: per shard, primary changes and copies
/// added or removed; totals per node; and the shards at risk.
///
/// Shards are compared by id up to the larger `shard_count`. A node is
/// known by its id, so a node whose address changed is the same node.
///
/// ```
/// use rusts_cluster_config::{plan_moves, ClusterConfig};
///
/// let old = ClusterConfig::single_node("a", "10.0.0.1:8086");
/// let mut new = old.clone();
/// new.nodes[0].id = "b".into();
/// new.node_id = "b".into();
/// let plan = plan_moves(&old, &new);
/// assert_eq!(plan.copies_added, 16);
/// assert!(plan.shards.iter().all(|m| m.every_copy_changes));
/// assert!(plan.has_problems());
/// ```
pub fn plan_moves(old: &ClusterConfig, new: &ClusterConfig) -> MovePlan {
    let shards = old
        .shard_count
        .max(new.shard_count)
        .min(crate::MAX_SHARD_COUNT);
    let (old_copies, old_primary) = holders(old, shards);
    let (new_copies, new_primary) = holders(new, shards);
    let mut totals: BTreeMap<&str, NodeMoves> = BTreeMap::new();
    for node in old.nodes.iter().chain(&new.nodes) {
        totals.entry(&node.id).or_insert_with(|| NodeMoves {
            node: node.id.clone(),
            copies_in: 0,
            copies_out: 0,
            primaries_in: 0,
            primaries_out: 0,
        });
    }
    let mut moves = Vec::new();
    let (mut added_total, mut removed_total, mut primary_changes) = (0, 0, 0);
    for s in 0..shards {
        let (before, after) = (&old_copies[s], &new_copies[s]);
        let added: Vec<String> = after
            .iter()
            .filter(|n| !before.contains(n))
            .map(|n| n.to_string())
            .collect();
        let removed: Vec<String> = before
            .iter()
            .filter(|n| !after.contains(n))
            .map(|n| n.to_string())
            .collect();
        let kept: Vec<String> = before
            .iter()
            .filter(|n| after.contains(n))
            .map(|n| n.to_string())
            .collect();
        let primary_changed = old_primary[s] != new_primary[s];
        if added.is_empty() && removed.is_empty() && !primary_changed {
            continue;
        }
        for id in &added {
            if let Some(t) = totals.get_mut(id.as_str()) {
                t.copies_in += 1;
            }
        }
        for id in &removed {
            if let Some(t) = totals.get_mut(id.as_str()) {
                t.copies_out += 1;
            }
        }
        if primary_changed {
            primary_changes += 1;
            if let Some(t) = new_primary[s].and_then(|p| totals.get_mut(p)) {
                t.primaries_in += 1;
            }
            if let Some(t) = old_primary[s].and_then(|p| totals.get_mut(p)) {
                t.primaries_out += 1;
            }
        }
        added_total += added.len();
        removed_total += removed.len();
        moves.push(ShardMove {
            shard: s as ShardId,
            old_primary: old_primary[s].map(str::to_owned),
            new_primary: new_primary[s].map(str::to_owned),
            every_copy_changes: !before.is_empty() && !after.is_empty() && kept.is_empty(),
            left_without_copy: !before.is_empty() && after.is_empty(),
            added,
            removed,
            kept,
        });
    }
    MovePlan {
        shards: moves,
        nodes: totals.into_values().collect(),
        copies_added: added_total,
        copies_removed: removed_total,
        primary_changes,
        mapping_changed: old.shard_count != new.shard_count
            || old.sharding_strategy != new.sharding_strategy,
    }
}

/// The sorted node ids holding each shard, and each shard's primary.
#[allow(clippy::type_complexity)]
pub(crate) fn holders(
    config: &ClusterConfig,
    shards: usize,
) -> (Vec<Vec<&str>>, Vec<Option<&str>>) {
    let mut copies: Vec<Vec<&str>> = vec![Vec::new(); shards];
    let mut primary = vec![None; shards];
    for node in &config.nodes {
        for &s in &node.shards {
            if let Some(list) = copies.get_mut(s as usize) {
                list.push(&node.id);
                primary[s as usize].get_or_insert(node.id.as_str());
            }
        }
        for &s in &node.replica_shards {
            if let Some(list) = copies.get_mut(s as usize) {
                list.push(&node.id);
            }
        }
    }
    for list in &mut copies {
        list.sort_unstable();
        list.dedup();
    }
    (copies, primary)
}
