//! Text for a person: tables drawn for the terminal or the pipe, config
//! text escaped, and huge cells cut.

use std::fs;

use crate::util::{data, json, path, run, Scratch};

#[test]
fn tables_are_ascii_when_piped_and_unicode_on_request() {
    let file = path(&data("cluster.toml"));
    let piped = run(&["show", &file]).stdout_has("+=======+");
    assert!(piped.stdout.is_ascii(), "{}", piped.stdout);
    run(&["show", &file, "--table-style", "unicode"]).stdout_has("┌───────┬");
    run(&["--table-style", "ASCII", "show", &file]).stdout_is(&piped.stdout);
    // A terminal gets box-drawing characters unless asked otherwise.
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let terminal = rusts_cluster_cli::Terminal {
        stdout: true,
        stderr: true,
    };
    assert_eq!(
        rusts_cluster_cli::run(
            ["rusts-cluster", "show", file.as_str()],
            &mut out,
            &mut err,
            terminal
        ),
        0
    );
    assert!(String::from_utf8(out).unwrap().contains("╞═══"));
}

/// Ids, addresses and tags that hold escape sequences are shown escaped in
/// text, and exact in JSON.
#[test]
fn escape_sequences_are_escaped_in_text() {
    let file = path(&data("escapes.toml"));
    for args in [
        vec!["show", file.as_str()],
        vec!["validate", file.as_str()],
        vec!["plan-query", file.as_str(), "--table-style", "unicode"],
    ] {
        let out = run(&args);
        for stream in [&out.stdout, &out.stderr] {
            assert!(
                !stream.contains('\u{1b}')
                    && !stream.contains('\u{202e}')
                    && !stream.contains('\r'),
                "{args:?}: {stream:?}"
            );
        }
        if args[0] != "validate" {
            out.stdout_has("a\\u{1b}[2J");
        }
    }
    run(&["show", &file]).stdout_has("z\\u{202e}1");
    // The node without shards is warned about by id, escaped.
    run(&["validate", &file]).stderr_has("\"b\\r\\nc\"");
    let report = json(&["show", &file], 0);
    assert_eq!(report["nodes"][0]["node"], "a\u{1b}[2J");
}

/// A valid config whose one node id is 1 MiB: `show` cuts the cells
/// instead of padding every row to 1 MiB (docs/reliability.md).
#[test]
fn huge_cells_are_cut() {
    let scratch = Scratch::new();
    let file = scratch.path("big-id.toml");
    let id = "x".repeat(1 << 20);
    let shards: Vec<String> = (0..16).map(|s| s.to_string()).collect();
    fs::write(
        &file,
        format!(
            "node_id = \"{id}\"\n[[nodes]]\nid = \"{id}\"\naddress = \"10.0.0.1:1\"\nshards = [{}]\n",
            shards.join(", ")
        ),
    )
    .unwrap();
    let out = run(&["show", &path(&file)])
        .exits(0)
        .stdout_has("...(1048476 more bytes)");
    assert!(out.stdout.len() < 16 * 1024, "{}", out.stdout.len());
    assert_eq!(out.stdout.lines().count(), 1 + 5 + 20);
}
