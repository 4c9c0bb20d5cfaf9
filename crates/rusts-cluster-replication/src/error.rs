use thiserror::Error;

/// An error from this crate: a write whose outcome is a failure.
#[derive(Clone, Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReplicationError {
    /// Fewer distinct copies acknowledged success than the mode requires.
    #[error("write reached {got} of the {needed} copies a quorum needs")]
    QuorumNotReached {
        /// Distinct copies that acknowledged success.
        got: usize,
        /// Successful copies the mode requires.
        needed: usize,
    },
}
