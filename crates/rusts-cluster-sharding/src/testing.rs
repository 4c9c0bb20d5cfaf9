//! Test support for this crate and the crates built on it: the one seeded
//! random number generator of the workspace's tests and simulations, and
//! the one [proptest](https://docs.rs/proptest) generator of sharding
//! strategies. Enabled by the `testing` feature; no runtime code uses it.
//!
//! ```
//! use proptest::prelude::*;
//! use rusts_cluster_sharding::testing::{strategies, TestRng};
//!
//! // The same seed gives the same draws on every machine.
//! let (mut a, mut b) = (TestRng::new(7), TestRng::new(7));
//! assert_eq!(a.below(1_000), b.below(1_000));
//!
//! proptest!(|(strategy in strategies(1..=i64::MAX))| {
//!     prop_assert!(strategy.validate().is_ok());
//! });
//! ```

use proptest::prelude::*;

use crate::ShardingStrategy;

/// SplitMix64: small, seedable, and the same on every machine, so a failing
/// seed replays exactly. Not for anything that needs unpredictability.
#[derive(Clone, Debug)]
pub struct TestRng(u64);

impl TestRng {
    /// A generator whose draws are fixed by `seed`.
    pub fn new(seed: u64) -> Self {
        TestRng(seed)
    }

    /// The next 64 random bits.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (slightly biased toward small values when `n` is
    /// not a power of two, which tests do not mind).
    ///
    /// # Panics
    ///
    /// When `n` is 0.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// True with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// Shuffles `items` (Fisher-Yates over this generator's draws).
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i as u64 + 1) as usize;
            items.swap(i, j);
        }
    }
}

/// Every variant of [`ShardingStrategy`], with the time-bucket widths drawn
/// from `durations`: a property test passes `1..=i64::MAX` for strategies
/// that validate, `any::<i64>()` to include the ones validation refuses,
/// or small widths so that ranges cover several buckets.
pub fn strategies<D>(durations: D) -> impl Strategy<Value = ShardingStrategy> + Clone
where
    D: Strategy<Value = i64> + Clone + 'static,
{
    prop_oneof![
        Just(ShardingStrategy::ByMeasurement),
        Just(ShardingStrategy::BySeries),
        durations
            .clone()
            .prop_map(|duration_nanos| ShardingStrategy::ByTime { duration_nanos }),
        durations.prop_map(|time_duration_nanos| ShardingStrategy::Composite {
            time_duration_nanos
        }),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generator_is_pinned() {
        // Seeds recorded in docs and failing-test messages must keep
        // replaying the same runs: the first draws of seed 0 are SplitMix64's.
        let mut rng = TestRng::new(0);
        assert_eq!(rng.next(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(rng.next(), 0x6e78_9e6a_a1b9_65f4);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut items: Vec<u32> = (0..100).collect();
        TestRng::new(3).shuffle(&mut items);
        assert_ne!(items, (0..100).collect::<Vec<_>>());
        items.sort_unstable();
        assert_eq!(items, (0..100).collect::<Vec<_>>());
    }
}
