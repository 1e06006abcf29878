//! The client side of HTTP/1.x, plain and over TLS: graygate's own server connection.
//!
//! One task per connection reads request heads into a buffer it keeps, parses them in place
//! (httparse), refuses what a front proxy must refuse (framing conflicts, bad lengths, unknown
//! transfer codings, oversized heads: nothing of such a request is forwarded, and the
//! connection closes), hands each request to the pipeline, and writes the response head and the
//! first part of its body in one write. The request body is read from the same buffer and
//! socket by the body itself ([`RequestBody`]), in the same task, as the pipeline forwards it.
//! Requests are served one at a time; pipelined requests wait in the buffer. HTTP/2 stays with
//! hyper (`worker.rs`).

mod head;

use crate::body::{BoxError, ClientBody, ProxyBody};
use crate::pipeline;
use crate::worker::{Clocks, Conn, Worker};
use bytes::{Bytes, BytesMut};
use graygate_upstream::{Decoded, LAST_CHUNK, chunk_header};
use head::{BodyState, Head, has_token};
use http::header;
use http::{Method, StatusCode, Version};
use http_body::{Body, Frame, SizeHint};
use std::cell::{Cell, RefCell};
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};

/// Largest write buffer a connection keeps between responses: room for a head and a body
/// copied behind it.
const OUT_KEPT: usize = 16 * 1024;
/// Room kept free in the read buffer before each read.
const READ_CHUNK: usize = 8 * 1024;
/// The first read of a connection that gave back its buffer, onto the stack.
const LEAN_READ: usize = 4 * 1024;
/// A response body frame larger than this is written on its own instead of copied behind the
/// head.
const COPY_LIMIT: usize = 8 * 1024;

/// What the connection needs of the server's limits.
pub(crate) struct Limits {
    pub(crate) max_header_bytes: usize,
    pub(crate) max_headers: usize,
}

/// Serves one client connection until it closes, the client or the response asks to close, a
/// request is refused, or `closing` is set while no request is under way (graceful shutdown,
/// keepalive timeout).
pub(crate) async fn serve<I>(
    worker: Rc<Worker>,
    conn: Rc<Conn>,
    io: I,
    limits: Limits,
    closing: Rc<Cell<bool>>,
) where
    I: AsyncRead + AsyncWrite + Unpin + 'static,
{
    let wire = Rc::new(Wire {
        io: RefCell::new(io),
        inbound: RefCell::new(Inbound {
            buf: BytesMut::new(),
            body: BodyState::Done,
        }),
        clocks: conn.clocks.clone(),
        worker: worker.clone(),
        reading: Cell::new(false),
    });
    let mut head = Head::default();
    let mut out = Vec::with_capacity(512);
    loop {
        match read_head(&wire, &limits, &mut head, &closing, &conn.lean).await {
            Ok(true) => {}
            Ok(false) | Err(HeadError::Io) => return,
            Err(HeadError::Refuse(status)) => return refuse(&wire, status, &mut out).await,
        }
        let bytes = wire.inbound.borrow_mut().buf.split_to(head.len).freeze();
        let parsed = match head.request(&bytes) {
            Ok(parsed) => parsed,
            Err(status) => return refuse(&wire, status, &mut out).await,
        };
        let head_only = parsed.request.method() == Method::HEAD;
        let client_version = parsed.request.version();
        let mut keep_alive = parsed.keep_alive;
        let has_body = !matches!(parsed.body, BodyState::Done);
        wire.inbound.borrow_mut().body = parsed.body;
        if parsed.expect_continue
            && has_body
            && write_all(&wire, b"HTTP/1.1 100 Continue\r\n\r\n")
                .await
                .is_err()
        {
            return;
        }
        let source: Rc<dyn BodySource> = wire.clone();
        let request = parsed
            .request
            .map(|()| ClientBody::H1(RequestBody { source }));
        let Ok(response) = pipeline::handle(worker.clone(), conn.clone(), request).await;
        // What is left of the request body must be read before the next request can be; when
        // it is not all here yet, the connection closes after this response.
        if !wire.skip_buffered_body() {
            keep_alive = false;
        }
        let (parts, body) = response.into_parts();
        let reply = Reply {
            head_only,
            client_version,
            keep_alive,
        };
        let sent = respond(&wire, &mut out, parts, body, reply).await;
        // Small bodies are copied behind the head; a connection does not keep a large buffer
        // from one such response while it idles.
        if out.capacity() > OUT_KEPT {
            out = Vec::with_capacity(512);
        }
        match sent {
            Ok(true) => {}
            Ok(false) => {
                let _ = poll_fn(|cx| Pin::new(&mut *wire.io.borrow_mut()).poll_shutdown(cx)).await;
                return;
            }
            Err(_) => return,
        }
    }
}

