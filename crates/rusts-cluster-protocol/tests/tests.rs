//! The protocol core's tests, one binary: writes, fencing, reads, the
//! replica's admission, catch-up, the saved state and the messages.

mod admission;
mod catch_up;
mod fencing;
mod messages;
mod reads;
mod saved;
mod util;
mod writes;
