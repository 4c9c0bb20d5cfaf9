//! Where the report goes and where configs come from: a closed pipe and a
//! full disk on stdout, atomic `--output` under a file size limit, and a
//! config read once from a FIFO, a process substitution or stdin.

use std::{
    collections::BTreeSet,
    fs,
    process::{Command, Stdio},
    time::Duration,
};

use crate::util::{
    bin, binary, data, fake_cluster, generate_args, invalid, path, run, run_bin, run_cmd, strs,
    subcommands, takes_format, FakeNode, Run, Scratch,
};

/// Runs the binary with `stdout` as its stdout.
fn run_into(args: &[&str], stdout: impl Into<Stdio>) -> Run {
    let out = Command::new(bin())
        .args(args)
        .stdout(stdout)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    Run::from_output(args.iter().map(|a| (*a).to_owned()).collect(), out)
}

/// Every subcommand clap knows is among `cases` (a new one fails the test
/// until it is added).
#[track_caller]
fn covers_every_subcommand(cases: &[Vec<&str>]) {
    let covered: BTreeSet<&str> = cases.iter().map(|c| c[0]).collect();
    for sub in subcommands() {
        assert!(
            covered.contains(sub.get_name()),
            "no case runs `{}`",
            sub.get_name()
        );
    }
}

/// Runs the binary with its stdout a pipe whose reading end is closed
/// before it starts: every write to stdout fails with EPIPE. CI runs this
/// test by name (.ci/run).
#[test]
fn closed_stdout_pipe_ends_every_subcommand_quietly() {
    let scratch = Scratch::new();
    let generated = scratch.generated("g.toml", 4, 2, 64, 2);
    let example = path(&data("cluster.toml"));
    let other = scratch.generated("other.toml", 5, 2, 64, 2);
    let steps = scratch.arg("steps");
    // A step to go back from (`transition --back`), planned once.
    let planned = scratch.arg("planned");
    run(&["transition", &generated, &other, "--output-dir", &planned]).exits(0);
    let read_new = format!("{planned}/02-read-new.toml");
    let nodes = generate_args(3, 3, 4096, 3);
    let node = FakeNode::status("a1", 1, 0);
    let ready = fake_cluster(&scratch, "ready.toml", 1, &[("a1", &node.address)]);
    let cases: Vec<Vec<&str>> = vec![
        vec!["validate", &example],
        vec!["show", &generated],
        vec![
            "route",
            &example,
            "--measurement",
            "m",
            "--series-id",
            "1",
            "--timestamp",
            "0",
        ],
        vec!["plan-query", &generated],
        strs(&nodes),
        vec![
            "rebalance",
            &generated,
            "--add-node",
            "x=10.9.9.9:1,zone=z0",
        ],
        vec!["split", &generated, "--factor", "4"],
        vec!["diff", &generated, &other],
        vec!["transition", &generated, &other, "--output-dir", &steps],
        vec![
            "transition",
            "--back",
            &generated,
            &read_new,
            "--output-dir",
            &steps,
        ],
        vec!["status", &ready],
        vec!["completions", "bash"],
        vec!["man"],
        vec!["--help"],
        vec!["--version"],
    ];
    covers_every_subcommand(&cases);
    for case in cases {
        let reports = !case[0].starts_with('-') && takes_format(case[0]);
        for json in [false, true] {
            let mut args = case.clone();
            if json && reports {
                args.extend(["--format", "json"]);
            } else if json {
                continue;
            }
            // Each run of `transition` writes its steps afresh.
            let _ = fs::remove_dir_all(&steps);
            let (reader, writer) = std::io::pipe().unwrap();
            drop(reader);
            let mut out = run_into(&args, writer).exits(0);
            // Warnings and the plan's own errors may be there; nothing
            // about stdout.
            for quiet in [
                "panicked",
                "Broken pipe",
                "os error 32",
                "stdout",
                "[write]",
            ] {
                out = out.stderr_lacks(quiet);
            }
        }
    }
}

/// Stdout on a full disk: exit 1 naming the failure, for every subcommand
/// (`show --format json > /dev/full` exited 0 before). CI runs this test by
/// name (.ci/run).
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_exit_1_naming_the_failure() {
    let example = path(&data("cluster.toml"));
    let generate = generate_args(2, 1, 4, 1);
    let scratch = Scratch::new();
    let node = FakeNode::status("a1", 1, 0);
    let ready = fake_cluster(&scratch, "ready.toml", 1, &[("a1", &node.address)]);
    let cases: Vec<Vec<&str>> = vec![
        vec!["validate", &example],
        vec!["validate", &example, "--format", "json"],
        vec!["show", &example],
        vec!["show", &example, "--format", "json"],
        vec![
            "route",
            &example,
            "--measurement",
            "m",
            "--series-id",
            "1",
            "--timestamp",
            "0",
        ],
        vec!["plan-query", &example],
        strs(&generate),
        vec!["rebalance", &example],
        vec!["split", &example, "--factor", "2"],
        vec!["diff", &example, &example],
        vec!["transition", &example, &example, "--output-dir", "unused"],
        vec!["status", &ready],
        vec!["status", &ready, "--format", "json"],
        vec!["completions", "zsh"],
        vec!["man"],
        vec!["--help"],
    ];
    covers_every_subcommand(&cases);
    for args in cases {
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        run_into(&args, full)
            .exits(1)
            .stderr_has(
                "error: cannot write the report to stdout: No space left on device (os error 28) [write]",
            )
            .stderr_lacks("panicked");
    }
    let mut args = generate_args(2, 1, 4, 1);
    args.extend(["--output", "/dev/full"].map(String::from));
    run_bin(&strs(&args)).exits(1).stderr_has(
        "error: cannot write `/dev/full`: No space left on device (os error 28); the file was left as it was [write]",
    );
}