/// The connection's socket and read side, shared by the connection loop and the request body
/// (one task: no borrow outlives a poll).
struct Wire<I> {
    io: RefCell<I>,
    inbound: RefCell<Inbound>,
    clocks: Rc<Clocks>,
    worker: Rc<Worker>,
    /// In the middle of a request head (the worker's `reading` gauge counts it).
    reading: Cell<bool>,
}

struct Inbound {
    buf: BytesMut,
    /// Framing of the current request's body.
    body: BodyState,
}

impl<I> Wire<I> {
    fn set_reading(&self, reading: bool) {
        if self.reading.replace(reading) != reading {
            let gauge = &self.worker.cells().reading;
            if reading { gauge.inc() } else { gauge.dec() }
        }
    }

    /// Finishes the current request body from what is already buffered; false when more of it
    /// would have to come over the socket (or it is malformed).
    fn skip_buffered_body(&self) -> bool {
        let mut inbound = self.inbound.borrow_mut();
        loop {
            match inbound.next_buffered() {
                Buffered::Data(_) => {}
                Buffered::End => return true,
                Buffered::NeedMore | Buffered::Broken(_) => return false,
            }
        }
    }
}

/// What the buffer holds of the current request body.
enum Buffered {
    Data(Bytes),
    /// The body is complete (or there was none).
    End,
    /// More must be read from the socket.
    NeedMore,
    /// The body's framing is broken: nothing more is read from the connection.
    Broken(io::Error),
}

impl Inbound {
    /// The next piece of the current request body, from the buffer alone.
    fn next_buffered(&mut self) -> Buffered {
        let Inbound { buf, body } = self;
        match body {
            BodyState::Done => Buffered::End,
            BodyState::Length(_) if buf.is_empty() => Buffered::NeedMore,
            BodyState::Length(left) => {
                let n = usize::try_from(*left).unwrap_or(usize::MAX).min(buf.len());
                let data = buf.split_to(n).freeze();
                *left -= n as u64;
                if *left == 0 {
                    *body = BodyState::Done;
                }
                Buffered::Data(data)
            }
            BodyState::Chunked(chunked) => match chunked.decode(buf) {
                Ok(Decoded::Data(data)) => Buffered::Data(data),
                Ok(Decoded::Done) => {
                    *body = BodyState::Done;
                    Buffered::End
                }
                Ok(Decoded::NeedMore) => Buffered::NeedMore,
                Err(e) => {
                    *body = BodyState::Length(u64::MAX);
                    buf.clear();
                    Buffered::Broken(e)
                }
            },
        }
    }
}

impl<I> Drop for Wire<I> {
    fn drop(&mut self) {
        self.set_reading(false);
    }
}

impl<I: AsyncRead + Unpin> Wire<I> {
    /// Reads more bytes into the buffer; `Ok(0)` at the end of the stream. A connection that
    /// gave back its buffer (idle, see `lean`) reads onto the stack and keeps only what arrived,
    /// typically one whole request head.
    fn poll_fill(&self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut inbound = self.inbound.borrow_mut();
        let buf = &mut inbound.buf;
        let mut io = self.io.borrow_mut();
        if buf.capacity() == 0 {
            let mut stack = [const { std::mem::MaybeUninit::<u8>::uninit() }; LEAN_READ];
            let mut read = tokio::io::ReadBuf::uninit(&mut stack);
            return Pin::new(&mut *io).poll_read(cx, &mut read).map_ok(|()| {
                buf.extend_from_slice(read.filled());
                read.filled().len()
            });
        }
        if buf.capacity() - buf.len() < 1024 {
            buf.reserve(READ_CHUNK);
        }
        pin!(io.read_buf(buf)).poll(cx)
    }

    /// Gives back the read buffer while nothing of a request is in it (an idle keepalive
    /// connection then holds no buffer, as in nginx).
    fn lean(&self) {
        let mut inbound = self.inbound.borrow_mut();
        if inbound.buf.is_empty() && inbound.buf.capacity() > 0 {
            inbound.buf = BytesMut::new();
        }
    }
}

enum HeadError {
    /// The connection failed, or closed in the middle of a head.
    Io,
    /// Answer with this status and close.
    Refuse(StatusCode),
}

