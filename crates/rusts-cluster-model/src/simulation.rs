//! A seeded, deterministic simulation of live reconfiguration at scale:
//! 5-9 nodes, hundreds of shards, random transitions (add, remove, replace
//! a node) planned by `plan_transition` and rolled out with skew, over a
//! network that delays, reorders, drops and duplicates, with crashes where
//! the mode tolerates them. Every coordinator decision comes from the
//! layer's own router, write rule and read plan.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, HashMap, HashSet},
};

use rusts_cluster_config::{ClusterConfig, NodeConfig};
use rusts_cluster_placement::{balance, plan_transition, with_node_changes, DEFAULT_ZONE_TAG};
use rusts_cluster_replication::{QuorumStatus, ReplicationAck, ReplicationMode, WriteQuorum};
use rusts_cluster_routing::{Query, QueryPlan, ReadConsistency, ShardRouter};
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
    /// Writes issued by clients.
    pub writes: u64,
    /// Writes acknowledged.
    pub acked: u64,
    /// `Quorum` reads that completed.
    pub reads: u64,
    /// Reads that failed (coordinator moved generation or crashed, or too
    /// few copies answered in time).
    pub reads_failed: u64,
    /// Node crashes.
    pub crashes: u64,
    /// Messages dropped and duplicated by the network.
    pub dropped: u64,
    /// See `dropped`.
    pub duplicated: u64,
    /// Acknowledged writes found on fewer than the required copies of the
    /// final placement when a transition completed: must be 0.
    pub lost_writes: u64,
    /// `Quorum` reads that missed a write acknowledged before they began:
    /// must be 0.
    pub incomplete_reads: u64,
}

#[derive(Clone, Debug)]
enum Msg {
    Write {
        w: u64,
        shard: ShardId,
        to: usize,
        generation: u64,
    },
    WriteReply {
        w: u64,
        from: usize,
        ok: bool,
    },
    Read {
        r: u64,
        shard: ShardId,
        to: usize,
        generation: u64,
    },
    ReadReply {
        r: u64,
        from: usize,
        data: Vec<u64>,
    },
}

#[derive(Debug)]
enum Event {
    Deliver(Msg),
    Upgrade(usize),
    CatchUp(usize),
    Restart(usize),
}

/// One generation of the transition in progress, prepared once.
struct Step {
    /// Per node index: its router and its `Quorum` read plan of every
    /// shard, when this generation lists the node.
    nodes: HashMap<usize, (ShardRouter, QueryPlan)>,
    /// Per shard: the nodes that hold a copy (bits of node indices).
    holds: Vec<u64>,
}

struct PendingWrite {
    coord: usize,
    shard: ShardId,
    quorum: WriteQuorum,
    expires: u64,
}

struct PendingRead {
    coord: usize,
    shard: ShardId,
    needed: usize,
    /// The shard's acknowledged writes when the read began: a prefix of
    /// `acked[shard]`.
    must_see: usize,
    answered: HashSet<usize>,
    seen: HashSet<u64>,
    expires: u64,
}

struct Sim {
    rng: TestRng,
    now: u64,
    seq: u64,
    queue: BinaryHeap<Reverse<(u64, u64, usize)>>,
    events: HashMap<usize, Event>,
    next_event: usize,
    ids: Vec<String>,
    /// Per node index: its step in the transition (0 = the current config),
    /// whether it is up, and whether it is in the cluster at all.
    step: Vec<usize>,
    up: Vec<bool>,
    /// Per (node, shard): the writes stored.
    stores: HashMap<(usize, ShardId), HashSet<u64>>,
    steps: Vec<Step>,
    catch_up: Vec<(ShardId, usize, Vec<usize>)>,
    catch_up_left: usize,
    /// The step deployed (nodes move to it).
    deployed: usize,
    transition_active: bool,
    pending_writes: HashMap<u64, PendingWrite>,
    pending_reads: HashMap<u64, PendingRead>,
    /// Per shard: acknowledged writes, in order.
    acked: Vec<Vec<u64>>,
    crash_tolerated: bool,
    report: SimulationReport,
    config: ClusterConfig,
    final_config: Option<ClusterConfig>,
    next_transition_at: u64,
    one_step: bool,
    kind: u8,
}

