//! Each generation of the procedure, prepared once before the search: the
//! answers of the protocol core (`rusts-cluster-protocol`'s `Core`) that
//! the nodes and coordinators give. The search only reads these.
//!
//! Every answer is asked of a real `Core` for every case ahead of the
//! search rather than at every state: a replica's admission of a probe
//! request from each sender step (`admit_write`, `admit_read`: the
//! generation check, "not held", and the copies kept for a sender one
//! generation behind), and how a coordinator's core decides each set of
//! first answers. For a fixed config history they are pure, so the answers
//! are the same (decision 0021); asked at every state the router's rules
//! alone took 28% of the checker's time (perf, the factor-3 `Quorum` move
//! with a crash).

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_protocol::{
    Core, FailReason, Header, KeyFilter, Message, Options, Output, Point, ReadRequest, Refusal,
    ShardAnswer, WriteAnswer, WriteRequest,
};
use rusts_cluster_routing::{ApplyChecks, Query, ReadConsistency, ShardRouter};
use rusts_cluster_sharding::ShardKeyRef;

use super::{bit, network::Answer};
use crate::scenario::MAX_NODES;

/// The point the probes write: every key maps to shard 0, the scenarios'
/// one shard.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Probe;

impl Point for Probe {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new("probe", 0, 0)
    }
}

pub(super) type ProbeCore = Core<Probe, ()>;

/// A write's decision as its coordinator's core gives it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Not decided yet.
    Pending,
    /// Acknowledged (`WriteDone::is_acknowledged`).
    Acked,
    /// Decided, not acknowledged.
    Failed,
}

/// One generation of the procedure, prepared once: the answers the nodes'
/// and coordinators' cores give at this step.
#[derive(PartialEq)]
pub(super) struct Step {
    pub(super) generation: u64,
    /// The nodes this generation lists as copies of the shard.
    pub(super) holds: u8,
    /// The nodes whose core keeps shard 0's copy of the step before for
    /// senders still on it (`Core::kept_shards`).
    pub(super) keeps: u8,
    /// What the write rule requires (`required_acks`).
    pub(super) required_acks: usize,
    /// Per node, per sender step (an index into the model's steps): the
    /// node's core's answer, at this step, to a write of shard 0 sent
    /// under that step (`admit_write`): the generation check, the
    /// identity check, "not held", and the kept copies.
    pub(super) write_answers: Vec<Vec<Answer>>,
    /// Per node, per sender step: whether the node's core admits a read of
    /// shard 0 sent under that step (`admit_read`).
    pub(super) serves_read: Vec<Vec<bool>>,
    /// Per node, per sender step: whether the node's core takes the
    /// sender's header as one of its own lineage (no `Refusal::Identity`,
    /// decision 0039): only such a header counts when a catch-up waits
    /// for every node to report its generation.
    pub(super) hears: Vec<Vec<bool>>,
    /// Per coordinator: the nodes its core sends a write to.
    pub(super) write_targets: Vec<u8>,
    /// Per coordinator: its core's decision before any answer.
    pub(super) initial: Vec<Decision>,
    /// Per coordinator: its core's decision for each set of answers.
    pub(super) decisions: Vec<Decisions>,
    /// Per coordinator: the `Quorum` read's copies and how many to read,
    /// or `None` when the plan cannot read the shard.
    pub(super) reads: Vec<Option<(u8, usize)>>,
}

/// A core for `node` that ran `history` in order: the first config at
/// start, each later one prepared and committed, so that it keeps what
/// the last commit leaves it (the copies of the step before), each
/// prepared with `checks`.
///
/// # Panics
///
/// When a config is invalid or the core refuses it.
pub(super) fn core_after(history: &[ClusterConfig], node: &str, checks: ApplyChecks) -> ProbeCore {
    let (first, later) = history.split_first().expect("at least one step");
    let mut core = Core::new(first.clone(), node, Options::default())
        .unwrap_or_else(|error| panic!("generation {}: {error}", first.generation));
    for config in later {
        let prepared = core
            .prepare_with(config.clone(), checks)
            .unwrap_or_else(|error| panic!("generation {}: {error}", config.generation));
        core.commit(prepared, 0)
            .unwrap_or_else(|error| panic!("generation {}: {error}", config.generation));
    }
    while core.poll().is_some() {}
    core
}

