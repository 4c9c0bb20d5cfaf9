//! `rusts-cluster`: the operator's tool for RusTs cluster files.
//!
//! It validates, shows and routes against a cluster config, generates
//! balanced zone-aware placements, plans minimal-movement rebalances and
//! diffs two configs. The tool is thin: it parses arguments, calls
//! `rusts-cluster-config` and `rusts-cluster-routing`, and prints. Exit codes:
//! 0 ok, 1 the config or plan has a problem, 2 a usage error. Problems go to
//! stderr; `--format json` reports go to stdout (see `docs/operations.md`).
//!
//! To add a subcommand: add a variant to [`Command`] with its args struct,
//! and a `fn name(args) -> Outcome` that the `match` in `run` calls.

use std::{
    fs,
    io::Write as _,
    path::{Path, PathBuf},
    process::ExitCode,
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use comfy_table::{presets::UTF8_FULL_CONDENSED, CellAlignment, Table};
use rusts_cluster_config::{
    balance, plan_moves, zone_count, ClusterConfig, ConfigError, MovePlan, NodeConfig, SourceMap,
    ValidationWarning, DEFAULT_ZONE_TAG,
};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::{Query, ShardRouter};
use rusts_cluster_sharding::{ShardKeyRef, ShardingStrategy};
use serde_json::{json, Value};

/// The operator's tool for RusTs cluster config files.
#[derive(Debug, Parser)]
#[command(name = "rusts-cluster", version, about, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 the config or plan has a problem, 2 usage error.\n\
Example:\n  rusts-cluster validate examples/cluster.toml"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
enum Command {
    /// Check a config: every error with its line and column, then warnings.
    #[command(after_help = "Example:\n  rusts-cluster validate cluster.toml --deny-warnings")]
    Validate(ValidateArgs),
    /// Show each node's shards and the shard map.
    #[command(after_help = "Example:\n  rusts-cluster show examples/cluster.toml")]
    Show(ShowArgs),
    /// Route one key: shard, state, primary, replicas, acks required.
    #[command(
        after_help = "Example:\n  rusts-cluster route examples/cluster.toml --measurement cpu --series-id 42 --timestamp 1700000000000000000"
    )]
    Route(RouteArgs),
    /// Plan a query: the shards it must read and the node to read each from.
    #[command(
        after_help = "Example:\n  rusts-cluster plan-query examples/cluster.toml --series-id 1 --series-id 9 --down node2\n\n\
Exit code 1 when a needed shard has no readable copy (the plan is still printed),\n\
or with --require-pruning when the query would read every shard."
    )]
    PlanQuery(PlanQueryArgs),
    /// Write a new, balanced, zone-aware config for a set of nodes.
    #[command(
        after_help = "Example:\n  rusts-cluster generate --node a=10.0.1.1:8086,zone=z1 --node b=10.0.1.2:8086,zone=z2 \\\n    --shards 64 --replication-factor 2 --output cluster.toml"
    )]
    Generate(GenerateArgs),
    /// Add or remove nodes, moving as few shard copies as possible.
    #[command(
        after_help = "Example:\n  rusts-cluster rebalance cluster.toml --add-node d=10.0.1.4:8086,zone=z1 --output new.toml"
    )]
    Rebalance(RebalanceArgs),
    /// The moves between two configs, and shards a move would put at risk.
    #[command(after_help = "Example:\n  rusts-cluster diff cluster.toml new.toml")]
    Diff(DiffArgs),
}

/// How a report is printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// Aligned text for a terminal.
    Text,
    /// One JSON document on stdout, for scripts.
    Json,
}

#[derive(Debug, Args)]
struct FormatArg {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
}

