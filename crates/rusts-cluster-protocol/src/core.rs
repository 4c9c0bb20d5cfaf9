//! The core: one node's protocol state machine.

use std::{
    cmp::Reverse,
    collections::{BinaryHeap, VecDeque},
    fmt,
    sync::Arc,
};

use fxhash::FxHashMap;
use rusts_cluster_config::{ClusterConfig, ConfigIdentity, CopyEntry};
use rusts_cluster_routing::{ApplyChecks, ConfigChange, Query, ShardRouter};
use rusts_cluster_sharding::ShardId;

use crate::{
    catch_up::{CatchUpStatus, CatchUpTask, Source},
    message::{CatchUpAnswer, CatchUpRequest, Header, Message, Peer, ReadRequest, WriteRequest},
    point::{Point, PointId},
    read::{Effects, Planned, ReadDone, Reads},
    replica::{CatchUpAdmission, Lineage, ReadAdmission, Views, WriteAdmission},
    saved::{restore, save, Canonical},
    write::{Builder, Rules, WriteDone, WriteSettled, Writes},
    ProtocolError,
};

/// The core's timeouts and page size, in the engine's clock (milliseconds
/// by convention: the core only compares and adds them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// A write not decided this long after it started fails
    /// ([`FailReason::Timeout`](crate::FailReason::Timeout)). Default 2,000.
    pub write_timeout: u64,
    /// A read ends this long after it started, complete or not.
    /// Default 2,000.
    pub read_timeout: u64,
    /// A copy that has not answered a read, or a catch-up page, this long
    /// after it was asked is given up on: the read asks the next copy,
    /// the catch-up asks again. Default 500.
    pub ask_timeout: u64,
    /// The most points a catch-up page asks for. Default 1,000.
    pub catch_up_page: u32,
    /// How often a catch-up that waits for other nodes' generations probes
    /// them. Default 200.
    pub probe_interval: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            write_timeout: 2_000,
            read_timeout: 2_000,
            ask_timeout: 500,
            catch_up_page: 1_000,
            probe_interval: 200,
        }
    }
}

/// Request ids are `incarnation << 40 | count`: a run of a core numbers
/// up to 2^40 writes and reads (127 days at 100,000 a second) before its
/// ids reach the next incarnation's, and a node restarts up to 2^24 times
/// (decision 0034).
const INCARNATION_SHIFT: u32 = 40;

/// What became of a message handed to [`Core::receive`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Delivery {
    /// It was counted.
    Counted,
    /// It answers a request this core made and has since decided, ended
    /// or fenced: too late to count. Never confused with [`Unknown`](Self::Unknown).
    Late,
    /// The same copy answered this request already; the first answer
    /// counted.
    Duplicate,
    /// It answers no request this core made (an id never issued, or a node
    /// the request did not go to).
    Unknown,
    /// It is a request for this node to serve: admit it with
    /// [`Core::admit_write`], [`Core::admit_read`] or
    /// [`Core::admit_catch_up`].
    Request,
}

/// What the core asks of the engine, in order. From [`Core::poll`].
#[derive(Debug)]
#[non_exhaustive]
pub enum Output<P, T> {
    /// Send this message to this node.
    Send(Peer, Message<P>),
    /// A write is decided: reply to its client.
    WriteDone(WriteDone<T>),
    /// A write's copies have all answered, or its deadline passed: the
    /// copies that did not confirm it.
    WriteSettled(WriteSettled),
    /// A read is decided: reply to its client.
    ReadDone(ReadDone<P, T>),
    /// Store these catch-up points in this node's copy of `shard` (by the
    /// merge rule: of two versions of one point, keep the greater).
    CatchUpPoints {
        /// The shard.
        shard: ShardId,
        /// The points, in [`PointId`] order.
        points: Vec<P>,
    },
    /// A copy has caught up. Persist [`Core::saved`] so that a restart does
    /// not fetch it again.
    CaughtUp {
        /// The shard.
        shard: ShardId,
    },
    /// The data of these copies (this node's shard ids) may be deleted:
    /// no generation this node serves holds them any longer.
    Droppable {
        /// The shards.
        shards: Vec<ShardId>,
    },
}

/// A config checked and ready to commit, with the bytes to persist first.
/// From [`Core::prepare`] or [`Core::prepare_with`].
#[derive(Debug)]
pub struct Prepared {
    config: ClusterConfig,
    canonical: Canonical,
    bytes: Vec<u8>,
    on: u64,
    /// The router's checks it was prepared with; commit applies with them.
    checks: ApplyChecks,
}

impl Prepared {
    /// The bytes to persist durably before [`Core::commit`]: the state the
    /// core will run once it commits, handed back at start with
    /// [`Core::restore`].
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The prepared config's generation.
    pub fn generation(&self) -> u64 {
        self.config.generation
    }
}

/// A core restored from its saved bytes, not yet started: the bytes to
/// persist first, since they record the new incarnation its requests are
/// numbered in. From [`Core::restore`].
#[derive(Debug)]
#[must_use = "persist `bytes()`, then `start()` the core"]
pub struct Restoring<P, T> {
    core: Core<P, T>,
    bytes: Vec<u8>,
}

impl<P, T> Restoring<P, T> {
    /// The bytes to persist durably before [`start`](Self::start): the
    /// restored state with its new incarnation.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The core, once its bytes are persisted.
    pub fn start(self) -> Core<P, T> {
        self.core
    }
}

impl<P: Point + Ord + Clone, T> Restoring<P, T> {
    /// The identity of the restored config: the one the core runs once
    /// started.
    pub fn identity(&self) -> ConfigIdentity {
        self.core.identity()
    }

