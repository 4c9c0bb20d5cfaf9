//! The replica's side: one call, against one snapshot, admits or refuses
//! a peer's request.

use std::sync::Arc;

use rusts_cluster_config::ConfigIdentity;
use rusts_cluster_routing::{PeerView, RoutingError, ShardRouter};
use rusts_cluster_sharding::ShardId;

use crate::{
    message::{
        CatchUpAnswer, CatchUpRequest, Header, ReadAnswer, ReadRequest, Refusal, ShardAnswer,
        ShardPoints, ShardRows, WriteAnswer, WriteRequest,
    },
    point::Point,
};

/// How one shard of a request is filed here.
#[derive(Clone, Debug)]
enum Filing {
    /// Every point under this local shard.
    One(ShardId),
    /// Each point under the child its key maps to (a peer that numbers by
    /// parents); `kept` says from which view.
    Refile {
        kept: bool,
    },
    Refused(Refusal),
}

/// The views a request is admitted against: this node's current
/// generation and, for a sender on the generation before, that one's,
/// whose copies this node still keeps.
pub(crate) struct Views {
    pub(crate) current: Result<PeerView, Refusal>,
    pub(crate) kept: Option<PeerView>,
    /// This node's copies (current numbering, ascending) that lost their
    /// data and have not caught up: they take writes, serve no reads.
    pub(crate) catching_up: Arc<[ShardId]>,
}

/// This node's config identity and that of the config it ran before (when
/// it knows it), which a sender's [`Header`] is checked against.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lineage {
    pub(crate) current: ConfigIdentity,
    pub(crate) previous: Option<ConfigIdentity>,
}

impl Lineage {
    /// Why a peer whose header is `peer` runs a config this node must not
    /// serve or count, by its identity; `None` when the digests agree, or
    /// when the one to compare is unknown. Generations more than one apart
    /// are [`Refusal::Generation`]'s, not checked here.
    ///
    /// Each rule compares the lower node's current digest with the higher
    /// node's previous one, so the two sides of a pair reach the same
    /// verdict from what each knows (decision 0039).
    pub(crate) fn conflict(&self, peer: &Header) -> Option<Refusal> {
        let ours = self.current;
        let differs = if peer.generation == ours.generation {
            peer.identity != ours.digest
        } else if peer.generation.checked_add(1) == Some(ours.generation) {
            self.previous.is_some_and(|p| p.digest != peer.identity)
        } else if ours.generation.checked_add(1) == Some(peer.generation) {
            peer.previous.is_some_and(|p| p != ours.digest)
        } else {
            false
        };
        differs.then_some(Refusal::Identity {
            ours,
            peer: ConfigIdentity {
                generation: peer.generation,
                digest: peer.identity,
            },
        })
    }
}

impl Views {
    pub(crate) fn new(
        router: &ShardRouter,
        kept: Option<&ShardRouter>,
        ours: &Lineage,
        header: &Header,
        catching_up: Arc<[ShardId]>,
    ) -> Self {
        let peer = header.generation;
        let current = router
            .peer(peer)
            .map_err(|error| match error {
                RoutingError::PeerGeneration { ours, peer } => Refusal::Generation { ours, peer },
                _ => Refusal::Generation {
                    ours: router.generation(),
                    peer,
                },
            })
            .and_then(|view| match ours.conflict(header) {
                Some(refusal) => Err(refusal),
                None => Ok(view),
            });
        // Kept copies serve a sender on exactly the generation they were
        // held in.
        let kept = kept
            .filter(|k| k.generation() == peer && current.is_ok())
            .and_then(|k| k.peer(peer).ok());
        Views {
            current,
            kept,
            catching_up,
        }
    }

    fn view(&self, kept: bool) -> Option<&PeerView> {
        if kept {
            self.kept.as_ref()
        } else {
            self.current.as_ref().ok()
        }
    }

    /// Which view holds the data of the peer's shard `peer_shard`: the
    /// current one, or the kept one.
    fn holder(&self, peer_shard: ShardId, write: bool) -> Result<(bool, &PeerView), Refusal> {
        let current = self.current.as_ref().map_err(|r| *r)?;
        let holds = |view: &PeerView| match view.local_shard(peer_shard) {
            Some(local) => view.holds(local),
            None => view.read_shards(peer_shard).is_ok_and(|s| !s.is_empty()),
        };
        if holds(current) {
            if write {
                if let Some(local) = current.local_shard(peer_shard) {
                    let shard = current
                        .shard(local)
                        .ok_or(Refusal::UnknownShard { shard: peer_shard })?;
                    if !shard.can_write() {
                        return Err(Refusal::NotWritable {
                            shard: local,
                            state: shard.state,
                        });
                    }
                }
            }
            return Ok((false, current));
        }
        match &self.kept {
            Some(kept) if holds(kept) => Ok((true, kept)),
            _ => Err(Refusal::NotHeld {
                shard: peer_shard,
                generation: current.generation(),
            }),
        }
    }
}