impl Step {
    /// Prepares step `s` of `history`: a core per node that ran
    /// `history[..=s]` answers a probe from each of `senders` (the headers
    /// of a node on each of the model's steps, [`sender`]), and, as
    /// coordinator, decides every set of answers; its router gives the
    /// copies and the `Quorum` read plan of shard 0.
    ///
    /// # Panics
    ///
    /// When a config is invalid, or names a node outside `node_ids`, or a
    /// core does not fence a pending write when it commits the next step.
    pub(super) fn prepare(
        history: &[ClusterConfig],
        s: usize,
        node_ids: &[String],
        checks: ApplyChecks,
        senders: &[Header],
    ) -> Self {
        let config = &history[s];
        let nodes = NodeIndex(node_ids);
        // A node this step does not list (a removed node past the last
        // step that lists it, decision 0035) never runs it: its entries
        // are placeholders the search never reads.
        let listed: Vec<bool> = node_ids
            .iter()
            .map(|id| config.nodes.iter().any(|n| n.id == *id))
            .collect();
        let routers: Vec<Option<ShardRouter>> = node_ids
            .iter()
            .zip(&listed)
            .map(|(id, &listed)| {
                listed.then(|| {
                    let mut config = config.clone();
                    config.node_id = id.clone();
                    ShardRouter::from_config(&config)
                        .unwrap_or_else(|error| panic!("generation {}: {error}", config.generation))
                })
            })
            .collect();
        let mut cores: Vec<Option<ProbeCore>> = node_ids
            .iter()
            .zip(&listed)
            .map(|(id, &listed)| listed.then(|| core_after(&history[..=s], id, checks)))
            .collect();
        let per_sender = |core: &Option<ProbeCore>| {
            let core = core.as_ref()?;
            let writes = senders.iter().map(|h| admit_write(core, h.clone()));
            let reads = senders.iter().map(|h| admit_read(core, h.clone()));
            let hears = senders.iter().map(|h| !refuses_identity(core, h.clone()));
            Some((writes.collect(), reads.collect(), hears.collect()))
        };
        let mut write_answers = Vec::new();
        let mut serves_read = Vec::new();
        let mut hears = Vec::new();
        for core in &cores {
            let (writes, reads, heard) = per_sender(core).unwrap_or_else(|| {
                let none = senders.len();
                (
                    vec![Answer::Refused; none],
                    vec![false; none],
                    vec![false; none],
                )
            });
            write_answers.push(writes);
            serves_read.push(reads);
            hears.push(heard);
        }
        let keeps = cores
            .iter()
            .enumerate()
            .filter(|(_, core)| core.as_ref().is_some_and(|c| c.kept_shards().contains(&0)))
            .fold(0, |bits, (n, _)| bits | bit(n));
        let mut write_targets = Vec::new();
        let mut initial = Vec::new();
        let mut decisions = Vec::new();
        for core in &mut cores {
            let Some(core) = core else {
                write_targets.push(0);
                initial.push(Decision::Failed);
                decisions.push(Decisions::none());
                continue;
            };
            let (targets, first) = start_write(core, &nodes);
            write_targets.push(targets);
            initial.push(first);
            decisions.push(Decisions::prepare(
                core,
                targets,
                node_ids,
                config.generation,
            ));
        }
        if let Some(next) = history.get(s + 1) {
            for (core, &first) in cores.iter_mut().zip(&initial) {
                // A node the next step does not list is stopped, not moved.
                let listed_next = core
                    .as_ref()
                    .is_some_and(|c| next.nodes.iter().any(|n| n.id == c.node_id()));
                if let (Some(core), true) = (core, listed_next) {
                    if first == Decision::Pending {
                        assert_fences(core, next, checks);
                    }
                }
            }
        }
        let query = Query::new().consistency(ReadConsistency::Quorum);
        let reads = routers
            .iter()
            .map(|router| {
                router
                    .as_ref()
                    .and_then(|router| nodes.quorum_read(router, &query))
            })
            .collect();
        let router = routers
            .iter()
            .flatten()
            .next()
            .expect("a step lists a node");
        Step {
            generation: config.generation,
            holds: nodes.copies(router),
            keeps,
            required_acks: router.protocol().required_acks(),
            write_answers,
            serves_read,
            hears,
            write_targets,
            initial,
            decisions,
            reads,
        }
    }
}

