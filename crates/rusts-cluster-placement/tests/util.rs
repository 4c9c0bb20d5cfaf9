//! What the topic modules share: the case count and the nodes and
//! skeletons they build clusters from.

use std::collections::HashMap;

use rusts_cluster_config::{ClusterConfig, NodeConfig};

/// The proptest case count: `key` or `PROPTEST_CASES` if set, else
/// `default`. `with_cases` overrides proptest's own `PROPTEST_CASES`, so it
/// is read here too: a long run asked for that way must not run the
/// default.
pub(crate) fn cases(key: &str, default: u32) -> u32 {
    [key, "PROPTEST_CASES"]
        .iter()
        .find_map(|key| std::env::var(key).ok()?.parse().ok())
        .unwrap_or(default)
}

/// Node `i`, `node{i}`, in zone `z{i % zones}`.
pub(crate) fn node(i: usize, zones: usize) -> NodeConfig {
    let mut node = NodeConfig::new(
        format!("node{i}"),
        format!("10.0.{}.{}:8086", i / 200, i % 200 + 1),
    );
    node.tags = HashMap::from([("zone".to_owned(), format!("z{}", i % zones))]);
    node
}

/// A cluster of `nodes` empty nodes in `zones` zones.
pub(crate) fn skeleton(nodes: usize, zones: usize, shards: u32, rf: usize) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("node0", "10.0.0.1:8086");
    config.nodes = (0..nodes).map(|i| node(i, zones)).collect();
    config.shard_count = shards;
    config.replication_factor = rf;
    config
}
