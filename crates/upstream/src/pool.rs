//! Per-worker keepalive pools. Single-threaded by design (`Rc`, `RefCell`): each worker thread
//! has its own, so the hot path takes no lock and touches no shared cache line.

use crate::{Upstream, UpstreamError};
use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// How long a pooled connection may take to become ready for its next request.
const READY_WAIT: Duration = Duration::from_millis(20);

/// One worker's idle connections, by server address. Cheap to clone (shared handle).
pub struct Pools<B> {
    inner: Rc<Inner<B>>,
}

struct Inner<B> {
    idle: RefCell<HashMap<SocketAddr, VecDeque<Idle<B>>>>,
    next: Cell<usize>,
    /// Connections opened so far by this worker (for tests and metrics).
    opened: Cell<u64>,
}

struct Idle<B> {
    sender: SendRequest<B>,
    since: Instant,
    uses: u64,
    idle_timeout: Duration,
}

impl<B> Clone for Pools<B> {
    fn clone(&self) -> Self {
        Pools {
            inner: self.inner.clone(),
        }
    }
}

impl<B> Default for Pools<B> {
    fn default() -> Self {
        Pools {
            inner: Rc::new(Inner {
                idle: RefCell::default(),
                next: Cell::new(0),
                opened: Cell::new(0),
            }),
        }
    }
}

impl<B> Pools<B>
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    /// The server for the next request to `upstream`: round-robin per worker.
    pub fn pick(&self, upstream: &Upstream) -> SocketAddr {
        let n = self.inner.next.get();
        self.inner.next.set(n.wrapping_add(1));
        upstream.servers[n % upstream.servers.len()]
    }

    /// Connections this worker has opened to upstream servers, in total.
    pub fn connections_opened(&self) -> u64 {
        self.inner.opened.get()
    }

    /// Sends `request` to `addr` on an idle connection, or a new one. A reused connection that
    /// turns out to be closed (the server timed it out as we picked it) is replaced transparently:
    /// hyper hands the unsent request back. When nothing reached the server, the request comes
    /// back with the error so the caller may send it elsewhere.
    pub async fn send(
        &self,
        upstream: &Upstream,
        addr: SocketAddr,
        mut request: http::Request<B>,
    ) -> Result<http::Response<PooledBody<B>>, (UpstreamError, Option<http::Request<B>>)> {
        while let Some(idle) = self.checkout(addr).await {
            match self
                .exchange(upstream, addr, idle.sender, idle.uses, request)
                .await
            {
                Ok(response) => return Ok(response),
                Err(Exchange::Unsent(req)) => request = req,
                Err(Exchange::Failed(e)) => return Err((e, None)),
            }
        }
        let sender = match self.connect(upstream, addr).await {
            Ok(sender) => sender,
            Err(e) => return Err((e, Some(request))),
        };
        match self.exchange(upstream, addr, sender, 0, request).await {
            Ok(response) => Ok(response),
            // A fresh connection that closed before taking the request: nothing was sent.
            Err(Exchange::Unsent(req)) => Err((
                UpstreamError::Connect {
                    addr,
                    source: std::io::Error::from(std::io::ErrorKind::ConnectionReset),
                },
                Some(req),
            )),
            Err(Exchange::Failed(e)) => Err((e, None)),
        }
    }

    /// Drops idle connections past their idle timeout or closed by the server.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.inner.idle.borrow_mut().retain(|_, conns| {
            conns.retain(|c| !c.sender.is_closed() && now.duration_since(c.since) < c.idle_timeout);
            !conns.is_empty()
        });
    }

    /// The most recently used live idle connection to `addr` (warm, least likely to have been
    /// timed out by the server).
    async fn checkout(&self, addr: SocketAddr) -> Option<Idle<B>> {
        loop {
            let mut idle = {
                let mut map = self.inner.idle.borrow_mut();
                map.get_mut(&addr)?.pop_back()?
            };
            if idle.sender.is_closed() || idle.since.elapsed() >= idle.idle_timeout {
                continue;
            }
            // Returned the moment its last response body ended; its connection task may not have
            // run since, and is then ready at once. A connection still busy (an upstream that
            // answered before reading a slow client's whole body) is dropped, not waited for:
            // one client must not stall the next request.
            if idle.sender.is_ready() {
                return Some(idle);
            }
            if let Ok(Ok(())) = tokio::time::timeout(READY_WAIT, idle.sender.ready()).await {
                return Some(idle);
            }
        }
    }

    async fn connect(
        &self,
        upstream: &Upstream,
        addr: SocketAddr,
    ) -> Result<SendRequest<B>, UpstreamError> {
        let stream =
            match tokio::time::timeout(upstream.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
                Err(_) => {
                    return Err(UpstreamError::Connect {
                        addr,
                        source: std::io::ErrorKind::TimedOut.into(),
                    });
                }
            };
        let _ = stream.set_nodelay(true);
        let (sender, conn) = http1::Builder::new()
            .handshake(TokioIo::new(stream))
            .await
            .map_err(|source| UpstreamError::Handshake { addr, source })?;
        self.inner.opened.set(self.inner.opened.get() + 1);
        tokio::task::spawn_local(async move {
            if let Err(e) = conn.await {
                tracing::debug!(%addr, error = %e, "upstream connection ended with an error");
            }
        });
        Ok(sender)
    }

    async fn exchange(
        &self,
        upstream: &Upstream,
        addr: SocketAddr,
        mut sender: SendRequest<B>,
        uses: u64,
        request: http::Request<B>,
    ) -> Result<http::Response<PooledBody<B>>, Exchange<B>> {
        let sent = sender.try_send_request(request);
        match tokio::time::timeout(upstream.response_timeout, sent).await {
            Ok(Ok(response)) => {
                let back = ReturnTo {
                    pools: self.clone(),
                    addr,
                    sender,
                    uses: uses + 1,
                    max_idle: upstream.max_idle,
                    max_requests: upstream.max_requests,
                    idle_timeout: upstream.idle_timeout,
                };
                Ok(response.map(|body| PooledBody {
                    inner: body,
                    back: Some(back),
                }))
            }
            Ok(Err(mut e)) => match e.take_message() {
                Some(request) => Err(Exchange::Unsent(request)),
                None => Err(Exchange::Failed(UpstreamError::Exchange {
                    addr,
                    source: e.into_error(),
                })),
            },
            Err(_) => Err(Exchange::Failed(UpstreamError::Timeout {
                addr,
                timeout: upstream.response_timeout,
            })),
        }
    }

    fn put_back(&self, back: ReturnTo<B>) {
        if back.sender.is_closed() || back.uses >= back.max_requests {
            return;
        }
        let mut map = self.inner.idle.borrow_mut();
        let conns = map.entry(back.addr).or_default();
        if conns.len() < back.max_idle {
            conns.push_back(Idle {
                sender: back.sender,
                since: Instant::now(),
                uses: back.uses,
                idle_timeout: back.idle_timeout,
            });
        }
    }
}

