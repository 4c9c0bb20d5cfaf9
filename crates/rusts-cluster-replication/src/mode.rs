use std::fmt;

use serde::{Deserialize, Serialize};

/// How many copies of a shard must acknowledge a write before it succeeds.
///
/// | mode | required acks for `n` copies | 1 | 2 | 3 | 4 | 5 |
/// |---|---|---|---|---|---|---|
/// | `Synchronous` | `n` | 1 | 2 | 3 | 4 | 5 |
/// | `Quorum` | `n / 2 + 1` | 1 | 2 | 2 | 3 | 3 |
/// | `Asynchronous` | `0` | 0 | 0 | 0 | 0 | 0 |
///
/// With zero copies, `Synchronous` and `Quorum` both require one ack: a
/// write sent to no copy cannot be durable, so it never succeeds
/// (validation refuses `replication_factor = 0`, so a router never asks).
///
/// In TOML a mode is written as its name: `replication_mode = "Quorum"`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReplicationMode {
    /// Every copy must acknowledge.
    Synchronous,
    /// A majority of copies must acknowledge (the default).
    #[default]
    Quorum,
    /// No acknowledgement is awaited: the write succeeds once sent.
    Asynchronous,
}

impl ReplicationMode {
    /// The number of successful acknowledgements a write sent to
    /// `replica_count` copies needs.
    ///
    /// ```
    /// use rusts_cluster_replication::ReplicationMode;
    ///
    /// assert_eq!(ReplicationMode::Synchronous.required_acks(3), 3);
    /// assert_eq!(ReplicationMode::Quorum.required_acks(3), 2);
    /// assert_eq!(ReplicationMode::Asynchronous.required_acks(3), 0);
    /// ```
    pub fn required_acks(self, replica_count: usize) -> usize {
        match self {
            ReplicationMode::Synchronous => replica_count.max(1),
            ReplicationMode::Quorum => replica_count / 2 + 1,
            ReplicationMode::Asynchronous => 0,
        }
    }
}

impl fmt::Display for ReplicationMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ReplicationMode::Synchronous => "Synchronous",
            ReplicationMode::Quorum => "Quorum",
            ReplicationMode::Asynchronous => "Asynchronous",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn required_acks_table() {
        let table: [(usize, usize, usize, usize); 6] = [
            // copies, synchronous, quorum, asynchronous
            (0, 1, 1, 0),
            (1, 1, 1, 0),
            (2, 2, 2, 0),
            (3, 3, 2, 0),
            (4, 4, 3, 0),
            (5, 5, 3, 0),
        ];
        for (n, sync, quorum, none) in table {
            assert_eq!(
                ReplicationMode::Synchronous.required_acks(n),
                sync,
                "sync {n}"
            );
            assert_eq!(
                ReplicationMode::Quorum.required_acks(n),
                quorum,
                "quorum {n}"
            );
            assert_eq!(
                ReplicationMode::Asynchronous.required_acks(n),
                none,
                "async {n}"
            );
        }
        assert_eq!(
            ReplicationMode::Quorum.required_acks(usize::MAX),
            usize::MAX / 2 + 1
        );
    }

    #[test]
    fn default_is_quorum() {
        assert_eq!(ReplicationMode::default(), ReplicationMode::Quorum);
    }
}
