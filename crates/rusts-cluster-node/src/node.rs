//! Starting a node: the engine, its channel and the HTTP server.

use std::path::PathBuf;

use tokio::sync::{mpsc, oneshot};

use rusts_cluster::routing::ApplyChecks;

use crate::{
    engine::{error_chain, Empty, Engine, Event},
    Net, NodeError,
};

/// How a node is started: the command line's flags.
#[derive(Clone, Debug)]
pub struct NodeOptions {
    /// The cluster's config file, the same for every node; re-read on
    /// reload.
    pub config: PathBuf,
    /// This node's id in it.
    pub node_id: String,
    /// Where the node keeps its store (`node.redb`).
    pub data_dir: PathBuf,
    /// The address to listen on, instead of the node's address in the
    /// config (`127.0.0.1:0` picks a free port).
    pub listen: Option<String>,
    /// With an empty data directory, serve the copies this node holds
    /// without joining them at once, with nothing to catch up
    /// (`--bootstrap`): a new cluster's node whose first file is past
    /// generation 0 (at generation 0 that is the default). Without it, an
    /// empty data directory on a file past generation 0 is a node that
    /// lost its data: those copies take writes, and serve reads only once
    /// caught up from the other copies (decision 0045).
    pub bootstrap: bool,
    /// With an empty data directory, treat the copies this node holds
    /// without joining them as lost, whatever the generation
    /// (`--lost-data`): for a node that lost its data while the cluster
    /// still runs generation 0, where an empty directory otherwise means a
    /// new cluster. Refused with a saved state
    /// ([`NodeError::LostDataWithState`]), and with `bootstrap`.
    pub lost_data: bool,
    /// **Unsafe**: take the file at start past the step checks
    /// (`--unsafe-skip-step-checks`), as `POST
    /// /admin/reload?unsafe=skip-step-checks` does live. For an
    /// operator's emergency; it may lose acknowledged writes.
    pub unsafe_skip_step_checks: bool,
}

/// How many events wait for the engine before the HTTP side waits too:
/// back-pressure on clients and peers instead of unbounded memory.
const EVENTS: usize = 4096;

/// A node, opened and listening, not yet serving.
#[derive(Debug)]
pub struct Node<N: Net> {
    engine: EngineBox<N>,
    listener: N::Listener,
    address: String,
    events: mpsc::Sender<Event>,
    inbox: mpsc::Receiver<Event>,
}

struct EngineBox<N: Net>(Engine<N>);

impl<N: Net> std::fmt::Debug for EngineBox<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Engine")
    }
}

impl<N: Net> Node<N> {
    /// Opens the store, starts the protocol core (restored from its saved
    /// state when the store has one) and binds the listener.
    ///
    /// # Errors
    ///
    /// When the config, the saved state or the store cannot be used, or
    /// the address cannot be bound; each error names the file or address.
    pub async fn open(net: N, options: NodeOptions) -> Result<Self, NodeError> {
        let engine = Engine::open(
            net.clone(),
            options.config,
            &options.node_id,
            options.data_dir,
            match (options.bootstrap, options.lost_data) {
                (true, true) => {
                    return Err(NodeError::Usage {
                        flag: "--lost-data".to_owned(),
                        problem: "contradicts --bootstrap: a node is either new or lost its data",
                    })
                }
                (true, false) => Empty::Bootstrap,
                (false, true) => Empty::Lost,
                (false, false) => Empty::Default,
            },
            if options.unsafe_skip_step_checks {
                ApplyChecks::UnsafeSkipStepChecks
            } else {
                ApplyChecks::All
            },
        )?;
        let address = match options.listen.or_else(|| engine.address()) {
            Some(address) => address,
            None => {
                return Err(NodeError::Usage {
                    flag: "--node-id".to_owned(),
                    problem: "the config has no address for this node; pass --listen",
                })
            }
        };
        let listener = net
            .bind(&address)
            .await
            .map_err(|source| NodeError::Listen {
                address: address.clone(),
                source,
            })?;
        let (events, inbox) = mpsc::channel(EVENTS);
        Ok(Node {
            engine: EngineBox(engine),
            listener,
            address,
            events,
            inbox,
        })
    }

    /// The address the node listens on, as given (a port 0 stays 0).
    pub fn address(&self) -> &str {
        &self.address
    }

    /// A handle that reloads the config file, for a signal handler.
    pub fn reloader(&self) -> Reloader {
        Reloader(self.events.clone())
    }

    /// Serves until the store fails.
    ///
    /// # Errors
    ///
    /// [`NodeError::Store`] when the store fails where the node cannot go
    /// on (storing catch-up points, the saved state, a drop).
    pub async fn run(self) -> Result<(), NodeError> {
        tokio::spawn(crate::http::serve::<N>(self.listener, self.events));
        self.engine.0.run(self.inbox).await
    }
}

/// Reloads the config file, as `POST /admin/reload` does.
#[derive(Clone, Debug)]
pub struct Reloader(mpsc::Sender<Event>);

impl Reloader {
    /// Reloads; the answer is the new generation, or the refusal's text.
    ///
    /// # Errors
    ///
    /// The refusal (invalid file, a generation not adjacent), after which
    /// the node runs its current config still.
    pub async fn reload(&self) -> Result<u64, String> {
        let (reply, answer) = oneshot::channel();
        self.0
            .send(Event::Reload(ApplyChecks::All, reply))
            .await
            .map_err(|e| error_chain(&e))?;
        match answer.await {
            Ok(Ok(reloaded)) => Ok(reloaded.generation),
            Ok(Err(refused)) => Err(format!("{}: {}", refused.error, refused.message)),
            Err(e) => Err(error_chain(&e)),
        }
    }
}