#[derive(Debug, Args)]
struct ValidateArgs {
    /// The config file.
    file: PathBuf,
    /// Check as this node (replaces the file's `node_id`).
    #[arg(long)]
    node_id: Option<String>,
    /// Exit 1 when there are warnings, not only errors.
    #[arg(long)]
    deny_warnings: bool,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    zone_tag: String,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct ShowArgs {
    /// The config file.
    file: PathBuf,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    zone_tag: String,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct RouteArgs {
    /// The config file.
    file: PathBuf,
    /// The measurement of the key.
    #[arg(long)]
    measurement: String,
    /// The series id of the key.
    #[arg(long)]
    series_id: u64,
    /// The timestamp of the key, in nanoseconds since the epoch.
    #[arg(long, allow_hyphen_values = true)]
    timestamp: i64,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct PlanQueryArgs {
    /// The config file.
    file: PathBuf,
    /// Only points of this measurement.
    #[arg(long)]
    measurement: Option<String>,
    /// Only points of this series; repeat for several.
    #[arg(long = "series-id")]
    series_ids: Vec<u64>,
    /// The start of the time range, in nanoseconds since the epoch
    /// (inclusive).
    #[arg(long, allow_hyphen_values = true, requires = "to")]
    from: Option<i64>,
    /// The end of the time range, in nanoseconds since the epoch
    /// (exclusive).
    #[arg(long, allow_hyphen_values = true, requires = "from")]
    to: Option<i64>,
    /// Plan as if this node were down; repeat for several.
    #[arg(long = "down")]
    down: Vec<String>,
    /// Read from copies on nodes with this TAG=VALUE first, e.g. zone=us-east-1a.
    #[arg(long, value_parser = parse_tag)]
    prefer: Option<(String, String)>,
    /// Refuse (exit 1) a query that would read every shard.
    #[arg(long)]
    require_pruning: bool,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct GenerateArgs {
    /// A node as ID=HOST:PORT[,TAG=VALUE...]; repeat for each node.
    #[arg(long = "node", required = true, value_parser = parse_node)]
    nodes: Vec<NodeConfig>,
    /// The number of shards.
    #[arg(long)]
    shards: usize,
    /// Copies per shard.
    #[arg(long)]
    replication_factor: usize,
    /// Replication mode.
    #[arg(long, value_enum, default_value_t = Mode::Quorum)]
    mode: Mode,
    /// Sharding strategy: BySeries, ByMeasurement, ByTime:NANOS or
    /// Composite:NANOS.
    #[arg(long, default_value = "BySeries", value_parser = parse_strategy)]
    strategy: ShardingStrategy,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    zone_tag: String,
    /// The cluster's name.
    #[arg(long, default_value = "rusts")]
    cluster_name: String,
    /// Write here instead of stdout.
    #[arg(long)]
    output: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    Synchronous,
    Quorum,
    Asynchronous,
}

#[derive(Debug, Args)]
struct RebalanceArgs {
    /// The current config file.
    file: PathBuf,
    /// A node to add, as ID=HOST:PORT[,TAG=VALUE...]; repeatable.
    #[arg(long = "add-node", value_parser = parse_node)]
    add: Vec<NodeConfig>,
    /// The id of a node to remove; repeatable.
    #[arg(long = "remove-node")]
    remove: Vec<String>,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    zone_tag: String,
    /// Write the new config here (otherwise only the plan is printed).
    #[arg(long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    format: FormatArg,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The config before.
    old: PathBuf,
    /// The config after.
    new: PathBuf,
    #[command(flatten)]
    format: FormatArg,
}

/// What a command ended with: success, or a problem already printed.
type Outcome = Result<(), Failed>;

/// A problem that has been reported on stderr; exit 1.
#[derive(Debug)]
struct Failed;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Validate(args) => validate(args),
        Command::Show(args) => show(args),
        Command::Route(args) => route(args),
        Command::PlanQuery(args) => plan_query(args),
        Command::Generate(args) => generate(args),
        Command::Rebalance(args) => rebalance(args),
        Command::Diff(args) => diff(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failed) => ExitCode::from(1),
    }
}

fn problem(message: impl std::fmt::Display) -> Failed {
    eprintln!("error: {message}");
    Failed
}

/// Reads and parses a config; a file that cannot be read or parsed is a
/// problem of the config (exit 1), reported with its location.
fn load(path: &Path) -> Result<(ClusterConfig, String), Failed> {
    let config = ClusterConfig::from_file(path).map_err(problem)?;
    // from_file has checked size and UTF-8; read the text again for
    // locations.
    let text = fs::read_to_string(path).unwrap_or_default();
    Ok((config, text))
}

/// Loads and validates, printing every error with its location.
fn load_valid(path: &Path) -> Result<ClusterConfig, Failed> {
    let (config, text) = load(path)?;
    match config.validate() {
        Ok(()) => Ok(config),
        Err(e) => {
            print_errors(path, &text, &e);
            Err(Failed)
        }
    }
}

/// A validation error: its line and column if known, code, message.
type Located = (Option<(usize, usize)>, String, String);

fn located(path: &Path, text: &str, e: &ConfigError) -> Vec<Located> {
    let map = SourceMap::parse(text);
    e.validation_errors()
        .iter()
        .map(|v| {
            let at = map
                .as_ref()
                .and_then(|m| m.locate(v))
                .map(|l| (l.line, l.column));
            let _ = path;
            (at, v.code().to_owned(), v.to_string())
        })
        .collect()
}

fn print_errors(path: &Path, text: &str, e: &ConfigError) {
    for (at, code, message) in located(path, text, e) {
        match at {
            Some((line, column)) => {
                eprintln!(
                    "error: {}:{line}:{column}: {message} [{code}]",
                    path.display()
                )
            }
            None => eprintln!("error: {}: {message} [{code}]", path.display()),
        }
    }
}

fn print_json(value: &Value) {
    let mut out = std::io::stdout().lock();
    let _ = serde_json::to_writer_pretty(&mut out, value);
    let _ = writeln!(out);
}

fn validate(args: ValidateArgs) -> Outcome {
    let (mut config, text) = load(&args.file)?;
    if let Some(id) = args.node_id {
        config.node_id = id;
    }
    let errors = match config.validate() {
        Ok(()) => Vec::new(),
        Err(e) => located(&args.file, &text, &e),
    };
    let warnings = config.warnings_for_zone_tag(&args.zone_tag);
    let failed = !errors.is_empty() || (args.deny_warnings && !warnings.is_empty());
    if args.format.format == Format::Json {
        print_json(&json!({
            "file": args.file.display().to_string(),
            "valid": errors.is_empty(),
            "errors": errors.iter().map(|(at, code, message)| json!({
                "code": code,
                "message": message,
                "line": at.map(|a| a.0),
                "column": at.map(|a| a.1),
            })).collect::<Vec<_>>(),
            "warnings": warnings.iter().map(warning_json).collect::<Vec<_>>(),
        }));
    } else {
        for (at, code, message) in &errors {
            match at {
                Some((line, column)) => eprintln!(
                    "error: {}:{line}:{column}: {message} [{code}]",
                    args.file.display()
                ),
                None => eprintln!("error: {}: {message} [{code}]", args.file.display()),
            }
        }
        for w in &warnings {
            eprintln!("warning: {}: {w} [{}]", args.file.display(), w.code());
        }
        if errors.is_empty() {
            println!(
                "{}: valid, {} warning{}",
                args.file.display(),
                warnings.len(),
                if warnings.len() == 1 { "" } else { "s" }
            );
        }
    }
    if failed {
        Err(Failed)
    } else {
        Ok(())
    }
}

fn warning_json(w: &ValidationWarning) -> Value {
    json!({ "code": w.code(), "message": w.to_string() })
}

fn show(args: ShowArgs) -> Outcome {
    let config = load_valid(&args.file)?;
    let total = config.shard_count.max(1) as f64;
    let rows: Vec<Value> = config
        .nodes
        .iter()
        .map(|n| {
            json!({
                "id": n.id,
                "address": n.address,
                "zone": n.tags.get(&args.zone_tag),
                "primaries": n.shards.len(),
                "replicas": n.replica_shards.len(),
                "share": (n.shards.len() + n.replica_shards.len()) as f64 / total,
            })
        })
        .collect();
    let map: Vec<Value> = (0..config.shard_count as u32)
        .map(|s| {
            json!({
                "shard": s,
                "primary": config.primary_for_shard(s).map(|n| n.id.as_str()),
                "replicas": config.replicas_for_shard(s).iter().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            })
        })
        .collect();
    if args.format.format == Format::Json {
        print_json(&json!({
            "cluster_name": config.cluster_name,
            "shard_count": config.shard_count,
            "replication_factor": config.replication_factor,
            "replication_mode": format!("{:?}", config.replication_mode),
            "sharding_strategy": format!("{:?}", config.sharding_strategy),
            "nodes": rows,
            "shards": map,
        }));
        return Ok(());
    }
    println!(
        "cluster {}: {} shards, replication factor {}, {:?}, {:?}",
        config.cluster_name,
        config.shard_count,
        config.replication_factor,
        config.replication_mode,
        config.sharding_strategy
    );
    let mut table = table(&[
        "node",
        "address",
        "zone",
        "primaries",
        "replicas",
        "share of data",
    ]);
    for r in &rows {
        table.add_row(vec![
            r["id"].as_str().unwrap_or_default().to_owned(),
            r["address"].as_str().unwrap_or_default().to_owned(),
            r["zone"].as_str().unwrap_or("-").to_owned(),
            r["primaries"].to_string(),
            r["replicas"].to_string(),
            format!("{:.1}%", r["share"].as_f64().unwrap_or(0.0) * 100.0),
        ]);
    }
    right_align(&mut table, &[3, 4, 5]);
    println!("{table}");
    let mut shards = table_of(&["shard", "primary", "replicas"]);
    for m in &map {
        shards.add_row(vec![
            m["shard"].to_string(),
            m["primary"].as_str().unwrap_or("-").to_owned(),
            m["replicas"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
        ]);
    }
    right_align(&mut shards, &[0]);
    println!("{shards}");
    Ok(())
}

fn table(header: &[&str]) -> Table {
    table_of(header)
}

fn table_of(header: &[&str]) -> Table {
    let mut table = Table::new();
    table
        .load_preset(UTF8_FULL_CONDENSED)
        .set_header(header.to_vec());
    table
}

fn right_align(table: &mut Table, columns: &[usize]) {
    for &c in columns {
        if let Some(column) = table.column_mut(c) {
            column.set_cell_alignment(CellAlignment::Right);
        }
    }
}

fn route(args: RouteArgs) -> Outcome {
    let config = load_valid(&args.file)?;
    let router = ShardRouter::from_config(&config).map_err(problem)?;
    let shard = router
        .route(ShardKeyRef::new(
            &args.measurement,
            args.series_id,
            args.timestamp,
        ))
        .map_err(problem)?;
    let acks = config
        .replication_mode
        .required_acks(config.replication_factor);
    let report = json!({
        "shard": shard.id,
        "state": format!("{:?}", shard.state),
        "primary": shard.primary,
        "address": shard.address,
        "replicas": shard.replicas,
        "replication_mode": format!("{:?}", config.replication_mode),
        "acks_required": acks,
    });
    if args.format.format == Format::Json {
        print_json(&report);
        return Ok(());
    }
    let mut table = table_of(&["key", "value"]);
    table.add_row(vec!["shard".to_owned(), shard.id.to_string()]);
    table.add_row(vec!["state".to_owned(), format!("{:?}", shard.state)]);
    table.add_row(vec![
        "primary".to_owned(),
        format!(
            "{} ({})",
            shard.primary,
            shard.address.as_deref().unwrap_or("no address")
        ),
    ]);
    table.add_row(vec!["replicas".to_owned(), shard.replicas.join(", ")]);
    table.add_row(vec![
        "acks required".to_owned(),
        format!(
            "{acks} of {} ({:?})",
            config.replication_factor, config.replication_mode
        ),
    ]);
    println!("{table}");
    Ok(())
}

fn plan_query(args: PlanQueryArgs) -> Outcome {
    let config = load_valid(&args.file)?;
    let router = ShardRouter::from_config(&config).map_err(problem)?;
    for node in &args.down {
        router.set_node_available(node, false).map_err(problem)?;
    }
    let mut query = Query::new();
    if let Some(m) = &args.measurement {
        query = query.measurement(m);
    }
    if !args.series_ids.is_empty() {
        query = query.series(&args.series_ids);
    }
    if let (Some(from), Some(to)) = (args.from, args.to) {
        query = query.time_range(from..to);
    }
    if let Some((key, value)) = &args.prefer {
        query = query.prefer_tag(key, value);
    }
    if args.require_pruning {
        query = query.require_pruning();
    }
    let plan = router.plan_query(&query).map_err(problem)?;
    if args.format.format == Format::Json {
        print_json(&json!({
            "shards": plan.shards(),
            "shard_count": config.shard_count,
            "pruned": plan.is_pruned(),
            "complete": plan.is_complete(),
            "targets": plan.targets().iter().map(|t| json!({
                "node_id": t.node_id,
                "address": t.address,
                "shards": t.shards,
            })).collect::<Vec<_>>(),
            "unavailable": plan.unavailable_shards(),
        }));
    } else {
        println!(
            "reads {} of {} shards{}",
            plan.shards().len(),
            config.shard_count,
            if plan.is_pruned() {
                " (pruned)"
            } else {
                " (every shard)"
            }
        );
        let mut table = table_of(&["node", "address", "shards"]);
        for t in plan.targets() {
            table.add_row(vec![
                t.node_id.clone(),
                t.address.clone(),
                id_list(&t.shards),
            ]);
        }
        println!("{table}");
    }
    if plan.is_complete() {
        Ok(())
    } else {
        Err(problem(format_args!(
            "shards {} have no readable copy (offline, or every copy on a node that is down); \
             a query over them returns partial results",
            id_list(plan.unavailable_shards())
        )))
    }
}

/// Shard ids as `1, 2, 9`.
fn id_list(ids: &[u32]) -> String {
    ids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// `TAG=VALUE`.
fn parse_tag(text: &str) -> Result<(String, String), String> {
    text.split_once('=')
        .filter(|(k, v)| !k.is_empty() && !v.is_empty())
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("`{text}` is not TAG=VALUE, e.g. zone=us-east-1a"))
}

fn generate(args: GenerateArgs) -> Outcome {
    let mut config = ClusterConfig::single_node("-", "-");
    config.node_id = args.nodes[0].id.clone();
    config.cluster_name = args.cluster_name;
    config.shard_count = args.shards;
    config.replication_factor = args.replication_factor;
    config.replication_mode = match args.mode {
        Mode::Synchronous => ReplicationMode::Synchronous,
        Mode::Quorum => ReplicationMode::Quorum,
        Mode::Asynchronous => ReplicationMode::Asynchronous,
    };
    config.sharding_strategy = args.strategy;
    config.nodes = args.nodes;
    let placed = balance(&config, &args.zone_tag).map_err(|e| report_invalid(&e))?;
    warn_few_zones(&placed, &args.zone_tag);
    for w in placed.warnings_for_zone_tag(&args.zone_tag) {
        eprintln!("warning: {w} [{}]", w.code());
    }
    write_config(&placed, args.output.as_deref())
}

/// Invalid inputs to generate or rebalance, one per line.
fn report_invalid(e: &ConfigError) -> Failed {
    if e.validation_errors().is_empty() {
        return problem(e);
    }
    for v in e.validation_errors() {
        eprintln!("error: {v} [{}]", v.code());
    }
    Failed
}

fn warn_few_zones(config: &ClusterConfig, zone_tag: &str) {
    let (zones, tagged) = zone_count(config, zone_tag);
    if tagged && zones < config.replication_factor {
        eprintln!(
            "warning: only {zones} zone{} (tag `{zone_tag}`) for {} copies per shard: each shard has a copy in every zone, and some zones hold two or more copies of it",
            if zones == 1 { "" } else { "s" },
            config.replication_factor
        );
    }
}

fn write_config(config: &ClusterConfig, output: Option<&Path>) -> Outcome {
    let text = config.to_toml().map_err(problem)?;
    match output {
        Some(path) => fs::write(path, text)
            .map_err(|e| problem(format_args!("cannot write `{}`: {e}", path.display()))),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}

fn rebalance(args: RebalanceArgs) -> Outcome {
    if args.add.is_empty() && args.remove.is_empty() {
        // Rebalancing without node changes is allowed: it repairs balance.
        eprintln!("note: no --add-node or --remove-node; rebalancing the nodes as they are");
    }
    let old = load_valid(&args.file)?;
    let changed = old
        .with_node_changes(args.add, &args.remove)
        .map_err(problem)?;
    if changed.node_id != old.node_id {
        eprintln!(
            "note: `node_id` named a removed node; it is now \"{}\" (each node's copy sets its own)",
            changed.node_id
        );
    }
    let new = balance(&changed, &args.zone_tag).map_err(|e| report_invalid(&e))?;
    warn_few_zones(&new, &args.zone_tag);
    let plan = plan_moves(&old, &new);
    print_plan(&plan, args.format.format);
    if let Some(path) = args.output.as_deref() {
        write_config(&new, Some(path))?;
    }
    Ok(())
}

fn diff(args: DiffArgs) -> Outcome {
    let old = load(&args.old)?.0;
    let new = load(&args.new)?.0;
    let plan = plan_moves(&old, &new);
    print_plan(&plan, args.format.format);
    if plan.has_problems() {
        if plan.mapping_changed {
            eprintln!("error: `shard_count` or `sharding_strategy` differ: keys map to other shards, so every stored series moves, not only these copies");
        }
        for m in &plan.shards {
            if m.left_without_copy {
                eprintln!(
                    "error: shard {} has no copy in the new config: its data would be lost",
                    m.shard
                );
            } else if m.every_copy_changes {
                eprintln!("error: every copy of shard {} changes at once: copy it to {} before {} drop it", m.shard, m.added.join(", "), m.removed.join(", "));
            }
        }
        return Err(Failed);
    }
    Ok(())
}

fn print_plan(plan: &MovePlan, format: Format) {
    if format == Format::Json {
        print_json(&serde_json::to_value(plan).unwrap_or(Value::Null));
        return;
    }
    println!(
        "{} cop{} to add, {} to remove, {} primary change{}",
        plan.copies_added,
        if plan.copies_added == 1 { "y" } else { "ies" },
        plan.copies_removed,
        plan.primary_changes,
        if plan.primary_changes == 1 { "" } else { "s" }
    );
    let mut nodes = table_of(&[
        "node",
        "copies in",
        "copies out",
        "primaries in",
        "primaries out",
    ]);
    for n in &plan.nodes {
        nodes.add_row(vec![
            n.node.clone(),
            n.copies_in.to_string(),
            n.copies_out.to_string(),
            n.primaries_in.to_string(),
            n.primaries_out.to_string(),
        ]);
    }
    right_align(&mut nodes, &[1, 2, 3, 4]);
    println!("{nodes}");
    if plan.shards.is_empty() {
        return;
    }
    let mut shards = table_of(&["shard", "primary", "add", "remove", "keep", "risk"]);
    for m in &plan.shards {
        let primary = match (&m.old_primary, &m.new_primary) {
            (a, b) if a == b => b.clone().unwrap_or_else(|| "-".to_owned()),
            (a, b) => format!(
                "{} -> {}",
                a.as_deref().unwrap_or("-"),
                b.as_deref().unwrap_or("-")
            ),
        };
        let risk = if m.left_without_copy {
            "NO COPY LEFT"
        } else if m.every_copy_changes {
            "every copy changes"
        } else {
            ""
        };
        shards.add_row(vec![
            m.shard.to_string(),
            primary,
            m.added.join(", "),
            m.removed.join(", "),
            m.kept.join(", "),
            risk.to_owned(),
        ]);
    }
    right_align(&mut shards, &[0]);
    println!("{shards}");
}

/// `ID=HOST:PORT[,TAG=VALUE...]`.
fn parse_node(text: &str) -> Result<NodeConfig, String> {
    let mut parts = text.split(',');
    let first = parts.next().unwrap_or_default();
    let (id, address) = first
        .split_once('=')
        .filter(|(id, address)| !id.is_empty() && !address.is_empty())
        .ok_or_else(|| format!("`{first}` is not ID=HOST:PORT, e.g. node1=10.0.1.1:8086"))?;
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

/// `BySeries`, `ByMeasurement`, `ByTime:NANOS` or `Composite:NANOS`.
fn parse_strategy(text: &str) -> Result<ShardingStrategy, String> {
    let nanos = |n: &str| {
        n.parse::<i64>()
            .map_err(|_| format!("`{n}` is not a duration in nanoseconds, e.g. 3600000000000"))
    };
    match text.split_once(':') {
        None if text == "BySeries" => Ok(ShardingStrategy::BySeries),
        None if text == "ByMeasurement" => Ok(ShardingStrategy::ByMeasurement),
        Some(("ByTime", n)) => Ok(ShardingStrategy::ByTime { duration_nanos: nanos(n)? }),
        Some(("Composite", n)) => Ok(ShardingStrategy::Composite {
            time_duration_nanos: nanos(n)?,
        }),
        _ => Err(format!(
            "`{text}` is not a strategy; use BySeries, ByMeasurement, ByTime:NANOS or Composite:NANOS"
        )),
    }
}
