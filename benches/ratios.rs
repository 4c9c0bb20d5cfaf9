//! Prints the ratio table of the criterion benchmarks from the estimates
//! criterion saved: for each group and input, every variant's time per
//! element, its speed-up over `naive` and its cost relative to `limit`.
//!
//! Run after the benches: `cargo run -p rusts-cluster-benches --bin
//! bench-ratios [CRITERION_DIR]` (default `target/criterion`, or
//! `$CARGO_TARGET_DIR/criterion`).

use std::{
    collections::BTreeMap,
    env, fs,
    path::{Path, PathBuf},
    process::ExitCode,
};

use serde_json::Value;

/// One measured benchmark: mean nanoseconds per iteration and elements (or
/// bytes) per iteration.
struct Measure {
    nanos: f64,
    elements: Option<f64>,
}

fn main() -> ExitCode {
    let dir = env::args().nth(1).map(PathBuf::from).unwrap_or_else(|| {
        let target =
            env::var_os("CARGO_TARGET_DIR").map_or_else(|| PathBuf::from("target"), PathBuf::from);
        target.join("criterion")
    });
    let mut found = Vec::new();
    if let Err(error) = collect(&dir, &mut found) {
        eprintln!("error: cannot read criterion's output in {}: {error}; run `cargo bench -p rusts-cluster-benches` first", dir.display());
        return ExitCode::FAILURE;
    }
    // (group, input) -> variant -> measure
    let mut rows: BTreeMap<(String, String), BTreeMap<String, Measure>> = BTreeMap::new();
    for path in found {
        match read(&path) {
            Some((group, function, input, measure)) => {
                rows.entry((group, input))
                    .or_default()
                    .insert(function, measure);
            }
            None => eprintln!(
                "warning: skipped {}: not a criterion estimate this tool understands",
                path.display()
            ),
        }
    }
    if rows.is_empty() {
        eprintln!("error: no criterion estimates under {}; run `cargo bench -p rusts-cluster-benches` first", dir.display());
        return ExitCode::FAILURE;
    }
    println!("| group | input | variant | ns per element | speed-up over naive | cost vs limit |");
    println!("|---|---|---|---:|---:|---:|");
    for ((group, input), variants) in &rows {
        let per = |m: &Measure| m.nanos / m.elements.unwrap_or(1.0);
        let naive = variants.get("naive").map(per);
        let limit = variants.get("limit").map(per);
        for (variant, measure) in variants {
            let t = per(measure);
            let vs_naive = naive.map_or("-".to_owned(), |n| format!("{:.1}x", n / t));
            let vs_limit = limit.map_or("-".to_owned(), |l| format!("{:.2}x", t / l));
            println!(
                "| {group} | {input} | {variant} | {} | {vs_naive} | {vs_limit} |",
                nanos(t)
            );
        }
    }
    ExitCode::SUCCESS
}

fn nanos(t: f64) -> String {
    if t >= 100.0 {
        format!("{t:.0}")
    } else {
        format!("{t:.2}")
    }
}

/// Every `new/benchmark.json` under `dir`.
fn collect(dir: &Path, found: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            if path.file_name().is_some_and(|n| n == "new") {
                let file = path.join("benchmark.json");
                if file.is_file() {
                    found.push(file);
                }
            } else {
                collect(&path, found)?;
            }
        }
    }
    Ok(())
}

/// Reads one benchmark's id and its mean estimate.
fn read(benchmark: &Path) -> Option<(String, String, String, Measure)> {
    let info: Value = serde_json::from_str(&fs::read_to_string(benchmark).ok()?).ok()?;
    let estimates: Value =
        serde_json::from_str(&fs::read_to_string(benchmark.with_file_name("estimates.json")).ok()?)
            .ok()?;
    let group = info["group_id"].as_str()?.to_owned();
    let function = info["function_id"].as_str().unwrap_or("").to_owned();
    let input = info["value_str"].as_str().unwrap_or("").to_owned();
    let nanos = estimates["mean"]["point_estimate"].as_f64()?;
    let elements = info["throughput"]
        .as_object()
        .and_then(|t| t.get("Elements").or_else(|| t.get("Bytes")))
        .and_then(Value::as_f64);
    Some((group, function, input, Measure { nanos, elements }))
}
