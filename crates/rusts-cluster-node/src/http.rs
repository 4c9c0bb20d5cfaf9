//! HTTP: the server (clients' and peers' requests) and the peer client,
//! both over any [`Net`].

use std::{
    collections::HashMap,
    convert::Infallible,
    sync::{
        atomic::{AtomicU64, Ordering::Relaxed},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    body::Incoming, client::conn::http1::SendRequest, header, server::conn::http1,
    service::service_fn, Method, Request, Response, StatusCode,
};
use hyper_util::rt::TokioIo;
use rusts_cluster::protocol::Message;
use serde::Serialize;
use tokio::sync::{mpsc, oneshot};

use crate::{
    api::{self, BadInput},
    engine::{Event, Refused},
    Net, Sample,
};

/// The largest body `/write` takes: 8 MiB, about 80,000 points of JSON.
/// Past it the node answers 413 without reading the rest.
pub const MAX_WRITE_BODY: usize = 8 << 20;

/// The largest body of a peer's batch of messages (a write request
/// carries a whole client batch for the copies on one node).
const MAX_PEER_BODY: usize = 64 << 20;

/// How long a client's request waits for the engine: past the core's own
/// deadlines (2 s), so it only fires when the engine is stuck.
const ENGINE_WAIT: Duration = Duration::from_secs(10);

type Body = Full<Bytes>;

/// Serves HTTP on `listener` until the engine stops.
pub(crate) async fn serve<N: Net>(listener: N::Listener, events: mpsc::Sender<Event>) {
    loop {
        let stream = match N::accept(&listener).await {
            Ok(stream) => stream,
            Err(error) => {
                // Out of file descriptors, typically: wait, then go on.
                eprintln!("accept failed: {error}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let events = events.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| route(request, events.clone()));
            // A connection that fails (a peer killed mid-request) ends
            // here; the node goes on.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn json(status: StatusCode, value: &impl Serialize) -> Response<Body> {
    let body = serde_json::to_vec(value).expect("the node's answers serialize");
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("a valid response")
}

fn bad(status: StatusCode, bad: &BadInput) -> Response<Body> {
    json(status, bad)
}

/// Asks the engine, and waits for its answer.
async fn ask<R>(
    events: &mpsc::Sender<Event>,
    event: impl FnOnce(oneshot::Sender<R>) -> Event,
) -> Result<R, Response<Body>> {
    let (reply, answer) = oneshot::channel();
    let unavailable = || {
        json(
            StatusCode::SERVICE_UNAVAILABLE,
            &Refused {
                error: "engine-unavailable",
                message: "the node's engine did not answer: it is stopping or overloaded; retry"
                    .to_owned(),
            },
        )
    };
    events.send(event(reply)).await.map_err(|_| unavailable())?;
    match tokio::time::timeout(ENGINE_WAIT, answer).await {
        Ok(Ok(answer)) => Ok(answer),
        _ => Err(unavailable()),
    }
}

async fn body(request: Request<Incoming>, limit: usize) -> Result<Bytes, Response<Body>> {
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            &BadInput::new(
                "body",
                format!("the body is over the limit of {limit} bytes; split the batch"),
            ),
        )),
        Err(error) => Err(bad(
            StatusCode::BAD_REQUEST,
            &BadInput::new("body", format!("the body could not be read: {error}")),
        )),
    }
}

async fn route(
    request: Request<Incoming>,
    events: mpsc::Sender<Event>,
) -> Result<Response<Body>, Infallible> {
    let answer = match (request.method(), request.uri().path()) {
        (&Method::POST, "/write") => write(request, &events).await,
        (&Method::GET, "/query") => query(&request, &events).await,
        (&Method::GET, "/status") => ask(&events, Event::Status)
            .await
            .map(|status| json(StatusCode::OK, &status)),
        (&Method::POST, "/admin/reload") => reload(&request, &events).await,
        (&Method::POST, "/admin/release") => ask(&events, Event::Release).await.map(|r| match r {
            Ok(shards) => json(StatusCode::OK, &serde_json::json!({ "released": shards })),
            Err(refused) => json(StatusCode::INTERNAL_SERVER_ERROR, &refused),
        }),
        (&Method::POST, "/peer") => peer(request, &events).await,
        (_, path @ ("/write" | "/query" | "/status" | "/admin/reload" | "/admin/release" | "/peer")) => {
            Err(bad(
                StatusCode::METHOD_NOT_ALLOWED,
                &BadInput::new("method", format!("{path} does not take {}", request.method())),
            ))
        }
        (_, path) => Err(bad(
            StatusCode::NOT_FOUND,
            &BadInput::new(
                "path",
                format!("no endpoint {path}; the node serves /write, /query, /status, /admin/reload, /admin/release"),
            ),
        )),
    };
    Ok(answer.unwrap_or_else(|response| response))
}

/// `POST /admin/reload[?unsafe=skip-step-checks]`: the override is the
/// only parameter, and it must be spelled out.
async fn reload(
    request: &Request<Incoming>,
    events: &mpsc::Sender<Event>,
) -> Result<Response<Body>, Response<Body>> {
    let checks = api::parse_reload(request.uri().query().unwrap_or(""))
        .map_err(|e| bad(StatusCode::BAD_REQUEST, &e))?;
    ask(events, |reply| Event::Reload(checks, reply))
        .await
        .map(|r| match r {
            Ok(reloaded) => json(StatusCode::OK, &reloaded),
            Err(refused) => json(StatusCode::CONFLICT, &refused),
        })
}

async fn write(
    request: Request<Incoming>,
    events: &mpsc::Sender<Event>,
) -> Result<Response<Body>, Response<Body>> {
    let bytes = body(request, MAX_WRITE_BODY).await?;
    let points = api::parse_write(&bytes).map_err(|e| bad(StatusCode::BAD_REQUEST, &e))?;
    let report = ask(events, |reply| Event::Write(points, reply)).await?;
    let status = match (&report.refused, report.acknowledged) {
        (_, true) => StatusCode::OK,
        // The batch cannot be routed (too large): the client's to fix.
        (Some(_), false) => StatusCode::BAD_REQUEST,
        (None, false) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Ok(json(status, &report))
}

async fn query(
    request: &Request<Incoming>,
    events: &mpsc::Sender<Event>,
) -> Result<Response<Body>, Response<Body>> {
    let query = api::parse_query(request.uri().query().unwrap_or(""))
        .map_err(|e| bad(StatusCode::BAD_REQUEST, &e))?;
    let report = ask(events, |reply| Event::Read(query, reply)).await?;
    let status = match (&report.refused, report.complete) {
        (_, true) => StatusCode::OK,
        (Some(_), false) => StatusCode::BAD_REQUEST,
        (None, false) => StatusCode::SERVICE_UNAVAILABLE,
    };
    Ok(json(status, &report))
}

/// A peer's batch of messages: each goes to the engine, in order. The
/// answer only says they were taken; the protocol's answers travel as
/// messages of their own.
async fn peer(
    request: Request<Incoming>,
    events: &mpsc::Sender<Event>,
) -> Result<Response<Body>, Response<Body>> {
    let bytes = body(request, MAX_PEER_BODY).await?;
    let messages: Vec<Message<Sample>> = serde_json::from_slice(&bytes).map_err(|e| {
        bad(
            StatusCode::BAD_REQUEST,
            &BadInput::new("body", format!("not a batch of protocol messages: {e}")),
        )
    })?;
    for message in messages {
        if events.send(Event::Peer(message)).await.is_err() {
            break;
        }
    }
    Ok(Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(Full::new(Bytes::new()))
        .expect("a valid response"))
}

/// Messages to peers: one queue and one task per address, each sending
/// what has queued up as one batch per request, over one kept-alive
/// connection.
pub(crate) struct PeerClient<N: Net> {
    net: N,
    queues: HashMap<Arc<str>, mpsc::Sender<Message<Sample>>>,
    dropped: Arc<AtomicU64>,
}

/// How many messages wait for one peer before more are dropped. A
/// message dropped is as if the network lost it: the core's deadlines
/// and fallbacks cover it.
const PEER_QUEUE: usize = 8192;

/// The most messages in one request to a peer.
const PEER_BATCH: usize = 256;

/// How long connecting to a peer, or a request to it, may take before the
/// messages are given up on.
const PEER_TIMEOUT: Duration = Duration::from_secs(2);

impl<N: Net> PeerClient<N> {
    pub(crate) fn new(net: N) -> Self {
        PeerClient {
            net,
            queues: HashMap::new(),
            dropped: Arc::default(),
        }
    }

    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Relaxed)
    }

    pub(crate) fn send(&mut self, address: Arc<str>, message: Message<Sample>) {
        let queue = self.queues.entry(address.clone()).or_insert_with(|| {
            let (queue, messages) = mpsc::channel(PEER_QUEUE);
            tokio::spawn(deliver(
                self.net.clone(),
                address,
                messages,
                self.dropped.clone(),
            ));
            queue
        });
        if queue.try_send(message).is_err() {
            self.dropped.fetch_add(1, Relaxed);
        }
    }
}

/// One peer's sender task.
async fn deliver<N: Net>(
    net: N,
    address: Arc<str>,
    mut messages: mpsc::Receiver<Message<Sample>>,
    dropped: Arc<AtomicU64>,
) {
    let mut connection: Option<SendRequest<Body>> = None;
    let mut batch = Vec::with_capacity(PEER_BATCH);
    while messages.recv_many(&mut batch, PEER_BATCH).await > 0 {
        let count = batch.len() as u64;
        let body = serde_json::to_vec(&batch).expect("protocol messages serialize");
        batch.clear();
        if connection.as_ref().is_none_or(|c| c.is_closed()) {
            connection = connect(&net, &address).await;
        }
        let delivered = match connection.as_mut() {
            Some(sender) => {
                let request = Request::post("/peer")
                    .header(header::HOST, &*address)
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .expect("a valid request");
                let sent = async {
                    sender.ready().await?;
                    sender.send_request(request).await
                };
                matches!(tokio::time::timeout(PEER_TIMEOUT, sent).await, Ok(Ok(r)) if r.status().is_success())
            }
            None => false,
        };
        if !delivered {
            // Lost, as on a network; the next batch reconnects.
            connection = None;
            dropped.fetch_add(count, Relaxed);
        }
    }
}

async fn connect<N: Net>(net: &N, address: &str) -> Option<SendRequest<Body>> {
    let stream = tokio::time::timeout(PEER_TIMEOUT, net.connect(address))
        .await
        .ok()?
        .ok()?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .ok()?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Some(sender)
}
