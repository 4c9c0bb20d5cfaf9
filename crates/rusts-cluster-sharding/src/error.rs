use thiserror::Error;

/// An error from this crate: a strategy value that cannot place data.
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
}
