//! The engine's point type, as the protocol sees it, and the merge of
//! answers.

use std::cmp::Ordering;

use rusts_cluster_sharding::{SeriesId, ShardKeyRef, Timestamp};
use serde::{Deserialize, Serialize};

/// What the protocol needs of an engine's point: its key. The point itself
/// (fields, tags, values) is the engine's; the protocol routes, counts and
/// merges by the key alone, and never copies a point per copy.
///
/// ```
/// use rusts_cluster_protocol::Point;
/// use rusts_cluster_sharding::ShardKeyRef;
///
/// #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// struct Sample { measurement: String, series: u64, time: i64, value: i64 }
///
/// impl Point for Sample {
///     fn key(&self) -> ShardKeyRef<'_> {
///         ShardKeyRef::new(&self.measurement, self.series, self.time)
///     }
/// }
/// let sample = Sample { measurement: "cpu".into(), series: 7, time: 1, value: 3 };
/// assert_eq!(sample.key().series_id, 7);
/// ```
pub trait Point {
    /// The point's key: measurement, series id and timestamp.
    fn key(&self) -> ShardKeyRef<'_>;
}

/// A point's identity: its measurement, series id and timestamp. Two
/// points with the same identity are versions of one point; the merge of
/// a read keeps one ([`merge`]). Catch-up pages in this order.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PointId {
    /// The measurement.
    pub measurement: String,
    /// The series id.
    pub series_id: SeriesId,
    /// The timestamp.
    pub timestamp: Timestamp,
}

impl PointId {
    /// The identity of `point`.
    pub fn of<P: Point + ?Sized>(point: &P) -> Self {
        let key = point.key();
        PointId {
            measurement: key.measurement.to_owned(),
            series_id: key.series_id,
            timestamp: key.timestamp,
        }
    }

    /// Orders `key` against this identity, as [`PointId`]'s order does.
    pub fn cmp_key(&self, key: ShardKeyRef<'_>) -> Ordering {
        order(
            ShardKeyRef::new(&self.measurement, self.series_id, self.timestamp),
            key,
        )
    }
}

/// The order of identities: measurement, then series id, then timestamp.
pub(crate) fn order(a: ShardKeyRef<'_>, b: ShardKeyRef<'_>) -> Ordering {
    a.measurement
        .cmp(b.measurement)
        .then(a.series_id.cmp(&b.series_id))
        .then(a.timestamp.cmp(&b.timestamp))
}

/// Merges the answers of several copies into one list: sorted by identity
/// ([`PointId`]'s order), one point per identity.
///
/// **When copies disagree** (two points with one identity that differ),
/// the merge keeps the greatest under `P`'s own `Ord`. The rule depends on
/// the values alone, not on which copy answered first or which copies
/// answered, so every coordinator that sees the same versions returns the
/// same point, and a read repeated against other copies does not flip
/// between versions. An engine that wants last-writer-wins orders its
/// points by a write time or sequence number first.
/// `docs/decisions/0032-the-merge-keeps-the-greatest-version.md` says why.
///
/// ```
/// use rusts_cluster_protocol::{merge, Point};
/// use rusts_cluster_sharding::ShardKeyRef;
///
/// #[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
/// struct P(u64, i64, i64); // series, time, value
/// impl Point for P {
///     fn key(&self) -> ShardKeyRef<'_> { ShardKeyRef::new("cpu", self.0, self.1) }
/// }
/// let copy_a = vec![P(1, 10, 5), P(2, 10, 7)];
/// let copy_b = vec![P(2, 10, 9), P(1, 20, 1)];
/// let merged = merge([copy_a, copy_b].concat());
/// assert_eq!(merged, [P(1, 10, 5), P(1, 20, 1), P(2, 10, 9)]);
/// ```
pub fn merge<P: Point + Ord>(mut rows: Vec<P>) -> Vec<P> {
    // Identity ascending, and within one identity the greatest version
    // first, so that dedup keeps it.
    rows.sort_unstable_by(|a, b| order(a.key(), b.key()).then_with(|| b.cmp(a)));
    rows.dedup_by(|later, kept| order(later.key(), kept.key()) == Ordering::Equal);
    rows
}
