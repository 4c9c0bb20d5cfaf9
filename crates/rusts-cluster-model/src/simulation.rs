//! A seeded, deterministic simulation of live reconfiguration at scale:
//! 5-9 nodes, hundreds of shards, random transitions (add, remove, replace
//! a node) planned by `plan_transition` and rolled out with skew, over a
//! network that delays, reorders, drops and duplicates, with crashes where
//! the mode tolerates them.
//!
//! **Every protocol decision comes from the real sans-IO core**,
//! `rusts_cluster_protocol::Core`, one per node: a client's write and read
//! are `Core::write` and `Core::read` on a coordinator, acknowledged by its
//! `Output::WriteDone` and answered by its `Output::ReadDone`; a replica
//! admits or refuses each request with `admit_write`, `admit_read` and
//! `admit_catch_up`; answers, timeouts, read fallbacks, generation fencing
//! (`prepare` then `commit`), catch-up pages and the copies kept for peers
//! one step behind are the core's. A crashed node is rebuilt with
//! `Core::restore` from the bytes it last persisted.
//!
//! The simulation holds only the world: the clients, the lossy network
//! (every `Output::Send` goes into a seeded queue), each node's durable
//! store, crashes, the deployer (which waits for every node to run a step
//! and every joining copy to report `CaughtUp` before the next), and the
//! checker: every acknowledged write on as many final copies as the write
//! rule needs when a transition ends, and every complete `Quorum` read
//! holding every write acknowledged before it began.

use std::{
    cmp::Reverse,
    collections::{BTreeMap, BinaryHeap, HashMap},
    ops::Bound,
};

use rusts_cluster_config::{ClusterConfig, NodeConfig};
use rusts_cluster_placement::{balance, plan_transition, with_node_changes, DEFAULT_ZONE_TAG};
use rusts_cluster_protocol::{Core, FailReason, Message, Options, Output, Point, PointId};
use rusts_cluster_replication::ReplicationMode;
use rusts_cluster_routing::{ApplyChecks, Query, ReadConsistency};
use rusts_cluster_sharding::{testing::TestRng, ShardId, ShardKeyRef};

/// What one seed runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SimulationConfig {
    /// The seed: everything else follows from it.
    pub seed: u64,
    /// Client writes to issue.
    pub writes: u64,
    /// The cluster's shard count.
    pub shards: usize,
    /// The replication mode.
    pub mode: ReplicationMode,
    /// The replication factor.
    pub replication_factor: usize,
    /// Deploy each new placement directly (today's procedure, after
    /// copying the moving shards while every node runs the old config)
    /// instead of through `plan_transition`'s three steps: for showing
    /// that the simulation detects lost writes.
    pub one_step: bool,
}

/// What one seed did and found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SimulationReport {
    /// The seed.
    pub seed: u64,
    /// `Quorum` or `Synchronous`.
    pub mode: String,
    /// The replication factor.
    pub replication_factor: usize,
    /// The node counts the cluster went through, in order.
    pub node_counts: Vec<usize>,
    /// Transitions completed: nodes added, removed, replaced.
    pub added: usize,
    /// See `added`.
    pub removed: usize,
    /// See `added`.
    pub replaced: usize,
    /// Writes issued by clients (`Core::write` calls).
    pub writes: u64,
    /// Writes whose `WriteDone` was acknowledged.
    pub acked: u64,
    /// Writes that failed because their coordinator committed a newer
    /// config first (`FailReason::Fenced`).
    pub fenced_writes: u64,
    /// Writes that failed otherwise (refused, timed out, not writable).
    pub failed_writes: u64,
    /// `Quorum` reads that completed (`ReadDone::is_complete`).
    pub reads: u64,
    /// Reads that did not complete (too few copies answered in time, or
    /// fenced: see `fenced_reads`).
    pub reads_failed: u64,
    /// Reads ended by their coordinator's commit (`ReadDone::fenced`).
    pub fenced_reads: u64,
    /// Writes and reads ended by commits, as `Applied::fenced` counts them:
    /// every one still in the core's tables, so also writes already
    /// acknowledged whose other copies had not answered yet (hence more
    /// than `fenced_writes` and `fenced_reads`).
    pub fenced: u64,
    /// Shards of requests a replica refused (`admit_*`).
    pub refusals: u64,
    /// Messages the cores sent, and answers to them.
    pub messages: u64,
    /// Catch-up pages stored (`Output::CatchUpPoints`), and their points.
    pub catch_up_pages: u64,
    /// See `catch_up_pages`.
    pub catch_up_points: u64,
    /// Copies reported caught up (`Output::CaughtUp`).
    pub caught_up: u64,
    /// Copies whose data was deleted (`Output::Droppable`,
    /// `Core::release_kept`).
    pub copies_dropped: u64,
    /// Node crashes (each a `Core::restore` at restart).
    pub crashes: u64,
    /// Restarts whose restored core still had copies to catch up: it went
    /// on from the cursors it had persisted.
    pub restored_catching_up: u64,
    /// Messages dropped and duplicated by the network.
    pub dropped: u64,
    /// See `dropped`.
    pub duplicated: u64,
    /// Acknowledged writes found on fewer than the required copies of the
    /// final placement when a transition completed: must be 0.
    pub lost_writes: u64,
    /// `Quorum` reads that completed and missed a write acknowledged
    /// before they began: must be 0.
    pub incomplete_reads: u64,
}

