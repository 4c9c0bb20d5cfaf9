//! The command line: usage errors (exit 2), any-case arguments, and the
//! subcommand named in every report, read from clap.

use std::fs;

use serde_json::json;

use crate::util::{generate_args, path, run, run_bin, strs, subcommands, takes_format, Scratch};

#[test]
fn usage_errors_exit_2() {
    run_bin(&["validate"]).exits(2);
    run_bin(&["frobnicate"]).exits(2);
    run_bin(&[]).exits(2);
    let generate = |node: &str| {
        run_bin(&[
            "generate",
            "--node",
            node,
            "--shards",
            "4",
            "--replication-factor",
            "1",
        ])
    };
    generate("nonsense")
        .exits(2)
        .stderr_has("is not ID=HOST:PORT");
    // An address without a port is refused by the command line, not by
    // validating the generated config.
    generate("a=10.0.0.1")
        .exits(2)
        .stderr_has("`a=10.0.0.1`: the address `10.0.0.1` is not HOST:PORT: it has no `:port`");
    generate("a=[::1]:0").exits(2);
    let route_at = |timestamp: &str| {
        run_bin(&[
            "route",
            "cli/cluster.toml",
            "--measurement",
            "cpu",
            "--series-id",
            "1",
            "--timestamp",
            timestamp,
        ])
    };
    route_at("2026-02-30T00:00:00Z")
        .exits(2)
        .stderr_has("`2026-02-30T00:00:00Z` is not a timestamp: day 30 does not exist in 2026-02");
    route_at("2300-01-01T00:00:00Z")
        .exits(2)
        .stderr_has("`2300-01-01T00:00:00Z` is out of range");
}

#[test]
fn arguments_take_any_case_and_reports_use_the_files_spelling() {
    let scratch = Scratch::new();
    let mut args = generate_args(3, 3, 6, 2);
    args.extend(
        [
            "--mode",
            "SYNCHRONOUS",
            "--strategy",
            "bytime:3600000000000",
        ]
        .map(String::from),
    );
    let out = run(&strs(&args))
        .exits(0)
        .stdout_has("replication_mode = \"Synchronous\"")
        .stdout_has("[sharding_strategy.ByTime]\nduration_nanos = 3600000000000\n");
    let file = scratch.path("c.toml");
    fs::write(&file, &out.stdout).unwrap();
    run(&["show", &path(&file), "--format", "TEXT"]).stdout_starts(
        "cluster rusts, generation 0: 6 shards, replication factor 2, Synchronous, ByTime (duration_nanos = 3600000000000); no node_id (one file for every node)\n",
    );
    let report = run(&["show", &path(&file), "--format", "Json"]).report();
    assert_eq!(report["replication_mode"], "Synchronous");
    assert_eq!(
        report["sharding_strategy"],
        json!({"ByTime": {"duration_nanos": 3600000000000_i64}})
    );
    // A wrong value lists the file's spellings.
    let mut args = generate_args(1, 1, 1, 1);
    args.extend(["--mode", "sync"].map(String::from));
    run_bin(&strs(&args))
        .exits(2)
        .stderr_has("Synchronous, Quorum, Asynchronous");
}

/// A command line clap refuses still names its subcommand in the JSON
/// report, for every subcommand clap knows: a new one is covered here
/// without being listed (`transition` once reported `"command": null`).
#[test]
fn every_subcommand_names_itself_on_a_refused_command_line() {
    let names: Vec<String> = subcommands()
        .iter()
        .map(|s| s.get_name().to_owned())
        .collect();
    assert!(names.len() >= 11, "{names:?}");
    for name in &names {
        for args in [
            vec![name.as_str(), "--bogus", "--format", "json"],
            vec![
                "--table-style",
                "ascii",
                name.as_str(),
                "--bogus",
                "--format=JSON",
            ],
        ] {
            let out = run(&args).exits(2).stdout_starts("{");
            let report = out.report();
            assert_eq!(report["command"], name.as_str(), "{args:?}: {report:#}");
            assert_eq!(report["errors"][0]["code"], "usage", "{args:?}");
            assert_eq!(
                report["errors"][0]["message"], "unexpected argument '--bogus' found",
                "{args:?}"
            );
        }
    }
    // No subcommand named, none reported.
    let report = run(&["frobnicate", "--format", "json"]).exits(2).report();
    assert_eq!(report["command"], serde_json::Value::Null);
}

/// The subcommands whose output is for another program (a shell, man)
/// take no `--format`, and say so with the list of those that do, read
/// from clap; docs/operations.md quotes the message.
#[test]
fn format_on_a_subcommand_without_it_names_those_with_it() {
    let with: Vec<String> = subcommands()
        .iter()
        .map(|s| s.get_name().to_owned())
        .filter(|name| takes_format(name))
        .collect();
    let without: Vec<String> = subcommands()
        .iter()
        .map(|s| s.get_name().to_owned())
        .filter(|name| !takes_format(name))
        .collect();
    assert_eq!(without, ["completions", "man"]);
    for (name, args) in [
        (
            "completions",
            vec!["completions", "bash", "--format", "json"],
        ),
        ("completions", vec!["completions", "--format=text", "zsh"]),
        ("man", vec!["man", "--format", "json"]),
        ("man", vec!["man", "show", "--format=json"]),
    ] {
        let message = format!(
            "`{name}` takes no --format: it prints text for another program (a shell, man), \
             not a report; these take --format: {}",
            with.join(", ")
        );
        let out = run(&args)
            .exits(2)
            .stderr_starts(&format!("error: {message}\n"))
            .stderr_lacks("tip:");
        if args.iter().any(|a| a.contains("json")) {
            let report = out.report();
            assert_eq!(report["command"], name);
            assert_eq!(report["errors"][0]["message"], message.as_str());
        } else {
            out.stdout_is("");
        }
    }
    // The crate's README, which the packaged crate holds, names the same.
    let readme = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let readme = readme.split_whitespace().collect::<Vec<_>>().join(" ");
    let (_, after) = readme
        .split_once("(on every subcommand but ")
        .expect("README.md names the subcommands without --format");
    let (but, _) = after.split_once(", whose output").unwrap();
    let named: Vec<&str> = but.split('`').skip(1).step_by(2).collect();
    assert_eq!(named, without, "README.md: {but}");
    // A subcommand that takes --format keeps clap's message for an unknown
    // argument, and --format before the subcommand is not one of its own.
    run(&["show", "x.toml", "--formatt", "json"])
        .exits(2)
        .stderr_starts("error: unexpected argument '--formatt' found");
    run(&["--format", "json", "show", "x.toml"])
        .exits(2)
        .stderr_starts("error: unexpected argument '--format' found");
}
