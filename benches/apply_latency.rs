//! Route latency while another thread applies configs back to back
//! (`ShardRouter::apply`), beside the same run without one: readers must
//! never stall behind a config change. A `harness = false` bench, since it
//! needs a second thread and per-route latencies, not means.
//!
//! The cluster is the largest of the build benches: 65,536 shards on 256
//! nodes with RF 3. The applier alternates two placements in which every
//! shard's copies differ (the placement and step 1 of a transition from
//! it, each a step `apply` takes after the other), so each apply rebuilds
//! the whole table. Each
//! reader times every single route and records it in a histogram;
//! percentiles are read from it (within 1/32 of the value), the maximum is
//! exact; the count of routes that took 100 µs or more tells a stall per
//! apply (one per apply in the last column) from the machine's own rare
//! hiccups. A *nothing* row times the same loop with no route in it: the
//! latencies any thread sees on the machine at that moment, the baseline
//! that the router's rows are read against.
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench apply_latency`.
//! `READERS` sets the reader threads (default 1, so that on two cores the
//! reader and the applier each have one), `BENCH_MILLIS` the time per
//! measurement (default 2000), `REPS` how many times the quiet/applying pair
//! is repeated (default 3). With `--test` each runs for 20 ms.

use std::{
    env,
    hint::black_box,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Barrier,
    },
    thread,
    time::{Duration, Instant},
};

use rusts_cluster::{ShardKey, ShardRouter};
use rusts_cluster_benches::{joining, keys};
use rusts_cluster_config::strategies::round_robin_cluster;

/// Latencies in nanoseconds, exact below 64 and in 32 steps per power of
/// two above.
struct Histogram {
    counts: Vec<u64>,
    max: u64,
    total: u64,
}

impl Histogram {
    const SUB: u32 = 5;

    fn new() -> Self {
        Histogram {
            counts: vec![0; 64 + 64 * (1 << Self::SUB)],
            max: 0,
            total: 0,
        }
    }

    fn index(ns: u64) -> usize {
        if ns < 64 {
            return ns as usize;
        }
        let exponent = 63 - ns.leading_zeros();
        let sub = (ns >> (exponent - Self::SUB)) & ((1 << Self::SUB) - 1);
        64 + ((exponent - 6) as usize) * (1 << Self::SUB) + sub as usize
    }

    /// The smallest value that lands in bucket `index`.
    fn floor(index: usize) -> u64 {
        if index < 64 {
            return index as u64;
        }
        let exponent = (index - 64) / (1 << Self::SUB) + 6;
        let sub = ((index - 64) % (1 << Self::SUB)) as u64;
        (1 << exponent) + (sub << (exponent as u32 - Self::SUB))
    }

    fn record(&mut self, ns: u64) {
        self.counts[Self::index(ns)] += 1;
        self.max = self.max.max(ns);
        self.total += 1;
    }

    fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.max = self.max.max(other.max);
        self.total += other.total;
    }

    /// How many samples took at least `ns`.
    fn at_least(&self, ns: u64) -> u64 {
        self.counts[Self::index(ns)..].iter().sum()
    }

    /// The value below which a fraction `q` of the samples lie.
    fn quantile(&self, q: f64) -> u64 {
        let rank = ((self.total as f64) * q).ceil() as u64;
        let mut seen = 0;
        for (index, &count) in self.counts.iter().enumerate() {
            seen += count;
            if seen >= rank.max(1) {
                return Self::floor(index);
            }
        }
        self.max
    }
}

/// Which call the readers time.
#[derive(Clone, Copy)]
enum Call {
    /// Nothing: the harness's own latencies, clock reads and all. Its
    /// maximum with an applier beside it is what the machine (scheduler,
    /// other processes) does to any thread, router or not.
    Nothing,
    Route,
    Reader,
}

/// What every measurement shares.
struct Setup {
    router: ShardRouter,
    /// The two placements the applier alternates.
    configs: [rusts_cluster::ClusterConfig; 2],
    /// The last generation applied.
    generation: AtomicU64,
    keys: Vec<ShardKey>,
    readers: usize,
    duration: Duration,
}

/// One measurement: `readers` threads time routes for `duration`, with an
/// applier beside them when `apply` is set. Returns the merged histogram,
/// the elapsed time and the applies made.
fn measure(setup: &Setup, call: Call, apply: bool) -> (Histogram, Duration, u64) {
    let Setup {
        router,
        configs,
        generation,
        keys,
        readers,
        duration,
    } = setup;
    let (readers, duration) = (*readers, *duration);
    let stop = AtomicBool::new(false);
    let start = Barrier::new(readers + 1 + usize::from(apply));
    thread::scope(|scope| {
        let workers: Vec<_> = (0..readers)
            .map(|t| {
                let (stop, start) = (&stop, &start);
                scope.spawn(move || {
                    let mut histogram = Histogram::new();
                    let mut reader = router.reader();
                    let mut at = (t * 997) % keys.len();
                    start.wait();
                    while !stop.load(Ordering::Relaxed) {
                        for _ in 0..256 {
                            let key = &keys[at];
                            at = if at + 1 == keys.len() { 0 } else { at + 1 };
                            let began = Instant::now();
                            match call {
                                Call::Nothing => black_box(key.series_id),
                                Call::Route => black_box(router.route(key).unwrap().id.into()),
                                Call::Reader => black_box(reader.route(key).unwrap().id.into()),
                            };
                            histogram.record(began.elapsed().as_nanos() as u64);
                        }
                    }
                    histogram
                })
            })
            .collect();
        let applier = apply.then(|| {
            let (stop, start) = (&stop, &start);
            scope.spawn(move || {
                // Prepared outside the loop, so the applier does nothing
                // but apply.
                let mut next = [configs[0].clone(), configs[1].clone()];
                let mut applies = 0u64;
                start.wait();
                while !stop.load(Ordering::Relaxed) {
                    let g = generation.fetch_add(1, Ordering::Relaxed) + 1;
                    let config = &mut next[(g % 2) as usize];
                    config.generation = g;
                    router.apply(config).unwrap();
                    applies += 1;
                }
                applies
            })
        });
        start.wait();
        let began = Instant::now();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let mut merged = Histogram::new();
        for worker in workers {
            merged.merge(&worker.join().unwrap());
        }
        let elapsed = began.elapsed();
        let applies = applier.map_or(0, |a| a.join().unwrap());
        (merged, elapsed, applies)
    })
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    // The histogram's buckets hold their values (a harness = false bench
    // runs no unit tests, so it checks itself).
    for ns in [0, 1, 63, 64, 65, 100, 1000, 12_345, 1 << 40] {
        let index = Histogram::index(ns);
        assert!(Histogram::floor(index) <= ns && ns < Histogram::floor(index + 1));
    }
    let test_mode = env::args().any(|a| a == "--test");
    let duration = Duration::from_millis(if test_mode {
        20
    } else {
        env_or("BENCH_MILLIS", 2000)
    });
    let readers = env_or("READERS", 1usize).max(1);
    let reps = if test_mode {
        1
    } else {
        env_or("REPS", 3usize).max(1)
    };
    let a = round_robin_cluster(65_536, 256, 3);
    let setup = Setup {
        router: ShardRouter::from_config(&a).unwrap(),
        configs: [joining(&a), a],
        generation: AtomicU64::new(0),
        keys: keys(4096),
        readers,
        duration,
    };
    let cores = thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "route latency beside back-to-back applies of a 65,536-shard config: {cores} cores, \
         {readers} reader thread(s), {} ms per measurement, {reps} repetition(s)",
        duration.as_millis()
    );
    println!(
        "| call | applier | rep | Mroutes/s | p50 ns | p99 ns | p99.9 ns | p99.99 ns | max µs | \
         ≥ 100 µs | applies |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for rep in 1..=reps {
        for (name, call) in [
            ("nothing", Call::Nothing),
            ("route", Call::Route),
            ("reader", Call::Reader),
        ] {
            for apply in [false, true] {
                let (h, elapsed, applies) = measure(&setup, call, apply);
                let secs = elapsed.as_secs_f64();
                println!(
                    "| {name} | {} | {rep} | {:.2} | {} | {} | {} | {} | {:.1} | {} | {applies} |",
                    if apply { "applying" } else { "none" },
                    h.total as f64 / secs / 1e6,
                    h.quantile(0.5),
                    h.quantile(0.99),
                    h.quantile(0.999),
                    h.quantile(0.9999),
                    h.max as f64 / 1e3,
                    h.at_least(100_000),
                );
            }
        }
    }
}
