//! The saved state: handed out to persist, taken back at start.

use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_protocol::{ApplyChecks, Core, Options, ProtocolError};

use crate::util::Sample;

type C = Core<Sample, ()>;

#[test]
fn the_saved_state_restores_the_same_config_and_generation() {
    let mut config = round_robin_cluster(4, 3, 2);
    config.generation = 3;
    let core = C::new(config.clone(), "node1", Options::default()).unwrap();
    let restored = C::restore(&core.saved(), "node1", Options::default())
        .unwrap()
        .start();
    assert_eq!(restored.generation(), 3);
    assert_eq!(restored.node_id(), "node1");
    assert_eq!(restored.config().identity(), config.identity());
}

#[test]
fn saved_state_of_another_node_or_edited_is_refused_by_name() {
    let config = round_robin_cluster(4, 3, 2);
    let core = C::new(config, "node1", Options::default()).unwrap();
    let saved = core.saved();
    let error = C::restore(&saved, "node2", Options::default()).unwrap_err();
    assert!(
        matches!(error, ProtocolError::SavedForOtherNode { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("\"node1\""), "{error}");
    let edited = String::from_utf8(saved)
        .unwrap()
        .replace("replication_factor = 2", "replication_factor = 1");
    let error = C::restore(edited.as_bytes(), "node1", Options::default()).unwrap_err();
    assert_eq!(error.code(), "saved-state-unreadable", "{error}");
    let error = C::restore(b"\xff", "node1", Options::default()).unwrap_err();
    assert!(error.to_string().contains("UTF-8"), "{error}");
}

#[test]
fn prepare_hands_out_the_next_state_and_commit_runs_it() {
    let config = round_robin_cluster(4, 3, 2);
    let mut next = config.clone();
    next.generation = 1;
    let mut core = C::new(config, "node0", Options::default()).unwrap();
    let prepared = core.prepare(next).unwrap();
    let bytes = prepared.bytes().to_vec();
    core.commit(prepared, 0).unwrap();
    assert_eq!(bytes, core.saved(), "what was persisted is what runs");
    let restored = C::restore(&bytes, "node0", Options::default())
        .unwrap()
        .start();
    assert_eq!(restored.generation(), 1);
}

#[test]
fn a_stale_config_is_refused_at_prepare_and_changes_nothing() {
    let mut config = round_robin_cluster(4, 3, 2);
    config.generation = 2;
    let mut old = config.clone();
    old.generation = 1;
    let core = C::new(config, "node0", Options::default()).unwrap();
    let error = core.prepare(old).unwrap_err();
    assert_eq!(error.code(), "stale-generation", "{error}");
    assert_eq!(core.generation(), 2);
}

#[test]
fn an_answer_to_the_run_before_a_restart_never_counts_for_this_run() {
    // Factor 3 on 3 nodes, Quorum: a write needs 2 copies. node0 writes X;
    // node1 stores it, and its answer is held in the network while node0
    // restarts from its saved bytes and writes Y, stored on node0 alone.
    use rusts_cluster_protocol::{Delivery, Message, Output};
    let config = round_robin_cluster(1, 3, 3);
    let options = Options::default();
    let mut node0 = C::new(config.clone(), "node0", options).unwrap();
    let node1 = C::new(config, "node1", options).unwrap();
    let disk = node0.saved();
    let request_to = |core: &mut C, node: &str| {
        let mut found = None;
        while let Some(output) = core.poll() {
            if let Output::Send(peer, Message::Write(request)) = output {
                if &*peer.node == node {
                    found = Some(request);
                }
            }
        }
        found.unwrap()
    };
    let x = node0.write(vec![crate::util::sample(1, 1)], (), 0).unwrap();
    let held = node1
        .admit_write(&request_to(&mut node0, "node1"))
        .answer(true);

    let restoring = C::restore(&disk, "node0", options).unwrap();
    // What the engine persists before it starts the core.
    let disk = restoring.bytes().to_vec();
    let mut node0 = restoring.start();
    let y = node0
        .write(vec![crate::util::sample(1, 2)], (), 10)
        .unwrap();
    assert_ne!(x, y, "a restored core numbers its requests anew");
    let request = request_to(&mut node0, "node0");
    let own = node0.admit_write(&request).answer(true);
    assert_eq!(
        node0.receive(Message::WriteAnswer(own), 11),
        Delivery::Counted
    );
    assert_eq!(
        node0.receive(Message::WriteAnswer(held), 12),
        Delivery::Late,
        "the answer to X is late, not node1's answer to Y"
    );
    assert!(
        std::iter::from_fn(|| node0.poll()).all(|o| !matches!(o, Output::WriteDone(_))),
        "Y is stored on one copy of the two it needs: not decided"
    );

    // The bytes persisted at the restore carry its incarnation: a restart
    // from them numbers anew again.
    let mut again = C::restore(&disk, "node0", options).unwrap().start();
    let z = again
        .write(vec![crate::util::sample(1, 3)], (), 20)
        .unwrap();
    assert!(z != x && z != y, "{x} {y} {z}");
}

#[test]
fn the_saved_state_round_trips_through_every_step_of_a_move() {
    // Every node, at every step of a move: restored from its saved bytes,
    // it saves the same state again (kept copies and catch-up cursors
    // included), but for the incarnation, one more.
    let (a, steps) = crate::admission::move_one_copy();
    let mut net = crate::util::Net::new(&a, Options::default());
    net.cores[0]
        .write(vec![crate::util::sample(0, 1)], 1, 0)
        .unwrap();
    net.run();
    let mut kept = 0;
    for step in &steps {
        for n in 0..3 {
            net.deploy(n, step);
            net.tick(net.now + 1_000);
            net.run();
            let saved = String::from_utf8(net.cores[n].saved()).unwrap();
            kept += usize::from(saved.contains("\nkept = "));
            let node = format!("node{n}");
            let restored = C::restore(saved.as_bytes(), &node, Options::default())
                .unwrap()
                .start();
            let again = String::from_utf8(restored.saved()).unwrap();
            let incarnation = |text: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix("incarnation = "))
                    .unwrap()
                    .parse::<u64>()
                    .unwrap()
            };
            assert_eq!(incarnation(&again), incarnation(&saved) + 1);
            let without = |text: &str| {
                text.lines()
                    .filter(|l| !l.starts_with("incarnation = "))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            assert_eq!(without(&again), without(&saved), "node{n}");
        }
    }
    assert!(kept > 0, "a node kept a leaving copy at some step");
}

#[test]
fn a_skipped_step_is_refused_at_prepare_unless_prepared_unsafe() {
    let config = round_robin_cluster(4, 3, 2);
    // Shard 0's copy on node1 moves to node2 at once, and two generations
    // on: no transition step does either.
    let mut direct = config.clone();
    direct.generation = 3;
    direct.nodes[1].replica_shards.retain(|&s| s != 0);
    direct.nodes[2].replica_shards.push(0);
    let mut core = C::new(config, "node0", Options::default()).unwrap();
    let error = core.prepare(direct.clone()).unwrap_err();
    assert_eq!(error.code(), "generation-skipped", "{error}");
    direct.generation = 1;
    let error = core.prepare(direct.clone()).unwrap_err();
    assert_eq!(error.code(), "unsafe-step", "{error}");
    assert_eq!(core.generation(), 0);
    // Prepared with the checks skipped, commit applies with them skipped.
    direct.generation = 3;
    let prepared = core
        .prepare_with(direct, ApplyChecks::UnsafeSkipStepChecks)
        .unwrap();
    core.commit(prepared, 0).unwrap();
    assert_eq!(core.generation(), 3);
}
