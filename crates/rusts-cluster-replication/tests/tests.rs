//! The integration tests of the replication layer, one topic per module:
//!
//! - `properties`: the quorum invariants, as property tests;
//! - `simulation`: the seeded fault simulation of `PendingWrites` (its
//!   environment variables are in the module's docs).
//!
//! One test binary for the crate, as ripgrep lays its tests out: each
//! binary is linked on its own, and one links once.

mod properties;
mod simulation;
