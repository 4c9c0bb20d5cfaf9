//! `transition --back START STEP`: the configs that take a cluster from
//! step 1 or 2 of a transition back to the placement it started from,
//! written to a directory, and the runbook
//! (`docs/decisions/0043-the-way-back.md`).

use std::{collections::BTreeMap, path::Path};

use rusts_cluster_config::{ClusterConfig, MAX_CONFIG_BYTES};
use rusts_cluster_placement::{plan_way_back, BackStepKind, PlacementError, WayBack};
use rusts_cluster_sharding::ShardId;
use serde_json::{json, Value};

use crate::{
    atomic,
    cli::TransitionArgs,
    commands::{
        placement_problem, report_placement,
        runbook::{ids, shown, step_reports, StepReport},
        transition::write_steps_with,
    },
    load::load_valid,
    report::{chain, Problem, Stop, Ui},
    text::{escape, ranges, Table},
};

pub(crate) fn run(args: TransitionArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    ui.set("start_file", args.old.display().to_string());
    ui.set("step_file", args.new.display().to_string());
    ui.set("output_dir", args.output_dir.display().to_string());
    // Both files are read and checked before stopping, so that one run
    // names every problem.
    let start = load_valid(ui, &args.old);
    let at = load_valid(ui, &args.new);
    let (start, at) = (start?.config, at?.config);
    ui.set(
        "generation",
        json!({ "start": start.generation, "step": at.generation }),
    );
    let back = plan_way_back(&start, &at).map_err(|e| match &e {
        PlacementError::InvalidBackStep { .. } => {
            ui.error(placement_problem(&e));
            report_placement(ui, &e)
        }
        // The library says to plan a new transition; the tool names the
        // command.
        PlacementError::NotInTransition { .. } => {
            let (start_path, step_path) = (
                escape(&args.old.display().to_string()).into_owned(),
                escape(&args.new.display().to_string()).into_owned(),
            );
            ui.fail(
                Problem::new(
                    e.code(),
                    format!(
                        "{}; to return to {start_path}'s placement, `rusts-cluster transition \
                         {step_path} {start_path} --output-dir DIR`",
                        chain(&e)
                    ),
                )
                .in_file(&args.new),
            )
        }
        PlacementError::NotTheStart { .. } => ui.fail(placement_problem(&e).in_file(&args.new)),
        PlacementError::Moving { .. } => ui.fail(placement_problem(&e).in_file(&args.old)),
        _ => report_placement(ui, &e),
    })?;
    ui.set("from_step", back.from.number());
    let files: Vec<(String, &ClusterConfig)> = back
        .steps
        .iter()
        .map(|s| (s.file_name(), &s.config))
        .collect();
    let written = write_steps_with(ui, &args.output_dir, &files, check_sizes, |path, text| {
        atomic::write(path, text).map(drop)
    })?;
    let report = Report::new(&at, &back, &written);
    if ui.json() {
        set_report(ui, &report, &back);
        Ok(())
    } else {
        print_runbook(ui, &args.new, &at, &report, &back)
    }
}

/// Refuses (`too-large`) a config over [`MAX_CONFIG_BYTES`]. None is
/// larger than the step the cluster runs, or START, which were both read
/// under the limit, by more than a few digits of its generation.
fn check_sizes(ui: &mut Ui<'_>, texts: &[String]) -> Result<(), Stop> {
    let limit = MAX_CONFIG_BYTES as usize;
    match texts.iter().map(String::len).max() {
        Some(largest) if largest > limit => Err(ui.fail(Problem::new(
            "too-large",
            format!(
                "a config of the way back is {largest} bytes, over the {limit}-byte limit every \
                 node reads a config through, so none was written"
            ),
        ))),
        _ => Ok(()),
    }
}

/// What the runbook says of each config, worked out once for text and JSON.
struct Report<'p> {
    steps: Vec<StepReport<'p, BackStepKind>>,
    /// The joining copies of the step the cluster runs, by node: written
    /// by no node once every node runs the last config.
    joining: BTreeMap<&'p str, &'p [ShardId]>,
}

