//! A small engine around the sans-IO core, over in-memory channels: the
//! reference of how to drive [`Core`] (`cargo run -p rusts-cluster-protocol
//! --example engine`).
//!
//! Four nodes run a factor-3 Quorum cluster, each a thread that owns its
//! core and its store. Two clients write batches to every coordinator in
//! turn while a deployer adds a fifth node through the three steps of a
//! transition, each step handed to the nodes in a shuffled order, so that
//! nodes run different steps while writes flow. At the end every node reads
//! the whole cluster back at Quorum. The example exits 0 only when each read
//! returned every acknowledged point.
//!
//! Every message between nodes goes through `serde_json` and back: the
//! messages are plain serde types, and nothing is shared between nodes but
//! bytes on a channel.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    process::{self, ExitCode},
    sync::{
        atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::SeqCst},
        mpsc::{self, Receiver, RecvTimeoutError, Sender},
        Arc,
    },
    thread,
    time::{Duration, Instant},
};

use rusts_cluster_config::{strategies::round_robin_cluster, ClusterConfig, NodeConfig};
use rusts_cluster_placement::{balance, plan_transition, with_node_changes, DEFAULT_ZONE_TAG};
use rusts_cluster_protocol::{
    Core, FailReason, Message, Options, Output, Point, PointId, WriteDone,
};
use rusts_cluster_routing::{Query, ReadConsistency};
use rusts_cluster_sharding::{ShardId, ShardKeyRef};
use serde::{Deserialize, Serialize};

/// The engine's point. The core only needs its key; the greater version of
/// one key wins, on a store as in a read's merge.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
struct Sample {
    series: u64,
    time: i64,
    value: i64,
}

impl Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new("cpu", self.series, self.time)
    }
}

/// What a coordinator's core carries with each write and read, and gives
/// back in its decision: where to send the client's reply.
type ClientReply = Sender<Reply>;

/// A coordinator's reply to a client.
#[derive(Debug)]
enum Reply {
    Written(Written),
    Rows { rows: Vec<Sample>, complete: bool },
}

#[derive(Debug, PartialEq, Eq)]
enum Written {
    Acknowledged,
    /// The coordinator took a newer config first: the client retries.
    Fenced,
    Failed,
}

/// A node's inbox: peers' messages as bytes, clients' requests, and the
/// deployer's control messages, all on one channel, so that one thread
/// owns the core and needs no lock.
enum Inbox {
    Peer(Vec<u8>),
    Write(Vec<Sample>, ClientReply),
    Read(Query, ClientReply),
    Deploy(ClusterConfig),
    /// The final step runs everywhere: give up the copies kept for peers one
    /// step behind.
    Release,
    Status(Sender<Status>),
    Stop,
}

#[derive(Clone, Copy, Debug)]
struct Status {
    generation: u64,
    catch_up_pending: usize,
}

/// Milliseconds since the start: the core's clock.
#[derive(Clone, Copy)]
struct Clock(Instant);

impl Clock {
    fn now(self) -> u64 {
        self.0.elapsed().as_millis() as u64
    }
}

/// Routes a message to a node's inbox, by node id, as JSON bytes.
///
/// It loses messages too: of each write's requests, the one to the node
/// whose index (in `ids`) is the write's id modulo the node count. Every
/// write is still acknowledged (one copy short of each shard at most), but a
/// copy may miss a point, so the final reads depend on the quorums meeting
/// and on catch-up fetching from enough sources, not on every copy holding
/// everything.
#[derive(Clone)]
struct Transport {
    ids: Arc<Vec<String>>,
    inboxes: Arc<HashMap<String, Sender<Inbox>>>,
    sent: Arc<AtomicU64>,
    lost: Arc<AtomicU64>,
}