/// `rebalance --output` over its own input, killed by the file size limit
/// mid-write (SIGXFSZ), then refused it (EFBIG): the input keeps its old
/// bytes and no temporary file is left. Then the same write without a
/// limit replaces it.
#[cfg(unix)]
#[test]
fn a_failed_write_leaves_the_old_file_byte_for_byte() {
    let scratch = Scratch::new();
    let file = scratch.generated("cluster.toml", 6, 3, 256, 3);
    let before = fs::read(&file).unwrap();
    assert!(before.len() > 4096, "{}", before.len());
    let rebalance = |limit: &str| {
        let script = format!("{limit} exec \"$0\" \"$@\"");
        let args = [
            "rebalance",
            &file,
            "--add-node",
            "n9=10.0.9.9:8086,zone=z0",
            "--output",
            &file,
        ];
        let out = Command::new("sh")
            .args(["-c", &script, bin()])
            .args(args)
            .output()
            .unwrap();
        Run::from_output(vec![limit.to_owned()], out)
    };
    // `ulimit -f 1`: 512 or 1024 bytes, depending on the shell.
    let killed = rebalance("ulimit -f 1;");
    assert_ne!(killed.code, 0, "{killed:?}");
    assert_eq!(fs::read(&file).unwrap(), before);
    // A killed process cannot remove its temporary file; it is named so
    // that an operator knows what it is, and is never the target.
    for name in scratch.files() {
        if name != "cluster.toml" {
            assert!(
                name.starts_with(".cluster.toml.rusts-cluster-") && name.ends_with(".tmp"),
                "{name}"
            );
            fs::remove_file(scratch.path(&name)).unwrap();
        }
    }
    // With SIGXFSZ ignored, the write fails with EFBIG instead, and the
    // temporary file is removed.
    rebalance("trap '' XFSZ; ulimit -f 1;")
        .exits(1)
        .stderr_has(&format!("error: cannot write `{file}`: File too large"))
        .stderr_has("the file was left as it was [write]");
    assert_eq!(fs::read(&file).unwrap(), before);
    assert_eq!(scratch.files(), ["cluster.toml"]);
    // Without a limit, the input is replaced by the rebalanced config.
    let written = rebalance("").exits(0);
    let after = fs::read_to_string(&file).unwrap();
    written.stderr_has(&format!(
        "note: wrote {} bytes to {file} (generation 3)",
        after.len()
    ));
    assert!(after.contains("generation = 3") && after.contains("\"n9\""));
    assert_eq!(scratch.files(), ["cluster.toml"]);
    run(&["validate", &file]).exits(0);
}

/// The config is read once: from a FIFO, a second open would block forever
/// (the writer is gone), so the error locations prove a single read.
#[cfg(unix)]
#[test]
fn a_fifo_is_read_once() {
    let scratch = Scratch::new();
    let fifo = scratch.arg("cluster.fifo");
    let made = Command::new("mkfifo").arg(&fifo).status().unwrap();
    assert!(made.success());
    let text = fs::read(invalid("many-problems-at-once.toml")).unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || fs::write(&fifo, text))
    };
    let args = ["validate", fifo.as_str()];
    run_cmd(binary().args(args).timeout(Duration::from_secs(20)), &args)
        .exits(1)
        .stderr_has("cluster.fifo:18:17: node \"node1\" lists shard 9");
    writer.join().unwrap().unwrap();
}

/// A process substitution (`<(cat cluster.toml)`) is a pipe under
/// /dev/fd: a second read gets nothing, which lost every location before.
#[cfg(target_os = "linux")]
#[test]
fn a_process_substitution_keeps_its_locations() {
    let file = path(&invalid("many-problems-at-once.toml"));
    let has_bash = Command::new("bash")
        .arg("-c")
        .arg("true")
        .status()
        .is_ok_and(|s| s.success());
    if has_bash {
        let args = ["-c", "exec \"$0\" validate <(cat \"$1\")", bin(), &file];
        let mut bash = assert_cmd::Command::new("bash");
        bash.args(args).timeout(Duration::from_secs(20));
        run_cmd(&mut bash, &args)
            .exits(1)
            .stderr_has(":18:17: node \"node1\" lists shard 9")
            .stderr_has("/dev/fd/");
    }
    // The same through /dev/stdin, which needs no shell.
    let args = ["validate", "/dev/stdin"];
    let mut cmd = binary();
    cmd.args(args)
        .pipe_stdin(&file)
        .unwrap()
        .timeout(Duration::from_secs(20));
    run_cmd(&mut cmd, &args)
        .exits(1)
        .stderr_has("/dev/stdin:18:17: node \"node1\" lists shard 9");
}
