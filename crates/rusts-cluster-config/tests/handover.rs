//! Hand-overs of an address between generations, compared as the
//! duplicate-address rule compares addresses.

use rusts_cluster_config::{address_handovers, ClusterConfig};

/// Nodes a, b and c hold copies at generation 4; c is written `c_address`.
fn three(c_address: &str) -> ClusterConfig {
    ClusterConfig::from_toml(&format!(
        r#"
        generation = 4
        replication_factor = 2
        shard_count = 3
        [[nodes]]
        id = "a"
        address = "10.0.0.1:8086"
        shards = [0]
        replica_shards = [1]
        [[nodes]]
        id = "b"
        address = "10.0.0.2:8086"
        shards = [1]
        replica_shards = [2]
        [[nodes]]
        id = "c"
        address = "{c_address}"
        shards = [2]
        replica_shards = [0]
        "#
    ))
    .unwrap()
}

/// The respellings of the issue: before, `address_handovers` compared the
/// text, so c moving to another address and d taking c's old one in a
/// respelling passed `apply` and `transition`, and a node still on
/// generation 4 sent c's writes to d, which acknowledged them for a copy
/// it never held.
#[test]
fn a_respelled_address_is_the_same_address() {
    for (old, respelled) in [
        ("10.0.0.3:8086", "10.0.0.3:08086"),
        ("Node-C.internal:8086", "node-c.internal:8086"),
        ("[2001:db8::3]:8086", "[2001:db8:0:0:0:0:0:3]:8086"),
    ] {
        let from = three(old);
        // c moves to 10.0.0.9; d takes c's old address, respelled.
        let mut to = from.clone();
        to.generation = 5;
        to.nodes[2].address = "10.0.0.9:8086".into();
        let mut d = to.nodes[2].clone();
        d.id = "d".into();
        d.address = respelled.into();
        d.shards.clear();
        d.replica_shards.clear();
        to.nodes.push(d);
        let handovers = address_handovers(&from, &to);
        assert_eq!(handovers.len(), 1, "{old} -> {respelled}");
        let h = &handovers[0];
        assert_eq!((h.from_node.as_str(), h.to_node.as_str()), ("c", "d"));
        assert_eq!(
            (h.address.as_str(), h.to_address.as_str()),
            (old, respelled)
        );
        assert!(!h.removed);
        assert!(
            h.to_string().contains(&format!(
                "node \"d\"'s in generation 5 (written {respelled} there, the same address)"
            )),
            "{h}"
        );
        // Removed instead of moved: the same hand-over, marked as removed.
        let mut removed = to.clone();
        removed.nodes.remove(2);
        let handovers = address_handovers(&from, &removed);
        assert_eq!(handovers.len(), 1, "{old} -> {respelled}");
        assert!(handovers[0].removed);
        // A node that keeps its address in another spelling hands nothing
        // over.
        let mut same = from.clone();
        same.generation = 5;
        same.nodes[2].address = respelled.into();
        assert!(address_handovers(&from, &same).is_empty());
    }
}
