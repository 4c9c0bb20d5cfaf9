//! The engine: one task that owns the protocol core, the store and the
//! clock, fed by one channel. Everything the protocol asks of an engine is
//! done here, and each obligation is marked `ENGINE OBLIGATION` so that the
//! docs can point at the line (`docs/node.md`, "The engine's obligations").

use std::{
    collections::{HashMap, VecDeque},
    mem,
    path::PathBuf,
    sync::Arc,
    time::Duration,
};

use rusts_cluster::{
    protocol::{
        CatchUpStatus, Core, Message, Output, ReadDone, ShardWrite, WriteDone, WriteRequest,
    },
    routing::{ApplyChecks, Query},
    sharding::ShardId,
    ClusterConfig,
};
use serde::Serialize;
use tokio::{
    sync::{mpsc, oneshot},
    time::{Instant, MissedTickBehavior},
};

use crate::{http::PeerClient, store::Store, Net, NodeError, Sample};

/// What reaches the engine: peers' messages, clients' requests, and the
/// operator's.
#[derive(Debug)]
pub(crate) enum Event {
    Peer(Message<Sample>),
    Write(Vec<Sample>, oneshot::Sender<WriteReport>),
    Read(Query, oneshot::Sender<ReadReport>),
    Status(oneshot::Sender<StatusReport>),
    /// Re-read the config file, with the router's checks given
    /// (`ApplyChecks::All` but for an operator's explicit override).
    Reload(ApplyChecks, oneshot::Sender<Result<Reloaded, Refused>>),
    Release(oneshot::Sender<Result<Vec<ShardId>, Refused>>),
}

/// A decided write, for `/write`.
#[derive(Debug, Serialize)]
pub(crate) struct WriteReport {
    pub(crate) acknowledged: bool,
    pub(crate) generation: u64,
    pub(crate) points: usize,
    /// The shards not acknowledged, with why.
    pub(crate) failed: Vec<FailedShard>,
    /// Set when the core refused the batch before routing it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refused: Option<Refused>,
}

#[derive(Debug, Serialize)]
pub(crate) struct FailedShard {
    shard: ShardId,
    points: u32,
    outcome: String,
    reason: Option<String>,
}

impl FailedShard {
    fn of(shard: &ShardWrite) -> Self {
        FailedShard {
            shard: shard.shard,
            points: shard.points,
            outcome: format!("{:?}", shard.outcome),
            reason: shard.reason.map(|r| format!("{r:?}")),
        }
    }
}

/// A decided read, for `/query`.
#[derive(Debug, Serialize)]
pub(crate) struct ReadReport {
    pub(crate) complete: bool,
    pub(crate) generation: u64,
    pub(crate) points: Vec<Sample>,
    /// The shards no copy (or too few copies) answered for.
    pub(crate) unreadable: Vec<ShardId>,
    /// Set when the read was fenced by a newer generation: retry it.
    pub(crate) fenced: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) refused: Option<Refused>,
}

/// What `/status` answers.
#[derive(Debug, Serialize)]
pub(crate) struct StatusReport {
    node_id: String,
    /// The generation the node reports: changed only after fencing.
    generation: u64,
    /// The identity of the config the node runs, `G/fnv1a64:...`: two
    /// nodes of one generation run the same file only when it is equal.
    identity: String,
    /// This node's copies not caught up yet: joining, or lost.
    catch_up_pending: usize,
    catch_ups: Vec<CatchUp>,
    /// This node's copies that lost their data and have not caught up:
    /// they take writes and refuse reads.
    lost_shards: Vec<ShardId>,
    /// The shards this node holds a copy of in its generation.
    shards: Vec<ShardId>,
    /// The copies kept for peers one generation behind.
    kept_shards: Vec<ShardId>,
    /// Copies that never confirmed a write this node coordinated, since it
    /// started: what hints or repair would resend.
    unconfirmed_copies: u64,
    writes_in_flight: usize,
    reads_in_flight: usize,
    /// Points in the store, every shard.
    stored_points: u64,
    /// Messages to peers dropped because a peer's queue was full.
    messages_dropped: u64,
}

