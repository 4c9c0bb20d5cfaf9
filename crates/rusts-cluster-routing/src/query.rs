use std::{fmt, ops::Range, sync::Arc};

use rusts_cluster_replication::ReplicationProtocol;
use rusts_cluster_sharding::{
    SeriesId, ShardId, ShardKeyRef, ShardMapper, ShardState, ShardingStrategy, Timestamp,
};

use crate::{snapshot::Snapshot, topology::Topology, RoutingError, ShardCopy, ShardRouter};

/// How many copies of each shard a query reads: the read side of the
/// replication rule.
///
/// | level | copies read of a shard with `c` copies, whose writes need `w` successes |
/// |---|---|
/// | `One` (default) | 1 |
/// | `Quorum` | `c - w + 1` (at least 1): the fewest that meet every set of `w` copies |
/// | `All` | `c` |
///
/// `w` is the shard's write rule
/// ([`ReplicationProtocol::required_acks_for`], what
/// [`ShardRouter::write_quorum`] requires). For a shard with
/// `replication_factor` copies, `Quorum` reads
/// `replication_factor - required_acks(replication_factor) + 1`: 2 of 3
/// under `Quorum`, 2 of 4, 3 of 5, and 1 under `Synchronous`. Any `c - w + 1`
/// copies include at least one of any `w`, so a `Quorum` read meets every
/// copy that acknowledged every acknowledged write, and after merging the
/// answers it misses none. Under `Asynchronous` a write is acknowledged
/// before any copy answers (`w = 0`), so no level can promise that; there
/// `Quorum` reads every copy, the most a read can do.
///
/// `One` reads the nearest copy: fastest, but it may miss a write that
/// copy did not get. `All` reads every copy: it fails as soon as one copy
/// is down, and gives no more than `Quorum` about acknowledged writes.
/// See `docs/queries.md` for the table per mode and factor.
///
/// ```
/// use rusts_cluster_replication::{ReplicationMode, ReplicationProtocol};
/// use rusts_cluster_routing::ReadConsistency;
/// use rusts_cluster_sharding::ShardState;
///
/// let quorum = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
/// let active = ShardState::Active;
/// assert_eq!(ReadConsistency::One.copies_to_read(quorum, 3, active), 1);
/// assert_eq!(ReadConsistency::Quorum.copies_to_read(quorum, 3, active), 2);
/// assert_eq!(ReadConsistency::All.copies_to_read(quorum, 3, active), 3);
///
/// let sync = ReplicationProtocol::new(ReplicationMode::Synchronous, 3);
/// assert_eq!(ReadConsistency::Quorum.copies_to_read(sync, 3, active), 1);
/// let none = ReplicationProtocol::new(ReplicationMode::Asynchronous, 3);
/// assert_eq!(ReadConsistency::Quorum.copies_to_read(none, 3, active), 3);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReadConsistency {
    /// One copy of each shard: the nearest available one.
    #[default]
    One,
    /// Enough copies of each shard to meet every acknowledged write.
    Quorum,
    /// Every copy of each shard.
    All,
}

impl ReadConsistency {
    /// The copies to read of a shard with `copies` copies, in `state`,
    /// under `protocol`; see the table on [`ReadConsistency`]. Between 1
    /// and `copies` (1 for a shard with no copy).
    pub fn copies_to_read(
        self,
        protocol: ReplicationProtocol,
        copies: usize,
        state: ShardState,
    ) -> usize {
        let copies = copies.max(1);
        match self {
            ReadConsistency::One => 1,
            ReadConsistency::All => copies,
            ReadConsistency::Quorum => {
                let write = protocol.required_acks_for(copies, state);
                (copies + 1).saturating_sub(write).clamp(1, copies)
            }
        }
    }
}

impl fmt::Display for ReadConsistency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReadConsistency::One => "one",
            ReadConsistency::Quorum => "quorum",
            ReadConsistency::All => "all",
        })
    }
}

