//! The state the core hands the engine to persist, and takes back at
//! start: the config it runs, its identity, the identity of the config it
//! ran before, the config whose copies it still keeps, and how far each
//! catch-up got.

use std::sync::Arc;

use rusts_cluster_config::{ClusterConfig, ConfigDigest, ConfigIdentity};
use rusts_cluster_sharding::{CopyState, ShardId};
use serde::{Deserialize, Serialize};

use crate::{
    catch_up::{CatchUpTask, Source},
    point::PointId,
    ProtocolError,
};

/// The format version this crate writes. Format 4 marks the catch-ups of
/// copies that lost their data (`lost = true` in a `[[catch_up]]` table,
/// decision 0045); a file of format 2 or 3 has none, and loads with none.
/// Format 3 adds the identity of
/// the config the node ran before (`previous_generation`,
/// `previous_identity`), which admission compares with a peer's header.
/// Format 2 (the identity is [`ClusterConfig::digest`], of the config's
/// values; format 1 hashed its TOML text) is still read, with the previous
/// config unknown: the checks that need it start at the node's next
/// commit, and an upgrade needs no step of its own (decision 0039).
const FORMAT: u32 = 4;

/// The oldest format [`restore`] reads.
const OLDEST_READ: u32 = 2;

/// A config's identity and its saved form, made once per config the core
/// runs or keeps, so that saving the state often (after every catch-up
/// page, say) copies the config's part of the file instead of serializing
/// the config each time.
#[derive(Clone, Debug)]
pub(crate) struct Canonical {
    /// The config's digest, as `identity` holds it.
    pub(crate) digest: ConfigDigest,
    /// `identity = ...` and `config = ...`, as TOML lines of the file.
    as_config: String,
    /// `kept = ...`, as a TOML line of the file.
    as_kept: String,
}

/// The parts of the saved file, each serialized alone and concatenated in
/// [`Saved`]'s order: top-level keys first, the `[[catch_up]]` tables last.
#[derive(Serialize)]
struct Head<'a> {
    format: u32,
    node: &'a str,
    incarnation: u64,
    generation: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_generation: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    previous_identity: Option<ConfigDigest>,
}

#[derive(Serialize)]
struct ConfigPart<'a> {
    identity: ConfigDigest,
    config: &'a str,
}

#[derive(Serialize)]
struct KeptPart<'a> {
    kept: &'a str,
}

#[derive(Serialize)]
struct Tail {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    catch_up: Vec<SavedTask>,
}

/// Strings, integers within i64 and tables: always TOML.
fn to_toml(part: &impl Serialize) -> String {
    toml::to_string(part)
        .expect("the saved state is plain TOML: strings, integers within i64 and tables")
}

impl Canonical {
    pub(crate) fn of(config: &ClusterConfig) -> Self {
        let text = canonical(config);
        let digest = config.digest();
        Canonical {
            digest,
            as_config: to_toml(&ConfigPart {
                identity: digest,
                config: &text,
            }),
            as_kept: to_toml(&KeptPart { kept: &text }),
        }
    }
}

/// The config as TOML, without its node id.
fn canonical(config: &ClusterConfig) -> String {
    let mut config = config.clone();
    config.node_id = String::new();
    // A validated config always serializes; an empty text still has an
    // identity, and differs from every real one.
    config.to_toml().unwrap_or_default()
}

/// The saved file, as read back (written by parts: [`save`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Saved {
    format: u32,
    node: String,
    /// The incarnation the node's requests were numbered in; a restore
    /// starts the next.
    #[serde(default)]
    incarnation: u64,
    generation: u64,
    /// The config the node ran before this one (format 3).
    #[serde(default)]
    previous_generation: Option<u64>,
    #[serde(default)]
    previous_identity: Option<ConfigDigest>,
    identity: ConfigDigest,
    config: String,
    #[serde(default)]
    kept: Option<String>,
    #[serde(default)]
    catch_up: Vec<SavedTask>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SavedTask {
    shard: ShardId,
    generation: u64,
    state: CopyState,
    sources: Vec<SavedSource>,
    /// Format 4: the copy lost its data.
    #[serde(default, skip_serializing_if = "is_false")]
    lost: bool,
}

fn is_false(value: &bool) -> bool {
    !*value
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
    pub(crate) previous: Option<ConfigIdentity>,
    pub(crate) kept: Option<ClusterConfig>,
    pub(crate) catch_up: Vec<CatchUpTask>,
}

/// The bytes to persist for this state.
pub(crate) fn save(
    node: &str,
    incarnation: u64,
    generation: u64,
    config: &Canonical,
    previous: Option<ConfigIdentity>,
    kept: Option<&Canonical>,
    tasks: &[CatchUpTask],
) -> Vec<u8> {
    let mut text = to_toml(&Head {
        format: FORMAT,
        node,
        incarnation,
        generation,
        previous_generation: previous.map(|p| p.generation),
        previous_identity: previous.map(|p| p.digest),
    });
    text.push_str(&config.as_config);
    if let Some(kept) = kept {
        text.push_str(&kept.as_kept);
    }
    let tail = Tail {
        catch_up: tasks
            .iter()
            .map(|t| SavedTask {
                shard: t.shard,
                generation: t.generation,
                state: t.state,
                lost: t.lost,
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
    text.push_str(&to_toml(&tail));
    text.into_bytes()
}

/// Reads bytes [`save`] wrote, for node `node`.
pub(crate) fn restore(bytes: &[u8], node: &str) -> Result<Restored, ProtocolError> {
    let unreadable = |reason: String| ProtocolError::Saved { reason };
    let text = std::str::from_utf8(bytes).map_err(|e| unreadable(format!("not UTF-8 ({e})")))?;
    let saved: Saved = toml::from_str(text).map_err(|e| unreadable(e.message().to_owned()))?;
    if !(OLDEST_READ..=FORMAT).contains(&saved.format) {
        return Err(unreadable(format!(
            "format {} (this version reads formats {OLDEST_READ} to {FORMAT})",
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
    if config.digest() != saved.identity || config.generation != saved.generation {
        return Err(unreadable(
            "its config does not match its identity (the file was edited)".to_owned(),
        ));
    }
    let previous = match (saved.previous_generation, saved.previous_identity) {
        (None, None) => None,
        (Some(generation), Some(digest)) if saved.format >= 3 && generation < saved.generation => {
            Some(ConfigIdentity { generation, digest })
        }
        _ => {
            return Err(unreadable(
                "its previous config's generation and identity do not go together (the file \
                 was edited)"
                    .to_owned(),
            ))
        }
    };
    let kept = saved.kept.as_deref().map(load).transpose()?;
    // Format 2 did not record the previous config, but its kept config,
    // when there is one, is that config.
    let previous = previous.or_else(|| kept.as_ref().map(ClusterConfig::identity));
    // The kept copies are the previous config's: a format-3 file that says
    // otherwise was edited.
    if let (Some(kept), Some(previous)) = (&kept, previous) {
        if kept.identity() != previous {
            return Err(unreadable(
                "its kept config is not its previous config (the file was edited)".to_owned(),
            ));
        }
    }
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
            lost: task.lost,
            not_before: None,
            waited: false,
        });
    }
    Ok(Restored {
        incarnation: saved.incarnation,
        config,
        previous,
        kept,
        catch_up,
    })
}