/// The simulation's point: a series and the write that made it, one point
/// per write (its timestamp is the write's number).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Sample {
    series: u64,
    write: u64,
}

impl Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new("cpu", self.series, self.write as i64)
    }
}

/// What a coordinator's core carries with each write and read.
#[derive(Clone, Copy, Debug)]
enum Tag {
    /// The write's point: its series and number.
    Write(u64, u64),
    /// The read's number: its key in `Sim::reads`.
    Read(u64),
}

/// One shard's copy on a node: (series, write) -> point, which is
/// `PointId` order (one measurement, timestamps non-negative).
type Points = BTreeMap<(u64, u64), Sample>;

struct Node {
    id: String,
    /// `None` while crashed, before it joins and after it leaves.
    core: Option<Core<Sample, Tag>>,
    crashed: bool,
    /// The bytes last persisted: `Prepared::bytes` before each commit,
    /// `Core::saved` after catch-up progress.
    disk: Vec<u8>,
    /// The step of the transition it runs (0 = the config it started on).
    step: usize,
    /// Durable: survives a crash.
    store: HashMap<ShardId, Points>,
}

#[derive(Debug)]
enum Event {
    Deliver {
        to: usize,
        message: Message<Sample>,
    },
    Upgrade(usize),
    /// The one-step procedure's copy (the operator's, not the core's).
    Copy(usize),
    Restart(usize),
}

struct Sim {
    rng: TestRng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: HashMap<usize, Event>,
    next_event: usize,
    nodes: Vec<Node>,
    options: Options,
    /// The configs of the transition: 0 is the one every node ran when it
    /// began.
    steps: Vec<ClusterConfig>,
    /// The nodes listed by some step.
    members: Vec<usize>,
    /// One-step only: (shard, target, sources) copied before deploying.
    copies: Vec<(ShardId, usize, Vec<usize>)>,
    copies_left: usize,
    /// The step deployed (nodes move to it).
    deployed: usize,
    /// Every member runs `deployed`: the deployer waits for catch-up.
    reached: bool,
    transition_active: bool,
    next_transition_at: u64,
    one_step: bool,
    /// The transition in progress: 0 adds a node, 1 removes one, 2
    /// replaces one.
    kind: u8,
    /// How many series the clients write to.
    series: u64,
    /// Per series: its acknowledged writes, in order.
    acked_series: HashMap<u64, Vec<u64>>,
    /// Every acknowledged write, with its shard.
    acked: Vec<(ShardId, Sample)>,
    /// Per read in flight: (series, acknowledged writes of it when the
    /// read began).
    reads: HashMap<u64, Vec<(u64, usize)>>,
    crash_tolerated: bool,
    report: SimulationReport,
}

const DELAY: u64 = 40;
const TIMEOUT: u64 = 400;
const SKEW: u64 = 600;

fn address(node: usize) -> String {
    format!("10.0.{}.{}:8086", node / 250, node % 250 + 1)
}