#[derive(Debug, Serialize)]
struct CatchUp {
    shard: ShardId,
    sources_done: usize,
    sources: usize,
    started: bool,
    /// The copy lost its data (not a join).
    lost: bool,
}

impl From<CatchUpStatus> for CatchUp {
    fn from(s: CatchUpStatus) -> Self {
        CatchUp {
            shard: s.shard,
            sources_done: s.sources_done,
            sources: s.sources,
            started: s.started,
            lost: s.lost,
        }
    }
}

/// A reload's answer.
#[derive(Debug, Serialize)]
pub(crate) struct Reloaded {
    pub(crate) generation: u64,
    /// Requests of the older generation that fencing ended.
    fenced: usize,
}

/// A structured refusal: a stable code and the message naming the value.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Refused {
    pub(crate) error: &'static str,
    pub(crate) message: String,
}

impl Refused {
    fn of(error: &rusts_cluster::ProtocolError) -> Self {
        Refused {
            error: error.code(),
            message: error_chain(error),
        }
    }
}

/// An error's message with its sources, `: `-separated.
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// How often the engine ticks its core: deadlines, read fallbacks and
/// catch-up pages run on it.
const TICK: Duration = Duration::from_millis(10);

/// The most events handled between two ticks.
const BATCH: usize = 512;

/// A request waiting for the core's decision: where the reply goes.
enum Waiting {
    Write(oneshot::Sender<WriteReport>),
    Read(oneshot::Sender<ReadReport>),
}

pub(crate) struct Engine<N: Net> {
    /// The protocol core. Its payload is a request number, looked up in
    /// `waiting` when the decision comes.
    core: Core<Sample, u64>,
    store: Store,
    store_path: PathBuf,
    config_path: PathBuf,
    peers: PeerClient<N>,
    /// The one clock: milliseconds since the engine started, on tokio's
    /// clock (turmoil's, in the simulation).
    start: Instant,
    waiting: HashMap<u64, Waiting>,
    next_request: u64,
    /// Peer writes admitted since the last commit: stored in one
    /// transaction (group commit), then answered.
    pending_writes: Vec<WriteRequest<Sample>>,
    /// Messages this node sends itself: handled without the network.
    local: VecDeque<Message<Sample>>,
    unconfirmed: u64,
}

/// What an empty data directory means at start: `--bootstrap`,
/// `--lost-data`, or neither.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Empty {
    /// Neither flag: a new cluster's node at generation 0, a node that
    /// lost its data past it.
    Default,
    /// `--bootstrap`: a new cluster's node, whatever the generation.
    Bootstrap,
    /// `--lost-data`: a node that lost its data, whatever the generation.
    Lost,
}

/// The copies `node` holds in `config` without joining them.
fn stable_copies(config: &ClusterConfig, node: &str) -> Vec<ShardId> {
    let Some(node) = config.get_node(node) else {
        return Vec::new();
    };
    let mut stable: Vec<ShardId> = node
        .shards
        .iter()
        .chain(&node.replica_shards)
        .filter(|s| !node.joining_shards.contains(s))
        .copied()
        .collect();
    stable.sort_unstable();
    stable.dedup();
    stable
}

