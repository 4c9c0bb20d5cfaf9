//! The one way messages name a set of shards.

use std::fmt;

use rusts_cluster_sharding::ShardId;

/// Formats "shard 3 has" or "shards 0-7, 12 have", listing at most
/// `MAX_RANGES` ranges so that a message stays readable for any input.
pub(super) struct ShardsHave<'a>(pub(super) &'a [ShardId]);

impl fmt::Display for ShardsHave<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_RANGES: usize = 16;
        let shards = self.0;
        f.write_str(if shards.len() == 1 {
            "shard "
        } else {
            "shards "
        })?;
        let mut ranges = 0;
        let mut i = 0;
        while i < shards.len() {
            let first = i;
            let start = shards[i];
            let mut end = start;
            while i + 1 < shards.len() && shards[i + 1] == end.wrapping_add(1) {
                i += 1;
                end = shards[i];
            }
            i += 1;
            if ranges == MAX_RANGES {
                write!(f, " and {} more", shards.len() - first)?;
                break;
            }
            if ranges > 0 {
                f.write_str(", ")?;
            }
            if start == end {
                write!(f, "{start}")?;
            } else {
                write!(f, "{start}-{end}")?;
            }
            ranges += 1;
        }
        f.write_str(if shards.len() == 1 { " has" } else { " have" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shard_lists_are_shown_as_ranges() {
        assert_eq!(ShardsHave(&[3]).to_string(), "shard 3 has");
        assert_eq!(
            ShardsHave(&[0, 1, 2, 3, 7, 9, 10]).to_string(),
            "shards 0-3, 7, 9-10 have"
        );
        let many: Vec<ShardId> = (0..100).map(|s| s * 2).collect();
        let text = ShardsHave(&many).to_string();
        assert!(text.starts_with("shards 0, 2, 4,"), "{text}");
        assert!(text.ends_with("30 and 84 more have"), "{text}");
    }
}
