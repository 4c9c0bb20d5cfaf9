//! Routing from several threads while other threads change the router:
//! one applies generation after generation, whose configs turn more and
//! more shards read-only and then offline, and one marks nodes down.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering},
        Barrier,
    },
    time::{Duration, Instant},
};

use rusts_cluster_config::{ClusterConfig, NodeConfig};
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKeyRef, ShardState};

const SHARDS: u32 = 1024;
const NODES: u32 = 8;
/// Generations after 0: each turns `SHARDS / STEPS` more shards read-only
/// (the first half) and then offline (the second half).
const STEPS: u32 = 64;

/// The order each shard's state moves in; readers must never see it go back.
const STATES: [ShardState; 3] = [
    ShardState::Active,
    ShardState::ReadOnly,
    ShardState::Offline,
];

fn rank(state: ShardState) -> usize {
    STATES.iter().position(|&s| s == state).unwrap()
}

/// Shard `s` on node `s % NODES`, alone.
fn cluster() -> ClusterConfig {
    let mut config = ClusterConfig::single_node("n0", "10.0.0.1:8086");
    config.shard_count = SHARDS;
    config.nodes = (0..NODES)
        .map(|n| {
            let mut node = NodeConfig::new(format!("n{n}"), format!("10.0.0.{}:8086", n + 1));
            node.shards = (n..SHARDS).step_by(NODES as usize).collect();
            node
        })
        .collect();
    config
}

/// Generation `g`'s config: the first `g * 2 * SHARDS / STEPS` shards
/// read-only, those below `(g - STEPS / 2) * ...` offline.
fn generation(base: &ClusterConfig, g: u32) -> ClusterConfig {
    let per = 2 * SHARDS / STEPS;
    let mut config = base.clone();
    config.generation = u64::from(g);
    let read_only = (g * per).min(SHARDS);
    let offline = (g.saturating_sub(STEPS / 2) * per).min(SHARDS);
    config.offline_shards = (0..offline).collect();
    config.read_only_shards = (offline..read_only).collect();
    config
}

#[test]
fn routes_see_each_change_once_and_in_order_and_no_change_is_lost() {
    let config = cluster();
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
                let mut down = [false; NODES as usize];
                let mut generation = 0;
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
                    let node = id % NODES as usize;
                    assert_eq!(shard.primary, format!("n{node}"));
                    assert!(shard.generation() >= generation, "a generation went back");
                    generation = shard.generation();
                    let r = rank(shard.state);
                    assert!(
                        r >= seen[id],
                        "shard {id} went back from {:?} to {:?}",
                        STATES[seen[id]],
                        shard.state
                    );
                    seen[id] = r;
                    let is_down = shard.down_copies().next().is_some();
                    assert!(is_down || !down[node], "node n{node} came back up");
                    down[node] = is_down;
                    routes += 1;
                }
            });
        }
        // Two writers at the same time: a lost update would leave a shard
        // short of Offline, or a node marked up again.
        {
            let (router, start, config) = (&router, &start, &config);
            scope.spawn(move || {
                start.wait();
                for g in 1..=STEPS + STEPS / 2 {
                    router.apply(&generation(config, g)).unwrap();
                }
            });
        }
        {
            let (router, start) = (&router, &start);
            scope.spawn(move || {
                start.wait();
                for n in 0..NODES {
                    router.set_node_available(&format!("n{n}"), false).unwrap();
                    std::thread::yield_now();
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
            .any(|s| s.state != ShardState::Offline || s.down_copies().count() != s.copies().len())
        {
            if Instant::now() > deadline {
                done.store(true, Ordering::Release);
                panic!("some shard never reached Offline on a down node: an update was lost");
            }
            std::thread::yield_now();
        }
        done.store(true, Ordering::Release);
    });

    assert_eq!(router.generation(), u64::from(STEPS + STEPS / 2));
    for shard in router.all_shards() {
        assert_eq!(
            shard.state,
            ShardState::Offline,
            "shard {} lost an update",
            shard.id
        );
        assert!(
            shard.down_copies().next().is_some(),
            "shard {} lost a down mark",
            shard.id
        );
    }
}
