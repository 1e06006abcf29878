//! Per-worker keepalive pools and the exchange on one connection. Single-threaded by design
//! (`Rc`, `RefCell`): each worker thread has its own pools, so the hot path takes no lock and
//! touches no shared cache line.
//!
//! The exchange runs inside the request's own task: the request head goes out in one write, the
//! response head is read and parsed in the same task, and the body is read by the response body
//! itself as the client's side asks for it. No connection task, no channel, no wake-up of a
//! second task per request.

use crate::h1::{self, Chunked, Decoded, Framing, RequestFraming, ResponseHead};
use crate::{BoxError, LazyTimer, Upstream, UpstreamError};
use bytes::{Bytes, BytesMut};
use http::header::{HeaderName, HeaderValue};
use http_body::{Body, Frame, SizeHint};
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Read buffer of an upstream connection; grows for larger bodies, kept across requests.
const READ_BUFFER: usize = 8 * 1024;

/// One worker's idle connections, by server address. Cheap to clone (shared handle).
#[derive(Clone, Default)]
pub struct Pools {
    inner: Rc<Inner>,
}

#[derive(Default)]
struct Inner {
    idle: RefCell<HashMap<SocketAddr, VecDeque<Idle>, BuildHasherDefault<AddrHasher>>>,
    next: Cell<usize>,
    /// Connections opened so far by this worker (for tests and metrics).
    opened: Cell<u64>,
}

/// Hashes the pool's keys: configured server addresses, never a client's input, so a fast
/// multiplicative hash is safe (SipHash cost ~230 instructions per checkout and per return).
#[derive(Default)]
struct AddrHasher(u64);

impl AddrHasher {
    fn add(&mut self, value: u64) {
        self.0 = (self.0.rotate_left(5) ^ value).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for AddrHasher {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, value: u8) {
        self.add(u64::from(value));
    }

    fn write_u16(&mut self, value: u16) {
        self.add(u64::from(value));
    }

    fn write_u32(&mut self, value: u32) {
        self.add(u64::from(value));
    }

    fn write_u64(&mut self, value: u64) {
        self.add(value);
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// An open connection to an upstream server and its read buffer.
struct Connection {
    stream: TcpStream,
    buf: BytesMut,
    /// Requests sent on it so far.
    uses: u64,
    /// The response timeout of the wait in progress (head or body), kept across requests.
    deadline: Deadline,
}

/// The response timeout of a connection's current wait, on a timer the connection keeps across
/// its requests ([`LazyTimer`]): starting a wait only records its deadline (a clock read).
#[derive(Default)]
struct Deadline {
    timer: LazyTimer,
    at: Option<tokio::time::Instant>,
}

impl Deadline {
    /// A wait starts now and may last `timeout`.
    fn start(&mut self, timeout: Duration) {
        self.at = Some(tokio::time::Instant::now() + timeout);
    }

    /// Ready once the current wait's deadline has passed.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self.at {
            Some(at) => self.timer.poll_until(cx, at),
            None => Poll::Pending,
        }
    }

    /// Runs `work` until it completes (`Some`) or the deadline passes (`None`).
    async fn run<F: Future>(&mut self, work: F) -> Option<F::Output> {
        let mut work = std::pin::pin!(work);
        poll_fn(|cx| match work.as_mut().poll(cx) {
            Poll::Ready(output) => Poll::Ready(Some(output)),
            Poll::Pending => self.poll_expired(cx).map(|()| None),
        })
        .await
    }
}

struct Idle {
    conn: Connection,
    since: Instant,
    idle_timeout: Duration,
}

/// Why an exchange on one connection failed.
enum Failure {
    /// The connection was closed before it took any of the request: nothing was sent.
    Unsent,
    /// The connection closed before any byte of a response arrived (a reused connection that the
    /// server closed as the request went out).
    NoResponse(io::Error),
    /// The client's request body failed while it was being sent.
    Client(BoxError),
    /// The response was not valid HTTP/1.1.
    Protocol(io::Error),
    /// Reading or writing failed after the request (or part of it) was sent.
    Io(io::Error),
}

impl Pools {
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

