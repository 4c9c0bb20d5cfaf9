//! Asking one node for its `/status`: an HTTP/1.1 GET over
//! `std::net::TcpStream`, and the parse of what comes back.
//!
//! A hand-written client of one request, not an HTTP crate: the tool makes
//! one GET per node and needs no async runtime (hyper's client would bring
//! tokio into a tool that is otherwise synchronous). The parse of the
//! answer is a pure function of the bytes read so far ([`parse`]), so that
//! its tests need no socket.
//!
//! Every step has a deadline, and what is read is bounded: a node that
//! cannot be reached, one that never answers, and one that answers without
//! end each end as a [`PollError`] for that node, never as a hang or a
//! panic.

use std::{
    error::Error,
    fmt,
    io::{self, Read, Write},
    net::{SocketAddr, TcpStream, ToSocketAddrs},
    time::{Duration, Instant},
};

use serde_json::Value;

/// The most bytes of an answer read, headers and body together. A node's
/// `/status` lists the shards it holds (7 bytes each at most) and its
/// catch-ups: a node holding every one of `MAX_SHARD_COUNT` (262,144)
/// shards answers about 2 MiB, so 8 MiB leaves room without letting a
/// stray server fill memory.
pub(crate) const MAX_ANSWER_BYTES: usize = 8 << 20;

/// The most bytes of the status line and headers: the node sends two
/// headers.
const MAX_HEAD_BYTES: usize = 64 << 10;

/// What a node says of itself, the keys of `/status` that a rollout waits
/// on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct NodeStatus {
    /// The id the node runs as.
    pub(crate) node_id: String,
    /// The generation the node runs.
    pub(crate) generation: u64,
    /// Its joining copies not caught up yet.
    pub(crate) catch_up_pending: u64,
    /// The identity of the config it runs (`G/fnv1a64:...`), when it says.
    pub(crate) identity: Option<String>,
}

/// What the tool was waiting for when time ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Resolving the address's host name.
    Resolve,
    /// The TCP connection.
    Connect,
    /// The answer, after the request was sent.
    Answer,
}

/// Why a node's status could not be had.
#[derive(Debug)]
pub(crate) enum PollError {
    /// The address's host name cannot be resolved.
    Resolve { address: String, source: io::Error },
    /// The host name resolves to no address.
    NoAddress { address: String },
    /// No TCP connection (refused, no route).
    Connect { source: io::Error },
    /// Time ran out.
    TimedOut { phase: Phase, timeout_ms: u64 },
    /// The connection failed after it was made.
    Connection { source: io::Error },
    /// The answer is longer than [`MAX_ANSWER_BYTES`].
    TooLarge { limit: usize },
    /// The bytes are not an HTTP/1.x answer.
    NotHttp { problem: &'static str },
    /// The node answered with another HTTP status than 200 OK, and its
    /// `message` when the body has one.
    Status { code: u16, message: Option<String> },
    /// The body is not JSON.
    NotJson { source: serde_json::Error },
    /// The body lacks a key of the status, or has it with another type.
    MissingKey {
        key: &'static str,
        kind: &'static str,
    },
    /// Another node answered at this node's address.
    WrongNode { expected: String, answered: String },
}

impl PollError {
    /// The stable code of the problem the tool reports for this node.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            PollError::Resolve { .. } | PollError::NoAddress { .. } | PollError::Connect { .. } => {
                "unreachable"
            }
            PollError::TimedOut {
                phase: Phase::Resolve | Phase::Connect,
                ..
            } => "unreachable",
            PollError::TimedOut {
                phase: Phase::Answer,
                ..
            }
            | PollError::Connection { .. } => "no-answer",
            PollError::TooLarge { .. } => "answer-too-large",
            PollError::NotHttp { .. }
            | PollError::Status { .. }
            | PollError::NotJson { .. }
            | PollError::MissingKey { .. } => "bad-answer",
            PollError::WrongNode { .. } => "wrong-node",
        }
    }
}

