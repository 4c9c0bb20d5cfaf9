//! The configuration reference (`docs/configuration.md`) quotes the code's
//! messages; these tests keep every quote true, so a message that drifts,
//! or a doc edited by hand, fails here instead of misleading a reader.
//!
//! - Every `[code] message` line of a `text` block is a message the code
//!   gives for a config: one of the fixtures under `testdata/` (as written,
//!   and under each replication mode), or one of the configs built below.
//! - Every such line matches its code's template in the rule and warning
//!   tables, and those tables list every code.
//! - Each row of the parse error table is the error of a config written
//!   for it, and every "unknown field" message lists the fields the parser
//!   lists.
//! - The worked examples (the file with several mistakes, the saved
//!   three-node config, the commented two-node config) are what the code
//!   gives for them.
//! - `docs/architecture.md` counts the rules the rule table lists.
//!
//! The docs are read through the crate's `docs/` links, which the packaged
//! crate carries.

use std::{collections::BTreeSet, fs};

use rusts_cluster_config::{ClusterConfig, NodeConfig};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::ShardingStrategy;

use crate::{testdata::ALL_ERROR_CODES, util::testdata};

fn doc(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("docs")
        .join(name);
    fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The lines of every fenced block whose fence is ```` ```lang ````.
fn blocks<'d>(doc: &'d str, lang: &str) -> Vec<Vec<&'d str>> {
    let fence = format!("```{lang}");
    let mut blocks = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        if line.trim() == fence {
            blocks.push(lines.by_ref().take_while(|l| l.trim() != "```").collect());
        }
    }
    blocks
}

/// The lines of the first ```` ```lang ```` block after the first line that
/// contains `marker`.
fn block_after<'d>(doc: &'d str, marker: &str, lang: &str) -> Vec<&'d str> {
    let at = doc
        .find(marker)
        .unwrap_or_else(|| panic!("the doc no longer says {marker:?}"));
    blocks(&doc[at..], lang)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no ```{lang} block after {marker:?}"))
}

/// The body rows of the first table after `marker`, as trimmed cells.
fn table<'d>(doc: &'d str, marker: &str) -> Vec<Vec<&'d str>> {
    let at = doc
        .find(marker)
        .unwrap_or_else(|| panic!("the doc no longer says {marker:?}"));
    doc[at..]
        .lines()
        .skip_while(|l| !l.starts_with('|'))
        .take_while(|l| l.starts_with('|'))
        .skip(2)
        .map(|row| {
            let row = row.trim().trim_start_matches('|').trim_end_matches('|');
            row.split(" | ").map(str::trim).collect()
        })
        .collect()
}

/// The text of a quoted table cell: ``` `` text `` ``` or `` `text` ``,
/// and only the first quote when more follow.
fn quoted(cell: &str) -> &str {
    if let Some(rest) = cell.strip_prefix("`` ") {
        &rest[..rest.find(" ``").expect("a closing ``")]
    } else if let Some(rest) = cell.strip_prefix('`') {
        &rest[..rest.find('`').expect("a closing `")]
    } else {
        panic!("not a quoted cell: {cell}")
    }
}

/// `[code] message` split in two.
fn coded(line: &str) -> Option<(&str, &str)> {
    let (code, message) = line.strip_prefix('[')?.split_once("] ")?;
    code.bytes()
        .all(|b| b.is_ascii_lowercase() || b == b'-')
        .then_some((code, message))
}

/// Whether `message` is an instance of `template`, in which `{...}`
/// stands for any text, as do `...` (text left out) and a bracketed part
/// holding a placeholder (`[ in zone "{zone}"]`, text that may be absent).
fn matches_template(template: &str, message: &str) -> bool {
    let mut pieces = vec![String::new()];
    let mut rest = template;
    while let Some(c) = rest.chars().next() {
        let hole = if c == '{' {
            rest.find('}').map(|end| end + 1)
        } else if rest.starts_with("...") {
            Some(3)
        } else if c == '[' {
            rest.find(']')
                .filter(|&end| rest[..end].contains('{'))
                .map(|end| end + 1)
        } else {
            None
        };
        match hole {
            Some(len) => {
                pieces.push(String::new());
                rest = &rest[len..];
            }
            None => {
                pieces.last_mut().unwrap().push(c);
                rest = &rest[c.len_utf8()..];
            }
        }
    }
    let pieces: Vec<&str> = pieces.iter().map(|p| p.as_str()).collect();
    glob(&pieces, message)
}

