//! The protocol core's tests, one binary: writes, fencing, reads, the
//! replica's admission, config identity, catch-up, the saved state and the
//! messages.

mod admission;
mod catch_up;
mod fencing;
mod identity;
mod lost;
mod messages;
mod reads;
mod saved;
mod util;
mod writes;
