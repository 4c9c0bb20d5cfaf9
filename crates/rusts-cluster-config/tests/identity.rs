//! Config digests are a contract between nodes: two nodes of different
//! versions running one file must compute one digest, or they refuse each
//! other. These values pin them, as the sharding crate's value-stability
//! tests pin which shard a key maps to. A change here is a breaking change
//! of the wire protocol and of every saved node state.

use rusts_cluster_config::{ClusterConfig, ConfigDigest};

/// A config the package carries: an example or a fixture.
fn example(name: &str) -> ClusterConfig {
    let path = format!("{}/{name}", env!("CARGO_MANIFEST_DIR"));
    ClusterConfig::from_file(path).unwrap()
}

#[test]
fn digests_of_the_examples_never_change() {
    let pinned = [
        ("examples/cluster.toml", "fnv1a64:1d37dea630b84109"),
        (
            "testdata/valid/tags-and-zones.toml",
            "fnv1a64:901d3b0bafb6d047",
        ),
        ("testdata/valid/moving.toml", "fnv1a64:a9171e6715e9afdd"),
        ("testdata/valid/split.toml", "fnv1a64:33914410bfd5a668"),
    ];
    for (name, digest) in pinned {
        let config = example(name);
        assert_eq!(config.digest().to_string(), digest, "{name}");
        assert_eq!(ConfigDigest::parse(digest), Ok(config.digest()));
    }
}

#[test]
fn how_the_file_is_written_is_not_content() {
    let config = example("testdata/valid/tags-and-zones.toml");
    let saved = ClusterConfig::from_toml(&config.to_toml().unwrap()).unwrap();
    assert_eq!(saved.digest(), config.digest());
    let mut reversed = config.clone();
    reversed.nodes.reverse();
    for node in &mut reversed.nodes {
        node.shards.reverse();
    }
    assert_eq!(reversed.digest(), config.digest());
    assert_eq!(config.clone().for_node("node1").digest(), config.digest());
    // Nor is the order of a state's list.
    let mut states = config.clone();
    states.read_only_shards = vec![3, 1];
    let mut sorted = config.clone();
    sorted.read_only_shards = vec![1, 3];
    assert_eq!(states.digest(), sorted.digest());
    // Moving a shard from one state's list to the other is content.
    let mut offline = config.clone();
    offline.read_only_shards = vec![1];
    offline.offline_shards = vec![3];
    assert_ne!(offline.digest(), sorted.digest());
}

/// A named change to a config.
type Change = (&'static str, fn(&mut ClusterConfig));

#[test]
fn every_field_is_content() {
    let config = example("testdata/valid/tags-and-zones.toml");
    let digest = config.digest();
    let changes: [Change; 11] = [
        ("generation", |c| c.generation += 1),
        ("cluster_name", |c| c.cluster_name.push('x')),
        ("replication_factor", |c| c.replication_factor += 1),
        ("replication_mode", |c| {
            c.replication_mode = rusts_cluster_replication::ReplicationMode::Synchronous
        }),
        ("move_reads", |c| {
            c.move_reads = rusts_cluster_config::MoveReads::New
        }),
        ("address", |c| c.nodes[0].address.push('0')),
        ("a shard moved", |c| {
            let s = c.nodes[0].shards.pop().unwrap();
            c.nodes[1].shards.push(s);
        }),
        ("a tag", |c| {
            c.nodes[0].tags.insert("rack".into(), "r1".into());
        }),
        ("read_only_shards", |c| c.read_only_shards.push(1)),
        ("offline_shards", |c| c.offline_shards.push(1)),
        ("a state's list", |c| {
            c.read_only_shards.push(1);
            c.offline_shards.push(2);
        }),
    ];
    for (what, change) in changes {
        let mut changed = config.clone();
        change(&mut changed);
        assert_ne!(changed.digest(), digest, "{what}");
    }
}
