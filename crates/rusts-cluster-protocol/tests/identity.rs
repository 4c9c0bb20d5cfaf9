//! Peers compare config identity, not only generation (issue 21,
//! decision 0039): two files of one generation that say different things
//! never serve each other, nor does a neighbour generation not made from a
//! node's file; the previous config's identity survives a restart; and a
//! restart checks the operator's file against the saved state.
//!
//! The hazard: two plans made from one config number their steps alike,
//! so step 1 of one and step 1 of the other are both generation 1. Before,
//! the generation alone decided admission, and nodes on the two plans
//! stored and served each other's writes under rules that did not match.

use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig};
use rusts_cluster_placement::plan_transition;
use rusts_cluster_protocol::{
    Core, KeyFilter, Options, ProtocolError, ReadRequest, Refusal, ShardOutcome, WriteRequest,
};
use rusts_cluster_routing::{Query, ReadConsistency};

use crate::util::{sample, Net, Sample, TestCore};

/// Config A (shard 0 on node0 and node1, factor 2) and two plans from it:
/// `p` moves node1's copy to node2, `q` moves node0's. Each plan's steps,
/// in order; step 1 of both is generation 1.
fn two_plans_from_one_config() -> (ClusterConfig, Vec<ClusterConfig>, Vec<ClusterConfig>) {
    let a = round_robin_cluster(1, 3, 2);
    let mut to_p = a.clone();
    to_p.nodes[1].replica_shards.clear();
    to_p.nodes[2].replica_shards = vec![0];
    let mut to_q = a.clone();
    to_q.nodes[0].shards.clear();
    to_q.nodes[1].replica_shards.clear();
    to_q.nodes[1].shards = vec![0];
    to_q.nodes[2].replica_shards = vec![0];
    let steps = |to: &ClusterConfig| -> Vec<ClusterConfig> {
        plan_transition(&a, to)
            .unwrap()
            .steps
            .into_iter()
            .map(|s| s.config)
            .collect()
    };
    let (p, q) = (steps(&to_p), steps(&to_q));
    assert_eq!(p[0].generation, q[0].generation, "the plans share numbers");
    assert_ne!(p[0].digest(), q[0].digest(), "and say different things");
    (a, p, q)
}

fn identity_refusals(refusals: impl Iterator<Item = (u32, Refusal)>) -> Vec<Refusal> {
    refusals
        .map(|(_, r)| r)
        .filter(|r| matches!(r, Refusal::Identity { .. }))
        .collect()
}

fn write_from(core: &TestCore) -> WriteRequest<Sample> {
    WriteRequest::new(core.header(), 0, vec![(0, vec![sample(0, 9)])])
}

fn read_from(core: &TestCore) -> ReadRequest {
    ReadRequest {
        header: core.header(),
        read: 0,
        filter: KeyFilter::default(),
        shards: vec![0],
    }
}