/// A catch-up page of `shards` from `store`: the points after `after`, in
/// point-id order, at most `limit`, and whether it is the last.
fn page(
    store: &HashMap<ShardId, Points>,
    shards: &[ShardId],
    after: Option<&PointId>,
    limit: usize,
) -> (Vec<Sample>, bool) {
    let from = match after {
        Some(a) => Bound::Excluded((a.series_id, a.timestamp as u64)),
        None => Bound::Unbounded,
    };
    let mut points: Vec<Sample> = shards
        .iter()
        .filter_map(|s| store.get(s))
        .flat_map(|copy| {
            copy.range((from, Bound::Unbounded))
                .take(limit + 1)
                .map(|(_, p)| p.clone())
        })
        .collect();
    points.sort();
    let done = points.len() <= limit;
    points.truncate(limit);
    (points, done)
}

impl Sim {
    fn schedule(&mut self, at: u64, event: Event) {
        let id = self.next_event;
        self.next_event += 1;
        self.events.insert(id, event);
        self.seq += 1;
        self.queue.push(Reverse((at, self.seq, id)));
    }

    /// Sends a message: delayed (so reordered), sometimes dropped, sometimes
    /// delivered twice.
    fn send(&mut self, to: usize, message: Message<Sample>) {
        self.report.messages += 1;
        if self.rng.chance(3) {
            self.report.dropped += 1;
            return;
        }
        if self.rng.chance(3) {
            self.report.duplicated += 1;
            let at = self.now + 1 + self.rng.below(DELAY * 3);
            self.schedule(
                at,
                Event::Deliver {
                    to,
                    message: message.clone(),
                },
            );
        }
        let at = self.now + 1 + self.rng.below(DELAY);
        self.schedule(at, Event::Deliver { to, message });
    }

    fn index(&self, id: &str) -> usize {
        self.nodes
            .iter()
            .position(|n| n.id == id)
            .expect("a known node")
    }

    fn add_node(&mut self, id: &str) -> usize {
        self.nodes.push(Node {
            id: id.to_owned(),
            core: None,
            crashed: false,
            disk: Vec::new(),
            step: 0,
            store: HashMap::new(),
        });
        self.nodes.len() - 1
    }

    /// Does what node `n`'s core asks, until it asks nothing more.
    fn drain(&mut self, n: usize) {
        let Some(core) = self.nodes[n].core.as_mut() else {
            return;
        };
        let outputs: Vec<_> = std::iter::from_fn(|| core.poll()).collect();
        for output in outputs {
            match output {
                Output::Send(peer, message) => {
                    let to = self.index(&peer.node);
                    self.send(to, message);
                }
                Output::WriteDone(done) => {
                    let Tag::Write(series, write) = done.payload else {
                        unreachable!("a write's tag")
                    };
                    if done.is_acknowledged() {
                        self.report.acked += 1;
                        self.acked_series.entry(series).or_default().push(write);
                        self.acked
                            .push((done.shards[0].shard, Sample { series, write }));
                    } else if done
                        .shards
                        .iter()
                        .any(|s| matches!(s.reason, Some(FailReason::Fenced { .. })))
                    {
                        self.report.fenced_writes += 1;
                    } else {
                        self.report.failed_writes += 1;
                    }
                }
                Output::ReadDone(done) => {
                    let Tag::Read(r) = done.payload else {
                        unreachable!("a read's tag")
                    };
                    let must_see = self.reads.remove(&r).expect("a read in flight");
                    if done.fenced.is_some() {
                        self.report.fenced_reads += 1;
                    }
                    if !done.is_complete() {
                        self.report.reads_failed += 1;
                        continue;
                    }
                    self.report.reads += 1;
                    let missed = must_see.iter().any(|&(series, count)| {
                        self.acked_series.get(&series).is_some_and(|writes| {
                            writes[..count].iter().any(|&write| {
                                done.rows
                                    .binary_search_by(|p| (p.series, p.write).cmp(&(series, write)))
                                    .is_err()
                            })
                        })
                    });
                    if missed {
                        self.report.incomplete_reads += 1;
                    }
                }
                Output::CatchUpPoints { shard, points } => {
                    self.report.catch_up_pages += 1;
                    self.report.catch_up_points += points.len() as u64;
                    let node = &mut self.nodes[n];
                    let copy = node.store.entry(shard).or_default();
                    for point in points {
                        copy.insert((point.series, point.write), point);
                    }
                    // Stored, then the cursor persisted: a restart goes on
                    // from here.
                    node.disk = node.core.as_ref().expect("running").saved();
                }
                Output::CaughtUp { .. } => {
                    self.report.caught_up += 1;
                    let node = &mut self.nodes[n];
                    node.disk = node.core.as_ref().expect("running").saved();
                }
                Output::Droppable { shards } => self.drop_copies(n, &shards),
                _ => {}
            }
        }
    }

