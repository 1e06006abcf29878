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

mod tracker;

pub use tracker::{Tracker, Verdict};

use crate::worker::Worker;
use hyper::rt::{Read, ReadBufCursor, Write};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Instant;

/// Verdicts shared between the socket wrapper and the connection's requests.
#[derive(Debug, Default)]
pub struct Verdicts {
    queue: RefCell<VecDeque<Verdict>>,
    /// The tracker lost track of the stream: requests without a verdict of their own are suspect.
    lost: Cell<bool>,
}

impl Verdicts {
    /// The verdict for the next request on the connection.
    pub fn next(&self) -> Verdict {
        let queued = self.queue.borrow_mut().pop_front();
        queued.unwrap_or(if self.lost.get() {
            Verdict::Conflicting
        } else {
            Verdict::Clean
        })
    }
}

/// The clocks of one client connection's timeouts, kept by its [`Watched`] socket and read by
/// the connection's driver.
#[derive(Debug, Default)]
pub struct Clocks {
    /// Since when a request head has been arriving (from accept for the first request), while
    /// one is incomplete: nginx's `client_header_timeout`.
    pub head_started: Cell<Option<Instant>>,
    /// Since when writing to the client has been blocked (it is not reading): nginx's
    /// `send_timeout`.
    pub write_blocked: Cell<Option<Instant>>,
}

impl Clocks {
    /// The clocks of a connection accepted now: waiting for its first request head.
    pub fn accepted() -> Rc<Clocks> {
        Rc::new(Clocks {
            head_started: Cell::new(Some(Instant::now())),
            write_blocked: Cell::new(None),
        })
    }
}

/// A socket whose incoming bytes are followed by a [`Tracker`]. It also keeps the worker's
/// `reading` gauge (connections in the middle of a request head), as nginx counts it, and the
/// connection's [`Clocks`].
pub struct Watched<T> {
    inner: T,
    tracker: Tracker,
    verdicts: Rc<Verdicts>,
    worker: Rc<Worker>,
    clocks: Rc<Clocks>,
}

impl<T> Watched<T> {
    pub fn new(
        inner: T,
        max_line: usize,
        worker: Rc<Worker>,
        clocks: Rc<Clocks>,
    ) -> (Watched<T>, Rc<Verdicts>) {
        let verdicts = Rc::new(Verdicts::default());
        let watched = Watched {
            inner,
            tracker: Tracker::new(max_line),
            verdicts: verdicts.clone(),
            worker,
            clocks,
        };
        (watched, verdicts)
    }

    /// A write that cannot proceed starts the send-timeout clock; one that does stops it.
    fn note_write<R>(&self, polled: &Poll<R>) {
        let blocked = &self.clocks.write_blocked;
        match polled {
            Poll::Pending if blocked.get().is_none() => blocked.set(Some(Instant::now())),
            Poll::Pending => {}
            Poll::Ready(_) => blocked.set(None),
        }
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
                let queue = &this.verdicts.queue;
                this.tracker
                    .feed(filled, |verdict| queue.borrow_mut().push_back(verdict));
                let in_head = this.tracker.in_head();
                match (was_reading, in_head) {
                    (false, true) => this.worker.cells().reading.inc(),
                    (true, false) => this.worker.cells().reading.dec(),
                    _ => {}
                }
                // A head that arrived whole in this read never starts the clock (no clock read,
                // no timer); one left incomplete does, unless it is already running.
                let started = &this.clocks.head_started;
                if !in_head {
                    started.set(None);
                } else if started.get().is_none() {
                    started.set(Some(Instant::now()));
                }
                if this.tracker.lost() {
                    this.verdicts.lost.set(true);
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
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.note_write(&polled);
        polled
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.note_write(&polled);
        polled
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
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.note_write(&polled);
        polled
    }
}
