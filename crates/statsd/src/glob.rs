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
//! - the winner's captures are copied when it is found, so paths explored afterwards do
//!   not change them (upstream's fix for its issue 168);
//! - with `glob_disable_ordering`, the first match in that order wins, and when upstream's
//!   analysis says no backtracking is needed, none is done.

use std::hash::Hasher;

use crate::fxhash::{FxHasher, small_word};
use crate::line::EventKind;
use crate::template::Span;

const NONE: u32 = u32::MAX;
/// Names of up to this many segments have their dot positions on the stack.
const INLINE_DOTS: usize = 16;
/// Globs of up to this many wildcards have their captures on the stack.
const INLINE_CAPTURES: usize = 8;
/// Backtracking points kept on the stack before spilling to the heap.
const INLINE_ALTS: usize = 4;

#[derive(Clone, Debug)]
pub(crate) struct Fsm {
    nodes: Vec<Node>,
    edges: Edges,
    roots: [u32; 3],
    ordering_disabled: bool,
    backtracking: bool,
    globs: u32,
    /// Segments of the longest glob: longer names cannot match.
    depth: usize,
    /// Wildcards of the glob with the most: no path takes more captures than this.
    max_captures: usize,
}

#[derive(Clone, Debug)]
struct Node {
    /// Whether any child is reached by an exact (non-`*`) segment.
    exact: bool,
    /// The child reached by the only exact segment, when there is exactly one (most states
    /// below the first segment): compared directly, without hashing or probing.
    only: u32,
    /// That segment's text in `Edges::keys`: (start, length).
    only_key: (u32, u32),
    star: u32,
    /// `fits` of the `star` child and of the `only` child, copied here by `Fsm::finish` so
    /// a step reads one node instead of three.
    star_fits: (u32, u32),
    only_fits: (u32, u32),
    min_remaining: u32,
    max_remaining: u32,
    result: u32,
    priority: u32,
}

impl Node {
    fn new(remaining: u32) -> Node {
        Node {
            exact: false,
            only: NONE,
            only_key: (0, 0),
            star: NONE,
            star_fits: (1, 0),
            only_fits: (1, 0),
            min_remaining: remaining,
            max_remaining: remaining,
            result: NONE,
            priority: 0,
        }
    }

    fn fits(&self, fields_left: u32) -> bool {
        fields_left >= self.min_remaining && fields_left <= self.max_remaining
    }

    fn bounds(&self) -> (u32, u32) {
        (self.min_remaining, self.max_remaining)
    }
}

/// Whether `fields_left` is within `(min, max)`; `(1, 0)` never fits.
#[inline]
fn within((min, max): (u32, u32), fields_left: u32) -> bool {
    fields_left >= min && fields_left <= max
}

/// Every transition of the machine in one open-addressing table keyed by
/// (parent state, segment): one hash of the segment and, usually, one probe per step,
/// whatever the fan-out. Segment text lives in one arena.
#[derive(Clone, Debug, Default)]
struct Edges {
    slots: Vec<Edge>,
    keys: String,
    len: usize,
}

#[derive(Clone, Copy, Debug)]
struct Edge {
    parent: u32,
    child: u32,
    /// Low half of the segment's hash, compared before the text.
    hash: u32,
    start: u32,
    len: u32,
}

const EMPTY: Edge = Edge {
    parent: NONE,
    child: NONE,
    hash: 0,
    start: 0,
    len: 0,
};

fn segment_hash(segment: &[u8]) -> u64 {
    let mut h = FxHasher::default();
    h.write(segment);
    h.finish()
}

/// Byte equality a word at a time: segments are short, and a call to `memcmp` costs more
/// than the comparison.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut a8 = a.chunks_exact(8);
    let mut b8 = b.chunks_exact(8);
    for (x, y) in (&mut a8).zip(&mut b8) {
        if x != y {
            return false;
        }
    }
    small_word(a8.remainder()) == small_word(b8.remainder())
}

impl Edges {
    fn slot(&self, parent: u32, hash: u64) -> usize {
        let mixed = (hash ^ u64::from(parent).wrapping_mul(0x9e37_79b9_7f4a_7c15))
            .wrapping_mul(0xff51_afd7_ed55_8ccd);
        (mixed >> 32) as usize & (self.slots.len() - 1)
    }

