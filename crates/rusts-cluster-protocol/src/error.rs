//! The crate's one error type.

use rusts_cluster_config::{ConfigError, ConfigIdentity};
use rusts_cluster_routing::RoutingError;
use thiserror::Error;

/// An error from the protocol core: a config it cannot take, a request it
/// cannot start, or saved state it cannot read. Each leaves the core as it
/// was.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The config is invalid, or does not load as this node.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The router refused the config or the request (a stale generation,
    /// another strategy, an unpruned query, a batch too large, ...).
    #[error(transparent)]
    Routing(#[from] RoutingError),
    /// A prepared config was committed after another one: prepare it again.
    #[error(
        "the config of generation {prepared} was prepared while the core ran generation \
         {prepared_on}, but it now runs {current}; prepare it again"
    )]
    PreparedOnOther {
        /// The prepared config's generation.
        prepared: u64,
        /// The generation it was prepared on.
        prepared_on: u64,
        /// The generation the core runs now.
        current: u64,
    },
    /// The saved state handed back at start is not one this core wrote.
    #[error("the saved protocol state cannot be read: {reason}; restore it from the file the core last handed out, or start from the config file")]
    Saved {
        /// What is wrong with it.
        reason: String,
    },
    /// The config file given at start is older than the saved state
    /// ([`Restoring::prepare_file`](crate::Restoring::prepare_file)).
    #[error(
        "the config file is generation {} ({file}), older than generation {} ({saved}) that \
         this node already ran; deploy generation {}'s file, or a newer one, one step at a time",
        file.generation, saved.generation, saved.generation
    )]
    FileOlder {
        /// The file's identity.
        file: ConfigIdentity,
        /// The saved config's identity.
        saved: ConfigIdentity,
    },
    /// The config file given at start has the saved state's generation
    /// and other content ([`Restoring::prepare_file`](crate::Restoring::prepare_file)).
    #[error(
        "the config file of generation {} ({}) differs from the config this node ran at that \
         generation ({}); deploy the same file as every other node",
        file.generation, file.digest, saved.digest
    )]
    FileDiffers {
        /// The file's identity.
        file: ConfigIdentity,
        /// The saved config's identity.
        saved: ConfigIdentity,
    },
    /// The config file given at start is more than one generation newer
    /// than the saved state ([`Restoring::prepare_file`](crate::Restoring::prepare_file)).
    #[error(
        "the config file is generation {} but this node last ran generation {}; {}",
        file.generation,
        saved.generation,
        skipped(file.generation, saved.generation)
    )]
    FileSkipsGenerations {
        /// The file's identity.
        file: ConfigIdentity,
        /// The saved config's identity.
        saved: ConfigIdentity,
    },
    /// The saved state belongs to another node.
    #[error("the saved protocol state is node \"{saved}\"'s, but this process runs as \"{node}\"; give each node its own state directory")]
    SavedForOtherNode {
        /// The node the state was saved by.
        saved: String,
        /// The node this process runs as.
        node: String,
    },
    /// [`Core::lost`](crate::Core::lost) named a shard this node holds no
    /// copy of in the generation it runs.
    #[error(
        "node \"{node}\" holds no copy of shard {shard} in generation {generation}, so it cannot \
         have lost its data; name only the shards of Core::shards()"
    )]
    LostNotHeld {
        /// The node.
        node: String,
        /// The shard named.
        shard: u32,
        /// The generation the core runs.
        generation: u64,
    },
    /// A config that changes the shard count, while a copy that lost its
    /// data is still catching up: its shard's numbering would change
    /// under the catch-up.
    #[error(
        "generation {generation} changes the shard count from {from} to {to}, but this node's \
         copies of shards {shards:?} lost their data and are still catching up; deploy it once \
         its status shows no catch-up pending"
    )]
    LostDuringSplit {
        /// The new config's generation.
        generation: u64,
        /// The shard count the core runs.
        from: u32,
        /// The new config's.
        to: u32,
        /// The shards still catching up.
        shards: Vec<u32>,
    },
}

/// What [`ProtocolError::FileSkipsGenerations`] asks: the generations
/// between the saved one and the file's, each deployed in turn.
fn skipped(file: u64, saved: u64) -> String {
    let (first, last) = (saved.saturating_add(1), file.saturating_sub(1));
    if first == last {
        format!("apply generation {first} first, then this file")
    } else {
        format!("apply generations {first} to {last} in turn first, then this file")
    }
}

impl ProtocolError {
    /// A short, stable, kebab-case name of what went wrong.
    pub fn code(&self) -> &'static str {
        match self {
            ProtocolError::Config(e) => e.code(),
            ProtocolError::Routing(e) => e.code(),
            ProtocolError::PreparedOnOther { .. } => "prepared-on-other-generation",
            ProtocolError::Saved { .. } => "saved-state-unreadable",
            ProtocolError::SavedForOtherNode { .. } => "saved-for-other-node",
            ProtocolError::FileOlder { .. } => "file-older-than-saved",
            ProtocolError::FileDiffers { .. } => "file-differs-from-saved",
            ProtocolError::FileSkipsGenerations { .. } => "file-skips-generations",
            ProtocolError::LostNotHeld { .. } => "lost-not-held",
            ProtocolError::LostDuringSplit { .. } => "lost-during-split",
        }
    }
}
