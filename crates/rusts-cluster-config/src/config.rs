use std::{
    collections::{BTreeMap, HashMap},
    fs::File,
    io::Read,
    path::{Path, PathBuf},
};

use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_sharding::{ShardId, ShardingStrategy};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::{validate, ConfigError, Location, SplitFrom, ValidationWarning};

/// The largest config file [`ClusterConfig::from_file`] reads: 10 MiB.
///
/// The file is read through a limit, so a wrong path (a log, a disk image)
/// fails at once instead of being read into memory. The limit is what real
/// configs need: the largest valid cluster as [`ClusterConfig::to_toml`]
/// writes it ([`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT) shards on 256
/// nodes, three copies each) is 5.7 MiB, 6.6 MiB on 1,024 nodes with long
/// names and tags, and 9.5 MiB with five copies of each shard.
///
/// It is also what bounds the cost of a hostile file: the TOML parser keeps
/// a spanned value per array element, about 80 bytes of peak memory per
/// byte of a file of one-digit shard ids, so a file at this limit peaks
/// below 1 GB where the former 32 MiB limit allowed 2.5 GB
/// (`docs/decisions/0016-config-size-limit.md`).
pub const MAX_CONFIG_BYTES: u64 = 10 * 1024 * 1024;

/// A static description of a cluster: its nodes, which shards each holds,
/// and how data is sharded and replicated.
///
/// Every node reads the same description of the whole cluster, from one
/// file that serves every node: the node a process runs as is given when
/// it loads the file ([`from_file_as`], [`from_toml_as`],
/// [`ConfigFile::parse_as`], [`for_node`]), not written in it. A file may
/// still set `node_id`, as files did before; the id given at loading
/// overrides it. Parsing ([`from_toml`], [`from_file`]) checks only the
/// file's shape; call [`validate`] (or build a router, which validates) to
/// check the rules.
///
/// [`from_toml`]: ClusterConfig::from_toml
/// [`from_file`]: ClusterConfig::from_file
/// [`from_toml_as`]: ClusterConfig::from_toml_as
/// [`from_file_as`]: ClusterConfig::from_file_as
/// [`for_node`]: ClusterConfig::for_node
/// [`validate`]: ClusterConfig::validate
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// The id of the node this process runs as, or the empty string for
    /// none: a config that describes the cluster without being any node's
    /// (the shared file every node loads, or one a tool reads).
    ///
    /// Set by the loaders that take a node id ([`from_file_as`],
    /// [`from_toml_as`], [`ConfigFile::parse_as`], [`for_node`]); a file
    /// may also set it (`node_id = "node1"`), which they override. When
    /// set, it must name a node in `nodes` (rule `unknown-this-node`);
    /// [`to_toml`] leaves it out when it is empty. Default: empty.
    ///
    /// [`from_file_as`]: ClusterConfig::from_file_as
    /// [`from_toml_as`]: ClusterConfig::from_toml_as
    /// [`for_node`]: ClusterConfig::for_node
    /// [`to_toml`]: ClusterConfig::to_toml
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub node_id: String,
    /// The config's generation: a number that grows by at least one with
    /// every change an operator deploys, so that nodes can tell which
    /// config each runs and a router refuses to go back to an older one
    /// (`ShardRouter::apply` in the routing crate). Default: 0.
    #[serde(default)]
    pub generation: u64,
    /// A name for the cluster. Default: `"rusts"`.
    #[serde(default = "default_cluster_name")]
    pub cluster_name: String,
    /// How many copies must acknowledge a write. Default: `Quorum`.
    #[serde(default)]
    pub replication_mode: ReplicationMode,
    /// How many copies each shard should have. Default: 1.
    #[serde(default = "default_replication_factor")]
    pub replication_factor: usize,
    /// The number of shards, numbered `0..shard_count`. Default: 16.
    ///
    /// A `u32`, the type of every shard count at the crates' boundaries
    /// (shard ids are `u32`s). A number written in the file that does not
    /// fit is refused where it is written, with the limit; one that fits
    /// but is above [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT) is a
    /// validation error that names it.
    #[serde(
        default = "default_shard_count",
        deserialize_with = "deserialize_shard_count"
    )]
    pub shard_count: u32,
    /// How keys map to shards. Default: `BySeries`.
    #[serde(default)]
    pub sharding_strategy: ShardingStrategy,
    /// Shards that take no writes but still serve reads
    /// (`ShardState::ReadOnly`): for maintenance, or a disk filling up.
    /// The state is part of the config, and so of its generation, like
    /// every key: every node refuses the same writes, also after a
    /// restart, and a change of it is deployed as a new generation
    /// (`docs/decisions/0046-shard-states-come-from-the-config.md`).
    /// Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub read_only_shards: Vec<ShardId>,
    /// Shards that take neither writes nor reads (`ShardState::Offline`),
    /// part of the config like `read_only_shards`. A shard is in at most
    /// one of the two lists. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub offline_shards: Vec<ShardId>,
    /// While copies move (nodes list them in `joining_shards` and
    /// `leaving_shards`), which copies of a moving shard serve reads:
    /// `"old"` (the default), every copy but the joining ones, or `"new"`,
    /// every copy but the leaving ones. `rusts-cluster transition` writes
    /// it; shards that are not moving read every copy either way.
    #[serde(default, skip_serializing_if = "MoveReads::is_old")]
    pub move_reads: MoveReads,
    /// Where this config was split from, when it is the split of an older
    /// one ([`ClusterConfig::split`]): that config's generation and shard
    /// count. A router needs it to tell which numbering a peer still on the
    /// older generation uses, also after a restart. Default: none (the
    /// table is left out).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub split_from: Option<SplitFrom>,
    /// Every node of the cluster.
    pub nodes: Vec<NodeConfig>,
}

