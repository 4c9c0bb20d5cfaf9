//! The tool as an operator and a script use it: exit codes, messages that
//! name the problem and its cause, the JSON schema, closed pipes and full
//! disks, atomic `--output`, FIFOs, escaping, hostile sizes, completions.
//!
//! Fixtures are copies under tests/data/ (tests/workspace.rs checks that
//! they match the workspace's originals), so these tests run from the
//! packaged crate too.

mod common;

use std::{fs, process::Stdio, time::Duration};

use common::{bin, cli, data, generate_args, generate_into, json, run, Scratch};
use predicates::prelude::*;
use proptest::prelude::*;
use rusts_cluster_config::ClusterConfig;
use serde_json::Value;

fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

#[test]
fn the_example_validates_with_its_known_warnings() {
    cli()
        .args(["validate", "cluster.toml"])
        .assert()
        .code(0)
        .stdout("cluster.toml: valid, generation 0, 2 warnings\n")
        .stderr(predicate::str::contains(
            "warning: cluster.toml: shards 8-15 have only 1 copy",
        ));
    cli()
        .args(["validate", "cluster.toml", "--deny-warnings"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: cluster.toml: 2 warnings and --deny-warnings [warnings-denied]",
        ));
    let file = path(&data("cluster.toml"));
    let (report, code) = json(&["validate", &file, "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(report["valid"], true);
    assert_eq!(report["generation"], 0);
    assert_eq!(report["warnings"][0]["code"], "under-replicated");
    assert_eq!(report["warnings"][0]["file"], file);
}

#[test]
fn errors_carry_file_line_column_and_code() {
    let file = path(&data("many-problems-at-once.toml"));
    let (report, code) = json(&["validate", &file, "--format", "json"]);
    assert_eq!(code, 1);
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().unwrap();
    let dup = errors
        .iter()
        .find(|e| e["code"] == "duplicate-primary")
        .unwrap();
    assert_eq!(
        (dup["line"].as_u64(), dup["column"].as_u64()),
        (Some(29), Some(11))
    );
    assert_eq!(dup["file"], file);
    cli()
        .args(["validate", "many-problems-at-once.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: many-problems-at-once.toml:18:17: node \"node1\" lists shard 9",
        ))
        .stderr(predicate::str::contains(
            "error: many-problems-at-once.toml: shard 3 has no primary node; list each shard in exactly one node's `shards` [missing-primary]",
        ));
}

#[test]
fn file_errors_say_why_in_the_documented_format() {
    cli()
        .args(["show", "no/such.toml"])
        .assert()
        .code(1)
        .stdout("")
        .stderr(
            "error: cannot read cluster config `no/such.toml`: No such file or directory (os error 2) [io]\n",
        );
    cli()
        .args(["validate", "parse-syntax-error.toml"])
        .assert()
        .code(1)
        .stderr(predicate::str::starts_with(
            "error: parse-syntax-error.toml:15:1: ",
        ))
        .stderr(predicate::str::ends_with(" [parse]\n"));
    cli()
        .args(["validate", "not-utf8.toml"])
        .assert()
        .code(1)
        .stderr(
            "error: not-utf8.toml:9:20: not UTF-8 text: invalid byte at line 9, column 20; save the file as UTF-8 [not-utf8]\n",
        );
    cli()
        .args(["validate", "."])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "Is a directory (os error 21) [io]",
        ));
}

#[test]
fn usage_errors_exit_2() {
    cli().args(["validate"]).assert().code(2);
    cli().args(["frobnicate"]).assert().code(2);
    cli().assert().code(2);
    let generate = |node: &str| {
        let mut cmd = cli();
        cmd.args([
            "generate",
            "--node",
            node,
            "--shards",
            "4",
            "--replication-factor",
            "1",
        ]);
        cmd
    };
    generate("nonsense")
        .assert()
        .code(2)
        .stderr(predicate::str::contains("is not ID=HOST:PORT"));
    // An address without a port is refused by the command line, not by
    // validating the generated config.
    generate("a=10.0.0.1")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`a=10.0.0.1`: the address `10.0.0.1` is not HOST:PORT: it has no `:port`",
        ));
    generate("a=[::1]:0").assert().code(2);
    let route_at = |timestamp: &str| {
        let mut cmd = cli();
        cmd.args(["route", "cluster.toml", "--measurement", "cpu"])
            .args(["--series-id", "1", "--timestamp", timestamp]);
        cmd
    };
    route_at("2026-02-30T00:00:00Z")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`2026-02-30T00:00:00Z` is not a timestamp: day 30 does not exist in 2026-02",
        ));
    route_at("2300-01-01T00:00:00Z")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "`2300-01-01T00:00:00Z` is out of range",
        ));
}

