use std::collections::{HashMap, HashSet};

use arbitrary::{Arbitrary, Unstructured};
use rusts_cluster_config::{ClusterConfig, ConfigError, NodeConfig, MAX_SHARD_COUNT};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardId, ShardKeyRef, ShardingStrategy};

/// Keys routed through every router the config targets build, chosen to hit
/// the edges of each strategy's formula.
const FIXED_KEYS: [(&str, u64, i64); 6] = [
    ("cpu", 0, 0),
    ("", u64::MAX, i64::MAX),
    ("mem", 42, i64::MIN),
    ("disk", 1, -1),
    ("ünïcode", 7, 1_700_000_000_000_000_000),
    ("cpu", 1 << 63, -3_600_000_000_000),
];

/// The `config_toml` target: `data` as the bytes of a config file.
///
/// Never panics in the library. Checks that a refused file gets a parse
/// error with a location inside the text; that a parsed config validates
/// exactly when a router builds; that a validated config is sound (see
/// [`config_structured`]); and that saving and loading it gives an equal
/// config that validates and warns the same way.
pub fn config_toml(data: &[u8]) {
    let text = match std::str::from_utf8(data) {
        Ok(text) => text,
        Err(e) => {
            // What `from_file` reports for such bytes.
            let at = rusts_cluster_config::Location::of_offset(data, e.valid_up_to());
            let lines = data.iter().filter(|&&b| b == b'\n').count() + 1;
            assert!(at.line >= 1 && at.line <= lines && at.column >= 1, "{at:?}");
            return;
        }
    };
    match ClusterConfig::from_toml(text) {
        Err(e) => check_parse_error(text, &e),
        Ok(config) => {
            let text = config
                .to_toml()
                .unwrap_or_else(|e| panic!("a config read from TOML cannot be saved: {e}"));
            check_config(&config, Some(&text), &[]);
        }
    }
}

/// The `config_structured` target: `data` read as a [`StructuredConfig`].
///
/// Checks that [`ClusterConfig::validate`] is `Ok` exactly when
/// [`ShardRouter::from_config`] builds; that a validated config obeys the
/// rules as an independent, simpler check states them (one primary per
/// shard, ids in range, ...); that the router routes every key to a shard
/// that exists, whose primary and replicas are nodes of the config holding
/// that shard; and, for configs whose node ids and addresses are all
/// distinct and well formed, that validation passes exactly when that
/// simpler check does.
pub fn config_structured(data: &[u8]) {
    let Ok(input) = StructuredConfig::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let config = input.to_config();
    let keys: Vec<(&str, u64, i64)> = input
        .keys
        .iter()
        .map(|(m, s, t)| (m.as_str(), *s, *t))
        .chain(FIXED_KEYS)
        .collect();
    // Saving and loading back is checked on configs of up to 4,096 listed
    // shards: a cluster at the shard limit is megabytes of TOML, which would
    // slow the fuzzer a thousandfold for a path the config_toml target and
    // the crate's own tests already cover.
    let listed: usize = config
        .nodes
        .iter()
        .map(|n| n.shards.len() + n.replica_shards.len())
        .sum();
    let saved = if listed <= 4096 {
        config.to_toml().ok()
    } else {
        None
    };
    let valid = check_config(&config, saved.as_deref(), &keys);
    if input.tidy {
        assert_eq!(
            valid,
            follows_rules(&config),
            "with distinct, well-formed ids and addresses, validation must pass exactly when \
             the rules hold: {config:?}"
        );
    }
}

/// The most shards [`StructuredConfig::round_robin`] lays out.
pub const ROUND_ROBIN_MAX_SHARDS: usize = 1024;

/// A cluster config in a form that `arbitrary` builds from fuzzer bytes,
/// biased toward the values validation cares about (small shard ids, the
/// shard-count limit, extreme numbers) so that the fuzzer reaches the rules
/// that random text rarely does.
#[derive(Arbitrary, Debug, Clone)]
pub struct StructuredConfig {
    /// `node_id`.
    pub node_id: Name,
    /// `replication_mode`.
    pub replication_mode: Mode,
    /// `replication_factor`.
    pub replication_factor: Count,
    /// `shard_count`.
    pub shard_count: Count,
    /// `sharding_strategy`.
    pub strategy: Strategy,
    /// When set, each shard `s` is given to node `s % nodes` as primary and
    /// to the next `replicas` nodes as replica, before each node's own
    /// lists are appended: this makes valid configs common. Only for up to
    /// [`ROUND_ROBIN_MAX_SHARDS`] shards, to keep each run fast.
    pub round_robin: Option<u8>,
    /// When true, node ids become `node0`, `node1`, ..., addresses become
    /// distinct valid ones, and `node_id` names one of the nodes.
    pub tidy: bool,
    /// `nodes`.
    pub nodes: Vec<StructuredNode>,
    /// Keys to route when the config validates: measurement, series id,
    /// timestamp.
    pub keys: Vec<(String, u64, i64)>,
}

