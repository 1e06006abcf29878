//! Request heads of graygate's HTTP/1 connection: parsed in place, then turned into a request
//! with the framing of its body. Pure (no I/O), so it can be tested and fuzzed on its own.

use bytes::Bytes;
use graygate_upstream::{Chunked, add_content_length};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Version};
use std::mem::MaybeUninit;

/// Header fields parsed into a stack array; a configuration allowing more uses the heap.
const STACK_FIELDS: usize = 128;

/// How the body of a request is framed, and how much of it is still to come.
#[derive(Debug)]
pub(crate) enum BodyState {
    /// Bytes of the body still to come.
    Length(u64),
    Chunked(Chunked),
    /// No body, or all of it was read.
    Done,
}

/// Where the parts of a parsed request head are, as offsets into it: the parse runs on the
/// connection's buffer, the request is built from the head split off it (values then share its
/// bytes instead of being copied).
#[derive(Default)]
pub(crate) struct Head {
    pub(crate) len: usize,
    method: (usize, usize),
    target: (usize, usize),
    minor_version: u8,
    /// Name and value spans of every field; reused from request to request.
    fields: Vec<((usize, usize), (usize, usize))>,
}

/// A request ready for the pipeline, and what the connection must know of it.
pub(crate) struct Parsed {
    pub(crate) request: Request<()>,
    pub(crate) body: BodyState,
    pub(crate) keep_alive: bool,
    pub(crate) expect_continue: bool,
}

impl Head {
    /// Parses `buf`: true once a whole head is there. Errors are the status to refuse with.
    pub(crate) fn parse(&mut self, buf: &[u8], max_headers: usize) -> Result<bool, StatusCode> {
        if max_headers <= STACK_FIELDS {
            let mut fields =
                [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_FIELDS];
            self.parse_into(buf, &mut fields[..max_headers])
        } else {
            let mut fields = Vec::new();
            fields.resize_with(max_headers, MaybeUninit::uninit);
            self.parse_into(buf, &mut fields)
        }
    }

    fn parse_into<'b>(
        &mut self,
        buf: &'b [u8],
        fields: &mut [MaybeUninit<httparse::Header<'b>>],
    ) -> Result<bool, StatusCode> {
        let mut request = httparse::Request::new(&mut []);
        let status = httparse::ParserConfig::default()
            .parse_request_with_uninit_headers(&mut request, buf, fields)
            .map_err(|e| match e {
                httparse::Error::TooManyHeaders => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
                _ => StatusCode::BAD_REQUEST,
            })?;
        let httparse::Status::Complete(len) = status else {
            return Ok(false);
        };
        let span = |part: &[u8]| (part.as_ptr() as usize - buf.as_ptr() as usize, part.len());
        self.len = len;
        self.method = span(request.method.unwrap_or("").as_bytes());
        self.target = span(request.path.unwrap_or("").as_bytes());
        self.minor_version = request.version.unwrap_or(1);
        self.fields.clear();
        self.fields.extend(
            request
                .headers
                .iter()
                .map(|f| (span(f.name.as_bytes()), span(f.value))),
        );
        Ok(true)
    }