/// A peer's write, admitted or refused shard by shard against one
/// snapshot. From [`Core::admit_write`](crate::Core::admit_write).
///
/// Store [`points`](Self::points), each under the local shard given, in
/// one durable step; then send [`answer`](Self::answer) back to the
/// request's sender.
pub struct WriteAdmission<'r, P> {
    header: Header,
    request: &'r WriteRequest<P>,
    views: Views,
    filings: Vec<Filing>,
}

impl<P> std::fmt::Debug for WriteAdmission<'_, P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteAdmission")
            .field("write", &self.request.write)
            .field("filings", &self.filings)
            .finish_non_exhaustive()
    }
}

impl<'r, P: Point> WriteAdmission<'r, P> {
    pub(crate) fn new(header: Header, request: &'r WriteRequest<P>, views: Views) -> Self {
        let filings = request.shards().map(|part| file(&views, &part)).collect();
        WriteAdmission {
            header,
            request,
            views,
            filings,
        }
    }

    /// Whether at least one shard was admitted: there is something to
    /// store.
    pub fn is_admitted(&self) -> bool {
        self.filings
            .iter()
            .any(|f| !matches!(f, Filing::Refused(_)))
    }

    /// The shards refused, in the sender's numbering, with why.
    pub fn refusals(&self) -> impl Iterator<Item = (ShardId, Refusal)> + '_ {
        self.request
            .shards()
            .zip(&self.filings)
            .filter_map(|(part, filing)| match filing {
                Filing::Refused(r) => Some((part.shard, *r)),
                _ => None,
            })
    }

    /// Every admitted point, with the shard to file it under in this
    /// node's numbering.
    pub fn points(&self) -> impl Iterator<Item = (ShardId, &'r P)> + '_ {
        self.request
            .shards()
            .zip(&self.filings)
            .flat_map(move |(part, filing)| {
                let shard = part.shard;
                let view = match filing {
                    Filing::Refile { kept } => self.views.view(*kept),
                    _ => None,
                };
                let one = match filing {
                    Filing::One(local) => Some(*local),
                    _ => None,
                };
                let admitted = !matches!(filing, Filing::Refused(_));
                part.points().filter(move |_| admitted).map(move |point| {
                    let local = one
                        .or_else(|| view.and_then(|v| v.refile(shard, point.key()).ok()))
                        .unwrap_or(shard);
                    (local, point)
                })
            })
    }

    /// The answer to send: each admitted shard stored when `stored` is
    /// true, or refused with [`Refusal::Storage`] when the store failed;
    /// each refused shard with its refusal.
    pub fn answer(&self, stored: bool) -> WriteAnswer {
        WriteAnswer {
            header: self.header.clone(),
            write: self.request.write,
            shards: self
                .request
                .shards()
                .zip(&self.filings)
                .map(|(part, filing)| ShardAnswer {
                    shard: part.shard,
                    refusal: match filing {
                        Filing::Refused(r) => Some(*r),
                        _ if stored => None,
                        _ => Some(Refusal::Storage { shard: part.shard }),
                    },
                })
                .collect(),
        }
    }
}

fn file<P: Point>(views: &Views, part: &ShardPoints<'_, P>) -> Filing {
    let (kept, view) = match views.holder(part.shard, true) {
        Ok(found) => found,
        Err(refusal) => return Filing::Refused(refusal),
    };
    if let Some(local) = view.local_shard(part.shard) {
        return Filing::One(local);
    }
    // The peer numbers by parents: every point must map to a child of the
    // parent, and each child must be held and writable here.
    for point in part.points() {
        let Ok(local) = view.refile(part.shard, point.key()) else {
            return Filing::Refused(Refusal::Misrouted { shard: part.shard });
        };
        if !view.holds(local) {
            return Filing::Refused(Refusal::NotHeld {
                shard: part.shard,
                generation: view.generation(),
            });
        }
        if let Some(shard) = view.shard(local).filter(|s| !s.can_write()) {
            return Filing::Refused(Refusal::NotWritable {
                shard: local,
                state: shard.state,
            });
        }
    }
    Filing::Refile { kept }
}

