// Its own test binary, not a module of `tests.rs`: a `#[global_allocator]`
// is one per process, so in the shared binary this counting allocator would
// be the allocator of every test of the crate, and the `unsafe impl` it
// needs would have to be allowed for all of them. (The counts themselves
// are per thread and only while a test counts, so other tests' threads
// would not disturb them: the reason is the allocator's reach, not noise.)

//! `route` and the reader allocate nothing, and `route_batch` allocates a
//! fixed number of times whatever the batch size: counted with a global
//! allocator, not timed. Also measures the router's memory per shard.

// A global allocator is an `unsafe impl`; this test binary is the only
// place in the workspace that needs one.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig};
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKey, ShardKeyRef, ShardingStrategy};

/// Counts allocations per thread, while that thread has `COUNTING` set. The
/// count is per thread too: the tests of this binary run in parallel, and a
/// shared counter would see the other test's allocations.
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static DEALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    /// Bytes allocated and not yet freed by this thread while counting.
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

// SAFETY: every call is forwarded unchanged to the system allocator; the
// wrapper only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // `try_with`: during thread teardown the thread-locals may be gone.
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            let _ = LIVE_BYTES.try_with(|n| n.set(n.get() + layout.size() as isize));
        }
        // SAFETY: forwarded with the caller's layout.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = DEALLOCATIONS.try_with(|n| n.set(n.get() + 1));
            let _ = LIVE_BYTES.try_with(|n| n.set(n.get() - layout.size() as isize));
        }
        // SAFETY: `ptr` came from `System.alloc` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Allocations made by `f` on this thread.
fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    ALLOCATIONS.with(Cell::get) - before
}

/// Deallocations made by `f` on this thread.
fn deallocations(f: impl FnOnce()) -> usize {
    let before = DEALLOCATIONS.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    f();
    COUNTING.with(|c| c.set(false));
    DEALLOCATIONS.with(Cell::get) - before
}

/// A reader that lets go of a snapshot a config change replaced never
/// frees it (65,536 shards would take milliseconds): the writer does, at
/// its next change.
#[test]
fn readers_never_free_a_replaced_snapshot() {
    let config = round_robin_cluster(4096, 16, 3);
    let router = ShardRouter::from_config(&config).unwrap();
    let key = ShardKeyRef::new("cpu", 7, 0);
    let mut reader = router.reader();
    assert_eq!(reader.route(key).unwrap().id, 7);
    let handle = router.route(key).unwrap();
    let batch = router.route_batch(&[key]).unwrap();
    // Every shard's copies change: a copy joins each one (step 1 of a
    // move, on the node after its last copy), so the old snapshot shares
    // nothing with the new.
    let mut next = config.clone();
    next.generation = 1;
    for s in 0..4096 {
        let node = &mut next.nodes[(s as usize + 3) % 16];
        node.replica_shards.push(s);
        node.joining_shards.push(s);
    }
    assert_eq!(router.apply(&next).unwrap().changed_shards.len(), 4096);
    // A batch frees its own three arrays; only its snapshot is of interest.
    let freed = deallocations(|| drop(batch));
    assert_eq!(freed, 3);
    let freed = deallocations(|| {
        drop(handle);
        assert_eq!(reader.route(key).unwrap().generation(), 1);
    });
    assert_eq!(freed, 0, "a reader freed part of the replaced snapshot");
    // The next change frees it, on the writer's thread.
    let freed = deallocations(|| router.set_node_available("node0", false).unwrap());
    assert!(freed > 4096, "the writer freed only {freed} blocks");
}

