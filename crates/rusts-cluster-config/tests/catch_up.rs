//! `ClusterConfig::catch_ups` and `drops`: what a step config of a
//! transition asks of its copies, read from that one config. The plans
//! that write such configs are tested against these in
//! `rusts-cluster-placement`; here each rule is checked on a config
//! written out by hand.

use rusts_cluster_config::{ClusterConfig, CopyDrop, MoveReads, StepKind};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::{CopyState, ShardId};

use crate::util::fixture;

/// `(shard, node, state, sources)` of each catch-up, for comparing whole
/// lists at a glance.
fn summary(config: &ClusterConfig) -> Vec<(ShardId, String, CopyState, String)> {
    config
        .catch_ups()
        .into_iter()
        .map(|c| (c.shard, c.node, c.state, c.sources.join(",")))
        .collect()
}

fn row(
    shard: ShardId,
    node: &str,
    state: CopyState,
    sources: &str,
) -> (ShardId, String, CopyState, String) {
    (shard, node.to_owned(), state, sources.to_owned())
}

/// Step 1 of node "d" replacing node "c" on a, b, c holding each of three
/// shards (RF 3, Quorum): d joins every shard, c leaves every shard.
fn replace_c() -> ClusterConfig {
    let config = ClusterConfig::from_toml(
        r#"
        node_id = "a"
        generation = 11
        replication_factor = 3
        shard_count = 3
        [[nodes]]
        id = "a"
        address = "10.0.0.1:8086"
        shards = [0]
        replica_shards = [1, 2]
        [[nodes]]
        id = "b"
        address = "10.0.0.2:8086"
        shards = [1]
        replica_shards = [0, 2]
        [[nodes]]
        id = "d"
        address = "10.0.0.4:8086"
        replica_shards = [0, 1, 2]
        joining_shards = [0, 1, 2]
        [[nodes]]
        id = "c"
        address = "10.0.0.3:8086"
        shards = [2]
        replica_shards = [0, 1]
        leaving_shards = [0, 1, 2]
        "#,
    )
    .unwrap();
    config.validate().unwrap();
    config
}

#[test]
fn a_settled_config_catches_up_and_drops_nothing() {
    // Every valid fixture but the one in the middle of a move.
    let dir = crate::util::testdata("valid");
    let mut settled = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let config = ClusterConfig::from_file(&path).unwrap();
        let moving = config
            .nodes
            .iter()
            .any(|n| !n.joining_shards.is_empty() || !n.leaving_shards.is_empty());
        let name = path.display();
        assert_eq!(config.drops().is_empty(), !moving, "{name}");
        assert_eq!(config.catch_ups().is_empty(), !moving, "{name}");
        settled += usize::from(!moving);
    }
    assert!(settled >= 5, "the fixtures are there: {settled}");
}

#[test]
fn joining_copies_catch_up_from_stable_copies_first() {
    // Quorum of 3: w = 2, so 3 - 2 + 1 = 2 sources, the stable a and b
    // before the leaving c.
    let config = replace_c();
    use CopyState::Joining;
    assert_eq!(
        summary(&config),
        [
            row(0, "d", Joining, "a,b"),
            row(1, "d", Joining, "a,b"),
            row(2, "d", Joining, "a,b"),
        ]
    );
}

#[test]
fn sources_count_follows_the_replication_mode() {
    // Synchronous: w = 3, one source holds every acknowledged write;
    // asynchronous: w = 0, every old copy is needed.
    let mut config = replace_c();
    config.replication_mode = ReplicationMode::Synchronous;
    let counts: Vec<usize> = config.catch_ups().iter().map(|c| c.sources.len()).collect();
    assert_eq!(counts, [1, 1, 1]);
    config.replication_mode = ReplicationMode::Asynchronous;
    for c in config.catch_ups() {
        assert_eq!(c.sources, ["a", "b", "c"], "{c:?}");
    }
}

#[test]
fn sources_are_spread_over_the_least_used() {
    // One source each (Synchronous): a serves shard 0, then b is less
    // used and serves shard 1, then a again; never c while a stable copy
    // is there.
    let mut config = replace_c();
    config.replication_mode = ReplicationMode::Synchronous;
    let sources: Vec<String> = config
        .catch_ups()
        .into_iter()
        .map(|c| c.sources.join(","))
        .collect();
    assert_eq!(sources, ["a", "b", "a"]);
}

