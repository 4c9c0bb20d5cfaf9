//! Generation fencing: a newer config fails every write and read pending
//! under an older one, before the new generation is reported.

use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_protocol::{Delivery, FailReason, Message, Options, Output, ShardOutcome};
use rusts_cluster_routing::{Query, ReadConsistency};

use crate::util::{sample, Net};

#[test]
fn committing_a_newer_config_fails_pending_writes_then_reports_the_generation() {
    let config = round_robin_cluster(4, 3, 3);
    let mut next = config.clone();
    next.generation = 1;
    let mut net = Net::new(&config, Options::default());
    net.cores[0].write(vec![sample(0, 1)], 5, 0).unwrap();
    net.pump();
    let held: Vec<_> = net.queue.drain(..).collect();
    let prepared = net.cores[0].prepare(next.clone()).unwrap();
    assert_eq!(net.cores[0].generation(), 0, "prepare changes nothing");
    let applied = net.cores[0].commit(prepared, 1).unwrap();
    assert_eq!(applied.fenced, 1);
    assert_eq!(net.cores[0].generation(), 1);
    let outputs: Vec<_> = std::iter::from_fn(|| net.cores[0].poll()).collect();
    let Some(Output::WriteDone(done)) = outputs.first() else {
        panic!("the fenced write is the first output: {outputs:?}");
    };
    assert_eq!(done.payload, 5);
    assert_eq!(done.shards[0].outcome, ShardOutcome::Failed);
    assert_eq!(
        done.shards[0].reason,
        Some(FailReason::Fenced { generation: 1 })
    );
    // Answers to it now arrive late, and never count.
    for m in held {
        net.deliver(m);
    }
    while let Some(m) = net.queue.pop_front() {
        if let Message::WriteAnswer(a) = m.message {
            assert_eq!(
                net.cores[0].receive(Message::WriteAnswer(a), 2),
                Delivery::Late
            );
        }
    }
}

#[test]
fn committing_a_newer_config_ends_pending_reads_as_fenced() {
    let config = round_robin_cluster(4, 3, 3);
    let mut next = config.clone();
    next.generation = 1;
    let mut net = Net::new(&config, Options::default());
    let query = Query::new().consistency(ReadConsistency::Quorum);
    net.cores[0].read(&query, 9, 0).unwrap();
    net.pump();
    net.queue.clear();
    net.deploy(0, &next);
    net.pump();
    let read = net.reads.pop().unwrap();
    assert_eq!((read.payload, read.fenced), (9, Some(1)));
    assert_eq!(read.incomplete.len(), 4);
}

#[test]
fn a_write_started_after_the_commit_is_stamped_with_the_new_generation() {
    let config = round_robin_cluster(4, 3, 3);
    let mut next = config.clone();
    next.generation = 1;
    let mut net = Net::new(&config, Options::default());
    net.deploy(0, &next);
    net.cores[0].write(vec![sample(0, 1)], 0, 0).unwrap();
    net.pump();
    for m in &net.queue {
        assert_eq!(m.message.header().generation, 1);
    }
    net.run();
    assert!(
        net.done.pop().unwrap().is_acknowledged(),
        "generation 0 peers serve generation 1"
    );
}
