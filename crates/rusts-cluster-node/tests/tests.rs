//! The node's integration tests, one binary: real processes (`processes`).
