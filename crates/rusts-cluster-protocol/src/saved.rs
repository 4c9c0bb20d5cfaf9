//! The state the core hands the engine to persist, and takes back at
//! start: the config it runs, its identity, the config whose copies it
//! still keeps, and how far each catch-up got.

use std::sync::Arc;

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_sharding::{CopyState, ShardId};
use serde::{Deserialize, Serialize};

use crate::{
    catch_up::{CatchUpTask, Source},
    point::PointId,
    ProtocolError,
};

/// The format version this crate writes and reads.
const FORMAT: u32 = 1;

/// A config's identity: a digest of its canonical form without the node
/// id, so that every node running one file reports one identity. 64-bit
/// FNV-1a, as `fnv1a64:` and 16 hex digits: it tells configs apart, it is
/// not a signature.
///
/// ```
/// use rusts_cluster_config::ClusterConfig;
/// use rusts_cluster_protocol::config_identity;
///
/// let config = ClusterConfig::single_node("a", "127.0.0.1:1");
/// let mut b = config.clone();
/// b.node_id = "b".into();
/// assert_eq!(config_identity(&config), config_identity(&b));
/// assert!(config_identity(&config).starts_with("fnv1a64:"));
/// ```
pub fn config_identity(config: &ClusterConfig) -> String {
    let text = canonical(config);
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("fnv1a64:{hash:016x}")
}

/// The config as TOML, without its node id.
fn canonical(config: &ClusterConfig) -> String {
    let mut config = config.clone();
    config.node_id = String::new();
    // A validated config always serializes; an empty text still has an
    // identity, and differs from every real one.
    config.to_toml().unwrap_or_default()
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    format: u32,
    node: String,
    /// The incarnation the node's requests were numbered in; a restore
    /// starts the next.
    #[serde(default)]
    incarnation: u64,
    generation: u64,
    identity: String,
    config: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    kept: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    catch_up: Vec<SavedTask>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTask {
    shard: ShardId,
    generation: u64,
    state: CopyState,
    sources: Vec<SavedSource>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedSource {
    node: String,
    done: bool,
    // TOML integers are signed 64-bit: a series id past that is kept as
    // text, so every cursor round-trips.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_measurement: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_series: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    after_timestamp: Option<i64>,
}

/// What [`restore`] gives back.
pub(crate) struct Restored {
    pub(crate) incarnation: u64,
    pub(crate) config: ClusterConfig,
    pub(crate) kept: Option<ClusterConfig>,
    pub(crate) catch_up: Vec<CatchUpTask>,
}

/// The bytes to persist for this state.
pub(crate) fn save(
    node: &str,
    incarnation: u64,
    config: &ClusterConfig,
    kept: Option<&ClusterConfig>,
    tasks: &[CatchUpTask],
) -> Vec<u8> {
    let saved = Saved {
        format: FORMAT,
        node: node.to_owned(),
        incarnation,
        generation: config.generation,
        identity: config_identity(config),
        config: canonical(config),
        kept: kept.map(canonical),
        catch_up: tasks
            .iter()
            .map(|t| SavedTask {
                shard: t.shard,
                generation: t.generation,
                state: t.state,
                sources: t
                    .sources
                    .iter()
                    .map(|s| SavedSource {
                        node: s.node.to_string(),
                        done: s.done,
                        after_measurement: s.after.as_ref().map(|a| a.measurement.clone()),
                        after_series: s.after.as_ref().map(|a| a.series_id.to_string()),
                        after_timestamp: s.after.as_ref().map(|a| a.timestamp),
                    })
                    .collect(),
            })
            .collect(),
    };
    toml::to_string(&saved)
        .expect("the saved state is plain TOML: strings, integers within i64 and tables")
        .into_bytes()
}

/// Reads bytes [`save`] wrote, for node `node`.
pub(crate) fn restore(bytes: &[u8], node: &str) -> Result<Restored, ProtocolError> {
    let unreadable = |reason: String| ProtocolError::Saved { reason };
    let text = std::str::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 ({e})")))?;
    let saved: Saved = toml::from_str(text).map_err(|e| unreadable(e.message().to_owned()))?;
    if saved.format != FORMAT {
        return Err(unreadable(format!(
            "format {} (this version reads format {FORMAT})",
            saved.format
        )));
    }
    if saved.node != node {
        return Err(ProtocolError::SavedForOtherNode {
            saved: saved.node,
            node: node.to_owned(),
        });
    }
    let load = |text: &str| -> Result<ClusterConfig, ProtocolError> {
        let mut config: ClusterConfig = toml::from_str(text)
            .map_err(|e| unreadable(format!("its config does not parse: {}", e.message())))?;
        config.node_id = node.to_owned();
        config
            .validate()
            .map_err(|e| unreadable(format!("its config is invalid: {e}")))?;
        Ok(config)
    };
    let config = load(&saved.config)?;
    if config_identity(&config) != saved.identity || config.generation != saved.generation {
        return Err(unreadable(
            "its config does not match its identity (the file was edited)".to_owned(),
        ));
    }
    let kept = saved.kept.as_deref().map(load).transpose()?;
    let mut catch_up = Vec::with_capacity(saved.catch_up.len());
    for task in saved.catch_up {
        let mut sources = Vec::with_capacity(task.sources.len());
        for s in task.sources {
            let after = match (s.after_measurement, s.after_series, s.after_timestamp) {
                (Some(measurement), Some(series), Some(timestamp)) => Some(PointId {
                    measurement,
                    series_id: series.parse().map_err(|_| {
                        unreadable(format!(
                            "catch-up cursor series \"{series}\" is not a number"
                        ))
                    })?,
                    timestamp,
                }),
                (None, None, None) => None,
                _ => return Err(unreadable("a catch-up cursor is incomplete".to_owned())),
            };
            sources.push(Source {
                node: Arc::from(s.node),
                after,
                done: s.done,
                sent_at: None,
            });
        }
        catch_up.push(CatchUpTask {
            shard: task.shard,
            generation: task.generation,
            state: task.state,
            sources,
        });
    }
    Ok(Restored {
        incarnation: saved.incarnation,
        config,
        kept,
        catch_up,
    })
}