    /// Sends `request` to `addr` on an idle connection, or a new one, and returns the response
    /// once its head arrived (the body streams from the connection as it is read). The
    /// response's header map holds no hop-by-hop field: it can go to the client as it is.
    ///
    /// A reused connection that turns out to be closed (the server timed it out as it was picked)
    /// is replaced transparently when nothing of the request reached it, or when the request is
    /// idempotent and bodiless and no byte of a response came back (RFC 9110 §9.2.2). When
    /// nothing reached any server, the request comes back with the error so the caller may send
    /// it elsewhere.
    ///
    /// The request goes out with the client's header fields less the hop-by-hop ones, with each
    /// field of `set` replacing the client's fields of that name. `request` itself is not
    /// changed, so the same request can be sent elsewhere with other `set` values.
    pub async fn send<B>(
        &self,
        upstream: &Upstream,
        addr: SocketAddr,
        request: http::Request<B>,
        set: &[(HeaderName, HeaderValue)],
    ) -> Result<http::Response<PooledBody>, (UpstreamError, Option<http::Request<B>>)>
    where
        B: Body<Data = Bytes> + Unpin,
        B::Error: Into<BoxError>,
    {
        let (parts, body) = request.into_parts();
        let has_body = !body.is_end_stream();
        let mut head = Vec::with_capacity(512);
        let framing = h1::encode_request_head(&parts, has_body, set, &mut head);
        let replayable = !has_body && parts.method.is_idempotent();
        let mut body = Some(body);
        loop {
            let (mut conn, reused) = match self.checkout(addr) {
                Some(conn) => (conn, true),
                // Boxed: opening a connection is the rare path, and its future would otherwise
                // add its size to every request's (moved whole at each await).
                None => match Box::pin(self.connect(upstream, addr)).await {
                    Ok(conn) => (conn, false),
                    Err(e) => {
                        let body = body.take().expect("the body is sent at most once");
                        return Err((e, Some(http::Request::from_parts(parts, body))));
                    }
                },
            };
            let mut deadline = std::mem::take(&mut conn.deadline);
            deadline.start(upstream.response_timeout);
            let exchange = exchange(&mut conn, &head, framing, &mut body, &parts.method);
            let outcome = deadline.run(exchange).await;
            conn.deadline = deadline;
            let failure = match outcome {
                Some(Ok((response, reusable))) => {
                    conn.uses += 1;
                    return Ok(self.respond(upstream, addr, conn, response, reusable));
                }
                Some(Err(failure)) => failure,
                None => {
                    return Err((
                        UpstreamError::Timeout {
                            addr,
                            timeout: upstream.response_timeout,
                        },
                        None,
                    ));
                }
            };
            let unsent = matches!(failure, Failure::Unsent) && body.is_some();
            let retry =
                reused && (unsent || matches!(failure, Failure::NoResponse(_)) && replayable);
            if retry {
                continue;
            }
            if unsent && let Some(body) = body.take() {
                // A fresh connection that closed before taking the request.
                let source = io::Error::from(io::ErrorKind::ConnectionReset);
                return Err((
                    UpstreamError::Connect { addr, source },
                    Some(http::Request::from_parts(parts, body)),
                ));
            }
            return Err((failure.into_error(addr), None));
        }
    }

    fn respond(
        &self,
        upstream: &Upstream,
        addr: SocketAddr,
        conn: Connection,
        head: ResponseHead,
        reusable: bool,
    ) -> http::Response<PooledBody> {
        let state = match head.framing {
            Framing::Empty => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunked::default()),
            Framing::Close => State::UntilClose,
        };
        let back = ReturnTo {
            pools: self.clone(),
            addr,
            reusable: reusable && head.keep_alive && conn.uses < upstream.max_requests,
            max_idle: upstream.max_idle,
            idle_timeout: upstream.idle_timeout,
        };
        let mut body = PooledBody {
            conn: Some(conn),
            state,
            back,
            read_timeout: upstream.response_timeout,
            waiting: false,
        };
        if matches!(body.state, State::Done) {
            body.release();
        }
        let mut response = http::Response::new(body);
        *response.status_mut() = head.status;
        *response.version_mut() = head.version;
        *response.headers_mut() = head.headers;
        response
    }

    /// Drops idle connections past their idle timeout or closed by the server.
    pub fn sweep(&self) {
        let now = Instant::now();
        self.inner.idle.borrow_mut().retain(|_, conns| {
            conns.retain_mut(|c| now.duration_since(c.since) < c.idle_timeout && c.conn.alive());
            !conns.is_empty()
        });
    }

    /// The most recently used live idle connection to `addr` (warm, least likely to have been
    /// timed out by the server).
    fn checkout(&self, addr: SocketAddr) -> Option<Connection> {
        let mut map = self.inner.idle.borrow_mut();
        let conns = map.get_mut(&addr)?;
        while let Some(mut idle) = conns.pop_back() {
            if idle.since.elapsed() < idle.idle_timeout && idle.conn.alive() {
                return Some(idle.conn);
            }
        }
        None
    }