impl fmt::Display for PollError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PollError::Resolve { address, .. } => write!(f, "cannot resolve `{address}`"),
            PollError::NoAddress { address } => write!(f, "`{address}` resolves to no address"),
            PollError::Connect { .. } => write!(f, "cannot connect"),
            PollError::TimedOut { phase, timeout_ms } => {
                let what = match phase {
                    Phase::Resolve => "the host name not resolved",
                    Phase::Connect => "no connection",
                    Phase::Answer => "no answer",
                };
                write!(f, "{what} within {timeout_ms} ms")
            }
            PollError::Connection { .. } => write!(f, "the connection failed"),
            PollError::TooLarge { limit } => {
                write!(f, "the answer is over the {} MiB limit", limit >> 20)
            }
            PollError::NotHttp { problem } => write!(f, "not an HTTP answer: {problem}"),
            PollError::Status { code, message } => {
                write!(f, "answered HTTP {code}")?;
                match message {
                    Some(message) => write!(f, ": {message}"),
                    None => Ok(()),
                }
            }
            PollError::NotJson { .. } => write!(f, "the answer is not JSON"),
            PollError::MissingKey { key, kind } => {
                write!(
                    f,
                    "the answer has no `{key}` ({kind}): is this a storage node?"
                )
            }
            PollError::WrongNode { expected, answered } => write!(
                f,
                "node `{answered}` answered, not `{expected}`: check the address in the config"
            ),
        }
    }
}

impl Error for PollError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            PollError::Resolve { source, .. }
            | PollError::Connect { source }
            | PollError::Connection { source } => Some(source),
            PollError::NotJson { source } => Some(source),
            _ => None,
        }
    }
}

/// Asks the node at `address` (`HOST:PORT`) for its status, within
/// `timeout` for the connection and the answer together. Resolving a host
/// name cannot be given a deadline through `std`; the caller bounds it by
/// not waiting for this function (`commands::status`).
pub(crate) fn poll(address: &str, timeout: Duration) -> Result<NodeStatus, PollError> {
    let deadline = Instant::now() + timeout;
    let timeout_ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
    let timed_out = |phase| PollError::TimedOut { phase, timeout_ms };
    let addresses: Vec<SocketAddr> = address
        .to_socket_addrs()
        .map_err(|source| PollError::Resolve {
            address: address.to_owned(),
            source,
        })?
        .collect();
    if addresses.is_empty() {
        return Err(PollError::NoAddress {
            address: address.to_owned(),
        });
    }
    let mut stream = None;
    let mut refused = None;
    for at in &addresses {
        let left = left(deadline).ok_or_else(|| timed_out(Phase::Connect))?;
        match TcpStream::connect_timeout(at, left) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) if is_timeout(&e) => refused = Some(timed_out(Phase::Connect)),
            Err(source) => refused = Some(PollError::Connect { source }),
        }
    }
    let mut stream = match (stream, refused) {
        (Some(stream), _) => stream,
        (None, Some(e)) => return Err(e),
        (None, None) => return Err(timed_out(Phase::Connect)),
    };
    let io_error = |source: io::Error| {
        if is_timeout(&source) {
            timed_out(Phase::Answer)
        } else {
            PollError::Connection { source }
        }
    };
    let request = format!(
        "GET /status HTTP/1.1\r\nHost: {address}\r\nAccept: application/json\r\n\
         User-Agent: rusts-cluster/{}\r\nConnection: close\r\n\r\n",
        env!("CARGO_PKG_VERSION")
    );
    let left_now = left(deadline).ok_or_else(|| timed_out(Phase::Answer))?;
    stream.set_write_timeout(Some(left_now)).map_err(io_error)?;
    stream.write_all(request.as_bytes()).map_err(io_error)?;
    let mut answer = Vec::new();
    let mut chunk = vec![0; 64 << 10];
    let response = loop {
        let left_now = left(deadline).ok_or_else(|| timed_out(Phase::Answer))?;
        stream.set_read_timeout(Some(left_now)).map_err(io_error)?;
        let n = match stream.read(&mut chunk) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_error(e)),
        };
        answer.extend_from_slice(&chunk[..n]);
        if answer.len() > MAX_ANSWER_BYTES {
            return Err(PollError::TooLarge {
                limit: MAX_ANSWER_BYTES,
            });
        }
        if let Some(response) = parse(&answer, n == 0)? {
            break response;
        }
    };
    status_of(&response)
}

/// The time left before `deadline`, or `None` when none is.
fn left(deadline: Instant) -> Option<Duration> {
    Some(deadline.saturating_duration_since(Instant::now())).filter(|d| !d.is_zero())
}

/// Whether `e` is a timeout: `WouldBlock` on Unix, `TimedOut` on Windows.
fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

/// An HTTP answer: its status code and body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Response {
    pub(crate) code: u16,
    pub(crate) body: Vec<u8>,
}

