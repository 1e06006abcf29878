//! The HTTP/1.1 framing tracker of the proxy (a private, pure module, included here by path):
//! never panics, and how the byte stream is split into reads does not change the verdicts.
//!
//! Input: 2 bytes (little-endian) for `max_line - 1`, 1 byte `k` (mod 16), `k` bytes of read
//! sizes (cycled), then the byte stream.
#![no_main]

#[allow(dead_code)]
#[path = "../../crates/proxy/src/framing/tracker.rs"]
mod tracker;

use tracker::{Tracker, Verdict};
use libfuzzer_sys::fuzz_target;

/// The verdicts, and whether the tracker ends inside a request head.
fn feed_split(max_line: usize, stream: &[u8], sizes: &[usize]) -> (Vec<Verdict>, bool) {
    let mut tracker = Tracker::new(max_line);
    let mut out = Vec::new();
    let mut rest = stream;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].min(rest.len());
        let (piece, tail) = rest.split_at(n);
        tracker.feed(piece, |v| out.push(v));
        // An empty read must not change anything either.
        tracker.feed(&[], |v| out.push(v));
        rest = tail;
        i += 1;
    }
    (out, tracker.in_head())
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let max_line = usize::from(u16::from_le_bytes([data[0], data[1]])) + 1;
    let k = usize::from(data[2] % 16);
    let Some(split_bytes) = data.get(3..3 + k) else {
        return;
    };
    let stream = &data[3 + k..];

    let mut tracker = Tracker::new(max_line);
    let mut verdicts = Vec::new();
    tracker.feed(stream, |v| verdicts.push(v));
    assert!(verdicts.len() <= stream.iter().filter(|b| **b == b'\n').count());
    let one_shot = (verdicts, tracker.in_head());

    let sizes: Vec<usize> = if split_bytes.is_empty() {
        vec![1]
    } else {
        split_bytes.iter().map(|b| usize::from(*b) + 1).collect()
    };
    assert_eq!(
        feed_split(max_line, stream, &sizes),
        one_shot,
        "verdicts depend on the read sizes {sizes:?}"
    );
    if stream.len() <= 4096 {
        assert_eq!(
            feed_split(max_line, stream, &[1]),
            one_shot,
            "verdicts differ when fed byte by byte"
        );
    }
});
