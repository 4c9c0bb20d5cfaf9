//! `joining_shards`, `leaving_shards` and `move_reads`: what validation
//! refuses, with the problem named and located.

use rusts_cluster_config::{ClusterConfig, ConfigError, SourceMap, ValidationError};

fn config(extra_a: &str, extra_c: &str) -> String {
    format!(
        r#"
node_id = "a"
replication_factor = 2
shard_count = 2
[[nodes]]
id = "a"
address = "10.0.0.1:8086"
shards = [0, 1]
{extra_a}
[[nodes]]
id = "b"
address = "10.0.0.2:8086"
replica_shards = [0, 1]
[[nodes]]
id = "c"
address = "10.0.0.3:8086"
{extra_c}
"#
    )
}

fn codes(text: &str) -> Vec<(String, String)> {
    let config = ClusterConfig::from_toml(text).unwrap();
    match config.validate() {
        Ok(()) => Vec::new(),
        Err(ConfigError::Invalid { errors, .. }) => errors
            .iter()
            .map(|e| (e.code().to_owned(), e.to_string()))
            .collect(),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_move_of_one_copy_is_valid() {
    let text = config(
        "leaving_shards = [0]",
        "replica_shards = [0]\njoining_shards = [0]",
    );
    assert_eq!(codes(&text), []);
    let text = config(
        "",
        "replica_shards = [1]\njoining_shards = [1]\nmove_reads = 1",
    );
    assert!(
        ClusterConfig::from_toml(&text).is_err(),
        "a node has no move_reads"
    );
    let text = format!("move_reads = \"sideways\"\n{}", config("", ""));
    let err = ClusterConfig::from_toml(&text).unwrap_err().to_string();
    assert!(
        err.contains("unknown variant `sideways`, expected `old` or `new`"),
        "{err}"
    );
}

#[test]
fn a_moving_copy_must_be_held() {
    let found = codes(&config("", "joining_shards = [0]"));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "moving-copy-not-held");
    assert_eq!(
        found[0].1,
        "node \"c\" lists shard 0 in `joining_shards`, but holds no copy of it; `joining_shards` marks \
         one of the node's own copies as moving, so also list 0 in its `replica_shards` (or \
         `shards`), or remove it from `joining_shards`"
    );
}

#[test]
fn moving_lists_are_checked_like_the_others() {
    let found = codes(&config(
        "leaving_shards = [0, 0, 9]\njoining_shards = [0]",
        "",
    ));
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
    let found = codes(&config("leaving_shards = [1]", "").replace(
        "replica_shards = [0, 1]",
        "replica_shards = [0, 1]\nleaving_shards = [1]",
    ));
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0].0, "move-without-copies");
    assert!(
        found[0].1.starts_with("shard 1 has every copy leaving"),
        "{}",
        found[0].1
    );
    let err = ClusterConfig::from_toml(&config("joining_shards = [1]", "").replace(
        "replica_shards = [0, 1]",
        "replica_shards = [0, 1]\njoining_shards = [1]",
    ))
    .unwrap()
    .validate()
    .unwrap_err();
    let ConfigError::Invalid { errors, .. } = err else {
        panic!("{err}")
    };
    assert!(matches!(
        errors[0],
        ValidationError::MoveWithoutCopies { ref shards, joining: true } if shards == &[1]
    ));
}

#[test]
fn problems_in_moving_lists_are_located() {
    let text = config("", "joining_shards = [0]");
    let err = ClusterConfig::from_toml(&text)
        .unwrap()
        .validate()
        .unwrap_err();
    let map = SourceMap::parse(&text).unwrap();
    let at = map.locate(&err.validation_errors()[0]).unwrap();
    // The `0` of `joining_shards = [0]`, the text's line 17.
    assert_eq!((at.line, at.column), (17, 19));
}
