//! The command line: every subcommand, its arguments and their help.
//!
//! To add a subcommand: add a variant to [`Command`] with its args struct, a
//! module under `commands/` with `fn run(args, &mut Ui)`, and its arm in
//! `app::dispatch`. Nothing else lists the subcommands: their names, and
//! which of them take `--format`, are read from clap (`Cli::command()`), so
//! reports, completions, man pages and the tests follow on their own.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use rusts_cluster_config::{NodeConfig, DEFAULT_ZONE_TAG};
use rusts_cluster_sharding::ShardingStrategy;

use crate::parsers::{parse_node, parse_strategy, parse_tag, parse_timestamp};

/// The version `--version` prints: the crate's, with the git commit it was
/// built from when known (see build.rs).
const VERSION: &str = env!("RUSTS_CLUSTER_VERSION");

/// The operator's tool for RusTs cluster config files.
#[derive(Debug, Parser)]
#[command(name = "rusts-cluster", version = VERSION, long_about = None)]
#[command(
    after_help = "Exit codes: 0 ok, 1 an error was reported (invalid input, a risky plan, an incomplete query plan, a node not ready), 2 usage error.\n\
Example:\n  rusts-cluster validate examples/cluster.toml"
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
    /// How tables are drawn: box-drawing characters (unicode), plain ASCII
    /// (ascii), or unicode on a terminal and ASCII otherwise (auto).
    #[arg(long, global = true, value_enum, ignore_case = true, default_value_t = TableStyle::Auto)]
    pub(crate) table_style: TableStyle,
}

/// Every subcommand.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Check a config: every error with its line and column, then warnings.
    #[command(after_help = "Example:\n  rusts-cluster validate cluster.toml --deny-warnings")]
    Validate(ValidateArgs),
    /// Show each node's shards and the shard map.
    #[command(after_help = "Example:\n  rusts-cluster show examples/cluster.toml")]
    Show(ShowArgs),
    /// Route one key: shard, state, primary, replicas, acks required.
    #[command(
        after_help = "Example:\n  rusts-cluster route examples/cluster.toml --measurement cpu --series-id 42 --timestamp 2023-11-14T22:13:20Z"
    )]
    Route(RouteArgs),
    /// Plan a query: the shards it must read and the node to read each from.
    #[command(
        after_help = "Example:\n  rusts-cluster plan-query examples/cluster.toml --series-id 1 --series-id 9 --down node2\n\n\
A copy on the node the plan is made as (--node-id, default the file's node_id, else none) is read first,\n\
before copies on nodes with the --prefer tag.\n\
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
        after_help = "Example:\n  rusts-cluster rebalance cluster.toml --add-node d=10.0.1.4:8086,zone=z1 --output new.toml\n\n\
The new config's generation is the old one's plus 1. Exit code 1, with the file still\n\
written, when the plan puts a shard at risk (as diff reports it). When copies move, deploy\n\
it through the steps `rusts-cluster transition cluster.toml new.toml --output-dir DIR` writes."
    )]
    Rebalance(RebalanceArgs),
    /// Grow the shard count by a whole factor, every child on its parent's copies.
    #[command(
        after_help = "Example:\n  rusts-cluster split cluster.toml --factor 2 --output split.toml\n\n\
The new config's generation is the old one's plus 1, and it records the split in\n\
[split_from]. No copy moves: each node re-files its own points under the children.\n\
Spread the children afterwards with rebalance and transition (docs/operations.md,\n\
\"Growing the shard count\")."
    )]
    Split(SplitArgs),
    /// The moves between two configs, and shards a move would put at risk.
    #[command(
        after_help = "Example:\n  rusts-cluster diff cluster.toml new.toml\n\n\
A split of the old config (rusts-cluster split) is recognised: \"split by K: 0 copies move\",\n\
exit code 0. Any other change of shard_count or sharding_strategy is an error."
    )]
    Diff(DiffArgs),
    /// Write the steps that move copies from one config to another while
    /// nodes run different generations, and print the runbook.
    #[command(
        after_help = "Example:\n  rusts-cluster transition cluster.toml new.toml --output-dir steps\n\n\
Writes DIR/01-joint-writes.toml, DIR/02-read-new.toml and DIR/03-final.toml, with generations\n\
OLD's plus 1, 2 and 3 (NEW's own generation plays no part), and prints what to deploy, what to\n\
wait for and how to check each step. Writes nothing when no copy moves. Refuses a DIR that\n\
already holds step files (NN-*.toml).\n\n\
The way back from step 1 or 2, to the config the transition started from:\n  \
rusts-cluster transition --back cluster.toml steps/02-read-new.toml --output-dir back"
    )]
    Transition(TransitionArgs),
    /// Ask every node of a config for its status: reachable, its generation,
    /// its catch-up.
    #[command(
        after_help = "Example:\n  rusts-cluster status add-a3/01-joint-writes.toml --wait --wait-secs 3600\n\n\
Asks each node's /status at its address in the config, all nodes at once, each within\n\
--timeout-ms. Exit code 0 when every node answers with the config's generation and no\n\
catch-up pending (the runbook's \"wait: every node reports generation N\" and the catch-up\n\
after it), 1 otherwise, naming each node that is not and why. --wait asks again every\n\
half second until they all are, or until --wait-secs have passed."
    )]
    Status(StatusArgs),
    /// Print a shell completion script to stdout.
    #[command(
        after_help = "Example:\n  rusts-cluster completions bash > ~/.local/share/bash-completion/completions/rusts-cluster"
    )]
    Completions(CompletionsArgs),
    /// Print a man page (roff) to stdout.
    #[command(
        after_help = "Example:\n  rusts-cluster man | man -l -\n  rusts-cluster man plan-query > rusts-cluster-plan-query.1"
    )]
    Man(ManArgs),
}