/// Waits for a whole request head at the front of the buffer and records where its parts are
/// (`head`); false when the client closed, or `closing` was set, between requests. Keeps the
/// header-timeout clock: it runs while a head is incomplete (from accept for the first
/// request), so a head that arrives in one read never starts it.
async fn read_head<I: AsyncRead + Unpin>(
    wire: &Wire<I>,
    limits: &Limits,
    head: &mut Head,
    closing: &Cell<bool>,
    lean: &Cell<bool>,
) -> Result<bool, HeadError> {
    loop {
        {
            let inbound = wire.inbound.borrow();
            let buf = &inbound.buf[..];
            if !buf.is_empty() {
                match head.parse(buf, limits.max_headers) {
                    Ok(true) if head.len <= limits.max_header_bytes => {
                        wire.set_reading(false);
                        wire.clocks.head_started.set(None);
                        return Ok(true);
                    }
                    Ok(false) if buf.len() <= limits.max_header_bytes => {
                        wire.set_reading(true);
                        if wire.clocks.head_started.get().is_none() {
                            wire.clocks.head_started.set(Some(Instant::now()));
                        }
                    }
                    Ok(_) => {
                        return Err(HeadError::Refuse(
                            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                        ));
                    }
                    Err(status) => return Err(HeadError::Refuse(status)),
                }
            }
        }
        // `closing` is looked at on every poll: the driver sets it and polls again.
        let filled = poll_fn(|cx| {
            if closing.get() && wire.inbound.borrow().buf.is_empty() {
                return Poll::Ready(None);
            }
            if lean.get() {
                wire.lean();
            }
            wire.poll_fill(cx).map(Some)
        });
        match filled.await {
            None => return Ok(false),
            Some(Ok(0)) if wire.inbound.borrow().buf.is_empty() => return Ok(false),
            Some(Ok(0) | Err(_)) => return Err(HeadError::Io),
            Some(Ok(_)) => {}
        }
    }
}

/// How a response goes out.
struct Reply {
    head_only: bool,
    client_version: Version,
    keep_alive: bool,
}

/// Writes a response; `Ok(true)` when the connection may carry another request.
async fn respond<I: AsyncWrite + Unpin>(
    wire: &Wire<I>,
    out: &mut Vec<u8>,
    parts: http::response::Parts,
    body: ProxyBody,
    reply: Reply,
) -> io::Result<bool> {
    let status = parts.status;
    let mut keep_alive = reply.keep_alive
        && !parts
            .headers
            .get(header::CONNECTION)
            .is_some_and(|v| has_token(v.as_bytes(), b"close"));
    let bodiless = reply.head_only
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    enum Framing {
        None,
        Length,
        Chunked,
        Close,
    }
    let mut extra_length = None;
    let framing = if bodiless {
        Framing::None
    } else if parts.headers.contains_key(header::CONTENT_LENGTH) {
        Framing::Length
    } else if let Some(n) = body.size_hint().exact() {
        extra_length = Some(n);
        Framing::Length
    } else if reply.client_version == Version::HTTP_11 {
        Framing::Chunked
    } else {
        keep_alive = false;
        Framing::Close
    };
    status_line(out, status);
    for (name, value) in &parts.headers {
        if name == header::CONNECTION || name == header::TRANSFER_ENCODING {
            continue;
        }
        field(out, name.as_str().as_bytes(), value.as_bytes());
    }
    if let Some(n) = extra_length {
        field(out, b"content-length", itoa_u64(n, &mut [0u8; 20]));
    }
    if matches!(framing, Framing::Chunked) {
        field(out, b"transfer-encoding", b"chunked");
    }
    if !parts.headers.contains_key(header::DATE) {
        crate::date::with(|date| field(out, b"date", date));
    }
    match (keep_alive, reply.client_version) {
        (false, _) => field(out, b"connection", b"close"),
        (true, Version::HTTP_10) => field(out, b"connection", b"keep-alive"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    if matches!(framing, Framing::None) {
        drop(body);
        write_all(wire, out).await?;
        return Ok(keep_alive);
    }
    let mut body = pin!(body);
    loop {
        // Take what the body has ready now; write what is buffered before waiting for more.
        let frame = {
            let mut next = poll_fn(|cx| body.as_mut().poll_frame(cx));
            match poll_fn(|cx| Poll::Ready(Pin::new(&mut next).poll(cx))).await {
                Poll::Ready(frame) => frame,
                Poll::Pending => {
                    if !out.is_empty() {
                        write_all(wire, out).await?;
                        out.clear();
                    }
                    next.await
                }
            }
        };
        match frame {
            None => break,
            Some(Err(_)) => {
                // A broken body cannot be completed: the client sees the connection close.
                return Err(io::Error::other("response body failed"));
            }
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers are not sent
                };
                if data.is_empty() {
                    continue;
                }
                if matches!(framing, Framing::Chunked) {
                    out.extend_from_slice(&chunk_header(data.len()));
                }
                if data.len() > COPY_LIMIT {
                    write_all(wire, out).await?;
                    out.clear();
                    write_all(wire, &data).await?;
                } else {
                    out.extend_from_slice(&data);
                }
                if matches!(framing, Framing::Chunked) {
                    out.extend_from_slice(b"\r\n");
                }
            }
        }
    }
    if matches!(framing, Framing::Chunked) {
        out.extend_from_slice(LAST_CHUNK);
    }
    if !out.is_empty() {
        write_all(wire, out).await?;
        out.clear();
    }
    Ok(keep_alive)
}

