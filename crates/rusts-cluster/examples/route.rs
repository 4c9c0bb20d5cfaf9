//! Loads a cluster config, validates it, and routes a few keys.
//!
//! ```text
//! cargo run --example route -- examples/cluster.toml
//! cargo run --example route -- examples/cluster.toml cpu:42:1700000000000000000 mem:7:0
//! ```
//!
//! Each key is `measurement:series_id:timestamp_nanos`. Without keys, a few
//! sample keys are routed. Exit status: 0 when the config is valid, 1 when
//! it is not (every problem is printed), 2 on a usage error.

use std::process::ExitCode;

use rusts_cluster::prelude::*;

const USAGE: &str = "usage: route CONFIG.toml [MEASUREMENT:SERIES_ID:TIMESTAMP]...";

fn main() -> ExitCode {
    let mut args = std::env::args().skip(1);
    let Some(path) = args.next() else {
        eprintln!("{USAGE}");
        return ExitCode::from(2);
    };
    let keys: Result<Vec<ShardKey>, String> = args.map(|arg| parse_key(&arg)).collect();
    let keys = match keys {
        Ok(keys) if keys.is_empty() => sample_keys(),
        Ok(keys) => keys,
        Err(message) => {
            eprintln!("error: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&path, &keys) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(1)
        }
    }
}

fn run(path: &str, keys: &[ShardKey]) -> Result<(), String> {
    let config = ClusterConfig::from_file(path)
        .map_err(|e| format!("error: {:#}", ClusterError::from(e)))?;
    if let Err(e) = config.validate() {
        let mut text = format!("error: {path} is not a valid cluster config:");
        for problem in e.validation_errors() {
            text.push_str(&format!("\n  - {problem}"));
        }
        return Err(text);
    }
    for warning in config.warnings() {
        eprintln!("warning: {warning}");
    }
    let router = ShardRouter::from_config(&config).map_err(|e| format!("error: {e}"))?;
    let protocol = ReplicationProtocol::new(config.replication_mode, config.replication_factor);
    println!(
        "cluster {:?}: {} nodes, {} shards, {:?}, {} mode, replication factor {} ({} acks per write); this node: {}",
        config.cluster_name,
        config.nodes.len(),
        config.shard_count,
        config.sharding_strategy,
        config.replication_mode,
        config.replication_factor,
        protocol.required_acks(),
        // The shared file names no node, and this example runs as none.
        match router.node_id() {
            "" => "none",
            id => id,
        },
    );
    for key in keys {
        let shard = router.route(key).map_err(|e| format!("error: {e}"))?;
        let replicas = if shard.replicas.is_empty() {
            "none".to_owned()
        } else {
            shard.replicas.join(", ")
        };
        println!(
            "{}:{}:{} -> shard {} ({}), primary {} at {}, replicas: {}",
            key.measurement,
            key.series_id,
            key.timestamp,
            shard.id,
            shard.state,
            shard.primary,
            shard.address.as_deref().unwrap_or("unknown address"),
            replicas,
        );
    }
    Ok(())
}

fn parse_key(arg: &str) -> Result<ShardKey, String> {
    let mut parts = arg.rsplitn(3, ':');
    let (Some(timestamp), Some(series), Some(measurement)) =
        (parts.next(), parts.next(), parts.next())
    else {
        return Err(format!(
            "key {arg:?} is not MEASUREMENT:SERIES_ID:TIMESTAMP"
        ));
    };
    let series_id = series.parse().map_err(|_| {
        format!(
            "series id {series:?} in {arg:?} is not a number from 0 to {}",
            u64::MAX
        )
    })?;
    let timestamp = timestamp.parse().map_err(|_| {
        format!("timestamp {timestamp:?} in {arg:?} is not a number of nanoseconds (i64)")
    })?;
    Ok(ShardKey::new(measurement, series_id, timestamp))
}

fn sample_keys() -> Vec<ShardKey> {
    vec![
        ShardKey::new("cpu", 3, 1_700_000_000_000_000_000),
        ShardKey::new("cpu", 42, 1_700_000_000_000_000_000),
        ShardKey::new("mem", 7, 1_700_003_600_000_000_000),
        ShardKey::new("disk", 1_000_001, -1),
    ]
}
