//! Validation: the rules a config must follow, each broken one reported as
//! a structured [`ValidationError`], and the warnings of
//! [`ClusterConfig::warnings`].
//!
//! One file per topic, in the order the rules run and report:
//! `settings` (the cluster-wide keys), `split_from`, `node_ids`,
//! `addresses`, `shard_lists`, `moving_lists` and `shard_states`;
//! `copy_warnings` (with
//! `crate::zones`) gives the warnings. `error` and `warning` hold what is
//! reported, `report` bounds how much.

mod addresses;
mod copy_warnings;
mod error;
mod moving_lists;
mod node_ids;
mod report;
mod settings;
mod shard_lists;
mod shard_states;
mod shards_have;
mod split_from;
mod warning;

use rusts_cluster_sharding::ShardId;

pub(crate) use self::copy_warnings::{warnings, warnings_for_zone_tag};
pub use self::{
    error::{LookAlike, Position, ShardList, StateList, ValidationError, ValidationErrorKind},
    report::{MAX_REPORTED_ERRORS, MAX_REPORTED_WARNINGS},
    settings::MAX_SHARD_COUNT,
    warning::ValidationWarning,
};

use self::report::Errors;
use crate::{ClusterConfig, CopyEntry, CopyIndex};

/// Every rule `config` breaks, in O(nodes + listed shards + shard_count)
/// time, apart from sorting the node ids once for the copy index: nodes
/// and shards are indexed once, and no list is scanned inside a loop over
/// another. `node_id` is the node the config is checked as (an empty one
/// for none), which the caller takes from the config or is given.
pub(crate) fn validate(config: &ClusterConfig, node_id: &str) -> Vec<ValidationError> {
    let mut errors = Errors::default();
    let shard_count_ok = settings::check(config, node_id, &mut errors);
    split_from::check(config, &mut errors);
    node_ids::check(config, &mut errors);
    addresses::check(config, &mut errors);
    // The rules about shards allocate per shard, so they run only once
    // `shard_count` is known to be at most `MAX_SHARD_COUNT`.
    if shard_count_ok {
        let copies = Copies::new(config);
        shard_lists::check(config, &copies, &mut errors);
        moving_lists::check(config, &copies, &mut errors);
        shard_states::check(config, &mut errors);
    }
    errors.finish(|omitted| ValidationErrorKind::TooManyProblems { omitted }.into())
}

/// The config's copy index, built once per validation, and the node index
/// of each position in `nodes`: the rules walk nodes in the file's order,
/// which their reports follow, while the index numbers them in id order.
struct Copies {
    index: CopyIndex,
    by_position: Vec<u32>,
}

impl Copies {
    fn new(config: &ClusterConfig) -> Copies {
        let index = config.copy_index();
        let mut by_position = vec![0; index.node_count()];
        for node in 0..index.node_count() as u32 {
            by_position[index.position(node)] = node;
        }
        Copies { index, by_position }
    }

    /// The copies of `shard` on the node at `position` in `nodes`.
    fn on(&self, shard: ShardId, position: usize) -> impl Iterator<Item = &CopyEntry> + '_ {
        self.index.copies_on(shard, self.by_position[position])
    }
}

fn sorted_pair(a: &str, b: &str) -> [String; 2] {
    if a <= b {
        [a.to_owned(), b.to_owned()]
    } else {
        [b.to_owned(), a.to_owned()]
    }
}
