use serde::{Deserialize, Serialize};

/// The id of a series, as RusTs' core crate defines it.
pub type SeriesId = u64;

/// A point in time in nanoseconds since the Unix epoch, as RusTs' core crate
/// defines it. Negative values are times before 1970.
pub type Timestamp = i64;

/// The id of a shard, in `0..shard_count`.
pub type ShardId = u32;

/// The key of one point: what a sharding strategy maps to a shard.
///
/// Use [`ShardKeyRef`] instead where the measurement is already held
/// elsewhere, so that routing a point needs no `String`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ShardKey {
    /// The measurement name, e.g. `cpu`.
    pub measurement: String,
    /// The series the point belongs to.
    pub series_id: SeriesId,
    /// The point's time in nanoseconds since the Unix epoch.
    pub timestamp: Timestamp,
}

impl ShardKey {
    /// Creates a key.
    ///
    /// ```
    /// use rusts_cluster_sharding::ShardKey;
    ///
    /// let key = ShardKey::new("cpu", 7, 0);
    /// assert_eq!(key.measurement, "cpu");
    /// ```
    pub fn new(measurement: impl Into<String>, series_id: SeriesId, timestamp: Timestamp) -> Self {
        ShardKey {
            measurement: measurement.into(),
            series_id,
            timestamp,
        }
    }

    /// Borrows this key as a [`ShardKeyRef`].
    pub fn as_key_ref(&self) -> ShardKeyRef<'_> {
        ShardKeyRef {
            measurement: &self.measurement,
            series_id: self.series_id,
            timestamp: self.timestamp,
        }
    }
}

/// A borrowed [`ShardKey`]: the same fields, with the measurement as a `&str`.
///
/// Every function that takes a key accepts `&ShardKey`, `ShardKeyRef` or
/// `&ShardKeyRef` (through `Into<ShardKeyRef>`), and a borrowed key routes
/// to exactly the shard the owned one does.
///
/// ```
/// use rusts_cluster_sharding::{ShardKey, ShardKeyRef, ShardingStrategy};
///
/// let strategy = ShardingStrategy::ByMeasurement;
/// let line = String::from("cpu,host=a usage=0.5");
/// let measurement = &line[..3];
/// let borrowed = ShardKeyRef::new(measurement, 1, 0);
/// let owned = ShardKey::new("cpu", 1, 0);
/// assert_eq!(strategy.compute_shard(borrowed, 64), strategy.compute_shard(&owned, 64));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardKeyRef<'a> {
    /// The measurement name, e.g. `cpu`.
    pub measurement: &'a str,
    /// The series the point belongs to.
    pub series_id: SeriesId,
    /// The point's time in nanoseconds since the Unix epoch.
    pub timestamp: Timestamp,
}

impl<'a> ShardKeyRef<'a> {
    /// Creates a borrowed key.
    pub fn new(measurement: &'a str, series_id: SeriesId, timestamp: Timestamp) -> Self {
        ShardKeyRef {
            measurement,
            series_id,
            timestamp,
        }
    }

    /// Copies this key into an owned [`ShardKey`].
    pub fn to_owned_key(&self) -> ShardKey {
        ShardKey::new(self.measurement, self.series_id, self.timestamp)
    }
}

impl<'a> From<&'a ShardKey> for ShardKeyRef<'a> {
    fn from(key: &'a ShardKey) -> Self {
        key.as_key_ref()
    }
}

impl<'a> From<&ShardKeyRef<'a>> for ShardKeyRef<'a> {
    fn from(key: &ShardKeyRef<'a>) -> Self {
        *key
    }
}