impl<N: Net> Engine<N> {
    /// Opens the store and starts the core: from its saved state when
    /// there is one, from the config file the first time.
    pub(crate) fn open(
        net: N,
        config_path: PathBuf,
        node: &str,
        data_dir: PathBuf,
        empty: Empty,
        checks: ApplyChecks,
    ) -> Result<Self, NodeError> {
        let store_path = data_dir.join("node.redb");
        let store_error = |source| NodeError::Store {
            path: store_path.clone(),
            source: Box::new(source),
        };
        let core_error = |source| NodeError::Core {
            node: node.to_owned(),
            source: Box::new(source),
        };
        std::fs::create_dir_all(&data_dir).map_err(|e| store_error(redb::Error::Io(e)))?;
        let store = Store::open(&store_path).map_err(store_error)?;
        let options = rusts_cluster::protocol::Options::default();
        let file = ClusterConfig::from_file(&config_path).map_err(|source| NodeError::Config {
            path: config_path.clone(),
            source,
        })?;
        let core = match store.load_state().map_err(store_error)? {
            // ENGINE OBLIGATION (restore at start): a restart runs the state
            // last persisted, and checks the file against it as a reload
            // would: the same config runs as saved, the next generation is
            // applied through every check of a live apply, and an older
            // file, another file of the same generation or a skipped step
            // refuses to start, saying what to deploy. The new incarnation
            // is persisted before the core sends anything.
            Some(_) if empty == Empty::Lost => {
                return Err(NodeError::LostDataWithState {
                    node: node.to_owned(),
                    dir: data_dir.clone(),
                })
            }
            Some(bytes) => {
                let restoring = Core::restore(&bytes, node, options).map_err(core_error)?;
                let next = restoring
                    .prepare_file_with(file, checks)
                    .map_err(core_error)?;
                store.save_state(restoring.bytes()).map_err(store_error)?;
                let mut core = restoring.start();
                if let Some(prepared) = next {
                    // As `reload`: persist, then commit (nothing is pending
                    // yet, so nothing is fenced).
                    store.save_state(prepared.bytes()).map_err(store_error)?;
                    core.commit(prepared, 0).map_err(core_error)?;
                }
                core
            }
            // ENGINE OBLIGATION (no data, no stable copies): a node with
            // no saved state holds no data. Past generation 0 (or on the
            // operator's `--lost-data`), a file that gives it copies it has
            // not joined means it lost its data (a new disk, a new machine
            // under an old id), or that a step was skipped; serving those
            // copies would answer reads without the data. So the core is
            // told they are lost: they take writes and refuse reads until
            // they have caught up from the other copies (decision 0045),
            // and the lost set is persisted before the node serves. Only a
            // new cluster's node (generation 0, or `--bootstrap`) serves
            // them at once, having nothing to catch up.
            None => {
                let stable = stable_copies(&file, node);
                let lost = match empty {
                    Empty::Bootstrap => false,
                    Empty::Lost => true,
                    Empty::Default => file.generation > 0,
                };
                let generation = file.generation;
                let mut core = Core::new(file, node, options).map_err(core_error)?;
                if lost && !stable.is_empty() {
                    core.lost(&stable).map_err(core_error)?;
                    eprintln!(
                        "{node}: no saved state in {}: its {} cop{} of generation {generation} \
                         (shards {}) lost their data; they take writes, and serve reads once \
                         caught up from the other copies (GET /status: catch_up_pending)",
                        data_dir.display(),
                        stable.len(),
                        if stable.len() == 1 { "y" } else { "ies" },
                        crate::error::shard_list(&stable),
                    );
                }
                store.save_state(&core.saved()).map_err(store_error)?;
                core
            }
        };
        Ok(Engine {
            core,
            store,
            store_path,
            config_path,
            peers: PeerClient::new(net),
            start: Instant::now(),
            waiting: HashMap::new(),
            next_request: 0,
            pending_writes: Vec::new(),
            local: VecDeque::new(),
            unconfirmed: 0,
        })
    }

