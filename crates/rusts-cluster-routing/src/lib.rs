/*!
Routes a key to its shard and the nodes that hold it, and plans queries at
a read level, from many threads at once, while shard states, node
availability and the config itself change.

Use this crate directly in a storage engine that already has a validated
[`ClusterConfig`](rusts_cluster_config::ClusterConfig) and needs only
routing. Most applications should use the `rusts-cluster` facade, which
re-exports this crate beside the layers it builds on.

The design decision that shapes this crate is that **routing takes no lock
and writes no shared memory**. The router keeps an id-indexed snapshot of the
shard table behind an [`arc_swap::ArcSwap`]: readers only read it, and a
state change, or a newer config generation taken live with
[`ShardRouter::apply`], builds a new snapshot and swaps it in whole, so
every answer comes from one generation. A `DashMap` on the
route path (the architecture's first design) makes every reader write a
shared cache line, and measured 1.3-1.6x scaling on 16 cores where a
read-only snapshot scaled 12.5x (`docs/decisions/0001-snapshot-router.md`).
[`route`](ShardRouter::route) returns a [`ShardHandle`]: a cheap handle that
dereferences to the [`Shard`](rusts_cluster_sharding::Shard) without copying or allocating.

# Example

```
use rusts_cluster_config::ClusterConfig;
use rusts_cluster_routing::ShardRouter;
use rusts_cluster_sharding::{ShardKey, ShardState};

let config = ClusterConfig::from_toml(r#"
    node_id = "node1"
    replication_factor = 2
    shard_count = 4

    [[nodes]]
    id = "node1"
    address = "10.0.1.1:8086"
    shards = [0, 1]
    replica_shards = [2, 3]

    [[nodes]]
    id = "node2"
    address = "10.0.1.2:8086"
    shards = [2, 3]
    replica_shards = [0, 1]
"#)?;
let router = ShardRouter::from_config(&config)?;

// BySeries (the default): series 6 goes to shard 6 % 4 = 2.
let shard = router.route(&ShardKey::new("cpu", 6, 0))?;
assert_eq!(shard.id, 2);
assert_eq!(shard.primary, "node2");
assert_eq!(shard.address.as_deref(), Some("10.0.1.2:8086"));
assert_eq!(shard.replicas, ["node1"]);
assert!(router.holds_shard(2) && !router.is_primary_for(2));

// A new generation is seen by the next route, from any thread: here
// shard 2 turns read-only, a state the config gives it.
let mut next = config.clone();
next.generation = 1;
next.read_only_shards = vec![2];
router.apply(&next)?;
assert_eq!(router.route(&ShardKey::new("cpu", 6, 0))?.state, ShardState::ReadOnly);
assert!(!router.route(&ShardKey::new("cpu", 6, 0))?.can_write());
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    apply::{ApplyChecks, ConfigChange},
    batch::{BatchRoute, ShardGroup},
    error::RoutingError,
    peer::PeerView,
    query::{KeyFilter, NodeTarget, Query, QueryPlan, ReadConsistency, ShardRead},
    reader::RouterReader,
    router::ShardRouter,
    view::{ShardCopy, ShardHandle, ShardView},
};

mod apply;
mod batch;
mod error;
mod peer;
mod query;
mod reader;
mod router;
mod snapshot;
mod split;
mod topology;
mod view;

/// Compiles and runs the examples of `docs/queries.md` as doctests.
// A link to the workspace's docs/queries.md inside this crate, so that the
// packaged crate holds the file and its doctests run there too.
#[doc = include_str!("../docs/queries.md")]
#[cfg(doctest)]
pub struct QueriesDocDoctests;

/// Compiles and runs the examples of this crate's README as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
