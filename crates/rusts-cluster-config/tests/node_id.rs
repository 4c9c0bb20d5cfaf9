//! One file for every node: the node id is given when the file is loaded
//! (`from_file_as`, `from_toml_as`, `ConfigFile::parse_as`, `for_node`),
//! and overrides the file's.

use rusts_cluster_config::{ClusterConfig, ConfigFile, ValidationErrorKind};

use crate::util::{fixture, problems, testdata};

/// The shared fixture has no `node_id`: it validates as no node's, and
/// loads as each of its nodes through every loader, each giving that node.
#[test]
fn a_file_without_node_id_loads_as_each_of_its_nodes() {
    let path = testdata("valid/no-node-id.toml");
    let text = fixture("valid/no-node-id.toml");
    let shared = ClusterConfig::from_toml(&text).unwrap();
    assert_eq!(shared.node_id, "");
    assert_eq!(shared.this_node(), None);
    shared.validate().unwrap();
    let file = ConfigFile::read(&path).unwrap();
    for id in ["node1", "node2"] {
        let loaded = [
            ClusterConfig::from_file_as(&path, id).unwrap(),
            ClusterConfig::from_toml_as(&text, id).unwrap(),
            file.parse_as(id).unwrap(),
            shared.clone().for_node(id),
        ];
        for config in &loaded {
            config.validate().unwrap();
            assert_eq!(config.node_id, id);
            assert_eq!(config.this_node().map(|n| n.id.as_str()), Some(id));
            // Nothing but the node id differs from the shared config.
            assert_eq!(config.clone().for_node(""), shared);
        }
    }
}

/// The id given when loading wins over the file's, and an id that names no
/// node is the `unknown-this-node` rule, as the file's own would be.
#[test]
fn the_given_node_id_overrides_the_files() {
    let path = testdata("valid/architecture-example.toml");
    let file_says = ClusterConfig::from_file(&path).unwrap();
    assert_eq!(file_says.node_id, "node1");
    let as_node2 = ClusterConfig::from_file_as(&path, "node2").unwrap();
    assert_eq!(
        as_node2.this_node().map(|n| n.address.as_str()),
        Some("10.0.1.2:8086")
    );
    let unknown = ClusterConfig::from_file_as(&path, "node9").unwrap();
    let kinds: Vec<_> = problems(&unknown)
        .iter()
        .map(|e| e.kind().clone())
        .collect();
    assert_eq!(
        kinds,
        [ValidationErrorKind::UnknownThisNode {
            node_id: "node9".into()
        }]
    );
    // Loading as no node's drops the file's id, and saving leaves it out.
    let shared = ClusterConfig::from_file_as(&path, "").unwrap();
    shared.validate().unwrap();
    let saved = shared.to_toml().unwrap();
    assert!(saved.starts_with("generation = 0\n"), "{saved}");
    assert_eq!(ClusterConfig::from_toml(&saved).unwrap(), shared);
}

/// A config that sets no node id is never one node's by accident: nothing
/// in it is "this node", whatever the ids of its nodes.
#[test]
fn a_config_without_node_id_has_no_node_of_its_own() {
    let config = ClusterConfig::from_toml(&fixture("valid/no-node-id.toml")).unwrap();
    assert!(config.nodes.iter().all(|n| !n.id.is_empty()));
    assert_eq!(config.this_node(), None);
    assert!(!config.to_toml().unwrap().contains("node_id"));
}
