use std::{fmt, sync::Arc};

use arc_swap::Guard;
use rusts_cluster_sharding::{ShardId, ShardKeyRef};

use crate::{snapshot::Snapshot, RoutingError, ShardView};

/// Below this many keys per shard the batch is grouped by sorting instead of
/// counting, so that a small batch never pays for a large shard table.
const DENSE_SHARDS_PER_KEY: usize = 8;

/// A routed batch: the keys' indices grouped by shard, in shard-id order, all
/// against one snapshot of the router. Returned by
/// [`ShardRouter::route_batch`](crate::ShardRouter::route_batch).
///
/// Every key of the batch is in exactly one group. Key indices are `u32`
/// (a batch holds at most `u32::MAX` keys) and ascending within a group.
/// Holding a `BatchRoute` keeps its snapshot alive; let it go when the batch
/// is written.
pub struct BatchRoute {
    snapshot: Guard<Arc<Snapshot>>,
    /// The shard of each key, by key index.
    shard_of: Vec<ShardId>,
    /// Key indices, grouped by shard.
    indices: Vec<u32>,
    /// Each group's shard and the end of its run in `indices`, by shard id.
    groups: Vec<(ShardId, u32)>,
}

impl BatchRoute {
    /// The groups, one per shard that at least one key maps to, in
    /// shard-id order.
    pub fn groups(&self) -> impl ExactSizeIterator<Item = ShardGroup<'_>> + '_ {
        self.groups
            .iter()
            .enumerate()
            .map(move |(i, &(shard, end))| {
                let start = if i == 0 { 0 } else { self.groups[i - 1].1 };
                ShardGroup {
                    shard: ShardView {
                        snapshot: &self.snapshot,
                        index: shard,
                    },
                    keys: &self.indices[start as usize..end as usize],
                }
            })
    }

    /// The number of groups: the number of distinct shards in the batch.
    pub fn group_count(&self) -> usize {
        self.groups.len()
    }

    /// The shard of each key, by key index.
    pub fn shards(&self) -> &[ShardId] {
        &self.shard_of
    }

    /// The shard of the key at `key_index`.
    ///
    /// # Panics
    ///
    /// When `key_index` is not below the batch's length, like slice
    /// indexing.
    pub fn shard_of(&self, key_index: usize) -> ShardId {
        self.shard_of[key_index]
    }

    /// The number of keys in the batch.
    pub fn key_count(&self) -> usize {
        self.shard_of.len()
    }

    /// The generation of the config the whole batch was routed with.
    pub fn generation(&self) -> u64 {
        self.snapshot.topology.generation
    }

    /// The key indices of every group, concatenated in group order: group
    /// `i`'s [`key_indices`](ShardGroup::key_indices) are the next
    /// `key_indices().len()` entries. Releases the snapshot, so that a
    /// caller that keeps the grouping (a write in flight) does not keep
    /// the snapshot alive.
    pub fn into_key_indices(self) -> Vec<u32> {
        self.indices
    }
}

impl fmt::Debug for BatchRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.groups()).finish()
    }
}

/// The keys of a batch that map to one shard.
#[derive(Clone, Copy)]
pub struct ShardGroup<'a> {
    shard: ShardView<'a>,
    keys: &'a [u32],
}

impl<'a> ShardGroup<'a> {
    /// The shard, with its state and the availability of its copies: check
    /// [`ShardView::accepts_writes`] before writing the group.
    pub fn shard(&self) -> ShardView<'a> {
        self.shard
    }

    /// The indices, into the routed slice, of the keys that map to this
    /// shard, ascending.
    pub fn key_indices(&self) -> &'a [u32] {
        self.keys
    }
}

impl fmt::Debug for ShardGroup<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShardGroup")
            .field("shard", &self.shard.id)
            .field("accepts_writes", &self.shard.accepts_writes())
            .field("keys", &self.keys)
            .finish()
    }
}

pub(crate) fn route_batch<'k, I>(
    snapshot: Guard<Arc<Snapshot>>,
    keys: I,
) -> Result<BatchRoute, RoutingError>
where
    I: ExactSizeIterator<Item = ShardKeyRef<'k>>,
{
    if u32::try_from(keys.len()).is_err() {
        return Err(RoutingError::BatchTooLarge { keys: keys.len() });
    }
    // The mapper of the snapshot the groups index: one generation's count.
    let mapper = snapshot.mapper;
    let shard_count = snapshot.shards.len();
    let (shard_of, indices, groups) =
        if shard_count <= keys.len().saturating_mul(DENSE_SHARDS_PER_KEY) {
            // Count while mapping, one pass over the keys fewer, and mark
            // each shard touched in a bitset, so that finding the groups
            // visits the touched shards only, not the whole table.
            let mut counts = vec![0u32; shard_count];
            let mut touched = vec![0u64; shard_count.div_ceil(64)];
            let shard_of: Vec<ShardId> = keys
                .map(|key| {
                    let shard = mapper.compute_shard(key);
                    counts[shard as usize] += 1;
                    touched[shard as usize / 64] |= 1 << (shard % 64);
                    shard
                })
                .collect();
            let (indices, groups) = group_by_counting(&shard_of, counts, &touched);
            (shard_of, indices, groups)
        } else {
            let shard_of: Vec<ShardId> = keys.map(|key| mapper.compute_shard(key)).collect();
            let (indices, groups) = group_by_sorting(&shard_of);
            (shard_of, indices, groups)
        };
    Ok(BatchRoute {
        snapshot,
        shard_of,
        indices,
        groups,
    })
}

/// Groups with a counting sort over the shard table, given each shard's
/// key count and the set of shards touched: one pass over the touched
/// shards and one over the keys.
fn group_by_counting(
    shard_of: &[ShardId],
    counts: Vec<u32>,
    touched: &[u64],
) -> (Vec<u32>, Vec<(ShardId, u32)>) {
    let mut next = counts;
    let mut groups = Vec::with_capacity(next.len().min(shard_of.len()));
    let mut end = 0u32;
    for (word_index, &word) in touched.iter().enumerate() {
        let mut bits = word;
        while bits != 0 {
            let shard = word_index * 64 + bits.trailing_zeros() as usize;
            bits &= bits - 1;
            let start = end;
            end += next[shard];
            groups.push((shard as ShardId, end));
            // From here on, `next[shard]` is where the shard's next key goes.
            next[shard] = start;
        }
    }
    let mut indices = vec![0u32; shard_of.len()];
    for (key, &shard) in shard_of.iter().enumerate() {
        let slot = &mut next[shard as usize];
        indices[*slot as usize] = key as u32;
        *slot += 1;
    }
    (indices, groups)
}

/// Groups by sorting (shard, key index) pairs: for a batch much smaller than
/// the shard table.
fn group_by_sorting(shard_of: &[ShardId]) -> (Vec<u32>, Vec<(ShardId, u32)>) {
    let mut pairs: Vec<u64> = shard_of
        .iter()
        .enumerate()
        .map(|(key, &shard)| (u64::from(shard) << 32) | key as u64)
        .collect();
    pairs.sort_unstable();
    // At most one group per key; sized up front so it never regrows.
    let mut groups: Vec<(ShardId, u32)> = Vec::with_capacity(shard_of.len());
    for (position, &pair) in pairs.iter().enumerate() {
        let shard = (pair >> 32) as ShardId;
        match groups.last_mut() {
            Some((last, end)) if *last == shard => *end = position as u32 + 1,
            _ => groups.push((shard, position as u32 + 1)),
        }
    }
    let indices = pairs.into_iter().map(|pair| pair as u32).collect();
    (indices, groups)
}
