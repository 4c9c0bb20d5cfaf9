//! `diff`: what changes between two configs, and the shards a move would
//! put at risk. Both configs must be valid. A split of the old config is
//! recognised, and its moves are counted from each child's parent.

use std::collections::BTreeMap;

use rusts_cluster_config::{split_factor, ClusterConfig, NotASplit};
use rusts_cluster_placement::{plan_moves, MovePlan};
use rusts_cluster_sharding::ShardSplit;
use serde_json::{json, Value};

use crate::{
    cli::DiffArgs,
    commands::{
        mode_name, node_id_json, note_transition, plan_is_empty, print_plan, report_plan_risks,
        set_plan, strategy_json, warn_address_handovers, warn_generation_not_raised,
        warn_replication_changed,
    },
    load::{load, validation_problems, Loaded},
    report::{Stop, Ui},
    text::cell,
};

pub(crate) fn run(args: DiffArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    ui.set("old_file", args.old.display().to_string());
    ui.set("new_file", args.new.display().to_string());
    // Both files are read and checked before stopping, so that one run
    // names every problem.
    let old = load(ui, &args.old).and_then(|l| valid(ui, l));
    let new = load(ui, &args.new).and_then(|l| valid(ui, l));
    let (old, new) = (old?, new?);
    ui.set(
        "generation",
        json!({ "old": old.generation, "new": new.generation }),
    );
    let (split, plan) = split_and_plan(&old, &new);
    match &split {
        Ok(split) => ui.set(
            "split",
            json!({
                "factor": split.factor(),
                "old_shard_count": split.parent_count(),
                "new_shard_count": split.child_count(),
            }),
        ),
        Err(reason) => {
            ui.set("split", Value::Null);
            if !matches!(reason, NotASplit::SameShardCount { .. }) {
                ui.set("not_a_split", reason.to_string());
                ui.note(&format!("not a split of the old config: {reason}"));
            }
        }
    }
    let settings = setting_changes(&old, &new);
    let changed = !plan_is_empty(&plan) || !settings.is_empty();
    if changed {
        warn_generation_not_raised(ui, &old, (&args.new, &new));
    }
    warn_address_handovers(ui, &old, (Some(&args.new), &new));
    warn_replication_changed(ui, &old, (&args.new, &new));
    report_plan_risks(ui, &plan);
    note_transition(ui, &plan, (&args.old, &old), (Some(&args.new), &new));
    if ui.json() {
        set_plan(ui, &plan);
        ui.set("changed", changed);
        let settings: Vec<Value> = settings
            .iter()
            .map(|(key, old, new)| json!({ "key": key, "old": old, "new": new }))
            .collect();
        ui.set("settings", settings);
        return Ok(());
    }
    if !changed {
        return ui.print("no changes\n");
    }
    if let Ok(split) = &split {
        ui.print(&format!(
            "split by {}: {} cop{} move\n",
            split.factor(),
            plan.copies_added,
            if plan.copies_added == 1 { "y" } else { "ies" }
        ))?;
        if !plan_is_empty(&plan) {
            print_plan(ui, &plan)?;
        }
    } else if plan_is_empty(&plan) {
        ui.print("no shard moves\n")?;
    } else {
        print_plan(ui, &plan)?;
    }
    if !settings.is_empty() {
        let mut text = String::from("other changes:\n");
        for (key, old, new) in &settings {
            let style = ui.style();
            text.push_str(&format!(
                "  {}: {} -> {}\n",
                cell(key, style),
                cell(&old.to_string(), style),
                cell(&new.to_string(), style)
            ));
        }
        ui.print(&text)?;
    }
    Ok(())
}

/// Whether `new` is a split of `old`, and the moves between them: for a
/// split, counted from each child's parent (the old config split the same
/// way), since a child that sits where its parent was moves nothing.
fn split_and_plan(
    old: &ClusterConfig,
    new: &ClusterConfig,
) -> (Result<ShardSplit, NotASplit>, MovePlan) {
    let split = split_factor(old, new);
    let plan = match split.as_ref().map(|s| old.split(s.factor())) {
        Ok(Ok(parents)) => plan_moves(&parents, new),
        _ => plan_moves(old, new),
    };
    (split, plan)
}

