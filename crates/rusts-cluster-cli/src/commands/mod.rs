//! One module per subcommand, and what several of them share: names as the
//! config file spells them, the move plan of `rebalance` and `diff`, and
//! writing `--output`.

use std::path::Path;

use rusts_cluster_config::{ClusterConfig, ConfigError};
use rusts_cluster_placement::{address_handovers, zone_count, MovePlan, PlacementError};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::RoutingError;
use rusts_cluster_sharding::ShardingStrategy;
use serde_json::{json, Value};

use crate::{
    atomic,
    load::validation_problem,
    report::{chain, Problem, Stop, Ui},
    text::{ranges, Table},
};

pub(crate) mod diff;
pub(crate) mod generate;
pub(crate) mod manual;
pub(crate) mod plan_query;
pub(crate) mod rebalance;
pub(crate) mod route;
mod runbook;
pub(crate) mod show;
pub(crate) mod split;
pub(crate) mod status;
pub(crate) mod transition;
pub(crate) mod validate;
pub(crate) mod way_back;

/// The text of a config file this tool writes: without `node_id`, so that
/// the one file deploys unchanged to every node, each loading it as itself
/// (`docs/decisions/0029-one-file-for-every-node.md`). A file read with a
/// `node_id` loses it here, and only here.
pub(crate) fn file_text(config: &ClusterConfig) -> Result<String, ConfigError> {
    if config.node_id.is_empty() {
        config.to_toml()
    } else {
        config.clone().for_node("").to_toml()
    }
}

/// A node id in a JSON report: `null` for none (a file that serves every
/// node), as the report's other absent values are.
pub(crate) fn node_id_json(node_id: &str) -> Value {
    if node_id.is_empty() {
        Value::Null
    } else {
        node_id.into()
    }
}

/// The mode as the config file spells it (`Quorum`).
pub(crate) fn mode_name(mode: ReplicationMode) -> String {
    match serde_json::to_value(mode) {
        Ok(Value::String(name)) => name,
        _ => format!("{mode:?}"),
    }
}

/// The strategy as the file holds it, in JSON: `"BySeries"` or
/// `{"ByTime": {"duration_nanos": 3600000000000}}`.
pub(crate) fn strategy_json(strategy: &ShardingStrategy) -> Value {
    serde_json::to_value(strategy).unwrap_or_else(|_| format!("{strategy:?}").into())
}

/// The strategy with the file's names: `BySeries`,
/// `ByTime (duration_nanos = 3600000000000)`.
pub(crate) fn strategy_text(strategy: &ShardingStrategy) -> String {
    match strategy_json(strategy) {
        Value::String(name) => name,
        Value::Object(outer) => outer
            .iter()
            .map(|(name, fields)| match fields {
                Value::Object(fields) => {
                    let fields: Vec<String> =
                        fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
                    format!("{name} ({})", fields.join(", "))
                }
                other => format!("{name} ({other})"),
            })
            .collect(),
        other => other.to_string(),
    }
}

/// A routing error with its stable code.
pub(crate) fn routing_problem(e: &RoutingError) -> Problem {
    Problem::new(e.code(), chain(e))
}

/// Reports why a placement or a transition cannot be planned: each rule a
/// config breaks, with the rule's code, or the planner's error with its
/// own.
pub(crate) fn report_placement(ui: &mut Ui<'_>, e: &PlacementError) -> Stop {
    let errors = e.validation_errors();
    if errors.is_empty() {
        return ui.fail(placement_problem(e));
    }
    for v in errors {
        ui.error(validation_problem(v));
    }
    Stop::Failed
}

/// A planner's error that is not a list of validation problems, with its
/// code.
pub(crate) fn placement_problem(e: &PlacementError) -> Problem {
    Problem::new(e.code(), chain(e))
}