impl Transport {
    fn send(&self, to: &str, message: &Message<Sample>) {
        let bytes = serde_json::to_vec(message).expect("a message serializes");
        self.sent.fetch_add(1, SeqCst);
        if let Message::Write(request) = message {
            let lost = &self.ids[request.write as usize % self.ids.len()];
            if lost == to {
                self.lost.fetch_add(1, SeqCst);
                return;
            }
        }
        // A node that has stopped drops the message, as a network would.
        if let Some(inbox) = self.inboxes.get(to) {
            let _ = inbox.send(Inbox::Peer(bytes));
        }
    }
}

/// One node: its core, its store, and what it persisted.
struct Node {
    core: Core<Sample, ClientReply>,
    /// (shard, point) -> the greatest version stored.
    store: BTreeMap<(ShardId, PointId), Sample>,
    /// The last state persisted (a real engine fsyncs it; a restart hands
    /// it to `Core::restore`).
    disk: Vec<u8>,
    transport: Transport,
    clock: Clock,
    /// How many points catch-up fetched.
    fetched: usize,
}

/// How often a node ticks its core when no message arrives.
const TICK: Duration = Duration::from_millis(10);

impl Node {
    /// The node's loop, until told to stop; returns how many points
    /// catch-up fetched.
    fn run(mut self, inbox: Receiver<Inbox>) -> usize {
        let mut next_tick = self.clock.now();
        loop {
            let event = inbox.recv_timeout(TICK);
            let now = self.clock.now();
            match event {
                Ok(Inbox::Peer(bytes)) => self.peer(&bytes, now),
                // A client's write: the core routes it and sends the
                // requests; its decision comes back through `poll`.
                Ok(Inbox::Write(points, reply)) => {
                    if let Err(error) = self.core.write(points, reply.clone(), now) {
                        eprintln!("{}: write refused: {error}", self.core.node_id());
                        let _ = reply.send(Reply::Written(Written::Failed));
                    }
                }
                Ok(Inbox::Read(query, reply)) => {
                    if let Err(error) = self.core.read(&query, reply.clone(), now) {
                        eprintln!("{}: read refused: {error}", self.core.node_id());
                        let rows = Vec::new();
                        let _ = reply.send(Reply::Rows {
                            rows,
                            complete: false,
                        });
                    }
                }
                // A new config: check it, persist what the core will run,
                // and only then commit, which fences the older generation's
                // pending requests before the new generation is reported.
                Ok(Inbox::Deploy(config)) => {
                    let prepared = self.core.prepare(config).expect("the step is valid here");
                    self.disk = prepared.bytes().to_vec();
                    self.core
                        .commit(prepared, now)
                        .expect("nothing committed since");
                }
                Ok(Inbox::Release) => {
                    let shards = self.core.release_kept();
                    self.drop_shards(&shards);
                    self.disk = self.core.saved();
                }
                Ok(Inbox::Status(reply)) => {
                    let _ = reply.send(Status {
                        generation: self.core.generation(),
                        catch_up_pending: self.core.catch_up_pending(),
                    });
                }
                Ok(Inbox::Stop) | Err(RecvTimeoutError::Disconnected) => return self.fetched,
                Err(RecvTimeoutError::Timeout) => {}
            }
            // Time: deadlines, read fallbacks, catch-up pages and probes.
            if now >= next_tick {
                self.core.tick(now);
                next_tick = now + TICK.as_millis() as u64;
            }
            self.drain();
        }
    }

    /// A peer's message: a request is admitted against the core's state of
    /// now, served from the store and answered; an answer goes to the core.
    fn peer(&mut self, bytes: &[u8], now: u64) {
        let message: Message<Sample> = serde_json::from_slice(bytes).expect("a message parses");
        let from = message.header().node.clone();
        let answer = match message {
            Message::Write(request) => {
                let admission = self.core.admit_write(&request);
                for (shard, point) in admission.points() {
                    put(&mut self.store, shard, point.clone());
                }
                // Stored (in memory, here) before the answer says so.
                Message::WriteAnswer(admission.answer(true))
            }
            Message::Read(request) => {
                let admission = self.core.admit_read(&request);
                Message::ReadAnswer(admission.answer(|shards, filter| {
                    let rows = self
                        .store
                        .iter()
                        .filter(|((s, _), p)| shards.contains(s) && filter.matches(p.key()));
                    Some(rows.map(|(_, p)| p.clone()).collect())
                }))
            }
            Message::CatchUp(request) => {
                let admission = self.core.admit_catch_up(&request);
                Message::CatchUpAnswer(admission.answer(|shards, after, limit| {
                    Some(page(&self.store, shards, after, limit as usize))
                }))
            }
            // Answers and probes: the core counts them.
            answer => {
                self.core.receive(answer, now);
                return;
            }
        };
        self.transport.send(&from, &answer);
    }

