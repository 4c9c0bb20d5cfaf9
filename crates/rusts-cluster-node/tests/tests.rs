//! The node's integration tests, one binary: real processes on loopback
//! (`processes`), the same code over turmoil's simulated network
//! (`simulation`), with the shared harness in `util`.

mod processes;
mod simulation;
mod util;
