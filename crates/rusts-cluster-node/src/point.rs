//! The node's point: what `/write` takes and `/query` returns.

use std::cmp::Ordering;

use rusts_cluster::{protocol::Point, sharding::ShardKeyRef};
use serde::{Deserialize, Serialize};

/// One value of one series at one time. Its key (measurement, series,
/// timestamp) places it on a shard; two versions of one key are merged by
/// keeping the greater value (decision 0032: the greater version wins, on
/// a store as in a read's merge).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Sample {
    /// The measurement, never empty.
    pub measurement: String,
    /// The series within the measurement.
    pub series_id: u64,
    /// Nanoseconds since the epoch.
    pub timestamp: i64,
    /// The value.
    pub value: f64,
}

impl Sample {
    fn order_key(&self) -> (&str, u64, i64) {
        (&self.measurement, self.series_id, self.timestamp)
    }
}

// A total order, so that `Ord` is lawful for every `f64` (NaN included):
// by key, then by `f64::total_cmp` of the value.
impl Ord for Sample {
    fn cmp(&self, other: &Self) -> Ordering {
        self.order_key()
            .cmp(&other.order_key())
            .then(self.value.total_cmp(&other.value))
    }
}

impl PartialOrd for Sample {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Sample {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Sample {}

impl Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new(&self.measurement, self.series_id, self.timestamp)
    }
}
