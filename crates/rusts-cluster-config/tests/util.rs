//! Helpers the topic modules share.

use std::path::{Path, PathBuf};

use rusts_cluster_config::{ClusterConfig, SourceMap, ValidationError};

/// `rel` under the crate's `testdata/` (a link to the workspace's, which
/// the packaged crate carries).
pub(crate) fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata")
        .join(rel)
}

/// The text of the fixture `testdata/<rel>`.
pub(crate) fn fixture(rel: &str) -> String {
    let path = testdata(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// The problems `config` is refused with; panics if it validates.
pub(crate) fn problems(config: &ClusterConfig) -> Vec<ValidationError> {
    config
        .validate()
        .expect_err("the config must be refused")
        .validation_errors()
        .to_vec()
}

/// The codes of `config`'s validation errors, in order (empty when valid).
pub(crate) fn codes(config: &ClusterConfig) -> Vec<&'static str> {
    match config.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e
            .validation_errors()
            .iter()
            .map(ValidationError::code)
            .collect(),
    }
}

/// The code and message of each of `config`'s validation errors, in order.
pub(crate) fn messages(config: &ClusterConfig) -> Vec<(String, String)> {
    match config.validate() {
        Ok(()) => Vec::new(),
        Err(e) => e
            .validation_errors()
            .iter()
            .map(|e| (e.code().to_owned(), e.to_string()))
            .collect(),
    }
}

/// The problems of `text` with the line and column each is located at.
pub(crate) fn located(text: &str) -> Vec<(String, Option<(usize, usize)>)> {
    let config = ClusterConfig::from_toml(text).expect("the text parses");
    let map = SourceMap::parse(text).expect("the text parses");
    problems(&config)
        .iter()
        .map(|e| {
            let at = map.locate(e).map(|l| (l.line, l.column));
            (e.code().to_owned(), at)
        })
        .collect()
}