/// One node of a [`StructuredConfig`].
#[derive(Arbitrary, Debug, Clone)]
pub struct StructuredNode {
    /// `id`.
    pub id: Name,
    /// `address`.
    pub address: Address,
    /// `shards`.
    pub shards: Vec<Shard>,
    /// `replica_shards`.
    pub replica_shards: Vec<Shard>,
    /// `tags`.
    pub tags: Vec<(String, String)>,
}

/// A node id: mostly from a small pool, so that ids collide and match
/// `node_id`.
#[derive(Arbitrary, Debug, Clone)]
pub enum Name {
    /// `node{n % 8}`.
    Pool(u8),
    /// The empty id.
    Empty,
    /// Any string.
    Any(String),
}

impl Name {
    pub(crate) fn to_id(&self) -> String {
        match self {
            Name::Pool(n) => format!("node{}", n % 8),
            Name::Empty => String::new(),
            Name::Any(s) => s.clone(),
        }
    }
}

/// A node address.
#[derive(Arbitrary, Debug, Clone)]
pub enum Address {
    /// `10.0.0.{n}:8086`.
    Ipv4(u8),
    /// `[fd00::{n}]:{port}`, any port including 0.
    Ipv6(u16, u16),
    /// `db{n % 4}.example.com:8086`, colliding with other spellings by case.
    Dns(u8, bool),
    /// Any string.
    Any(String),
}

impl Address {
    fn to_address(&self) -> String {
        match self {
            Address::Ipv4(n) => format!("10.0.0.{n}:8086"),
            Address::Ipv6(n, port) => format!("[fd00::{n:x}]:{port}"),
            Address::Dns(n, upper) => {
                let a = format!("db{}.example.com:8086", n % 4);
                if *upper {
                    a.to_uppercase()
                } else {
                    a
                }
            }
            Address::Any(s) => s.clone(),
        }
    }
}

/// A count (`shard_count`, `replication_factor`).
///
/// Built from a selector byte rather than derived, so that the costly
/// counts near the shard limit (each run then validates 262,144 shards) are
/// 1 in 32 instead of 1 in 3 of the fuzzer's inputs.
#[derive(Debug, Clone, Copy)]
pub enum Count {
    /// `n % 20`.
    Small(u8),
    /// `MAX_SHARD_COUNT + delta`, at least 0.
    NearLimit(i8),
    /// Any value, `usize::MAX` and `u32::MAX + 1` included.
    Any(usize),
}

impl<'a> Arbitrary<'a> for Count {
    fn arbitrary(u: &mut Unstructured<'a>) -> arbitrary::Result<Self> {
        Ok(match u8::arbitrary(u)? {
            0..=231 => Count::Small(u8::arbitrary(u)?),
            232..=239 => Count::NearLimit(i8::arbitrary(u)?),
            _ => Count::Any(usize::arbitrary(u)?),
        })
    }
}

impl Count {
    pub(crate) fn value(self) -> usize {
        match self {
            Count::Small(n) => usize::from(n % 20),
            Count::NearLimit(d) => (MAX_SHARD_COUNT as i64 + i64::from(d)) as usize,
            Count::Any(n) => n,
        }
    }
}

/// A shard id in a node's list.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Shard {
    /// `n % 24`: mostly in range of a small `shard_count`.
    Small(u8),
    /// Any id, `u32::MAX` included.
    Any(u32),
}

impl Shard {
    fn id(self) -> ShardId {
        match self {
            Shard::Small(n) => ShardId::from(n % 24),
            Shard::Any(n) => n,
        }
    }
}

/// A replication mode.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Mode {
    /// [`ReplicationMode::Synchronous`].
    Synchronous,
    /// [`ReplicationMode::Quorum`].
    Quorum,
    /// [`ReplicationMode::Asynchronous`].
    Asynchronous,
}

impl Mode {
    pub(crate) fn mode(self) -> ReplicationMode {
        match self {
            Mode::Synchronous => ReplicationMode::Synchronous,
            Mode::Quorum => ReplicationMode::Quorum,
            Mode::Asynchronous => ReplicationMode::Asynchronous,
        }
    }
}

