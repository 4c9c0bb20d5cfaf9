//! Hostile input: files and configs built to make loading or validation
//! panic, hang or exhaust memory must get a bounded, clear error instead.
//! The limits are documented in `docs/reliability.md`.
//!
//! These share the crate's one test binary: their time budgets are tens
//! of times what they take on a busy 2-core machine, so tests running
//! beside them cannot make them fail, and nothing here counts allocations
//! or needs a process of its own.

use std::{
    fs,
    path::PathBuf,
    time::{Duration, Instant},
};

use rusts_cluster_config::{
    ClusterConfig, ConfigError, NodeConfig, Position, ShardList, ValidationError,
    ValidationErrorKind as Kind, MAX_CONFIG_BYTES, MAX_REPORTED_ERRORS, MAX_SHARD_COUNT,
};

use crate::util::problems;

/// A generous bound for loading and validating 10 MB: a debug build on a
/// busy 2-core machine takes well under a second (see
/// `docs/reliability.md`); a quadratic or copying regression takes minutes.
const TEN_MB_BUDGET: Duration = Duration::from_secs(30);

/// A file in the system's temporary directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "rusts-cluster-hostile-{}-{name}",
            std::process::id()
        ));
        fs::write(&path, contents).expect("write a temporary file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.0);
    }
}

fn node(id: &str, address: &str, shards: Vec<u32>) -> NodeConfig {
    let mut node = NodeConfig::new(id, address);
    node.shards = shards;
    node
}

fn config(shard_count: u32, nodes: Vec<NodeConfig>) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("x", "10.0.0.254:8086");
    config.node_id = nodes[0].id.clone();
    config.shard_count = shard_count;
    config.nodes = nodes;
    config
}

fn report_bytes(errors: &[ValidationError]) -> usize {
    errors.iter().map(|e| e.to_string().len()).sum()
}

/// Found while writing the fuzz targets: every shard-list problem copied the
/// node's id, so a 10 KB id and 10,000 out-of-range shards (40 KB of TOML)
/// made validation build a 100 MB report; past 1 MiB the rest are counted.
#[test]
fn a_long_node_id_is_not_copied_per_problem() {
    let id = "n".repeat(10_000);
    let config = config(1, vec![node(&id, "10.0.0.1:8086", vec![7; 10_000])]);
    let errors = problems(&config);
    assert!(
        report_bytes(&errors) < 2 << 20,
        "{} bytes",
        report_bytes(&errors)
    );
    let Some(Kind::TooManyProblems { omitted }) = errors.last().map(ValidationError::kind) else {
        panic!(
            "the list must end with TooManyProblems: {:?}",
            errors.last()
        );
    };
    // 10,000 out-of-range shards, and shard 0 has no primary.
    assert_eq!(
        errors.len() - 1 + omitted,
        10_001,
        "every problem is counted"
    );
    assert!(matches!(
        errors[0].kind(),
        Kind::ShardOutOfRange {
            shard: 7,
            list: ShardList::Primary,
            ..
        }
    ));
}

/// The same copying through the other node of a pair: one node with a long
/// id owns an address and every shard, and many short-named nodes repeat
/// both, so each duplicate address and duplicate primary would copy the
/// long id.
#[test]
fn a_long_id_named_by_other_nodes_problems_is_not_copied_per_problem() {
    let long = "L".repeat(100_000);
    let mut nodes = vec![node(&long, "10.0.0.1:8086", (0..16).collect())];
    nodes.extend((0..5_000).map(|i| node(&format!("n{i}"), "10.0.0.1:8086", (0..16).collect())));
    let errors = problems(&config(16, nodes));
    assert!(
        report_bytes(&errors) < 2 << 20,
        "{} bytes",
        report_bytes(&errors)
    );
    assert!(matches!(
        errors.last().map(ValidationError::kind),
        Some(Kind::TooManyProblems { .. })
    ));
}

/// A 100,000-element shard list of one repeated id: the first 1,000
/// problems are listed, the other 98,999 counted.
#[test]
fn a_hundred_thousand_element_shard_list() {
    let config = config(1, vec![node("a", "10.0.0.1:8086", vec![0; 100_000])]);
    let errors = problems(&config);
    assert_eq!(errors.len(), MAX_REPORTED_ERRORS + 1);
    assert_eq!(
        errors[0].kind(),
        &Kind::DuplicateShardInList {
            node: "a".into(),
            list: ShardList::Primary,
            shard: 0,
        }
    );
    assert_eq!(
        errors[0].position(),
        Some(Position {
            node: 0,
            element: Some(1)
        })
    );
    assert_eq!(
        errors[MAX_REPORTED_ERRORS],
        ValidationError::from(Kind::TooManyProblems {
            omitted: 100_000 - 1 - MAX_REPORTED_ERRORS
        })
    );
    assert_eq!(
        errors[MAX_REPORTED_ERRORS].to_string(),
        "and 98999 more problems not listed (validation lists at most 1000); \
         fix the ones above and validate again"
    );
}

