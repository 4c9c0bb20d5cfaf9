//! The JSON report's contract (docs/operations.md): one object on stdout,
//! on success and on every kind of failure, with the common keys, each
//! subcommand's own keys, and a node named `node` in every list of nodes.

use std::collections::BTreeSet;

use serde_json::Value;

use crate::util::{
    data, fake_cluster, invalid, json, path, run, subcommands, takes_format, FakeNode, Scratch,
};

/// Every subcommand's JSON, on success and on each kind of failure: one
/// object on stdout with the common keys, the node named `node` wherever a
/// list holds nodes, and the subcommand's own keys (docs/operations.md).
#[test]
fn json_reports_have_the_documented_keys() {
    let scratch = Scratch::new();
    let example = path(&data("cluster.toml"));
    let generated = scratch.generated("g.toml", 4, 2, 8, 2);
    let rebalanced = scratch.arg("rebalanced.toml");
    run(&[
        "rebalance",
        &generated,
        "--add-node",
        "n9=10.0.9.9:8086,zone=z0",
        "--output",
        &rebalanced,
    ])
    .exits(0);
    let steps = scratch.arg("steps");
    // A step to go back from, planned in a directory of its own.
    let planned = scratch.arg("planned");
    run(&[
        "transition",
        &generated,
        &rebalanced,
        "--output-dir",
        &planned,
    ])
    .exits(0);
    let joint = format!("{planned}/01-joint-writes.toml");
    let back = scratch.arg("back");
    let out = scratch.arg("out.toml");
    let bad = path(&invalid("many-problems-at-once.toml"));
    let syntax = path(&invalid("parse-syntax-error.toml"));
    let node = FakeNode::status("a1", 1, 0);
    let ready = fake_cluster(&scratch, "ready.toml", 1, &[("a1", &node.address)]);
    let refused = fake_cluster(&scratch, "refused.toml", 1, &[("a1", &FakeNode::refused())]);
    let common_keys = [
        "format_version",
        "command",
        "exit_code",
        "errors",
        "warnings",
    ];
    #[rustfmt::skip]
    let cases: Vec<(Vec<&str>, u8, &[&str])> = vec![
        (vec!["validate", &example], 0, &["file", "valid", "node_id", "generation"]),
        (vec!["validate", &bad], 1, &["file", "valid"]),
        (vec!["validate", "no/such.toml"], 1, &["file", "valid"]),
        (vec!["show", &example], 0, &["file", "cluster_name", "node_id", "generation", "shard_count", "replication_factor", "replication_mode", "sharding_strategy", "nodes", "shards"]),
        (vec!["show", &syntax], 1, &["file"]),
        (vec!["route", &example, "--measurement", "m", "--series-id", "1", "--timestamp", "0"], 0, &["file", "key", "shard", "state", "primary", "address", "replicas", "copies", "replication_mode", "replication_factor", "acks_required"]),
        (vec!["route", "no/such.toml", "--measurement", "m", "--series-id", "1", "--timestamp", "0"], 1, &[]),
        (vec!["plan-query", &example, "--series-id", "9"], 0, &["file", "node_id", "shards", "shard_count", "pruned", "complete", "targets", "unavailable", "consistency", "reads"]),
        (vec!["plan-query", &example, "--series-id", "9", "--down", "node2"], 1, &["targets", "unavailable"]),
        (vec!["plan-query", &example, "--from", "5", "--to", "5"], 2, &["file"]),
        (vec!["generate", "--node", "a=10.0.0.1:1", "--shards", "2", "--replication-factor", "1"], 0, &["node_id", "generation", "shard_count", "replication_factor", "nodes", "toml"]),
        (vec!["generate", "--node", "a=10.0.0.1:1", "--shards", "2", "--replication-factor", "1", "--output", &out], 0, &["written"]),
        (vec!["generate", "--node", "a=10.0.0.1:1", "--shards", "0", "--replication-factor", "1"], 1, &[]),
        (vec!["rebalance", &generated, "--add-node", "n9=10.0.9.9:8086,zone=z0"], 0, &["file", "generation", "changed", "shards", "nodes", "copies_added", "copies_removed", "primary_changes", "mapping_changed"]),
        (vec!["rebalance", &generated, "--remove-node", "nobody"], 1, &["file"]),
        (vec!["split", &generated, "--factor", "2"], 0, &["file", "generation", "split", "copies_moved", "nodes"]),
        (vec!["split", &generated, "--factor", "2", "--output", &out], 0, &["written", "split"]),
        (vec!["split", &generated, "--factor", "1"], 2, &[]),
        (vec!["split", &generated, "--factor", "40000"], 1, &["file"]),
        (vec!["diff", &generated, &generated], 0, &["old_file", "new_file", "generation", "changed", "settings", "shards", "nodes", "split"]),
        (vec!["diff", &generated, &bad], 1, &["old_file", "new_file"]),
        (vec!["transition", &generated, &rebalanced, "--output-dir", &steps], 0, &["old_file", "new_file", "output_dir", "generation", "changed", "moving_shards", "steps", "catch_up", "drop_copies"]),
        (vec!["transition", &generated, &generated, "--output-dir", &steps], 0, &["old_file", "new_file", "output_dir", "generation", "changed", "moving_shards", "steps", "catch_up", "drop_copies"]),
        (vec!["transition", &generated, &bad, "--output-dir", &steps], 1, &["old_file", "new_file", "output_dir"]),
        (vec!["transition", "--back", &generated, &joint, "--output-dir", &back], 0, &["start_file", "step_file", "output_dir", "generation", "from_step", "steps", "drop_copies", "stop"]),
        (vec!["transition", "--back", &generated, &generated, "--output-dir", &back], 1, &["start_file", "step_file", "output_dir", "generation"]),
        (vec!["status", &ready], 0, &["file", "generation", "ready", "polls", "elapsed_ms", "nodes"]),
        (vec!["status", &refused], 1, &["file", "generation", "ready", "nodes"]),
        (vec!["status", &bad], 1, &["file"]),
        (vec!["show", "--bogus"], 2, &[]),
        (vec!["frobnicate"], 2, &[]),
    ];
    // Every subcommand with a report succeeds here at least once, and
    // fails at least once: a new one fails this test until it is listed.
    let covered = |code_ok: bool| -> BTreeSet<&str> {
        cases
            .iter()
            .filter(|(_, code, _)| (*code == 0) == code_ok)
            .map(|(args, _, _)| args[0])
            .collect()
    };
    let reporting: BTreeSet<String> = subcommands()
        .iter()
        .map(|s| s.get_name().to_owned())
        .filter(|name| takes_format(name))
        .collect();
    for name in &reporting {
        assert!(
            covered(true).contains(name.as_str()),
            "no success of `{name}`"
        );
        assert!(
            covered(false).contains(name.as_str()),
            "no failure of `{name}`"
        );
    }
    for (args, expected, keys) in cases {
        let report = json(&args, expected);
        let code = expected;
        for key in common_keys.iter().chain(keys) {
            assert!(
                report.get(key).is_some(),
                "{args:?}: no `{key}` in {report:#}"
            );
        }
        assert_eq!(report["format_version"], 1);
        let errors = report["errors"].as_array().unwrap();
        assert_eq!(errors.is_empty(), code == 0, "{args:?}: {report:#}");
        for problem in errors.iter().chain(report["warnings"].as_array().unwrap()) {
            for key in ["code", "message", "file", "line", "column"] {
                assert!(problem.get(key).is_some(), "{args:?}: {problem}");
            }
            assert!(!problem["code"].as_str().unwrap().is_empty());
        }
        if code == 2 {
            assert_eq!(errors[0]["code"], "usage", "{args:?}");
        }
        // A node is `node` in every list of nodes.
        for list in ["nodes", "targets"] {
            if let Some(items) = report[list].as_array() {
                for item in items {
                    assert!(item.get("node").is_some(), "{args:?}: {item}");
                    assert!(item.get("id").is_none() && item.get("node_id").is_none());
                }
            }
        }
    }
    // The failures name their code, file and place.
    let report = json(&["show", &syntax], 1);
    let error = &report["errors"][0];
    assert_eq!(
        (
            &error["code"],
            &error["file"],
            &error["line"],
            &error["column"]
        ),
        (
            &Value::from("parse"),
            &Value::from(syntax.as_str()),
            &Value::from(15),
            &Value::from(1)
        )
    );
    let report = json(&["validate", "no/such.toml"], 1);
    assert_eq!(report["errors"][0]["code"], "io");
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .ends_with("No such file or directory (os error 2)"));
    let report = run(&["show", "--format", "json", "--bogus"])
        .exits(2)
        .report();
    assert_eq!(report["command"], "show");
    assert_eq!(
        report["errors"][0]["message"],
        "unexpected argument '--bogus' found"
    );
}
