//! `split`: growing the shard count by a whole factor with no copy moved,
//! recognised by `diff`, and refused past the shard limit.

use std::fs;

use rusts_cluster_config::ClusterConfig;
use serde_json::{json, Value};

use crate::util::{cluster_and_rebalanced, data, json, path, run, Scratch};

/// The operator's sequence: split a generated three-zone cluster, validate
/// the result with warnings denied, and diff it against the original: a
/// split by 2 in which no copy moves, exit code 0. The split of the split
/// is a split of it, and of nothing older.
#[test]
fn split_writes_a_config_that_validates_and_diff_recognises() {
    let scratch = Scratch::new();
    let file = scratch.generated("c.toml", 6, 3, 48, 3);
    let split = scratch.arg("split.toml");
    let report = json(&["split", &file, "--factor", "2", "--output", &split], 0);
    assert_eq!(report["generation"], json!({"old": 0, "new": 1}));
    assert_eq!(
        report["split"],
        json!({"factor": 2, "old_shard_count": 48, "new_shard_count": 96})
    );
    assert_eq!(report["warnings"], json!([]));
    run(&["validate", &split, "--deny-warnings"])
        .exits(0)
        .stdout_has("generation 1, 0 warnings");

    run(&["diff", &file, &split])
        .exits(0)
        .stdout_starts("split by 2: 0 copies move\n")
        .stdout_has("shard_count: 48 -> 96");
    let report = json(&["diff", &file, &split], 0);
    assert_eq!(report["split"]["factor"], 2);
    assert_eq!(report["copies_added"], 0);
    assert_eq!(report["mapping_changed"], false);

    let again = scratch.arg("again.toml");
    run(&["split", &split, "--factor", "3", "--output", &again]).exits(0);
    run(&["diff", &split, &again]).stdout_starts("split by 3: 0 copies move");
    // From the first file, 48 to 288 shards skips a generation: the record
    // names 96 shards, so it is not a split of it.
    let report = json(&["diff", &file, &again], 1);
    assert_eq!(report["split"], Value::Null);
    assert!(
        report["not_a_split"]
            .as_str()
            .unwrap()
            .contains("names 96 shards at generation 1"),
        "{report:#}"
    );
    let errors: Vec<_> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["code"].clone())
        .collect();
    assert!(errors.contains(&json!("mapping-changed")), "{report:#}");
}

/// A split config edited so that one child moves is not a split: `diff`
/// says why on stderr and fails as for any other change of the mapping.
#[test]
fn diff_names_the_child_that_left_its_parent() {
    let scratch = Scratch::new();
    let file = scratch.generated("c.toml", 2, 1, 4, 1);
    let split = scratch.arg("split.toml");
    run(&["split", &file, "--factor", "2", "--output", &split]).exits(0);
    // Child 5 (of parent 1) moves to the node that did not hold parent 1.
    let mut config = ClusterConfig::from_file(&split).unwrap();
    let from = config
        .nodes
        .iter()
        .position(|n| n.shards.contains(&5))
        .unwrap();
    config.nodes[from].shards.retain(|&s| s != 5);
    config.nodes[1 - from].shards.push(5);
    fs::write(&split, config.to_toml().unwrap()).unwrap();
    run(&["diff", &file, &split])
        .exits(1)
        .stderr_has(
            "note: not a split of the old config: shard 5 is not on the copies of its parent, shard 1",
        )
        .stderr_has("[mapping-changed]");
}

#[test]
fn split_refuses_a_factor_past_the_shard_limit_and_writes_nothing() {
    let scratch = Scratch::new();
    let target = scratch.path("never.toml");
    let example = path(&data("cluster.toml"));
    run(&[
        "split",
        &example,
        "--factor",
        "16385",
        "--output",
        &path(&target),
    ])
    .exits(1)
    .stderr_has(
        "splitting 16 shards by 16385 gives 262160 shards, above the limit of 262144; use a factor of at most 16384 [split-too-large]",
    );
    assert!(!target.exists());
    run(&["split", &example, "--factor", "0"]).exits(2);
}

/// A config at the last generation there is: every command that would
/// write a later one refuses with `generation-overflow`, the code of the
/// config layer's error (docs/operations.md).
#[test]
fn the_last_generation_is_refused_by_every_command_that_raises_it() {
    let scratch = Scratch::new();
    let file = scratch.generated("c.toml", 3, 3, 6, 2);
    let text = fs::read_to_string(&file).unwrap();
    assert!(text.contains("generation = 0\n"), "{text}");
    fs::write(
        &file,
        text.replace("generation = 0\n", &format!("generation = {}\n", u64::MAX)),
    )
    .unwrap();
    let dir = scratch.arg("steps");
    for args in [
        vec!["split", file.as_str(), "--factor", "2"],
        vec!["rebalance", &file, "--add-node", "n9=10.0.9.9:8086,zone=z0"],
        vec!["transition", &file, &file, "--output-dir", &dir],
    ] {
        let report = json(&args, 1);
        assert_eq!(
            report["errors"][0]["code"], "generation-overflow",
            "{args:?}: {report:#}"
        );
        run(&args)
            .exits(1)
            .stderr_has(&format!("`generation` is {}", u64::MAX))
            .stderr_has("[generation-overflow]\n");
    }
    assert!(!scratch.path("steps").exists());
}

/// Issue 21, item 4. Before, `split` of `01-joint-writes.toml`
/// (generation 1) exited 0 and wrote generation 2, the number of `02-read-new.toml`:
/// a node on each served the other, and half of a joining copy, still
/// catching up, was counted as a whole copy. Now it is refused
/// (`in-transition`), naming the file, and nothing is written.
#[test]
fn split_refuses_a_step_of_a_transition() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let steps = scratch.path("steps");
    run(&["transition", &old, &new, "--output-dir", &path(&steps)]).exits(0);
    for name in ["01-joint-writes.toml", "02-read-new.toml"] {
        let step = path(&steps.join(name));
        let out = scratch.arg("split.toml");
        let generation = if name.starts_with("01") { 1 } else { 2 };
        run(&["split", &step, "--factor", "2", "--output", &out])
            .exits(1)
            .stderr_has(&format!(
                "error: {step}: generation {generation} is a step of a transition (shards "
            ))
            .stderr_has(
                "not a settled placement; finish the transition (deploy its steps up to the \
                 final one) or roll it back to the config it started from, and split that \
                 config [in-transition]",
            );
        assert!(!scratch.path("split.toml").exists());
        let report = json(&["split", &step, "--factor", "2"], 1);
        assert_eq!(report["errors"][0]["code"], "in-transition");
        assert_eq!(report["errors"][0]["file"], step.as_str());
    }
    // The final step is a placement again.
    run(&[
        "split",
        &path(&steps.join("03-final.toml")),
        "--factor",
        "2",
    ])
    .exits(0);
}
