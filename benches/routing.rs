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

use std::{
    collections::{HashMap, HashSet},
    hint::black_box,
};

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use rusts_cluster::{
    ClusterConfig, Query, ReadConsistency, ReplicationAck, ReplicationMode, ReplicationProtocol,
    Shard, ShardKeyRef, ShardMapper, ShardRouter, ShardingStrategy,
};
use rusts_cluster_benches::{joining, keys, naive_build, Contenders};
use rusts_cluster_config::strategies::round_robin_cluster;

fn route(c: &mut Criterion) {
    // 64 shards on 8 nodes with RF 3, as in shared/experiments/router-structures.
    let contenders = Contenders::new(64, 8, 3);
    let (router, naive) = (&contenders.router, &contenders.naive);
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
                black_box(contenders.limit_route(key).state);
            }
        })
    });
    group.finish();
}

fn route_batch(c: &mut Criterion) {
    // 4096 shards on 64 nodes with RF 3.
    let contenders = Contenders::new(4096, 64, 3);
    let (router, naive) = (&contenders.router, &contenders.naive);

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
                    black_box(contenders.limit_route(key).state);
                }
            })
        });
    }
    group.finish();
}

fn compute_shard(c: &mut Criterion) {
    let keys = keys(1024);
    // Not a power of two: the prepared divisor's shortcut for those (a mask)
    // would flatter it.
    let n = 1000;
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
const SIZES: [(u32, usize); 3] = [(16, 4), (4096, 256), (65_536, 256)];

/// Times the build only: each variant's output is dropped outside the
/// timing (`iter_with_large_drop`), since freeing an old table is not part
/// of building a new one.
fn from_config(c: &mut Criterion) {
    let mut group = c.benchmark_group("from_config");
    group.sample_size(10);
    for (shards, nodes) in SIZES {
        let config = round_robin_cluster(shards, nodes, 3);
        group.throughput(Throughput::Elements(shards as u64));
        group.bench_with_input(BenchmarkId::new("naive", shards), &config, |b, config| {
            b.iter_with_large_drop(|| naive_build(config))
        });
        group.bench_with_input(BenchmarkId::new("ours", shards), &config, |b, config| {
            b.iter_with_large_drop(|| ShardRouter::from_config(config).unwrap())
        });
        // limit: copying the finished table, the allocations any build makes.
        let built: Vec<Shard> = ShardRouter::from_config(&config)
            .unwrap()
            .all_shards()
            .iter()
            .map(|s| Shard::clone(s))
            .collect();
        group.bench_with_input(BenchmarkId::new("limit", shards), &built, |b, built| {
            b.iter_with_large_drop(|| built.clone())
        });
    }
    group.finish();
}

/// `ShardRouter::apply` beside building a new router from the same config:
/// *moved* applies a placement in which every shard's copies changed
/// (alternating a placement and step 1 of a transition from it, in which
/// every shard gains a joining copy: each is a step `apply` takes after the
/// other), *unchanged* a new generation of the same placement.
/// Unlike `from_config`'s, apply's time includes freeing the snapshot it
/// replaces, since that happens inside the call.
fn apply(c: &mut Criterion) {
    let mut group = c.benchmark_group("apply");
    group.sample_size(10);
    for (shards, nodes) in SIZES {
        let placements = {
            let a = round_robin_cluster(shards, nodes, 3);
            let b = joining(&a);
            [a, b]
        };
        group.throughput(Throughput::Elements(shards as u64));
        group.bench_with_input(
            BenchmarkId::new("from_config", shards),
            &placements[1],
            |b, config| b.iter_with_large_drop(|| ShardRouter::from_config(config).unwrap()),
        );
        // What freeing a whole table costs: what a reader would pay if it
        // dropped the last reference to a replaced snapshot.
        group.bench_with_input(
            BenchmarkId::new("drop_router", shards),
            &placements[1],
            |b, config| {
                b.iter_batched(
                    || ShardRouter::from_config(config).unwrap(),
                    drop,
                    BatchSize::LargeInput,
                )
            },
        );
        let router = ShardRouter::from_config(&placements[0]).unwrap();
        let mut generation = 0;
        let mut next = |moved: bool| {
            generation += 1;
            let mut config = placements[if moved { (generation % 2) as usize } else { 0 }].clone();
            config.generation = generation;
            config
        };
        group.bench_function(BenchmarkId::new("ours_moved", shards), |b| {
            b.iter_batched(
                || next(true),
                |config| router.apply(&config).unwrap(),
                BatchSize::LargeInput,
            )
        });
        // Back on placement 0, so that "unchanged" changes nothing.
        router.apply(&next(false)).unwrap();
        group.bench_function(BenchmarkId::new("ours_unchanged", shards), |b| {
            b.iter_batched(
                || next(false),
                |config| router.apply(&config).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    group.finish();
}

/// The naive validation: for every shard, scan every node's lists to count
/// its primaries and find replicas on the primary.
fn naive_validate(config: &ClusterConfig) -> usize {
    let mut problems = 0;
    for s in 0..config.shard_count {
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
        // Every variant returns the answers it was given, as the
        // `ReplicationResult` that `check_quorum` returns owns them.
        group.bench_with_input(BenchmarkId::new("naive", copies), &acks, |b, acks| {
            b.iter(|| {
                let nodes: HashSet<&str> = acks
                    .iter()
                    .filter(|a| a.success)
                    .map(|a| a.node_id.as_str())
                    .collect();
                (nodes.len() >= needed, acks.to_vec())
            })
        });
        group.bench_with_input(BenchmarkId::new("ours", copies), &acks, |b, acks| {
            b.iter(|| protocol.check_quorum(black_box(acks)))
        });
        group.bench_with_input(BenchmarkId::new("limit", copies), &acks, |b, acks| {
            b.iter(|| {
                (
                    acks.iter().filter(|a| a.success).count() >= needed,
                    acks.to_vec(),
                )
            })
        });
    }
    group.finish();
}

fn plan_query(c: &mut Criterion) {
    const HOUR: i64 = 3_600_000_000_000;
    let now = 472_222 * HOUR;
    let series: Vec<u64> = keys(1000).iter().map(|k| k.series_id).collect();
    let cases = [
        (
            "ByTime_1h",
            ShardingStrategy::by_time(HOUR).unwrap(),
            Query::new().time_range(now - HOUR..now),
        ),
        (
            "ByTime_30d",
            ShardingStrategy::by_time(HOUR).unwrap(),
            Query::new().time_range(now - 720 * HOUR..now),
        ),
        (
            "Composite_1h_10_series",
            ShardingStrategy::composite(HOUR).unwrap(),
            Query::new()
                .series(&series[..10])
                .time_range(now - HOUR..now),
        ),
        (
            "Composite_30d_10_series",
            ShardingStrategy::composite(HOUR).unwrap(),
            Query::new()
                .series(&series[..10])
                .time_range(now - 720 * HOUR..now),
        ),
        (
            "BySeries_1000_series",
            ShardingStrategy::BySeries,
            Query::new().series(&series),
        ),
    ];
    let mut group = c.benchmark_group("plan_query");
    for (name, strategy, query) in cases {
        // 4096 shards on 64 nodes with RF 3.
        let mut config = round_robin_cluster(4096, 64, 3);
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        let mapper = ShardMapper::new(strategy, 4096);
        // naive: no pruning, every shard read from its primary.
        group.bench_function(BenchmarkId::new("naive", name), |b| {
            b.iter(|| {
                let mut per_node: HashMap<String, Vec<u32>> = HashMap::new();
                for shard in router.all_shards() {
                    per_node
                        .entry(shard.primary.clone())
                        .or_default()
                        .push(shard.id);
                }
                per_node
            })
        });
        group.bench_function(BenchmarkId::new("ours", name), |b| {
            b.iter(|| router.plan_query(&query).unwrap())
        });
        // The same query read at Quorum: two of each shard's three copies.
        let quorum = query.clone().consistency(ReadConsistency::Quorum);
        group.bench_function(BenchmarkId::new("ours_quorum", name), |b| {
            b.iter(|| router.plan_query(&quorum).unwrap())
        });
        // limit: the shard ids alone, by the shortest code that gets them
        // right for this query, with no replica choice.
        group.bench_function(BenchmarkId::new("limit", name), |b| {
            b.iter(|| {
                let mut shards: Vec<u32> = match (query.get_series(), query.get_time_range()) {
                    (Some(ids), Some(range)) => {
                        let (first, last) = (
                            mapper.time_bucket(range.start),
                            mapper.time_bucket(range.end - 1),
                        );
                        ids.iter()
                            .flat_map(|&s| {
                                (first..=last).map(move |b| mapper.shard_of_series_in_bucket(s, b))
                            })
                            .collect()
                    }
                    (Some(ids), None) => ids
                        .iter()
                        .map(|&s| mapper.compute_shard(ShardKeyRef::new("", s, 0)))
                        .collect(),
                    (None, Some(range)) => (mapper.time_bucket(range.start)
                        ..=mapper.time_bucket(range.end - 1))
                        .map(|b| mapper.shard_of_bucket(b))
                        .collect(),
                    (None, None) => (0..4096).collect(),
                };
                shards.sort_unstable();
                shards.dedup();
                shards
            })
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
    apply,
    validate,
    toml_parse,
    check_quorum,
    plan_query
);
criterion_main!(benches);
