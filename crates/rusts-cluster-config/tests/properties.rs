//! Property tests of the config invariants: generated configs validate,
//! node order never matters, saving round-trips, and each broken rule is
//! reported by name.

use proptest::{prelude::*, sample::Index};
use rusts_cluster_config::{
    split_factor, strategies::valid_config, ClusterConfig, NotASplit, SplitFrom,
};

use rusts_cluster_sharding::testing::TestRng;

use crate::util::codes;

/// The sorted codes of a config's validation errors (empty when valid).
fn sorted_codes(config: &ClusterConfig) -> Vec<&'static str> {
    let mut codes = codes(config);
    codes.sort_unstable();
    codes
}

/// One way to break a valid config, and the rule it must trip.
#[derive(Clone, Debug)]
enum Breakage {
    DropPrimary,
    SecondPrimary,
    ShardOutOfRange,
    RepeatInList,
    ReplicaOnPrimary,
    UnknownThisNode,
    DuplicateAddress,
    ZeroReplicationFactor,
    ReplicationFactorAboveNodes,
}

fn any_breakage() -> impl Strategy<Value = Breakage> {
    prop_oneof![
        Just(Breakage::DropPrimary),
        Just(Breakage::SecondPrimary),
        Just(Breakage::ShardOutOfRange),
        Just(Breakage::RepeatInList),
        Just(Breakage::ReplicaOnPrimary),
        Just(Breakage::UnknownThisNode),
        Just(Breakage::DuplicateAddress),
        Just(Breakage::ZeroReplicationFactor),
        Just(Breakage::ReplicationFactorAboveNodes),
    ]
}

/// Applies `breakage` and returns the code that must now be reported, or
/// `None` where this config cannot be broken that way (one node, say).
fn apply(config: &mut ClusterConfig, breakage: &Breakage, pick: Index) -> Option<&'static str> {
    let n = config.nodes.len();
    let with_primaries: Vec<usize> = (0..n)
        .filter(|&i| !config.nodes[i].shards.is_empty())
        .collect();
    let owner = with_primaries[pick.index(with_primaries.len())];
    let shard = config.nodes[owner].shards[0];
    Some(match breakage {
        Breakage::DropPrimary => {
            config.nodes[owner].shards.remove(0);
            "missing-primary"
        }
        Breakage::SecondPrimary => {
            let other = (owner + 1) % n;
            if other == owner {
                return None;
            }
            // Also drop any replica it held, to trip this rule alone.
            config.nodes[other].replica_shards.retain(|&s| s != shard);
            config.nodes[other].shards.push(shard);
            "duplicate-primary"
        }
        Breakage::ShardOutOfRange => {
            config.nodes[owner].replica_shards.push(config.shard_count);
            "shard-out-of-range"
        }
        Breakage::RepeatInList => {
            config.nodes[owner].shards.push(shard);
            "duplicate-shard-in-list"
        }
        Breakage::ReplicaOnPrimary => {
            config.nodes[owner].replica_shards.push(shard);
            "replica-on-primary"
        }
        Breakage::UnknownThisNode => {
            config.node_id = "no-such-node".to_owned();
            "unknown-this-node"
        }
        Breakage::DuplicateAddress => {
            if n < 2 {
                return None;
            }
            config.nodes[1].address = config.nodes[0].address.clone();
            "duplicate-address"
        }
        Breakage::ZeroReplicationFactor => {
            config.replication_factor = 0;
            "zero-replication-factor"
        }
        Breakage::ReplicationFactorAboveNodes => {
            config.replication_factor = n + 1;
            "replication-factor-exceeds-nodes"
        }
    })
}

proptest! {
    #[test]
    fn prop_generated_configs_validate_with_no_replication_warning(config in valid_config()) {
        prop_assert_eq!(sorted_codes(&config), Vec::<&str>::new());
        // Random placement is neither balanced nor zone-spread; those
        // warnings are tested in tests/placement.rs.
        for warning in config.warnings() {
            prop_assert!(
                ["node-without-shards", "zone-spread", "primary-imbalance", "replica-imbalance"]
                    .contains(&warning.code()),
                "{}", warning
            );
        }
    }

    #[test]
    fn prop_saving_round_trips(config in valid_config()) {
        let text = config.to_toml().unwrap();
        let back = ClusterConfig::from_toml(&text).unwrap();
        prop_assert_eq!(&back, &config);
        prop_assert_eq!(back.to_toml().unwrap(), text, "saving is deterministic");
    }

    #[test]
    fn prop_each_breakage_is_reported_by_its_rule(
        config in valid_config(), breakage in any_breakage(), pick in any::<Index>()
    ) {
        let mut broken = config;
        if let Some(code) = apply(&mut broken, &breakage, pick) {
            let found = sorted_codes(&broken);
            prop_assert!(found.contains(&code), "{:?} gave {:?}", breakage, found);
            // Every error's message names something; none is empty.
            for e in broken.validate().unwrap_err().validation_errors() {
                prop_assert!(!e.to_string().is_empty());
            }
        }
    }

    #[test]
    fn prop_node_order_never_changes_validation(
        config in valid_config(), breakage in any_breakage(), pick in any::<Index>(), seed in any::<u64>()
    ) {
        let mut broken = config;
        apply(&mut broken, &breakage, pick);
        let mut reordered = broken.clone();
        // The workspace's one seeded test RNG, so a failing seed replays.
        TestRng::new(seed).shuffle(&mut reordered.nodes);
        prop_assert_eq!(sorted_codes(&reordered), sorted_codes(&broken));
        let mut warnings_a: Vec<_> = broken.warnings().iter().map(|w| w.to_string()).collect();
        let mut warnings_b: Vec<_> = reordered.warnings().iter().map(|w| w.to_string()).collect();
        warnings_a.sort();
        warnings_b.sort();
        prop_assert_eq!(warnings_a, warnings_b);
    }
}

