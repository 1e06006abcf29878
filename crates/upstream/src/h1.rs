//! HTTP/1.1 as the upstream side speaks it, without I/O: the request head encoded into one
//! buffer (one write), the response head parsed in place from the read buffer (header values
//! are slices of it, not copies), and the response body's framing (RFC 9112 §6.3) with a
//! chunked decoder. The connection code in `pool.rs` moves the bytes.

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use std::io;

/// Largest response head accepted from an upstream (status line and header fields).
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;
/// Most header fields accepted in a response head.
pub(crate) const MAX_HEADERS: usize = 128;
/// Longest chunk-size line (with extensions) or trailer line accepted.
const MAX_LINE_BYTES: usize = 4096;
/// Most trailer bytes accepted after the last chunk (they are read and dropped, as nginx does).
const MAX_TRAILER_BYTES: usize = 64 * 1024;

/// How the request body is framed on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestFraming {
    /// No body, or the client's `Content-Length` (forwarded as is).
    AsIs,
    /// The body's length is unknown: `Transfer-Encoding: chunked`.
    Chunked,
}

/// The fields that are hop-by-hop by definition (RFC 9110 §7.6.1). `Transfer-Encoding` is
/// re-decided by each hop's own framing.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// The index of `name` in [`HOP_BY_HOP`].
fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    // Cheap length filter first: the hop-by-hop names are 2, 7, 10 or 16 to 19 bytes long.
    if !matches!(name.as_str().len(), 2 | 7 | 10 | 16..=19) {
        return None;
    }
    HOP_BY_HOP.iter().position(|h| h == name)
}

/// The field names a message's `Connection` header lists (besides the `keep-alive` and `close`
/// options): hop-by-hop for this message too. Empty, without allocating, when there are none.
fn connection_named(headers: &HeaderMap) -> Vec<HeaderName> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
        .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
        .collect()
}

/// Encodes the request line and header fields of `parts` into `out`: the client's fields less
/// the hop-by-hop ones and those `set` replaces, then `set`. `Transfer-Encoding` is decided
/// here from `has_body`.
pub(crate) fn encode_request_head(
    parts: &http::request::Parts,
    has_body: bool,
    set: &[(HeaderName, HeaderValue)],
    out: &mut Vec<u8>,
) -> RequestFraming {
    let target = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
    out.extend_from_slice(parts.method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(if target.is_empty() {
        b"/"
    } else {
        target.as_bytes()
    });
    out.extend_from_slice(b" HTTP/1.1\r\n");
    let named = if parts.headers.contains_key(header::CONNECTION) {
        connection_named(&parts.headers)
    } else {
        Vec::new()
    };
    let mut has_length = false;
    let client = parts.headers.iter().filter(|(name, _)| {
        hop_by_hop_index(name).is_none()
            && !set.iter().any(|(n, _)| n == *name)
            && !named.contains(name)
    });
    for (name, value) in client.chain(set.iter().map(|(n, v)| (n, v))) {
        has_length |= name == header::CONTENT_LENGTH;
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framing = if has_body && !has_length {
        out.extend_from_slice(b"transfer-encoding: chunked\r\n");
        RequestFraming::Chunked
    } else {
        // Servers may refuse a body method without a length (411); say it is empty.
        if !has_body
            && !has_length
            && matches!(parts.method, Method::POST | Method::PUT | Method::PATCH)
        {
            out.extend_from_slice(b"content-length: 0\r\n");
        }
        RequestFraming::AsIs
    };
    out.extend_from_slice(b"\r\n");
    framing
}

/// The chunk header for `len` bytes of a chunked body (requests here, responses in the proxy's
/// HTTP/1 connection).
pub fn chunk_header(len: usize) -> Vec<u8> {
    format!("{len:x}\r\n").into_bytes()
}

/// The end of a chunked body (no trailers).
pub const LAST_CHUNK: &[u8] = b"0\r\n\r\n";

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub status: StatusCode,
    pub version: Version,
    pub headers: HeaderMap,
    pub framing: Framing,
    /// The server lets the connection carry another request after this response.
    pub keep_alive: bool,
}

/// How a response body ends (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body: `HEAD`, `204`, `304`, or `Content-Length: 0`.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
    /// Until the server closes the connection.
    Close,
}

