/*!
Loads, validates and saves the static TOML description of a RusTs cluster:
its nodes, the primary and replica shards each holds, the replication factor
and mode, and the sharding strategy.

Use this crate directly in tools that read or write cluster files without
routing (generators, linters, deployment scripts). A storage engine that
routes keys should use the `rusts-cluster` facade, whose router validates the
config it is built from.

The design decision that shapes this crate is that **validation reports every
problem at once, each as a structured value**. An operator fixing a
hand-written file at 3 a.m. should see all twelve mistakes in one run, each
naming the node, shard or field and saying what to do; a program should be
able to match on which rule failed ([`ValidationError::kind`]) and where
([`ValidationError::position`]) without parsing text. Problems that do not break routing but put data at risk (a shard with
fewer copies than the replication factor) are warnings from a separate call,
[`ClusterConfig::warnings`], so a cluster can start while it is being
repaired.

# Example

```
use rusts_cluster_config::{ClusterConfig, ValidationErrorKind};

let text = r#"
replication_factor = 2
shard_count = 4

[[nodes]]
id = "node1"
address = "10.0.1.1:8086"
shards = [0, 1]
replica_shards = [2, 3]

[[nodes]]
id = "node2"
address = "10.0.1.1:8086"
shards = [1, 2, 3]
replica_shards = [0]
"#;
let config = ClusterConfig::from_toml(text)?;
let err = config.validate().unwrap_err();
// Both problems are reported, each naming what is wrong.
assert_eq!(err.validation_errors().len(), 2);
assert!(matches!(err.validation_errors()[0].kind(), ValidationErrorKind::DuplicateAddress { .. }));
assert_eq!(
    err.validation_errors()[1].to_string(),
    "shard 1 is in the `shards` of both \"node1\" and \"node2\", but a shard has one \
     primary; keep it in one node's `shards` (and in the other's `replica_shards` if that \
     node should keep a copy)",
);

// Saving and loading gives back the same config.
assert_eq!(ClusterConfig::from_toml(&config.to_toml()?)?, config);
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    address::{canonical_address, AddressProblem},
    catch_up::{CatchUp, CopyDrop},
    config::{ClusterConfig, ConfigFile, MoveReads, NodeConfig, MAX_CONFIG_BYTES},
    copies::{CopyEntry, CopyIndex},
    error::{ConfigError, Location},
    handover::{address_handovers, AddressHandover},
    identity::{ConfigDigest, ConfigIdentity},
    locate::SourceMap,
    split::{split_factor, NotASplit, SplitFrom},
    step::StepKind,
    validate::{
        LookAlike, Position, ShardList, StateList, ValidationError, ValidationErrorKind,
        ValidationWarning, MAX_REPORTED_ERRORS, MAX_REPORTED_WARNINGS, MAX_SHARD_COUNT,
    },
    zones::DEFAULT_ZONE_TAG,
};

#[doc(hidden)]
pub use crate::zones::zone_indices;

#[cfg(feature = "proptest")]
pub mod strategies;

mod address;
mod catch_up;
mod config;
mod copies;
mod error;
mod handover;
mod identity;
mod locate;
mod split;
mod step;
mod validate;
mod zones;

/// Compiles and runs the crate README's example as a doctest.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
