/*!
The invariants the cargo-fuzz targets under `fuzz/` check, one function per
target, each taking the fuzzer's raw bytes.

Nothing but the fuzz targets and this crate's own corpus replay test should
use it; it is unpublished. A storage engine wants the `rusts-cluster`
facade.

The design decision that shapes it: **the fuzz targets are one-line wrappers
around these functions**, so the stable `cargo test` of this crate runs every
committed corpus file (every file in `fuzz/corpus/<target>/`) through exactly the code the
fuzzer runs, even on a machine without nightly Rust or cargo-fuzz. Each
function panics when an invariant is broken (that is what libFuzzer reports
as a crash) and returns normally otherwise; the library code it calls must
never panic on any input.

| function | fuzz target | what it checks |
|---|---|---|
| [`config_toml`] | `config_toml` | any bytes as a config file: parse, validate, warnings, router, save and load back |
| [`config_structured`] | `config_structured` | an [`arbitrary`]-built [`StructuredConfig`]: validation passes exactly when a router builds, and a router routes every key to an existing shard whose primary exists |
| [`route_key`] | `route_key` | any strategy, any shard count, any key: the shard is in range and the same key gives the same shard |
| [`quorum`] | `quorum` | any answers: a quorum is never claimed with fewer distinct successful copies than required |
| [`cli`] | `cli` | any argument vector and config files through the whole `rusts-cluster` tool: no panic, exit 0/1/2, one JSON object whenever JSON is asked for, escaped text, quiet closed pipes, whole `--output` files |

# Example

```
// The bytes of a corpus file; here, a config that names no nodes.
rusts_cluster_fuzz_checks::config_toml(b"node_id = \"a\"\nnodes = []\n");
rusts_cluster_fuzz_checks::route_key(&[0xff; 64]);
rusts_cluster_fuzz_checks::quorum(b"");
# Ok::<(), Box<dyn std::error::Error>>(())
```
*/

#![doc(test(attr(deny(warnings))))]
#![forbid(unsafe_code)]

pub use crate::{
    cli::cli,
    config::{
        config_structured, config_toml, Address, Count, Mode, Name, Shard, Strategy,
        StructuredConfig, StructuredNode, ROUND_ROBIN_MAX_SHARDS,
    },
    quorum::quorum,
    route::route_key,
};

mod cli;
mod config;
mod quorum;
mod route;

/// The names of the fuzz targets, which are also the directory names of
/// their corpora under `fuzz/corpus/`.
pub const TARGETS: [&str; 5] = [
    "config_toml",
    "config_structured",
    "route_key",
    "quorum",
    "cli",
];

/// Runs the check of fuzz target `target` on `data`. Returns `false` for a
/// name that is not in [`TARGETS`].
pub fn run_target(target: &str, data: &[u8]) -> bool {
    match target {
        "config_toml" => config_toml(data),
        "config_structured" => config_structured(data),
        "route_key" => route_key(data),
        "quorum" => quorum(data),
        "cli" => cli(data),
        _ => return false,
    }
    true
}