/// What a query reads: optionally a measurement, a set of series ids and a
/// half-open time range `[start, end)` in nanoseconds; each part left out
/// matches everything.
///
/// ```
/// use rusts_cluster_routing::Query;
///
/// let query = Query::new()
///     .measurement("cpu")
///     .series(&[1, 2])
///     .time_range(1_700_000_000_000_000_000..1_700_003_600_000_000_000);
/// assert_eq!(query.get_series(), Some(&[1, 2][..]));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    filter: KeyFilter,
    preferred_tag: Option<(String, String)>,
    require_pruning: bool,
    consistency: ReadConsistency,
}

impl Query {
    /// A query that matches every point.
    pub fn new() -> Self {
        Query::default()
    }

    /// Only points of this measurement.
    #[must_use]
    pub fn measurement(mut self, measurement: impl Into<String>) -> Self {
        self.filter.measurement = Some(measurement.into());
        self
    }

    /// Only points of these series. An empty list matches nothing. The
    /// query keeps them ascending and distinct.
    #[must_use]
    pub fn series(mut self, series_ids: &[SeriesId]) -> Self {
        self.filter.series = Some(ascending(series_ids.to_vec()));
        self
    }

    /// Only points with `range.start <= timestamp < range.end`, in
    /// nanoseconds. An empty range (`end <= start`) matches nothing.
    #[must_use]
    pub fn time_range(mut self, range: Range<Timestamp>) -> Self {
        self.filter.time_range = Some(range);
        self
    }

    /// Read from copies on nodes tagged `key = value` (for example
    /// `zone = "us-east-1a"`) before others; see
    /// [`ShardRouter::plan_query`] for the whole order.
    #[must_use]
    pub fn prefer_tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.preferred_tag = Some((key.into(), value.into()));
        self
    }

    /// Refuse to plan this query when it would read every shard of a
    /// cluster of more than one shard: [`ShardRouter::plan_query`] returns
    /// [`RoutingError::QueryNotPruned`] naming why, instead of a full
    /// fan-out.
    #[must_use]
    pub fn require_pruning(mut self) -> Self {
        self.require_pruning = true;
        self
    }

    /// How many copies of each shard to read: see [`ReadConsistency`].
    /// The default is [`ReadConsistency::One`].
    #[must_use]
    pub fn consistency(mut self, level: ReadConsistency) -> Self {
        self.consistency = level;
        self
    }

    /// The read level the query asks for.
    ///
    /// The getters of a builder's settings take `get_`, as
    /// `std::process::Command`'s do, since the plain name sets it.
    pub fn get_consistency(&self) -> ReadConsistency {
        self.consistency
    }

    /// The measurement, if the query names one.
    pub fn get_measurement(&self) -> Option<&str> {
        self.filter.measurement()
    }

    /// The series ids, if the query names any: ascending and distinct.
    pub fn get_series(&self) -> Option<&[SeriesId]> {
        self.filter.series()
    }

    /// The time range, if the query has one.
    pub fn get_time_range(&self) -> Option<Range<Timestamp>> {
        self.filter.time_range()
    }

    /// Which points the query wants, by key: its measurement, series and
    /// time range, what a replica filters its copy by.
    pub fn filter(&self) -> &KeyFilter {
        &self.filter
    }

    /// Whether a point with this key matches the query: see
    /// [`KeyFilter::matches`].
    pub fn matches<'k>(&self, key: impl Into<ShardKeyRef<'k>>) -> bool {
        self.filter.matches(key)
    }
}

/// Which points a query wants, by their keys: a measurement, a set of
/// series and a time range, each optional. The one rule of a read's two
/// sides: [`ShardRouter::plan_query`] reads every shard that could hold a
/// point it matches, and a replica serves the points of its copies that
/// [`matches`](Self::matches) accepts (the protocol's read requests carry
/// it, as `{measurement, series, time_range}`).
///
/// ```
/// use rusts_cluster_routing::Query;
/// use rusts_cluster_sharding::ShardKeyRef;
///
/// let query = Query::new().measurement("cpu").series(&[9, 1, 9]).time_range(0..10);
/// let filter = query.filter();
/// assert_eq!(filter.series(), Some(&[1, 9][..]), "ascending and distinct");
/// assert!(filter.matches(ShardKeyRef::new("cpu", 9, 5)));
/// assert!(!filter.matches(ShardKeyRef::new("cpu", 9, 10)), "the range's end is out");
/// assert!(!filter.matches(ShardKeyRef::new("mem", 9, 5)));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyFilter {
    #[serde(default)]
    measurement: Option<String>,
    /// Ascending and distinct, also when read from a peer's message.
    #[serde(default, deserialize_with = "ascending_series")]
    series: Option<Vec<SeriesId>>,
    #[serde(default)]
    time_range: Option<Range<Timestamp>>,
}

