//! `completions` and `man`: shell completion scripts and man pages, from
//! the same definitions as `--help`.
//!
//! Both are written to a buffer first: the generators' own writers panic on
//! a write error, and stdout here may be a closed pipe.

use clap::CommandFactory;

use crate::{
    cli::{Cli, CompletionsArgs, ManArgs},
    report::{Problem, Stop, Ui},
};

pub(crate) fn completions(args: CompletionsArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    let mut command = Cli::command();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, "rusts-cluster", &mut script);
    ui.print_bytes(&script)
}

pub(crate) fn man(args: ManArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    let mut command = Cli::command();
    // Building propagates the global options (--table-style) into each
    // subcommand, so that its page lists them.
    command.build();
    let page = match args.subcommand.as_deref() {
        None => command,
        Some(name) => {
            let Some(sub) = command
                .get_subcommands()
                .find(|s| s.get_name().eq_ignore_ascii_case(name))
            else {
                let names: Vec<&str> = command.get_subcommands().map(|s| s.get_name()).collect();
                return Err(ui.usage(format!(
                    "`{name}` is not a subcommand; use one of {}",
                    names.join(", ")
                )));
            };
            let title = format!("rusts-cluster-{}", sub.get_name());
            sub.clone().name(title.clone()).bin_name(title)
        }
    };
    let mut roff = Vec::new();
    clap_mangen::Man::new(page).render(&mut roff).map_err(|e| {
        ui.fail(Problem::new(
            "write",
            format!("cannot render the man page: {e}"),
        ))
    })?;
    ui.print_bytes(&roff)
}
