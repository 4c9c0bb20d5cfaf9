//! `status` against fake storage nodes on loopback: each way a node can be
//! not ready (behind, ahead, catching up, the wrong node, unreachable,
//! silent, malformed, huge) is named in the table, on stderr and in JSON,
//! and `--wait` waits for a catch-up to end and gives up on time.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use crate::util::{fake_cluster, http_200, json, run, run_bin, status_body, FakeNode, Scratch};

/// A node of each kind, and a config at generation 2 naming them all.
struct Zoo {
    _nodes: Vec<FakeNode>,
    refused: String,
    file: String,
    _scratch: Scratch,
}

fn zoo() -> Zoo {
    let scratch = Scratch::new();
    let nodes = vec![
        FakeNode::status("a1", 2, 0),
        FakeNode::status("b1", 2, 3),
        FakeNode::status("c1", 1, 0),
        FakeNode::status("d1", 3, 0),
        FakeNode::status("someone-else", 2, 0),
        FakeNode::start(|_| Some(http_200("{\"node_id\": \"f1\", \"generation\""))),
        FakeNode::start(|_| None),
        // Over the 8 MiB limit, in a body of no stated length.
        FakeNode::start(|_| {
            let mut answer = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
            answer.resize(9 << 20, b' ');
            Some(answer)
        }),
        FakeNode::start(|_| {
            let body = r#"{"error":"engine-unavailable","message":"the engine stops"}"#;
            let head = format!(
                "HTTP/1.1 503 Service Unavailable\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            Some([head.as_bytes(), body.as_bytes()].concat())
        }),
    ];
    let refused = FakeNode::refused();
    let ids = ["a1", "b1", "c1", "d1", "e1", "f1", "g1", "h1", "i1"];
    let mut config: Vec<(&str, &str)> = ids
        .iter()
        .zip(&nodes)
        .map(|(id, n)| (*id, n.address.as_str()))
        .collect();
    config.push(("j1", &refused));
    let file = fake_cluster(&scratch, "cluster.toml", 2, &config);
    Zoo {
        _nodes: nodes,
        refused,
        file,
        _scratch: scratch,
    }
}

/// The cells of `node`'s row of an ASCII table.
fn row<'a>(table: &'a str, node: &str) -> Vec<&'a str> {
    let line = table
        .lines()
        .find(|l| l.starts_with(&format!("| {node} ")))
        .unwrap_or_else(|| panic!("no row of {node} in\n{table}"));
    line.trim_matches('|').split('|').map(str::trim).collect()
}