/// The 10 MB hostile file: a 1 MB node id, `shard_count = 1`, and
/// a 9 MB list of out-of-range shards, read with `from_file`.
#[test]
fn a_ten_megabyte_hostile_file_is_refused_in_bounded_time() {
    let id = "h".repeat(1 << 20);
    let mut text = format!(
        "node_id = \"{id}\"\nshard_count = 1\n\n[[nodes]]\nid = \"{id}\"\naddress = \"10.0.0.1:8086\"\nshards = ["
    );
    let mut listed = 0;
    while text.len() < 10_000_000 - 4 {
        text.push_str("7, ");
        listed += 1;
    }
    text.push_str("7]\n");
    listed += 1;
    assert!(text.len() >= 10_000_000);
    let file = TempFile::new("ten-mb.toml", text.as_bytes());

    let start = Instant::now();
    let config = ClusterConfig::from_file(&file.0).expect("the file is well-formed TOML");
    let err = config
        .validate()
        .expect_err("every listed shard is out of range");
    let warnings = config.warnings();
    let elapsed = start.elapsed();
    println!("10 MB hostile file: parse + validate + warnings in {elapsed:?}");

    let errors = err.validation_errors();
    let Some(Kind::TooManyProblems { omitted }) = errors.last().map(ValidationError::kind) else {
        panic!("expected TooManyProblems last, got {:?}", errors.last());
    };
    // Every listed shard is out of range, and shard 0 has no primary.
    assert_eq!(errors.len() - 1 + omitted, listed + 1);
    assert!(matches!(
        errors[0].kind(),
        Kind::ShardOutOfRange {
            shard: 7,
            shard_count: 1,
            ..
        }
    ));
    // Two copies of the 1 MB id fill the 1 MiB budget of listed text.
    assert!(
        report_bytes(errors) < 3 << 20,
        "{} bytes",
        report_bytes(errors)
    );
    assert!(err.to_string().len() < 3 << 20);
    assert!(warnings.iter().all(|w| w.code() == "under-replicated"));
    assert!(elapsed < TEN_MB_BUDGET, "took {elapsed:?}");
}

/// `shard_count` far past the limit is refused before any per-shard array
/// is allocated, in any strategy. (A count past `u32` is refused by the
/// parser: `testdata/invalid/shard-count-too-large.toml`.)
#[test]
fn huge_counts_are_refused_before_allocation() {
    for shard_count in [u32::MAX, u32::MAX - 1, MAX_SHARD_COUNT + 1] {
        let config = config(shard_count, vec![node("a", "10.0.0.1:8086", vec![0])]);
        let start = Instant::now();
        let errors = problems(&config);
        assert!(start.elapsed() < Duration::from_secs(1));
        assert!(
            matches!(
                errors.iter().map(ValidationError::kind).collect::<Vec<_>>()[..],
                [Kind::ShardCountTooLarge { .. }]
            ),
            "{errors:?}"
        );
        // Warnings skip the per-shard count too.
        assert!(config.warnings().is_empty());
    }
}

#[test]
fn a_file_that_does_not_exist_is_an_io_error_naming_it() {
    let err = ClusterConfig::from_file("/no/such/dir/cluster.toml").unwrap_err();
    assert!(matches!(err, ConfigError::Io { ref path, .. } if path.ends_with("cluster.toml")));
    assert_eq!(
        err.to_string(),
        "cannot read cluster config `/no/such/dir/cluster.toml`"
    );
    assert!(
        std::error::Error::source(&err).is_some(),
        "the OS error is the source"
    );
}

#[test]
fn a_directory_is_an_io_error_naming_it() {
    let dir = std::env::temp_dir();
    let err = ClusterConfig::from_file(&dir).unwrap_err();
    assert!(
        matches!(err, ConfigError::Io { ref path, .. } if *path == dir),
        "{err:?}"
    );
    assert!(err.to_string().contains(&*dir.to_string_lossy()));
}

#[test]
fn a_file_over_the_size_limit_is_refused_unread() {
    let file = TempFile::new("too-large.toml", b"");
    fs::File::options()
        .write(true)
        .open(&file.0)
        .and_then(|f| f.set_len(MAX_CONFIG_BYTES + 1))
        .expect("grow the file");
    let err = ClusterConfig::from_file(&file.0).unwrap_err();
    assert!(
        matches!(
            err,
            ConfigError::TooLarge {
                limit: MAX_CONFIG_BYTES,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("10485760-byte limit"), "{err}");
}

#[test]
fn non_utf8_bytes_are_refused_with_their_location() {
    let file = TempFile::new(
        "latin1.toml",
        b"node_id = \"a\"\ncluster_name = \"caf\xe9\"\n",
    );
    let err = ClusterConfig::from_file(&file.0).unwrap_err();
    assert!(matches!(err, ConfigError::NotUtf8 { .. }), "{err:?}");
    assert!(
        err.to_string()
            .ends_with("is not UTF-8 text: invalid byte at line 2, column 20"),
        "{err}"
    );
}

/// Deep nesting is refused by the TOML parser's depth limit, not by a stack
/// overflow.
#[test]
fn deep_nesting_is_a_parse_error() {
    for text in [
        format!("node_id = {}", "[".repeat(1_000_000)),
        format!("node_id = {}1{}", "[".repeat(100_000), "]".repeat(100_000)),
        format!("node_id = {}", "{a=".repeat(100_000)),
    ] {
        let err = ClusterConfig::from_toml(&text).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Parse {
                    location: Some(_),
                    ..
                }
            ),
            "{err:?}"
        );
        assert!(err.to_string().contains("recursion"), "{err}");
    }
}

/// A 10 MB string is read and kept, not refused: strings have no limit of
/// their own below the file size limit.
#[test]
fn a_ten_megabyte_string_parses() {
    let name = "c".repeat(10_000_000);
    let text = format!(
        "node_id = \"a\"\ncluster_name = \"{name}\"\nshard_count = 1\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [0]\n"
    );
    let config = ClusterConfig::from_toml(&text).expect("a long name is legal");
    assert_eq!(config.cluster_name.len(), 10_000_000);
    config.validate().expect("and valid");
}