/// A sharding strategy with any durations, zero and negative included.
#[derive(Arbitrary, Debug, Clone, Copy)]
pub enum Strategy {
    /// [`ShardingStrategy::ByMeasurement`].
    ByMeasurement,
    /// [`ShardingStrategy::BySeries`].
    BySeries,
    /// [`ShardingStrategy::ByTime`] with this duration.
    ByTime(i64),
    /// [`ShardingStrategy::Composite`] with this duration.
    Composite(i64),
}

impl Strategy {
    pub(crate) fn strategy(self) -> ShardingStrategy {
        match self {
            Strategy::ByMeasurement => ShardingStrategy::ByMeasurement,
            Strategy::BySeries => ShardingStrategy::BySeries,
            Strategy::ByTime(duration_nanos) => ShardingStrategy::ByTime { duration_nanos },
            Strategy::Composite(time_duration_nanos) => ShardingStrategy::Composite {
                time_duration_nanos,
            },
        }
    }
}

impl StructuredConfig {
    /// The cluster config this describes.
    pub fn to_config(&self) -> ClusterConfig {
        // A count past u32 cannot be written in a config (the parser
        // refuses it); the largest u32 is as far past the limit.
        let shard_count = u32::try_from(self.shard_count.value()).unwrap_or(u32::MAX);
        let mut nodes: Vec<NodeConfig> = self
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                let mut node = if self.tidy {
                    NodeConfig::new(
                        format!("node{i}"),
                        format!("10.1.{}.{}:8086", i / 256, i % 256),
                    )
                } else {
                    NodeConfig::new(n.id.to_id(), n.address.to_address())
                };
                node.tags = n.tags.iter().cloned().collect();
                node
            })
            .collect();
        if let Some(replicas) = self.round_robin {
            // Bounded: a valid cluster of MAX_SHARD_COUNT shards costs
            // milliseconds per run under the sanitizer; the limit itself is
            // tested in the config crate.
            if !nodes.is_empty() && shard_count as usize <= ROUND_ROBIN_MAX_SHARDS {
                let len = nodes.len();
                for s in 0..shard_count as usize {
                    nodes[s % len].shards.push(s as ShardId);
                    for r in 1..=usize::from(replicas).min(len - 1) {
                        nodes[(s + r) % len].replica_shards.push(s as ShardId);
                    }
                }
            }
        }
        for (node, n) in nodes.iter_mut().zip(&self.nodes) {
            node.shards.extend(n.shards.iter().map(|s| s.id()));
            node.replica_shards
                .extend(n.replica_shards.iter().map(|s| s.id()));
        }
        let node_id = match (&self.node_id, self.tidy, nodes.len()) {
            (Name::Pool(n), true, len) if len > 0 => nodes[usize::from(*n) % len].id.clone(),
            (name, _, _) => name.to_id(),
        };
        ClusterConfig {
            node_id,
            generation: 0,
            cluster_name: "fuzz".to_owned(),
            replication_mode: self.replication_mode.mode(),
            replication_factor: self.replication_factor.value(),
            shard_count,
            sharding_strategy: self.strategy.strategy(),
            read_only_shards: Vec::new(),
            offline_shards: Vec::new(),
            move_reads: Default::default(),
            split_from: None,
            nodes,
        }
    }
}

fn check_parse_error(text: &str, e: &ConfigError) {
    let ConfigError::Parse {
        path,
        location,
        message,
    } = e
    else {
        panic!("from_toml gave a non-parse error: {e:?}");
    };
    assert!(path.is_none());
    assert!(!message.is_empty(), "empty parse message: {e:?}");
    if let Some(at) = location {
        let lines = text.lines().count().max(1) + 1;
        assert!(
            at.line >= 1 && at.line <= lines && at.column >= 1,
            "location {at:?} outside the text ({lines} lines)"
        );
    }
    assert!(!e.to_string().is_empty());
}

