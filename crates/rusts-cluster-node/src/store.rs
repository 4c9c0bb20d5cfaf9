//! The node's store: points and the core's saved state in one redb file
//! (decision 0040).

// redb's own `Error` is 160 bytes and its API returns it by value; these
// functions pass it through as redb does, and `NodeError` boxes it.
#![allow(clippy::result_large_err)]

use std::{ops::Bound, path::Path};

use redb::{Database, ReadableTable, TableDefinition};
use rusts_cluster::{
    protocol::{Point, PointId},
    routing::KeyFilter,
    sharding::ShardId,
};

use crate::Sample;

/// Points by (local shard, measurement, series, timestamp): a shard's
/// points are one contiguous range, in [`PointId`] order, which is the
/// order catch-up pages in.
const POINTS: TableDefinition<'_, (u32, &str, u64, i64), f64> = TableDefinition::new("points");

/// The core's saved state, under [`STATE_KEY`].
const STATE: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("state");
const STATE_KEY: &str = "core";

/// The node's embedded store. Every write is one redb transaction, and
/// redb's default durability (`Immediate`) makes `commit` return only once
/// the data is on disk (fsync): what the node acknowledges survives
/// `kill -9`.
pub(crate) struct Store {
    db: Database,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").finish_non_exhaustive()
    }
}

/// A key of [`POINTS`].
type Key = (u32, &'static str, u64, i64);

fn shard_range(shard: ShardId) -> (Bound<Key>, Bound<Key>) {
    (
        Bound::Included((shard, "", 0, i64::MIN)),
        Bound::Excluded((shard + 1, "", 0, i64::MIN)),
    )
}

impl Store {
    /// Opens (or creates) the store at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, redb::Error> {
        let db = Database::create(path)?;
        // Both tables exist from the first start, so reads never meet a
        // missing table.
        let txn = db.begin_write()?;
        txn.open_table(POINTS)?;
        txn.open_table(STATE)?;
        txn.commit()?;
        Ok(Store { db })
    }

    /// Stores `points`, each under its local shard, in one durable
    /// transaction, by the merge rule: of two versions of one point, the
    /// greater stays (engine obligation "keep the greater version").
    pub(crate) fn put<'p>(
        &self,
        points: impl IntoIterator<Item = (ShardId, &'p Sample)>,
    ) -> Result<usize, redb::Error> {
        let txn = self.db.begin_write()?;
        let mut count = 0;
        {
            let mut table = txn.open_table(POINTS)?;
            for (shard, point) in points {
                let key = (
                    shard,
                    point.measurement.as_str(),
                    point.series_id,
                    point.timestamp,
                );
                let kept = table.get(key)?.map(|v| v.value());
                if kept.is_none_or(|kept| point.value.total_cmp(&kept).is_gt()) {
                    table.insert(key, point.value)?;
                }
                count += 1;
            }
        }
        // Durable before the caller answers "stored".
        txn.commit()?;
        Ok(count)
    }

    /// The points of `shards` that `filter` matches.
    pub(crate) fn scan(
        &self,
        shards: &[ShardId],
        filter: &KeyFilter,
    ) -> Result<Vec<Sample>, redb::Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(POINTS)?;
        let mut rows = Vec::new();
        for &shard in shards {
            for entry in table.range(shard_range(shard))? {
                let (key, value) = entry?;
                let point = sample(key.value(), value.value());
                if filter.matches(point.key()) {
                    rows.push(point);
                }
            }
        }
        Ok(rows)
    }

    /// A catch-up page of `shards`: at most `limit` points after `after`,
    /// in [`PointId`] order across the shards, and whether it is the last.
    pub(crate) fn page(
        &self,
        shards: &[ShardId],
        after: Option<&PointId>,
        limit: u32,
    ) -> Result<(Vec<Sample>, bool), redb::Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(POINTS)?;
        let limit = limit as usize;
        let mut points = Vec::new();
        for &shard in shards {
            let start = match after {
                Some(a) => {
                    Bound::Excluded((shard, a.measurement.as_str(), a.series_id, a.timestamp))
                }
                None => Bound::Included((shard, "", 0, i64::MIN)),
            };
            let end = Bound::Excluded((shard + 1, "", 0, i64::MIN));
            // One more than the limit tells whether a page follows.
            for entry in table
                .range::<(u32, &str, u64, i64)>((start, end))?
                .take(limit + 1)
            {
                let (key, value) = entry?;
                points.push(sample(key.value(), value.value()));
            }
        }
        points.sort();
        let done = points.len() <= limit;
        points.truncate(limit);
        Ok((points, done))
    }

    /// Deletes the data of `shards` (only once the core says they are
    /// droppable: engine obligation "delete data only when told"), and
    /// persists `state` in the same transaction when given.
    pub(crate) fn drop_shards(
        &self,
        shards: &[ShardId],
        state: Option<&[u8]>,
    ) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        {
            let mut table = txn.open_table(POINTS)?;
            for &shard in shards {
                table.retain_in(shard_range(shard), |_, _| false)?;
            }
        }
        if let Some(state) = state {
            txn.open_table(STATE)?.insert(STATE_KEY, state)?;
        }
        txn.commit()?;
        Ok(())
    }

    /// How many points the store holds, over every shard.
    pub(crate) fn len(&self) -> Result<u64, redb::Error> {
        use redb::ReadableTableMetadata;
        let txn = self.db.begin_read()?;
        Ok(txn.open_table(POINTS)?.len()?)
    }

    /// Persists the core's saved state, durably.
    pub(crate) fn save_state(&self, bytes: &[u8]) -> Result<(), redb::Error> {
        let txn = self.db.begin_write()?;
        txn.open_table(STATE)?.insert(STATE_KEY, bytes)?;
        txn.commit()?;
        Ok(())
    }

    /// The core's last saved state, or `None` on a first start.
    pub(crate) fn load_state(&self) -> Result<Option<Vec<u8>>, redb::Error> {
        let txn = self.db.begin_read()?;
        let table = txn.open_table(STATE)?;
        Ok(table.get(STATE_KEY)?.map(|v| v.value().to_vec()))
    }
}

fn sample((_, measurement, series_id, timestamp): (u32, &str, u64, i64), value: f64) -> Sample {
    Sample {
        measurement: measurement.to_owned(),
        series_id,
        timestamp,
        value,
    }
}
