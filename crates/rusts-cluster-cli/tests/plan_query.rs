//! `plan-query`: the shards a query reads and the node to read each from,
//! at a read level, as a node, with nodes down, and what it refuses.
//!
//! The example shards BySeries over 16 shards, Quorum, replication factor
//! 2: node1 holds shards 0-7, node2 holds 0-15 (so shard 1 is on both and
//! shard 9 on node2 alone). The file names no node, as the one file every
//! node loads; the tests plan as node1 with `--node-id node1`.

use serde_json::{json, Value};

use crate::util::{data, json, path, run, run_bin, Run};

/// `plan-query` of the example with these arguments, in-process.
fn plan(args: &[&str]) -> Run {
    let file = path(&data("cluster.toml"));
    let mut all = vec!["plan-query", file.as_str()];
    all.extend(args);
    run(&all)
}

/// The same, `--format json`, with its exit code checked.
#[track_caller]
fn plan_json(args: &[&str], code: u8) -> Value {
    let file = path(&data("cluster.toml"));
    let mut all = vec!["plan-query", file.as_str()];
    all.extend(args);
    json(&all, code)
}

/// `plan-query cli/cluster.toml ARGS` as the binary, so that messages name
/// the file as typed.
fn plan_bin(args: &[&str]) -> Run {
    let mut all = vec!["plan-query", "cli/cluster.toml"];
    all.extend(args);
    run_bin(&all)
}

#[test]
fn plan_query_prints_the_shards_and_the_nodes_to_read() {
    let plan = plan_json(
        &[
            "--node-id",
            "node1",
            "--series-id",
            "1",
            "--series-id",
            "9",
            "--series-id",
            "17",
        ],
        0,
    );
    assert_eq!(plan["node_id"], "node1");
    assert_eq!(plan["shards"], json!([1, 9]));
    assert_eq!(plan["pruned"], true);
    assert_eq!(plan["targets"][0]["node"], "node1");
    assert_eq!(plan["targets"][0]["shards"], json!([1]));
    assert_eq!(plan["targets"][1]["node"], "node2");
    plan_bin(&["--node-id", "node1", "--series-id", "9"])
        .exits(0)
        .stdout_has("planned as node1 (--node-id): reads 1 of 16 shards (pruned)")
        .stdout_has("10.0.1.2:8086");
}

/// The shared file plans as no node: no copy is local, and the report
/// says so; a file that still sets `node_id` plans as that node.
#[test]
fn a_file_without_node_id_plans_as_no_node() {
    let plan = plan_json(&["--series-id", "9"], 0);
    assert_eq!(plan["node_id"], Value::Null);
    assert_eq!(plan["targets"][0]["node"], "node2");
    plan_bin(&["--series-id", "9"]).exits(0).stdout_has(
        "planned as no node (the file names none; --node-id NODE plans as one): reads 1 of 16 \
         shards (pruned)",
    );
    run_bin(&["plan-query", "cli/moving.toml", "--series-id", "1"])
        .exits(0)
        .stdout_starts("planned as a (the file's node_id): ");
}

#[test]
fn plan_query_reads_as_many_copies_as_the_level_needs() {
    let plan_at = |level: &str, down: &[&str], code: u8| {
        let mut args = vec![
            "--series-id",
            "1",
            "--series-id",
            "9",
            "--consistency",
            level,
        ];
        for node in down {
            args.extend(["--down", node]);
        }
        plan_json(&args, code)
    };
    // Quorum: a write needs both copies, so one copy meets every write.
    let plan = plan_at("quorum", &[], 0);
    assert_eq!(plan["consistency"], "quorum");
    assert_eq!(plan["reads"][0]["shard"], 1);
    assert_eq!(plan["reads"][0]["copies_needed"], 1);
    assert_eq!(plan["reads"][0]["read"], json!(["node1"]));
    assert_eq!(plan["reads"][0]["fallbacks"], json!(["node2"]));
    // All (any case): both copies of shard 1, the one copy of shard 9.
    let plan = plan_at("ALL", &[], 0);
    assert_eq!(plan["reads"][0]["read"], json!(["node1", "node2"]));
    assert_eq!(plan["reads"][1]["copies_needed"], 1);
    // With node2 down, All cannot read either shard, and says so.
    let plan = plan_at("all", &["node2"], 1);
    assert_eq!(plan["unavailable"], json!([1, 9]));
    assert_eq!(plan["errors"][0]["code"], "unavailable-shards");
    plan_bin(&[
        "--series-id",
        "1",
        "--consistency",
        "all",
        "--down",
        "node2",
    ])
    .exits(1)
    .stderr_has("shard 1 has fewer readable copies than --consistency all needs");
    plan_bin(&["--consistency", "most"]).exits(2);
}

