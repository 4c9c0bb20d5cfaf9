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
use rusts_cluster_sharding::{testing::strategies, ShardId, ShardingStrategy};

use crate::{ClusterConfig, NodeConfig};

/// Any valid sharding strategy: every variant, durations from one
/// nanosecond to `i64::MAX` (the sharding crate's one generator,
/// [`rusts_cluster_sharding::testing::strategies`]).
pub fn any_strategy() -> impl Strategy<Value = ShardingStrategy> {
    strategies(prop_oneof![
        1..=i64::MAX,
        Just(1i64),
        Just(3_600_000_000_000),
        Just(i64::MAX)
    ])
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
                generation: 0,
                cluster_name: "prop".to_owned(),
                replication_mode: mode,
                replication_factor: rf,
                shard_count: placements.len() as u32,
                sharding_strategy: strategy,
                read_only_shards: Vec::new(),
                offline_shards: Vec::new(),
                move_reads: Default::default(),
                split_from: None,
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

/// A valid cluster of `nodes` nodes (`node0`, `node1`, ...) and `shards`
/// shards, shard `s` having its primary on node `s % nodes` and its
/// `replication_factor - 1` replicas on the nodes after it: the fixed,
/// balanced layout that tests and benchmarks use at any size.
///
/// `node_id` is `node0`. Valid whenever `1 <= replication_factor <= nodes`
/// and `shards` is between 1 and [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT).
///
/// ```
/// use rusts_cluster_config::strategies::round_robin_cluster;
///
/// let config = round_robin_cluster(4096, 256, 3);
/// assert!(config.validate().is_ok() && config.warnings().is_empty());
/// ```
pub fn round_robin_cluster(shards: u32, nodes: usize, replication_factor: usize) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("node0", "10.0.0.1:8086");
    config.shard_count = shards;
    config.replication_factor = replication_factor;
    config.nodes = (0..nodes)
        .map(|i| {
            NodeConfig::new(
                format!("node{i}"),
                format!("10.{}.{}.{}:8086", i / 62500, i / 250 % 250, i % 250 + 1),
            )
        })
        .collect();
    for s in 0..shards {
        config.nodes[s as usize % nodes].shards.push(s);
        for copy in 1..replication_factor {
            config.nodes[(s as usize + copy) % nodes]
                .replica_shards
                .push(s);
        }
    }
    config
}