/// The header a node on `history[step]` stamps, as a core that ran the
/// history up to that step does: its generation, its config's digest and
/// the digest of the one before.
pub(super) fn sender(history: &[ClusterConfig], step: usize, node: &str) -> Header {
    Header {
        node: node.into(),
        generation: history[step].generation,
        identity: history[step].digest(),
        previous: step.checked_sub(1).map(|before| history[before].digest()),
    }
}

/// Whether `core` refuses a write from `sender` for its config identity
/// (`Refusal::Identity`, decision 0039).
fn refuses_identity(core: &ProbeCore, sender: Header) -> bool {
    let request = WriteRequest::new(sender, 1, vec![(0, vec![Probe])]);
    let admission = core.admit_write(&request);
    let refuses = admission
        .refusals()
        .any(|(_, refusal)| matches!(refusal, Refusal::Identity { .. }));
    refuses
}

/// `core`'s admission of a one-point write of shard 0 from `sender`.
fn admit_write(core: &ProbeCore, sender: Header) -> Answer {
    let request = WriteRequest::new(sender, 1, vec![(0, vec![Probe])]);
    let admission = core.admit_write(&request);
    let answer = match admission.refusals().next() {
        None => Answer::Stored,
        Some((_, Refusal::NotHeld { .. })) => Answer::NotHeld,
        Some(_) => Answer::Refused,
    };
    answer
}

/// Whether `core` admits a read of shard 0 from `sender`.
fn admit_read(core: &ProbeCore, sender: Header) -> bool {
    let request = ReadRequest {
        header: sender,
        read: 1,
        filter: KeyFilter::default(),
        shards: vec![0],
    };
    let admission = core.admit_read(&request);
    let admitted = admission
        .shards()
        .all(|(_, local)| local.is_ok_and(|l| !l.is_empty()));
    admitted
}

/// Starts a one-point write on `core`: the nodes its requests go to, and
/// its decision before any answer.
fn start_write(core: &mut ProbeCore, nodes: &NodeIndex<'_>) -> (u8, Decision) {
    core.write(vec![Probe], (), 0).expect("a one-point write");
    let mut targets = 0;
    let mut decision = Decision::Pending;
    while let Some(output) = core.poll() {
        match output {
            Output::Send(peer, Message::Write(_)) => targets |= bit(nodes.of(&peer.node)),
            Output::WriteDone(done) => decision = decided(done.is_acknowledged()),
            _ => {}
        }
    }
    (targets, decision)
}

fn decided(acknowledged: bool) -> Decision {
    if acknowledged {
        Decision::Acked
    } else {
        Decision::Failed
    }
}

/// Generation fencing, from the core: the writes pending on `core` (it
/// has some: the first one, never answered, and those
/// [`Decisions::prepare`] left undecided) come back failed, `FailReason::Fenced`, when it commits the next
/// step. The model's fencing (a coordinator's pending writes fail when it
/// moves) is this answer.
fn assert_fences(core: &mut ProbeCore, next: &ClusterConfig, checks: ApplyChecks) {
    let prepared = core
        .prepare_with(next.clone(), checks)
        .expect("the next step");
    let applied = core.commit(prepared, 0).expect("the next step");
    assert!(
        applied.fenced > 0,
        "generation {}: no write fenced",
        next.generation
    );
    let fenced = Some(FailReason::Fenced {
        generation: next.generation,
    });
    let mut done = 0;
    while let Some(output) = core.poll() {
        if let Output::WriteDone(write) = output {
            assert!(
                write.shards.iter().all(|s| s.reason == fenced),
                "generation {}: a pending write ended otherwise than fenced",
                next.generation
            );
            done += 1;
        }
    }
    // `fenced` also counts writes decided but not settled (their copies
    // had not all answered); the first write was never answered.
    assert!(
        done >= 1,
        "generation {}: the undecided write not fenced",
        next.generation
    );
}

/// Node ids to the model's node indices.
struct NodeIndex<'a>(&'a [String]);