/// One node of the cluster and the shards it holds.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeConfig {
    /// The node's unique id.
    pub id: String,
    /// Where the node listens, as `host:port`: an IPv4 address, an IPv6
    /// address in brackets, or a DNS name, and a port from 1 to 65535.
    pub address: String,
    /// The shards this node is primary for. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shards: Vec<ShardId>,
    /// The shards this node holds a replica of. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replica_shards: Vec<ShardId>,
    /// The node's copies (listed in `shards` or `replica_shards`) that a
    /// move is adding: they receive writes but serve reads only once
    /// `move_reads = "new"`. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub joining_shards: Vec<ShardId>,
    /// The node's copies (listed in `shards` or `replica_shards`) that a
    /// move is removing: they receive writes and serve reads until
    /// `move_reads = "new"`. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub leaving_shards: Vec<ShardId>,
    /// Free-form labels, e.g. `zone = "us-east-1a"`. Default: none. Saved
    /// sorted by key, so that saving a config twice gives the same file.
    #[serde(
        default,
        skip_serializing_if = "HashMap::is_empty",
        serialize_with = "sorted"
    )]
    pub tags: HashMap<String, String>,
}

impl NodeConfig {
    /// A node with no shards and no tags.
    ///
    /// ```
    /// use rusts_cluster_config::NodeConfig;
    ///
    /// let node = NodeConfig::new("node1", "10.0.1.1:8086");
    /// assert!(node.shards.is_empty() && node.tags.is_empty());
    /// ```
    pub fn new(id: impl Into<String>, address: impl Into<String>) -> Self {
        NodeConfig {
            id: id.into(),
            address: address.into(),
            shards: Vec::new(),
            replica_shards: Vec::new(),
            joining_shards: Vec::new(),
            leaving_shards: Vec::new(),
            tags: HashMap::new(),
        }
    }
}

/// Which copies of a moving shard serve reads: the config's `move_reads`.
///
/// A move goes through two configs that both send writes to the old and the
/// new copies: the first reads from the old copies (`Old`) while the joining
/// copies catch up, the second from the new copies (`New`). See
/// `docs/decisions/0019-joint-copies.md`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MoveReads {
    /// Read every copy but the joining ones (the default).
    #[default]
    Old,
    /// Read every copy but the leaving ones.
    New,
}

impl MoveReads {
    /// Whether this is [`MoveReads::Old`], the default that a saved config
    /// leaves out.
    pub fn is_old(&self) -> bool {
        *self == MoveReads::Old
    }
}

impl std::fmt::Display for MoveReads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            MoveReads::Old => "old",
            MoveReads::New => "new",
        })
    }
}

fn default_cluster_name() -> String {
    "rusts".to_owned()
}

fn default_replication_factor() -> usize {
    1
}

fn default_shard_count() -> u32 {
    16
}

