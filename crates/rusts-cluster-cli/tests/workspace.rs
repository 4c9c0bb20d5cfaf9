//! Tests that need the repository around this crate, not only the crate:
//! the shipped example the fixture `testdata/cli/cluster.toml` copies, the
//! docs that describe the tool, and the git checkout the binary was built
//! from. build.rs sets `cfg(in_repository)` when the repository is there;
//! the packaged crate holds none of it, and is built without this module
//! (Cargo.toml `exclude`).

use std::{fs, path::PathBuf, process::Command};

use rusts_cluster_config::{ClusterConfig, NodeConfig};

use crate::util::{
    binary, data, fake_cluster, path, run, run_cmd, subcommands, takes_format, testdata, FakeNode,
    Scratch,
};

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

/// The lines of the ```` ```text ```` blocks of docs/operations.md's
/// section on operator mistakes.
fn mistake_quotes() -> Vec<String> {
    let text = fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let at = text
        .find("\n## Operator mistakes")
        .expect("docs/operations.md has the section on operator mistakes");
    let section = &text[at + 1..];
    let section = &section[..section[3..].find("\n## ").map_or(section.len(), |i| i + 3)];
    let mut quotes = Vec::new();
    let mut lines = section.lines();
    while let Some(line) = lines.next() {
        if line.trim() == "```text" {
            quotes.extend(
                lines
                    .by_ref()
                    .take_while(|l| l.trim() != "```")
                    .map(str::to_owned),
            );
        }
    }
    quotes
}

/// Each quote of docs/operations.md's section on operator mistakes is
/// what the tool says when the mistake is made: every mistake is made
/// here, on the cluster the walkthroughs use (6 nodes in 3 zones, 24
/// shards, 3 copies), and every quoted line must be in what the tool
/// printed.
#[test]
fn the_operator_mistakes_quote_the_tool() {
    let scratch = Scratch::new();
    let old = scratch.generated("cluster.toml", 6, 3, 24, 3);
    let new = scratch.arg("new.toml");
    let mut said = String::new();
    let mut say = |args: &[&str], code: u8| {
        let out = run(args).exits(code);
        said.push_str(&out.stdout);
        said.push_str(&out.stderr);
    };
    // Deploying rebalance's output directly (its note).
    say(
        &[
            "rebalance",
            &old,
            "--add-node",
            "n6=10.0.9.1:8086,zone=z0",
            "--output",
            &new,
        ],
        0,
    );
    let steps = scratch.path("steps");
    say(
        &["transition", &old, &new, "--output-dir", &path(&steps)],
        0,
    );
    // Splitting a step file.
    say(
        &[
            "split",
            &path(&steps.join("01-joint-writes.toml")),
            "--factor",
            "2",
        ],
        1,
    );
    // A removed node's address, respelled.
    let replaced = scratch.arg("replaced.toml");
    say(
        &[
            "rebalance",
            &old,
            "--remove-node",
            "n5",
            "--add-node",
            "n6=10.0.0.6:08086,zone=z2",
            "--output",
            &replaced,
        ],
        0,
    );
    say(
        &[
            "transition",
            &old,
            &replaced,
            "--output-dir",
            &scratch.arg("s2"),
        ],
        1,
    );
    // Too few copies for writes.
    let mut thin = ClusterConfig::from_file(&new).unwrap();
    for node in &mut thin.nodes {
        node.replica_shards.retain(|&s| s != 0);
    }
    let thin_file = scratch.arg("thin.toml");
    fs::write(&thin_file, thin.to_toml().unwrap()).unwrap();
    say(
        &[
            "transition",
            &old,
            &thin_file,
            "--output-dir",
            &scratch.arg("s3"),
        ],
        1,
    );
    // A look-alike id.
    let look_alike = testdata().join("invalid/look-alike-node-id.toml");
    say(&["validate", &path(&look_alike)], 1);
    // A removed node that holds no copy.
    let mut with_e = ClusterConfig::from_file(&old).unwrap();
    with_e.nodes.push(NodeConfig::new("e", "10.0.7.7:8086"));
    let with_e_file = scratch.arg("with-e.toml");
    fs::write(&with_e_file, with_e.to_toml().unwrap()).unwrap();
    say(
        &[
            "transition",
            &with_e_file,
            &new,
            "--output-dir",
            &scratch.arg("s4"),
        ],
        0,
    );
    // Changing the replication settings.
    let rf2 = scratch.generated("rf2.toml", 6, 3, 24, 2);
    say(&["diff", &old, &rf2], 0);
    // Stopping writes to a shard: a state in the config, shown by `diff`.
    let cluster = testdata().join("cli/cluster.toml");
    let text = fs::read_to_string(&cluster).unwrap().replace(
        "shard_count = 16",
        "shard_count = 16\ngeneration = 1\nread_only_shards = [9, 3]",
    );
    let read_only = scratch.arg("read-only.toml");
    fs::write(&read_only, text).unwrap();
    say(&["diff", &path(&cluster), &read_only], 0);
    let quotes = mistake_quotes();
    assert!(quotes.len() >= 7, "{quotes:?}");
    for quote in quotes {
        assert!(
            said.contains(&quote),
            "the tool no longer says\n  {quote}\nit said:\n{said}"
        );
    }
}

