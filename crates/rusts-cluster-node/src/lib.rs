/*!
A reference storage node on RusTs's cluster layer: the protocol core
driven over HTTP, with its points in an embedded store.

This crate is the project's worked example of an engine, not a library
to build on: it is not in the facade, and an engine team reads it to see
what driving [`Core`](rusts_cluster::Core) over real sockets and a real
disk takes. Its binary, `rusts-cluster-node`, is what the real-process
tests, the simulation and the operator's walkthrough run.

The design that shapes it: **one task owns the core, the store and the
clock**, fed by one channel (`engine.rs`). The HTTP server, the peer
client and the signal handler only turn bytes into events and decisions
back into bytes; no lock guards the core, and every rule the protocol
leaves to the engine is in one file, each marked `ENGINE OBLIGATION`.
The server and client are written against [`Net`], so the same code runs
over tokio's TCP ([`TokioNet`]) and over turmoil's simulated network.

# Example

Open a node of a one-node cluster (its store in a fresh directory, on a
port the system picks); `node.run().await` would then serve it:

```
use rusts_cluster_node::{Node, NodeOptions, TokioNet};

let dir = std::env::temp_dir().join(format!("rusts-node-doc-{}", std::process::id()));
std::fs::create_dir_all(&dir)?;
let config = dir.join("cluster.toml");
std::fs::write(&config, r#"
    replication_factor = 1
    shard_count = 1
    [[nodes]]
    id = "node1"
    address = "127.0.0.1:7001"
    shards = [0]
"#)?;
let options = NodeOptions {
    config,
    node_id: "node1".to_owned(),
    data_dir: dir.join("node1"),
    listen: Some("127.0.0.1:0".to_owned()),
    bootstrap: false,
    lost_data: false,
    unsafe_skip_step_checks: false,
};
let runtime = tokio::runtime::Runtime::new()?;
let node = runtime.block_on(Node::open(TokioNet, options))?;
assert_eq!(node.address(), "127.0.0.1:0");
# drop(node);
# std::fs::remove_dir_all(&dir)?;
# Ok::<(), Box<dyn std::error::Error>>(())
```

`docs/node.md` in the workspace describes the interface, the choices and
the figures.
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    error::NodeError,
    http::MAX_WRITE_BODY,
    net::{Net, TokioNet},
    node::{Node, NodeOptions, Reloader},
    point::Sample,
};

mod api;
mod engine;
mod error;
mod http;
mod net;
mod node;
mod point;
mod store;