/// `pieces` joined by holes that match any text: the first must start
/// `text`, the last end it, the others appear in order.
fn glob(pieces: &[&str], text: &str) -> bool {
    match pieces {
        [] => text.is_empty(),
        [only] => text == *only,
        [first, middle @ .., last] => {
            let Some(mut rest) = text.strip_prefix(first) else {
                return false;
            };
            for piece in middle {
                match rest.find(piece) {
                    Some(at) => rest = &rest[at + piece.len()..],
                    None => return false,
                }
            }
            rest.len() >= last.len() && rest.ends_with(last)
        }
    }
}

/// The `.toml` files under `testdata/<dir>` that parse, as configs.
fn fixtures(dir: &str) -> Vec<ClusterConfig> {
    let mut configs = Vec::new();
    for entry in fs::read_dir(testdata(dir)).unwrap() {
        let path = entry.unwrap().path();
        if let Ok(config) = ClusterConfig::from_file(&path) {
            configs.push(config);
        }
    }
    configs
}

fn node(id: &str, address: &str, shards: &[u32], replicas: &[u32]) -> NodeConfig {
    let mut node = NodeConfig::new(id, address);
    node.shards = shards.to_vec();
    node.replica_shards = replicas.to_vec();
    node
}

fn cluster(shard_count: u32, rf: usize, nodes: Vec<NodeConfig>) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("x", "10.0.0.1:8086");
    config.node_id = nodes[0].id.clone();
    config.shard_count = shard_count;
    config.replication_factor = rf;
    config.nodes = nodes;
    config
}

/// Configs the fixtures do not cover, for the messages the doc quotes:
/// each quoted message is given by one of these or by a fixture.
fn quoted_configs() -> Vec<ClusterConfig> {
    let mut configs = Vec::new();
    // Three nodes, shard 1 on two of them (`replication_factor` 3), in
    // each mode; and the same shard with 1 copy of 2.
    let two_of_three = cluster(
        2,
        3,
        vec![
            node("node1", "10.0.1.1:8086", &[0, 1], &[]),
            node("node2", "10.0.1.2:8086", &[], &[0, 1]),
            node("node3", "10.0.1.3:8086", &[], &[0]),
        ],
    );
    configs.push(two_of_three);
    let mut one_of_two = cluster(
        2,
        2,
        vec![
            node("node1", "10.0.1.1:8086", &[0, 1], &[]),
            node("node2", "10.0.1.2:8086", &[], &[0]),
        ],
    );
    one_of_two.replication_mode = ReplicationMode::Asynchronous;
    configs.push(one_of_two);
    // node1 primary of shards 0-1, node2 a replica of both, node3 nothing.
    configs.push(cluster(
        2,
        1,
        vec![
            node("node1", "10.0.1.1:8086", &[0, 1], &[]),
            node("node2", "10.0.1.2:8086", &[], &[0, 1]),
            node("node3", "10.0.1.3:8086", &[], &[]),
        ],
    ));
    // One config per rule, for the doc's list of real messages: this
    // process as an unknown node, and each kind of bad entry.
    let mut entries = cluster(
        4,
        1,
        vec![
            node("node1", "10.0.1.1:8086", &[0, 1, 2, 3, 3, 4], &[2]),
            node("node2", "10.0.1.2:8086", &[], &[16]),
        ],
    );
    entries.node_id = "node9".into();
    configs.push(entries);
    let mut one_node = ClusterConfig::single_node("node1", "10.0.1.1:8086");
    one_node.replication_factor = 2;
    configs.push(one_node);
    let mut composite = ClusterConfig::single_node("node1", "10.0.1.1:8086");
    composite.sharding_strategy = ShardingStrategy::Composite {
        time_duration_nanos: -1,
    };
    configs.push(composite);
    configs.push(cluster(
        1,
        1,
        vec![
            node("node1", "[::1]:8086", &[0], &[]),
            node("node2", "[0:0::1]:8086", &[], &[]),
        ],
    ));
    configs.push(cluster(
        16,
        1,
        vec![node("node1", "10.0.1.1:8086", &[0, 1, 2, 3, 7, 9, 10], &[])],
    ));
    let odd: Vec<u32> = (0..100).filter(|s| s % 2 == 1).collect();
    configs.push(cluster(
        100,
        1,
        vec![node("node1", "10.0.1.1:8086", &odd, &[])],
    ));
    // A shard that no node lists.
    configs.push(cluster(
        4,
        1,
        vec![node("node1", "10.0.1.1:8086", &[0, 1, 2], &[])],
    ));
    // One node holding every shard beside 1,199 nodes without shards.
    let mut crowd = ClusterConfig::single_node("node0", "10.0.0.1:8086");
    crowd.nodes.extend((1..1_200).map(|i| {
        NodeConfig::new(
            format!("n{i}"),
            format!("10.0.{}.{}:8086", i / 250, i % 250 + 1),
        )
    }));
    configs.push(crowd);
    configs
}

