//! The crate's integration tests, in one binary (as ripgrep lays its tests
//! out): one module per topic, and `util` for what they share. Fixtures
//! are TOML files under `testdata/`.

mod catch_up;
mod docs;
mod handover;
mod hostile;
mod identity;
mod look_alike;
mod moving;
mod node_id;
// The property tests need the crate's generators, behind its `proptest`
// feature: the workspace turns it on through the self dev-dependency, and
// a packaged crate (which has no such dependency) with `--features
// proptest` or `--all-features`; without it they compile out.
#[cfg(feature = "proptest")]
mod properties;
mod reports;
mod testdata;
mod util;
