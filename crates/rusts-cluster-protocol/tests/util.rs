//! A deterministic in-memory cluster of cores for the tests: each node a
//! `Core`, a store, and a queue of messages that the test delivers, drops
//! or holds.

use std::collections::{BTreeMap, VecDeque};

use rusts_cluster_config::ClusterConfig;
use rusts_cluster_protocol::{
    Core, Delivery, Message, Options, Output, Point, PointId, ReadDone, WriteDone, WriteSettled,
};
use rusts_cluster_sharding::{ShardId, ShardKeyRef};
use serde::{Deserialize, Serialize};

/// The tests' point: series, time and a value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Sample {
    pub(crate) series: u64,
    pub(crate) time: i64,
    pub(crate) value: i64,
}

impl Point for Sample {
    fn key(&self) -> ShardKeyRef<'_> {
        ShardKeyRef::new("cpu", self.series, self.time)
    }
}

pub(crate) fn sample(series: u64, time: i64) -> Sample {
    Sample {
        series,
        time,
        value: 1,
    }
}

pub(crate) type TestCore = Core<Sample, u32>;

/// A message in flight: from node, to node.
pub(crate) struct InFlight {
    pub(crate) from: usize,
    pub(crate) to: usize,
    pub(crate) message: Message<Sample>,
}

pub(crate) struct Net {
    pub(crate) ids: Vec<String>,
    pub(crate) cores: Vec<TestCore>,
    /// Per node: (shard, series, time) -> point.
    pub(crate) stores: Vec<BTreeMap<(ShardId, u64, i64), Sample>>,
    pub(crate) queue: VecDeque<InFlight>,
    /// Nodes whose messages, to and from, are dropped.
    pub(crate) down: Vec<bool>,
    pub(crate) done: Vec<WriteDone<u32>>,
    pub(crate) settled: Vec<WriteSettled>,
    pub(crate) reads: Vec<ReadDone<Sample, u32>>,
    pub(crate) deliveries: Vec<Delivery>,
    pub(crate) dropped: usize,
    pub(crate) now: u64,
}

impl Net {
    /// One core per node of `config`, all on it.
    pub(crate) fn new(config: &ClusterConfig, options: Options) -> Self {
        let mut ids: Vec<String> = config.nodes.iter().map(|n| n.id.clone()).collect();
        ids.sort();
        let cores = ids
            .iter()
            .map(|id| Core::new(config.clone(), id, options).unwrap())
            .collect();
        Net {
            stores: vec![BTreeMap::new(); ids.len()],
            down: vec![false; ids.len()],
            ids,
            cores,
            queue: VecDeque::new(),
            done: Vec::new(),
            settled: Vec::new(),
            reads: Vec::new(),
            deliveries: Vec::new(),
            dropped: 0,
            now: 0,
        }
    }

    pub(crate) fn index(&self, node: &str) -> usize {
        self.ids.iter().position(|n| n == node).unwrap()
    }

    /// Takes every core's outputs: messages into the queue, decisions
    /// into the lists, catch-up points into the stores.
    pub(crate) fn pump(&mut self) {
        for n in 0..self.cores.len() {
            while let Some(output) = self.cores[n].poll() {
                match output {
                    Output::Send(to, message) => {
                        let to = self.index(&to.node);
                        self.queue.push_back(InFlight {
                            from: n,
                            to,
                            message,
                        });
                    }
                    Output::WriteDone(done) => self.done.push(done),
                    Output::WriteSettled(settled) => self.settled.push(settled),
                    Output::ReadDone(read) => self.reads.push(read),
                    Output::CatchUpPoints { shard, points } => {
                        for p in points {
                            put(&mut self.stores[n], shard, p);
                        }
                    }
                    _ => {}
                }
            }
        }
    }

    /// Delivers every request in flight, and takes their write answers out
    /// of the queue undelivered, in the order sent, for a test to deliver.
    pub(crate) fn held_write_answers(&mut self) -> Vec<rusts_cluster_protocol::WriteAnswer> {
        self.pump();
        let requests: Vec<_> = self.queue.drain(..).collect();
        for m in requests {
            self.deliver(m);
        }
        self.queue
            .drain(..)
            .map(|m| match m.message {
                Message::WriteAnswer(a) => a,
                other => panic!("a write answer, not {other:?}"),
            })
            .collect()
    }