impl KeyFilter {
    /// The measurement, if the filter names one.
    pub fn measurement(&self) -> Option<&str> {
        self.measurement.as_deref()
    }

    /// The series ids, ascending and distinct, if the filter names any. An
    /// empty list matches nothing.
    pub fn series(&self) -> Option<&[SeriesId]> {
        self.series.as_deref()
    }

    /// The time range, `start <= timestamp < end`, if the filter has one.
    pub fn time_range(&self) -> Option<Range<Timestamp>> {
        self.time_range.clone()
    }

    /// Whether a point with this key is wanted: its measurement is the
    /// filter's (if any), its series among the filter's (if any), and its
    /// timestamp in the filter's range (if any). A binary search of the
    /// series, so a read of many series costs a logarithm per point.
    pub fn matches<'k>(&self, key: impl Into<ShardKeyRef<'k>>) -> bool {
        let key = key.into();
        self.measurement
            .as_deref()
            .is_none_or(|m| m == key.measurement)
            && self
                .series
                .as_deref()
                .is_none_or(|s| s.binary_search(&key.series_id).is_ok())
            && self
                .time_range
                .as_ref()
                .is_none_or(|r| r.contains(&key.timestamp))
    }
}

/// `series`, ascending and distinct.
fn ascending(mut series: Vec<SeriesId>) -> Vec<SeriesId> {
    series.sort_unstable();
    series.dedup();
    series
}

/// A filter's series as a peer sent them, made ascending and distinct, so
/// that [`KeyFilter::matches`]' binary search holds for any message.
fn ascending_series<'de, D>(deserializer: D) -> Result<Option<Vec<SeriesId>>, D::Error>
where
    D: serde::Deserializer<'de>,
{
    let series: Option<Vec<SeriesId>> = serde::Deserialize::deserialize(deserializer)?;
    Ok(series.map(ascending))
}

/// The shards a query must read and, for each, the copies to read it from.
/// Returned by [`ShardRouter::plan_query`].
///
/// A plan never leaves out a shard that could hold a matching point. A shard
/// with fewer readable copies than the query's [`ReadConsistency`] needs
/// (offline, or too many copies on nodes marked down) is listed in
/// [`unavailable_shards`](Self::unavailable_shards), never dropped and never
/// served with fewer: the caller chooses between a partial result and an
/// error.
///
/// [`targets`](Self::targets) groups the copies to read by node, for
/// sending one request per node; [`reads`](Self::reads) gives each shard's
/// read set and its **fallbacks**, the other readable copies in the same
/// preference order, to retry or hedge a slow copy without planning again.
///
/// The plan holds the layout it was made with (a reference-counted share
/// of the router's, not a copy), so it stays consistent if the router
/// [applies](ShardRouter::apply) a newer config meanwhile.
#[derive(Clone)]
pub struct QueryPlan {
    shards: Vec<ShardId>,
    targets: Vec<NodeTarget>,
    unavailable: Vec<ShardId>,
    shard_count: u32,
    consistency: ReadConsistency,
    topology: Arc<Topology>,
    /// The readable copies of `shards[i]`, in preference order, are
    /// `order[read_start[i]..read_start[i + 1]]` (node indices).
    read_start: Vec<u32>,
    order: Vec<u32>,
    /// The copies to read of `shards[i]`.
    needed: Vec<u32>,
}

impl QueryPlan {
    /// Every shard the query must read, ascending and distinct, whether or
    /// not enough copies are available.
    pub fn shards(&self) -> &[ShardId] {
        &self.shards
    }

    /// The nodes to read from, sorted by node id, each with the shards to
    /// read there. Each available shard is listed under as many nodes as
    /// its level needs copies ([`ShardRead::copies_needed`]): one at
    /// [`ReadConsistency::One`].
    pub fn targets(&self) -> &[NodeTarget] {
        &self.targets
    }