fn invalid(message: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

/// Parses a response head from the front of `buf`. `Ok(None)`: incomplete, read more. On
/// success the head's bytes are taken off `buf`; what follows (body bytes) stays. Interim `1xx`
/// responses are returned like any other; the caller skips them.
pub(crate) fn parse_response_head(
    buf: &mut BytesMut,
    method: &Method,
) -> io::Result<Option<ResponseHead>> {
    // Offsets of each field's name and value in `buf`, so that the values can become slices of
    // the head's bytes once they are split off (no copy, no allocation per field).
    let mut spans = [(0u32, 0u32, 0u32, 0u32); MAX_HEADERS];
    let (len, code, minor, count) = {
        let mut raw = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut raw);
        let len = match response.parse(buf) {
            Ok(httparse::Status::Complete(len)) => len,
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD_BYTES => {
                return Err(invalid("response head too large"));
            }
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(httparse::Error::TooManyHeaders) => {
                return Err(invalid("too many response header fields"));
            }
            Err(_) => return Err(invalid("malformed response head")),
        };
        if len > MAX_HEAD_BYTES {
            return Err(invalid("response head too large"));
        }
        let base = buf.as_ptr() as usize;
        let offset = |s: &[u8]| (s.as_ptr() as usize - base) as u32;
        let count = response.headers.len();
        for (span, h) in spans.iter_mut().zip(response.headers.iter()) {
            let name = offset(h.name.as_bytes());
            let value = offset(h.value);
            *span = (
                name,
                name + h.name.len() as u32,
                value,
                value + h.value.len() as u32,
            );
        }
        (
            len,
            response.code.unwrap_or(0),
            response.version.unwrap_or(1),
            count,
        )
    };
    let status = StatusCode::from_u16(code).map_err(|_| invalid("invalid status code"))?;
    let version = if minor == 0 {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    };
    let bytes = buf.split_to(len).freeze();
    // Hop-by-hop fields are read here (they decide framing and reuse) and never enter the map:
    // the caller gets only what goes on to the client.
    let mut headers = HeaderMap::with_capacity(count);
    let mut keep_alive = version == Version::HTTP_11;
    let mut transfer_encoding = None; // whether the last coding is chunked
    let mut length = None;
    let mut named = Vec::new();
    for &(ns, ne, vs, ve) in &spans[..count] {
        let name = HeaderName::from_bytes(&bytes[ns as usize..ne as usize])
            .map_err(|_| invalid("invalid response header name"))?;
        let raw = &bytes[vs as usize..ve as usize];
        if hop_by_hop_index(&name).is_some() {
            if name == header::CONNECTION {
                for token in raw.split(|&b| b == b',').map(<[u8]>::trim_ascii) {
                    if token.eq_ignore_ascii_case(b"close") {
                        keep_alive = false;
                    } else if token.eq_ignore_ascii_case(b"keep-alive") {
                        keep_alive |= version == Version::HTTP_10;
                    } else if let Ok(other) = HeaderName::from_bytes(token) {
                        named.push(other);
                    }
                }
            } else if name == header::TRANSFER_ENCODING {
                let last = raw.rsplit(|&b| b == b',').next().unwrap_or_default();
                transfer_encoding = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
            }
            continue;
        }
        if name == header::CONTENT_LENGTH {
            add_content_length(raw, &mut length)?;
        }
        let value = HeaderValue::from_maybe_shared(bytes.slice(vs as usize..ve as usize))
            .map_err(|_| invalid("invalid response header value"))?;
        headers.append(name, value);
    }
    for name in named {
        headers.remove(name);
    }

    let framing = if status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
        || method == Method::HEAD
    {
        Framing::Empty
    } else if let Some(chunked) = transfer_encoding {
        // A message with both is a smuggling attempt or a broken server: the body is read as
        // the coding says, the length is dropped, and the connection is not reused (RFC 9112
        // §6.3, point 3).
        if headers.remove(header::CONTENT_LENGTH).is_some() {
            keep_alive = false;
        }
        if chunked {
            Framing::Chunked
        } else {
            keep_alive = false;
            Framing::Close
        }
    } else {
        match length {
            Some(0) => Framing::Empty,
            Some(n) => Framing::Length(n),
            None => {
                keep_alive = false;
                Framing::Close
            }
        }
    };
    Ok(Some(ResponseHead {
        status,
        version,
        headers,
        framing,
        keep_alive,
    }))
}

