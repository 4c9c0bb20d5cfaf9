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
    /// `--lost-data` was given for a data directory that holds a saved
    /// state: the node has not lost its data.
    #[error(
        "node {node} has a saved state in {dir}, so it has not lost its data: --lost-data is for \
         a node started on an empty data directory; start it without the flag (or, if its data \
         really is gone, empty {dir} first)",
        dir = dir.display(),
    )]
    LostDataWithState {
        /// The node id.
        node: String,
        /// The data directory.
        dir: PathBuf,
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
pub(crate) fn shard_list(shards: &[u32]) -> String {
    let shown: Vec<String> = shards.iter().take(8).map(u32::to_string).collect();
    match shards.len() {
        n if n > 8 => format!("{} and {} more", shown.join(", "), n - 8),
        _ => shown.join(", "),
    }
}
