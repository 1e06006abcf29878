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

/// A socket whose incoming bytes are followed by a [`Tracker`]. It also keeps the worker's
/// `reading` gauge (connections in the middle of a request head), as nginx counts it, and notes
/// since when writes have been blocked (the client is not reading) for the send timeout.
pub struct Watched<T> {
    inner: T,
    tracker: Tracker,
    verdicts: Rc<Verdicts>,
    worker: Rc<Worker>,
    write_blocked: Rc<Cell<Option<Instant>>>,
}

impl<T> Watched<T> {
    pub fn new(
        inner: T,
        max_line: usize,
        worker: Rc<Worker>,
        write_blocked: Rc<Cell<Option<Instant>>>,
    ) -> (Watched<T>, Rc<Verdicts>) {
        let verdicts = Rc::new(Verdicts::default());
        let watched = Watched {
            inner,
            tracker: Tracker::new(max_line),
            verdicts: verdicts.clone(),
            worker,
            write_blocked,
        };
        (watched, verdicts)
    }

    /// A write that cannot proceed starts the send-timeout clock; one that does stops it.
    fn note_write<R>(&self, polled: &Poll<R>) {
        match polled {
            Poll::Pending if self.write_blocked.get().is_none() => {
                self.write_blocked.set(Some(Instant::now()))
            }
            Poll::Pending => {}
            Poll::Ready(_) => self.write_blocked.set(None),
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
                match (was_reading, this.tracker.in_head()) {
                    (false, true) => this.worker.cells().reading.inc(),
                    (true, false) => this.worker.cells().reading.dec(),
                    _ => {}
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
