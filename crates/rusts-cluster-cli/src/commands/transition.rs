//! `transition`: the configs that move copies from one placement to another
//! while nodes run different generations, written to a directory, and the
//! runbook that says what to deploy, what to wait for and how to check each
//! step (`docs/decisions/0019-joint-copies.md`).

use std::{
    collections::BTreeMap,
    fs, io,
    path::{Path, PathBuf},
};

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_placement::{
    plan_transition, CatchUp, ConfigRole, PlacementError, StepKind, TransitionPlan,
};
use rusts_cluster_sharding::{CopyState, ShardId};
use serde_json::{json, Value};

use crate::{
    atomic,
    cli::TransitionArgs,
    commands::{file_text, placement_problem, report_placement, warn_generation_not_raised},
    load::load_valid,
    report::{chain, Problem, Stop, Ui},
    text::{escape, ranges, Table},
};

pub(crate) fn run(args: TransitionArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    ui.set("old_file", args.old.display().to_string());
    ui.set("new_file", args.new.display().to_string());
    ui.set("output_dir", args.output_dir.display().to_string());
    // Both files are read and checked before stopping, so that one run
    // names every problem.
    let old = load_valid(ui, &args.old);
    let new = load_valid(ui, &args.new);
    let (old, new) = (old?.config, new?.config);
    ui.set(
        "generation",
        json!({ "old": old.generation, "new": new.generation }),
    );
    let plan = plan_transition(&old, &new).map_err(|e| match &e {
        // A step file given as OLD or NEW: say which file.
        PlacementError::Moving { config, .. } => {
            let path = if *config == ConfigRole::From {
                &args.old
            } else {
                &args.new
            };
            ui.fail(placement_problem(&e).in_file(path))
        }
        // The library says to split; the tool names the command, with the
        // factor when the new count is a multiple of the old one.
        PlacementError::ShardCountChanged { from, to } => {
            let factor = match (*from, *to) {
                (from, to) if from > 0 && to > from && to % from == 0 => (to / from).to_string(),
                _ => "K".to_owned(),
            };
            ui.fail(Problem::new(
                e.code(),
                format!(
                    "{}; split with `rusts-cluster split {} --factor {factor}`",
                    chain(&e),
                    args.old.display()
                ),
            ))
        }
        _ => report_placement(ui, &e),
    })?;
    ui.set("changed", !plan.is_empty());
    ui.set("moving_shards", plan.moving_shards.clone());
    if plan.is_empty() {
        return nothing_moves(ui, &args.old, &old, &args.new, &new);
    }
    let files = write_steps(ui, &args.output_dir, &plan)?;
    let steps = Steps::new(&old, &plan, files);
    if ui.json() {
        set_report(ui, &steps, &plan);
        Ok(())
    } else {
        print_runbook(ui, &args.old, &steps, &plan)
    }
}

/// No copy moves: no steps, and the new config can be deployed as it is.
fn nothing_moves(
    ui: &mut Ui<'_>,
    old_path: &Path,
    old: &ClusterConfig,
    new_path: &Path,
    new: &ClusterConfig,
) -> Result<(), Stop> {
    let mut same = new.clone();
    same.generation = old.generation;
    let same = same == *old;
    if !same {
        warn_generation_not_raised(ui, old, (new_path, new));
    }
    ui.set("steps", Vec::<Value>::new());
    ui.set("catch_up", Vec::<Value>::new());
    ui.set("drop_copies", Vec::<Value>::new());
    if ui.json() {
        return Ok(());
    }
    let (old_path, new_path) = (
        escape(&old_path.display().to_string()).into_owned(),
        escape(&new_path.display().to_string()).into_owned(),
    );
    ui.print(&if same {
        "nothing moves and nothing else changes: no steps were written, and there is nothing \
         to deploy\n"
            .to_owned()
    } else {
        format!(
            "nothing moves: every shard keeps its copies, so no steps were written; deploy \
             {new_path} as it is, to every node (`rusts-cluster diff {old_path} {new_path}` \
             shows what changes: primaries and settings change safely in one generation)\n"
        )
    })
}

