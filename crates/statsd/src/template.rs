//! Name and label templates for glob mappings (`$1`, `${1}`), with statsd_exporter's rules:
//! a reference that is not a number in `1..=captures` becomes the empty string, and the
//! reference pattern is `\$\{?[a-zA-Z0-9_$]+\}?` (so `$1_total` is one reference, to a
//! group named `1_total`, and expands to nothing — write `${1}_total`).
//!
//! A mapping's templates (its name, then its label values) are compiled together into one
//! [`Expansion`]. Most parts are a plain literal or a plain capture, and those are not copied
//! one by one: the result holds the metric name and all the mapping's literals, each copied
//! once, and such parts are spans into them. Only a part mixing both is built piece by piece.

/// A capture: the byte range of a wildcard's segment in the metric name.
pub(crate) type Span = (u32, u32);

/// A glob mapping's name and label templates, compiled for expansion into spans.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Expansion {
    /// Every literal part, back to back.
    literals: String,
    /// The name, then each label value.
    parts: Vec<Part>,
    /// Whether some part is a capture (so the metric name is copied into the result).
    uses_name: bool,
}

#[derive(Clone, Debug, PartialEq)]
enum Part {
    /// A range of `literals`.
    Literal(Span),
    Capture(usize),
    Mixed(Template),
}

impl Expansion {
    /// Compiles `templates` (the name first) for a glob with `capture_count` wildcards.
    pub(crate) fn new<'a>(
        templates: impl IntoIterator<Item = &'a str>,
        capture_count: usize,
    ) -> Expansion {
        let mut literals = String::new();
        let mut parts = Vec::new();
        for text in templates {
            let template = Template::new(text, capture_count);
            let part = match template.pieces.as_slice() {
                [] => Part::Literal((0, 0)),
                [Piece::Literal(s)] => {
                    let start = literals.len() as u32;
                    literals.push_str(s);
                    Part::Literal((start, literals.len() as u32))
                }
                [Piece::Capture(n)] => Part::Capture(*n),
                _ => Part::Mixed(template),
            };
            parts.push(part);
        }
        let uses_name = parts.iter().any(|p| !matches!(p, Part::Literal(_)));
        Expansion {
            literals,
            parts,
            uses_name,
        }
    }

    /// Writes the result for a match of `name` with `captures` into `buf` (cleared first)
    /// and one span of `buf` per part into `spans` (cleared first).
    pub(crate) fn expand(
        &self,
        name: &str,
        captures: &[Span],
        buf: &mut String,
        spans: &mut Vec<Span>,
    ) {
        buf.clear();
        spans.clear();
        // The name sits at offset 0, so capture spans are spans of `buf` as they are.
        if self.uses_name {
            buf.push_str(name);
        }
        let base = buf.len() as u32;
        buf.push_str(&self.literals);
        spans.extend(self.parts.iter().map(|part| match part {
            Part::Literal((start, end)) => (base + start, base + end),
            Part::Capture(n) => captures.get(*n).copied().unwrap_or((0, 0)),
            Part::Mixed(template) => {
                let start = buf.len() as u32;
                template.expand(name, captures, buf);
                (start, buf.len() as u32)
            }
        }));
    }
}

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

    /// Appends the expansion to `out`; `captures` are spans of `name`.
    pub(crate) fn expand(&self, name: &str, captures: &[Span], out: &mut String) {
        for piece in &self.pieces {
            match piece {
                Piece::Literal(s) => out.push_str(s),
                Piece::Capture(n) => out.push_str(
                    captures
                        .get(*n)
                        .and_then(|(start, end)| name.get(*start as usize..*end as usize))
                        .unwrap_or(""),
                ),
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
    use super::{Expansion, Span, Template};

    /// `caps` as the segments of a dotted name, expanded both ways, which must agree.
    fn expand(t: &str, count: usize, caps: &[&str]) -> String {
        let name = caps.join(".");
        let mut spans: Vec<Span> = Vec::new();
        let mut at = 0;
        for c in caps {
            spans.push((at as u32, (at + c.len()) as u32));
            at += c.len() + 1;
        }
        let mut out = String::new();
        Template::new(t, count).expand(&name, &spans, &mut out);
        let (mut buf, mut parts) = (String::from("stale"), vec![(9, 9)]);
        Expansion::new(["fixed", t, t], count).expand(&name, &spans, &mut buf, &mut parts);
        let part = |i: usize| &buf[parts[i].0 as usize..parts[i].1 as usize];
        assert_eq!(
            (parts.len(), part(0), part(1), part(2)),
            (3, "fixed", &*out, &*out)
        );
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
