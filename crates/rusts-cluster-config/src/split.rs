//! Splitting every shard of a config into `k` children on the same copies,
//! and recognising a pair of configs as such a split.

use rusts_cluster_sharding::{
    CopyRole, CopyState, ShardId, ShardSplit, ShardingError, ShardingStrategy,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{ClusterConfig, ConfigError, CopyIndex, MAX_SHARD_COUNT};

/// The record, in a split config, of the config it was split from: the
/// `[split_from]` table.
///
/// ```toml
/// [split_from]
/// generation = 4
/// shard_count = 16
/// ```
///
/// A peer that runs `generation` or older numbers shards `0..shard_count`;
/// a router on the split config uses the record to map that peer's shard
/// ids to its own (the routing crate's mixed-generation functions), also
/// after a restart, when it has no older config to compare with. Later
/// generations may keep the record: it stays true of the older ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitFrom {
    /// The generation of the config that was split.
    pub generation: u64,
    /// Its shard count: a divisor of this config's `shard_count`, at least
    /// two times smaller.
    pub shard_count: u32,
}

/// Why a pair of configs is not a split, from [`split_factor`].
///
/// Each names the values that differ and says what a split needs.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum NotASplit {
    /// The shard count did not change.
    #[error("both configs have {shard_count} shards; a split multiplies the shard count")]
    SameShardCount {
        /// The shard count of both.
        shard_count: u32,
    },
    /// The new shard count is not a multiple of the old one (two or more
    /// times): keys would move to shards on other nodes.
    #[error(
        "{to_shard_count} shards is not a multiple of {from_shard_count} by a whole number of 2 \
         or more, so keys would move to other shards' nodes; grow the shard count by a split \
         (`ClusterConfig::split`), which multiplies it"
    )]
    NotAMultiple {
        /// The first config's shard count.
        from_shard_count: u32,
        /// The second config's shard count.
        to_shard_count: u32,
    },
    /// The new shard count is above [`MAX_SHARD_COUNT`].
    #[error("the new config has {shard_count} shards, above the limit of {max}")]
    TooManyShards {
        /// The new config's shard count.
        shard_count: u32,
        /// [`MAX_SHARD_COUNT`].
        max: u32,
    },
    /// The sharding strategy changed as well.
    #[error(
        "the sharding strategy changes from {from:?} to {to:?}; a split keeps the strategy, or \
         keys would leave their shard's family"
    )]
    StrategyChanged {
        /// The first config's strategy.
        from: ShardingStrategy,
        /// The second config's strategy.
        to: ShardingStrategy,
    },
    /// The new config does not record the split.
    #[error(
        "the new config has no `[split_from]`, which a split config needs so that a node \
         restarted on it knows the {from_shard_count}-shard numbering of older peers; write \
         split configs with `ClusterConfig::split`, which records it"
    )]
    MissingRecord {
        /// The first config's shard count, which the record would name.
        from_shard_count: u32,
    },
    /// The new config's `[split_from]` does not describe the old config.
    #[error(
        "the new config's `[split_from]` names {} shards at generation {}, but the old config \
         has {from_shard_count} shards at generation {from_generation}; it must be split from \
         this config or a later one with as many shards",
        record.shard_count, record.generation
    )]
    RecordMismatch {
        /// The new config's record.
        record: SplitFrom,
        /// The first config's generation.
        from_generation: u64,
        /// The first config's shard count.
        from_shard_count: u32,
    },
    /// A child is not on exactly its parent's copies, in the same roles.
    #[error(
        "shard {child} is not on the copies of its parent, shard {parent}, with the same \
         primary; a split leaves every child where its parent is, so that no data crosses the \
         network (move copies afterwards, in a later generation, with `rebalance`)"
    )]
    ChildMoved {
        /// The first such child.
        child: ShardId,
        /// Its parent in the old config.
        parent: ShardId,
    },
}

