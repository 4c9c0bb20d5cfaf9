//! The protocol core's hot paths, each beside its baseline in the same run,
//! on the setting: 256 shards on 6 nodes, RF 3, `Quorum`.
//!
//! - `protocol_route_batch/10000`: `route_batch_by` over 10,000 points
//!   (ours) beside the naive router routing each key alone (naive) and a
//!   plain `Vec<Shard>` indexed with the strategy's `%` (limit). The
//!   coordinator's grouping stands on it.
//! - `protocol_write/10000`: `Core::write` of 10,000 points through to its
//!   outgoing requests (every `Output` polled), per point (ours), beside
//!   `route_batch_by` alone over the same points (limit): what the
//!   coordinator adds to routing. The points are cloned for each write
//!   outside the timing, and the writes expire outside it too, so the core
//!   holds one write in flight at a time.
//! - `protocol_admit/<points>`: a replica's `admit_write` of the request a
//!   10,000-point write sends it, with every admitted point visited and the
//!   answer built, per point (ours), beside `ShardRouter::route` of each of
//!   those points (limit).
//! - `protocol_answer/1000`: `Core::receive` of one write answer (the
//!   first of three, undecided), per answer (ours), beside
//!   `WriteQuorum::record` and `WriteQuorum::record_answer` of one answer
//!   on a three-copy quorum (limit and `record_answer`).
//! - `protocol_expiry/<k>`: `Core::tick` that expires `k` writes of
//!   100,000 in flight, per tick (ours), beside popping `k` deadlines from
//!   a binary heap of 100,000 (limit). New writes replace the expired ones
//!   outside the timing, so the core always holds 100,000.
//! - `protocol_saved/<shards>`: `Core::saved` (ours), beside one
//!   `ClusterConfig::to_toml` of its config (naive), which `saved` did
//!   twice a call before the core kept the config's canonical text.
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench protocol -- --warm-up-time 1 --measurement-time 3`,
//! then `cargo run -p rusts-cluster-benches --bin bench-ratios` for the
//! table (docs/performance.md, "The protocol core").

use std::{
    cmp::Reverse,
    collections::BinaryHeap,
    hint::black_box,
    time::{Duration, Instant},
};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rusts_cluster::{
    protocol::{Message, Options, Output},
    ReplicationAck, ReplicationMode, ShardKeyRef, ShardRouter, WriteQuorum,
};
use rusts_cluster_benches::{keys, NaiveRouter};
use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig};

type Core = rusts_cluster::Core<Sample, ()>;

/// An engine's point: a key and a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    measurement: &'static str,
    series: u64,
    time: i64,
    value: i64,
}

impl rusts_cluster::Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new(self.measurement, self.series, self.time)
    }
}

/// The setting: 256 shards on 6 nodes, RF 3, `Quorum`.
fn cluster() -> ClusterConfig {
    round_robin_cluster(256, 6, 3)
}

fn core(config: &ClusterConfig, node: &str, options: Options) -> Core {
    Core::new(config.clone(), node, options).expect("a valid cluster")
}

/// `count` points on the bench keys (four measurements, pseudo-random
/// series), the same every run.
fn points(count: usize) -> Vec<Sample> {
    const MEASUREMENTS: [&str; 4] = ["cpu", "mem", "disk", "net"];
    keys(count)
        .into_iter()
        .enumerate()
        .map(|(i, key)| Sample {
            measurement: MEASUREMENTS[i % 4],
            series: key.series_id,
            time: key.timestamp,
            value: i as i64,
        })
        .collect()
}

/// Drains a core's outputs, as an engine's loop would, into `sink`.
fn drain(core: &mut Core, sink: &mut Vec<Output<Sample, ()>>) {
    while let Some(output) = core.poll() {
        sink.push(output);
    }
}

const BATCH: usize = 10_000;

/// `route_batch_by` over `points`, as the core routes a write: its group
/// count.
fn route_points(router: &ShardRouter, points: &[Sample]) -> usize {
    router
        .route_batch_by(points, |p| {
            ShardKeyRef::new(p.measurement, p.series, p.time)
        })
        .unwrap()
        .group_count()
}

fn route_batch(c: &mut Criterion) {
    let config = cluster();
    let router = ShardRouter::from_config(&config).unwrap();
    let naive = NaiveRouter::new(&config);
    let limit: Vec<_> = router.all_shards().iter().map(|s| (**s).clone()).collect();
    let points = points(BATCH);
    let mut group = c.benchmark_group("protocol_route_batch");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("naive", BATCH), |b| {
        b.iter(|| {
            for p in &points {
                let key = rusts_cluster::ShardKey::new(p.measurement, p.series, p.time);
                black_box(naive.route(&key).state);
            }
        })
    });
    group.bench_function(BenchmarkId::new("ours", BATCH), |b| {
        b.iter(|| {
            black_box(route_points(&router, &points));
        })
    });
    group.bench_function(BenchmarkId::new("limit", BATCH), |b| {
        let (strategy, n) = (config.sharding_strategy, config.shard_count);
        b.iter(|| {
            for p in &points {
                let key = ShardKeyRef::new(p.measurement, p.series, p.time);
                black_box(limit[strategy.compute_shard(key, n) as usize].state);
            }
        })
    });
    group.finish();
}

fn write(c: &mut Criterion) {
    let config = cluster();
    let options = Options {
        write_timeout: 1,
        ..Options::default()
    };
    let mut core = core(&config, "node0", options);
    let router = ShardRouter::from_config(&config).unwrap();
    let points = points(BATCH);
    let mut group = c.benchmark_group("protocol_write");
    group.throughput(Throughput::Elements(BATCH as u64));
    group.bench_function(BenchmarkId::new("ours", BATCH), |b| {
        let mut now = 0;
        let mut sink = Vec::new();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let batch = points.clone();
                let started = Instant::now();
                core.write(batch, (), now).unwrap();
                drain(&mut core, &mut sink);
                total += started.elapsed();
                // Untimed: the requests are dropped (an engine sends
                // them), and the write expires so that one is in flight.
                black_box(sink.len());
                sink.clear();
                now += 2;
                core.tick(now);
                drain(&mut core, &mut sink);
                sink.clear();
            }
            total
        })
    });
    group.bench_function(BenchmarkId::new("limit", BATCH), |b| {
        b.iter(|| {
            black_box(route_points(&router, &points));
        })
    });
    group.finish();
}

fn admit(c: &mut Criterion) {
    let config = cluster();
    let mut coordinator = core(&config, "node0", Options::default());
    let replica = core(&config, "node1", Options::default());
    coordinator.write(points(BATCH), (), 0).unwrap();
    let mut sink = Vec::new();
    drain(&mut coordinator, &mut sink);
    let request = sink
        .into_iter()
        .find_map(|output| match output {
            Output::Send(peer, Message::Write(request)) if &*peer.node == "node1" => Some(request),
            _ => None,
        })
        .expect("node1 holds copies of some shards");
    let count = request.point_count();
    let router = replica.router();
    let mut group = c.benchmark_group("protocol_admit");
    group.throughput(Throughput::Elements(count as u64));
    group.bench_function(BenchmarkId::new("ours", count), |b| {
        b.iter(|| {
            let admission = replica.admit_write(&request);
            assert!(admission.is_admitted());
            let mut stored = 0u64;
            for (shard, point) in admission.points() {
                stored = stored.wrapping_add(u64::from(shard) ^ point.series);
            }
            black_box(stored);
            black_box(admission.answer(true));
        })
    });
    group.bench_function(BenchmarkId::new("limit", count), |b| {
        b.iter(|| {
            for part in request.shards() {
                for point in part.points() {
                    let key = ShardKeyRef::new(point.measurement, point.series, point.time);
                    black_box(router.route(key).unwrap().id);
                }
            }
        })
    });
    group.finish();
}

/// Answers per round of the answer bench: that many one-point writes are
/// started, untimed, then their first answers received, timed.
const ANSWERS: usize = 1_000;

fn answer(c: &mut Criterion) {
    let config = cluster();
    let mut coordinator = core(&config, "node0", Options::default());
    let replicas: Vec<Core> = (0..6)
        .map(|n| core(&config, &format!("node{n}"), Options::default()))
        .collect();
    let samples = points(ANSWERS);
    let mut group = c.benchmark_group("protocol_answer");
    group.throughput(Throughput::Elements(ANSWERS as u64));
    group.bench_function(BenchmarkId::new("ours", ANSWERS), |b| {
        let mut now = 0;
        let mut sink = Vec::new();
        let mut answers = Vec::with_capacity(ANSWERS);
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                // Untimed: start the writes, and have the first copy each
                // write is sent to admit it and answer.
                for point in &samples {
                    coordinator.write(vec![point.clone()], (), now).unwrap();
                }
                drain(&mut coordinator, &mut sink);
                let mut first = std::collections::HashSet::new();
                for output in sink.drain(..) {
                    if let Output::Send(peer, Message::Write(request)) = output {
                        if first.insert(request.write) {
                            let replica = &replicas[peer.index as usize];
                            answers.push(Message::WriteAnswer(
                                replica.admit_write(&request).answer(true),
                            ));
                        }
                    }
                }
                let started = Instant::now();
                for answer in answers.drain(..) {
                    black_box(coordinator.receive(answer, now));
                }
                total += started.elapsed();
                // Untimed: the writes expire.
                now += Options::default().write_timeout + 1;
                coordinator.tick(now);
                drain(&mut coordinator, &mut sink);
                sink.clear();
            }
            // Per round of ANSWERS answers: criterion's throughput.
            total
        })
    });
    let copies = ["node1", "node2", "node3"];
    let template = WriteQuorum::new(ReplicationMode::Quorum, copies);
    group.bench_function(BenchmarkId::new("limit", ANSWERS), |b| {
        b.iter_batched_ref(
            || vec![template.clone(); ANSWERS],
            |quorums| {
                for quorum in quorums.iter_mut() {
                    black_box(quorum.record(ReplicationAck::success("node1", 1)).unwrap());
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.bench_function(BenchmarkId::new("record_answer", ANSWERS), |b| {
        b.iter_batched_ref(
            || vec![template.clone(); ANSWERS],
            |quorums| {
                for quorum in quorums.iter_mut() {
                    black_box(quorum.record_answer("node1", true).unwrap());
                }
            },
            criterion::BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Writes in flight in the expiry bench.
const IN_FLIGHT: u64 = 100_000;

fn expiry(c: &mut Criterion) {
    let config = cluster();
    let samples = points(1_000);
    let mut group = c.benchmark_group("protocol_expiry");
    for expiring in [1u64, 100, 10_000] {
        // Each round writes `expiring` one-point writes at time `round`
        // and ticks at `round`: with a timeout of IN_FLIGHT / expiring
        // rounds, the tick expires the writes of the round that many
        // rounds ago, and IN_FLIGHT stay in flight.
        let rounds = IN_FLIGHT / expiring;
        let options = Options {
            write_timeout: rounds,
            ..Options::default()
        };
        let mut core = core(&config, "node0", options);
        let mut sink = Vec::new();
        let mut round = 0u64;
        let fill = |core: &mut Core, round: u64, sink: &mut Vec<_>| {
            for i in 0..expiring {
                let point =
                    samples[(round.wrapping_mul(expiring) + i) as usize % samples.len()].clone();
                core.write(vec![point], (), round).unwrap();
            }
            drain(core, sink);
            sink.clear();
        };
        while round < rounds {
            fill(&mut core, round, &mut sink);
            round += 1;
        }
        assert_eq!(core.in_flight().0 as u64, IN_FLIGHT);
        group.bench_function(BenchmarkId::new("ours", expiring), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    core.tick(round);
                    total += started.elapsed();
                    // Untimed: the decisions are taken, and as many new
                    // writes replace the expired.
                    drain(&mut core, &mut sink);
                    sink.clear();
                    fill(&mut core, round, &mut sink);
                    round += 1;
                }
                total
            })
        });
        assert_eq!(core.in_flight().0 as u64, IN_FLIGHT);
        group.bench_function(BenchmarkId::new("limit", expiring), |b| {
            let mut heap: BinaryHeap<Reverse<u64>> = (0..IN_FLIGHT).map(Reverse).collect();
            let mut next = IN_FLIGHT;
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    for _ in 0..expiring {
                        black_box(heap.pop());
                    }
                    total += started.elapsed();
                    heap.extend((next..next + expiring).map(Reverse));
                    next += expiring;
                }
                total
            })
        });
    }
    group.finish();
}

fn saved(c: &mut Criterion) {
    let mut group = c.benchmark_group("protocol_saved");
    group.sample_size(20);
    for (shards, nodes) in [(256, 6), (4_096, 64)] {
        let config = round_robin_cluster(shards, nodes, 3);
        let core = core(&config, "node0", Options::default());
        group.bench_function(BenchmarkId::new("ours", shards), |b| {
            b.iter(|| black_box(core.saved().len()))
        });
        // What every `saved()` did before it kept the config's text: the
        // config serialized (twice: for the identity, and as the text).
        group.bench_function(BenchmarkId::new("naive", shards), |b| {
            b.iter(|| black_box(config.to_toml().unwrap().len()))
        });
    }
    group.finish();
}

criterion_group!(benches, route_batch, write, admit, answer, expiry, saved);
criterion_main!(benches);
