//! The `rusts-cluster` operator tool, as a library so that its tests and
//! its fuzz target run the whole tool in-process.
//!
//! This is not an API: nothing here is covered by semver, and the binary is
//! the product (docs/operations.md). Use the `rusts-cluster` facade crate
//! to work with cluster configs from Rust.
//!
//! The design decision that shapes it: the tool never panics, never exits
//! the process and never prints through `println!`. [`run`] takes the
//! arguments and the two output streams and returns the exit code; every
//! report goes through one writer that is checked and flushed, so that a
//! full disk is an error naming the failure and a closed pipe ends the run
//! quietly.
//!
//! ```
//! let mut out = Vec::new();
//! let mut err = Vec::new();
//! let terminal = rusts_cluster_cli::Terminal::default();
//! let code = rusts_cluster_cli::run(["rusts-cluster", "--version"], &mut out, &mut err, terminal);
//! assert_eq!(code, 0);
//! assert!(String::from_utf8(out)?.starts_with("rusts-cluster 0.1.0"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

#[doc(hidden)]
pub use crate::app::{command, run, wants_json, Terminal};

mod app;
mod atomic;
mod cli;
mod commands;
mod load;
mod parsers;
mod poll;
mod report;
mod text;
mod timestamp;
