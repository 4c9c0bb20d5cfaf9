//! The three steps of a transition, named once for the crates that plan
//! them (`rusts-cluster-placement`), print them (the `rusts-cluster`
//! command) and follow them (a node reading its step config)
//! (`docs/decisions/0019-joint-copies.md`).

use rusts_cluster_sharding::ShardId;
use serde::Serialize;

use crate::{ClusterConfig, MoveReads};

/// The three steps of a transition, in order.
///
/// A step-1 config has `move_reads = "old"` and marks moving copies in
/// `joining_shards` and `leaving_shards`; a step-2 config marks the same
/// copies with `move_reads = "new"`; the final config marks none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum StepKind {
    /// Every copy, old and new, receives writes, and a write needs the
    /// replication mode met on the old copies and on the new ones; reads
    /// come from the old copies. Joining copies catch up once every node
    /// runs it.
    JointWrites,
    /// Writes as in [`StepKind::JointWrites`]; reads come from the new
    /// copies, and primaries are the new config's.
    ReadNew,
    /// The new config's placement: leaving copies are gone.
    Final,
}

impl StepKind {
    /// The step's number, from 1: its generation is the old config's plus
    /// this.
    pub fn number(self) -> u64 {
        match self {
            StepKind::JointWrites => 1,
            StepKind::ReadNew => 2,
            StepKind::Final => 3,
        }
    }

    /// The step's name: `joint-writes`, `read-new` or `final`.
    pub fn name(self) -> &'static str {
        match self {
            StepKind::JointWrites => "joint-writes",
            StepKind::ReadNew => "read-new",
            StepKind::Final => "final",
        }
    }

    /// The file the step is written to: `NN-NAME.toml`, so that name order
    /// is step order (`01-joint-writes.toml`).
    pub fn file_name(self) -> String {
        format!("{:02}-{}.toml", self.number(), self.name())
    }
}

impl ClusterConfig {
    /// The shards this config marks as moving (a node lists its copy in
    /// `joining_shards` or `leaving_shards`), ascending: empty unless the
    /// config is step 1 or 2 of a transition.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    /// assert!(config.moving_shards().is_empty() && !config.in_transition());
    /// config.nodes[0].leaving_shards = vec![5, 2, 5];
    /// assert_eq!(config.moving_shards(), [2, 5]);
    /// assert!(config.in_transition());
    /// ```
    pub fn moving_shards(&self) -> Vec<ShardId> {
        let mut shards: Vec<ShardId> = self
            .nodes
            .iter()
            .flat_map(|n| n.joining_shards.iter().chain(&n.leaving_shards))
            .copied()
            .collect();
        shards.sort_unstable();
        shards.dedup();
        shards
    }

    /// Whether this config is a step of a transition rather than a
    /// placement: it marks copies as moving, or reads from the new side
    /// (`move_reads = "new"`). Such a config is deployed only between its
    /// neighbours in the plan; [`split`](ClusterConfig::split) refuses it,
    /// and so do the planners.
    pub fn in_transition(&self) -> bool {
        self.move_reads == MoveReads::New
            || self
                .nodes
                .iter()
                .any(|n| !n.joining_shards.is_empty() || !n.leaving_shards.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_files_sort_in_step_order() {
        let names: Vec<String> = [StepKind::Final, StepKind::JointWrites, StepKind::ReadNew]
            .iter()
            .map(|k| k.file_name())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(
            sorted,
            ["01-joint-writes.toml", "02-read-new.toml", "03-final.toml"]
        );
    }
}
