//! The client interface's input: `/write` bodies and `/query` parameters,
//! checked field by field, so that a bad request gets a 4xx naming the
//! field and the problem.

use rusts_cluster::routing::{ApplyChecks, Query, ReadConsistency};
use serde::Serialize;
use serde_json::Value;

use crate::Sample;

/// A request the node refuses: which field, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct BadInput {
    /// Always `bad-request`: the client's request is at fault.
    error: &'static str,
    /// The field, as a path: `points[3].timestamp`, `consistency`, `body`.
    field: String,
    /// What is wrong, and what would be right.
    problem: String,
}

impl BadInput {
    pub(crate) fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        BadInput {
            error: "bad-request",
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// A JSON value's kind, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Parses a `/write` body: `{"points": [{"measurement", "series_id",
/// "timestamp", "value"}, ...]}`, every field required, no other field.
pub(crate) fn parse_write(body: &[u8]) -> Result<Vec<Sample>, BadInput> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BadInput::new("body", format!("malformed JSON: {e}")))?;
    let Value::Object(mut object) = value else {
        return Err(BadInput::new(
            "body",
            format!(
                "expected an object {{\"points\": [...]}}, got {}",
                kind(&value)
            ),
        ));
    };
    if let Some(other) = object.keys().find(|k| *k != "points") {
        return Err(BadInput::new(
            other.clone(),
            "unknown field; the body has only `points`",
        ));
    }
    let points = match object.remove("points") {
        Some(Value::Array(points)) => points,
        Some(other) => {
            return Err(BadInput::new(
                "points",
                format!("expected an array, got {}", kind(&other)),
            ))
        }
        None => return Err(BadInput::new("points", "missing")),
    };
    if points.is_empty() {
        return Err(BadInput::new(
            "points",
            "the list is empty; send at least one point",
        ));
    }
    points
        .into_iter()
        .enumerate()
        .map(|(i, point)| parse_point(i, point))
        .collect()
}

fn parse_point(i: usize, point: Value) -> Result<Sample, BadInput> {
    let field = |name: &str| format!("points[{i}].{name}");
    let Value::Object(object) = point else {
        return Err(BadInput::new(
            format!("points[{i}]"),
            format!("expected an object, got {}", kind(&point)),
        ));
    };
    const FIELDS: [&str; 4] = ["measurement", "series_id", "timestamp", "value"];
    if let Some(other) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(BadInput::new(
            field(other),
            "unknown field; a point has measurement, series_id, timestamp and value",
        ));
    }
    let get = |name: &str| {
        object
            .get(name)
            .ok_or_else(|| BadInput::new(field(name), "missing"))
    };
    let measurement = match get("measurement")? {
        Value::String(m) if m.is_empty() => {
            return Err(BadInput::new(
                field("measurement"),
                "empty; name the measurement",
            ))
        }
        Value::String(m) => m.clone(),
        other => {
            return Err(BadInput::new(
                field("measurement"),
                format!("expected a string, got {}", kind(other)),
            ))
        }
    };
    let series_id = get("series_id")?.as_u64().ok_or_else(|| {
        BadInput::new(field("series_id"), "expected an integer from 0 to 2^64 - 1")
    })?;
    let timestamp = get("timestamp")?.as_i64().ok_or_else(|| {
        BadInput::new(
            field("timestamp"),
            "expected an integer (nanoseconds since the epoch, within i64)",
        )
    })?;
    let value = get("value")?
        .as_f64()
        .ok_or_else(|| BadInput::new(field("value"), "expected a number"))?;
    Ok(Sample {
        measurement,
        series_id,
        timestamp,
        value,
    })
}

/// Decodes `%XX` escapes and `+` of a query-string component.
fn decode(text: &str, field: &str) -> Result<String, BadInput> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = text
                    .get(i + 1..i + 3)
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| BadInput::new(field, "a `%` not followed by two hex digits"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| BadInput::new(field, "not UTF-8 once decoded"))
}

/// Parses `/query` parameters: `measurement`, `start` and `end`
/// (nanoseconds, `start` inclusive, `end` exclusive), `consistency`
/// (`one`, `quorum` or `all`; the router's default, `one`, when absent)
/// and `series_id`, repeatable. Every one is optional; none is unknown.
pub(crate) fn parse_query(text: &str) -> Result<Query, BadInput> {
    let mut query = Query::new();
    let (mut start, mut end) = (None, None);
    let mut series = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, raw) = pair.split_once('=').unwrap_or((pair, ""));
        let name = decode(name, "query")?;
        let value = decode(raw, &name)?;
        let integer = |what: &str| {
            value
                .parse::<i64>()
                .map_err(|_| BadInput::new(name.clone(), format!("`{value}` is not {what}")))
        };
        match name.as_str() {
            "measurement" if value.is_empty() => {
                return Err(BadInput::new(
                    "measurement",
                    "empty; name the measurement or leave it out",
                ))
            }
            "measurement" => query = query.measurement(value.clone()),
            "start" => start = Some(integer("a timestamp (integer nanoseconds)")?),
            "end" => end = Some(integer("a timestamp (integer nanoseconds)")?),
            "series_id" => series.push(value.parse::<u64>().map_err(|_| {
                BadInput::new(
                    "series_id",
                    format!("`{value}` is not a series id (an integer from 0 to 2^64 - 1)"),
                )
            })?),
            "consistency" => {
                let level = match value.as_str() {
                    "one" => ReadConsistency::One,
                    "quorum" => ReadConsistency::Quorum,
                    "all" => ReadConsistency::All,
                    _ => {
                        return Err(BadInput::new(
                            "consistency",
                            format!("unknown level `{value}`; use one, quorum or all"),
                        ))
                    }
                };
                query = query.consistency(level);
            }
            _ => {
                return Err(BadInput::new(
                    name.clone(),
                    "unknown parameter; use measurement, start, end, consistency, series_id",
                ))
            }
        }
    }
    if start.is_some() || end.is_some() {
        let (start, end) = (start.unwrap_or(i64::MIN), end.unwrap_or(i64::MAX));
        if start >= end {
            return Err(BadInput::new(
                "end",
                format!("the range is empty or reversed: start {start} is not before end {end}"),
            ));
        }
        query = query.time_range(start..end);
    }
    if !series.is_empty() {
        query = query.series(&series);
    }
    Ok(query)
}

