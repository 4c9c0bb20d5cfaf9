//! The bounded report: problems and warnings past a count or a size are
//! counted, not built.

use std::fmt;

use super::{ValidationError, ValidationErrorKind};

/// The most problems [`ClusterConfig::validate`](crate::ClusterConfig::validate)
/// lists one by one: 1,000.
///
/// A broken file can hold millions of problems (a generated list of
/// 100,000 bad shard ids), and each listed problem copies node ids, so the
/// list is capped; the problems past the cap (or past 1 MiB of listed text)
/// are counted in a final [`ValidationErrorKind::TooManyProblems`]. Fixing
/// the listed ones and validating again shows the rest.
pub const MAX_REPORTED_ERRORS: usize = 1000;

/// The most warnings [`ClusterConfig::warnings`](crate::ClusterConfig::warnings)
/// lists one by one: 1,000.
///
/// A hostile or generated file can give hundreds of thousands of warnings
/// (one `node-without-shards` per node: a tester's file printed 199,986
/// lines, 25 MB), so warnings are bounded as problems are
/// ([`MAX_REPORTED_ERRORS`]): past 1,000 warnings or 1 MiB of text, the
/// rest are counted in a final
/// [`ValidationWarning::TooManyWarnings`](crate::ValidationWarning::TooManyWarnings).
pub const MAX_REPORTED_WARNINGS: usize = 1000;

/// The text the listed problems (or warnings) may hold before the rest are
/// only counted: 1 MiB, far more than an operator reads.
const MAX_REPORTED_BYTES: usize = 1 << 20;

/// The problems found so far, bounded so that no input makes the report
/// itself exhaust memory.
///
/// Most problems copy a node's id (and some an address) into the report,
/// so without a bound one long id and a long list of bad shards would be
/// copied once per shard: a 10 KB id and 10,000 out-of-range shards, 40 KB
/// of TOML, made a 100 MB report. Past `max` items or `MAX_REPORTED_BYTES`
/// of text, items are counted, not built, and one last item says how many
/// were left out.
pub(super) struct Report<T> {
    items: Vec<T>,
    max: usize,
    bytes: usize,
    omitted: usize,
}

/// The problems of one validation.
pub(super) type Errors = Report<ValidationError>;

impl<T: fmt::Display> Report<T> {
    pub(super) fn new(max: usize) -> Self {
        Report {
            items: Vec::new(),
            max,
            bytes: 0,
            omitted: 0,
        }
    }

    /// Adds the item `make` builds, or only counts it once the report is
    /// full, so that a full report costs no copying.
    pub(super) fn add(&mut self, make: impl FnOnce() -> T) {
        if self.items.len() >= self.max || self.bytes >= MAX_REPORTED_BYTES {
            self.omitted += 1;
            return;
        }
        let item = make();
        self.bytes += display_len(&item);
        self.items.push(item);
    }

    /// The listed items, then `too_many(omitted)` when some were left out.
    pub(super) fn finish(mut self, too_many: impl FnOnce(usize) -> T) -> Vec<T> {
        if self.omitted > 0 {
            self.items.push(too_many(self.omitted));
        }
        self.items
    }
}

impl Errors {
    /// Adds the problem `make` builds, at `at`.
    pub(super) fn at(
        &mut self,
        at: Option<super::Position>,
        make: impl FnOnce() -> ValidationErrorKind,
    ) {
        self.add(|| ValidationError::new(make(), at));
    }

    /// Adds a problem that has no one place in `nodes`.
    pub(super) fn rule(&mut self, make: impl FnOnce() -> ValidationErrorKind) {
        self.at(None, make);
    }
}

impl Default for Errors {
    fn default() -> Self {
        Report::new(MAX_REPORTED_ERRORS)
    }
}

/// The length of `item`'s `Display` text, without building it.
fn display_len(item: &impl fmt::Display) -> usize {
    struct Count(usize);
    impl fmt::Write for Count {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.0 += s.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing to a counter cannot fail.
    let _ = fmt::write(&mut count, format_args!("{item}"));
    count.0
}