impl<'p> Report<'p> {
    fn new(
        at: &'p ClusterConfig,
        back: &'p WayBack,
        files: &'p [(std::path::PathBuf, usize)],
    ) -> Self {
        let steps = step_reports(
            at,
            back.steps.iter().map(|s| {
                let name = format!("back-{}", s.kind.name());
                (s.kind, s.number, name, &s.config)
            }),
            files,
        );
        let joining = at
            .nodes
            .iter()
            .filter(|n| !n.joining_shards.is_empty())
            .map(|n| (n.id.as_str(), n.joining_shards.as_slice()))
            .collect();
        Report { steps, joining }
    }
}

fn set_report(ui: &mut Ui<'_>, report: &Report<'_>, back: &WayBack) {
    let list: Vec<Value> = report.steps.iter().map(StepReport::json).collect();
    ui.set("steps", list);
    let drop: Vec<Value> = report
        .joining
        .iter()
        .map(|(node, shards)| json!({ "node": node, "shards": shards, "after": "back-start" }))
        .collect();
    ui.set("drop_copies", drop);
    ui.set("stop", back.stop.clone());
}

fn print_runbook(
    ui: &mut Ui<'_>,
    step_path: &Path,
    at: &ClusterConfig,
    report: &Report<'_>,
    back: &WayBack,
) -> Result<(), Stop> {
    let count = report.steps.len();
    let joining: usize = report.joining.values().map(|s| s.len()).sum();
    let leaving: usize = at.nodes.iter().map(|n| n.leaving_shards.len()).sum();
    let first = report.steps[0].config.generation;
    let mut text = format!(
        "the way back from step {} ({}, generation {}) to the placement it started from: {count} \
         step{}, generation{} {}\n",
        back.from.number(),
        back.from.name(),
        at.generation,
        if count == 1 { "" } else { "s" },
        if count == 1 { "" } else { "s" },
        if count == 1 {
            first.to_string()
        } else {
            format!("{first} to {}", first + count as u64 - 1)
        },
    );
    text.push_str(
        "Deploy each step to every node it names, and go on only when every node reports the \
         step's generation: nodes may run two adjacent steps at once, never two steps apart. \
         No catch-up is needed: every copy of the start received every write since step 1.\n",
    );
    let mut previous = shown(step_path);
    for step in &report.steps {
        let file = shown(step.file);
        let what = match step.kind {
            BackStepKind::JointWrites => {
                "step 1 again: writes to old and new copies, reads from the old copies, the old \
                 primaries"
            }
            _ => "the start's placement: joining copies are no longer written, leaving ones are stable again",
        };
        text.push_str(&format!(
            "\nstep {} of {count}, back-{} (generation {}): {what}\n",
            step.number,
            step.kind.name(),
            step.config.generation
        ));
        let (expected, diff) = match step.kind {
            BackStepKind::JointWrites => (
                "no errors; balance warnings are expected while copies move",
                "primaries and move_reads change, no copy moves".to_owned(),
            ),
            _ => (
                "no errors",
                format!("{joining} copies removed: the joining ones; {leaving} stable again"),
            ),
        };
        step.push_lines(&mut text, &previous, expected, &diff);
        if step.kind == BackStepKind::Start {
            text.push_str(
                "  then:   delete the joining copies, which no node reads or writes now:\n",
            );
            ui.print(&text)?;
            text.clear();
            let mut table = Table::new(ui.style(), &["node", "shards"]);
            for (node, shards) in &report.joining {
                table.row([node.to_string(), ranges(shards)]);
            }
            table.write(ui.out())?;
            if !step.stopped.is_empty() {
                text.push_str(&format!(
                    "  stop:   {}: in no step from here; each still runs the step before, which \
                     is safe beside this one, so stop it once every node reports generation {} \
                     (and before deploying any later config)\n",
                    ids(&step.stopped),
                    step.config.generation,
                ));
            }
        }
        previous = file;
    }
    ui.print(&text)
}
