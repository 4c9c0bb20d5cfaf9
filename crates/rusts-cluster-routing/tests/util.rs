//! Helpers the topic modules share.

use proptest::prelude::*;
use rusts_cluster_routing::ShardHandle;
use rusts_cluster_sharding::{ShardId, ShardKey};

/// Any key: a short measurement name, any series id, any timestamp.
pub(crate) fn any_key() -> impl Strategy<Value = ShardKey> {
    ("[a-z]{0,12}", any::<u64>(), any::<i64>()).prop_map(|(m, id, ts)| ShardKey::new(m, id, ts))
}

/// The ids of `shards`, in their order.
pub(crate) fn ids(shards: &[ShardHandle]) -> Vec<ShardId> {
    shards.iter().map(|s| s.id).collect()
}
