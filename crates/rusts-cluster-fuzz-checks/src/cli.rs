//! The `cli` fuzz target: the whole `rusts-cluster` tool, run in-process on
//! an argument vector and a config file from the fuzzer.
//!
//! The input is text, so that seeds are readable and byte mutations stay
//! meaningful:
//!
//! ```text
//! #!ptf          optional first line: p stdout is a closed pipe, f a full
//!                disk, t stdout and stderr are terminals
//! show           one argument per line, any bytes but newline; {A} and {B}
//! {A}            are the config files' paths, {OUT} a path to write to,
//! --format       {DIR} their directory, {STEPS} a directory to write to
//! json
//! ---            then config file A; a line `---B---` starts config B
//! node_id = ...  (B is A when there is none)
//! ```
//!
//! Every `--output` value is replaced by `{OUT}`, every `--output-dir` value
//! by `{STEPS}`, and every path under `/dev/` or `/proc/` by a missing
//! file, so that a run writes only in its own directory and never reads a
//! terminal or a pipe. A command line that may be `status` is not run: it
//! would connect to the config's addresses.

use std::{
    ffi::OsString,
    fs,
    io::{self, Write},
    path::{Path, PathBuf},
    sync::{Mutex, OnceLock},
};

use rusts_cluster_config::ClusterConfig;
use serde_json::Value;

/// How many arguments an input may give; the rest are ignored.
const MAX_ARGS: usize = 32;

/// Where a run's stdout goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Stdout {
    Buffer,
    ClosedPipe,
    FullDisk,
}

/// An input, decoded.
#[derive(Debug)]
struct CliInput {
    args: Vec<OsString>,
    config_a: Vec<u8>,
    config_b: Option<Vec<u8>>,
    stdout: Stdout,
    terminal: bool,
}

/// The files of one process's runs; runs are serialized by [`LOCK`].
struct Scratch {
    dir: PathBuf,
    a: PathBuf,
    b: PathBuf,
    out: PathBuf,
    steps: PathBuf,
    missing: PathBuf,
}

static LOCK: Mutex<()> = Mutex::new(());

fn scratch() -> &'static Scratch {
    static SCRATCH: OnceLock<Scratch> = OnceLock::new();
    SCRATCH.get_or_init(|| {
        let dir =
            std::env::temp_dir().join(format!("rusts-cluster-fuzz-cli-{}", std::process::id()));
        Scratch {
            a: dir.join("a.toml"),
            b: dir.join("b.toml"),
            out: dir.join("out.toml"),
            steps: dir.join("steps"),
            missing: dir.join("missing.toml"),
            dir,
        }
    })
}

fn os(bytes: &[u8]) -> OsString {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStringExt;
        OsString::from_vec(bytes.to_vec())
    }
    #[cfg(not(unix))]
    {
        OsString::from(String::from_utf8_lossy(bytes).into_owned())
    }
}