    /// Does what the core asks, until it asks nothing more.
    fn drain(&mut self) {
        while let Some(output) = self.core.poll() {
            match output {
                Output::Send(peer, message) => self.transport.send(&peer.node, &message),
                Output::WriteDone(done) => {
                    let written = outcome(&done);
                    let _ = done.payload.send(Reply::Written(written));
                }
                Output::ReadDone(done) => {
                    let complete = done.is_complete();
                    let rows = done.rows;
                    let _ = done.payload.send(Reply::Rows { rows, complete });
                }
                // Points fetched for a joining copy: stored by the merge rule.
                Output::CatchUpPoints { shard, points } => {
                    self.fetched += points.len();
                    for point in points {
                        put(&mut self.store, shard, point);
                    }
                }
                // So that a restart does not fetch the copy again.
                Output::CaughtUp { .. } => self.disk = self.core.saved(),
                Output::Droppable { shards } => self.drop_shards(&shards),
                // The copies that missed a write, for hints or repair: this
                // engine keeps none (catch-up and Quorum reads cover them).
                Output::WriteSettled(_) => {}
                _ => {}
            }
        }
    }

    fn drop_shards(&mut self, shards: &[ShardId]) {
        self.store.retain(|(s, _), _| !shards.contains(s));
    }
}

/// Stores a point by the merge rule: of two versions, the greater stays.
fn put(store: &mut BTreeMap<(ShardId, PointId), Sample>, shard: ShardId, point: Sample) {
    let slot = store
        .entry((shard, PointId::of(&point)))
        .or_insert(point.clone());
    if point > *slot {
        *slot = point;
    }
}

/// A catch-up page of `shards`: the points after `after`, in point-id
/// order, at most `limit`, and whether it is the last page.
fn page(
    store: &BTreeMap<(ShardId, PointId), Sample>,
    shards: &[ShardId],
    after: Option<&PointId>,
    limit: usize,
) -> (Vec<Sample>, bool) {
    let mut points: Vec<(&PointId, &Sample)> = store
        .iter()
        .filter(|((s, id), _)| shards.contains(s) && after.is_none_or(|a| id > a))
        .map(|((_, id), p)| (id, p))
        .collect();
    points.sort();
    let done = points.len() <= limit;
    (
        points
            .into_iter()
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect(),
        done,
    )
}

fn outcome<T>(done: &WriteDone<T>) -> Written {
    if done.is_acknowledged() {
        Written::Acknowledged
    } else if done
        .shards
        .iter()
        .any(|s| matches!(s.reason, Some(FailReason::Fenced { .. })))
    {
        Written::Fenced
    } else {
        Written::Failed
    }
}

/// What the clients saw.
#[derive(Default)]
struct Tally {
    acknowledged: Vec<Sample>,
    failed: usize,
    fenced: usize,
}

