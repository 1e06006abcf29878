//! Metric and label name escaping, as statsd_exporter's `EscapeMetricName`.

use std::borrow::Cow;

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`, drops the second and later
/// dashes of a run of dashes, and prefixes `_` when the name starts with a digit.
/// Borrows when nothing changes.
pub fn escape_metric_name(name: &str) -> Cow<'_, str> {
    if is_clean(name) {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 1);
    escape_into(name, &mut out);
    Cow::Owned(out)
}

/// [`escape_metric_name`] without an allocation per call once `buf` has grown: borrows
/// `name` when nothing changes, else writes the escaped name into `buf` (cleared first)
/// and borrows that.
pub fn escape_metric_name_in<'a>(name: &'a str, buf: &'a mut String) -> &'a str {
    if is_clean(name) {
        return name;
    }
    buf.clear();
    escape_into(name, buf);
    buf
}

fn is_clean(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.first().is_none_or(|first| {
        !first.is_ascii_digit()
            && bytes
                .iter()
                .all(|b| b.is_ascii_alphanumeric() || *b == b'_')
    })
}

fn escape_into(name: &str, out: &mut String) {
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        out.push('_');
    }
    if name.is_ascii() {
        // Runs of clean bytes copied whole; each other byte becomes one `_`, and a run of
        // dashes becomes one `_`.
        let bytes = name.as_bytes();
        let mut start = 0;
        let mut prev = 0u8;
        for (i, &b) in bytes.iter().enumerate() {
            if b.is_ascii_alphanumeric() || b == b'_' {
                prev = b;
                continue;
            }
            out.push_str(&name[start..i]);
            if !(b == b'-' && prev == b'-') {
                out.push('_');
            }
            start = i + 1;
            prev = b;
        }
        out.push_str(&name[start..]);
        return;
    }
    let mut prev = '\0';
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            out.push(c);
        } else if !(c == '-' && prev == '-') {
            out.push('_');
        }
        prev = c;
    }
}

#[cfg(test)]
mod tests {
    use super::{escape_metric_name, escape_metric_name_in};

    #[test]
    fn cases_like_upstream() {
        for (input, want) in [
            ("", ""),
            ("foo", "foo"),
            ("foo.bar", "foo_bar"),
            ("1foo", "_1foo"),
            ("foo--bar", "foo_bar"),
            ("foo---bar", "foo_bar"),
            ("foo-bar", "foo_bar"),
            ("foo..bar", "foo__bar"),
            ("fo\u{e9}o", "fo_o"),
            ("a-.-b", "a___b"),
            ("\u{1f600}", "_"),
            ("a.b-c--d_e", "a_b_c_d_e"),
            ("9-é--x", "_9___x"),
            ("__--__", "_____"),
        ] {
            assert_eq!(escape_metric_name(input), want, "{input:?}");
            let mut buf = String::from("stale");
            assert_eq!(escape_metric_name_in(input, &mut buf), want, "{input:?}");
        }
    }

    /// The ASCII fast path against the rule spelled character by character.
    #[test]
    fn ascii_runs_match_the_character_rule() {
        fn reference(name: &str) -> String {
            let mut out = String::new();
            if name.starts_with(|c: char| c.is_ascii_digit()) {
                out.push('_');
            }
            let mut prev = '\0';
            for c in name.chars() {
                if c.is_ascii_alphanumeric() || c == '_' {
                    out.push(c);
                } else if !(c == '-' && prev == '-') {
                    out.push('_');
                }
                prev = c;
            }
            out
        }
        let alphabet = ['a', '1', '-', '.', '_', ' '];
        let mut names = vec![String::new()];
        for _ in 0..5 {
            let longer: Vec<String> = names
                .iter()
                .flat_map(|n| alphabet.iter().map(move |c| format!("{n}{c}")))
                .collect();
            names.extend(longer);
        }
        names.sort();
        names.dedup();
        for name in &names {
            assert_eq!(escape_metric_name(name), reference(name), "{name:?}");
        }
    }
}