/// The checks common to both config targets. `saved` is the config as
/// `to_toml` wrote it, when it could (a count above `i64::MAX` cannot be
/// written as TOML). Returns whether the config validated.
fn check_config(config: &ClusterConfig, saved: Option<&str>, keys: &[(&str, u64, i64)]) -> bool {
    let validated = config.validate();
    let warnings = config.warnings();
    for w in &warnings {
        assert!(!w.to_string().is_empty() && !w.code().is_empty());
    }
    let router = ShardRouter::from_config(config);
    assert_eq!(
        validated.is_ok(),
        router.is_ok(),
        "validate and from_config disagree: {validated:?} / {:?}",
        router.as_ref().err()
    );
    match (&validated, router) {
        (Err(e), _) => {
            assert!(
                matches!(e, ConfigError::Invalid { .. }),
                "validate gave {e:?}"
            );
            assert!(!e.validation_errors().is_empty(), "Invalid with no errors");
            for v in e.validation_errors() {
                assert!(!v.to_string().is_empty() && !v.code().is_empty());
            }
            assert!(!e.to_string().is_empty());
        }
        (Ok(()), Ok(router)) => {
            assert!(
                follows_rules(config),
                "validate passed a config that breaks a rule: {config:?}"
            );
            check_router(config, &router, keys);
        }
        (Ok(()), Err(_)) => unreachable!("checked equal above"),
    }
    if let Some(text) = saved {
        let back = ClusterConfig::from_toml(text)
            .unwrap_or_else(|e| panic!("saved config does not load: {e}\n{text}"));
        assert_eq!(
            &back, config,
            "saved and loaded, the config changed:\n{text}"
        );
        assert_eq!(
            back.validate()
                .err()
                .map(|e| e.validation_errors().to_vec()),
            validated
                .as_ref()
                .err()
                .map(|e| e.validation_errors().to_vec()),
            "saved and loaded, the config validates differently"
        );
        assert_eq!(
            back.warnings(),
            warnings,
            "saved and loaded, the warnings differ"
        );
    }
    validated.is_ok()
}

/// The router of a validated `config` routes every key to a shard that
/// exists, whose primary and replicas are nodes of the config that list it.
fn check_router(config: &ClusterConfig, router: &ShardRouter, keys: &[(&str, u64, i64)]) {
    let n = router.shard_count();
    assert_eq!(n, config.shard_count);
    let by_id: HashMap<&str, &NodeConfig> =
        config.nodes.iter().map(|n| (n.id.as_str(), n)).collect();
    let check_shard = |id: ShardId| {
        let shard = router
            .get_shard(id)
            .unwrap_or_else(|| panic!("shard {id} of {n} is missing"));
        assert_eq!(shard.id, id);
        let primary = by_id
            .get(shard.primary.as_str())
            .unwrap_or_else(|| panic!("shard {id}: primary {:?} is not a node", shard.primary));
        assert!(primary.shards.contains(&id), "shard {id}: wrong primary");
        assert_eq!(shard.address.as_deref(), Some(primary.address.as_str()));
        for r in &shard.replicas {
            let node = by_id
                .get(r.as_str())
                .unwrap_or_else(|| panic!("shard {id}: replica {r:?} is not a node"));
            assert!(
                node.replica_shards.contains(&id),
                "shard {id}: wrong replica {r:?}"
            );
        }
    };
    // Every shard of small clusters; a sample of large ones, whose lists
    // would make each check quadratic.
    if n <= 1024 {
        (0..n).for_each(check_shard);
    } else {
        [0, 1, n / 2, n - 1].into_iter().for_each(check_shard);
    }
    assert!(router.get_shard(n).is_none());
    for &(m, series, ts) in keys {
        let key = ShardKeyRef::new(m, series, ts);
        let shard = router
            .route(key)
            .unwrap_or_else(|e| panic!("a valid router failed to route {key:?}: {e}"));
        assert!(shard.id < n);
        assert_eq!(shard.id, config.sharding_strategy.compute_shard(key, n));
        check_shard(shard.id);
    }
}

/// The rules as a simple, independent check, except addresses: every id
/// non-empty and unique, `node_id` empty (no node's: the file every node
/// shares) or one of them, a usable strategy, shard
/// count and replication factor, every listed shard in range and listed once
/// per list, no replica on its own primary, and exactly one primary per
/// shard.
fn follows_rules(config: &ClusterConfig) -> bool {
    let ids: HashSet<&str> = config.nodes.iter().map(|n| n.id.as_str()).collect();
    if config.nodes.is_empty()
        || ids.len() != config.nodes.len()
        || ids.contains("")
        || !(config.node_id.is_empty() || ids.contains(config.node_id.as_str()))
        || config.sharding_strategy.validate().is_err()
        || !(1..=MAX_SHARD_COUNT).contains(&config.shard_count)
        || !(1..=config.nodes.len()).contains(&config.replication_factor)
    {
        return false;
    }
    let mut primaries = vec![0u32; config.shard_count as usize];
    for node in &config.nodes {
        let primary: HashSet<ShardId> = node.shards.iter().copied().collect();
        let replica: HashSet<ShardId> = node.replica_shards.iter().copied().collect();
        if primary.len() != node.shards.len()
            || replica.len() != node.replica_shards.len()
            || primary.intersection(&replica).next().is_some()
            || primary
                .iter()
                .chain(&replica)
                .any(|&s| s >= config.shard_count)
        {
            return false;
        }
        for &s in &primary {
            primaries[s as usize] += 1;
        }
    }
    primaries.iter().all(|&p| p == 1)
}
