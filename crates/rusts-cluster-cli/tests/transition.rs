//! `transition`: the three steps that move copies while nodes run
//! different generations, the runbook, what it refuses, and the pointers
//! to it from `rebalance` and `diff`.

use std::{collections::BTreeSet, fs};

use rusts_cluster_config::ClusterConfig;
use serde_json::{json, Value};

use crate::util::{cluster_and_rebalanced, data, invalid, json, path, run, Scratch};

#[test]
fn transition_writes_three_steps_and_prints_the_runbook() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let dir = scratch.path("steps");
    let out = run(&["transition", &old, &new, "--output-dir", &path(&dir)]).exits(0);
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        names,
        ["01-joint-writes.toml", "02-read-new.toml", "03-final.toml"]
    );
    // Each step validates, one generation after the one before; the last
    // is the new config at the old one's generation plus 3.
    for (name, generation) in names.iter().zip(1..) {
        run(&["validate", &path(&dir.join(name))])
            .exits(0)
            .stdout_has(&format!("valid, generation {generation},"));
    }
    // `rebalance` numbered the new config as the final step, so the two
    // are one file: before, it was generation 1, the number of step 1,
    // and a node on it served beside nodes on step 1 (issue 21, item 7).
    let final_text = fs::read_to_string(dir.join("03-final.toml")).unwrap();
    let new_text = fs::read_to_string(&new).unwrap();
    assert!(new_text.starts_with("generation = 3\n"), "{new_text}");
    assert_eq!(final_text, new_text);
    // The runbook: every step, what to wait for, the catch-up and the
    // copies to delete; and the commands it shows to check each step work.
    out.stdout_has("step 1 of 3, joint-writes (generation 1)")
        .stdout_has("start n6 with it")
        .stdout_has(&format!(
            "  wait:   every node reports generation 1 (rusts-cluster status {} --wait)\n",
            path(&dir.join("01-joint-writes.toml"))
        ))
        .stdout_has("  wait:   every copy above has caught up\n")
        .stdout_has("step 2 of 3, read-new (generation 2)")
        .stdout_has(
            "  keep:   the leaving copies: nodes on this step or the one before still write to \
             them; delete them only once every node runs the final step\n",
        )
        .stdout_has("step 3 of 3, final (generation 3)")
        .stdout_has("  then:   delete the leaving copies");
    let joint = path(&dir.join("01-joint-writes.toml"));
    // No pointer to `transition` from a diff of its own steps.
    let diff = run(&["diff", &old, &joint, "--format", "json"])
        .exits(0)
        .stderr_lacks("transition");
    let report = diff.report();
    assert_eq!(report["copies_removed"], 0);
    assert!(report["copies_added"].as_u64().unwrap() > 0);
    run(&["diff", &joint, &path(&dir.join("02-read-new.toml"))])
        .stdout_has("  move_reads: \"old\" -> \"new\"\n");

    // The JSON report, in a fresh directory: one catch-up per joining copy.
    let dir = scratch.path("steps-json");
    let report = json(&["transition", &old, &new, "--output-dir", &path(&dir)], 0);
    let steps = report["steps"].as_array().unwrap();
    let generations: Vec<u64> = steps
        .iter()
        .map(|s| s["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(generations, [1, 2, 3]);
    assert_eq!(steps[0]["started"], json!(["n6"]));
    assert_eq!(steps[1]["move_reads"], "new");
    let joint = ClusterConfig::from_file(dir.join("01-joint-writes.toml")).unwrap();
    let joining: usize = joint.nodes.iter().map(|n| n.joining_shards.len()).sum();
    let catch_up = report["catch_up"].as_array().unwrap();
    assert_eq!(catch_up.len(), joining);
    for c in catch_up {
        // Quorum of 3: 3 - 2 + 1 = 2 old copies each.
        assert_eq!(c["sources"].as_array().unwrap().len(), 2, "{c}");
        assert_eq!(c["state"], "joining");
    }
    // The copies to delete: every leaving copy of step 1, by node, once
    // every node runs the final step.
    let mut leaving: Vec<Value> = joint
        .nodes
        .iter()
        .filter(|n| !n.leaving_shards.is_empty())
        .map(|n| json!({ "node": n.id, "shards": n.leaving_shards, "after": "final" }))
        .collect();
    leaving.sort_by_key(|v| v["node"].as_str().unwrap().to_owned());
    assert!(!leaving.is_empty());
    assert_eq!(report["drop_copies"], json!(leaving));
}

#[test]
fn transition_refuses_a_directory_that_holds_step_files() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let dir = scratch.path("steps");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("01-joint-writes.toml"), "keep me").unwrap();
    run(&["transition", &old, &new, "--output-dir", &path(&dir)])
        .exits(1)
        .stderr_has("already holds step files (01-joint-writes.toml)")
        .stderr_has("[output-exists]");
    assert_eq!(
        fs::read_to_string(dir.join("01-joint-writes.toml")).unwrap(),
        "keep me"
    );
    assert_eq!(fs::read_dir(&dir).unwrap().count(), 1);
}