    fn drop_copies(&mut self, n: usize, shards: &[ShardId]) {
        for shard in shards {
            if self.nodes[n].store.remove(shard).is_some() {
                self.report.copies_dropped += 1;
            }
        }
    }

    /// A message arrives at node `to`: a request is admitted by its core
    /// against its state of now, served from its store and answered over
    /// the network; an answer goes to the core. A node that runs no core
    /// (crashed, not joined, gone) loses it.
    fn deliver(&mut self, to: usize, message: Message<Sample>) {
        let now = self.now;
        let Node { core, store, .. } = &mut self.nodes[to];
        let Some(core) = core.as_mut() else {
            return;
        };
        let from = message.header().node.clone();
        let mut refused = 0;
        let answer = match message {
            Message::Write(request) => {
                let admission = core.admit_write(&request);
                refused += admission.refusals().count();
                for (shard, point) in admission.points() {
                    store
                        .entry(shard)
                        .or_default()
                        .insert((point.series, point.write), point.clone());
                }
                // Stored (durably, here) before the answer says so.
                Message::WriteAnswer(admission.answer(true))
            }
            Message::Read(request) => {
                let admission = core.admit_read(&request);
                refused += admission.shards().filter(|(_, s)| s.is_err()).count();
                Message::ReadAnswer(admission.answer(|shards, filter| {
                    let mut rows = Vec::new();
                    let wanted = |p: &&Sample| filter.matches(p.key());
                    for copy in shards.iter().filter_map(|s| store.get(s)) {
                        match filter.series() {
                            Some(series) => {
                                for &s in series {
                                    let run = copy.range((s, 0)..=(s, u64::MAX));
                                    rows.extend(run.map(|(_, p)| p).filter(wanted).cloned());
                                }
                            }
                            None => rows.extend(copy.values().filter(wanted).cloned()),
                        }
                    }
                    Some(rows)
                }))
            }
            Message::CatchUp(request) => {
                let admission = core.admit_catch_up(&request);
                refused += usize::from(admission.shards().is_err());
                Message::CatchUpAnswer(admission.answer(|shards, after, limit| {
                    Some(page(store, shards, after, limit as usize))
                }))
            }
            answer => {
                core.receive(answer, now);
                self.drain(to);
                return;
            }
        };
        self.report.refusals += refused as u64;
        let from = self.index(&from);
        self.send(from, answer);
    }
}

// The deployer, the clients and the crashes.
impl Sim {
    fn start_transition(&mut self) {
        let config = self.steps[0].clone();
        let ids: Vec<String> = config.nodes.iter().map(|n| n.id.clone()).collect();
        let count = ids.len();
        let rf = config.replication_factor;
        let mut kinds = vec![2u8];
        if count < 9 {
            kinds.push(0);
        }
        if count > 5 && count > rf {
            kinds.push(1);
        }
        let kind = kinds[self.rng.below(kinds.len() as u64) as usize];
        let k = self.nodes.len();
        let new_node = || NodeConfig::new(format!("n{k}"), address(k));
        let (add, remove) = match kind {
            0 => (vec![new_node()], vec![]),
            1 => (
                vec![],
                vec![ids[self.rng.below(count as u64) as usize].clone()],
            ),
            _ => (
                vec![new_node()],
                vec![ids[self.rng.below(count as u64) as usize].clone()],
            ),
        };
        for node in &add {
            self.add_node(&node.id);
        }
        let changed = with_node_changes(&config, add, &remove).expect("node changes");
        let to = balance(&changed, DEFAULT_ZONE_TAG).expect("a placement");
        let plan = plan_transition(&config, &to).expect("a transition plan");
        let mut configs = vec![config.clone()];
        if self.one_step || plan.is_empty() {
            // Deployed directly as the next generation (no copy moves, or
            // today's one-step procedure).
            let mut next = to.clone();
            next.generation = config.generation + 1;
            configs.push(next);
        } else {
            configs.extend(plan.steps.iter().map(|s| s.config.clone()));
        }
        let mut members: Vec<usize> = configs
            .iter()
            .flat_map(|c| c.nodes.iter().map(|n| self.index(&n.id)))
            .collect();
        members.sort_unstable();
        members.dedup();
        self.members = members;
        self.steps = configs;
        self.copies = if self.one_step {
            plan.catch_up
                .iter()
                .map(|c| {
                    let sources = c.sources.iter().map(|s| self.index(s)).collect();
                    (c.shard, self.index(&c.node), sources)
                })
                .collect()
        } else {
            Vec::new()
        };
        self.kind = kind;
        for node in &mut self.nodes {
            node.step = 0;
        }
        self.transition_active = true;
        self.reached = false;
        self.deployed = 0;
        if !self.copies.is_empty() {
            // Today's procedure copies before deploying, while every node
            // runs the old config.
            self.copies_left = self.copies.len();
            for i in 0..self.copies.len() {
                let at = self.now + 1 + self.rng.below(SKEW);
                self.schedule(at, Event::Copy(i));
            }
        } else {
            self.deploy_next();
        }
    }

