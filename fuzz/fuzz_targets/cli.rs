//! The `cli` fuzz target: see `rusts_cluster_fuzz_checks::cli` for what it
//! checks and how an input is read. The check lives in that crate so that
//! a stable `cargo test` replays this target's corpus through the same
//! code.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    rusts_cluster_fuzz_checks::cli(data);
});
