//! Body types of the pipeline. Responses: one enum over every source, so nothing is boxed, and
//! the log phase riding along to the end of the body. Requests: the client's body (HTTP/1 or
//! HTTP/2), counted.

use crate::log::LogPhase;
use bytes::Bytes;
use graygate_files::FileBody;
use graygate_upstream::PooledBody;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::cell::Cell;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Where a response's bytes come from.
pub enum Source {
    Full(Option<Bytes>),
    File(FileBody),
    Upstream(PooledBody),
}

impl Source {
    pub fn text(text: &'static str) -> Source {
        Source::Full(Some(Bytes::from_static(text.as_bytes())))
    }
}

/// A response body: its source, and the log phase that runs when it ends.
pub struct ProxyBody {
    source: Source,
    log: Option<LogPhase>,
}

impl ProxyBody {
    pub fn new(source: Source) -> ProxyBody {
        ProxyBody { source, log: None }
    }

    pub fn with_log(mut self, log: LogPhase) -> ProxyBody {
        self.log = Some(log);
        self
    }
}

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled: Poll<Option<Result<Frame<Bytes>, BoxError>>> = match &mut this.source {
            Source::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            Source::File(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Source::Upstream(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        };
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let (Some(log), Some(data)) = (&mut this.log, frame.data_ref()) {
                    log.bytes_out += data.len() as u64;
                }
            }
            // The end of the body, or a broken one: the log phase runs now.
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => this.log = None,
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.source {
            Source::Full(data) => data.is_none(),
            Source::File(body) => body.is_end_stream(),
            Source::Upstream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.source {
            Source::Full(data) => SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64)),
            Source::File(body) => body.size_hint(),
            Source::Upstream(body) => body.size_hint(),
        }
    }
}

/// A client's request body: read by graygate's own HTTP/1 connection, or by hyper's HTTP/2.
pub enum ClientBody {
    H1(crate::h1::RequestBody),
    H2(Incoming),
}

/// The client's request body on its way upstream, counting bytes for the access log.
pub struct CountedBody {
    inner: ClientBody,
    count: Rc<Cell<u64>>,
}

impl CountedBody {
    pub fn new(inner: ClientBody, count: Rc<Cell<u64>>) -> CountedBody {
        CountedBody { inner, count }
    }
}

impl Body for CountedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled: Poll<Option<Result<Frame<Bytes>, BoxError>>> = match &mut self.inner {
            ClientBody::H1(body) => Pin::new(body).poll_frame(cx),
            ClientBody::H2(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        };
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(data) = frame.data_ref()
        {
            self.count.set(self.count.get() + data.len() as u64);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        match &self.inner {
            ClientBody::H1(body) => body.is_end_stream(),
            ClientBody::H2(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            ClientBody::H1(body) => body.size_hint(),
            ClientBody::H2(body) => body.size_hint(),
        }
    }
}
