//! A second look at request framing, for the one smuggling signal hyper hides: a request with
//! both `Content-Length` and `Transfer-Encoding`. hyper follows RFC 9112 §6.3 (the transfer
//! coding wins, the length is dropped, the connection closes afterwards), so the parsed request
//! no longer shows the conflict; nginx refuses such requests with 400, and so does graygate.
//!
//! [`Watched`] wraps the client socket and follows the byte stream hyper reads: request heads
//! (only the two framing fields are looked at), then bodies by length or by chunks, so body bytes
//! are never mistaken for headers. It records one verdict per request head, in order; the
//! pipeline takes them in the same order. Bytes it cannot follow (which hyper would refuse
//! anyway) mark the rest of the connection as suspect.

use crate::worker::Worker;
use hyper::rt::{Read, ReadBufCursor, Write};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

/// What the framing of one request head showed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Clean,
    /// Both Content-Length and Transfer-Encoding, or a stream that could not be followed.
    Conflicting,
}

/// Verdicts shared between the socket wrapper and the connection's requests.
#[derive(Debug, Default)]
pub struct Verdicts {
    queue: RefCell<VecDeque<Verdict>>,
}

impl Verdicts {
    /// The verdict for the next request on the connection.
    pub fn next(&self) -> Verdict {
        self.queue
            .borrow_mut()
            .pop_front()
            .unwrap_or(Verdict::Clean)
    }
}

/// A socket whose incoming bytes are followed by a [`Tracker`]. It also keeps the worker's
/// `reading` gauge (connections in the middle of a request head), as nginx counts it.
pub struct Watched<T> {
    inner: T,
    tracker: Tracker,
    verdicts: Rc<Verdicts>,
    worker: Rc<Worker>,
}

impl<T> Watched<T> {
    pub fn new(inner: T, max_line: usize, worker: Rc<Worker>) -> (Watched<T>, Rc<Verdicts>) {
        let verdicts = Rc::new(Verdicts::default());
        let watched = Watched {
            inner,
            tracker: Tracker::new(max_line),
            verdicts: verdicts.clone(),
            worker,
        };
        (watched, verdicts)
    }
}

impl<T> Drop for Watched<T> {
    fn drop(&mut self) {
        if self.tracker.in_head() {
            self.worker.cells().reading.dec();
        }
    }
}

impl<T: Read + Unpin> Read for Watched<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        mut buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Read into a stack buffer first so the new bytes can be inspected, then hand them on.
        let mut local = [std::mem::MaybeUninit::<u8>::uninit(); 16 * 1024];
        let want = buf.remaining().min(local.len());
        let mut tmp = hyper::rt::ReadBuf::uninit(&mut local[..want]);
        match Pin::new(&mut this.inner).poll_read(cx, tmp.unfilled()) {
            Poll::Ready(Ok(())) => {
                let filled = tmp.filled();
                let was_reading = this.tracker.in_head();
                let verdicts = this.tracker.feed(filled);
                match (was_reading, this.tracker.in_head()) {
                    (false, true) => this.worker.cells().reading.inc(),
                    (true, false) => this.worker.cells().reading.dec(),
                    _ => {}
                }
                for verdict in verdicts {
                    this.verdicts.queue.borrow_mut().push_back(verdict);
                }
                buf.put_slice(filled);
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl<T: Write + Unpin> Write for Watched<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }
}

/// Follows HTTP/1.1 request framing over a byte stream.
#[derive(Debug)]
pub struct Tracker {
    state: State,
    line: Vec<u8>,
    max_line: usize,
    head: Head,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading head lines; `first` until the request line is done.
    Head {
        first: bool,
    },
    /// A body of known length.
    Body(u64),
    ChunkSize,
    ChunkData(u64),
    /// The CRLF after a chunk's data: bytes left of it.
    ChunkEnd(u8),
    Trailers,
    /// Lost track: every later request is suspect.
    Lost,
}

#[derive(Debug, Default)]
struct Head {
    content_length: Option<u64>,
    chunked: bool,
    both: bool,
    unreadable_length: bool,
}

impl Tracker {
    pub fn new(max_line: usize) -> Tracker {
        Tracker {
            state: State::Head { first: true },
            line: Vec::new(),
            max_line,
            head: Head::default(),
        }
    }

    /// True between the first byte of a request line and the end of its head.
    pub fn in_head(&self) -> bool {
        self.state == State::Head { first: false }
    }

