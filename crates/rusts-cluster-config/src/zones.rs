//! Zones, and the warnings about how copies sit in them: zone spread and
//! the balance of primaries and replicas. What a zone is lives here, in the
//! crate that validates files, so that the `zone-spread` warning and the
//! placement planner (`rusts-cluster-placement`) can never disagree on it.

use std::collections::{BTreeMap, HashMap};

use crate::{copies::Distinct, ClusterConfig, CopyIndex, NodeConfig};

/// The tag that names a node's zone unless told otherwise: `zone`.
/// [`ClusterConfig::warnings`] reads it; `rusts-cluster-placement`
/// re-exports it as the default for placement.
pub const DEFAULT_ZONE_TAG: &str = "zone";

/// The zone of each node of `nodes` under `zone_tag`, as an index in order
/// of first appearance, and the number of zones. Nodes without the tag form
/// one zone together.
///
/// Shared with `rusts-cluster-placement` so that placement and the
/// `zone-spread` warning agree on what a zone is. Not part of this crate's
/// API: it may change in any release.
#[doc(hidden)]
pub fn zone_indices(nodes: &[NodeConfig], zone_tag: &str) -> (Vec<u32>, usize) {
    let mut index: HashMap<Option<&str>, u32> = HashMap::new();
    let zone_of = nodes
        .iter()
        .map(|n| {
            let key = n.tags.get(zone_tag).map(String::as_str);
            let next = index.len() as u32;
            *index.entry(key).or_insert(next)
        })
        .collect();
    (zone_of, index.len())
}

impl ClusterConfig {
    /// [`warnings`](ClusterConfig::warnings) with zones named by `zone_tag`
    /// instead of `zone`.
    ///
    /// ```
    /// use rusts_cluster_config::{ClusterConfig, NodeConfig};
    ///
    /// let mut config = ClusterConfig::single_node("a", "10.0.0.1:8086");
    /// config.replication_factor = 2;
    /// let mut b = NodeConfig::new("b", "10.0.0.2:8086");
    /// b.replica_shards = (0..16).collect();
    /// config.nodes.push(b);
    /// config.nodes.push(NodeConfig::new("c", "10.0.0.3:8086"));
    /// for (node, rack) in config.nodes.iter_mut().zip(["r1", "r1", "r2"]) {
    ///     node.tags.insert("rack".into(), rack.into());
    /// }
    /// // Both copies of every shard are in rack r1, though rack r2 exists.
    /// let codes: Vec<_> = config.warnings_for_zone_tag("rack").iter().map(|w| w.code()).collect();
    /// assert!(codes.contains(&"zone-spread"), "{codes:?}");
    /// assert!(config.warnings().iter().all(|w| w.code() != "zone-spread"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn warnings_for_zone_tag(&self, zone_tag: &str) -> Vec<crate::ValidationWarning> {
        crate::validate::warnings_for_zone_tag(self, zone_tag)
    }
}

/// A node id and a count.
type Count<'n> = (&'n str, usize);

/// Adds the zone-spread and balance warnings of `config` to `warnings`;
/// zone spread needs the config's copy index, which there is only for a
/// usable `shard_count`. Every choice of a node among equals is by id, so
/// node order in the file never changes a warning.
pub(crate) fn spread_and_balance_warnings(
    config: &ClusterConfig,
    index: Option<&CopyIndex>,
    zone_tag: &str,
    warnings: &mut Vec<crate::ValidationWarning>,
) {
    use crate::ValidationWarning;
    let (zone_of, z) = zone_indices(&config.nodes, zone_tag);
    let tagged = config.nodes.iter().any(|n| n.tags.contains_key(zone_tag));
    if let Some(index) = index.filter(|_| tagged && z > 1) {
        // Per shard, its copies (once per node) and the zones they are in,
        // each counted once by a stamp: one plus the last shard seen.
        let mut distinct = Distinct::new(index);
        let mut zone_seen = vec![0u32; z];
        let mut bad = Vec::new();
        for shard in 0..index.shard_count() {
            let (mut copies, mut zones) = (0, 0);
            distinct.each(index, shard, |copy| {
                copies += 1;
                let zone = &mut zone_seen[zone_of[index.position(copy.node)] as usize];
                if *zone != shard + 1 {
                    *zone = shard + 1;
                    zones += 1;
                }
            });
            if zones < copies.min(z) {
                bad.push(shard);
            }
        }
        if !bad.is_empty() {
            warnings.push(ValidationWarning::ZoneSpread {
                shards: bad,
                zone_tag: zone_tag.to_owned(),
                zones: z,
            });
        }
    }
    fn spread<'n>(
        nodes: &mut dyn Iterator<Item = (&'n str, usize)>,
    ) -> Option<(Count<'n>, Count<'n>)> {
        let mut most: Option<(&str, usize)> = None;
        let mut least: Option<(&str, usize)> = None;
        for (id, count) in nodes {
            if most.is_none_or(|(m, c)| count > c || (count == c && id < m)) {
                most = Some((id, count));
            }
            if least.is_none_or(|(m, c)| count < c || (count == c && id < m)) {
                least = Some((id, count));
            }
        }
        match (most, least) {
            (Some(most), Some(least)) if most.1 > least.1 + 1 => Some((most, least)),
            _ => None,
        }
    }
    if let Some((most, least)) =
        spread(&mut config.nodes.iter().map(|n| (n.id.as_str(), n.shards.len())))
    {
        warnings.push(ValidationWarning::PrimaryImbalance {
            most: most.0.to_owned(),
            most_count: most.1,
            least: least.0.to_owned(),
            least_count: least.1,
        });
    }
    let mut by_zone: BTreeMap<Option<&str>, Vec<&NodeConfig>> = BTreeMap::new();
    for node in &config.nodes {
        by_zone
            .entry(node.tags.get(zone_tag).map(String::as_str))
            .or_default()
            .push(node);
    }
    for (zone, nodes) in by_zone {
        if let Some((most, least)) = spread(
            &mut nodes
                .iter()
                .map(|n| (n.id.as_str(), n.replica_shards.len())),
        ) {
            warnings.push(ValidationWarning::ReplicaImbalance {
                zone: zone.map(str::to_owned),
                most: most.0.to_owned(),
                most_count: most.1,
                least: least.0.to_owned(),
                least_count: least.1,
            });
        }
    }
}
