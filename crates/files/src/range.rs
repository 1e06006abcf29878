//! The `Range` header (RFC 9110 §14.1.2), for the `bytes` unit only.

/// More parts than this (after coalescing) get the whole file instead: many small parts cost far
/// more to send than they save, and are a known amplification trick (RFC 9110 §14.2).
const MAX_PARTS: usize = 16;

/// What a `Range` header asks of a representation of `len` bytes.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Ranges {
    /// Not a byte range we understand, or not worth honouring: send the whole file (200).
    Ignore,
    /// Valid, but no range overlaps the file: 416.
    Unsatisfiable,
    /// Inclusive `(first, last)` byte positions, sorted, non-overlapping and non-adjacent.
    Satisfiable(Vec<(u64, u64)>),
}

pub(crate) fn parse(value: &str, len: u64) -> Ranges {
    let Some((unit, set)) = value.split_once('=') else {
        return Ranges::Ignore;
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ranges::Ignore;
    }
    let mut specs = 0usize;
    let mut ranges = Vec::new();
    // Empty list elements are allowed by the list syntax (RFC 9110 §5.6.1).
    for spec in set.split(',').map(|s| s.trim_matches([' ', '\t'])) {
        if spec.is_empty() {
            continue;
        }
        specs += 1;
        let Some((first, last)) = spec.split_once('-') else {
            return Ranges::Ignore;
        };
        if first.is_empty() {
            let Some(suffix) = digits(last) else {
                return Ranges::Ignore;
            };
            if suffix > 0 && len > 0 {
                ranges.push((len - suffix.min(len), len - 1));
            }
            continue;
        }
        let Some(first) = digits(first) else {
            return Ranges::Ignore;
        };
        let last = if last.is_empty() {
            u64::MAX
        } else {
            match digits(last) {
                Some(l) if l >= first => l,
                _ => return Ranges::Ignore,
            }
        };
        if first < len {
            ranges.push((first, last.min(len - 1)));
        }
    }
    if specs == 0 {
        return Ranges::Ignore;
    }
    if ranges.is_empty() {
        return Ranges::Unsatisfiable;
    }
    let ranges = coalesce(ranges);
    if ranges.len() > MAX_PARTS {
        return Ranges::Ignore;
    }
    Ranges::Satisfiable(ranges)
}

/// Merges overlapping and adjacent ranges, which RFC 9110 §14.6 allows regardless of the order
/// the client asked in; this also defeats `bytes=0-,0-,0-,...` amplification.
fn coalesce(mut ranges: Vec<(u64, u64)>) -> Vec<(u64, u64)> {
    ranges.sort_unstable();
    let mut merged: Vec<(u64, u64)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            Some(prev) if first <= prev.1.saturating_add(1) => prev.1 = prev.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

/// A non-empty run of ASCII digits. Values too large for `u64` saturate, which gives the right
/// answer for every position: a huge first byte is past the end, a huge last byte or suffix
/// means "to the end".
fn digits(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(s.bytes().fold(0u64, |n, b| {
        n.saturating_mul(10).saturating_add(u64::from(b - b'0'))
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(v: &[(u64, u64)]) -> Ranges {
        Ranges::Satisfiable(v.to_vec())
    }

    #[test]
    fn single_forms() {
        assert_eq!(parse("bytes=0-9", 100), ok(&[(0, 9)]));
        assert_eq!(parse("bytes=10-", 100), ok(&[(10, 99)]));
        assert_eq!(parse("bytes=-10", 100), ok(&[(90, 99)]));
        assert_eq!(parse("bytes=-1000", 100), ok(&[(0, 99)]));
        assert_eq!(parse("bytes=90-1000", 100), ok(&[(90, 99)]));
        assert_eq!(parse("BYTES=0-0", 100), ok(&[(0, 0)]));
        assert_eq!(parse("bytes= 5-6 ", 100), ok(&[(5, 6)]));
        assert_eq!(
            parse("bytes=0-99999999999999999999999", 100),
            ok(&[(0, 99)])
        );
        assert_eq!(parse("bytes=-99999999999999999999999", 100), ok(&[(0, 99)]));
    }

    #[test]
    fn unsatisfiable() {
        assert_eq!(parse("bytes=100-", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=100-200", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=-0", 100), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=-5", 0), Ranges::Unsatisfiable);
        assert_eq!(parse("bytes=0-", 0), Ranges::Unsatisfiable);
        assert_eq!(
            parse("bytes=99999999999999999999999-", 100),
            Ranges::Unsatisfiable
        );
        assert_eq!(parse("bytes=200-300, 400-", 100), Ranges::Unsatisfiable);
    }

    #[test]
    fn invalid_is_ignored() {
        for v in [
            "",
            "bytes",
            "bytes=",
            "bytes=,",
            "bytes=5",
            "bytes=9-5",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
            "bytes=1-2-3",
            "bytes=1 -2",
            "items=0-1",
            "bytes=0-1,x",
        ] {
            assert_eq!(parse(v, 100), Ranges::Ignore, "{v:?}");
        }
    }

    #[test]
    fn several() {
        assert_eq!(parse("bytes=0-1,5-6", 100), ok(&[(0, 1), (5, 6)]));
        assert_eq!(parse("bytes=5-6,0-1", 100), ok(&[(0, 1), (5, 6)]));
        assert_eq!(parse("bytes=0-1,2-3", 100), ok(&[(0, 3)]));
        assert_eq!(parse("bytes=0-,0-,0-", 100), ok(&[(0, 99)]));
        assert_eq!(parse("bytes=0-10,5-6,-3", 100), ok(&[(0, 10), (97, 99)]));
        assert_eq!(parse("bytes=200-,0-1", 100), ok(&[(0, 1)]));
        assert_eq!(parse("bytes=0-1,,5-6,", 100), ok(&[(0, 1), (5, 6)]));
    }

    #[test]
    fn too_many_parts() {
        let many: Vec<String> = (0..=MAX_PARTS as u64)
            .map(|i| format!("{}-{}", i * 2, i * 2))
            .collect();
        assert_eq!(
            parse(&format!("bytes={}", many.join(",")), 1000),
            Ranges::Ignore
        );
        let few = &many[..MAX_PARTS];
        assert!(
            matches!(parse(&format!("bytes={}", few.join(",")), 1000), Ranges::Satisfiable(v) if v.len() == MAX_PARTS)
        );
    }
}
