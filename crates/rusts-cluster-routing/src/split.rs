//! Serving peers across a split: while a split config rolls out, nodes on
//! the generation before it number shards `0..n` and nodes on the split
//! `0..k*n`. These functions map a peer's shard id to this router's.

use rusts_cluster_config::SplitFrom;
use rusts_cluster_sharding::{ShardId, ShardKeyRef, ShardSplit};

use crate::{snapshot::Snapshot, view::handle, RoutingError, ShardHandle, ShardRouter};

/// How a peer of some generation numbers its shards, seen from one
/// snapshot.
pub(crate) enum Numbering {
    /// The peer runs the generation a split was made from, or an older
    /// one: its shard `p` is the parent of this router's children of `p`.
    Parents(ShardSplit),
    /// The peer runs this router's generation, or an older one after the
    /// split: the same numbering.
    Same,
    /// The peer runs a newer generation: the same numbering, or a split of
    /// this one (the only change of the shard count a router takes), so
    /// its shard `c` is within this router's shard `c % n`.
    Newer,
}

pub(crate) fn numbering(snapshot: &Snapshot, peer_generation: u64) -> Numbering {
    let topology = &snapshot.topology;
    if let Some(from) = topology.config.split_from {
        if peer_generation <= from.generation {
            // Validation keeps `from.shard_count` a divisor of the shard
            // count, at least two times smaller; both fit a u32.
            let n = from.shard_count;
            if let Ok(split) = ShardSplit::new(n, snapshot.mapper.shard_count() / n.max(1)) {
                return Numbering::Parents(split);
            }
        }
    }
    if peer_generation > topology.generation {
        Numbering::Newer
    } else {
        Numbering::Same
    }
}

impl ShardRouter {
    /// The split that the config the router runs records (its
    /// `[split_from]`): the generation and shard count it was split from.
    /// Peers on that generation or older number shards the old way.
    pub fn split_from(&self) -> Option<SplitFrom> {
        self.table.load().topology.config.split_from
    }

    /// The shard to file a point under that a peer sent for its shard
    /// `peer_shard`, in the numbering of the peer's generation: the shard
    /// the key maps to in the generation this router runs, after checking
    /// that it is the peer's shard, one of its children (a peer still on
    /// the generation a split was made from) or its parent (a peer that
    /// took a split this router has not yet).
    ///
    /// This is how a node on a split generation takes a write from a node
    /// still on the generation before: the sender routed the key to parent
    /// `p` and sent it to `p`'s copies, which hold every child of `p`; the
    /// receiver files it under the child the key maps to now. Every
    /// request between nodes carries the sender's generation; check it
    /// first (peers more than one generation apart do not talk). Whether
    /// this node holds the shard is for the engine to check, on the
    /// returned handle, which is of one generation:
    /// `shard.holds(router.node_id())`.
    ///
    /// # Errors
    ///
    /// [`RoutingError::PeerGeneration`] when the peer's generation is not
    /// adjacent to this router's (checked against the same snapshot as
    /// the rest: [`ShardRouter::peer`]), and
    /// [`RoutingError::MisroutedKey`] when the key does not belong to the
    /// peer's shard in any of these readings: the two nodes shard keys
    /// differently.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    /// use rusts_cluster_sharding::ShardKeyRef;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?; // generation 0, 16 shards
    /// router.apply(&config.split(2)?)?; // generation 1, 32 shards
    ///
    /// // A node still on generation 0 sends series 19 to shard 3 (19 % 16);
    /// // this node files it under shard 19 (19 % 32), a child of 3.
    /// let key = ShardKeyRef::new("cpu", 19, 0);
    /// let shard = router.refile(0, 3, key)?;
    /// assert_eq!((shard.id, shard.generation()), (19, 1));
    /// assert!(shard.holds(router.node_id()));
    /// // Shard 4 of generation 0 does not hold series 19.
    /// assert!(router.refile(0, 4, key).is_err());
    /// // A peer three generations ahead is refused before anything is read.
    /// assert!(router.refile(4, 3, key).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn refile<'k>(
        &self,
        peer_generation: u64,
        peer_shard: ShardId,
        key: impl Into<ShardKeyRef<'k>>,
    ) -> Result<ShardHandle, RoutingError> {
        let peer = self.peer(peer_generation)?;
        let shard = peer.refile(peer_shard, key)?;
        Ok(handle(&peer.snapshot, shard))
    }

    /// The shards this node reads to answer a peer's read of its shard
    /// `peer_shard`, in the numbering of the peer's generation, sorted by
    /// id; empty when this node does not hold that data (answer "not
    /// held", an answer that never counts as a copy's).
    ///
    /// - A peer still on the generation a split was made from plans by
    ///   parents: the answer for parent `p` is the union of `p`'s
    ///   children, all of them. A node that holds only some of them (a
    ///   later generation moved some away) gets an empty list, since a
    ///   part of the parent must never count as a whole copy.
    /// - A peer on the same numbering reads shard `peer_shard` itself.
    /// - A peer on a newer generation that split asks for a child `c`
    ///   that this node still files under its parent `c % n`: the answer
    ///   is that parent, which holds `c`'s points and those of `c`'s
    ///   siblings. The query's own filter (series, time range) leaves
    ///   only points of keys that the peer's plan covers, and the peer
    ///   merges answers as a union on (series id, timestamp), so the
    ///   points of a sibling that it also reads appear once.
    ///
    /// # Errors
    ///
    /// [`RoutingError::PeerGeneration`] when the peer's generation is not
    /// adjacent to this router's, and [`RoutingError::ShardNotFound`] when
    /// the peer's numbering has no shard `peer_shard`.
    ///
    /// ```
    /// use rusts_cluster_config::ClusterConfig;
    /// use rusts_cluster_routing::ShardRouter;
    ///
    /// let config = ClusterConfig::from_file_as(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/cluster.toml"), "node1")?;
    /// let router = ShardRouter::from_config(&config)?; // node1: shards 0-7
    /// router.apply(&config.split(2)?)?;
    /// let ids = |shards: Vec<rusts_cluster_routing::ShardHandle>| {
    ///     shards.iter().map(|s| s.id).collect::<Vec<_>>()
    /// };
    /// // A generation-0 peer reads parent 3: children 3 and 19.
    /// assert_eq!(ids(router.shards_for_peer_read(0, 3)?), [3, 19]);
    /// // node1 holds no copy of parent 12.
    /// assert!(router.shards_for_peer_read(0, 12)?.is_empty());
    /// // A generation-1 peer reads child 19 itself.
    /// assert_eq!(ids(router.shards_for_peer_read(1, 19)?), [19]);
    /// assert!(router.shards_for_peer_read(0, 16).is_err()); // generation 0 had 16 shards
    /// assert!(router.shards_for_peer_read(999, 3).is_err()); // not adjacent
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn shards_for_peer_read(
        &self,
        peer_generation: u64,
        peer_shard: ShardId,
    ) -> Result<Vec<ShardHandle>, RoutingError> {
        let peer = self.peer(peer_generation)?;
        let shards = peer.read_shards(peer_shard)?;
        Ok(shards
            .into_iter()
            .map(|s| handle(&peer.snapshot, s))
            .collect())
    }
}
