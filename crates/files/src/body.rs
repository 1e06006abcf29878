//! The response body: in-memory pieces and file segments, streamed in bounded chunks.

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use std::collections::VecDeque;
use std::fmt;
use std::io::{self, SeekFrom};
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncSeek, ReadBuf};

/// Largest chunk read from a file per frame; also the size up to which a whole file is read
/// in memory instead of streamed.
pub(crate) const CHUNK: usize = 64 * 1024;

/// Response body of a [`crate::StaticRoot`]: empty, a small in-memory chunk, or a file streamed in
/// chunks of at most 64 KiB (a large file is never read fully into memory).
///
/// `size_hint` is always exact, so hyper sends `Content-Length` rather than chunked encoding.
/// File reads go through `tokio::fs`, so the body must be polled inside a tokio runtime. If the
/// file shrinks while it is being sent, the body ends with an `UnexpectedEof` error so the
/// connection is aborted instead of delivering fewer bytes than announced.
pub struct FileBody {
    pieces: VecDeque<Piece>,
    file: Option<tokio::fs::File>,
    /// Where the file's cursor is, so a segment only costs a seek when it is not contiguous.
    pos: u64,
    seeking: bool,
    /// Kept across `Pending` so a read that is not ready yet does not re-allocate its buffer.
    buf: Option<Vec<u8>>,
    remaining: u64,
}

impl FileBody {
    /// A body with no bytes.
    pub fn empty() -> Self {
        FileBody {
            pieces: VecDeque::new(),
            file: None,
            pos: 0,
            seeking: false,
            buf: None,
            remaining: 0,
        }
    }

    /// A body made of one in-memory chunk.
    pub fn from_bytes(b: Bytes) -> Self {
        let mut body = FileBody::empty();
        body.push_bytes(b);
        body
    }

    /// A body reading `pieces` from `file`, whose cursor is currently at `pos`.
    pub(crate) fn from_file(file: tokio::fs::File, pos: u64, pieces: Vec<Piece>) -> Self {
        let mut body = FileBody::empty();
        body.file = Some(file);
        body.pos = pos;
        for piece in pieces {
            match piece {
                Piece::Bytes(b) => body.push_bytes(b),
                Piece::File { offset, len } => {
                    body.remaining = body.remaining.saturating_add(len);
                    body.pieces.push_back(Piece::File { offset, len });
                }
            }
        }
        body
    }

    fn push_bytes(&mut self, b: Bytes) {
        if !b.is_empty() {
            self.remaining = self.remaining.saturating_add(b.len() as u64);
            self.pieces.push_back(Piece::Bytes(b));
        }
    }

    /// Ends the stream after an error: hyper must not wait for bytes that will never come.
    fn fail(&mut self, e: io::Error) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        self.pieces.clear();
        self.file = None;
        self.buf = None;
        self.remaining = 0;
        Poll::Ready(Some(Err(e)))
    }
}

/// One part of a body, in sending order.
#[derive(Debug)]
pub(crate) enum Piece {
    Bytes(Bytes),
    File { offset: u64, len: u64 },
}

impl Body for FileBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        loop {
            let Some(piece) = this.pieces.front_mut() else {
                this.file = None;
                return Poll::Ready(None);
            };
            let (offset, len) = match piece {
                Piece::Bytes(b) => {
                    let b = std::mem::take(b);
                    this.pieces.pop_front();
                    this.remaining = this.remaining.saturating_sub(b.len() as u64);
                    return Poll::Ready(Some(Ok(Frame::data(b))));
                }
                Piece::File { len: 0, .. } => {
                    this.pieces.pop_front();
                    continue;
                }
                Piece::File { offset, len } => (*offset, *len),
            };
            let Some(file) = this.file.as_mut() else {
                return this.fail(io::Error::other("file body without a file"));
            };

            if this.pos != offset {
                if !this.seeking {
                    if let Err(e) = Pin::new(&mut *file).start_seek(SeekFrom::Start(offset)) {
                        return this.fail(e);
                    }
                    this.seeking = true;
                }
                let reached = match ready!(Pin::new(&mut *file).poll_complete(cx)) {
                    Ok(p) => p,
                    Err(e) => return this.fail(e),
                };
                this.seeking = false;
                if reached != offset {
                    return this.fail(io::Error::other("seek ended at the wrong offset"));
                }
                this.pos = reached;
            }

            let want = usize::try_from(len).map_or(CHUNK, |l| l.min(CHUNK));
            let buf = this.buf.get_or_insert_with(|| vec![0; want]);
            let mut read = ReadBuf::new(buf.as_mut_slice());
            if let Err(e) = ready!(Pin::new(&mut *file).poll_read(cx, &mut read)) {
                return this.fail(e);
            }
            let n = read.filled().len();
            if n == 0 {
                return this.fail(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "file shrank while it was being sent",
                ));
            }
            let mut chunk = this.buf.take().unwrap_or_default();
            chunk.truncate(n);
            let n = n as u64;
            this.pos += n;
            this.remaining = this.remaining.saturating_sub(n);
            if let Some(Piece::File { offset, len }) = this.pieces.front_mut() {
                *offset += n;
                *len = len.saturating_sub(n);
            }
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))));
        }
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

impl fmt::Debug for FileBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileBody")
            .field("remaining", &self.remaining)
            .field("pieces", &self.pieces.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_memory_sizes_are_exact() {
        let empty = FileBody::empty();
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));

        let b = FileBody::from_bytes(Bytes::from_static(b"hello"));
        assert!(!b.is_end_stream());
        assert_eq!(b.size_hint().exact(), Some(5));

        assert!(FileBody::from_bytes(Bytes::new()).is_end_stream());
    }
}