/// The `status` example of docs/operations.md is what the tool prints for
/// nodes in those states: fake nodes answer as the example's do, at
/// loopback addresses that are put back as the example's before each
/// quoted line is looked for (spaces collapsed and table rules left out,
/// as the addresses' lengths differ). Linux: the example quotes Linux's
/// message for a refused connection.
#[cfg(target_os = "linux")]
#[test]
fn the_status_example_quotes_the_tool() {
    let text = fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let (_, section) = text
        .split_once("### Checking a rollout: `rusts-cluster status`")
        .expect("docs/operations.md has the section on `status`");
    let (_, block) = section.split_once("```text\n").unwrap();
    let (block, _) = block.split_once("```").unwrap();
    let collapse = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    let scratch = Scratch::new();
    fs::create_dir(scratch.path("steps")).unwrap();
    let nodes = [
        FakeNode::status("a1", 1, 0),
        FakeNode::status("b1", 1, 3),
        FakeNode::status("c1", 0, 0),
    ];
    let refused = FakeNode::refused();
    let real = [
        nodes[0].address.as_str(),
        &nodes[1].address,
        &nodes[2].address,
        &refused,
    ];
    let ids = ["a1", "b1", "c1", "d1"];
    let config: Vec<(&str, &str)> = ids.into_iter().zip(real).collect();
    fake_cluster(&scratch, "steps/01-joint-writes.toml", 1, &config);
    let args = ["status", "steps/01-joint-writes.toml"];
    let out = run_cmd(binary().args(args).current_dir(&scratch.0), &args).exits(1);
    let mut said = format!("{}\n{}", out.stderr, out.stdout);
    let shown = [
        "10.0.1.1:8086",
        "10.0.2.1:8086",
        "10.0.3.1:8086",
        "10.0.3.2:8086",
    ];
    for (real, shown) in real.iter().zip(shown) {
        said = said.replace(real, shown);
    }
    let said: Vec<String> = said.lines().map(collapse).collect();
    let mut quoted = 0;
    for line in block
        .lines()
        .filter(|l| !l.starts_with("$ ") && !l.starts_with('+'))
    {
        quoted += 1;
        assert!(
            said.contains(&collapse(line)),
            "the tool no longer says\n  {line}\nit said:\n{}",
            said.join("\n")
        );
    }
    assert!(quoted >= 9, "{block}");
}

/// The way back's example in docs/operations.md ("Going back from step 1
/// or step 2") is what the tool prints, run as the walkthrough runs it:
/// from step 2 of a3's addition, in the directory that holds the files.
#[test]
fn the_way_back_example_quotes_the_tool() {
    let text = fs::read_to_string(root().join("docs/operations.md")).unwrap();
    let (_, section) = text
        .split_once("### Going back from step 1 or step 2")
        .expect("docs/operations.md has the section on the way back");
    let (_, block) = section.split_once("```console\n").unwrap();
    let (block, _) = block.split_once("```").unwrap();
    let scratch = Scratch::new();
    crate::way_back::walkthrough(&scratch);
    let command = block.lines().next().unwrap();
    let args: Vec<&str> = command
        .strip_prefix("$ rusts-cluster ")
        .expect("the block starts with the command")
        .split_whitespace()
        .collect();
    let out = run_cmd(binary().args(&args).current_dir(&scratch.0), &args).exits(0);
    let collapse = |line: &str| line.split_whitespace().collect::<Vec<_>>().join(" ");
    let said: Vec<String> = out.stdout.lines().map(collapse).collect();
    let mut quoted = 0;
    for line in block.lines().skip(1) {
        let line = collapse(line);
        if line.is_empty() || line == "..." {
            continue;
        }
        quoted += 1;
        assert!(
            said.contains(&line),
            "the tool no longer says\n  {line}\nit said:\n{}",
            said.join("\n")
        );
    }
    assert!(quoted >= 8, "{block}");
}
