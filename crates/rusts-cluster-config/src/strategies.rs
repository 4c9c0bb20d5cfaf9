//! [Proptest](https://docs.rs/proptest) strategies that generate valid
//! cluster configs, for property tests here and in the crates built on this
//! one. Enabled by the `proptest` feature.
//!
//! ```
//! use proptest::prelude::*;
//! use rusts_cluster_config::strategies::valid_config;
//!
//! proptest!(|(config in valid_config())| {
//!     prop_assert!(config.validate().is_ok());
//! });
//! ```

use std::collections::HashMap;

use proptest::{prelude::*, sample::Index};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::{ShardId, ShardingStrategy};

use crate::{ClusterConfig, NodeConfig};

/// Any valid sharding strategy: every variant, durations from one
/// nanosecond to `i64::MAX`.
pub fn any_strategy() -> impl Strategy<Value = ShardingStrategy> {
    let duration = prop_oneof![
        1..=i64::MAX,
        Just(1i64),
        Just(3_600_000_000_000),
        Just(i64::MAX)
    ];
    prop_oneof![
        Just(ShardingStrategy::ByMeasurement),
        Just(ShardingStrategy::BySeries),
        duration
            .clone()
            .prop_map(|duration_nanos| ShardingStrategy::ByTime { duration_nanos }),
        duration.prop_map(|time_duration_nanos| ShardingStrategy::Composite {
            time_duration_nanos
        }),
    ]
}

/// Any replication mode.
pub fn any_mode() -> impl Strategy<Value = ReplicationMode> {
    prop_oneof![
        Just(ReplicationMode::Synchronous),
        Just(ReplicationMode::Quorum),
        Just(ReplicationMode::Asynchronous),
    ]
}

/// A valid config of 1-8 nodes and 1-256 shards where every shard has
/// exactly `replication_factor` copies on distinct nodes, so it validates
/// with no under- or over-replication warning. Nodes are in random order,
/// primaries and replicas placed at random, and some nodes carry a `zone` tag.
pub fn valid_config() -> impl Strategy<Value = ClusterConfig> {
    (1usize..=8, 1usize..=256)
        .prop_flat_map(|(nodes, shards)| {
            (
                Just(nodes),
                1..=nodes,
                prop::collection::vec(prop::collection::vec(any::<Index>(), nodes), shards),
                0..nodes,
                any_strategy(),
                any_mode(),
            )
        })
        .prop_map(|(node_count, rf, placements, this, strategy, mode)| {
            let mut nodes: Vec<NodeConfig> = (0..node_count)
                .map(|i| {
                    let mut node =
                        NodeConfig::new(format!("node{i}"), format!("10.0.0.{}:8086", i + 1));
                    if i % 3 != 2 {
                        node.tags = HashMap::from([("zone".to_owned(), format!("zone-{}", i % 3))]);
                    }
                    node
                })
                .collect();
            for (shard, picks) in placements.iter().enumerate() {
                // Choose `rf` distinct nodes by drawing from the ones left.
                let mut left: Vec<usize> = (0..node_count).collect();
                for (copy, pick) in picks.iter().take(rf).enumerate() {
                    let node = left.swap_remove(pick.index(left.len()));
                    let list = if copy == 0 {
                        &mut nodes[node].shards
                    } else {
                        &mut nodes[node].replica_shards
                    };
                    list.push(shard as ShardId);
                }
            }
            ClusterConfig {
                node_id: format!("node{this}"),
                cluster_name: "prop".to_owned(),
                replication_mode: mode,
                replication_factor: rf,
                shard_count: placements.len(),
                sharding_strategy: strategy,
                nodes,
            }
        })
        .prop_flat_map(|config| {
            let nodes = Just(config.nodes.clone()).prop_shuffle();
            (Just(config), nodes).prop_map(|(mut config, nodes)| {
                config.nodes = nodes;
                config
            })
        })
}
