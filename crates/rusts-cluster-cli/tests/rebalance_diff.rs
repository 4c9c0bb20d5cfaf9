//! `rebalance` and `diff`: the moves between two configs, the same risks
//! reported the same way by both, and the generation raised.

use std::fs;

use serde_json::json;

use crate::util::{data, invalid, json, path, run, run_bin, Scratch};

#[test]
fn rebalance_adding_a_node_moves_its_share_and_raises_the_generation() {
    let scratch = Scratch::new();
    let file = scratch.generated("c.toml", 6, 1, 600, 3);
    let new = scratch.arg("new.toml");
    let plan = json(
        &[
            "rebalance",
            &file,
            "--add-node",
            "n6=10.0.0.99:8086,zone=z0",
            "--output",
            &new,
        ],
        0,
    );
    // Copies move, so the new config is numbered as its transition's
    // final step (decision 0037).
    assert_eq!(plan["generation"], json!({"old": 0, "new": 3}));
    assert_eq!(plan["written"]["bytes"], fs::metadata(&new).unwrap().len());
    // 600 x 3 copies over 7 nodes: the new node's share is 257 (1800 / 7).
    let added = plan["copies_added"].as_u64().unwrap();
    assert!(added <= 258, "{added}");
    let n6 = plan["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["node"] == "n6")
        .unwrap();
    assert_eq!(n6["copies_in"].as_u64(), Some(added));
    run(&["validate", &new, "--deny-warnings"])
        .exits(0)
        .stdout_has("generation 3");
    // Removing it again moves only its copies.
    let plan = json(&["rebalance", &new, "--remove-node", "n6"], 0);
    assert_eq!(plan["copies_removed"].as_u64(), Some(added));
    assert_eq!(plan["copies_added"].as_u64(), Some(added));
    assert_eq!(plan["generation"]["new"], 6);
}

#[test]
fn rebalance_refuses_an_unknown_node() {
    run_bin(&["rebalance", "cli/cluster.toml", "--remove-node", "node9"])
        .exits(1)
        .stderr_has(
            "error: node \"node9\" is not in the cluster config; use one of the ids under [[nodes]] [unknown-node]",
        );
}

/// One copy per shard: moving a shard to a new node changes its every
/// copy. `rebalance` and `diff` report the same change the same way, with
/// the same exit code.
#[test]
fn rebalance_and_diff_agree_on_a_risky_plan() {
    let scratch = Scratch::new();
    let old = scratch.generated("old.toml", 2, 1, 4, 1);
    let new = scratch.arg("new.toml");
    // The file is still written: exit 1 asks for a person to read the plan.
    let rebalanced = run(&[
        "rebalance",
        &old,
        "--add-node",
        "n2=10.0.0.3:8086,zone=z0",
        "--output",
        &new,
    ])
    .exits(1)
    .stderr_has("note: wrote ");
    let diffed = run(&["diff", &old, &new])
        .exits(1)
        .stderr_has("[every-copy-changes]");
    assert!(!rebalanced.error_lines().is_empty());
    assert_eq!(rebalanced.error_lines(), diffed.error_lines());
    assert!(
        diffed.error_lines()[0].contains("changes at once"),
        "{}",
        diffed.stderr
    );
}

#[test]
fn diff_flags_a_shard_whose_every_copy_changes() {
    let scratch = Scratch::new();
    let old = scratch.generated("old.toml", 2, 1, 4, 1);
    let text = fs::read_to_string(&old).unwrap();
    let swapped = text
        .replace("\"n0\"", "\"tmp\"")
        .replace("\"n1\"", "\"n0\"")
        .replace("\"tmp\"", "\"n1\"")
        .replace("generation = 0", "generation = 1");
    let new = scratch.path("new.toml");
    fs::write(&new, swapped).unwrap();
    run(&["diff", &old, &path(&new)])
        .exits(1)
        .stderr_has("every copy of shards 0-3 changes at once")
        .stderr_lacks("generation-not-raised");
}

#[test]
fn diff_of_identical_files_says_no_changes() {
    let file = path(&data("cluster.toml"));
    run(&["diff", &file, &file])
        .exits(0)
        .stdout_is("no changes\n")
        .stderr_is("");
    let report = json(&["diff", &file, &file], 0);
    assert_eq!(report["changed"], false);
    assert_eq!(report["shards"], json!([]));
    // Only settings differ: no table of zeros, the settings named, and a
    // warning that the generation did not grow.
    let scratch = Scratch::new();
    let renamed = scratch.path("renamed.toml");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&renamed, text.replace("rusts-prod", "rusts-staging")).unwrap();
    run(&["diff", &file, &path(&renamed)])
        .exits(0)
        .stdout_is(
            "no shard moves\nother changes:\n  cluster_name: \"rusts-prod\" -> \"rusts-staging\"\n",
        )
        .stderr_has("[generation-not-raised]");
}

/// A shard state is part of the config (decision 0046), so `diff` shows a
/// change of it, as a setting.
#[test]
fn diff_shows_a_change_of_shard_states() {
    let file = path(&data("cluster.toml"));
    let scratch = Scratch::new();
    let changed = scratch.path("read-only.toml");
    let text = fs::read_to_string(&file).unwrap();
    let text = text.replace(
        "shard_count = 16",
        "shard_count = 16\ngeneration = 1\nread_only_shards = [9, 3]",
    );
    fs::write(&changed, text).unwrap();
    run(&["diff", &file, &path(&changed)])
        .exits(0)
        // docs/operations.md, "Stopping writes to a shard on one node".
        .stdout_is("no shard moves\nother changes:\n  generation: 0 -> 1\n  read_only_shards: [] -> [3,9]\n")
        .stderr_lacks("generation-not-raised");
    let report = json(&["diff", &file, &path(&changed)], 0);
    assert_eq!(report["changed"], true, "{report}");
}

#[test]
fn diff_validates_both_inputs() {
    let good = path(&data("cluster.toml"));
    let bad = path(&invalid("duplicate-node-id.toml"));
    run(&["diff", &bad, &good])
        .exits(1)
        .stdout_is("")
        .stderr_has(&format!("error: {bad}:"))
        .stderr_has("[duplicate-node-id]");
    // Both files' problems in one run.
    run(&["diff", "no/such.toml", &bad])
        .exits(1)
        .stderr_has("[io]")
        .stderr_has("[duplicate-node-id]");
}
