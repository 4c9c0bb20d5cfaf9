//! Deterministic fault simulation of `PendingWrites`: seeded schedules of
//! delayed, dropped, duplicated, reordered and foreign answers, crashed
//! nodes and clock jumps, played by several threads, with every write's
//! decision checked against the answers its copies really gave.
//!
//! Environment (for long runs; the defaults are what CI runs):
//!
//! - `SIM_SEEDS`: comma-separated seeds (default `1,2,3`), or `random:N` for
//!   N seeds drawn from the clock (each printed);
//! - `SIM_WRITES`: writes per seed (default 100000);
//! - `SIM_THREADS`: threads that deliver answers (default 3). With 1 the
//!   run is fully deterministic; with more, the schedule is still fixed by
//!   the seed and only the interleaving varies, and every invariant holds
//!   for any interleaving;
//! - `SIM_SLOTS`: the table's slots (default by seed: 4,096, 256 or 1, so
//!   the writes of a batch of 2,000 have slots of their own, mostly spill
//!   into the overflow map, or all but one do).
//!
//! ```sh
//! SIM_SEEDS=random:20 SIM_WRITES=1000000 cargo test --release -p rusts-cluster-replication --test tests -- simulation:: --nocapture
//! ```

use std::{
    panic::{self, AssertUnwindSafe},
    sync::{
        atomic::{AtomicU64, AtomicU8, Ordering},
        Barrier,
    },
};

use rusts_cluster_replication::{
    PendingWrites, ReplicationAck, ReplicationError, ReplicationMode, ReplicationProtocol,
    ReplicationResult, WriteQuorum,
};
use rusts_cluster_sharding::{testing::TestRng, Shard, ShardState};

const NODES: usize = 8;
const BATCH: usize = 2_000;
/// A thread moves the clock and expires writes every this many events.
const TICK_EVERY: usize = 64;

/// One write as the simulation planned it: the truth its decision is
/// checked against.
#[derive(Debug)]
struct Plan {
    mode: ReplicationMode,
    rebalancing: bool,
    /// The replication factor the write is counted against; usually the
    /// settled copies, sometimes more or fewer (an under- or
    /// over-replicated shard).
    rf: usize,
    copies: Vec<String>,
    /// `answers[i]`: whether `copies[i]` stores the write (every copy of
    /// its answer says the same).
    answers: Vec<bool>,
    required: usize,
    deadline: u64,
}

impl Plan {
    fn true_successes(&self) -> usize {
        self.answers.iter().filter(|&&s| s).count()
    }

    fn answer_of(&self, node: &str) -> Option<bool> {
        let i = self.copies.iter().position(|c| c == node)?;
        Some(self.answers[i])
    }
}

/// What one thread does, in order.
#[derive(Debug)]
enum Event {
    Ack(u64, ReplicationAck),
    /// Advance the shared clock by this much, then expire.
    Tick(u64),
    /// Expire with a time this far behind the clock (a timer whose clock
    /// jumped back).
    StaleTick(u64),
}

/// How a decision reached its caller.
#[derive(Clone, Copy, Debug)]
enum Source {
    Begin,
    Ack,
    Expire { now: u64 },
}

/// The required successes for a shard of `n` copies counted against
/// replication factor `rf`, computed here independently of the crate.
fn required(mode: ReplicationMode, rebalancing: bool, rf: usize, n: usize) -> usize {
    let base = match mode {
        ReplicationMode::Asynchronous => return 0,
        _ if rf == 0 => 1,
        ReplicationMode::Synchronous => rf,
        ReplicationMode::Quorum => rf / 2 + 1,
    };
    // A moving shard needs one more, up to its copies, never below base.
    if rebalancing {
        (base + 1).min(n).max(base)
    } else {
        base
    }
}

