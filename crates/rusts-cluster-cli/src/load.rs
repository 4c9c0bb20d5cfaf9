//! Reading a config file once, and reporting why it cannot be used: the
//! error code, the whole cause chain, and the line and column.
//!
//! The file is read once ([`ConfigFile`]) and errors are located in that
//! same text: opening the path a second time blocks forever on a FIFO and
//! reads nothing from a process substitution (`<(cat cluster.toml)`).

use std::path::Path;

use rusts_cluster_config::{ClusterConfig, ConfigError, ConfigFile, SourceMap, ValidationError};

use crate::report::{chain, Problem, Stop, Ui};

/// A config and the text it was parsed from.
#[derive(Debug)]
pub(crate) struct Loaded {
    pub(crate) file: ConfigFile,
    pub(crate) config: ClusterConfig,
}

/// Reads and parses `path`, reporting why it cannot be (codes `io`,
/// `too-large`, `not-utf8`, `parse`).
pub(crate) fn load(ui: &mut Ui<'_>, path: &Path) -> Result<Loaded, Stop> {
    let file = ConfigFile::read(path).map_err(|e| ui.fail(file_problem(path, &e)))?;
    let config = file.parse().map_err(|e| ui.fail(file_problem(path, &e)))?;
    Ok(Loaded { file, config })
}

/// Loads and validates, reporting every validation error with its location.
pub(crate) fn load_valid(ui: &mut Ui<'_>, path: &Path) -> Result<Loaded, Stop> {
    load_valid_as(ui, path, None)
}

/// As [`load_valid`], with `node_id` replaced first when given (`--node-id`).
pub(crate) fn load_valid_as(
    ui: &mut Ui<'_>,
    path: &Path,
    node_id: Option<&str>,
) -> Result<Loaded, Stop> {
    let mut loaded = load(ui, path)?;
    if let Some(id) = node_id {
        loaded.config = loaded.config.for_node(id);
    }
    match loaded.config.validate() {
        Ok(()) => Ok(loaded),
        Err(e) => {
            for problem in validation_problems(&loaded.file, &e) {
                ui.error(problem);
            }
            Err(Stop::Failed)
        }
    }
}

/// Every validation error of `e`, located in the file's text where the rule
/// has one place.
pub(crate) fn validation_problems(file: &ConfigFile, e: &ConfigError) -> Vec<Problem> {
    let errors = e.validation_errors();
    if errors.is_empty() {
        return vec![file_problem(file.path(), e)];
    }
    let map = SourceMap::parse(file.text());
    errors
        .iter()
        .map(|v| {
            let problem = validation_problem(v).in_file(file.path());
            match map.as_ref().and_then(|m| m.locate(v)) {
                Some(at) => problem.at(at.line, at.column),
                None => problem,
            }
        })
        .collect()
}

/// A validation error with its rule's code; no file (a config built from
/// arguments, as `generate` and `rebalance` build them).
pub(crate) fn validation_problem(e: &ValidationError) -> Problem {
    Problem::new(e.code(), e.to_string())
}

/// Why a file cannot be read or parsed, with the error's own code
/// (`ConfigError::code()`: `io`, `too-large`, `not-utf8`, `parse`, ...).
/// The match only places the problem and words it for the file at hand.
pub(crate) fn file_problem(path: &Path, e: &ConfigError) -> Problem {
    match e {
        ConfigError::NotUtf8 { location, .. } => Problem::new(
            e.code(),
            format!("not UTF-8 text: invalid byte at {location}; save the file as UTF-8"),
        )
        .in_file(path)
        .at(location.line, location.column),
        ConfigError::Parse {
            location, message, ..
        } => {
            let problem = Problem::new(e.code(), message.clone()).in_file(path);
            match location {
                Some(at) => problem.at(at.line, at.column),
                None => problem,
            }
        }
        ConfigError::Invalid { errors } if !errors.is_empty() => {
            validation_problem(&errors[0]).in_file(path)
        }
        // The message names the file (`cannot read cluster config `x.toml``).
        _ => Problem::new(e.code(), chain(e)).naming_file(path),
    }
}
