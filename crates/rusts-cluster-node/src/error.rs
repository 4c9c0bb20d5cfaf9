//! The node's error type.

use std::path::PathBuf;

use thiserror::Error;

/// Why the node could not start, or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A command-line argument is missing or wrong.
    #[error("argument {flag}: {problem} (rusts-cluster-node --help shows the usage)")]
    Usage {
        /// The flag (or the unknown argument).
        flag: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The config file could not be read or is invalid.
    #[error("the config file {path} cannot be used")]
    Config {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rusts_cluster::ConfigError,
    },
    /// The protocol core refused to start: the config names no such node,
    /// the saved state is another node's or unreadable, or the config file
    /// does not follow the saved state (older, another file of the same
    /// generation, or a skipped step).
    #[error("the protocol core cannot start as node {node}")]
    Core {
        /// The node id.
        node: String,
        /// Why.
        #[source]
        source: Box<rusts_cluster::ProtocolError>,
    },
    /// A node with no saved state was started on a file that gives it
    /// copies it has not joined, past generation 0: it has lost its data,
    /// or a step was skipped.
    #[error(
        "node {node} has no saved state in {dir}, but generation {generation} of the config gives it \
         {count} cop{plural} it has not joined (shards {list}): a node without its data must not serve \
         them. If this node lost its data, remove it with `rusts-cluster rebalance --remove-node` and \
         `transition`, then add it back (its copies then join and catch up); if this is a new \
         cluster, pass --bootstrap",
        dir = dir.display(),
        count = shards.len(),
        plural = if shards.len() == 1 { "y" } else { "ies" },
        list = shard_list(shards),
    )]
    NoData {
        /// The node id.
        node: String,
        /// The data directory.
        dir: PathBuf,
        /// The file's generation.
        generation: u64,
        /// The copies it holds without joining them.
        shards: Vec<u32>,
    },
    /// The store failed.
    #[error("the store in {path} failed")]
    Store {
        /// The store's file.
        path: PathBuf,
        /// Why.
        #[source]
        source: Box<redb::Error>,
    },
    /// The node could not listen on its address.
    #[error("cannot listen on {address}: pass another with --listen, or free the port")]
    Listen {
        /// The address.
        address: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// At most eight shard ids, then how many more.
fn shard_list(shards: &[u32]) -> String {
    let shown: Vec<String> = shards.iter().take(8).map(u32::to_string).collect();
    match shards.len() {
        n if n > 8 => format!("{} and {} more", shown.join(", "), n - 8),
        _ => shown.join(", "),
    }
}
