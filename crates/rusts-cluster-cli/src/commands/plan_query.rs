//! `plan-query`: the shards a query reads and the node to read each from,
//! planned as one node of the cluster.

use std::collections::BTreeSet;

use rusts_cluster_routing::{Query, QueryPlan, ReadConsistency, ShardRouter};
use serde_json::json;

use crate::{
    cli::PlanQueryArgs,
    commands::{node_id_json, routing_problem},
    load::load_valid_as,
    report::{Problem, Stop, Ui},
    text::{cell, ranges, Table},
    timestamp,
};

pub(crate) fn run(args: PlanQueryArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    let path = args.file.as_path();
    ui.set("file", path.display().to_string());
    // The command line first: a wrong range is wrong whatever the file.
    if let (Some(from), Some(to)) = (args.from, args.to) {
        if from >= to {
            return Err(ui.usage(format!(
                "--from {from} ({}) is not before --to {to} ({}): the range [from, to) is empty; \
                 --from is inclusive and --to exclusive, so --to must be later",
                timestamp::format(from),
                timestamp::format(to)
            )));
        }
    }
    let loaded = load_valid_as(ui, path, args.node_id.as_deref())?;
    let config = &loaded.config;
    let planned_as = config.node_id.as_str();
    ui.set("node_id", node_id_json(planned_as));
    let router =
        ShardRouter::from_config(config).map_err(|e| ui.fail(routing_problem(&e).in_file(path)))?;
    for node in &args.down {
        router
            .set_node_available(node, false)
            .map_err(|e| ui.fail(routing_problem(&e).in_file(path)))?;
    }
    let mut query = Query::new();
    if let Some(m) = &args.measurement {
        query = query.measurement(m);
    }
    if !args.series_ids.is_empty() {
        query = query.series(&args.series_ids);
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        query = query.time_range(from..to);
    }
    if let Some((key, value)) = &args.prefer {
        query = query.prefer_tag(key, value);
        if !config.nodes.iter().any(|n| n.tags.get(key) == Some(value)) {
            let values: BTreeSet<&str> = config
                .nodes
                .iter()
                .filter_map(|n| n.tags.get(key).map(String::as_str))
                .collect();
            let known = if values.is_empty() {
                format!("no node has a `{key}` tag")
            } else {
                let listed: Vec<&str> = values.iter().take(10).copied().collect();
                format!(
                    "its values are {}{}",
                    listed.join(", "),
                    if values.len() > 10 { ", ..." } else { "" }
                )
            };
            ui.warning(
                Problem::new(
                    "unknown-prefer-tag",
                    format!("no node has tag {key}={value}, so --prefer changes nothing; {known}"),
                )
                .in_file(path),
            );
        }
    }
    if args.require_pruning {
        query = query.require_pruning();
    }
    let level = ReadConsistency::from(args.consistency);
    query = query.consistency(level);
    let plan = router
        .plan_query(&query)
        .map_err(|e| ui.fail(routing_problem(&e).in_file(path)))?;
    if ui.json() {
        ui.set("shards", plan.shards());
        ui.set("shard_count", config.shard_count);
        ui.set("pruned", plan.is_pruned());
        ui.set("complete", plan.is_complete());
        let targets: Vec<_> = plan
            .targets()
            .iter()
            .map(|t| json!({ "node": t.node_id, "address": t.address, "shards": t.shards }))
            .collect();
        ui.set("targets", targets);
        ui.set("unavailable", plan.unavailable_shards());
        ui.set("consistency", level.to_string());
        let reads: Vec<_> = plan
            .reads()
            .map(|read| {
                json!({
                    "shard": read.shard(),
                    "copies_needed": read.copies_needed(),
                    "read": read.targets().map(|c| c.node_id).collect::<Vec<_>>(),
                    "fallbacks": read.fallbacks().map(|c| c.node_id).collect::<Vec<_>>(),
                })
            })
            .collect();
        ui.set("reads", reads);
    } else {
        // A file that names no node is planned as none: no copy is local.
        let planned = match (planned_as, args.node_id.is_some()) {
            ("", _) => {
                "planned as no node (the file names none; --node-id NODE plans as one)".to_owned()
            }
            (id, true) => format!("planned as {} (--node-id)", cell(id, ui.style())),
            (id, false) => format!("planned as {} (the file's node_id)", cell(id, ui.style())),
        };
        let summary = format!(
            "{planned}: reads {} of {} shards{}, {}\n",
            plan.shards().len(),
            config.shard_count,
            if plan.is_pruned() {
                " (pruned)"
            } else {
                " (every shard)"
            },
            copies_read(&plan, level),
        );
        ui.print(&summary)?;
        let mut table = Table::new(ui.style(), &["node", "address", "shards"]);
        for t in plan.targets() {
            table.row([t.node_id.clone(), t.address.clone(), ranges(&t.shards)]);
        }
        table.write(ui.out())?;
    }
    if !plan.is_complete() {
        let unavailable = plan.unavailable_shards();
        ui.error(
            Problem::new(
                "unavailable-shards",
                format!(
                    "shard{} {} {} {} (offline, or too many copies on nodes that are down); \
                     a query over {} returns partial results",
                    if unavailable.len() == 1 { "" } else { "s" },
                    ranges(unavailable),
                    if unavailable.len() == 1 {
                        "has"
                    } else {
                        "have"
                    },
                    if level == ReadConsistency::One {
                        "no readable copy".to_owned()
                    } else {
                        format!("fewer readable copies than --consistency {level} needs")
                    },
                    if unavailable.len() == 1 { "it" } else { "them" },
                ),
            )
            .in_file(path),
        );
    }
    Ok(())
}

/// How many copies of each shard the plan reads, in words: one number when
/// every shard needs the same, else the range.
fn copies_read(plan: &QueryPlan, level: ReadConsistency) -> String {
    let needed = plan.reads().map(|read| read.copies_needed());
    let (least, most) = needed.fold((usize::MAX, 0), |(lo, hi), n| (lo.min(n), hi.max(n)));
    let copies = match (least, most) {
        (usize::MAX, _) => return format!("at {level}"),
        (1, 1) => "1 copy".to_owned(),
        (lo, hi) if lo == hi => format!("{lo} copies"),
        (lo, hi) => format!("{lo} to {hi} copies"),
    };
    format!("{copies} of each at {level}")
}