/// The local shards that hold the data of a peer's shard, or why none is
/// served.
fn read_shards(views: &Views, peer_shard: ShardId) -> Result<Vec<ShardId>, Refusal> {
    let (kept, view) = views.holder(peer_shard, false)?;
    match view.read_shards(peer_shard) {
        // A copy that lost its data answers no read: its rows would miss
        // acknowledged writes, and count as a copy's answer.
        Ok(shards)
            if !kept
                && shards
                    .iter()
                    .any(|s| views.catching_up.binary_search(s).is_ok()) =>
        {
            Err(Refusal::CatchingUp { shard: peer_shard })
        }
        Ok(shards) if !shards.is_empty() => Ok(shards),
        Ok(_) => Err(Refusal::NotHeld {
            shard: peer_shard,
            generation: view.generation(),
        }),
        Err(_) => Err(Refusal::UnknownShard { shard: peer_shard }),
    }
}

/// A peer's read, admitted or refused shard by shard against one
/// snapshot. From [`Core::admit_read`](crate::Core::admit_read).
#[derive(Debug)]
pub struct ReadAdmission<'r> {
    header: Header,
    request: &'r ReadRequest,
    shards: Vec<Result<Vec<ShardId>, Refusal>>,
}

impl<'r> ReadAdmission<'r> {
    pub(crate) fn new(header: Header, request: &'r ReadRequest, views: &Views) -> Self {
        let shards = request
            .shards
            .iter()
            .map(|&s| read_shards(views, s))
            .collect();
        ReadAdmission {
            header,
            request,
            shards,
        }
    }

    /// Each shard of the request (sender's numbering) with the local
    /// shards to read for it, or its refusal.
    pub fn shards(&self) -> impl Iterator<Item = (ShardId, Result<&[ShardId], Refusal>)> + '_ {
        self.request
            .shards
            .iter()
            .zip(&self.shards)
            .map(|(&s, r)| (s, r.as_deref().map_err(|e| *e)))
    }

    /// The answer: for each admitted shard, the rows `read` returns for
    /// its local shards and the request's filter (`None` when the store
    /// failed, refused with [`Refusal::Storage`]); each refused shard with
    /// its refusal.
    pub fn answer<P>(
        &self,
        mut read: impl FnMut(&[ShardId], &rusts_cluster_routing::KeyFilter) -> Option<Vec<P>>,
    ) -> ReadAnswer<P> {
        ReadAnswer {
            header: self.header.clone(),
            read: self.request.read,
            shards: self
                .shards()
                .map(|(shard, admitted)| {
                    let result = admitted.and_then(|local| {
                        read(local, &self.request.filter).ok_or(Refusal::Storage { shard })
                    });
                    match result {
                        Ok(rows) => ShardRows {
                            shard,
                            rows,
                            refusal: None,
                        },
                        Err(refusal) => ShardRows {
                            shard,
                            rows: Vec::new(),
                            refusal: Some(refusal),
                        },
                    }
                })
                .collect(),
        }
    }
}

/// A joining copy's catch-up request, admitted or refused against one
/// snapshot, by the same rule as a read. From
/// [`Core::admit_catch_up`](crate::Core::admit_catch_up).
#[derive(Debug)]
pub struct CatchUpAdmission<'r> {
    header: Header,
    request: &'r CatchUpRequest,
    shards: Result<Vec<ShardId>, Refusal>,
}

impl<'r> CatchUpAdmission<'r> {
    pub(crate) fn new(header: Header, request: &'r CatchUpRequest, views: &Views) -> Self {
        CatchUpAdmission {
            header,
            request,
            shards: read_shards(views, request.shard),
        }
    }

    /// The local shards to page through, or why the source refuses.
    pub fn shards(&self) -> Result<&[ShardId], Refusal> {
        self.shards.as_deref().map_err(|e| *e)
    }

    /// The request's page bounds: after which point, and how many.
    pub fn page(&self) -> (Option<&crate::PointId>, u32) {
        (self.request.after.as_ref(), self.request.limit.max(1))
    }

    /// The answer: the page `read` returns for the local shards (at most
    /// the request's limit, in [`PointId`](crate::PointId) order, after its
    /// cursor) and whether it is the last; `None` when the store failed.
    pub fn answer<P>(
        &self,
        read: impl FnOnce(&[ShardId], Option<&crate::PointId>, u32) -> Option<(Vec<P>, bool)>,
    ) -> CatchUpAnswer<P> {
        let (after, limit) = self.page();
        let result = self.shards().and_then(|local| {
            read(local, after, limit).ok_or(Refusal::Storage {
                shard: self.request.shard,
            })
        });
        let (points, done, refusal) = match result {
            Ok((points, done)) => (points, done, None),
            Err(refusal) => (Vec::new(), false, Some(refusal)),
        };
        CatchUpAnswer {
            header: self.header.clone(),
            shard: self.request.shard,
            points,
            done,
            refusal,
            after: self.request.after.clone(),
            asked: self.request.header.generation,
        }
    }
}
