//! Writes: one request per node, each shard decided under its rule, late
//! answers told apart from unknown ones, and the copies that did not
//! confirm.

use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_protocol::{
    Delivery, FailReason, Header, Message, Options, ShardOutcome, WriteAnswer,
};
use rusts_cluster_sharding::ShardState;

use crate::util::{sample, Net};

#[test]
fn a_batch_is_one_request_per_node_and_is_acknowledged_on_every_copy() {
    let config = round_robin_cluster(16, 3, 3);
    let mut net = Net::new(&config, Options::default());
    let points = (0..100).map(|s| sample(s, 1)).collect();
    let id = net.cores[0].write(points, 7, 0).unwrap();
    net.pump();
    assert_eq!(
        net.queue.len(),
        3,
        "one request per node, the coordinator's own included"
    );
    net.run();
    let done = net.done.pop().unwrap();
    assert_eq!((done.id, done.payload), (id, 7));
    assert!(done.is_acknowledged());
    assert_eq!(done.shards.iter().map(|s| s.points).sum::<u32>(), 100);
    for n in 0..3 {
        assert_eq!(
            net.stores[n].len(),
            100,
            "factor 3 on 3 nodes: node {n} has all"
        );
    }
    let settled = net.settled.pop().unwrap();
    assert_eq!(settled.id, id);
    assert!(settled.unconfirmed.is_empty());
}

#[test]
fn a_silent_copy_is_listed_as_unconfirmed_when_the_write_settles() {
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.down[2] = true;
    net.cores[0].write(vec![sample(1, 1)], 1, 0).unwrap();
    net.run();
    let done = net.done.pop().unwrap();
    assert!(done.is_acknowledged(), "Quorum: 2 of 3");
    assert!(net.settled.is_empty(), "node2 has not answered yet");
    assert!(net.dropped > 0, "the fault fired");
    net.tick(Options::default().write_timeout);
    net.pump();
    let settled = net.settled.pop().unwrap();
    assert_eq!(settled.unconfirmed.len(), 1);
    assert_eq!(&*settled.unconfirmed[0].1[0], "node2");
}

#[test]
fn a_write_below_its_rule_is_partial_and_one_on_no_copy_failed() {
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.down[1] = true;
    net.down[2] = true;
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    assert!(net.done.is_empty(), "undecided until the deadline");
    net.tick(Options::default().write_timeout);
    net.pump();
    let done = net.done.pop().unwrap();
    assert_eq!(done.shards[0].outcome, ShardOutcome::Partial { stored: 1 });
    assert_eq!(done.shards[0].reason, Some(FailReason::Timeout));
}

#[test]
fn copies_marked_down_fail_a_write_before_anything_is_sent() {
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    net.cores[0]
        .router()
        .set_node_available("node1", false)
        .unwrap();
    net.cores[0]
        .router()
        .set_node_available("node2", false)
        .unwrap();
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.pump();
    assert!(net.queue.is_empty(), "nothing sent");
    let done = net.done.pop().unwrap();
    assert_eq!(done.shards[0].outcome, ShardOutcome::Failed);
    assert_eq!(done.shards[0].reason, Some(FailReason::Unavailable));
}

#[test]
fn a_shard_that_takes_no_writes_fails_alone() {
    let mut config = round_robin_cluster(4, 3, 3);
    config.read_only_shards = vec![1];
    let mut net = Net::new(&config, Options::default());
    net.cores[0]
        .write(vec![sample(0, 1), sample(1, 1)], 1, 0)
        .unwrap();
    net.run();
    let done = net.done.pop().unwrap();
    assert_eq!(done.shards[0].outcome, ShardOutcome::Acknowledged);
    assert_eq!(
        done.shards[1].reason,
        Some(FailReason::NotWritable(ShardState::ReadOnly))
    );
    assert!(!done.is_acknowledged());
}

#[test]
fn a_shard_state_or_availability_changed_between_writes_is_seen_by_the_next() {
    // The core keeps each shard's write rule from one write to the next;
    // a change of the shard's state (a new generation) or of its copies'
    // availability in between must still decide the next write.
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    let write = |net: &mut Net| {
        net.cores[0].write(vec![sample(1, 1)], 1, 0).unwrap();
        net.run();
        net.done.pop().unwrap().shards[0].reason
    };
    assert_eq!(write(&mut net), None, "acknowledged");
    let mut read_only = config.clone();
    read_only.generation = 1;
    read_only.read_only_shards = vec![1];
    for n in 0..3 {
        net.deploy(n, &read_only);
    }
    assert_eq!(
        write(&mut net),
        Some(FailReason::NotWritable(ShardState::ReadOnly))
    );
    let mut writable = config.clone();
    writable.generation = 2;
    for n in 0..3 {
        net.deploy(n, &writable);
    }
    assert_eq!(write(&mut net), None, "writable again");
    let router = net.cores[0].router();
    router.set_node_available("node2", false).unwrap();
    router.set_node_available("node0", false).unwrap();
    assert_eq!(write(&mut net), Some(FailReason::Unavailable));
}

