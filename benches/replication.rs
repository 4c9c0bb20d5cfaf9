//! Replication benchmarks, each beside its baseline in the same run.
//!
//! - `write_quorum`: `WriteQuorum::record` per answer (three copies,
//!   `Quorum`), beside `check_quorum` on the same answers and the
//!   `check_quorum` as it was before it counted with `WriteQuorum` (a
//!   first-answer scan, no names checked).
//! - `pending_writes`: answers per second through `PendingWrites` with 1, 2
//!   and all threads delivering them, beside the same table written plainly
//!   as a `Mutex<HashMap<u64, WriteQuorum>>` (std hasher), and beside a
//!   table that does nothing (`harness_noop`: the harness's own cost and
//!   scaling).
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench replication -- --warm-up-time 1 --measurement-time 3`.
//! By default the three answers to a write are dealt to different threads,
//! as they come from different nodes' connections; `ACKS_BY_WRITE=1` deals
//! all of a write's answers to one thread instead (an experiment on where
//! the cost of sharing lies; see docs/performance.md).

use std::{
    collections::HashMap,
    hint::black_box,
    sync::{Barrier, Mutex},
    thread,
    time::{Duration, Instant},
};

use criterion::{
    criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, SamplingMode, Throughput,
};
use rusts_cluster::{
    PendingWrites, ReplicationAck, ReplicationMode, ReplicationProtocol, ReplicationResult,
    WriteQuorum,
};

const COPIES: [&str; 3] = ["node1", "node2", "node3"];

fn acks() -> Vec<ReplicationAck> {
    COPIES
        .iter()
        .enumerate()
        .map(|(i, node)| ReplicationAck::success(*node, i as u64))
        .collect()
}

/// `check_quorum` as it was before it counted with `WriteQuorum`
/// (commit 32afc96): a scan for each node's first answer, then the result
/// with every answer copied.
fn check_quorum_before(acks: &[ReplicationAck], needed: usize) -> Option<Vec<ReplicationAck>> {
    let got = acks
        .iter()
        .enumerate()
        .filter(|(i, ack)| ack.success && !acks[..*i].iter().any(|a| a.node_id == ack.node_id))
        .count();
    (got >= needed).then(|| acks.to_vec())
}

fn write_quorum(c: &mut Criterion) {
    let template = WriteQuorum::new(ReplicationMode::Quorum, COPIES);
    let acks = acks();
    let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
    let mut group = c.benchmark_group("write_quorum");
    group.throughput(Throughput::Elements(acks.len() as u64));
    // Three answers per iteration; the quorum and the answers are built
    // outside the timing, so this is the cost of `record` alone.
    group.bench_function("record_3_acks", |b| {
        b.iter_batched(
            || (template.clone(), acks.clone()),
            |(mut quorum, acks)| {
                for ack in acks {
                    black_box(quorum.record(ack).unwrap());
                }
                quorum
            },
            BatchSize::SmallInput,
        )
    });
    group.bench_function("check_quorum_3_acks", |b| {
        b.iter(|| black_box(protocol.check_quorum(black_box(&acks)).unwrap()))
    });
    group.bench_function("check_quorum_before_3_acks", |b| {
        b.iter(|| black_box(check_quorum_before(black_box(&acks), 2)))
    });
    group.finish();
}

/// The table the engine would write without this crate.
trait Table: Sync {
    fn begin(&self, id: u64, quorum: WriteQuorum);
    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult>;
}

/// A table that does nothing: what the harness itself costs and how far it
/// scales (dealing, thread wake-ups, dropping the answers).
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

impl Table for Mutex<HashMap<u64, WriteQuorum>> {
    fn begin(&self, id: u64, quorum: WriteQuorum) {
        assert!(self.lock().unwrap().insert(id, quorum).is_none());
    }

    fn ack(&self, id: u64, ack: ReplicationAck) -> Option<ReplicationResult> {
        let mut map = self.lock().unwrap();
        let quorum = map.get_mut(&id)?;
        if quorum.record(ack).unwrap().is_decided() {
            map.remove(&id).map(WriteQuorum::into_result)
        } else {
            None
        }
    }
}

/// Writes in flight at once: the table is refilled with this many, their
/// answers delivered, and so on, so that the table stays the size an engine
/// keeps (and its working set in cache) however many answers criterion asks
/// for.
const WINDOW: u64 = 4_096;

/// Delivers about `acks` answers (three per write: the first leaves the
/// write pending, the second decides it, the third is late) from `threads`
/// threads; returns the time for exactly `acks` of them. Beginning the
/// writes and dealing their answers is not timed.
fn deliver<T: Table>(table: &T, threads: usize, acks: u64) -> Duration {
    let writes = acks.div_ceil(3).max(1);
    let rounds = writes.div_ceil(WINDOW);
    let template = WriteQuorum::new(ReplicationMode::Quorum, COPIES);
    let queues: Vec<Mutex<Vec<(u64, ReplicationAck)>>> =
        (0..threads).map(|_| Mutex::new(Vec::new())).collect();
    let (start, end) = (Barrier::new(threads + 1), Barrier::new(threads + 1));
    // Each worker times itself: the main thread may wake from a barrier
    // long after (or before) the workers run, on a loaded machine.
    let spans: Mutex<Vec<(Instant, Instant)>> = Mutex::new(Vec::new());
    let total = thread::scope(|scope| {
        for queue in &queues {
            let (start, end, spans) = (&start, &end, &spans);
            scope.spawn(move || {
                for _ in 0..rounds {
                    start.wait();
                    let dealt = std::mem::take(&mut *queue.lock().unwrap());
                    // Rebuild the answers on this thread, as a network
                    // thread decodes them: freeing a string another thread
                    // allocated contends on that thread's malloc arena,
                    // which would be a cost of this harness, not of the
                    // table.
                    let acks: Vec<(u64, ReplicationAck)> = dealt
                        .iter()
                        .map(|(id, ack)| (*id, ReplicationAck::success(ack.node_id.as_str(), 1)))
                        .collect();
                    drop(dealt);
                    let began = Instant::now();
                    for (id, ack) in acks {
                        black_box(table.ack(id, ack));
                    }
                    let ended = Instant::now();
                    spans.lock().unwrap().push((began, ended));
                    end.wait();
                }
            });
        }
        let mut total = Duration::ZERO;
        for round in 0..rounds {
            let ids = round * WINDOW..((round + 1) * WINDOW).min(writes);
            // The answers to one write arrive on different threads, as
            // they do from different nodes' connections.
            let mut i = 0usize;
            let by_write = std::env::var_os("ACKS_BY_WRITE").is_some();
            for id in ids {
                table.begin(id, template.clone());
                for node in COPIES {
                    queues[if by_write { id as usize } else { i } % threads]
                        .lock()
                        .unwrap()
                        .push((id, ReplicationAck::success(node, 1)));
                    i += 1;
                }
            }
            // Each thread takes its answers roughly in write order (as
            // answers come back roughly in the order writes were sent) but
            // reordered within runs of 64, each thread its own way, so that
            // the threads meet on a write now and then, as network threads
            // do, instead of in lockstep on every write.
            for (t, queue) in queues.iter().enumerate() {
                for (c, chunk) in queue.lock().unwrap().chunks_mut(64).enumerate() {
                    shuffle(chunk, (round << 32) ^ ((t as u64) << 24) ^ c as u64);
                }
            }
            start.wait();
            end.wait();
            // The round lasts from the first worker's start to the last
            // one's end.
            let mut spans = spans.lock().unwrap();
            let began = spans.iter().map(|s| s.0).min().unwrap();
            let ended = spans.iter().map(|s| s.1).max().unwrap();
            spans.clear();
            total += ended - began;
        }
        total
    });
    total.mul_f64(acks as f64 / (writes * 3) as f64)
}

/// A fixed pseudo-random permutation (SplitMix64 draws), the same on
/// every run.
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut state = seed;
    for i in (1..items.len()).rev() {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        items.swap(i, ((z ^ (z >> 31)) % (i as u64 + 1)) as usize);
    }
}

fn pending_writes(c: &mut Criterion) {
    let all = thread::available_parallelism().map_or(2, |n| n.get());
    let mut counts = vec![1, 2, all];
    counts.dedup();
    let mut group = c.benchmark_group("pending_writes");
    group.throughput(Throughput::Elements(1));
    group.sample_size(20);
    // Every sample the same size, so that no sample is a handful of
    // answers timed across a thread wake-up.
    group.sampling_mode(SamplingMode::Flat);
    for threads in counts {
        let label = if threads == all {
            format!("{threads}_threads_all")
        } else {
            format!("{threads}_threads")
        };
        group.bench_function(BenchmarkId::new("harness_noop", &label), |b| {
            b.iter_custom(|acks| deliver(&Noop, threads, acks))
        });
        group.bench_function(BenchmarkId::new("ours_dashmap", &label), |b| {
            b.iter_custom(|acks| deliver(&PendingWrites::<u64>::new(), threads, acks))
        });
        group.bench_function(BenchmarkId::new("baseline_mutex_hashmap", &label), |b| {
            b.iter_custom(|acks| deliver(&Mutex::new(HashMap::new()), threads, acks))
        });
    }
    group.finish();
}

criterion_group!(benches, write_quorum, pending_writes);
criterion_main!(benches);
