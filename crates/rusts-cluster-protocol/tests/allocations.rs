// Its own test binary, not a module of `tests.rs`: a `#[global_allocator]`
// is one per process, and the `unsafe impl` it needs would otherwise be
// allowed for every test of the crate (routing's `tests/allocations.rs`
// says more).

//! The protocol core allocates per request, never per point and never per
//! answer counted: counted with a global allocator, not timed, on the
//! issue's setting (256 shards on 6 nodes, RF 3). A write of ten times the
//! points, over the same shards, makes exactly as many allocations; so
//! does its admission at a replica and the counting of its answers.

// A global allocator is an `unsafe impl`; this test binary and routing's
// are the only places in the workspace that need one.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig};
use rusts_cluster_protocol::{Core, Message, Options, Output, Point, WriteAnswer, WriteRequest};
use rusts_cluster_sharding::ShardKeyRef;

/// Counts allocations per thread, while that thread has `COUNTING` set:
/// the tests of this binary run in parallel.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: during thread teardown the thread-locals may be gone.
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // A growth is an allocation too.
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded with the caller's pointer, layout and size.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// `f`'s result and the allocations it made on this thread.
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize) {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    let result = f();
    COUNTING.with(|c| c.set(false));
    (result, ALLOCATIONS.with(Cell::get) - before)
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    series: u64,
    time: i64,
}

impl Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new("cpu", self.series, self.time)
    }
}

type TestCore = Core<Sample, u32>;

/// `count` points whose series cover every one of the 256 shards.
fn points(count: u64) -> Vec<Sample> {
    (0..count)
        .map(|i| Sample {
            series: i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
            time: i as i64,
        })
        .collect()
}

fn cluster() -> (ClusterConfig, Vec<TestCore>) {
    let config = round_robin_cluster(256, 6, 3);
    let cores = (0..6)
        .map(|n| Core::new(config.clone(), &format!("node{n}"), Options::default()).unwrap())
        .collect();
    (config, cores)
}

/// Starts a write of `count` points at node 0 and polls its requests, the
/// allocations counted; gives the requests.
fn write(core: &mut TestCore, count: u64, now: u64) -> (Vec<(usize, WriteRequest<Sample>)>, usize) {
    let batch = points(count);
    counted(|| {
        core.write(batch, 1, now).unwrap();
        let mut requests = Vec::with_capacity(6);
        while let Some(output) = core.poll() {
            if let Output::Send(peer, Message::Write(request)) = output {
                requests.push((peer.index as usize, request));
            }
        }
        requests
    })
}

/// Each request admitted, every point visited and answered, at its node,
/// the allocations counted.
fn admit(
    cores: &[TestCore],
    requests: &[(usize, WriteRequest<Sample>)],
) -> (Vec<WriteAnswer>, usize) {
    counted(|| {
        let mut answers = Vec::with_capacity(requests.len());
        for (node, request) in requests {
            let admission = cores[*node].admit_write(request);
            let mut visited = 0usize;
            for (_, point) in admission.points() {
                visited += usize::from(point.time >= 0);
            }
            assert_eq!(visited, request.point_count());
            answers.push(admission.answer(true));
        }
        answers
    })
}

/// Every answer received at node 0, the allocations counted: the write is
/// decided and settles on the last.
fn answer(core: &mut TestCore, answers: Vec<WriteAnswer>) -> usize {
    let mut outputs = Vec::with_capacity(4);
    let ((), n) = counted(|| {
        for answer in answers {
            core.receive(Message::WriteAnswer(answer), 1);
        }
        while let Some(output) = core.poll() {
            outputs.push(output);
        }
    });
    assert!(
        outputs
            .iter()
            .any(|o| matches!(o, Output::WriteDone(d) if d.is_acknowledged())),
        "the write was acknowledged"
    );
    n
}

#[test]
fn a_write_allocates_per_request_and_never_per_point() {
    let (_, mut cores) = cluster();
    // Warm: the first write builds the shards' rules and grows the core's
    // queues, once.
    let (requests, _) = write(&mut cores[0], 2_560, 0);
    let (answers, _) = admit(&cores, &requests);
    answer(&mut cores[0], answers);

    let mut counts = Vec::new();
    for (round, points) in [2_560u64, 25_600].into_iter().enumerate() {
        let (requests, writing) = write(&mut cores[0], points, round as u64);
        assert_eq!(requests.len(), 6, "one request per node");
        let (answers, admitting) = admit(&cores, &requests);
        let answering = answer(&mut cores[0], answers);
        println!(
            "{points} points: write {writing}, admission {admitting}, \
             answers {answering} allocations"
        );
        counts.push((writing, admitting, answering));
    }
    assert_eq!(
        counts[0], counts[1],
        "ten times the points, as many allocations"
    );
    let (writing, admitting, answering) = counts[0];
    // Per request: its runs of the batch and the coordinator's list of its
    // shards, 2 for each of 6. Per write: the route's 5 buffers, the
    // builder's 3, the shared batch, the list of asks, and the test's own
    // list of requests: 11, and one of slack.
    assert!(writing <= 2 * 6 + 12, "{writing} allocations to write");
    // Per request: the shards' filings and the answer's list; and the
    // test's list of answers.
    assert!(admitting <= 2 * 6 + 1, "{admitting} allocations to admit");
    // Six answers: only the decision's outcome allocates.
    assert_eq!(answering, 1, "the answers allocate only the outcome");
}

#[test]
fn an_answer_that_decides_nothing_allocates_nothing() {
    let (_, mut cores) = cluster();
    for round in 0..2u64 {
        let (requests, _) = write(&mut cores[0], 1, round);
        assert_eq!(requests.len(), 3, "one point, three copies");
        let (answers, _) = admit(&cores, &requests);
        let mut answers = answers.into_iter();
        let core = &mut cores[0];
        let (delivery, first) =
            counted(|| core.receive(Message::WriteAnswer(answers.next().unwrap()), 1));
        assert_eq!(delivery, rusts_cluster_protocol::Delivery::Counted);
        if round > 0 {
            assert_eq!(first, 0, "the first of three answers decides nothing");
        }
        let mut next = || core.receive(Message::WriteAnswer(answers.next().unwrap()), 1);
        let (_, second) = counted(&mut next);
        let (_, third) = counted(&mut next);
        println!("round {round}: the answers allocate {first}, {second}, {third}");
        if round > 0 {
            // The second decides: the outcome's list of shards is the
            // write's one buffer. The third settles, every copy confirmed.
            assert_eq!((second, third), (1, 0));
        }
        while core.poll().is_some() {}
    }
}
