//! `rusts-cluster`: the operator's tool for RusTs cluster files. The tool
//! lives in the library (`src/lib.rs`); this gives it the process's
//! arguments and streams.

use std::{
    io::{self, BufWriter, IsTerminal},
    process::ExitCode,
};

fn main() -> ExitCode {
    let stdout = io::stdout();
    let stderr = io::stderr();
    let terminal = rusts_cluster_cli::Terminal {
        stdout: stdout.is_terminal(),
        stderr: stderr.is_terminal(),
    };
    // Buffered: `show` of a large cluster writes hundreds of thousands of
    // lines. `run` flushes it and reports a failed flush.
    let mut out = BufWriter::with_capacity(1 << 16, stdout.lock());
    let mut err = stderr.lock();
    let code = rusts_cluster_cli::run(std::env::args_os(), &mut out, &mut err, terminal);
    ExitCode::from(code)
}
