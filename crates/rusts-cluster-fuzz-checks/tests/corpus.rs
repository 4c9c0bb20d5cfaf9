//! Replays every committed fuzz corpus file (`fuzz/corpus/<target>/`)
//! through the same check the fuzz target runs, so that the corpus is
//! exercised by a stable `cargo test`, without nightly Rust or cargo-fuzz.

use std::{
    fs,
    panic::{catch_unwind, AssertUnwindSafe},
    path::{Path, PathBuf},
};

use rusts_cluster_fuzz_checks::{run_target, TARGETS};

/// The fewest files each committed corpus may hold: a corpus deleted or
/// emptied by mistake fails the test instead of testing nothing.
const MIN_FILES_PER_TARGET: usize = 20;

fn corpus_files(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus {}: {e}", dir.display()))
        .map(|entry| entry.expect("a corpus entry").path())
        .collect();
    files.sort();
    files
}

#[test]
fn every_corpus_file_passes_its_target() {
    let mut failures = Vec::new();
    for target in TARGETS {
        let files = corpus_files(target);
        assert!(
            files.len() >= MIN_FILES_PER_TARGET,
            "fuzz/corpus/{target} has {} files, expected at least {MIN_FILES_PER_TARGET}",
            files.len()
        );
        for path in files {
            let data =
                fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
            let outcome = catch_unwind(AssertUnwindSafe(|| {
                assert!(run_target(target, &data), "unknown target {target}");
            }));
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                    .unwrap_or_default();
                failures.push(format!("{}: {message}", path.display()));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus files fail their target:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The targets replayed here are exactly the fuzz targets, and each target
/// calls the check of its own name: a target added to `fuzz/` without a
/// corpus replay, or wired to the wrong check, fails here.
#[test]
fn the_replayed_targets_are_the_fuzz_targets() {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let manifest = fs::read_to_string(fuzz.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let bins: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|bin| {
            let line = bin.lines().find(|l| l.trim_start().starts_with("name"))?;
            line.split('"').nth(1)
        })
        .collect();
    assert_eq!(bins, TARGETS, "fuzz/Cargo.toml's targets");
    for target in TARGETS {
        let source = fs::read_to_string(fuzz.join("fuzz_targets").join(format!("{target}.rs")))
            .unwrap_or_else(|e| panic!("fuzz target {target}: {e}"));
        assert!(
            source.contains(&format!("rusts_cluster_fuzz_checks::{target}(data)")),
            "fuzz/fuzz_targets/{target}.rs must call rusts_cluster_fuzz_checks::{target}"
        );
    }
    assert!(!run_target("no_such_target", b""));
}
