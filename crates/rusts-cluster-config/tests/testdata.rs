//! Runs the shared, commented TOML fixtures under `testdata/` at the
//! workspace root, which this crate links to as its own `testdata/` so that
//! the packaged crate carries them and runs this test too.
//!
//! Every file starts with a `#` comment block that says what it shows and
//! what must happen to it:
//!
//! - `testdata/valid/*.toml` declare `# expect-warnings: <codes>` (the
//!   [`ValidationWarning::code`](rusts_cluster_config::ValidationWarning::code)
//!   values in order, or `none`). Each must parse, validate, give exactly
//!   those warnings, and save and load back to an equal config. Each is
//!   also loaded as each of its nodes and as no node's, as every node
//!   loads the one file they share: each must validate with the same
//!   warnings.
//! - `testdata/invalid/*.toml` declare `# rule: <what the file breaks>`,
//!   `# expect: <codes>` (the
//!   [`ValidationError::code`](rusts_cluster_config::ValidationError::code)
//!   values in order, `code*N` for N in a row, `parse` for a file that
//!   [`ClusterConfig::from_toml`] must refuse, or `not-utf8` for bytes that
//!   [`ClusterConfig::from_file`] must refuse) and
//!   `# expect-message: <text>` that the error's message must contain.
//!
//! No validation rule depends on the sharding strategy or the replication
//! mode, so every fixture is also run with each strategy and each mode put
//! in place of its own: the same rules must hold under all of them.
//!
//! A fixture whose header is missing or malformed fails the test, so a file
//! cannot silently test nothing.

use std::{
    collections::{BTreeMap, BTreeSet},
    fs,
    path::{Path, PathBuf},
};

use rusts_cluster_config::{ClusterConfig, ConfigError};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::ShardingStrategy;

/// How many fixtures each directory held when this test was written: a
/// fixture deleted or moved by mistake fails the test instead of shrinking
/// it. One of the valid ones, `three-zones.toml`, is a link to
/// `examples/three-zones.toml`: the shipped example must validate with no
/// warnings.
/// `parse-missing-node-id.toml` moved from the invalid ones to the valid
/// `no-node-id.toml` when `node_id` became optional.
const MIN_VALID_FILES: usize = 13;
const MIN_INVALID_FILES: usize = 67;

/// Every `ValidationError` code, which the invalid fixtures together must
/// cover; `docs::the_rule_table_lists_every_code` checks the reference's
/// table of rules against it.
pub(crate) const ALL_ERROR_CODES: [&str; 26] = [
    "no-nodes",
    "unknown-this-node",
    "empty-node-id",
    "look-alike-node-id",
    "duplicate-node-id",
    "duplicate-address",
    "invalid-address",
    "zero-shard-count",
    "shard-count-too-large",
    "zero-replication-factor",
    "replication-factor-exceeds-nodes",
    "invalid-strategy",
    "shard-out-of-range",
    "duplicate-shard-in-list",
    "duplicate-primary",
    "replica-on-primary",
    "missing-primary",
    "moving-copy-not-held",
    "joining-and-leaving",
    "move-without-copies",
    "split-from-shard-count",
    "split-from-generation",
    "state-shard-out-of-range",
    "duplicate-state-shard",
    "shard-in-two-states",
    "too-many-problems",
];

/// Every `ValidationWarning` code, which the valid fixtures together must
/// cover.
const ALL_WARNING_CODES: [&str; 3] = ["under-replicated", "over-replicated", "node-without-shards"];

const STRATEGIES: [ShardingStrategy; 4] = [
    ShardingStrategy::ByMeasurement,
    ShardingStrategy::BySeries,
    ShardingStrategy::ByTime {
        duration_nanos: 3_600_000_000_000,
    },
    ShardingStrategy::Composite {
        time_duration_nanos: 86_400_000_000_000,
    },
];

const MODES: [ReplicationMode; 3] = [
    ReplicationMode::Synchronous,
    ReplicationMode::Quorum,
    ReplicationMode::Asynchronous,
];

/// The header keys a fixture may use.
const HEADER_KEYS: [&str; 4] = ["rule", "expect", "expect-message", "expect-warnings"];

#[test]
fn valid_fixtures_load_validate_and_round_trip() {
    let files = fixtures("valid", MIN_VALID_FILES);
    let mut seen = BTreeSet::new();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            check_valid(path, &mut seen)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} valid fixtures failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    let uncovered: Vec<_> = ALL_WARNING_CODES
        .iter()
        .filter(|c| !seen.contains(**c))
        .collect();
    assert!(
        uncovered.is_empty(),
        "no valid fixture expects these warnings: {uncovered:?}"
    );
}

