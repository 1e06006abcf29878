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
    /// Every literal piece, back to back.
    literals: String,
    /// The name, then each label value.
    parts: Vec<Part>,
    /// The pieces of every mixed part, back to back.
    pieces: Vec<Piece>,
    /// Whether some part is a capture (so the metric name is copied into the result).
    uses_name: bool,
}

/// Plain `Copy` data, so expanding is a loop over small values with no pointer chasing.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Part {
    /// A range of `literals`.
    Literal(Span),
    Capture(u32),
    /// A range of `pieces`, concatenated.
    Mixed(u32, u32),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Piece {
    /// A range of `literals`.
    Literal(Span),
    Capture(u32),
}

impl Expansion {
    /// Compiles `templates` (the name first) for a glob with `capture_count` wildcards.
    pub(crate) fn new<'a>(
        templates: impl IntoIterator<Item = &'a str>,
        capture_count: usize,
    ) -> Expansion {
        let mut literals = String::new();
        let mut literal = |s: &str| {
            let start = literals.len() as u32;
            literals.push_str(s);
            (start, literals.len() as u32)
        };
        let mut parts = Vec::new();
        let mut pieces = Vec::new();
        for text in templates {
            let template = Template::new(text, capture_count);
            let part = match template.pieces.as_slice() {
                [] => Part::Literal((0, 0)),
                [Piece::Literal(_)] => Part::Literal(literal(&template.literals)),
                [Piece::Capture(n)] => Part::Capture(*n),
                mixed => {
                    let from = pieces.len() as u32;
                    for piece in mixed {
                        pieces.push(match *piece {
                            Piece::Literal((start, end)) => Piece::Literal(literal(
                                template
                                    .literals
                                    .get(start as usize..end as usize)
                                    .unwrap_or_default(),
                            )),
                            capture => capture,
                        });
                    }
                    Part::Mixed(from, pieces.len() as u32)
                }
            };
            parts.push(part);
        }
        let uses_name = parts.iter().any(|p| !matches!(p, Part::Literal(_)));
        Expansion {
            literals,
            parts,
            pieces,
            uses_name,
        }
    }

    /// Writes the result for a match of `name` with `captures` into `buf` (cleared first)
    /// and one span of `buf` per part into `spans` (cleared first).
    ///
    /// `buf` is the name (when a part needs it) followed by every literal, two copies in
    /// all; plain parts are spans of those, and only a mixed part appends text, copied from
    /// within `buf`.
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
        let capture = |n: u32| captures.get(n as usize).copied().unwrap_or((0, 0));
        spans.reserve(self.parts.len());
        for part in &self.parts {
            let span = match *part {
                Part::Literal((start, end)) => (base + start, base + end),
                Part::Capture(n) => capture(n),
                Part::Mixed(from, to) => {
                    let start = buf.len() as u32;
                    let pieces = self.pieces.get(from as usize..to as usize);
                    for piece in pieces.unwrap_or_default() {
                        let (from, to) = match *piece {
                            Piece::Literal((start, end)) => (base + start, base + end),
                            Piece::Capture(n) => capture(n),
                        };
                        // Spans of `buf` on character boundaries: captures end at dots or
                        // the name's end, literals are whole strings.
                        if from < to && to as usize <= buf.len() {
                            buf.extend_from_within(from as usize..to as usize);
                        }
                    }
                    (start, buf.len() as u32)
                }
            };
            spans.push(span);
        }
    }
}

/// A compiled glob template: pieces whose literals are spans of `literals`.
#[derive(Clone, Debug, PartialEq)]
struct Template {
    literals: String,
    pieces: Vec<Piece>,
}

impl Template {
    /// Compiles `text` for a glob with `capture_count` wildcards.
    fn new(text: &str, capture_count: usize) -> Template {
        let mut template = Template {
            literals: String::new(),
            pieces: Vec::new(),
        };
        let refs = references(text);
        if refs.is_empty() {
            template.literal(text);
            return template;
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
                .then(|| group.parse::<u32>().ok())
                .flatten()
                .filter(|n| (1..=capture_count).contains(&(*n as usize)));
            match index {
                Some(n) => {
                    format = format.replace(full, "\u{0}");
                    indexes.push(n - 1);
                }
                None => format = format.replace(full, ""),
            }
        }
        if indexes.is_empty() {
            template.literal(&format);
            return template;
        }
        let mut indexes = indexes.into_iter();
        for (i, part) in format.split('\u{0}').enumerate() {
            if i > 0 {
                // Sprintf with too few arguments prints `%!s(MISSING)`.
                match indexes.next() {
                    Some(n) => template.pieces.push(Piece::Capture(n)),
                    None => template.literal("%!s(MISSING)"),
                }
            }
            if !part.is_empty() {
                template.literal(part);
            }
        }
        template
    }

    fn literal(&mut self, text: &str) {
        let start = self.literals.len() as u32;
        self.literals.push_str(text);
        self.pieces
            .push(Piece::Literal((start, self.literals.len() as u32)));
    }

    /// Appends the expansion to `out`, piece by piece; `captures` are spans of `name`.
    /// The reference the tests hold [`Expansion::expand`] to.
    #[cfg(test)]
    fn expand(&self, name: &str, captures: &[Span], out: &mut String) {
        let text = |text: &'_ str, (start, end): Span| -> String {
            text.get(start as usize..end as usize)
                .unwrap_or_default()
                .to_owned()
        };
        for piece in &self.pieces {
            match *piece {
                Piece::Literal(span) => out.push_str(&text(&self.literals, span)),
                Piece::Capture(n) => out.push_str(&text(
                    name,
                    captures.get(n as usize).copied().unwrap_or((0, 0)),
                )),
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
