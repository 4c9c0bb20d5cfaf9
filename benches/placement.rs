//! Placement planning benchmarks, each beside its baselines in the same run.
//!
//! - `transition`: `plan_transition` from a balanced cluster of 65,536
//!   shards on 256 nodes in 4 zones (RF 3, `Quorum`) to the same cluster
//!   rebalanced with a node added (`add`) or removed (`remove`), beside
//!   `plan_moves` on the same two configs (the move plan `rebalance` and
//!   `diff` print) and `limit`: validating both configs, which any planner
//!   that checks its inputs must do. The bound is 200 ms for this
//!   size.
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench placement -- transition`;
//! the ratio table: `cargo run -p rusts-cluster-benches --bin bench-ratios`.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use rusts_cluster::{ClusterConfig, NodeConfig};
use rusts_cluster_placement::{
    balance, plan_moves, plan_transition, with_node_changes, DEFAULT_ZONE_TAG,
};

const SHARDS: u32 = 65_536;
const NODES: usize = 256;

fn node(i: usize) -> NodeConfig {
    let mut node = NodeConfig::new(
        format!("n{i}"),
        format!("10.{}.{}.1:8086", i / 250, i % 250),
    );
    node.tags
        .insert(DEFAULT_ZONE_TAG.to_owned(), format!("z{}", i % 4));
    node
}

/// The balanced cluster, and the same cluster rebalanced with node 256
/// added or node 7 removed, one generation later.
fn configs() -> (ClusterConfig, [(&'static str, ClusterConfig); 2]) {
    let mut skeleton = ClusterConfig::single_node("n0", "10.0.0.1:8086");
    skeleton.nodes = (0..NODES).map(node).collect();
    skeleton.shard_count = SHARDS;
    skeleton.replication_factor = 3;
    let old = balance(&skeleton, DEFAULT_ZONE_TAG).unwrap();
    let changed = |add: Vec<NodeConfig>, remove: &[String]| {
        let mut new = balance(
            &with_node_changes(&old, add, remove).unwrap(),
            DEFAULT_ZONE_TAG,
        )
        .unwrap();
        new.generation = old.generation + 1;
        new
    };
    let added = changed(vec![node(NODES)], &[]);
    let removed = changed(vec![], &["n7".to_owned()]);
    (old.clone(), [("add", added), ("remove", removed)])
}

fn transition(c: &mut Criterion) {
    let (old, news) = configs();
    let mut group = c.benchmark_group("transition");
    group.sample_size(10);
    group.throughput(Throughput::Elements(SHARDS as u64));
    for (change, new) in &news {
        let input = format!("{SHARDS}-{change}");
        group.bench_with_input(BenchmarkId::new("ours", &input), new, |b, new| {
            b.iter_with_large_drop(|| plan_transition(&old, new).unwrap())
        });
        group.bench_with_input(BenchmarkId::new("plan_moves", &input), new, |b, new| {
            b.iter_with_large_drop(|| plan_moves(&old, new))
        });
        group.bench_with_input(BenchmarkId::new("limit", &input), new, |b, new| {
            b.iter(|| {
                old.validate().unwrap();
                new.validate().unwrap();
            })
        });
    }
    group.finish();
}

criterion_group!(benches, transition);
criterion_main!(benches);
