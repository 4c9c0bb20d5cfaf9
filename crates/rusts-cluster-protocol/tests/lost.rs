//! A copy that lost its data (issue 21, hazard 13; decision 0045): told
//! with `Core::lost`, it takes writes, refuses reads and catch-up pages
//! until it has caught up from the other copies, and holds every
//! acknowledged write after.

use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig};
use rusts_cluster_protocol::{CatchUpRequest, Core, Options, ProtocolError, Refusal};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::{Query, ReadConsistency};

use crate::util::{sample, Net, TestCore};

/// Nodes a, b, c (node0, node1, node2): one shard, a copy on each,
/// `Quorum` (2 of 3).
fn three_copies() -> ClusterConfig {
    round_robin_cluster(1, 3, 3)
}

/// node2 restarted on an empty disk: a new core, an empty store, and,
/// when `lost`, the core told so.
fn wipe(net: &mut Net, config: &ClusterConfig, lost: bool) {
    net.stores[2].clear();
    let mut core: TestCore = Core::new(config.clone(), "node2", Options::default()).unwrap();
    if lost {
        let shards = core.shards();
        core.lost(&shards).unwrap();
    }
    net.cores[2] = core;
}

/// A `Quorum` read coordinated by node1 while node0 is unreachable: it
/// can ask only {b, c}. Returns (complete, whether it found the point).
fn quorum_read_of_b_and_c(net: &mut Net, id: u32) -> (bool, bool) {
    net.down[0] = true;
    let query = Query::new().consistency(ReadConsistency::Quorum);
    net.cores[1].read(&query, id, net.now).unwrap();
    net.run();
    // Past the ask timeout (the next copy is asked), then the read's
    // deadline: what goes to node0 is dropped.
    let (start, options) = (net.now, Options::default());
    net.tick(start + options.ask_timeout);
    net.run();
    net.tick(start + options.read_timeout);
    net.run();
    net.down[0] = false;
    let read = net.reads.pop().expect("the read ended");
    (read.is_complete(), read.rows.contains(&sample(0, 1)))
}

/// The write of the trace: acknowledged on {a, c} while b is down.
fn write_acknowledged_on_a_and_c(net: &mut Net) {
    net.down[1] = true;
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    net.down[1] = false;
    let done = net.done.pop().unwrap();
    assert!(done.is_acknowledged(), "{done:?}");
    assert!(net.stores_point(0, 0, 1) && net.stores_point(2, 0, 1));
    assert!(!net.stores_point(1, 0, 1), "b missed it");
}

/// The hazard, pinned: before `Core::lost`, an empty node came back as
/// "nothing moves", and a `Quorum` read of {b, c} answered complete
/// without a write acknowledged on {a, c}.
#[test]
fn an_empty_copy_not_told_it_lost_its_data_misses_an_acknowledged_write() {
    let config = three_copies();
    let mut net = Net::new(&config, Options::default());
    write_acknowledged_on_a_and_c(&mut net);
    wipe(&mut net, &config, false);
    assert_eq!(quorum_read_of_b_and_c(&mut net, 2), (true, false));
}

