//! Maps field paths to positions in the YAML text and back, from the parser's event stream.
//! Errors found after parsing only know a path; errors found while parsing only know a position;
//! this index lets both kinds print `line:column` and a path.

use crate::error::FieldPath;
use granit_parser::{Event, Parser};

pub(crate) struct Index {
    /// Every node in document order: its path, where its key starts (for mapping values) and
    /// where the node itself starts. Positions are (line, column), 1-based.
    nodes: Vec<Node>,
}

struct Node {
    path: FieldPath,
    key_at: Option<(usize, usize)>,
    value_at: (usize, usize),
}

enum Frame {
    Mapping {
        path: FieldPath,
        key: Option<(String, (usize, usize))>,
    },
    Sequence {
        path: FieldPath,
        next: usize,
    },
}

impl Index {
    /// Indexes as much of the text as parses; a syntax error simply ends the index early.
    pub(crate) fn build(text: &str) -> Index {
        let mut nodes = Vec::new();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let at = (span.start.line(), span.start.col() + 1);
            let node_start = matches!(
                event,
                Event::Scalar(..)
                    | Event::MappingStart(..)
                    | Event::SequenceStart(..)
                    | Event::Alias(..)
            );
            if node_start {
                // A scalar in key position of a mapping is a key, not a node of its own.
                if let Some(Frame::Mapping {
                    key: key @ None, ..
                }) = stack.last_mut()
                {
                    if let Event::Scalar(value, ..) = &event {
                        *key = Some((value.to_string(), at));
                        continue;
                    }
                    // Complex keys are not used by graygate's config; index them under "?".
                    *key = Some(("?".to_string(), at));
                }
                let (path, key_at) = match stack.last_mut() {
                    None => (FieldPath::root(), None),
                    Some(Frame::Mapping { path, key }) => {
                        let (name, key_at) = key.take().unwrap_or_else(|| ("?".to_string(), at));
                        (path.key(name), Some(key_at))
                    }
                    Some(Frame::Sequence { path, next }) => {
                        *next += 1;
                        (path.index(*next - 1), None)
                    }
                };
                nodes.push(Node {
                    path: path.clone(),
                    key_at,
                    value_at: at,
                });
                match event {
                    Event::MappingStart(..) => stack.push(Frame::Mapping { path, key: None }),
                    Event::SequenceStart(..) => stack.push(Frame::Sequence { path, next: 0 }),
                    _ => {}
                }
            } else if matches!(event, Event::MappingEnd | Event::SequenceEnd) {
                stack.pop();
            }
        }
        Index { nodes }
    }

    /// The position of the node at `path`, or of its nearest ancestor present in the text
    /// (a missing field is reported where its parent mapping starts).
    pub(crate) fn find(&self, path: &FieldPath) -> (usize, usize) {
        for len in (0..=path.0.len()).rev() {
            let prefix = &path.0[..len];
            if let Some(node) = self.nodes.iter().find(|n| n.path.0 == prefix) {
                return node.value_at;
            }
        }
        (1, 1)
    }

    /// The path of the node at or last before `(line, column)`: a key's position names the key.
    pub(crate) fn path_at(&self, line: usize, column: usize) -> FieldPath {
        let pos = (line, column);
        if let Some(node) = self.nodes.iter().find(|n| n.key_at == Some(pos)) {
            return node.path.clone();
        }
        // Otherwise the last (deepest) node starting at or before the position: a block mapping
        // and its first key start at the same place, and the key is the better answer.
        let mut best: Option<&FieldPath> = None;
        for node in &self.nodes {
            if node.key_at.unwrap_or(node.value_at) <= pos {
                best = Some(&node.path);
            }
        }
        best.cloned().unwrap_or_else(FieldPath::root)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "sites:\n  - name: a\n    release:\n      versions:\n        \"1.1.0\": {root: x}\n  - name: b\n";

    #[test]
    fn finds_nested_and_missing_paths() {
        let index = Index::build(TEXT);
        let versions = FieldPath::root()
            .key("sites")
            .index(0)
            .key("release")
            .key("versions");
        assert_eq!(index.find(&versions.key("1.1.0").key("root")), (5, 25));
        assert_eq!(index.find(&versions.key("2.0.0")), (5, 9));
        assert_eq!(
            index.find(&FieldPath::root().key("sites").index(1).key("name")),
            (6, 11)
        );
    }

    #[test]
    fn names_the_path_at_a_position() {
        let index = Index::build(TEXT);
        assert_eq!(index.path_at(6, 5).to_string(), "sites[1].name");
        assert_eq!(
            index.path_at(5, 9).to_string(),
            "sites[0].release.versions.\"1.1.0\""
        );
    }

    #[test]
    fn key_position_in_a_sequence_of_mappings() {
        let index = Index::build("a:\n  - x: 1\n    y: 2\n");
        assert_eq!(index.path_at(3, 5).to_string(), "a[0].y");
        assert_eq!(
            index.find(&FieldPath::root().key("a").index(0).key("y")),
            (3, 8)
        );
    }
}