/// Recognises `new` as a split of `old`: the shard count multiplied by a
/// whole number `k` of 2 or more, the same strategy, the split recorded in
/// `[split_from]` (naming `old`'s shard count, and `old`'s generation or a
/// later one), and every child on exactly its parent's copies: the same
/// primary and the same replicas. Returns the split ([`ShardSplit`]:
/// `old`'s shard count and `k`).
///
/// Nothing else is compared: `new` may also readdress nodes, add nodes
/// that hold nothing, or change the replication settings, as any new
/// generation may. Meant for valid configs; on invalid ones it returns a
/// reason or a split but never panics, and allocates at most per
/// [`MAX_SHARD_COUNT`] shards.
///
/// # Errors
///
/// The first [`NotASplit`] reason found, in the order the variants are
/// listed.
///
/// ```
/// use rusts_cluster_config::{split_factor, ClusterConfig, NotASplit};
///
/// let old = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
/// let new = old.split(2)?;
/// assert_eq!(split_factor(&old, &new)?.factor(), 2);
///
/// let mut moved = new.clone();
/// moved.nodes[0].shards.retain(|&s| s != 17); // node1 gives child 17 ...
/// moved.nodes[1].shards.push(17); // ... to node2
/// assert_eq!(split_factor(&old, &moved), Err(NotASplit::ChildMoved { child: 17, parent: 1 }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn split_factor(old: &ClusterConfig, new: &ClusterConfig) -> Result<ShardSplit, NotASplit> {
    let (n, kn) = (old.shard_count, new.shard_count);
    if n == kn {
        return Err(NotASplit::SameShardCount { shard_count: n });
    }
    if n == 0 || kn < 2 * n || kn % n != 0 {
        return Err(NotASplit::NotAMultiple {
            from_shard_count: n,
            to_shard_count: kn,
        });
    }
    if kn > MAX_SHARD_COUNT {
        return Err(NotASplit::TooManyShards {
            shard_count: kn,
            max: MAX_SHARD_COUNT,
        });
    }
    if old.sharding_strategy != new.sharding_strategy {
        return Err(NotASplit::StrategyChanged {
            from: old.sharding_strategy,
            to: new.sharding_strategy,
        });
    }
    let Some(record) = new.split_from else {
        return Err(NotASplit::MissingRecord {
            from_shard_count: n,
        });
    };
    if record.shard_count != n || record.generation < old.generation {
        return Err(NotASplit::RecordMismatch {
            record,
            from_generation: old.generation,
            from_shard_count: n,
        });
    }
    // Each child's copies against its parent's, as the copy index lists
    // them: primaries first, then replicas, each in node-id order, with
    // their joining and leaving marks. Compared by node id, since the two
    // configs may number their nodes differently (the new one may add
    // nodes that hold nothing). Both shard counts are at most
    // MAX_SHARD_COUNT here, which bounds the indexes.
    let (old_index, new_index) = (old.copy_index(), new.copy_index());
    fn holders<'c>(
        config: &'c ClusterConfig,
        index: &'c CopyIndex,
        shard: ShardId,
    ) -> impl Iterator<Item = (&'c str, CopyRole, CopyState)> + 'c {
        let copies = index.copies(shard).iter();
        copies.map(move |c| (index.node(config, c.node).id.as_str(), c.role, c.state))
    }
    for child in 0..kn {
        let parent = child % n;
        if !holders(new, &new_index, child).eq(holders(old, &old_index, parent)) {
            return Err(NotASplit::ChildMoved { child, parent });
        }
    }
    // 2 <= kn / n and kn <= MAX_SHARD_COUNT, so both fit a u32.
    ShardSplit::new(n, kn / n).map_err(|_| NotASplit::NotAMultiple {
        from_shard_count: n,
        to_shard_count: kn,
    })
}