    /// The address this node serves on, from its config.
    pub(crate) fn address(&self) -> Option<String> {
        let node = self.core.config().get_node(self.core.node_id())?;
        Some(node.address.clone())
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    /// The engine's loop: until every sender of `events` is gone, or the
    /// store fails (then the node stops rather than answer what it could
    /// not store).
    pub(crate) async fn run(mut self, mut events: mpsc::Receiver<Event>) -> Result<(), NodeError> {
        let mut ticker = tokio::time::interval(TICK);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            // Biased: tokio's select otherwise picks a branch at random,
            // and a seed of the simulation would not replay exactly.
            tokio::select! {
                biased;
                received = events.recv_many(&mut batch, BATCH) => {
                    if received == 0 {
                        return Ok(());
                    }
                }
                _ = ticker.tick() => {}
            }
            for event in batch.drain(..) {
                self.handle(event)?;
            }
            // ENGINE OBLIGATION (call tick on a timer): the only thing that
            // ends a write whose copies never answer.
            self.core.tick(self.now());
            self.settle()?;
        }
    }

    /// Commits the pending writes and does what the core asks, including
    /// the messages this node sent itself, until nothing is left.
    fn settle(&mut self) -> Result<(), NodeError> {
        loop {
            self.flush_writes();
            self.drain()?;
            match self.local.pop_front() {
                Some(message) => self.peer(message)?,
                None if self.pending_writes.is_empty() => return Ok(()),
                None => {}
            }
        }
    }

    fn handle(&mut self, event: Event) -> Result<(), NodeError> {
        let now = self.now();
        match event {
            Event::Peer(message) => self.peer(message)?,
            Event::Write(points, reply) => {
                self.flush_writes();
                let request = self.wait(Waiting::Write(reply));
                let count = points.len();
                if let Err(error) = self.core.write(points, request, now) {
                    if let Some(Waiting::Write(reply)) = self.waiting.remove(&request) {
                        let _ = reply.send(WriteReport {
                            acknowledged: false,
                            generation: self.core.generation(),
                            points: count,
                            failed: Vec::new(),
                            refused: Some(Refused::of(&error)),
                        });
                    }
                }
            }
            Event::Read(query, reply) => {
                self.flush_writes();
                let request = self.wait(Waiting::Read(reply));
                if let Err(error) = self.core.read(&query, request, now) {
                    if let Some(Waiting::Read(reply)) = self.waiting.remove(&request) {
                        let _ = reply.send(ReadReport {
                            complete: false,
                            generation: self.core.generation(),
                            points: Vec::new(),
                            unreadable: Vec::new(),
                            fenced: None,
                            refused: Some(Refused::of(&error)),
                        });
                    }
                }
            }
            Event::Status(reply) => {
                let _ = reply.send(self.status());
            }
            Event::Reload(checks, reply) => {
                self.flush_writes();
                let _ = reply.send(self.reload(checks, now));
            }
            Event::Release(reply) => {
                self.flush_writes();
                let released = self.core.release_kept();
                let saved = self.core.saved();
                let result = match self.store.drop_shards(&released, Some(&saved)) {
                    Ok(()) => Ok(released),
                    Err(e) => Err(Refused {
                        error: "storage",
                        message: error_chain(&e),
                    }),
                };
                let _ = reply.send(result);
            }
        }
        Ok(())
    }

    fn wait(&mut self, waiting: Waiting) -> u64 {
        let request = self.next_request;
        self.next_request += 1;
        self.waiting.insert(request, waiting);
        request
    }

    /// A peer's message (or one this node sent itself).
    fn peer(&mut self, message: Message<Sample>) -> Result<(), NodeError> {
        let now = self.now();
        match message {
            // Writes wait for the group commit in `flush_writes`.
            Message::Write(request) => self.pending_writes.push(request),
            // ENGINE OBLIGATION (admission): a peer's read or catch-up page
            // is admitted against the core's state of now (generation and
            // copy checked there; "not held" answers as a refusal, never
            // as rows).
            Message::Read(request) => {
                let admission = self.core.admit_read(&request);
                let answer =
                    admission.answer(|shards, filter| self.store.scan(shards, filter).ok());
                self.send_to(&request.header.node, Message::ReadAnswer(answer));
            }
            Message::CatchUp(request) => {
                let admission = self.core.admit_catch_up(&request);
                let answer = admission
                    .answer(|shards, after, limit| self.store.page(shards, after, limit).ok());
                self.send_to(&request.header.node, Message::CatchUpAnswer(answer));
            }
            // Answers and probes: the core counts them (a late or unknown
            // answer is told apart and ignored there). A catch-up page is
            // stored at once: the core may count its copy caught up on
            // it, and a read or a status handled next in the same batch
            // must find the points stored.
            answer => {
                let page = matches!(answer, Message::CatchUpAnswer(_));
                self.core.receive(answer, now);
                if page {
                    self.drain()?;
                }
            }
        }
        Ok(())
    }

