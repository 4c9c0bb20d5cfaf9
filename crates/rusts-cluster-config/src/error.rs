use std::{fmt, io, path::PathBuf};

use thiserror::Error;

use rusts_cluster_sharding::ShardingError;

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
        "cluster config `{}` is larger than the {limit}-byte limit, so it is likely the wrong \
         file: the largest allowed cluster (262144 shards, 3 copies each) takes under 6 MiB as \
         `to_toml` writes it, with each shard list on one line",
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
    /// A sharding rule refused a value: a split factor below 2
    /// ([`ClusterConfig::split`](crate::ClusterConfig::split)).
    #[error(transparent)]
    Sharding(#[from] ShardingError),
    /// A split would give more than
    /// [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT) shards.
    #[error(
        "splitting {shard_count} shards by {factor} gives {} shards, above the limit of {max}; {}",
        u64::from(*shard_count) * u64::from(*factor),
        match max / shard_count.max(&1) {
            0 | 1 => format!("a cluster of {shard_count} shards cannot be split"),
            most => format!("use a factor of at most {most}"),
        }
    )]
    SplitTooLarge {
        /// The shard count before the split.
        shard_count: u32,
        /// The factor given.
        factor: u32,
        /// [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT).
        max: u32,
    },
    /// A later generation was asked of a config whose `generation` leaves
    /// no room for it ([`ClusterConfig::next_generation`](crate::ClusterConfig::next_generation)).
    #[error(
        "`generation` is {generation}, so a config {steps} generation{} later would pass the \
         largest there is ({}); lower `generation` in every node's copy first",
        if *steps == 1 { "" } else { "s" }, u64::MAX
    )]
    GenerationOverflow {
        /// The config's generation.
        generation: u64,
        /// How many generations later the new config was to be.
        steps: u64,
    },
    /// The config is a step of a transition (it marks copies as joining or
    /// leaving, or reads from the new copies), and the operation needs a
    /// settled placement: [`ClusterConfig::split`](crate::ClusterConfig::split)
    /// of a step would number its result as the plan's next step, and
    /// split a moving shard's half-caught-up copies as if they were whole.
    #[error(
        "generation {generation} is a step of a transition ({}, reads from the {move_reads} \
         copies), not a settled placement; finish the transition (deploy its steps up to the \
         final one) or roll it back to the config it started from, and {what} that config",
        MovingShards(shards)
    )]
    InTransition {
        /// The config's generation.
        generation: u64,
        /// The shards with joining or leaving copies, ascending (empty
        /// when only `move_reads` is `"new"`).
        shards: Vec<rusts_cluster_sharding::ShardId>,
        /// The config's `move_reads`.
        move_reads: crate::MoveReads,
        /// What was asked of the config, as a verb: `split`.
        what: &'static str,
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
    /// A short, stable, kebab-case name of what went wrong, for scripts
    /// (the CLI's JSON `code`); a wrapped layer's error gives its own.
    /// [`ConfigError::Invalid`] is `invalid-config`: each of its
    /// [`ValidationError`]s has a [`code`](ValidationError::code) of its own.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Io { .. } => "io",
            ConfigError::TooLarge { .. } => "too-large",
            ConfigError::NotUtf8 { .. } => "not-utf8",
            ConfigError::Parse { .. } => "parse",
            ConfigError::Serialize { .. } => "serialize",
            ConfigError::Sharding(e) => e.code(),
            ConfigError::SplitTooLarge { .. } => "split-too-large",
            ConfigError::GenerationOverflow { .. } => "generation-overflow",
            ConfigError::InTransition { .. } => "in-transition",
            ConfigError::Invalid { .. } => "invalid-config",
        }
    }

    /// The validation problems, when this is [`ConfigError::Invalid`].
    pub fn validation_errors(&self) -> &[ValidationError] {
        match self {
            ConfigError::Invalid { errors } => errors,
            _ => &[],
        }
    }
}

