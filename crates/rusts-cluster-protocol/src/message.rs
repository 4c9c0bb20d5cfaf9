//! The messages between nodes: plain `serde` types, each stamped with its
//! sender's node, generation and config identity.

use std::{fmt, sync::Arc};

use rusts_cluster_config::{ConfigDigest, ConfigIdentity};
use rusts_cluster_routing::KeyFilter;
use rusts_cluster_sharding::{ShardId, ShardState};
use serde::{
    de::Deserializer,
    ser::{SerializeSeq, SerializeStruct, Serializer},
    Deserialize, Serialize,
};
use thiserror::Error;

use crate::point::PointId;

/// Who sent a message, and under which config: carried by every
/// message, request and answer alike.
///
/// The generation is the one the sender *reports*: after a new config,
/// it changes only once the requests pending under the old one have
/// failed ([`Core::commit`](crate::Core::commit)). `identity` is the
/// digest of that generation's config, and `previous` the digest of the
/// config the sender ran before it, so that a replica can tell a file of
/// its own generation that says something else, and a neighbouring
/// generation that was not made from its file (decision 0039).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Header {
    /// The sender's node id.
    pub node: Arc<str>,
    /// The sender's generation.
    pub generation: u64,
    /// The digest of the sender's config of that generation. Required on
    /// the wire: a header without one cannot be checked.
    pub identity: ConfigDigest,
    /// The digest of the config the sender ran before its current one;
    /// `None` when it does not know it (a node started on its first
    /// config, or restored from a state saved before format 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<ConfigDigest>,
}

/// Why a replica did not store or serve a shard's part of a request. A
/// refusal never counts as a copy's acknowledgement or as a read answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Error)]
#[serde(tag = "refusal", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Refusal {
    /// The sender's generation is more than one away from the replica's:
    /// peers that far apart never serve each other.
    #[error(
        "this node runs generation {ours} and the request carries generation {peer}; nodes more \
         than one generation apart do not serve each other: deploy the missing step first"
    )]
    Generation {
        /// The replica's generation.
        ours: u64,
        /// The generation the request carried.
        peer: u64,
    },
    /// The sender's config is not the replica's, or not its neighbour: the
    /// same generation with another digest, or an adjacent generation
    /// whose file was not made from the other's (the sender's previous
    /// digest is not the replica's, or the replica's previous is not the
    /// sender's). Two plans made from one config number their steps
    /// alike; nodes on different plans never serve each other.
    #[error("{}", identity_message(ours, peer))]
    Identity {
        /// The replica's config: generation and digest.
        ours: ConfigIdentity,
        /// The sender's config: generation and digest.
        peer: ConfigIdentity,
    },
    /// The replica holds no copy of the shard in its generation, nor a kept
    /// copy of the sender's generation.
    #[error("this node holds no copy of shard {shard} in generation {generation}")]
    NotHeld {
        /// The shard, in the sender's numbering.
        shard: ShardId,
        /// The replica's generation.
        generation: u64,
    },
    /// The replica's copy takes no writes in its state.
    #[error("shard {shard} is {state} on this node and takes no writes")]
    NotWritable {
        /// The shard, in the replica's numbering.
        shard: ShardId,
        /// Its state there.
        state: ShardState,
    },
    /// A point of the request does not belong to the shard it was sent
    /// for: the two nodes shard keys differently.
    #[error("a point sent for shard {shard} does not map to it on this node; both nodes must run adjacent generations of one config")]
    Misrouted {
        /// The shard, in the sender's numbering.
        shard: ShardId,
    },
    /// The sender's numbering has no such shard.
    #[error("shard {shard} does not exist in the sender's generation")]
    UnknownShard {
        /// The shard.
        shard: ShardId,
    },
    /// The replica's store failed to write or read the shard.
    #[error("the store of this node failed on shard {shard}")]
    Storage {
        /// The shard, in the sender's numbering.
        shard: ShardId,
    },
    /// The replica's copy lost its data and has not caught up yet
    /// ([`Core::lost`](crate::Core::lost)): it takes writes, but serves no
    /// read or catch-up page, which would miss acknowledged writes. Sent
    /// for reads and catch-up pages only.
    #[error(
        "this node's copy of shard {shard} lost its data and is catching up from the other \
         copies; it serves no reads until it has caught up"
    )]
    CatchingUp {
        /// The shard, in the sender's numbering.
        shard: ShardId,
    },
}

impl Refusal {
    /// A short, stable, kebab-case name, the same as the `refusal` tag of
    /// its serialized form.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::Generation { .. } => "generation",
            Refusal::Identity { .. } => "identity",
            Refusal::NotHeld { .. } => "not-held",
            Refusal::NotWritable { .. } => "not-writable",
            Refusal::Misrouted { .. } => "misrouted",
            Refusal::UnknownShard { .. } => "unknown-shard",
            Refusal::Storage { .. } => "storage",
            Refusal::CatchingUp { .. } => "catching-up",
        }
    }
}

