//! What the tests share: a seeded RNG, a small HTTP client, configs on
//! loopback and a cluster of node processes that kills them on drop.

use std::{
    collections::BTreeMap,
    io::{Read, Write},
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    thread,
    time::{Duration, Instant},
};

use rusts_cluster::ClusterConfig;
use serde_json::Value;

/// The one seeded test RNG (xorshift64*): a failing run prints its seed,
/// and `SEED=...` replays the same choices.
#[derive(Debug, Clone)]
pub(crate) struct Rng(u64);

impl Rng {
    /// From `SEED` when set, else from the clock; prints the seed.
    pub(crate) fn from_env(test: &str) -> Self {
        let seed = std::env::var("SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| {
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_nanos() as u64
            });
        eprintln!("{test}: SEED={seed}");
        Rng::new(seed)
    }

    pub(crate) fn new(seed: u64) -> Self {
        Rng(seed.max(1))
    }

    pub(crate) fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    pub(crate) fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub(crate) fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// An HTTP/1.1 request with `Connection: close`; the status and the body
/// parsed as JSON (`Value::Null` when empty). `None` when the node cannot
/// be reached or does not answer within 15 s.
pub(crate) fn http(address: &str, method: &str, path: &str, body: &[u8]) -> Option<(u16, Value)> {
    let mut stream = TcpStream::connect(address).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(15)))
        .ok()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {address}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).ok()?;
    stream.write_all(body).ok()?;
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    let text = String::from_utf8_lossy(&answer);
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    let value = if body.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(body).ok()?
    };
    Some((status, value))
}

/// Free loopback addresses: bound to port 0, then released for a node.
pub(crate) fn free_addresses(count: usize) -> Vec<String> {
    let listeners: Vec<TcpListener> = (0..count)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().unwrap().to_string())
        .collect()
}

/// A Quorum cluster of `addresses.len()` nodes `node0...` with `shards`
/// shards placed round-robin at factor `factor` (shard `s` on nodes `s`,
/// `s + 1`, ... `s + factor - 1`, the first its primary).
pub(crate) fn round_robin(addresses: &[String], shards: u32, factor: u32) -> ClusterConfig {
    let n = addresses.len() as u32;
    let mut text = format!(
        "cluster_name = \"test\"\nreplication_mode = \"Quorum\"\nreplication_factor = {factor}\nshard_count = {shards}\n"
    );
    for (i, address) in addresses.iter().enumerate() {
        let i = i as u32;
        // How far node i is after shard s's primary, round the ring.
        let distance = |s: u32| (i + n - s % n) % n;
        let primary: Vec<u32> = (0..shards).filter(|&s| distance(s) == 0).collect();
        let replica: Vec<u32> = (0..shards)
            .filter(|&s| (1..factor).contains(&distance(s)))
            .collect();
        text += &format!(
            "\n[[nodes]]\nid = \"node{i}\"\naddress = \"{address}\"\nshards = {primary:?}\nreplica_shards = {replica:?}\n"
        );
    }
    ClusterConfig::from_toml(&text).unwrap()
}

/// Node processes of one cluster, sharing one config file, each with its
/// own data directory; every child is killed when the cluster drops.
pub(crate) struct Cluster {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) config: PathBuf,
    pub(crate) addresses: BTreeMap<String, String>,
    children: BTreeMap<String, Child>,
}

impl Cluster {
    pub(crate) fn new(config: &ClusterConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.toml");
        let mut cluster = Cluster {
            dir,
            config: path,
            addresses: BTreeMap::new(),
            children: BTreeMap::new(),
        };
        cluster.deploy_file(config);
        cluster
    }

    /// Writes `config` to the shared file, atomically (a node reloading
    /// meanwhile reads the old file or the new one, never half of one).
    pub(crate) fn deploy_file(&mut self, config: &ClusterConfig) {
        for node in &config.nodes {
            self.addresses.insert(node.id.clone(), node.address.clone());
        }
        let staged = self.dir.path().join("cluster.toml.new");
        std::fs::write(&staged, config.to_toml().unwrap()).unwrap();
        std::fs::rename(&staged, &self.config).unwrap();
    }

    fn log(&self, id: &str) -> PathBuf {
        self.dir.path().join(format!("{id}.log"))
    }

    /// Starts node `id` and waits until it answers `/status`.
    pub(crate) fn start(&mut self, id: &str) {
        self.start_with(id, &[]);
    }

    /// [`start`](Self::start) with more arguments (`--bootstrap`).
    pub(crate) fn start_with(&mut self, id: &str, extra: &[&str]) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log(id))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_rusts-cluster-node"))
            .arg("--config")
            .arg(&self.config)
            .args(["--node-id", id, "--data-dir"])
            .arg(self.dir.path().join(id))
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.children.insert(id.to_owned(), child);
        let started = Instant::now();
        while self.status(id).is_none() {
            if let Some(exit) = self.children.get_mut(id).unwrap().try_wait().unwrap() {
                panic!("{id} exited with {exit}: {}", self.log_text(id));
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "{id} never answered"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }

    /// Starts node `id` expecting it to refuse to start: waits (at most
    /// 30 s) for it to exit, and returns its exit code and stderr.
    pub(crate) fn start_refused(&self, id: &str) -> (Option<i32>, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_rusts-cluster-node"))
            .arg("--config")
            .arg(&self.config)
            .args(["--node-id", id, "--data-dir"])
            .arg(self.dir.path().join(id))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let exit = loop {
            if let Some(exit) = child.try_wait().unwrap() {
                break exit;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                panic!("{id} did not refuse to start within 30 s");
            }
            thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
        (exit.code(), stderr)
    }

    pub(crate) fn log_text(&self, id: &str) -> String {
        std::fs::read_to_string(self.log(id)).unwrap_or_default()
    }

    /// `kill -9`, and waits for the process to be gone.
    pub(crate) fn kill(&mut self, id: &str) {
        if let Some(mut child) = self.children.remove(id) {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// The process id of node `id`, while it runs (for the figures'
    /// memory readings: `benches/figures.rs` shares this file).
    #[allow(dead_code)]
    pub(crate) fn pid(&self, id: &str) -> u32 {
        self.children[id].id()
    }

    pub(crate) fn address(&self, id: &str) -> &str {
        &self.addresses[id]
    }

    pub(crate) fn status(&self, id: &str) -> Option<Value> {
        match http(self.address(id), "GET", "/status", b"") {
            Some((200, status)) => Some(status),
            _ => None,
        }
    }

    pub(crate) fn reload(&self, id: &str) -> (u16, Value) {
        http(self.address(id), "POST", "/admin/reload", b"").expect("the node answers a reload")
    }

    /// A reload past the step checks: the operator's unsafe override.
    #[allow(dead_code)]
    pub(crate) fn reload_unsafe(&self, id: &str) -> (u16, Value) {
        http(
            self.address(id),
            "POST",
            "/admin/reload?unsafe=skip-step-checks",
            b"",
        )
        .expect("the node answers a reload")
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for child in self.children.values_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