    /// The shards of [`shards`](Self::shards) that do not have as many
    /// readable copies as the level needs, ascending. A query over them
    /// returns partial results, or fails.
    pub fn unavailable_shards(&self) -> &[ShardId] {
        &self.unavailable
    }

    /// Whether every shard the query needs has enough readable copies.
    pub fn is_complete(&self) -> bool {
        self.unavailable.is_empty()
    }

    /// Whether the plan reads fewer than all the cluster's shards.
    pub fn is_pruned(&self) -> bool {
        self.shards.len() < self.shard_count as usize
    }

    /// The read level the plan was made for.
    pub fn consistency(&self) -> ReadConsistency {
        self.consistency
    }

    /// The generation of the config the plan was made with.
    pub fn generation(&self) -> u64 {
        self.topology.generation
    }

    /// Each shard's read set and fallbacks, in the order of
    /// [`shards`](Self::shards).
    pub fn reads(&self) -> impl ExactSizeIterator<Item = ShardRead<'_>> + '_ {
        (0..self.shards.len()).map(move |i| ShardRead { plan: self, i })
    }

    /// The read set and fallbacks of `shard`, or `None` when the plan does
    /// not read it.
    pub fn read(&self, shard: ShardId) -> Option<ShardRead<'_>> {
        let i = self.shards.binary_search(&shard).ok()?;
        Some(ShardRead { plan: self, i })
    }
}

impl PartialEq for QueryPlan {
    /// Plans are equal when they read the same shards from the same nodes
    /// (by id) in the same order, at the same level and generation.
    fn eq(&self, other: &Self) -> bool {
        fn ids(plan: &QueryPlan) -> impl Iterator<Item = &str> + '_ {
            plan.order.iter().map(|&node| plan.topology.node_id(node))
        }
        self.shards == other.shards
            && self.targets == other.targets
            && self.unavailable == other.unavailable
            && self.shard_count == other.shard_count
            && self.consistency == other.consistency
            && self.generation() == other.generation()
            && self.read_start == other.read_start
            && self.needed == other.needed
            && ids(self).eq(ids(other))
    }
}

impl Eq for QueryPlan {}

impl fmt::Debug for QueryPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueryPlan")
            .field("generation", &self.generation())
            .field("consistency", &self.consistency)
            .field("shards", &self.shards)
            .field("targets", &self.targets)
            .field("unavailable", &self.unavailable)
            .field("reads", &self.reads().collect::<Vec<_>>())
            .finish()
    }
}

/// One shard of a [`QueryPlan`]: the copies to read it from, and the
/// copies to fall back to.
///
/// ```
/// use rusts_cluster_config::strategies::round_robin_cluster;
/// use rusts_cluster_routing::{Query, ReadConsistency, ShardRouter};
///
/// // 8 nodes, 3 copies per shard, Quorum: a quorum read takes 2 copies.
/// let router = ShardRouter::from_config(&round_robin_cluster(16, 8, 3))?;
/// let plan = router.plan_query(&Query::new().series(&[5]).consistency(ReadConsistency::Quorum))?;
/// let read = plan.read(5).unwrap();
/// assert_eq!(read.copies_needed(), 2);
/// let targets: Vec<_> = read.targets().map(|c| c.node_id).collect();
/// let fallbacks: Vec<_> = read.fallbacks().map(|c| c.node_id).collect();
/// assert_eq!((targets, fallbacks), (vec!["node5", "node6"], vec!["node7"]));
///
/// router.set_node_available("node6", false)?;
/// let plan = router.plan_query(&Query::new().series(&[5]).consistency(ReadConsistency::Quorum))?;
/// let targets: Vec<_> = plan.read(5).unwrap().targets().map(|c| c.node_id).collect();
/// assert_eq!(targets, ["node5", "node7"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy)]
pub struct ShardRead<'p> {
    plan: &'p QueryPlan,
    i: usize,
}

impl<'p> ShardRead<'p> {
    /// The shard.
    pub fn shard(&self) -> ShardId {
        self.plan.shards[self.i]
    }