impl ClusterConfig {
    /// The split of this config by `factor`: the next generation, with
    /// `shard_count` multiplied by `factor` and every child placed on its
    /// parent's copies.
    ///
    /// Under `k * n` shards every key of shard `p` maps to one of its
    /// children `p`, `p + n`, ..., `p + (k - 1) * n` (see
    /// [`ShardSplit`]), and each child is listed wherever its parent is:
    /// in the `shards` of the parent's primary and the `replica_shards` of
    /// its replicas. So every key stays on the nodes that hold it, and each
    /// node re-files its own points; no copy moves. The result records
    /// the split in [`split_from`](Self::split_from) and has `generation`
    /// raised by one; everything else is kept.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] when this config is not valid,
    /// [`ConfigError::Sharding`] ([`ShardingError::SplitFactor`](rusts_cluster_sharding::ShardingError::SplitFactor))
    /// for a factor below 2,
    /// [`ConfigError::InTransition`] when this config is a step of a
    /// transition (copies marked as joining or leaving, or
    /// `move_reads = "new"`): finish or roll back the transition first,
    /// [`ConfigError::SplitTooLarge`] when the new count would exceed
    /// [`MAX_SHARD_COUNT`], and [`ConfigError::GenerationOverflow`] when
    /// `generation` is already `u64::MAX`.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ConfigError, SplitFrom};
    /// use rusts_cluster_sharding::ShardingError;
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// let split = config.split(2)?;
    /// assert_eq!((split.shard_count, split.generation), (32, config.generation + 1));
    /// assert_eq!(split.split_from, Some(SplitFrom { generation: config.generation, shard_count: 16 }));
    /// // node1 was primary of 0-7; it is now primary of their children too.
    /// assert_eq!(split.nodes[0].shards, (0..8).chain(16..24).collect::<Vec<_>>());
    /// split.validate()?;
    ///
    /// assert!(matches!(config.split(1), Err(ConfigError::Sharding(ShardingError::SplitFactor { factor: 1 }))));
    /// assert!(matches!(config.split(1 << 15), Err(ConfigError::SplitTooLarge { .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn split(&self, factor: u32) -> Result<ClusterConfig, ConfigError> {
        self.validate()?;
        // A step's split would be numbered g + 1 like the plan's next step,
        // and would count a joining copy, still catching up, as a whole one.
        if self.in_transition() {
            return Err(ConfigError::InTransition {
                generation: self.generation,
                shards: self.moving_shards(),
                move_reads: self.move_reads,
                what: "split",
            });
        }
        let n = self.shard_count;
        // A valid config has shards, so the split's only errors are the
        // factor below 2 and a count past the limit (u32's included).
        let kn = match ShardSplit::new(n, factor) {
            Ok(split) if split.child_count() <= MAX_SHARD_COUNT => split.child_count(),
            Err(e @ ShardingError::SplitFactor { .. }) => return Err(e.into()),
            _ => {
                return Err(ConfigError::SplitTooLarge {
                    shard_count: n,
                    factor,
                    max: MAX_SHARD_COUNT,
                })
            }
        };
        let generation = self.next_generation(1)?;
        let mut new = self.clone();
        new.shard_count = kn;
        new.generation = generation;
        new.split_from = Some(SplitFrom {
            generation: self.generation,
            shard_count: n,
        });
        // Every list of a node's copies gives the same children: whatever
        // role a node has for a parent, it has for each child.
        let children = |parents: &[ShardId]| -> Vec<ShardId> {
            (0..kn / n)
                .flat_map(|i| parents.iter().map(move |&p| p + (i * n) as ShardId))
                .collect()
        };
        // A child of a read-only or offline parent starts in its state.
        new.read_only_shards = children(&self.read_only_shards);
        new.offline_shards = children(&self.offline_shards);
        for node in &mut new.nodes {
            node.shards = children(&node.shards);
            node.replica_shards = children(&node.replica_shards);
            node.joining_shards = children(&node.joining_shards);
            node.leaving_shards = children(&node.leaving_shards);
        }
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NodeConfig;

    fn two_nodes() -> ClusterConfig {
        let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
        config.shard_count = 3;
        config.replication_factor = 2;
        config.generation = 7;
        let mut b = NodeConfig::new("b", "10.0.0.2:8086");
        config.nodes[0].shards = vec![2, 0];
        config.nodes[0].replica_shards = vec![1];
        b.shards = vec![1];
        b.replica_shards = vec![0, 2];
        config.nodes.push(b);
        config
    }

