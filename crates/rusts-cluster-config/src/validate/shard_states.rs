//! `read_only_shards` and `offline_shards`: shard ids below `shard_count`,
//! each listed once, in at most one of the two lists.

use super::{Errors, StateList, ValidationErrorKind};
use crate::ClusterConfig;

pub(super) fn check(config: &ClusterConfig, errors: &mut Errors) {
    if config.read_only_shards.is_empty() && config.offline_shards.is_empty() {
        return;
    }
    let shard_count = config.shard_count;
    // The list each shard was first seen in: `shard_count` was checked
    // against the limit before this runs.
    let mut seen: Vec<Option<StateList>> = vec![None; shard_count as usize];
    for (list, shards) in [
        (StateList::ReadOnly, &config.read_only_shards),
        (StateList::Offline, &config.offline_shards),
    ] {
        for &shard in shards {
            let Some(slot) = seen.get_mut(shard as usize) else {
                errors.rule(|| ValidationErrorKind::StateShardOutOfRange {
                    list,
                    shard,
                    shard_count,
                });
                continue;
            };
            match *slot {
                None => *slot = Some(list),
                Some(first) if first == list => {
                    errors.rule(|| ValidationErrorKind::DuplicateStateShard { list, shard })
                }
                Some(first) => errors.rule(|| ValidationErrorKind::ShardInTwoStates {
                    shard,
                    first,
                    second: list,
                }),
            }
        }
    }
}