/// One `Content-Length` field: every field and every list member must be the same decimal
/// number (RFC 9110 §8.6). Shared by both sides: responses here, requests in the proxy's
/// HTTP/1 connection.
pub fn add_content_length(value: &[u8], length: &mut Option<u64>) -> io::Result<()> {
    for member in value.split(|&b| b == b',') {
        let digits = member.trim_ascii();
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return Err(invalid("invalid Content-Length"));
        }
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        if length.is_some_and(|l| l != n) {
            return Err(invalid("conflicting Content-Length values"));
        }
        *length = Some(n);
    }
    Ok(())
}

/// What the chunked decoder found in the buffer.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded {
    /// Body bytes.
    Data(Bytes),
    /// The buffer ends inside a chunk-size line, a chunk's CRLF or the trailers.
    NeedMore,
    /// The last chunk and the trailers were read: the body is complete.
    Done,
}

/// A `Transfer-Encoding: chunked` decoder over the connection's read buffer.
#[derive(Debug, Default)]
pub struct Chunked {
    state: ChunkState,
    trailer_bytes: usize,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum ChunkState {
    #[default]
    Size,
    Data(u64),
    DataEnd,
    Trailers,
    Done,
}

impl Chunked {
    /// Decodes from the front of `buf`, consuming what it used.
    pub fn decode(&mut self, buf: &mut BytesMut) -> io::Result<Decoded> {
        loop {
            match self.state {
                ChunkState::Size => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    let size = chunk_size(&line)?;
                    self.state = if size == 0 {
                        ChunkState::Trailers
                    } else {
                        ChunkState::Data(size)
                    };
                }
                ChunkState::Data(left) => {
                    if buf.is_empty() {
                        return Ok(Decoded::NeedMore);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        ChunkState::DataEnd
                    } else {
                        ChunkState::Data(left)
                    };
                    return Ok(Decoded::Data(buf.split_to(n).freeze()));
                }
                ChunkState::DataEnd => {
                    if buf.len() < 2 {
                        return Ok(Decoded::NeedMore);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(invalid("chunk data not followed by CRLF"));
                    }
                    let _ = buf.split_to(2);
                    self.state = ChunkState::Size;
                }
                ChunkState::Trailers => {
                    let Some(line) = take_line(buf)? else {
                        return Ok(Decoded::NeedMore);
                    };
                    self.trailer_bytes += line.len() + 2;
                    if self.trailer_bytes > MAX_TRAILER_BYTES {
                        return Err(invalid("trailers too large"));
                    }
                    if line.is_empty() {
                        self.state = ChunkState::Done;
                    }
                }
                ChunkState::Done => return Ok(Decoded::Done),
            }
        }
    }
}

/// Takes one CRLF-terminated line off the front of `buf` (without the CRLF).
fn take_line(buf: &mut BytesMut) -> io::Result<Option<BytesMut>> {
    let window = &buf[..buf.len().min(MAX_LINE_BYTES + 2)];
    match window.windows(2).position(|w| w == b"\r\n") {
        Some(end) => {
            let line = buf.split_to(end);
            let _ = buf.split_to(2);
            Ok(Some(line))
        }
        None if buf.len() >= MAX_LINE_BYTES + 2 => Err(invalid("chunk line too long")),
        None => Ok(None),
    }
}