    /// Checks the config file the operator gave this node at start, beside
    /// its saved state, so that a restart runs every check a live apply
    /// runs and never serves from a state the file contradicts:
    ///
    /// - the file has the restored config's identity: `Ok(None)`, run the
    ///   saved state as it is;
    /// - the file is the next generation: `Ok(Some(prepared))`, through
    ///   every check of [`Core::prepare`]; persist [`bytes`](Self::bytes)
    ///   and [`start`](Self::start), then persist
    ///   [`Prepared::bytes`] and [`Core::commit`] it, as for a live apply.
    ///
    /// Changes nothing: the caller may still start the saved state as it
    /// is, on an operator's word.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::FileOlder`] when the file's generation is older
    /// than the saved one, [`ProtocolError::FileDiffers`] when it is the
    /// saved generation with another digest,
    /// [`ProtocolError::FileSkipsGenerations`] when it is more than one
    /// generation newer, and [`Core::prepare`]'s errors for the next
    /// generation.
    pub fn prepare_file(&self, file: ClusterConfig) -> Result<Option<Prepared>, ProtocolError> {
        self.prepare_file_with(file, ApplyChecks::All)
    }

    /// [`prepare_file`](Self::prepare_file), with the router's checks
    /// `checks` ([`Core::prepare_with`]). With
    /// [`ApplyChecks::UnsafeSkipStepChecks`] a file more than one
    /// generation newer is prepared too, past the step checks: **unsafe**,
    /// for an operator's emergency, like the same override on a live
    /// apply. An older file, or another file of the saved generation, is
    /// refused whatever the checks.
    ///
    /// # Errors
    ///
    /// Those of [`prepare_file`](Self::prepare_file), less
    /// [`ProtocolError::FileSkipsGenerations`] under the override.
    pub fn prepare_file_with(
        &self,
        file: ClusterConfig,
        checks: ApplyChecks,
    ) -> Result<Option<Prepared>, ProtocolError> {
        let saved = self.core.identity();
        let offered = file.identity();
        if offered.generation < saved.generation {
            Err(ProtocolError::FileOlder {
                file: offered,
                saved,
            })
        } else if offered.generation == saved.generation {
            if offered.digest == saved.digest {
                Ok(None)
            } else {
                Err(ProtocolError::FileDiffers {
                    file: offered,
                    saved,
                })
            }
        } else if offered.generation - saved.generation > 1 && checks == ApplyChecks::All {
            Err(ProtocolError::FileSkipsGenerations {
                file: offered,
                saved,
            })
        } else {
            self.core.prepare_with(file, checks).map(Some)
        }
    }
}

/// A commit's result: the router's change, and what fencing ended.
#[derive(Debug)]
#[non_exhaustive]
pub struct Applied {
    /// What the router changed.
    pub change: ConfigChange,
    /// How many writes and reads of older generations fencing ended: each
    /// undecided one fails ([`FailReason::Fenced`](crate::FailReason::Fenced),
    /// a `WriteDone` or `ReadDone` in [`Core::poll`]), and a write already
    /// decided but still waiting for some copies settles (a
    /// `WriteSettled`, its `WriteDone` having come before). So this counts
    /// more than the failures `poll` shows.
    pub fenced: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    Write(u64),
    ReadAsk(u64, u32),
}

/// The copies of a generation this node keeps for peers still on it.
struct Kept {
    /// The kept generation's canonical text, for `saved`.
    canonical: Canonical,
    router: ShardRouter,
    /// This node's shards in the kept generation that the generation after
    /// it does not give it.
    shards: Vec<ShardId>,
}

/// One node's replication protocol, without I/O: fed requests, answers
/// and time, it returns messages to send and decisions, through
/// [`poll`](Self::poll).
///
/// `P` is the engine's point, `T` what the engine wants back with each
/// decided write or read (a reply handle, a request id; `()` for none).
/// See the crate documentation for the whole loop.
pub struct Core<P, T = ()> {
    node: Arc<str>,
    router: ShardRouter,
    config: ClusterConfig,
    /// `config`'s canonical text and identity, for `saved`.
    canonical: Canonical,
    /// The identity of the config this node ran before `config`, when it
    /// knows it: checked against peers one generation behind, and sent to
    /// peers one ahead in every header (decision 0039).
    previous: Option<ConfigIdentity>,
    kept: Option<Kept>,
    /// The generation this node reports: in every header, and to
    /// operators. Changes only after fencing.
    reported: u64,
    /// The current generation's nodes, by index.
    peers: Vec<Peer>,
    /// The highest generation heard from each node.
    heard: FxHashMap<Arc<str>, u64>,
    writes: Writes<T>,
    /// Each shard's write rule, built once per generation.
    rules: Rules,
    reads: Reads<P, T>,
    tasks: Vec<CatchUpTask>,
    /// The shards of lost tasks not done, ascending: refused for reads.
    catching_up: Arc<[ShardId]>,
    timers: BinaryHeap<Reverse<(u64, Timer)>>,
    out: VecDeque<Output<P, T>>,
    options: Options,
    next_id: u64,
    last_probe: Option<u64>,
}

