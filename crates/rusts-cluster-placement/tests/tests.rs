//! The crate's integration tests, one topic per module: placement and move
//! planning (`placement`), and transition plans (`transition`), with the
//! helpers they share in `util`.
//!
//! One test binary for the crate, as ripgrep lays its tests out: each
//! binary is linked on its own, and one links once.

mod util;

mod placement;
mod transition;
mod way_back;
