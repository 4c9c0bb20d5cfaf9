//! `validate`: every error with its line and column, then the warnings.

use crate::{
    cli::ValidateArgs,
    commands::node_id_json,
    load::{load, validation_problems},
    report::{Problem, Stop, Ui},
};

pub(crate) fn run(args: ValidateArgs, ui: &mut Ui<'_>) -> Result<(), Stop> {
    let path = args.file.as_path();
    ui.set("file", path.display().to_string());
    ui.set("valid", false);
    let mut loaded = load(ui, path)?;
    if let Some(id) = args.node_id {
        loaded.config = loaded.config.for_node(id);
    }
    let config = &loaded.config;
    ui.set("node_id", node_id_json(&config.node_id));
    ui.set("generation", config.generation);
    let valid = match config.validate() {
        Ok(()) => true,
        Err(e) => {
            for problem in validation_problems(&loaded.file, &e) {
                ui.error(problem);
            }
            false
        }
    };
    for w in config.warnings_for_zone_tag(&args.zone_tag) {
        ui.warning(Problem::new(w.code(), w.to_string()).in_file(path));
    }
    ui.set("valid", valid);
    let warnings = ui.warning_count();
    if args.deny_warnings && warnings > 0 {
        ui.error(
            Problem::new(
                "warnings-denied",
                format!(
                    "{warnings} warning{} and --deny-warnings",
                    if warnings == 1 { "" } else { "s" }
                ),
            )
            .in_file(path),
        );
    }
    if valid && !ui.json() {
        let line = format!(
            "{}: valid, generation {}, {warnings} warning{}\n",
            crate::text::escape(&path.display().to_string()),
            config.generation,
            if warnings == 1 { "" } else { "s" }
        );
        ui.print(&line)?;
    }
    Ok(())
}