#[test]
fn a_shard_that_loses_more_copies_than_it_gains_catches_up_stable_ones() {
    // Shard 0 goes from a, b, c, d to a, c (RF 3, Quorum): w = 2 new
    // copies must hold every write and none joins, so both stable copies
    // catch up, from 4 - 2 + 1 = 3 old copies each, their own data first,
    // then the least used: c's third source is d, since a's took b.
    let config = ClusterConfig::from_toml(
        r#"
        node_id = "a"
        replication_factor = 3
        shard_count = 1
        [[nodes]]
        id = "a"
        address = "10.0.0.1:8086"
        shards = [0]
        [[nodes]]
        id = "b"
        address = "10.0.0.2:8086"
        replica_shards = [0]
        leaving_shards = [0]
        [[nodes]]
        id = "c"
        address = "10.0.0.3:8086"
        replica_shards = [0]
        [[nodes]]
        id = "d"
        address = "10.0.0.4:8086"
        replica_shards = [0]
        leaving_shards = [0]
        "#,
    )
    .unwrap();
    assert!(config.validate().is_ok(), "{:?}", config.validate());
    use CopyState::Stable;
    assert_eq!(
        summary(&config),
        [row(0, "a", Stable, "a,b,c"), row(0, "c", Stable, "a,c,d")]
    );
}

#[test]
fn steps_one_and_two_ask_the_same() {
    // Step 2 differs in primaries and `move_reads`, neither of which plays
    // a part: a node that missed step 1 computes the same list from 2.
    let step1 = replace_c();
    let mut step2 = step1.clone();
    step2.generation += 1;
    step2.move_reads = MoveReads::New;
    step2.nodes[3].shards.clear();
    step2.nodes[3].replica_shards = vec![0, 1, 2];
    step2.nodes[2].shards = vec![2];
    step2.nodes[2].replica_shards = vec![0, 1];
    step2.validate().unwrap();
    assert_eq!(step2.catch_ups(), step1.catch_ups());
    assert_eq!(step2.drops(), step1.drops());
}

#[test]
fn catch_ups_of_a_node_are_its_share_of_the_whole() {
    let config = replace_c();
    assert_eq!(config.catch_ups_of("d"), config.catch_ups());
    for node in ["a", "b", "c", "nobody"] {
        assert!(config.catch_ups_of(node).is_empty(), "{node}");
    }
    // Two joining nodes: each keeps its own, with the sources balanced
    // over both.
    let mut config = ClusterConfig::from_toml(&fixture("valid/moving.toml")).unwrap();
    config.nodes[1].joining_shards.push(1);
    config.validate().unwrap();
    let all = config.catch_ups();
    let mut mine = config.catch_ups_of("b");
    mine.extend(config.catch_ups_of("d"));
    mine.sort_by_key(|c| (c.shard, c.node.clone()));
    assert_eq!(mine, all);
}

#[test]
fn drops_are_the_leaving_copies_after_the_final_step() {
    let config = replace_c();
    let drops = config.drops();
    let expected: Vec<CopyDrop> = (0..3)
        .map(|shard| CopyDrop {
            shard,
            node: "c".to_owned(),
            after: StepKind::Final,
        })
        .collect();
    assert_eq!(drops, expected);
    // The fixture's one moving copy: c's copy of shard 0.
    let moving = ClusterConfig::from_toml(&fixture("valid/moving.toml")).unwrap();
    let drops: Vec<(ShardId, String)> = moving
        .drops()
        .into_iter()
        .map(|d| (d.shard, d.node))
        .collect();
    assert_eq!(drops, [(0, "c".to_owned())]);
}

#[test]
fn drops_and_catch_ups_are_sorted_by_shard_then_node_id() {
    // Two joining nodes, e listed before d: the lists come out by shard,
    // then node id, whatever the file's order.
    let mut config = replace_c();
    let mut e = config.nodes[2].clone();
    e.id = "e".to_owned();
    e.address = "10.0.0.5:8086".to_owned();
    config.nodes.insert(0, e);
    config.validate().unwrap();
    let keys: Vec<(ShardId, String)> = config
        .catch_ups()
        .into_iter()
        .map(|c| (c.shard, c.node))
        .collect();
    let expected: Vec<(ShardId, String)> = (0..3)
        .flat_map(|s| [(s, "d".to_owned()), (s, "e".to_owned())])
        .collect();
    assert_eq!(keys, expected);
    let mut config = replace_c();
    config.nodes[1].leaving_shards = vec![2];
    config.nodes[1].replica_shards = vec![0, 2];
    let drops: Vec<(ShardId, String)> = config
        .drops()
        .into_iter()
        .map(|d| (d.shard, d.node))
        .collect();
    assert_eq!(
        drops,
        [
            (0, "c".to_owned()),
            (1, "c".to_owned()),
            (2, "b".to_owned()),
            (2, "c".to_owned())
        ]
    );
}

#[test]
fn an_invalid_config_does_not_panic() {
    // Every copy of shard 0 joining (refused by validation as
    // `move-without-copies`): its catch-up has no old copy to read.
    let mut config = replace_c();
    config.nodes[0].joining_shards = vec![0];
    config.nodes[1].joining_shards = vec![0];
    config.nodes[3].leaving_shards.clear();
    config.nodes[3].joining_shards = vec![0];
    assert!(config.validate().is_err());
    let shard0: Vec<_> = config
        .catch_ups()
        .into_iter()
        .filter(|c| c.shard == 0)
        .collect();
    assert_eq!(shard0.len(), 4);
    assert!(shard0.iter().all(|c| c.sources.is_empty()), "{shard0:?}");
}
