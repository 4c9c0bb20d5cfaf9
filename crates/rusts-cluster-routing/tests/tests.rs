//! The crate's integration tests, in one binary (as ripgrep lays its tests
//! out): one module per topic, and `util` for what they share. The
//! allocation counts are a binary of their own (`allocations.rs` says why).
//! Each module's proptest regressions sit beside it
//! (`<module>.proptest-regressions`), where proptest looks them up from the
//! module's source file.

mod apply;
mod arbitrary_configs;
mod batch_and_reader;
mod concurrency;
mod consistency;
mod docs;
mod moves;
mod properties;
mod query;
mod split;
mod util;