/// `shards 0-3, 7 have joining or leaving copies`, for messages: at most
/// eight runs, then a count.
struct MovingShards<'a>(&'a [rusts_cluster_sharding::ShardId]);

impl fmt::Display for MovingShards<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const SHOWN: usize = 8;
        let shards = self.0;
        if shards.is_empty() {
            return f.write_str("no copy is marked as moving");
        }
        let mut runs: Vec<(u32, u32)> = Vec::new();
        for &s in shards {
            match runs.last_mut() {
                Some((_, end)) if end.checked_add(1) == Some(s) => *end = s,
                _ => runs.push((s, s)),
            }
        }
        let shown: Vec<String> = runs
            .iter()
            .take(SHOWN)
            .map(|&(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}-{b}")
                }
            })
            .collect();
        let noun = if shards.len() == 1 { "shard" } else { "shards" };
        write!(f, "{noun} {}", shown.join(", "))?;
        if runs.len() > SHOWN {
            let more: usize = runs[SHOWN..]
                .iter()
                .map(|&(a, b)| (b - a) as usize + 1)
                .sum();
            write!(f, " and {more} more")?;
        }
        let verb = if shards.len() == 1 { "has" } else { "have" };
        write!(f, " {verb} joining or leaving copies")
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
    /// A UTF-8 byte order mark at the start of `text` is not a column: an
    /// editor does not show it, so line 1 counts from the character after
    /// it.
    ///
    /// This scans `text` up to `offset`; to locate many offsets in one text,
    /// a [`SourceMap`](crate::SourceMap) indexes the lines once.
    ///
    /// ```
    /// use rusts_cluster_config::Location;
    ///
    /// assert_eq!(Location::of_offset(b"a = 1\nb = 2\n", 10), Location { line: 2, column: 5 });
    /// // With a byte order mark, `a` is still column 1.
    /// assert_eq!(Location::of_offset(b"\xEF\xBB\xBFa = 1\n", 3), Location { line: 1, column: 1 });
    /// ```
    pub fn of_offset(text: &[u8], offset: usize) -> Location {
        let before = &text[..offset.min(text.len())];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
        Location {
            line,
            column: chars(text, line_start, before.len()) + 1,
        }
    }
}

/// The UTF-8 byte order mark, which `toml` accepts at the start of a file.
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The characters that start in `text[from..to]`: bytes that are not UTF-8
/// continuation bytes, leaving out a byte order mark at the start of
/// `text` (its first byte is the only one that would count).
fn chars(text: &[u8], from: usize, to: usize) -> usize {
    let starts = text[from..to]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count();
    let bom = from == 0 && to > 0 && text.starts_with(BOM);
    starts - usize::from(bom)
}

/// Line and column of many byte offsets in one text, without rescanning it
/// from the start for each: a [`SourceMap`](crate::SourceMap) locates up to
/// [`MAX_REPORTED_ERRORS`](crate::MAX_REPORTED_ERRORS) problems in a file of
/// up to [`MAX_CONFIG_BYTES`](crate::MAX_CONFIG_BYTES).
///
/// It records, for every `BLOCK` bytes, the line and column at the
/// block's start, so a lookup scans at most one block: 16 bytes of index
/// per 4 KiB of text, where a start offset per line would cost 8 bytes per
/// line (a file of newlines is one line per byte). Locating 1,000 problems
/// in a 31 MiB file took 12.5-32 s when each lookup counted from the start.
#[derive(Clone, Debug)]
pub(crate) struct LineIndex {
    /// `(line, column)` at the start of each block, both from 1.
    blocks: Vec<(usize, usize)>,
}

/// The bytes between two checkpoints of a [`LineIndex`].
const BLOCK: usize = 4096;