    /// Stores every pending peer write in one transaction, then answers
    /// each. The core's state has not changed since they arrived: any
    /// other event flushes them first, so each is admitted against the
    /// snapshot it arrived under.
    fn flush_writes(&mut self) {
        if self.pending_writes.is_empty() {
            return;
        }
        let requests = mem::take(&mut self.pending_writes);
        // ENGINE OBLIGATION (admission): each shard of a peer's write is
        // admitted or refused by the core (generation more than one away,
        // copy not held, copy not writable); only admitted points are
        // stored, each under the local shard the core names.
        let admissions: Vec<_> = requests.iter().map(|r| self.core.admit_write(r)).collect();
        // ENGINE OBLIGATION (store, then answer): the answer says "stored"
        // only after the commit is durable; a failed commit answers a
        // storage refusal, which never counts as a copy.
        let stored = match self.store.put(admissions.iter().flat_map(|a| a.points())) {
            Ok(_) => true,
            Err(error) => {
                eprintln!(
                    "{}: store failed: {}",
                    self.core.node_id(),
                    error_chain(&error)
                );
                false
            }
        };
        for (request, admission) in requests.iter().zip(&admissions) {
            let answer = admission.answer(stored);
            self.send_to(&request.header.node, Message::WriteAnswer(answer));
        }
    }

