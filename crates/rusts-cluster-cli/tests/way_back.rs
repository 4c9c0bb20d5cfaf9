//! `transition --back START STEP`: the way back from step 1 or 2 of the
//! walkthrough's transition (docs/operations.md, a3 added to the 6-node
//! cluster), the runbook, its JSON, and what it refuses.

use std::{collections::BTreeSet, fs, path::Path};

use rusts_cluster_config::ClusterConfig;
use serde_json::json;

use crate::util::{json, path, run, Scratch};

/// The walkthrough's cluster, a3 added by `rebalance`, and the
/// transition's steps in `add-a3`: (cluster.toml, new.toml, the steps'
/// directory).
pub(crate) fn walkthrough(scratch: &Scratch) -> (String, String, String) {
    let old = scratch.arg("cluster.toml");
    let mut generate = vec!["generate"];
    for node in [
        "a1=10.0.1.1:8086,zone=us-east-1a",
        "a2=10.0.1.2:8086,zone=us-east-1a",
        "b1=10.0.2.1:8086,zone=us-east-1b",
        "b2=10.0.2.2:8086,zone=us-east-1b",
        "c1=10.0.3.1:8086,zone=us-east-1c",
        "c2=10.0.3.2:8086,zone=us-east-1c",
    ] {
        generate.extend(["--node", node]);
    }
    generate.extend([
        "--shards",
        "24",
        "--replication-factor",
        "3",
        "--output",
        &old,
    ]);
    run(&generate).exits(0);
    let new = scratch.arg("new.toml");
    run(&[
        "rebalance",
        &old,
        "--add-node",
        "a3=10.0.1.3:8086,zone=us-east-1a",
        "--output",
        &new,
    ])
    .exits(0);
    let steps = scratch.arg("add-a3");
    run(&["transition", &old, &new, "--output-dir", &steps]).exits(0);
    (old, new, steps)
}

