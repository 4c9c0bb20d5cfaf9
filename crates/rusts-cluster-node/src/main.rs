//! `rusts-cluster-node --config FILE --node-id ID --data-dir DIR [--listen ADDR] [--bootstrap]
//! [--unsafe-skip-step-checks]`

use std::process::ExitCode;

use rusts_cluster_node::{Node, NodeError, NodeOptions, TokioNet};

fn parse(mut args: impl Iterator<Item = String>) -> Result<NodeOptions, NodeError> {
    let (mut config, mut node_id, mut data_dir, mut listen) = (None, None, None, None);
    let (mut bootstrap, mut unsafe_skip_step_checks) = (false, false);
    let usage = |flag: &str, problem| NodeError::Usage {
        flag: flag.to_owned(),
        problem,
    };
    while let Some(flag) = args.next() {
        match flag.as_str() {
            "--bootstrap" => {
                bootstrap = true;
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
    Ok(NodeOptions {
        config: config.ok_or_else(|| usage("--config", "missing"))?.into(),
        node_id: node_id.ok_or_else(|| usage("--node-id", "missing"))?,
        data_dir: data_dir
            .ok_or_else(|| usage("--data-dir", "missing"))?
            .into(),
        listen,
        bootstrap,
        unsafe_skip_step_checks,
    })
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
        Ok(options) => options,
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
