//! The network the node runs on: tokio's TCP in the binary, turmoil's
//! simulated TCP in the simulation, with the same server and client code
//! above it.

use std::{future::Future, io};

use tokio::io::{AsyncRead, AsyncWrite};

/// Listens and connects. The node's HTTP server and its peer client are
/// written against this trait only, so that a test can run them over a
/// simulated network (turmoil's `turmoil::net`), deterministically.
pub trait Net: Clone + Send + Sync + 'static {
    /// A bound listener.
    type Listener: Send + Sync + 'static;
    /// A connection, either way.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;

    /// Binds a listener on `address` (`host:port`).
    fn bind(&self, address: &str) -> impl Future<Output = io::Result<Self::Listener>> + Send;

    /// The next connection to `listener`.
    fn accept(listener: &Self::Listener) -> impl Future<Output = io::Result<Self::Stream>> + Send;

    /// Connects to `address` (`host:port`).
    fn connect(&self, address: &str) -> impl Future<Output = io::Result<Self::Stream>> + Send;
}

/// Tokio's TCP: the network of the binary.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioNet;

impl Net for TokioNet {
    type Listener = tokio::net::TcpListener;
    type Stream = tokio::net::TcpStream;

    async fn bind(&self, address: &str) -> io::Result<Self::Listener> {
        tokio::net::TcpListener::bind(address).await
    }

    async fn accept(listener: &Self::Listener) -> io::Result<Self::Stream> {
        let (stream, _) = listener.accept().await?;
        // Messages are small and each one waits for its answer: no Nagle.
        stream.set_nodelay(true)?;
        Ok(stream)
    }

    async fn connect(&self, address: &str) -> io::Result<Self::Stream> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}