fn names(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// The start's placement at `generation`, as the file `start` holds it.
fn start_at(start: &str, generation: u64) -> ClusterConfig {
    let mut config = ClusterConfig::from_file(start).unwrap();
    config.generation = generation;
    config
}

#[test]
fn back_from_step_1_writes_the_start_at_the_next_generation() {
    let scratch = Scratch::new();
    let (old, _, steps) = walkthrough(&scratch);
    let step1 = format!("{steps}/01-joint-writes.toml");
    let dir = scratch.path("back");
    let out = run(&[
        "transition",
        "--back",
        &old,
        &step1,
        "--output-dir",
        &path(&dir),
    ])
    .exits(0)
    .stderr_has(&format!(
        "note: wrote 1049 bytes to {}/01-back-start.toml (generation 2)",
        path(&dir)
    ));
    assert_eq!(names(&dir), ["01-back-start.toml"]);
    let back = dir.join("01-back-start.toml");
    assert_eq!(ClusterConfig::from_file(&back).unwrap(), start_at(&old, 2));
    run(&["validate", &path(&back)])
        .exits(0)
        .stdout_has("valid, generation 2,");
    let file = path(&back);
    out.stdout_starts(
        "the way back from step 1 (joint-writes, generation 1) to the placement it started \
         from: 1 step, generation 2\n",
    )
    .stdout_has("No catch-up is needed")
    .stdout_has(&format!(
        "step 1 of 1, back-start (generation 2): the start's placement: joining copies are no \
         longer written, leaving ones are stable again\n  deploy: {file} to all 6 nodes it names\n"
    ))
    .stdout_has(&format!(
        "  wait:   every node reports generation 2 (rusts-cluster status {file} --wait)\n"
    ))
    .stdout_has("| a3   | 2-3, 15-16, 18-19, 21-22 |")
    .stdout_has("  stop:   a3: in no step from here;");
}

#[test]
fn back_from_step_2_goes_through_step_1_again() {
    let scratch = Scratch::new();
    let (old, _, steps) = walkthrough(&scratch);
    let step1 = ClusterConfig::from_file(format!("{steps}/01-joint-writes.toml")).unwrap();
    let step2 = format!("{steps}/02-read-new.toml");
    let dir = scratch.path("back");
    let out = run(&[
        "transition",
        "--back",
        &old,
        &step2,
        "--output-dir",
        &path(&dir),
    ])
    .exits(0);
    assert_eq!(
        names(&dir),
        ["01-back-joint-writes.toml", "02-back-start.toml"]
    );
    // Step 1 again, two generations on; then the start.
    let again = ClusterConfig::from_file(dir.join("01-back-joint-writes.toml")).unwrap();
    let mut expected = step1;
    expected.generation = 3;
    assert_eq!(again, expected);
    let last = ClusterConfig::from_file(dir.join("02-back-start.toml")).unwrap();
    assert_eq!(last, start_at(&old, 4));
    out.stdout_starts(
        "the way back from step 2 (read-new, generation 2) to the placement it started from: 2 \
         steps, generations 3 to 4\n",
    )
    .stdout_has("step 1 of 2, back-joint-writes (generation 3): step 1 again")
    .stdout_has(&format!(
        "rusts-cluster diff {step2} {}   (primaries and move_reads change, no copy moves)",
        path(&dir.join("01-back-joint-writes.toml"))
    ))
    .stdout_has("step 2 of 2, back-start (generation 4)")
    .stdout_has("so stop it once every node reports generation 4");

    // The JSON report, in a fresh directory.
    let dir = scratch.path("back-json");
    let report = json(
        &[
            "transition",
            "--back",
            &old,
            &step2,
            "--output-dir",
            &path(&dir),
        ],
        0,
    );
    assert_eq!(report["command"], "transition");
    assert_eq!(report["from_step"], 2);
    assert_eq!(report["generation"], json!({ "start": 0, "step": 2 }));
    assert_eq!(report["start_file"], old.as_str());
    assert_eq!(report["step_file"], step2.as_str());
    let list = report["steps"].as_array().unwrap();
    let shape: Vec<_> = list
        .iter()
        .map(|s| {
            (
                s["step"].clone(),
                s["name"].clone(),
                s["generation"].clone(),
                s["move_reads"].clone(),
            )
        })
        .collect();
    assert_eq!(
        shape,
        [
            (json!(1), json!("back-joint-writes"), json!(3), json!("old")),
            (json!(2), json!("back-start"), json!(4), json!("old")),
        ]
    );
    assert_eq!(list[0]["stopped"], json!([]));
    assert_eq!(list[1]["stopped"], json!(["a3"]));
    assert_eq!(list[1]["nodes"].as_array().unwrap().len(), 6);
    assert_eq!(report["stop"], json!(["a3"]));
    assert_eq!(
        report["drop_copies"],
        json!([{ "node": "a3", "shards": [2, 3, 15, 16, 18, 19, 21, 22], "after": "back-start" }])
    );
    for s in list {
        let bytes = fs::metadata(s["file"].as_str().unwrap()).unwrap().len();
        assert_eq!(s["bytes"], bytes);
    }
}

#[test]
fn back_refuses_a_settled_config_and_a_step_of_another_transition() {
    let scratch = Scratch::new();
    let (old, new, steps) = walkthrough(&scratch);
    let dir = scratch.arg("back");
    let refused = |start: &str, step: &str, code: &str| {
        let out = run(&["transition", "--back", start, step, "--output-dir", &dir])
            .exits(1)
            .stderr_has(&format!("[{code}]"));
        assert!(!scratch.path("back").exists(), "{start} {step}");
        out
    };
    // Step 3 and the start itself are settled: a new transition leaves them.
    let step3 = format!("{steps}/03-final.toml");
    refused(&old, &step3, "not-in-transition")
        .stderr_has(&format!(
        "error: {step3}: the step (generation 3) marks no copy as joining or leaving, so it is \
         not step 1 or 2 of a transition"
    ))
        .stderr_has(&format!(
        "; to return to {old}'s placement, `rusts-cluster transition {step3} {old} --output-dir \
         DIR` [not-in-transition]"
    ));
    refused(&old, &old, "not-in-transition");
    // The transition's end given as its start: each mismatch named.
    let step1 = format!("{steps}/01-joint-writes.toml");
    refused(&new, &step1, "not-the-start")
        .stderr_has(&format!(
            "error: {step1}: the step is not step 1 or 2 of a transition from the start config: \
             the step has generation 1, but step 1 (joint-writes) of a transition from \
             generation 3 has generation 4; "
        ))
        .stderr_has(
            "shard 2's copy on \"a3\" is joining in the step, but the start config has it already",
        );
    // A step file as the start.
    refused(&step1, &step1, "in-transition");
    // The flag is for the way back only.
    run(&[
        "transition",
        "--back",
        &old,
        &step1,
        "--output-dir",
        &dir,
        "--allow-under-replicated",
    ])
    .exits(2);
    // The report of a refusal, as JSON.
    let report = json(
        &["transition", "--back", &old, &step3, "--output-dir", &dir],
        1,
    );
    assert_eq!(report["errors"][0]["code"], "not-in-transition");
    assert_eq!(report["errors"][0]["file"], step3.as_str());
}
