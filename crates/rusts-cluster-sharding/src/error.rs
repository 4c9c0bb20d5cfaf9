use thiserror::Error;

/// An error from this crate: a strategy value that cannot place data, or a
/// split that cannot be made.
///
/// [`ShardingStrategy::compute_shard`](crate::ShardingStrategy::compute_shard)
/// never fails; these errors come from the constructors and from
/// [`ShardingStrategy::validate`](crate::ShardingStrategy::validate), which
/// refuse such values before they reach routing.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShardingError {
    /// A time bucket duration of zero or below.
    #[error(
        "`{field}` of the {strategy} sharding strategy is {duration_nanos}; \
         it must be a positive number of nanoseconds, e.g. 3600000000000 for one hour"
    )]
    NonPositiveDuration {
        /// The strategy's name as written in TOML, e.g. `ByTime`.
        strategy: &'static str,
        /// The offending field, e.g. `duration_nanos`.
        field: &'static str,
        /// The value that was given.
        duration_nanos: i64,
    },
    /// A split factor below 2: a split multiplies the shard count.
    #[error(
        "the split factor is {factor}; a split multiplies the shard count by a whole number \
         of 2 or more, so use a factor of at least 2"
    )]
    SplitFactor {
        /// The factor given.
        factor: u32,
    },
    /// A split of no shards, or one whose result does not fit a `u32`
    /// shard count.
    #[error(
        "cannot split {parent_count} shards by {factor}: it gives {} shards, and a shard count \
         is between 1 and 4294967295; {}",
        u64::from(*parent_count) * u64::from(*factor),
        if *parent_count == 0 { "split a config that has shards" } else { "use a smaller factor" }
    )]
    SplitShardCount {
        /// The shard count before the split.
        parent_count: u32,
        /// The factor given.
        factor: u32,
    },
}

impl ShardingError {
    /// A short, stable, kebab-case name of what went wrong, for scripts
    /// (the CLI's JSON `code`).
    pub fn code(&self) -> &'static str {
        match self {
            ShardingError::NonPositiveDuration { .. } => "non-positive-duration",
            ShardingError::SplitFactor { .. } => "split-factor",
            ShardingError::SplitShardCount { .. } => "split-shard-count",
        }
    }
}
