//! Addresses that pass from one node to another between two generations.

use std::collections::HashMap;

use serde::Serialize;
use thiserror::Error;

use crate::{address::comparable_address, ClusterConfig};

/// An address that names one node in the `from` config and another node in
/// the `to` config (see [`address_handovers`]). It is also the error that
/// refuses such a pair: `rusts_cluster_routing::RoutingError` and
/// `rusts_cluster_placement::PlacementError` wrap it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Error)]
#[error(
    "address {address} is node \"{from_node}\"'s in generation {from_generation}, where it holds \
     copies, and node \"{to_node}\"'s in generation {to_generation}{}; nodes still running \
     generation {from_generation} would send \"{from_node}\"'s requests to \"{to_node}\", so hand \
     the address over in two generations: move \"{from_node}\" off it (or remove it) first, and \
     once every node runs that, give the address to \"{to_node}\"",
    Respelled(address, to_address)
)]
#[non_exhaustive]
pub struct AddressHandover {
    /// The address, as `from` writes it.
    pub address: String,
    /// The address as `to` writes it for `to_node`: another spelling of
    /// the same address where the two differ (`10.0.0.3:08086`,
    /// `Node-C.internal:8086`), which is compared in its canonical form.
    pub to_address: String,
    /// The node that has it in `from`, and holds copies there.
    pub from_node: String,
    /// The other node that has it in `to`.
    pub to_node: String,
    /// Whether `to` drops `from_node` (otherwise it moved to another
    /// address).
    pub removed: bool,
    /// The generation of `from`.
    pub from_generation: u64,
    /// The generation of `to`.
    pub to_generation: u64,
}

/// The addresses that pass from one node to another between `from` and
/// `to`, where the node that had one holds copies in `from`: in order of
/// `from`'s nodes.
///
/// No coordination service means nodes run both configs for a while, and
/// one still running `from` sends the old node's requests (writes to its
/// copies, reads of them) to the address, which the new node now answers:
/// an acknowledgement counted for a copy that never stored the write. Hand
/// an address over in two deployments instead: first move the old node off
/// it (or remove it), wait until every node runs that config, then give
/// the address to the other node. A node that holds no copies receives no
/// requests, so its address may pass at once.
///
/// `rusts_cluster_placement::plan_transition` refuses a plan with any,
/// `rusts_cluster_routing::ShardRouter::apply` refuses a config with any,
/// and `rusts-cluster rebalance` and `diff` warn of each (`address-in-use`).
///
/// ```
/// use rusts_cluster_config::{address_handovers, ClusterConfig};
///
/// let old = ClusterConfig::from_toml(r#"
///     node_id = "a"
///     shard_count = 2
///     [[nodes]]
///     id = "a"
///     address = "10.0.0.1:8086"
///     shards = [0]
///     [[nodes]]
///     id = "b"
///     address = "10.0.0.2:8086"
///     shards = [1]
/// "#)?;
/// // a and b swap addresses.
/// let mut new = old.clone();
/// new.generation = 1;
/// new.nodes[0].address = "10.0.0.2:8086".into();
/// new.nodes[1].address = "10.0.0.1:8086".into();
/// let handovers = address_handovers(&old, &new);
/// assert_eq!(handovers.len(), 2);
/// let first = &handovers[0];
/// assert_eq!(first.address, "10.0.0.1:8086");
/// assert_eq!((first.from_node.as_str(), first.to_node.as_str()), ("a", "b"));
/// assert!(!first.removed);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn address_handovers(from: &ClusterConfig, to: &ClusterConfig) -> Vec<AddressHandover> {
    // Compared as the duplicate-address rule compares them, so that a
    // respelling (`10.0.0.3:08086`, `Node-C.internal`, an IPv6 long form)
    // is the same address here too.
    let owners: HashMap<_, &crate::NodeConfig> = to
        .nodes
        .iter()
        .map(|n| (comparable_address(&n.address), n))
        .collect();
    from.nodes
        .iter()
        .filter(|node| !node.shards.is_empty() || !node.replica_shards.is_empty())
        .filter_map(|node| {
            let &owner = owners.get(&comparable_address(&node.address))?;
            (owner.id != node.id).then(|| AddressHandover {
                address: node.address.clone(),
                to_address: owner.address.clone(),
                from_node: node.id.clone(),
                to_node: owner.id.clone(),
                removed: to.get_node(&node.id).is_none(),
                from_generation: from.generation,
                to_generation: to.generation,
            })
        })
        .collect()
}

/// ` (written `B` there)` when `to` spells the address otherwise.
struct Respelled<'a>(&'a str, &'a str);

impl std::fmt::Display for Respelled<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0 == self.1 {
            Ok(())
        } else {
            write!(f, " (written {} there, the same address)", self.1)
        }
    }
}