/// The two limits fit together: the largest valid cluster, saved, is a file
/// `from_file` will read, and it loads back valid. The file limit was sized
/// from these (`docs/decisions/0016-config-size-limit.md`): with three
/// copies of each shard the file is 57% of the limit, and with five, or
/// with three and one shard per line, it still fits.
#[test]
fn largest_cluster_fits_the_file_limit() {
    use rusts_cluster_config::{
        strategies::round_robin_cluster, MAX_CONFIG_BYTES, MAX_SHARD_COUNT,
    };

    let config = round_robin_cluster(MAX_SHARD_COUNT, 256, 3);
    let text = config.to_toml().unwrap();
    assert!(
        (text.len() as u64) < MAX_CONFIG_BYTES * 6 / 10,
        "{} bytes is not well below the {MAX_CONFIG_BYTES}-byte limit",
        text.len()
    );
    let path =
        std::env::temp_dir().join(format!("rusts-cluster-largest-{}.toml", std::process::id()));
    std::fs::write(&path, &text).unwrap();
    let loaded = ClusterConfig::from_file(&path);
    std::fs::remove_file(&path).unwrap();
    let loaded = loaded.unwrap();
    loaded.validate().unwrap();
    assert!(loaded.warnings().is_empty());

    // One shard per line, indented by four (as some TOML writers and
    // editors lay out long arrays): 12 bytes per id instead of 8.
    let one_per_line = text.replace(", ", ",\n    ").replace("= [", "= [\n    ");
    assert!((one_per_line.len() as u64) < MAX_CONFIG_BYTES);
    assert_eq!(ClusterConfig::from_toml(&one_per_line).unwrap(), config);
    let five_copies = round_robin_cluster(MAX_SHARD_COUNT, 256, 5);
    assert!((five_copies.to_toml().unwrap().len() as u64) < MAX_CONFIG_BYTES);
}

/// The codes of a config's warnings that do not depend on how many shards
/// a node holds, only on where each shard's copies are: a split must keep
/// exactly these. (Imbalance warnings compare counts, and a split
/// multiplies every difference by its factor.)
fn placement_warnings(config: &ClusterConfig) -> Vec<&'static str> {
    let mut codes: Vec<_> = config
        .warnings()
        .iter()
        .map(|w| w.code())
        .filter(|code| !code.ends_with("-imbalance"))
        .collect();
    codes.sort_unstable();
    codes
}

/// Node `node`'s list, sorted, as a split by `k` of `n` shards gives it:
/// each listed parent `p` and its children `p + i * n`.
fn children_of_list(list: &[u32], n: u32, k: u32) -> Vec<u32> {
    let mut out: Vec<u32> = list
        .iter()
        .flat_map(|&p| (0..k).map(move |i| p + i * n))
        .collect();
    out.sort_unstable();
    out
}

proptest! {
    /// A split of any valid config is valid, recognised as a split by its
    /// factor, records where it came from, and lists on every node exactly
    /// the children of the shards it listed, in the same list (so in the
    /// same role); the warnings about placement stay the same.
    #[test]
    fn prop_a_split_keeps_every_copy_where_it_was(config in valid_config(), k in 2u32..=4) {
        let split = config.split(k).unwrap();
        prop_assert_eq!(sorted_codes(&split), Vec::<&str>::new());
        let n = config.shard_count;
        prop_assert_eq!(split.shard_count, n * k);
        prop_assert_eq!(split.generation, config.generation + 1);
        prop_assert_eq!(
            split.split_from,
            Some(SplitFrom { generation: config.generation, shard_count: n })
        );
        let recognised = split_factor(&config, &split).unwrap();
        prop_assert_eq!((recognised.parent_count(), recognised.factor()), (n, k));
        for (before, after) in config.nodes.iter().zip(&split.nodes) {
            prop_assert_eq!(&before.id, &after.id);
            prop_assert_eq!(&before.address, &after.address);
            let mut shards = after.shards.clone();
            shards.sort_unstable();
            prop_assert_eq!(shards, children_of_list(&before.shards, n, k));
            let mut replicas = after.replica_shards.clone();
            replicas.sort_unstable();
            prop_assert_eq!(replicas, children_of_list(&before.replica_shards, n, k));
        }
        prop_assert_eq!(placement_warnings(&split), placement_warnings(&config));
        let text = split.to_toml().unwrap();
        prop_assert_eq!(ClusterConfig::from_toml(&text).unwrap(), split);
    }

    /// Moving any one child's primary to another node of the cluster makes
    /// the pair no split, and the recogniser names that child or an
    /// earlier one.
    #[test]
    fn prop_a_moved_child_is_not_a_split(config in valid_config(), k in 2u32..=3, pick in any::<Index>()) {
        prop_assume!(config.nodes.len() >= 2);
        let mut split = config.split(k).unwrap();
        let child = pick.index(split.shard_count as usize) as u32;
        let from = split.nodes.iter().position(|n| n.shards.contains(&child)).unwrap();
        let to = (from + 1) % split.nodes.len();
        split.nodes[from].shards.retain(|&s| s != child);
        split.nodes[to].replica_shards.retain(|&s| s != child);
        split.nodes[to].shards.push(child);
        match split_factor(&config, &split) {
            Err(NotASplit::ChildMoved { child: named, parent }) => {
                prop_assert_eq!(named, child);
                prop_assert_eq!(parent, child % config.shard_count);
            }
            other => prop_assert!(false, "{:?}", other),
        }
    }
}