impl<P, T> fmt::Debug for Core<P, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("node", &self.node)
            .field("generation", &self.reported)
            .field("writes", &self.writes.len())
            .field("catch_up", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// The node table of a config, in node-index (node-id) order.
fn peers_of(config: &ClusterConfig) -> Vec<Peer> {
    let mut nodes: Vec<_> = config.nodes.iter().collect();
    nodes.sort_by(|a, b| a.id.cmp(&b.id));
    nodes
        .into_iter()
        .enumerate()
        .map(|(i, n)| Peer {
            node: Arc::from(n.id.as_str()),
            address: Arc::from(n.address.as_str()),
            index: i as u32,
        })
        .collect()
}

/// The shards `node` holds a copy of in `config`, ascending.
fn held(config: &ClusterConfig, node: &str) -> Vec<ShardId> {
    let mut shards: Vec<ShardId> = config
        .get_node(node)
        .map(|n| {
            n.shards
                .iter()
                .chain(&n.replica_shards)
                .chain(&n.joining_shards)
                .copied()
                .collect()
        })
        .unwrap_or_default();
    shards.sort_unstable();
    shards.dedup();
    shards
}

/// The catch-ups `config` gives `node`, as tasks of its generation.
fn tasks_of(config: &ClusterConfig, node: &str) -> Vec<CatchUpTask> {
    config
        .catch_ups()
        .into_iter()
        .filter(|c| c.node == node)
        .map(|c| CatchUpTask {
            shard: c.shard,
            generation: config.generation,
            state: c.state,
            sources: c
                .sources
                .into_iter()
                .map(|s| Source {
                    done: s == node,
                    node: Arc::from(s),
                    after: None,
                    sent_at: None,
                })
                .collect(),
            lost: false,
            not_before: None,
            waited: false,
        })
        .collect()
}

/// The catch-ups of `node`'s copies of `shards` in `config` when those
/// copies lost their data (decision 0045).
///
/// An acknowledged write sits on `w` of the shard's `n` old copies (the
/// copies not joining; under the joint rule of a move, too). The lost copy
/// may have been one of them, so at least `w - 1` of the other `n - 1`
/// hold it, and reading `(n - 1) - (w - 1) + 1 = n - w + 1` of the others
/// finds it in one; when the lost copy is joining, `w` of the `n` hold it
/// and `n - w + 1` of them again suffice. So the task reads `n - w + 1`
/// other old copies, stable before leaving ones, by node id (at least 1;
/// all of them when there are fewer: under `Synchronous` one is enough,
/// under `Quorum` at factor 3 both others, and a write a mode of fewer
/// acknowledgements left on the lost copy alone is gone). A joining copy
/// keeps the sources its config's catch-up balanced, which are as many
/// and never itself.
fn lost_tasks(config: &ClusterConfig, node: &str, shards: &[ShardId]) -> Vec<CatchUpTask> {
    use rusts_cluster_sharding::CopyState;
    // The config's own catch-ups and copy index, each built once for all
    // of `shards`.
    let mut joins: FxHashMap<ShardId, CatchUpTask> = tasks_of(config, node)
        .into_iter()
        .filter(|t| t.sources.iter().all(|s| *s.node != *node))
        .map(|t| (t.shard, t))
        .collect();
    let index = config.copy_index();
    let w = config
        .replication_mode
        .required_acks(config.replication_factor);
    shards
        .iter()
        .map(|&shard| {
            if let Some(task) = joins.remove(&shard) {
                return CatchUpTask { lost: true, ..task };
            }
            let copies = index.copies(shard);
            let id = |c: &CopyEntry| index.node(config, c.node).id.as_str();
            let mut old: Vec<(bool, &str)> = copies
                .iter()
                .filter(|c| c.state != CopyState::Joining)
                .map(|c| (c.state == CopyState::Leaving, id(c)))
                .collect();
            old.sort_unstable();
            let wanted = (old.len() + 1).saturating_sub(w).max(1);
            let state = match copies.iter().find(|c| id(c) == node) {
                Some(c) if c.state == CopyState::Joining => CopyState::Joining,
                _ => CopyState::Stable,
            };
            CatchUpTask {
                shard,
                generation: config.generation,
                state,
                sources: old
                    .into_iter()
                    .filter(|(_, id)| *id != node)
                    .take(wanted)
                    .map(|(_, id)| Source {
                        node: Arc::from(id),
                        after: None,
                        done: false,
                        sent_at: None,
                    })
                    .collect(),
                lost: true,
                not_before: None,
                waited: false,
            }
        })
        .collect()
}

/// The shards of `tasks` that lost their data and have not caught up.
fn catching_up(tasks: &[CatchUpTask]) -> Arc<[ShardId]> {
    let mut shards: Vec<ShardId> = tasks
        .iter()
        .filter(|t| t.lost && !t.is_done())
        .map(|t| t.shard)
        .collect();
    shards.sort_unstable();
    shards.dedup();
    shards.into()
}

impl<P: Point + Ord + Clone, T> Core<P, T> {
    /// A core for node `node` running `config` (its `node_id` is replaced
    /// by `node`: one file serves every node). Persist
    /// [`saved`](Self::saved) before serving, and start later ones with
    /// [`restore`](Self::restore).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Routing`] when the config is invalid or names no
    /// node `node`.
    pub fn new(
        mut config: ClusterConfig,
        node: &str,
        options: Options,
    ) -> Result<Self, ProtocolError> {
        config.node_id = node.to_owned();
        let router = ShardRouter::from_config(&config)?;
        let tasks = tasks_of(&config, node);
        Ok(Self::assemble(
            node, router, config, None, tasks, options, 0,
        ))
    }

    /// A core from the bytes it last handed out ([`saved`](Self::saved) or
    /// [`Prepared::bytes`]), as node `node`.
    ///
    /// The restored core numbers its requests in a new incarnation, so
    /// that an answer still in flight to a request of the run before never
    /// counts for one of this run (it is [`Delivery::Late`]). The core
    /// comes as a [`Restoring`]: persist [`Restoring::bytes`], which
    /// record that incarnation, then [`start`](Restoring::start) it, as
    /// with [`prepare`](Self::prepare) and [`commit`](Self::commit). A
    /// second restart from the old bytes would reuse the incarnation
    /// (decision 0034).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Saved`] when the bytes are not such a state, and
    /// [`ProtocolError::SavedForOtherNode`] when another node saved them.
    pub fn restore(
        bytes: &[u8],
        node: &str,
        options: Options,
    ) -> Result<Restoring<P, T>, ProtocolError> {
        let restored = restore(bytes, node)?;
        let router = ShardRouter::from_config(&restored.config)?;
        let kept = match restored.kept {
            Some(config) => {
                let router = ShardRouter::from_config(&config)?;
                let now = held(&restored.config, node);
                let shards = held(&config, node)
                    .into_iter()
                    .filter(|s| now.binary_search(s).is_err())
                    .collect();
                Some(Kept {
                    canonical: Canonical::of(&config),
                    router,
                    shards,
                })
            }
            None => None,
        };
        // Saturating: a saved incarnation that is already the last (2^24
        // restarts) keeps it rather than wrapping to 0.
        let incarnation = restored
            .incarnation
            .saturating_add(1)
            .min(u64::MAX >> INCARNATION_SHIFT);
        let mut core = Self::assemble(
            node,
            router,
            restored.config,
            kept,
            restored.catch_up,
            options,
            incarnation,
        );
        core.previous = restored.previous;
        Ok(Restoring {
            bytes: core.saved(),
            core,
        })
    }

    fn assemble(
        node: &str,
        router: ShardRouter,
        config: ClusterConfig,
        kept: Option<Kept>,
        tasks: Vec<CatchUpTask>,
        options: Options,
        incarnation: u64,
    ) -> Self {
        Core {
            node: Arc::from(node),
            reported: config.generation,
            peers: peers_of(&config),
            router,
            canonical: Canonical::of(&config),
            config,
            previous: None,
            kept,
            heard: FxHashMap::default(),
            writes: Writes::new(),
            rules: Rules::new(),
            reads: Reads::new(),
            catching_up: catching_up(&tasks),
            tasks,
            timers: BinaryHeap::new(),
            out: VecDeque::new(),
            options,
            next_id: incarnation << INCARNATION_SHIFT,
            last_probe: None,
        }
    }

    /// The node this core runs as.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// The generation this node reports, to peers (in every header) and to
    /// operators: a newer config's only once [`commit`](Self::commit) has
    /// failed every request pending under the older one.
    pub fn generation(&self) -> u64 {
        self.reported
    }

    /// The identity (generation and digest) of the config the core runs,
    /// as every header carries it.
    pub fn identity(&self) -> ConfigIdentity {
        ConfigIdentity {
            generation: self.config.generation,
            digest: self.canonical.digest,
        }
    }

    /// The identity of the config the core ran before the one it runs:
    /// the one [`commit`](Self::commit) replaced, saved with the state.
    /// `None` for a core that has run one config only, and for one
    /// restored from a state of format 2 that kept no copies.
    pub fn previous_identity(&self) -> Option<ConfigIdentity> {
        self.previous
    }

    fn lineage(&self) -> Lineage {
        Lineage {
            current: self.identity(),
            previous: self.previous,
        }
    }

    /// The config the core runs.
    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    /// The router, for routing questions that need no protocol (which
    /// shard a key is on, node availability, shard states).
    pub fn router(&self) -> &ShardRouter {
        &self.router
    }

    /// The header this node stamps on its messages now.
    pub fn header(&self) -> Header {
        Header {
            node: Arc::clone(&self.node),
            generation: self.reported,
            identity: self.canonical.digest,
            previous: self.previous.map(|p| p.digest),
        }
    }

    /// The bytes to persist for the state the core runs now, handed back at
    /// start with [`restore`](Self::restore).
    pub fn saved(&self) -> Vec<u8> {
        save(
            &self.node,
            self.incarnation(),
            self.config.generation,
            &self.canonical,
            self.previous,
            self.kept.as_ref().map(|k| &k.canonical),
            &self.tasks,
        )
    }

    /// Writes and reads in flight.
    pub fn in_flight(&self) -> (usize, usize) {
        (self.writes.len(), self.reads.len())
    }

    /// The next thing the engine must do, or `None` when there is nothing
    /// left. Call it until `None` after every other call.
    pub fn poll(&mut self) -> Option<Output<P, T>> {
        self.out.pop_front()
    }

    fn next_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The incarnation the core numbers its requests in: the high bits of
    /// its next id. A restored core starts the one after the saved one, so
    /// that an answer to a request of an earlier run never counts for a
    /// request of this one.
    fn incarnation(&self) -> u64 {
        self.next_id >> INCARNATION_SHIFT
    }

    // ---- configs -------------------------------------------------------

    /// The copies kept and the catch-ups after a move to `config`.
    fn next_state(&self, config: &ClusterConfig) -> (Option<Kept>, Vec<CatchUpTask>) {
        let now = held(config, &self.node);
        let before = held(&self.config, &self.node);
        let lost: Vec<ShardId> = before
            .iter()
            .copied()
            .filter(|s| now.binary_search(s).is_err())
            .collect();
        let kept = if lost.is_empty() || config.shard_count != self.config.shard_count {
            None
        } else {
            ShardRouter::from_config(&self.config)
                .ok()
                .map(|router| Kept {
                    canonical: self.canonical.clone(),
                    router,
                    shards: lost,
                })
        };
        // A catch-up of a shard already under way (or done) goes on; one the
        // new config no longer lists ends.
        let mut tasks = Vec::new();
        for task in tasks_of(config, &self.node) {
            match self.tasks.iter().find(|t| t.shard == task.shard) {
                Some(existing) => tasks.push(existing.clone()),
                None => tasks.push(task),
            }
        }
        // A copy that lost its data and has not caught up goes on catching
        // up while the new config gives this node the shard: from the new
        // config's copies, under its generation (every node must run it
        // first, as for a join), keeping the cursors of sources it keeps.
        let carried: Vec<&CatchUpTask> = (self.tasks.iter())
            .filter(|t| t.lost && !t.is_done() && now.binary_search(&t.shard).is_ok())
            .collect();
        let shards: Vec<ShardId> = carried.iter().map(|t| t.shard).collect();
        for (lost, mut task) in carried
            .into_iter()
            .zip(lost_tasks(config, &self.node, &shards))
        {
            for source in &mut task.sources {
                if let Some(old) = lost.sources.iter().find(|s| s.node == source.node) {
                    source.after = old.after.clone();
                    source.done = old.done;
                }
            }
            task.not_before = lost.not_before;
            task.waited = lost.waited;
            match tasks.iter_mut().find(|t| t.shard == task.shard) {
                Some(existing) => *existing = task,
                None => tasks.push(task),
            }
        }
        tasks.sort_by_key(|t| t.shard);
        (kept, tasks)
    }

    /// Refuses a config that renumbers the shards while a lost copy
    /// catches up.
    fn check_lost(&self, config: &ClusterConfig) -> Result<(), ProtocolError> {
        if config.shard_count == self.config.shard_count || self.catching_up.is_empty() {
            return Ok(());
        }
        Err(ProtocolError::LostDuringSplit {
            generation: config.generation,
            from: self.config.shard_count,
            to: config.shard_count,
            shards: self.catching_up.to_vec(),
        })
    }

    /// Checks that the core can run `config` next (as this node), and
    /// gives the bytes to persist before [`commit`](Self::commit). Changes
    /// nothing.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Routing`] with the router's refusal
    /// ([`ShardRouter::check_apply`]).
    pub fn prepare(&self, config: ClusterConfig) -> Result<Prepared, ProtocolError> {
        self.prepare_with(config, ApplyChecks::All)
    }

    /// [`prepare`](Self::prepare), with the router's checks `checks`
    /// ([`ShardRouter::check_apply_with`]); [`commit`](Self::commit) then
    /// applies with the same checks. With
    /// [`ApplyChecks::UnsafeSkipStepChecks`] it takes a config that skips
    /// generations or transition steps, which **may lose acknowledged
    /// writes**: for emergencies only.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Routing`] with the router's refusal, and
    /// [`ProtocolError::LostDuringSplit`] for a config that changes the
    /// shard count while a copy that lost its data is still catching up.
    pub fn prepare_with(
        &self,
        mut config: ClusterConfig,
        checks: ApplyChecks,
    ) -> Result<Prepared, ProtocolError> {
        config.node_id = self.node.to_string();
        self.router.check_apply_with(&config, checks)?;
        self.check_lost(&config)?;
        let (kept, tasks) = self.next_state(&config);
        let canonical = Canonical::of(&config);
        let bytes = save(
            &self.node,
            self.incarnation(),
            config.generation,
            &canonical,
            Some(self.identity()),
            kept.as_ref().map(|k| &k.canonical),
            &tasks,
        );
        Ok(Prepared {
            config,
            canonical,
            bytes,
            on: self.router.generation(),
            checks,
        })
    }

    /// Runs a prepared config, once its bytes are persisted, in one step:
    ///
    /// 1. the router takes the config;
    /// 2. **fencing**: every write and read pending under an older
    ///    generation fails ([`FailReason::Fenced`](crate::FailReason::Fenced), [`ReadDone::fenced`]);
    /// 3. only then does the reported [`generation`](Self::generation)
    ///    change, so a peer or an operator that sees the new one knows no
    ///    older write of this node can still be acknowledged.
    ///
    /// Catch-ups the config gives this node start (once every node reports
    /// it); copies it no longer holds are kept for peers one generation
    /// behind, and those of the generation before become
    /// [`Output::Droppable`].
    ///
    /// # Errors
    ///
    /// [`ProtocolError::PreparedOnOther`] when another config was committed
    /// since `prepared` was, and [`ProtocolError::Routing`] when the router
    /// refuses it ([`ProtocolError::LostDuringSplit`] as
    /// [`prepare_with`](Self::prepare_with)); either way the core is
    /// unchanged.
    pub fn commit(&mut self, prepared: Prepared, now: u64) -> Result<Applied, ProtocolError> {
        let current = self.router.generation();
        if prepared.on != current {
            return Err(ProtocolError::PreparedOnOther {
                prepared: prepared.config.generation,
                prepared_on: prepared.on,
                current,
            });
        }
        self.check_lost(&prepared.config)?;
        let (kept, tasks) = self.next_state(&prepared.config);
        let change = self.router.apply_with(&prepared.config, prepared.checks)?;
        let generation = prepared.config.generation;
        // Copies kept for the generation before the old one are now held
        // by no generation a peer may run.
        if let Some(old) = self.kept.take() {
            let still: Vec<ShardId> = held(&self.config, &self.node);
            let newer = held(&prepared.config, &self.node);
            let drop: Vec<ShardId> = old
                .shards
                .into_iter()
                .filter(|s| still.binary_search(s).is_err() && newer.binary_search(s).is_err())
                .collect();
            if !drop.is_empty() {
                self.out.push_back(Output::Droppable { shards: drop });
            }
        }
        self.kept = kept;
        self.previous = Some(self.identity());
        self.config = prepared.config;
        self.canonical = prepared.canonical;
        self.peers = peers_of(&self.config);
        self.catching_up = catching_up(&tasks);
        self.tasks = tasks;
        // Fencing, as one step, before the generation is reported.
        let before = self.writes.len() + self.reads.len();
        self.writes.fence(generation, &mut self.out);
        let mut read_done = Vec::new();
        self.reads.fence(generation, &mut read_done);
        let fenced = before - self.writes.len() - self.reads.len();
        self.out.extend(read_done.into_iter().map(Output::ReadDone));
        self.reported = generation;
        self.drive_catch_up(now);
        Ok(Applied { change, fenced })
    }

    /// Gives up the copies kept for peers one generation behind: call it
    /// once every node runs this generation (the deploy tool knows; the
    /// drop list of a transition says after which step). Returns the
    /// shards whose data may be deleted now; persist
    /// [`saved`](Self::saved) after.
    pub fn release_kept(&mut self) -> Vec<ShardId> {
        self.kept.take().map(|k| k.shards).unwrap_or_default()
    }

    /// The shards this node keeps for peers one generation behind.
    pub fn kept_shards(&self) -> &[ShardId] {
        self.kept.as_ref().map_or(&[], |k| &k.shards)
    }

    // ---- the coordinator's writes ---------------------------------------

    /// Starts a write of `points`: routed in one batch, each shard under
    /// its rule in the generation the core runs now, one request per node.
    /// Returns the write's id; its requests, and its outcome once decided,
    /// come from [`poll`](Self::poll).
    ///
    /// A shard that takes no writes, or whose down copies are too many for
    /// its rule (the joint rule of a moving shard included), fails at once
    /// and is sent nowhere.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Routing`] when the batch is too large to route.
    pub fn write(&mut self, points: Vec<P>, payload: T, now: u64) -> Result<u64, ProtocolError> {
        let batch = self.router.route_batch_by(&points, |p| p.key())?;
        let generation = batch.generation();
        let mut builder = Builder::new(self.peers.len(), batch.group_count());
        let mut start = 0u32;
        for group in batch.groups() {
            let view = group.shard();
            let len = group.key_indices().len() as u32;
            builder.group(&view, start, len, self.rules.quorum(&view));
            start += len;
        }
        let order = batch.into_key_indices();
        let builder = builder.with_batch(points, order);
        let id = self.next_id();
        let deadline = now.saturating_add(self.options.write_timeout);
        let header = self.header();
        let tracked = self.writes.start(
            id,
            generation,
            &header,
            &self.peers,
            builder,
            payload,
            deadline,
            &mut self.out,
        );
        if tracked {
            self.timers.push(Reverse((deadline, Timer::Write(id))));
        }
        Ok(id)
    }

    // ---- the coordinator's reads ----------------------------------------

    /// Starts a read of `query` at its level: each shard from as many
    /// distinct copies as the level needs, falling back to the next copy
    /// on a refusal or after [`Options::ask_timeout`]. Returns the read's
    /// id; its requests, and its merged rows once decided, come from
    /// [`poll`](Self::poll).
    ///
    /// # Errors
    ///
    /// [`ProtocolError::Routing`] when the router cannot plan the query.
    pub fn read(&mut self, query: &Query, payload: T, now: u64) -> Result<u64, ProtocolError> {
        let plan = self.router.plan_query(query)?;
        // This node's copies that lost their data are no candidates: they
        // would refuse (`Refusal::CatchingUp`), and never count.
        let own = self
            .peers
            .iter()
            .find(|p| *p.node == *self.node)
            .map(|p| p.index);
        let mut planned: Vec<Planned> = plan
            .reads()
            .map(|r| {
                let lost = self.catching_up.binary_search(&r.shard()).is_ok();
                Planned {
                    shard: r.shard(),
                    needed: r.copies_needed().max(1),
                    candidates: if r.is_available() {
                        r.targets()
                            .chain(r.fallbacks())
                            .map(|c| c.node_index)
                            .filter(|&i| !(lost && Some(i) == own))
                            .collect()
                    } else {
                        Vec::new()
                    },
                }
            })
            .collect();
        for &shard in plan.unavailable_shards() {
            if !planned.iter().any(|p| p.shard == shard) {
                planned.push(Planned {
                    shard,
                    needed: 1,
                    candidates: Vec::new(),
                });
            }
        }
        let id = self.next_id();
        let deadline = now.saturating_add(self.options.read_timeout);
        let generation = plan.generation();
        let filter = query.filter().clone();
        self.with_reads(now, |reads, fx| {
            reads.start(id, generation, filter, planned, payload, deadline, fx)
        });
        Ok(id)
    }

    /// Runs `f` on the reads table with the effects it may have (requests
    /// to send, reads decided, timers), then queues them.
    fn with_reads<R>(
        &mut self,
        now: u64,
        f: impl FnOnce(&mut Reads<P, T>, &mut Effects<'_, P, T>) -> R,
    ) -> R {
        let header = self.header();
        let mut send = Vec::new();
        let mut done = Vec::new();
        let mut timers = Vec::new();
        let mut fx = Effects {
            header: &header,
            peers: &self.peers,
            ask_timeout: self.options.ask_timeout,
            now,
            send: &mut send,
            done: &mut done,
            timers: &mut timers,
        };
        let result = f(&mut self.reads, &mut fx);
        for (deadline, id, ask) in timers {
            self.timers
                .push(Reverse((deadline, Timer::ReadAsk(id, ask))));
        }
        self.out.extend(
            send.into_iter()
                .map(|(peer, request)| Output::Send(peer, Message::Read(request))),
        );
        self.out.extend(done.into_iter().map(Output::ReadDone));
        result
    }

    // ---- answers and time -----------------------------------------------

    /// Hands the core a message from a peer: an answer to one of its
    /// requests, or a probe (answered through [`poll`](Self::poll)).
    /// Requests to serve go through the `admit_*` calls instead, and come
    /// back as [`Delivery::Request`].
    pub fn receive(&mut self, message: Message<P>, now: u64) -> Delivery {
        self.hear(message.header());
        let delivery = match message {
            Message::WriteAnswer(answer) => {
                self.writes.answer(&answer, self.next_id, &mut self.out)
            }
            Message::ReadAnswer(answer) => {
                let issued = self.next_id;
                self.with_reads(now, |reads, fx| reads.answer(answer, issued, fx))
            }
            Message::CatchUpAnswer(answer) => self.catch_up_answer(answer, now),
            Message::Probe(header) => match self.peer(&header.node) {
                Some(peer) => {
                    let answer = Message::ProbeAnswer(self.header());
                    self.out.push_back(Output::Send(peer, answer));
                    Delivery::Counted
                }
                None => Delivery::Unknown,
            },
            Message::ProbeAnswer(_) => Delivery::Counted,
            Message::Write(_) | Message::Read(_) | Message::CatchUp(_) => Delivery::Request,
        };
        self.drive_catch_up(now);
        delivery
    }

    /// Advances the core's clock to `now`: writes past their deadline are
    /// decided, reads fall back or end, catch-ups ask again or probe. Cost
    /// proportional to what expires.
    pub fn tick(&mut self, now: u64) {
        while let Some(&Reverse((deadline, timer))) = self.timers.peek() {
            if deadline > now {
                break;
            }
            self.timers.pop();
            match timer {
                Timer::Write(id) => {
                    self.writes.expire(id, now, &mut self.out);
                }
                Timer::ReadAsk(id, ask) => {
                    self.with_reads(now, |reads, fx| reads.timer(id, ask, fx));
                }
            }
        }
        self.drive_catch_up(now);
    }

    fn hear(&mut self, header: &Header) {
        // A peer on a config this node does not serve (another file of its
        // generation, or a neighbour not made from its file) does not run
        // this node's generation: a catch-up that waits for every node to
        // report it must not start on its word.
        if self.lineage().conflict(header).is_some() {
            return;
        }
        // A known node (every answer's sender) is found without cloning
        // its id; only a first message adds one.
        match self.heard.get_mut(&*header.node) {
            Some(known) => *known = (*known).max(header.generation),
            None => {
                self.heard
                    .insert(Arc::clone(&header.node), header.generation);
            }
        }
    }

    fn peer(&self, node: &str) -> Option<Peer> {
        self.peers.iter().find(|p| *p.node == *node).cloned()
    }

    // ---- the replica ----------------------------------------------------

    fn views(&self, peer: &Header) -> Views {
        Views::new(
            &self.router,
            self.kept.as_ref().map(|k| &k.router),
            &self.lineage(),
            peer,
            Arc::clone(&self.catching_up),
        )
    }

    /// Admits or refuses a peer's write, shard by shard, against one
    /// snapshot: a generation more than one away is refused whole, and so
    /// is a sender whose config identity this node does not follow
    /// ([`Refusal::Identity`](crate::Refusal::Identity): another file of
    /// this generation, or a neighbour generation not made from this
    /// node's file, by the digests in the header); a shard
    /// this node does not hold, or holds in a state that takes no writes,
    /// is refused. A copy this node held in the sender's generation (one
    /// generation behind) and still keeps is admitted: a copy leaving in
    /// step 2 takes the writes of step-2 coordinators on a node already on
    /// step 3.
    pub fn admit_write<'r>(&self, request: &'r WriteRequest<P>) -> WriteAdmission<'r, P> {
        WriteAdmission::new(self.header(), request, self.views(&request.header))
    }

    /// Admits or refuses a peer's read, shard by shard, against one
    /// snapshot, by the rule of [`admit_write`](Self::admit_write) (the
    /// state of a copy does not matter to a read).
    pub fn admit_read<'r>(&self, request: &'r ReadRequest) -> ReadAdmission<'r> {
        ReadAdmission::new(self.header(), request, &self.views(&request.header))
    }

    /// Admits or refuses a joining copy's catch-up page request, by the
    /// rule of [`admit_read`](Self::admit_read).
    pub fn admit_catch_up<'r>(&self, request: &'r CatchUpRequest) -> CatchUpAdmission<'r> {
        CatchUpAdmission::new(self.header(), request, &self.views(&request.header))
    }

    // ---- catch-up ---------------------------------------------------------

    /// The shards this node holds a copy of in the generation it runs
    /// (joining, stable or leaving), ascending: what an engine whose data
    /// directory is empty hands [`lost`](Self::lost).
    pub fn shards(&self) -> Vec<ShardId> {
        held(&self.config, &self.node)
    }

    /// Tells the core that this node has no data for its copies of
    /// `shards` (a new disk, a new machine under an old node id, a copy
    /// the engine found corrupt and discarded): each becomes a catch-up
    /// from the shard's other copies (decision 0045), and until it is done
    /// the copy
    ///
    /// - takes writes, as before: [`admit_write`](Self::admit_write)
    ///   admits it, so no write acknowledged from now on misses it;
    /// - refuses reads and catch-up pages with [`Refusal::CatchingUp`],
    ///   which never counts as a copy's answer, and this core's own reads
    ///   do not ask it;
    /// - fetches `n - w + 1` of the other old copies (both others under
    ///   `Quorum` at factor 3, see [`CatchUpTask::lost`] for when it
    ///   starts), through the same [`Message::CatchUp`] pages as a joining
    ///   copy, reported by [`catch_ups`](Self::catch_ups) and counted by
    ///   [`catch_up_pending`](Self::catch_up_pending) (with
    ///   [`CatchUpStatus::lost`] set).
    ///
    /// Call it before serving, with the data already gone (an engine whose
    /// data directory is empty passes [`shards`](Self::shards)), then
    /// persist [`saved`](Self::saved): the lost copies survive a restart,
    /// and a later commit that still gives this node the copy carries the
    /// catch-up on. A shard named twice, or already catching up, starts
    /// over: its data is gone again.
    ///
    /// # Errors
    ///
    /// [`ProtocolError::LostNotHeld`] when this node holds no copy of one
    /// of `shards` in the generation it runs; the core is then unchanged.
    ///
    /// [`Refusal::CatchingUp`]: crate::Refusal::CatchingUp
    /// [`Message::CatchUp`]: crate::Message::CatchUp
    pub fn lost(&mut self, shards: &[ShardId]) -> Result<(), ProtocolError> {
        let held = self.shards();
        if let Some(&shard) = shards.iter().find(|s| held.binary_search(s).is_err()) {
            return Err(ProtocolError::LostNotHeld {
                node: self.node.to_string(),
                shard,
                generation: self.config.generation,
            });
        }
        // Each shard's new task replaces any task it had; one pass, so a
        // node that lost thousands of copies is not quadratic.
        let mut fresh: std::collections::BTreeMap<ShardId, CatchUpTask> =
            (lost_tasks(&self.config, &self.node, shards).into_iter())
                .map(|t| (t.shard, t))
                .collect();
        self.tasks.retain(|t| !fresh.contains_key(&t.shard));
        self.tasks.extend(std::mem::take(&mut fresh).into_values());
        self.tasks.sort_by_key(|t| t.shard);
        self.catching_up = catching_up(&self.tasks);
        Ok(())
    }

    /// This node's copies that lost their data and have not caught up
    /// yet, ascending: they take writes and refuse reads.
    pub fn lost_shards(&self) -> &[ShardId] {
        &self.catching_up
    }

    /// This node's catch-ups, by shard.
    pub fn catch_ups(&self) -> Vec<CatchUpStatus> {
        self.tasks
            .iter()
            .map(|t| CatchUpStatus {
                shard: t.shard,
                sources_done: t.sources.iter().filter(|s| s.done).count(),
                sources: t.sources.len(),
                started: self.everyone_at(t.generation) && (!t.lost || t.waited),
                lost: t.lost,
            })
            .collect()
    }

    /// How many of this node's copies have not caught up yet.
    pub fn catch_up_pending(&self) -> usize {
        self.tasks.iter().filter(|t| !t.is_done()).count()
    }

    /// The catch-up tasks themselves, with each source's cursor.
    pub fn catch_up_tasks(&self) -> &[CatchUpTask] {
        &self.tasks
    }

    /// Whether every node of the config reports `generation` or later.
    fn everyone_at(&self, generation: u64) -> bool {
        self.peers.iter().all(|p| {
            if *p.node == *self.node {
                self.reported >= generation
            } else {
                self.heard.get(&p.node).is_some_and(|&g| g >= generation)
            }
        })
    }

    fn drive_catch_up(&mut self, now: u64) {
        if self.tasks.iter().all(CatchUpTask::is_done) {
            return;
        }
        let header = self.header();
        let mut sends = Vec::new();
        let mut probe = false;
        for t in 0..self.tasks.len() {
            let task = &self.tasks[t];
            if task.is_done() {
                continue;
            }
            let ready = self.everyone_at(task.generation);
            probe |= !ready;
            if task.lost && !task.waited {
                // A lost copy waits `write_timeout` from the first clock it
                // sees: every write the copy's earlier run may have
                // acknowledged is decided by then, and stored on each of
                // its other acknowledging copies.
                let write_timeout = self.options.write_timeout;
                let task = &mut self.tasks[t];
                let at = *task
                    .not_before
                    .get_or_insert(now.saturating_add(write_timeout));
                if now < at {
                    continue;
                }
                task.waited = true;
            }
            if !ready {
                continue;
            }
            let shard = self.tasks[t].shard;
            let limit = self.options.catch_up_page;
            let timeout = self.options.ask_timeout;
            for s in 0..self.tasks[t].sources.len() {
                let source = &self.tasks[t].sources[s];
                let due = source
                    .sent_at
                    .is_none_or(|at| now >= at.saturating_add(timeout));
                if source.done || !due {
                    continue;
                }
                let Some(peer) = self.peer(&source.node) else {
                    continue;
                };
                sends.push((
                    peer,
                    CatchUpRequest {
                        header: header.clone(),
                        shard,
                        after: source.after.clone(),
                        limit,
                    },
                ));
                self.tasks[t].sources[s].sent_at = Some(now);
            }
        }
        for (peer, request) in sends {
            self.out
                .push_back(Output::Send(peer, Message::CatchUp(request)));
        }
        let probe_due = self
            .last_probe
            .is_none_or(|at| now >= at.saturating_add(self.options.probe_interval));
        if probe && probe_due {
            self.last_probe = Some(now);
            let wanted = self.tasks.iter().map(|t| t.generation).max().unwrap_or(0);
            for peer in &self.peers {
                let behind = *peer.node != *self.node
                    && self.heard.get(&peer.node).is_none_or(|&g| g < wanted);
                if behind {
                    self.out
                        .push_back(Output::Send(peer.clone(), Message::Probe(header.clone())));
                }
            }
        }
    }

    fn catch_up_answer(&mut self, answer: CatchUpAnswer<P>, now: u64) -> Delivery {
        let Some(task) = self.tasks.iter_mut().find(|t| t.shard == answer.shard) else {
            return Delivery::Unknown;
        };
        let Some(source) = task
            .sources
            .iter_mut()
            .find(|s| *s.node == *answer.header.node)
        else {
            return Delivery::Unknown;
        };
        // Only the answer to the page asked last counts: a duplicate, an
        // answer to an earlier page, or to a catch-up of an earlier
        // generation of this shard, is late.
        if source.sent_at.is_none()
            || source.done
            || answer.after != source.after
            || answer.asked < task.generation
        {
            return Delivery::Late;
        }
        if answer.refusal.is_some() {
            // Ask again after the ask timeout, not at once.
            source.sent_at = Some(now);
            return Delivery::Counted;
        }
        source.sent_at = None;
        if let Some(last) = answer.points.last() {
            source.after = Some(PointId::of(last));
        }
        source.done = answer.done;
        let shard = task.shard;
        let finished = task.is_done();
        if !answer.points.is_empty() {
            self.out.push_back(Output::CatchUpPoints {
                shard,
                points: answer.points,
            });
        }
        if finished {
            if task.lost {
                self.catching_up = catching_up(&self.tasks);
            }
            self.out.push_back(Output::CaughtUp { shard });
        }
        Delivery::Counted
    }
}