/// Writes each step to `DIR/NN-NAME.toml`, atomically; refuses a directory
/// that holds step files already (name order is step order, so two plans
/// mixed in one directory would read as one). On a failure, the files this
/// run wrote are removed again, so a directory never holds part of a plan.
fn write_steps(
    ui: &mut Ui<'_>,
    dir: &Path,
    plan: &TransitionPlan,
) -> Result<Vec<(PathBuf, usize)>, Stop> {
    write_steps_with(ui, dir, plan, |path, text| {
        atomic::write(path, text).map(drop)
    })
}

/// [`write_steps`] with the writer of one file given, so that a test can
/// make a later step fail (a full disk, a quota) and see the earlier ones
/// removed.
fn write_steps_with(
    ui: &mut Ui<'_>,
    dir: &Path,
    plan: &TransitionPlan,
    mut write: impl FnMut(&Path, &[u8]) -> io::Result<()>,
) -> Result<Vec<(PathBuf, usize)>, Stop> {
    let fail = |ui: &mut Ui<'_>, what: String, e: &dyn std::error::Error| {
        ui.fail(Problem::new("write", format!("{what}: {}", chain(e))).naming_file(dir))
    };
    fs::create_dir_all(dir).map_err(|e| {
        fail(
            ui,
            format!("cannot create the directory `{}`", dir.display()),
            &e,
        )
    })?;
    let existing = step_files(dir).map_err(|e| {
        fail(
            ui,
            format!("cannot read the directory `{}`", dir.display()),
            &e,
        )
    })?;
    if !existing.is_empty() {
        return Err(ui.fail(
            Problem::new(
                "output-exists",
                format!(
                    "`{}` already holds step files ({}); steps are deployed in name order, so \
                     another plan's files beside these would read as one plan: choose an empty \
                     directory, or remove them if they are a plan you no longer follow",
                    dir.display(),
                    existing.join(", ")
                ),
            )
            .naming_file(dir),
        ));
    }
    let mut written: Vec<(PathBuf, usize)> = Vec::new();
    for step in &plan.steps {
        let path = dir.join(step.kind.file_name());
        let text = match file_text(&step.config) {
            Ok(text) => text,
            Err(e) => {
                remove(&written);
                return Err(ui.fail(Problem::new(e.code(), chain(&e))));
            }
        };
        if let Err(e) = write(&path, text.as_bytes()) {
            remove(&written);
            let removed = if written.is_empty() {
                String::new()
            } else {
                "; the steps written before it were removed".to_owned()
            };
            return Err(ui.fail(
                Problem::new(
                    "write",
                    format!("cannot write `{}`: {}{removed}", path.display(), chain(&e)),
                )
                .naming_file(&path),
            ));
        }
        written.push((path, text.len()));
    }
    for ((path, bytes), step) in written.iter().zip(&plan.steps) {
        ui.note(&format!(
            "wrote {bytes} bytes to {} (generation {})",
            path.display(),
            step.config.generation
        ));
    }
    Ok(written)
}

/// The names in `dir` that look like step files (`NN-*.toml`), sorted.
fn step_files(dir: &Path) -> io::Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        let b = name.as_bytes();
        let numbered = b.len() > 3 && b[..2].iter().all(u8::is_ascii_digit) && b[2] == b'-';
        if numbered && name.ends_with(".toml") {
            names.push(name);
        }
    }
    names.sort();
    Ok(names)
}

fn remove(written: &[(PathBuf, usize)]) {
    for (path, _) in written {
        let _ = fs::remove_file(path);
    }
}

/// What the runbook says of each step, worked out once for text and JSON.
struct Steps<'p> {
    steps: Vec<StepReport<'p>>,
    /// The plan's drops (the leaving copies), by node and the step after
    /// which they may be deleted (the final one).
    drop: BTreeMap<(&'p str, StepKind), Vec<ShardId>>,
}

