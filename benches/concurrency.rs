//! Concurrent routing: aggregate keys per second at 1, 2 and all cores, our
//! router beside the naive `DashMap` router and the unsynchronised limit, in
//! the same run. A `harness = false` bench, since criterion measures one
//! thread.
//!
//! Run: `cargo bench -p rusts-cluster-benches --bench concurrency`.
//! `THREADS=1,2,4,8,16` picks the thread counts (default: 1, 2 and every
//! core), `BENCH_MILLIS` the time per measurement (default 2000). With
//! `--test` (as `cargo bench -- --test` passes) each runs for 20 ms, only to
//! check that it works.

use std::{
    env,
    hint::black_box,
    sync::{
        atomic::{AtomicBool, Ordering},
        Barrier,
    },
    thread,
    time::{Duration, Instant},
};

use rusts_cluster::ShardKey;
use rusts_cluster_benches::{keys, thread_counts, Contenders};

/// Runs `work` on `threads` threads for `duration`; each call routes one
/// chunk of keys and returns how many. Returns aggregate keys per second.
fn rate<W>(threads: usize, duration: Duration, work: W) -> f64
where
    W: Fn(usize, &AtomicBool) -> u64 + Sync,
{
    let stop = AtomicBool::new(false);
    let start = Barrier::new(threads + 1);
    let (total, elapsed) = thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let (work, stop, start) = (&work, &stop, &start);
                scope.spawn(move || {
                    start.wait();
                    work(t, stop)
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        thread::sleep(duration);
        stop.store(true, Ordering::Relaxed);
        let total: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
        (total, began.elapsed())
    });
    total as f64 / elapsed.as_secs_f64()
}

/// Routes `keys` in chunks until `stop`, starting at an offset per thread;
/// returns the number of keys routed.
fn drive(
    thread: usize,
    stop: &AtomicBool,
    keys: &[ShardKey],
    mut route: impl FnMut(&ShardKey),
) -> u64 {
    const CHUNK: usize = 512;
    let mut done = 0u64;
    let mut at = (thread * 997) % keys.len();
    while !stop.load(Ordering::Relaxed) {
        for _ in 0..CHUNK {
            route(&keys[at]);
            at = if at + 1 == keys.len() { 0 } else { at + 1 };
        }
        done += CHUNK as u64;
    }
    done
}

/// One thread's routing loop: given its index and the stop flag, returns
/// the keys it routed.
type Work<'a> = dyn Fn(usize, &AtomicBool) -> u64 + Sync + 'a;

fn main() {
    let test_mode = env::args().any(|a| a == "--test");
    let duration = if test_mode {
        Duration::from_millis(20)
    } else {
        Duration::from_millis(
            env::var("BENCH_MILLIS")
                .ok()
                .and_then(|m| m.parse().ok())
                .unwrap_or(2000),
        )
    };
    // 64 shards on 8 nodes with RF 3, as in the `route` group.
    let contenders = Contenders::new(64, 8, 3);
    let (router, naive) = (&contenders.router, &contenders.naive);
    let keys = keys(4096);
    let cores = thread::available_parallelism().map_or(1, |n| n.get());

    println!(
        "concurrent routing, {cores} cores, {} ms per measurement",
        duration.as_millis()
    );
    println!("| variant | threads | Mkeys/s | vs 1 thread |");
    println!("|---|---:|---:|---:|");
    let variants: [(&str, &Work<'_>); 4] = [
        ("naive", &|t, stop| {
            drive(t, stop, &keys, |k| drop(black_box(naive.route(k))))
        }),
        ("ours", &|t, stop| {
            drive(t, stop, &keys, |k| {
                black_box(router.route(k).unwrap().state);
            })
        }),
        ("ours_reader", &|t, stop| {
            let mut reader = router.reader();
            drive(t, stop, &keys, |k| {
                black_box(reader.route(k).unwrap().state);
            })
        }),
        ("limit", &|t, stop| {
            drive(t, stop, &keys, |k| {
                black_box(contenders.limit_route(k).state);
            })
        }),
    ];
    for (name, work) in variants {
        let mut single = None;
        for threads in thread_counts() {
            let keys_per_sec = rate(threads, duration, work);
            let base = *single.get_or_insert(keys_per_sec);
            println!(
                "| {name} | {threads} | {:.1} | {:.2}x |",
                keys_per_sec / 1e6,
                keys_per_sec / base
            );
        }
    }
}