#[test]
fn every_node_not_ready_is_named_with_why() {
    let zoo = zoo();
    let started = Instant::now();
    let out = run_bin(&[
        "status",
        &zoo.file,
        "--timeout-ms",
        "500",
        "--table-style",
        "ascii",
    ])
    .exits(1)
    .stdout_has("1 of 10 nodes ready at generation 2; waiting for b1 (catch-up-pending), c1 (behind), d1 (ahead), e1 (wrong-node), f1 (bad-answer), g1 (no-answer), h1 (answer-too-large), i1 (bad-answer), j1 (unreachable)")
    .stdout_has("| node | address ")
    .stdout_has("| reachable ")
    .stdout_has("| generation | catch-up pending | at generation 2 |")
    .stderr_has(" at ")
    .stderr_has(": 3 joining copies not caught up yet [catch-up-pending]\n")
    .stderr_has(": reports generation 1, not the config's 2: it has not loaded this config [behind]\n")
    .stderr_has(": reports generation 3, above the config's 2: it runs a newer config than this file [ahead]\n")
    .stderr_has(": node `someone-else` answered, not `e1`: check the address in the config [wrong-node]\n")
    .stderr_has(": the answer is not JSON: EOF while parsing an object at line 1 column 30 [bad-answer]\n")
    .stderr_has(": no answer within 500 ms [no-answer]\n")
    .stderr_has(": the answer is over the 8 MiB limit [answer-too-large]\n")
    .stderr_has(": answered HTTP 503: the engine stops [bad-answer]\n")
    .stderr_has(&format!("error: node `j1` at {}: cannot connect: ", zoo.refused))
    .stderr_lacks("panicked")
    .stderr_lacks("error: node `a1`");
    assert_eq!(out.error_lines().len(), 9, "{}", out.stderr);
    let rows: Vec<Vec<&str>> = ["a1", "b1", "c1", "d1", "g1", "j1"]
        .iter()
        .map(|node| row(&out.stdout, node))
        .collect();
    assert_eq!(rows[0][2..], ["yes", "2", "0", "yes"]);
    assert_eq!(rows[1][2..], ["yes", "2", "3", "yes"]);
    assert_eq!(rows[2][2..], ["yes", "1", "0", "no (behind)"]);
    assert_eq!(rows[3][2..], ["yes", "3", "0", "no (ahead)"]);
    assert_eq!(rows[4][2..], ["no: no answer within 500 ms", "-", "-", "-"]);
    assert_eq!(rows[5][1], zoo.refused);
    assert!(
        rows[5][2].starts_with("no: cannot connect: "),
        "{:?}",
        rows[5]
    );
    // The silent node is given its 500 ms and no more.
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn json_names_each_node_and_its_problem() {
    let zoo = zoo();
    let report = json(&["status", &zoo.file, "--timeout-ms", "500"], 1);
    assert_eq!(report["command"], "status");
    assert_eq!(report["generation"], 2);
    assert_eq!(report["ready"], false);
    assert_eq!(report["polls"], 1);
    let nodes = report["nodes"].as_array().unwrap();
    let problems: Vec<(&str, &str)> = nodes
        .iter()
        .map(|n| {
            (
                n["node"].as_str().unwrap(),
                n["problem"].as_str().unwrap_or("-"),
            )
        })
        .collect();
    assert_eq!(
        problems,
        [
            ("a1", "-"),
            ("b1", "catch-up-pending"),
            ("c1", "behind"),
            ("d1", "ahead"),
            ("e1", "wrong-node"),
            ("f1", "bad-answer"),
            ("g1", "no-answer"),
            ("h1", "answer-too-large"),
            ("i1", "bad-answer"),
            ("j1", "unreachable"),
        ]
    );
    assert_eq!(
        nodes[1],
        serde_json::json!({
            "node": "b1",
            "address": nodes[1]["address"],
            "reachable": true,
            "error": null,
            "generation": 2,
            "catch_up_pending": 3,
            "at_generation": true,
            "ready": false,
            "problem": "catch-up-pending",
        })
    );
    assert_eq!(nodes[0]["ready"], true);
    assert_eq!(nodes[2]["at_generation"], false);
    assert_eq!(nodes[9]["address"], zoo.refused.as_str());
    assert_eq!(nodes[9]["reachable"], false);
    assert_eq!(nodes[9]["generation"], serde_json::Value::Null);
    assert_eq!(nodes[9]["error"]["code"], "unreachable");
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 9, "{errors:?}");
    assert_eq!(errors[0]["code"], "catch-up-pending");
}

#[test]
fn a_ready_cluster_exits_0() {
    let scratch = Scratch::new();
    let (a, b) = (FakeNode::status("a1", 7, 0), FakeNode::status("b1", 7, 0));
    let file = fake_cluster(
        &scratch,
        "c.toml",
        7,
        &[("a1", &a.address), ("b1", &b.address)],
    );
    run_bin(&["status", &file])
        .exits(0)
        .stdout_has(": every node (2) reports generation 7 with catch-up done\n")
        .stderr_is("");
    let report = json(&["status", &file, "--wait"], 0);
    assert_eq!(
        (&report["ready"], &report["polls"]),
        (&true.into(), &1.into())
    );
}

#[test]
fn wait_waits_until_the_catch_up_is_done() {
    let scratch = Scratch::new();
    let a = FakeNode::status("a1", 4, 0);
    // Two joining copies, then one, then none.
    let b = FakeNode::start(|n| {
        Some(http_200(&status_body(
            "b1",
            4,
            2u64.saturating_sub(n as u64),
        )))
    });
    let file = fake_cluster(
        &scratch,
        "c.toml",
        4,
        &[("a1", &a.address), ("b1", &b.address)],
    );
    let out = run_bin(&["status", &file, "--wait", "--wait-secs", "30"])
        .exits(0)
        .stdout_has("every node (2) reports generation 4 with catch-up done")
        .stderr_is("note: waiting for b1 (catch-up-pending)\n");
    let _ = out;
    // The same in JSON: three polls, the first two short of it.
    let c = FakeNode::start(|n| {
        Some(http_200(&status_body(
            "b1",
            4,
            2u64.saturating_sub(n as u64),
        )))
    });
    let file = fake_cluster(
        &scratch,
        "d.toml",
        4,
        &[("a1", &a.address), ("b1", &c.address)],
    );
    let report = json(&["status", &file, "--wait"], 0);
    assert_eq!(report["polls"], 3);
}

