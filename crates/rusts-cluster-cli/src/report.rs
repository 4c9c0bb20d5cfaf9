//! Where a command's output goes: the report on stdout (text or one JSON
//! object), problems on stderr, and the exit code that follows from them.
//!
//! The exit code is not chosen by each command: it follows from what was
//! reported. 2 when a usage error was reported, else 1 when any error was,
//! else 0 (docs/operations.md, decision 0014). A command reports through
//! [`Ui::error`], [`Ui::warning`] and [`Ui::usage`], which print to stderr
//! at once and keep the problem for the JSON report.

use std::{
    error::Error,
    io::{self, Write},
    path::Path,
};

use serde_json::{json, Map, Value};

use crate::{
    cli::Format,
    text::{self, Style},
};

/// The version of the JSON output's shape. It grows when a key is removed,
/// renamed or changes meaning; adding a key keeps it.
pub(crate) const FORMAT_VERSION: u64 = 1;

/// One error or warning: a stable code, a message, and where it is when
/// known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Problem {
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) file: Option<String>,
    pub(crate) line: Option<usize>,
    pub(crate) column: Option<usize>,
    /// Whether the text form starts with the file (`FILE: message`): not for
    /// messages that name the file themselves, such as "cannot read cluster
    /// config `x.toml`".
    file_prefix: bool,
}

impl Problem {
    pub(crate) fn new(code: impl Into<String>, message: impl Into<String>) -> Problem {
        Problem {
            code: code.into(),
            message: message.into(),
            file: None,
            line: None,
            column: None,
            file_prefix: false,
        }
    }

    /// The problem is in (or about) this file.
    pub(crate) fn in_file(mut self, path: &Path) -> Problem {
        self.file = Some(path.display().to_string());
        self.file_prefix = true;
        self
    }

    /// About this file, whose path the message already names.
    pub(crate) fn naming_file(mut self, path: &Path) -> Problem {
        self.file = Some(path.display().to_string());
        self.file_prefix = false;
        self
    }

    pub(crate) fn at(mut self, line: usize, column: usize) -> Problem {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    fn json(&self) -> Value {
        json!({
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
        })
    }

    /// `LEVEL: FILE:LINE:COLUMN: message [code]`, the parts that are known,
    /// escaped for a terminal.
    fn text(&self, level: &str) -> String {
        let mut out = format!("{level}: ");
        if let (true, Some(file)) = (self.file_prefix, &self.file) {
            out.push_str(&text::escape(file));
            if let (Some(line), Some(column)) = (self.line, self.column) {
                out.push_str(&format!(":{line}:{column}"));
            }
            out.push_str(": ");
        }
        out.push_str(&text::escape(&self.message));
        out.push_str(&format!(" [{}]\n", self.code));
        out
    }
}

/// The message of `e` followed by each of its causes (`source()`), as
/// docs/configuration.md asks of a tool: "cannot read cluster config
/// `x.toml`: No such file or directory (os error 2)".
pub(crate) fn chain(e: &dyn Error) -> String {
    let mut out = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        // An error that prints its cause already (a transparent wrapper)
        // would repeat it.
        if !out.ends_with(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        cause = c.source();
    }
    out
}

/// Why a command stopped before its end.
#[derive(Debug)]
pub(crate) enum Stop {
    /// An error was reported and the command cannot go on: exit 1.
    Failed,
    /// A usage error was reported: exit 2.
    Usage,
    /// Writing the report to stdout failed: quietly exit 0 on a closed pipe,
    /// otherwise exit 1 naming the failure.
    Output(io::Error),
}

impl From<io::Error> for Stop {
    fn from(e: io::Error) -> Stop {
        Stop::Output(e)
    }
}

/// A command's output streams and what it has reported.
pub(crate) struct Ui<'a> {
    out: &'a mut dyn Write,
    err: &'a mut dyn Write,
    format: Format,
    style: Style,
    errors: Vec<Problem>,
    warnings: Vec<Problem>,
    usage: bool,
    report: Map<String, Value>,
}