#[test]
fn a_lost_copy_refuses_reads_until_caught_up_then_holds_every_acknowledged_write() {
    let config = three_copies();
    let mut net = Net::new(&config, Options::default());
    write_acknowledged_on_a_and_c(&mut net);
    wipe(&mut net, &config, true);
    let c = &net.cores[2];
    assert_eq!(c.lost_shards(), [0]);
    assert_eq!(c.catch_up_pending(), 1);
    let status = c.catch_ups()[0];
    assert!(status.lost && !status.started, "{status:?}");
    assert_eq!(
        c.catch_up_tasks()[0]
            .sources
            .iter()
            .map(|s| &*s.node)
            .collect::<Vec<_>>(),
        ["node0", "node1"],
        "Quorum at factor 3: both other copies (n - w + 1 = 2 of the others)"
    );

    // Refused for reads, and for another copy's catch-up: never as rows.
    let request = rusts_cluster_protocol::ReadRequest {
        header: net.cores[0].header(),
        read: 7,
        shards: vec![0],
        filter: Default::default(),
    };
    let read = c.admit_read(&request);
    let refusals: Vec<_> = read.shards().map(|(_, r)| r.err()).collect();
    assert_eq!(refusals, [Some(Refusal::CatchingUp { shard: 0 })]);
    let request = CatchUpRequest {
        header: net.cores[1].header(),
        shard: 0,
        after: None,
        limit: 10,
    };
    let page = c.admit_catch_up(&request);
    assert_eq!(page.shards(), Err(Refusal::CatchingUp { shard: 0 }));
    assert_eq!(Refusal::CatchingUp { shard: 0 }.code(), "catching-up");

    // The trace: a Quorum read of {b, c} must not miss the write. c
    // refuses, the fallback (a) is down: incomplete, not a wrong answer.
    assert_eq!(quorum_read_of_b_and_c(&mut net, 2), (false, false));
    // With a up, the read falls back to it and finds the write.
    let query = Query::new().consistency(ReadConsistency::Quorum);
    net.cores[1].read(&query, 3, net.now).unwrap();
    net.run();
    let read = net.reads.pop().unwrap();
    assert!(
        read.is_complete() && read.rows.contains(&sample(0, 1)),
        "{read:?}"
    );
    // c's own reads do not ask c.
    net.cores[2].read(&query, 4, net.now).unwrap();
    net.run();
    let read = net.reads.pop().unwrap();
    assert!(
        read.is_complete() && read.rows.contains(&sample(0, 1)),
        "{read:?}"
    );

    // A write while it catches up is admitted, and stored, on c.
    net.cores[0].write(vec![sample(0, 2)], 5, net.now).unwrap();
    net.run();
    assert!(net.done.pop().unwrap().is_acknowledged());
    assert!(net.stores_point(2, 0, 2), "a lost copy takes writes");
    assert!(!net.stores_point(2, 0, 1), "not caught up yet");

    // The lost copies survive a restart.
    let restored: TestCore = Core::restore(&net.cores[2].saved(), "node2", Options::default())
        .unwrap()
        .start();
    assert_eq!(restored.lost_shards(), [0]);
    assert!(restored.catch_up_tasks()[0].lost);

    // The fetch waits `write_timeout` from the first clock c sees, then
    // reads both others.
    let start = net.now + 1;
    net.tick(start);
    net.run();
    assert!(!net.cores[2].catch_ups()[0].started);
    assert!(!net.stores_point(2, 0, 1));
    net.tick(start + Options::default().write_timeout);
    net.run();
    let c = &net.cores[2];
    assert_eq!(c.catch_up_pending(), 0, "{:?}", c.catch_ups());
    assert!(c.lost_shards().is_empty());
    assert!(
        net.stores_point(2, 0, 1),
        "caught up: the write acknowledged on {{a, c}}"
    );
    // Now c serves: the Quorum read of {b, c} is complete and finds it.
    assert_eq!(quorum_read_of_b_and_c(&mut net, 6), (true, true));
}

/// `n - w + 1` of the other old copies: one under `Synchronous` (every copy
/// acknowledges), three of four others under `Quorum` at factor 5, and
/// every other copy under `Asynchronous` (a write acknowledged on the lost
/// copy alone is gone whatever it reads).
#[test]
fn a_lost_copy_reads_enough_other_copies_to_find_every_acknowledged_write() {
    for (nodes, mode, expected) in [
        (3, ReplicationMode::Synchronous, 1),
        (3, ReplicationMode::Quorum, 2),
        (5, ReplicationMode::Quorum, 3),
        (3, ReplicationMode::Asynchronous, 2),
    ] {
        let mut config = round_robin_cluster(1, nodes, nodes);
        config.replication_mode = mode;
        let mut core: TestCore = Core::new(config, "node0", Options::default()).unwrap();
        core.lost(&[0]).unwrap();
        let sources = &core.catch_up_tasks()[0].sources;
        assert_eq!(sources.len(), expected, "{nodes} copies, {mode:?}");
        assert!(sources.iter().all(|s| &*s.node != "node0" && !s.done));
    }
}

#[test]
fn a_shard_the_node_does_not_hold_is_refused_naming_it() {
    let config = round_robin_cluster(4, 3, 2);
    let mut core: TestCore = Core::new(config, "node0", Options::default()).unwrap();
    let held = core.shards();
    let other = (0..4).find(|s| !held.contains(s)).unwrap();
    let error = core.lost(&[other]).unwrap_err();
    assert!(matches!(error, ProtocolError::LostNotHeld { shard, .. } if shard == other));
    assert!(
        error.to_string().contains(&format!("shard {other}")),
        "{error}"
    );
    assert_eq!(error.code(), "lost-not-held");
    assert!(core.lost_shards().is_empty(), "unchanged");
}

/// A commit that still gives the node the copy carries the catch-up on;
/// one that renumbers the shards waits for it.
#[test]
fn a_lost_copy_catches_up_across_a_commit_and_blocks_a_split() {
    let config = three_copies();
    let mut core: TestCore = Core::new(config.clone(), "node2", Options::default()).unwrap();
    core.lost(&[0]).unwrap();
    let mut next = config.clone();
    next.generation = 1;
    let prepared = core.prepare(next).unwrap();
    core.commit(prepared, 0).unwrap();
    assert_eq!(core.lost_shards(), [0]);
    assert_eq!(core.catch_up_tasks()[0].generation, 1);
    let split = core.config().split(2).unwrap();
    assert_eq!(split.generation, 2);
    let error = core.prepare(split).unwrap_err();
    assert_eq!(error.code(), "lost-during-split", "{error}");
}