/// The config of a loaded file when it is valid; its problems otherwise.
fn valid(ui: &mut Ui<'_>, loaded: Loaded) -> Result<ClusterConfig, Stop> {
    match loaded.config.validate() {
        Ok(()) => Ok(loaded.config),
        Err(e) => {
            for problem in validation_problems(&loaded.file, &e) {
                ui.error(problem);
            }
            Err(Stop::Failed)
        }
    }
}

/// What differs besides shard placement, as (key, old, new): top-level
/// settings, nodes added or removed, and each kept node's address and
/// tags. `null` stands for "absent".
fn setting_changes(old: &ClusterConfig, new: &ClusterConfig) -> Vec<(String, Value, Value)> {
    let mut changes = Vec::new();
    let mut compare = |key: &str, a: Value, b: Value| {
        if a != b {
            changes.push((key.to_owned(), a, b));
        }
    };
    compare(
        "node_id",
        node_id_json(&old.node_id),
        node_id_json(&new.node_id),
    );
    compare("generation", old.generation.into(), new.generation.into());
    compare(
        "move_reads",
        old.move_reads.to_string().into(),
        new.move_reads.to_string().into(),
    );
    compare(
        "cluster_name",
        old.cluster_name.as_str().into(),
        new.cluster_name.as_str().into(),
    );
    compare(
        "replication_mode",
        mode_name(old.replication_mode).into(),
        mode_name(new.replication_mode).into(),
    );
    compare(
        "replication_factor",
        old.replication_factor.into(),
        new.replication_factor.into(),
    );
    compare(
        "shard_count",
        old.shard_count.into(),
        new.shard_count.into(),
    );
    compare(
        "sharding_strategy",
        strategy_json(&old.sharding_strategy),
        strategy_json(&new.sharding_strategy),
    );
    let record = |config: &ClusterConfig| {
        config.split_from.map_or(
            Value::Null,
            |r| json!({ "generation": r.generation, "shard_count": r.shard_count }),
        )
    };
    compare("split_from", record(old), record(new));
    let sorted = |shards: &[u32]| {
        let mut shards = shards.to_vec();
        shards.sort_unstable();
        Value::from(shards)
    };
    compare(
        "read_only_shards",
        sorted(&old.read_only_shards),
        sorted(&new.read_only_shards),
    );
    compare(
        "offline_shards",
        sorted(&old.offline_shards),
        sorted(&new.offline_shards),
    );
    let by_id = |config: &ClusterConfig| -> BTreeMap<String, Value> {
        config
            .nodes
            .iter()
            .map(|n| {
                let tags: BTreeMap<&String, &String> = n.tags.iter().collect();
                (n.id.clone(), json!({ "address": n.address, "tags": tags }))
            })
            .collect()
    };
    let (before, after) = (by_id(old), by_id(new));
    for (id, a) in &before {
        match after.get(id) {
            None => compare(&format!("nodes.{id}"), a.clone(), Value::Null),
            Some(b) => {
                for field in ["address", "tags"] {
                    compare(
                        &format!("nodes.{id}.{field}"),
                        a[field].clone(),
                        b[field].clone(),
                    );
                }
            }
        }
    }
    for (id, b) in &after {
        if !before.contains_key(id) {
            compare(&format!("nodes.{id}"), Value::Null, b.clone());
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_changes_ignore_node_order_and_name_each_change() {
        let mut old = ClusterConfig::single_node("a", "10.0.0.1:1");
        old.nodes
            .push(rusts_cluster_config::NodeConfig::new("b", "10.0.0.2:1"));
        let mut new = old.clone();
        new.nodes.reverse();
        assert_eq!(setting_changes(&old, &new), []);
        new.generation = 2;
        new.nodes[0].address = "10.0.0.9:1".into();
        new.nodes[1].tags.insert("zone".into(), "z1".into());
        new.nodes
            .push(rusts_cluster_config::NodeConfig::new("c", "10.0.0.3:1"));
        let keys: Vec<String> = setting_changes(&old, &new)
            .into_iter()
            .map(|(k, _, _)| k)
            .collect();
        assert_eq!(
            keys,
            ["generation", "nodes.a.tags", "nodes.b.address", "nodes.c"]
        );
    }
}
