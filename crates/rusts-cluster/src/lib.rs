/*!
The cluster layer of the RusTs time series database: from a static TOML file,
with no coordination service, it tells the storage engine which shard holds a
point and which nodes hold that shard, and decides whether a replicated write
succeeded.

This is the crate to start from. It re-exports four layers, each a crate of
its own that can be depended on alone:

| module | crate | what it does |
|---|---|---|
| [`sharding`] | `rusts-cluster-sharding` | maps a key (measurement, series id, timestamp) to a shard; describes a shard and its state |
| [`replication`] | `rusts-cluster-replication` | how many copies must acknowledge a write, and whether they did; the incremental quorum and the table of in-flight writes |
| [`config`] | `rusts-cluster-config` | loads, validates (naming every problem) and saves the TOML cluster description |
| [`routing`] | `rusts-cluster-routing` | a lock-free concurrent router from key to shard to nodes |

`config` depends on `sharding` and `replication` for their enums, and
`routing` on `config` and `sharding`; nothing depends on this facade. The one
thing the facade adds is [`ClusterError`], which every layer's error converts
into, for applications that want a single error type.

# Example: the path of a write

```
use rusts_cluster::prelude::*;

fn write_point(router: &ShardRouter, protocol: &ReplicationProtocol) -> rusts_cluster::Result<()> {
    // 1. Route the point to its shard: series 3 of 16 shards is shard 3,
    //    whose copies are on node1 (primary) and node2.
    let shard = router.route(ShardKeyRef::new("cpu", 3, 1_700_000_000_000_000_000))?;
    assert!(shard.can_write());
    // 2. Send it to every copy (here: pretend they answered).
    let acks: Vec<ReplicationAck> = shard.all_nodes().map(|node| ReplicationAck::success(node, 1)).collect();
    // 3. Decide.
    let result = protocol.check_quorum(&acks)?;
    assert!(result.quorum_reached);
    Ok(())
}

let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/cluster.toml"))?;
let router = ShardRouter::from_config(&config)?;
let protocol = ReplicationProtocol::new(config.replication_mode, config.replication_factor);
write_point(&router, &protocol)?;
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

pub use rusts_cluster_config as config;
pub use rusts_cluster_replication as replication;
pub use rusts_cluster_routing as routing;
pub use rusts_cluster_sharding as sharding;

pub use rusts_cluster_config::{
    AddressProblem, ClusterConfig, ConfigError, ConfigFile, Location, NodeConfig, ShardList,
    ValidationError, ValidationWarning, MAX_CONFIG_BYTES, MAX_SHARD_COUNT,
};
pub use rusts_cluster_replication::{
    PendingWrites, QuorumStatus, ReplicationAck, ReplicationError, ReplicationMode,
    ReplicationProtocol, ReplicationResult, WriteQuorum,
};
pub use rusts_cluster_routing::{
    BatchRoute, ConfigChange, NodeTarget, Query, QueryPlan, ReadConsistency, RouterReader,
    RoutingError, ShardCopy, ShardGroup, ShardHandle, ShardRead, ShardRouter, ShardView,
};
pub use rusts_cluster_sharding::{
    CopyRole, SeriesId, Shard, ShardId, ShardKey, ShardKeyRef, ShardMapper, ShardState,
    ShardingError, ShardingStrategy, Timestamp,
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
#[doc = include_str!("../../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