/// Warns (`generation-not-raised`) when `new`, which differs from `old`,
/// does not have a higher generation: routers would refuse it.
pub(crate) fn warn_generation_not_raised(
    ui: &mut Ui<'_>,
    old: &ClusterConfig,
    (new_path, new): (&Path, &ClusterConfig),
) {
    if new.generation <= old.generation {
        ui.warning(
            Problem::new(
                "generation-not-raised",
                format!(
                    "the new config's `generation` ({}) is not above the old one's ({}); \
                     routers refuse a config that is not newer, so raise it",
                    new.generation, old.generation
                ),
            )
            .in_file(new_path),
        );
    }
}

/// Warns (`address-in-use`) of each address that passes from a node holding
/// copies in `old` to another node in `new`: nodes still running `old`
/// would send the first node's requests to the second.
pub(crate) fn warn_address_handovers(
    ui: &mut Ui<'_>,
    old: &ClusterConfig,
    (new_path, new): (Option<&Path>, &ClusterConfig),
) {
    for handover in address_handovers(old, new) {
        let e = PlacementError::from(handover);
        let problem = Problem::new(e.code(), e.to_string());
        ui.warning(match new_path {
            Some(path) => problem.in_file(path),
            None => problem,
        });
    }
}

/// Warns (`replication-changed`) when the replication mode or factor
/// changes, with the reason `transition` refuses it: the one message of
/// `PlacementError::ReplicationChanged`, so the two say the same.
pub(crate) fn warn_replication_changed(
    ui: &mut Ui<'_>,
    old: &ClusterConfig,
    (new_path, new): (&Path, &ClusterConfig),
) {
    if old.replication_mode == new.replication_mode
        && old.replication_factor == new.replication_factor
    {
        return;
    }
    let e = PlacementError::ReplicationChanged {
        from_mode: old.replication_mode,
        to_mode: new.replication_mode,
        from_factor: old.replication_factor,
        to_factor: new.replication_factor,
    };
    ui.warning(Problem::new(e.code(), e.to_string()).in_file(new_path));
}

/// Points to `transition` when a plan moves copies: deploying the new
/// config directly would let a node on the new config miss writes that a
/// node still on the old one acknowledged (decision 0019). Not said when
/// either config is itself a step of a transition.
pub(crate) fn note_transition(
    ui: &mut Ui<'_>,
    plan: &MovePlan,
    old: (&Path, &ClusterConfig),
    new: (Option<&Path>, &ClusterConfig),
) {
    let marked = |c: &ClusterConfig| {
        c.nodes
            .iter()
            .any(|n| !n.joining_shards.is_empty() || !n.leaving_shards.is_empty())
    };
    if (plan.copies_added == 0 && plan.copies_removed == 0) || marked(old.1) || marked(new.1) {
        return;
    }
    let (new_path, written) = match new.0 {
        Some(path) => (path.display().to_string(), ""),
        None => ("NEW".to_owned(), " (NEW: this plan, written with --output)"),
    };
    ui.note(&format!(
        "copies move: deploy this change with `rusts-cluster transition {} {new_path} \
         --output-dir DIR`{written}, whose steps keep every acknowledged write readable while \
         nodes run different generations; deploying the new config directly does not{}",
        old.0.display(),
        numbered_as_final(old.1, new.1)
    ));
}

/// `(it is numbered as the final step, ...)` when `new` has the generation
/// of the transition's final step, as `rebalance` numbers it.
fn numbered_as_final(old: &ClusterConfig, new: &ClusterConfig) -> String {
    let last = old.next_generation(rusts_cluster_placement::StepKind::Final.number());
    if last.ok() == Some(new.generation) {
        format!(
            " (it is numbered {}, as the transition's final step, whose file it is: a node on \
             {} given it directly would skip steps 1 and 2)",
            new.generation, old.generation
        )
    } else {
        String::new()
    }
}

