//! Routing benchmarks: our code beside two baselines, in the same run, so
//! every figure can be read as a ratio on a noisy machine.
//!
//! - *naive*: the straightforward design written plainly: a
//!   `DashMap<u32, Shard>` with the standard hasher, deep-cloning the shard
//!   on every route; a config built and validated by scanning every node's
//!   lists for every shard; a quorum counted with a `HashSet`.
//! - *limit*: the least work that gives the same answer: a plain
//!   `Vec<Shard>` indexed with the strategy's `%`, no synchronisation at all;
//!   cloning an already built table; counting successes without looking at
//!   who sent them.
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench routing`; the ratio
//! table: `cargo run -p rusts-cluster-benches --bin bench-ratios`.
//! Thread scaling is in `concurrency.rs`.

use std::{collections::HashSet, hint::black_box};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rusts_cluster::{
    ClusterConfig, ReplicationAck, ReplicationMode, ReplicationProtocol, Shard, ShardKeyRef,
    ShardMapper, ShardRouter, ShardingStrategy,
};
use rusts_cluster_benches::{keys, naive_build, NaiveRouter};
use rusts_cluster_config::strategies::round_robin_cluster;

fn route(c: &mut Criterion) {
    // 64 shards on 8 nodes with RF 3, as in shared/experiments/router-structures.
    let config = round_robin_cluster(64, 8, 3);
    let router = ShardRouter::from_config(&config).unwrap();
    let naive = NaiveRouter::new(&config);
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
                black_box(naive.route(key).state);
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
    group.bench_function("ours_reader", |b| {
        let mut reader = router.reader();
        b.iter(|| {
            for key in &keys {
                black_box(reader.route(key).unwrap().state);
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

fn route_batch(c: &mut Criterion) {
    // 4096 shards on 64 nodes with RF 3.
    let config = round_robin_cluster(4096, 64, 3);
    let router = ShardRouter::from_config(&config).unwrap();
    let naive = NaiveRouter::new(&config);
    let limit: Vec<Shard> = router
        .all_shards()
        .iter()
        .map(|s| Shard::clone(s))
        .collect();
    let strategy = config.sharding_strategy;
    let n = config.shard_count as u32;

    let mut group = c.benchmark_group("route_batch");
    for count in [1_000usize, 100_000] {
        let keys = keys(count);
        group.throughput(Throughput::Elements(count as u64));
        group.bench_with_input(BenchmarkId::new("naive", count), &keys, |b, keys| {
            b.iter(|| {
                for key in keys {
                    black_box(naive.route(key).state);
                }
            })
        });
        group.bench_with_input(BenchmarkId::new("ours", count), &keys, |b, keys| {
            b.iter(|| {
                let batch = router.route_batch(keys).unwrap();
                black_box(batch.group_count());
                batch
            })
        });
        group.bench_with_input(BenchmarkId::new("limit", count), &keys, |b, keys| {
            b.iter(|| {
                for key in keys {
                    black_box(limit[strategy.compute_shard(key, n) as usize].state);
                }
            })
        });
    }
    group.finish();
}

fn compute_shard(c: &mut Criterion) {
    let keys = keys(1024);
    let n = 4096;
    let mut group = c.benchmark_group("compute_shard");
    group.throughput(Throughput::Elements(keys.len() as u64));
    let strategies = [
        ("ByMeasurement", ShardingStrategy::ByMeasurement),
        ("BySeries", ShardingStrategy::BySeries),
        (
            "ByTime",
            ShardingStrategy::by_time(3_600_000_000_000).unwrap(),
        ),
        (
            "Composite",
            ShardingStrategy::composite(3_600_000_000_000).unwrap(),
        ),
    ];
    for (name, strategy) in strategies {
        let mapper = ShardMapper::new(strategy, n);
        // naive: the formula with hardware division, as `compute_shard` is.
        group.bench_function(BenchmarkId::new("naive", name), |b| {
            b.iter(|| {
                for key in &keys {
                    black_box(strategy.compute_shard(key, black_box(n)));
                }
            })
        });
        group.bench_function(BenchmarkId::new("ours", name), |b| {
            b.iter(|| {
                for key in &keys {
                    black_box(mapper.compute_shard(key));
                }
            })
        });
        // limit: only reading the fields the formula reads.
        group.bench_function(BenchmarkId::new("limit", name), |b| {
            b.iter(|| {
                for key in &keys {
                    black_box((key.series_id, key.timestamp, key.measurement.len()));
                }
            })
        });
    }
    group.finish();
}

/// (shards, nodes) for the build and validation groups, all RF 3.
const SIZES: [(usize, usize); 3] = [(16, 4), (4096, 256), (65_536, 256)];

fn from_config(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_config");
    group.sample_size(10);
    for (shards, nodes) in SIZES {
        let config = round_robin_cluster(shards, nodes, 3);
        group.throughput(Throughput::Elements(shards as u64));
        group.bench_with_input(BenchmarkId::new("naive", shards), &config, |b, config| {
            b.iter(|| naive_build(config))
        });
        group.bench_with_input(BenchmarkId::new("ours", shards), &config, |b, config| {
            b.iter(|| ShardRouter::from_config(config).unwrap())
        });
        // limit: copying the finished table, the allocations any build makes.
        let built: Vec<Shard> = ShardRouter::from_config(&config)
            .unwrap()
            .all_shards()
            .iter()
            .map(|s| Shard::clone(s))
            .collect();
        group.bench_with_input(BenchmarkId::new("limit", shards), &built, |b, built| {
            b.iter(|| built.clone())
        });
    }
    group.finish();
}

/// The naive validation: for every shard, scan every node's lists to count
/// its primaries and find replicas on the primary.
fn naive_validate(config: &ClusterConfig) -> usize {
    let mut problems = 0;
    for s in 0..config.shard_count as u32 {
        let primaries: Vec<_> = config
            .nodes
            .iter()
            .filter(|n| n.shards.contains(&s))
            .collect();
        if primaries.len() != 1 {
            problems += 1;
        }
        for node in &config.nodes {
            if node.replica_shards.contains(&s) && primaries.iter().any(|p| p.id == node.id) {
                problems += 1;
            }
        }
    }
    problems
}

fn validate(c: &mut Criterion) {
    let mut group = c.benchmark_group("validate");
    group.sample_size(10);
    for (shards, nodes) in SIZES {
        let config = round_robin_cluster(shards, nodes, 3);
        group.throughput(Throughput::Elements(shards as u64));
        group.bench_with_input(BenchmarkId::new("naive", shards), &config, |b, config| {
            b.iter(|| assert_eq!(naive_validate(config), 0))
        });
        group.bench_with_input(BenchmarkId::new("ours", shards), &config, |b, config| {
            b.iter(|| config.validate().unwrap())
        });
        // limit: reading every listed id once.
        group.bench_with_input(BenchmarkId::new("limit", shards), &config, |b, config| {
            b.iter(|| {
                config
                    .nodes
                    .iter()
                    .flat_map(|n| n.shards.iter().chain(&n.replica_shards))
                    .map(|&s| u64::from(s))
                    .sum::<u64>()
            })
        });
    }
    group.finish();
}

fn toml_parse(c: &mut Criterion) {
    // The largest config of the build groups: 65,536 shards, 256 nodes, RF 3.
    let text = round_robin_cluster(65_536, 256, 3).to_toml().unwrap();
    let mut group = c.benchmark_group("toml_parse");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(text.len() as u64));
    // naive: parse into a generic table, then deserialize from it.
    group.bench_function("naive", |b| {
        b.iter(|| {
            let table: toml::Table = text.parse().unwrap();
            let config: ClusterConfig = table.try_into().unwrap();
            config
        })
    });
    group.bench_function("ours", |b| {
        b.iter(|| ClusterConfig::from_toml(&text).unwrap())
    });
    // limit: the toml crate's own generic parse, with no typed config.
    group.bench_function("limit", |b| b.iter(|| text.parse::<toml::Table>().unwrap()));
    group.finish();
}

fn check_quorum(c: &mut Criterion) {
    let mut group = c.benchmark_group("check_quorum");
    for copies in [3usize, 5] {
        let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, copies);
        let acks: Vec<ReplicationAck> = (0..copies)
            .map(|i| {
                if i == 1 {
                    ReplicationAck::failure(format!("node{i}"), "timeout", 7)
                } else {
                    ReplicationAck::success(format!("node{i}"), 7)
                }
            })
            .collect();
        let needed = protocol.required_acks();
        group.bench_with_input(BenchmarkId::new("naive", copies), &acks, |b, acks| {
            b.iter(|| {
                let nodes: HashSet<&str> = acks
                    .iter()
                    .filter(|a| a.success)
                    .map(|a| a.node_id.as_str())
                    .collect();
                black_box(nodes.len() >= needed)
            })
        });
        group.bench_with_input(BenchmarkId::new("ours", copies), &acks, |b, acks| {
            b.iter(|| protocol.check_quorum(black_box(acks)))
        });
        group.bench_with_input(BenchmarkId::new("limit", copies), &acks, |b, acks| {
            b.iter(|| black_box(acks.iter().filter(|a| a.success).count() >= needed))
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    compute_shard,
    route,
    route_batch,
    from_config,
    validate,
    toml_parse,
    check_quorum
);
criterion_main!(benches);