fn plan_write(rng: &mut TestRng, now: u64) -> Plan {
    let mode = match rng.below(100) {
        0..=59 => ReplicationMode::Quorum,
        60..=89 => ReplicationMode::Synchronous,
        _ => ReplicationMode::Asynchronous,
    };
    // 1 to 5 copies (rarely none), distinct, from the eight nodes.
    let n = if rng.chance(1) {
        0
    } else {
        1 + rng.below(5) as usize
    };
    let mut copies: Vec<String> = Vec::with_capacity(n);
    while copies.len() < n {
        let node = format!("n{}", rng.below(NODES as u64));
        if !copies.contains(&node) {
            copies.push(node);
        }
    }
    let answers = copies.iter().map(|_| !rng.chance(15)).collect();
    let rebalancing = rng.chance(20);
    // The settled copies are the factor: every copy, or all but the
    // incoming one of a moving shard; one write in ten is counted against
    // another factor, as for an under- or over-replicated shard.
    let rf = if n == 0 {
        0
    } else if rng.chance(10) {
        1 + rng.below(5) as usize
    } else if rebalancing && n >= 2 {
        n - 1
    } else {
        n
    };
    Plan {
        mode,
        rebalancing,
        rf,
        required: required(mode, rebalancing, rf, n),
        copies,
        answers,
        deadline: now + 20 + rng.below(3_000),
    }
}

fn quorum_of(plan: &Plan) -> WriteQuorum {
    if plan.copies.is_empty() {
        return WriteQuorum::new(plan.mode, Vec::<String>::new());
    }
    let mut shard = Shard::new(0, plan.copies[0].as_str());
    for copy in &plan.copies[1..] {
        shard.add_replica(copy.as_str());
    }
    if plan.rebalancing {
        shard.state = ShardState::Rebalancing;
    }
    WriteQuorum::for_shard(ReplicationProtocol::new(plan.mode, plan.rf), &shard)
        .expect("a writable shard")
}

/// The invariants of one decision; panics with what broke.
fn check_decision(id: u64, plan: &Plan, result: &ReplicationResult, source: Source) {
    let n = plan.copies.len();
    assert_eq!(result.total_count, n, "write {id}: total");
    assert_eq!(result.required_count, plan.required, "write {id}: required");
    // Only expected copies, each once, each with the answer it really gave.
    let mut seen = Vec::new();
    for ack in &result.acks {
        assert_eq!(
            plan.answer_of(&ack.node_id),
            Some(ack.success),
            "write {id}: answer {ack:?} is not what an expected copy said ({plan:?})"
        );
        assert!(!seen.contains(&&ack.node_id), "write {id}: {ack:?} twice");
        seen.push(&ack.node_id);
    }
    let successes = result.acks.iter().filter(|a| a.success).count();
    assert_eq!(result.success_count, successes, "write {id}: success count");
    assert_eq!(
        result.acks.len() + result.missing_nodes.len(),
        n,
        "write {id}: every copy listed"
    );
    match source {
        Source::Begin => {
            // Asynchronous is reached at once; a shard with fewer copies
            // than its factor requires can never reach it and fails at once.
            let decided_at_creation =
                plan.mode == ReplicationMode::Asynchronous || n == 0 || plan.required > n;
            assert!(decided_at_creation, "write {id}: begin decided {plan:?}");
            assert_eq!(
                result.quorum_reached,
                plan.mode == ReplicationMode::Asynchronous
            );
        }
        Source::Ack if result.quorum_reached => {
            assert!(
                successes >= plan.required,
                "write {id}: reached with {successes} of {}",
                plan.required
            );
            assert!(plan.true_successes() >= plan.required);
        }
        Source::Ack => {
            // Failed early: even a success from every silent copy is short.
            assert!(
                successes + result.missing_nodes.len() < plan.required,
                "write {id}: failed while still reachable: {result:?}"
            );
            assert!(
                plan.true_successes() < plan.required,
                "write {id}: failed but its copies could reach it"
            );
        }
        Source::Expire { now } => {
            assert!(
                plan.deadline <= now,
                "write {id}: expired at {now} before its deadline {}",
                plan.deadline
            );
            assert!(
                !result.quorum_reached,
                "write {id}: a reached write was still pending at its deadline"
            );
            assert!(successes < plan.required);
            // Still reachable when its deadline came: a write whose failure
            // was certain must have been decided by the answer that made it so.
            assert!(
                successes + result.missing_nodes.len() >= plan.required,
                "write {id}: expired although its failure was certain earlier: {result:?}"
            );
            assert_eq!(
                result.error(),
                Some(ReplicationError::QuorumNotReached {
                    got: successes,
                    needed: plan.required
                })
            );
        }
    }
}

struct Stats {
    writes: u64,
    reached: AtomicU64,
    failed_early: AtomicU64,
    expired: AtomicU64,
    undecided: AtomicU64,
    foreign_rejected: AtomicU64,
}

