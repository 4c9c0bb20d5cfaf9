//! Real processes on 127.0.0.1: the binary, killed with `kill -9`,
//! reloaded step by step while clients write.

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, Ordering::SeqCst},
        Arc, Mutex,
    },
    thread,
    time::{Duration, Instant},
};

use rusts_cluster::{ClusterConfig, NodeConfig};
use rusts_cluster_placement::{balance, plan_transition, with_node_changes, DEFAULT_ZONE_TAG};
use serde_json::{json, Value};

use crate::util::{free_addresses, http, round_robin, Cluster, Rng};

/// A point's key, and the value written under it.
type Points = BTreeMap<(String, u64, i64), f64>;

/// Clients writing batches of 8 points to a random running node until
/// stopped; each keeps the points of the batches answered 200 (the only
/// ones a client may assume stored).
struct Clients {
    stop: Arc<AtomicBool>,
    /// The addresses clients pick from; the test adds and removes nodes.
    targets: Arc<Mutex<Vec<String>>>,
    threads: Vec<thread::JoinHandle<(Points, usize)>>,
}

impl Clients {
    fn start(count: u64, targets: Vec<String>, seed: u64) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let targets = Arc::new(Mutex::new(targets));
        let threads = (0..count)
            .map(|client| {
                let (stop, targets) = (stop.clone(), targets.clone());
                thread::spawn(move || {
                    let mut rng = Rng::new(seed ^ ((client + 1) * 0x9e37_79b9));
                    let (mut acknowledged, mut refused) = (Points::new(), 0);
                    for batch in 0.. {
                        if stop.load(SeqCst) {
                            break;
                        }
                        let points: Vec<Value> = (0..8u64)
                            .map(|series| {
                                json!({"measurement": "cpu", "series_id": series,
                                       "timestamp": (client * 1_000_000 + batch) as i64,
                                       "value": (client * 1_000_000 + batch * 8 + series) as f64})
                            })
                            .collect();
                        let target = {
                            let targets = targets.lock().unwrap();
                            targets[rng.below(targets.len())].clone()
                        };
                        let body = serde_json::to_vec(&json!({ "points": points })).unwrap();
                        match http(&target, "POST", "/write", &body) {
                            Some((200, _)) => {
                                for p in &points {
                                    let key = (
                                        p["measurement"].as_str().unwrap().to_owned(),
                                        p["series_id"].as_u64().unwrap(),
                                        p["timestamp"].as_i64().unwrap(),
                                    );
                                    acknowledged.insert(key, p["value"].as_f64().unwrap());
                                }
                            }
                            _ => refused += 1,
                        }
                    }
                    (acknowledged, refused)
                })
            })
            .collect();
        Clients {
            stop,
            targets,
            threads,
        }
    }

    fn set_targets(&self, targets: Vec<String>) {
        *self.targets.lock().unwrap() = targets;
    }

    /// Stops the clients; every acknowledged point, and how many batches
    /// were not.
    fn stop(self) -> (Points, usize) {
        self.stop.store(true, SeqCst);
        let mut all = Points::new();
        let mut refused = 0;
        for thread in self.threads {
            let (points, r) = thread.join().unwrap();
            all.extend(points);
            refused += r;
        }
        (all, refused)
    }
}