#[test]
fn plan_query_plans_as_another_node_and_its_copies_win() {
    // As node2, which holds every shard, everything is read locally, even
    // when another tag is preferred.
    let report = plan_json(&["--node-id", "node2", "--series-id", "1"], 0);
    assert_eq!(report["node_id"], "node2");
    assert_eq!(report["targets"][0]["node"], "node2");
    plan(&["--node-id", "node2", "--series-id", "1"])
        .stdout_starts("planned as node2 (--node-id): ");
    let report = plan_json(&["--node-id", "node9"], 1);
    assert_eq!(report["errors"][0]["code"], "unknown-this-node");
}

#[test]
fn plan_query_warns_of_a_tag_no_node_has() {
    let report = plan_json(&["--series-id", "1", "--prefer", "zone=nowhere"], 0);
    assert_eq!(report["warnings"][0]["code"], "unknown-prefer-tag");
    plan_bin(&["--prefer", "zone=nowhere"]).exits(0).stderr_has(
        "warning: cli/cluster.toml: no node has tag zone=nowhere, so --prefer changes nothing; no node has a `zone` tag [unknown-prefer-tag]",
    );
}

#[test]
fn plan_query_refuses_empty_and_reversed_ranges() {
    for (from, to) in [
        ("10", "5"),
        ("7", "7"),
        ("2026-11-28T10:00:00Z", "2026-11-28T09:00:00Z"),
    ] {
        plan_bin(&["--from", from, "--to", to])
            .exits(2)
            .stdout_is("")
            .stderr_has("is not before --to")
            .stderr_has("[usage]");
    }
    plan_bin(&["--from", "10", "--to", "5"]).stderr_is(
        "error: --from 10 (1970-01-01T00:00:00.00000001Z) is not before --to 5 (1970-01-01T00:00:00.000000005Z): \
         the range [from, to) is empty; --from is inclusive and --to exclusive, so --to must be later [usage]\n",
    );
    plan_bin(&[
        "--series-id",
        "1",
        "--from",
        "2026-11-28T10:00:00Z",
        "--to",
        "2026-11-28T10:00:00.000000001Z",
    ])
    .exits(0);
    // --from without --to is a usage error.
    plan_bin(&["--from", "0"]).exits(2);
}

#[test]
fn plan_query_exits_1_on_missing_copies_and_on_refused_fan_outs() {
    // Shard 9 lives only on node2.
    let plan = plan_json(&["--series-id", "9", "--down", "node2"], 1);
    assert_eq!(plan["unavailable"], json!([9]));
    assert_eq!(plan["errors"][0]["code"], "unavailable-shards");
    plan_bin(&["--series-id", "9", "--down", "node2"])
        .exits(1)
        .stderr_has("shard 9 has no readable copy");
    plan_bin(&["--measurement", "cpu", "--require-pruning"])
        .exits(1)
        .stderr_has("query would read all 16 shards")
        .stderr_has("names no series ids")
        .stderr_has("[not-pruned]");
    plan_bin(&["--down", "node9"])
        .exits(1)
        .stderr_has("node \"node9\" is not in the cluster config")
        .stderr_has("[unknown-node]");
}
