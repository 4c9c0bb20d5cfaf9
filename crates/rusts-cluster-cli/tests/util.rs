//! What every topic module shares: the fixtures under `testdata/`, scratch
//! directories, the subcommands clap knows, and one way to run the tool and
//! check a run, in-process or as the built binary.
//!
//! `status` asks fake storage nodes ([`FakeNode`]): loopback servers
//! that answer as told.
//!
//! A check reads as what it checks: `run(&["diff", a, b]).exits(1)
//! .stderr_has("[every-copy-changes]")`. Each failed check prints the
//! command line, the exit code and both streams, at the caller's line.

use std::{
    io::{Read, Write},
    net::{Shutdown, TcpListener, TcpStream},
    path::{Path, PathBuf},
    process::Output,
    sync::{
        atomic::{AtomicBool, AtomicUsize, Ordering},
        Arc,
    },
    thread::{self, JoinHandle},
    time::Duration,
};

use serde_json::Value;

/// The workspace's fixture directory, as this crate links it (`testdata`
/// is a link to `../../testdata`, which `cargo package` follows, so the
/// packaged crate holds its fixtures too).
pub(crate) fn testdata() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata")
}

/// A fixture of the CLI's tests: `testdata/cli/NAME`.
pub(crate) fn data(name: &str) -> PathBuf {
    testdata().join("cli").join(name)
}

/// A config of the shared broken-config corpus: `testdata/invalid/NAME`.
pub(crate) fn invalid(name: &str) -> PathBuf {
    testdata().join("invalid").join(name)
}

/// A path as the tool's arguments and messages spell it.
pub(crate) fn path(p: &Path) -> String {
    p.display().to_string()
}

/// The built binary.
pub(crate) fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_rusts-cluster")
}

/// The subcommands clap knows, in their order of `--help`.
pub(crate) fn subcommands() -> Vec<clap::Command> {
    rusts_cluster_cli::command()
        .get_subcommands()
        .cloned()
        .collect()
}

/// Whether the subcommand `name` takes `--format`, as clap says.
pub(crate) fn takes_format(name: &str) -> bool {
    subcommands()
        .iter()
        .find(|s| s.get_name() == name)
        .unwrap_or_else(|| panic!("`{name}` is not a subcommand"))
        .get_arguments()
        .any(|a| a.get_id() == "format")
}