    #[inline]
    fn get(&self, parent: u32, segment: &[u8], hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.slots.len() - 1;
        let mut i = self.slot(parent, hash);
        loop {
            let e = &self.slots[i];
            if e.parent == NONE {
                return None;
            }
            if e.parent == parent
                && e.hash == hash as u32
                && self
                    .keys
                    .as_bytes()
                    .get(e.start as usize..(e.start + e.len) as usize)
                    .is_some_and(|k| same_bytes(k, segment))
            {
                return Some(e.child);
            }
            i = (i + 1) & mask;
        }
    }

    /// Adds an edge; returns where its text starts in `keys`.
    fn insert(&mut self, parent: u32, segment: &str, child: u32) -> u32 {
        if (self.len + 1) * 2 > self.slots.len() {
            let old = std::mem::take(&mut self.slots);
            self.slots = vec![EMPTY; (old.len() * 2).max(16)];
            for e in old.into_iter().filter(|e| e.parent != NONE) {
                let key = &self.keys.as_bytes()[e.start as usize..(e.start + e.len) as usize];
                let at = self.free_slot(e.parent, segment_hash(key));
                self.slots[at] = e;
            }
        }
        let hash = segment_hash(segment.as_bytes());
        let at = self.free_slot(parent, hash);
        let start = self.keys.len() as u32;
        self.slots[at] = Edge {
            parent,
            child,
            hash: hash as u32,
            start,
            len: segment.len() as u32,
        };
        self.keys.push_str(segment);
        self.len += 1;
        start
    }

    /// The text of the edge starting at `start` with length `len`.
    #[inline]
    fn key(&self, (start, len): (u32, u32)) -> &[u8] {
        self.keys
            .as_bytes()
            .get(start as usize..(start + len) as usize)
            .unwrap_or_default()
    }

    fn free_slot(&self, parent: u32, hash: u64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.slot(parent, hash);
        while self.slots[i].parent != NONE {
            i = (i + 1) & mask;
        }
        i
    }
}

/// A backtracking point: resume at `state` having consumed segment `field` as capture
/// `capture`.
#[derive(Clone, Copy, Default)]
struct Alt {
    state: u32,
    field: u32,
    capture: u32,
}

/// The backtracking stack, on the machine stack while it is short.
struct Stack {
    inline: [Alt; INLINE_ALTS],
    len: usize,
    spill: Vec<Alt>,
}

impl Stack {
    fn push(&mut self, alt: Alt) {
        if self.len < INLINE_ALTS {
            self.inline[self.len] = alt;
            self.len += 1;
        } else {
            self.spill.push(alt);
        }
    }

    fn pop(&mut self) -> Option<Alt> {
        if let Some(alt) = self.spill.pop() {
            return Some(alt);
        }
        self.len = self.len.checked_sub(1)?;
        Some(self.inline[self.len])
    }
}