    /// The request the head describes, from `bytes` (the head split off the buffer); refuses
    /// framing a front proxy must not pass on.
    pub(crate) fn request(&self, bytes: &Bytes) -> Result<Parsed, StatusCode> {
        let part = |(at, len): (usize, usize)| bytes.slice(at..at + len);
        let bad = StatusCode::BAD_REQUEST;
        let method = Method::from_bytes(&part(self.method)).map_err(|_| bad)?;
        let uri = http::Uri::from_maybe_shared(part(self.target)).map_err(|_| bad)?;
        let version = match self.minor_version {
            0 => Version::HTTP_10,
            _ => Version::HTTP_11,
        };
        let mut headers = HeaderMap::with_capacity(self.fields.len());
        let mut length: Option<u64> = None;
        let mut chunked = false;
        let mut transfer_encoding = false;
        let mut close = version == Version::HTTP_10;
        let mut expect_continue = false;
        for &(name, value) in &self.fields {
            let name = HeaderName::from_bytes(&part(name)).map_err(|_| bad)?;
            let value = HeaderValue::from_maybe_shared(part(value)).map_err(|_| bad)?;
            match name {
                header::CONTENT_LENGTH => {
                    add_content_length(value.as_bytes(), &mut length).map_err(|_| bad)?;
                }
                header::TRANSFER_ENCODING => {
                    // Only `chunked`, once: other codings cannot be framed (hyper and nginx refuse
                    // them too).
                    if chunked
                        || !value
                            .as_bytes()
                            .trim_ascii()
                            .eq_ignore_ascii_case(b"chunked")
                    {
                        return Err(bad);
                    }
                    transfer_encoding = true;
                    chunked = true;
                }
                header::CONNECTION => {
                    if has_token(value.as_bytes(), b"close") {
                        close = true;
                    } else if has_token(value.as_bytes(), b"keep-alive") {
                        close = false;
                    }
                }
                header::EXPECT => {
                    expect_continue = value.as_bytes().eq_ignore_ascii_case(b"100-continue");
                }
                _ => {}
            }
            headers.append(name, value);
        }
        // RFC 9112 §6.1 and §6.3: a length beside a transfer coding is a smuggling attempt, and
        // HTTP/1.0 has no transfer codings.
        if transfer_encoding && (length.is_some() || version == Version::HTTP_10) {
            return Err(bad);
        }
        let body = match (chunked, length) {
            (true, _) => BodyState::Chunked(Chunked::default()),
            (false, Some(n)) if n > 0 => BodyState::Length(n),
            _ => BodyState::Done,
        };
        let mut request = Request::new(());
        *request.method_mut() = method;
        *request.uri_mut() = uri;
        *request.version_mut() = version;
        *request.headers_mut() = headers;
        Ok(Parsed {
            request,
            body,
            keep_alive: !close,
            expect_continue,
        })
    }
}

/// Whether a comma-separated field value holds `token` (any case).
pub(crate) fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|&b| b == b',')
        .any(|t| t.trim_ascii().eq_ignore_ascii_case(token))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<Parsed, StatusCode> {
        let mut head = Head::default();
        assert_eq!(head.parse(text, 100), Ok(true));
        head.request(&Bytes::copy_from_slice(&text[..head.len]))
    }

    #[test]
    fn framing_is_read_from_the_head() {
        let p = parse(b"POST /a?b HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello").unwrap();
        assert!(matches!(p.body, BodyState::Length(5)));
        assert!(p.keep_alive);
        assert_eq!(p.request.uri(), "/a?b");
        assert_eq!(p.request.headers()["host"], "x");
        let p = parse(b"POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n").unwrap();
        assert!(matches!(p.body, BodyState::Chunked(_)));
        let p = parse(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        assert!(!p.keep_alive);
        let p = parse(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").unwrap();
        assert!(p.keep_alive);
        let p = parse(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n").unwrap();
        assert!(!p.keep_alive);
        let p =
            parse(b"PUT / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n").unwrap();
        assert!(p.expect_continue);
        let p =
            parse(b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n").unwrap();
        assert!(matches!(p.body, BodyState::Length(5)));
        let p = parse(b"POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n").unwrap();
        assert!(matches!(p.body, BodyState::Length(5)));
    }

    #[test]
    fn dangerous_framing_is_refused() {
        let bad = StatusCode::BAD_REQUEST;
        for text in [
            &b"POST / HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"[..],
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 5, 6\r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n",
            b"POST / HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n",
        ] {
            assert_eq!(
                parse(text).err(),
                Some(bad),
                "{}",
                String::from_utf8_lossy(text)
            );
        }
    }

    #[test]
    fn heads_arrive_in_pieces_and_have_limits() {
        let mut head = Head::default();
        assert_eq!(head.parse(b"GET / HTTP/1.1\r\nHo", 100), Ok(false));
        assert_eq!(
            head.parse(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nnext", 100),
            Ok(true)
        );
        assert_eq!(head.len, 27);
        let many: Vec<u8> = [&b"GET / HTTP/1.1\r\n"[..], &b"A: b\r\n".repeat(5), b"\r\n"].concat();
        assert_eq!(
            head.parse(&many, 4),
            Err(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE)
        );
        assert_eq!(head.parse(&many, 200), Ok(true));
        assert_eq!(
            head.parse(b"GET / HTTP/1.1\r\nA: b\r\n c\r\n\r\n", 100),
            Err(StatusCode::BAD_REQUEST)
        );
    }
}