const DELAY: u64 = 40;
const TIMEOUT: u64 = 400;
const SKEW: u64 = 600;

fn address(node: usize) -> String {
    format!("10.0.{}.{}:8086", node / 250, node % 250 + 1)
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
    fn send(&mut self, msg: Msg) {
        if self.rng.chance(3) {
            self.report.dropped += 1;
            return;
        }
        if self.rng.chance(3) {
            self.report.duplicated += 1;
            let at = self.now + 1 + self.rng.below(DELAY * 3);
            self.schedule(at, Event::Deliver(msg.clone()));
        }
        let at = self.now + 1 + self.rng.below(DELAY);
        self.schedule(at, Event::Deliver(msg));
    }

    fn index(&mut self, id: &str) -> usize {
        match self.ids.iter().position(|n| n == id) {
            Some(i) => i,
            None => {
                self.ids.push(id.to_owned());
                self.step.push(0);
                self.up.push(true);
                self.ids.len() - 1
            }
        }
    }

    /// Makes `configs` the steps after step 0, the config every node runs
    /// when a transition starts (prepared when it became current, so not
    /// built again; none before the first `prepare`).
    fn prepare(&mut self, configs: &[ClusterConfig]) {
        let query = Query::new().consistency(ReadConsistency::Quorum);
        self.steps.truncate(1);
        let mut steps = std::mem::take(&mut self.steps);
        for config in configs {
            let mut nodes = HashMap::new();
            for node in &config.nodes {
                let index = self.index(&node.id);
                let mut own = config.clone();
                own.node_id = node.id.clone();
                let router = ShardRouter::from_config(&own).expect("a planned config is valid");
                let plan = router.plan_query(&query).expect("a plan");
                nodes.insert(index, (router, plan));
            }
            let (router, _) = nodes.values().next().expect("nodes");
            let holds = (0..config.shard_count as ShardId)
                .map(|s| {
                    router
                        .get_shard(s)
                        .expect("shard")
                        .copies()
                        .fold(0u64, |bits, c| {
                            bits | 1 << self.ids.iter().position(|n| n == c.node_id).expect("id")
                        })
                })
                .collect();
            steps.push(Step { nodes, holds });
        }
        self.steps = steps;
    }

    /// The nodes taking part in the transition: listed by some step.
    fn members(&self) -> Vec<usize> {
        let mut all: Vec<usize> = self
            .steps
            .iter()
            .flat_map(|s| s.nodes.keys().copied())
            .collect();
        all.sort_unstable();
        all.dedup();
        all
    }

    /// The step node `n` runs, and whether that step lists it (a node
    /// added by the transition runs no config before step 1; a removed
    /// node none after the last).
    fn router(&self, n: usize) -> Option<&(ShardRouter, QueryPlan)> {
        self.steps.get(self.step[n])?.nodes.get(&n)
    }

    fn start_transition(&mut self) {
        let ids: Vec<String> = self.config.nodes.iter().map(|n| n.id.clone()).collect();
        let count = ids.len();
        let rf = self.config.replication_factor;
        let mut kinds = vec![2u8];
        if count < 9 {
            kinds.push(0);
        }
        if count > 5 && count > rf {
            kinds.push(1);
        }
        let kind = kinds[self.rng.below(kinds.len() as u64) as usize];
        let new_node = || {
            let k = self.ids.len();
            NodeConfig::new(format!("n{k}"), address(k))
        };
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
            self.index(&node.id);
        }
        let changed = with_node_changes(&self.config, add, &remove).expect("node changes");
        let to = balance(&changed, DEFAULT_ZONE_TAG).expect("a placement");
        let plan = plan_transition(&self.config, &to).expect("a transition plan");
        // Step 0 is the current config, prepared when it became current.
        let mut configs = Vec::new();
        if self.one_step {
            let mut next = to.clone();
            next.generation = self.config.generation + 1;
            configs.push(next);
        } else {
            configs.extend(plan.steps.iter().map(|s| s.config.clone()));
        }
        if plan.is_empty() && !self.one_step {
            // Nothing moves: deploy the new config as the next generation.
            let mut next = to.clone();
            next.generation = self.config.generation + 1;
            configs.push(next);
        }
        self.final_config = configs.last().cloned();
        self.prepare(&configs);
        self.catch_up = plan
            .catch_up
            .iter()
            .map(|c| {
                let target = self.ids.iter().position(|n| *n == c.node).expect("id");
                let sources = c
                    .sources
                    .iter()
                    .map(|s| self.ids.iter().position(|n| n == s).expect("id"))
                    .collect();
                (c.shard, target, sources)
            })
            .collect();
        self.kind = kind;
        for n in 0..self.ids.len() {
            self.step[n] = 0;
        }
        self.transition_active = true;
        self.deployed = 0;
        if self.one_step && !self.catch_up.is_empty() {
            // Today's procedure copies before deploying.
            self.start_catch_up();
        } else {
            self.deploy_next();
        }
    }

    fn start_catch_up(&mut self) {
        self.catch_up_left = self.catch_up.len();
        for i in 0..self.catch_up.len() {
            let at = self.now + 1 + self.rng.below(SKEW);
            self.schedule(at, Event::CatchUp(i));
        }
    }

    /// The operator deploys the next step: every member node moves to it
    /// at its own moment within the skew window.
    fn deploy_next(&mut self) {
        self.deployed += 1;
        for n in self.members() {
            let at = self.now + 1 + self.rng.below(SKEW);
            self.schedule(at, Event::Upgrade(n));
        }
    }

    fn all_at(&self, step: usize) -> bool {
        self.members().iter().all(|&n| self.step[n] >= step)
    }

    fn on_upgrade(&mut self, n: usize) {
        if !self.up[n] {
            // It moves once it restarts.
            let at = self.now + SKEW / 4;
            self.schedule(at, Event::Upgrade(n));
            return;
        }
        if self.step[n] >= self.deployed {
            return;
        }
        let from = self.step[n];
        self.step[n] += 1;
        // Rule 2: the coordinator's undecided requests fail.
        self.fail_coordinated(n);
        // A copy the new generation does not list is deleted.
        let to = self.step[n];
        let shards = self.steps[from].holds.len();
        for s in 0..shards {
            if self.steps[from].holds[s] & (1 << n) != 0 && self.steps[to].holds[s] & (1 << n) == 0
            {
                self.stores.remove(&(n, s as ShardId));
            }
        }
        if self.all_at(self.deployed) {
            self.on_step_reached();
        }
    }

    fn on_step_reached(&mut self) {
        let last = self.steps.len() - 1;
        if self.deployed == 1 && last == 3 && !self.one_step {
            // Catch-up starts once every node runs step 1.
            if self.catch_up.is_empty() {
                self.deploy_next();
            } else {
                self.start_catch_up();
            }
        } else if self.deployed < last {
            self.deploy_next();
        } else {
            self.finish_transition();
        }
    }

    fn on_catch_up(&mut self, i: usize) {
        let (shard, target, sources) = self.catch_up[i].clone();
        if !self.up[target] || sources.iter().any(|&s| !self.up[s]) {
            let at = self.now + DELAY;
            self.schedule(at, Event::CatchUp(i));
            return;
        }
        let mut merged: HashSet<u64> = self
            .stores
            .get(&(target, shard))
            .cloned()
            .unwrap_or_default();
        for s in sources {
            if let Some(data) = self.stores.get(&(s, shard)) {
                merged.extend(data.iter().copied());
            }
        }
        self.stores.insert((target, shard), merged);
        self.catch_up_left -= 1;
        if self.catch_up_left == 0 {
            self.deploy_next();
        }
    }

    /// Every node runs the final step: every acknowledged write must be on
    /// as many of its shard's final copies as the write rule requires.
    fn finish_transition(&mut self) {
        let last = self.steps.last().expect("steps");
        let (router, _) = last.nodes.values().next().expect("nodes");
        let required = router.protocol().required_acks();
        for (s, acked) in self.acked.iter().enumerate() {
            let copies: Vec<usize> = (0..self.ids.len())
                .filter(|&n| last.holds[s] & (1 << n) != 0)
                .collect();
            for w in acked {
                let on = copies
                    .iter()
                    .filter(|&&n| {
                        self.stores
                            .get(&(n, s as ShardId))
                            .is_some_and(|d| d.contains(w))
                    })
                    .count();
                if on < required {
                    self.report.lost_writes += 1;
                }
            }
        }
        match self.kind {
            0 => self.report.added += 1,
            1 => self.report.removed += 1,
            _ => self.report.replaced += 1,
        }
        self.report.node_counts.push(last.nodes.len());
        // The final step is the config the next transition starts from.
        self.config = self.final_config.take().expect("a final config");
        self.step.iter_mut().for_each(|s| *s = 0);
        // The final step's routers become step 0 of the next transition.
        let last = self.steps.len() - 1;
        self.steps.swap(0, last);
        self.steps.truncate(1);
        self.transition_active = false;
        self.next_transition_at = self.now + SKEW;
    }

    fn fail_coordinated(&mut self, n: usize) {
        self.pending_writes.retain(|_, p| p.coord != n);
        let before = self.pending_reads.len();
        self.pending_reads.retain(|_, p| p.coord != n);
        self.report.reads_failed += (before - self.pending_reads.len()) as u64;
    }

    fn client_write(&mut self, w: u64) -> bool {
        let members = self.members();
        let coord = members[self.rng.below(members.len() as u64) as usize];
        let series = self.rng.next();
        let Some((router, _)) = self.router(coord).filter(|_| self.up[coord]) else {
            return false;
        };
        let shard = router
            .route(ShardKeyRef::new("cpu", series, 0))
            .expect("route");
        let quorum = shard.write_quorum().expect("writable");
        let generation = router.generation();
        let targets: Vec<usize> = shard
            .copies()
            .map(|c| self.ids.iter().position(|n| n == c.node_id).expect("id"))
            .collect();
        let id = shard.id;
        self.report.writes += 1;
        if quorum.status() != QuorumStatus::Pending {
            return true;
        }
        self.pending_writes.insert(
            w,
            PendingWrite {
                coord,
                shard: id,
                quorum,
                expires: self.now + TIMEOUT,
            },
        );
        for to in targets {
            self.send(Msg::Write {
                w,
                shard: id,
                to,
                generation,
            });
        }
        true
    }

    fn client_read(&mut self, r: u64) {
        let members = self.members();
        let coord = members[self.rng.below(members.len() as u64) as usize];
        let shard = self.rng.below(self.acked.len() as u64) as ShardId;
        let Some((router, plan)) = self.router(coord).filter(|_| self.up[coord]) else {
            return;
        };
        let generation = router.generation();
        let read = plan.read(shard).expect("the plan reads every shard");
        if !read.is_available() {
            self.report.reads_failed += 1;
            return;
        }
        let needed = read.copies_needed();
        // Hedged: every readable copy is asked, the first answers count.
        let copies: Vec<usize> = read
            .targets()
            .chain(read.fallbacks())
            .map(|c| self.ids.iter().position(|n| n == c.node_id).expect("id"))
            .collect();
        self.pending_reads.insert(
            r,
            PendingRead {
                coord,
                shard,
                needed,
                must_see: self.acked[shard as usize].len(),
                answered: HashSet::new(),
                seen: HashSet::new(),
                expires: self.now + TIMEOUT,
            },
        );
        for to in copies {
            self.send(Msg::Read {
                r,
                shard,
                to,
                generation,
            });
        }
    }

    /// Whether node `n` accepts a request from `generation` (rule 1) and
    /// holds the copy of `shard` (rule 3).
    fn serves(&self, n: usize, shard: ShardId, generation: u64) -> bool {
        let Some((router, _)) = self.router(n) else {
            return false;
        };
        router.check_peer_generation(generation).is_ok()
            && self.steps[self.step[n]].holds[shard as usize] & (1 << n) != 0
    }

    fn deliver(&mut self, msg: Msg) {
        match msg {
            Msg::Write {
                w,
                shard,
                to,
                generation,
            } => {
                if !self.up[to] {
                    return;
                }
                let ok = self.serves(to, shard, generation);
                if ok {
                    self.stores.entry((to, shard)).or_default().insert(w);
                }
                self.send(Msg::WriteReply { w, from: to, ok });
            }
            Msg::WriteReply { w, from, ok } => {
                let Some(pending) = self.pending_writes.get_mut(&w) else {
                    return;
                };
                let id = &self.ids[from];
                let ack = if ok {
                    ReplicationAck::success(id.as_str(), 1)
                } else {
                    ReplicationAck::failure(id.as_str(), "not stored", 1)
                };
                match pending.quorum.record(ack).expect("an expected copy") {
                    QuorumStatus::Reached => {
                        let p = self.pending_writes.remove(&w).expect("pending");
                        self.acked[p.shard as usize].push(w);
                        self.report.acked += 1;
                    }
                    QuorumStatus::Failed => {
                        self.pending_writes.remove(&w);
                    }
                    _ => {}
                }
            }
            Msg::Read {
                r,
                shard,
                to,
                generation,
            } => {
                if !self.up[to] || !self.serves(to, shard, generation) {
                    return;
                }
                let data = self
                    .stores
                    .get(&(to, shard))
                    .map(|d| d.iter().copied().collect())
                    .unwrap_or_default();
                self.send(Msg::ReadReply { r, from: to, data });
            }
            Msg::ReadReply { r, from, data } => {
                let Some(pending) = self.pending_reads.get_mut(&r) else {
                    return;
                };
                if !pending.answered.insert(from) {
                    return;
                }
                pending.seen.extend(data);
                if pending.answered.len() >= pending.needed {
                    let p = self.pending_reads.remove(&r).expect("pending");
                    self.report.reads += 1;
                    let acked = &self.acked[p.shard as usize][..p.must_see];
                    if acked.iter().any(|w| !p.seen.contains(w)) {
                        self.report.incomplete_reads += 1;
                    }
                }
            }
        }
    }

    fn expire(&mut self) {
        let now = self.now;
        self.pending_writes.retain(|_, p| p.expires > now);
        let before = self.pending_reads.len();
        self.pending_reads.retain(|_, p| p.expires > now);
        self.report.reads_failed += (before - self.pending_reads.len()) as u64;
    }

    fn maybe_crash(&mut self) {
        if !self.crash_tolerated || self.up.iter().any(|u| !u) || !self.rng.chance(1) {
            return;
        }
        let members = self.members();
        let n = members[self.rng.below(members.len() as u64) as usize];
        self.up[n] = false;
        self.report.crashes += 1;
        self.fail_coordinated(n);
        let at = self.now + 50 + self.rng.below(500);
        self.schedule(at, Event::Restart(n));
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
    let mut sim = Sim {
        rng,
        now: 0,
        seq: 0,
        queue: BinaryHeap::new(),
        events: HashMap::new(),
        next_event: 0,
        ids: Vec::new(),
        step: Vec::new(),
        up: Vec::new(),
        stores: HashMap::new(),
        steps: Vec::new(),
        catch_up: Vec::new(),
        catch_up_left: 0,
        deployed: 0,
        transition_active: false,
        pending_writes: HashMap::new(),
        pending_reads: HashMap::new(),
        acked: vec![Vec::new(); config.shards],
        // Quorum with factor 3 acknowledges with one copy silent.
        crash_tolerated: mode == ReplicationMode::Quorum && rf >= 3,
        report: SimulationReport {
            seed: config.seed,
            mode: format!("{mode:?}"),
            replication_factor: rf,
            node_counts: vec![nodes],
            ..SimulationReport::default()
        },
        config: start.clone(),
        final_config: None,
        next_transition_at: 0,
        one_step: config.one_step,
        kind: 0,
    };
    sim.prepare(&[start]);
    let mut w = 0;
    let mut r = 0;
    while w < config.writes || sim.transition_active || !sim.queue.is_empty() {
        sim.now += 1;
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
                Event::Deliver(msg) => sim.deliver(msg),
                Event::Upgrade(n) => sim.on_upgrade(n),
                Event::CatchUp(i) => sim.on_catch_up(i),
                Event::Restart(n) => sim.up[n] = true,
            }
        }
        sim.expire();
    }
    sim.report
}
