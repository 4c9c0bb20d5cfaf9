/*!
Plans where shard copies go: balanced, zone-aware placements of a RusTs
cluster's shards on its nodes, the moves between two placements, and the
steps that make those moves while the cluster runs.

Use this crate in operator tools that write or change cluster files (the
`rusts-cluster` command's `generate`, `rebalance`, `diff` and `transition`
use it). A
storage engine never needs it: it reads the placement a config file holds,
through the `rusts-cluster` facade, which does not depend on this crate.

The design decision that shapes this crate is that **one greedy algorithm
with targets serves both a new cluster and a changed one**: [`balance`]
keeps the copies a config already lists wherever balance allows, so that a
new cluster is the case with nothing listed, and adding a node moves about
that node's share of copies and no more. [`plan_moves`] then says what
changes, shard by shard and node by node, and which shards a change puts
at risk (`docs/decisions/0009-placement-and-rebalance.md`), and
[`plan_transition`] writes the three configs that move them while nodes
run different generations: writes to old and new copies with reads from
the old, then from the new, then the new placement
(`docs/decisions/0019-joint-copies.md`); [`plan_way_back`] writes the
configs that return from step 1 or 2 to the placement it started from
(`docs/decisions/0043-the-way-back.md`). The file format, validation and
the warnings about balance and zone spread belong to
`rusts-cluster-config`.

# Example

```
use rusts_cluster_config::ClusterConfig;
use rusts_cluster_placement::{
    balance, plan_moves, plan_transition, with_node_changes, DEFAULT_ZONE_TAG,
};

// Six nodes in three zones, 48 shards with three copies each.
let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/three-zones.toml"))?;
// Remove a node: its copies go to the other node of its zone, so every
// shard keeps one copy per zone.
let changed = with_node_changes(&config, vec![], &["db-a2".to_owned()])?;
let new = balance(&changed, DEFAULT_ZONE_TAG)?;
new.validate()?;
let plan = plan_moves(&config, &new);
let copies: Vec<_> = plan
    .nodes
    .iter()
    .filter(|n| n.copies_in + n.copies_out > 0)
    .map(|n| (n.node.as_str(), n.copies_in, n.copies_out))
    .collect();
assert_eq!(copies, [("db-a1", 24, 0), ("db-a2", 0, 24)]);
assert!(!plan.has_problems()); // two copies of every shard stay put

// The steps that make the move while the cluster runs.
let transition = plan_transition(&config, &new)?;
assert_eq!(transition.steps.len(), 3);
assert_eq!(transition.catch_up.len(), 24); // one per copy db-a1 gains
// The same list a node computes from the first step it is given.
assert_eq!(transition.catch_up, transition.steps[0].config.catch_ups());
assert_eq!(transition.drops.len(), 24); // db-a2's copies, once every node runs the last step
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    balance::{balance, with_node_changes, zone_count},
    error::{ConfigRole, PlacementError},
    moves::{plan_moves, MovePlan, NodeMoves, ShardMove},
    transition::{plan_transition, TransitionPlan, TransitionStep},
    way_back::{plan_way_back, BackStep, BackStepKind, StepMismatch, WayBack},
};
/// The tag that names a node's zone unless told otherwise: `zone`, the tag
/// that [`ClusterConfig::warnings`](rusts_cluster_config::ClusterConfig::warnings)
/// reads (defined in `rusts-cluster-config`, so that the two agree).
pub use rusts_cluster_config::DEFAULT_ZONE_TAG;
/// The addresses that pass from one node to another between two configs,
/// which [`plan_transition`] refuses (defined in `rusts-cluster-config`, so
/// that `ShardRouter::apply` refuses the same).
pub use rusts_cluster_config::{address_handovers, AddressHandover};
/// The catch-ups, drops and steps of a transition (defined in
/// `rusts-cluster-config`, so that a node reading its step config computes
/// the catch-ups and drops [`plan_transition`] prints).
pub use rusts_cluster_config::{CatchUp, CopyDrop, StepKind};

mod balance;
mod error;
mod moves;
mod transition;
mod way_back;

/// Compiles and runs the crate README's example as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
