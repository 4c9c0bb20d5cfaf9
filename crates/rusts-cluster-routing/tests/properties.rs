//! Property tests of the router: every key reaches a shard that exists on
//! nodes that exist, exactly as the config says, whatever the node order.

use proptest::prelude::*;
use rusts_cluster_config::{strategies::valid_config, ClusterConfig};
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{Shard, ShardKey, ShardKeyRef};

fn any_key() -> impl Strategy<Value = ShardKey> {
    ("[a-z]{0,12}", any::<u64>(), any::<i64>()).prop_map(|(m, id, ts)| ShardKey::new(m, id, ts))
}

/// The shard as the config describes it, computed the slow, obvious way.
fn expected_shard(config: &ClusterConfig, id: u32) -> Shard {
    let primary = config
        .primary_for_shard(id)
        .expect("a valid config has a primary for every shard");
    let mut shard = Shard::new(id, primary.id.clone());
    shard.address = Some(primary.address.clone());
    shard.replicas = config
        .replicas_for_shard(id)
        .iter()
        .map(|n| n.id.clone())
        .collect();
    shard
}

proptest! {
    #[test]
    fn prop_every_key_routes_to_the_configured_shard(
        config in valid_config(), keys in prop::collection::vec(any_key(), 1..50)
    ) {
        let router = ShardRouter::from_config(&config).unwrap();
        for key in &keys {
            let shard = router.route(key).unwrap();
            prop_assert!(shard.id < config.shard_count);
            prop_assert_eq!(shard.id, config.sharding_strategy.compute_shard(key, config.shard_count));
            prop_assert!(config.get_node(&shard.primary).is_some());
            prop_assert_eq!(&*shard, &expected_shard(&config, shard.id));
            let borrowed = router.route(ShardKeyRef::new(&key.measurement, key.series_id, key.timestamp)).unwrap();
            prop_assert_eq!(borrowed.id, shard.id);
        }
    }

    #[test]
    fn prop_node_lists_match_the_config(config in valid_config()) {
        let router = ShardRouter::from_config(&config).unwrap();
        prop_assert_eq!(router.all_shards().len(), config.shard_count as usize);
        for node in &config.nodes {
            let mut all: Vec<u32> = node.shards.iter().chain(&node.replica_shards).copied().collect();
            all.sort_unstable();
            let mut primaries = node.shards.clone();
            primaries.sort_unstable();
            let got: Vec<u32> = router.shards_for_node(&node.id).iter().map(|s| s.id).collect();
            prop_assert_eq!(got, all);
            let got: Vec<u32> = router.primary_shards_for_node(&node.id).iter().map(|s| s.id).collect();
            prop_assert_eq!(got, primaries);
        }
        let this = config.this_node().unwrap();
        for id in 0..config.shard_count {
            prop_assert_eq!(router.is_primary_for(id), this.shards.contains(&id));
            prop_assert_eq!(router.holds_shard(id), this.shards.contains(&id) || this.replica_shards.contains(&id));
        }
    }

    #[test]
    fn prop_node_order_never_changes_routing(
        (config, shuffled) in valid_config().prop_flat_map(|c| {
            let nodes = Just(c.nodes.clone()).prop_shuffle();
            (Just(c), nodes)
        }),
        keys in prop::collection::vec(any_key(), 1..20)
    ) {
        let mut reordered = config.clone();
        reordered.nodes = shuffled;
        let a = ShardRouter::from_config(&config).unwrap();
        let b = ShardRouter::from_config(&reordered).unwrap();
        let table_a: Vec<Shard> = a.all_shards().iter().map(|s| Shard::clone(s)).collect();
        let table_b: Vec<Shard> = b.all_shards().iter().map(|s| Shard::clone(s)).collect();
        prop_assert_eq!(table_a, table_b);
        for key in &keys {
            prop_assert_eq!(&*a.route(key).unwrap(), &*b.route(key).unwrap());
        }
    }
}
