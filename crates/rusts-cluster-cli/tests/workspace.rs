//! Tests that need the whole repository, not only this crate: the shared
//! broken-config corpus (`testdata/invalid/`), the shipped example, and the
//! git checkout the binary was built from. This file is excluded from the
//! packaged crate (Cargo.toml `exclude`), which holds none of them.

mod common;

use std::{fs, path::PathBuf, process::Command};

use common::{data, run};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every invalid fixture exits 1, with its rule's code, or with the parse
/// or encoding problem at the fixture's expected place.
#[test]
fn every_invalid_fixture_exits_1_and_names_its_rule() {
    let dir = root().join("testdata/invalid");
    let mut seen = 0;
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let text = fs::read(&path).unwrap();
        let text = String::from_utf8_lossy(&text);
        let Some(expect) = text.lines().find_map(|l| l.strip_prefix("# expect: ")) else {
            continue;
        };
        let file = path.display().to_string();
        let out = run(&["validate", &file]);
        assert_eq!(out.code, 1, "{file}");
        // Codes may carry a repeat count: `shard-out-of-range*1000`.
        let first = expect.split([',', '*']).next().unwrap().trim();
        assert!(
            out.stderr.contains(&format!("[{first}]\n")),
            "{file}: {}",
            out.stderr
        );
        if first == "parse" {
            // The fixture's message is the library's: `line L, column C:
            // message`. The CLI prints `FILE:L:C: message`.
            let message = text
                .lines()
                .find_map(|l| l.strip_prefix("# expect-message: "))
                .unwrap();
            let expected = match parse_location(message) {
                Some((line, column, rest)) => format!("{file}:{line}:{column}: {rest}"),
                None => message.to_owned(),
            };
            assert!(
                out.stderr.contains(expected.trim_end()),
                "{file}: expected {expected:?} in {}",
                out.stderr
            );
        }
        seen += 1;
    }
    assert!(seen >= 40, "only {seen} fixtures");
}

/// `line 15, column 1: rest` as (15, 1, "rest").
fn parse_location(message: &str) -> Option<(usize, usize, &str)> {
    let rest = message.strip_prefix("line ")?;
    let (line, rest) = rest.split_once(", column ")?;
    let (column, rest) = rest.split_once(':').unwrap_or((rest, ""));
    Some((line.parse().ok()?, column.trim().parse().ok()?, rest.trim()))
}

/// The copies under tests/data/ are the workspace's files, byte for byte:
/// a fixture changed at the root fails here until the copy follows.
#[test]
fn the_fixture_copies_match_their_originals() {
    let copies = [
        ("cluster.toml", "examples/cluster.toml"),
        (
            "many-problems-at-once.toml",
            "testdata/invalid/many-problems-at-once.toml",
        ),
        (
            "parse-syntax-error.toml",
            "testdata/invalid/parse-syntax-error.toml",
        ),
        ("not-utf8.toml", "testdata/invalid/not-utf8.toml"),
        (
            "duplicate-node-id.toml",
            "testdata/invalid/duplicate-node-id.toml",
        ),
    ];
    let mut names: Vec<String> = fs::read_dir(data(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    let mut listed: Vec<&str> = copies.iter().map(|(copy, _)| *copy).collect();
    listed.sort();
    assert_eq!(names, listed, "tests/data/ holds exactly the listed copies");
    for (copy, original) in copies {
        assert_eq!(
            fs::read(data(copy)).unwrap(),
            fs::read(root().join(original)).unwrap(),
            "tests/data/{copy} differs from {original}: copy it again"
        );
    }
}

/// Built from this checkout, `--version` names a commit of it.
#[test]
fn version_names_a_commit_of_this_checkout() {
    let git = Command::new("git")
        .args(["rev-parse", "--git-dir"])
        .current_dir(root())
        .output();
    if !git.is_ok_and(|o| o.status.success()) {
        // A source tarball without .git: build.rs falls back to the bare
        // version, which tests/cli.rs accepts.
        return;
    }
    let out = run(&["--version"]);
    let commit = out
        .stdout
        .trim_end()
        .strip_prefix("rusts-cluster 0.1.0 (")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("no commit in {:?}", out.stdout));
    let known = Command::new("git")
        .args(["cat-file", "-e", &format!("{commit}^{{commit}}")])
        .current_dir(root())
        .status()
        .unwrap();
    assert!(known.success(), "{commit} is not a commit of this checkout");
}
