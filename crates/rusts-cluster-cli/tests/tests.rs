//! The tool as an operator and a script use it, one topic per module:
//! exit codes, messages that name the problem and its cause, the JSON
//! schema, closed pipes and full disks, atomic `--output`, FIFOs, escaping,
//! hostile sizes, completions.
//!
//! One test binary for the crate, as ripgrep lays its tests out: each
//! binary is linked on its own, and one links once. Fixtures are under
//! `testdata/` (the crate links the workspace's), so every module but
//! `workspace` runs from the packaged crate too.

mod util;

mod commandline;
mod json;
mod manual;
mod node_id;
mod output;
mod plan_query;
mod rebalance_diff;
mod show_route;
mod split;
mod status;
mod text;
mod transition;
mod validate;
mod way_back;
#[cfg(in_repository)]
mod workspace;
