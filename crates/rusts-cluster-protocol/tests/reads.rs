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

/// The node besides itself that node 0's `Quorum` read of shard 0 asks
/// first (two of three copies; the third is the fallback).
fn other_target(net: &Net, query: &Query) -> usize {
    let plan = net.cores[0].router().plan_query(query).unwrap();
    let read = plan.read(0).unwrap();
    assert_eq!((read.targets().len(), read.fallbacks().len()), (2, 1));
    let other = read
        .targets()
        .map(|c| net.index(c.node_id))
        .find(|&n| n != 0)
        .expect("a target besides the coordinator");
    other
}

#[test]
fn a_silent_copy_falls_back_to_the_next_after_the_ask_timeout() {
    let config = round_robin_cluster(1, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    let query = Query::new().consistency(ReadConsistency::Quorum);
    let silent = other_target(&net, &query);
    net.down[silent] = true;
    net.cores[0].read(&query, 3, 0).unwrap();
    net.run();
    assert!(
        net.reads.is_empty(),
        "waits for the silent copy until its ask times out"
    );
    assert!(net.dropped > 0, "the fault fired");
    net.tick(Options::default().ask_timeout);
    net.run();
    let read = net.reads.pop().unwrap();
    assert!(read.is_complete(), "{read:?}");
    assert_eq!(read.rows.len(), 1);
}

#[test]
fn a_refusing_copy_falls_back_to_the_next_at_once() {
    let config = round_robin_cluster(1, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    let query = Query::new().consistency(ReadConsistency::Quorum);
    let refusing = other_target(&net, &query);
    // Two generations ahead of the coordinator: it refuses the read.
    for generation in [1, 2] {
        let mut next = config.clone();
        next.generation = generation;
        net.deploy(refusing, &next);
    }
    net.cores[0].read(&query, 3, 0).unwrap();
    net.run();
    let read = net
        .reads
        .pop()
        .expect("decided without waiting for a timeout");
    assert!(read.is_complete(), "{read:?}");
    assert_eq!(read.rows.len(), 1, "from the next copy");
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
