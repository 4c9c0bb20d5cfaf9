//! A config's identity: its generation and a digest of its content, so
//! that two files that carry one generation and say different things are
//! never taken for each other. The protocol core records it in the
//! state a node saves, and peers compare it in every message header
//! (decision 0039).

use std::fmt;

use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::ShardingStrategy;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{ClusterConfig, MoveReads};

/// A digest of a config's content: everything but its `node_id`, so that
/// every node running one file has one digest.
///
/// It is computed from the config's values, not from its text: the order
/// of nodes and of shard lists, comments, spacing and how a list is written
/// do not change it, and neither does a later version of the TOML writer.
/// Each value is fed, in a fixed order and with its length, to 64-bit
/// FNV-1a. It tells configs apart; it is not a signature, and a file made
/// to collide with another is out of scope (the files come from the
/// operator).
///
/// Written as `fnv1a64:` and 16 hex digits, in text and in serde.
///
/// ```
/// use rusts_cluster_config::ClusterConfig;
///
/// let config = ClusterConfig::single_node("a", "127.0.0.1:1");
/// let as_b = config.clone().for_node("b");
/// assert_eq!(config.digest(), as_b.digest(), "the node id is not content");
///
/// let mut other = config.clone();
/// other.replication_factor = 2;
/// assert_ne!(config.digest(), other.digest());
/// assert!(config.digest().to_string().starts_with("fnv1a64:"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConfigDigest(u64);

/// A config's identity: its generation and its [`ConfigDigest`]. Two
/// configs are the same config only when both are equal. Written
/// `GENERATION/fnv1a64:HEX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ConfigIdentity {
    /// The config's generation.
    pub generation: u64,
    /// The digest of its content.
    pub digest: ConfigDigest,
}

impl ConfigDigest {
    /// The digest's value.
    pub fn value(self) -> u64 {
        self.0
    }

    /// Reads a digest as [`Display`](fmt::Display) writes it.
    ///
    /// # Errors
    ///
    /// The text, when it is not `fnv1a64:` and 16 hex digits.
    pub fn parse(text: &str) -> Result<Self, String> {
        text.strip_prefix("fnv1a64:")
            .filter(|hex| hex.len() == 16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok())
            .map(ConfigDigest)
            .ok_or_else(|| {
                format!("`{text}` is not a config digest (`fnv1a64:` and 16 hex digits)")
            })
    }
}

impl fmt::Display for ConfigDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fnv1a64:{:016x}", self.0)
    }
}

impl fmt::Display for ConfigIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.generation, self.digest)
    }
}

// As text: a TOML integer is a signed 64-bit number, and JSON readers
// often keep only 53 bits.
impl Serialize for ConfigDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ConfigDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        ConfigDigest::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// 64-bit FNV-1a, fed values with their lengths, so that no two sequences
/// of fields feed the same bytes.
struct Fnv(u64);

impl Fnv {
    fn bytes(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.0 ^= u64::from(byte);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn u64(&mut self, n: u64) {
        self.bytes(&n.to_le_bytes());
    }

    fn str(&mut self, s: &str) {
        self.u64(s.len() as u64);
        self.bytes(s.as_bytes());
    }

    fn sorted(&mut self, list: &[u32]) {
        let mut list = list.to_vec();
        list.sort_unstable();
        list.dedup();
        self.u64(list.len() as u64);
        for s in list {
            self.u64(u64::from(s));
        }
    }
}

impl ClusterConfig {
    /// The digest of this config's content ([`ConfigDigest`]), in time
    /// linear in its size.
    pub fn digest(&self) -> ConfigDigest {
        let mut h = Fnv(0xcbf2_9ce4_8422_2325);
        // The encoding's version: a new field is fed after the others, and
        // a change of encoding changes this.
        h.str("rusts-cluster config digest 1");
        h.u64(self.generation);
        h.str(&self.cluster_name);
        h.str(match self.replication_mode {
            ReplicationMode::Synchronous => "synchronous",
            ReplicationMode::Quorum => "quorum",
            ReplicationMode::Asynchronous => "asynchronous",
        });
        h.u64(self.replication_factor as u64);
        h.u64(u64::from(self.shard_count));
        match self.sharding_strategy {
            ShardingStrategy::ByMeasurement => h.str("by-measurement"),
            ShardingStrategy::BySeries => h.str("by-series"),
            ShardingStrategy::ByTime { duration_nanos } => {
                h.str("by-time");
                h.u64(duration_nanos as u64);
            }
            ShardingStrategy::Composite {
                time_duration_nanos,
            } => {
                h.str("composite");
                h.u64(time_duration_nanos as u64);
            }
        }
        h.str(match self.move_reads {
            MoveReads::Old => "old",
            MoveReads::New => "new",
        });
        match self.split_from {
            None => h.u64(0),
            Some(split) => {
                h.u64(1);
                h.u64(split.generation);
                h.u64(u64::from(split.shard_count));
            }
        }
        let mut nodes: Vec<_> = self.nodes.iter().collect();
        nodes.sort_by(|a, b| a.id.cmp(&b.id));
        h.u64(nodes.len() as u64);
        for node in nodes {
            h.str(&node.id);
            h.str(&node.address);
            h.sorted(&node.shards);
            h.sorted(&node.replica_shards);
            h.sorted(&node.joining_shards);
            h.sorted(&node.leaving_shards);
            let mut tags: Vec<_> = node.tags.iter().collect();
            tags.sort();
            h.u64(tags.len() as u64);
            for (key, value) in tags {
                h.str(key);
                h.str(value);
            }
        }
        // Fed only when set, so a config without shard states keeps the
        // digest it had before they were added.
        if !self.read_only_shards.is_empty() || !self.offline_shards.is_empty() {
            h.str("shard states");
            h.sorted(&self.read_only_shards);
            h.sorted(&self.offline_shards);
        }
        ConfigDigest(h.0)
    }

    /// This config's identity: its generation and its
    /// [`digest`](Self::digest).
    pub fn identity(&self) -> ConfigIdentity {
        ConfigIdentity {
            generation: self.generation,
            digest: self.digest(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_read_back() {
        let config = ClusterConfig::single_node("a", "127.0.0.1:1");
        let digest = config.digest();
        assert_eq!(ConfigDigest::parse(&digest.to_string()), Ok(digest));
        assert_eq!(config.identity().to_string(), format!("0/{digest}"));
        for bad in ["", "fnv1a64:", "fnv1a64:123", "sha256:0123456789abcdef"] {
            assert!(ConfigDigest::parse(bad).unwrap_err().contains(bad));
        }
    }

    #[test]
    fn node_and_list_order_are_not_content() {
        let mut a = ClusterConfig::single_node("a", "127.0.0.1:1");
        a.shard_count = 4;
        a.nodes[0].shards = vec![0, 1, 2, 3];
        let mut b = a.clone();
        b.nodes[0].shards = vec![3, 1, 0, 2];
        b.nodes.push(crate::NodeConfig::new("b", "127.0.0.1:2"));
        a.nodes
            .insert(0, crate::NodeConfig::new("b", "127.0.0.1:2"));
        assert_eq!(a.digest(), b.digest());
        b.nodes[1].address = "127.0.0.1:3".into();
        assert_ne!(a.digest(), b.digest());
    }
}