/// `shard_count` as any whole number up to `u32::MAX`, so that the
/// parser's message says what a shard count is (serde's would say
/// "expected u32"); one that fits but is above the limit is left to
/// validation, which names it.
fn deserialize_shard_count<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    struct ShardCount;

    impl serde::de::Visitor<'_> for ShardCount {
        type Value = u32;

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "a number of shards from 1 to {}", crate::MAX_SHARD_COUNT)
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u32, E> {
            u32::try_from(n).map_err(|_| match u64::try_from(n) {
                Ok(n) => E::custom(format!(
                    "`shard_count` is {n}, above the limit of {}; use at most {} shards",
                    crate::MAX_SHARD_COUNT,
                    crate::MAX_SHARD_COUNT
                )),
                Err(_) => E::invalid_value(serde::de::Unexpected::Signed(n), &self),
            })
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u32, E> {
            self.visit_i64(i64::try_from(n).unwrap_or(i64::MAX))
        }
    }

    deserializer.deserialize_u32(ShardCount)
}

fn sorted<S: Serializer>(tags: &HashMap<String, String>, serializer: S) -> Result<S::Ok, S::Error> {
    tags.iter()
        .collect::<BTreeMap<_, _>>()
        .serialize(serializer)
}

impl ClusterConfig {
    /// Reads and parses a config file (at most [`MAX_CONFIG_BYTES`]).
    ///
    /// This checks the file's shape, not the rules: call
    /// [`validate`](Self::validate) next. The config's `node_id` is the
    /// file's, if it sets one; a process that runs as a node loads the
    /// file with [`from_file_as`](Self::from_file_as).
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when the file cannot be read (missing, a
    /// directory, no permission), [`ConfigError::TooLarge`],
    /// [`ConfigError::NotUtf8`], and [`ConfigError::Parse`] as for
    /// [`from_toml`](Self::from_toml), with the path.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ConfigError};
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// assert_eq!(config.cluster_name, "rusts-prod");
    /// // The example serves every node, so it names none.
    /// assert_eq!(config.node_id, "");
    /// assert!(config.this_node().is_none());
    /// assert_eq!(config.get_node("node2").map(|n| n.shards.len()), Some(8));
    ///
    /// let missing = ClusterConfig::from_file("no/such/cluster.toml").unwrap_err();
    /// assert!(matches!(missing, ConfigError::Io { .. }));
    /// assert_eq!(missing.to_string(), "cannot read cluster config `no/such/cluster.toml`");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        ConfigFile::read(path)?.parse()
    }

