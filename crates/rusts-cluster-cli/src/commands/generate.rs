//! `generate`: a new, balanced, zone-aware config for a set of nodes.

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_placement::balance;
use rusts_cluster_replication::ReplicationMode;

use crate::{
    cli::{GenerateArgs, Mode},
    commands::{file_text, node_id_json, report_placement, warn_few_zones, write_config},
    report::{chain, Problem, Stop, Ui},
};

pub(crate) fn run(args: GenerateArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    // No node id: the file serves every node, each loading it as itself.
    let mut config = ClusterConfig::single_node("-", "-").for_node("");
    config.generation = 0;
    config.cluster_name = args.cluster_name;
    config.shard_count = args.shards;
    config.replication_factor = args.replication_factor;
    config.replication_mode = match args.mode {
        Mode::Synchronous => ReplicationMode::Synchronous,
        Mode::Quorum => ReplicationMode::Quorum,
        Mode::Asynchronous => ReplicationMode::Asynchronous,
    };
    config.sharding_strategy = args.strategy;
    config.nodes = args.nodes;
    let placed = balance(&config, &args.zone_tag).map_err(|e| report_placement(ui, &e))?;
    warn_few_zones(ui, &placed, &args.zone_tag);
    for w in placed.warnings_for_zone_tag(&args.zone_tag) {
        ui.warning(Problem::new(w.code(), w.to_string()));
    }
    ui.set("node_id", node_id_json(&placed.node_id));
    ui.set("generation", placed.generation);
    ui.set("shard_count", placed.shard_count);
    ui.set("replication_factor", placed.replication_factor);
    ui.set("nodes", placed.nodes.len());
    match args.output {
        Some(path) => write_config(ui, &placed, &path),
        None => {
            let text =
                file_text(&placed).map_err(|e| ui.fail(Problem::new(e.code(), chain(&e))))?;
            if ui.json() {
                ui.set("toml", text);
                Ok(())
            } else {
                ui.print(&text)
            }
        }
    }
}