    /// Consumes bytes; returns a verdict for each request head completed in them.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        while !bytes.is_empty() {
            match self.state {
                // hyper refuses what made us lose track and closes the connection.
                State::Lost => return verdicts,
                State::Body(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if take == n {
                        State::Head { first: true }
                    } else {
                        State::Body(n - take)
                    };
                }
                State::ChunkData(n) => {
                    let take = n.min(bytes.len() as u64);
                    bytes = &bytes[take as usize..];
                    self.state = if take == n {
                        State::ChunkEnd(2)
                    } else {
                        State::ChunkData(n - take)
                    };
                }
                State::ChunkEnd(left) => {
                    let take = usize::from(left).min(bytes.len());
                    bytes = &bytes[take..];
                    let left = left - take as u8;
                    self.state = if left == 0 {
                        State::ChunkSize
                    } else {
                        State::ChunkEnd(left)
                    };
                }
                State::Head { .. } | State::ChunkSize | State::Trailers => {
                    let Some(end) = bytes.iter().position(|b| *b == b'\n') else {
                        self.push_line(bytes);
                        return verdicts;
                    };
                    self.push_line(&bytes[..end]);
                    bytes = &bytes[end + 1..];
                    if self.state != State::Lost {
                        let line = std::mem::take(&mut self.line);
                        if let Some(v) = self.on_line(trim_cr(&line)) {
                            verdicts.push(v);
                        }
                        self.line = line;
                        self.line.clear();
                    }
                }
            }
        }
        verdicts
    }

    fn push_line(&mut self, bytes: &[u8]) {
        if self.line.len() + bytes.len() > self.max_line {
            // hyper refuses heads this large itself (431); nothing to follow after that.
            self.state = State::Lost;
        } else {
            self.line.extend_from_slice(bytes);
        }
    }

    fn on_line(&mut self, line: &[u8]) -> Option<Verdict> {
        match self.state {
            State::Head { first: true } => {
                // Empty lines before a request line are allowed (RFC 9112 §2.2).
                if !line.is_empty() {
                    self.state = State::Head { first: false };
                    self.head = Head::default();
                }
                None
            }
            State::Head { first: false } if line.is_empty() => {
                if self.head.unreadable_length {
                    self.state = State::Lost;
                    return Some(Verdict::Conflicting);
                }
                let verdict = if self.head.both {
                    Verdict::Conflicting
                } else {
                    Verdict::Clean
                };
                self.state = if self.head.chunked {
                    State::ChunkSize
                } else {
                    match self.head.content_length {
                        Some(n) if n > 0 => State::Body(n),
                        _ => State::Head { first: true },
                    }
                };
                Some(verdict)
            }
            State::Head { first: false } => {
                let colon = line.iter().position(|b| *b == b':')?;
                let (name, value) = (&line[..colon], trim(&line[colon + 1..]));
                if name.eq_ignore_ascii_case(b"content-length") {
                    if self.head.chunked {
                        self.head.both = true;
                    }
                    // A list of equal values is one length (RFC 9110 §8.6); hyper agrees.
                    let mut values = value.split(|b| *b == b',').map(|v| parse_decimal(trim(v)));
                    let first = values.next().flatten();
                    match first {
                        Some(n)
                            if values.all(|v| v == Some(n))
                                && self.head.content_length.is_none_or(|m| m == n) =>
                        {
                            self.head.content_length = Some(n)
                        }
                        _ => self.head.unreadable_length = true,
                    }
                } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                    if self.head.content_length.is_some() {
                        self.head.both = true;
                    }
                    self.head.chunked = true;
                }
                None
            }
            State::ChunkSize => {
                let digits = line
                    .split(|b| *b == b';')
                    .next()
                    .map(trim)
                    .unwrap_or_default();
                match std::str::from_utf8(digits)
                    .ok()
                    .and_then(|d| u64::from_str_radix(d, 16).ok())
                {
                    Some(0) => self.state = State::Trailers,
                    Some(n) => self.state = State::ChunkData(n),
                    None => self.state = State::Lost,
                }
                None
            }
            State::Trailers => {
                if line.is_empty() {
                    self.state = State::Head { first: true };
                }
                None
            }
            _ => None,
        }
    }
}

fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

fn trim(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    let end = bytes
        .iter()
        .rposition(|b| !b.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &bytes[start..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdicts(stream: &[u8], split: usize) -> Vec<Verdict> {
        let mut t = Tracker::new(8192);
        let mut out = Vec::new();
        for piece in stream.chunks(split.max(1)) {
            out.extend(t.feed(piece));
        }
        out
    }

    #[test]
    fn follows_heads_and_bodies_at_any_split() {
        let stream = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n\r\nTransfer-Encoding: chunked\r\nContent-Len\
GET /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n0\r\nX-Trailer: 1\r\n\r\n\
GET /c HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n";
        for split in [1, 2, 3, 7, 64, stream.len()] {
            assert_eq!(
                verdicts(stream, split),
                vec![Verdict::Clean; 3],
                "split {split}"
            );
        }
    }

    #[test]
    fn both_framing_fields_in_either_order() {
        let a = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
        let b = b"POST / HTTP/1.1\r\nHost: x\r\ntransfer-encoding: chunked\r\ncontent-length: 3\r\n\r\n0\r\n\r\n";
        assert_eq!(verdicts(a, 5), vec![Verdict::Conflicting]);
        assert_eq!(verdicts(b, 5), vec![Verdict::Conflicting]);
    }

    #[test]
    fn garbage_loses_track_for_good() {
        let stream =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(stream, 100), vec![Verdict::Clean]);
        let stream = b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(stream, 100), vec![Verdict::Conflicting]);
        let stream = b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\nhelloGET / HTTP/1.1\r\n\r\n";
        assert_eq!(verdicts(stream, 3), vec![Verdict::Clean, Verdict::Clean]);
    }
}
