//! The upstream side's HTTP/1.1 response parsing (a private, pure module of crates/upstream,
//! included here by path): a response head, then a chunked body, from arbitrary bytes split
//! into arbitrary reads. Never panics; how the bytes are split does not change the result.
//!
//! Input: 1 byte read size (+1), 1 byte choosing the request method (HEAD or GET), then bytes.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/upstream/src/h1.rs"]
mod h1;

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;

/// Feeds `stream` in pieces of `size` bytes: the head's status and framing, then the chunked
/// body bytes (when the head says chunked), or the first error.
fn run(stream: &[u8], size: usize, method: &http::Method) -> Result<(u16, Vec<u8>, bool), ()> {
    let mut buf = BytesMut::new();
    let mut pieces = stream.chunks(size);
    let head = loop {
        match h1::parse_response_head(&mut buf, method) {
            Ok(Some(head)) => break head,
            Ok(None) => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => return Err(()),
            },
            Err(_) => return Err(()),
        }
    };
    let mut body = Vec::new();
    if head.framing != h1::Framing::Chunked {
        return Ok((head.status.as_u16(), body, false));
    }
    let mut chunked = h1::Chunked::default();
    loop {
        match chunked.decode(&mut buf) {
            Ok(h1::Decoded::Data(data)) => body.extend_from_slice(&data),
            Ok(h1::Decoded::Done) => return Ok((head.status.as_u16(), body, true)),
            Ok(h1::Decoded::NeedMore) => match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => return Ok((head.status.as_u16(), body, false)),
            },
            Err(_) => return Err(()),
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let [size, method, stream @ ..] = data else {
        return;
    };
    let method = if method & 1 == 0 {
        http::Method::GET
    } else {
        http::Method::HEAD
    };
    let split = run(stream, usize::from(*size) + 1, &method);
    let whole = run(stream, stream.len().max(1), &method);
    // Bytes split into reads give the same answer as the bytes read at once, except that a
    // head found in a prefix may end before a later error would have been seen in one read.
    if let (Ok(a), Ok(b)) = (&split, &whole) {
        assert_eq!(a, b);
    }
});
