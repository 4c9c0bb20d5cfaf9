//! The node's integration tests, one binary: real processes on loopback
//! (`processes`), with the shared harness in `util`.

mod processes;
mod util;