#[test]
fn transition_with_nothing_to_move_writes_nothing() {
    let file = path(&data("cluster.toml"));
    let scratch = Scratch::new();
    let dir = scratch.path("steps");
    run(&["transition", &file, &file, "--output-dir", &path(&dir)])
        .exits(0)
        .stdout_starts("nothing moves");
    assert!(!dir.exists());
    // Only a setting changes: deploy it as it is, with a higher generation.
    let renamed = scratch.path("renamed.toml");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&renamed, text.replace("rusts-prod", "rusts-staging")).unwrap();
    let report = json(
        &[
            "transition",
            &file,
            &path(&renamed),
            "--output-dir",
            &path(&dir),
        ],
        0,
    );
    assert_eq!(report["changed"], false);
    assert_eq!(report["steps"], json!([]));
    assert_eq!(report["warnings"][0]["code"], "generation-not-raised");
    assert!(!dir.exists());
}

#[test]
fn transition_refuses_what_a_move_of_copies_cannot_do() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let dir = scratch.arg("steps");
    // Exit 1 with this code, and no steps written.
    let refused = |new: &str, code: &str| {
        let out = run(&["transition", &old, new, "--output-dir", &dir])
            .exits(1)
            .stderr_has(&format!("[{code}]"));
        assert!(!scratch.path("steps").exists(), "{new}");
        out
    };
    // Another replication factor.
    let rf2 = scratch.generated("rf2.toml", 6, 3, 24, 2);
    refused(&rf2, "replication-changed").stderr_has("cannot be deployed in one step");
    // Another shard count: `split` changes it.
    let more = scratch.generated("more.toml", 6, 3, 48, 3);
    refused(&more, "mapping-changed").stderr_has(&format!(
        "split with `rusts-cluster split {old} --factor 2` [mapping-changed]"
    ));
    // A step of a transition as the start: finish that one first.
    let other = scratch.path("other");
    run(&["transition", &old, &new, "--output-dir", &path(&other)]).exits(0);
    let step = path(&other.join("01-joint-writes.toml"));
    run(&["transition", &step, &new, "--output-dir", &dir])
        .exits(1)
        .stderr_has("[in-transition]")
        .stderr_has(&format!(
            "error: {step}: the old config is a step of a transition"
        ));
    assert!(!scratch.path("steps").exists());
    // An invalid input: every problem, with its place.
    let bad = path(&invalid("duplicate-node-id.toml"));
    refused(&bad, "duplicate-node-id");
    // The output directory is required: a usage error.
    run(&["transition", &old, &new]).exits(2);
}

#[test]
fn rebalance_and_diff_point_to_transition_when_copies_move() {
    let scratch = Scratch::new();
    let old = scratch.generated("cluster.toml", 6, 3, 24, 3);
    let new = scratch.arg("new.toml");
    let pointer = "note: copies move: deploy this change with `rusts-cluster transition ";
    run(&[
        "rebalance",
        &old,
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &new,
    ])
    .stderr_has(&format!("{pointer}{old} {new} --output-dir DIR`"));
    run(&["diff", &old, &new]).stderr_has(pointer);
    // Nothing moves, nothing to point to.
    run(&["diff", &old, &old]).stderr_lacks(pointer);
}

