use arbitrary::{Arbitrary, Unstructured};
use rusts_cluster_config::ClusterConfig;
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKey, ShardKeyRef};

use crate::config::Strategy;

/// What the `route_key` target reads from the fuzzer's bytes.
#[derive(Arbitrary, Debug)]
struct RouteInput {
    strategy: Strategy,
    shards: ShardCount,
    keys: Vec<(String, u64, i64)>,
}

/// A shard count: mostly small, so that a router can be built for it too.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum ShardCount {
    Small(u8),
    Any(u32),
}

/// The `route_key` target: any strategy (any durations, zero and negative
/// included), any shard count (0 and `u32::MAX` included) and any keys.
///
/// Checks that `compute_shard` returns a shard below the count (0 for a
/// count of 0), gives equal keys equal shards whether borrowed or owned,
/// agrees with the formulas as documented (written out again here), and,
/// for a valid strategy and a count up to 255, agrees with a router built
/// for it.
pub fn route_key(data: &[u8]) {
    let Ok(input) = RouteInput::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let strategy = input.strategy.strategy();
    let n = match input.shards {
        ShardCount::Small(n) => u32::from(n),
        ShardCount::Any(n) => n,
    };
    let router = (strategy.validate().is_ok() && (1..=255).contains(&n)).then(|| {
        let mut config = ClusterConfig::single_node("node1", "127.0.0.1:8086");
        config.shard_count = n;
        config.nodes[0].shards = (0..n).collect();
        config.sharding_strategy = strategy;
        ShardRouter::from_config(&config)
            .unwrap_or_else(|e| panic!("a one-node config with {n} shards is valid: {e}"))
    });
    for (measurement, series, ts) in &input.keys {
        let key = ShardKeyRef::new(measurement, *series, *ts);
        let shard = strategy.compute_shard(key, n);
        if n == 0 {
            assert_eq!(shard, 0, "no shards: compute_shard returns 0");
        } else {
            assert!(
                shard < n,
                "{strategy:?} put {key:?} on shard {shard} of {n}"
            );
        }
        // Equal keys, built separately, give equal shards.
        let owned = ShardKey::new(measurement.clone(), *series, *ts);
        assert_eq!(strategy.compute_shard(&owned, n), shard);
        assert_eq!(strategy.compute_shard(owned.as_key_ref(), n), shard);
        if let Some(expected) = formula(input.strategy, *series, *ts, n) {
            assert_eq!(shard, expected, "{strategy:?} over {n} shards, key {key:?}");
        }
        if let Some(router) = &router {
            let routed = router
                .route(key)
                .unwrap_or_else(|e| panic!("{key:?} over {n} shards: {e}"));
            assert_eq!(routed.id, shard);
            assert_eq!(routed.primary, "node1");
        }
    }
}

/// The documented formulas, for the strategies that do not hash; durations
/// of zero or below put every timestamp in bucket 0.
fn formula(strategy: Strategy, series: u64, ts: i64, n: u32) -> Option<u32> {
    if n == 0 {
        return Some(0);
    }
    let bucket = |d: i64| if d > 0 { ts.div_euclid(d) } else { 0 };
    let shard = match strategy {
        Strategy::ByMeasurement => return None,
        Strategy::BySeries => series % u64::from(n),
        Strategy::ByTime(d) => bucket(d).rem_euclid(i64::from(n)) as u64,
        Strategy::Composite(d) => series.wrapping_add(bucket(d) as u64) % u64::from(n),
    };
    Some(shard as u32)
}