#[test]
fn wait_gives_up_naming_the_nodes_not_there() {
    let scratch = Scratch::new();
    let a = FakeNode::status("a1", 5, 0);
    let asked = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&asked);
    let b = FakeNode::start(move |_| {
        counted.fetch_add(1, Ordering::Relaxed);
        Some(http_200(&status_body("b1", 4, 0)))
    });
    let file = fake_cluster(
        &scratch,
        "c.toml",
        5,
        &[("a1", &a.address), ("b1", &b.address)],
    );
    let started = Instant::now();
    let out = run_bin(&["status", &file, "--wait", "--wait-secs", "2"])
        .exits(1)
        .stderr_has("note: waiting for b1 (behind)\n")
        .stderr_has("[behind]\n")
        .stderr_has("error: after 2 s (")
        .stderr_has(
            "1 of 2 nodes are not at generation 5 with catch-up done: b1 (behind) [not-ready]\n",
        );
    let _ = out;
    let took = started.elapsed();
    assert!(
        took >= Duration::from_secs(2) && took < Duration::from_secs(10),
        "{took:?}"
    );
    // Asked twice a second, not in a tight loop.
    let n = asked.load(Ordering::Relaxed);
    assert!((3..=6).contains(&n), "{n}");
}

#[test]
fn bad_arguments_are_usage_errors() {
    let scratch = Scratch::new();
    let file = fake_cluster(&scratch, "c.toml", 1, &[("a1", "127.0.0.1:9")]);
    run(&["status", &file, "--wait-secs", "5"])
        .exits(2)
        .stderr_has("--wait");
    run(&["status", &file, "--timeout-ms", "0"]).exits(2);
    run(&["status"]).exits(2);
    run(&["status", "no/such.toml"])
        .exits(1)
        .stderr_has("cannot read cluster config `no/such.toml`");
}

/// A node that reports the file's generation from another file (another
/// plan from the same config, or `rebalance`'s output beside a step) is
/// not ready: `other-file`, naming both identities. One that reports the
/// file's own identity is.
#[test]
fn a_node_on_another_file_of_the_same_generation_is_not_ready() {
    let scratch = Scratch::new();
    // The identity covers the addresses, so the nodes learn it once the
    // file naming their ports is written.
    let identity = Arc::new(std::sync::Mutex::new(String::new()));
    let other = "4/fnv1a64:0123456789abcdef".to_owned();
    let node = |id: &'static str, answer: Option<String>| {
        let identity = Arc::clone(&identity);
        FakeNode::start(move |_| {
            let mut body: serde_json::Value = serde_json::from_str(&status_body(id, 4, 0)).unwrap();
            body["identity"] = answer
                .clone()
                .unwrap_or_else(|| identity.lock().unwrap().clone())
                .into();
            Some(http_200(&body.to_string()))
        })
    };
    let (a, b) = (node("a1", None), node("b1", Some(other.clone())));
    let file = fake_cluster(
        &scratch,
        "c.toml",
        4,
        &[("a1", &a.address), ("b1", &b.address)],
    );
    let own = rusts_cluster_config::ClusterConfig::from_file(&file)
        .unwrap()
        .identity()
        .to_string();
    *identity.lock().unwrap() = own.clone();
    run_bin(&["status", &file]).exits(1).stderr_has(&format!(
        "error: node `b1` at {}: runs config {other}, not this file's {own}: another file of generation 4; deploy this file to it, or find which file is right [other-file]\n",
        b.address
    ));
    let report = json(&["status", &file], 1);
    assert_eq!(report["nodes"][0]["ready"], true);
    assert_eq!(report["nodes"][1]["problem"], "other-file");
}
