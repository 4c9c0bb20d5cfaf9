//! `joining_shards`, `leaving_shards` and `move_reads`: what validation
//! refuses, with the problem named and located. Each case starts from
//! `testdata/valid/moving.toml`, a cluster in the middle of a move.

use rusts_cluster_config::{ClusterConfig, MoveReads, SourceMap, ValidationErrorKind};

use crate::util::{codes, fixture, messages};

fn moving() -> String {
    fixture("valid/moving.toml")
}

fn config() -> ClusterConfig {
    ClusterConfig::from_toml(&moving()).unwrap()
}

/// The node with id `id`.
fn node<'c>(config: &'c mut ClusterConfig, id: &str) -> &'c mut rusts_cluster_config::NodeConfig {
    config.nodes.iter_mut().find(|n| n.id == id).unwrap()
}

#[test]
fn a_move_of_one_copy_is_valid() {
    let config = config();
    assert_eq!(codes(&config), Vec::<&str>::new());
    assert_eq!(config.move_reads, MoveReads::New);
    let text = moving().replace(
        "joining_shards = [0]",
        "joining_shards = [0]\nmove_reads = 1",
    );
    assert!(
        ClusterConfig::from_toml(&text).is_err(),
        "a node has no move_reads"
    );
    let text = moving().replace("move_reads = \"new\"", "move_reads = \"sideways\"");
    let err = ClusterConfig::from_toml(&text).unwrap_err().to_string();
    assert!(
        err.contains("unknown variant `sideways`, expected `old` or `new`"),
        "{err}"
    );
}

#[test]
fn a_moving_copy_must_be_held() {
    let mut config = config();
    // c holds shard 0 only.
    node(&mut config, "c").joining_shards = vec![1];
    let found = messages(&config);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "moving-copy-not-held");
    assert_eq!(
        found[0].1,
        "node \"c\" lists shard 1 in `joining_shards`, but holds no copy of it; `joining_shards` marks \
         one of the node's own copies as moving, so also list 1 in its `replica_shards` (or \
         `shards`), or remove it from `joining_shards`"
    );
}

#[test]
fn moving_lists_are_checked_like_the_others() {
    let mut config = config();
    let a = node(&mut config, "a");
    a.leaving_shards = vec![0, 0, 9];
    a.joining_shards = vec![0];
    let found = messages(&config);
    let found: Vec<&str> = found.iter().map(|(code, _)| code.as_str()).collect();
    assert_eq!(
        found,
        [
            "duplicate-shard-in-list",
            "shard-out-of-range",
            "joining-and-leaving"
        ]
    );
}

#[test]
fn a_move_keeps_an_old_copy_and_a_new_one() {
    // Every copy of shard 1 leaving: nothing keeps it after the move.
    let mut config = config();
    for id in ["a", "b", "d"] {
        node(&mut config, id).leaving_shards.push(1);
    }
    let found = messages(&config);
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "move-without-copies");
    assert!(
        found[0].1.starts_with("shard 1 has every copy leaving"),
        "{}",
        found[0].1
    );
    let mut config = self::config();
    for id in ["a", "b", "d"] {
        node(&mut config, id).joining_shards.push(1);
    }
    let err = config.validate().unwrap_err();
    assert!(matches!(
        err.validation_errors()[0].kind(),
        ValidationErrorKind::MoveWithoutCopies { shards, joining: true } if shards == &[1]
    ));
}

#[test]
fn problems_in_moving_lists_are_located() {
    // c marks shard 1, which it does not hold, as joining.
    let text = moving().replace(
        "leaving_shards = [0]",
        "leaving_shards = [0]\njoining_shards = [1]",
    );
    let err = ClusterConfig::from_toml(&text)
        .unwrap()
        .validate()
        .unwrap_err();
    let map = SourceMap::parse(&text).unwrap();
    let at = map.locate(&err.validation_errors()[0]).unwrap();
    // The `1` of `joining_shards = [1]`.
    let line = text
        .lines()
        .position(|l| l == "joining_shards = [1]")
        .unwrap()
        + 1;
    assert_eq!((at.line, at.column), (line, 19));
}
