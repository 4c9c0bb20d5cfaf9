//! Node addresses: each `host:port`, and each node's own.

use std::collections::{hash_map::Entry, HashMap};

use super::{sorted_pair, Errors, Position, ValidationErrorKind};
use crate::{address::canonical_address, ClusterConfig};

pub(super) fn check(config: &ClusterConfig, errors: &mut Errors) {
    // Keyed by canonical form, so `DB1:8086` and `db1:08086` are one address.
    let mut owners: HashMap<String, &str> = HashMap::with_capacity(config.nodes.len());
    for (index, node) in config.nodes.iter().enumerate() {
        let canonical = match canonical_address(&node.address) {
            Ok(canonical) => canonical,
            Err(problem) => {
                errors.at(Position::node(index), || {
                    ValidationErrorKind::InvalidAddress {
                        node: node.id.clone(),
                        address: node.address.clone(),
                        problem,
                    }
                });
                continue;
            }
        };
        match owners.entry(canonical) {
            Entry::Occupied(other) => errors.at(Position::node(index), || {
                ValidationErrorKind::DuplicateAddress {
                    address: node.address.clone(),
                    nodes: sorted_pair(other.get(), &node.id),
                }
            }),
            Entry::Vacant(slot) => {
                slot.insert(&node.id);
            }
        }
    }
}
