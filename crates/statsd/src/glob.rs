//! The glob state machine: a trie of dot-separated segments per metric kind, searched
//! depth-first with statsd_exporter's order and priorities (`pkg/mapper/fsm`), without any
//! regular expression.
//!
//! Semantics kept on purpose, because they are observable:
//! - exact segments are tried before `*`; with ordering on (the default) every path is
//!   explored and the glob defined first wins;
//! - a glob whose last state was already created by an earlier, longer glob never
//!   matches (`a.b.c` then `a.b`: `a.b` is dead), and a repeated glob keeps the first
//!   mapping;
//! - captures are one shared buffer, so a search that finds the winner and then explores
//!   a lower-priority path leaves that path's wildcard values in the buffer;
//! - with `glob_disable_ordering`, the first match in that order wins, and when upstream's
//!   analysis says no backtracking is needed, none is done.

use std::collections::HashMap;

use crate::fxhash::FxBuild;
use crate::line::EventKind;

const NONE: u32 = u32::MAX;
/// Field and capture buffers up to this many segments live on the stack.
const INLINE: usize = 24;

#[derive(Clone, Debug)]
pub(crate) struct Fsm {
    nodes: Vec<Node>,
    roots: [u32; 3],
    ordering_disabled: bool,
    backtracking: bool,
    globs: u32,
}

#[derive(Clone, Debug)]
struct Node {
    children: Children,
    star: u32,
    min_remaining: u32,
    max_remaining: u32,
    result: u32,
    priority: u32,
}

impl Node {
    fn new(remaining: u32) -> Node {
        Node {
            children: Children::default(),
            star: NONE,
            min_remaining: remaining,
            max_remaining: remaining,
            result: NONE,
            priority: 0,
        }
    }

    fn fits(&self, fields_left: u32) -> bool {
        fields_left >= self.min_remaining && fields_left <= self.max_remaining
    }
}

/// Small fan-outs are scanned; large ones hashed.
#[derive(Clone, Debug, Default)]
struct Children {
    small: Vec<(Box<str>, u32)>,
    map: Option<HashMap<Box<str>, u32, FxBuild>>,
}

impl Children {
    const SCAN: usize = 8;

    fn get(&self, key: &str) -> Option<u32> {
        match &self.map {
            Some(map) => map.get(key).copied(),
            None => self
                .small
                .iter()
                .find(|(k, _)| k.as_ref() == key)
                .map(|(_, v)| *v),
        }
    }

    fn insert(&mut self, key: &str, node: u32) {
        match &mut self.map {
            Some(map) => {
                map.insert(key.into(), node);
            }
            None if self.small.len() < Self::SCAN => self.small.push((key.into(), node)),
            None => {
                let mut map: HashMap<Box<str>, u32, FxBuild> = self.small.drain(..).collect();
                map.insert(key.into(), node);
                self.map = Some(map);
            }
        }
    }

    fn is_empty(&self) -> bool {
        self.small.is_empty() && self.map.as_ref().is_none_or(HashMap::is_empty)
    }
}

impl Fsm {
    pub(crate) fn new(ordering_disabled: bool) -> Fsm {
        let mut nodes = Vec::new();
        let mut roots = [0; 3];
        for root in &mut roots {
            *root = nodes.len() as u32;
            nodes.push(Node::new(0));
        }
        Fsm {
            nodes,
            roots,
            ordering_disabled,
            backtracking: true,
            globs: 0,
        }
    }