    /// Mid-move: c joins shard 0 and b leaves it.
    fn mid_move() -> ClusterConfig {
        let mut config = two_nodes();
        let mut c = NodeConfig::new("c", "10.0.0.3:8086");
        c.replica_shards = vec![0];
        c.joining_shards = vec![0];
        config.nodes[1].leaving_shards = vec![0];
        config.nodes.push(c);
        config.validate().unwrap();
        config
    }

    /// Before, `split` of a step-1 file (generation g + 1) wrote generation
    /// g + 2, the number of the plan's step 2: a node on the split and a
    /// node on step 2 served each other, and c's copy of shard 0, still
    /// catching up, was split into children counted as whole copies. Now
    /// it is refused, naming the moving shards and what to do.
    #[test]
    fn a_step_of_a_transition_is_not_split() {
        let config = mid_move();
        let err = config.split(2).unwrap_err();
        assert_eq!(err.code(), "in-transition");
        assert!(matches!(
            &err,
            ConfigError::InTransition { generation: 7, shards, move_reads: crate::MoveReads::Old, what: "split" }
                if shards == &[0]
        ));
        assert_eq!(
            err.to_string(),
            "generation 7 is a step of a transition (shard 0 has joining or leaving copies, reads \
             from the old copies), not a settled placement; finish the transition (deploy its \
             steps up to the final one) or roll it back to the config it started from, and \
             split that config"
        );
        // Step 2's reads from the new side alone mark it too.
        let mut reads_new = two_nodes();
        reads_new.move_reads = crate::MoveReads::New;
        assert!(matches!(
            reads_new.split(2),
            Err(ConfigError::InTransition { ref shards, .. }) if shards.is_empty()
        ));
    }

    #[test]
    fn split_factor_compares_joining_and_leaving_marks() {
        // A split of a mid-move config, written by hand: each child keeps
        // its parent's marks.
        let config = mid_move();
        let mut settled = config.clone();
        for node in &mut settled.nodes {
            node.joining_shards.clear();
            node.leaving_shards.clear();
        }
        let mut split = settled.split(2).unwrap();
        split.nodes[2].joining_shards = vec![0, 3];
        split.nodes[1].leaving_shards = vec![0, 3];
        split.validate().unwrap();
        assert_eq!(split_factor(&config, &split).map(|s| s.factor()), Ok(2));
        // A child whose copy is not marked as its parent's is no split.
        let mut unmarked = split.clone();
        unmarked.nodes[2].joining_shards = vec![0];
        assert_eq!(
            split_factor(&config, &unmarked),
            Err(NotASplit::ChildMoved {
                child: 3,
                parent: 0
            })
        );
    }

    #[test]
    fn children_keep_the_roles_of_their_parents() {
        let config = two_nodes();
        let split = config.split(3).unwrap();
        assert_eq!(split.shard_count, 9);
        assert_eq!(split.generation, 8);
        assert_eq!(
            split.split_from,
            Some(SplitFrom {
                generation: 7,
                shard_count: 3
            })
        );
        assert_eq!(split.nodes[0].shards, [2, 0, 5, 3, 8, 6]);
        assert_eq!(split.nodes[0].replica_shards, [1, 4, 7]);
        assert_eq!(split.nodes[1].shards, [1, 4, 7]);
        assert_eq!(split.nodes[1].replica_shards, [0, 2, 3, 5, 6, 8]);
        split.validate().unwrap();
        assert_eq!(
            split_factor(&config, &split),
            Ok(ShardSplit::new(3, 3).unwrap())
        );
        // Saved and read back, the record is kept.
        let text = split.to_toml().unwrap();
        assert!(
            text.contains("[split_from]\ngeneration = 7\nshard_count = 3\n"),
            "{text}"
        );
        assert_eq!(ClusterConfig::from_toml(&text).unwrap(), split);
    }

