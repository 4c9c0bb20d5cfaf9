//! `route`: the shard of one key, its copies, and the acks a write needs.

use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::ShardKeyRef;
use serde_json::json;

use crate::{
    cli::RouteArgs,
    commands::{mode_name, routing_problem},
    load::load_valid,
    report::{Stop, Ui},
    text::Table,
    timestamp,
};

pub(crate) fn run(args: RouteArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    ui.set("file", args.file.display().to_string());
    ui.set(
        "key",
        json!({
            "measurement": args.measurement,
            "series_id": args.series_id,
            "timestamp": args.timestamp,
        }),
    );
    let loaded = load_valid(ui, &args.file)?;
    let config = &loaded.config;
    let router = ShardRouter::from_config(config)
        .map_err(|e| ui.fail(routing_problem(&e).in_file(&args.file)))?;
    let shard = router
        .route(ShardKeyRef::new(
            &args.measurement,
            args.series_id,
            args.timestamp,
        ))
        .map_err(|e| ui.fail(routing_problem(&e).in_file(&args.file)))?;
    // The library's rule for this shard: a `Rebalancing` shard needs one
    // more acknowledgement (docs/replication.md).
    let acks = router
        .protocol()
        .required_acks_for(shard.copies().len(), shard.state);
    let state = format!("{:?}", shard.state);
    if ui.json() {
        ui.set("shard", shard.id);
        ui.set("state", state);
        ui.set("primary", shard.primary.as_str());
        ui.set("address", shard.address.clone());
        ui.set("replicas", shard.replicas.clone());
        let copies: Vec<_> = shard
            .copies()
            .map(|c| {
                json!({
                    "node": c.node_id,
                    "address": c.address,
                    "role": c.role.to_string(),
                    "state": c.state.to_string(),
                    "available": c.available,
                })
            })
            .collect();
        ui.set("copies", copies);
        ui.set("replication_mode", mode_name(config.replication_mode));
        ui.set("replication_factor", config.replication_factor);
        ui.set("acks_required", acks);
        return Ok(());
    }
    let mut table = Table::new(ui.style(), &["field", "value"]);
    table.row([
        "key".to_owned(),
        format!(
            "{} / series {} / {} ({})",
            args.measurement,
            args.series_id,
            args.timestamp,
            timestamp::format(args.timestamp)
        ),
    ]);
    table.row(["shard".to_owned(), shard.id.to_string()]);
    table.row(["state".to_owned(), state]);
    for copy in shard.copies() {
        table.row([
            copy.role.to_string(),
            format!("{} ({})", copy.node_id, copy.address),
        ]);
    }
    table.row([
        "acks required".to_owned(),
        format!(
            "{acks} of {} ({})",
            config.replication_factor,
            mode_name(config.replication_mode)
        ),
    ]);
    table.write(ui.out())?;
    Ok(())
}
