use crate::{ShardId, ShardingError};

/// The relation between the shards of a config and those of its split: `n`
/// parent shards become `k * n` children, and child `c` is the child of
/// parent `c % n`.
///
/// Every strategy takes its shard as a non-negative number modulo the shard
/// count (`hash % n`, `series_id % n`, `bucket.rem_euclid(n)`, the wrapped
/// Composite sum `% n`), and for any such `x`, `(x mod k*n) mod n` is
/// `x mod n`. So a key of parent `p` maps, under `k * n` shards, to one of
/// `p`, `p + n`, ..., `p + (k - 1) * n`, for every strategy and every key:
/// a split never sends a key to a shard outside its parent's family. The
/// property tests `prop_split_keeps_every_key_in_its_family` and the
/// value-stability test `split_children_of_sixteen_shards` check it.
///
/// ```
/// use rusts_cluster_sharding::{ShardKeyRef, ShardSplit, ShardingStrategy};
///
/// let split = ShardSplit::new(16, 2)?; // 16 shards become 32
/// assert_eq!(split.children_of(3).collect::<Vec<_>>(), [3, 19]);
/// assert_eq!(split.parent_of(19), Some(3));
///
/// let strategy = ShardingStrategy::by_time(3_600_000_000_000)?;
/// let key = ShardKeyRef::new("cpu", 42, -1);
/// let parent = strategy.compute_shard(key, 16);
/// let child = strategy.compute_shard(key, 32);
/// assert!(split.is_child_of(child, parent));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ShardSplit {
    parents: u32,
    factor: u32,
}

impl ShardSplit {
    /// The split of `parent_count` shards by `factor`.
    ///
    /// # Errors
    ///
    /// [`ShardingError::SplitFactor`] for a factor below 2, and
    /// [`ShardingError::SplitShardCount`] when there are no shards to split
    /// or the result does not fit a `u32` shard count.
    ///
    /// ```
    /// use rusts_cluster_sharding::{ShardSplit, ShardingError};
    ///
    /// assert_eq!(ShardSplit::new(16, 4)?.child_count(), 64);
    /// assert!(matches!(ShardSplit::new(16, 1), Err(ShardingError::SplitFactor { factor: 1 })));
    /// assert!(ShardSplit::new(1 << 31, 2).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new(parent_count: u32, factor: u32) -> Result<Self, ShardingError> {
        if factor < 2 {
            return Err(ShardingError::SplitFactor { factor });
        }
        if parent_count == 0 || parent_count.checked_mul(factor).is_none() {
            return Err(ShardingError::SplitShardCount {
                parent_count,
                factor,
            });
        }
        Ok(ShardSplit {
            parents: parent_count,
            factor,
        })
    }

    /// The shard count before the split, `n`.
    pub fn parent_count(self) -> u32 {
        self.parents
    }

    /// The factor `k`.
    pub fn factor(self) -> u32 {
        self.factor
    }

    /// The shard count after the split, `k * n`.
    pub fn child_count(self) -> u32 {
        // `new` checked that the product fits.
        self.parents * self.factor
    }

    /// The parent of `child`: `child % n`, or `None` when `child` is not
    /// below [`child_count`](Self::child_count).
    #[inline]
    pub fn parent_of(self, child: ShardId) -> Option<ShardId> {
        (child < self.child_count()).then_some(child % self.parents)
    }

    /// The children of `parent`, ascending: `parent`, `parent + n`, ...,
    /// `parent + (k - 1) * n`. None when `parent` is not below
    /// [`parent_count`](Self::parent_count).
    pub fn children_of(self, parent: ShardId) -> impl ExactSizeIterator<Item = ShardId> + Clone {
        let k = if parent < self.parents {
            self.factor
        } else {
            0
        };
        // `parent + i * n < k * n`, which fits a u32.
        (0..k).map(move |i| parent + i * self.parents)
    }

    /// Whether `child` is a child of `parent`.
    #[inline]
    pub fn is_child_of(self, child: ShardId, parent: ShardId) -> bool {
        self.parent_of(child) == Some(parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn children_and_parents_are_inverse() {
        let split = ShardSplit::new(5, 3).unwrap();
        assert_eq!(split.child_count(), 15);
        let mut seen = Vec::new();
        for parent in 0..5 {
            let children: Vec<_> = split.children_of(parent).collect();
            assert_eq!(children.len(), 3);
            for &c in &children {
                assert_eq!(split.parent_of(c), Some(parent));
                assert!(split.is_child_of(c, parent));
            }
            seen.extend(children);
        }
        seen.sort_unstable();
        assert_eq!(seen, (0..15).collect::<Vec<_>>(), "every child once");
        assert_eq!(split.children_of(0).collect::<Vec<_>>(), [0, 5, 10]);
        assert_eq!(split.children_of(5).count(), 0);
        assert_eq!(split.parent_of(15), None);
        assert!(!split.is_child_of(15, 0));
    }

    #[test]
    fn the_largest_split_has_no_overflow() {
        let split = ShardSplit::new(u32::MAX / 2, 2).unwrap();
        assert_eq!(split.child_count(), u32::MAX - 1);
        let last = split.children_of(u32::MAX / 2 - 1).last().unwrap();
        assert_eq!(last, u32::MAX - 2);
        assert_eq!(split.parent_of(last), Some(u32::MAX / 2 - 1));
    }

    #[test]
    fn refuses_what_is_not_a_split() {
        assert_eq!(
            ShardSplit::new(16, 0),
            Err(ShardingError::SplitFactor { factor: 0 })
        );
        assert_eq!(
            ShardSplit::new(0, 2),
            Err(ShardingError::SplitShardCount {
                parent_count: 0,
                factor: 2
            })
        );
        let err = ShardSplit::new(u32::MAX / 2 + 1, 2).unwrap_err();
        assert_eq!(
            err.to_string(),
            "cannot split 2147483648 shards by 2: it gives 4294967296 shards, and a shard \
             count is between 1 and 4294967295; use a smaller factor"
        );
        assert_eq!(
            ShardSplit::new(16, 1).unwrap_err().to_string(),
            "the split factor is 1; a split multiplies the shard count by a whole number of 2 \
             or more, so use a factor of at least 2"
        );
    }
}