#[test]
fn arguments_take_any_case_and_reports_use_the_files_spelling() {
    let scratch = Scratch::new();
    let mut args = generate_args(3, 3, 6, 2);
    args.extend(
        [
            "--mode",
            "SYNCHRONOUS",
            "--strategy",
            "bytime:3600000000000",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = run(&args);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(
        out.stdout.contains("replication_mode = \"Synchronous\""),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout
            .contains("[sharding_strategy.ByTime]\nduration_nanos = 3600000000000\n"),
        "{}",
        out.stdout
    );
    let file = scratch.path("c.toml");
    fs::write(&file, &out.stdout).unwrap();
    let shown = run(&["show", &path(&file), "--format", "TEXT"]);
    assert!(
        shown
            .stdout
            .starts_with("cluster rusts, generation 0: 6 shards, replication factor 2, Synchronous, ByTime (duration_nanos = 3600000000000); node_id n0\n"),
        "{}",
        shown.stdout
    );
    let (report, _) = json(&["show", &path(&file), "--format", "Json"]);
    assert_eq!(report["replication_mode"], "Synchronous");
    assert_eq!(
        report["sharding_strategy"],
        serde_json::json!({"ByTime": {"duration_nanos": 3600000000000_i64}})
    );
    // A wrong value lists the file's spellings.
    cli()
        .args(generate_args(1, 1, 1, 1))
        .args(["--mode", "sync"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "Synchronous, Quorum, Asynchronous",
        ));
}

#[test]
fn route_and_show_report_json() {
    let file = path(&data("cluster.toml"));
    let route = |timestamp: &str| {
        json(&[
            "route",
            &file,
            "--measurement",
            "cpu",
            "--series-id",
            "42",
            "--timestamp",
            timestamp,
            "--format",
            "json",
        ])
    };
    let (report, code) = route("1700000000000000000");
    assert_eq!(code, 0);
    assert_eq!(
        (report["shard"].as_u64(), report["primary"].as_str()),
        (Some(10), Some("node2"))
    );
    assert_eq!(report["acks_required"], 2);
    assert_eq!(report["replication_mode"], "Quorum");
    assert_eq!(
        report["copies"],
        serde_json::json!([{"node": "node2", "address": "10.0.1.2:8086", "role": "primary", "state": "stable", "available": true}])
    );
    // The same instant in RFC 3339, in UTC and with an offset.
    assert_eq!(route("2023-11-14T22:13:20Z").0["shard"], report["shard"]);
    assert_eq!(
        route("2023-11-15T00:13:20.000+02:00").0["key"]["timestamp"],
        1_700_000_000_000_000_000_u64
    );
    let (show, _) = json(&["show", &file, "--format", "json"]);
    assert_eq!(show["nodes"][1]["replicas"], 8);
    assert_eq!(show["nodes"][1]["node"], "node2");
    assert_eq!(show["shards"].as_array().unwrap().len(), 16);
    assert_eq!(show["shards"][9]["primary"], "node2");
    assert_eq!(show["shards"][3]["replicas"], serde_json::json!(["node2"]));
}

/// Every subcommand's JSON, on success and on each kind of failure: one
/// object on stdout with the common keys, the node named `node` wherever a
/// list holds nodes, and the subcommand's own keys (docs/operations.md).
#[test]
fn json_reports_have_the_documented_keys() {
    let scratch = Scratch::new();
    let example = path(&data("cluster.toml"));
    let generated = scratch.path("g.toml");
    generate_into(&generated, 4, 2, 8, 2);
    let generated = path(&generated);
    let rebalanced = scratch.path("rebalanced.toml");
    let moved = run(&[
        "rebalance",
        &generated,
        "--add-node",
        "n9=10.0.9.9:8086,zone=z0",
        "--output",
        &path(&rebalanced),
    ]);
    assert_eq!(moved.code, 0, "{}", moved.stderr);
    let rebalanced = path(&rebalanced);
    let steps = path(&scratch.path("steps"));
    let out = path(&scratch.path("out.toml"));
    let bad = path(&data("many-problems-at-once.toml"));
    let syntax = path(&data("parse-syntax-error.toml"));
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
        (vec!["show", "--bogus"], 2, &[]),
        (vec!["frobnicate"], 2, &[]),
    ];
    for (mut args, expected, keys) in cases {
        args.extend(["--format", "json"]);
        let (report, code) = json(&args);
        assert_eq!(code, expected, "{args:?}: {report:#}");
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
    let (report, _) = json(&["show", &syntax, "--format", "json"]);
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
    let (report, _) = json(&["validate", "no/such.toml", "--format", "json"]);
    assert_eq!(report["errors"][0]["code"], "io");
    assert!(report["errors"][0]["message"]
        .as_str()
        .unwrap()
        .ends_with("No such file or directory (os error 2)"));
    let (report, _) = json(&["show", "--format", "json", "--bogus"]);
    assert_eq!(report["command"], "show");
    assert_eq!(
        report["errors"][0]["message"],
        "unexpected argument '--bogus' found"
    );
}

#[test]
fn completions_and_man_pages_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell", "BASH"] {
        let out = run(&["completions", shell]);
        assert_eq!(out.code, 0, "{shell}: {}", out.stderr);
        assert!(out.stdout.len() > 1000, "{shell}: {}", out.stdout);
        assert!(out.stdout.contains("plan-query"), "{shell}");
        assert!(out.stdout.contains("transition"), "{shell}");
        assert!(out.stdout.contains("split"), "{shell}");
    }
    let page = run(&["man"]);
    assert_eq!(page.code, 0);
    assert!(
        page.stdout.contains(".TH rusts-cluster 1"),
        "{}",
        page.stdout
    );
    assert!(page.stdout.contains("plan\\-query"), "{}", page.stdout);
    let page = run(&["man", "split"]);
    assert!(
        page.stdout.contains(".TH rusts-cluster-split 1"),
        "{}",
        page.stdout
    );
    assert!(page.stdout.contains("\\-\\-factor"), "{}", page.stdout);
    let page = run(&["man", "plan-query"]);
    assert!(
        page.stdout.contains(".TH rusts-cluster-plan-query 1"),
        "{}",
        page.stdout
    );
    assert!(page.stdout.contains("\\-\\-node\\-id"), "{}", page.stdout);
    assert!(
        page.stdout.contains("\\-\\-table\\-style"),
        "{}",
        page.stdout
    );
    let wrong = run(&["man", "nope"]);
    assert_eq!(wrong.code, 2);
    assert!(wrong.stderr.contains("`nope` is not a subcommand"));
}

#[test]
fn version_names_the_build() {
    let out = run(&["--version"]);
    assert_eq!(out.code, 0);
    let version = out.stdout.strip_prefix("rusts-cluster 0.1.0").unwrap();
    // The commit, when built from a checkout or a packaged crate.
    assert!(
        version == "\n"
            || (version.starts_with(" (")
                && version.ends_with(")\n")
                && version[2..version.len() - 2]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())),
        "{:?}",
        out.stdout
    );
}

#[test]
fn tables_are_ascii_when_piped_and_unicode_on_request() {
    let piped = run(&["show", &path(&data("cluster.toml"))]);
    assert!(piped.stdout.is_ascii(), "{}", piped.stdout);
    assert!(piped.stdout.contains("+=======+"), "{}", piped.stdout);
    let boxed = run(&[
        "show",
        &path(&data("cluster.toml")),
        "--table-style",
        "unicode",
    ]);
    assert!(boxed.stdout.contains("┌───────┬"), "{}", boxed.stdout);
    let forced = run(&[
        "--table-style",
        "ASCII",
        "show",
        &path(&data("cluster.toml")),
    ]);
    assert_eq!(forced.stdout, piped.stdout);
    // A terminal gets box-drawing characters unless asked otherwise.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let terminal = rusts_cluster_cli::Terminal {
        stdout: true,
        stderr: true,
    };
    let args = ["rusts-cluster", "show", "tests/data/cluster.toml"];
    let file = data("cluster.toml");
    let args = [args[0], args[1], file.to_str().unwrap()];
    assert_eq!(
        rusts_cluster_cli::run(args, &mut out, &mut err, terminal),
        0
    );
    assert!(String::from_utf8(out).unwrap().contains("╞═══"));
}