    async fn connect(
        &self,
        upstream: &Upstream,
        addr: SocketAddr,
    ) -> Result<Connection, UpstreamError> {
        let stream =
            match tokio::time::timeout(upstream.connect_timeout, TcpStream::connect(addr)).await {
                Ok(Ok(stream)) => stream,
                Ok(Err(source)) => return Err(UpstreamError::Connect { addr, source }),
                Err(_) => {
                    return Err(UpstreamError::Connect {
                        addr,
                        source: io::ErrorKind::TimedOut.into(),
                    });
                }
            };
        let _ = stream.set_nodelay(true);
        self.inner.opened.set(self.inner.opened.get() + 1);
        Ok(Connection {
            stream,
            buf: BytesMut::with_capacity(READ_BUFFER),
            uses: 0,
            deadline: Deadline::default(),
        })
    }

    fn put_back(
        &self,
        addr: SocketAddr,
        conn: Connection,
        max_idle: usize,
        idle_timeout: Duration,
    ) {
        let mut map = self.inner.idle.borrow_mut();
        let conns = map.entry(addr).or_default();
        if conns.len() < max_idle {
            conns.push_back(Idle {
                conn,
                since: Instant::now(),
                idle_timeout,
            });
        }
    }
}

impl Connection {
    /// True when the server has not closed this idle connection. Costs a system call only when
    /// the socket has reported readability since it went idle (an idle HTTP/1.1 connection has
    /// nothing to say: readable means closed, or a protocol error).
    fn alive(&mut self) -> bool {
        let mut cx = Context::from_waker(Waker::noop());
        match self.stream.poll_read_ready(&mut cx) {
            Poll::Pending => true,
            Poll::Ready(Err(_)) => false,
            Poll::Ready(Ok(())) => {
                let mut probe = [0u8; 1];
                matches!(self.stream.try_read(&mut probe), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
            }
        }
    }

    /// Reads more bytes into the buffer; `Ok(0)` at the end of the stream.
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if self.buf.capacity() - self.buf.len() < 1024 {
            self.buf.reserve(READ_BUFFER);
        }
        // Through `AsyncRead`, which also learns from a short read that the socket is drained
        // (no extra `recv` to find out; the idle check in `alive` relies on it).
        std::pin::pin!(self.stream.read_buf(&mut self.buf)).poll(cx)
    }
}

/// Writes the request and reads the response head. Returns the head and whether the connection
/// can carry another request (not when the response came before the whole request body went
/// out: the rest of that body is abandoned).
async fn exchange<B>(
    conn: &mut Connection,
    head: &[u8],
    framing: RequestFraming,
    body: &mut Option<B>,
    method: &http::Method,
) -> Result<(ResponseHead, bool), Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    // A response cannot be left over from an earlier exchange; bytes here mean confusion.
    if !conn.buf.is_empty() {
        return Err(Failure::Unsent);
    }
    match conn.stream.write(head).await {
        Ok(0) | Err(_) => return Err(Failure::Unsent),
        Ok(n) if n < head.len() => conn
            .stream
            .write_all(&head[n..])
            .await
            .map_err(Failure::Io)?,
        Ok(_) => {}
    }
    if body.as_ref().is_none_or(|b| b.is_end_stream()) {
        let head = read_head(conn, method).await?;
        return Ok((head, true));
    }
    let Some(body) = body.take() else {
        return Err(Failure::Unsent);
    };
    // Boxed: most requests have no body, and this future is the largest part of an exchange's.
    Box::pin(exchange_with_body(conn, body, framing, method)).await
}

/// The rest of an exchange for a request with a body: the body goes out while the response head
/// is awaited (a server may answer before it has read the whole body).
async fn exchange_with_body<B>(
    conn: &mut Connection,
    mut body: B,
    framing: RequestFraming,
    method: &http::Method,
) -> Result<(ResponseHead, bool), Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    let mut sending = true;
    let (mut reader, mut writer) = conn.stream.split();
    let buf = &mut conn.buf;
    let send = send_body(&mut writer, &mut body, framing);
    let receive = read_head_from(&mut reader, buf, method);
    tokio::pin!(send, receive);
    let mut write_error = None;
    loop {
        tokio::select! {
            head = &mut receive => {
                return match head {
                    Ok(head) => Ok((head, !sending && write_error.is_none())),
                    Err(failure) => Err(match write_error {
                        Some(e) => Failure::Io(e),
                        None => failure,
                    }),
                };
            }
            sent = &mut send, if sending => {
                sending = false;
                match sent {
                    Ok(()) => {}
                    Err(Failure::Client(e)) => return Err(Failure::Client(e)),
                    // The server may have answered early and closed: wait for its response.
                    Err(Failure::Io(e)) => write_error = Some(e),
                    Err(other) => return Err(other),
                }
            }
        }
    }
}

