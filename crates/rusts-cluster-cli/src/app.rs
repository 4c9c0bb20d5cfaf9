//! The whole run of the tool: parse the command line, run the subcommand,
//! report, and return the exit code. `main` only supplies the streams.

use std::{ffi::OsString, io::Write};

use clap::{
    error::{ContextKind, ContextValue, ErrorKind},
    ArgMatches, CommandFactory, FromArgMatches,
};

use crate::{
    cli::{Cli, Command, Format, TableStyle},
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
    // Parsed in two steps, as `Cli::try_parse_from` does, so that the
    // matches are kept: they name the subcommand and its `--format` without
    // a list of our own to keep in step with the `Command` enum.
    let parsed = command().try_get_matches_from(&args).and_then(|matches| {
        Cli::from_arg_matches(&matches)
            .map(|cli| (cli, matches))
            .map_err(|e| e.format(&mut command()))
    });
    match parsed {
        Ok((cli, matches)) => dispatch(cli, &matches, stdout, stderr, terminal),
        Err(e) => command_line_error(&args, &e, stdout, stderr, terminal),
    }
}

/// The whole command line as clap knows it: every subcommand with its
/// arguments. Public for the tests, which iterate over its subcommands so
/// that a new one is covered without being listed there.
pub fn command() -> clap::Command {
    Cli::command()
}

fn dispatch(
    cli: Cli,
    matches: &ArgMatches,
    stdout: &mut dyn Write,
    stderr: &mut dyn Write,
    terminal: Terminal,
) -> u8 {
    let style = match cli.table_style {
        TableStyle::Unicode => Style::Unicode,
        TableStyle::Ascii => Style::Ascii,
        TableStyle::Auto if terminal.stdout => Style::Unicode,
        TableStyle::Auto => Style::Ascii,
    };
    // The subcommand as clap names it. `completions` and `man` have no
    // `--format`: their output is a script or a page for another program,
    // never a report.
    let (name, format) = match matches.subcommand() {
        Some((name, sub)) => (
            Some(name),
            sub.try_get_one::<Format>("format")
                .ok()
                .flatten()
                .copied()
                .unwrap_or_default(),
        ),
        None => (None, Format::Text),
    };
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
        Command::Status(args) => commands::status::run(args, &mut ui),
        Command::Completions(args) => commands::manual::completions(args, &mut ui),
        Command::Man(args) => commands::manual::man(args, &mut ui),
    };
    ui.finish(name, outcome)
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
    let name = subcommand(args);
    // The message quotes the command line, which may hold escape sequences.
    let rendered = name
        .as_deref()
        .and_then(|name| no_format_here(name, e))
        .unwrap_or_else(|| e.render().to_string());
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
    ui.finish(name.as_deref(), Ok(()))
}

/// Whether a subcommand takes `--format` (the `FormatArg` it flattens).
pub(crate) fn takes_format(sub: &clap::Command) -> bool {
    sub.get_arguments().any(|a| a.get_id() == "format")
}

/// clap's message for `--format` given to a subcommand that has none
/// (`completions`, `man`), told as what it is. clap's own says "unexpected
/// argument '--format' found" with a tip to pass it after `--`, which
/// misleads here; this names the subcommands that do take it, from clap.
fn no_format_here(name: &str, e: &clap::Error) -> Option<String> {
    if e.kind() != ErrorKind::UnknownArgument {
        return None;
    }
    match e.get(ContextKind::InvalidArg) {
        Some(ContextValue::String(arg)) if arg == "--format" || arg.starts_with("--format=") => {}
        _ => return None,
    }
    let command = command();
    if command.find_subcommand(name).is_none_or(takes_format) {
        return None;
    }
    let with: Vec<&str> = command
        .get_subcommands()
        .filter(|s| takes_format(s))
        .map(|s| s.get_name())
        .collect();
    Some(format!(
        "error: `{name}` takes no --format: it prints text for another program (a shell, man), \
         not a report; these take --format: {}\n\nFor more information, try \
         'rusts-cluster {name} --help'.\n",
        with.join(", ")
    ))
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

/// The subcommand named on a command line clap refused, if any: the first
/// argument that is one of the subcommands clap knows.
fn subcommand(args: &[OsString]) -> Option<String> {
    let command = command();
    args.iter()
        .skip(1)
        .filter_map(|a| a.to_str())
        .find_map(|a| command.find_subcommand(a))
        .map(|sub| sub.get_name().to_owned())
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
            subcommand(&os(&["x", "--table-style", "ascii", "show"])).as_deref(),
            Some("show")
        );
        assert_eq!(subcommand(&os(&["x", "frobnicate"])), None);
    }
}