#[test]
fn plan_query_prints_the_shards_and_the_nodes_to_read() {
    // The example shards BySeries over 16 shards; node1 holds 0-7, node2
    // holds 0-15; the file is node1's.
    let file = path(&data("cluster.toml"));
    let (plan, code) = json(&[
        "plan-query",
        &file,
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
    assert_eq!(plan["node_id"], "node1");
    assert_eq!(plan["shards"], serde_json::json!([1, 9]));
    assert_eq!(plan["pruned"], true);
    assert_eq!(plan["targets"][0]["node"], "node1");
    assert_eq!(plan["targets"][0]["shards"], serde_json::json!([1]));
    assert_eq!(plan["targets"][1]["node"], "node2");
    cli()
        .args(["plan-query", "cluster.toml", "--series-id", "9"])
        .assert()
        .code(0)
        .stdout(
            predicate::str::contains(
                "planned as node1 (the file's node_id): reads 1 of 16 shards (pruned)",
            )
            .and(predicate::str::contains("10.0.1.2:8086")),
        );
}

#[test]
fn plan_query_reads_as_many_copies_as_the_level_needs() {
    // The example: Quorum, replication_factor 2; shard 1 on node1 and
    // node2, shard 9 on node2 alone.
    let file = path(&data("cluster.toml"));
    let plan_at = |level: &str, down: &[&str]| {
        let mut args = vec![
            "plan-query",
            &file,
            "--series-id",
            "1",
            "--series-id",
            "9",
            "--consistency",
            level,
            "--format",
            "json",
        ];
        for node in down {
            args.extend(["--down", node]);
        }
        json(&args)
    };
    // Quorum: a write needs both copies, so one copy meets every write.
    let (plan, code) = plan_at("quorum", &[]);
    assert_eq!(code, 0);
    assert_eq!(plan["consistency"], "quorum");
    assert_eq!(plan["reads"][0]["shard"], 1);
    assert_eq!(plan["reads"][0]["copies_needed"], 1);
    assert_eq!(plan["reads"][0]["read"], serde_json::json!(["node1"]));
    assert_eq!(plan["reads"][0]["fallbacks"], serde_json::json!(["node2"]));
    // All (any case): both copies of shard 1, the one copy of shard 9.
    let (plan, code) = plan_at("ALL", &[]);
    assert_eq!(code, 0);
    assert_eq!(
        plan["reads"][0]["read"],
        serde_json::json!(["node1", "node2"])
    );
    assert_eq!(plan["reads"][1]["copies_needed"], 1);
    // With node2 down, All cannot read either shard, and says so.
    let (plan, code) = plan_at("all", &["node2"]);
    assert_eq!(code, 1);
    assert_eq!(plan["unavailable"], serde_json::json!([1, 9]));
    assert_eq!(plan["errors"][0]["code"], "unavailable-shards");
    cli()
        .args([
            "plan-query",
            "cluster.toml",
            "--series-id",
            "1",
            "--consistency",
            "all",
            "--down",
            "node2",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "shard 1 has fewer readable copies than --consistency all needs",
        ));
    cli()
        .args(["plan-query", "cluster.toml", "--consistency", "most"])
        .assert()
        .code(2);
}

#[test]
fn plan_query_plans_as_another_node_and_its_copies_win() {
    let file = path(&data("cluster.toml"));
    // As node2, which holds every shard, everything is read locally, even
    // when another tag is preferred.
    let (plan, code) = json(&[
        "plan-query",
        &file,
        "--node-id",
        "node2",
        "--series-id",
        "1",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(plan["node_id"], "node2");
    assert_eq!(plan["targets"][0]["node"], "node2");
    let text = run(&[
        "plan-query",
        &file,
        "--node-id",
        "node2",
        "--series-id",
        "1",
    ]);
    assert!(
        text.stdout.starts_with("planned as node2 (--node-id): "),
        "{}",
        text.stdout
    );
    let (report, code) = json(&[
        "plan-query",
        &file,
        "--node-id",
        "node9",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(report["errors"][0]["code"], "unknown-this-node");
}

#[test]
fn plan_query_warns_of_a_tag_no_node_has() {
    let file = path(&data("cluster.toml"));
    let (report, code) = json(&[
        "plan-query",
        &file,
        "--series-id",
        "1",
        "--prefer",
        "zone=nowhere",
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(report["warnings"][0]["code"], "unknown-prefer-tag");
    cli()
        .args(["plan-query", "cluster.toml", "--prefer", "zone=nowhere"])
        .assert()
        .code(0)
        .stderr(predicate::str::contains(
            "warning: cluster.toml: no node has tag zone=nowhere, so --prefer changes nothing; no node has a `zone` tag [unknown-prefer-tag]",
        ));
}

#[test]
fn plan_query_refuses_empty_and_reversed_ranges() {
    for (from, to) in [
        ("10", "5"),
        ("7", "7"),
        ("2026-11-28T10:00:00Z", "2026-11-28T09:00:00Z"),
    ] {
        cli()
            .args(["plan-query", "cluster.toml", "--from", from, "--to", to])
            .assert()
            .code(2)
            .stdout("")
            .stderr(
                predicate::str::contains("is not before --to")
                    .and(predicate::str::contains("[usage]")),
            );
    }
    cli()
        .args(["plan-query", "cluster.toml", "--from", "10", "--to", "5"])
        .assert()
        .stderr(
            "error: --from 10 (1970-01-01T00:00:00.00000001Z) is not before --to 5 (1970-01-01T00:00:00.000000005Z): \
             the range [from, to) is empty; --from is inclusive and --to exclusive, so --to must be later [usage]\n",
        );
    cli()
        .args(["plan-query", "cluster.toml", "--series-id", "1"])
        .args([
            "--from",
            "2026-11-28T10:00:00Z",
            "--to",
            "2026-11-28T10:00:00.000000001Z",
        ])
        .assert()
        .code(0);
    // --from without --to is a usage error.
    cli()
        .args(["plan-query", "cluster.toml", "--from", "0"])
        .assert()
        .code(2);
}

#[test]
fn plan_query_exits_1_on_missing_copies_and_on_refused_fan_outs() {
    let file = path(&data("cluster.toml"));
    // Shard 9 lives only on node2.
    let (plan, code) = json(&[
        "plan-query",
        &file,
        "--series-id",
        "9",
        "--down",
        "node2",
        "--format",
        "json",
    ]);
    assert_eq!(code, 1);
    assert_eq!(plan["unavailable"], serde_json::json!([9]));
    assert_eq!(plan["errors"][0]["code"], "unavailable-shards");
    cli()
        .args([
            "plan-query",
            "cluster.toml",
            "--series-id",
            "9",
            "--down",
            "node2",
        ])
        .assert()
        .code(1)
        .stderr(predicate::str::contains("shard 9 has no readable copy"));
    cli()
        .args([
            "plan-query",
            "cluster.toml",
            "--measurement",
            "cpu",
            "--require-pruning",
        ])
        .assert()
        .code(1)
        .stderr(
            predicate::str::contains("query would read all 16 shards")
                .and(predicate::str::contains("names no series ids"))
                .and(predicate::str::contains("[not-pruned]")),
        );
    cli()
        .args(["plan-query", "cluster.toml", "--down", "node9"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "node \"node9\" is not in the cluster config",
        ));
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
        let scratch = Scratch::new();
        let file = scratch.path("c.toml");
        generate_into(&file, n, z, s, r);
        let out = run(&["validate", &path(&file), "--deny-warnings"]);
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
    }
}

#[test]
fn rebalance_adding_a_node_moves_its_share_and_raises_the_generation() {
    let scratch = Scratch::new();
    let file = scratch.path("c.toml");
    generate_into(&file, 6, 1, 600, 3);
    let new = scratch.path("new.toml");
    let (plan, code) = json(&[
        "rebalance",
        &path(&file),
        "--add-node",
        "n6=10.0.0.99:8086,zone=z0",
        "--output",
        &path(&new),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{plan:#}");
    assert_eq!(plan["generation"], serde_json::json!({"old": 0, "new": 1}));
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
    let checked = run(&["validate", &path(&new), "--deny-warnings"]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(
        checked.stdout.contains("generation 1"),
        "{}",
        checked.stdout
    );
    // Removing it again moves only its copies.
    let (plan, _) = json(&[
        "rebalance",
        &path(&new),
        "--remove-node",
        "n6",
        "--format",
        "json",
    ]);
    assert_eq!(plan["copies_removed"].as_u64(), Some(added));
    assert_eq!(plan["copies_added"].as_u64(), Some(added));
    assert_eq!(plan["generation"]["new"], 2);
}

#[test]
fn rebalance_refuses_an_unknown_node() {
    cli()
        .args(["rebalance", "cluster.toml", "--remove-node", "node9"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: node \"node9\" is not in the cluster config; use one of the ids under [[nodes]] [unknown-node]",
        ));
}

/// One copy per shard: moving a shard to a new node changes its every
/// copy. `rebalance` and `diff` report the same change the same way, with
/// the same exit code.
#[test]
fn rebalance_and_diff_agree_on_a_risky_plan() {
    let scratch = Scratch::new();
    let old = scratch.path("old.toml");
    generate_into(&old, 2, 1, 4, 1);
    let new = scratch.path("new.toml");
    let rebalanced = run(&[
        "rebalance",
        &path(&old),
        "--add-node",
        "n2=10.0.0.3:8086,zone=z0",
        "--output",
        &path(&new),
    ]);
    let diffed = run(&["diff", &path(&old), &path(&new)]);
    assert_eq!(rebalanced.code, 1, "{}", rebalanced.stderr);
    assert_eq!(diffed.code, 1, "{}", diffed.stderr);
    // The file is still written: exit 1 asks for a person to read the plan.
    assert!(
        rebalanced.stderr.contains("note: wrote "),
        "{}",
        rebalanced.stderr
    );
    let errors = |stderr: &str| -> Vec<String> {
        stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .map(str::to_owned)
            .collect()
    };
    assert!(!errors(&rebalanced.stderr).is_empty());
    assert_eq!(errors(&rebalanced.stderr), errors(&diffed.stderr));
    assert!(
        errors(&diffed.stderr)[0].contains("changes at once")
            && diffed.stderr.contains("[every-copy-changes]"),
        "{}",
        diffed.stderr
    );
}

#[test]
fn diff_flags_a_shard_whose_every_copy_changes() {
    let scratch = Scratch::new();
    let old = scratch.path("old.toml");
    generate_into(&old, 2, 1, 4, 1);
    let text = fs::read_to_string(&old).unwrap();
    let swapped = text
        .replace("\"n0\"", "\"tmp\"")
        .replace("\"n1\"", "\"n0\"")
        .replace("\"tmp\"", "\"n1\"")
        .replace("generation = 0", "generation = 1");
    let new = scratch.path("new.toml");
    fs::write(&new, swapped).unwrap();
    let out = run(&["diff", &path(&old), &path(&new)]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("every copy of shards 0-3 changes at once"),
        "{}",
        out.stderr
    );
    assert!(
        !out.stderr.contains("generation-not-raised"),
        "{}",
        out.stderr
    );
}

#[test]
fn diff_of_identical_files_says_no_changes() {
    let file = path(&data("cluster.toml"));
    let out = run(&["diff", &file, &file]);
    assert_eq!(
        (out.code, out.stdout.as_str(), out.stderr.as_str()),
        (0, "no changes\n", "")
    );
    let (report, _) = json(&["diff", &file, &file, "--format", "json"]);
    assert_eq!(report["changed"], false);
    assert_eq!(report["shards"], serde_json::json!([]));
    // Only settings differ: no table of zeros, the settings named, and a
    // warning that the generation did not grow.
    let scratch = Scratch::new();
    let renamed = scratch.path("renamed.toml");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&renamed, text.replace("rusts-prod", "rusts-staging")).unwrap();
    let out = run(&["diff", &file, &path(&renamed)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(
        out.stdout,
        "no shard moves\nother changes:\n  cluster_name: \"rusts-prod\" -> \"rusts-staging\"\n"
    );
    assert!(
        out.stderr.contains("[generation-not-raised]"),
        "{}",
        out.stderr
    );
}

#[test]
fn diff_validates_both_inputs() {
    let good = path(&data("cluster.toml"));
    let bad = path(&data("duplicate-node-id.toml"));
    let out = run(&["diff", &bad, &good]);
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert!(
        out.stderr.contains(&format!("error: {bad}:"))
            && out.stderr.contains("[duplicate-node-id]"),
        "{}",
        out.stderr
    );
    // Both files' problems in one run.
    let out = run(&["diff", "no/such.toml", &bad]);
    assert_eq!(out.code, 1);
    assert!(out.stderr.contains("[io]") && out.stderr.contains("[duplicate-node-id]"));
}

/// A generated cluster (6 nodes in 3 zones, 24 shards, RF 3) and the same
/// cluster rebalanced with a seventh node, in `scratch`.
fn cluster_and_rebalanced(scratch: &Scratch) -> (String, String) {
    let old = scratch.path("cluster.toml");
    generate_into(&old, 6, 3, 24, 3);
    let new = scratch.path("new.toml");
    let out = run(&[
        "rebalance",
        &path(&old),
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &path(&new),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    (path(&old), path(&new))
}

#[test]
fn transition_writes_three_steps_and_prints_the_runbook() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let dir = scratch.path("steps");
    let out = run(&["transition", &old, &new, "--output-dir", &path(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let names: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert_eq!(
        names,
        ["01-joint-writes.toml", "02-read-new.toml", "03-final.toml"]
    );
    // Each step validates, one generation after the one before; the last
    // is the new config at the old one's generation plus 3.
    for (name, generation) in names.iter().zip(1..) {
        let step = path(&dir.join(name));
        let checked = run(&["validate", &step]);
        assert_eq!(checked.code, 0, "{name}: {}", checked.stderr);
        assert!(
            checked
                .stdout
                .contains(&format!("valid, generation {generation},")),
            "{}",
            checked.stdout
        );
    }
    let final_text = fs::read_to_string(dir.join("03-final.toml")).unwrap();
    let new_text = fs::read_to_string(&new).unwrap();
    assert_eq!(
        final_text,
        new_text.replace("generation = 1", "generation = 3")
    );
    // The runbook: every step, what to wait for, the catch-up and the
    // copies to delete; and the commands it shows to check each step work.
    for line in [
        "step 1 of 3, joint-writes (generation 1)",
        "start n6 with it",
        "  wait:   every node reports generation 1\n",
        "  wait:   every copy above has caught up\n",
        "step 2 of 3, read-new (generation 2)",
        "step 3 of 3, final (generation 3)",
        "  then:   delete the leaving copies",
    ] {
        assert!(out.stdout.contains(line), "{line:?} in:\n{}", out.stdout);
    }
    let diff = run(&[
        "diff",
        &old,
        &path(&dir.join("01-joint-writes.toml")),
        "--format",
        "json",
    ]);
    let report: Value = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(diff.code, 0, "{}", diff.stderr);
    assert_eq!(report["copies_removed"], 0);
    assert!(report["copies_added"].as_u64().unwrap() > 0);
    // No pointer to `transition` from a diff of its own steps.
    assert!(!diff.stderr.contains("transition"), "{}", diff.stderr);
    let diff = run(&[
        "diff",
        &path(&dir.join("01-joint-writes.toml")),
        &path(&dir.join("02-read-new.toml")),
    ]);
    assert!(
        diff.stdout.contains("  move_reads: \"old\" -> \"new\"\n"),
        "{}",
        diff.stdout
    );

    // The JSON report, in a fresh directory: one catch-up per joining copy.
    let dir = scratch.path("steps-json");
    let (report, code) = json(&[
        "transition",
        &old,
        &new,
        "--output-dir",
        &path(&dir),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{report:#}");
    let steps = report["steps"].as_array().unwrap();
    let generations: Vec<u64> = steps
        .iter()
        .map(|s| s["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(generations, [1, 2, 3]);
    assert_eq!(steps[0]["started"], serde_json::json!(["n6"]));
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
}

#[test]
fn transition_refuses_a_directory_that_holds_step_files() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let dir = scratch.path("steps");
    fs::create_dir(&dir).unwrap();
    fs::write(dir.join("01-joint-writes.toml"), "keep me").unwrap();
    let out = run(&["transition", &old, &new, "--output-dir", &path(&dir)]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("already holds step files (01-joint-writes.toml)")
            && out.stderr.contains("[output-exists]"),
        "{}",
        out.stderr
    );
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
    let out = run(&["transition", &file, &file, "--output-dir", &path(&dir)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("nothing moves"), "{}", out.stdout);
    assert!(!dir.exists());
    // Only a setting changes: deploy it as it is, with a higher generation.
    let renamed = scratch.path("renamed.toml");
    let text = fs::read_to_string(&file).unwrap();
    fs::write(&renamed, text.replace("rusts-prod", "rusts-staging")).unwrap();
    let (report, code) = json(&[
        "transition",
        &file,
        &path(&renamed),
        "--output-dir",
        &path(&dir),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0);
    assert_eq!(report["changed"], false);
    assert_eq!(report["steps"], serde_json::json!([]));
    assert_eq!(report["warnings"][0]["code"], "generation-not-raised");
    assert!(!dir.exists());
}

#[test]
fn transition_refuses_what_a_move_of_copies_cannot_do() {
    let scratch = Scratch::new();
    let (old, new) = cluster_and_rebalanced(&scratch);
    let dir = path(&scratch.path("steps"));
    let refused = |args: &[&str], code: &str| {
        let out = run(args);
        assert_eq!(out.code, 1, "{args:?}: {}", out.stderr);
        assert!(
            out.stderr.contains(&format!("[{code}]")),
            "{args:?}: {}",
            out.stderr
        );
        assert!(!scratch.path("steps").exists(), "{args:?}");
        out.stderr
    };
    // Another replication factor.
    let rf2 = scratch.path("rf2.toml");
    generate_into(&rf2, 6, 3, 24, 2);
    let stderr = refused(
        &["transition", &old, &path(&rf2), "--output-dir", &dir],
        "replication-changed",
    );
    assert!(
        stderr.contains("change them in a separate step"),
        "{stderr}"
    );
    // Another shard count: `split` changes it.
    let more = scratch.path("more.toml");
    generate_into(&more, 6, 3, 48, 3);
    let stderr = refused(
        &["transition", &old, &path(&more), "--output-dir", &dir],
        "mapping-changed",
    );
    assert!(
        stderr.contains("split with `rusts-cluster split "),
        "{stderr}"
    );
    // A step of a transition as the start: finish that one first.
    let other = scratch.path("other");
    let out = run(&["transition", &old, &new, "--output-dir", &path(&other)]);
    assert_eq!(out.code, 0);
    let step = path(&other.join("01-joint-writes.toml"));
    let stderr = refused(
        &["transition", &step, &new, "--output-dir", &dir],
        "in-transition",
    );
    assert!(
        stderr.contains(&format!(
            "error: {step}: the old config is a step of a transition"
        )),
        "{stderr}"
    );
    // An invalid input: every problem, with its place.
    let bad = path(&data("duplicate-node-id.toml"));
    refused(
        &["transition", &old, &bad, "--output-dir", &dir],
        "duplicate-node-id",
    );
    // The output directory is required: a usage error.
    assert_eq!(run(&["transition", &old, &new]).code, 2);
}

#[test]
fn rebalance_and_diff_point_to_transition_when_copies_move() {
    let scratch = Scratch::new();
    let old = scratch.path("cluster.toml");
    generate_into(&old, 6, 3, 24, 3);
    let new = scratch.path("new.toml");
    let pointer = "note: copies move: deploy this change with `rusts-cluster transition ";
    let rebalanced = run(&[
        "rebalance",
        &path(&old),
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &path(&new),
    ]);
    assert!(
        rebalanced.stderr.contains(&format!(
            "{pointer}{} {} --output-dir DIR`",
            path(&old),
            path(&new)
        )),
        "{}",
        rebalanced.stderr
    );
    let diffed = run(&["diff", &path(&old), &path(&new)]);
    assert!(diffed.stderr.contains(pointer), "{}", diffed.stderr);
    // Nothing moves, nothing to point to.
    let same = run(&["diff", &path(&old), &path(&old)]);
    assert!(!same.stderr.contains(pointer), "{}", same.stderr);
}

/// Runs the binary with its stdout a pipe whose reading end is closed
/// before it starts: every write to stdout fails with EPIPE. CI runs this
/// test by name (.ci/run).
#[test]
fn closed_stdout_pipe_ends_every_subcommand_quietly() {
    let scratch = Scratch::new();
    let generated = scratch.path("g.toml");
    generate_into(&generated, 4, 2, 64, 2);
    let (generated, example) = (path(&generated), path(&data("cluster.toml")));
    let other = scratch.path("other.toml");
    generate_into(&other, 5, 2, 64, 2);
    let other = path(&other);
    let steps = path(&scratch.path("steps"));
    let nodes = generate_args(3, 3, 4096, 3);
    let nodes: Vec<&str> = nodes.iter().map(String::as_str).collect();
    let cases: Vec<Vec<&str>> = vec![
        vec!["validate", &example],
        vec!["show", &generated],
        vec![
            "route",
            &example,
            "--measurement",
            "m",
            "--series-id",
            "1",
            "--timestamp",
            "0",
        ],
        vec!["plan-query", &generated],
        nodes.clone(),
        vec![
            "rebalance",
            &generated,
            "--add-node",
            "x=10.9.9.9:1,zone=z0",
        ],
        vec!["diff", &generated, &other],
        vec!["transition", &generated, &other, "--output-dir", &steps],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["--help"],
        vec!["--version"],
    ];
    for case in cases {
        for json in [false, true] {
            let mut args = case.clone();
            if json && !matches!(args[0], "completions" | "man" | "--help" | "--version") {
                args.extend(["--format", "json"]);
            } else if json {
                continue;
            }
            // Each run of `transition` writes its steps afresh.
            let _ = fs::remove_dir_all(&steps);
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            let out = std::process::Command::new(bin())
                .args(&args)
                .stdout(writer)
                .stderr(Stdio::piped())
                .output()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(0), "{args:?}: {stderr}");
            // Warnings and the plan's own errors may be there; nothing
            // about stdout.
            for quiet in [
                "panicked",
                "Broken pipe",
                "os error 32",
                "stdout",
                "[write]",
            ] {
                assert!(!stderr.contains(quiet), "{args:?}: {stderr}");
            }
        }
    }
}

/// Stdout on a full disk: exit 1 naming the failure, for every subcommand
/// (`show --format json > /dev/full` exited 0 before).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_exit_1_naming_the_failure() {
    let example = path(&data("cluster.toml"));
    let generate = generate_args(2, 1, 4, 1);
    let generate: Vec<&str> = generate.iter().map(String::as_str).collect();
    let cases: Vec<Vec<&str>> = vec![
        vec!["validate", &example],
        vec!["validate", &example, "--format", "json"],
        vec!["show", &example],
        vec!["show", &example, "--format", "json"],
        vec![
            "route",
            &example,
            "--measurement",
            "m",
            "--series-id",
            "1",
            "--timestamp",
            "0",
        ],
        vec!["plan-query", &example],
        generate,
        vec!["rebalance", &example],
        vec!["diff", &example, &example],
        vec!["transition", &example, &example, "--output-dir", "unused"],
        vec!["completions", "zsh"],
        vec!["man"],
        vec!["--help"],
    ];
    for args in cases {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let out = std::process::Command::new(bin())
            .args(&args)
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert!(
            stderr.contains(
                "error: cannot write the report to stdout: No space left on device (os error 28) [write]"
            ) && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
    }
    cli()
        .args(generate_args(2, 1, 4, 1))
        .args(["--output", "/dev/full"])
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "error: cannot write `/dev/full`: No space left on device (os error 28); the file was left as it was [write]",
        ));
}

/// `rebalance --output` over its own input, killed by the file size limit
/// mid-write (SIGXFSZ), then refused it (EFBIG): the input keeps its old
/// bytes and no temporary file is left. Then the same write without a
/// limit replaces it.
#[cfg(unix)]
#[test]
fn a_failed_write_leaves_the_old_file_byte_for_byte() {
    let scratch = Scratch::new();
    let file = scratch.path("cluster.toml");
    generate_into(&file, 6, 3, 256, 3);
    let before = fs::read(&file).unwrap();
    assert!(before.len() > 4096, "{}", before.len());
    let rebalance = |limit: &str| {
        let script = format!("{limit} exec \"$0\" \"$@\"");
        std::process::Command::new("sh")
            .args(["-c", &script, bin()])
            .args([
                "rebalance",
                &path(&file),
                "--add-node",
                "n9=10.0.9.9:8086,zone=z0",
            ])
            .args(["--output", &path(&file)])
            .output()
            .unwrap()
    };
    // `ulimit -f 1`: 512 or 1024 bytes, depending on the shell.
    let killed = rebalance("ulimit -f 1;");
    assert!(!killed.status.success());
    assert_eq!(fs::read(&file).unwrap(), before);
    // A killed process cannot remove its temporary file; it is named so
    // that an operator knows what it is, and is never the target.
    for name in scratch.files() {
        if name != "cluster.toml" {
            assert!(
                name.starts_with(".cluster.toml.rusts-cluster-") && name.ends_with(".tmp"),
                "{name}"
            );
            fs::remove_file(scratch.path(&name)).unwrap();
        }
    }
    // With SIGXFSZ ignored, the write fails with EFBIG instead, and the
    // temporary file is removed.
    let refused = rebalance("trap '' XFSZ; ulimit -f 1;");
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "error: cannot write `{}`: File too large",
            path(&file)
        )) && stderr.contains("the file was left as it was [write]"),
        "{stderr}"
    );
    assert_eq!(fs::read(&file).unwrap(), before);
    assert_eq!(scratch.files(), ["cluster.toml"]);
    // Without a limit, the input is replaced by the rebalanced config.
    let written = rebalance("");
    let stderr = String::from_utf8_lossy(&written.stderr);
    assert_eq!(written.status.code(), Some(0), "{stderr}");
    let after = fs::read_to_string(&file).unwrap();
    assert!(
        stderr.contains(&format!(
            "note: wrote {} bytes to {} (generation 1)",
            after.len(),
            path(&file)
        )),
        "{stderr}"
    );
    assert!(after.contains("generation = 1") && after.contains("\"n9\""));
    assert_eq!(scratch.files(), ["cluster.toml"]);
    assert_eq!(run(&["validate", &path(&file)]).code, 0);
}

/// The config is read once: from a FIFO, a second open would block forever
/// (the writer is gone), so the error locations prove a single read.
#[cfg(unix)]
#[test]
fn a_fifo_is_read_once() {
    let scratch = Scratch::new();
    let fifo = scratch.path("cluster.fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let text = fs::read(data("many-problems-at-once.toml")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::write(&fifo, text))
    };
    cli()
        .args(["validate", &path(&fifo)])
        .timeout(Duration::from_secs(20))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "cluster.fifo:18:17: node \"node1\" lists shard 9",
        ));
    writer.join().unwrap().unwrap();
}

/// A process substitution (`<(cat cluster.toml)`) is a pipe under
/// /dev/fd: a second read gets nothing, which lost every location before.
#[cfg(target_os = "linux")]
#[test]
fn a_process_substitution_keeps_its_locations() {
    let file = path(&data("many-problems-at-once.toml"));
    let has_bash = std::process::Command::new("bash")
        .arg("-c")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if has_bash {
        let out = assert_cmd::Command::new("bash")
            .args(["-c", "exec \"$0\" validate <(cat \"$1\")", bin(), &file])
            .timeout(Duration::from_secs(20))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(
            stderr.contains(":18:17: node \"node1\" lists shard 9") && stderr.contains("/dev/fd/"),
            "{stderr}"
        );
    }
    // The same through /dev/stdin, which needs no shell.
    cli()
        .args(["validate", "/dev/stdin"])
        .pipe_stdin(&file)
        .unwrap()
        .timeout(Duration::from_secs(20))
        .assert()
        .code(1)
        .stderr(predicate::str::contains(
            "/dev/stdin:18:17: node \"node1\" lists shard 9",
        ));
}

/// Ids, addresses and tags that hold escape sequences are shown escaped in
/// text, and exact in JSON.
#[test]
fn escape_sequences_are_escaped_in_text() {
    let scratch = Scratch::new();
    let file = scratch.path("evil.toml");
    fs::write(
        &file,
        "node_id = \"a\\u001b[2J\"\nshard_count = 2\n\
         [[nodes]]\nid = \"a\\u001b[2J\"\naddress = \"10.0.0.1:1\"\nshards = [0, 1]\ntags = { zone = \"z\\u202e1\" }\n\
         [[nodes]]\nid = \"b\\r\\n\"\naddress = \"10.0.0.2:1\"\n",
    )
    .unwrap();
    let file = path(&file);
    for args in [
        vec!["show", file.as_str()],
        vec!["validate", file.as_str()],
        vec!["plan-query", file.as_str(), "--table-style", "unicode"],
    ] {
        let out = run(&args);
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.contains('\u{1b}')
                    && !stream.contains('\u{202e}')
                    && !stream.contains('\r'),
                "{args:?}: {stream:?}"
            );
        }
        if args[0] != "validate" {
            assert!(
                out.stdout.contains("a\\u{1b}[2J"),
                "{args:?}: {}",
                out.stdout
            );
        }
    }
    assert!(run(&["show", &file]).stdout.contains("z\\u{202e}1"));
    // The node without shards is warned about by id, escaped.
    assert!(run(&["validate", &file]).stderr.contains("\"b\\r\\n\""));
    let (report, _) = json(&["show", &file, "--format", "json"]);
    assert_eq!(report["nodes"][0]["node"], "a\u{1b}[2J");
}

/// A valid config whose one node id is 1 MiB: `show` cuts the cells
/// instead of padding every row to 1 MiB (docs/reliability.md).
#[test]
fn huge_cells_are_cut() {
    let scratch = Scratch::new();
    let file = scratch.path("big-id.toml");
    let id = "x".repeat(1 << 20);
    let shards: Vec<String> = (0..16).map(|s| s.to_string()).collect();
    fs::write(
        &file,
        format!(
            "node_id = \"{id}\"\n[[nodes]]\nid = \"{id}\"\naddress = \"10.0.0.1:1\"\nshards = [{}]\n",
            shards.join(", ")
        ),
    )
    .unwrap();
    let out = run(&["show", &path(&file)]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.len() < 16 * 1024, "{}", out.stdout.len());
    assert!(
        out.stdout.contains("...(1048476 more bytes)"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stdout.lines().count(), 1 + 5 + 20);
}

#[test]
fn show_and_route_mark_the_copies_a_move_adds_and_removes() {
    let scratch = Scratch::new();
    let file = scratch.path("moving.toml");
    fs::write(
        &file,
        r#"node_id = "a"
generation = 5
replication_factor = 3
shard_count = 2
move_reads = "new"
[[nodes]]
id = "a"
address = "10.0.0.1:8086"
shards = [0, 1]
[[nodes]]
id = "b"
address = "10.0.0.2:8086"
replica_shards = [0, 1]
[[nodes]]
id = "c"
address = "10.0.0.3:8086"
replica_shards = [0]
leaving_shards = [0]
[[nodes]]
id = "d"
address = "10.0.0.4:8086"
replica_shards = [0, 1]
joining_shards = [0]
"#,
    )
    .unwrap();
    let shown = run(&["show", &path(&file)]);
    assert!(
        shown.stdout.contains(
            "1 shard moving: writes need the mode on the old and the new copies; reads come from \
             the new copies (move_reads = \"new\")\n"
        ),
        "{}",
        shown.stdout
    );
    assert!(
        shown.stdout.contains("| b, c (leaving), d (joining) |"),
        "{}",
        shown.stdout
    );
    let (report, code) = json(&["show", &path(&file), "--format", "json"]);
    assert_eq!(code, 0);
    assert_eq!(report["move_reads"], "new");
    assert_eq!(report["shards"][0]["joining"], serde_json::json!(["d"]));
    assert_eq!(report["shards"][0]["leaving"], serde_json::json!(["c"]));
    assert_eq!(report["shards"][1]["joining"], serde_json::json!([]));
    let (route, _) = json(&[
        "route",
        &path(&file),
        "--measurement",
        "cpu",
        "--series-id",
        "0",
        "--timestamp",
        "0",
        "--format",
        "json",
    ]);
    let states: Vec<&str> = route["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["stable", "stable", "leaving", "joining"]);
    assert_eq!(route["state"], "Rebalancing");
}

/// The operator's sequence: split a generated three-zone cluster, validate
/// the result with warnings denied, and diff it against the original: a
/// split by 2 in which no copy moves, exit code 0. The split of the split
/// is a split of it, and of nothing older.
#[test]
fn split_writes_a_config_that_validates_and_diff_recognises() {
    let scratch = Scratch::new();
    let file = scratch.path("c.toml");
    generate_into(&file, 6, 3, 48, 3);
    let split = scratch.path("split.toml");
    let (report, code) = json(&[
        "split",
        &path(&file),
        "--factor",
        "2",
        "--output",
        &path(&split),
        "--format",
        "json",
    ]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(
        report["generation"],
        serde_json::json!({"old": 0, "new": 1})
    );
    assert_eq!(
        report["split"],
        serde_json::json!({"factor": 2, "old_shard_count": 48, "new_shard_count": 96})
    );
    assert_eq!(report["warnings"], serde_json::json!([]));
    let checked = run(&["validate", &path(&split), "--deny-warnings"]);
    assert_eq!(checked.code, 0, "{}", checked.stderr);
    assert!(
        checked.stdout.contains("generation 1, 0 warnings"),
        "{}",
        checked.stdout
    );

    let diffed = run(&["diff", &path(&file), &path(&split)]);
    assert_eq!(diffed.code, 0, "{}", diffed.stderr);
    assert!(
        diffed.stdout.starts_with("split by 2: 0 copies move\n"),
        "{}",
        diffed.stdout
    );
    assert!(
        diffed.stdout.contains("shard_count: 48 -> 96"),
        "{}",
        diffed.stdout
    );
    let (report, code) = json(&["diff", &path(&file), &path(&split), "--format", "json"]);
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["split"]["factor"], 2);
    assert_eq!(report["copies_added"], 0);
    assert_eq!(report["mapping_changed"], false);

    let again = scratch.path("again.toml");
    let out = run(&[
        "split",
        &path(&split),
        "--factor",
        "3",
        "--output",
        &path(&again),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(run(&["diff", &path(&split), &path(&again)])
        .stdout
        .starts_with("split by 3: 0 copies move"));
    // From the first file, 48 to 288 shards skips a generation: the record
    // names 96 shards, so it is not a split of it.
    let (report, code) = json(&["diff", &path(&file), &path(&again), "--format", "json"]);
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["split"], serde_json::Value::Null);
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
    assert!(
        errors.contains(&serde_json::json!("mapping-changed")),
        "{report:#}"
    );
}

/// A split config edited so that one child moves is not a split: `diff`
/// says why on stderr and fails as for any other change of the mapping.
#[test]
fn diff_names_the_child_that_left_its_parent() {
    let scratch = Scratch::new();
    let file = scratch.path("c.toml");
    generate_into(&file, 2, 1, 4, 1);
    let split = scratch.path("split.toml");
    assert_eq!(
        run(&[
            "split",
            &path(&file),
            "--factor",
            "2",
            "--output",
            &path(&split)
        ])
        .code,
        0
    );
    // Child 5 (of parent 1) moves to the node that did not hold parent 1.
    let mut config = rusts_cluster_config::ClusterConfig::from_file(&split).unwrap();
    let from = config
        .nodes
        .iter()
        .position(|n| n.shards.contains(&5))
        .unwrap();
    config.nodes[from].shards.retain(|&s| s != 5);
    config.nodes[1 - from].shards.push(5);
    fs::write(&split, config.to_toml().unwrap()).unwrap();
    let out = run(&["diff", &path(&file), &path(&split)]);
    assert_eq!(out.code, 1, "{}", out.stdout);
    assert!(
        out.stderr.contains(
            "note: not a split of the old config: shard 5 is not on the copies of its parent, shard 1"
        ),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("[mapping-changed]"), "{}", out.stderr);
}

#[test]
fn split_refuses_a_factor_past_the_shard_limit_and_writes_nothing() {
    let scratch = Scratch::new();
    let target = scratch.path("never.toml");
    let out = run(&[
        "split",
        &path(&data("cluster.toml")),
        "--factor",
        "16385",
        "--output",
        &path(&target),
    ]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains(
            "splitting 16 shards by 16385 gives 262160 shards, above the limit of 262144; use a factor of at most 16384 [split-too-large]"
        ),
        "{}",
        out.stderr
    );
    assert!(!target.exists());
    let usage = run(&["split", &path(&data("cluster.toml")), "--factor", "0"]);
    assert_eq!(usage.code, 2, "{}", usage.stderr);
}

#[test]
fn an_address_handed_to_another_node_is_warned_of_and_refused_by_transition() {
    let scratch = Scratch::new();
    let old = scratch.path("cluster.toml");
    generate_into(&old, 6, 3, 24, 3);
    let old = path(&old);
    let dir = scratch.path("steps");
    // n5 (10.0.0.6:8086) is replaced by n6 at the same address.
    let replaced = path(&scratch.path("replaced.toml"));
    let out = run(&[
        "rebalance",
        &old,
        "--remove-node",
        "n5",
        "--add-node",
        "n6=10.0.0.6:8086,zone=z2",
        "--output",
        &replaced,
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let warning = format!(
        "warning: {replaced}: node \"n5\" leaves the cluster and node \"n6\" has its address \
         10.0.0.6:8086"
    );
    assert!(out.stderr.contains(&warning), "{}", out.stderr);
    assert!(out.stderr.contains("[address-in-use]"), "{}", out.stderr);
    let out = run(&["diff", &old, &replaced]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stderr.contains(&warning), "{}", out.stderr);
    let out = run(&["transition", &old, &replaced, "--output-dir", &path(&dir)]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(out.stderr.contains("[address-in-use]"), "{}", out.stderr);
    assert!(!dir.exists());
    // n4 stays but moves to another address, and a new node takes its old one.
    let added = scratch.path("added.toml");
    let out = run(&[
        "rebalance",
        &old,
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &path(&added),
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(!out.stderr.contains("address-in-use"), "{}", out.stderr);
    let text = fs::read_to_string(&added).unwrap();
    assert_eq!(text.matches("\"10.0.0.5:8086\"").count(), 1);
    let handed = scratch.path("handed.toml");
    fs::write(
        &handed,
        text.replace("\"10.0.0.5:8086\"", "\"10.0.8.5:8086\"")
            .replace("\"10.0.9.1:8086\"", "\"10.0.0.5:8086\""),
    )
    .unwrap();
    let out = run(&["diff", &old, &path(&handed), "--format", "json"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let report: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let warnings = report["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert_eq!(warnings[0]["code"], "address-in-use");
    let out = run(&[
        "transition",
        &old,
        &path(&handed),
        "--output-dir",
        &path(&dir),
    ]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains(
            "address 10.0.0.5:8086 is node \"n4\"'s in generation 0, where it holds copies, and \
             node \"n6\"'s in generation 1; nodes still running generation 0 would send \"n4\"'s \
             requests to \"n6\""
        ),
        "{}",
        out.stderr
    );
    assert!(!dir.exists());
}
