//! The node's figures, each beside its baseline in the same run
//! (`cargo bench -p rusts-cluster-node --bench figures`):
//!
//! - acknowledged points/s through one node's `/write` at factor 3 on 3
//!   loopback nodes, beside factor 1, beside the bare store's insert rate
//!   (redb, the node's table layout, one durable commit per batch);
//! - the coordinator's memory (RSS, and its peak) under that load;
//! - p50 and p99 of a write while an add-node transition runs, beside the
//!   same load without one.
//!
//! `FIGURE_SECONDS` (default 5) sets each load's length; `--test` (what
//! `cargo bench -- --test` passes, as CI does) runs each for 1 s, to
//! check that the program works, not to measure.

use std::{
    sync::{
        atomic::{AtomicBool, Ordering::SeqCst},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use rusts_cluster::NodeConfig;
use rusts_cluster_placement::{balance, plan_transition, with_node_changes, DEFAULT_ZONE_TAG};
use serde_json::json;

#[path = "../tests/util.rs"]
#[allow(dead_code)]
mod util;

use util::{free_addresses, http, round_robin, Cluster};

const BATCH: u64 = 100;
const CLIENTS: u64 = 4;

fn seconds() -> Duration {
    let s = std::env::var("FIGURE_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(s)
}

/// What a load's clients saw: acknowledged points, each acknowledged
/// request's start and latency in µs, and the requests not acknowledged.
type Load = (u64, Vec<(Instant, u64)>, u64);

/// Clients posting batches of `BATCH` points to `target` until stopped:
/// (acknowledged points, each acknowledged request's latency in µs with
/// its start, and the requests not acknowledged). A failed write answers
/// fast (a fenced one at once), so it is counted, not timed.
fn load(target: String, stop: Arc<AtomicBool>, client: u64) -> thread::JoinHandle<Load> {
    thread::spawn(move || {
        let (mut acknowledged, mut latencies, mut failed) = (0, Vec::new(), 0);
        for batch in 0.. {
            if stop.load(SeqCst) {
                break;
            }
            let points: Vec<_> = (0..BATCH)
                .map(|s| json!({"measurement": "cpu", "series_id": s, "timestamp": (client << 40) + batch, "value": 1.0}))
                .collect();
            let body = serde_json::to_vec(&json!({ "points": points })).unwrap();
            let started = Instant::now();
            if let Some((200, _)) = http(&target, "POST", "/write", &body) {
                acknowledged += BATCH;
                latencies.push((started, started.elapsed().as_micros() as u64));
            } else {
                failed += 1;
            }
        }
        (acknowledged, latencies, failed)
    })
}

/// Runs the clients against `target` for `length`, while `during` runs.
fn run_load(
    target: &str,
    length: Duration,
    during: impl FnOnce(),
) -> (f64, Vec<(Instant, u64)>, u64) {
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|c| load(target.to_owned(), stop.clone(), c))
        .collect();
    during();
    let left = length.saturating_sub(started.elapsed());
    thread::sleep(left);
    stop.store(true, SeqCst);
    let (mut points, mut latencies, mut failed) = (0, Vec::new(), 0);
    for c in clients {
        let (p, l, f) = c.join().unwrap();
        points += p;
        latencies.extend(l);
        failed += f;
    }
    (
        points as f64 / started.elapsed().as_secs_f64(),
        latencies,
        failed,
    )
}

fn rss_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(values: &mut [u64], p: f64) -> f64 {
    values.sort_unstable();
    if values.is_empty() {
        return f64::NAN;
    }
    values[((values.len() - 1) as f64 * p) as usize] as f64 / 1000.0
}

/// The bare store: the node's table, one durable commit per batch.
fn bare_store(length: Duration) -> f64 {
    use redb::{Database, ReadableTable, TableDefinition};
    const POINTS: TableDefinition<'_, (u32, &str, u64, i64), f64> = TableDefinition::new("points");
    let dir = tempfile::tempdir().unwrap();
    let db = Database::create(dir.path().join("bare.redb")).unwrap();
    let started = Instant::now();
    let mut points = 0u64;
    for batch in 0.. {
        if started.elapsed() >= length {
            break;
        }
        let txn = db.begin_write().unwrap();
        {
            let mut table = txn.open_table(POINTS).unwrap();
            for s in 0..BATCH {
                let key = ((s % 16) as u32, "cpu", s, batch);
                // The node reads before it writes (the merge rule).
                let _ = table.get(key).unwrap();
                table.insert(key, 1.0).unwrap();
            }
        }
        txn.commit().unwrap();
        points += BATCH;
    }
    points as f64 / started.elapsed().as_secs_f64()
}

fn throughput(factor: u32, length: Duration) -> (f64, (u64, u64)) {
    let addresses = free_addresses(3);
    let config = round_robin(&addresses, 16, factor);
    let mut cluster = Cluster::new(&config);
    for id in ["node0", "node1", "node2"] {
        cluster.start(id);
    }
    let (rate, _, _) = run_load(cluster.address("node0"), length, || {});
    (rate, rss_kib(cluster.pid("node0")))
}

fn main() {
    // `cargo bench` passes `--bench`; `--test` asks for a check run.
    let length = if std::env::args().any(|a| a == "--test") {
        Duration::from_secs(1)
    } else {
        seconds()
    };
    println!("each load: {} s, {CLIENTS} clients, batches of {BATCH} points, 16 shards, 3 nodes on 127.0.0.1", length.as_secs());
    let bare = bare_store(length);
    println!("bare store (redb, one durable commit per batch): {bare:.0} points/s");
    let (one, _) = throughput(1, length);
    println!("factor 1, through node0's /write: {one:.0} acknowledged points/s");
    let (three, (rss, peak)) = throughput(3, length);
    println!("factor 3, through node0's /write: {three:.0} acknowledged points/s");
    println!(
        "node0 memory under the factor-3 load: RSS {} MiB, peak {} MiB",
        rss / 1024,
        peak / 1024
    );

    // Latency without and with an add-node transition (3 -> 4 nodes,
    // factor 3), the same load.
    let addresses = free_addresses(4);
    let a = round_robin(&addresses[..3], 16, 3);
    let node3 = NodeConfig::new("node3", addresses[3].clone());
    let b = balance(
        &with_node_changes(&a, vec![node3], &[]).unwrap(),
        DEFAULT_ZONE_TAG,
    )
    .unwrap();
    let plan = plan_transition(&a, &b).unwrap();
    let mut cluster = Cluster::new(&a);
    for id in ["node0", "node1", "node2"] {
        cluster.start(id);
    }
    let target = cluster.address("node0").to_owned();
    let (_, steady, steady_failed) = run_load(&target, length, || {});
    let mut window = (Instant::now(), Instant::now());
    let (_, moving, moving_failed) = run_load(&target, length, || {
        window.0 = Instant::now();
        for (number, step) in plan.steps.iter().enumerate() {
            cluster.deploy_file(&step.config);
            if number == 0 {
                cluster.start("node3");
            }
            for id in ["node0", "node1", "node2", "node3"] {
                if number > 0 || id != "node3" {
                    assert_eq!(
                        cluster.reload(id).0,
                        200,
                        "{id} refused step {}",
                        number + 1
                    );
                }
            }
            let generation = step.config.generation;
            while !["node0", "node1", "node2", "node3"].iter().all(|id| {
                cluster.status(id).is_some_and(|s| {
                    s["generation"] == json!(generation) && s["catch_up_pending"] == json!(0)
                })
            }) {
                thread::sleep(Duration::from_millis(10));
            }
        }
        window.1 = Instant::now();
    });
    // The same length of time at the start of the load without a
    // transition, and the rest of the load with one, after it ended: a
    // load's first second is not its average.
    let span = window.1 - window.0;
    let steady_start = steady.iter().map(|(at, _)| *at).min().unwrap_or(window.0);
    let mut steady_first: Vec<u64> = steady
        .iter()
        .filter(|(at, _)| *at <= steady_start + span)
        .map(|(_, l)| *l)
        .collect();
    let mut after: Vec<u64> = moving
        .iter()
        .filter(|(at, _)| *at > window.1)
        .map(|(_, l)| *l)
        .collect();
    let mut steady: Vec<u64> = steady.into_iter().map(|(_, l)| l).collect();
    let mut during: Vec<u64> = moving
        .into_iter()
        .filter(|(at, _)| *at >= window.0 && *at <= window.1)
        .map(|(_, l)| l)
        .collect();
    println!(
        "acknowledged write latency without a transition: p50 {:.1} ms, p99 {:.1} ms ({} writes, {steady_failed} not acknowledged)",
        percentile(&mut steady, 0.5),
        percentile(&mut steady, 0.99),
        steady.len()
    );
    println!(
        "acknowledged write latency during the transition ({:.2} s, 3 steps): p50 {:.1} ms, p99 {:.1} ms ({} writes; {moving_failed} not acknowledged in the whole load)",
        (window.1 - window.0).as_secs_f64(),
        percentile(&mut during, 0.5),
        percentile(&mut during, 0.99),
        during.len()
    );
    println!(
        "acknowledged write latency, the first {:.2} s without a transition: p50 {:.1} ms, p99 {:.1} ms ({} writes)",
        span.as_secs_f64(),
        percentile(&mut steady_first, 0.5),
        percentile(&mut steady_first, 0.99),
        steady_first.len()
    );
    println!(
        "acknowledged write latency after the transition, 4 nodes: p50 {:.1} ms, p99 {:.1} ms ({} writes)",
        percentile(&mut after, 0.5),
        percentile(&mut after, 0.99),
        after.len()
    );
}
