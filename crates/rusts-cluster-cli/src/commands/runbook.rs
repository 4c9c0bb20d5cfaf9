//! What `transition` and `transition --back` report of each step they
//! write: the JSON entry and the runbook's `deploy`, `check` and `wait`
//! lines, from one [`StepReport`], so that both runbooks say the same
//! thing the same way.

use std::path::{Path, PathBuf};

use rusts_cluster_config::ClusterConfig;
use serde_json::{json, Value};

use crate::text::escape;

/// One written step: its kind (`K`, the plan's own), number and name, its
/// file and size, its config, and whom it starts and stops.
pub(super) struct StepReport<'p, K> {
    pub(super) kind: K,
    pub(super) number: u64,
    pub(super) name: String,
    pub(super) file: &'p Path,
    pub(super) bytes: usize,
    pub(super) config: &'p ClusterConfig,
    /// Nodes of this step that the config before did not have.
    pub(super) started: Vec<&'p str>,
    /// Nodes of the config before that this one does not have.
    pub(super) stopped: Vec<&'p str>,
}

/// The reports of `steps` (kind, number, name, config), written to
/// `files` in order, after the config `before`.
pub(super) fn step_reports<'p, K>(
    mut before: &'p ClusterConfig,
    steps: impl IntoIterator<Item = (K, u64, String, &'p ClusterConfig)>,
    files: &'p [(PathBuf, usize)],
) -> Vec<StepReport<'p, K>> {
    let mut reports = Vec::new();
    for ((kind, number, name, config), (file, bytes)) in steps.into_iter().zip(files) {
        let (started, stopped) = node_changes(before, config);
        reports.push(StepReport {
            kind,
            number,
            name,
            file,
            bytes: *bytes,
            config,
            started,
            stopped,
        });
        before = config;
    }
    reports
}

/// The nodes of `config` that `before` did not have, and those of
/// `before` that `config` does not have: whom a step starts and stops.
fn node_changes<'p>(
    before: &'p ClusterConfig,
    config: &'p ClusterConfig,
) -> (Vec<&'p str>, Vec<&'p str>) {
    let missing = |from: &'p ClusterConfig, other: &ClusterConfig| -> Vec<&'p str> {
        from.nodes
            .iter()
            .filter(|n| other.get_node(&n.id).is_none())
            .map(|n| n.id.as_str())
            .collect()
    };
    (missing(config, before), missing(before, config))
}

/// Node ids as the runbook prints them.
pub(super) fn ids(nodes: &[&str]) -> String {
    nodes
        .iter()
        .map(|n| escape(n).into_owned())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A path as the runbook prints it.
pub(super) fn shown(path: &Path) -> String {
    escape(&path.display().to_string()).into_owned()
}

impl<K> StepReport<'_, K> {
    /// The step's entry in the JSON report's `steps`.
    pub(super) fn json(&self) -> Value {
        json!({
            "step": self.number,
            "name": self.name,
            "file": self.file.display().to_string(),
            "bytes": self.bytes,
            "generation": self.config.generation,
            "move_reads": self.config.move_reads.to_string(),
            "nodes": self.config.nodes.iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            "started": self.started,
            "stopped": self.stopped,
        })
    }

    /// The `deploy`, `check` and `wait` lines: `expected` is what
    /// `validate` should say, `diff` what `diff` from `previous` (a file
    /// as shown) should.
    pub(super) fn push_lines(&self, text: &mut String, previous: &str, expected: &str, diff: &str) {
        let file = shown(self.file);
        let nodes = self.config.nodes.len();
        text.push_str(&format!(
            "  deploy: {file} to all {nodes} node{} it names",
            if nodes == 1 { "" } else { "s" }
        ));
        if !self.started.is_empty() {
            text.push_str(&format!("; start {} with it", ids(&self.started)));
        }
        text.push('\n');
        text.push_str(&format!(
            "  check:  rusts-cluster validate {file}   ({expected})\n          rusts-cluster diff {previous} {file}   ({diff})\n",
        ));
        text.push_str(&format!(
            "  wait:   every node reports generation {} (rusts-cluster status {file} --wait)\n",
            self.config.generation
        ));
    }
}