/// `chunk-size [ chunk-ext ]`: hexadecimal digits, then extensions (ignored).
fn chunk_size(line: &[u8]) -> io::Result<u64> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let rest = line[digits..].trim_ascii_start();
    if digits == 0 || digits > 15 || !(rest.is_empty() || rest[0] == b';') {
        return Err(invalid("invalid chunk size"));
    }
    Ok(line[..digits].iter().fold(0u64, |n, &d| {
        let v = (d as char).to_digit(16).unwrap_or(0);
        n * 16 + u64::from(v)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(text: &str, method: &Method) -> (io::Result<Option<ResponseHead>>, BytesMut) {
        let mut buf = BytesMut::from(text);
        (parse_response_head(&mut buf, method), buf)
    }

    #[test]
    fn encodes_a_request_head_in_one_buffer() {
        let request = http::Request::get("/a?b=1")
            .header("host", "example.com")
            .header("cookie", "uid=1")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        let mut out = Vec::new();
        assert_eq!(
            encode_request_head(&parts, false, &[], &mut out),
            RequestFraming::AsIs
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET /a?b=1 HTTP/1.1\r\nhost: example.com\r\ncookie: uid=1\r\n\r\n"
        );
    }

    #[test]
    fn a_body_of_unknown_length_is_chunked_and_an_empty_post_says_so() {
        let (parts, ()) = http::Request::post("/")
            .header("transfer-encoding", "chunked")
            .body(())
            .unwrap()
            .into_parts();
        let mut out = Vec::new();
        assert_eq!(
            encode_request_head(&parts, true, &[], &mut out),
            RequestFraming::Chunked
        );
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.matches("transfer-encoding").count(), 1, "{text}");
        let mut out = Vec::new();
        encode_request_head(&parts, false, &[], &mut out);
        assert!(
            String::from_utf8(out)
                .unwrap()
                .contains("content-length: 0\r\n")
        );
    }

    #[test]
    fn hop_by_hop_connection_named_and_replaced_fields_are_not_sent() {
        let (parts, ()) = http::Request::get("/")
            .header("host", "a.com")
            .header("connection", "keep-alive, X-Secret")
            .header("x-secret", "1")
            .header("keep-alive", "timeout=5")
            .header("te", "trailers")
            .header("upgrade", "websocket")
            .header("proxy-connection", "keep-alive")
            .header("x-forwarded-for", "10.0.0.1")
            .header("x-kept", "yes")
            .body(())
            .unwrap()
            .into_parts();
        let set = [(
            HeaderName::from_static("x-forwarded-for"),
            HeaderValue::from_static("10.0.0.1, 203.0.113.9"),
        )];
        let mut out = Vec::new();
        encode_request_head(&parts, false, &set, &mut out);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "GET / HTTP/1.1\r\nhost: a.com\r\nx-kept: yes\r\n\
             x-forwarded-for: 10.0.0.1, 203.0.113.9\r\n\r\n"
        );
    }

    #[test]
    fn hop_by_hop_response_fields_never_reach_the_map() {
        let (parsed, _) = head(
            "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Internal\r\nKeep-Alive: timeout=5\r\n\
             X-Internal: 1\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\nX-Kept: y\r\n\r\n",
            &Method::GET,
        );
        let h = parsed.unwrap().unwrap();
        let left: Vec<&str> = h.headers.keys().map(|k| k.as_str()).collect();
        assert_eq!(left, ["x-kept"]);
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
    }

    #[test]
    fn parses_a_head_and_leaves_the_body_in_the_buffer() {
        let (parsed, rest) = head(
            "HTTP/1.1 200 OK\r\nContent-Length: 6\r\nX-A: b\r\n\r\nstable",
            &Method::GET,
        );
        let h = parsed.unwrap().unwrap();
        assert_eq!(h.status, StatusCode::OK);
        assert_eq!(h.framing, Framing::Length(6));
        assert!(h.keep_alive);
        assert_eq!(h.headers["x-a"], "b");
        assert_eq!(&rest[..], b"stable");
    }

    #[test]
    fn an_incomplete_head_asks_for_more_and_a_huge_one_is_refused() {
        let partial = "HTTP/1.1 200 OK\r\nContent-Len";
        let (parsed, rest) = head(partial, &Method::GET);
        assert!(parsed.unwrap().is_none());
        assert_eq!(rest.len(), partial.len(), "nothing consumed");
        let huge = format!("HTTP/1.1 200 OK\r\nX: {}", "a".repeat(MAX_HEAD_BYTES));
        assert!(head(&huge, &Method::GET).0.is_err());
    }

    #[test]
    fn framing_follows_rfc_9112() {
        let framing = |text: &str, method: &Method| head(text, method).0.unwrap().unwrap();
        let h = framing(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
            &Method::HEAD,
        );
        assert_eq!(h.framing, Framing::Empty);
        let h = framing("HTTP/1.1 204 No Content\r\n\r\n", &Method::GET);
        assert_eq!((h.framing, h.keep_alive), (Framing::Empty, true));
        let h = framing("HTTP/1.1 200 OK\r\n\r\n", &Method::GET);
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = framing(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
            &Method::GET,
        );
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, true));
        let h = framing(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
            &Method::GET,
        );
        assert_eq!((h.framing, h.keep_alive), (Framing::Chunked, false));
        let h = framing(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
            &Method::GET,
        );
        assert_eq!((h.framing, h.keep_alive), (Framing::Close, false));
        let h = framing(
            "HTTP/1.1 200 OK\r\nContent-Length: 3, 3\r\n\r\n",
            &Method::GET,
        );
        assert_eq!(h.framing, Framing::Length(3));
        let h = framing("HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n", &Method::GET);
        assert!(!h.keep_alive);
        let h = framing(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 3\r\n\r\n",
            &Method::GET,
        );
        assert!(h.keep_alive);
        let h = framing(
            "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 3\r\n\r\n",
            &Method::GET,
        );
        assert!(!h.keep_alive);
        let h = framing("HTTP/1.1 100 Continue\r\n\r\n", &Method::POST);
        assert!(h.status.is_informational());
    }

    #[test]
    fn bad_lengths_and_heads_are_errors() {
        for text in [
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n",
            "HTTP/1.1 2000 OK\r\n\r\n",
            "HTTP/2 200 OK\r\n\r\n",
            "garbage\r\n\r\n",
        ] {
            assert!(head(text, &Method::GET).0.is_err(), "{text:?}");
        }
    }

    fn decode_all(chunked: &mut Chunked, buf: &mut BytesMut) -> io::Result<(Vec<u8>, bool)> {
        let mut out = Vec::new();
        loop {
            match chunked.decode(buf)? {
                Decoded::Data(d) => out.extend_from_slice(&d),
                Decoded::NeedMore => return Ok((out, false)),
                Decoded::Done => return Ok((out, true)),
            }
        }
    }

    #[test]
    fn decodes_chunks_across_any_split() {
        let wire = b"5;ext=1\r\nhello\r\n1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\nNEXT";
        for split in 0..wire.len() {
            let mut chunked = Chunked::default();
            let mut buf = BytesMut::from(&wire[..split]);
            let (mut body, done) = decode_all(&mut chunked, &mut buf).unwrap();
            assert!(!done || split >= wire.len() - 4);
            buf.extend_from_slice(&wire[split..]);
            let (rest, done) = decode_all(&mut chunked, &mut buf).unwrap();
            body.extend_from_slice(&rest);
            assert!(done, "split at {split}");
            assert_eq!(body, b"hello world!");
            assert_eq!(&buf[..], b"NEXT");
        }
    }

    #[test]
    fn bad_chunks_are_errors() {
        for wire in [
            &b"x\r\n"[..],
            b"5\r\nhelloXX",
            b"-1\r\n",
            b"1000000000000000\r\n",
            b"5 junk\r\n",
        ] {
            let mut chunked = Chunked::default();
            let mut buf = BytesMut::from(wire);
            assert!(decode_all(&mut chunked, &mut buf).is_err(), "{wire:?}");
        }
        let mut chunked = Chunked::default();
        let mut buf = BytesMut::from(&[b'1'; MAX_LINE_BYTES + 10][..]);
        assert!(chunked.decode(&mut buf).is_err());
    }
}
