//! Request heads of the proxy's HTTP/1 connection (a private, pure module, included here by
//! path): never panics; a head found complete is complete at the same length in any longer
//! input, and no prefix of it is complete; the request built from it passes the framing rules.
//!
//! Input: 1 byte for the field limit (`1 + b`), then the bytes the client sent.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/proxy/src/h1/head.rs"]
mod head;

use bytes::Bytes;
use head::{BodyState, Head};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&limit, stream)) = data.split_first() else {
        return;
    };
    let max_headers = 1 + usize::from(limit);
    let mut head = Head::default();
    let Ok(true) = head.parse(stream, max_headers) else {
        return;
    };
    let len = head.len;
    assert!(len <= stream.len());
    let mut again = Head::default();
    let mut longer = stream.to_vec();
    longer.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
    assert_eq!(again.parse(&longer, max_headers), Ok(true));
    assert_eq!(again.len, len);
    if len > 1 {
        assert_ne!(again.parse(&stream[..len - 1], max_headers), Ok(true));
    }
    if let Ok(parsed) = head.request(&Bytes::copy_from_slice(&stream[..len])) {
        let headers = parsed.request.headers();
        let chunked = headers.contains_key(http::header::TRANSFER_ENCODING);
        assert!(!(chunked && headers.contains_key(http::header::CONTENT_LENGTH)));
        assert_eq!(chunked, matches!(parsed.body, BodyState::Chunked(_)));
    }
});