// Pins the hazard itself. Before, node1 (on q's step 1) stored node0's
// joint write of p's step 1 as a write of its own generation: with the
// rule switched off, both writes below are acknowledged, each under rules
// the other side does not keep, and node1's read of every copy is
// complete from node0's.
#[test]
fn two_plans_step_one_refuse_each_others_writes_and_reads() {
    let (a, p, q) = two_plans_from_one_config();
    let mut net = Net::new(&a, Options::default());
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    assert!(
        net.done.pop().unwrap().is_acknowledged(),
        "on A, both copies"
    );
    net.deploy(0, &p[0]);
    net.deploy(2, &p[0]);
    net.deploy(1, &q[0]);
    let expected = Refusal::Identity {
        ours: q[0].identity(),
        peer: p[0].identity(),
    };
    let request = write_from(&net.cores[0]);
    let admission = net.cores[1].admit_write(&request);
    assert!(!admission.is_admitted());
    assert_eq!(identity_refusals(admission.refusals()), [expected]);
    let read = read_from(&net.cores[0]);
    let refused: Vec<_> = net.cores[1]
        .admit_read(&read)
        .shards()
        .filter_map(|(_, r)| r.err())
        .collect();
    assert_eq!(refused, [expected]);
    // The other way round, from q's side to p's.
    let request = write_from(&net.cores[1]);
    let refusals = identity_refusals(net.cores[0].admit_write(&request).refusals());
    assert_eq!(
        refusals,
        [Refusal::Identity {
            ours: p[0].identity(),
            peer: q[0].identity(),
        }]
    );

    // End to end: no write of either side is acknowledged, and nothing of
    // one side is stored on the other.
    for (coordinator, other, time) in [(0, 1, 2), (1, 0, 3)] {
        net.cores[coordinator]
            .write(vec![sample(0, time)], 2, 0)
            .unwrap();
        net.run();
        let done = net.done.pop().unwrap();
        assert!(
            done.shards
                .iter()
                .all(|s| s.outcome != ShardOutcome::Acknowledged),
            "from node{coordinator}: {done:?}"
        );
        assert!(!net.stores_point(other, 0, time), "node{other} stored it");
    }
    // node1's read of every copy (writes take 2 of 2, so `Quorum` reads
    // one) asks node0 too, which answers for none of q's copies.
    net.cores[1]
        .read(&Query::new().consistency(ReadConsistency::All), 3, 0)
        .unwrap();
    net.run();
    let done = net.reads.pop().unwrap();
    assert_eq!(done.incomplete, [0], "{done:?}");
}

// Pins that the rule compares a plan's neighbours by their chain, not by
// their digests alone: a rule that asked for equal digests, or ignored
// `previous`, would refuse one of these.
#[test]
fn neighbours_on_one_plan_are_admitted_both_ways() {
    let (a, p, _) = two_plans_from_one_config();
    let mut net = Net::new(&a, Options::default());
    for n in 0..3 {
        net.deploy(n, &p[0]);
    }
    net.deploy(1, &p[1]);
    assert_eq!(net.cores[1].header().previous, Some(p[0].digest()));
    let request = write_from(&net.cores[1]);
    let admission = net.cores[0].admit_write(&request);
    assert!(admission.is_admitted(), "{admission:?}");
    let request = write_from(&net.cores[0]);
    assert_eq!(
        identity_refusals(net.cores[1].admit_write(&request).refusals()),
        []
    );
    let read = read_from(&net.cores[0]);
    assert!(net.cores[1]
        .admit_read(&read)
        .shards()
        .all(|(_, r)| r.is_ok()));
}

