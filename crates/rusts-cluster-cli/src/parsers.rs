//! Parsers of argument values that clap cannot parse alone. Each error
//! names the value and shows a correct one; clap turns it into a usage
//! error (exit 2).

use rusts_cluster_config::{ClusterConfig, ConfigError, NodeConfig, ValidationErrorKind};
use rusts_cluster_sharding::ShardingStrategy;

pub(crate) use crate::timestamp::parse_timestamp;

/// `TAG=VALUE`.
pub(crate) fn parse_tag(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not TAG=VALUE, e.g. zone=us-east-1a"))
}

/// `ID=HOST:PORT[,TAG=VALUE...]`. The address is checked by the config
/// crate's own rule, so that a node the command line accepts never fails
/// validation for its address.
pub(crate) fn parse_node(text: &str) -> Result<NodeConfig, String> {
    let mut parts = text.split(',');
    let first = parts.next().unwrap_or_default();
    let (id, address) = first
        .split_once('=')
        .filter(|(id, address)| !id.is_empty() && !address.is_empty())
        .ok_or_else(|| format!("`{first}` is not ID=HOST:PORT, e.g. node1=10.0.1.1:8086"))?;
    if let Some(problem) = address_problem(address) {
        return Err(format!(
            "`{first}`: the address `{address}` is not HOST:PORT: {problem}; e.g. {id}=10.0.1.1:8086"
        ));
    }
    let mut node = NodeConfig::new(id, address);
    for tag in parts {
        let (key, value) = tag
            .split_once('=')
            .filter(|(key, _)| !key.is_empty())
            .ok_or_else(|| format!("tag `{tag}` is not TAG=VALUE, e.g. zone=us-east-1a"))?;
        node.tags.insert(key.to_owned(), value.to_owned());
    }
    Ok(node)
}

/// What is wrong with `address`, by the rule `validate` applies to a
/// node's address.
fn address_problem(address: &str) -> Option<String> {
    let errors = match ClusterConfig::single_node("node", address).validate() {
        Ok(()) => return None,
        Err(ConfigError::Invalid { errors }) => errors,
        Err(other) => return Some(other.to_string()),
    };
    errors.iter().find_map(|e| match e.kind() {
        ValidationErrorKind::InvalidAddress { problem, .. } => Some(problem.to_string()),
        _ => None,
    })
}

/// `BySeries`, `ByMeasurement`, `ByTime:NANOS` or `Composite:NANOS`, in any
/// case.
pub(crate) fn parse_strategy(text: &str) -> Result<ShardingStrategy, String> {
    let nanos = |n: &str| {
        n.parse::<i64>()
            .map_err(|_| format!("`{n}` is not a duration in nanoseconds, e.g. 3600000000000"))
    };
    let (name, duration) = match text.split_once(':') {
        Some((name, duration)) => (name, Some(duration)),
        None => (text, None),
    };
    match (name.to_ascii_lowercase().as_str(), duration) {
        ("byseries", None) => Ok(ShardingStrategy::BySeries),
        ("bymeasurement", None) => Ok(ShardingStrategy::ByMeasurement),
        ("bytime", Some(n)) => Ok(ShardingStrategy::ByTime {
            duration_nanos: nanos(n)?,
        }),
        ("composite", Some(n)) => Ok(ShardingStrategy::Composite {
            time_duration_nanos: nanos(n)?,
        }),
        ("bytime" | "composite", None) => Err(format!(
            "`{text}` needs a bucket width: {text}:NANOS, e.g. {text}:3600000000000 for one hour"
        )),
        _ => Err(format!(
            "`{text}` is not a strategy; use BySeries, ByMeasurement, ByTime:NANOS or Composite:NANOS"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strategies_parse_in_any_case() {
        for text in ["BySeries", "byseries", "BYSERIES"] {
            assert_eq!(parse_strategy(text), Ok(ShardingStrategy::BySeries));
        }
        assert_eq!(
            parse_strategy("bytime:60"),
            Ok(ShardingStrategy::ByTime { duration_nanos: 60 })
        );
        assert_eq!(
            parse_strategy("COMPOSITE:7"),
            Ok(ShardingStrategy::Composite {
                time_duration_nanos: 7
            })
        );
        assert!(parse_strategy("ByTime")
            .unwrap_err()
            .contains("ByTime:NANOS"));
        assert!(parse_strategy("ByHash").unwrap_err().contains("`ByHash`"));
        assert!(parse_strategy("ByTime:x").unwrap_err().contains("`x`"));
    }

    #[test]
    fn a_node_needs_a_valid_address() {
        let node = parse_node("a=10.0.0.1:8086,zone=z1").unwrap();
        assert_eq!(
            (node.id.as_str(), node.address.as_str()),
            ("a", "10.0.0.1:8086")
        );
        assert_eq!(node.tags["zone"], "z1");
        let err = parse_node("a=10.0.0.1").unwrap_err();
        assert!(err.contains("`10.0.0.1`") && err.contains(":port"), "{err}");
        assert!(parse_node("a=10.0.0.1:0").unwrap_err().contains("port"));
        assert!(parse_node("a=::1:80").unwrap_err().contains("brackets"));
        assert!(parse_node("a").unwrap_err().contains("ID=HOST:PORT"));
        assert!(parse_node("a=h:1,zone").unwrap_err().contains("TAG=VALUE"));
    }

    #[test]
    fn tags_need_both_sides() {
        assert_eq!(parse_tag("zone=z1"), Ok(("zone".into(), "z1".into())));
        assert!(parse_tag("zone=").is_err());
        assert!(parse_tag("=z1").is_err());
    }
}