/// A client: batches of 16 points (one per series, at one time) to every
/// running coordinator in turn, until told to stop. A fenced batch is
/// retried on the next coordinator, up to 5 times; a failed one is counted
/// and not retried: only acknowledged points must be read back.
fn client(
    id: i64,
    inboxes: Arc<HashMap<String, Sender<Inbox>>>,
    running: Arc<AtomicUsize>,
    decided: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
) -> Tally {
    let (reply, replies) = mpsc::channel();
    let mut tally = Tally::default();
    let mut coordinator = id as usize;
    for batch in 0.. {
        if stop.load(SeqCst) {
            break;
        }
        let time = id * 1_000_000 + batch;
        let points: Vec<Sample> = (0..16)
            .map(|series| Sample {
                series,
                time,
                value: time,
            })
            .collect();
        for _attempt in 0..5 {
            coordinator = (coordinator + 1) % running.load(SeqCst);
            let inbox = &inboxes[&format!("node{coordinator}")];
            inbox
                .send(Inbox::Write(points.clone(), reply.clone()))
                .unwrap();
            match replies.recv().unwrap() {
                Reply::Written(Written::Acknowledged) => tally.acknowledged.extend(points.clone()),
                Reply::Written(Written::Fenced) => {
                    tally.fenced += 1;
                    continue;
                }
                Reply::Written(Written::Failed) => tally.failed += 1,
                Reply::Rows { .. } => unreachable!("a write's reply"),
            }
            break;
        }
        decided.fetch_add(1, SeqCst);
    }
    tally
}

/// A small deterministic shuffle (xorshift), so that each step reaches the
/// nodes in another order.
fn shuffle(items: &mut [String], seed: &mut u64) {
    for i in (1..items.len()).rev() {
        *seed ^= *seed << 13;
        *seed ^= *seed >> 7;
        *seed ^= *seed << 17;
        items.swap(i, (*seed % (i as u64 + 1)) as usize);
    }
}

fn status(inbox: &Sender<Inbox>) -> Status {
    let (tx, rx) = mpsc::channel();
    inbox.send(Inbox::Status(tx)).unwrap();
    rx.recv().unwrap()
}

/// Waits, by asking the nodes, until every one of `nodes` satisfies `done`.
fn wait_until(
    inboxes: &HashMap<String, Sender<Inbox>>,
    nodes: &[String],
    done: impl Fn(Status) -> bool,
) {
    while !nodes.iter().all(|n| done(status(&inboxes[n]))) {
        thread::sleep(Duration::from_millis(2));
    }
}

/// Waits until the clients have had `more` batches decided: so that writes
/// run between two deploys, with the nodes on different steps.
fn wait_for_writes(decided: &AtomicUsize, more: usize) {
    let target = decided.load(SeqCst) + more;
    while decided.load(SeqCst) < target {
        thread::sleep(Duration::from_millis(1));
    }
}

/// The example's whole run takes about a second; past this it has hung
/// (a wait whose condition never comes), and it fails instead of waiting
/// forever.
const WATCHDOG: Duration = Duration::from_secs(120);

