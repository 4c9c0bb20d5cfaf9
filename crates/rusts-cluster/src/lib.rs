/*!
The cluster layer of the RusTs time series database: from a static TOML file,
with no coordination service, it tells the storage engine which shard holds a
point and which nodes hold that shard, and decides whether a replicated write
succeeded.

This is the crate to start from. It re-exports five layers, each a crate of
its own that can be depended on alone:

| module | crate | what it does |
|---|---|---|
| [`sharding`](rusts_cluster_sharding) | `rusts-cluster-sharding` | maps a key (measurement, series id, timestamp) to a shard; describes a shard and its state |
| [`replication`](rusts_cluster_replication) | `rusts-cluster-replication` | how many copies must acknowledge a write, and whether they did; the incremental quorum and the table of in-flight writes |
| [`config`](rusts_cluster_config) | `rusts-cluster-config` | loads, validates (naming every problem) and saves the TOML cluster description |
| [`routing`](rusts_cluster_routing) | `rusts-cluster-routing` | a lock-free concurrent router from key to shard to nodes |
| [`protocol`](rusts_cluster_protocol) | `rusts-cluster-protocol` | the replication protocol around those decisions, sans-IO: writes, reads, fencing, a replica's admission, catch-up |

`config` depends on `sharding` and `replication` for their enums, and
`routing` on `config`, `replication` and `sharding`, and `protocol` on all
four; nothing depends on this
facade. The one thing the facade adds is [`ClusterError`], one error type
for the whole layer that keeps each layer's structured error whole (see
[Errors](#errors)).

Operator tools that write placements (balanced, zone-aware shard
layouts, and the moves between two of them) use `rusts-cluster-placement`,
which this facade does not re-export: an engine reads the placement its
config holds and never plans one.

# Example: the path of a write

```
use rusts_cluster::prelude::*;

fn write_point(router: &ShardRouter) -> rusts_cluster::Result<()> {
    // 1. Route the point to its shard: series 3 of 16 shards is shard 3,
    //    whose copies are on node1 (primary) and node2.
    let shard = router.route(ShardKeyRef::new("cpu", 3, 1_700_000_000_000_000_000))?;
    assert!(shard.accepts_writes());
    // 2. The shard's write rule in this config: Quorum of
    //    replication_factor 2, so both copies.
    let mut quorum = shard.write_quorum()?;
    // 3. Send the point to every copy (`copy.address`), and record each
    //    answer as it arrives (here: pretend both succeeded). Many writes
    //    in flight go to a `PendingWrites` table instead.
    for copy in shard.copies() {
        quorum.record(ReplicationAck::success(copy.node_id, 1))?;
    }
    // 4. Decided: reached, or an error saying how many copies were missing.
    assert_eq!(quorum.status(), QuorumStatus::Reached);
    quorum.finish()?;
    Ok(())
}

let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
let router = ShardRouter::from_config(&config)?;
write_point(&router)?;

// Shard 10 has one copy where the factor promises 2: its writes fail at
// once, as `validate` warns, instead of being acknowledged below the promise.
assert_eq!(router.write_quorum(10)?.status(), QuorumStatus::Failed);
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Errors

Each layer has its own structured error: [`ShardingError`],
[`ReplicationError`], [`ConfigError`] and [`RoutingError`]. Each converts
into [`ClusterError`] with `?`, into the variant of its layer
([`Sharding`](ClusterError::Sharding),
[`Replication`](ClusterError::Replication),
[`Config`](ClusterError::Config), [`Routing`](ClusterError::Routing)),
which holds it whole:

- [`source()`](std::error::Error::source) returns the layer's error, to
  downcast and match on which rule failed and for which shard or node (or
  match the variant itself);
- `{}` names the layer that failed, and `{:#}` prints the whole chain of
  causes on one line, `: `-separated, as a log line wants it;
- [`code()`](ClusterError::code) is the layer error's short, stable,
  kebab-case name, the one the CLI's JSON prints.

A layer error that wraps another layer's converts into the inner one's
variant: a router refusing an invalid config gives `Config`, and a write
refused by its shard's write rule gives `Replication`.

The seed's seven variants (`Configuration(String)`, `NodeNotFound`,
`ShardNotFound`, `ReplicationFailed`, `QuorumNotReached`, `Network` and
`Serialization`) are kept, built from strings as the seed builds them, for
an engine's own errors, such as its transport's (`Network`): the layer never
returns them itself.

```
use std::error::Error;

use rusts_cluster::{ClusterConfig, ClusterError, RoutingError, ShardRouter};

let router = ShardRouter::from_config(&ClusterConfig::single_node("n", "127.0.0.1:1"))?;
let error = ClusterError::from(router.write_quorum(99).unwrap_err());
// The routing layer's own error, whole: match on the variant, or downcast
// the source.
assert!(matches!(
    error,
    ClusterError::Routing(RoutingError::ShardNotFound { shard: 99, .. })
));
assert!(error.source().unwrap().is::<RoutingError>());
assert_eq!(error.code(), "unknown-shard");
assert_eq!(error.to_string(), "routing error");
assert_eq!(
    format!("{error:#}"),
    "routing error: shard 99 does not exist; this cluster has shards 0 to 15"
);
# Ok::<(), Box<dyn std::error::Error>>(())
```

# Minimum supported Rust version

The library crates build on Rust 1.85 and later (the version `toml` 1.x
needs). Raising it is a minor-version change, made only when a dependency
or a language feature we need requires it, and noted in each CHANGELOG.
Tests and benchmarks may need a newer toolchain (`proptest` needs 1.88).
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]
// The layer table links each module to its crate explicitly: rustdoc
// resolves the short form [`routing`] (a `pub use` of a crate) but then
// renders it as literal text, and calls the explicit form redundant.
#![allow(rustdoc::redundant_explicit_links)]

pub use rusts_cluster_config as config;
pub use rusts_cluster_protocol as protocol;
pub use rusts_cluster_replication as replication;
pub use rusts_cluster_routing as routing;
pub use rusts_cluster_sharding as sharding;

pub use rusts_cluster_config::{
    address_handovers, split_factor, AddressHandover, AddressProblem, ClusterConfig, ConfigError,
    ConfigFile, CopyEntry, CopyIndex, Location, MoveReads, NodeConfig, NotASplit, Position,
    ShardList, SplitFrom, StateList, ValidationError, ValidationErrorKind, ValidationWarning,
    MAX_CONFIG_BYTES, MAX_SHARD_COUNT,
};
pub use rusts_cluster_protocol::{Core, Point, ProtocolError};
pub use rusts_cluster_replication::{
    JointSuccesses, PendingWrites, QuorumStatus, ReplicationAck, ReplicationError, ReplicationMode,
    ReplicationProtocol, ReplicationResult, WriteQuorum,
};
pub use rusts_cluster_routing::{
    BatchRoute, ConfigChange, KeyFilter, NodeTarget, Query, QueryPlan, ReadConsistency,
    RouterReader, RoutingError, ShardCopy, ShardGroup, ShardHandle, ShardRead, ShardRouter,
    ShardView,
};
pub use rusts_cluster_sharding::{
    CopyRole, CopyState, SeriesId, Shard, ShardId, ShardKey, ShardKeyRef, ShardMapper, ShardSplit,
    ShardState, ShardingError, ShardingStrategy, Timestamp,
};

pub use crate::error::{ClusterError, Result};

/// The types most programs use, for a glob import:
/// `use rusts_cluster::prelude::*;`.
pub mod prelude {
    pub use crate::{
        ClusterConfig, ClusterError, NodeConfig, PendingWrites, Query, QueryPlan, QuorumStatus,
        ReadConsistency, ReplicationAck, ReplicationMode, ReplicationProtocol, Shard, ShardKey,
        ShardKeyRef, ShardRouter, ShardState, ShardingStrategy, WriteQuorum,
    };
}

mod error;

/// Compiles and runs the README's Rust examples as doctests.
// A link to the workspace's README.md inside this crate (the crate has a
// README of its own), so that the packaged crate holds it and runs it too.
#[doc = include_str!("../docs/workspace-README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// Compiles and runs the examples of this crate's README as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;