/// Fewer zones than copies: each shard has a copy in every zone, and some
/// zones hold two or more copies of it.
pub(crate) fn warn_few_zones(ui: &mut Ui<'_>, config: &ClusterConfig, zone_tag: &str) {
    let (zones, tagged) = zone_count(config, zone_tag);
    if tagged && zones < config.replication_factor {
        ui.warning(Problem::new(
            "few-zones",
            format!(
                "only {zones} zone{} (tag `{zone_tag}`) for {} copies per shard: each shard has a copy in every zone, and some zones hold two or more copies of it",
                if zones == 1 { "" } else { "s" },
                config.replication_factor
            ),
        ));
    }
}

/// Writes `config` to `path` atomically, says so on stderr, and records
/// `written` in the JSON report. A failure is an error (code `write`)
/// naming the file, which is left as it was.
pub(crate) fn write_config(
    ui: &mut Ui<'_>,
    config: &ClusterConfig,
    path: &Path,
) -> Result<(), Stop> {
    let text = file_text(config).map_err(|e| ui.fail(Problem::new(e.code(), chain(&e))))?;
    match atomic::write(path, text.as_bytes()) {
        Ok(written) => {
            ui.note(&format!(
                "wrote {} bytes to {} (generation {})",
                text.len(),
                written.display(),
                config.generation
            ));
            ui.set(
                "written",
                json!({
                    "path": written.display().to_string(),
                    "bytes": text.len(),
                    "generation": config.generation,
                }),
            );
            Ok(())
        }
        Err(e) => Err(ui.fail(
            Problem::new(
                "write",
                format!(
                    "cannot write `{}`: {}; the file was left as it was",
                    path.display(),
                    chain(&e)
                ),
            )
            .naming_file(path),
        )),
    }
}

/// Whether the plan moves nothing.
pub(crate) fn plan_is_empty(plan: &MovePlan) -> bool {
    plan.copies_added == 0
        && plan.copies_removed == 0
        && plan.primary_changes == 0
        && !plan.mapping_changed
        && plan.shards.is_empty()
}

/// The errors of a plan that puts data at risk, the same for `rebalance`
/// and `diff`: exit 1 from both for the same change.
pub(crate) fn report_plan_risks(ui: &mut Ui<'_>, plan: &MovePlan) {
    if plan.mapping_changed {
        ui.error(Problem::new(
            "mapping-changed",
            "`shard_count` or `sharding_strategy` differ: keys map to other shards, so every stored series moves, not only these copies",
        ));
    }
    let lost: Vec<u32> = plan
        .shards
        .iter()
        .filter(|m| m.left_without_copy)
        .map(|m| m.shard)
        .collect();
    if !lost.is_empty() {
        ui.error(Problem::new(
            "no-copy-left",
            format!(
                "shard{} {} {} no copy in the new config: {} data would be lost",
                if lost.len() == 1 { "" } else { "s" },
                ranges(&lost),
                if lost.len() == 1 { "has" } else { "have" },
                if lost.len() == 1 { "its" } else { "their" },
            ),
        ));
    }
    let whole: Vec<_> = plan
        .shards
        .iter()
        .filter(|m| m.every_copy_changes && !m.left_without_copy)
        .collect();
    match whole.as_slice() {
        [] => {}
        [m] => ui.error(Problem::new(
            "every-copy-changes",
            format!(
                "every copy of shard {} changes at once: copy it to {} before {} drop it",
                m.shard,
                m.added.join(", "),
                m.removed.join(", ")
            ),
        )),
        many => {
            let ids: Vec<u32> = many.iter().map(|m| m.shard).collect();
            ui.error(Problem::new(
                "every-copy-changes",
                format!(
                    "every copy of shards {} changes at once: copy each to its new nodes (the `add` column) before the old ones drop it",
                    ranges(&ids)
                ),
            ));
        }
    }
}

