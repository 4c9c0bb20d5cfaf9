//! `rebalance`: add or remove nodes, moving as few shard copies as
//! possible; the plan, and the new config with its generation raised.

use rusts_cluster_placement::{balance, plan_moves, with_node_changes, StepKind};
use serde_json::json;

use crate::{
    cli::RebalanceArgs,
    commands::{
        note_transition, plan_is_empty, print_plan, report_placement, report_plan_risks, set_plan,
        warn_address_handovers, warn_few_zones, write_config,
    },
    load::load_valid,
    report::{chain, Problem, Stop, Ui},
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
    let plan = plan_moves(&old, &new);
    // When copies move, the new config is numbered as the final step of
    // its transition (g + 3), not g + 1, the number of the plan's step 1:
    // `transition` then writes this very config as its last file, and a
    // node on g given it directly would skip two steps, which routers
    // refuse, where a g + 1 config would have served beside step 1 as if
    // it were it (docs/decisions/0037-rebalance-numbers-its-output-as-the-final-step.md).
    let moves = plan.copies_added > 0 || plan.copies_removed > 0;
    let steps = if moves { StepKind::Final.number() } else { 1 };
    new.generation = old.next_generation(steps).map_err(|e| {
        ui.fail(
            Problem::new(
                e.code(),
                format!(
                    "{}; the new config is numbered {steps} generation{} after the old one",
                    chain(&e),
                    if steps == 1 { "" } else { "s" }
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