enum Exchange<B> {
    /// The connection could not take the request; it was not sent.
    Unsent(http::Request<B>),
    Failed(UpstreamError),
}

struct ReturnTo<B> {
    pools: Pools<B>,
    addr: SocketAddr,
    sender: SendRequest<B>,
    uses: u64,
    max_idle: usize,
    max_requests: u64,
    idle_timeout: Duration,
}

/// An upstream response body that hands its connection back to the pool once read to the end.
pub struct PooledBody<B>
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    inner: Incoming,
    back: Option<ReturnTo<B>>,
}

impl<B> PooledBody<B>
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn release(&mut self) {
        if let Some(back) = self.back.take() {
            back.pools.clone().put_back(back);
        }
    }
}

impl<B> Body for PooledBody<B>
where
    B: Body + Unpin + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let this = &mut *self;
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(None) => this.release(),
            Poll::Ready(Some(Ok(_))) if this.inner.is_end_stream() => this.release(),
            // An error mid-body leaves the connection's framing unknown: never reuse it.
            Poll::Ready(Some(Err(_))) => this.back = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<B> Drop for PooledBody<B>
where
    B: Body + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    fn drop(&mut self) {
        // Bodiless responses (HEAD, 204, 304) are complete without ever being polled.
        if self.inner.is_end_stream() {
            self.release();
        }
    }
}
