//! `rusts-cluster-node --config FILE --node-id ID --data-dir DIR [--listen ADDR] [--bootstrap]
//! [--lost-data] [--unsafe-skip-step-checks]`

use std::process::ExitCode;

use rusts_cluster_node::{Node, NodeError, NodeOptions, TokioNet};

const USAGE: &str = "\
usage: rusts-cluster-node --config FILE --node-id ID --data-dir DIR [--listen ADDR]
                          [--bootstrap | --lost-data] [--unsafe-skip-step-checks]

Serves node ID of the cluster in FILE (the same file on every node) over
HTTP at its address in FILE (or ADDR), with its data in DIR/node.redb.
SIGHUP or POST /admin/reload re-reads FILE.

An empty DIR past generation 0 is a node that lost its data: its copies
take writes, and serve reads once caught up from the other copies.

  --bootstrap                 start an empty DIR as a new cluster's node: its
                              copies serve at once, with nothing to catch up
                              (the default at generation 0)
  --lost-data                 start an empty DIR as a node that lost its data,
                              at generation 0 too
  --unsafe-skip-step-checks   take FILE at start past the step checks: unsafe,
                              may lose acknowledged writes (emergencies only)

docs/node.md describes the interface.
";

/// The options, or `None` for `--help`.
fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<NodeOptions>, NodeError> {
    let (mut config, mut node_id, mut data_dir, mut listen) = (None, None, None, None);
    let (mut bootstrap, mut lost_data, mut unsafe_skip_step_checks) = (false, false, false);
    let usage = |flag: &str, problem| NodeError::Usage {
        flag: flag.to_owned(),
        problem,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--help" | "-h" => return Ok(None),
            "--bootstrap" => {
                bootstrap = true;
                continue;
            }
            "--lost-data" => {
                lost_data = true;
                continue;
            }
            "--unsafe-skip-step-checks" => {
                unsafe_skip_step_checks = true;
                continue;
            }
            _ => {}
        }
        let slot = match flag.as_str() {
            "--config" => &mut config,
            "--node-id" => &mut node_id,
            "--data-dir" => &mut data_dir,
            "--listen" => &mut listen,
            _ => return Err(usage(&flag, "unknown argument")),
        };
        *slot = Some(args.next().ok_or_else(|| usage(&flag, "needs a value"))?);
    }
    if bootstrap && lost_data {
        return Err(usage(
            "--lost-data",
            "contradicts --bootstrap: a node is either new or lost its data",
        ));
    }
    Ok(Some(NodeOptions {
        config: config.ok_or_else(|| usage("--config", "missing"))?.into(),
        node_id: node_id.ok_or_else(|| usage("--node-id", "missing"))?,
        data_dir: data_dir
            .ok_or_else(|| usage("--data-dir", "missing"))?
            .into(),
        listen,
        bootstrap,
        lost_data,
        unsafe_skip_step_checks,
    }))
}

fn report(error: &NodeError) -> ExitCode {
    let mut text = format!("error: {error}");
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("{text}");
    ExitCode::FAILURE
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(Some(options)) => options,
        Ok(None) => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        // A usage error exits 2, as the operator's tool's do.
        Err(error @ NodeError::Usage { .. }) => {
            report(&error);
            return ExitCode::from(2);
        }
        Err(error) => return report(&error),
    };
    let node = match Node::open(TokioNet, options.clone()).await {
        Ok(node) => node,
        Err(error) => return report(&error),
    };
    eprintln!("{}: serving on {}", options.node_id, node.address());
    // SIGHUP re-reads the config file, as `POST /admin/reload` does.
    let reloader = node.reloader();
    tokio::spawn(async move {
        let Ok(mut hangups) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        else {
            return;
        };
        while hangups.recv().await.is_some() {
            match reloader.reload().await {
                Ok(generation) => eprintln!("reloaded: generation {generation}"),
                Err(refusal) => eprintln!("reload refused, config kept: {refusal}"),
            }
        }
    });
    match node.run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => report(&error),
    }
}