#[test]
fn late_duplicate_and_unknown_answers_are_told_apart() {
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    let id = net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    // Hold every answer; deliver node1's twice, then the rest after the
    // write settled.
    let answers = net.held_write_answers();
    let answer_of = |n: usize| answers[n].clone();
    let core = &mut net.cores[0];
    assert_eq!(
        core.receive(Message::WriteAnswer(answer_of(1)), 1),
        Delivery::Counted
    );
    assert_eq!(
        core.receive(Message::WriteAnswer(answer_of(1)), 1),
        Delivery::Duplicate
    );
    for n in [0, 2] {
        assert_eq!(
            core.receive(Message::WriteAnswer(answer_of(n)), 1),
            Delivery::Counted
        );
    }
    assert_eq!(
        core.receive(Message::WriteAnswer(answer_of(2)), 1),
        Delivery::Late
    );
    let never = WriteAnswer {
        header: Header {
            node: "node1".into(),
            ..core.header()
        },
        write: id + 100,
        shards: Vec::new(),
    };
    assert_eq!(
        core.receive(Message::WriteAnswer(never), 1),
        Delivery::Unknown
    );
}

#[test]
fn an_answer_counts_its_shards_in_any_order_and_one_left_out_as_not_stored() {
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    let points = (0..16).map(|s| sample(s, 1)).collect();
    let id = net.cores[0].write(points, 1, 0).unwrap();
    let answers = net.held_write_answers();
    let answer_of = |n: usize| answers[n].clone();
    // node1's answer: its shards reversed, and the last one sent left out.
    let mut reordered = answer_of(1);
    assert!(reordered.shards.len() > 2, "a write to several shards");
    let left_out = reordered.shards.pop().unwrap().shard;
    reordered.shards.reverse();
    let core = &mut net.cores[0];
    for answer in [reordered, answer_of(2), answer_of(0)] {
        assert_eq!(
            core.receive(Message::WriteAnswer(answer), 1),
            Delivery::Counted
        );
    }
    let (mut done, mut settled) = (None, None);
    while let Some(output) = core.poll() {
        match output {
            rusts_cluster_protocol::Output::WriteDone(d) => done = Some(d),
            rusts_cluster_protocol::Output::WriteSettled(s) => settled = Some(s),
            _ => {}
        }
    }
    assert!(done.unwrap().is_acknowledged(), "2 of 3 on every shard");
    let settled = settled.unwrap();
    assert_eq!(settled.id, id);
    assert_eq!(settled.unconfirmed.len(), 1, "only the shard left out");
    assert_eq!(settled.unconfirmed[0].0, left_out);
    assert_eq!(&*settled.unconfirmed[0].1[0], "node1");
}

#[test]
fn expiry_visits_only_what_expires() {
    // 10,000 writes in flight, deadlines spread over time: a tick decides
    // exactly those due, and the rest stay.
    let config = round_robin_cluster(4, 3, 3);
    let mut net = Net::new(&config, Options::default());
    for i in 0..10_000u64 {
        net.cores[0].write(vec![sample(i, 1)], 0, i).unwrap();
    }
    while net.cores[0].poll().is_some() {}
    let timeout = Options::default().write_timeout;
    net.cores[0].tick(timeout + 99);
    let mut decided = 0;
    while let Some(o) = net.cores[0].poll() {
        decided += usize::from(matches!(o, rusts_cluster_protocol::Output::WriteDone(_)));
    }
    assert_eq!(decided, 100);
    assert_eq!(net.cores[0].in_flight().0, 9_900);
}

#[test]
fn message_peers_are_the_routers_node_indices() {
    // The core's node table and the router's `ShardCopy::node_index` must
    // name the same node for each index: requests go to `peers[index]`.
    let config = round_robin_cluster(64, 7, 3);
    let mut net = Net::new(&config, Options::default());
    let router = net.cores[0].router();
    let copies: Vec<(u32, String)> = (0..64)
        .flat_map(|s| {
            router
                .get_shard(s)
                .unwrap()
                .copies()
                .map(|c| (c.node_index, c.node_id.to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();
    net.cores[0]
        .write((0..64).map(|s| sample(s, 1)).collect(), 0, 0)
        .unwrap();
    while let Some(output) = net.cores[0].poll() {
        if let rusts_cluster_protocol::Output::Send(peer, _) = output {
            for (index, id) in &copies {
                if *index == peer.index {
                    assert_eq!(*id, *peer.node);
                }
            }
        }
    }
}
