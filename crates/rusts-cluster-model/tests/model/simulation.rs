//! The randomized transition simulation: seeded, deterministic, 20,000
//! writes per seed and setting by default, zero acknowledged writes lost
//! and zero incomplete `Quorum` reads (docs/reliability.md, "Proof of the
//! transition protocol").
//!
//! Each node runs the real protocol core (`rusts_cluster_protocol::Core`):
//! writes, reads, admission, fencing, catch-up and restarts are its; the
//! simulation supplies the lossy network, the stores, the crashes, the
//! deployer and the check. Each test asserts that its faults fired
//! (messages dropped and duplicated, crashes where tolerated, requests
//! fenced and refused, copies caught up), so that it cannot pass vacuously.
//!
//! Environment, for long runs: `SIM_SEEDS` (comma-separated, default
//! `1`; each seed runs Quorum and Synchronous with factors 1-3),
//! `SIM_WRITES` (default 20000), `SIM_SHARDS` (default 256).
//!
//! ```sh
//! cargo test -p rusts-cluster-model --test model -- simulation:: --nocapture
//! cargo test -p rusts-cluster-model --test model -- simulation:: --ignored --nocapture   # 10 seeds, 6 settings each
//! ```

use std::time::Instant;

use rusts_cluster_model::{simulate, SimulationConfig, SimulationReport};
use rusts_cluster_replication::ReplicationMode;

/// Each seed runs every mode and factor the model checks.
const SETTINGS: [(ReplicationMode, usize); 6] = [
    (ReplicationMode::Quorum, 1),
    (ReplicationMode::Quorum, 2),
    (ReplicationMode::Quorum, 3),
    (ReplicationMode::Synchronous, 1),
    (ReplicationMode::Synchronous, 2),
    (ReplicationMode::Synchronous, 3),
];

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn run(seeds: &[u64]) -> Vec<SimulationReport> {
    let writes: u64 = env("SIM_WRITES", "20000").parse().expect("SIM_WRITES");
    let shards: usize = env("SIM_SHARDS", "256").parse().expect("SIM_SHARDS");
    let mut reports = Vec::new();
    for &seed in seeds {
        for (mode, replication_factor) in SETTINGS {
            let started = Instant::now();
            let report = simulate(SimulationConfig {
                seed,
                writes,
                shards,
                mode,
                replication_factor,
                one_step: false,
            });
            println!(
                "seed {seed}: {} rf {}, nodes {:?}, transitions +{} -{} ~{}, {} writes ({} acked, \
                 {} fenced, {} failed), {} Quorum reads ({} failed, {} fenced), {} messages, \
                 {} dropped, {} duplicated, {} refusals, {} fenced by commits, {} crashes \
                 ({} restored catching up), {} catch-up pages ({} points, {} copies caught up), {} copies dropped: \
                 {} acknowledged writes lost, {} incomplete reads, {:.1} s",
                report.mode,
                report.replication_factor,
                report.node_counts,
                report.added,
                report.removed,
                report.replaced,
                report.writes,
                report.acked,
                report.fenced_writes,
                report.failed_writes,
                report.reads,
                report.reads_failed,
                report.fenced_reads,
                report.messages,
                report.dropped,
                report.duplicated,
                report.refusals,
                report.fenced,
                report.crashes,
                report.restored_catching_up,
                report.catch_up_pages,
                report.catch_up_points,
                report.caught_up,
                report.copies_dropped,
                report.lost_writes,
                report.incomplete_reads,
                started.elapsed().as_secs_f64()
            );
            assert_eq!(
                (report.lost_writes, report.incomplete_reads),
                (0, 0),
                "seed {seed} lost writes or read incompletely; rerun with SIM_SEEDS={seed}"
            );
            assert_not_vacuous(&report, writes);
            reports.push(report);
        }
    }
    reports
}

/// The seed moved copies through the core's catch-up, acknowledged and
/// read, and its faults fired: messages dropped and duplicated, requests
/// refused and fenced by commits.
fn assert_not_vacuous(report: &SimulationReport, writes: u64) {
    let seed = report.seed;
    assert!(
        report.added + report.removed + report.replaced > 0,
        "seed {seed}: no transition"
    );
    assert!(
        report.acked > writes / 2 && report.reads > 0,
        "seed {seed}: too few writes acknowledged or reads completed"
    );
    assert!(
        report.dropped > 0 && report.duplicated > 0,
        "seed {seed}: the network neither dropped nor duplicated"
    );
    assert!(report.refusals > 0, "seed {seed}: no replica refused");
    assert!(
        report.fenced > 0 && report.fenced_writes > 0,
        "seed {seed}: no commit fenced a write"
    );
    assert!(
        report.catch_up_pages > 0 && report.caught_up > 0,
        "seed {seed}: no copy caught up"
    );
    assert!(report.copies_dropped > 0, "seed {seed}: no copy dropped");
    // Quorum with factor 3 tolerates a crash, and each seed has some: the
    // crashed nodes come back through `Core::restore`. No other setting
    // crashes.
    let tolerated = report.mode == "Quorum" && report.replication_factor >= 3;
    assert_eq!(
        report.crashes > 0,
        tolerated,
        "seed {seed}: {} rf {} crashed {} times",
        report.mode,
        report.replication_factor,
        report.crashes
    );
}

fn seeds(default: &str) -> Vec<u64> {
    env("SIM_SEEDS", default)
        .split(',')
        .map(|s| s.trim().parse().expect("SIM_SEEDS: numbers"))
        .collect()
}

#[test]
fn transitions_lose_no_acknowledged_write() {
    let reports = run(&seeds("1"));
    assert_eq!(reports.len(), SETTINGS.len());
}

#[test]
fn deploying_each_placement_directly_loses_writes() {
    // The same simulation with today's one-step procedure: it must see
    // what the model checker's counterexample shows.
    let report = simulate(SimulationConfig {
        seed: 1,
        writes: 20_000,
        shards: 256,
        mode: ReplicationMode::Quorum,
        replication_factor: 3,
        one_step: true,
    });
    println!(
        "one step, seed 1, Quorum rf 3: transitions +{} -{} ~{}, {} writes ({} acked), {} Quorum \
         reads, {} crashes, {} dropped, {} duplicated: {} acknowledged writes lost, {} incomplete \
         reads",
        report.added,
        report.removed,
        report.replaced,
        report.writes,
        report.acked,
        report.reads,
        report.crashes,
        report.dropped,
        report.duplicated,
        report.lost_writes,
        report.incomplete_reads
    );
    assert!(report.added + report.removed + report.replaced > 0);
    assert!(report.acked > 10_000 && report.reads > 0);
    // The one-step procedure copies outside the core: no catch-up runs.
    assert_eq!(report.catch_up_pages, 0);
    assert!(report.lost_writes + report.incomplete_reads > 0);
}

#[test]
#[ignore = "the long run: 10 seeds, 6 settings each; run with --ignored"]
fn transitions_lose_no_acknowledged_write_long_run() {
    let reports = run(&seeds("101,102,103,104,105,106,107,108,109,110"));
    let acked: u64 = reports.iter().map(|r| r.acked).sum();
    let transitions: usize = reports
        .iter()
        .map(|r| r.added + r.removed + r.replaced)
        .sum();
    println!(
        "{} runs, {transitions} transitions, {acked} acknowledged writes, none lost",
        reports.len()
    );
}
