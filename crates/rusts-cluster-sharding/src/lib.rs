/*!
Maps a time series key (measurement, series id, timestamp) to one of a fixed
number of shards, and describes a shard: its primary, replicas and state.

This crate is for code that needs only the mapping, such as a storage engine
that places points itself or a tool that predicts where a series lives.
Applications that load a cluster description and route against it should use
the `rusts-cluster` facade instead, which combines this crate with the config,
replication and routing layers.

The design decision that shapes this crate is that **the mapping is a
contract**. Every stored series sits on the shard that [`compute_shard`] gave
it when it was written, so any change to a formula moves every series and is a
breaking change. The formulas are therefore spelled out on
[`ShardingStrategy`], pinned by value-stability tests, and total: they return
a shard for every key and every strategy value, including ones that
validation would refuse, and never panic.

# Example

```
use rusts_cluster_sharding::{ShardKey, ShardingStrategy};

// One-hour time buckets, spread over 16 shards.
let strategy = ShardingStrategy::by_time(3_600_000_000_000)?;
let key = ShardKey::new("cpu", 42, 1_700_000_000_000_000_000);
let shard = strategy.compute_shard(&key, 16);
assert!(shard < 16);
// The same key always maps to the same shard.
assert_eq!(shard, strategy.compute_shard(&key, 16));
# Ok::<(), Box<dyn std::error::Error>>(())
```

[`compute_shard`]: ShardingStrategy::compute_shard
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    error::ShardingError,
    key::{SeriesId, ShardId, ShardKey, ShardKeyRef, Timestamp},
    mapper::ShardMapper,
    shard::{CopyRole, CopyState, Shard, ShardState},
    split::ShardSplit,
    strategy::ShardingStrategy,
};

mod error;
mod key;
mod mapper;
mod shard;
mod split;
mod strategy;

#[cfg(feature = "testing")]
pub mod testing;

/// Compiles and runs the examples of this crate's README as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
