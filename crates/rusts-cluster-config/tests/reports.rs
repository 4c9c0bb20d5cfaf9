//! Where problems are reported and how many: each problem's location in
//! the file (`SourceMap`), duplicates at their own occurrence, a byte order
//! mark, the copies a warning counts, and the bound on warnings. Each case
//! was reproduced by a tester before it was fixed (issue 15).

use std::time::{Duration, Instant};

use rusts_cluster_config::{
    ClusterConfig, ConfigError, Location, NodeConfig, SourceMap, ValidationErrorKind,
    ValidationWarning, MAX_REPORTED_ERRORS, MAX_REPORTED_WARNINGS,
};

use crate::util::located;

fn at(code: &str, line: usize, column: usize) -> (String, Option<(usize, usize)>) {
    (code.to_owned(), Some((line, column)))
}

/// The tester's case: with the same shard three times in one list, both
/// repeats pointed at the second occurrence. Each points at its own now.
#[test]
fn each_repeat_of_a_shard_points_at_itself() {
    let text = "\
node_id = \"a\"
shard_count = 2
[[nodes]]
id = \"a\"
address = \"10.0.0.1:8086\"
shards = [0, 1, 1, 1]
replica_shards = [7, 7]
";
    assert_eq!(
        located(text),
        [
            at("duplicate-shard-in-list", 6, 17),
            at("duplicate-shard-in-list", 6, 20),
            at("shard-out-of-range", 7, 19),
            at("shard-out-of-range", 7, 22),
        ]
    );
}

/// Three nodes with one address: each later node's error points at its own
/// address (both pointed at the last one's), whatever the spelling.
#[test]
fn each_repeated_address_points_at_its_own_node() {
    let text = "\
node_id = \"a\"
shard_count = 1
[[nodes]]
id = \"a\"
address = \"db1:8086\"
shards = [0]
[[nodes]]
id = \"b\"
address = \"db1:8086\"
[[nodes]]
id = \"c\"
address = \"DB1:8086\"
[[nodes]]
id = \"d\"
address = \"db1:8086\"
";
    assert_eq!(
        located(text),
        [
            at("duplicate-address", 9, 11),
            at("duplicate-address", 12, 11),
            at("duplicate-address", 15, 11),
        ]
    );
}

/// Two nodes share an id and each has a bad address: each address error
/// points at its own node, not both at the first node with the id. A second
/// primary points at the node that repeats the shard, and a replica on a
/// primary at the replica entry.
#[test]
fn problems_of_nodes_sharing_an_id_point_at_each_node() {
    let text = "\
node_id = \"a\"
shard_count = 2
[[nodes]]
id = \"a\"
address = \"10.0.0.1\"
shards = [0, 1]
[[nodes]]
id = \"a\"
address = \"10.0.0.2:0\"
shards = [1]
replica_shards = [0, 1]
";
    assert_eq!(
        located(text),
        [
            at("duplicate-node-id", 8, 6),
            at("invalid-address", 5, 11),
            at("invalid-address", 9, 11),
            at("duplicate-primary", 10, 11),
            at("replica-on-primary", 11, 22),
        ]
    );
}

/// An error of another config is not located in this text: the positions
/// it carries name nothing here, or something else.
#[test]
fn an_error_of_another_text_is_not_located() {
    let text = "node_id = \"a\"\nshard_count = 2\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [0, 1, 1]\n";
    let other = "node_id = \"a\"\nshard_count = 2\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [0, 1, 2]\n";
    let config = ClusterConfig::from_toml(text).unwrap();
    let err = config.validate().unwrap_err();
    let error = &err.validation_errors()[0];
    assert!(SourceMap::parse(text).unwrap().locate(error).is_some());
    // The same element holds another shard in the other text.
    assert_eq!(SourceMap::parse(other).unwrap().locate(error), None);
    assert_eq!(
        SourceMap::parse("node_id = \"a\"\n").unwrap().locate(error),
        None
    );
}

/// The tester's case: a UTF-8 byte order mark was accepted, but columns on
/// line 1 came out one too high, in parse errors and in located problems.
#[test]
fn a_byte_order_mark_does_not_shift_line_one() {
    let parse = ClusterConfig::from_toml("\u{FEFF}node_id = 1\n").unwrap_err();
    assert!(
        matches!(
            parse,
            ConfigError::Parse {
                location: Some(Location {
                    line: 1,
                    column: 11
                }),
                ..
            }
        ),
        "{parse:?}"
    );
    let text = "\u{FEFF}shard_count = 0\nnode_id = \"a\"\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\n";
    assert_eq!(located(text), [at("zero-shard-count", 1, 15)]);
    // The same without the mark.
    assert_eq!(located(&text[3..]), [at("zero-shard-count", 1, 15)]);
}

