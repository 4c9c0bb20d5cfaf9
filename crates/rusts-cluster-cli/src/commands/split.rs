//! `split`: grow the shard count by a whole factor without moving data:
//! the next generation, with every child on its parent's copies.

use std::collections::BTreeSet;

use rusts_cluster_config::ClusterConfig;
use serde_json::json;

use crate::{
    cli::SplitArgs,
    commands::write_config,
    load::{load_valid, validation_problem},
    report::{chain, Problem, Stop, Ui},
    text::Table,
};

pub(crate) fn run(args: SplitArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    let path = args.file.as_path();
    ui.set("file", path.display().to_string());
    let old = load_valid(ui, path)?.config;
    let new = old.split(args.factor).map_err(|e| {
        // `old` was validated on loading, so its rules hold; still, each
        // broken rule would be reported as `validate` reports it.
        if !e.validation_errors().is_empty() {
            for v in e.validation_errors() {
                ui.error(validation_problem(v));
            }
            return Stop::Failed;
        }
        // `split-too-large`, `generation-overflow`, ...
        ui.fail(Problem::new(e.code(), chain(&e)).in_file(path))
    })?;
    ui.set(
        "generation",
        json!({ "old": old.generation, "new": new.generation }),
    );
    ui.set(
        "split",
        json!({
            "factor": args.factor,
            "old_shard_count": old.shard_count,
            "new_shard_count": new.shard_count,
        }),
    );
    ui.set("copies_moved", 0);
    // A split keeps every warning about where copies are; only counts
    // scale, so nodes whose counts differed by one now differ by the
    // factor. Report what the old config did not warn about.
    let before: BTreeSet<&str> = old.warnings().iter().map(|w| w.code()).collect();
    for w in new.warnings() {
        if !before.contains(w.code()) {
            ui.warning(Problem::new(w.code(), format!("after the split: {w}")));
        }
    }
    // The file first: a reader that closes stdout early (`| head`) ends the
    // report, not the command's work.
    if let Some(output) = args.output.as_deref() {
        write_config(ui, &new, output)?;
    }
    if ui.json() {
        ui.set("nodes", node_counts(&old, &new));
        return Ok(());
    }
    ui.print(&format!(
        "split by {}: {} shards -> {}, generation {} -> {}; 0 copies move\n",
        args.factor, old.shard_count, new.shard_count, old.generation, new.generation
    ))?;
    let mut table = Table::new(
        ui.style(),
        &[
            "node",
            "primaries",
            "replicas",
            "primaries after",
            "replicas after",
        ],
    );
    table.right_align(&[1, 2, 3, 4]);
    for (a, b) in old.nodes.iter().zip(&new.nodes) {
        table.row([
            a.id.clone(),
            a.shards.len().to_string(),
            a.replica_shards.len().to_string(),
            b.shards.len().to_string(),
            b.replica_shards.len().to_string(),
        ]);
    }
    table.write(ui.out())?;
    Ok(())
}

/// Each node's primary and replica counts before and after, for the JSON
/// report.
fn node_counts(old: &ClusterConfig, new: &ClusterConfig) -> Vec<serde_json::Value> {
    old.nodes
        .iter()
        .zip(&new.nodes)
        .map(|(a, b)| {
            json!({
                "node": a.id,
                "primaries": a.shards.len(),
                "replicas": a.replica_shards.len(),
                "primaries_after": b.shards.len(),
                "replicas_after": b.replica_shards.len(),
            })
        })
        .collect()
}