/// Runs one seed; panics on the first broken invariant.
fn simulate(seed: u64, writes: usize, threads: usize, slots: usize) -> Stats {
    let mut rng = TestRng::new(seed);
    let table = PendingWrites::<u64>::with_capacity(slots);
    let clock = AtomicU64::new(0);
    let stats = Stats {
        writes: writes as u64,
        reached: AtomicU64::new(0),
        failed_early: AtomicU64::new(0),
        expired: AtomicU64::new(0),
        undecided: AtomicU64::new(0),
        foreign_rejected: AtomicU64::new(0),
    };
    let mut first_id = 0u64;
    while (first_id as usize) < writes {
        let count = BATCH.min(writes - first_id as usize);
        let now = clock.load(Ordering::SeqCst);
        let plans: Vec<Plan> = (0..count).map(|_| plan_write(&mut rng, now)).collect();
        let decided: Vec<AtomicU8> = (0..count).map(|_| AtomicU8::new(0)).collect();
        let decide = |id: u64, result: &ReplicationResult, source: Source| {
            let index = id.checked_sub(first_id).filter(|&i| (i as usize) < count);
            let index = index
                .unwrap_or_else(|| panic!("decision for write {id}, never begun in this batch"))
                as usize;
            check_decision(id, &plans[index], result, source);
            let before = decided[index].fetch_add(1, Ordering::SeqCst);
            assert_eq!(before, 0, "write {id} decided twice (second by {source:?})");
            let counter = match source {
                Source::Expire { .. } => &stats.expired,
                _ if result.quorum_reached => &stats.reached,
                _ => &stats.failed_early,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        };

        // The answers: each copy answers unless crashed or dropped; some
        // answers are duplicated; some come from nodes holding no copy or
        // for ids never begun. Then everything is shuffled (reordered and
        // delayed past other writes' answers and deadlines).
        let crashed: Vec<String> = (0..rng.below(3))
            .map(|_| format!("n{}", rng.below(NODES as u64)))
            .collect();
        let mut events = Vec::new();
        for (i, plan) in plans.iter().enumerate() {
            let id = first_id + i as u64;
            for (copy, &success) in plan.copies.iter().zip(&plan.answers) {
                if crashed.contains(copy) || rng.chance(10) {
                    continue;
                }
                let latency = rng.below(2_000);
                let ack = if success {
                    ReplicationAck::success(copy.as_str(), latency)
                } else {
                    ReplicationAck::failure(copy.as_str(), "disk full", latency)
                };
                for _ in 0..(if rng.chance(15) { 1 + rng.below(3) } else { 0 }) {
                    events.push(Event::Ack(id, ack.clone()));
                }
                events.push(Event::Ack(id, ack));
            }
            if rng.chance(3) {
                events.push(Event::Ack(id, ReplicationAck::success("intruder", 1)));
            }
            if rng.chance(2) {
                events.push(Event::Ack(id + (1 << 40), ReplicationAck::success("n0", 1)));
            }
        }
        rng.shuffle(&mut events);
        // Deal the events to the threads, with clock ticks between them.
        let mut queues: Vec<Vec<Event>> = (0..threads).map(|_| Vec::new()).collect();
        for (i, event) in events.into_iter().enumerate() {
            let queue = &mut queues[i % threads];
            if queue.len() % TICK_EVERY == TICK_EVERY - 1 {
                queue.push(match rng.below(100) {
                    0..=1 => Event::Tick(200 + rng.below(400)), // a jump forward
                    2..=6 => Event::StaleTick(rng.below(1_000)),
                    _ => Event::Tick(rng.below(6)),
                });
            }
            queue.push(event);
        }

        let barrier = Barrier::new(threads);
        let (table, clock, stats, decide, plans) = (&table, &clock, &stats, &decide, &plans);
        std::thread::scope(|scope| {
            for (t, queue) in queues.into_iter().enumerate() {
                let barrier = &barrier;
                scope.spawn(move || {
                    // Begin this thread's share of the batch; a second
                    // begin of a pending id must be refused.
                    for (i, plan) in plans.iter().enumerate().skip(t).step_by(threads) {
                        let id = first_id + i as u64;
                        match table.begin(id, quorum_of(plan), plan.deadline).unwrap() {
                            Some(result) => decide(id, &result, Source::Begin),
                            None if i % 97 == 0 => assert_eq!(
                                table.begin(id, quorum_of(plan), 0),
                                Err(ReplicationError::WriteIdInFlight { id })
                            ),
                            None => {}
                        }
                    }
                    barrier.wait();
                    for event in queue {
                        match event {
                            Event::Ack(id, ack) => {
                                let node = ack.node_id.clone();
                                match table.ack(id, ack) {
                                    Ok(Some(result)) => decide(id, &result, Source::Ack),
                                    Ok(None) => {
                                        stats.undecided.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Err(ReplicationError::UnexpectedNode {
                                        node: rejected,
                                        ..
                                    }) => {
                                        assert_eq!(rejected, node);
                                        assert_eq!(
                                            node, "intruder",
                                            "write {id}: a copy's answer was rejected"
                                        );
                                        stats.foreign_rejected.fetch_add(1, Ordering::Relaxed);
                                    }
                                    Err(other) => panic!("write {id}: unexpected error {other}"),
                                }
                            }
                            Event::Tick(step) => {
                                let now = clock.fetch_add(step, Ordering::SeqCst) + step;
                                for (id, result) in table.expire(now) {
                                    decide(id, &result, Source::Expire { now });
                                }
                            }
                            Event::StaleTick(behind) => {
                                let now = clock.load(Ordering::SeqCst).saturating_sub(behind);
                                for (id, result) in table.expire(now) {
                                    decide(id, &result, Source::Expire { now });
                                }
                            }
                        }
                    }
                });
            }
        });

        // The deadline of every write in the batch passes.
        let end = plans.iter().map(|p| p.deadline).max().unwrap_or(0);
        let now = clock.fetch_max(end, Ordering::SeqCst).max(end);
        for (id, result) in table.expire(now) {
            decide(id, &result, Source::Expire { now });
        }
        assert!(
            table.is_empty(),
            "{} writes left in the table after the batch",
            table.len()
        );
        for (i, count) in decided.iter().enumerate() {
            let count = count.load(Ordering::SeqCst);
            assert_eq!(
                count,
                1,
                "write {} decided {count} times",
                first_id + i as u64
            );
        }
        first_id += count as u64;
    }
    Stats { ..stats }
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// The table's slots for `seed`: `SIM_SLOTS`, or by default 4,096, 256
/// or 1 by the seed modulo 3, so the default seeds 1, 2, 3 run all three.
fn slots_for(seed: u64) -> usize {
    env_or("SIM_SLOTS", [4_096, 256, 1][(seed % 3) as usize])
}

fn seeds() -> Vec<u64> {
    let text = std::env::var("SIM_SEEDS").unwrap_or_else(|_| "1,2,3".to_owned());
    if let Some(count) = text.strip_prefix("random:") {
        let count: u64 = count.parse().expect("SIM_SEEDS=random:N needs a number N");
        let base = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        let mut rng = TestRng::new(base);
        return (0..count).map(|_| rng.next()).collect();
    }
    text.split(',')
        .map(|s| {
            s.trim()
                .parse()
                .unwrap_or_else(|_| panic!("SIM_SEEDS: {s:?} is not a seed (a u64)"))
        })
        .collect()
}

#[test]
fn simulated_writes_are_decided_exactly_once_and_correctly() {
    let writes: usize = env_or("SIM_WRITES", 100_000);
    let threads: usize = env_or("SIM_THREADS", 3).max(1);
    for seed in seeds() {
        let slots = slots_for(seed);
        let started = std::time::Instant::now();
        let run = panic::catch_unwind(AssertUnwindSafe(|| simulate(seed, writes, threads, slots)));
        match run {
            Ok(stats) => println!(
                "seed {seed}: {} writes on {threads} threads, {slots} slots, in {:.1?}: {} reached, {} failed early, \
                 {} expired; {} answers decided nothing (pending, late, duplicate or unknown id), {} foreign answers rejected",
                stats.writes,
                started.elapsed(),
                stats.reached.into_inner(),
                stats.failed_early.into_inner(),
                stats.expired.into_inner(),
                stats.undecided.into_inner(),
                stats.foreign_rejected.into_inner(),
            ),
            Err(panic) => {
                eprintln!(
                    "simulation failed for seed {seed}; reproduce with \
                     SIM_SEEDS={seed} SIM_WRITES={writes} SIM_THREADS=1 (deterministic) or \
                     SIM_THREADS={threads}"
                );
                panic::resume_unwind(panic);
            }
        }
    }
}