impl LineIndex {
    /// Indexes `text` in one pass.
    pub(crate) fn new(text: &[u8]) -> LineIndex {
        let mut blocks = Vec::with_capacity(text.len() / BLOCK + 1);
        let mut at = Location { line: 1, column: 1 };
        for (k, block) in text.chunks(BLOCK).enumerate() {
            blocks.push((at.line, at.column));
            at = advance(text, k * BLOCK, block.len(), at);
        }
        if blocks.is_empty() {
            blocks.push((1, 1));
        }
        LineIndex { blocks }
    }

    /// The location of byte offset `offset` in the `text` this index was
    /// built from; the same as [`Location::of_offset`].
    pub(crate) fn locate(&self, text: &[u8], offset: usize) -> Location {
        let offset = offset.min(text.len());
        let k = (offset / BLOCK).min(self.blocks.len() - 1);
        let (line, column) = self.blocks[k];
        let start = k * BLOCK;
        advance(text, start, offset - start, Location { line, column })
    }
}

/// The location `len` bytes after `start`, given that `start` is at `at`.
fn advance(text: &[u8], start: usize, len: usize, at: Location) -> Location {
    let span = &text[start..start + len];
    match span.iter().rposition(|&b| b == b'\n') {
        None => Location {
            line: at.line,
            column: at.column + chars(text, start, start + len),
        },
        Some(last) => Location {
            line: at.line + span.iter().filter(|&&b| b == b'\n').count(),
            column: chars(text, start + last + 1, start + len) + 1,
        },
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

    /// The tester's case: with a byte order mark, columns on line 1 came out
    /// one too high; other lines were right.
    #[test]
    fn a_byte_order_mark_is_not_a_column() {
        let text = "\u{FEFF}node_id = 7\nx = 1\n";
        let at = |offset| Location::of_offset(text.as_bytes(), offset);
        assert_eq!(at(0), Location { line: 1, column: 1 });
        // Inside the mark: clamped to the character after it.
        assert_eq!(at(2), Location { line: 1, column: 1 });
        assert_eq!(at(3), Location { line: 1, column: 1 });
        assert_eq!(
            at(13),
            Location {
                line: 1,
                column: 11
            }
        );
        assert_eq!(at(15), Location { line: 2, column: 1 });
        // A mark later in the text is an ordinary character.
        let later = "a\n\u{FEFF}b";
        assert_eq!(
            Location::of_offset(later.as_bytes(), 5),
            Location { line: 2, column: 2 }
        );
    }

    /// The index gives what a scan from the start gives, at every offset,
    /// across block boundaries, long lines, multi-byte characters and a
    /// byte order mark.
    #[test]
    fn the_line_index_agrees_with_a_scan_from_the_start() {
        let mut texts = vec![
            String::new(),
            "\n".repeat(3 * BLOCK + 7),
            "x".repeat(2 * BLOCK + 3),
            format!("\u{FEFF}{}", "é".repeat(BLOCK)),
        ];
        // Lines of varying length with 2-, 3- and 4-byte characters, some
        // of them split by block boundaries.
        let mut mixed = String::from("\u{FEFF}");
        for i in 0..1000 {
            mixed.push_str(&"aé€😀".repeat(i % 7));
            mixed.push_str(if i % 5 == 0 { "\n\n" } else { "\n" });
        }
        texts.push(mixed);
        for text in &texts {
            let bytes = text.as_bytes();
            let index = LineIndex::new(bytes);
            // Every 13th offset, every offset near a block boundary, and
            // past the end: a scan from the start per offset is quadratic.
            let near_boundaries = (0..=bytes.len() / BLOCK + 1)
                .flat_map(|k| (k * BLOCK).saturating_sub(4)..k * BLOCK + 4);
            let offsets = (0..bytes.len()).step_by(13).chain(near_boundaries).chain([
                bytes.len(),
                bytes.len() + 1,
                usize::MAX,
            ]);
            for offset in offsets {
                assert_eq!(
                    index.locate(bytes, offset),
                    Location::of_offset(bytes, offset),
                    "offset {offset} of a {}-byte text",
                    bytes.len()
                );
            }
        }
    }
}