/// Every `[code] message` the configs give, errors and warnings, each as
/// written and under each replication mode.
fn given_messages() -> BTreeSet<String> {
    let mut configs = fixtures("valid");
    configs.extend(fixtures("invalid"));
    configs.extend(quoted_configs());
    // The doc's own example of a file with several mistakes, which
    // `the_example_with_several_mistakes_gives_what_the_doc_shows` checks
    // whole.
    let doc = doc("configuration.md");
    let example = block_after(&doc, SEVERAL_MISTAKES, "toml").join("\n");
    configs.push(ClusterConfig::from_toml(&example).unwrap());
    let mut given = BTreeSet::new();
    for config in configs {
        let modes = [
            ReplicationMode::Synchronous,
            ReplicationMode::Quorum,
            ReplicationMode::Asynchronous,
        ];
        for mode in std::iter::once(config.replication_mode).chain(modes) {
            let mut variant = config.clone();
            variant.replication_mode = mode;
            if let Err(e) = variant.validate() {
                for v in e.validation_errors() {
                    given.insert(format!("[{}] {v}", v.code()));
                }
            }
            for w in variant.warnings() {
                given.insert(format!("[{}] {w}", w.code()));
            }
        }
    }
    given
}

/// The `code -> template` rows of the rule table and the warning table.
fn templates(doc: &str) -> Vec<(&str, &str)> {
    let mut rows = Vec::new();
    for (marker, column) in [
        ("| code | rule | message template |", 2),
        ("| code | when | message template | what to do |", 2),
    ] {
        for row in table(doc, marker) {
            rows.push((quoted(row[0]), quoted(row[column])));
        }
    }
    rows
}

