/*!
A model checker and a randomized simulation of live reconfiguration: one
shard's copies move while nodes run different config generations, and no
acknowledged write may be lost.

Nothing but this crate's own tests should use it; it is unpublished. A
storage engine wants the `rusts-cluster` facade, and an operator the
`rusts-cluster` tool.

The design decision that shapes it: **the model drives the layer's own
code**. Every generation's config becomes a real `ShardRouter`
(`ShardRouter::from_config`, one per node); a coordinator's write targets
and its acknowledgement come from that router (`copies()`,
`write_quorum(0)` fed the copies' answers), and its read targets and count
from `plan_query` at `ReadConsistency::Quorum`. The write rule and the
generation check are asked for every case once, before the search, not at
every state: the same answers, and the factor-3 `Quorum` move with a crash
takes 16.3 s of CPU instead of 26.5 s. The model itself only
holds what the engine holds: each node's generation and store, the
requests in flight, and the catch-up. So a change to the layer's write or
read rule changes what the checker explores, and a wrong rule fails it.
Why a hand-written `stateright::Model` rather than an actor model, what is
modelled and what is abstracted: `docs/decisions/0021-model-checking-transitions.md`.

The randomized simulation ([`simulate`]) goes further: each node runs the
real protocol core, `rusts_cluster_protocol::Core` (writes, reads,
admission, fencing, catch-up, restarts), and the simulation only supplies
the world around it: clients, a lossy network, stores, crashes, the
deployer, and the check of lost writes and incomplete reads.

# Example

```
use rusts_cluster_model::{Bounds, Procedure, Scenario, TransitionModel};
use rusts_cluster_replication::ReplicationMode;
use stateright::{Checker, Model};

// Replication factor 1, Quorum: the copy moves from a to b, B deployed directly.
let scenario = Scenario::new(ReplicationMode::Quorum, 1, 4, &[0], &[1]);
let model = TransitionModel::new(&scenario, &Procedure::one_step(&scenario), Bounds::default());
let checker = model.checker().spawn_bfs().join();
// A write a acknowledged after b caught up, read from b once b runs B.
let path = checker
    .discovery("a Quorum read returns every write acknowledged before it began")
    .expect("the one-step procedure loses a write");
assert!(!path.into_actions().is_empty());
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    model::{
        Action, Answer, Bounds, Identity, Msg, Network, ReadState, State, TransitionModel,
        WriteState, ALL_SOURCES, MAX_WRITES,
    },
    scenario::{CatchUpSchedule, Procedure, Scenario, FIRST_GENERATION, MAX_NODES},
    simulation::{simulate, SimulationConfig, SimulationReport},
};

mod model;
mod scenario;
mod simulation;
