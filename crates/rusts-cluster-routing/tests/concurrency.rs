//! Routing from several threads while other threads change shard states.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Barrier,
    },
    time::{Duration, Instant},
};

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKeyRef, ShardState};

const SHARDS: u32 = 1024;

/// The order each shard's state moves in; readers must never see it go back.
const STATES: [ShardState; 4] = [
    ShardState::Active,
    ShardState::Rebalancing,
    ShardState::ReadOnly,
    ShardState::Offline,
];

fn rank(state: ShardState) -> usize {
    STATES.iter().position(|&s| s == state).unwrap()
}

#[test]
fn routes_see_each_change_once_and_in_order_and_no_change_is_lost() {
    let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    config.shard_count = SHARDS;
    config.nodes[0].shards = (0..SHARDS).collect();
    let router = ShardRouter::from_config(&config).unwrap();
    let done = AtomicBool::new(false);
    let readers = 3;
    // The readers, the two writers and this thread.
    let start = Barrier::new(readers + 3);

    std::thread::scope(|scope| {
        for reader in 0..readers {
            let (router, done, start) = (&router, &done, &start);
            scope.spawn(move || {
                start.wait();
                let mut seen = [0usize; SHARDS as usize];
                let mut routes = 0u64;
                let mut series = reader as u64;
                while !done.load(Ordering::Acquire) || routes < 10_000 {
                    series = series
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let shard = router.route(ShardKeyRef::new("cpu", series, 0)).unwrap();
                    let id = shard.id as usize;
                    assert_eq!(
                        id as u64,
                        series % u64::from(SHARDS),
                        "route gave the wrong shard"
                    );
                    assert_eq!(shard.primary, "a");
                    assert_eq!(shard.address.as_deref(), Some("10.0.0.1:8086"));
                    let r = rank(shard.state);
                    assert!(
                        r >= seen[id],
                        "shard {id} went back from {:?} to {:?}",
                        STATES[seen[id]],
                        shard.state
                    );
                    seen[id] = r;
                    routes += 1;
                }
            });
        }
        // Two writers change disjoint halves of the shards at the same
        // time: a lost update would leave a shard short of Offline.
        for half in 0..2u32 {
            let (router, start) = (&router, &start);
            scope.spawn(move || {
                start.wait();
                for &state in &STATES[1..] {
                    for id in (half..SHARDS).step_by(2) {
                        router.set_shard_state(id, state).unwrap();
                    }
                }
            });
        }
        start.wait();
        // Wait for the writers by polling the final state, then stop the
        // readers. A lost update would leave this waiting: fail instead of
        // hanging.
        let deadline = Instant::now() + Duration::from_secs(20);
        while router
            .all_shards()
            .iter()
            .any(|s| s.state != ShardState::Offline)
        {
            if Instant::now() > deadline {
                done.store(true, Ordering::Release);
                panic!("some shard never reached Offline: an update was lost");
            }
            std::thread::yield_now();
        }
        done.store(true, Ordering::Release);
    });

    for shard in router.all_shards() {
        assert_eq!(
            shard.state,
            ShardState::Offline,
            "shard {} lost an update",
            shard.id
        );
    }
}
