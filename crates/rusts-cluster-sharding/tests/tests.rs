//! The integration tests of the sharding layer, one topic per module:
//!
//! - `properties`: the invariants of every strategy, the prepared mapper
//!   and splits, as property tests over the workspace's one generator of
//!   strategies (the `testing` feature);
//! - `value_stability`: exact key to shard outputs, pinned.
//!
//! One test binary for the crate, as ripgrep lays its tests out: each
//! binary is linked on its own, and one links once.

// The crate's self dev-dependency turns `testing` on in the workspace;
// a packaged crate drops that dependency (it has no version), so there
// these tests run with `cargo test --features testing` and are compiled
// out otherwise.
#[cfg(feature = "testing")]
mod properties;
mod value_stability;