fn main() -> ExitCode {
    thread::spawn(|| {
        thread::sleep(WATCHDOG);
        eprintln!(
            "error: the example engine did not finish in {} s: a node or the deployer waits for what never comes",
            WATCHDOG.as_secs()
        );
        process::exit(1);
    });
    // The cluster: 8 shards, 4 nodes, factor 3, Quorum (the default mode).
    let a = round_robin_cluster(8, 4, 3);
    // B adds node4 and balances the copies onto it; the plan is the three
    // steps between A and B.
    let node4 = NodeConfig::new("node4", "10.0.0.5:8086");
    let b = balance(
        &with_node_changes(&a, vec![node4], &[]).unwrap(),
        DEFAULT_ZONE_TAG,
    )
    .unwrap();
    let plan = plan_transition(&a, &b).unwrap();
    let ids: Vec<String> = (0..5).map(|i| format!("node{i}")).collect();

    let (senders, mut receivers): (HashMap<_, _>, HashMap<_, _>) = ids
        .iter()
        .map(|id| {
            let (tx, rx) = mpsc::channel();
            ((id.clone(), tx), (id.clone(), rx))
        })
        .unzip();
    let inboxes = Arc::new(senders);
    let transport = Transport {
        ids: Arc::new(ids.clone()),
        lost: Arc::default(),
        inboxes: inboxes.clone(),
        sent: Arc::default(),
    };
    let clock = Clock(Instant::now());
    let mut start = |id: &str, config: &ClusterConfig| {
        let core = Core::new(config.clone(), id, Options::default()).unwrap();
        let node = Node {
            disk: core.saved(),
            core,
            store: BTreeMap::new(),
            fetched: 0,
            transport: transport.clone(),
            clock,
        };
        let inbox = receivers.remove(id).unwrap();
        thread::spawn(move || node.run(inbox))
    };
    let mut threads: Vec<_> = ids[..4].iter().map(|id| start(id, &a)).collect();

    // The clients write from now until after the final step.
    let running = Arc::new(AtomicUsize::new(4));
    let decided = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let clients: Vec<_> = (0..2)
        .map(|id| {
            let (inboxes, running, decided, stop) = (
                inboxes.clone(),
                running.clone(),
                decided.clone(),
                stop.clone(),
            );
            thread::spawn(move || client(id, inboxes, running, decided, stop))
        })
        .collect();
    wait_for_writes(&decided, 10);

    // The transition. The new node starts on step 1; every other node gets
    // each step in a shuffled order, with writes between deploys.
    let mut seed = 0x2545_f491_4f6c_dd1d;
    for (number, step) in plan.steps.iter().enumerate() {
        let mut order = ids.clone();
        if number == 0 {
            threads.push(start("node4", &step.config));
            running.store(5, SeqCst);
            order.retain(|n| n != "node4");
        }
        shuffle(&mut order, &mut seed);
        println!(
            "step {} ({:?}, generation {}): {}",
            number + 1,
            step.kind,
            step.config.generation,
            order.join(", ")
        );
        for node in &order {
            inboxes[node]
                .send(Inbox::Deploy(step.config.clone()))
                .unwrap();
            wait_for_writes(&decided, 2);
        }
        // The next step is safe only once every node runs this one and, after
        // step 1, every joining copy has caught up.
        let generation = step.config.generation;
        wait_until(&inboxes, &ids, |s| {
            s.generation == generation && s.catch_up_pending == 0
        });
    }
    for node in &ids {
        inboxes[node].send(Inbox::Release).unwrap();
    }
    wait_for_writes(&decided, 10);
    stop.store(true, SeqCst);
    let tallies: Vec<Tally> = clients.into_iter().map(|c| c.join().unwrap()).collect();
    let acknowledged: BTreeSet<Sample> = tallies
        .iter()
        .flat_map(|t| t.acknowledged.iter().cloned())
        .collect();

    // Read everything back at Quorum, from every node as coordinator.
    let (reply, replies) = mpsc::channel();
    let mut missing = 0;
    for node in &ids {
        let query = Query::new().consistency(ReadConsistency::Quorum);
        inboxes[node]
            .send(Inbox::Read(query, reply.clone()))
            .unwrap();
        let Reply::Rows { rows, complete } = replies.recv().unwrap() else {
            unreachable!("a read's reply")
        };
        let rows: BTreeSet<Sample> = rows.into_iter().collect();
        let lost = acknowledged.iter().filter(|p| !rows.contains(p)).count();
        println!(
            "read at Quorum from {node}: {} rows, complete: {complete}, missing: {lost}",
            rows.len()
        );
        missing += lost;
    }
    for node in &ids {
        inboxes[node].send(Inbox::Stop).unwrap();
    }
    let fetched: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();

    println!(
        "points acknowledged: {}, batches failed: {}, batches fenced (retried): {}",
        acknowledged.len(),
        tallies.iter().map(|t| t.failed).sum::<usize>(),
        tallies.iter().map(|t| t.fenced).sum::<usize>(),
    );
    println!(
        "messages sent: {}, write requests lost: {}, points fetched by catch-up: {fetched}",
        transport.sent.load(SeqCst),
        transport.lost.load(SeqCst),
    );
    if missing > 0 || acknowledged.is_empty() {
        println!("FAILED: {missing} acknowledged points not read back");
        return ExitCode::FAILURE;
    }
    println!("every acknowledged point was read back");
    ExitCode::SUCCESS
}
