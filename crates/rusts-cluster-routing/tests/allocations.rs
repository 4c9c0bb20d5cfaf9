//! `route` allocates nothing: counted with a global allocator, not timed.

// A global allocator is an `unsafe impl`; this test binary is the only
// place in the workspace that needs one.
#![allow(unsafe_code)]

use std::{
    alloc::{GlobalAlloc, Layout, System},
    cell::Cell,
};

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKey, ShardKeyRef, ShardingStrategy};

/// Counts allocations per thread, while that thread has `COUNTING` set. The
/// count is per thread too: the tests of this binary run in parallel, and a
/// shared counter would see the other test's allocations.
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
