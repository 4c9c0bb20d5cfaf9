//! The node's error type.

use std::path::PathBuf;

use thiserror::Error;

/// Why the node could not start, or stopped.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum NodeError {
    /// A command-line argument is missing or wrong.
    #[error("argument {flag}: {problem}; usage: rusts-cluster-node --config FILE --node-id ID --data-dir DIR [--listen ADDR]")]
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
