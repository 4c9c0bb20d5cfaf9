//! Node ids that would look like other ids (issue 21, item 14): before,
//! `"node1 "`, `"nоde1"` with a Cyrillic о, `"café"` with a combining
//! accent and `"no\u{ad}de1"` with a soft hyphen all validated, each a
//! node of its own beside the `node1` or `café` an operator reads it as.

use rusts_cluster_config::{ClusterConfig, LookAlike, ValidationErrorKind, ValidationWarning};

use crate::util::problems;

/// A valid two-node config whose second node has id `id`.
fn with_id(id: &str) -> ClusterConfig {
    let mut config = ClusterConfig::single_node("node1", "10.0.0.1:8086");
    config.node_id.clear();
    let mut b = rusts_cluster_config::NodeConfig::new(id, "10.0.0.2:8086");
    b.replica_shards = vec![0];
    config.nodes.push(b);
    config
}

#[test]
fn look_alike_ids_are_refused_naming_the_id_escaped_and_the_fix() {
    let cases = [
        (
            "node1 ",
            LookAlike::EdgeWhitespace,
            "node id \"node1 \" starts or ends with whitespace, which a reader does not see; \
             remove it",
        ),
        (
            " node2",
            LookAlike::EdgeWhitespace,
            "node id \" node2\" starts or ends with whitespace, which a reader does not see; \
             remove it",
        ),
        (
            "no\u{ad}de2",
            LookAlike::Invisible { ch: '\u{ad}' },
            "node id \"no\\u{00AD}de2\" holds U+00AD, a character that shows nothing (or looks \
             like a plain space); remove it",
        ),
        (
            "node\u{200b}2",
            LookAlike::Invisible { ch: '\u{200b}' },
            "node id \"node\\u{200B}2\" holds U+200B, a character that shows nothing (or looks \
             like a plain space); remove it",
        ),
        (
            "node\u{a0}2",
            LookAlike::Invisible { ch: '\u{a0}' },
            "node id \"node\\u{00A0}2\" holds U+00A0, a character that shows nothing (or looks \
             like a plain space); remove it",
        ),
        (
            "cafe\u{301}",
            LookAlike::NotNfc {
                nfc: "caf\u{e9}".into(),
            },
            "node id \"cafe\\u{0301}\" is not in Unicode's composed form (NFC), so it differs \
             from the id that looks the same written with composed characters; write it as \
             \"caf\\u{00E9}\"",
        ),
    ];
    for (id, problem, message) in cases {
        let found = problems(&with_id(id));
        assert_eq!(found.len(), 1, "{id:?}: {found:?}");
        assert_eq!(
            found[0].kind(),
            &ValidationErrorKind::LookAlikeNodeId {
                id: id.into(),
                problem
            },
            "{id:?}"
        );
        assert_eq!(found[0].code(), "look-alike-node-id");
        assert_eq!(found[0].to_string(), message);
        assert_eq!(found[0].position().map(|p| p.node), Some(1));
    }
}

#[test]
fn plain_ids_in_any_script_are_accepted() {
    for id in ["node-2", "caf\u{e9}", "узел-2", "节点2", "node 2", "κόμβος"] {
        let config = with_id(id);
        config.validate().unwrap();
        assert!(
            !config
                .warnings()
                .iter()
                .any(|w| w.code() == "mixed-scripts"),
            "{id}"
        );
    }
}

#[test]
fn ids_mixing_look_alike_scripts_are_warned_of() {
    // "node2" with a Cyrillic о (U+043E).
    let config = with_id("n\u{43e}de2");
    config.validate().unwrap();
    let warning = config
        .warnings()
        .into_iter()
        .find(|w| w.code() == "mixed-scripts")
        .expect("a mixed-scripts warning");
    assert_eq!(
        warning,
        ValidationWarning::MixedScripts {
            node: "n\u{43e}de2".into(),
            scripts: ["Latin", "Cyrillic"]
        }
    );
    assert_eq!(
        warning.to_string(),
        "node id \"n\\u{043E}de2\" mixes Latin and Cyrillic letters, which look alike, so it \
         may be read as another id; write it in one script"
    );
}
