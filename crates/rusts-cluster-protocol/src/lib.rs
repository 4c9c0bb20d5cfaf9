/*!
The replication protocol of RusTs's cluster layer, sans-IO: one node's
state machine for writes, reads, generation fencing, a replica's admission
of a peer's request, and catch-up. It owns every rule; the engine supplies
its transport, its storage and its point type.

The layers below decide: the shard of a key, a shard's copies, the write
rule (joint while copies move), the read set of each level, a new
generation taken live. This crate is the protocol around those
decisions, which an engine would otherwise write by hand (and did: about
960 lines, with bugs). Like raft-rs's `RawNode` and quinn-proto, it does no
I/O: no sockets, no threads, no async runtime, no clock. The engine feeds
it requests, answers and the time, and takes from [`Core::poll`] the
messages to send and the decisions to act on, so a test or a simulation
drives it deterministically (`docs/decisions/0030-sans-io-protocol-core.md`).

# The engine's loop

```text
client write  -> core.write(points, reply, now)        -> poll: Send(Write) to each node
peer request  -> core.admit_write(&request)            -> store admission.points(); send admission.answer(ok)
peer answer   -> core.receive(message, now)            -> poll: WriteDone (reply), WriteSettled (hints)
client query  -> core.read(&query, reply, now)         -> poll: Send(Read) ...; ReadDone (merged rows)
timer         -> core.tick(now)                        -> deadlines, fallbacks, catch-up pages
new config    -> core.prepare(config) -> persist bytes -> core.commit(prepared, now)
start         -> Core::restore(saved bytes, node id) -> restoring.prepare_file(file)
                 -> persist bytes -> restoring.start() (-> commit the next generation)
                 (or Core::new the first time)
no data          -> Core::new(config, node) -> core.lost(&core.shards()) -> persist core.saved()
                 (an empty disk under an old node id: its copies take writes, refuse
                 reads, and catch up from the other copies; decision 0045)
```

# Example

A write of three points on a 3-node cluster, each node a core, the network
a loop over their outputs:

```
use rusts_cluster_config::ClusterConfig;
use rusts_cluster_protocol::{Core, Message, Options, Output, Point};
use rusts_cluster_sharding::ShardKeyRef;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample { series: u64, time: i64, value: i64 }
impl Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> { ShardKeyRef::new("cpu", self.series, self.time) }
}

let mut config = ClusterConfig::single_node("a", "127.0.0.1:7001");
# config.nodes.clear();
# for (i, id) in ["a", "b", "c"].into_iter().enumerate() {
#     let mut node = rusts_cluster_config::NodeConfig::new(id, format!("127.0.0.1:700{i}"));
#     node.shards = vec![i as u32];
#     node.replica_shards = (0..3).filter(|&s| s != i as u32).collect();
#     config.nodes.push(node);
# }
config.replication_factor = 3;
config.shard_count = 3;
let mut cores: Vec<Core<Sample, &str>> = ["a", "b", "c"]
    .iter()
    .map(|id| Core::new(config.clone(), id, Options::default()))
    .collect::<Result<_, _>>()?;
let mut stores: Vec<Vec<Sample>> = vec![Vec::new(); 3];

let points = (0..3).map(|s| Sample { series: s, time: 1, value: 10 }).collect();
cores[0].write(points, "client 1", 0)?;
let mut acknowledged = None;
let mut messages = Vec::new();
loop {
    for n in 0..3 {
        while let Some(output) = cores[n].poll() {
            match output {
                Output::Send(to, message) => messages.push((to.index as usize, message)),
                Output::WriteDone(done) => acknowledged = Some((done.payload, done.is_acknowledged())),
                _ => {}
            }
        }
    }
    let Some((to, message)) = messages.pop() else { break };
    match message {
        Message::Write(request) => {
            let admission = cores[to].admit_write(&request);
            stores[to].extend(admission.points().map(|(_, p)| p.clone()));
            let answer = admission.answer(true);
            let from = cores.iter().position(|c| c.node_id() == &*request.header.node).unwrap();
            cores[from].receive(Message::WriteAnswer(answer), 1);
        }
        other => { cores[to].receive(other, 1); }
    }
}
assert_eq!(acknowledged, Some(("client 1", true)));
assert!(stores.iter().all(|s| s.len() == 3), "factor 3: every node has every point");
# Ok::<(), Box<dyn std::error::Error>>(())
```

`examples/engine.rs` is a whole engine over in-memory channels, through a
transition with nodes on different steps
(`cargo run -p rusts-cluster-protocol --example engine`), and
`docs/replication.md` the engine's path in prose.
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

/// A read's filter, as [`ReadRequest`]s carry it: the routing layer's, so
/// that the plan's shards and a replica's points follow one rule.
pub use rusts_cluster_routing::{ApplyChecks, KeyFilter};

pub use crate::{
    catch_up::{CatchUpStatus, CatchUpTask, Source},
    core::{Applied, Core, Delivery, Options, Output, Prepared, Restoring},
    error::ProtocolError,
    message::{
        CatchUpAnswer, CatchUpRequest, Header, Message, Peer, ReadAnswer, ReadRequest, Refusal,
        ShardAnswer, ShardPoints, ShardRows, WriteAnswer, WriteRequest,
    },
    point::{merge, Point, PointId},
    read::ReadDone,
    replica::{CatchUpAdmission, ReadAdmission, WriteAdmission},
    write::{FailReason, ShardOutcome, ShardWrite, WriteDone, WriteSettled},
};

/// Compiles and runs the examples of `docs/replication.md` as doctests.
// A link to the workspace's docs/replication.md inside this crate, so that
// the packaged crate holds the file and its doctests run there too. The
// doc's examples use the protocol core, so they run here rather than in
// the replication crate, which this crate builds on.
#[doc = include_str!("../docs/replication.md")]
#[cfg(doctest)]
pub struct ReplicationDocDoctests;

/// Compiles and runs the examples of this crate's README as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

mod catch_up;
mod core;
mod error;
mod message;
mod point;
mod read;
mod replica;
mod saved;
mod write;
