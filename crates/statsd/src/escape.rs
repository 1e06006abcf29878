//! Metric and label name escaping, as statsd_exporter's `EscapeMetricName`.

use std::borrow::Cow;

/// Replaces every character outside `[a-zA-Z0-9_]` with `_`, drops the second and later
/// dashes of a run of dashes, and prefixes `_` when the name starts with a digit.
/// Borrows when nothing changes.
pub fn escape_metric_name(name: &str) -> Cow<'_, str> {
    let bytes = name.as_bytes();
    let Some(&first) = bytes.first() else {
        return Cow::Borrowed(name);
    };
    let clean = !first.is_ascii_digit()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'_');
    if clean {
        return Cow::Borrowed(name);
    }
    let mut out = String::with_capacity(name.len() + 1);
    if first.is_ascii_digit() {
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
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::escape_metric_name;

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
        ] {
            assert_eq!(escape_metric_name(input), want, "{input:?}");
        }
    }
}
