//! Node ids: present and unique.

use std::collections::HashMap;

use super::{Errors, Position, ValidationErrorKind};
use crate::ClusterConfig;

pub(super) fn check(config: &ClusterConfig, errors: &mut Errors) {
    // Count per id, remembering the first appearance so the report follows
    // the file's order, and the second, where the repeat is.
    let mut counts: HashMap<&str, (usize, usize, usize)> =
        HashMap::with_capacity(config.nodes.len());
    for (index, node) in config.nodes.iter().enumerate() {
        if node.id.is_empty() {
            errors.at(Position::node(index), || ValidationErrorKind::EmptyNodeId {
                index,
            });
            continue;
        }
        let (_, count, second) = counts.entry(&node.id).or_insert((index, 0, index));
        *count += 1;
        if *count == 2 {
            *second = index;
        }
    }
    let mut repeated: Vec<_> = counts
        .into_iter()
        .filter(|(_, (_, count, _))| *count > 1)
        .collect();
    repeated.sort_by_key(|(_, (first, _, _))| *first);
    for (id, (_, count, second)) in repeated {
        errors.at(Position::node(second), || {
            ValidationErrorKind::DuplicateNodeId {
                id: id.to_owned(),
                count,
            }
        });
    }
}