/// How the body's end is found.
enum Framing {
    Length(usize),
    Chunked,
    UntilClosed,
}

/// Parses the bytes read so far: `Ok(None)` when more are needed, the
/// answer when it is whole. `closed` says that the peer closed the
/// connection after these bytes, so that no more will come.
pub(crate) fn parse(bytes: &[u8], closed: bool) -> Result<Option<Response>, PollError> {
    let not_http = |problem| Err(PollError::NotHttp { problem });
    let Some(end) = find(bytes, b"\r\n\r\n") else {
        return if bytes.len() > MAX_HEAD_BYTES {
            not_http("the headers are over 64 KiB")
        } else if closed && bytes.is_empty() {
            not_http("the connection closed with no answer")
        } else if closed {
            not_http("the connection closed before the headers ended")
        } else {
            Ok(None)
        };
    };
    let Ok(head) = std::str::from_utf8(&bytes[..end]) else {
        return not_http("the headers are not text");
    };
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or_default();
    let mut parts = status.splitn(3, ' ');
    let (version, code) = (parts.next(), parts.next());
    if !version.is_some_and(|v| v.starts_with("HTTP/1.")) {
        return not_http("the status line is not HTTP/1.x");
    }
    let code = match code.filter(|c| c.len() == 3).map(str::parse::<u16>) {
        Some(Ok(code)) if (100..600).contains(&code) => code,
        _ => return not_http("the status line has no status code"),
    };
    let mut framing = Framing::UntilClosed;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return not_http("a header line has no `:`");
        };
        let value = value.trim();
        if name.eq_ignore_ascii_case("transfer-encoding") {
            if value.to_ascii_lowercase().contains("chunked") {
                framing = Framing::Chunked;
            }
        } else if name.eq_ignore_ascii_case("content-length")
            && !matches!(framing, Framing::Chunked)
        {
            match value.parse::<usize>() {
                Ok(n) if n > MAX_ANSWER_BYTES => {
                    return Err(PollError::TooLarge {
                        limit: MAX_ANSWER_BYTES,
                    })
                }
                Ok(n) => framing = Framing::Length(n),
                Err(_) => return not_http("the content-length is not a number"),
            }
        }
    }
    let rest = &bytes[end + 4..];
    let body = match framing {
        Framing::Length(n) if rest.len() >= n => rest[..n].to_vec(),
        Framing::Length(_) if closed => {
            return not_http("the connection closed before the body ended")
        }
        Framing::Length(_) => return Ok(None),
        Framing::Chunked => match unchunk(rest)? {
            Some(body) => body,
            None if closed => return not_http("the connection closed before the body ended"),
            None => return Ok(None),
        },
        Framing::UntilClosed if closed => rest.to_vec(),
        Framing::UntilClosed => return Ok(None),
    };
    Ok(Some(Response { code, body }))
}