    /// Does what the core asks, until it asks nothing more.
    fn drain(&mut self) -> Result<(), NodeError> {
        while let Some(output) = self.core.poll() {
            match output {
                Output::Send(peer, message) => self.send_to(&peer.node, message),
                Output::WriteDone(done) => self.write_done(done),
                Output::ReadDone(done) => self.read_done(done),
                // The copies that never confirmed a write: this node counts
                // them (hints and repair would start here).
                Output::WriteSettled(settled) => {
                    self.unconfirmed += settled
                        .unconfirmed
                        .iter()
                        .map(|(_, nodes)| nodes.len() as u64)
                        .sum::<u64>();
                }
                // ENGINE OBLIGATION (keep the greater version): catch-up
                // points are stored by the merge rule, durably, before the
                // core is told anything more.
                Output::CatchUpPoints { shard, points } => {
                    self.store
                        .put(points.iter().map(|p| (shard, p)))
                        .map_err(|e| self.store_error(e))?;
                }
                // ENGINE OBLIGATION (persist the saved state): so that a
                // restart does not fetch the copy again.
                Output::CaughtUp { shard } => {
                    eprintln!("{}: shard {shard} caught up", self.core.node_id());
                    self.store
                        .save_state(&self.core.saved())
                        .map_err(|e| self.store_error(e))?;
                }
                // ENGINE OBLIGATION (delete data only when told).
                Output::Droppable { shards } => {
                    self.store
                        .drop_shards(&shards, None)
                        .map_err(|e| self.store_error(e))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn store_error(&self, source: redb::Error) -> NodeError {
        NodeError::Store {
            path: self.store_path.clone(),
            source: Box::new(source),
        }
    }

    fn write_done(&mut self, done: WriteDone<u64>) {
        let Some(Waiting::Write(reply)) = self.waiting.remove(&done.payload) else {
            return;
        };
        let acknowledged = done.is_acknowledged();
        let _ = reply.send(WriteReport {
            acknowledged,
            generation: done.generation,
            points: done.shards.iter().map(|s| s.points as usize).sum(),
            failed: done
                .shards
                .iter()
                .filter(|s| {
                    s.reason.is_some()
                        || !acknowledged
                            && s.outcome != rusts_cluster::protocol::ShardOutcome::Acknowledged
                })
                .map(FailedShard::of)
                .collect(),
            refused: None,
        });
    }

    fn read_done(&mut self, done: ReadDone<Sample, u64>) {
        let Some(Waiting::Read(reply)) = self.waiting.remove(&done.payload) else {
            return;
        };
        let _ = reply.send(ReadReport {
            complete: done.is_complete(),
            generation: done.generation,
            unreadable: done.incomplete,
            fenced: done.fenced,
            points: done.rows,
            refused: None,
        });
    }

    /// Sends `message` to node `node`: over the network, or to this node's
    /// own queue.
    fn send_to(&mut self, node: &str, message: Message<Sample>) {
        if node == self.core.node_id() {
            self.local.push_back(message);
            return;
        }
        // ENGINE OBLIGATION (generation on every request): every message
        // carries the core's header, stamped by the core; the transport
        // adds nothing and drops nothing but what it cannot deliver.
        // A node the current generation no longer lists is leaving, and
        // its answer is not needed.
        if let Some(peer) = self.core.config().get_node(node) {
            self.peers.send(Arc::from(peer.address.as_str()), message);
        }
    }

    /// Re-reads the config file and moves to it, or refuses and keeps the
    /// current config.
    fn reload(&mut self, checks: ApplyChecks, now: u64) -> Result<Reloaded, Refused> {
        let config = ClusterConfig::from_file(&self.config_path).map_err(|e| Refused {
            error: e.code(),
            message: format!("{}: {}", self.config_path.display(), error_chain(&e)),
        })?;
        // ENGINE OBLIGATION (apply only safe steps): `prepare` refuses a
        // config that is not the next step (a skipped step, copies that
        // appear or vanish unsafely); only an operator's explicit
        // `unsafe=skip-step-checks` skips those checks.
        let prepared = self
            .core
            .prepare_with(config, checks)
            .map_err(|e| Refused::of(&e))?;
        // ENGINE OBLIGATION (persist before commit): the state the core
        // will run is durable before the node reports its generation, so a
        // restart can never come back on an older one.
        self.store
            .save_state(prepared.bytes())
            .map_err(|e| Refused {
                error: "storage",
                message: error_chain(&e),
            })?;
        let generation = prepared.generation();
        // ENGINE OBLIGATION (fencing): `commit` fails every request pending
        // under the older generation before the new one is reported; their
        // clients get a fenced answer through `drain`.
        let applied = self
            .core
            .commit(prepared, now)
            .map_err(|e| Refused::of(&e))?;
        Ok(Reloaded {
            generation,
            fenced: applied.fenced,
        })
    }

    fn status(&self) -> StatusReport {
        let (writes, reads) = self.core.in_flight();
        let shards = self
            .core
            .config()
            .get_node(self.core.node_id())
            .map(|n| {
                let mut s: Vec<ShardId> = n
                    .shards
                    .iter()
                    .chain(&n.replica_shards)
                    .chain(&n.joining_shards)
                    .copied()
                    .collect();
                s.sort_unstable();
                s.dedup();
                s
            })
            .unwrap_or_default();
        StatusReport {
            node_id: self.core.node_id().to_owned(),
            generation: self.core.generation(),
            identity: self.core.identity().to_string(),
            catch_up_pending: self.core.catch_up_pending(),
            catch_ups: self
                .core
                .catch_ups()
                .into_iter()
                .map(CatchUp::from)
                .collect(),
            lost_shards: self.core.lost_shards().to_vec(),
            shards,
            kept_shards: self.core.kept_shards().to_vec(),
            unconfirmed_copies: self.unconfirmed,
            writes_in_flight: writes,
            reads_in_flight: reads,
            stored_points: self.store.len().unwrap_or(0),
            messages_dropped: self.peers.dropped(),
        }
    }
}
