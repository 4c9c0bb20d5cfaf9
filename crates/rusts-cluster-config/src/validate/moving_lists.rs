//! `joining_shards` and `leaving_shards`: each lists some of the node's own
//! copies, once, never both; and every moving shard keeps an old copy and
//! a new one.

use rusts_cluster_sharding::{CopyState, ShardId};

use super::{shard_lists::ListScan, Copies, Errors, Position, ShardList, ValidationErrorKind};
use crate::ClusterConfig;

pub(super) fn check(config: &ClusterConfig, copies: &Copies, errors: &mut Errors) {
    if config
        .nodes
        .iter()
        .all(|n| n.joining_shards.is_empty() && n.leaving_shards.is_empty())
    {
        return;
    }
    // Each problem of an entry points at it, so the lists are walked as
    // `shards` is (see `ListScan`); the copy index answers whether the
    // node holds the shard it marks.
    let mut joining = ListScan::new(config, ShardList::Joining);
    let mut leaving = ListScan::new(config, ShardList::Leaving);
    for (i, node) in config.nodes.iter().enumerate() {
        // The node's shards in both lists, at their first `leaving_shards`
        // entry, reported after the node's other problems.
        let mut both = Vec::new();
        for (scan, shards) in [
            (&mut joining, &node.joining_shards),
            (&mut leaving, &node.leaving_shards),
        ] {
            let list = scan.list();
            for (element, &shard) in shards.iter().enumerate() {
                if !scan.first(errors, i, element, shard) {
                    continue;
                }
                if copies.on(shard, i).next().is_none() {
                    errors.at(Position::entry(i, element), || {
                        ValidationErrorKind::MovingCopyNotHeld {
                            node: node.id.clone(),
                            list,
                            shard,
                        }
                    });
                }
                if list == ShardList::Leaving {
                    both.push((element, shard));
                }
            }
        }
        for (element, shard) in both {
            if joining.listed(i, shard) {
                errors.at(Position::entry(i, element), || {
                    ValidationErrorKind::JoiningAndLeaving {
                        node: node.id.clone(),
                        shard,
                    }
                });
            }
        }
    }
    // A shard's move: from the index, whose copies carry each node's mark
    // (a copy marked both ways, an error above, counts as leaving).
    let every = |state: CopyState| -> Vec<ShardId> {
        copies
            .index
            .shards()
            .filter(|(_, list)| !list.is_empty() && list.iter().all(|c| c.state == state))
            .map(|(shard, _)| shard)
            .collect()
    };
    for (joining, state) in [(true, CopyState::Joining), (false, CopyState::Leaving)] {
        let shards = every(state);
        if !shards.is_empty() {
            errors.rule(|| ValidationErrorKind::MoveWithoutCopies { shards, joining });
        }
    }
}