#[test]
fn invalid_fixtures_fail_with_exactly_the_expected_errors() {
    let files = fixtures("invalid", MIN_INVALID_FILES);
    let mut seen = BTreeSet::new();
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            check_invalid(path, &mut seen)
                .err()
                .map(|e| format!("{}: {e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} invalid fixtures failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    let uncovered: Vec<_> = ALL_ERROR_CODES
        .iter()
        .filter(|c| !seen.contains(**c))
        .collect();
    assert!(
        uncovered.is_empty(),
        "no invalid fixture expects these errors: {uncovered:?}"
    );
}

/// The header checks are what keep a fixture from testing nothing, so they
/// are tested too.
#[test]
fn malformed_headers_are_refused() {
    let body = "node_id = \"a\"\nnodes = []\n";
    let valid_cases = [
        ("no header at all", body.to_owned()),
        ("no expect-warnings", format!("# A comment.\n\n{body}")),
        ("misspelled key", format!("# expect-warning: none\n{body}")),
        (
            "repeated key",
            format!("# expect-warnings: none\n# expect-warnings: none\n{body}"),
        ),
        ("empty value", format!("# expect-warnings:\n{body}")),
        (
            "none with codes",
            format!("# expect-warnings: none, under-replicated\n{body}"),
        ),
        (
            "empty code",
            format!("# expect-warnings: under-replicated,\n{body}"),
        ),
        (
            "not a code",
            format!("# expect-warnings: Under Replicated\n{body}"),
        ),
        (
            "key of the other directory",
            format!("# expect-warnings: none\n# expect: parse\n{body}"),
        ),
        (
            "header line below the header",
            format!("# expect-warnings: none\n{body}# expect-warnings: none\n"),
        ),
    ];
    for (what, text) in valid_cases {
        assert!(
            expected_warnings(&text).is_err(),
            "valid header with {what} was accepted:\n{text}"
        );
    }
    assert_eq!(
        expected_warnings(&format!("# Shows x.\n#\n# expect-warnings: none\n{body}")),
        Ok(vec![])
    );

    let full = "# rule: r\n# expect: no-nodes\n# expect-message: m\n";
    let invalid_cases = [
        ("no header at all", body.to_owned()),
        (
            "no rule",
            format!("# expect: parse\n# expect-message: m\n{body}"),
        ),
        (
            "no expect",
            format!("# rule: r\n# expect-message: m\n{body}"),
        ),
        (
            "no expect-message",
            format!("# rule: r\n# expect: parse\n{body}"),
        ),
        ("empty rule", full.replace("rule: r", "rule:") + body),
        (
            "parse with codes",
            full.replace("no-nodes", "parse, no-nodes") + body,
        ),
        ("none", full.replace("no-nodes", "none") + body),
        (
            "key of the other directory",
            format!("{full}# expect-warnings: none\n{body}"),
        ),
        (
            "misspelled key",
            full.replace("expect-message", "expect-mesage") + body,
        ),
        (
            "header line below the header",
            format!("{full}{body}# expect: parse\n"),
        ),
        (
            "repeat of one",
            full.replace("no-nodes", "no-nodes*1") + body,
        ),
        (
            "repeat not a number",
            full.replace("no-nodes", "no-nodes*x") + body,
        ),
        (
            "repeat without a code",
            full.replace("no-nodes", "*3") + body,
        ),
        (
            "not-utf8 with codes",
            full.replace("no-nodes", "not-utf8, no-nodes") + body,
        ),
    ];
    for (what, text) in invalid_cases {
        assert!(
            expected_failure(&text).is_err(),
            "invalid header with {what} was accepted:\n{text}"
        );
    }
    assert_eq!(
        expected_failure(&full.replace("no-nodes", "no-nodes*3, missing-primary")),
        Ok(Expected {
            codes: Some(
                ["no-nodes", "no-nodes", "no-nodes", "missing-primary"]
                    .map(String::from)
                    .to_vec()
            ),
            message: "m".to_owned(),
        })
    );
    assert_eq!(
        expected_failure(&format!("{full}#\n# Prose: with a colon.\n{body}")),
        Ok(Expected {
            codes: Some(vec!["no-nodes".to_owned()]),
            message: "m".to_owned(),
        })
    );
}

/// The `.toml` files of `testdata/<dir>`, sorted, after checking that
/// nothing else is there and that there are at least `min` of them.
fn fixtures(dir: &str, min: usize) -> Vec<PathBuf> {
    let dir = crate::util::testdata(dir);
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", dir.display()))
        .map(|entry| {
            entry
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
                .path()
        })
        .collect();
    files.sort();
    for path in &files {
        // A stray `.tml` or a subdirectory would otherwise be skipped
        // without anyone noticing.
        assert!(
            path.is_file() && path.extension().is_some_and(|e| e == "toml"),
            "{}: every entry of the fixture directory must be a .toml file",
            path.display()
        );
    }
    assert!(
        files.len() >= min,
        "{} has {} fixtures, expected at least {min}",
        dir.display(),
        files.len()
    );
    files
}

fn check_valid(path: &Path, seen: &mut BTreeSet<String>) -> Result<(), String> {
    let text = read(path)?;
    let expected = expected_warnings(&text)?;
    seen.extend(expected.iter().cloned());
    let config = ClusterConfig::from_toml(&text).map_err(|e| format!("does not parse: {e}"))?;
    match ClusterConfig::from_file(path) {
        Ok(from_file) if from_file == config => {}
        other => return Err(format!("from_file disagrees with from_toml: {other:?}")),
    }
    check_valid_config(&config, &expected).map_err(|e| format!("as written: {e}"))?;
    check_loads_as_each_node(path, &config, &expected)?;
    for strategy in STRATEGIES {
        for mode in MODES {
            let mut variant = config.clone();
            variant.sharding_strategy = strategy;
            variant.replication_mode = mode;
            check_valid_config(&variant, &expected)
                .map_err(|e| format!("with {strategy:?} and {mode:?}: {e}"))?;
        }
    }
    Ok(())
}

/// The file at `path` (parsed as `config`) loads as each of its nodes, with
/// that node as `this_node` whatever the file's `node_id`, and as no
/// node's: each validates with the `expected` warnings, and as no node's
/// it saves without a `node_id`, as the file every node can be given.
fn check_loads_as_each_node(
    path: &Path,
    config: &ClusterConfig,
    expected: &[String],
) -> Result<(), String> {
    for node in &config.nodes {
        let id = node.id.as_str();
        let as_node = ClusterConfig::from_file_as(path, id)
            .map_err(|e| format!("does not load as {id:?}: {e}"))?;
        if as_node.this_node() != Some(node) {
            return Err(format!(
                "loaded as {id:?}, this_node is {:?}",
                as_node.this_node().map(|n| &n.id)
            ));
        }
        if as_node != config.clone().for_node(id) {
            return Err(format!(
                "loaded as {id:?}, it differs from the file beyond node_id"
            ));
        }
        check_valid_config(&as_node, expected).map_err(|e| format!("as {id:?}: {e}"))?;
    }
    let shared = config.clone().for_node("");
    check_valid_config(&shared, expected).map_err(|e| format!("as no node's: {e}"))?;
    let text = shared
        .to_toml()
        .map_err(|e| format!("does not save: {e}"))?;
    if text.lines().any(|line| line.starts_with("node_id")) {
        return Err(format!(
            "saved as no node's, it still has a node_id:\n{text}"
        ));
    }
    Ok(())
}

/// `config` validates, gives the `expected` warning codes, and saves to text
/// that loads back to an equal, valid config and saves to the same text.
fn check_valid_config(config: &ClusterConfig, expected: &[String]) -> Result<(), String> {
    config
        .validate()
        .map_err(|e| format!("does not validate: {e}"))?;
    let warnings = config.warnings();
    let codes: Vec<&str> = warnings.iter().map(|w| w.code()).collect();
    if codes != expected {
        return Err(format!(
            "warnings are {codes:?}, the header expects {expected:?}; the warnings say: {}",
            warnings
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("; ")
        ));
    }
    let saved = round_trip(config)?;
    saved
        .validate()
        .map_err(|e| format!("does not validate after a save and load: {e}"))?;
    Ok(())
}

/// What an invalid fixture's header expects: the error codes in order, or
/// `None` for a parse error, and text the message must contain.
#[derive(Debug, PartialEq)]
struct Expected {
    codes: Option<Vec<String>>,
    message: String,
}

fn check_invalid(path: &Path, seen: &mut BTreeSet<String>) -> Result<(), String> {
    // The header of a file that is not UTF-8 is read from its bytes as far
    // as they are text.
    let bytes = fs::read(path).map_err(|e| format!("cannot read: {e}"))?;
    let text = String::from_utf8_lossy(&bytes);
    let expected = expected_failure(&text)?;
    if expected.codes.as_deref() == Some(&["not-utf8".to_owned()]) {
        return match ClusterConfig::from_file(path) {
            Err(ref e @ ConfigError::NotUtf8 { .. }) => contains(&e.to_string(), &expected.message),
            other => Err(format!("expected a not-UTF-8 error, got {other:?}")),
        };
    }
    if std::str::from_utf8(&bytes).is_err() {
        return Err("not UTF-8, but the header does not say `# expect: not-utf8`".to_owned());
    }
    let parsed = ClusterConfig::from_toml(&text);
    let Some(codes) = expected.codes else {
        let err = match parsed {
            Err(err @ ConfigError::Parse { .. }) => err,
            Err(other) => return Err(format!("expected a parse error, got {other:?}")),
            Ok(config) => {
                let outcome = config.validate().err().map(|e| e.to_string());
                return Err(format!(
                    "expected a parse error, but it parses (validation: {outcome:?})"
                ));
            }
        };
        contains(&err.to_string(), &expected.message)?;
        // Read from a file, the same error names the file.
        return match ClusterConfig::from_file(path) {
            Err(
                ref e @ ConfigError::Parse {
                    path: Some(ref p), ..
                },
            ) if p == path && e.to_string().contains(&expected.message) => Ok(()),
            other => Err(format!(
                "from_file should give the same parse error, with the path; got {other:?}"
            )),
        };
    };
    seen.extend(codes.iter().cloned());
    let config = parsed.map_err(|e| format!("expected {codes:?}, but it does not parse: {e}"))?;
    let err = check_invalid_config(&config, &codes)
        .map_err(|e| format!("as written: {e}"))?
        .ok_or("as written, it validates")?;
    contains(&err.to_string(), &expected.message)?;
    // The config's own strategy is replaced by valid ones, so only an
    // invalid-strategy error goes away.
    let other_codes: Vec<String> = codes
        .iter()
        .filter(|c| *c != "invalid-strategy")
        .cloned()
        .collect();
    for strategy in STRATEGIES {
        for mode in MODES {
            let mut variant = config.clone();
            variant.sharding_strategy = strategy;
            variant.replication_mode = mode;
            check_invalid_config(&variant, &other_codes)
                .map_err(|e| format!("with {strategy:?} and {mode:?}: {e}"))?;
        }
    }
    Ok(())
}

/// `config` fails validation with exactly `codes` (or validates when
/// `codes` is empty), before and after a save and load. Returns the error.
fn check_invalid_config(
    config: &ClusterConfig,
    codes: &[String],
) -> Result<Option<ConfigError>, String> {
    let saved = round_trip(config)?;
    let mut first = None;
    for (which, config) in [("", config), (" after a save and load", &saved)] {
        let result = config.validate();
        let actual: Vec<&str> = match &result {
            Ok(()) => vec![],
            Err(e @ ConfigError::Invalid { .. }) => {
                e.validation_errors().iter().map(|e| e.code()).collect()
            }
            Err(other) => return Err(format!("validate gave {other:?}{which}")),
        };
        if actual != codes {
            return Err(format!(
                "errors{which} are {actual:?}, expected {codes:?}; the message: {}",
                result.err().map(|e| e.to_string()).unwrap_or_default()
            ));
        }
        if first.is_none() {
            first = Some(result.err());
        }
    }
    Ok(first.flatten())
}

/// Saves `config` and loads it back; the result must equal it, and saving
/// that must give the same text.
fn round_trip(config: &ClusterConfig) -> Result<ClusterConfig, String> {
    let text = config
        .to_toml()
        .map_err(|e| format!("cannot be saved: {e}"))?;
    let back = ClusterConfig::from_toml(&text)
        .map_err(|e| format!("saved text does not load: {e}\n{text}"))?;
    if &back != config {
        return Err(format!(
            "saved and loaded, it changes: {config:?} became {back:?}\n{text}"
        ));
    }
    let again = back
        .to_toml()
        .map_err(|e| format!("cannot be saved twice: {e}"))?;
    if again != text {
        return Err(format!(
            "saving twice gives different text:\n{text}\n---\n{again}"
        ));
    }
    Ok(back)
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read: {e}"))
}

fn contains(message: &str, expected: &str) -> Result<(), String> {
    if message.contains(expected) {
        Ok(())
    } else {
        Err(format!(
            "the message does not contain {expected:?}; it is: {message}"
        ))
    }
}

/// The `# expect-warnings:` codes of a valid fixture (empty for `none`).
fn expected_warnings(text: &str) -> Result<Vec<String>, String> {
    let mut header = header(text, &["expect-warnings"])?;
    let value = header.remove("expect-warnings").unwrap_or_default();
    if value == "none" {
        return Ok(vec![]);
    }
    let codes = codes(&value)?;
    if codes.iter().any(|c| c == "none") {
        return Err(format!("`none` mixed with codes in `{value}`"));
    }
    Ok(codes)
}

/// The `# expect:` and `# expect-message:` of an invalid fixture, which also
/// needs a `# rule:`.
fn expected_failure(text: &str) -> Result<Expected, String> {
    let mut header = header(text, &["rule", "expect", "expect-message"])?;
    let value = header.remove("expect").unwrap_or_default();
    let message = header.remove("expect-message").unwrap_or_default();
    let codes = codes(&value)?;
    if codes.iter().any(|c| c == "none") {
        return Err("`# expect: none` in an invalid fixture".to_owned());
    }
    if codes.len() > 1 && codes.iter().any(|c| c == "not-utf8") {
        return Err(format!("`not-utf8` mixed with other codes in `{value}`"));
    }
    if codes == ["parse"] {
        return Ok(Expected {
            codes: None,
            message,
        });
    }
    if codes.iter().any(|c| c == "parse") {
        return Err(format!("`parse` mixed with validation codes in `{value}`"));
    }
    Ok(Expected {
        codes: Some(codes),
        message,
    })
}

/// The `# key: value` lines of the leading comment block, which must hold
/// exactly the `required` keys, each once and with a value. A header key
/// anywhere else in the file, or an unknown `# expect...:` key (a typo that
/// would otherwise be ignored), is an error.
fn header(text: &str, required: &[&str]) -> Result<BTreeMap<String, String>, String> {
    let mut fields = BTreeMap::new();
    let mut in_header = true;
    // A byte order mark (`valid/byte-order-mark.toml`) comes before the
    // header's first `#`.
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('#') {
            in_header = false;
            continue;
        }
        let Some((key, value)) = header_line(line) else {
            continue;
        };
        let n = n + 1;
        if !HEADER_KEYS.contains(&key) {
            return Err(format!("line {n}: unknown header key `{key}`"));
        }
        if !in_header {
            return Err(format!(
                "line {n}: `# {key}:` below the leading comment block"
            ));
        }
        if !required.contains(&key) {
            return Err(format!(
                "line {n}: `# {key}:` does not belong in this directory; the header needs {required:?}"
            ));
        }
        if value.is_empty() {
            return Err(format!("line {n}: `# {key}:` has no value"));
        }
        if fields.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(format!("line {n}: `# {key}:` given twice"));
        }
    }
    if let Some(missing) = required.iter().find(|k| !fields.contains_key(**k)) {
        return Err(format!(
            "the leading comment block has no `# {missing}:` line; the header needs {required:?}"
        ));
    }
    Ok(fields)
}

/// `("expect", "parse")` for `# expect: parse`. Only header keys and
/// `expect`-like keys count; ordinary prose such as `# Note: ...` does not.
fn header_line(line: &str) -> Option<(&str, &str)> {
    let (key, value) = line.strip_prefix('#')?.trim_start().split_once(':')?;
    (key == "rule" || key.starts_with("expect")).then(|| (key, value.trim()))
}

/// A comma-separated list of kebab-case codes, each optionally followed by
/// `*N` (N from 2 to 100,000) for N of them in a row.
fn codes(value: &str) -> Result<Vec<String>, String> {
    let mut codes = Vec::new();
    for item in value.split(',').map(str::trim) {
        let (code, times) = match item.split_once('*') {
            None => (item, 1),
            Some((code, n)) => match n.parse::<usize>() {
                Ok(n) if (2..=100_000).contains(&n) => (code, n),
                _ => {
                    return Err(format!(
                        "`{item}` in `{value}`: `*N` needs N from 2 to 100000"
                    ))
                }
            },
        };
        if code.is_empty()
            || !code
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(format!("`{code}` in `{value}` is not a kebab-case code"));
        }
        codes.extend(std::iter::repeat_n(code.to_owned(), times));
    }
    Ok(codes)
}