/// The text of [`Refusal::Identity`]: which of the two relations failed.
fn identity_message(ours: &ConfigIdentity, peer: &ConfigIdentity) -> String {
    let why = if peer.generation == ours.generation {
        format!(
            "the two nodes run different files of generation {}",
            ours.generation
        )
    } else if peer.generation > ours.generation {
        format!(
            "the request's file of generation {} was not made from this node's file of \
             generation {}",
            peer.generation, ours.generation
        )
    } else {
        format!(
            "this node's file of generation {} was not made from the request's file of \
             generation {}",
            ours.generation, peer.generation
        )
    };
    format!(
        "this node runs config {ours} and the request carries config {peer}: {why}; deploy \
         one plan's steps, the same files, to every node"
    )
}

/// A coordinator's write to one node: the points of each shard that node
/// holds a copy of, from one batch.
///
/// The batch is shared, not copied, by the requests to every node: each
/// request holds the batch and the runs of it that are its shards'. It
/// serializes as `{header, write, shards: [{shard, points: [...]}]}`, and
/// deserializes from that into a request of its own.
#[derive(Clone)]
pub struct WriteRequest<P> {
    /// The sender.
    pub header: Header,
    /// The write's id at its coordinator, which its answer names.
    pub write: u64,
    parts: Vec<Part>,
    batch: Arc<Batch<P>>,
}

/// One shard's run of a batch.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Part {
    pub(crate) shard: ShardId,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

/// A batch of points and their order grouped by shard.
#[derive(Debug)]
pub(crate) struct Batch<P> {
    pub(crate) points: Vec<P>,
    /// Indices into `points`, grouped by shard; each part is a run of it.
    pub(crate) order: Vec<u32>,
}

impl<P> WriteRequest<P> {
    pub(crate) fn from_parts(
        header: Header,
        write: u64,
        parts: Vec<Part>,
        batch: Arc<Batch<P>>,
    ) -> Self {
        WriteRequest {
            header,
            write,
            parts,
            batch,
        }
    }

    /// A request built from owned points, one list per shard: for a
    /// transport that decodes its own wire format, and for tests.
    pub fn new(header: Header, write: u64, shards: Vec<(ShardId, Vec<P>)>) -> Self {
        let mut points = Vec::new();
        let mut parts = Vec::with_capacity(shards.len());
        for (shard, list) in shards {
            let start = points.len() as u32;
            points.extend(list);
            parts.push(Part {
                shard,
                start,
                end: points.len() as u32,
            });
        }
        let order = (0..points.len() as u32).collect();
        WriteRequest {
            header,
            write,
            parts,
            batch: Arc::new(Batch { points, order }),
        }
    }

    /// Each shard of the request with its points, in the order sent.
    pub fn shards(&self) -> impl ExactSizeIterator<Item = ShardPoints<'_, P>> + '_ {
        self.parts.iter().map(move |part| self.part(part))
    }

    pub(crate) fn part(&self, part: &Part) -> ShardPoints<'_, P> {
        ShardPoints {
            shard: part.shard,
            order: &self.batch.order[part.start as usize..part.end as usize],
            points: &self.batch.points,
        }
    }

    /// The number of points the request carries, over every shard.
    pub fn point_count(&self) -> usize {
        self.parts.iter().map(|p| (p.end - p.start) as usize).sum()
    }
}

impl<P> fmt::Debug for WriteRequest<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteRequest")
            .field("header", &self.header)
            .field("write", &self.write)
            .field(
                "shards",
                &self
                    .parts
                    .iter()
                    .map(|p| (p.shard, p.end - p.start))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// One shard's points in a [`WriteRequest`].
#[derive(Debug)]
pub struct ShardPoints<'r, P> {
    /// The shard, in the sender's numbering.
    pub shard: ShardId,
    order: &'r [u32],
    points: &'r [P],
}

impl<P> Clone for ShardPoints<'_, P> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<P> Copy for ShardPoints<'_, P> {}

impl<'r, P> ShardPoints<'r, P> {
    /// The points, in the order the batch gave them.
    pub fn points(&self) -> impl ExactSizeIterator<Item = &'r P> + 'r {
        let points = self.points;
        self.order.iter().map(move |&i| &points[i as usize])
    }

    /// The number of points.
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }
}

impl<P: Serialize> Serialize for WriteRequest<P> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        struct Points<'a, P>(ShardPoints<'a, P>);
        impl<P: Serialize> Serialize for Points<'_, P> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut seq = serializer.serialize_seq(Some(self.0.len()))?;
                for point in self.0.points() {
                    seq.serialize_element(point)?;
                }
                seq.end()
            }
        }
        struct Shard<'a, P>(ShardPoints<'a, P>);
        impl<P: Serialize> Serialize for Shard<'_, P> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut s = serializer.serialize_struct("ShardPoints", 2)?;
                s.serialize_field("shard", &self.0.shard)?;
                s.serialize_field("points", &Points(self.0))?;
                s.end()
            }
        }
        struct Shards<'a, P>(&'a WriteRequest<P>);
        impl<P: Serialize> Serialize for Shards<'_, P> {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.collect_seq(self.0.shards().map(Shard))
            }
        }
        let mut s = serializer.serialize_struct("WriteRequest", 3)?;
        s.serialize_field("header", &self.header)?;
        s.serialize_field("write", &self.write)?;
        s.serialize_field("shards", &Shards(self))?;
        s.end()
    }
}