fn decode(data: &[u8], s: &Scratch) -> CliInput {
    let (head, config) = match find(data, b"\n---\n") {
        Some(at) => (&data[..at], &data[at + 5..]),
        None => (data, &[][..]),
    };
    let (config_a, config_b) = match find(config, b"\n---B---\n") {
        Some(at) => (config[..at].to_vec(), Some(config[at + 9..].to_vec())),
        None => (config.to_vec(), None),
    };
    let mut lines: Vec<&[u8]> = head.split(|&b| b == b'\n').collect();
    let mut stdout = Stdout::Buffer;
    let mut terminal = false;
    if let Some(options) = lines.first().and_then(|l| l.strip_prefix(b"#!")) {
        stdout = if options.contains(&b'p') {
            Stdout::ClosedPipe
        } else if options.contains(&b'f') {
            Stdout::FullDisk
        } else {
            Stdout::Buffer
        };
        terminal = options.contains(&b't');
        lines.remove(0);
    }
    let path = |p: &Path| p.as_os_str().to_owned();
    let mut args = vec![OsString::from("rusts-cluster")];
    let (mut after_output, mut after_output_dir) = (false, false);
    for line in lines.into_iter().take(MAX_ARGS) {
        let arg = match line {
            b"{A}" => path(&s.a),
            b"{B}" => path(&s.b),
            b"{OUT}" => path(&s.out),
            b"{DIR}" => path(&s.dir),
            b"{STEPS}" => path(&s.steps),
            _ if after_output => path(&s.out),
            _ if after_output_dir => path(&s.steps),
            _ if line.starts_with(b"--output=") => {
                let mut arg = OsString::from("--output=");
                arg.push(&s.out);
                arg
            }
            _ if line.starts_with(b"--output-dir=") => {
                let mut arg = OsString::from("--output-dir=");
                arg.push(&s.steps);
                arg
            }
            _ if line.starts_with(b"/dev/") || line.starts_with(b"/proc/") || line == b"-" => {
                path(&s.missing)
            }
            _ => os(line),
        };
        after_output = line == b"--output";
        after_output_dir = line == b"--output-dir";
        args.push(arg);
    }
    CliInput {
        args,
        config_a,
        config_b,
        stdout,
        terminal,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A stdout that fails every write as a closed pipe or a full disk does,
/// and remembers whether anything was written to it.
struct Failing {
    kind: io::ErrorKind,
    written: bool,
}

impl Write for Failing {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.written = true;
        Err(io::Error::from(self.kind))
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Whether a token before `--` prints help or the version instead of
/// running a subcommand: `--help`, `--version`, `help`, or a cluster of
/// short flags that starts with `-h` or `-V`, in any bytes after that
/// (clap reads `-help` as `-h` first; the fuzzer found both).
fn asks_for_help(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .map(|a| a.as_encoded_bytes())
        .take_while(|a| *a != b"--")
        .any(|a| match a {
            b"--help" | b"--version" | b"help" => true,
            t => !t.starts_with(b"--") && (t.starts_with(b"-h") || t.starts_with(b"-V")),
        })
}

/// Whether the command line may be `status`, which connects to every
/// address of the config: a fuzzer's config names any host, and each run
/// would wait on the network (and resolve names through DNS). Left out, as
/// runs that read a terminal or a pipe are; `status`'s parse of an answer
/// is tested on its own in the CLI (`poll::tests`).
fn asks_nodes(args: &[OsString]) -> bool {
    args.iter()
        .skip(1)
        .take_while(|a| a.as_encoded_bytes() != b"--")
        .any(|a| a == "status")
}

/// The `cli` target: any argument vector and config files, run through
/// `rusts_cluster_cli::run`.
///
/// Checks that the tool never panics; exits 0, 1 or 2; prints exactly one
/// JSON object with the documented envelope whenever `--format json` is
/// asked for (except for `--help` and `--version`), with `errors` empty
/// exactly when the exit code is 0; escapes terminal control characters in
/// text; ends quietly with 0 when stdout is a closed pipe and with 1 naming
/// the failure when it is a full disk; writes `--output` only as a whole
/// valid config (a `rebalance` one with a raised generation); writes
/// `transition`'s steps only as a whole plan of valid configs, one
/// generation apart; and leaves no temporary file behind.
pub fn cli(data: &[u8]) {
    let _serial = LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let s = scratch();
    let input = decode(data, s);
    if asks_nodes(&input.args) {
        return;
    }
    // Made and removed around each run, so that no run sees another's
    // files and a replay leaves nothing in the temporary directory.
    let _ = fs::remove_dir_all(&s.dir);
    fs::create_dir_all(&s.dir).expect("a scratch directory for the cli target");
    fs::write(&s.a, &input.config_a).expect("config A");
    fs::write(&s.b, input.config_b.as_ref().unwrap_or(&input.config_a)).expect("config B");
    let terminal = rusts_cluster_cli::Terminal {
        stdout: input.terminal,
        stderr: input.terminal,
    };
    let mut err = Vec::new();
    let (code, out, written) = match input.stdout {
        Stdout::Buffer => {
            let mut out = Vec::new();
            let code = rusts_cluster_cli::run(input.args.clone(), &mut out, &mut err, terminal);
            (code, out, None)
        }
        Stdout::ClosedPipe | Stdout::FullDisk => {
            let kind = if input.stdout == Stdout::ClosedPipe {
                io::ErrorKind::BrokenPipe
            } else {
                io::ErrorKind::StorageFull
            };
            let mut out = Failing {
                kind,
                written: false,
            };
            let code = rusts_cluster_cli::run(input.args.clone(), &mut out, &mut err, terminal);
            (code, Vec::new(), Some(out.written))
        }
    };
    let args = &input.args;
    assert!(code <= 2, "{args:?}: exit code {code}");
    let stderr =
        String::from_utf8(err).unwrap_or_else(|e| panic!("{args:?}: stderr not UTF-8: {e}"));
    let command = args.get(1).and_then(|a| a.to_str()).unwrap_or_default();
    // The CLI's own reading of the command line: `--format json` or
    // `--format=json`, any case, before `--`.
    let json = rusts_cluster_cli::wants_json(args) && !asks_for_help(args);

    match written {
        Some(true) if input.stdout == Stdout::ClosedPipe => {
            assert_eq!(code, 0, "{args:?}: a closed stdout ends quietly: {stderr}");
            assert!(
                !stderr.contains("cannot write the report to stdout"),
                "{args:?}: {stderr}"
            );
        }
        Some(true) => {
            assert!(code >= 1, "{args:?}: a full disk is a failure");
            assert!(
                stderr.contains("error: cannot write the report to stdout: ")
                    && stderr.contains("[write]"),
                "{args:?}: {stderr}"
            );
        }
        _ => {}
    }

    if !input.terminal {
        for c in ['\u{1b}', '\r', '\u{202e}', '\u{9b}'] {
            assert!(
                !stderr.contains(c),
                "{args:?}: raw {c:?} on stderr: {stderr:?}"
            );
        }
        // `generate` prints a TOML file, data rather than a report; JSON
        // strings may hold any character serde_json need not escape.
        let out = String::from_utf8_lossy(&out);
        if command != "generate" {
            for c in ['\u{1b}', '\r', '\u{9b}'] {
                assert!(!out.contains(c), "{args:?}: raw {c:?} on stdout: {out:?}");
            }
            if !json {
                assert!(!out.contains('\u{202e}'), "{args:?}: {out:?}");
            }
        }
    }

    if json && input.stdout == Stdout::Buffer {
        let report: Value = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!(
                "{args:?}: --format json printed no JSON object ({e}): {}",
                String::from_utf8_lossy(&out)
            )
        });
        check_envelope(args, &report, code);
    }

    let rebalance_or_generate = matches!(command, "rebalance" | "generate");
    if code == 0 && rebalance_or_generate && s.out.exists() {
        let config = ClusterConfig::from_file(&s.out)
            .unwrap_or_else(|e| panic!("{args:?}: --output wrote a file that does not load: {e}"));
        config
            .validate()
            .unwrap_or_else(|e| panic!("{args:?}: --output wrote an invalid config: {e}"));
        if command == "rebalance" {
            assert!(config.generation >= 1, "{args:?}: generation not raised");
        }
    }

    if command == "transition" && s.steps.is_dir() {
        check_steps(args, &s.steps, code);
    }

    for entry in fs::read_dir(&s.dir)
        .expect("the scratch directory")
        .flatten()
    {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        assert!(
            matches!(name.as_ref(), "a.toml" | "b.toml" | "out.toml" | "steps"),
            "{args:?}: left {name} behind"
        );
    }
    let _ = fs::remove_dir_all(&s.dir);
}

/// The steps `transition` wrote: none, or after a success the three files
/// of a plan, each a valid config one generation after the one before.
fn check_steps(args: &[OsString], dir: &Path, code: u8) {
    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("the steps directory")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    if names.is_empty() {
        return;
    }
    assert_eq!(code, 0, "{args:?}: a failed run left steps: {names:?}");
    assert_eq!(
        names,
        ["01-joint-writes.toml", "02-read-new.toml", "03-final.toml"],
        "{args:?}"
    );
    let mut generation = None;
    for name in &names {
        let config = ClusterConfig::from_file(dir.join(name))
            .unwrap_or_else(|e| panic!("{args:?}: {name} does not load: {e}"));
        config
            .validate()
            .unwrap_or_else(|e| panic!("{args:?}: {name} is invalid: {e}"));
        if let Some(before) = generation {
            assert_eq!(config.generation, before + 1, "{args:?}: {name}");
        }
        generation = Some(config.generation);
    }
}

/// The JSON envelope docs/operations.md documents.
fn check_envelope(args: &[OsString], report: &Value, code: u8) {
    assert!(report.is_object(), "{args:?}: {report}");
    assert_eq!(report["format_version"], 1, "{args:?}: {report}");
    assert_eq!(report["exit_code"], code, "{args:?}: {report}");
    assert!(
        report["command"].is_string() || report["command"].is_null(),
        "{args:?}: {report}"
    );
    let errors = report["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("{args:?}: no errors list: {report}"));
    let warnings = report["warnings"]
        .as_array()
        .unwrap_or_else(|| panic!("{args:?}: no warnings list: {report}"));
    assert_eq!(errors.is_empty(), code == 0, "{args:?}: {report}");
    for problem in errors.iter().chain(warnings) {
        for key in ["code", "message", "file", "line", "column"] {
            assert!(
                problem.get(key).is_some(),
                "{args:?}: {problem} has no {key}"
            );
        }
        assert!(
            problem["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{args:?}: {problem}"
        );
        assert!(problem["message"].is_string(), "{args:?}: {problem}");
    }
    if code == 2 {
        assert!(
            errors.iter().any(|e| e["code"] == "usage"),
            "{args:?}: exit 2 without a usage error: {report}"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[should_panic(expected = "errors")]
    fn an_exit_code_without_errors_is_caught() {
        let report = serde_json::json!({
            "format_version": 1, "command": "show", "exit_code": 1,
            "errors": [], "warnings": [],
        });
        check_envelope(&[], &report, 1);
    }

    #[test]
    #[should_panic(expected = "has no line")]
    fn a_problem_without_its_keys_is_caught() {
        let report = serde_json::json!({
            "format_version": 1, "command": null, "exit_code": 2,
            "errors": [{"code": "usage", "message": "m", "file": null, "column": null}],
            "warnings": [],
        });
        check_envelope(&[], &report, 2);
    }

    #[test]
    fn help_and_json_are_read_as_the_cli_reads_them() {
        let args = |a: &[&str]| -> Vec<OsString> { a.iter().map(OsString::from).collect() };
        assert!(asks_for_help(&args(&["x", "show", "-help"])));
        assert!(asks_for_help(&args(&["x", "-V"])));
        assert!(!asks_for_help(&args(&["x", "show", "--", "-h"])));
        assert!(!asks_for_help(&args(&["x", "show", "--hx"])));
    }

    #[test]
    fn inputs_decode_into_arguments_and_files() {
        let s = scratch();
        let input = decode(
            b"#!pt\nshow\n{A}\n--output\n/etc/passwd\n/dev/stdin\n---\nnode_id = 1\n---B---\nx",
            s,
        );
        let args: Vec<&Path> = input.args.iter().map(Path::new).collect();
        assert_eq!(
            args,
            [
                Path::new("rusts-cluster"),
                Path::new("show"),
                &s.a,
                Path::new("--output"),
                &s.out,
                &s.missing,
            ]
        );
        assert_eq!(input.config_a, b"node_id = 1");
        assert_eq!(input.config_b.as_deref(), Some(&b"x"[..]));
        assert_eq!((input.stdout, input.terminal), (Stdout::ClosedPipe, true));
        assert_eq!(decode(b"--output=/x", s).args[1], {
            let mut arg = OsString::from("--output=");
            arg.push(&s.out);
            arg
        });
    }
}