    /// The operator deploys the next step: every member node moves to it
    /// at its own moment within the skew window.
    fn deploy_next(&mut self) {
        self.deployed += 1;
        for n in self.members.clone() {
            let at = self.now + 1 + self.rng.below(SKEW);
            self.schedule(at, Event::Upgrade(n));
        }
    }

    /// Node `n` takes the next step: a joining node starts on it, a node
    /// it no longer lists stops, any other prepares it, persists the bytes
    /// and commits (fencing its older requests).
    fn on_upgrade(&mut self, n: usize) {
        if self.nodes[n].crashed {
            // It moves once it restarts.
            let at = self.now + SKEW / 4;
            self.schedule(at, Event::Upgrade(n));
            return;
        }
        if self.nodes[n].step >= self.deployed {
            return;
        }
        let now = self.now;
        let options = self.options;
        let one_step = self.one_step;
        let node = &mut self.nodes[n];
        node.step += 1;
        let config = &self.steps[node.step];
        let listed = config.get_node(&node.id).is_some();
        match (node.core.as_mut(), listed) {
            (None, true) => {
                let core = Core::new(config.clone(), &node.id, options).expect("a valid step");
                node.disk = core.saved();
                node.core = Some(core);
            }
            (Some(core), true) => {
                // Today's one-step procedure skips the joint steps, which
                // `apply` refuses: it needs the override.
                let checks = if one_step {
                    ApplyChecks::UnsafeSkipStepChecks
                } else {
                    ApplyChecks::All
                };
                let prepared = core
                    .prepare_with(config.clone(), checks)
                    .expect("the next step");
                node.disk = prepared.bytes().to_vec();
                let applied = core.commit(prepared, now).expect("nothing committed since");
                self.report.fenced += applied.fenced as u64;
            }
            (Some(_), false) => {
                // Its copies have left: the node is shut down.
                node.core = None;
                node.disk.clear();
            }
            (None, false) => {}
        }
        self.drain(n);
        if self
            .members
            .iter()
            .all(|&m| self.nodes[m].step >= self.deployed)
        {
            self.reached = true;
        }
    }

    /// Whether the deployer may go on: every node runs the deployed step
    /// (and reports it), none is down, and no copy still catches up.
    fn ready(&self) -> bool {
        let generation = self.steps[self.deployed].generation;
        self.members.iter().all(|&m| {
            let node = &self.nodes[m];
            !node.crashed
                && node.core.as_ref().is_none_or(|core| {
                    core.generation() >= generation && core.catch_up_pending() == 0
                })
        })
    }

    fn on_copy(&mut self, i: usize) {
        let (shard, target, sources) = self.copies[i].clone();
        if std::iter::once(target)
            .chain(sources.iter().copied())
            .any(|n| self.nodes[n].crashed)
        {
            let at = self.now + DELAY;
            self.schedule(at, Event::Copy(i));
            return;
        }
        let mut merged = self.nodes[target]
            .store
            .get(&shard)
            .cloned()
            .unwrap_or_default();
        for s in sources {
            if let Some(copy) = self.nodes[s].store.get(&shard) {
                merged.extend(copy.iter().map(|(k, p)| (*k, p.clone())));
            }
        }
        self.nodes[target].store.insert(shard, merged);
        self.copies_left -= 1;
        if self.copies_left == 0 {
            self.deploy_next();
        }
    }