struct StepReport<'p> {
    kind: StepKind,
    file: PathBuf,
    bytes: usize,
    config: &'p ClusterConfig,
    /// Nodes of this step that the one before did not have.
    started: Vec<&'p str>,
    /// Nodes of the step before that this one does not have.
    stopped: Vec<&'p str>,
}

impl<'p> Steps<'p> {
    fn new(old: &'p ClusterConfig, plan: &'p TransitionPlan, files: Vec<(PathBuf, usize)>) -> Self {
        let mut before = old;
        let mut steps = Vec::new();
        for (step, (file, bytes)) in plan.steps.iter().zip(files) {
            let config = &step.config;
            let started = config
                .nodes
                .iter()
                .filter(|n| before.get_node(&n.id).is_none())
                .map(|n| n.id.as_str())
                .collect();
            let stopped = before
                .nodes
                .iter()
                .filter(|n| config.get_node(&n.id).is_none())
                .map(|n| n.id.as_str())
                .collect();
            steps.push(StepReport {
                kind: step.kind,
                file,
                bytes,
                config,
                started,
                stopped,
            });
            before = config;
        }
        // From the plan's drops, which a node computes from its step
        // config too (`ClusterConfig::drops`); by shard, so each node's
        // list comes out ascending.
        let mut drop: BTreeMap<(&str, StepKind), Vec<ShardId>> = BTreeMap::new();
        for d in &plan.drops {
            drop.entry((d.node.as_str(), d.after))
                .or_default()
                .push(d.shard);
        }
        Steps { steps, drop }
    }
}

/// The catch-ups grouped by copy node, state and sources: one line for
/// each, with the shards as ranges.
fn catch_up_groups(catch_up: &[CatchUp]) -> BTreeMap<(&str, String, &[String]), Vec<ShardId>> {
    let mut groups: BTreeMap<(&str, String, &[String]), Vec<ShardId>> = BTreeMap::new();
    for c in catch_up {
        groups
            .entry((c.node.as_str(), c.state.to_string(), c.sources.as_slice()))
            .or_default()
            .push(c.shard);
    }
    groups
}

fn set_report(ui: &mut Ui<'_>, steps: &Steps<'_>, plan: &TransitionPlan) {
    let list: Vec<Value> = steps
        .steps
        .iter()
        .map(|s| {
            json!({
                "step": s.kind.number(),
                "name": s.kind.name(),
                "file": s.file.display().to_string(),
                "bytes": s.bytes,
                "generation": s.config.generation,
                "move_reads": s.config.move_reads.to_string(),
                "nodes": s.config.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
                "started": s.started,
                "stopped": s.stopped,
            })
        })
        .collect();
    ui.set("steps", list);
    let catch_up: Vec<Value> = plan
        .catch_up
        .iter()
        .map(|c| {
            json!({
                "shard": c.shard,
                "node": c.node,
                "state": c.state.to_string(),
                "sources": c.sources,
            })
        })
        .collect();
    ui.set("catch_up", catch_up);
    let drop: Vec<Value> = steps
        .drop
        .iter()
        .map(|((node, after), shards)| {
            json!({ "node": node, "shards": shards, "after": after.name() })
        })
        .collect();
    ui.set("drop_copies", drop);
}