impl<'de, P: Deserialize<'de>> Deserialize<'de> for WriteRequest<P> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Shard<P> {
            shard: ShardId,
            points: Vec<P>,
        }
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Wire<P> {
            header: Header,
            write: u64,
            shards: Vec<Shard<P>>,
        }
        let wire = Wire::<P>::deserialize(deserializer)?;
        Ok(WriteRequest::new(
            wire.header,
            wire.write,
            wire.shards
                .into_iter()
                .map(|s| (s.shard, s.points))
                .collect(),
        ))
    }
}

/// A replica's answer to a [`WriteRequest`]: per shard, stored or refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WriteAnswer {
    /// The replica.
    pub header: Header,
    /// The write it answers.
    pub write: u64,
    /// One entry per shard of the request.
    pub shards: Vec<ShardAnswer>,
}

/// One shard's part of a [`WriteAnswer`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardAnswer {
    /// The shard, in the sender's numbering.
    pub shard: ShardId,
    /// `None` when the replica stored the shard's points.
    pub refusal: Option<Refusal>,
}

/// A coordinator's read of some shards from one node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadRequest {
    /// The sender.
    pub header: Header,
    /// The read's id at its coordinator.
    pub read: u64,
    /// Which points.
    pub filter: KeyFilter,
    /// The shards to read, in the sender's numbering.
    pub shards: Vec<ShardId>,
}

/// A replica's answer to a [`ReadRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadAnswer<P> {
    /// The replica.
    pub header: Header,
    /// The read it answers.
    pub read: u64,
    /// One entry per shard of the request.
    pub shards: Vec<ShardRows<P>>,
}

/// One shard's part of a [`ReadAnswer`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardRows<P> {
    /// The shard, in the sender's numbering.
    pub shard: ShardId,
    /// The matching points of the replica's copy; empty when refused.
    pub rows: Vec<P>,
    /// `Some` when the replica did not serve the shard: then `rows` does
    /// not count as a copy's answer.
    pub refusal: Option<Refusal>,
}

/// A joining copy's request for one page of a source's copy of a shard, in
/// [`PointId`] order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpRequest {
    /// The joining node.
    pub header: Header,
    /// The shard, in the joining node's numbering.
    pub shard: ShardId,
    /// The page starts after this point; from the first when `None`.
    pub after: Option<PointId>,
    /// At most this many points.
    pub limit: u32,
}

/// A source's page for a [`CatchUpRequest`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUpAnswer<P> {
    /// The source.
    pub header: Header,
    /// The shard, in the joining node's numbering.
    pub shard: ShardId,
    /// The page, in [`PointId`] order.
    pub points: Vec<P>,
    /// Whether the page ends the copy: no point follows the last.
    pub done: bool,
    /// `Some` when the source did not serve the shard.
    pub refusal: Option<Refusal>,
    /// The request's cursor, echoed: the joining node counts a page only
    /// for the request it is waiting on, never a late answer to an earlier
    /// page.
    pub after: Option<PointId>,
    /// The generation the request was sent under, echoed: an answer to a
    /// catch-up of an earlier generation never counts for a later one.
    pub asked: u64,
}

/// Every message of the protocol, for a transport that sends one type.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
#[serde(bound(deserialize = "P: Deserialize<'de>"))]
pub enum Message<P> {
    /// A write to a replica.
    Write(WriteRequest<P>),
    /// A replica's answer to one.
    WriteAnswer(WriteAnswer),
    /// A read of a replica.
    Read(ReadRequest),
    /// A replica's answer to one.
    ReadAnswer(ReadAnswer<P>),
    /// A catch-up page request to a source.
    CatchUp(CatchUpRequest),
    /// A source's page.
    CatchUpAnswer(CatchUpAnswer<P>),
    /// Asks a node for its generation.
    Probe(Header),
    /// A node's generation, answering a probe.
    ProbeAnswer(Header),
}

impl<P> Message<P> {
    /// The sender's header.
    pub fn header(&self) -> &Header {
        match self {
            Message::Write(m) => &m.header,
            Message::WriteAnswer(m) => &m.header,
            Message::Read(m) => &m.header,
            Message::ReadAnswer(m) => &m.header,
            Message::CatchUp(m) => &m.header,
            Message::CatchUpAnswer(m) => &m.header,
            Message::Probe(h) | Message::ProbeAnswer(h) => h,
        }
    }

    /// Whether the message answers a request this node sent (as opposed
    /// to a request for it to serve).
    pub fn is_answer(&self) -> bool {
        matches!(
            self,
            Message::WriteAnswer(_)
                | Message::ReadAnswer(_)
                | Message::CatchUpAnswer(_)
                | Message::ProbeAnswer(_)
        )
    }
}

/// Where a message goes: the node's id and address in the generation the
/// message was made under, and its index there (node-id order) for a
/// connection table.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Peer {
    /// The node's id.
    pub node: Arc<str>,
    /// Its `host:port` address.
    pub address: Arc<str>,
    /// Its index in that generation's config.
    pub index: u32,
}