/// What a run printed and how it ended, with checks that return the run
/// so that they chain.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) args: Vec<String>,
    pub(crate) code: u8,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    pub(crate) fn from_output(args: Vec<String>, out: Output) -> Run {
        Run {
            args,
            // A run killed by a signal has no code; 255 is none of 0, 1, 2.
            code: out.status.code().map_or(255, |c| c as u8),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    /// The run as a failed check prints it.
    fn shown(&self) -> String {
        format!(
            "{:?} exited {}\n--- stdout\n{}\n--- stderr\n{}",
            self.args, self.code, self.stdout, self.stderr
        )
    }

    #[track_caller]
    pub(crate) fn exits(self, code: u8) -> Run {
        assert_eq!(self.code, code, "{}", self.shown());
        self
    }

    #[track_caller]
    pub(crate) fn stdout_has(self, text: &str) -> Run {
        assert!(self.stdout.contains(text), "{text:?} in {}", self.shown());
        self
    }

    #[track_caller]
    pub(crate) fn stdout_starts(self, text: &str) -> Run {
        assert!(
            self.stdout.starts_with(text),
            "starting {text:?}: {}",
            self.shown()
        );
        self
    }

    #[track_caller]
    pub(crate) fn stdout_is(self, text: &str) -> Run {
        assert_eq!(self.stdout, text, "{}", self.shown());
        self
    }

    #[track_caller]
    pub(crate) fn stderr_has(self, text: &str) -> Run {
        assert!(self.stderr.contains(text), "{text:?} in {}", self.shown());
        self
    }

    #[track_caller]
    pub(crate) fn stderr_lacks(self, text: &str) -> Run {
        assert!(
            !self.stderr.contains(text),
            "no {text:?} in {}",
            self.shown()
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_starts(self, text: &str) -> Run {
        assert!(
            self.stderr.starts_with(text),
            "starting {text:?}: {}",
            self.shown()
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_ends(self, text: &str) -> Run {
        assert!(
            self.stderr.ends_with(text),
            "ending {text:?}: {}",
            self.shown()
        );
        self
    }

    #[track_caller]
    pub(crate) fn stderr_is(self, text: &str) -> Run {
        assert_eq!(self.stderr, text, "{}", self.shown());
        self
    }

    /// The lines of stderr that report an error.
    pub(crate) fn error_lines(&self) -> Vec<String> {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error: "))
            .map(str::to_owned)
            .collect()
    }

    /// Stdout as the one JSON object it must be, its `exit_code` the run's.
    #[track_caller]
    pub(crate) fn report(&self) -> Value {
        let value: Value = serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.shown()));
        assert!(value.is_object(), "{}", self.shown());
        assert_eq!(value["exit_code"], self.code, "{}", self.shown());
        value
    }
}

fn owned(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| (*a).to_owned()).collect()
}

/// Runs the tool in-process, as the binary would with these arguments
/// (without the program name), stdout not a terminal.
pub(crate) fn run(args: &[&str]) -> Run {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let argv = std::iter::once("rusts-cluster").chain(args.iter().copied());
    let code = rusts_cluster_cli::run(argv, &mut out, &mut err, Default::default());
    Run {
        args: owned(args),
        code,
        stdout: String::from_utf8(out).expect("stdout is UTF-8"),
        stderr: String::from_utf8(err).expect("stderr is UTF-8"),
    }
}

/// Runs in-process with `--format json` added, checks the exit code, and
/// returns the report.
#[track_caller]
pub(crate) fn json(args: &[&str], code: u8) -> Value {
    let mut args = args.to_vec();
    args.extend(["--format", "json"]);
    let run = run(&args).exits(code);
    run.report()
}

/// The binary, run in `testdata/` so that fixtures have short relative
/// names in its messages (`cli/cluster.toml`); a run that hangs fails after
/// a minute instead of hanging the suite.
pub(crate) fn binary() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    cmd.current_dir(testdata());
    cmd.timeout(Duration::from_secs(60));
    cmd
}

/// Runs the binary in `testdata/` with these arguments.
pub(crate) fn run_bin(args: &[&str]) -> Run {
    let out = binary().args(args).output().expect("the binary runs");
    Run::from_output(owned(args), out)
}

/// Runs `cmd` (the binary set up by [`binary`], or a shell around it).
pub(crate) fn run_cmd(cmd: &mut assert_cmd::Command, args: &[&str]) -> Run {
    let out = cmd.output().expect("the command runs");
    Run::from_output(owned(args), out)
}

/// A directory removed on drop.
pub(crate) struct Scratch(pub(crate) PathBuf);

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl Scratch {
    pub(crate) fn new() -> Scratch {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("rusts-cli-test-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// `path(name)` as an argument.
    pub(crate) fn arg(&self, name: &str) -> String {
        path(&self.path(name))
    }

    /// The names of the files in the directory, sorted.
    pub(crate) fn files(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    /// A generated config (`generate_into`) named `name`, as an argument.
    pub(crate) fn generated(
        &self,
        name: &str,
        nodes: usize,
        zones: usize,
        shards: usize,
        rf: usize,
    ) -> String {
        generate_into(&self.path(name), nodes, zones, shards, rf);
        self.arg(name)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `generate` arguments for `nodes` nodes spread over `zones` zones.
pub(crate) fn generate_args(nodes: usize, zones: usize, shards: usize, rf: usize) -> Vec<String> {
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

/// Borrows owned arguments as `run` takes them.
pub(crate) fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// Generates a config into `path`, in-process, and returns `generate`'s
/// stderr.
#[track_caller]
pub(crate) fn generate_into(
    path: &Path,
    nodes: usize,
    zones: usize,
    shards: usize,
    rf: usize,
) -> String {
    let mut args = generate_args(nodes, zones, shards, rf);
    args.push("--output".into());
    args.push(path.display().to_string());
    run(&strs(&args)).exits(0).stderr
}

/// A stand-in for a storage node's HTTP server, on 127.0.0.1: it answers
/// its `n`th connection (from 0) with the bytes `answer(n)` gives, or holds
/// it open unanswered when `None`. Its thread ends when it is dropped.
pub(crate) struct FakeNode {
    pub(crate) address: String,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl FakeNode {
    pub(crate) fn start(answer: impl Fn(usize) -> Option<Vec<u8>> + Send + 'static) -> FakeNode {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        // Polled, so that the thread sees `stop` without a connection to
        // wake it.
        listener.set_nonblocking(true).unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut held: Vec<TcpStream> = Vec::new();
            let mut n = 0;
            while !stopped.load(Ordering::Relaxed) {
                let Ok((mut stream, _)) = listener.accept() else {
                    thread::sleep(Duration::from_millis(5));
                    continue;
                };
                let _ = stream.set_nonblocking(false);
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                read_request(&mut stream);
                match answer(n) {
                    Some(bytes) => {
                        // A client that stops reading (an answer over its
                        // limit) makes this fail, which is what it tests.
                        let _ = stream.write_all(&bytes);
                        let _ = stream.shutdown(Shutdown::Both);
                    }
                    None => held.push(stream),
                }
                n += 1;
            }
        });
        FakeNode {
            address,
            stop,
            thread: Some(thread),
        }
    }

    /// A node that answers `/status` as `node` at `generation` with
    /// `pending` copies to catch up, every time.
    pub(crate) fn status(node: &str, generation: u64, pending: u64) -> FakeNode {
        let body = status_body(node, generation, pending);
        FakeNode::start(move |_| Some(http_200(&body)))
    }

    /// An address where nothing listens: connecting is refused.
    pub(crate) fn refused() -> String {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().to_string()
    }
}

impl Drop for FakeNode {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a request's head (up to the blank line), or what comes within the
/// stream's timeout.
fn read_request(stream: &mut TcpStream) {
    let mut head = Vec::new();
    let mut byte = [0; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 65536 {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
}

/// The body of a node's `/status`, with the keys the node sends beside
/// the three `status` reads.
pub(crate) fn status_body(node: &str, generation: u64, pending: u64) -> String {
    serde_json::json!({
        "node_id": node,
        "generation": generation,
        "catch_up_pending": pending,
        "catch_ups": [],
        "shards": [0, 1],
        "kept_shards": [],
        "unconfirmed_copies": 0,
        "writes_in_flight": 0,
        "reads_in_flight": 0,
        "stored_points": 0,
        "messages_dropped": 0,
    })
    .to_string()
}

/// `body` as a 200 OK answer, as the node sends it.
pub(crate) fn http_200(body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A config at `generation` whose nodes are `nodes` (id, address), one
/// shard each, written to `scratch` as `name`; returns its path.
pub(crate) fn fake_cluster(
    scratch: &Scratch,
    name: &str,
    generation: u64,
    nodes: &[(&str, &str)],
) -> String {
    let mut text = format!(
        "cluster_name = \"fake\"\ngeneration = {generation}\nreplication_mode = \"Quorum\"\n\
         replication_factor = 1\nshard_count = {}\n",
        nodes.len()
    );
    for (i, (id, address)) in nodes.iter().enumerate() {
        text.push_str(&format!(
            "\n[[nodes]]\nid = \"{id}\"\naddress = \"{address}\"\nshards = [{i}]\n"
        ));
    }
    std::fs::write(scratch.path(name), text).unwrap();
    scratch.arg(name)
}

/// A generated cluster (6 nodes in 3 zones, 24 shards, RF 3) and the same
/// cluster rebalanced with a seventh node, in `scratch`.
pub(crate) fn cluster_and_rebalanced(scratch: &Scratch) -> (String, String) {
    let old = scratch.generated("cluster.toml", 6, 3, 24, 3);
    let new = scratch.arg("new.toml");
    run(&[
        "rebalance",
        &old,
        "--add-node",
        "n6=10.0.9.1:8086,zone=z0",
        "--output",
        &new,
    ])
    .exits(0);
    (old, new)
}
