//! Name and label templates for glob mappings (`$1`, `${1}`), with statsd_exporter's rules:
//! a reference that is not a number in `1..=captures` becomes the empty string, and the
//! reference pattern is `\$\{?[a-zA-Z0-9_$]+\}?` (so `$1_total` is one reference, to a
//! group named `1_total`, and expands to nothing — write `${1}_total`).

/// A compiled glob template.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Template {
    pieces: Vec<Piece>,
}

#[derive(Clone, Debug, PartialEq)]
enum Piece {
    Literal(String),
    Capture(usize),
}

impl Template {
    /// Compiles `text` for a glob with `capture_count` wildcards.
    pub(crate) fn new(text: &str, capture_count: usize) -> Template {
        let refs = references(text);
        if refs.is_empty() {
            return Template {
                pieces: vec![Piece::Literal(text.to_owned())],
            };
        }
        // Upstream rewrites the text reference by reference, replacing every occurrence
        // of each reference's text with `%s` (or nothing), then formats with Sprintf.
        // `\u{0}` stands for `%s` so literal percent signs stay literal.
        let mut format = text.to_owned();
        let mut indexes = Vec::new();
        for (full, group) in refs {
            let index = group
                .bytes()
                .all(|b| b.is_ascii_digit())
                .then(|| group.parse::<usize>().ok())
                .flatten()
                .filter(|n| (1..=capture_count).contains(n));
            match index {
                Some(n) => {
                    format = format.replace(full, "\u{0}");
                    indexes.push(n - 1);
                }
                None => format = format.replace(full, ""),
            }
        }
        if indexes.is_empty() {
            return Template {
                pieces: vec![Piece::Literal(format)],
            };
        }
        let mut pieces = Vec::new();
        let mut indexes = indexes.into_iter();
        for (i, part) in format.split('\u{0}').enumerate() {
            if i > 0 {
                // Sprintf with too few arguments prints `%!s(MISSING)`.
                match indexes.next() {
                    Some(n) => pieces.push(Piece::Capture(n)),
                    None => pieces.push(Piece::Literal("%!s(MISSING)".into())),
                }
            }
            if !part.is_empty() {
                pieces.push(Piece::Literal(part.to_owned()));
            }
        }
        Template { pieces }
    }

    /// Appends the expansion to `out`.
    pub(crate) fn expand(&self, captures: &[&str], out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Capture(n) => out.push_str(captures.get(*n).copied().unwrap_or("")),
            }
        }
    }
}

/// Every match of `\$\{?([a-zA-Z0-9_$]+)\}?`, leftmost first: (whole match, group).
fn references(text: &str) -> Vec<(&str, &str)> {
    let bytes = text.as_bytes();
    let class = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || b == b'$';
    let run = |from: usize| bytes[from..].iter().take_while(|b| class(**b)).count();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'$' {
            i += 1;
            continue;
        }
        let mut start = i + 1;
        if bytes.get(start) == Some(&b'{') && run(start + 1) > 0 {
            start += 1;
        }
        let len = run(start);
        if len == 0 {
            i += 1;
            continue;
        }
        let mut end = start + len;
        if bytes.get(end) == Some(&b'}') {
            end += 1;
        }
        out.push((&text[i..end], &text[start..start + len]));
        i = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Template;

    fn expand(t: &str, count: usize, caps: &[&str]) -> String {
        let mut out = String::new();
        Template::new(t, count).expand(caps, &mut out);
        out
    }

    #[test]
    fn references_expand_like_upstream() {
        let caps = ["a", "b", "c"];
        assert_eq!(expand("name", 3, &caps), "name");
        assert_eq!(expand("x_$1", 3, &caps), "x_a");
        assert_eq!(expand("x_${2}_y", 3, &caps), "x_b_y");
        assert_eq!(expand("$1_total", 3, &caps), "");
        assert_eq!(expand("${1}_total", 3, &caps), "a_total");
        assert_eq!(expand("x_$4", 3, &caps), "x_");
        assert_eq!(expand("x_$0", 3, &caps), "x_");
        assert_eq!(expand("$1.$1", 3, &caps), "a.a");
        assert_eq!(expand("$1$2", 3, &caps), "");
        assert_eq!(expand("${1}${3}", 3, &caps), "ac");
        assert_eq!(expand("100%", 0, &caps), "100%");
        assert_eq!(expand("$", 1, &caps), "$");
        assert_eq!(expand("${", 1, &caps), "${");
        assert_eq!(expand("$1}", 1, &caps), "a");
    }
}
