//! The replica's admission: one call, one snapshot; a generation too far,
//! a copy not held, a shard not writable; and a copy kept for a sender one
//! generation behind (issue 20, finding 5).

use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig};
use rusts_cluster_placement::plan_transition;
use rusts_cluster_protocol::{
    Header, KeyFilter, Options, ReadRequest, Refusal, ShardOutcome, WriteRequest,
};
use rusts_cluster_sharding::ShardState;

use crate::util::{sample, Net, Sample};

/// Shard 0 on node0 and node1 at factor 2, moved to node0 and node2.
pub(crate) fn move_one_copy() -> (ClusterConfig, Vec<ClusterConfig>) {
    let a = round_robin_cluster(1, 3, 2);
    let mut b = a.clone();
    b.nodes[1].replica_shards.clear();
    b.nodes[2].replica_shards = vec![0];
    let plan = plan_transition(&a, &b).unwrap();
    let steps = plan.steps.into_iter().map(|s| s.config).collect();
    (a, steps)
}

/// The header of node `node` running `config`, having run `before`.
pub(crate) fn header(node: &str, config: &ClusterConfig, before: Option<&ClusterConfig>) -> Header {
    Header {
        node: node.into(),
        generation: config.generation,
        identity: config.digest(),
        previous: before.map(ClusterConfig::digest),
    }
}

#[test]
fn a_generation_more_than_one_away_is_refused_whole() {
    let config = round_robin_cluster(4, 3, 3);
    let net = Net::new(&config, Options::default());
    let mut far = config.clone();
    far.generation = 2;
    let request = WriteRequest::new(
        header("node1", &far, None),
        0,
        vec![(0, vec![sample(0, 1)])],
    );
    let admission = net.cores[0].admit_write(&request);
    assert!(!admission.is_admitted());
    assert_eq!(admission.points().count(), 0);
    let refusals: Vec<_> = admission.refusals().collect();
    assert_eq!(refusals, [(0, Refusal::Generation { ours: 0, peer: 2 })]);
    let answer = admission.answer(true);
    assert_eq!(
        answer.shards[0].refusal,
        Some(Refusal::Generation { ours: 0, peer: 2 })
    );
}

#[test]
fn a_copy_not_held_and_a_shard_not_writable_are_refused_by_shard() {
    // 4 shards on 3 nodes at factor 2: node0 holds 0, 2 and 3.
    let mut config = round_robin_cluster(4, 3, 2);
    config.read_only_shards = vec![3];
    let net = Net::new(&config, Options::default());
    let request = WriteRequest::new(
        header("node1", &config, None),
        0,
        vec![
            (0, vec![sample(0, 1)]),
            (1, vec![sample(1, 1)]),
            (3, vec![sample(3, 1)]),
        ],
    );
    let admission = net.cores[0].admit_write(&request);
    let refusals: Vec<_> = admission.refusals().collect();
    assert_eq!(
        refusals,
        [
            (
                1,
                Refusal::NotHeld {
                    shard: 1,
                    generation: 0
                }
            ),
            (
                3,
                Refusal::NotWritable {
                    shard: 3,
                    state: ShardState::ReadOnly
                }
            ),
        ]
    );
    let stored: Vec<_> = admission.points().map(|(s, p)| (s, p.series)).collect();
    assert_eq!(stored, [(0, 0)]);
    // Reads do not care about the state.
    let read = ReadRequest {
        header: header("node1", &config, None),
        read: 0,
        filter: KeyFilter::default(),
        shards: vec![1, 3],
    };
    let admission = net.cores[0].admit_read(&read);
    let shards: Vec<_> = admission.shards().map(|(s, r)| (s, r.is_ok())).collect();
    assert_eq!(shards, [(1, false), (3, true)]);
}

#[test]
fn a_leaving_copy_takes_step_two_writes_on_a_node_already_on_step_three() {
    let (a, steps) = move_one_copy();
    let mut net = Net::new(&a, Options::default());
    for step in &steps[..2] {
        for n in 0..3 {
            net.deploy(n, step);
        }
    }
    // node1, whose copy leaves, moves to the final step first.
    net.deploy(1, &steps[2]);
    assert_eq!(net.cores[1].kept_shards(), [0]);
    net.cores[0].write(vec![sample(0, 1)], 1, 0).unwrap();
    net.run();
    let done = net.done.pop().unwrap();
    assert_eq!(
        done.shards[0].outcome,
        ShardOutcome::Acknowledged,
        "the joint write of step 2 needs node1's leaving copy: {done:?}"
    );
    assert!(
        net.stores_point(1, 0, 1),
        "node1 kept its copy and stored it"
    );
    // A sender on the final step is not served by the kept copy.
    let request = WriteRequest::<Sample>::new(
        header("node0", &steps[2], Some(&steps[1])),
        1,
        vec![(0, vec![sample(0, 2)])],
    );
    let refusals: Vec<_> = net.cores[1].admit_write(&request).refusals().collect();
    assert!(
        matches!(refusals[..], [(0, Refusal::NotHeld { .. })]),
        "{refusals:?}"
    );
    // Once every node runs the final step, the kept copy is given up.
    assert_eq!(net.cores[1].release_kept(), [0]);
    assert!(net.cores[1].kept_shards().is_empty());
}
