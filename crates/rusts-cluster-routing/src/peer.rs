//! A peer's request, checked and served against one snapshot.

use std::sync::Arc;

use rusts_cluster_sharding::{ShardId, ShardKeyRef};

use crate::{
    snapshot::Snapshot,
    split::{numbering, Numbering},
    view::ShardView,
    RoutingError, ShardRouter,
};

/// This router's snapshot as a peer of generation
/// [`peer_generation`](Self::peer_generation) sees it: the generation check
/// done once, and every answer for the peer's request read from the same
/// snapshot. From [`ShardRouter::peer`].
///
/// Checking the peer's generation with one call and then reading the shard
/// with another loads two snapshots, and a newer config applied between
/// the two would serve the peer from a generation it was never checked
/// against. A `PeerView` cannot: it holds the snapshot it checked. Hold it
/// for one request, not longer: it keeps that snapshot alive.
#[derive(Debug)]
pub struct PeerView {
    pub(crate) snapshot: Arc<Snapshot>,
    peer_generation: u64,
    /// This router's node index in the snapshot, if the node is in it.
    node: Option<u32>,
}

impl ShardRouter {
    /// Checks a peer's generation against the config this router runs now
    /// and returns the snapshot it was checked against, to serve the
    /// peer's request from: a peer at `g - 1`, `g` or `g + 1` may be
    /// served, any other is refused.
    ///
    /// # Errors
    ///
    /// [`RoutingError::PeerGeneration`], naming both generations.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::ShardKeyRef;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?; // generation 0, node1
    /// let peer = router.peer(1)?;
    /// let shard = peer.refile(3, ShardKeyRef::new("cpu", 19, 0))?;
    /// assert_eq!(shard, 3);
    /// assert!(peer.holds(shard));
    /// assert_eq!(peer.read_shards(3)?, [3]);
    /// assert!(router.peer(2).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn peer(&self, peer_generation: u64) -> Result<PeerView, RoutingError> {
        let snapshot = self.table.load_full();
        let ours = snapshot.topology.generation;
        if peer_generation.abs_diff(ours) > 1 {
            return Err(RoutingError::PeerGeneration {
                ours,
                peer: peer_generation,
            });
        }
        let node = snapshot.topology.node_index(self.node_id());
        Ok(PeerView {
            snapshot,
            peer_generation,
            node,
        })
    }
}

impl PeerView {
    /// This router's generation, in the snapshot the peer was checked
    /// against.
    pub fn generation(&self) -> u64 {
        self.snapshot.topology.generation
    }

    /// The generation the peer's request carried.
    pub fn peer_generation(&self) -> u64 {
        self.peer_generation
    }

    /// The shard, in this router's numbering, to file a point under that
    /// the peer sent for its shard `peer_shard`; see
    /// [`ShardRouter::refile`].
    ///
    /// # Errors
    ///
    /// [`RoutingError::MisroutedKey`] when the key does not belong to the
    /// peer's shard.
    pub fn refile<'k>(
        &self,
        peer_shard: ShardId,
        key: impl Into<ShardKeyRef<'k>>,
    ) -> Result<ShardId, RoutingError> {
        let snapshot = &self.snapshot;
        let shard = snapshot.mapper.compute_shard(key);
        let n = snapshot.mapper.shard_count();
        let belongs = match numbering(snapshot, self.peer_generation) {
            Numbering::Parents(split) => split.is_child_of(shard, peer_shard),
            Numbering::Same => shard == peer_shard,
            Numbering::Newer => shard == peer_shard % n.max(1),
        };
        if belongs {
            Ok(shard)
        } else {
            Err(RoutingError::MisroutedKey {
                peer_generation: self.peer_generation,
                peer_shard,
                generation: snapshot.topology.generation,
                shard,
            })
        }
    }

    /// The shards, in this router's numbering and ascending, that this node
    /// reads to answer the peer's read of its shard `peer_shard`; empty
    /// when this node does not hold that data. See
    /// [`ShardRouter::shards_for_peer_read`].
    ///
    /// # Errors
    ///
    /// [`RoutingError::ShardNotFound`] when the peer's numbering has no
    /// shard `peer_shard`.
    pub fn read_shards(&self, peer_shard: ShardId) -> Result<Vec<ShardId>, RoutingError> {
        let snapshot = &self.snapshot;
        let n = snapshot.mapper.shard_count();
        let holds = |shard: ShardId| self.holds(shard);
        Ok(match numbering(snapshot, self.peer_generation) {
            Numbering::Parents(split) => {
                if peer_shard >= split.parent_count() {
                    return Err(RoutingError::ShardNotFound {
                        shard: peer_shard,
                        shard_count: split.parent_count(),
                    });
                }
                // Ascending already: p, p + n, ...; a node that holds only
                // some children must not answer for the whole parent.
                let children = split.children_of(peer_shard);
                if children.clone().all(holds) {
                    children.collect()
                } else {
                    Vec::new()
                }
            }
            Numbering::Same => {
                if peer_shard >= n {
                    return Err(RoutingError::ShardNotFound {
                        shard: peer_shard,
                        shard_count: n,
                    });
                }
                [peer_shard].into_iter().filter(|&s| holds(s)).collect()
            }
            Numbering::Newer => [peer_shard % n.max(1)]
                .into_iter()
                .filter(|&s| holds(s))
                .collect(),
        })
    }

    /// The shard, in this router's numbering, that every point the peer
    /// sends for its shard `peer_shard` files under, when one shard takes
    /// them all: the same shard when both number alike, its parent
    /// `peer_shard % n` when the peer took a split this router has not yet.
    /// `None` when the peer numbers by parents (it runs the generation this
    /// router's split was made from): each point then files under the
    /// child its key maps to, found with [`refile`](Self::refile).
    ///
    /// Adjacent generations have the same strategy, and the same shard
    /// count or a split of it (`apply` refuses any other change), so the
    /// peer's routing of a key agrees with this router's; this trusts it
    /// rather than mapping every point again. Use
    /// [`refile`](Self::refile) to check a point the peer may have
    /// misrouted.
    pub fn local_shard(&self, peer_shard: ShardId) -> Option<ShardId> {
        let n = self.snapshot.mapper.shard_count();
        match numbering(&self.snapshot, self.peer_generation) {
            Numbering::Parents(_) => None,
            Numbering::Same => Some(peer_shard),
            Numbering::Newer => Some(peer_shard % n.max(1)),
        }
    }

    /// Whether this node holds a copy of shard `shard` (this router's
    /// numbering) in this snapshot, in any copy state.
    pub fn holds(&self, shard: ShardId) -> bool {
        self.node.is_some_and(|node| {
            self.snapshot
                .topology
                .held(node)
                .binary_search(&shard)
                .is_ok()
        })
    }

    /// Shard `shard` (this router's numbering) in this snapshot, with its
    /// state, or `None` past the shard count.
    pub fn shard(&self, shard: ShardId) -> Option<ShardView<'_>> {
        ((shard as usize) < self.snapshot.shards.len()).then(|| ShardView {
            snapshot: &self.snapshot,
            index: shard,
        })
    }
}
