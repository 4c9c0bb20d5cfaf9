//! Helpers shared by the CLI's test files: the fixture copies under
//! tests/data/, scratch directories, and running the tool in-process or as
//! the built binary.

#![allow(dead_code, unreachable_pub)]

use std::{
    path::{Path, PathBuf},
    sync::atomic::{AtomicUsize, Ordering},
    time::Duration,
};

use serde_json::Value;

/// A fixture of this crate (tests/data/NAME): the tests run from a packaged
/// crate too, which holds no workspace files.
pub fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// The built binary.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rusts-cluster")
}

/// The binary, run in tests/data/, so that relative fixture names work; a
/// run that hangs fails after a minute instead of hanging the suite.
pub fn cli() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.current_dir(data(""));
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// What a run printed and how it ended.
#[derive(Debug)]
pub struct Run {
    pub code: u8,
    pub stdout: String,
    pub stderr: String,
}

/// Runs the tool in-process, as the binary would with these arguments
/// (without the program name), stdout not a terminal.
pub fn run(args: &[&str]) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("rusts-cluster").chain(args.iter().copied());
    let code = rusts_cluster_cli::run(argv, &mut out, &mut err, Default::default());
    Run {
        code,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    }
}

/// Runs in-process and parses stdout as the one JSON object it must be.
pub fn json(args: &[&str]) -> (Value, u8) {
    let run = run(args);
    let value: Value = serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("{args:?}: not JSON ({e}): {}", run.stdout));
    assert!(value.is_object(), "{args:?}: {value}");
    assert_eq!(value["exit_code"], run.code, "{args:?}");
    (value, run.code)
}

/// A directory removed on drop.
pub struct Scratch(pub PathBuf);

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Scratch {
    pub fn new() -> Scratch {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rusts-cli-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the files in the directory, sorted.
    pub fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `generate` arguments for `nodes` nodes spread over `zones` zones.
pub fn generate_args(nodes: usize, zones: usize, shards: usize, rf: usize) -> Vec<String> {
    let mut args: Vec<String> = vec!["generate".into()];
    for i in 0..nodes {
        args.push("--node".into());
        args.push(format!(
            "n{i}=10.0.{}.{}:8086,zone=z{}",
            i / 200,
            i % 200 + 1,
            i % zones
        ));
    }
    args.extend([
        "--shards".into(),
        shards.to_string(),
        "--replication-factor".into(),
        rf.to_string(),
    ]);
    args
}

/// Generates a config into `path`, in-process, and returns `generate`'s
/// stderr.
pub fn generate_into(path: &Path, nodes: usize, zones: usize, shards: usize, rf: usize) -> String {
    let mut args = generate_args(nodes, zones, shards, rf);
    args.push("--output".into());
    args.push(path.display().to_string());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = run(&args);
    assert_eq!(run.code, 0, "{}", run.stderr);
    run.stderr
}
