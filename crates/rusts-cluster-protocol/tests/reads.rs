//! Reads: distinct copies per shard, fallbacks on refusal or timeout, and
//! the merge.

use proptest::prelude::*;
use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_protocol::{merge, Options};
use rusts_cluster_routing::{Query, ReadConsistency};

use crate::util::{put, sample, Net, Sample};

#[test]
fn a_quorum_read_returns_every_acknowledged_point_merged() {
    let config = round_robin_cluster(8, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.cores[0]
        .write((0..50).map(|s| sample(s, 1)).collect(), 1, 0)
        .unwrap();
    net.run();
    let query = Query::new().consistency(ReadConsistency::Quorum);
    net.cores[1].read(&query, 2, 0).unwrap();
    net.run();
    let read = net.reads.pop().unwrap();
    assert!(read.is_complete());
    assert_eq!(
        read.rows.len(),
        50,
        "each point once, though two copies answered"
    );
}

#[test]
fn a_refusing_copy_falls_back_to_the_next() {
    let config = round_robin_cluster(1, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    // node0 forgets its copy (a restored node that lost it would refuse
    // by generation instead); its answer is empty but counts as a copy's,
    // so make it refuse: a read from generation 5 is refused by all.
    let query = Query::new().consistency(ReadConsistency::One);
    net.down[1] = true; // the first target never answers
    net.cores[2].read(&query, 3, 0).unwrap();
    net.run();
    assert!(net.reads.is_empty() || net.reads[0].is_complete());
    net.tick(Options::default().ask_timeout);
    net.run();
    let read = net.reads.pop().unwrap();
    assert!(read.is_complete(), "{read:?}");
    assert_eq!(read.rows.len(), 1);
}

#[test]
fn a_read_without_enough_copies_ends_incomplete() {
    let config = round_robin_cluster(1, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.down = vec![false, true, true];
    let query = Query::new().consistency(ReadConsistency::All);
    net.cores[0].read(&query, 4, 0).unwrap();
    net.run();
    net.tick(Options::default().read_timeout);
    net.run();
    let read = net.reads.pop().unwrap();
    assert_eq!(read.incomplete, [0]);
    assert!(net.dropped >= 2);
}

proptest! {
    #[test]
    fn the_merge_is_the_same_in_any_order(
        rows in prop::collection::vec((0u64..4, 0i64..4, 0i64..3), 0..40),
        seed in any::<u64>(),
    ) {
        let rows: Vec<Sample> = rows.into_iter().map(|(series, time, value)| Sample { series, time, value }).collect();
        let mut shuffled = rows.clone();
        // A deterministic shuffle from the seed.
        let mut x = seed | 1;
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let a = merge(rows.clone());
        prop_assert_eq!(&a, &merge(shuffled));
        // One point per identity, the greatest version.
        let mut store = std::collections::BTreeMap::new();
        for p in rows { put(&mut store, 0, p); }
        prop_assert_eq!(a, store.into_values().collect::<Vec<_>>());
    }
}
