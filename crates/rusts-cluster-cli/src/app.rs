//! The whole run of the tool: parse the command line, run the subcommand,
//! report, and return the exit code. `main` only supplies the streams.

use std::{ffi::OsString, io::Write};

use clap::Parser;

use crate::{
    cli::{Cli, Command, Format, TableStyle, FORMAT_COMMANDS},
    commands,
    report::{Stop, Ui},
    text::{escape, Style},
};

/// Whether stdout and stderr are terminals: tables are drawn with
/// box-drawing characters on a terminal (unless `--table-style` says
/// otherwise), and `--help` is coloured there.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Terminal {
    /// Whether stdout is a terminal.
    pub stdout: bool,
    /// Whether stderr is a terminal.
    pub stderr: bool,
}

/// Runs `rusts-cluster` with `args` (the program name first, as
/// `std::env::args_os` gives them), writing the report to `stdout` and
/// problems to `stderr`, and returns the exit code: 0, 1 or 2.
///
/// It never panics on any input, never exits the process, and flushes
/// `stdout` before returning; a closed `stdout` ends it quietly with 0.
pub fn run<I, T>(args: I, stdout: &mut dyn Write, stderr: &mut dyn Write, terminal: Terminal) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
    match Cli::try_parse_from(&args) {
        Ok(cli) => dispatch(cli, stdout, stderr, terminal),
        Err(e) => command_line_error(&args, &e, stdout, stderr, terminal),
    }
}

fn dispatch(cli: Cli, stdout: &mut dyn Write, stderr: &mut dyn Write, terminal: Terminal) -> u8 {
    let style = match cli.table_style {
        TableStyle::Unicode => Style::Unicode,
        TableStyle::Ascii => Style::Ascii,
        TableStyle::Auto if terminal.stdout => Style::Unicode,
        TableStyle::Auto => Style::Ascii,
    };
    let format = match &cli.command {
        Command::Validate(a) => a.format.format,
        Command::Show(a) => a.format.format,
        Command::Route(a) => a.format.format,
        Command::PlanQuery(a) => a.format.format,
        Command::Generate(a) => a.format.format,
        Command::Rebalance(a) => a.format.format,
        Command::Split(a) => a.format.format,
        Command::Diff(a) => a.format.format,
        Command::Transition(a) => a.format.format,
        Command::Completions(_) | Command::Man(_) => Format::Text,
    };
    let name = cli.command.name();
    let mut ui = Ui::new(stdout, stderr, format, style);
    let outcome: Result<(), Stop> = match cli.command {
        Command::Validate(args) => commands::validate::run(args, &mut ui),
        Command::Show(args) => commands::show::run(args, &mut ui),
        Command::Route(args) => commands::route::run(args, &mut ui),
        Command::PlanQuery(args) => commands::plan_query::run(args, &mut ui),
        Command::Generate(args) => commands::generate::run(args, &mut ui),
        Command::Rebalance(args) => commands::rebalance::run(args, &mut ui),
        Command::Split(args) => commands::split::run(args, &mut ui),
        Command::Diff(args) => commands::diff::run(args, &mut ui),
        Command::Transition(args) => commands::transition::run(args, &mut ui),
        Command::Completions(args) => commands::manual::completions(args, &mut ui),
        Command::Man(args) => commands::manual::man(args, &mut ui),
    };
    ui.finish(Some(name), outcome)
}

/// `--help` and `--version` (stdout, exit 0), or a command line clap
/// refused (stderr, exit 2; and the JSON report when `--format json` was
/// asked for).
fn command_line_error(
    args: &[OsString],
    e: &clap::Error,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
) -> u8 {
    if !e.use_stderr() {
        // Help and version text hold nothing from the command line.
        let text = if terminal.stdout {
            e.render().ansi().to_string()
        } else {
            e.render().to_string()
        };
        let mut ui = Ui::new(stdout, stderr, Format::Text, Style::Ascii);
        let outcome = ui.print(&text);
        return ui.finish(None, outcome);
    }
    // The message quotes the command line, which may hold escape sequences.
    let rendered = e.render().to_string();
    let text: Vec<String> = rendered
        .split('\n')
        .map(|line| escape(line).into_owned())
        .collect();
    let _ = stderr.write_all(text.join("\n").as_bytes());
    let format = if wants_json(args) {
        Format::Json
    } else {
        Format::Text
    };
    let mut ui = Ui::new(stdout, stderr, format, Style::Ascii);
    let message = rendered
        .lines()
        .next()
        .unwrap_or_default()
        .trim_start_matches("error: ")
        .to_owned();
    ui.record_usage(message);
    ui.finish(subcommand(args), Ok(()))
}

/// Whether the command line asks for `--format json`, read before clap
/// parses it, so that a command line clap refuses still gets a JSON report.
/// Public for the `cli` fuzz check, which holds the tool to this rule.
pub fn wants_json(args: &[OsString]) -> bool {
    let tokens: Vec<Option<&str>> = args
        .iter()
        .skip(1)
        .map(|a| a.to_str())
        .take_while(|t| *t != Some("--"))
        .collect();
    let is_json = |v: Option<&str>| v.is_some_and(|v| v.eq_ignore_ascii_case("json"));
    tokens.iter().enumerate().any(|(i, token)| match token {
        Some("--format") => is_json(tokens.get(i + 1).copied().flatten()),
        Some(t) => is_json(t.strip_prefix("--format=")),
        None => false,
    })
}

/// The subcommand named on a command line clap refused, if any.
fn subcommand(args: &[OsString]) -> Option<&'static str> {
    const NAMES: [&str; 10] = [
        FORMAT_COMMANDS[0],
        FORMAT_COMMANDS[1],
        FORMAT_COMMANDS[2],
        FORMAT_COMMANDS[3],
        FORMAT_COMMANDS[4],
        FORMAT_COMMANDS[5],
        FORMAT_COMMANDS[6],
        FORMAT_COMMANDS[7],
        "completions",
        "man",
    ];
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find_map(|a| NAMES.iter().find(|n| **n == a).copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn json_is_asked_for_in_either_spelling() {
        assert!(wants_json(&os(&["x", "show", "--format", "json"])));
        assert!(wants_json(&os(&["x", "show", "--format=JSON"])));
        assert!(!wants_json(&os(&["x", "show", "--format", "text"])));
        assert!(!wants_json(&os(&["x", "show", "--", "--format", "json"])));
        assert!(!wants_json(&os(&["x", "show", "--format"])));
        assert_eq!(
            subcommand(&os(&["x", "--table-style", "ascii", "show"])),
            Some("show")
        );
        assert_eq!(subcommand(&os(&["x", "frobnicate"])), None);
    }
}
