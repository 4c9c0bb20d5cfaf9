//! `status`: asks every node of a config for its `/status`, and says which
//! nodes run the config's generation with their catch-up done: the
//! runbook's "wait until every node reports generation N" as one command.
//!
//! Nodes are asked at once, one thread per node up to [`MAX_THREADS`], and
//! the command never waits past its deadline for a thread: connecting and
//! reading have timeouts (`poll`), and resolving a host name, which `std`
//! cannot time out, is bounded by not waiting for it.

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        mpsc, Arc,
    },
    thread,
    time::{Duration, Instant},
};

use rusts_cluster_config::ConfigIdentity;
use serde_json::{json, Value};

use crate::{
    cli::StatusArgs,
    load::load_valid,
    poll::{poll, NodeStatus, Phase, PollError},
    report::{chain, Problem, Stop, Ui},
    text::{escape, Table},
};

/// The most nodes asked at once. A cluster has tens of nodes; past this,
/// nodes wait for a thread, and the round's deadline grows to match.
const MAX_THREADS: usize = 64;

/// The pause between two rounds of `--wait`: a step's catch-up takes
/// seconds to hours, so twice a second is prompt without loading the nodes.
const INTERVAL: Duration = Duration::from_millis(500);

/// One node of the config and what it said.
struct Row {
    node: String,
    address: String,
    answer: Result<NodeStatus, PollError>,
}

/// Why a node is not ready, or `None` when it is: reachable, at the
/// config's generation, with no catch-up pending.
fn not_ready(row: &Row, want: &ConfigIdentity) -> Option<(&'static str, String)> {
    let generation = want.generation;
    let status = match &row.answer {
        Err(e) => return Some((e.code(), chain(e))),
        Ok(status) => status,
    };
    if status.generation < generation {
        Some((
            "behind",
            format!(
                "reports generation {}, not the config's {generation}: it has not loaded this config",
                status.generation
            ),
        ))
    } else if status.generation > generation {
        Some((
            "ahead",
            format!(
                "reports generation {}, above the config's {generation}: it runs a newer config than this file",
                status.generation
            ),
        ))
    } else if let Some(other) = status
        .identity
        .as_deref()
        .filter(|i| *i != want.to_string())
    {
        // The same generation from another file (another plan from the
        // same config, or `rebalance`'s output beside a step): its peers
        // refuse it (decision 0039).
        Some((
            "other-file",
            format!(
                "runs config {other}, not this file's {want}: another file of generation {generation}; deploy this file to it, or find which file is right"
            ),
        ))
    } else if status.catch_up_pending > 0 {
        Some((
            "catch-up-pending",
            format!(
                "{} joining cop{} not caught up yet",
                status.catch_up_pending,
                if status.catch_up_pending == 1 {
                    "y"
                } else {
                    "ies"
                }
            ),
        ))
    } else {
        None
    }
}

pub(crate) fn run(args: StatusArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    ui.set("file", args.file.display().to_string());
    let loaded = load_valid(ui, &args.file)?;
    let config = &loaded.config;
    let generation = config.generation;
    let want = config.identity();
    ui.set("generation", generation);
    let nodes: Vec<(String, String)> = config
        .nodes
        .iter()
        .map(|n| (n.id.clone(), n.address.clone()))
        .collect();
    let timeout = Duration::from_millis(args.timeout_ms);
    let limit = Duration::from_secs(args.wait_secs);
    let started = Instant::now();
    let mut polls: u64 = 0;
    let mut said = String::new();
    let rows = loop {
        let rows = poll_all(&nodes, timeout);
        polls += 1;
        let waiting = waiting_for(&rows, &want);
        let waited = started.elapsed();
        if !args.wait || waiting.is_empty() || waited >= limit {
            break rows;
        }
        // Said again only when it changes, so that a long catch-up is a
        // few lines on stderr, not one per round.
        if waiting != said {
            ui.note(&format!("waiting for {waiting}"));
            said = waiting;
        }
        // The last round is at the limit, not up to an interval before it.
        thread::sleep(INTERVAL.min(limit - waited));
    };
    let elapsed = started.elapsed();
    let mut ready = 0;
    for row in &rows {
        match not_ready(row, &want) {
            Some((code, why)) => ui.error(Problem::new(
                code,
                format!("node `{}` at {}: {why}", row.node, row.address),
            )),
            None => ready += 1,
        }
    }
    if args.wait && ready < rows.len() {
        ui.error(Problem::new(
            "not-ready",
            format!(
                "after {} s ({polls} poll{}), {} of {} nodes are not at generation {generation} with catch-up done: {}",
                elapsed.as_secs(),
                if polls == 1 { "" } else { "s" },
                rows.len() - ready,
                rows.len(),
                waiting_for(&rows, &want)
            ),
        ));
    }
    if ui.json() {
        ui.set("ready", ready == rows.len());
        ui.set("polls", polls);
        ui.set(
            "elapsed_ms",
            u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX),
        );
        let nodes: Vec<Value> = rows
            .iter()
            .map(|row| {
                let status = row.answer.as_ref().ok();
                let problem = not_ready(row, &want);
                json!({
                    "node": row.node,
                    "address": row.address,
                    "reachable": status.is_some(),
                    "error": row.answer.as_ref().err().map(|e| json!({
                        "code": e.code(),
                        "message": chain(e),
                    })),
                    "generation": status.map(|s| s.generation),
                    "catch_up_pending": status.map(|s| s.catch_up_pending),
                    "at_generation": status.map(|s| s.generation == generation),
                    "ready": problem.is_none(),
                    "problem": problem.map(|(code, _)| code),
                })
            })
            .collect();
        ui.set("nodes", nodes);
        return Ok(());
    }
    let at = format!("at generation {generation}");
    let mut table = Table::new(
        ui.style(),
        &[
            "node",
            "address",
            "reachable",
            "generation",
            "catch-up pending",
            &at,
        ],
    );
    table.right_align(&[3, 4]);
    for row in &rows {
        let (reachable, reported, pending, matches) = match &row.answer {
            Err(e) => (
                format!("no: {}", chain(e)),
                "-".to_owned(),
                "-".to_owned(),
                "-".to_owned(),
            ),
            Ok(s) => (
                "yes".to_owned(),
                s.generation.to_string(),
                s.catch_up_pending.to_string(),
                match s.generation.cmp(&generation) {
                    std::cmp::Ordering::Equal => "yes",
                    std::cmp::Ordering::Less => "no (behind)",
                    std::cmp::Ordering::Greater => "no (ahead)",
                }
                .to_owned(),
            ),
        };
        table.row([
            row.node.clone(),
            row.address.clone(),
            reachable,
            reported,
            pending,
            matches,
        ]);
    }
    let summary = if ready == rows.len() {
        format!(
            "{}: every node ({ready}) reports generation {generation} with catch-up done\n",
            escape(&args.file.display().to_string())
        )
    } else {
        format!(
            "{}: {ready} of {} nodes ready at generation {generation}; waiting for {}\n",
            escape(&args.file.display().to_string()),
            rows.len(),
            escape(&waiting_for(&rows, &want))
        )
    };
    ui.print(&summary)?;
    table.write(ui.out())?;
    Ok(())
}

