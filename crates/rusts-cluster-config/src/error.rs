use std::{fmt, io, path::PathBuf};

use thiserror::Error;

use crate::ValidationError;

/// An error from this crate: a config that cannot be read, parsed, written
/// or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The file could not be read; the cause is the error's `source()`.
    #[error("cannot read cluster config `{}`", path.display())]
    Io {
        /// The file that was being read.
        path: PathBuf,
        /// What the operating system said.
        #[source]
        source: io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES).
    #[error(
        "cluster config `{}` is larger than the {limit}-byte limit; \
         a config for the largest allowed cluster is far smaller, so this is likely the wrong file",
        path.display()
    )]
    TooLarge {
        /// The file that was being read.
        path: PathBuf,
        /// The limit, in bytes.
        limit: u64,
    },
    /// The file is not UTF-8 text.
    #[error(
        "cluster config{} is not UTF-8 text: invalid byte at {location}",
        in_path(Some(path))
    )]
    NotUtf8 {
        /// The file that was being read.
        path: PathBuf,
        /// Where the first invalid byte is.
        location: Location,
    },
    /// The text is not TOML, or not the shape of a cluster config (a wrong
    /// type, a missing required key, an unknown key).
    #[error("invalid cluster config{}{}: {message}", in_path(path.as_deref()), at(location))]
    Parse {
        /// The file, when the text came from one.
        path: Option<PathBuf>,
        /// Where the problem is, when the parser knows.
        location: Option<Location>,
        /// The parser's description of the problem.
        message: String,
    },
    /// The config could not be written as TOML.
    #[error("cannot write the cluster config as TOML")]
    Serialize {
        /// The serializer's error.
        #[source]
        source: toml::ser::Error,
    },
    /// A node change names a node the config does not have.
    #[error("no node has id \"{node}\"; check the id against the config's `[[nodes]]`")]
    UnknownNode {
        /// The id given.
        node: String,
    },
    /// The config parsed, but breaks validation rules; every problem found
    /// is listed.
    #[error("invalid cluster config ({} problem{}): {}", errors.len(), if errors.len() == 1 { "" } else { "s" }, Joined(errors))]
    Invalid {
        /// Every rule the config breaks, in the order found.
        errors: Vec<ValidationError>,
    },
}

impl ConfigError {
    /// The validation problems, when this is [`ConfigError::Invalid`].
    pub fn validation_errors(&self) -> &[ValidationError] {
        match self {
            ConfigError::Invalid { errors } => errors,
            _ => &[],
        }
    }
}

/// A position in a config file: 1-based line and column (in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location {
    /// The line, from 1.
    pub line: usize,
    /// The column, from 1, counted in characters.
    pub column: usize,
}

impl Location {
    /// The location of byte offset `offset` in `text`. An offset past the
    /// end, or inside a character, is clamped to the character it falls in.
    pub fn of_offset(text: &[u8], offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        // Count characters, not bytes: UTF-8 continuation bytes do not start one.
        let column = before[line_start..]
            .iter()
            .filter(|&&b| (b & 0xC0) != 0x80)
            .count()
            + 1;
        Location { line, column }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

fn in_path(path: Option<&std::path::Path>) -> String {
    path.map(|p| format!(" `{}`", p.display()))
        .unwrap_or_default()
}

fn at(location: &Option<Location>) -> String {
    location.map(|l| format!(" at {l}")).unwrap_or_default()
}

struct Joined<'a>(&'a [ValidationError]);

impl fmt::Display for Joined<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_count_lines_and_characters() {
        let text = "a = 1\nbé = x\n";
        assert_eq!(
            Location::of_offset(text.as_bytes(), 0),
            Location { line: 1, column: 1 }
        );
        assert_eq!(
            Location::of_offset(text.as_bytes(), 6),
            Location { line: 2, column: 1 }
        );
        // `x` is byte 12 but character 6 of its line (`é` is two bytes).
        assert_eq!(
            Location::of_offset(text.as_bytes(), 12),
            Location { line: 2, column: 6 }
        );
        assert_eq!(
            Location::of_offset(text.as_bytes(), 999),
            Location { line: 3, column: 1 }
        );
    }
}