impl NodeIndex<'_> {
    fn of(&self, id: &str) -> usize {
        self.0
            .iter()
            .position(|n| n == id)
            .unwrap_or_else(|| panic!("unknown node {id}"))
    }

    /// The copies of shard 0 as `router` lists them, as bits.
    fn copies(&self, router: &ShardRouter) -> u8 {
        router
            .get_shard(0)
            .expect("shard 0")
            .copies()
            .fold(0, |bits, copy| bits | bit(self.of(copy.node_id)))
    }

    /// `router`'s `Quorum` read of shard 0: the copies it may ask (targets
    /// and fallbacks, as bits) and how many must answer; `None` when the
    /// plan cannot read the shard.
    fn quorum_read(&self, router: &ShardRouter, query: &Query) -> Option<(u8, usize)> {
        let plan = router.plan_query(query).expect("a plan");
        let read = plan.read(0).expect("the plan reads shard 0");
        read.is_available().then(|| {
            let copies = read
                .targets()
                .chain(read.fallbacks())
                .fold(0, |bits, copy| bits | bit(self.of(copy.node_id)));
            (copies, read.copies_needed())
        })
    }
}

/// A coordinator's decisions, asked ahead of its core for every pair of
/// disjoint sets of its copies (those whose first answer was a success,
/// and the others that answered).
#[derive(PartialEq)]
pub(super) struct Decisions {
    /// By `ok << MAX_NODES | failed`; `None` for sets a write never has.
    table: Vec<Option<Decision>>,
}

impl Decisions {
    /// For each case, one write on `core` (the coordinator at this step)
    /// fed each case's answers, in node order, as `WriteAnswer`s from the
    /// copies; the case's decision is the write's `WriteDone`, if any.
    fn prepare(core: &mut ProbeCore, targets: u8, node_ids: &[String], generation: u64) -> Self {
        let subsets = |of: u8| (0..1u8 << MAX_NODES).filter(move |set| set & !of == 0);
        let mut table = vec![None; 1 << (2 * MAX_NODES)];
        for ok in subsets(targets) {
            for failed in subsets(targets & !ok) {
                table[Self::index(ok, failed)] =
                    Some(decide(core, ok, failed, node_ids, generation));
            }
        }
        Decisions { table }
    }

    /// The decisions of a node that does not run the step: none.
    fn none() -> Self {
        Decisions {
            table: vec![None; 1 << (2 * MAX_NODES)],
        }
    }

    fn index(ok: u8, failed: u8) -> usize {
        usize::from(ok) << MAX_NODES | usize::from(failed)
    }

    /// The decision once the nodes `ok` answered success and `failed`
    /// anything else.
    ///
    /// # Panics
    ///
    /// When a node outside the write's copies answered, or one counted both
    /// ways: the model never sends such answers.
    pub(super) fn get(&self, ok: u8, failed: u8) -> Decision {
        self.table[Self::index(ok, failed)]
            .expect("a write only hears from the copies it was sent to")
    }
}

/// One write on the coordinator's `core`, fed a `WriteAnswer` from each
/// node of `ok` (stored) and of `failed` (refused, "not held"), in node
/// order.
fn decide(
    core: &mut ProbeCore,
    ok: u8,
    failed: u8,
    node_ids: &[String],
    generation: u64,
) -> Decision {
    let id = core.write(vec![Probe], (), 0).expect("a one-point write");
    let mut decision = Decision::Pending;
    let mut take = |core: &mut ProbeCore| {
        while let Some(output) = core.poll() {
            if let Output::WriteDone(done) = output {
                if done.id == id {
                    decision = decided(done.is_acknowledged());
                }
            }
        }
    };
    take(core);
    for (n, node) in node_ids.iter().enumerate() {
        let refusal = if ok & bit(n) != 0 {
            None
        } else if failed & bit(n) != 0 {
            Some(Refusal::NotHeld {
                shard: 0,
                generation,
            })
        } else {
            continue;
        };
        let answer = WriteAnswer {
            // A copy on the coordinator's config, as the copies it counts
            // on are.
            header: Header {
                node: node.as_str().into(),
                generation,
                ..core.header()
            },
            write: id,
            shards: vec![ShardAnswer { shard: 0, refusal }],
        };
        core.receive(Message::WriteAnswer(answer), 0);
        take(core);
    }
    decision
}
