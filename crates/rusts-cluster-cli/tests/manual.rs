//! `completions`, `man` and `--version`: generated from the same
//! definitions as `--help`.

use crate::util::{run, subcommands};

#[test]
fn completions_and_man_pages_are_generated() {
    for shell in ["bash", "zsh", "fish", "elvish", "powershell", "BASH"] {
        let out = run(&["completions", shell])
            .exits(0)
            .stdout_has("plan-query")
            .stdout_has("transition")
            .stdout_has("split");
        assert!(out.stdout.len() > 1000, "{shell}: {}", out.stdout);
        // Every subcommand clap knows is completed.
        for sub in subcommands() {
            assert!(
                out.stdout.contains(sub.get_name()),
                "{shell}: {}",
                sub.get_name()
            );
        }
    }
    run(&["man"])
        .exits(0)
        .stdout_has(".TH rusts-cluster 1")
        .stdout_has("plan\\-query");
    run(&["man", "split"])
        .stdout_has(".TH rusts-cluster-split 1")
        .stdout_has("\\-\\-factor");
    run(&["man", "plan-query"])
        .stdout_has(".TH rusts-cluster-plan-query 1")
        .stdout_has("\\-\\-node\\-id")
        .stdout_has("\\-\\-table\\-style");
    // Every subcommand has its own page.
    for sub in subcommands() {
        let name = sub.get_name();
        run(&["man", name])
            .exits(0)
            .stdout_has(&format!(".TH rusts-cluster-{name} 1"));
    }
    run(&["man", "nope"])
        .exits(2)
        .stderr_has("`nope` is not a subcommand");
}

#[test]
fn version_names_the_build() {
    let out = run(&["--version"]).exits(0);
    let version = out.stdout.strip_prefix("rusts-cluster 0.1.0").unwrap();
    // The commit, when built from a checkout or a packaged crate.
    assert!(
        version == "\n"
            || (version.starts_with(" (")
                && version.ends_with(")\n")
                && version[2..version.len() - 2]
                    .bytes()
                    .all(|b| b.is_ascii_hexdigit())),
        "{:?}",
        out.stdout
    );
}