#[test]
fn an_address_handed_to_another_node_is_warned_of_and_refused_by_transition() {
    let scratch = Scratch::new();
    let old = scratch.generated("cluster.toml", 6, 3, 24, 3);
    let dir = scratch.path("steps");
    // n5 (10.0.0.6:8086) is replaced by n6 at the same address.
    let replaced = scratch.arg("replaced.toml");
    let warning = format!(
        "warning: {replaced}: node \"n5\" leaves the cluster and node \"n6\" has its address \
         10.0.0.6:8086"
    );
    run(&[
        "rebalance",
        &old,
        "--remove-node",
        "n5",
        "--add-node",
        "n6=10.0.0.6:8086,zone=z2",
        "--output",
        &replaced,
    ])
    .exits(0)
    .stderr_has(&warning)
    .stderr_has("[address-in-use]");
    run(&["diff", &old, &replaced])
        .exits(0)
        .stderr_has(&warning);
    run(&["transition", &old, &replaced, "--output-dir", &path(&dir)])
        .exits(1)
        .stderr_has("[address-in-use]");
    assert!(!dir.exists());
    // n4 stays but moves to another address, and a new node takes its old one.
    let added = scratch.arg("added.toml");
    run(&[
        "rebalance",
        &old,
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &added,
    ])
    .exits(0)
    .stderr_lacks("address-in-use");
    let text = fs::read_to_string(&added).unwrap();
    assert_eq!(text.matches("\"10.0.0.5:8086\"").count(), 1);
    let handed = scratch.arg("handed.toml");
    fs::write(
        &handed,
        text.replace("\"10.0.0.5:8086\"", "\"10.0.8.5:8086\"")
            .replace("\"10.0.9.1:8086\"", "\"10.0.0.5:8086\""),
    )
    .unwrap();
    let report: Value = run(&["diff", &old, &handed, "--format", "json"])
        .exits(0)
        .report();
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], "address-in-use");
    run(&["transition", &old, &handed, "--output-dir", &path(&dir)])
        .exits(1)
        .stderr_has(
            "address 10.0.0.5:8086 is node \"n4\"'s in generation 0, where it holds copies, and \
             node \"n6\"'s in generation 3; nodes still running generation 0 would send \"n4\"'s \
             requests to \"n6\"",
        );
    assert!(!dir.exists());
}

/// Issue 21, item 2. Before, removing n5 (10.0.0.6:8086) and giving n6
/// `10.0.0.6:08086`, the same address respelled, exited 0 and wrote a step
/// 1 that `validate` refused (`duplicate-address`: both run during the
/// move). Now `transition` refuses and writes nothing.
#[test]
fn a_respelled_address_of_a_removed_node_is_refused() {
    let scratch = Scratch::new();
    let old = scratch.generated("cluster.toml", 6, 3, 24, 3);
    let dir = scratch.path("steps");
    let replaced = scratch.arg("replaced.toml");
    run(&[
        "rebalance",
        &old,
        "--remove-node",
        "n5",
        "--add-node",
        "n6=10.0.0.6:08086,zone=z2",
        "--output",
        &replaced,
    ])
    .exits(0)
    .stderr_has("[address-in-use]");
    run(&["transition", &old, &replaced, "--output-dir", &path(&dir)])
        .exits(1)
        .stderr_has(
            "error: node \"n5\" leaves the cluster and node \"n6\" has its address \
             10.0.0.6:8086, but both run at once while \"n5\"'s copies move",
        )
        .stderr_lacks("duplicate-address");
    assert!(!dir.exists());
}