    /// Adds a validated glob for `mapping`; returns its number of `*` segments.
    pub(crate) fn add(&mut self, glob: &str, kind: Option<EventKind>, mapping: usize) -> usize {
        let fields: Vec<&str> = glob.split('.').collect();
        let kinds: &[EventKind] = match kind {
            Some(ref k) => std::slice::from_ref(k),
            None => &[EventKind::Counter, EventKind::Gauge, EventKind::Observer],
        };
        let mut finals = Vec::new();
        for kind in kinds {
            let mut state = self.roots[kind.index()];
            for (i, field) in fields.iter().enumerate() {
                let remaining = (fields.len() - i - 1) as u32;
                let next = match self.nodes[state as usize].children.get(field) {
                    Some(next) => {
                        let node = &mut self.nodes[next as usize];
                        node.min_remaining = node.min_remaining.min(remaining);
                        node.max_remaining = node.max_remaining.max(remaining);
                        next
                    }
                    None => {
                        let next = self.nodes.len() as u32;
                        let mut node = Node::new(remaining);
                        if remaining == 0 {
                            node.result = mapping as u32;
                        }
                        self.nodes.push(node);
                        let parent = &mut self.nodes[state as usize];
                        parent.children.insert(field, next);
                        if *field == "*" {
                            parent.star = next;
                        }
                        next
                    }
                };
                state = next;
            }
            finals.push(state);
        }
        for state in finals {
            self.nodes[state as usize].priority = self.globs;
        }
        self.globs += 1;
        fields.iter().filter(|f| **f == "*").count()
    }

    /// Call once after the last `add`, with every glob in definition order.
    pub(crate) fn finish(&mut self, globs: &[&str]) {
        self.backtracking = !self.ordering_disabled || needs_backtracking(globs);
    }

    /// The mapping index of the winning glob, with the capture buffer filled.
    pub(crate) fn lookup<'n, R>(
        &self,
        name: &'n str,
        kind: EventKind,
        found: impl FnOnce(usize, &[&'n str]) -> R,
    ) -> Option<R> {
        let mut inline = [""; INLINE];
        let mut spill = Vec::new();
        let fields: &[&str] = {
            let mut n = 0;
            for f in name.split('.') {
                if n < INLINE {
                    inline[n] = f;
                } else {
                    if n == INLINE {
                        spill.extend_from_slice(&inline);
                    }
                    spill.push(f);
                }
                n += 1;
            }
            if n <= INLINE { &inline[..n] } else { &spill }
        };
        let count = fields.len();
        let mut inline_captures = [""; INLINE];
        let mut spill_captures = Vec::new();
        let captures: &mut [&str] = if count <= INLINE {
            &mut inline_captures[..count]
        } else {
            spill_captures.resize(count, "");
            &mut spill_captures
        };

        struct Alt {
            state: u32,
            field: usize,
            capture: usize,
        }
        let mut stack: Vec<Alt> = Vec::new();
        let mut best = NONE;
        let mut current = self.roots[kind.index()];
        let mut i = 0;
        let mut capture = 0;
        let mut resume = NONE;
        loop {
            loop {
                let state = if resume != NONE {
                    std::mem::replace(&mut resume, NONE)
                } else {
                    let node = &self.nodes[current as usize];
                    if node.children.is_empty() {
                        break;
                    }
                    let field = fields[i];
                    let left = (count - i - 1) as u32;
                    let star = (node.star != NONE && self.nodes[node.star as usize].fits(left))
                        .then_some(node.star);
                    match node.children.get(field) {
                        Some(exact) if self.nodes[exact as usize].fits(left) => {
                            if self.backtracking
                                && let Some(star) = star
                            {
                                stack.push(Alt {
                                    state: star,
                                    field: i,
                                    capture,
                                });
                            }
                            exact
                        }
                        _ => match star {
                            Some(star) => {
                                captures[capture] = field;
                                capture += 1;
                                star
                            }
                            None => break,
                        },
                    }
                };
                let node = &self.nodes[state as usize];
                if node.result != NONE && i == count - 1 {
                    if self.ordering_disabled {
                        return Some(found(node.result as usize, captures));
                    }
                    if best == NONE || self.nodes[best as usize].priority > node.priority {
                        best = state;
                    }
                    break;
                }
                i += 1;
                if i >= count {
                    break;
                }
                current = state;
            }
            let Some(alt) = stack.pop() else { break };
            current = alt.state;
            i = alt.field;
            captures[alt.capture] = fields[alt.field];
            capture = alt.capture + 1;
            resume = alt.state;
        }
        (best != NONE).then(|| found(self.nodes[best as usize].result as usize, captures))
    }
}

/// statsd_exporter's `TestIfNeedBacktracking` for `glob_disable_ordering`, on glob text.
fn needs_backtracking(globs: &[&str]) -> bool {
    let split: Vec<Vec<&str>> = globs.iter().map(|g| g.split('.').collect()).collect();
    for (i1, r1) in globs.iter().enumerate() {
        if !r1.contains('*') {
            continue;
        }
        let same_len = |i2: usize| i2 != i1 && split[i2].len() == split[i1].len();
        let others = || (0..globs.len()).filter(|i2| same_len(*i2));
        if others().next().is_none() {
            continue;
        }
        let mut need = false;
        for (index, b) in r1.bytes().enumerate() {
            if b == b'*' && others().any(|i2| globs[i2].starts_with(&r1[..index])) {
                need = true;
            }
        }
        if others().any(|i2| glob_matches_text(&split[i1], &split[i2])) {
            need = false;
        }
        if others().any(|i2| glob_matches_text(&split[i2], &split[i1])) {
            need = false;
        }
        if need {
            return true;
        }
    }
    false
}

/// Whether glob `pattern` (as upstream's `^a\.([^.]*)$` regex) matches the text `text`.
fn glob_matches_text(pattern: &[&str], text: &[&str]) -> bool {
    pattern.len() == text.len() && pattern.iter().zip(text).all(|(p, t)| *p == "*" || p == t)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fsm(globs: &[&str], ordering_disabled: bool) -> Fsm {
        let mut f = Fsm::new(ordering_disabled);
        for (i, g) in globs.iter().enumerate() {
            f.add(g, None, i);
        }
        f.finish(globs);
        f
    }

    fn find<'a>(f: &Fsm, name: &'a str) -> Option<(usize, Vec<&'a str>)> {
        f.lookup(name, EventKind::Counter, |m, caps| (m, caps.to_vec()))
    }