    /// How many copies the plan's level needs of this shard
    /// ([`ReadConsistency::copies_to_read`]).
    pub fn copies_needed(&self) -> usize {
        self.plan.needed[self.i] as usize
    }

    /// Whether enough readable copies are available: then the plan lists
    /// the shard in [`targets`](QueryPlan::targets), and otherwise in
    /// [`unavailable_shards`](QueryPlan::unavailable_shards).
    pub fn is_available(&self) -> bool {
        self.nodes().len() >= self.copies_needed()
    }

    /// Every readable copy on an available node, in preference order: this
    /// node, copies on nodes with the preferred tag, the primary, then the
    /// replicas in node-id order. Empty for an offline shard.
    pub fn copies(&self) -> impl ExactSizeIterator<Item = ShardCopy<'p>> + 'p {
        self.copies_of(self.nodes())
    }

    /// The copies to read: the first [`copies_needed`](Self::copies_needed)
    /// of [`copies`](Self::copies), or none when the shard is unavailable.
    pub fn targets(&self) -> impl ExactSizeIterator<Item = ShardCopy<'p>> + 'p {
        let nodes = self.nodes();
        let read = if self.is_available() {
            self.copies_needed()
        } else {
            0
        };
        self.copies_of(&nodes[..read])
    }

    /// The readable copies not in [`targets`](Self::targets), in the same
    /// order: where to retry or hedge a read that is slow or fails. Every
    /// copy of an unavailable shard.
    pub fn fallbacks(&self) -> impl ExactSizeIterator<Item = ShardCopy<'p>> + 'p {
        let nodes = self.nodes();
        let read = if self.is_available() {
            self.copies_needed()
        } else {
            0
        };
        self.copies_of(&nodes[read..])
    }

    fn nodes(&self) -> &'p [u32] {
        let plan = self.plan;
        &plan.order[plan.read_start[self.i] as usize..plan.read_start[self.i + 1] as usize]
    }

    fn copies_of(&self, nodes: &'p [u32]) -> impl ExactSizeIterator<Item = ShardCopy<'p>> + 'p {
        let topology: &'p Topology = &self.plan.topology;
        let copies = topology.copies(self.shard());
        nodes.iter().map(move |&node| {
            // The plan lists each read by node index: find the node's copy.
            let copy = copies.iter().find(|c| c.node == node).unwrap_or(&copies[0]);
            ShardCopy::new(topology, copy, true)
        })
    }
}