#[test]
fn route_allocates_nothing_for_any_strategy() {
    let strategies = [
        ShardingStrategy::ByMeasurement,
        ShardingStrategy::BySeries,
        ShardingStrategy::ByTime {
            duration_nanos: 3_600_000_000_000,
        },
        ShardingStrategy::Composite {
            time_duration_nanos: 3_600_000_000_000,
        },
    ];
    let keys: Vec<ShardKey> = (0..1000u64)
        .map(|i| {
            ShardKey::new(
                format!("m{}", i % 7),
                i.wrapping_mul(0x9E37_79B9_7F4A_7C15),
                i as i64 * 1_000_000_007,
            )
        })
        .collect();
    for strategy in strategies {
        let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
        config.sharding_strategy = strategy;
        let router = ShardRouter::from_config(&config).unwrap();
        // Warm up: arc-swap sets up this thread's debt slots on first use.
        drop(router.route(&keys[0]).unwrap());
        let mut checksum = 0u64;
        let count = allocations(|| {
            for key in &keys {
                let owned = router.route(key).unwrap();
                let borrowed = router
                    .route(ShardKeyRef::new(
                        &key.measurement,
                        key.series_id,
                        key.timestamp,
                    ))
                    .unwrap();
                checksum +=
                    u64::from(owned.id) + u64::from(borrowed.id) + owned.replicas.len() as u64;
                let got = router.get_shard(owned.id).unwrap();
                checksum += u64::from(got.can_write());
            }
        });
        assert_eq!(
            count,
            0,
            "{strategy:?}: {count} allocations for {} routes",
            keys.len() * 3
        );
        assert!(checksum > 0);
    }
}

#[test]
fn the_counter_sees_allocations() {
    // Guards the test above: a counter that never counts would pass it.
    let count = allocations(|| {
        std::hint::black_box(vec![1u8; 16]);
    });
    assert_eq!(count, 1);
}

#[test]
fn the_reader_allocates_nothing() {
    let router = ShardRouter::from_config(&round_robin_cluster(64, 8, 3)).unwrap();
    let mut reader = router.reader();
    let keys: Vec<ShardKey> = (0..1000u64).map(|i| ShardKey::new("cpu", i, 0)).collect();
    let _warm_up = reader.route(&keys[0]).unwrap().id;
    let mut checksum = 0u64;
    let count = allocations(|| {
        for key in &keys {
            let shard = reader.route(key).unwrap();
            checksum += u64::from(shard.id) + u64::from(shard.accepts_writes());
            checksum += shard.down_copies().count() as u64;
        }
    });
    assert_eq!(
        count,
        0,
        "{count} allocations for {} reader routes",
        keys.len()
    );
    assert!(checksum > 0);
}

#[test]
fn route_batch_allocates_per_batch_not_per_key() {
    // 4096 shards: 100 keys are grouped by sorting, 100,000 by counting.
    let router = ShardRouter::from_config(&round_robin_cluster(4096, 16, 2)).unwrap();
    drop(router.route(&ShardKey::new("m", 0, 0)).unwrap());
    for count in [100usize, 1_000, 100_000] {
        let keys: Vec<ShardKey> = (0..count as u64)
            .map(|i| ShardKey::new("cpu", i.wrapping_mul(0x9E37_79B9_7F4A_7C15), 0))
            .collect();
        let borrowed: Vec<ShardKeyRef<'_>> = keys.iter().map(ShardKeyRef::from).collect();
        let mut groups = 0;
        let owned = allocations(|| groups += router.route_batch(&keys).unwrap().group_count());
        let by_ref = allocations(|| groups += router.route_batch(&borrowed).unwrap().group_count());
        assert!(groups > 0);
        // The output's three arrays, plus two scratch arrays when counting
        // (counts and the touched-shard bitset) or one when sorting.
        assert!(owned <= 5, "{owned} allocations for a batch of {count}");
        assert_eq!(by_ref, owned, "borrowed keys cost the same");
    }
}

/// The router's memory per shard for the 65,536-shard, 256-node, RF 3
/// cluster, as docs/performance.md reports it (run with `--nocapture` to
/// see the figure). The bound catches a regression to a per-shard map or
/// per-copy index allocations.
#[test]
fn memory_per_shard_stays_small() {
    let config = round_robin_cluster(65_536, 256, 3);
    let before = LIVE_BYTES.with(Cell::get);
    COUNTING.with(|c| c.set(true));
    let router = ShardRouter::from_config(&config).unwrap();
    COUNTING.with(|c| c.set(false));
    let bytes = LIVE_BYTES.with(Cell::get) - before;
    let per_shard = bytes as f64 / 65_536.0;
    println!(
        "router for 65,536 shards, 256 nodes, RF 3: {bytes} bytes, {per_shard:.0} bytes per shard"
    );
    assert!(per_shard < 400.0, "{per_shard:.0} bytes per shard");
    drop(router);
}