    /// Reads and parses a config file as [`from_file`](Self::from_file)
    /// does, for the process that runs as node `node_id`: the config's
    /// `node_id` is `node_id`, whatever the file sets. This is how every
    /// node loads the one file they share.
    ///
    /// Like `from_file`, this checks the file's shape only: that `node_id`
    /// names a node in `nodes` is a rule ([`validate`](Self::validate),
    /// `unknown-this-node`). An empty `node_id` loads the config as no
    /// node's.
    ///
    /// # Errors
    ///
    /// As [`from_file`](Self::from_file).
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ValidationErrorKind};
    ///
    /// let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml");
    /// let config = ClusterConfig::from_file_as(path, "node2")?;
    /// config.validate()?;
    /// assert_eq!(config.this_node().map(|n| n.address.as_str()), Some("10.0.1.2:8086"));
    ///
    /// // A node the file does not have is refused by validation.
    /// let err = ClusterConfig::from_file_as(path, "node9")?.validate().unwrap_err();
    /// assert_eq!(
    ///     err.validation_errors()[0].kind(),
    ///     &ValidationErrorKind::UnknownThisNode { node_id: "node9".into() }
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_file_as(path: impl AsRef<Path>, node_id: &str) -> Result<Self, ConfigError> {
        ConfigFile::read(path)?.parse_as(node_id)
    }

    /// Parses a config from TOML text.
    ///
    /// Keys that a config does not have are errors, not ignored: a
    /// misspelled `replication_facter` would otherwise silently leave the
    /// default in place.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`], with the line and column, when the text is
    /// not TOML, a value has the wrong type, a required key (`nodes`, a
    /// node's `id` or `address`) is missing, or a key is unknown.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// let config = ClusterConfig::from_toml(r#"
    ///     [[nodes]]
    ///     id = "node1"
    ///     address = "10.0.1.1:8086"
    ///     shards = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]
    /// "#)?;
    /// assert_eq!(config.cluster_name, "rusts");
    /// assert_eq!(config.shard_count, 16);
    /// config.validate()?;
    ///
    /// let err = ClusterConfig::from_toml("shard_count = 4\nshard_cont = 4\nnodes = []").unwrap_err();
    /// assert!(err.to_string().starts_with("invalid cluster config at line 2, column 1: unknown field `shard_cont`"), "{err}");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        parse(text, None)
    }

    /// Parses a config from TOML text as [`from_toml`](Self::from_toml)
    /// does, for the process that runs as node `node_id`: the config's
    /// `node_id` is `node_id`, whatever the text sets (see
    /// [`from_file_as`](Self::from_file_as)).
    ///
    /// # Errors
    ///
    /// As [`from_toml`](Self::from_toml).
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// // One text, without `node_id`, loaded as each of its nodes.
    /// let text = r#"
    ///     shard_count = 2
    ///     [[nodes]]
    ///     id = "a"
    ///     address = "10.0.0.1:8086"
    ///     shards = [0]
    ///     [[nodes]]
    ///     id = "b"
    ///     address = "10.0.0.2:8086"
    ///     shards = [1]
    /// "#;
    /// for id in ["a", "b"] {
    ///     let config = ClusterConfig::from_toml_as(text, id)?;
    ///     config.validate()?;
    ///     assert_eq!(config.this_node().map(|n| n.id.as_str()), Some(id));
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_toml_as(text: &str, node_id: &str) -> Result<Self, ConfigError> {
        Ok(parse(text, None)?.for_node(node_id))
    }

    /// This config as loaded by the process that runs as node `node_id`:
    /// the same config with `node_id` replaced, whether or not it had one.
    /// An empty `node_id` gives the config as no node's, as
    /// [`to_toml`](Self::to_toml) then writes it for every node.
    ///
    /// It does not check that the node is in `nodes`: that is a rule,
    /// reported with the others by [`validate`](Self::validate) (or by a
    /// router built from the config), so a tool that loads a file as a
    /// node still sees every problem at once.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// let shared = ClusterConfig::single_node("node1", "10.0.1.1:8086").for_node("");
    /// assert!(!shared.to_toml()?.contains("node_id"));
    /// let node1 = shared.for_node("node1");
    /// assert_eq!(node1.this_node().map(|n| n.address.as_str()), Some("10.0.1.1:8086"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn for_node(mut self, node_id: impl Into<String>) -> Self {
        self.node_id = node_id.into();
        self
    }

    /// Writes the config as TOML that [`from_toml`](Self::from_toml) reads
    /// back to an equal config. The output is deterministic: tags are sorted
    /// by key, and empty lists and tags are left out, and so is an empty
    /// `node_id`: a config that is no node's is written as the file every
    /// node loads.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Serialize`] if the serializer fails; no config this
    /// crate can build makes it fail.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// let config = ClusterConfig::single_node("node1", "10.0.1.1:8086");
    /// let text = config.to_toml()?;
    /// assert!(text.starts_with("node_id = \"node1\"\ngeneration = 0\ncluster_name = \"rusts\"\n"));
    /// assert_eq!(ClusterConfig::from_toml(&text)?, config);
    ///
    /// // Without a node id, the file serves every node.
    /// let shared = config.for_node("").to_toml()?;
    /// assert!(shared.starts_with("generation = 0\ncluster_name = \"rusts\"\n"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn to_toml(&self) -> Result<String, ConfigError> {
        toml::to_string(self).map_err(|source| ConfigError::Serialize { source })
    }

    /// A config for one standalone node that holds all 16 shards, with
    /// replication factor 1.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// let config = ClusterConfig::single_node("node1", "127.0.0.1:8086");
    /// config.validate()?;
    /// assert!(config.warnings().is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn single_node(node_id: impl Into<String>, address: impl Into<String>) -> Self {
        let node_id = node_id.into();
        let shard_count = default_shard_count();
        let mut node = NodeConfig::new(node_id.clone(), address);
        node.shards = (0..shard_count).collect();
        ClusterConfig {
            node_id,
            generation: 0,
            cluster_name: default_cluster_name(),
            replication_mode: ReplicationMode::default(),
            replication_factor: default_replication_factor(),
            shard_count,
            sharding_strategy: ShardingStrategy::default(),
            read_only_shards: Vec::new(),
            offline_shards: Vec::new(),
            move_reads: Default::default(),
            split_from: None,
            nodes: vec![node],
        }
    }

    /// The generation `steps` after this config's: what a config derived
    /// from it (a split, the steps of a transition) is numbered from.
    ///
    /// # Errors
    ///
    /// [`ConfigError::GenerationOverflow`] when it would pass `u64::MAX`.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ConfigError};
    ///
    /// let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    /// config.generation = 7;
    /// assert_eq!(config.next_generation(3)?, 10);
    /// config.generation = u64::MAX - 1;
    /// assert!(matches!(config.next_generation(3), Err(ConfigError::GenerationOverflow { steps: 3, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn next_generation(&self, steps: u64) -> Result<u64, ConfigError> {
        self.generation
            .checked_add(steps)
            .ok_or(ConfigError::GenerationOverflow {
                generation: self.generation,
                steps,
            })
    }

    /// The node this process runs as (the one named by `node_id`); `None`
    /// when `node_id` is not set or names no node.
    pub fn this_node(&self) -> Option<&NodeConfig> {
        self.get_node(&self.node_id)
    }

    /// The node with id `id`.
    pub fn get_node(&self, id: &str) -> Option<&NodeConfig> {
        self.nodes.iter().find(|n| n.id == id)
    }

    /// The node that lists `shard` in its `shards`. In a valid config there
    /// is exactly one; in an invalid one, the first in file order.
    ///
    /// This scans the config; use a router for lookups on a hot path.
    pub fn primary_for_shard(&self, shard: ShardId) -> Option<&NodeConfig> {
        self.nodes.iter().find(|n| n.shards.contains(&shard))
    }

    /// The nodes that list `shard` in their `replica_shards`, sorted by node
    /// id (as a router lists them), so that node order in the file does not
    /// matter.
    ///
    /// This scans the config; use a router for lookups on a hot path.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    ///
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// assert_eq!(config.primary_for_shard(3).map(|n| n.id.as_str()), Some("node1"));
    /// let replicas: Vec<_> = config.replicas_for_shard(3).iter().map(|n| n.id.as_str()).collect();
    /// assert_eq!(replicas, ["node2"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replicas_for_shard(&self, shard: ShardId) -> Vec<&NodeConfig> {
        let mut replicas: Vec<_> = self
            .nodes
            .iter()
            .filter(|n| n.replica_shards.contains(&shard))
            .collect();
        replicas.sort_by(|a, b| a.id.cmp(&b.id));
        replicas
    }

    /// Checks every rule and reports every broken one at once.
    ///
    /// Runs in time linear in the nodes, the listed shards and
    /// `shard_count` (apart from sorting the node ids once), and checks `shard_count` against
    /// [`MAX_SHARD_COUNT`](crate::MAX_SHARD_COUNT) before allocating
    /// anything per shard. The rules are listed on
    /// [`ValidationError`](crate::ValidationError) and in
    /// `docs/configuration.md`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] listing every problem.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ValidationErrorKind};
    ///
    /// let mut config = ClusterConfig::single_node("node1", "127.0.0.1:8086");
    /// config.replication_factor = 0;
    /// config.nodes[0].shards.pop(); // shard 15 loses its primary
    /// let err = config.validate().unwrap_err();
    /// let kinds: Vec<_> = err.validation_errors().iter().map(|e| e.kind()).collect();
    /// assert_eq!(
    ///     kinds,
    ///     [&ValidationErrorKind::ZeroReplicationFactor, &ValidationErrorKind::MissingPrimary { shards: vec![15] }]
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_as(&self.node_id)
    }

    /// Checks every rule as [`validate`](Self::validate) does, for the
    /// process that runs as node `node_id`: the same as
    /// `self.clone().for_node(node_id).validate()`, without the copy. An
    /// empty `node_id` checks the config as no node's.
    ///
    /// A running node checks a newer file this way before it takes it
    /// (`ShardRouter::apply` in the routing crate): the file every node
    /// shares has no `node_id`, but it must still have the node that loads
    /// it.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] listing every problem.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ValidationErrorKind};
    ///
    /// let shared = ClusterConfig::single_node("node1", "10.0.1.1:8086").for_node("");
    /// shared.validate()?;
    /// shared.validate_as("node1")?;
    /// let err = shared.validate_as("node2").unwrap_err();
    /// assert_eq!(
    ///     err.validation_errors()[0].kind(),
    ///     &ValidationErrorKind::UnknownThisNode { node_id: "node2".into() }
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn validate_as(&self, node_id: &str) -> Result<(), ConfigError> {
        let errors = validate::validate(self, node_id);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid { errors })
        }
    }

    /// Problems that do not stop routing but put data at risk: shards with
    /// fewer or more copies than `replication_factor`, nodes without shards,
    /// shards whose copies share a zone (the `zone` tag) needlessly, and
    /// primaries or replicas unbalanced by more than one shard.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, ValidationWarning};
    ///
    /// // The architecture's example: shards 8-15 have a primary but no replica.
    /// let config = ClusterConfig::from_file(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
    /// config.validate()?;
    /// assert_eq!(
    ///     config.warnings()[0],
    ///     ValidationWarning::UnderReplicated {
    ///         shards: (8..16).collect(),
    ///         copies: 1,
    ///         replication_factor: 2,
    ///         required_acks: 2,
    ///     }
    /// );
    /// // And so node2 holds 8 replicas, node1 none.
    /// assert_eq!(config.warnings()[1].code(), "replica-imbalance");
    /// assert_eq!(
    ///     config.warnings()[0].to_string(),
    ///     "shards 8-15 have only 1 copy but `replication_factor` is 2, so writes to them cannot \
    ///      get the 2 acknowledgements `replication_mode` requires; add replicas in other nodes' \
    ///      `replica_shards`"
    /// );
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn warnings(&self) -> Vec<ValidationWarning> {
        validate::warnings(self)
    }
}