/// Parses `/admin/reload`'s query: empty, or `unsafe=skip-step-checks`,
/// the operator's explicit override of the step checks (unsafe: it may
/// lose acknowledged writes; `docs/node.md`).
pub(crate) fn parse_reload(query: &str) -> Result<ApplyChecks, BadInput> {
    let mut checks = ApplyChecks::All;
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("unsafe", "skip-step-checks")) => checks = ApplyChecks::UnsafeSkipStepChecks,
            Some(("unsafe", other)) => {
                return Err(BadInput::new(
                    "unsafe",
                    format!("unknown override `{other}`; the one override is `skip-step-checks`"),
                ))
            }
            _ => {
                let name = pair.split_once('=').map_or(pair, |(n, _)| n);
                return Err(BadInput::new(
                    name,
                    "unknown parameter; /admin/reload takes none, or unsafe=skip-step-checks",
                ));
            }
        }
    }
    Ok(checks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(result: Result<impl std::fmt::Debug, BadInput>) -> String {
        result.expect_err("refused").field
    }

    #[test]
    fn write_bodies_name_the_bad_field() {
        let ok = br#"{"points":[{"measurement":"cpu","series_id":1,"timestamp":5,"value":1.5}]}"#;
        assert_eq!(parse_write(ok).unwrap()[0].value, 1.5);
        assert_eq!(field_of(parse_write(b"{not json")), "body");
        assert_eq!(field_of(parse_write(b"[]")), "body");
        assert_eq!(field_of(parse_write(br#"{"points":[]}"#)), "points");
        assert_eq!(field_of(parse_write(br#"{"points":{}}"#)), "points");
        assert_eq!(field_of(parse_write(br#"{"pts":[]}"#)), "pts");
        let bad = [
            (
                r#"{"measurement":"","series_id":1,"timestamp":5,"value":1}"#,
                "points[0].measurement",
            ),
            (
                r#"{"measurement":3,"series_id":1,"timestamp":5,"value":1}"#,
                "points[0].measurement",
            ),
            (
                r#"{"measurement":"m","series_id":-1,"timestamp":5,"value":1}"#,
                "points[0].series_id",
            ),
            (
                r#"{"measurement":"m","series_id":1,"timestamp":"5","value":1}"#,
                "points[0].timestamp",
            ),
            (
                r#"{"measurement":"m","series_id":1,"timestamp":5,"value":"x"}"#,
                "points[0].value",
            ),
            (
                r#"{"measurement":"m","series_id":1,"timestamp":5}"#,
                "points[0].value",
            ),
            (
                r#"{"measurement":"m","series_id":1,"timestamp":5,"value":1,"tag":2}"#,
                "points[0].tag",
            ),
            (r#"7"#, "points[0]"),
        ];
        for (point, field) in bad {
            let body = format!(r#"{{"points":[{point}]}}"#);
            assert_eq!(field_of(parse_write(body.as_bytes())), field, "{body}");
        }
    }

    #[test]
    fn queries_name_the_bad_parameter() {
        let query =
            parse_query("measurement=cpu%20load&start=1&end=9&consistency=quorum&series_id=4")
                .unwrap();
        assert_eq!(query.get_measurement(), Some("cpu load"));
        assert_eq!(query.get_time_range(), Some(1..9));
        assert_eq!(query.get_consistency(), ReadConsistency::Quorum);
        assert_eq!(query.get_series(), Some(&[4][..]));
        assert_eq!(
            parse_query("").unwrap().get_consistency(),
            ReadConsistency::One
        );
        let bad = [
            ("start=9&end=1", "end"),
            ("start=1&end=1", "end"),
            ("consistency=most", "consistency"),
            ("measurement=", "measurement"),
            ("start=yesterday", "start"),
            ("series_id=x", "series_id"),
            ("limit=3", "limit"),
            ("measurement=%zz", "measurement"),
        ];
        for (text, field) in bad {
            assert_eq!(field_of(parse_query(text)), field, "{text}");
        }
    }
}