fn print_runbook(
    ui: &mut Ui<'_>,
    old_path: &Path,
    steps: &Steps<'_>,
    plan: &TransitionPlan,
) -> Result<(), Stop> {
    let shown = |path: &Path| escape(&path.display().to_string()).into_owned();
    let ids = |nodes: &[&str]| {
        nodes
            .iter()
            .map(|n| escape(n).into_owned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let joint = steps.steps[0].config;
    let joining: usize = joint.nodes.iter().map(|n| n.joining_shards.len()).sum();
    let leaving: usize = joint.nodes.iter().map(|n| n.leaving_shards.len()).sum();
    let first = joint.generation - 1;
    let mut text = format!(
        "{} of {} shard{} move ({joining} cop{} join, {leaving} leave): 3 steps, generations {} to {}\n",
        plan.moving_shards.len(),
        joint.shard_count,
        if joint.shard_count == 1 { "" } else { "s" },
        if joining == 1 { "y" } else { "ies" },
        first + 1,
        first + 3,
    );
    text.push_str(
        "Deploy each step to every node it names, and go on only when every node reports the \
         step's generation: nodes may run two adjacent steps at once, never two steps apart.\n",
    );
    let mut previous = shown(old_path);
    for (i, step) in steps.steps.iter().enumerate() {
        let file = shown(&step.file);
        let what = match step.kind {
            StepKind::JointWrites => "writes to old and new copies, reads from the old copies",
            StepKind::ReadNew => {
                "writes to old and new copies, reads from the new copies, the new primaries"
            }
            _ => "the new placement: leaving copies are no longer written",
        };
        text.push_str(&format!(
            "\nstep {} of 3, {} (generation {}): {what}\n",
            i + 1,
            step.kind.name(),
            step.config.generation
        ));
        let nodes = step.config.nodes.len();
        text.push_str(&format!(
            "  deploy: {file} to all {nodes} node{} it names",
            if nodes == 1 { "" } else { "s" }
        ));
        if !step.started.is_empty() {
            text.push_str(&format!("; start {} with it", ids(&step.started)));
        }
        text.push('\n');
        let expected = if step.kind == StepKind::Final {
            "no errors"
        } else {
            "no errors; balance warnings are expected while copies move"
        };
        text.push_str(&format!(
            "  check:  rusts-cluster validate {file}   ({expected})\n          rusts-cluster diff {previous} {file}   ({})\n",
            match step.kind {
                StepKind::JointWrites => format!("{joining} copies added: the joining ones"),
                StepKind::ReadNew => "primaries and move_reads change, no copy moves".to_owned(),
                _ => format!("{leaving} copies removed: the leaving ones"),
            }
        ));
        text.push_str(&format!(
            "  wait:   every node reports generation {}\n",
            step.config.generation
        ));
        if !step.stopped.is_empty() && step.kind != StepKind::Final {
            text.push_str(&format!(
                "  stop:   {} (in no step from here; before deploying the next step)\n",
                ids(&step.stopped),
            ));
        }
        match step.kind {
            StepKind::JointWrites => {
                let stable = plan
                    .catch_up
                    .iter()
                    .filter(|c| c.state != CopyState::Joining)
                    .count();
                text.push_str(&format!(
                    "  then:   catch up {} cop{}: each node below merges the data of the \
                     sources into its copy of the shards{}\n",
                    plan.catch_up.len(),
                    if plan.catch_up.len() == 1 { "y" } else { "ies" },
                    if stable > 0 {
                        " (stable copies too, where a shard loses more copies than it gains)"
                    } else {
                        ""
                    }
                ));
                ui.print(&text)?;
                text.clear();
                let mut table = Table::new(ui.style(), &["copy on", "state", "sources", "shards"]);
                for ((node, state, sources), shards) in catch_up_groups(&plan.catch_up) {
                    table.row([node.to_owned(), state, sources.join(", "), ranges(&shards)]);
                }
                table.write(ui.out())?;
                text.push_str("  wait:   every copy above has caught up\n");
            }
            StepKind::ReadNew if !steps.drop.is_empty() => {
                text.push_str(
                    "  keep:   the leaving copies: nodes on this step or the one before still \
                     write to them; delete them only once every node runs the final step\n",
                );
            }
            StepKind::Final => {
                text.push_str(
                    "  then:   delete the leaving copies, which no node reads or writes now:\n",
                );
                ui.print(&text)?;
                text.clear();
                let mut table = Table::new(ui.style(), &["node", "shards"]);
                let now = steps
                    .drop
                    .iter()
                    .filter(|((_, after), _)| *after == step.kind);
                for ((node, _), shards) in now {
                    table.row([node.to_string(), ranges(shards)]);
                }
                table.write(ui.out())?;
                if !step.stopped.is_empty() {
                    text.push_str(&format!(
                        "  stop:   {}: no longer in the config, and its copies are deleted\n",
                        ids(&step.stopped),
                    ));
                }
            }
            _ => {}
        }
        previous = file;
    }
    ui.print(&text)
}

#[cfg(test)]
mod tests {
    use rusts_cluster_config::NodeConfig;
    use rusts_cluster_placement::{balance, with_node_changes};

    use super::*;
    use crate::{cli::Format, text::Style};

    fn plan() -> TransitionPlan {
        // Loaded as node1, so that the steps carry a node id to leave out.
        let text = include_str!("../../testdata/cli/cluster.toml");
        let old = ClusterConfig::from_toml_as(text, "node1").unwrap();
        let added = NodeConfig::new("n9", "10.0.9.9:8086");
        let new = balance(&with_node_changes(&old, vec![added], &[]).unwrap(), "zone").unwrap();
        let plan = plan_transition(&old, &new).unwrap();
        assert_eq!(plan.steps.len(), 3);
        plan
    }

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "rusts-cluster-transition-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    /// A write that fails at the third step (the disk filled up) leaves no
    /// step behind: a directory holding steps 1 and 2 alone would read as
    /// a plan whose last step is the read cut-over.
    #[test]
    fn a_failed_step_write_removes_the_steps_written_before_it() {
        let plan = plan();
        let dir = scratch("full-disk");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut ui = Ui::new(&mut out, &mut err, Format::Json, Style::Ascii);
        let mut calls = 0;
        let result = write_steps_with(&mut ui, &dir, &plan, |path, text| {
            calls += 1;
            if calls == 3 {
                return Err(io::Error::other("no space left on device"));
            }
            fs::write(path, text)
        });
        assert_eq!(calls, 3);
        assert_eq!(ui.finish(Some("transition"), result.map(drop)), 1);
        let left: Vec<_> = fs::read_dir(&dir).unwrap().collect();
        assert!(left.is_empty(), "{left:?}");
        let report: Value = serde_json::from_slice(&out).unwrap();
        let message = report["errors"][0]["message"].as_str().unwrap();
        assert!(
            message.contains("03-final.toml")
                && message.contains("no space left on device")
                && message.ends_with("the steps written before it were removed"),
            "{message}"
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn steps_are_written_in_order_and_each_is_reported() {
        let plan = plan();
        let dir = scratch("written");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let mut ui = Ui::new(&mut out, &mut err, Format::Json, Style::Ascii);
        let written = write_steps(&mut ui, &dir, &plan).unwrap();
        let names: Vec<String> = written
            .iter()
            .map(|(p, _)| p.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, step_files(&dir).unwrap());
        assert_eq!(
            names,
            ["01-joint-writes.toml", "02-read-new.toml", "03-final.toml"]
        );
        for ((path, bytes), step) in written.iter().zip(&plan.steps) {
            let text = fs::read_to_string(path).unwrap();
            assert_eq!(text.len(), *bytes);
            // The old config is node1's; a step names no node, so that it
            // deploys unchanged to every node, and each takes it as itself.
            assert_eq!(step.config.node_id, "node1");
            let shared = ClusterConfig::from_toml(&text).unwrap();
            assert_eq!(shared, step.config.clone().for_node(""));
            for node in &shared.nodes {
                let as_node = ClusterConfig::from_toml_as(&text, &node.id).unwrap();
                as_node.validate().unwrap();
                assert_eq!(as_node.this_node(), Some(node));
            }
        }
        fs::remove_dir_all(&dir).unwrap();
    }
}