async fn send_body<B, W>(
    writer: &mut W,
    body: &mut B,
    framing: RequestFraming,
) -> Result<(), Failure>
where
    B: Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
    W: tokio::io::AsyncWrite + Unpin,
{
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| Failure::Client(e.into()))?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers are not forwarded
        };
        if data.is_empty() {
            continue;
        }
        if framing == RequestFraming::Chunked {
            writer
                .write_all(&h1::chunk_header(data.len()))
                .await
                .map_err(Failure::Io)?;
            writer.write_all(&data).await.map_err(Failure::Io)?;
            writer.write_all(b"\r\n").await.map_err(Failure::Io)?;
        } else {
            writer.write_all(&data).await.map_err(Failure::Io)?;
        }
    }
    if framing == RequestFraming::Chunked {
        writer
            .write_all(h1::LAST_CHUNK)
            .await
            .map_err(Failure::Io)?;
    }
    Ok(())
}

async fn read_head(conn: &mut Connection, method: &http::Method) -> Result<ResponseHead, Failure> {
    let (mut reader, _) = conn.stream.split();
    read_head_from(&mut reader, &mut conn.buf, method).await
}

/// Reads until a final (non-1xx) response head is complete.
async fn read_head_from<R>(
    reader: &mut R,
    buf: &mut BytesMut,
    method: &http::Method,
) -> Result<ResponseHead, Failure>
where
    R: tokio::io::AsyncRead + Unpin,
{
    let mut received = false;
    loop {
        if !buf.is_empty() {
            received = true;
            match h1::parse_response_head(buf, method) {
                Ok(Some(head)) if head.status == http::StatusCode::SWITCHING_PROTOCOLS => {
                    return Err(Failure::Protocol(io::Error::new(
                        io::ErrorKind::Unsupported,
                        "upstream switched protocols, which is not supported",
                    )));
                }
                // Interim responses (100 Continue, 103 Early Hints) are not passed on.
                Ok(Some(head)) if head.status.is_informational() => continue,
                Ok(Some(head)) => return Ok(head),
                Ok(None) => {}
                Err(e) => return Err(Failure::Protocol(e)),
            }
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(READ_BUFFER);
        }
        match reader.read_buf(buf).await {
            Ok(0) if !received => {
                return Err(Failure::NoResponse(io::ErrorKind::UnexpectedEof.into()));
            }
            Ok(0) => return Err(Failure::Io(io::ErrorKind::UnexpectedEof.into())),
            Ok(_) => {}
            Err(e) if !received => return Err(Failure::NoResponse(e)),
            Err(e) => return Err(Failure::Io(e)),
        }
    }
}

impl Failure {
    fn into_error(self, addr: SocketAddr) -> UpstreamError {
        match self {
            Failure::Unsent => UpstreamError::Exchange {
                addr,
                source: io::ErrorKind::ConnectionReset.into(),
            },
            Failure::NoResponse(source) | Failure::Io(source) => {
                UpstreamError::Exchange { addr, source }
            }
            Failure::Protocol(source) => UpstreamError::Protocol { addr, source },
            Failure::Client(source) => UpstreamError::ClientBody { addr, source },
        }
    }
}

/// Where a connection goes when its response body has been read to the end.
struct ReturnTo {
    pools: Pools,
    addr: SocketAddr,
    reusable: bool,
    max_idle: usize,
    idle_timeout: Duration,
}

enum State {
    Length(u64),
    Chunked(Chunked),
    UntilClose,
    Done,
}

/// An upstream response body, read from its connection as it is polled; hands the connection
/// back to the pool once read to the end. A body dropped before its end closes the connection
/// (its framing position is unknown).
pub struct PooledBody {
    conn: Option<Connection>,
    state: State,
    back: ReturnTo,
    /// Longest wait for the next bytes of the body (the upstream's `response_timeout`, between
    /// two reads as nginx's `proxy_read_timeout`).
    read_timeout: Duration,
    /// A read is waiting (its deadline is set on the connection); a body that is already in the
    /// buffer never waits.
    waiting: bool,
}