    /// Every node runs the final step: every acknowledged write must be on
    /// as many of its shard's final copies as the write rule requires.
    fn finish_transition(&mut self) {
        let last = self.steps.len() - 1;
        let final_config = self.steps[last].clone();
        let (router, required) = {
            let core = final_config
                .nodes
                .iter()
                .find_map(|c| self.nodes[self.index(&c.id)].core.as_ref())
                .expect("a running node");
            (core.router(), core.router().protocol().required_acks())
        };
        let copies: Vec<Vec<usize>> = (0..final_config.shard_count as ShardId)
            .map(|s| {
                router
                    .get_shard(s)
                    .expect("shard")
                    .copies()
                    .map(|c| self.index(c.node_id))
                    .collect()
            })
            .collect();
        for (shard, sample) in &self.acked {
            let on = copies[*shard as usize]
                .iter()
                .filter(|&&n| {
                    self.nodes[n]
                        .store
                        .get(shard)
                        .is_some_and(|c| c.contains_key(&(sample.series, sample.write)))
                })
                .count();
            if on < required {
                self.report.lost_writes += 1;
            }
        }
        match self.kind {
            0 => self.report.added += 1,
            1 => self.report.removed += 1,
            _ => self.report.replaced += 1,
        }
        self.report.node_counts.push(final_config.nodes.len());
        // Every node runs the final step: the copies kept for peers one
        // step behind go.
        for n in self.members.clone() {
            let Some(core) = self.nodes[n].core.as_mut() else {
                continue;
            };
            let shards = core.release_kept();
            self.nodes[n].disk = core.saved();
            self.drop_copies(n, &shards);
        }
        for node in &mut self.nodes {
            node.step = 0;
        }
        self.steps = vec![final_config];
        self.members = self.steps[0]
            .nodes
            .iter()
            .map(|c| self.index(&c.id))
            .collect();
        self.transition_active = false;
        self.reached = false;
        self.next_transition_at = self.now + SKEW;
    }

    /// A running member node, at random.
    fn coordinator(&mut self) -> Option<usize> {
        let n = self.members[self.rng.below(self.members.len() as u64) as usize];
        self.nodes[n].core.is_some().then_some(n)
    }

    fn client_write(&mut self, w: u64) -> bool {
        let Some(n) = self.coordinator() else {
            return false;
        };
        let series = self.rng.below(self.series);
        let point = Sample { series, write: w };
        let now = self.now;
        let core = self.nodes[n].core.as_mut().expect("running");
        core.write(vec![point], Tag::Write(series, w), now)
            .expect("one point routes");
        self.report.writes += 1;
        self.drain(n);
        true
    }

    /// A `Quorum` read of 1 to 3 series.
    fn client_read(&mut self, r: u64) {
        let Some(n) = self.coordinator() else {
            return;
        };
        let count = 1 + self.rng.below(3);
        let mut series: Vec<u64> = (0..count).map(|_| self.rng.below(self.series)).collect();
        series.sort_unstable();
        series.dedup();
        let must_see = series
            .iter()
            .map(|s| (*s, self.acked_series.get(s).map_or(0, Vec::len)))
            .collect();
        self.reads.insert(r, must_see);
        let query = Query::new()
            .measurement("cpu")
            .series(&series)
            .consistency(ReadConsistency::Quorum);
        let now = self.now;
        let core = self.nodes[n].core.as_mut().expect("running");
        core.read(&query, Tag::Read(r), now).expect("a plan");
        self.drain(n);
    }

    fn maybe_crash(&mut self) {
        if !self.crash_tolerated || self.nodes.iter().any(|n| n.crashed) || !self.rng.chance(1) {
            return;
        }
        let Some(n) = self.coordinator() else {
            return;
        };
        // Its core's memory is gone; its store and its disk stay.
        let node = &mut self.nodes[n];
        node.core = None;
        node.crashed = true;
        self.report.crashes += 1;
        let at = self.now + 50 + self.rng.below(500);
        self.schedule(at, Event::Restart(n));
    }

    fn on_restart(&mut self, n: usize) {
        let options = self.options;
        let node = &mut self.nodes[n];
        let restoring =
            Core::restore(&node.disk, &node.id, options).expect("the bytes it persisted");
        // Persisted before it serves: the new incarnation its requests are
        // numbered in (decision 0034).
        node.disk = restoring.bytes().to_vec();
        let core = restoring.start();
        if core.catch_up_pending() > 0 {
            self.report.restored_catching_up += 1;
        }
        node.core = Some(core);
        node.crashed = false;
        self.drain(n);
    }

