//! Tests that need the repository around this crate, not only the crate:
//! the shipped example the fixture `testdata/cli/cluster.toml` copies, the
//! docs that describe the tool, and the git checkout the binary was built
//! from. build.rs sets `cfg(in_repository)` when the repository is there;
//! the packaged crate holds none of it, and is built without this module
//! (Cargo.toml `exclude`).

use std::{fs, path::PathBuf, process::Command};

use crate::util::{data, run, subcommands, takes_format};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A file of the repository, its lines joined and its spaces collapsed, so
/// that a sentence reads the same however Markdown wraps it.
fn prose(path: &str) -> String {
    let text = fs::read_to_string(root().join(path)).unwrap();
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The names in backticks in `text`.
fn quoted(text: &str) -> Vec<&str> {
    text.split('`').skip(1).step_by(2).collect()
}

/// The subcommands that take `--format` (`true`) or not (`false`).
fn by_format(with: bool) -> Vec<String> {
    subcommands()
        .iter()
        .map(|s| s.get_name().to_owned())
        .filter(|name| takes_format(name) == with)
        .collect()
}

/// The fixture is the shipped example, byte for byte: an example changed
/// at the root fails here until the copy follows.
#[test]
fn the_fixture_copies_match_their_originals() {
    let copies = [("cluster.toml", "examples/cluster.toml")];
    for (copy, original) in copies {
        assert_eq!(
            fs::read(data(copy)).unwrap(),
            fs::read(root().join(original)).unwrap(),
            "testdata/cli/{copy} differs from {original}: copy it again"
        );
    }
    // Every other fixture of testdata/cli/ is the CLI's own.
    let mut names: Vec<String> = fs::read_dir(data(""))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["cluster.toml", "escapes.toml", "moving.toml"]);
}

/// The README names the subcommands that take no `--format json`, and
/// docs/operations.md those that do and the message for the others: each
/// as clap has them.
#[test]
fn the_docs_name_the_subcommands_that_take_format_as_clap_does() {
    let readme = prose("README.md");
    let (_, after) = readme.split_once("Every subcommand except ").unwrap();
    let (except, _) = after
        .split_once(" takes `--format json` for scripts")
        .unwrap();
    assert_eq!(quoted(except), by_format(false), "README.md: {except}");

    let operations = prose("docs/operations.md");
    let (_, after) = operations.split_once("`--format json` (on ").unwrap();
    let (list, _) = after.split_once(')').unwrap();
    assert_eq!(quoted(list), by_format(true), "docs/operations.md: {list}");
    let (_, after) = operations.split_once("they exit 2 with \"").unwrap();
    let (quote, _) = after.split_once("...\"").unwrap();
    let report = run(&["man", "--format", "json"]).exits(2).report();
    let message = report["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.starts_with(quote),
        "docs/operations.md quotes {quote:?}; the tool says {message:?}"
    );
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
        // version, which manual::version_names_the_build accepts.
        return;
    }
    let out = run(&["--version"]).exits(0);
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
