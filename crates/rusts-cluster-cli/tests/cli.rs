//! Runs the built `rusts-cluster` binary on the shipped example and on
//! `testdata/`: exit codes, messages that name the problem, JSON parsed back,
//! generate then validate with zero warnings, and rebalance movement bounds.

use std::path::PathBuf;

use assert_cmd::Command;
use predicates::prelude::*;
use proptest::prelude::*;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn cli() -> Command {
    let mut cmd = Command::cargo_bin("rusts-cluster").unwrap();
    cmd.current_dir(root());
    cmd
}

fn json(args: &[&str]) -> (Value, i32) {
    let out = cli().args(args).output().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (value, out.status.code().unwrap())
}

#[test]
fn the_example_validates_with_its_known_warnings() {
    cli()
        .args(["validate", "examples/cluster.toml"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains("shards 8-15 have only 1 copy"));
    cli()
        .args(["validate", "examples/cluster.toml", "--deny-warnings"])
        .assert()
        .code(1);
    let (report, code) = json(&["validate", "examples/cluster.toml", "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(report["valid"], true);
    assert_eq!(report["warnings"][0]["code"], "under-replicated");
}

#[test]
fn every_invalid_fixture_exits_1_and_names_its_rule() {
    let dir = root().join("testdata/invalid");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&text);
        let Some(expect) = text.lines().find_map(|l| l.strip_prefix("# expect: ")) else {
            continue;
        };
        let out = cli().arg("validate").arg(&path).output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{}", path.display());
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Codes may carry a repeat count: `shard-out-of-range*1000`.
        let first = expect.split([',', '*']).next().unwrap().trim();
        // `parse` and `not-utf8` files fail before validation, with the
        // fixture's expected message; the others name their rule's code.
        let message = text
            .lines()
            .find_map(|l| l.strip_prefix("# expect-message: "))
            .unwrap();
        if first == "parse" || first == "not-utf8" {
            assert!(stderr.contains(message), "{}: {stderr}", path.display());
        } else {
            assert!(
                stderr.contains(&format!("[{first}]")),
                "{}: {stderr}",
                path.display()
            );
        }
        seen += 1;
    }
    assert!(seen >= 40, "only {seen} fixtures");
}

#[test]
fn errors_carry_line_and_column() {
    let (report, code) = json(&[
        "validate",
        "testdata/invalid/many-problems-at-once.toml",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    let errors = report["errors"].as_array().unwrap();
    let dup = errors
        .iter()
        .find(|e| e["code"] == "duplicate-primary")
        .unwrap();
    assert_eq!(
        (dup["line"].as_u64(), dup["column"].as_u64()),
        (Some(29), Some(11))
    );
    cli()
        .args(["validate", "testdata/invalid/many-problems-at-once.toml"])
        .assert()
        .stderr(predicate::str::contains(
            "many-problems-at-once.toml:18:17: node \"node1\" lists shard 9",
        ));
}

#[test]
fn usage_errors_exit_2() {
    cli().args(["validate"]).assert().code(2);
    cli().args(["frobnicate"]).assert().code(2);
    cli()
        .args([
            "generate",
            "--node",
            "nonsense",
            "--shards",
            "4",
            "--replication-factor",
            "1",
        ])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not ID=HOST:PORT"));
}

#[test]
fn route_and_show_report_json() {
    let (route, code) = json(&[
        "route",
        "examples/cluster.toml",
        "--measurement",
        "cpu",
        "--series-id",
        "42",
        "--timestamp",
        "1700000000000000000",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(
        (route["shard"].as_u64(), route["primary"].as_str()),
        (Some(10), Some("node2"))
    );
    assert_eq!(route["acks_required"], 2);
    let (show, _) = json(&["show", "examples/cluster.toml", "--format", "json"]);
    assert_eq!(show["nodes"][1]["replicas"], 8);
    assert_eq!(show["shards"].as_array().unwrap().len(), 16);
}

#[test]
fn missing_file_exits_1_naming_it() {
    cli()
        .args(["show", "no/such.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no/such.toml"));
}

fn generate(nodes: usize, zones: usize, shards: usize, rf: usize) -> (tempfile_path::Temp, String) {
    let mut args: Vec<String> = vec!["generate".into()];
    for i in 0..nodes {
        args.push("--node".into());
        args.push(format!(
            "n{i}=10.0.{}.{}:8086,zone=z{}",
            i / 200,
            i % 200 + 1,
            i % zones
        ));
    }
    args.extend([
        "--shards".into(),
        shards.to_string(),
        "--replication-factor".into(),
        rf.to_string(),
    ]);
    let out = cli().args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file = tempfile_path::Temp::new();
    std::fs::write(&file.0, &out.stdout).unwrap();
    (file, String::from_utf8_lossy(&out.stderr).into_owned())
}

/// A temporary file removed on drop.
mod tempfile_path {
    use std::sync::atomic::{AtomicUsize, Ordering};
    pub(crate) struct Temp(pub(crate) std::path::PathBuf);
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    impl Temp {
        pub(crate) fn new() -> Temp {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            Temp(std::env::temp_dir().join(format!("rusts-cli-{}-{n}.toml", std::process::id())))
        }
    }
    impl Drop for Temp {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("RUSTS_CLI_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
    ))]

    /// generate, then validate with warnings denied: zero warnings whenever
    /// every node can hold a copy.
    #[test]
    fn prop_generate_then_validate_has_no_warning(
        (n, z, s, r) in (1usize..=40, 1usize..=5, 1usize..=4096)
            .prop_flat_map(|(n, z, s)| (Just(n), Just(z), Just(s), 1..=n.min(5)))
    ) {
        prop_assume!(s * r >= n);
        let (file, _) = generate(n, z, s, r);
        let out = cli().arg("validate").arg(&file.0).arg("--deny-warnings").output().unwrap();
        prop_assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn rebalance_adding_a_node_moves_its_share() {
    let (file, _) = generate(6, 1, 600, 3);
    let out = tempfile_path::Temp::new();
    let (plan, code) = json(&[
        "rebalance",
        file.0.to_str().unwrap(),
        "--add-node",
        "n6=10.0.0.99:8086,zone=z0",
        "--output",
        out.0.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
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
    cli()
        .arg("validate")
        .arg(&out.0)
        .arg("--deny-warnings")
        .assert()
        .code(0);
    // Removing it again moves only its copies.
    let (plan, _) = json(&[
        "rebalance",
        out.0.to_str().unwrap(),
        "--remove-node",
        "n6",
        "--format",
        "json",
    ]);
    assert_eq!(plan["copies_removed"].as_u64(), Some(added));
    assert_eq!(plan["copies_added"].as_u64(), Some(added));
}

#[test]
fn rebalance_refuses_an_unknown_node() {
    cli()
        .args([
            "rebalance",
            "examples/cluster.toml",
            "--remove-node",
            "node9",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("no node has id \"node9\""));
}

#[test]
fn diff_flags_a_shard_whose_every_copy_changes() {
    let (old, _) = generate(2, 1, 4, 1);
    let text = std::fs::read_to_string(&old.0).unwrap();
    let swapped = text
        .replace("\"n0\"", "\"tmp\"")
        .replace("\"n1\"", "\"n0\"")
        .replace("\"tmp\"", "\"n1\"");
    let new = tempfile_path::Temp::new();
    std::fs::write(&new.0, swapped).unwrap();
    cli()
        .arg("diff")
        .arg(&old.0)
        .arg(&new.0)
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "every copy of shard 0 changes at once",
        ));
    cli().arg("diff").arg(&old.0).arg(&old.0).assert().code(0);
}

#[test]
fn plan_query_prints_the_shards_and_the_nodes_to_read() {
    // The example shards BySeries over 16 shards; node1 holds 0-7, node2
    // holds 0-15; this process is node1.
    let (plan, code) = json(&[
        "plan-query",
        "examples/cluster.toml",
        "--series-id",
        "1",
        "--series-id",
        "9",
        "--series-id",
        "17",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(plan["shards"], serde_json::json!([1, 9]));
    assert_eq!(plan["pruned"], true);
    assert_eq!(plan["targets"][0]["node_id"], "node1");
    assert_eq!(plan["targets"][0]["shards"], serde_json::json!([1]));
    assert_eq!(plan["targets"][1]["node_id"], "node2");
    cli()
        .args(["plan-query", "examples/cluster.toml", "--series-id", "9"])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains("reads 1 of 16 shards (pruned)")
                .and(predicate::str::contains("10.0.1.2:8086")),
        );
}

#[test]
fn plan_query_exits_1_on_missing_copies_and_on_refused_fan_outs() {
    // Shard 9 lives only on node2.
    let (plan, code) = json(&[
        "plan-query",
        "examples/cluster.toml",
        "--series-id",
        "9",
        "--down",
        "node2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(plan["unavailable"], serde_json::json!([9]));
    cli()
        .args([
            "plan-query",
            "examples/cluster.toml",
            "--series-id",
            "9",
            "--down",
            "node2",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("shards 9 have no readable copy"));
    cli()
        .args([
            "plan-query",
            "examples/cluster.toml",
            "--measurement",
            "cpu",
            "--require-pruning",
        ])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("query would read all 16 shards")
                .and(predicate::str::contains("names no series ids")),
        );
    cli()
        .args(["plan-query", "examples/cluster.toml", "--down", "node9"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "node \"node9\" is not in the cluster config",
        ));
    // --from without --to is a usage error.
    cli()
        .args(["plan-query", "examples/cluster.toml", "--from", "0"])
        .assert()
        .code(2);
}