    #[test]
    fn refuses_factors_and_counts_that_are_not_a_split() {
        let config = two_nodes();
        for factor in [0, 1] {
            let err = config.split(factor).unwrap_err();
            assert!(matches!(
                err,
                ConfigError::Sharding(ShardingError::SplitFactor { factor: f }) if f == factor
            ));
        }
        assert_eq!(
            config.split(1).unwrap_err().to_string(),
            "the split factor is 1; a split multiplies the shard count by a whole number of 2 or \
             more, so use a factor of at least 2"
        );
        let err = config.split(u32::MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            "splitting 3 shards by 4294967295 gives 12884901885 shards, above the limit of \
             262144; use a factor of at most 87381"
        );
        let mut full = two_nodes();
        full.shard_count = MAX_SHARD_COUNT / 2 + 1;
        full.nodes[0].shards = (0..full.shard_count as ShardId).collect();
        full.nodes[0].replica_shards.clear();
        full.nodes[1].shards.clear();
        full.nodes[1].replica_shards = (0..full.shard_count as ShardId).collect();
        assert_eq!(
            full.split(2).unwrap_err().to_string(),
            "splitting 131073 shards by 2 gives 262146 shards, above the limit of 262144; \
             a cluster of 131073 shards cannot be split"
        );
        let mut last = two_nodes();
        last.generation = u64::MAX;
        assert!(matches!(
            last.split(2),
            Err(ConfigError::GenerationOverflow {
                generation: u64::MAX,
                steps: 1
            })
        ));
        let mut invalid = two_nodes();
        invalid.nodes[1].shards.push(0);
        assert!(matches!(invalid.split(2), Err(ConfigError::Invalid { .. })));
    }

    #[test]
    fn names_why_a_pair_is_not_a_split() {
        let old = two_nodes();
        let new = old.split(2).unwrap();
        assert_eq!(
            split_factor(&old, &old),
            Err(NotASplit::SameShardCount { shard_count: 3 })
        );
        assert_eq!(
            split_factor(&new, &old),
            Err(NotASplit::NotAMultiple {
                from_shard_count: 6,
                to_shard_count: 3
            }),
            "a merge is not a split"
        );
        let mut seven = new.clone();
        seven.shard_count = 7;
        assert!(matches!(
            split_factor(&old, &seven),
            Err(NotASplit::NotAMultiple { .. })
        ));
        let mut huge = new.clone();
        huge.shard_count = 3 << 20;
        assert!(matches!(
            split_factor(&old, &huge),
            Err(NotASplit::TooManyShards { .. })
        ));
        let mut strategy = new.clone();
        strategy.sharding_strategy = ShardingStrategy::ByMeasurement;
        assert!(matches!(
            split_factor(&old, &strategy),
            Err(NotASplit::StrategyChanged { .. })
        ));
        let mut unrecorded = new.clone();
        unrecorded.split_from = None;
        assert_eq!(
            split_factor(&old, &unrecorded),
            Err(NotASplit::MissingRecord {
                from_shard_count: 3
            })
        );
        let mut wrong = new.clone();
        wrong.split_from = Some(SplitFrom {
            generation: 6,
            shard_count: 3,
        });
        assert!(matches!(
            split_factor(&old, &wrong),
            Err(NotASplit::RecordMismatch { .. })
        ));
        // A later generation with the same shard count may be split: the
        // record names it, and the old config is older still.
        let mut later = new.clone();
        later.split_from = Some(SplitFrom {
            generation: 9,
            shard_count: 3,
        });
        later.generation = 10;
        assert!(split_factor(&old, &later).is_ok());
        // A replica swapped for the primary is a changed role.
        let mut roles = new.clone();
        roles.nodes[0].shards.retain(|&s| s != 5);
        roles.nodes[0].replica_shards.push(5);
        roles.nodes[1].replica_shards.retain(|&s| s != 5);
        roles.nodes[1].shards.push(5);
        roles.validate().unwrap();
        assert_eq!(
            split_factor(&old, &roles),
            Err(NotASplit::ChildMoved {
                child: 5,
                parent: 2
            })
        );
    }

    #[test]
    fn children_start_in_their_parents_state() {
        let mut old = two_nodes();
        old.read_only_shards = vec![2];
        old.offline_shards = vec![0];
        let new = old.split(2).unwrap();
        new.validate().unwrap();
        assert_eq!(new.read_only_shards, [2, 5]);
        assert_eq!(new.offline_shards, [0, 3]);
        assert!(split_factor(&old, &new).is_ok());
    }
}
