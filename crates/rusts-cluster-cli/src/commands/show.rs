//! `show`: each node's share of the shards, and the shard map.

use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::CopyState;
use serde_json::{json, Value};

use crate::{
    cli::ShowArgs,
    commands::{mode_name, node_id_json, routing_problem, strategy_json, strategy_text},
    load::load_valid,
    report::{Stop, Ui},
    text::{cell, Table},
};

pub(crate) fn run(args: ShowArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    ui.set("file", args.file.display().to_string());
    let loaded = load_valid(ui, &args.file)?;
    let config = &loaded.config;
    // The shard map as the router sees it, built in one pass over the
    // nodes' lists: asking the config for each shard (`primary_for_shard`,
    // `replicas_for_shard`) scans every node per shard, and took 12 s for
    // 262,144 shards on 256 nodes.
    let router = ShardRouter::from_config(config)
        .map_err(|e| ui.fail(routing_problem(&e).in_file(&args.file)))?;
    let shard_map = router.all_shards();
    let total = config.shard_count.max(1) as f64;
    let share = |i: usize| {
        let n = &config.nodes[i];
        (n.shards.len() + n.replica_shards.len()) as f64 / total
    };
    if ui.json() {
        ui.set("cluster_name", config.cluster_name.as_str());
        ui.set("node_id", node_id_json(&config.node_id));
        ui.set("generation", config.generation);
        ui.set("shard_count", config.shard_count);
        ui.set("replication_factor", config.replication_factor);
        ui.set("replication_mode", mode_name(config.replication_mode));
        ui.set(
            "sharding_strategy",
            strategy_json(&config.sharding_strategy),
        );
        ui.set("move_reads", config.move_reads.to_string());
        let nodes: Vec<Value> = config
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| {
                json!({
                    "node": n.id,
                    "address": n.address,
                    "zone": n.tags.get(&args.zone_tag),
                    "tags": n.tags,
                    "primaries": n.shards.len(),
                    "replicas": n.replica_shards.len(),
                    "share": share(i),
                })
            })
            .collect();
        ui.set("nodes", nodes);
        let shards: Vec<Value> = shard_map
            .iter()
            .map(|shard| {
                json!({
                    "shard": shard.id,
                    "primary": shard.primary,
                    "replicas": shard.replicas,
                    "joining": shard.joining,
                    "leaving": shard.leaving,
                })
            })
            .collect();
        ui.set("shards", shards);
        return Ok(());
    }
    // A file that names no node serves every node, and says so.
    let this_node = if config.node_id.is_empty() {
        "no node_id (one file for every node)".to_owned()
    } else {
        format!("node_id {}", cell(&config.node_id, ui.style()))
    };
    let header = format!(
        "cluster {}, generation {}: {} shards, replication factor {}, {}, {}; {this_node}\n",
        cell(&config.cluster_name, ui.style()),
        config.generation,
        config.shard_count,
        config.replication_factor,
        mode_name(config.replication_mode),
        strategy_text(&config.sharding_strategy),
    );
    ui.print(&header)?;
    let moving = shard_map.iter().filter(|s| s.is_moving()).count();
    if moving > 0 {
        ui.print(&format!(
            "{moving} shard{} moving: writes need the mode on the old and the new copies; reads come from the {} copies (move_reads = \"{}\")\n",
            if moving == 1 { "" } else { "s" },
            config.move_reads,
            config.move_reads,
        ))?;
    }
    let mut nodes = Table::new(
        ui.style(),
        &[
            "node",
            "address",
            "zone",
            "primaries",
            "replicas",
            "share of data",
        ],
    );
    nodes.right_align(&[3, 4, 5]);
    for (i, n) in config.nodes.iter().enumerate() {
        nodes.row([
            n.id.clone(),
            n.address.clone(),
            n.tags
                .get(&args.zone_tag)
                .cloned()
                .unwrap_or_else(|| "-".to_owned()),
            n.shards.len().to_string(),
            n.replica_shards.len().to_string(),
            format!("{:.1}%", share(i) * 100.0),
        ]);
    }
    nodes.write(ui.out())?;
    let mut shards = Table::new(ui.style(), &["shard", "primary", "replicas"]);
    shards.right_align(&[0]);
    // A moving copy says so: `d (joining)`, `c (leaving)`.
    let named = |shard: &rusts_cluster_sharding::Shard, node: &str| match shard.copy_state(node) {
        Some(state) if state != CopyState::Stable => format!("{node} ({state})"),
        _ => node.to_owned(),
    };
    for shard in &shard_map {
        let replicas: Vec<String> = shard.replicas.iter().map(|n| named(shard, n)).collect();
        shards.row([
            shard.id.to_string(),
            named(shard, &shard.primary),
            replicas.join(", "),
        ]);
    }
    shards.write(ui.out())?;
    Ok(())
}