#[test]
fn every_quoted_message_is_one_the_code_gives() {
    let doc = doc("configuration.md");
    let given = given_messages();
    let quoted: Vec<&str> = blocks(&doc, "text")
        .into_iter()
        .flatten()
        .filter(|line| coded(line).is_some())
        .collect();
    assert!(
        quoted.len() > 30,
        "only {} quoted messages found",
        quoted.len()
    );
    let stale: Vec<&&str> = quoted.iter().filter(|l| !given.contains(**l)).collect();
    assert!(
        stale.is_empty(),
        "docs/configuration.md quotes messages that no fixture or quoted config gives \
         (fix the doc, or add the config that gives it):\n{}",
        stale
            .iter()
            .map(|l| format!("  {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn every_quoted_message_matches_its_template() {
    let doc = doc("configuration.md");
    let templates = templates(&doc);
    for line in blocks(&doc, "text").into_iter().flatten() {
        let Some((code, message)) = coded(line) else {
            continue;
        };
        let template = templates
            .iter()
            .find(|(c, _)| *c == code)
            .unwrap_or_else(|| panic!("no template for `{code}` in the tables"));
        assert!(
            matches_template(template.1, message),
            "`{code}`: the message\n  {message}\ndoes not match its template\n  {}",
            template.1
        );
    }
}

#[test]
fn the_rule_table_lists_every_code() {
    let reference = doc("configuration.md");
    let listed: Vec<&str> = table(&reference, "| code | rule | message template |")
        .iter()
        .map(|row| quoted(row[0]))
        .collect();
    assert_eq!(listed, ALL_ERROR_CODES, "the rule table's codes, in order");
    // The architecture counts the rules: every code but too-many-problems.
    let rules = listed.len() - 1;
    let architecture = doc("architecture.md");
    assert!(
        architecture.contains(&format!("| {rules} rules, every problem reported at once")),
        "docs/architecture.md does not say there are {rules} rules"
    );
}

#[test]
fn the_template_matcher_matches_only_instances() {
    let t = "node \"{node}\" lists shard {shard} in `{list}`; fix it";
    assert!(matches_template(
        t,
        "node \"a\" lists shard 3 in `shards`; fix it"
    ));
    assert!(!matches_template(
        t,
        "node \"a\" lists shard 3 in `shards`; fix them"
    ));
    assert!(!matches_template(
        t,
        "nodes \"a\" lists shard 3 in `shards`; fix it"
    ));
    let optional =
        "replicas are unbalanced[ in zone \"{zone}\"]: node \"{most}\" holds ... at most one";
    assert!(matches_template(
        optional,
        "replicas are unbalanced: node \"a\" holds 3; at most one"
    ));
    assert!(matches_template(
        optional,
        "replicas are unbalanced in zone \"z\": node \"a\" holds 3; at most one"
    ));
    assert!(matches_template("a [[nodes]] b", "a [[nodes]] b"));
    assert!(!matches_template("a [[nodes]] b", "a b"));
}

/// The parse error table: each row's error is what `from_toml` gives for
/// a config written to show it (the `file text` column, on its line).
#[test]
fn each_parse_error_in_the_table_is_the_parsers() {
    const NODE: &str = "node_id = \"a\"\n\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\n";
    let cases: Vec<(&str, String)> = vec![
        ("syntax error (unclosed string)", "node_id = \"node1\n".into()),
        ("wrong type", "node_id = \"a\"\nreplication_factor = \"2\"\nnodes = []\n".into()),
        ("unknown key", "node_id = \"a\"\nreplication_facter = 2\nnodes = []\n".into()),
        ("unknown key in a node", format!("{NODE}replicas = [1]\n")),
        ("missing `address`", "node_id = \"a\"\n[[nodes]]\nid = \"a\"\n".into()),
        ("negative shard id", "node_id = \"a\"\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [0, -1]\n".into()),
        ("shard id above 4294967295", "node_id = \"a\"\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\nshards = [4294967296]\n".into()),
        ("negative count", "node_id = \"a\"\nreplication_factor = -1\nnodes = []\n".into()),
        ("unknown strategy", "node_id = \"a\"\nsharding_strategy = \"ByHost\"\nnodes = []\n".into()),
        ("`ByTime` without its table", "node_id = \"a\"\nsharding_strategy = \"ByTime\"\nnodes = []\n".into()),
        ("wrong key in `ByTime`", "node_id = \"a\"\nsharding_strategy = { ByTime = { duration = 5 } }\nnodes = []\n".into()),
        ("mode in lower case", "node_id = \"a\"\nreplication_mode = \"quorum\"\nnodes = []\n".into()),
        ("tag value not a string", format!("{NODE}tags = {{ rack = 3 }}\n")),
        ("same key twice", "node_id = \"a\"\nnode_id = \"b\"\nnodes = []\n".into()),
    ];
    let doc = doc("configuration.md");
    let rows = table(&doc, "| mistake | file text | error |");
    assert_eq!(
        rows.iter().map(|r| r[0]).collect::<Vec<_>>(),
        cases.iter().map(|(m, _)| *m).collect::<Vec<_>>(),
        "each row of the parse error table needs its config here"
    );
    for (row, (mistake, text)) in rows.iter().zip(&cases) {
        let err = ClusterConfig::from_toml(text)
            .expect_err(mistake)
            .to_string();
        assert_eq!(quoted(row[2]), err, "{mistake}");
    }
}

/// Every "unknown field" message in the doc lists the fields the parser
/// lists: those of the top level, or of a node for a key in `[[nodes]]`.
#[test]
fn unknown_field_messages_list_every_field() {
    let doc = doc("configuration.md");
    let marker = "unknown field `";
    let mut found = 0;
    for (at, _) in doc.match_indices(marker) {
        let rest = &doc[at + marker.len()..];
        let field = &rest[..rest.find('`').unwrap()];
        let quoted = &rest[..rest.find(['\n', '"']).unwrap()];
        let quoted = quoted.trim_end_matches(" |").trim_end_matches(" ``");
        let in_node = quoted.contains("expected one of `id`");
        let text = if in_node {
            format!("node_id = \"a\"\n[[nodes]]\nid = \"a\"\naddress = \"10.0.0.1:8086\"\n{field} = 1\n")
        } else {
            format!("node_id = \"a\"\n{field} = 1\nnodes = []\n")
        };
        let err = ClusterConfig::from_toml(&text).unwrap_err().to_string();
        let given = &err[err.find(marker).unwrap() + marker.len()..];
        assert_eq!(
            quoted, given,
            "the doc's \"unknown field\" message for `{field}`"
        );
        found += 1;
    }
    assert!(found >= 3, "only {found} unknown-field messages found");
}

/// What the doc says before its example of a file with several mistakes.
const SEVERAL_MISTAKES: &str = "A file with several mistakes gives them all in one error:";

/// The file with several mistakes: the doc shows its whole message and
/// then its problems one by one.
#[test]
fn the_example_with_several_mistakes_gives_what_the_doc_shows() {
    let doc = doc("configuration.md");
    let marker = SEVERAL_MISTAKES;
    let text = block_after(&doc, marker, "toml").join("\n");
    let err = ClusterConfig::from_toml(&text)
        .unwrap()
        .validate()
        .unwrap_err();
    let after = &doc[doc.find(marker).unwrap()..];
    let texts = blocks(after, "text");
    assert_eq!(texts[0], [err.to_string().as_str()]);
    let listed: Vec<String> = err
        .validation_errors()
        .iter()
        .map(|e| format!("[{}] {e}", e.code()))
        .collect();
    assert_eq!(texts[1], listed);
}

/// The doc's examples: the commented two-node file is
/// `examples/cluster.toml`, and the three-node config saved with
/// `to_toml` is the text the doc shows.
#[test]
fn the_examples_are_what_the_code_reads_and_writes() {
    let doc = doc("configuration.md");
    let commented = block_after(&doc, "### The two-node example", "toml").join("\n");
    let example = ClusterConfig::from_file(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/examples/cluster.toml"
    ))
    .unwrap();
    assert_eq!(ClusterConfig::from_toml(&commented).unwrap(), example);
    let three = block_after(&doc, "### Three nodes, replication factor 3", "toml").join("\n");
    let three = ClusterConfig::from_toml(&three).unwrap();
    three.validate().unwrap();
    assert!(three.warnings().is_empty());
    let saved = block_after(&doc, "saved with `to_toml()`:", "toml").join("\n") + "\n";
    assert_eq!(three.to_toml().unwrap(), saved);
}
