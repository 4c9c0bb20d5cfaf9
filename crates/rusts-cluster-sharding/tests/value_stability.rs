//! Pins exact key-to-shard outputs of every strategy.
//!
//! Every stored series sits where these formulas put it: if one of these
//! assertions fails, the change moves data already written, which is a
//! breaking change, not a refactor. The measurement hashes were computed by a
//! separate implementation of FxHash64 (not this crate's code), so a test and
//! the code cannot drift together.

use rusts_cluster_sharding::{ShardKeyRef, ShardSplit, ShardingStrategy};

const HOUR: i64 = 3_600_000_000_000;

/// (measurement, series id, timestamp): ordinary keys, extremes, pre-epoch
/// times and an empty measurement.
const KEYS: [(&str, u64, i64); 6] = [
    ("cpu", 0, 0),
    ("cpu", 42, 1_700_000_000_000_000_000),
    ("mem", u64::MAX, -1),
    ("disk", 12_345_678_901_234, i64::MIN),
    ("temperature", 7, i64::MAX),
    ("", 1, -HOUR - 1),
];

fn shards(strategy: ShardingStrategy, n: u32) -> Vec<u32> {
    KEYS.iter()
        .map(|&(m, id, ts)| strategy.compute_shard(ShardKeyRef::new(m, id, ts), n))
        .collect()
}

#[test]
fn by_measurement() {
    let s = ShardingStrategy::ByMeasurement;
    assert_eq!(shards(s, 1), [0, 0, 0, 0, 0, 0]);
    assert_eq!(shards(s, 16), [2, 2, 12, 1, 3, 11]);
    assert_eq!(shards(s, 64), [18, 18, 28, 49, 35, 43]);
    assert_eq!(shards(s, 1000), [890, 890, 332, 537, 403, 619]);
    assert_eq!(shards(s, 65536), [978, 978, 58204, 24433, 58083, 35435]);
    // Non-ASCII measurements hash their UTF-8 bytes: FxHash64("网络") is
    // 0xc6a398e77e679911.
    assert_eq!(
        s.compute_shard(ShardKeyRef::new("网络", 0, 0), 1000),
        (0xc6a3_98e7_7e67_9911_u64 % 1000) as u32
    );
    assert_eq!(s.compute_shard(ShardKeyRef::new("网络", 0, 0), 1000), 193);
}

#[test]
fn by_series() {
    let s = ShardingStrategy::BySeries;
    assert_eq!(shards(s, 1), [0, 0, 0, 0, 0, 0]);
    assert_eq!(shards(s, 16), [0, 10, 15, 2, 7, 1]);
    assert_eq!(shards(s, 64), [0, 42, 63, 50, 7, 1]);
    assert_eq!(shards(s, 1000), [0, 42, 615, 234, 7, 1]);
    assert_eq!(shards(s, 65536), [0, 42, 65535, 12274, 7, 1]);
}

#[test]
fn by_time_one_hour() {
    let s = ShardingStrategy::ByTime {
        duration_nanos: HOUR,
    };
    assert_eq!(shards(s, 1), [0, 0, 0, 0, 0, 0]);
    assert_eq!(shards(s, 16), [0, 14, 15, 0, 15, 14]);
    assert_eq!(shards(s, 64), [0, 30, 63, 0, 63, 62]);
    assert_eq!(shards(s, 1000), [0, 222, 999, 952, 47, 998]);
    assert_eq!(shards(s, 65536), [0, 13470, 65535, 59392, 6143, 65534]);
}

#[test]
fn composite_one_hour() {
    let s = ShardingStrategy::Composite {
        time_duration_nanos: HOUR,
    };
    assert_eq!(shards(s, 1), [0, 0, 0, 0, 0, 0]);
    assert_eq!(shards(s, 16), [0, 8, 14, 2, 6, 15]);
    assert_eq!(shards(s, 64), [0, 8, 62, 50, 6, 63]);
    assert_eq!(shards(s, 1000), [0, 264, 614, 186, 54, 615]);
    assert_eq!(shards(s, 65536), [0, 13512, 65534, 6130, 6150, 65535]);
}

/// A split of 16 shards by 2, 3 and 16: the shard of each key under the
/// new count, pinned (computed by a separate implementation of the
/// formulas, not this crate's code), and each one a child of the key's
/// shard under 16. A change here moves data that a split re-filed.
#[test]
fn split_children_of_sixteen_shards() {
    let hour = HOUR;
    let table: [(ShardingStrategy, [[u32; 6]; 4]); 4] = [
        (
            ShardingStrategy::ByMeasurement,
            [
                [2, 2, 12, 1, 3, 11],
                [18, 18, 28, 17, 3, 11],
                [18, 18, 44, 17, 35, 27],
                [210, 210, 92, 113, 227, 107],
            ],
        ),
        (
            ShardingStrategy::BySeries,
            [
                [0, 10, 15, 2, 7, 1],
                [0, 10, 31, 18, 7, 1],
                [0, 42, 15, 34, 7, 1],
                [0, 42, 255, 242, 7, 1],
            ],
        ),
        (
            ShardingStrategy::ByTime {
                duration_nanos: hour,
            },
            [
                [0, 14, 15, 0, 15, 14],
                [0, 30, 31, 0, 31, 30],
                [0, 46, 47, 0, 47, 46],
                [0, 158, 255, 0, 255, 254],
            ],
        ),
        (
            ShardingStrategy::Composite {
                time_duration_nanos: hour,
            },
            [
                [0, 8, 14, 2, 6, 15],
                [0, 8, 30, 18, 6, 31],
                [0, 40, 14, 34, 6, 15],
                [0, 200, 254, 242, 6, 255],
            ],
        ),
    ];
    for (strategy, [parents, by_2, by_3, by_16]) in table {
        assert_eq!(shards(strategy, 16), parents, "{strategy:?} at 16");
        for (factor, pinned) in [(2, by_2), (3, by_3), (16, by_16)] {
            let split = ShardSplit::new(16, factor).unwrap();
            let children = shards(strategy, split.child_count());
            assert_eq!(children, pinned, "{strategy:?} split by {factor}");
            for (child, parent) in children.iter().zip(parents) {
                assert!(
                    split.is_child_of(*child, parent),
                    "{strategy:?} by {factor}"
                );
            }
        }
    }
}
