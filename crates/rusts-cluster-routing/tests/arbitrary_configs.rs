//! Arbitrary, mostly broken configs: validation and router building never
//! panic, a router is built exactly when validation passes, and a router
//! that is built routes every key to a shard whose primary exists.

use proptest::prelude::*;
use proptest::sample::Index;
use rusts_cluster_config::{strategies::valid_config, ClusterConfig, NodeConfig, MAX_SHARD_COUNT};
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKeyRef, ShardingStrategy};

fn any_strategy() -> impl Strategy<Value = ShardingStrategy> + Clone {
    prop_oneof![
        Just(ShardingStrategy::ByMeasurement),
        Just(ShardingStrategy::BySeries),
        any::<i64>().prop_map(|duration_nanos| ShardingStrategy::ByTime { duration_nanos }),
        any::<i64>().prop_map(|time_duration_nanos| ShardingStrategy::Composite {
            time_duration_nanos
        }),
    ]
}

/// Shard ids mostly in a small range, so that configs are sometimes valid,
/// with the extremes mixed in.
fn shard_id() -> impl Strategy<Value = u32> + Clone {
    prop_oneof![8 => 0u32..6, 1 => Just(u32::MAX), 1 => any::<u32>()]
}

fn any_node() -> impl Strategy<Value = NodeConfig> {
    let id = prop_oneof![Just(String::new()), "n[0-3]"];
    let address = prop_oneof![
        4 => (1u8..4).prop_map(|i| format!("10.0.0.{i}:8086")),
        1 => Just("10.0.0.1".to_owned()),
        1 => Just("[::1]:0".to_owned()),
        1 => Just("Host-1.example:8086".to_owned()),
        1 => "\\PC{0,12}",
    ];
    let list = prop::collection::vec(shard_id(), 0..6);
    (id, address, list.clone(), list).prop_map(|(id, address, shards, replica_shards)| {
        let mut node = NodeConfig::new(id, address);
        node.shards = shards;
        node.replica_shards = replica_shards;
        node
    })
}

fn any_config() -> impl Strategy<Value = ClusterConfig> {
    let shard_count = prop_oneof![
        8 => 0u32..6,
        1 => Just(MAX_SHARD_COUNT + 1),
        1 => Just(u32::MAX),
    ];
    (
        prop::collection::vec(any_node(), 0..5),
        "n[0-4]",
        shard_count,
        0usize..6,
        any_strategy(),
    )
        .prop_map(
            |(nodes, node_id, shard_count, replication_factor, strategy)| {
                let mut config = ClusterConfig::single_node(node_id, "10.0.0.9:8086");
                config.nodes = nodes;
                config.shard_count = shard_count;
                config.replication_factor = replication_factor;
                config.sharding_strategy = strategy;
                config
            },
        )
}

/// One small change to a config, which may or may not break it.
#[derive(Clone, Debug)]
enum Mutation {
    ShardCount(u32),
    ReplicationFactor(usize),
    Strategy(ShardingStrategy),
    PushPrimary(Index, u32),
    PushReplica(Index, u32),
    DropPrimary(Index),
    NodeId(Index, String),
    Address(Index, String),
    RemoveNode(Index),
    RepeatNode(Index),
}

fn any_mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        prop_oneof![Just(0u32), 1u32..300, Just(MAX_SHARD_COUNT + 1)]
            .prop_map(Mutation::ShardCount),
        (0usize..10).prop_map(Mutation::ReplicationFactor),
        any_strategy().prop_map(Mutation::Strategy),
        (any::<Index>(), shard_id()).prop_map(|(i, s)| Mutation::PushPrimary(i, s)),
        (any::<Index>(), shard_id()).prop_map(|(i, s)| Mutation::PushReplica(i, s)),
        any::<Index>().prop_map(Mutation::DropPrimary),
        (
            any::<Index>(),
            prop_oneof![Just(String::new()), "node[0-9]"]
        )
            .prop_map(|(i, id)| Mutation::NodeId(i, id)),
        (
            any::<Index>(),
            prop_oneof![Just("10.0.0.1:8086".to_owned()), "\\PC{0,12}"]
        )
            .prop_map(|(i, a)| Mutation::Address(i, a)),
        any::<Index>().prop_map(Mutation::RemoveNode),
        any::<Index>().prop_map(Mutation::RepeatNode),
    ]
}

fn mutate(config: &mut ClusterConfig, mutation: Mutation) {
    let nodes = config.nodes.len();
    match mutation {
        Mutation::ShardCount(n) => config.shard_count = n,
        Mutation::ReplicationFactor(rf) => config.replication_factor = rf,
        Mutation::Strategy(s) => config.sharding_strategy = s,
        _ if nodes == 0 => {}
        Mutation::PushPrimary(i, s) => config.nodes[i.index(nodes)].shards.push(s),
        Mutation::PushReplica(i, s) => config.nodes[i.index(nodes)].replica_shards.push(s),
        Mutation::DropPrimary(i) => {
            config.nodes[i.index(nodes)].shards.pop();
        }
        Mutation::NodeId(i, id) => config.nodes[i.index(nodes)].id = id,
        Mutation::Address(i, a) => config.nodes[i.index(nodes)].address = a,
        Mutation::RemoveNode(i) => {
            config.nodes.remove(i.index(nodes));
        }
        Mutation::RepeatNode(i) => config.nodes.push(config.nodes[i.index(nodes)].clone()),
    }
}

/// Valid configs with zero to three small changes (so some stay valid and
/// the others break in few ways at once), and configs built at random (which
/// break in many).
fn mostly_near_valid_config() -> impl Strategy<Value = ClusterConfig> {
    let near = (valid_config(), prop::collection::vec(any_mutation(), 0..4)).prop_map(
        |(mut config, mutations)| {
            for m in mutations {
                mutate(&mut config, m);
            }
            config
        },
    );
    prop_oneof![3 => near, 1 => any_config()]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_router_builds_exactly_when_validation_passes(
        config in mostly_near_valid_config(), series in any::<u64>(), timestamp in any::<i64>()
    ) {
        let valid = config.validate().is_ok();
        let _ = config.warnings();
        match ShardRouter::from_config(&config) {
            Ok(router) => {
                prop_assert!(valid);
                let shard = router.route(ShardKeyRef::new("m", series, timestamp)).unwrap();
                prop_assert!(shard.id < config.shard_count);
                prop_assert!(config.get_node(&shard.primary).is_some());
                prop_assert_eq!(router.all_shards().len(), config.shard_count as usize);
            }
            Err(_) => prop_assert!(!valid),
        }
    }
}