impl fmt::Debug for ShardRead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardRead")
            .field("shard", &self.shard())
            .field("copies_needed", &self.copies_needed())
            .field(
                "targets",
                &self.targets().map(|c| c.node_id).collect::<Vec<_>>(),
            )
            .field(
                "fallbacks",
                &self.fallbacks().map(|c| c.node_id).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One node a query reads from, and the shards to read there.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeTarget {
    /// The node's id.
    pub node_id: String,
    /// The node's address.
    pub address: String,
    /// The shards to read on this node, ascending.
    pub shards: Vec<ShardId>,
}

impl ShardRouter {
    /// Plans a query: the smallest set of shards that can hold matching
    /// points, and which copy of each to read.
    ///
    /// **Pruning** uses what the strategy placed data by, with the same
    /// arithmetic as [`route`](Self::route), so the plan holds every shard
    /// `route` gives for any matching key:
    ///
    /// | strategy | query names | shards read |
    /// |---|---|---|
    /// | `ByMeasurement` | a measurement | that measurement's shard |
    /// | `BySeries` | series ids | those series' shards |
    /// | `ByTime` | a time range | the shards of the buckets it covers; all once it covers `n` buckets |
    /// | `Composite` | series ids and a time range | each series' shard in each bucket covered; all once one series' run of buckets reaches every shard |
    /// | any | an empty series list or an empty range | none |
    /// | any | nothing the strategy uses | all |
    ///
    /// **Copies**: for each shard, as many readable copies on available
    /// nodes as the query's [`ReadConsistency`] needs (one by default), the
    /// first in this order: this node, if it holds a copy (a local read
    /// costs no network; it wins over a preferred tag); then copies on nodes
    /// with the query's [preferred tag](Query::prefer_tag); then the
    /// primary; then the replicas in node-id order. The other readable
    /// copies, in the same order, are the shard's fallbacks
    /// ([`QueryPlan::reads`]). A shard that is offline, or has fewer copies
    /// on available nodes than the level needs
    /// ([`set_node_available`](Self::set_node_available)), goes to
    /// [`QueryPlan::unavailable_shards`].
    ///
    /// Costs O(shards read × copies + series named + nodes), plus the shard
    /// count when the query names series or a range.
    ///
    /// # Errors
    ///
    /// [`RoutingError::QueryNotPruned`] when the query asked for
    /// [`require_pruning`](Query::require_pruning) and would read every
    /// shard.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::{Query, ShardRouter};
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?; // BySeries, 16 shards
    /// let plan = router.plan_query(&Query::new().measurement("cpu").series(&[1, 17, 9]))?;
    /// assert_eq!(plan.shards(), [1, 9]); // 17 % 16 = 1
    /// // This process is node1, which holds shard 1; shard 9 is only on node2.
    /// let targets: Vec<_> = plan.targets().iter().map(|t| (t.node_id.as_str(), t.shards.clone())).collect();
    /// assert_eq!(targets, [("node1", vec![1]), ("node2", vec![9])]);
    /// assert!(plan.is_pruned() && plan.is_complete());
    ///
    /// router.set_node_available("node2", false)?;
    /// let plan = router.plan_query(&Query::new().series(&[1, 9]))?;
    /// assert_eq!(plan.unavailable_shards(), [9]);
    ///
    /// assert!(router.plan_query(&Query::new().measurement("cpu").require_pruning()).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn plan_query(&self, query: &Query) -> Result<QueryPlan, RoutingError> {
        let (snapshot, node_id) = self.parts();
        let mapper = &snapshot.mapper;
        let shard_count = mapper.shard_count();
        let shards = match prune(mapper, query) {
            Pruned::Shards(shards) => shards,
            Pruned::All(why) => {
                if query.require_pruning && shard_count > 1 {
                    return Err(RoutingError::QueryNotPruned {
                        shard_count,
                        reason: why.to_string(),
                    });
                }
                (0..shard_count).collect()
            }
        };
        Ok(choose_copies(&snapshot, node_id, query, shards))
    }
}

/// The shards a query needs, or why it needs all of them.
enum Pruned {
    Shards(Vec<ShardId>),
    All(Unpruned),
}

/// Why a query reads every shard.
enum Unpruned {
    /// The strategy places data by something the query does not name.
    Unnamed(ShardingStrategy),
    /// The time range covers at least as many buckets as there are shards.
    WideRange { buckets: u128 },
    /// The named series or measurement map to every shard.
    EveryShard(ShardingStrategy),
}

impl fmt::Display for Unpruned {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unpruned::Unnamed(ShardingStrategy::ByMeasurement) => {
                f.write_str("the cluster shards by measurement and the query names no measurement; name a measurement")
            }
            Unpruned::Unnamed(ShardingStrategy::BySeries) => {
                f.write_str("the cluster shards by series and the query names no series ids; name series ids")
            }
            Unpruned::Unnamed(ShardingStrategy::ByTime { .. }) => {
                f.write_str("the cluster shards by time and the query has no time range; give a time range")
            }
            Unpruned::Unnamed(ShardingStrategy::Composite { .. }) => f.write_str(
                "the cluster shards by series and time, and the query lacks series ids or a time range; name both",
            ),
            Unpruned::WideRange { buckets } => write!(
                f,
                "the time range covers {buckets} time buckets, at least one per shard; narrow the range"
            ),
            Unpruned::EveryShard(ShardingStrategy::Composite { .. }) => f.write_str(
                "the series named, over the time range, map to every shard; name fewer series or narrow the range",
            ),
            Unpruned::EveryShard(_) => f.write_str("the series named map to every shard; name fewer series"),
        }
    }
}