/// What reading every point back at Quorum from `node` found: how many
/// acknowledged points were missing or had another value, and whether
/// the read was complete.
fn read_back(cluster: &Cluster, node: &str, acknowledged: &Points) -> (usize, bool) {
    let Some((status, body)) = http(
        cluster.address(node),
        "GET",
        "/query?consistency=quorum",
        b"",
    ) else {
        return (acknowledged.len(), false);
    };
    let rows: Points = body["points"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|p| {
                    let key = (
                        p["measurement"].as_str().unwrap().to_owned(),
                        p["series_id"].as_u64().unwrap(),
                        p["timestamp"].as_i64().unwrap(),
                    );
                    (key, p["value"].as_f64().unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    let missing = acknowledged
        .iter()
        .filter(|(key, value)| rows.get(*key) != Some(*value))
        .count();
    (missing, status == 200 && body["complete"] == json!(true))
}

fn generation_of(cluster: &Cluster, node: &str) -> Option<(u64, u64)> {
    let status = cluster.status(node)?;
    Some((
        status["generation"].as_u64()?,
        status["catch_up_pending"].as_u64()?,
    ))
}

/// Waits until every node of `config` reports its generation with no
/// catch-up pending: the runbook's condition for the next step.
fn wait_for_step(cluster: &Cluster, config: &ClusterConfig) {
    let generation = config.generation;
    let started = Instant::now();
    while !config
        .nodes
        .iter()
        .all(|n| generation_of(cluster, &n.id) == Some((generation, 0)))
    {
        if started.elapsed() > Duration::from_secs(60) {
            let states: Vec<String> = config
                .nodes
                .iter()
                .map(|n| format!("{}: {:?}", n.id, cluster.status(&n.id)))
                .collect();
            panic!(
                "not every node reports generation {generation}, caught up:\n{}",
                states.join("\n")
            );
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `count` more acknowledged-or-not batches... by time: the
/// clients write throughout, this lets some land between two deploys.
fn let_writes_land() {
    thread::sleep(Duration::from_millis(150));
}

/// The five-node cluster `A` and `B`, which adds `node5` and balances.
fn add_node_configs() -> (ClusterConfig, ClusterConfig) {
    let addresses = free_addresses(6);
    let a = round_robin(&addresses[..5], 10, 3);
    let node5 = NodeConfig::new("node5", addresses[5].clone());
    let b = balance(
        &with_node_changes(&a, vec![node5], &[]).unwrap(),
        DEFAULT_ZONE_TAG,
    )
    .unwrap();
    (a, b)
}

#[test]
fn bad_input_gets_a_4xx_naming_the_field_and_the_node_keeps_serving() {
    let addresses = free_addresses(3);
    let config = round_robin(&addresses, 3, 3);
    let mut cluster = Cluster::new(&config);
    for id in ["node0", "node1", "node2"] {
        cluster.start(id);
    }
    let node = cluster.address("node0").to_owned();
    let cases: [(&str, &str, &[u8], u16, &str); 7] = [
        ("POST", "/write", b"{\"points\": [", 400, "body"),
        (
            "POST",
            "/write",
            br#"{"points":[{"measurement":"cpu","series_id":"x","timestamp":1,"value":1}]}"#,
            400,
            "points[0].series_id",
        ),
        (
            "POST",
            "/write",
            br#"{"points":[{"measurement":"","series_id":1,"timestamp":1,"value":1}]}"#,
            400,
            "points[0].measurement",
        ),
        ("GET", "/query?start=10&end=5", b"", 400, "end"),
        ("GET", "/query?consistency=some", b"", 400, "consistency"),
        ("GET", "/nowhere", b"", 404, "path"),
        ("GET", "/write", b"", 405, "method"),
    ];
    for (method, path, body, status, field) in cases {
        let (got, answer) = http(&node, method, path, body).unwrap();
        assert_eq!(
            (got, answer["field"].as_str()),
            (status, Some(field)),
            "{method} {path}: {answer}"
        );
    }
    let huge = vec![b' '; rusts_cluster_node::MAX_WRITE_BODY + 1];
    let (got, answer) = http(&node, "POST", "/write", &huge).unwrap();
    assert_eq!(
        (got, answer["field"].as_str()),
        (413, Some("body")),
        "{answer}"
    );
    // A stale reload is refused with a code, and the node keeps its config.
    let (got, answer) = cluster.reload("node0");
    assert_eq!(
        (got, answer["error"].as_str()),
        (409, Some("stale-generation")),
        "{answer}"
    );
    // Still serving: a write is acknowledged and read back.
    let body = br#"{"points":[{"measurement":"cpu","series_id":1,"timestamp":1,"value":2.5}]}"#;
    assert_eq!(http(&node, "POST", "/write", body).unwrap().0, 200);
    let (status, rows) = http(&node, "GET", "/query?measurement=cpu&consistency=all", b"").unwrap();
    assert_eq!(status, 200, "{rows}");
    assert_eq!(rows["points"][0]["value"], json!(2.5));
}

/// The issue's scenario: six processes, clients writing throughout, a
/// `kill -9` and restart before the change, then a whole add-node
/// transition deployed step by step to each node in random order (the new
/// node started first, on step 1), with one node killed and restarted in
/// the middle of step 2. At the end every node reads every acknowledged
/// point back at Quorum.
/// The node's words that docs/operations.md quotes (its ```text node
/// blocks, "Operator mistakes"), each asserted where a test makes the
/// mistake; `DIR` stands for the test's data directory.
const QUOTED: [&str; 4] = [
    r#"{"error":"generation-skipped","message":"config generation 3 skips generation(s) after 0, which this router runs; apply each step in turn (generation 1 first)"}"#,
    r#"{"error":"unsafe-step","message":"shard 0's copy on node \"node5\" goes from absent to stable in one generation, which no transition step does (a copy goes absent, joining, stable as it arrives and stable, leaving, absent as it goes, and turns back only from joining to absent or from leaving to stable), so nodes on the two generations could each acknowledge writes the other's reads miss; deploy the transition's steps in order: `rusts-cluster transition OLD NEW`"}"#,
    "node2: no saved state in DIR/node2: its 3 copies of generation 1 (shards 0, 1, 2) lost their data; they take writes, and serve reads once caught up from the other copies (GET /status: catch_up_pending)",
    "error: the protocol core cannot start as node node0: the config file is generation 2 but this node last ran generation 0; apply generation 1 first, then this file",
];

/// Every line of docs/operations.md's ```text node blocks is one of
/// [`QUOTED`], which the tests below assert the node says.
#[test]
fn the_operations_guide_quotes_the_node() {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/operations.md"
    ))
    .unwrap();
    let mut lines = guide.lines();
    let mut quoted = 0;
    while let Some(line) = lines.next() {
        if line.trim() == "```text node" {
            for quote in lines.by_ref().take_while(|l| l.trim() != "```") {
                assert!(
                    QUOTED.contains(&quote),
                    "docs/operations.md quotes a line the node tests do not pin:\n{quote}"
                );
                quoted += 1;
            }
        }
    }
    assert!(quoted >= 4, "the guide's node quotes are gone ({quoted})");
}

/// Every `ENGINE OBLIGATION (...)` marker that docs/node.md and decision
/// 0019 point at is in src/engine.rs, and every marker there is in
/// docs/node.md's table: the docs point at lines that exist.
#[test]
fn the_node_keeps_every_engine_obligation() {
    let read = |path: &str| {
        std::fs::read_to_string(format!("{}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let markers = |text: &str| -> std::collections::BTreeSet<String> {
        text.match_indices("ENGINE OBLIGATION (")
            .map(|(at, _)| {
                let rest = &text[at..];
                rest[..=rest.find(')').unwrap()]
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    };
    let engine = markers(&read("src/engine.rs"));
    let node_md = markers(&read("../../docs/node.md"));
    let decision = markers(&read("../../docs/decisions/0019-joint-copies.md"));
    assert!(engine.len() >= 10, "{engine:?}");
    assert_eq!(node_md, engine, "docs/node.md's table and src/engine.rs");
    assert!(
        decision.len() >= 5 && decision.is_subset(&engine),
        "{decision:?}"
    );
}

/// Deploying the final config directly, instead of the steps, is refused
/// by every node (issue 21): a reload answers 409 (`generation-skipped`
/// for `rebalance`'s output at g + 3, `unsafe-step` for the same placement
/// at g + 1) and the node keeps its generation, and the new node, with no
/// data, starts with the copies it has not joined lost (decision 0045):
/// their catch-up waits for every node to report its generation, which
/// none does, so it serves no read of them. Before, every reload took it
/// and the new node served reads of copies it did not have.
#[test]
fn deploying_the_final_config_directly_is_refused() {
    let (a, mut b) = add_node_configs();
    let mut cluster = Cluster::new(&a);
    let old: Vec<String> = a.nodes.iter().map(|n| n.id.clone()).collect();
    for id in &old {
        cluster.start(id);
    }
    b.generation = a.generation + 3;
    cluster.deploy_file(&b);
    let (status, answer) = cluster.reload(&old[0]);
    assert_eq!((status, answer.to_string().as_str()), (409, QUOTED[0]));
    b.generation = a.generation + 1;
    cluster.deploy_file(&b);
    cluster.start("node5");
    for id in &old {
        let (status, answer) = cluster.reload(id);
        assert_eq!(
            (status, answer.to_string().as_str()),
            (409, QUOTED[1]),
            "{id}"
        );
        assert_eq!(generation_of(&cluster, id).map(|g| g.0), Some(a.generation));
    }
    let status = cluster.status("node5").unwrap();
    assert_eq!(status["lost_shards"], json!([0, 1, 2, 3, 7]), "{status}");
    assert_eq!(status["catch_up_pending"], json!(5), "{status}");
    let catch_ups = status["catch_ups"].as_array().unwrap();
    assert!(
        catch_ups
            .iter()
            .all(|c| c["lost"] == json!(true) && c["started"] == json!(false)),
        "no other node runs generation {}: {status}",
        b.generation
    );
    // A misspelt override is a 400 naming it, not a reload.
    let (status, answer) = http(
        cluster.address(&old[0]),
        "POST",
        "/admin/reload?unsafe=yes",
        b"",
    )
    .unwrap();
    assert_eq!(
        (status, &answer["field"]),
        (400, &json!("unsafe")),
        "{answer}"
    );
}

/// Writes `batches` batches of 8 points through `node`, numbered from
/// `first`; the points of those acknowledged.
fn write_batches(cluster: &Cluster, node: &str, first: i64, batches: i64) -> Points {
    let mut acknowledged = Points::new();
    for batch in first..first + batches {
        let points: Vec<Value> = (0..8u64)
            .map(|series| {
                json!({"measurement": "cpu", "series_id": series, "timestamp": batch,
                       "value": (batch * 8) as f64 + series as f64})
            })
            .collect();
        let body = serde_json::to_vec(&json!({ "points": points })).unwrap();
        if let Some((200, _)) = http(cluster.address(node), "POST", "/write", &body) {
            for p in &points {
                let key = ("cpu".to_owned(), p["series_id"].as_u64().unwrap(), batch);
                acknowledged.insert(key, p["value"].as_f64().unwrap());
            }
        }
    }
    acknowledged
}

/// A node that lost its data (issue 21, hazard 13, decision 0045): three
/// nodes, a new cluster at generation 1 (`--bootstrap`), writes, node1
/// down while more are acknowledged on node0 and node2 only, then node2
/// killed with `kill -9`, its data directory wiped, and restarted empty
/// under its old id, with no flag. It starts (before, it refused), its
/// `/status` shows its copies lost and catching up, then caught up, and a
/// Quorum read from every node returns every acknowledged point, node1's
/// (which asks {node1, node2} first, node1 having missed the writes) too.
#[test]
fn a_node_that_lost_its_data_catches_up_before_it_serves_reads() {
    let started = Instant::now();
    let addresses = free_addresses(3);
    let mut config = round_robin(&addresses, 3, 3);
    config.generation = 1;
    let mut cluster = Cluster::new(&config);
    for id in ["node0", "node1", "node2"] {
        cluster.start_with(id, &["--bootstrap"]);
    }
    let mut acknowledged = write_batches(&cluster, "node0", 0, 20);
    cluster.kill("node1");
    acknowledged.extend(write_batches(&cluster, "node0", 20, 20));
    assert_eq!(
        acknowledged.len(),
        40 * 8,
        "Quorum: node0 and node2 suffice"
    );

    cluster.kill("node2");
    std::fs::remove_dir_all(cluster.dir.path().join("node2")).unwrap();
    cluster.start("node2");
    let restarted = Instant::now();
    let dir = cluster.dir.path().display().to_string();
    let log = cluster.log_text("node2").replace(&dir, "DIR");
    assert!(
        log.lines().any(|l| l == QUOTED[2]),
        "the node says its copies are lost:\n{log}"
    );
    let status = cluster.status("node2").unwrap();
    eprintln!("node2 restarted empty: {status}");
    assert_eq!(status["lost_shards"], json!([0, 1, 2]), "{status}");
    assert_eq!(status["catch_up_pending"], json!(3), "{status}");
    assert_eq!(status["catch_ups"][0]["sources"], json!(2), "both others");
    assert_eq!(status["catch_ups"][0]["lost"], json!(true), "{status}");

    // node1 back, missing the last 20 batches: its Quorum read must not
    // count node2's empty copies.
    cluster.start("node1");
    let (missing, complete) = read_back(&cluster, "node1", &acknowledged);
    assert_eq!(
        (missing, complete),
        (0, true),
        "node1 while node2 catches up"
    );

    let caught_up = loop {
        let status = cluster.status("node2").unwrap();
        if status["catch_up_pending"] == json!(0) {
            assert_eq!(status["lost_shards"], json!([]), "{status}");
            assert!(
                status["stored_points"].as_u64().unwrap() >= acknowledged.len() as u64,
                "{status}"
            );
            break restarted.elapsed();
        }
        assert!(
            restarted.elapsed() < Duration::from_secs(15),
            "node2 never caught up: {status}"
        );
        thread::sleep(Duration::from_millis(50));
    };
    assert!(cluster
        .log_text("node2")
        .contains("node2: shard 0 caught up"));
    for node in ["node0", "node1", "node2"] {
        let (missing, complete) = read_back(&cluster, node, &acknowledged);
        assert_eq!((missing, complete), (0, true), "{node}");
    }
    eprintln!(
        "lost data: {} points acknowledged, node2 caught up in {:.1} s, {:.1} s in all",
        acknowledged.len(),
        caught_up.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
}

/// A restart checks the file against the state the node last ran (issue
/// 21): before, a restarted node ran its saved state whatever the file
/// said, so a node restarted on another plan's file, or on a file two
/// steps on, came back serving without a word.
#[test]
fn a_restart_refuses_a_file_that_does_not_follow_the_saved_state() {
    let addresses = free_addresses(1);
    let a = round_robin(&addresses, 4, 1);
    let mut cluster = Cluster::new(&a);
    cluster.start("node0");
    cluster.kill("node0");

    let refused = |cluster: &mut Cluster, config: &ClusterConfig, expected: &str| {
        cluster.deploy_file(config);
        let (code, stderr) = cluster.start_refused("node0");
        assert_eq!(code, Some(1), "{stderr}");
        assert!(
            stderr.contains(expected),
            "expected {expected:?} in: {stderr}"
        );
    };
    let mut other = a.clone();
    other.cluster_name = "another plan".to_owned();
    refused(
        &mut cluster,
        &other,
        "differs from the config this node ran at that generation",
    );
    let mut skipped = a.clone();
    skipped.generation = 2;
    // Quoted in docs/node.md ("A restart") and docs/operations.md.
    refused(&mut cluster, &skipped, QUOTED[3]);

    // The next generation is applied at start, as a reload would.
    let mut next = a.clone();
    next.generation = 1;
    cluster.deploy_file(&next);
    cluster.start("node0");
    assert_eq!(generation_of(&cluster, "node0").map(|g| g.0), Some(1));
    cluster.kill("node0");
    refused(&mut cluster, &a, "older than generation 1");
}

#[test]
fn an_add_node_transition_step_by_step_loses_no_acknowledged_write() {
    let mut rng = Rng::from_env("add-node");
    let started = Instant::now();
    let (a, b) = add_node_configs();
    let plan = plan_transition(&a, &b).unwrap();
    let mut cluster = Cluster::new(&a);
    let old: Vec<String> = a.nodes.iter().map(|n| n.id.clone()).collect();
    for id in &old {
        cluster.start(id);
    }
    let addresses = |ids: &[String], cluster: &Cluster| -> Vec<String> {
        ids.iter()
            .map(|id| cluster.address(id).to_owned())
            .collect()
    };
    let clients = Clients::start(3, addresses(&old, &cluster), rng.next());
    let_writes_land();

    // kill -9 and restart, with factor 3 at Quorum: one copy down leaves
    // two, which meet every shard's rule; clients avoid the dead node.
    let victim = old[rng.below(old.len())].clone();
    let living: Vec<String> = old.iter().filter(|n| **n != victim).cloned().collect();
    clients.set_targets(addresses(&living, &cluster));
    cluster.kill(&victim);
    let_writes_land();
    cluster.start(&victim);
    clients.set_targets(addresses(&old, &cluster));

    let mut all = old.clone();
    all.push("node5".to_owned());
    for (number, step) in plan.steps.iter().enumerate() {
        cluster.deploy_file(&step.config);
        // The new node starts first, on step 1; it takes the later steps
        // by reload like every other node.
        let mut order = if number == 0 {
            old.clone()
        } else {
            all.clone()
        };
        if number == 0 {
            cluster.start("node5");
            clients.set_targets(addresses(&all, &cluster));
        }
        rng.shuffle(&mut order);
        eprintln!(
            "step {} (generation {}): {order:?}",
            number + 1,
            step.config.generation
        );
        for (i, node) in order.iter().enumerate() {
            // In the middle of step 2, a node is killed and restarted: it
            // comes back on the generation it last persisted.
            if number == 1 && i == order.len() / 2 {
                let victim = order[rng.below(order.len())].clone();
                cluster.kill(&victim);
                let_writes_land();
                cluster.start(&victim);
            }
            let (status, answer) = cluster.reload(node);
            // A node restarted after its reload already runs the step.
            let current = answer["error"] == json!("stale-generation");
            assert!(status == 200 || current, "{node}: {answer}");
            let_writes_land();
        }
        wait_for_step(&cluster, &step.config);
    }
    for node in &all {
        assert_eq!(
            http(cluster.address(node), "POST", "/admin/release", b"")
                .unwrap()
                .0,
            200
        );
    }
    let_writes_land();
    let (acknowledged, refused) = clients.stop();
    assert!(
        acknowledged.len() > 1000,
        "too few writes acknowledged: {}",
        acknowledged.len()
    );
    for node in &all {
        let (missing, complete) = read_back(&cluster, node, &acknowledged);
        assert_eq!((missing, complete), (0, true), "a Quorum read from {node}");
    }
    let fetched: u64 = ["node5"]
        .iter()
        .filter_map(|n| cluster.status(n)?["stored_points"].as_u64())
        .sum();
    assert!(
        fetched > 0,
        "the new node holds nothing: catch-up did not run"
    );
    eprintln!(
        "add-node: {} points acknowledged, {refused} batches not, node5 stores {fetched}, {:.1} s",
        acknowledged.len(),
        started.elapsed().as_secs_f64()
    );
}

/// One run of the steps-skipped deployment, forced past the nodes'
/// refusals (the unsafe reload, the new node with `--bootstrap`): the fault of the step-by-step
/// test first (a node killed while clients write, so that some copies
/// miss writes that the others acknowledged, then restarted), then `B`
/// written straight to the file, the new node started on it, the others
/// reloaded in random order while clients write. Returns (acknowledged points missed by some
/// node's Quorum read, reads incomplete).
fn skipped_run(rng: &mut Rng) -> (usize, usize) {
    let (a, mut b) = add_node_configs();
    b.generation = a.generation + 1;
    let mut cluster = Cluster::new(&a);
    let old: Vec<String> = a.nodes.iter().map(|n| n.id.clone()).collect();
    for id in &old {
        cluster.start(id);
    }
    let clients = Clients::start(
        3,
        old.iter()
            .map(|id| cluster.address(id).to_owned())
            .collect(),
        rng.next(),
    );
    let_writes_land();
    cluster.deploy_file(&b);
    // Forced past the refusals (`deploying_the_final_config_directly_is_refused`).
    cluster.start_with("node5", &["--bootstrap"]);
    let mut order = old.clone();
    rng.shuffle(&mut order);
    for node in &order {
        assert_eq!(cluster.reload_unsafe(node).0, 200);
        let_writes_land();
    }
    let (acknowledged, _) = clients.stop();
    let mut all = old;
    all.push("node5".to_owned());
    let (mut missing, mut incomplete) = (0, 0);
    for node in &all {
        let (m, complete) = read_back(&cluster, node, &acknowledged);
        missing += m;
        incomplete += usize::from(!complete);
    }
    (missing, incomplete)
}

/// The steps skipped, over `RUNS` runs (default 5): how often the direct
/// deployment loses acknowledged writes or reads incompletely. A
/// measurement run by hand (`cargo test -p rusts-cluster-node --test tests
/// -- --ignored skipped --nocapture`), not a check: on loopback the window
/// is narrow, and the figure goes in docs/node.md. The simulation's
/// `skipped_steps_lose_writes_for_some_seed` is the check.
#[test]
#[ignore = "a campaign: run by hand"]
fn skipped_steps_campaign() {
    let runs: usize = std::env::var("RUNS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5);
    let mut rng = Rng::from_env("skipped");
    let (mut lossy, mut incomplete) = (0, 0);
    for run in 0..runs {
        let (missing, partial) = skipped_run(&mut rng);
        eprintln!("run {run}: {missing} acknowledged points missed, {partial} reads incomplete");
        lossy += usize::from(missing > 0);
        incomplete += usize::from(partial > 0);
    }
    // A figure, not a check: on loopback the window is narrow and most
    // runs find nothing (docs/node.md); the simulation asserts the loss.
    eprintln!("steps skipped: {lossy} of {runs} runs lost acknowledged points, {incomplete} read incompletely");
}

/// `--help` prints the usage and exits 0; a usage error names the
/// argument and exits 2, as the operator's tool does.
#[test]
fn help_and_usage_errors() {
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_rusts-cluster-node"))
            .args(args)
            .output()
            .unwrap()
    };
    let help = run(&["--help"]);
    assert_eq!(help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&help.stdout)
        .starts_with("usage: rusts-cluster-node --config FILE"));
    for (args, expected) in [
        (
            &["--bogus"][..],
            "error: argument --bogus: unknown argument",
        ),
        (
            &["--config", "c.toml"][..],
            "error: argument --node-id: missing",
        ),
        (&["--config"][..], "error: argument --config: needs a value"),
        (
            &["--bootstrap", "--lost-data"][..],
            "error: argument --lost-data: contradicts --bootstrap",
        ),
    ] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(expected), "{args:?}: {stderr}");
    }
}
