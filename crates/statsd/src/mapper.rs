//! The compiled mapper: globs in a state machine, then regex rules in order, as
//! statsd_exporter's `GetMapping`.

use std::sync::Arc;

use regex::{Regex, RegexSet};

use crate::config::{
    ConfigError, Defaults, MappingConfig, MappingSpec, MatchType, ObserverType, SummaryOptions,
    go_regex,
};
use crate::glob::Fsm;
use crate::line::EventKind;
use crate::template::{Expansion, Span};

/// A mapping ready to use: its spec plus compiled templates.
#[derive(Debug)]
pub struct Mapping {
    pub spec: MappingSpec,
    /// Label names, sorted (the order of `Mapped::label`).
    label_keys: Vec<String>,
    /// Name and label templates of a glob mapping.
    expansion: Option<Expansion>,
    regex: Option<Regex>,
    /// A literal every match starts with (`^abc\.` gives `abc.`), checked before the regex.
    regex_prefix: String,
}

impl Mapping {
    /// Label names in `Mapped::label` order.
    pub fn label_keys(&self) -> &[String] {
        &self.label_keys
    }
}

/// The result of a successful match: which mapping, and the expanded name and label values.
/// Reusable: [`Mapper::map_into`] overwrites it without allocating once it has grown.
#[derive(Clone, Debug, Default)]
pub struct Mapped {
    /// Index into [`Mapper::mapping`].
    pub mapping: usize,
    /// Text the parts are spans of: for a glob, the metric name, the mapping's literals and
    /// any part mixing both; for a regex, the expanded parts back to back.
    buf: String,
    /// The name's span of `buf`, then each label value's.
    spans: Vec<Span>,
}

impl PartialEq for Mapped {
    /// Same mapping, same name and label values (however `buf` is laid out).
    fn eq(&self, other: &Mapped) -> bool {
        self.mapping == other.mapping
            && self.spans.len() == other.spans.len()
            && (0..self.spans.len()).all(|i| self.part(i) == other.part(i))
    }
}

impl Eq for Mapped {}

impl Mapped {
    /// The expanded (not yet escaped) metric name.
    pub fn name(&self) -> &str {
        self.part(0)
    }

    /// The value of label `i` (in [`Mapping::label_keys`] order).
    pub fn label(&self, i: usize) -> &str {
        self.part(i + 1)
    }

    /// How many labels.
    pub fn label_count(&self) -> usize {
        self.spans.len().saturating_sub(1)
    }

    fn part(&self, i: usize) -> &str {
        self.spans
            .get(i)
            .and_then(|(start, end)| self.buf.get(*start as usize..*end as usize))
            .unwrap_or("")
    }

    /// Appends a part made by `write`.
    fn push_part(&mut self, write: impl FnOnce(&mut String)) {
        let start = self.buf.len() as u32;
        write(&mut self.buf);
        self.spans.push((start, self.buf.len() as u32));
    }
}

/// Regex rules beyond this count are tried one by one (see `Mapper::new`).
const MAX_SET: usize = 64;

/// Compiled mapping rules; immutable, share it behind an `Arc`.
#[derive(Debug)]
pub struct Mapper {
    defaults: Defaults,
    mappings: Vec<Mapping>,
    fsm: Option<Fsm>,
    /// Indexes of regex mappings, in order.
    regexes: Vec<usize>,
    /// All regex mappings at once, when they fit the regex size limits.
    regex_set: Option<RegexSet>,
    warnings: Vec<String>,
}

impl Default for Mapper {
    fn default() -> Self {
        Mapper::new(MappingConfig {
            defaults: Defaults::default(),
            mappings: Vec::new(),
            warnings: Vec::new(),
        })
    }
}

impl Mapper {
    /// Parses, validates and compiles mapping YAML.
    pub fn from_yaml(text: &str) -> Result<Mapper, ConfigError> {
        MappingConfig::from_yaml(text).map(Mapper::new)
    }

    /// Compiles a validated config.
    pub fn new(config: MappingConfig) -> Mapper {
        let mut fsm = Fsm::new(config.defaults.glob_disable_ordering);
        let mut globs = Vec::new();
        let mut regexes = Vec::new();
        let mut mappings = Vec::with_capacity(config.mappings.len());
        for (i, spec) in config.mappings.into_iter().enumerate() {
            let label_keys: Vec<String> = spec.labels.iter().map(|(k, _)| k.clone()).collect();
            let mut mapping = Mapping {
                label_keys,
                expansion: None,
                regex: None,
                regex_prefix: String::new(),
                spec,
            };
            match mapping.spec.match_type {
                MatchType::Glob => {
                    let captures =
                        fsm.add(&mapping.spec.match_text, mapping.spec.match_metric_type, i);
                    globs.push(i);
                    let spec = &mapping.spec;
                    let templates = std::iter::once(spec.name.as_str())
                        .chain(spec.labels.iter().map(|(_, v)| v.as_str()));
                    mapping.expansion = Some(Expansion::new(templates, captures));
                }
                MatchType::Regex => {
                    // Validated in MappingConfig; a failure here leaves the rule inert.
                    mapping.regex = Regex::new(&go_regex(&mapping.spec.match_text)).ok();
                    mapping.regex_prefix = anchored_literal_prefix(&mapping.spec.match_text);
                    regexes.push(i);
                }
            }
            mappings.push(mapping);
        }
        let glob_texts: Vec<&str> = globs
            .iter()
            .map(|i| mappings[*i].spec.match_text.as_str())
            .collect();
        fsm.finish(&glob_texts);
        // One pass over a set beats trying rules one by one while the set stays small;
        // past that its lazy DFA thrashes and the per-rule prefilters win.
        let regex_set = (regexes.len() > 1 && regexes.len() <= MAX_SET)
            .then(|| {
                RegexSet::new(
                    regexes
                        .iter()
                        .map(|i| go_regex(&mappings[*i].spec.match_text)),
                )
                .ok()
            })
            .flatten();
        Mapper {
            defaults: config.defaults,
            fsm: (!globs.is_empty()).then_some(fsm),
            mappings,
            regexes,
            regex_set,
            warnings: config.warnings,
        }
    }