/// The shards that can hold points matching `query`: exact for the cases
/// in the table of [`ShardRouter::plan_query`].
fn prune(mapper: &ShardMapper, query: &Query) -> Pruned {
    let n = mapper.shard_count();
    // A set of shards as a bitset over the shard table, collected in order.
    let mut marked: Option<Vec<u64>> = None;
    let mut mark = |shard: ShardId| {
        marked.get_or_insert_with(|| vec![0; (n as usize).div_ceil(64)])[shard as usize / 64] |=
            1 << (shard % 64)
    };
    let buckets = query
        .filter
        .time_range
        .as_ref()
        .map(|range| bucket_span(mapper, range));
    // An empty series list or an empty range matches no point at all.
    if query.filter.series.as_ref().is_some_and(Vec::is_empty) || buckets == Some(None) {
        return Pruned::Shards(Vec::new());
    }
    let buckets = buckets.flatten();
    match mapper.strategy() {
        ShardingStrategy::ByMeasurement => match &query.filter.measurement {
            Some(m) => {
                return Pruned::Shards(vec![mapper.compute_shard(ShardKeyRef::new(m, 0, 0))])
            }
            None => return Pruned::All(Unpruned::Unnamed(mapper.strategy())),
        },
        ShardingStrategy::BySeries => match &query.filter.series {
            Some(series) => series
                .iter()
                .for_each(|&s| mark(mapper.compute_shard(ShardKeyRef::new("", s, 0)))),
            None => return Pruned::All(Unpruned::Unnamed(mapper.strategy())),
        },
        ShardingStrategy::ByTime { .. } => match buckets {
            Some((first, count)) if count < u128::from(n) => {
                // Consecutive buckets map to consecutive shards mod n.
                let start = mapper.shard_of_bucket(first);
                mark_cyclic(&mut mark, n, start, count as u32);
            }
            Some((_, count)) => return Pruned::All(Unpruned::WideRange { buckets: count }),
            None => return Pruned::All(Unpruned::Unnamed(mapper.strategy())),
        },
        ShardingStrategy::Composite { .. } => match (&query.filter.series, buckets) {
            (Some(series), Some((first, count))) => {
                for &s in series {
                    // Series s in buckets first.. is the run of u64 values
                    // s + first, s + first + 1, ... (two's complement), each
                    // taken mod n. The run is consecutive mod n except where
                    // it wraps past u64::MAX and restarts at 0, so it is at
                    // most two cyclic runs of shards; one that is n long
                    // covers every shard.
                    let first_value = s.wrapping_add(first as u64);
                    let head = u128::from(u64::MAX - first_value) + 1;
                    let pieces = [
                        (mapper.shard_of_series_in_bucket(s, first), count.min(head)),
                        (0, count.saturating_sub(head)),
                    ];
                    for (start, len) in pieces {
                        if len >= u128::from(n) {
                            return Pruned::All(Unpruned::WideRange { buckets: count });
                        }
                        mark_cyclic(&mut mark, n, start, len as u32);
                    }
                }
            }
            _ => return Pruned::All(Unpruned::Unnamed(mapper.strategy())),
        },
    }
    let marked = marked.unwrap_or_default();
    let count = marked.iter().map(|word| word.count_ones() as usize).sum();
    let mut shards: Vec<ShardId> = Vec::with_capacity(count);
    for (index, &word) in marked.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            shards.push(index as ShardId * 64 + bits.trailing_zeros());
            bits &= bits - 1;
        }
    }
    if shards.len() == n as usize && n > 1 {
        Pruned::All(Unpruned::EveryShard(mapper.strategy()))
    } else {
        Pruned::Shards(shards)
    }
}

/// The first bucket a non-empty range covers and how many buckets it
/// covers, or `None` for an empty range.
fn bucket_span(mapper: &ShardMapper, range: &Range<Timestamp>) -> Option<(i64, u128)> {
    if range.end <= range.start {
        return None;
    }
    // `end > start >= i64::MIN`, so `end - 1` does not overflow.
    let first = mapper.time_bucket(range.start);
    let last = mapper.time_bucket(range.end - 1);
    Some((first, (i128::from(last) - i128::from(first) + 1) as u128))
}

/// Marks `count` shards (fewer than `n`) starting at `start`, wrapping
/// from `n - 1` to 0.
fn mark_cyclic(mark: &mut impl FnMut(ShardId), n: u32, start: ShardId, count: u32) {
    let mut shard = start;
    for _ in 0..count {
        mark(shard);
        shard = if shard + 1 == n { 0 } else { shard + 1 };
    }
}