/// The plan in the JSON report: the placement crate's `MovePlan`, with `node`
/// naming a node as in every other report.
pub(crate) fn set_plan(ui: &mut Ui<'_>, plan: &MovePlan) {
    let shards: Vec<Value> = plan
        .shards
        .iter()
        .map(|m| {
            json!({
                "shard": m.shard,
                "old_primary": m.old_primary,
                "new_primary": m.new_primary,
                "added": m.added,
                "removed": m.removed,
                "kept": m.kept,
                "every_copy_changes": m.every_copy_changes,
                "left_without_copy": m.left_without_copy,
            })
        })
        .collect();
    let nodes: Vec<Value> = plan
        .nodes
        .iter()
        .map(|n| {
            json!({
                "node": n.node,
                "copies_in": n.copies_in,
                "copies_out": n.copies_out,
                "primaries_in": n.primaries_in,
                "primaries_out": n.primaries_out,
            })
        })
        .collect();
    ui.set("changed", !plan_is_empty(plan));
    ui.set("shards", shards);
    ui.set("nodes", nodes);
    ui.set("copies_added", plan.copies_added);
    ui.set("copies_removed", plan.copies_removed);
    ui.set("primary_changes", plan.primary_changes);
    ui.set("mapping_changed", plan.mapping_changed);
}

/// The plan as text: a summary line, the moves per node, and each shard
/// that changes with its risk.
pub(crate) fn print_plan(ui: &mut Ui<'_>, plan: &MovePlan) -> Result<(), Stop> {
    let summary = format!(
        "{} cop{} to add, {} to remove, {} primary change{}{}\n",
        plan.copies_added,
        if plan.copies_added == 1 { "y" } else { "ies" },
        plan.copies_removed,
        plan.primary_changes,
        if plan.primary_changes == 1 { "" } else { "s" },
        if plan.mapping_changed {
            "; the key mapping changes"
        } else {
            ""
        }
    );
    ui.print(&summary)?;
    let mut nodes = Table::new(
        ui.style(),
        &[
            "node",
            "copies in",
            "copies out",
            "primaries in",
            "primaries out",
        ],
    );
    nodes.right_align(&[1, 2, 3, 4]);
    for n in &plan.nodes {
        nodes.row([
            n.node.clone(),
            n.copies_in.to_string(),
            n.copies_out.to_string(),
            n.primaries_in.to_string(),
            n.primaries_out.to_string(),
        ]);
    }
    nodes.write(ui.out())?;
    if plan.shards.is_empty() {
        return Ok(());
    }
    let mut shards = Table::new(
        ui.style(),
        &["shard", "primary", "add", "remove", "keep", "risk"],
    );
    shards.right_align(&[0]);
    for m in &plan.shards {
        let primary = match (&m.old_primary, &m.new_primary) {
            (a, b) if a == b => b.clone().unwrap_or_else(|| "-".to_owned()),
            (a, b) => format!(
                "{} -> {}",
                a.as_deref().unwrap_or("-"),
                b.as_deref().unwrap_or("-")
            ),
        };
        let risk = if m.left_without_copy {
            "NO COPY LEFT"
        } else if m.every_copy_changes {
            "every copy changes"
        } else {
            ""
        };
        shards.row([
            m.shard.to_string(),
            primary,
            m.added.join(", "),
            m.removed.join(", "),
            m.kept.join(", "),
            risk.to_owned(),
        ]);
    }
    shards.write(ui.out())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_the_file_spellings() {
        assert_eq!(mode_name(ReplicationMode::Quorum), "Quorum");
        assert_eq!(strategy_text(&ShardingStrategy::BySeries), "BySeries");
        assert_eq!(
            strategy_text(&ShardingStrategy::ByTime {
                duration_nanos: 3_600_000_000_000
            }),
            "ByTime (duration_nanos = 3600000000000)"
        );
        assert_eq!(
            strategy_json(&ShardingStrategy::Composite {
                time_duration_nanos: 5
            }),
            json!({"Composite": {"time_duration_nanos": 5}})
        );
    }
}