/// The tester's case: a node listing a shard twice and another listing it
/// twice as a replica made "4 copies" of a shard that 2 nodes hold. Copies
/// are nodes.
#[test]
fn copies_are_counted_per_node_not_per_list_entry() {
    let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    config.shard_count = 1;
    config.nodes[0].shards = vec![0, 0];
    let mut b = NodeConfig::new("b", "10.0.0.2:8086");
    b.replica_shards = vec![0, 0];
    config.nodes.push(b);
    config.replication_factor = 1;
    let copies: Vec<_> = config
        .warnings()
        .into_iter()
        .filter(|w| matches!(w.code(), "over-replicated" | "under-replicated"))
        .collect();
    assert_eq!(
        copies,
        [ValidationWarning::OverReplicated {
            shards: vec![0],
            copies: 2,
            replication_factor: 1,
        }]
    );
    // A shard in both lists of one node is one copy too.
    config.nodes[1].replica_shards.clear();
    config.nodes[0].replica_shards = vec![0];
    config.replication_factor = 2;
    assert_eq!(config.warnings()[0].code(), "under-replicated");
    assert!(
        config.warnings()[0].to_string().contains("only 1 copy"),
        "{}",
        config.warnings()[0]
    );
}

/// The tester's case: 199,986 warnings, 25 MB of text. Past
/// `MAX_REPORTED_WARNINGS` the rest are counted in a last warning.
#[test]
fn warnings_are_bounded_and_counted() {
    let mut config = ClusterConfig::single_node("n0", "10.0.0.1:8086");
    config
        .nodes
        .extend((1..5_000).map(|i| NodeConfig::new(format!("n{i}"), "10.0.0.2:8086")));
    let warnings = config.warnings();
    assert_eq!(warnings.len(), MAX_REPORTED_WARNINGS + 1);
    assert!(warnings[..MAX_REPORTED_WARNINGS]
        .iter()
        .all(|w| w.code() == "node-without-shards"));
    // 4,999 nodes without shards and one primary imbalance.
    let omitted = 4_999 + 1 - MAX_REPORTED_WARNINGS;
    assert_eq!(
        warnings[MAX_REPORTED_WARNINGS],
        ValidationWarning::TooManyWarnings { omitted }
    );
    assert_eq!(
        warnings[MAX_REPORTED_WARNINGS].to_string(),
        format!(
            "and {omitted} more warnings not listed (warnings are listed up to 1000); \
             fix the ones above and check again"
        )
    );
    assert_eq!(warnings[MAX_REPORTED_WARNINGS].code(), "too-many-warnings");
}

/// Each node-without-shards warning copies the node's id: past 1 MiB of
/// text the rest are counted, so long ids cannot multiply the report.
#[test]
fn warnings_with_long_ids_are_bounded_by_size() {
    let mut config = ClusterConfig::single_node("n", "10.0.0.1:8086");
    config.nodes.extend(
        (0..50).map(|i| NodeConfig::new(format!("{i}{}", "x".repeat(100_000)), "10.0.0.2:8086")),
    );
    let warnings = config.warnings();
    let bytes: usize = warnings.iter().map(|w| w.to_string().len()).sum();
    assert!(bytes < 2 << 20, "{bytes} bytes");
    let Some(ValidationWarning::TooManyWarnings { omitted }) = warnings.last() else {
        panic!("expected TooManyWarnings last: {:?}", warnings.last());
    };
    // 50 nodes without shards and one primary imbalance, listed or counted.
    assert_eq!(warnings.len() - 1 + omitted, 51);
}

/// The tester's case: locating 1,000 problems at the end of a 31 MiB file
/// took 12.5-32 s (0.16 s to parse), since each lookup counted lines from
/// the start. A 20 MB string before 1,100 out-of-range shards: parsing,
/// validating and locating every listed problem stays within a budget that
/// a scan per problem (20 GB of reading) cannot meet.
#[test]
fn locating_a_thousand_problems_in_a_large_file_is_fast() {
    let mut text = format!(
        "node_id = \"a\"\ncluster_name = \"{}\"\nshard_count = 1\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [0",
        "c".repeat(20_000_000)
    );
    for _ in 0..1_100 {
        text.push_str(",\n  9");
    }
    text.push_str("]\n");
    let start = Instant::now();
    let config = ClusterConfig::from_toml(&text).unwrap();
    let err = config.validate().unwrap_err();
    let map = SourceMap::parse(&text).unwrap();
    let locations: Vec<Location> = err
        .validation_errors()
        .iter()
        .filter_map(|e| map.locate(e))
        .collect();
    let elapsed = start.elapsed();
    assert_eq!(err.validation_errors().len(), MAX_REPORTED_ERRORS + 1);
    assert_eq!(locations.len(), MAX_REPORTED_ERRORS);
    // Shard 9 of the first repeat is on line 8 (the string is on line 2).
    assert_eq!(locations[0], Location { line: 8, column: 3 });
    assert_eq!(
        locations[999],
        Location {
            line: 1007,
            column: 3
        }
    );
    assert!(
        matches!(
            err.validation_errors()[MAX_REPORTED_ERRORS].kind(),
            ValidationErrorKind::TooManyProblems { omitted: 100 }
        ),
        "{:?}",
        err.validation_errors().last()
    );
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
}