/// Orders each shard's readable copies, takes as many as the level needs,
/// and groups the shards by node.
fn choose_copies(
    snapshot: &Snapshot,
    node_id: &str,
    query: &Query,
    shards: Vec<ShardId>,
) -> QueryPlan {
    let topology = &snapshot.topology;
    let nodes = topology.node_count();
    let local = topology.node_index(node_id);
    // Only built when the query prefers a tag.
    let preferred: Option<Vec<bool>> = query.preferred_tag.as_ref().map(|(key, value)| {
        topology
            .nodes()
            .map(|node| node.tags.get(key) == Some(value))
            .collect()
    });
    let is_preferred = |node: u32| preferred.as_ref().is_some_and(|p| p[node as usize]);
    let up = |node: u32| snapshot.node_up[node as usize];
    let level = query.consistency;
    // Each shard's readable copies in preference order, then a counting
    // sort by node, so each target's list is allocated once, at its size.
    let mut read_start = Vec::with_capacity(shards.len() + 1);
    let mut order: Vec<u32> = Vec::with_capacity(shards.len());
    let mut needed = Vec::with_capacity(shards.len());
    let mut per_node = vec![0u32; nodes];
    let mut unavailable = Vec::new();
    for &shard in &shards {
        let start = order.len();
        read_start.push(start as u32);
        let copies = topology.copies(shard);
        let state = snapshot.shards[shard as usize].state;
        // A moving shard is read from one side of its move, whose copies
        // each write reaches as a plain shard's copies (the joint rule).
        let moving = topology.is_moving(shard);
        let readable = |i: usize| !moving || topology.reads_from(copies[i].state);
        let need = if moving {
            let side = (0..copies.len()).filter(|&i| readable(i)).count();
            // The side needs the plain rule: `Rebalancing` here only says
            // the copies move, which the joint rule already counts.
            level.copies_to_read(topology.protocol, side, ShardState::Active)
        } else {
            level.copies_to_read(topology.protocol, copies.len(), state)
        };
        needed.push(need as u32);
        if state.can_read() {
            let mut local_read = None;
            if let Some(at) = local.and_then(|l| copies.iter().position(|c| c.node == l)) {
                if readable(at) && up(copies[at].node) {
                    local_read = Some(copies[at].node);
                    order.push(copies[at].node);
                }
            }
            let others = || {
                copies
                    .iter()
                    .enumerate()
                    .filter(|&(i, c)| readable(i) && up(c.node) && Some(c.node) != local_read)
                    .map(|(_, c)| c.node)
            };
            order.extend(others().filter(|&n| is_preferred(n)));
            order.extend(others().filter(|&n| !is_preferred(n)));
        }
        if order.len() - start >= need {
            for &node in &order[start..start + need] {
                per_node[node as usize] += 1;
            }
        } else {
            unavailable.push(shard);
        }
    }
    read_start.push(order.len() as u32);
    const NONE: u32 = u32::MAX;
    let mut targets: Vec<NodeTarget> = Vec::new();
    // `slot[node]`: the node's index in `targets`.
    let mut slot = vec![NONE; nodes];
    for (node, &count) in per_node.iter().enumerate() {
        if count > 0 {
            slot[node] = targets.len() as u32;
            let config = topology.node(node as u32);
            targets.push(NodeTarget {
                node_id: config.id.clone(),
                address: config.address.clone(),
                shards: Vec::with_capacity(count as usize),
            });
        }
    }
    for (i, &shard) in shards.iter().enumerate() {
        let start = read_start[i] as usize;
        let need = needed[i] as usize;
        if read_start[i + 1] as usize - start >= need {
            for &node in &order[start..start + need] {
                targets[slot[node as usize] as usize].shards.push(shard);
            }
        }
    }
    QueryPlan {
        shards,
        targets,
        unavailable,
        shard_count: snapshot.shards.len() as u32,
        consistency: level,
        topology: Arc::clone(topology),
        read_start,
        order,
        needed,
    }
}