impl<'a> Ui<'a> {
    pub(crate) fn new(
        out: &'a mut dyn Write,
        err: &'a mut dyn Write,
        format: Format,
        style: Style,
    ) -> Ui<'a> {
        Ui {
            out,
            err,
            format,
            style,
            errors: Vec::new(),
            warnings: Vec::new(),
            usage: false,
            report: Map::new(),
        }
    }

    /// Whether the report is JSON (otherwise text).
    pub(crate) fn json(&self) -> bool {
        self.format == Format::Json
    }

    /// How tables are drawn.
    pub(crate) fn style(&self) -> Style {
        self.style
    }

    /// Writes to stderr. A stderr that cannot be written is ignored: there
    /// is nowhere left to say so, and the exit code still tells the outcome.
    fn stderr(&mut self, text: &str) {
        let _ = self.err.write_all(text.as_bytes());
    }

    /// Reports an error: exit 1 unless a usage error makes it 2.
    pub(crate) fn error(&mut self, problem: Problem) {
        self.stderr(&problem.text("error"));
        self.errors.push(problem);
    }

    /// Reports an error after which the command cannot go on.
    pub(crate) fn fail(&mut self, problem: Problem) -> Stop {
        self.error(problem);
        Stop::Failed
    }

    /// Reports a usage error (code `usage`): exit 2.
    pub(crate) fn usage(&mut self, message: impl Into<String>) -> Stop {
        self.error(Problem::new("usage", message));
        self.usage = true;
        Stop::Usage
    }

    /// Records a usage error that has been printed already (clap's own
    /// message, with its usage lines).
    pub(crate) fn record_usage(&mut self, message: String) {
        self.errors.push(Problem::new("usage", message));
        self.usage = true;
    }

    pub(crate) fn warning(&mut self, problem: Problem) {
        self.stderr(&problem.text("warning"));
        self.warnings.push(problem);
    }

    /// A line for the person at the terminal (`note: ...`), on stderr only.
    pub(crate) fn note(&mut self, message: &str) {
        let line = format!("note: {}\n", text::escape(message));
        self.stderr(&line);
    }

    pub(crate) fn warning_count(&self) -> usize {
        self.warnings.len()
    }

    /// Sets a key of the JSON report.
    pub(crate) fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.report.insert(key.to_owned(), value.into());
    }

    /// The stream for the text report.
    pub(crate) fn out(&mut self) -> &mut dyn Write {
        &mut *self.out
    }

    /// Writes text to the report (stdout).
    pub(crate) fn print(&mut self, text: &str) -> Result<(), Stop> {
        self.print_bytes(text.as_bytes())
    }

    /// Writes bytes to the report (stdout).
    pub(crate) fn print_bytes(&mut self, bytes: &[u8]) -> Result<(), Stop> {
        Ok(self.out.write_all(bytes)?)
    }

    /// Ends the command: writes the JSON report when asked for, flushes
    /// stdout, and returns the exit code.
    pub(crate) fn finish(mut self, command: Option<&str>, outcome: Result<(), Stop>) -> u8 {
        let mut code = if self.usage {
            2
        } else if !self.errors.is_empty() || matches!(outcome, Err(Stop::Failed)) {
            1
        } else {
            0
        };
        let mut written = match outcome {
            Err(Stop::Output(e)) => Err(e),
            _ => Ok(()),
        };
        if written.is_ok() && self.json() {
            let mut document = Map::new();
            document.insert("format_version".into(), FORMAT_VERSION.into());
            document.insert("command".into(), command.into());
            document.insert("exit_code".into(), code.into());
            document.insert(
                "errors".into(),
                self.errors.iter().map(Problem::json).collect(),
            );
            document.insert(
                "warnings".into(),
                self.warnings.iter().map(Problem::json).collect(),
            );
            for (key, value) in std::mem::take(&mut self.report) {
                document.entry(key).or_insert(value);
            }
            written = serde_json::to_writer_pretty(&mut *self.out, &Value::Object(document))
                .map_err(io::Error::from)
                .and_then(|()| self.out.write_all(b"\n"));
        }
        if written.is_ok() {
            written = self.out.flush();
        }
        if let Err(e) = written {
            if e.kind() == io::ErrorKind::BrokenPipe {
                // The reader has gone (`| head -1`): it asked for no more,
                // which is not a failure (ripgrep exits 0 the same way).
                return 0;
            }
            let problem = Problem::new(
                "write",
                format!("cannot write the report to stdout: {}", chain(&e)),
            );
            self.stderr(&problem.text("error"));
            code = code.max(1);
        }
        code
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_print_in_the_documented_shape() {
        let p = Problem::new("duplicate-primary", "shard 9 twice")
            .in_file(Path::new("c.toml"))
            .at(18, 17);
        assert_eq!(
            p.text("error"),
            "error: c.toml:18:17: shard 9 twice [duplicate-primary]\n"
        );
        let p = Problem::new("missing-primary", "no primary").in_file(Path::new("c.toml"));
        assert_eq!(
            p.text("warning"),
            "warning: c.toml: no primary [missing-primary]\n"
        );
        let p = Problem::new("io", "cannot read `c.toml`").naming_file(Path::new("c.toml"));
        assert_eq!(p.text("error"), "error: cannot read `c.toml` [io]\n");
        assert_eq!(p.json()["file"], "c.toml");
        let p = Problem::new("usage", "bad\u{1b}[2J");
        assert_eq!(p.text("error"), "error: bad\\u{1b}[2J [usage]\n");
    }

    #[test]
    fn chains_name_every_cause_once() {
        let io = io::Error::new(io::ErrorKind::NotFound, "No such file");
        let e = rusts_cluster_config::ConfigError::Io {
            path: "x.toml".into(),
            source: io,
        };
        assert_eq!(
            chain(&e),
            "cannot read cluster config `x.toml`: No such file"
        );
    }

    struct Failing(io::ErrorKind);
    impl Write for Failing {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(io::Error::from(self.0))
        }
        fn flush(&mut self) -> io::Result<()> {
            Err(io::Error::from(self.0))
        }
    }

    fn finish_into(kind: io::ErrorKind, format: Format) -> (u8, String) {
        let mut out = Failing(kind);
        let mut err = Vec::new();
        let mut ui = Ui::new(&mut out, &mut err, format, Style::Ascii);
        let outcome = ui.print("report\n");
        let code = ui.finish(Some("show"), outcome);
        (code, String::from_utf8(err).unwrap())
    }

    #[test]
    fn a_closed_pipe_is_quiet_and_a_full_disk_is_an_error() {
        for format in [Format::Text, Format::Json] {
            assert_eq!(
                finish_into(io::ErrorKind::BrokenPipe, format),
                (0, String::new())
            );
            let (code, err) = finish_into(io::ErrorKind::StorageFull, format);
            assert_eq!(code, 1);
            assert!(
                err.starts_with("error: cannot write the report to stdout: ")
                    && err.ends_with("[write]\n"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_exit_code_follows_what_was_reported() {
        let run = |f: &dyn Fn(&mut Ui<'_>) -> Result<(), Stop>| {
            let (mut out, mut err) = (Vec::new(), Vec::new());
            let mut ui = Ui::new(&mut out, &mut err, Format::Json, Style::Ascii);
            let outcome = f(&mut ui);
            let code = ui.finish(Some("validate"), outcome);
            let report: Value = serde_json::from_slice(&out).unwrap();
            assert_eq!(report["exit_code"], code);
            assert_eq!(report["format_version"], FORMAT_VERSION);
            code
        };
        assert_eq!(run(&|_| Ok(())), 0);
        assert_eq!(
            run(&|ui| {
                ui.warning(Problem::new("w", "a warning"));
                Ok(())
            }),
            0
        );
        assert_eq!(
            run(&|ui| {
                ui.error(Problem::new("e", "an error"));
                Ok(())
            }),
            1
        );
        assert_eq!(run(&|ui| Err(ui.fail(Problem::new("e", "stop")))), 1);
        assert_eq!(run(&|ui| Err(ui.usage("bad range"))), 2);
    }
}