    /// The `defaults` section.
    pub fn defaults(&self) -> &Defaults {
        &self.defaults
    }

    /// Mapping `i` (from [`Mapped::mapping`]).
    pub fn mapping(&self, i: usize) -> Option<&Mapping> {
        self.mappings.get(i)
    }

    /// Number of mappings (`statsd_exporter_loaded_mappings`).
    pub fn len(&self) -> usize {
        self.mappings.len()
    }

    /// Whether there are no mappings.
    pub fn is_empty(&self) -> bool {
        self.mappings.is_empty()
    }

    /// Deprecation warnings from loading.
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// The observer type for an event: the mapping's, else the default; summary if unset.
    pub fn observer_type(&self, mapping: Option<&Mapping>) -> ObserverType {
        let t = mapping.map_or(ObserverType::Default, |m| m.spec.observer_type);
        match t {
            ObserverType::Default => match self.defaults.observer_type {
                ObserverType::Histogram => ObserverType::Histogram,
                _ => ObserverType::Summary,
            },
            t => t,
        }
    }

    /// Buckets for a new histogram (upstream's registry rule).
    pub fn buckets<'a>(&'a self, mapping: Option<&'a Mapping>) -> &'a [f64] {
        match mapping.and_then(|m| m.spec.buckets.as_deref()) {
            Some(b) if !b.is_empty() => b,
            _ => &self.defaults.buckets,
        }
    }

    /// Options for a new summary (upstream's registry rule: quantiles fall back to the
    /// defaults, the other options do not).
    pub fn summary_options(&self, mapping: Option<&Mapping>) -> SummaryOptions {
        let own = mapping
            .and_then(|m| m.spec.summary.clone())
            .unwrap_or_default();
        let quantiles = if own.quantiles.is_empty() {
            self.defaults.summary.quantiles.clone()
        } else {
            own.quantiles.clone()
        };
        SummaryOptions { quantiles, ..own }
    }

    /// Maps a StatsD name of `kind`; `None` when no rule matches.
    pub fn map(&self, name: &str, kind: EventKind) -> Option<Mapped> {
        let mut out = Mapped::default();
        self.map_into(name, kind, &mut out).then_some(out)
    }

    /// Maps a StatsD name of `kind` into `out` (its old contents are replaced); `false`,
    /// with `out` unspecified, when no rule matches. The hot path: no allocation once
    /// `out` has grown to fit.
    pub fn map_into(&self, name: &str, kind: EventKind, out: &mut Mapped) -> bool {
        if let Some(fsm) = &self.fsm {
            if fsm
                .lookup(name, kind, |i, captures| {
                    self.expand_glob(i, name, captures, out)
                })
                .is_some()
            {
                return true;
            }
            if self.regexes.is_empty() {
                return false;
            }
        }
        match &self.regex_set {
            Some(set) => {
                let matched = set.matches(name);
                matched
                    .iter()
                    .filter_map(|j| self.regexes.get(j))
                    .any(|i| self.try_regex(*i, name, kind, out))
            }
            None => self
                .regexes
                .iter()
                .any(|i| self.try_regex(*i, name, kind, out)),
        }
    }

    fn expand_glob(&self, i: usize, name: &str, captures: &[Span], out: &mut Mapped) {
        out.mapping = i;
        match self.mappings.get(i).and_then(|m| m.expansion.as_ref()) {
            Some(expansion) => expansion.expand(name, captures, &mut out.buf, &mut out.spans),
            None => {
                out.buf.clear();
                out.spans.clear();
            }
        }
    }

    fn try_regex(&self, i: usize, name: &str, kind: EventKind, out: &mut Mapped) -> bool {
        let Some(m) = self.mappings.get(i) else {
            return false;
        };
        let Some(regex) = m.regex.as_ref() else {
            return false;
        };
        if !name.starts_with(&m.regex_prefix) {
            return false;
        }
        let Some(caps) = regex.captures(name) else {
            return false;
        };
        if m.spec.match_metric_type.is_some_and(|k| k != kind) {
            return false;
        }
        out.mapping = i;
        out.buf.clear();
        out.spans.clear();
        out.push_part(|buf| caps.expand(&m.spec.name, buf));
        for (_, v) in &m.spec.labels {
            out.push_part(|buf| caps.expand(v, buf));
        }
        true
    }
}

/// The literal text at the start of a `^`-anchored pattern, up to the first
/// metacharacter (a quantifier drops the character before it).
fn anchored_literal_prefix(pattern: &str) -> String {
    // An alternation anywhere could make the prefix optional.
    let Some(rest) = pattern.strip_prefix('^').filter(|_| !pattern.contains('|')) else {
        return String::new();
    };
    let mut out = String::new();
    let mut chars = rest.chars().peekable();
    while let Some(c) = chars.next() {
        let literal = match c {
            '\\' => match chars.peek() {
                Some(&n) if n.is_ascii_punctuation() => {
                    chars.next();
                    n
                }
                _ => break,
            },
            c if c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == ':' || c == '/' => c,
            _ => break,
        };
        if matches!(chars.peek(), Some('*' | '?' | '{' | '+')) {
            break;
        }
        out.push(literal);
    }
    out
}

/// A cached mapping result: `None` is a cached miss.
pub type CachedMapping = Option<Arc<Mapped>>;

#[cfg(test)]
mod tests;