/// The nodes not ready, each with the code of why: `b1 (behind), d1
/// (unreachable)`; empty when every node is.
fn waiting_for(rows: &[Row], want: &ConfigIdentity) -> String {
    let waiting: Vec<String> = rows
        .iter()
        .filter_map(|row| not_ready(row, want).map(|(code, _)| format!("{} ({code})", row.node)))
        .collect();
    waiting.join(", ")
}

/// Asks every node at once and returns their answers in the config's
/// order. A node whose thread has not answered by the round's deadline (a
/// host name that does not resolve in time) is reported as such; its
/// thread is left to end on its own.
fn poll_all(nodes: &[(String, String)], timeout: Duration) -> Vec<Row> {
    let addresses: Arc<Vec<String>> = Arc::new(nodes.iter().map(|(_, a)| a.clone()).collect());
    let next = Arc::new(AtomicUsize::new(0));
    let (send, answers) = mpsc::channel();
    let mut threads = 0;
    for _ in 0..nodes.len().min(MAX_THREADS) {
        let (addresses, next, send) = (Arc::clone(&addresses), Arc::clone(&next), send.clone());
        let spawned = thread::Builder::new()
            .name("rusts-cluster-status".into())
            .spawn(move || loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(address) = addresses.get(i) else {
                    return;
                };
                if send.send((i, poll(address, timeout))).is_err() {
                    return;
                }
            });
        if spawned.is_ok() {
            threads += 1;
        }
    }
    drop(send);
    let mut got: Vec<Option<Result<NodeStatus, PollError>>> = nodes.iter().map(|_| None).collect();
    if threads == 0 {
        // No thread could be started: ask one node after the other.
        for (i, address) in addresses.iter().enumerate() {
            got[i] = Some(poll(address, timeout));
        }
    }
    // Each thread asks its nodes one after the other, each within
    // `timeout`; a little more for the threads to start and report.
    let rounds = u32::try_from(nodes.len().div_ceil(threads.max(1))).unwrap_or(u32::MAX);
    let deadline = Instant::now() + timeout.saturating_mul(rounds) + Duration::from_millis(250);
    let mut missing = got.iter().filter(|g| g.is_none()).count();
    while missing > 0 {
        let left = deadline.saturating_duration_since(Instant::now());
        match answers.recv_timeout(left) {
            Ok((i, answer)) => {
                if got[i].replace(answer).is_none() {
                    missing -= 1;
                }
            }
            Err(_) => break,
        }
    }
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    nodes
        .iter()
        .zip(got)
        .map(|((node, address), answer)| {
            let answer = answer
                .unwrap_or(Err(PollError::TimedOut {
                    phase: Phase::Resolve,
                    timeout_ms,
                }))
                .and_then(|status| {
                    if status.node_id == *node {
                        Ok(status)
                    } else {
                        Err(PollError::WrongNode {
                            expected: node.clone(),
                            answered: status.node_id,
                        })
                    }
                });
            Row {
                node: node.clone(),
                address: address.clone(),
                answer,
            }
        })
        .collect()
}
