//! `rebalance`: add or remove nodes, moving as few shard copies as
//! possible; the plan, and the new config with its generation raised.

use rusts_cluster_placement::{balance, plan_moves, with_node_changes};
use serde_json::json;

use crate::{
    cli::RebalanceArgs,
    commands::{
        note_transition, plan_is_empty, print_plan, report_placement, report_plan_risks, set_plan,
        warn_address_handovers, warn_few_zones, write_config,
    },
    load::load_valid,
    report::{Problem, Stop, Ui},
};

pub(crate) fn run(args: RebalanceArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    let path = args.file.as_path();
    ui.set("file", path.display().to_string());
    if args.add.is_empty() && args.remove.is_empty() {
        // Allowed: it repairs the balance of the nodes there are.
        ui.note("no --add-node or --remove-node; rebalancing the nodes as they are");
    }
    let old = load_valid(ui, path)?.config;
    let changed =
        with_node_changes(&old, args.add, &args.remove).map_err(|e| report_placement(ui, &e))?;
    let mut new = balance(&changed, &args.zone_tag).map_err(|e| report_placement(ui, &e))?;
    new.generation = old.generation.checked_add(1).ok_or_else(|| {
        ui.fail(
            Problem::new(
                "generation-overflow",
                format!(
                    "`generation` is {}, the largest there is, so the new config cannot have a higher one; \
                     set it lower in every node's copy first",
                    old.generation
                ),
            )
            .in_file(path),
        )
    })?;
    ui.set(
        "generation",
        json!({ "old": old.generation, "new": new.generation }),
    );
    warn_few_zones(ui, &new, &args.zone_tag);
    warn_address_handovers(ui, &old, (args.output.as_deref(), &new));
    let plan = plan_moves(&old, &new);
    report_plan_risks(ui, &plan);
    note_transition(ui, &plan, (path, &old), (args.output.as_deref(), &new));
    // The file first: a reader that closes stdout early (`| head`) ends the
    // report, not the command's work.
    if let Some(output) = args.output.as_deref() {
        write_config(ui, &new, output)?;
    }
    if ui.json() {
        set_plan(ui, &plan);
    } else if plan_is_empty(&plan) {
        ui.print("no changes: no copy moves and no primary changes\n")?;
    } else {
        print_plan(ui, &plan)?;
    }
    Ok(())
}