/// A config file's text, read once, with its path: for tools that parse
/// the config and then point at problems in the text (with a
/// [`SourceMap`](crate::SourceMap)).
///
/// Reading once matters when the path is a FIFO or a process substitution
/// (`<(cat cluster.toml)`): a second open would block forever or read
/// nothing.
///
/// ```
/// use rusts_cluster_config::{ConfigFile, SourceMap};
///
/// let file = ConfigFile::read(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"))?;
/// let config = file.parse_as("node1")?;
/// assert_eq!(config.shard_count, 16);
/// assert_eq!(config.node_id, "node1");
/// assert!(SourceMap::parse(file.text()).is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct ConfigFile {
    path: PathBuf,
    text: String,
}

impl ConfigFile {
    /// Reads the file (at most [`MAX_CONFIG_BYTES`]) and checks that it is
    /// UTF-8. It opens the path once and reads it once.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Io`] when the file cannot be read (missing, a
    /// directory, no permission), [`ConfigError::TooLarge`] and
    /// [`ConfigError::NotUtf8`].
    pub fn read(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let io_error = |source| ConfigError::Io {
            path: path.to_owned(),
            source,
        };
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|file| file.take(MAX_CONFIG_BYTES + 1).read_to_end(&mut bytes))
            .map_err(io_error)?;
        if bytes.len() as u64 > MAX_CONFIG_BYTES {
            return Err(ConfigError::TooLarge {
                path: path.to_owned(),
                limit: MAX_CONFIG_BYTES,
            });
        }
        let text = String::from_utf8(bytes).map_err(|e| ConfigError::NotUtf8 {
            path: path.to_owned(),
            location: Location::of_offset(e.as_bytes(), e.utf8_error().valid_up_to()),
        })?;
        Ok(ConfigFile {
            path: path.to_owned(),
            text,
        })
    }

    /// Parses the text, as [`ClusterConfig::from_toml`] but with the path
    /// in its errors.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`], with the path, line and column.
    pub fn parse(&self) -> Result<ClusterConfig, ConfigError> {
        parse(&self.text, Some(&self.path))
    }

    /// Parses the text for the process that runs as node `node_id`, as
    /// [`ClusterConfig::from_toml_as`] but with the path in its errors:
    /// the config's `node_id` is `node_id`, whatever the file sets.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Parse`], with the path, line and column.
    pub fn parse_as(&self, node_id: &str) -> Result<ClusterConfig, ConfigError> {
        Ok(self.parse()?.for_node(node_id))
    }

    /// The path the file was read from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The file's text.
    pub fn text(&self) -> &str {
        &self.text
    }
}

fn parse(text: &str, path: Option<&Path>) -> Result<ClusterConfig, ConfigError> {
    toml::from_str(text).map_err(|e: toml::de::Error| ConfigError::Parse {
        path: path.map(Path::to_owned),
        location: e
            .span()
            .map(|span| Location::of_offset(text.as_bytes(), span.start)),
        message: e.message().trim_end().to_owned(),
    })
}
