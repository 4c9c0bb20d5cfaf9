//! Baselines and inputs shared by the benchmarks: the naive router the
//! issue compares us with, a fixed pseudo-random key sequence, and the
//! thread counts of the scaling benches.

use dashmap::DashMap;
use rusts_cluster::{ClusterConfig, Shard, ShardKey, ShardingStrategy};

/// The naive router: the architecture's first design written plainly, a
/// `DashMap<u32, Shard>` with the standard hasher that deep-clones the shard
/// on every route.
#[derive(Debug)]
pub struct NaiveRouter {
    strategy: ShardingStrategy,
    shard_count: u32,
    shards: DashMap<u32, Shard>,
}

impl NaiveRouter {
    /// Builds it with [`naive_build`].
    pub fn new(config: &ClusterConfig) -> Self {
        NaiveRouter {
            strategy: config.sharding_strategy,
            shard_count: config.shard_count,
            shards: naive_build(config),
        }
    }

    /// Routes a key: compute the shard, look it up, clone it.
    pub fn route(&self, key: &ShardKey) -> Shard {
        let id = self.strategy.compute_shard(key, self.shard_count);
        self.shards.get(&id).map(|s| s.clone()).unwrap()
    }
}

/// The naive build: for every shard, scan every node's lists.
pub fn naive_build(config: &ClusterConfig) -> DashMap<u32, Shard> {
    let map = DashMap::new();
    for s in 0..config.shard_count {
        let primary = config.nodes.iter().find(|n| n.shards.contains(&s)).unwrap();
        let mut shard = Shard::new(s, primary.id.clone());
        shard.address = Some(primary.address.clone());
        for node in &config.nodes {
            if node.replica_shards.contains(&s) {
                shard.replicas.push(node.id.clone());
            }
        }
        map.insert(s, shard);
    }
    map
}

/// `count` pseudo-random keys over four measurements: the same sequence
/// every run.
pub fn keys(count: usize) -> Vec<ShardKey> {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..count)
        .map(|i| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ShardKey::new(
                ["cpu", "mem", "disk", "net"][i % 4],
                x >> 11,
                (x >> 3) as i64,
            )
        })
        .collect()
}

/// The contenders of the routing benches on one cluster: our router, the
/// naive router and the limit, a plain `Vec<Shard>` indexed with the
/// strategy's `%`.
#[derive(Debug)]
pub struct Contenders {
    /// The cluster: `round_robin_cluster(shards, nodes, rf)`.
    pub config: ClusterConfig,
    /// Ours.
    pub router: rusts_cluster::ShardRouter,
    /// The naive baseline.
    pub naive: NaiveRouter,
    /// The limit's table.
    pub limit: Vec<Shard>,
}

impl Contenders {
    /// All three on `round_robin_cluster(shards, nodes, rf)`.
    pub fn new(shards: u32, nodes: usize, rf: usize) -> Self {
        let config = rusts_cluster_config::strategies::round_robin_cluster(shards, nodes, rf);
        let router = rusts_cluster::ShardRouter::from_config(&config).unwrap();
        let naive = NaiveRouter::new(&config);
        let limit = router
            .all_shards()
            .iter()
            .map(|s| Shard::clone(s))
            .collect();
        Contenders {
            config,
            router,
            naive,
            limit,
        }
    }

    /// The limit's route: index the table with the strategy's `%`.
    #[inline]
    pub fn limit_route(&self, key: &ShardKey) -> &Shard {
        let n = self.config.shard_count;
        &self.limit[self.config.sharding_strategy.compute_shard(key, n) as usize]
    }
}

/// The thread counts a scaling bench runs: `THREADS` (a comma-separated
/// list), or 1, 2 and every core; always with 1, the baseline of the
/// scaling column, first.
pub fn thread_counts() -> Vec<usize> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut counts: Vec<usize> = match std::env::var("THREADS") {
        Ok(list) => list
            .split(',')
            .map(|t| {
                t.trim()
                    .parse()
                    .expect("THREADS is a comma-separated list of numbers")
            })
            .collect(),
        Err(_) => vec![1, 2, cores],
    };
    counts.retain(|&t| t > 0);
    counts.push(1);
    counts.sort_unstable();
    counts.dedup();
    counts
}

/// Step 1 of a transition from `config` (generation and `move_reads`
/// unchanged): every shard gains one copy, joining, on the first node
/// after its copies (in file order) that does not hold it. Every shard's
/// copies differ, and `ShardRouter::apply` takes it after `config` and
/// `config` after it (the way back), so its benches alternate the two.
///
/// # Panics
///
/// When some shard is held by every node.
pub fn joining(config: &ClusterConfig) -> ClusterConfig {
    let mut next = config.clone();
    let n = next.nodes.len();
    let mut holders: Vec<Vec<usize>> = vec![Vec::new(); config.shard_count as usize];
    for (i, node) in config.nodes.iter().enumerate() {
        for &s in node.shards.iter().chain(&node.replica_shards) {
            holders[s as usize].push(i);
        }
    }
    for (s, held) in holders.iter().enumerate() {
        let after = held.iter().max().map_or(0, |&i| i + 1);
        let node = (0..n)
            .map(|k| (after + k) % n)
            .find(|i| !held.contains(i))
            .expect("a node without a copy of the shard");
        next.nodes[node].replica_shards.push(s as u32);
        next.nodes[node].joining_shards.push(s as u32);
    }
    next
}
