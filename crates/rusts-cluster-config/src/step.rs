//! The three steps of a transition, named once for the crates that plan
//! them (`rusts-cluster-placement`), print them (the `rusts-cluster`
//! command) and follow them (a node reading its step config)
//! (`docs/decisions/0019-joint-copies.md`).

use serde::Serialize;

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
