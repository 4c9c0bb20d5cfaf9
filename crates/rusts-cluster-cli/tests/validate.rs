//! `validate`: the example's warnings, errors with their file, line, column
//! and code, file errors that say why, every config of the shared broken
//! corpus (`testdata/invalid/`), and generated configs that pass.

use std::fs;

use proptest::prelude::*;

use crate::util::{data, invalid, json, path, run, run_bin, testdata, Scratch};

#[test]
fn the_example_validates_with_its_known_warnings() {
    run_bin(&["validate", "cli/cluster.toml"])
        .exits(0)
        .stdout_is("cli/cluster.toml: valid, generation 0, 2 warnings\n")
        .stderr_has("warning: cli/cluster.toml: shards 8-15 have only 1 copy");
    run_bin(&["validate", "cli/cluster.toml", "--deny-warnings"])
        .exits(1)
        .stderr_has("error: cli/cluster.toml: 2 warnings and --deny-warnings [warnings-denied]");
    let file = path(&data("cluster.toml"));
    let report = json(&["validate", &file], 0);
    assert_eq!(report["valid"], true);
    assert_eq!(report["generation"], 0);
    assert_eq!(report["warnings"][0]["code"], "under-replicated");
    assert_eq!(report["warnings"][0]["file"], file);
}

#[test]
fn errors_carry_file_line_column_and_code() {
    let file = path(&invalid("many-problems-at-once.toml"));
    let report = json(&["validate", &file], 1);
    assert_eq!(report["valid"], false);
    let errors = report["errors"].as_array().unwrap();
    let dup = errors
        .iter()
        .find(|e| e["code"] == "duplicate-primary")
        .unwrap();
    assert_eq!(
        (dup["line"].as_u64(), dup["column"].as_u64()),
        (Some(29), Some(11))
    );
    assert_eq!(dup["file"], file);
    run_bin(&["validate", "invalid/many-problems-at-once.toml"])
        .exits(1)
        .stderr_has("error: invalid/many-problems-at-once.toml:18:17: node \"node1\" lists shard 9")
        .stderr_has(
            "error: invalid/many-problems-at-once.toml: shard 3 has no primary node; list each shard in exactly one node's `shards` [missing-primary]",
        );
}

#[test]
fn file_errors_say_why_in_the_documented_format() {
    run_bin(&["show", "no/such.toml"])
        .exits(1)
        .stdout_is("")
        .stderr_is(
            "error: cannot read cluster config `no/such.toml`: No such file or directory (os error 2) [io]\n",
        );
    run_bin(&["validate", "invalid/parse-syntax-error.toml"])
        .exits(1)
        .stderr_starts("error: invalid/parse-syntax-error.toml:15:1: ")
        .stderr_ends(" [parse]\n");
    run_bin(&["validate", "invalid/not-utf8.toml"])
        .exits(1)
        .stderr_is(
            "error: invalid/not-utf8.toml:9:20: not UTF-8 text: invalid byte at line 9, column 20; save the file as UTF-8 [not-utf8]\n",
        );
    run_bin(&["validate", "."])
        .exits(1)
        .stderr_has("Is a directory (os error 21) [io]");
}

/// Every invalid fixture exits 1, with its rule's code, or with the parse
/// or encoding problem at the fixture's expected place.
#[test]
fn every_invalid_fixture_exits_1_and_names_its_rule() {
    let dir = testdata().join("invalid");
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("RUSTS_CLI_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(12)
    ))]

    /// generate, then validate with warnings denied: zero warnings whenever
    /// every node can hold a copy.
    #[test]
    fn prop_generate_then_validate_has_no_warning(
        (n, z, s, r) in (1usize..=40, 1usize..=5, 1usize..=4096)
            .prop_flat_map(|(n, z, s)| (Just(n), Just(z), Just(s), 1..=n.min(5)))
    ) {
        prop_assume!(s * r >= n);
        let scratch = Scratch::new();
        let file = scratch.generated("c.toml", n, z, s, r);
        let out = run(&["validate", &file, "--deny-warnings"]);
        prop_assert_eq!(out.code, 0, "{}", out.stderr);
    }
}
