//! Replication benchmarks, each beside its baseline in the same run.
//!
//! - `write_quorum`: `WriteQuorum::record` per answer (three copies,
//!   `Quorum`), beside `check_quorum` on the same answers and the
//!   `check_quorum` as it was before it counted with `WriteQuorum` (a
//!   first-answer scan, no names checked).
//!
//! - `joint_quorum`: `WriteQuorum::record` per answer on a shard moving one
//!   copy (RF 3, `Quorum`, copies a, b, c leaving, d joining: a joint
//!   quorum), beside the same four copies as a `Rebalancing` shard that
//!   does not say which copy moves (decision 0007's plain rule) and a plain
//!   shard of three copies. Throughput is answers, so the figures compare
//!   per answer.
//!
//! - `pending_expire`: `PendingWrites::expire`, `len` and `is_empty` on a
//!   table of the default 4,096 slots, empty and with 64 writes in flight
//!   none of which is due (a timer's usual tick), beside
//!   `scan_4096_locked_slots`: a lock of each of 4,096 slots on their own
//!   cache lines, what the three cost before they kept a count and a map of
//!   the slots in use.
//!
//! `PendingWrites` under concurrent answers is `benches/pending_writes.rs`
//! (a `harness = false` bench: criterion measures one thread).
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench replication -- --warm-up-time 1 --measurement-time 3`.

use std::{hint::black_box, sync::Mutex};

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rusts_cluster::{
    PendingWrites, ReplicationAck, ReplicationMode, ReplicationProtocol, Shard, ShardState,
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
    bench_record(&mut group, "record_3_acks", &template);
    group.bench_function("check_quorum_3_acks", |b| {
        b.iter(|| black_box(protocol.check_quorum(black_box(&acks)).unwrap()))
    });
    group.bench_function("check_quorum_before_3_acks", |b| {
        b.iter(|| black_box(check_quorum_before(black_box(&acks), 2)))
    });
    group.finish();
}

/// Records every copy's success on a fresh clone of `template`, in the
/// order the copies were given.
fn bench_record(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    name: &str,
    template: &WriteQuorum,
) {
    let acks: Vec<ReplicationAck> = template
        .expected_nodes()
        .enumerate()
        .map(|(i, node)| ReplicationAck::success(node, i as u64))
        .collect();
    group.throughput(Throughput::Elements(acks.len() as u64));
    group.bench_function(name, |b| {
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
}

fn joint_quorum(c: &mut Criterion) {
    let protocol = ReplicationProtocol::new(ReplicationMode::Quorum, 3);
    let mut plain = Shard::new(0, "node1");
    plain.add_replica("node2");
    plain.add_replica("node3");
    let mut rebalancing = plain.clone();
    rebalancing.add_replica("node4");
    rebalancing.state = ShardState::Rebalancing;
    let mut joint = rebalancing.clone();
    joint.leaving.push("node3".to_owned());
    joint.joining.push("node4".to_owned());
    let mut group = c.benchmark_group("joint_quorum");
    for (name, shard) in [
        ("record_plain_3_copies", &plain),
        ("record_rebalancing_4_copies", &rebalancing),
        ("record_joint_4_copies", &joint),
    ] {
        let template = WriteQuorum::for_shard(protocol, shard).unwrap();
        bench_record(&mut group, name, &template);
    }
    group.finish();
}

/// One slot of the baseline scan: a lock alone on its cache lines, as
/// `PendingWrites` lays its slots out.
#[repr(align(128))]
struct Slot(Mutex<Option<u64>>);

fn pending_expire(c: &mut Criterion) {
    let empty = PendingWrites::<u64>::new();
    let in_flight = PendingWrites::<u64>::new();
    for id in 0..64 {
        in_flight
            .begin(id, WriteQuorum::new(ReplicationMode::Quorum, COPIES), 10)
            .unwrap();
    }
    let slots: Vec<Slot> = (0..4_096).map(|_| Slot(Mutex::new(None))).collect();
    let mut group = c.benchmark_group("pending_expire");
    group.bench_function("expire_empty", |b| {
        b.iter(|| black_box(empty.expire(black_box(5))))
    });
    group.bench_function("len_empty", |b| b.iter(|| black_box(empty.len())));
    group.bench_function("is_empty_empty", |b| b.iter(|| black_box(empty.is_empty())));
    group.bench_function("expire_64_in_flight_none_due", |b| {
        b.iter(|| black_box(in_flight.expire(black_box(5))))
    });
    group.bench_function("len_64_in_flight", |b| {
        b.iter(|| black_box(in_flight.len()))
    });
    group.bench_function("scan_4096_locked_slots", |b| {
        b.iter(|| {
            black_box(
                slots
                    .iter()
                    .filter(|slot| slot.0.lock().unwrap().is_some())
                    .count(),
            )
        })
    });
    group.finish();
}

criterion_group!(benches, write_quorum, joint_quorum, pending_expire);
criterion_main!(benches);