/// How a report is printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// Text for a person: tables on stdout, problems on stderr.
    #[default]
    Text,
    /// One JSON object on stdout, for scripts (docs/operations.md has the
    /// schema); stderr is the same as with text.
    Json,
}

/// How tables are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TableStyle {
    /// Unicode when stdout is a terminal, ASCII otherwise.
    Auto,
    /// Box-drawing characters.
    Unicode,
    /// `+`, `-` and `|` only.
    Ascii,
}

#[derive(Debug, Args)]
pub(crate) struct FormatArg {
    /// Report format.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Format::Text)]
    pub(crate) format: Format,
}

#[derive(Debug, Args)]
pub(crate) struct ValidateArgs {
    /// The config file.
    pub(crate) file: PathBuf,
    /// Check as this node, as the node's process loads the file (overrides
    /// the file's `node_id`; without either, the file is checked as the
    /// description of the cluster that every node shares).
    #[arg(long)]
    pub(crate) node_id: Option<String>,
    /// Exit 1 when there are warnings, not only errors.
    #[arg(long)]
    pub(crate) deny_warnings: bool,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    pub(crate) zone_tag: String,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct ShowArgs {
    /// The config file.
    pub(crate) file: PathBuf,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    pub(crate) zone_tag: String,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct RouteArgs {
    /// The config file.
    pub(crate) file: PathBuf,
    /// The measurement of the key.
    #[arg(long)]
    pub(crate) measurement: String,
    /// The series id of the key.
    #[arg(long)]
    pub(crate) series_id: u64,
    /// The timestamp of the key: nanoseconds since the epoch, or RFC 3339
    /// (2026-11-28T10:00:00Z, 2026-11-28T11:00:00.5+01:00).
    #[arg(long, allow_hyphen_values = true, value_parser = parse_timestamp)]
    pub(crate) timestamp: i64,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct PlanQueryArgs {
    /// The config file.
    pub(crate) file: PathBuf,
    /// Plan as this node (default: the file's `node_id`; a file without
    /// one plans as no node). Its own copies are read first.
    #[arg(long)]
    pub(crate) node_id: Option<String>,
    /// Only points of this measurement.
    #[arg(long)]
    pub(crate) measurement: Option<String>,
    /// Only points of this series; repeat for several.
    #[arg(long = "series-id")]
    pub(crate) series_ids: Vec<u64>,
    /// The start of the time range (inclusive): nanoseconds since the epoch
    /// or RFC 3339.
    #[arg(long, allow_hyphen_values = true, requires = "to", value_parser = parse_timestamp)]
    pub(crate) from: Option<i64>,
    /// The end of the time range (exclusive): nanoseconds since the epoch or
    /// RFC 3339.
    #[arg(long, allow_hyphen_values = true, requires = "from", value_parser = parse_timestamp)]
    pub(crate) to: Option<i64>,
    /// Plan as if this node were down; repeat for several.
    #[arg(long = "down")]
    pub(crate) down: Vec<String>,
    /// Read from copies on nodes with this TAG=VALUE next, after the
    /// planning node's own copies, e.g. zone=us-east-1a.
    #[arg(long, value_parser = parse_tag)]
    pub(crate) prefer: Option<(String, String)>,
    /// Refuse (exit 1) a query that would read every shard.
    #[arg(long)]
    pub(crate) require_pruning: bool,
    /// How many copies of each shard to read: one (the nearest), quorum
    /// (enough to meet every acknowledged write) or all.
    #[arg(long, value_enum, ignore_case = true, default_value_t = Consistency::One)]
    pub(crate) consistency: Consistency,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

/// Read levels, as `rusts_cluster_routing::ReadConsistency` names them;
/// any case is accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Consistency {
    /// One copy of each shard: the nearest available one.
    One,
    /// Enough copies of each shard to meet every acknowledged write.
    Quorum,
    /// Every copy of each shard.
    All,
}

impl From<Consistency> for rusts_cluster_routing::ReadConsistency {
    fn from(level: Consistency) -> Self {
        match level {
            Consistency::One => Self::One,
            Consistency::Quorum => Self::Quorum,
            Consistency::All => Self::All,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct GenerateArgs {
    /// A node as ID=HOST:PORT[,TAG=VALUE...]; repeat for each node.
    #[arg(long = "node", required = true, value_parser = parse_node)]
    pub(crate) nodes: Vec<NodeConfig>,
    /// The number of shards.
    #[arg(long)]
    pub(crate) shards: u32,
    /// Copies per shard.
    #[arg(long)]
    pub(crate) replication_factor: usize,
    /// Replication mode (any case).
    #[arg(long, value_enum, ignore_case = true, default_value_t = Mode::Quorum)]
    pub(crate) mode: Mode,
    /// Sharding strategy (any case): BySeries, ByMeasurement, ByTime:NANOS
    /// or Composite:NANOS.
    #[arg(long, default_value = "BySeries", value_parser = parse_strategy)]
    pub(crate) strategy: ShardingStrategy,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    pub(crate) zone_tag: String,
    /// The cluster's name.
    #[arg(long, default_value = "rusts")]
    pub(crate) cluster_name: String,
    /// Write the config to this file, atomically, instead of stdout.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

/// Replication modes, spelled as in the config file; any case is accepted.
#[derive(Clone, Copy, Debug, ValueEnum)]
#[value(rename_all = "PascalCase")]
pub(crate) enum Mode {
    /// Every copy acknowledges.
    Synchronous,
    /// A majority of copies acknowledges.
    Quorum,
    /// The primary alone acknowledges.
    Asynchronous,
}

#[derive(Debug, Args)]
pub(crate) struct RebalanceArgs {
    /// The current config file.
    pub(crate) file: PathBuf,
    /// A node to add, as ID=HOST:PORT[,TAG=VALUE...]; repeatable.
    #[arg(long = "add-node", value_parser = parse_node)]
    pub(crate) add: Vec<NodeConfig>,
    /// The id of a node to remove; repeatable.
    #[arg(long = "remove-node")]
    pub(crate) remove: Vec<String>,
    /// The node tag that names zones.
    #[arg(long, default_value = DEFAULT_ZONE_TAG)]
    pub(crate) zone_tag: String,
    /// Write the new config to this file, atomically (otherwise only the
    /// plan is printed). It may be the input file.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct SplitArgs {
    /// The current config file.
    pub(crate) file: PathBuf,
    /// Multiply the shard count by this whole number (2 or more).
    #[arg(long, value_parser = clap::value_parser!(u32).range(2..))]
    pub(crate) factor: u32,
    /// Write the split config to this file, atomically (otherwise only the
    /// summary is printed). It may be the input file.
    #[arg(long)]
    pub(crate) output: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct DiffArgs {
    /// The config before.
    pub(crate) old: PathBuf,
    /// The config after.
    pub(crate) new: PathBuf,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct TransitionArgs {
    /// The config every node runs now (with --back: the config the
    /// transition started from, START).
    pub(crate) old: PathBuf,
    /// The config to end with (same shards, strategy and replication); with
    /// --back: the step every node runs now, STEP (step 1 or 2 of the
    /// transition from START).
    pub(crate) new: PathBuf,
    /// The directory to write the steps to; created when missing.
    #[arg(long)]
    pub(crate) output_dir: PathBuf,
    /// Plan even when the new config leaves shards with fewer copies than
    /// `replication_mode` needs to acknowledge a write: from step 1 on,
    /// every write to those shards fails (refused without this flag).
    #[arg(long)]
    pub(crate) allow_under_replicated: bool,
    /// Plan the way back instead: from STEP (the second file, step 1 or 2
    /// of a transition) to the placement of START (the first file, the
    /// config the transition started from). Writes DIR/01-back-start.toml
    /// from step 1; DIR/01-back-joint-writes.toml and
    /// DIR/02-back-start.toml from step 2.
    #[arg(long, conflicts_with = "allow_under_replicated")]
    pub(crate) back: bool,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// The config the nodes should run: their addresses, and the generation
    /// to expect.
    pub(crate) file: PathBuf,
    /// How long to wait for each node, connecting and answering together,
    /// in milliseconds.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..=600_000))]
    pub(crate) timeout_ms: u64,
    /// Ask again until every node is ready (exit 0), or until --wait-secs
    /// have passed (exit 1, naming the nodes that are not).
    #[arg(long)]
    pub(crate) wait: bool,
    /// With --wait: how long to wait in all, in seconds.
    #[arg(long, default_value_t = 600, requires = "wait", value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub(crate) wait_secs: u64,
    #[command(flatten)]
    pub(crate) format: FormatArg,
}

#[derive(Debug, Args)]
pub(crate) struct CompletionsArgs {
    /// The shell (any case).
    #[arg(value_enum, ignore_case = true)]
    pub(crate) shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub(crate) struct ManArgs {
    /// A subcommand, for its own page (rusts-cluster-SUBCOMMAND(1)); the
    /// main page when left out.
    pub(crate) subcommand: Option<String>,
}