/// The body of a chunked answer, or `None` when its last chunk has not come
/// yet. Trailers after the last chunk are not read: the answer is whole.
fn unchunk(mut bytes: &[u8]) -> Result<Option<Vec<u8>>, PollError> {
    let bad = Err(PollError::NotHttp {
        problem: "a chunk of the body is malformed",
    });
    let mut body = Vec::new();
    loop {
        let Some(line_end) = find(bytes, b"\r\n") else {
            return if bytes.len() > 64 { bad } else { Ok(None) };
        };
        let line = std::str::from_utf8(&bytes[..line_end]).unwrap_or("?");
        let size = line.split(';').next().unwrap_or_default().trim();
        let Ok(size) = usize::from_str_radix(size, 16) else {
            return bad;
        };
        if size == 0 {
            return Ok(Some(body));
        }
        let data = &bytes[line_end + 2..];
        if data.len() < size.saturating_add(2) {
            return Ok(None);
        }
        if &data[size..size + 2] != b"\r\n" {
            return bad;
        }
        body.extend_from_slice(&data[..size]);
        bytes = &data[size + 2..];
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// The status in a whole answer: 200 OK with the keys a rollout waits on.
pub(crate) fn status_of(response: &Response) -> Result<NodeStatus, PollError> {
    let value: Result<Value, _> = serde_json::from_slice(&response.body);
    if response.code != 200 {
        // The node's refusals are `{"error", "message"}`; a message of
        // something else is cut, so that it cannot swamp the report.
        let message = value.ok().and_then(|v| {
            v.get("message")
                .and_then(Value::as_str)
                .map(|m| m.chars().take(200).collect())
        });
        return Err(PollError::Status {
            code: response.code,
            message,
        });
    }
    let value = value.map_err(|source| PollError::NotJson { source })?;
    let number = |key| {
        value
            .get(key)
            .and_then(Value::as_u64)
            .ok_or(PollError::MissingKey {
                key,
                kind: "a whole number",
            })
    };
    Ok(NodeStatus {
        node_id: value
            .get("node_id")
            .and_then(Value::as_str)
            .ok_or(PollError::MissingKey {
                key: "node_id",
                kind: "a string",
            })?
            .to_owned(),
        generation: number("generation")?,
        catch_up_pending: number("catch_up_pending")?,
        identity: value
            .get("identity")
            .and_then(Value::as_str)
            .map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(bytes: &[u8]) -> Response {
        parse(bytes, false).unwrap().expect("a whole answer")
    }

    #[test]
    fn answers_are_framed_by_length_chunks_or_close() {
        let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}";
        assert_eq!(
            whole(answer),
            Response {
                code: 200,
                body: b"{}".to_vec()
            }
        );
        // Each prefix of it needs more bytes.
        for n in 0..answer.len() {
            assert!(parse(&answer[..n], false).unwrap().is_none(), "{n}");
        }
        let chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n{\"a\r\n4;x=y\r\n\":1}\r\n0\r\n\r\n";
        assert_eq!(whole(chunked).body, b"{\"a\":1}");
        assert!(parse(&chunked[..chunked.len() - 7], false)
            .unwrap()
            .is_none());
        let until_closed = b"HTTP/1.0 503 Service Unavailable\r\n\r\n{\"message\":\"stopping\"}";
        assert!(parse(until_closed, false).unwrap().is_none());
        let response = parse(until_closed, true).unwrap().unwrap();
        let e = status_of(&response).unwrap_err();
        assert_eq!(e.to_string(), "answered HTTP 503: stopping");
        assert_eq!(e.code(), "bad-answer");
    }

    #[test]
    fn malformed_answers_name_what_is_wrong() {
        let cases: [(&[u8], &str); 6] = [
            (
                b"",
                "not an HTTP answer: the connection closed with no answer",
            ),
            (
                b"SSH-2.0-OpenSSH\r\n",
                "not an HTTP answer: the connection closed before the headers ended",
            ),
            (
                b"hello\r\n\r\n",
                "not an HTTP answer: the status line is not HTTP/1.x",
            ),
            (
                b"HTTP/1.1 OK\r\n\r\n",
                "not an HTTP answer: the status line has no status code",
            ),
            (
                b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n",
                "not an HTTP answer: a header line has no `:`",
            ),
            (
                b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{}",
                "not an HTTP answer: the connection closed before the body ended",
            ),
        ];
        for (bytes, message) in cases {
            let e = parse(bytes, true).unwrap_err();
            assert_eq!(e.to_string(), message, "{bytes:?}");
            assert_eq!(e.code(), "bad-answer");
        }
        let huge = format!("HTTP/1.1 200 OK\r\ncontent-length: {}\r\n\r\n", 9 << 20);
        let e = parse(huge.as_bytes(), false).unwrap_err();
        assert_eq!(e.to_string(), "the answer is over the 8 MiB limit");
        assert_eq!(e.code(), "answer-too-large");
        let endless = vec![b'x'; MAX_HEAD_BYTES + 1];
        assert!(parse(&endless, false).is_err());
    }

    #[test]
    fn the_status_needs_its_keys() {
        let ok = |body: &str| {
            status_of(&Response {
                code: 200,
                body: body.as_bytes().to_vec(),
            })
        };
        assert_eq!(
            ok(r#"{"node_id":"a1","generation":3,"catch_up_pending":0,"shards":[1]}"#).unwrap(),
            NodeStatus {
                node_id: "a1".into(),
                generation: 3,
                catch_up_pending: 0,
                identity: None,
            }
        );
        let e = ok("{\"node_id\": ").unwrap_err();
        assert_eq!(e.code(), "bad-answer");
        assert_eq!(
            crate::report::chain(&e),
            "the answer is not JSON: EOF while parsing a value at line 1 column 12"
        );
        assert_eq!(
            ok(r#"{"node_id":"a1","generation":-1,"catch_up_pending":0}"#)
                .unwrap_err()
                .to_string(),
            "the answer has no `generation` (a whole number): is this a storage node?"
        );
        assert!(ok("[]").is_err());
    }
}
