//! Routing benchmarks: our router beside the two baselines, in the same run,
//! so every figure can be read as a ratio on a noisy machine.
//!
//! - *naive*: the architecture's first design written plainly: a
//!   `DashMap<u32, Shard>` with the standard hasher, deep-cloning the shard
//!   on every route; built by scanning every node's lists for every shard.
//! - *limit*: a plain `Vec<Shard>` indexed with the same modulo, with no
//!   synchronisation at all.
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench routing`.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dashmap::DashMap;
use rusts_cluster::{
    ClusterConfig, NodeConfig, Shard, ShardKey, ShardKeyRef, ShardRouter, ShardingStrategy,
};

/// A cluster of `nodes` nodes and `shards` shards, each with `rf` copies on
/// consecutive nodes.
fn cluster(shards: usize, nodes: usize, rf: usize) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("node0", "10.0.0.1:8086");
    config.shard_count = shards;
    config.replication_factor = rf;
    config.nodes = (0..nodes)
        .map(|i| {
            NodeConfig::new(
                format!("node{i}"),
                format!("10.0.{}.{}:8086", i / 250, i % 250 + 1),
            )
        })
        .collect();
    for s in 0..shards {
        config.nodes[s % nodes].shards.push(s as u32);
        for r in 1..rf {
            config.nodes[(s + r) % nodes].replica_shards.push(s as u32);
        }
    }
    config
}

/// The naive build: for every shard, scan every node's lists.
fn naive_build(config: &ClusterConfig) -> DashMap<u32, Shard> {
    let map = DashMap::new();
    for s in 0..config.shard_count as u32 {
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

/// Pseudo-random keys: the same sequence every run.
fn keys(count: usize) -> Vec<ShardKey> {
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

fn route(c: &mut Criterion) {
    // 64 shards on 8 nodes with RF 3, as in shared/experiments/router-structures.
    let config = cluster(64, 8, 3);
    let router = ShardRouter::from_config(&config).unwrap();
    let naive = naive_build(&config);
    let limit: Vec<Shard> = router
        .all_shards()
        .iter()
        .map(|s| Shard::clone(s))
        .collect();
    let strategy = config.sharding_strategy;
    let n = config.shard_count as u32;
    let keys = keys(1024);

    let mut group = c.benchmark_group("route");
    group.throughput(Throughput::Elements(keys.len() as u64));
    group.bench_function("naive", |b| {
        b.iter(|| {
            for key in &keys {
                let id = strategy.compute_shard(key, n);
                let shard = naive.get(&id).map(|s| s.clone()).unwrap();
                black_box(shard.state);
            }
        })
    });
    group.bench_function("ours", |b| {
        b.iter(|| {
            for key in &keys {
                black_box(router.route(key).unwrap().state);
            }
        })
    });
    group.bench_function("ours_borrowed_key", |b| {
        b.iter(|| {
            for key in &keys {
                let key = ShardKeyRef::new(&key.measurement, key.series_id, key.timestamp);
                black_box(router.route(key).unwrap().state);
            }
        })
    });
    group.bench_function("limit", |b| {
        b.iter(|| {
            for key in &keys {
                black_box(limit[strategy.compute_shard(key, n) as usize].state);
            }
        })
    });
    group.finish();
}

fn compute_shard(c: &mut Criterion) {
    let keys = keys(1024);
    let mut group = c.benchmark_group("compute_shard");
    group.throughput(Throughput::Elements(keys.len() as u64));
    let strategies = [
        ("ByMeasurement", ShardingStrategy::ByMeasurement),
        ("BySeries", ShardingStrategy::BySeries),
        (
            "ByTime",
            ShardingStrategy::ByTime {
                duration_nanos: 3_600_000_000_000,
            },
        ),
        (
            "Composite",
            ShardingStrategy::Composite {
                time_duration_nanos: 3_600_000_000_000,
            },
        ),
    ];
    for (name, strategy) in strategies {
        group.bench_function(name, |b| {
            b.iter(|| {
                for key in &keys {
                    black_box(strategy.compute_shard(key, black_box(4096)));
                }
            })
        });
    }
    group.finish();
}

fn from_config(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_config");
    group.sample_size(10);
    for (shards, nodes) in [(16, 4), (4096, 64)] {
        let config = cluster(shards, nodes, 3);
        group.bench_with_input(BenchmarkId::new("naive", shards), &config, |b, config| {
            b.iter(|| naive_build(config))
        });
        group.bench_with_input(BenchmarkId::new("ours", shards), &config, |b, config| {
            b.iter(|| ShardRouter::from_config(config).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, route, compute_shard, from_config);
criterion_main!(benches);
