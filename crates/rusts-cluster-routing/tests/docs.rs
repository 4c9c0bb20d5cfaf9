//! The messages `docs/queries.md` quotes are the ones the planner gives: a
//! changed message fails here, not in an operator's search of the docs.

use rusts_cluster_config::strategies::round_robin_cluster;
use rusts_cluster_routing::{Query, ShardRouter};
use rusts_cluster_sharding::ShardingStrategy;

const HOUR: i64 = 3_600_000_000_000;

/// The second column of each row of the `require_pruning` table.
fn quoted_refusals() -> Vec<String> {
    let doc = include_str!("../docs/queries.md");
    let table = doc
        .split("## Refusing a full fan-out")
        .nth(1)
        .expect("docs/queries.md has the `require_pruning` section");
    table
        .lines()
        .take_while(|line| !line.starts_with("## "))
        .filter(|line| line.starts_with("| `") && line.contains("query would read all"))
        .map(|line| {
            let message = line.rsplit('|').nth(1).unwrap().trim();
            message.trim_matches('`').to_owned()
        })
        .collect()
}

/// The refusal for `query` on a 16-shard cluster sharded by `strategy`.
fn refusal(strategy: ShardingStrategy, query: Query) -> String {
    let mut config = round_robin_cluster(16, 4, 2);
    config.sharding_strategy = strategy;
    let router = ShardRouter::from_config(&config).unwrap();
    match router.plan_query(&query.require_pruning()) {
        Err(e) => e.to_string(),
        Ok(plan) => panic!("{strategy:?}: planned {} shards", plan.shards().len()),
    }
}

#[test]
fn the_require_pruning_table_quotes_the_planner() {
    let thirty_days = 0..30 * 24 * HOUR;
    let by_time = ShardingStrategy::ByTime {
        duration_nanos: HOUR,
    };
    let composite = ShardingStrategy::Composite {
        time_duration_nanos: HOUR,
    };
    let every_series: Vec<u64> = (0..16).collect();
    // One query per row, in the table's order.
    let produced = vec![
        refusal(ShardingStrategy::ByMeasurement, Query::new()),
        refusal(ShardingStrategy::BySeries, Query::new()),
        refusal(by_time, Query::new()),
        refusal(composite, Query::new().series(&[1])),
        refusal(by_time, Query::new().time_range(thirty_days.clone())),
        refusal(
            ShardingStrategy::BySeries,
            Query::new().series(&every_series),
        ),
        refusal(
            composite,
            Query::new().series(&every_series).time_range(0..HOUR),
        ),
    ];
    assert_eq!(quoted_refusals(), produced);
}
