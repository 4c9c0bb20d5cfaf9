//! The saved state: handed out to persist, taken back at start.

use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_protocol::{config_identity, Core, Options, ProtocolError};

use crate::util::Sample;

type C = Core<Sample, ()>;

#[test]
fn the_saved_state_restores_the_same_config_and_generation() {
    let mut config = round_robin_cluster(4, 3, 2);
    config.generation = 3;
    let core = C::new(config.clone(), "node1", Options::default()).unwrap();
    let restored = C::restore(&core.saved(), "node1", Options::default()).unwrap();
    assert_eq!(restored.generation(), 3);
    assert_eq!(restored.node_id(), "node1");
    assert_eq!(config_identity(restored.config()), config_identity(&config));
}

#[test]
fn saved_state_of_another_node_or_edited_is_refused_by_name() {
    let config = round_robin_cluster(4, 3, 2);
    let core = C::new(config, "node1", Options::default()).unwrap();
    let saved = core.saved();
    let error = C::restore(&saved, "node2", Options::default()).unwrap_err();
    assert!(
        matches!(error, ProtocolError::SavedForOtherNode { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("\"node1\""), "{error}");
    let edited = String::from_utf8(saved)
        .unwrap()
        .replace("replication_factor = 2", "replication_factor = 1");
    let error = C::restore(edited.as_bytes(), "node1", Options::default()).unwrap_err();
    assert_eq!(error.code(), "saved-state-unreadable", "{error}");
    let error = C::restore(b"\xff", "node1", Options::default()).unwrap_err();
    assert!(error.to_string().contains("UTF-8"), "{error}");
}

#[test]
fn prepare_hands_out_the_next_state_and_commit_runs_it() {
    let config = round_robin_cluster(4, 3, 2);
    let mut next = config.clone();
    next.generation = 1;
    let mut core = C::new(config, "node0", Options::default()).unwrap();
    let prepared = core.prepare(next).unwrap();
    let bytes = prepared.bytes().to_vec();
    core.commit(prepared, 0).unwrap();
    assert_eq!(bytes, core.saved(), "what was persisted is what runs");
    let restored = C::restore(&bytes, "node0", Options::default()).unwrap();
    assert_eq!(restored.generation(), 1);
}

#[test]
fn a_stale_config_is_refused_at_prepare_and_changes_nothing() {
    let mut config = round_robin_cluster(4, 3, 2);
    config.generation = 2;
    let mut old = config.clone();
    old.generation = 1;
    let core = C::new(config, "node0", Options::default()).unwrap();
    let error = core.prepare(old).unwrap_err();
    assert_eq!(error.code(), "stale-generation", "{error}");
    assert_eq!(core.generation(), 2);
}
