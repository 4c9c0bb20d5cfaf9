//! Puts the git commit into `rusts-cluster --version`, so that a binary in
//! the field says which code it is.
//!
//! The version is `0.1.0 (abc1234)` when built from a git checkout of the
//! repository, `0.1.0 (abc1234)` too when built from a crate packaged by
//! `cargo package` (which records the commit in `.cargo_vcs_info.json`),
//! and plain `0.1.0` when neither is known. It never fails the build: a
//! missing `git`, a tarball without `.git`, or a crate unpacked inside some
//! other repository all fall back quietly.

use std::{
    env, fs,
    path::{Path, PathBuf},
    process::Command,
};

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let version = env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = from_git(&manifest_dir).or_else(|| from_vcs_info(&manifest_dir));
    let full = match commit {
        Some(commit) => format!("{version} ({commit})"),
        None => version,
    };
    println!("cargo:rustc-env=RUSTS_CLUSTER_VERSION={full}");
    // The tests that read the repository around the crate (the example, the
    // docs) run where it is there, and are left out of a packaged crate.
    println!("cargo::rustc-check-cfg=cfg(in_repository)");
    let root = manifest_dir.join("../..");
    if root.join("examples/cluster.toml").is_file() && root.join("docs/operations.md").is_file() {
        println!("cargo::rustc-cfg=in_repository");
    }
    // Naming any file replaces cargo's default (rerun when any file of the
    // package changes) with just these.
    println!("cargo:rerun-if-changed=build.rs");
    if manifest_dir.join(".cargo_vcs_info.json").exists() {
        println!("cargo:rerun-if-changed=.cargo_vcs_info.json");
    }
}

/// The short commit of HEAD, when this crate's own files are tracked by the
/// repository git finds. A crate unpacked under another repository (cargo's
/// `target/package/`, a vendored copy) is not tracked there, and gets no
/// commit from it.
fn from_git(dir: &Path) -> Option<String> {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(dir)
            .output()
            .ok()
            .filter(|out| out.status.success())
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .map(|s| s.trim().to_owned())
    };
    git(&["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let commit = git(&["rev-parse", "--short", "HEAD"]).filter(|c| !c.is_empty())?;
    // Rebuild when HEAD moves: HEAD itself changes on a checkout, and the
    // branch's ref file (or packed-refs) on a commit. Only files that exist
    // are named: cargo reruns a script every build for a missing one.
    if let Some(git_dir) = git(&["rev-parse", "--absolute-git-dir"]) {
        let git_dir = PathBuf::from(git_dir);
        let mut watch = vec![git_dir.join("HEAD"), git_dir.join("packed-refs")];
        if let Ok(head) = fs::read_to_string(git_dir.join("HEAD")) {
            if let Some(reference) = head.trim().strip_prefix("ref: ") {
                watch.push(git_dir.join(reference));
            }
        }
        for path in watch.iter().filter(|p| p.exists()) {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
    Some(commit)
}

/// The commit `cargo package` recorded, shortened like `git rev-parse
/// --short` (7 digits).
fn from_vcs_info(dir: &Path) -> Option<String> {
    let text = fs::read_to_string(dir.join(".cargo_vcs_info.json")).ok()?;
    let after = text.split("\"sha1\"").nth(1)?;
    let sha: String = after
        .trim_start_matches([' ', ':', '"', '\t', '\n', '\r'])
        .chars()
        .take_while(char::is_ascii_hexdigit)
        .collect();
    (sha.len() >= 7).then(|| sha[..7].to_owned())
}
