//! `show` and `route`: the shard map, one key's route, and the marks of a
//! move in progress.

use serde_json::json;

use crate::util::{data, json, path, run};

/// `route` of one key in the example, `--format json`.
fn route(file: &str, series_id: &str, timestamp: &str) -> serde_json::Value {
    json(
        &[
            "route",
            file,
            "--measurement",
            "cpu",
            "--series-id",
            series_id,
            "--timestamp",
            timestamp,
        ],
        0,
    )
}

#[test]
fn route_and_show_report_json() {
    let file = path(&data("cluster.toml"));
    let report = route(&file, "42", "1700000000000000000");
    assert_eq!(
        (report["shard"].as_u64(), report["primary"].as_str()),
        (Some(10), Some("node2"))
    );
    assert_eq!(report["acks_required"], 2);
    assert_eq!(report["replication_mode"], "Quorum");
    assert_eq!(
        report["copies"],
        json!([{"node": "node2", "address": "10.0.1.2:8086", "role": "primary", "state": "stable", "available": true}])
    );
    // The same instant in RFC 3339, in UTC and with an offset.
    assert_eq!(
        route(&file, "42", "2023-11-14T22:13:20Z")["shard"],
        report["shard"]
    );
    assert_eq!(
        route(&file, "42", "2023-11-15T00:13:20.000+02:00")["key"]["timestamp"],
        1_700_000_000_000_000_000_u64
    );
    let show = json(&["show", &file], 0);
    assert_eq!(show["nodes"][1]["replicas"], 8);
    assert_eq!(show["nodes"][1]["node"], "node2");
    assert_eq!(show["shards"].as_array().unwrap().len(), 16);
    assert_eq!(show["shards"][9]["primary"], "node2");
    assert_eq!(show["shards"][3]["replicas"], json!(["node2"]));
}

#[test]
fn show_and_route_mark_the_copies_a_move_adds_and_removes() {
    let file = path(&data("moving.toml"));
    run(&["show", &file])
        .stdout_has(
            "1 shard moving: writes need the mode on the old and the new copies; reads come from \
             the new copies (move_reads = \"new\")\n",
        )
        .stdout_has("| b, c (leaving), d (joining) |");
    let report = json(&["show", &file], 0);
    assert_eq!(report["move_reads"], "new");
    assert_eq!(report["shards"][0]["joining"], json!(["d"]));
    assert_eq!(report["shards"][0]["leaving"], json!(["c"]));
    assert_eq!(report["shards"][1]["joining"], json!([]));
    let route = route(&file, "0", "0");
    let states: Vec<&str> = route["copies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["stable", "stable", "leaving", "joining"]);
    assert_eq!(route["state"], "Rebalancing");
}