/// Issue 21, item 1, as the operator sees it: a node removed while it
/// holds no copy is in steps 1 and 2, and the runbook says to stop it
/// after step 3, where before it was in no step and the runbook said to
/// stop it "before deploying the next step", after the catch-up.
#[test]
fn a_removed_node_without_copies_is_in_steps_1_and_2_and_stopped_after_step_3() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    // old gains an idle node, e, which new does not have.
    let with_e = scratch.arg("with-e.toml");
    let mut config = ClusterConfig::from_file(&old).unwrap();
    config
        .nodes
        .push(rusts_cluster_config::NodeConfig::new("e", "10.0.7.7:8086"));
    fs::write(&with_e, config.to_toml().unwrap()).unwrap();
    let dir = scratch.path("steps");
    let report = json(
        &["transition", &with_e, &new, "--output-dir", &path(&dir)],
        0,
    );
    let steps = report["steps"].as_array().unwrap();
    let has_e = |k: usize| steps[k]["nodes"].as_array().unwrap().contains(&json!("e"));
    assert!(has_e(0) && has_e(1) && !has_e(2), "{steps:?}");
    assert_eq!(steps[0]["stopped"], json!([]));
    assert_eq!(steps[2]["stopped"], json!(["e"]));
    fs::remove_dir_all(&dir).unwrap();
    run(&["transition", &with_e, &new, "--output-dir", &path(&dir)])
        .exits(0)
        .stdout_has(
            "  stop:   e: in no step from here; each still runs step 2, which is safe beside \
             this one, so stop it once every node reports generation 3 (and before deploying \
             any later config)\n",
        );
}

/// Issue 21, item 9. Before, a new config whose shard 0 had one copy under
/// Quorum at factor 3 (a write needs 2) was planned without a word, and
/// from step 1 on every write to shard 0 failed. Now it is refused unless
/// `--allow-under-replicated`, which plans it with a warning.
#[test]
fn a_new_config_with_too_few_copies_for_writes_is_refused_unless_allowed() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let mut config = ClusterConfig::from_file(&new).unwrap();
    for node in &mut config.nodes {
        node.replica_shards.retain(|&s| s != 0);
    }
    let thin = scratch.arg("thin.toml");
    fs::write(&thin, config.to_toml().unwrap()).unwrap();
    let dir = scratch.path("steps");
    let message = format!(
        "error: {thin}: the new config leaves shard 0 with 1 copy, fewer than the 2 \
         acknowledgements `replication_mode` needs of a write at `replication_factor` 3; the \
         old config has enough, and from step 1 on a write needs 2 acknowledgements among the \
         new copies too, so every write to them would fail: add copies in the new config \
         (`rusts-cluster rebalance` places them), or pass --allow-under-replicated to plan it \
         anyway [under-replicated]"
    );
    run(&["transition", &old, &thin, "--output-dir", &path(&dir)])
        .exits(1)
        .stderr_has(&message);
    assert!(!dir.exists());
    run(&[
        "transition",
        &old,
        &thin,
        "--output-dir",
        &path(&dir),
        "--allow-under-replicated",
    ])
    .exits(0)
    .stderr_has(
        "planned anyway (--allow-under-replicated): from step 1 on, every write to them fails",
    );
}

/// Issue 21, item 8. Before, `diff` of two configs that differ in
/// `replication_factor` exited 0 and said only `replication_factor: 3 ->
/// 2` under "other changes", though deploying it while nodes run both
/// configs can lose acknowledged writes. Now it warns, with the reason
/// `transition` refuses it.
#[test]
fn diff_warns_that_a_replication_change_cannot_be_deployed_in_one_step() {
    let scratch = Scratch::new();
    let old = scratch.generated("cluster.toml", 6, 3, 24, 3);
    let rf2 = scratch.generated("rf2.toml", 6, 3, 24, 2);
    let message = format!(
        "warning: {rf2}: the replication settings differ (old: `replication_mode` Quorum, \
         `replication_factor` 3; new: Quorum, 2), and the change cannot be deployed in one step"
    );
    run(&["diff", &old, &rf2]).exits(0).stderr_has(&message);
    let report = json(&["diff", &old, &rf2], 0);
    let codes: Vec<&Value> = report["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| &w["code"])
        .collect();
    assert!(codes.contains(&&json!("replication-changed")), "{codes:?}");
    run(&["diff", &old, &old]).stderr_lacks("replication-changed");
}