// Pins the neighbour rules: before, a node on p's step 1 took writes from
// a node on q's step 2, one generation ahead, though q's step 2 was made
// from another step 1.
#[test]
fn a_neighbour_generation_of_another_plan_is_refused_both_ways() {
    let (a, p, q) = two_plans_from_one_config();
    let mut net = Net::new(&a, Options::default());
    net.deploy(0, &p[0]);
    net.deploy(1, &q[0]);
    net.deploy(1, &q[1]);
    // node0 is behind: the sender's previous is not its digest.
    let request = write_from(&net.cores[1]);
    let refusals = identity_refusals(net.cores[0].admit_write(&request).refusals());
    let behind = Refusal::Identity {
        ours: p[0].identity(),
        peer: q[1].identity(),
    };
    assert_eq!(refusals, [behind]);
    let text = behind.to_string();
    assert!(
        text.contains(&p[0].identity().to_string())
            && text.contains(&q[1].identity().to_string())
            && text.contains("generation 2 was not made from this node's file of generation 1"),
        "{text}"
    );
    // node1 is ahead: its own previous is not the sender's digest.
    let request = write_from(&net.cores[0]);
    let refusals = identity_refusals(net.cores[1].admit_write(&request).refusals());
    assert_eq!(
        refusals,
        [Refusal::Identity {
            ours: q[1].identity(),
            peer: p[0].identity(),
        }]
    );
    assert_eq!(refusals[0].code(), "identity");
    let json = serde_json::to_string(&refusals[0]).unwrap();
    assert!(
        json.starts_with(r#"{"refusal":"identity","ours":{"generation":2,"#),
        "{json}"
    );
    assert_eq!(serde_json::from_str::<Refusal>(&json).unwrap(), refusals[0]);
}

// Pins that a same-generation refusal reads as two files of one
// generation, naming both digests: the operator's cue.
#[test]
fn a_same_generation_refusal_says_the_files_differ() {
    let (_, p, q) = two_plans_from_one_config();
    let refusal = Refusal::Identity {
        ours: p[0].identity(),
        peer: q[0].identity(),
    };
    let text = refusal.to_string();
    assert!(
        text.contains("different files of generation 1")
            && text.contains(&p[0].digest().to_string())
            && text.contains(&q[0].digest().to_string())
            && text.contains("deploy one plan's steps"),
        "{text}"
    );
}

type C = Core<Sample, ()>;

/// A core for node0 that ran A and then p's step 1.
fn on_step_one(a: &ClusterConfig, p: &[ClusterConfig]) -> C {
    let mut core = C::new(a.clone(), "node0", Options::default()).unwrap();
    assert_eq!(core.previous_identity(), None, "a first config has none");
    let prepared = core.prepare(p[0].clone()).unwrap();
    core.commit(prepared, 0).unwrap();
    core
}

// Pins that the previous identity is saved: a restart that forgot it
// would admit a neighbour not made from this node's file again.
#[test]
fn the_previous_identity_survives_a_restart() {
    let (a, p, _) = two_plans_from_one_config();
    let core = on_step_one(&a, &p);
    assert_eq!(core.identity(), p[0].identity());
    assert_eq!(core.previous_identity(), Some(a.identity()));
    assert_eq!(core.header().previous, Some(a.digest()));
    let restored = C::restore(&core.saved(), "node0", Options::default())
        .unwrap()
        .start();
    assert_eq!(restored.previous_identity(), Some(a.identity()));
    assert_eq!(restored.header(), core.header());
    // What `prepare` hands out to persist records the config it replaces.
    let prepared = restored.prepare(p[1].clone()).unwrap();
    let next = C::restore(prepared.bytes(), "node0", Options::default())
        .unwrap()
        .start();
    assert_eq!(next.previous_identity(), Some(p[0].identity()));
}

// Pins the format choice: a state saved by format 2 still starts (no
// upgrade step), with the previous config unknown unless it kept copies;
// a previous identity without its generation is an edit.
#[test]
fn a_format_2_state_starts_with_its_previous_unknown() {
    let (a, p, _) = two_plans_from_one_config();
    let core = C::new(a.clone(), "node0", Options::default()).unwrap();
    let saved = String::from_utf8(core.saved()).unwrap();
    assert!(saved.starts_with("format = 4\n"), "{saved}");
    let format_2 = saved.replacen("format = 4", "format = 2", 1);
    let restored = C::restore(format_2.as_bytes(), "node0", Options::default())
        .unwrap()
        .start();
    assert_eq!(restored.previous_identity(), None);
    // node1, whose copy leaves in p, keeps it for one step: the state
    // saved then has a kept config.
    let mut core = C::new(a.clone(), "node1", Options::default()).unwrap();
    for step in &p {
        let prepared = core.prepare(step.clone()).unwrap();
        core.commit(prepared, 0).unwrap();
        if !core.kept_shards().is_empty() {
            break;
        }
    }
    assert_eq!(core.kept_shards(), [0]);
    let previous = core.previous_identity().unwrap();
    let saved = String::from_utf8(core.saved()).unwrap();
    let format_2: String = saved
        .replacen("format = 4", "format = 2", 1)
        .lines()
        .filter(|l| !l.starts_with("previous_"))
        .map(|l| format!("{l}\n"))
        .collect();
    let restored = C::restore(format_2.as_bytes(), "node1", Options::default())
        .unwrap()
        .start();
    assert_eq!(
        restored.previous_identity(),
        Some(previous),
        "the kept config is the previous one"
    );
    let half: String = saved
        .lines()
        .filter(|l| !l.starts_with("previous_identity"))
        .map(|l| format!("{l}\n"))
        .collect();
    let error = C::restore(half.as_bytes(), "node1", Options::default()).unwrap_err();
    assert_eq!(error.code(), "saved-state-unreadable", "{error}");
}

fn restoring(
    a: &ClusterConfig,
    p: &[ClusterConfig],
) -> rusts_cluster_protocol::Restoring<Sample, ()> {
    C::restore(&on_step_one(a, p).saved(), "node0", Options::default()).unwrap()
}

// Pins the restart check: before, a node restarted from its saved state
// ran it whatever file the operator gave it, and a file of another plan,
// an older one or one generations ahead went unnoticed.
#[test]
fn a_restart_checks_the_operators_file_against_its_state() {
    let (a, p, q) = two_plans_from_one_config();
    let same = restoring(&a, &p);
    assert_eq!(same.identity(), p[0].identity());
    assert!(same.prepare_file(p[0].clone()).unwrap().is_none());

    let next = restoring(&a, &p);
    let prepared = next.prepare_file(p[1].clone()).unwrap().expect("a step");
    assert_eq!(prepared.generation(), 2);
    let mut core = next.start();
    core.commit(prepared, 0).unwrap();
    assert_eq!(core.identity(), p[1].identity());
    assert_eq!(core.previous_identity(), Some(p[0].identity()));

    let check = |file: &ClusterConfig| restoring(&a, &p).prepare_file(file.clone()).unwrap_err();
    let older = check(&a);
    assert!(
        matches!(older, ProtocolError::FileOlder { file, saved }
            if file == a.identity() && saved == p[0].identity()),
        "{older:?}"
    );
    assert_eq!(older.code(), "file-older-than-saved");
    assert!(
        older.to_string().contains("deploy generation 1's file"),
        "{older}"
    );

    let differs = check(&q[0]);
    assert!(
        matches!(differs, ProtocolError::FileDiffers { file, .. } if file == q[0].identity()),
        "{differs:?}"
    );
    let text = differs.to_string();
    assert!(
        text.contains(&q[0].digest().to_string())
            && text.contains(&p[0].digest().to_string())
            && text.contains("same file as every other node"),
        "{text}"
    );

    let skips = check(&p[2]);
    assert!(
        matches!(skips, ProtocolError::FileSkipsGenerations { file, saved }
            if file.generation == 3 && saved.generation == 1),
        "{skips:?}"
    );
    assert!(
        skips.to_string().contains("apply generation 2 first"),
        "{skips}"
    );
    let mut far = p[2].clone();
    far.generation = 5;
    let skips = check(&far);
    assert!(
        skips
            .to_string()
            .contains("apply generations 2 to 4 in turn"),
        "{skips}"
    );

    // The next generation runs every check of `prepare`: another shard
    // count is refused as a live apply refuses it.
    let mut split = p[1].clone();
    split.shard_count = 3;
    let error = check(&split);
    assert_eq!(
        error.code(),
        restoring(&a, &p)
            .start()
            .prepare(split.clone())
            .unwrap_err()
            .code()
    );
}

// Pins that a peer on another file of this generation does not count as
// running it: a catch-up waits for every node to report its generation,
// and a node on another plan's step does not.
#[test]
fn a_catch_up_does_not_start_on_the_word_of_another_plan() {
    let (a, p, q) = two_plans_from_one_config();
    let mut net = Net::new(&a, Options::default());
    net.deploy(0, &p[0]);
    net.deploy(2, &p[0]);
    net.deploy(1, &q[0]);
    assert_eq!(net.cores[2].catch_up_pending(), 1);
    for now in [1, 1_000, 2_000] {
        net.tick(now);
        net.run();
    }
    assert!(
        !net.cores[2].catch_ups()[0].started,
        "node1 answers probes with generation 1 of another file"
    );
}