impl PooledBody {
    fn release(&mut self) {
        let Some(conn) = self.conn.take() else {
            return;
        };
        // Bytes past the end of the response mean the server and we disagree on framing.
        if self.back.reusable && conn.buf.is_empty() {
            let back = &self.back;
            back.pools
                .put_back(back.addr, conn, back.max_idle, back.idle_timeout);
        }
    }

    fn fail(&mut self, error: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.conn = None;
        self.state = State::Done;
        Poll::Ready(Some(Err(error)))
    }
}

impl Body for PooledBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = &mut *self;
        loop {
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            match &mut this.state {
                State::Done => {
                    this.release();
                    return Poll::Ready(None);
                }
                State::Length(left) => {
                    if !conn.buf.is_empty() {
                        let n = usize::try_from(*left)
                            .unwrap_or(usize::MAX)
                            .min(conn.buf.len());
                        let data = conn.buf.split_to(n).freeze();
                        *left -= n as u64;
                        if *left == 0 {
                            this.state = State::Done;
                            this.release();
                        }
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
                State::Chunked(chunked) => match chunked.decode(&mut conn.buf) {
                    Ok(Decoded::Data(data)) => return Poll::Ready(Some(Ok(Frame::data(data)))),
                    Ok(Decoded::Done) => {
                        this.state = State::Done;
                        continue;
                    }
                    Ok(Decoded::NeedMore) => {}
                    Err(e) => return this.fail(e),
                },
                State::UntilClose => {
                    if !conn.buf.is_empty() {
                        let data = conn.buf.split().freeze();
                        return Poll::Ready(Some(Ok(Frame::data(data))));
                    }
                }
            }
            let Some(conn) = this.conn.as_mut() else {
                return Poll::Ready(None);
            };
            let filled = match conn.poll_fill(cx) {
                Poll::Ready(filled) => filled,
                Poll::Pending => {
                    if !this.waiting {
                        this.waiting = true;
                        conn.deadline.start(this.read_timeout);
                    }
                    if conn.deadline.poll_expired(cx).is_ready() {
                        return this.fail(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "upstream sent no more of the body within the response timeout",
                        ));
                    }
                    return Poll::Pending;
                }
            };
            this.waiting = false;
            match filled {
                Ok(0) if matches!(this.state, State::UntilClose) => {
                    this.conn = None;
                    this.state = State::Done;
                    return Poll::Ready(None);
                }
                Ok(0) => {
                    return this.fail(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "upstream closed the connection before the end of the body",
                    ));
                }
                Ok(_) => {}
                Err(e) => return this.fail(e),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self.state, State::Done)
    }

    fn size_hint(&self) -> SizeHint {
        match self.state {
            State::Length(n) => SizeHint::with_exact(n),
            State::Done => SizeHint::with_exact(0),
            _ => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Deadline;
    use std::time::Duration;
    use tokio::time::{Instant, sleep};

    #[tokio::test(start_paused = true)]
    async fn a_timer_kept_from_an_earlier_wait_fires_for_the_current_one() {
        let mut deadline = Deadline::default();
        // A quick exchange arms the timer for 100 ms from now and finishes well before.
        deadline.start(Duration::from_millis(100));
        assert_eq!(
            deadline.run(sleep(Duration::from_millis(10))).await,
            Some(())
        );
        sleep(Duration::from_millis(50)).await;
        // The next wait on the same connection may last 100 ms from its own start, although the
        // timer still points at the first wait's deadline (40 ms away).
        let started = Instant::now();
        deadline.start(Duration::from_millis(100));
        assert_eq!(deadline.run(std::future::pending::<()>()).await, None);
        assert_eq!(started.elapsed(), Duration::from_millis(100));
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_timeout_moves_the_timer_earlier() {
        let mut deadline = Deadline::default();
        deadline.start(Duration::from_secs(60));
        assert_eq!(
            deadline.run(sleep(Duration::from_millis(1))).await,
            Some(())
        );
        let started = Instant::now();
        deadline.start(Duration::from_millis(200));
        assert_eq!(deadline.run(std::future::pending::<()>()).await, None);
        assert_eq!(started.elapsed(), Duration::from_millis(200));
    }

    #[tokio::test(start_paused = true)]
    async fn work_that_finishes_in_time_is_not_cut_off() {
        let mut deadline = Deadline::default();
        deadline.start(Duration::from_millis(100));
        assert_eq!(
            deadline.run(sleep(Duration::from_millis(99))).await,
            Some(())
        );
    }
}