/// Starts `out` over with an HTTP/1.1 status line.
fn status_line(out: &mut Vec<u8>, status: StatusCode) {
    out.clear();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn itoa_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// Answers a request refused before the pipeline (the parser's 400 and 431) and closes.
async fn refuse<I: AsyncWrite + Unpin>(wire: &Wire<I>, status: StatusCode, out: &mut Vec<u8>) {
    let cells = wire.worker.cells();
    if status == StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE {
        cells.rejected_parse_431.inc();
    } else {
        cells.rejected_parse_400.inc();
    }
    let text: &[u8] = match status {
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => b"431 Request Header Fields Too Large\n",
        _ => b"400 Bad Request\n",
    };
    status_line(out, status);
    field(out, b"content-type", b"text/plain; charset=utf-8");
    field(
        out,
        b"content-length",
        itoa_u64(text.len() as u64, &mut [0u8; 20]),
    );
    crate::date::with(|date| field(out, b"date", date));
    field(out, b"connection", b"close");
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(text);
    if write_all(wire, out).await.is_ok() {
        let _ = poll_fn(|cx| Pin::new(&mut *wire.io.borrow_mut()).poll_shutdown(cx)).await;
    }
}

/// Writes all of `bytes` and flushes (TLS buffers records). Keeps the send-timeout clock: it
/// runs while the client takes nothing.
async fn write_all<I: AsyncWrite + Unpin>(wire: &Wire<I>, bytes: &[u8]) -> io::Result<()> {
    let mut written = 0;
    poll_fn(|cx| {
        let mut io = wire.io.borrow_mut();
        while written < bytes.len() {
            match Pin::new(&mut *io).poll_write(cx, &bytes[written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    written += n;
                    wire.clocks.write_blocked.set(None);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return blocked(&wire.clocks),
            }
        }
        match Pin::new(&mut *io).poll_flush(cx) {
            Poll::Ready(result) => {
                wire.clocks.write_blocked.set(None);
                Poll::Ready(result)
            }
            Poll::Pending => blocked(&wire.clocks),
        }
    })
    .await
}

fn blocked<T>(clocks: &Clocks) -> Poll<T> {
    if clocks.write_blocked.get().is_none() {
        clocks.write_blocked.set(Some(Instant::now()));
    }
    Poll::Pending
}

/// Where a request body's bytes come from: the connection it arrived on.
trait BodySource {
    fn poll_data(&self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>>;
    fn is_end(&self) -> bool;
    fn remaining(&self) -> Option<u64>;
}

impl<I: AsyncRead + Unpin> BodySource for Wire<I> {
    fn poll_data(&self, cx: &mut Context<'_>) -> Poll<Option<io::Result<Bytes>>> {
        loop {
            match self.inbound.borrow_mut().next_buffered() {
                Buffered::Data(data) => return Poll::Ready(Some(Ok(data))),
                Buffered::End => return Poll::Ready(None),
                Buffered::Broken(e) => return Poll::Ready(Some(Err(e))),
                Buffered::NeedMore => {}
            }
            match self.poll_fill(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(0)) => {
                    return Poll::Ready(Some(Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the client closed the connection before the end of the request body",
                    ))));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Some(Err(e))),
            }
        }
    }

    fn is_end(&self) -> bool {
        matches!(self.inbound.borrow().body, BodyState::Done)
    }

    fn remaining(&self) -> Option<u64> {
        match self.inbound.borrow().body {
            BodyState::Length(n) => Some(n),
            BodyState::Done => Some(0),
            BodyState::Chunked(_) => None,
        }
    }
}

/// The body of a request read by graygate's HTTP/1 connection.
pub struct RequestBody {
    source: Rc<dyn BodySource>,
}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.source
            .poll_data(cx)
            .map(|data| data.map(|d| d.map(Frame::data).map_err(BoxError::from)))
    }

    fn is_end_stream(&self) -> bool {
        self.source.is_end()
    }

    fn size_hint(&self) -> SizeHint {
        match self.source.remaining() {
            Some(n) => SizeHint::with_exact(n),
            None => SizeHint::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_render_in_decimal() {
        assert_eq!(itoa_u64(0, &mut [0; 20]), b"0");
        assert_eq!(itoa_u64(1234567890, &mut [0; 20]), b"1234567890");
        assert_eq!(itoa_u64(u64::MAX, &mut [0; 20]), b"18446744073709551615");
    }
}