    /// Delivers one message; false when the queue is empty.
    pub(crate) fn step(&mut self) -> bool {
        self.pump();
        let Some(m) = self.queue.pop_front() else {
            return false;
        };
        if self.down[m.from] || self.down[m.to] {
            self.dropped += 1;
            return true;
        }
        self.deliver(m);
        true
    }

    /// Delivers until nothing is in flight.
    pub(crate) fn run(&mut self) {
        while self.step() {}
        self.pump();
    }

    /// Node `to` handles a message: a request is admitted, served from
    /// its store and answered; an answer goes to its core.
    pub(crate) fn deliver(&mut self, m: InFlight) {
        let InFlight { from, to, message } = m;
        let reply = match message {
            Message::Write(request) => {
                let admission = self.cores[to].admit_write(&request);
                let points: Vec<(ShardId, Sample)> =
                    admission.points().map(|(s, p)| (s, p.clone())).collect();
                for (shard, p) in points {
                    put(&mut self.stores[to], shard, p);
                }
                Some(Message::WriteAnswer(admission.answer(true)))
            }
            Message::Read(request) => {
                let admission = self.cores[to].admit_read(&request);
                let store = &self.stores[to];
                Some(Message::ReadAnswer(admission.answer(|shards, filter| {
                    Some(
                        store
                            .iter()
                            .filter(|((s, _, _), p)| shards.contains(s) && filter.matches(p.key()))
                            .map(|(_, p)| p.clone())
                            .collect(),
                    )
                })))
            }
            Message::CatchUp(request) => {
                let admission = self.cores[to].admit_catch_up(&request);
                let store = &self.stores[to];
                Some(Message::CatchUpAnswer(admission.answer(
                    |shards, after, limit| Some(page(store, shards, after, limit)),
                )))
            }
            other => {
                let d = self.cores[to].receive(other, self.now);
                self.deliveries.push(d);
                None
            }
        };
        if let Some(reply) = reply {
            self.queue.push_back(InFlight {
                from: to,
                to: from,
                message: reply,
            });
        }
    }

    /// Every node's clock to `now`.
    pub(crate) fn tick(&mut self, now: u64) {
        self.now = now;
        for core in &mut self.cores {
            core.tick(now);
        }
    }

    /// Deploys `config` to node `n`: prepare, then commit.
    pub(crate) fn deploy(&mut self, n: usize, config: &ClusterConfig) {
        let prepared = self.cores[n].prepare(config.clone()).unwrap();
        self.cores[n].commit(prepared, self.now).unwrap();
    }

    /// Whether node `n` stores a point of `series` at `time`.
    pub(crate) fn stores_point(&self, n: usize, series: u64, time: i64) -> bool {
        self.stores[n]
            .iter()
            .any(|((_, s, t), _)| *s == series && *t == time)
    }
}

/// Stores `p` under `shard` by the merge rule: the greater version stays.
pub(crate) fn put(store: &mut BTreeMap<(ShardId, u64, i64), Sample>, shard: ShardId, p: Sample) {
    let key = (shard, p.series, p.time);
    match store.get(&key) {
        Some(old) if *old >= p => {}
        _ => {
            store.insert(key, p);
        }
    }
}

/// A catch-up page of `shards` after `after`, in point-id order.
pub(crate) fn page(
    store: &BTreeMap<(ShardId, u64, i64), Sample>,
    shards: &[ShardId],
    after: Option<&PointId>,
    limit: u32,
) -> (Vec<Sample>, bool) {
    let mut points: Vec<Sample> = store
        .iter()
        .filter(|((s, _, _), p)| {
            shards.contains(s) && after.is_none_or(|a| a.cmp_key(p.key()).is_lt())
        })
        .map(|(_, p)| p.clone())
        .collect();
    points.sort_by_key(|p| (p.series, p.time));
    let done = points.len() <= limit as usize;
    points.truncate(limit as usize);
    (points, done)
}