    #[test]
    fn first_defined_wins_with_ordering() {
        let f = fsm(&["a.*.c", "a.b.*"], false);
        assert_eq!(find(&f, "a.b.c").map(|m| m.0), Some(0));
        let f = fsm(&["a.b.*", "a.*.c"], false);
        assert_eq!(find(&f, "a.b.c").map(|m| m.0), Some(0));
        assert_eq!(find(&f, "a.x.c").map(|m| m.0), Some(1));
        assert_eq!(find(&f, "a.x.d"), None);
    }

    #[test]
    fn exploring_after_the_winner_clobbers_captures_as_upstream() {
        let f = fsm(&["a.b.*", "a.*.c"], false);
        let (m, caps) = find(&f, "a.b.c").unwrap();
        assert_eq!(m, 0);
        assert_eq!(caps[0], "b");
    }

    #[test]
    fn prefix_of_an_earlier_glob_never_matches() {
        let f = fsm(&["a.b.c", "a.b"], false);
        assert_eq!(find(&f, "a.b").map(|m| m.0), None);
        let f = fsm(&["a.b", "a.b.c"], false);
        assert_eq!(find(&f, "a.b").map(|m| m.0), Some(0));
        assert_eq!(find(&f, "a.b.c").map(|m| m.0), Some(1));
    }

    #[test]
    fn most_specific_without_ordering() {
        let f = fsm(&["a.*.*", "a.b.*"], true);
        assert_eq!(find(&f, "a.b.c").map(|m| m.0), Some(1));
        assert_eq!(find(&f, "a.x.c").map(|m| m.0), Some(0));
    }

    #[test]
    fn length_bounds_and_captures() {
        let f = fsm(&["*.*.x", "p.*"], false);
        let (m, caps) = find(&f, "p.q").unwrap();
        assert_eq!((m, caps[0]), (1, "q"));
        let (m, caps) = find(&f, "m.n.x").unwrap();
        assert_eq!((m, &caps[..2]), (0, &["m", "n"][..]));
        assert_eq!(find(&f, "m.n.o.x"), None);
        assert_eq!(find(&f, ""), None);
    }

    #[test]
    fn many_children_switch_to_a_map() {
        let globs: Vec<String> = (0..100).map(|i| format!("t.m{i}.*")).collect();
        let refs: Vec<&str> = globs.iter().map(String::as_str).collect();
        let f = fsm(&refs, false);
        assert_eq!(find(&f, "t.m57.zz").map(|m| m.0), Some(57));
    }
}