    /// Whether some core still has a write or read in flight.
    fn busy(&self) -> bool {
        self.nodes
            .iter()
            .filter_map(|n| n.core.as_ref())
            .any(|c| c.in_flight() != (0, 0))
    }
}

/// Runs one seed.
pub fn simulate(config: SimulationConfig) -> SimulationReport {
    let mut rng = TestRng::new(config.seed);
    let nodes = 5 + rng.below(5) as usize;
    let (rf, mode) = (config.replication_factor, config.mode);
    let mut start = ClusterConfig::single_node("n0", address(0));
    start.generation = 1;
    start.shard_count = config.shards as u32;
    start.replication_factor = rf;
    start.replication_mode = mode;
    start.nodes = (0..nodes)
        .map(|n| NodeConfig::new(format!("n{n}"), address(n)))
        .collect();
    let start = balance(&start, DEFAULT_ZONE_TAG).expect("a placement");
    let options = Options {
        write_timeout: TIMEOUT,
        read_timeout: TIMEOUT,
        ask_timeout: 2 * DELAY + DELAY / 2,
        // Small pages, so that a catch-up takes several.
        catch_up_page: 64,
        probe_interval: 2 * DELAY,
    };
    let mut sim = Sim {
        rng,
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        next_event: 0,
        nodes: Vec::new(),
        options,
        steps: vec![start.clone()],
        members: (0..nodes).collect(),
        copies: Vec::new(),
        copies_left: 0,
        deployed: 0,
        reached: false,
        transition_active: false,
        next_transition_at: 0,
        one_step: config.one_step,
        kind: 0,
        // About 8 series a shard.
        series: 8 * config.shards as u64,
        acked_series: HashMap::new(),
        acked: Vec::new(),
        reads: HashMap::new(),
        // Quorum with factor 3 acknowledges with one copy silent.
        crash_tolerated: mode == ReplicationMode::Quorum && rf >= 3,
        report: SimulationReport {
            seed: config.seed,
            mode: format!("{mode:?}"),
            replication_factor: rf,
            node_counts: vec![nodes],
            ..SimulationReport::default()
        },
    };
    for n in 0..nodes {
        let id = format!("n{n}");
        sim.add_node(&id);
        let core = Core::new(start.clone(), &id, options).expect("a valid config");
        sim.nodes[n].disk = core.saved();
        sim.nodes[n].core = Some(core);
    }
    // A run that cannot end is a failure, not a hang.
    let limit = config.writes.saturating_mul(50).saturating_add(1_000_000);
    let mut w = 0;
    let mut r = 0;
    while w < config.writes || sim.transition_active || !sim.queue.is_empty() || sim.busy() {
        sim.now += 1;
        assert!(
            sim.now < limit,
            "seed {}: the run did not end (transition stuck at step {})",
            config.seed,
            sim.deployed
        );
        if w < config.writes {
            // A client operation per tick: 9 writes to 1 read.
            if sim.rng.chance(90) {
                if sim.client_write(w) {
                    w += 1;
                }
            } else {
                sim.client_read(r);
                r += 1;
            }
            sim.maybe_crash();
            if !sim.transition_active && sim.now >= sim.next_transition_at {
                sim.start_transition();
            }
        }
        while let Some(Reverse((at, _, id))) = sim.queue.peek().copied() {
            if at > sim.now {
                break;
            }
            sim.queue.pop();
            match sim.events.remove(&id).expect("event") {
                Event::Deliver { to, message } => sim.deliver(to, message),
                Event::Upgrade(n) => sim.on_upgrade(n),
                Event::Copy(i) => sim.on_copy(i),
                Event::Restart(n) => sim.on_restart(n),
            }
        }
        // Time: deadlines, read fallbacks, catch-up pages and probes.
        for n in 0..sim.nodes.len() {
            if let Some(core) = sim.nodes[n].core.as_mut() {
                core.tick(sim.now);
                sim.drain(n);
            }
        }
        if sim.reached && sim.ready() {
            sim.reached = false;
            if sim.deployed + 1 < sim.steps.len() {
                sim.deploy_next();
            } else {
                sim.finish_transition();
            }
        }
    }
    sim.report
}
