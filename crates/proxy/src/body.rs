//! The response body type of the pipeline: one enum over every source, so no response is boxed.

use bytes::Bytes;
use graygate_files::FileBody;
use graygate_upstream::PooledBody;
use http_body::{Body, Frame, SizeHint};
use hyper::body::Incoming;
use std::pin::Pin;
use std::task::{Context, Poll};

pub enum ProxyBody {
    Full(Option<Bytes>),
    File(FileBody),
    Upstream(PooledBody<Incoming>),
}

impl ProxyBody {
    pub fn text(text: &'static str) -> ProxyBody {
        ProxyBody::Full(Some(Bytes::from_static(text.as_bytes())))
    }
}

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Body for ProxyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            ProxyBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            ProxyBody::File(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            ProxyBody::Upstream(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ProxyBody::Full(data) => data.is_none(),
            ProxyBody::File(body) => body.is_end_stream(),
            ProxyBody::Upstream(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ProxyBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ProxyBody::File(body) => body.size_hint(),
            ProxyBody::Upstream(body) => body.size_hint(),
        }
    }
}
