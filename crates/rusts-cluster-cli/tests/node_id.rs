//! One file for every node: every file the tool writes (`generate`,
//! `rebalance`, `split`, `transition`) names no node, so it deploys
//! unchanged to every node, each loading it as itself; `validate` checks
//! such a file as the cluster's description, or as one node with
//! `--node-id`.

use std::fs;

use rusts_cluster_config::ClusterConfig;
use serde_json::Value;

use crate::util::{data, json, path, run, Scratch};

/// A per-node file as every node had before: a generated cluster (6 nodes
/// in 3 zones, 24 shards, RF 3) with `node_id = "n0"` on top, in `scratch`.
fn n0s_file(scratch: &Scratch) -> String {
    let generated = scratch.generated("generated.toml", 6, 3, 24, 3);
    let text = fs::read_to_string(&generated).unwrap();
    let file = scratch.path("n0.toml");
    fs::write(&file, format!("node_id = \"n0\"\n{text}")).unwrap();
    path(&file)
}

/// `file` names no node, validates as no node's, and loads as each of its
/// nodes with that node as its own, with the tool and with the library.
#[track_caller]
fn deploys_to_every_node(file: &str) {
    let text = fs::read_to_string(file).unwrap();
    assert!(
        !text.lines().any(|l| l.starts_with("node_id")),
        "{file} names a node:\n{text}"
    );
    run(&["validate", file]).exits(0);
    let shared = ClusterConfig::from_toml(&text).unwrap();
    assert!(!shared.nodes.is_empty());
    for node in &shared.nodes {
        let as_node = ClusterConfig::from_file_as(file, &node.id).unwrap();
        as_node.validate().unwrap();
        assert_eq!(as_node.this_node(), Some(node), "{file} as {}", node.id);
        run(&["validate", file, "--node-id", &node.id]).exits(0);
    }
}

#[test]
fn every_file_written_names_no_node() {
    let scratch = Scratch::new();
    let old = n0s_file(&scratch);
    assert_eq!(ClusterConfig::from_file(&old).unwrap().node_id, "n0");

    let split = scratch.arg("split.toml");
    run(&["split", &old, "--factor", "2", "--output", &split]).exits(0);
    deploys_to_every_node(&split);

    let grown = scratch.arg("grown.toml");
    run(&[
        "rebalance",
        &old,
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &grown,
    ])
    .exits(0)
    .stderr_lacks("node_id");
    deploys_to_every_node(&grown);

    // Removing the node the old file named leaves no node named either
    // (the library's `with_node_changes` names the first node left; the
    // file written does not).
    let shrunk = scratch.arg("shrunk.toml");
    run(&[
        "rebalance",
        &grown,
        "--remove-node",
        "n0",
        "--output",
        &shrunk,
    ])
    .exits(0)
    .stderr_lacks("node_id");
    deploys_to_every_node(&shrunk);

    let steps = scratch.path("steps");
    run(&["transition", &old, &grown, "--output-dir", &path(&steps)]).exits(0);
    let mut names: Vec<_> = fs::read_dir(&steps)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 3);
    for step in &names {
        deploys_to_every_node(&path(step));
    }

    deploys_to_every_node(&scratch.arg("generated.toml"));
    let report = json(
        &[
            "generate",
            "--node",
            "a=10.0.0.1:1",
            "--shards",
            "2",
            "--replication-factor",
            "1",
        ],
        0,
    );
    assert_eq!(report["node_id"], Value::Null);
    assert!(!report["toml"].as_str().unwrap().contains("node_id"));
}

#[test]
fn validate_checks_a_shared_file_as_the_cluster_or_as_one_node() {
    let file = path(&data("cluster.toml"));
    let report = json(&["validate", &file], 0);
    assert_eq!(
        (&report["valid"], &report["node_id"]),
        (&Value::Bool(true), &Value::Null)
    );
    let report = json(&["validate", &file, "--node-id", "node2"], 0);
    assert_eq!(report["node_id"], "node2");
    let report = json(&["validate", &file, "--node-id", "node9"], 1);
    assert_eq!(report["errors"][0]["code"], "unknown-this-node");
    assert!(
        report["errors"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("`node_id` is \"node9\", but no node in `nodes` has that id; load the config as the id of one of its nodes"),
        "{report:#}"
    );
    run(&["show", &file]).stdout_has("; no node_id (one file for every node)\n");
}