/// Finds the dots of `name` eight bytes at a time, calling `dot` with each position;
/// stops early when `dot` returns false.
#[inline]
fn for_each_dot(name: &[u8], mut dot: impl FnMut(usize) -> bool) -> bool {
    const DOTS: u64 = 0x2e2e_2e2e_2e2e_2e2e;
    const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
    let mut chunks = name.chunks_exact(8);
    let mut base = 0;
    let mut scan = |word: u64, base: usize| {
        let x = word ^ DOTS;
        // 0x80 exactly in the bytes of `x` that are zero (no carries between bytes).
        let mut zero = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
        while zero != 0 {
            if !dot(base + zero.trailing_zeros() as usize / 8) {
                return false;
            }
            zero &= zero - 1;
        }
        true
    };
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if !scan(u64::from_le_bytes(word), base) {
            return false;
        }
        base += 8;
    }
    let rest = chunks.remainder().len();
    if rest == 0 {
        return true;
    }
    if name.len() >= 8 {
        // The last eight bytes, shifted so only the unscanned ones remain (zeros are
        // not dots); a fixed-size load instead of a variable-length copy.
        let mut word = [0u8; 8];
        word.copy_from_slice(&name[name.len() - 8..]);
        return scan(u64::from_le_bytes(word) >> (8 * (8 - rest)), base);
    }
    name.iter()
        .enumerate()
        .filter(|(_, b)| **b == b'.')
        .all(|(i, _)| dot(i))
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
            edges: Edges::default(),
            roots,
            ordering_disabled,
            backtracking: true,
            globs: 0,
            depth: 0,
            max_captures: 0,
        }
    }

    /// Adds a validated glob for `mapping`; returns its number of `*` segments.
    pub(crate) fn add(&mut self, glob: &str, kind: Option<EventKind>, mapping: usize) -> usize {
        let fields: Vec<&str> = glob.split('.').collect();
        self.depth = self.depth.max(fields.len());
        let kinds: &[EventKind] = match kind {
            Some(ref k) => std::slice::from_ref(k),
            None => &[EventKind::Counter, EventKind::Gauge, EventKind::Observer],
        };
        let mut finals = Vec::new();
        for kind in kinds {
            let mut state = self.roots[kind.index()];
            for (i, field) in fields.iter().enumerate() {
                let remaining = (fields.len() - i - 1) as u32;
                let key = field.as_bytes();
                let next = match self.edges.get(state, key, segment_hash(key)) {
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
                        let start = self.edges.insert(state, field, next);
                        let parent = &mut self.nodes[state as usize];
                        if *field == "*" {
                            parent.star = next;
                        } else {
                            parent.only = if parent.exact { NONE } else { next };
                            parent.only_key = (start, field.len() as u32);
                            parent.exact = true;
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
        let captures = fields.iter().filter(|f| **f == "*").count();
        self.max_captures = self.max_captures.max(captures);
        captures
    }

    /// Call once after the last `add`, with every glob in definition order.
    pub(crate) fn finish(&mut self, globs: &[&str]) {
        self.backtracking = !self.ordering_disabled || needs_backtracking(globs);
        for i in 0..self.nodes.len() {
            let node = &self.nodes[i];
            let bounds = |child: u32| self.nodes.get(child as usize).map_or((1, 0), Node::bounds);
            let (star_fits, only_fits) = (bounds(node.star), bounds(node.only));
            let node = &mut self.nodes[i];
            node.star_fits = star_fits;
            node.only_fits = only_fits;
        }
    }

    /// The mapping index of the winning glob, with the capture buffer filled.
    ///
    /// One pass finds the dots (giving up on names longer than every glob); each exact
    /// step is one segment hash and one probe; captures, dot positions and the
    /// backtracking stack stay on the machine stack for ordinary globs, so a lookup does
    /// not allocate.
    pub(crate) fn lookup<R>(
        &self,
        name: &str,
        kind: EventKind,
        found: impl FnOnce(usize, &[Span]) -> R,
    ) -> Option<R> {
        let bytes = name.as_bytes();
        // dots[i] ends field i; the last field ends at the end of the name.
        let max_dots = self.depth.saturating_sub(1);
        let mut inline_dots = [0u32; INLINE_DOTS];
        let mut spill_dots = Vec::new();
        let dots: &mut [u32] = if max_dots <= INLINE_DOTS {
            &mut inline_dots[..max_dots]
        } else {
            spill_dots.resize(max_dots, 0);
            &mut spill_dots
        };
        let mut n = 0;
        let fits = for_each_dot(bytes, |at| {
            let Some(slot) = dots.get_mut(n) else {
                return false;
            };
            *slot = at as u32;
            n += 1;
            true
        });
        if !fits {
            // Longer than every glob: nothing can match.
            return None;
        }
        let count = n + 1;
        let dots = &dots[..n];
        let span = |i: usize| -> (usize, usize) {
            let start = if i == 0 { 0 } else { dots[i - 1] as usize + 1 };
            (start, dots.get(i).map_or(bytes.len(), |e| *e as usize))
        };
        let field = |(start, end): (usize, usize)| -> Span { (start as u32, end as u32) };

        let mut inline_captures = [(0, 0); INLINE_CAPTURES];
        let mut spill_captures = Vec::new();
        let captures: &mut [Span] = if self.max_captures <= INLINE_CAPTURES {
            &mut inline_captures[..self.max_captures]
        } else {
            spill_captures.resize(self.max_captures, (0, 0));
            &mut spill_captures
        };
        // The best match's captures, copied when it is found: paths explored afterwards
        // reuse `captures`.
        let mut inline_best = [(0, 0); INLINE_CAPTURES];
        let mut spill_best = Vec::new();
        let best_captures: &mut [Span] = if self.max_captures <= INLINE_CAPTURES {
            &mut inline_best[..self.max_captures]
        } else {
            spill_best.resize(self.max_captures, (0, 0));
            &mut spill_best
        };
        let mut stack = Stack {
            inline: [Alt::default(); INLINE_ALTS],
            len: 0,
            spill: Vec::new(),
        };
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
                    let left = (count - i - 1) as u32;
                    let star =
                        (node.star != NONE && within(node.star_fits, left)).then_some(node.star);
                    let at = span(i);
                    let exact = if node.exact {
                        let key = bytes.get(at.0..at.1).unwrap_or_default();
                        if node.only != NONE {
                            (within(node.only_fits, left)
                                && same_bytes(self.edges.key(node.only_key), key))
                            .then_some(node.only)
                        } else {
                            self.edges
                                .get(current, key, segment_hash(key))
                                .filter(|e| self.nodes[*e as usize].fits(left))
                        }
                    } else {
                        None
                    };
                    match (exact, star) {
                        (Some(exact), star) => {
                            if self.backtracking
                                && let Some(star) = star
                            {
                                stack.push(Alt {
                                    state: star,
                                    field: i as u32,
                                    capture: capture as u32,
                                });
                            }
                            exact
                        }
                        (None, Some(star)) => {
                            if let Some(slot) = captures.get_mut(capture) {
                                *slot = field(at);
                            }
                            capture += 1;
                            star
                        }
                        (None, None) => break,
                    }
                };
                let node = &self.nodes[state as usize];
                if node.result != NONE && i == count - 1 {
                    if self.ordering_disabled {
                        return Some(found(node.result as usize, captures));
                    }
                    if best == NONE || self.nodes[best as usize].priority > node.priority {
                        best = state;
                        best_captures.copy_from_slice(captures);
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
            i = alt.field as usize;
            if let Some(slot) = captures.get_mut(alt.capture as usize) {
                *slot = field(span(i));
            }
            capture = alt.capture as usize + 1;
            resume = alt.state;
        }
        (best != NONE).then(|| found(self.nodes[best as usize].result as usize, best_captures))
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
        f.lookup(name, EventKind::Counter, |m, caps| {
            let segment = |(start, end): &Span| &name[*start as usize..*end as usize];
            (m, caps.iter().map(segment).collect())
        })
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

    /// statsd_exporter copies the captures when it takes a better match (its fix for
    /// issue 168), so paths explored afterwards do not change the winner's labels.
    #[test]
    fn the_winner_keeps_its_captures() {
        let f = fsm(&["a.b.*", "a.*.c"], false);
        let (m, caps) = find(&f, "a.b.c").unwrap();
        assert_eq!((m, caps[0]), (0, "c"));
        let f = fsm(&["a.*.c", "a.b.*", "*.b.c"], false);
        let (m, caps) = find(&f, "a.b.c").unwrap();
        assert_eq!((m, caps[0]), (0, "b"));
        let (m, caps) = find(&f, "a.b.z").unwrap();
        assert_eq!((m, caps[0]), (1, "z"));
        let f = fsm(&["*.dummy.*", "full.name.*"], false);
        let (m, caps) = find(&f, "full.name.anothertest").unwrap();
        assert_eq!((m, caps[0]), (1, "anothertest"));
        let (m, caps) = find(&f, "whatever.dummy.test").unwrap();
        assert_eq!((m, &caps[..2]), (0, &["whatever", "test"][..]));
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
    fn dots_are_found_in_every_position_next_to_any_byte() {
        for len in 0..20 {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut name = vec![b; len];
                    name[at] = b'.';
                    let mut got = Vec::new();
                    assert!(for_each_dot(&name, |i| {
                        got.push(i);
                        true
                    }));
                    let want: Vec<usize> = (0..len).filter(|i| name[*i] == b'.').collect();
                    assert_eq!(got, want, "len {len} byte {b} dot at {at}");
                }
            }
        }
    }

    #[test]
    fn names_longer_than_every_glob_are_refused_early() {
        let f = fsm(&["a.*"], false);
        assert_eq!(find(&f, "a.b.c"), None);
        assert_eq!(find(&f, "a.b").map(|m| m.0), Some(0));
    }

    #[test]
    fn wide_fan_out() {
        let globs: Vec<String> = (0..100).map(|i| format!("t.m{i}.*")).collect();
        let refs: Vec<&str> = globs.iter().map(String::as_str).collect();
        let f = fsm(&refs, false);
        assert_eq!(find(&f, "t.m57.zz").map(|m| m.0), Some(57));
    }
}
