//! `PendingWrites` under concurrent answers: answers per second at 1, 2
//! and all cores, beside the same table written plainly as a
//! `Mutex<HashMap<u64, WriteQuorum>>` (std hasher), the same quorums in a
//! `DashMap` (the layout `PendingWrites` had before its slots), and a table
//! that does nothing (`harness_noop`: the harness's own cost and scaling,
//! the ceiling for the others' ratios). A `harness = false` bench, since
//! criterion measures one thread.
//!
//! Thread scaling is a ratio of two measurements, and these machines are
//! shared and noisy: so every table is measured at each thread count one
//! after the other, that sequence is repeated, and each ratio is the median
//! of the ratios within a repetition. How answers are dealt: [`deliver`].
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench pending_writes`.
//! `THREADS=1,2,4,8,16` picks the thread counts (default: 1, 2 and every
//! core), `REPS` the repetitions (default 9), `WRITES` the writes per
//! measurement (default 400000, three answers each). With `--test` (as
//! `cargo bench -- --test` passes) everything runs once on one round of
//! writes, only to check that it works.

use std::{
    collections::HashMap,
    env,
    hint::black_box,
    sync::{
        atomic::{AtomicU64, Ordering},
        Barrier, Mutex, RwLock,
    },
    thread,
    time::{Duration, Instant},
};

use dashmap::DashMap;
use fxhash::FxBuildHasher;
use rusts_cluster::{
    PendingWrites, ReplicationAck, ReplicationMode, ReplicationResult, WriteQuorum,
};
use rusts_cluster_benches::thread_counts;
use rusts_cluster_sharding::testing::TestRng;

const COPIES: [&str; 3] = ["node1", "node2", "node3"];

/// A table of in-flight writes, as the benchmark drives it.
trait Table: Sync {
    fn begin(&self, id: u64, quorum: WriteQuorum);
    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult>;
}

/// A table that does nothing: what the harness itself costs and how far it
/// scales (taking the answers and dropping them).
struct Noop;

impl Table for Noop {
    fn begin(&self, _id: u64, quorum: WriteQuorum) {
        drop(quorum);
    }

    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult> {
        black_box((id, ack));
        None
    }
}

impl Table for PendingWrites<u64> {
    fn begin(&self, id: u64, quorum: WriteQuorum) {
        assert!(PendingWrites::begin(self, id, quorum, u64::MAX)
            .unwrap()
            .is_none());
    }

    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult> {
        PendingWrites::ack(self, id, ack).unwrap()
    }
}

/// The table the engine would write without this crate.
impl Table for Mutex<HashMap<u64, WriteQuorum>> {
    fn begin(&self, id: u64, quorum: WriteQuorum) {
        assert!(self.lock().unwrap().insert(id, quorum).is_none());
    }

    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult> {
        let taken = {
            let mut map = self.lock().unwrap();
            let quorum = map.get_mut(&id)?;
            if quorum.record(ack).unwrap().is_decided() {
                map.remove(&id)
            } else {
                None
            }
        };
        taken.map(WriteQuorum::into_result)
    }
}

/// The same quorums in a `DashMap` (FxHash, record and remove under one
/// shard lock): the layout `PendingWrites` had before its slots.
impl Table for DashMap<u64, WriteQuorum, FxBuildHasher> {
    fn begin(&self, id: u64, quorum: WriteQuorum) {
        assert!(self.insert(id, quorum).is_none());
    }

    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult> {
        self.remove_if_mut(&id, |_, quorum| quorum.record(ack).unwrap().is_decided())
            .map(|(_, quorum)| quorum.into_result())
    }
}

/// Writes begun per round: the table holds at most this many, the default
/// capacity of `PendingWrites`.
const WINDOW: u64 = 4_096;

/// Answers are dealt in chunks of this many.
const CHUNK: usize = 64;

/// When a write's answers reach the threads.
#[derive(Clone, Copy, Debug)]
enum Dealing {
    /// The threads work through the same writes at the same moment: a
    /// write's answers race each other for its lock (the worst case).
    Together,
    /// The threads work through the round from different points, so a
    /// write's answers arrive on different threads tens of microseconds
    /// apart, as answers from different nodes do.
    Apart,
}

/// Delivers three answers to each of `writes` writes (the first leaves the
/// write pending, the second decides it, the third is late) from `threads`
/// threads; returns the time they took.
///
/// Each round, the calling thread (worker 0: there is no dealer thread to
/// compete with the workers for cores) begins [`WINDOW`] writes and lays
/// out their answers by blocks of [`CHUNK`] writes: every first answer of
/// the block, shuffled, then every second, then every third. Chunk `c` goes
/// to worker `c % threads`, so one write's answers arrive on different
/// threads, as they do from different nodes' connections; with
/// [`Dealing::Apart`] worker `w` starts `w / threads` of the way into its
/// chunks. Each worker decodes its answers into `ReplicationAck`s on its
/// own thread, as a network thread does, and waits for the others at a
/// spinning barrier; then all start at once, and the round lasts from the
/// first worker's start to the last one's end. Beginning the writes and
/// decoding the answers are not timed.
fn deliver<T: Table>(table: &T, threads: usize, writes: u64, dealing: Dealing) -> Duration {
    let rounds = writes.div_ceil(WINDOW);
    let template = WriteQuorum::new(ReplicationMode::Quorum, COPIES);
    let stream: RwLock<Vec<(u64, usize)>> = RwLock::new(Vec::new());
    let arrived = AtomicU64::new(0);
    let (dealt, done) = (Barrier::new(threads), Barrier::new(threads));
    let spans: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());
    let total = Mutex::new(Duration::ZERO);
    let work = |worker: usize| {
        for round in 0..rounds {
            if worker == 0 {
                let first = round * WINDOW;
                let ids: Vec<u64> = (first..(first + WINDOW).min(writes)).collect();
                let mut answers = Vec::with_capacity(ids.len() * COPIES.len());
                for block in ids.chunks(CHUNK) {
                    for &id in block {
                        table.begin(id, template.clone());
                    }
                    // A fixed permutation per block and copy, the same on
                    // every run.
                    for node in 0..COPIES.len() {
                        let start = answers.len();
                        answers.extend(block.iter().map(|&id| (id, node)));
                        let seed = (round << 32) ^ ((node as u64) << 24) ^ block[0];
                        TestRng::new(seed).shuffle(&mut answers[start..]);
                    }
                }
                *stream.write().unwrap() = answers;
            }
            dealt.wait();
            let mut mine: Vec<(u64, ReplicationAck)> = stream
                .read()
                .unwrap()
                .chunks(CHUNK)
                .skip(worker)
                .step_by(threads)
                .flatten()
                .map(|&(id, node)| (id, ReplicationAck::success(COPIES[node], 1)))
                .collect();
            if let Dealing::Apart = dealing {
                let shift = mine.len() / threads * worker;
                mine.rotate_left(shift);
            }
            arrived.fetch_add(1, Ordering::AcqRel);
            while arrived.load(Ordering::Acquire) < (round + 1) * threads as u64 {
                std::hint::spin_loop();
            }
            let began = Instant::now();
            for (id, ack) in mine {
                black_box(table.ack(id, ack));
            }
            let ended = Instant::now();
            spans.lock().unwrap().push((began, ended));
            done.wait();
            if worker == 0 {
                let mut spans = spans.lock().unwrap();
                let began = spans.iter().map(|s| s.0).min().unwrap();
                let ended = spans.iter().map(|s| s.1).max().unwrap();
                spans.clear();
                *total.lock().unwrap() += ended - began;
            }
        }
    };
    thread::scope(|scope| {
        for worker in 1..threads {
            let work = &work;
            scope.spawn(move || work(worker));
        }
        work(0);
    });
    total.into_inner().unwrap()
}

/// Answers per second through a fresh table of kind `table`.
fn rate(table: &str, threads: usize, writes: u64, dealing: Dealing) -> f64 {
    let elapsed = match table {
        "harness_noop" => deliver(&Noop, threads, writes, dealing),
        "ours" => deliver(&PendingWrites::<u64>::new(), threads, writes, dealing),
        "baseline_mutex_hashmap" => deliver(&Mutex::new(HashMap::new()), threads, writes, dealing),
        "dashmap_table" => {
            let table: DashMap<u64, WriteQuorum, FxBuildHasher> = DashMap::default();
            deliver(&table, threads, writes, dealing)
        }
        other => unreachable!("no table {other}"),
    };
    (writes * 3) as f64 / elapsed.as_secs_f64()
}

fn env_number(name: &str, default: u64) -> u64 {
    env::var(name).map_or(default, |text| {
        text.parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number"))
    })
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let test_mode = env::args().any(|a| a == "--test");
    let (reps, writes) = if test_mode {
        (1, WINDOW)
    } else {
        (
            env_number("REPS", 9).max(1),
            env_number("WRITES", 400_000).max(1),
        )
    };
    let counts = thread_counts();
    let tables = [
        "harness_noop",
        "ours",
        "baseline_mutex_hashmap",
        "dashmap_table",
    ];
    println!(
        "pending_writes: {writes} writes x 3 answers per measurement, {reps} repetitions, \
         threads {counts:?}; median answers per second, and in brackets the median of \
         each repetition's ratio to 1 thread"
    );
    for dealing in [Dealing::Together, Dealing::Apart] {
        // rates[table][count][rep]
        let mut rates = vec![vec![Vec::new(); counts.len()]; tables.len()];
        for _ in 0..reps {
            for (t, table) in tables.iter().enumerate() {
                for (c, &threads) in counts.iter().enumerate() {
                    rates[t][c].push(rate(table, threads, writes, dealing));
                }
            }
        }
        println!("\n{dealing:?}:\n");
        let header: Vec<String> = counts.iter().map(|n| format!("{n} threads")).collect();
        println!("| table | {} |", header.join(" | "));
        println!("|---|{}", "---:|".repeat(counts.len()));
        // ratios[table][count][rep]: each repetition's rate over its own
        // 1-thread rate.
        let ratios: Vec<Vec<Vec<f64>>> = rates
            .iter()
            .map(|by_count| {
                by_count
                    .iter()
                    .map(|reps| {
                        reps.iter()
                            .zip(&by_count[0])
                            .map(|(n, one)| n / one)
                            .collect()
                    })
                    .collect()
            })
            .collect();
        for (t, table) in tables.iter().enumerate() {
            let cells: Vec<String> = (0..counts.len())
                .map(|c| {
                    let rate = median(&mut rates[t][c].clone()) / 1e6;
                    if c == 0 {
                        format!("{rate:.2} M/s")
                    } else {
                        format!("{rate:.2} M/s ({:.2}x)", median(&mut ratios[t][c].clone()))
                    }
                })
                .collect();
            println!("| {table} | {} |", cells.join(" | "));
        }
        // How much of the harness's own scaling each table keeps, within
        // each repetition: where the machine's two threads share a core
        // (or another tenant's work), the do-nothing table's ratio drops
        // too, and this one does not move with it.
        for (c, threads) in counts.iter().enumerate().skip(1) {
            let kept: Vec<String> = tables
                .iter()
                .enumerate()
                .skip(1)
                .map(|(t, table)| {
                    let mut kept: Vec<f64> = ratios[t][c]
                        .iter()
                        .zip(&ratios[0][c])
                        .map(|(ours, noop)| ours / noop)
                        .collect();
                    format!("{table} {:.2}", median(&mut kept))
                })
                .collect();
            let mut noop = ratios[0][c].clone();
            noop.sort_by(f64::total_cmp);
            println!(
                "\n{threads} threads: the harness alone scaled {:.2}x to {:.2}x across \
                 repetitions; share of its scaling kept: {}",
                noop[0],
                noop[noop.len() - 1],
                kept.join(", ")
            );
        }
    }
}
