//! statsd_exporter's mapping YAML, read unmodified, and its validation rules.
//!
//! Like upstream (yaml.v2 `Unmarshal`), unknown keys are ignored. Every rule upstream
//! enforces is enforced here, in the same order, with the same wording after a
//! `mapping N (match "...")` prefix that says where.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use crate::line::EventKind;

/// A mapping file that cannot be used; the message says what and where.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ConfigError {
    /// The text is not YAML of the expected shape.
    #[error("invalid YAML: {0}")]
    Yaml(String),
    /// A value upstream rejects.
    #[error("{0}")]
    Invalid(String),
}

/// `match_type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum MatchType {
    #[default]
    Glob,
    Regex,
}

/// `action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Action {
    #[default]
    Map,
    Drop,
}

impl Action {
    /// The `action` label of `statsd_exporter_events_actions_total`.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Map => "map",
            Action::Drop => "drop",
        }
    }
}

/// `observer_type` (`timer_type` is its deprecated spelling).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum ObserverType {
    /// Not set: a summary, as upstream.
    #[default]
    Default,
    Histogram,
    Summary,
}

/// A summary objective.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quantile {
    pub quantile: f64,
    pub error: f64,
}

/// `summary_options`, after defaults are applied. Zero means "client default"
/// (10m max age, 5 age buckets, 500 buffer capacity).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct SummaryOptions {
    pub quantiles: Vec<Quantile>,
    pub max_age: Duration,
    pub age_buckets: u32,
    pub buf_cap: u32,
}

/// The `defaults` section, with upstream's fallbacks filled in.
#[derive(Clone, Debug, PartialEq)]
pub struct Defaults {
    pub observer_type: ObserverType,
    pub match_type: MatchType,
    pub glob_disable_ordering: bool,
    pub ttl: Duration,
    pub buckets: Vec<f64>,
    pub summary: SummaryOptions,
}

/// Prometheus' default histogram buckets.
pub const DEFAULT_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Upstream's default summary objectives.
pub const DEFAULT_QUANTILES: [Quantile; 3] = [
    Quantile {
        quantile: 0.5,
        error: 0.05,
    },
    Quantile {
        quantile: 0.9,
        error: 0.01,
    },
    Quantile {
        quantile: 0.99,
        error: 0.001,
    },
];

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            observer_type: ObserverType::Default,
            match_type: MatchType::Glob,
            glob_disable_ordering: false,
            ttl: Duration::ZERO,
            buckets: DEFAULT_BUCKETS.to_vec(),
            summary: SummaryOptions {
                quantiles: DEFAULT_QUANTILES.to_vec(),
                ..SummaryOptions::default()
            },
        }
    }
}

/// One mapping as written, validated and with defaults applied.
#[derive(Clone, Debug)]
pub struct MappingSpec {
    pub match_text: String,
    pub match_type: MatchType,
    pub name: String,
    /// Sorted by label name.
    pub labels: Vec<(String, String)>,
    pub action: Action,
    pub match_metric_type: Option<EventKind>,
    pub help: Option<String>,
    pub observer_type: ObserverType,
    /// Set when the observer type is histogram.
    pub buckets: Option<Vec<f64>>,
    /// Set when the observer type is summary.
    pub summary: Option<SummaryOptions>,
    pub ttl: Duration,
    pub scale: Option<f64>,
    pub honor_labels: bool,
}

/// A parsed and validated mapping file.
#[derive(Clone, Debug)]
pub struct MappingConfig {
    pub defaults: Defaults,
    pub mappings: Vec<MappingSpec>,
    /// Deprecation notices (upstream logs them as warnings).
    pub warnings: Vec<String>,
}

impl MappingConfig {
    /// Parses and validates mapping YAML.
    pub fn from_yaml(text: &str) -> Result<MappingConfig, ConfigError> {
        let raw: RawConfig = if text.trim().is_empty() {
            RawConfig::default()
        } else {
            // yaml.v2's `Unmarshal` (not `UnmarshalStrict`): a repeated key keeps its last
            // value instead of failing.
            let options = serde_saphyr::options! {
                duplicate_keys: serde_saphyr::DuplicateKeyPolicy::LastWins,
                // `.inf` and `.nan` are numbers (histogram buckets may end in `.inf`).
                non_finite_float_policy: serde_saphyr::options::NonFiniteFloatPolicy::PassThrough,
            };
            // yaml.v2 reads the first document of a multi-document file.
            serde_saphyr::from_str_multiple_with_options::<RawConfig, Vec<RawConfig>>(text, options)
                .map_err(|e| ConfigError::Yaml(e.to_string()))?
                .into_iter()
                .next()
                .unwrap_or_default()
        };
        raw.validate()
    }
}

#[derive(Deserialize, Default)]
struct RawConfig {
    #[serde(default)]
    defaults: Option<RawDefaults>,
    #[serde(default)]
    mappings: Option<Vec<RawMapping>>,
}

#[derive(Deserialize, Default)]
struct RawDefaults {
    #[serde(default)]
    observer_type: Option<String>,
    #[serde(default)]
    timer_type: Option<String>,
    #[serde(default)]
    buckets: Option<Vec<Num>>,
    #[serde(default)]
    quantiles: Option<Vec<RawQuantile>>,
    #[serde(default)]
    match_type: Option<String>,
    #[serde(default)]
    glob_disable_ordering: Option<GoBool>,
    #[serde(default)]
    ttl: Option<GoDuration>,
    #[serde(default)]
    summary_options: Option<RawSummary>,
    #[serde(default)]
    histogram_options: Option<RawHistogram>,
}

#[derive(Deserialize, Default)]
struct RawMapping {
    #[serde(default, rename = "match")]
    match_text: Option<Scalar>,
    #[serde(default)]
    name: Option<Scalar>,
    #[serde(default)]
    labels: Option<BTreeMap<String, Option<Scalar>>>,
    #[serde(default)]
    observer_type: Option<String>,
    #[serde(default)]
    timer_type: Option<String>,
    #[serde(default)]
    buckets: Option<Vec<Num>>,
    #[serde(default)]
    quantiles: Option<Vec<RawQuantile>>,
    #[serde(default)]
    match_type: Option<String>,
    #[serde(default)]
    help: Option<Scalar>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default)]
    match_metric_type: Option<String>,
    #[serde(default)]
    ttl: Option<GoDuration>,
    #[serde(default)]
    summary_options: Option<RawSummary>,
    #[serde(default)]
    histogram_options: Option<RawHistogram>,
    #[serde(default)]
    scale: Option<Num>,
    #[serde(default)]
    honor_labels: Option<GoBool>,
}

#[derive(Deserialize, Default, Clone)]
struct RawSummary {
    #[serde(default)]
    quantiles: Option<Vec<RawQuantile>>,
    #[serde(default)]
    max_age: Option<GoDuration>,
    #[serde(default)]
    age_buckets: Option<GoUint32>,
    #[serde(default)]
    buf_cap: Option<GoUint32>,
}

#[derive(Deserialize, Default, Clone)]
struct RawHistogram {
    #[serde(default)]
    buckets: Option<Vec<Num>>,
}

#[derive(Deserialize, Clone, Copy)]
struct RawQuantile {
    #[serde(default)]
    quantile: Num,
    #[serde(default)]
    error: Num,
}

impl RawQuantile {
    fn cook(self) -> Quantile {
        Quantile {
            quantile: self.quantile.0,
            error: self.error.0,
        }
    }
}

fn quantiles(q: &Option<Vec<RawQuantile>>) -> Option<Vec<Quantile>> {
    q.as_ref().map(|v| v.iter().map(|q| q.cook()).collect())
}

fn floats(b: &Option<Vec<Num>>) -> Option<Vec<f64>> {
    b.as_ref().map(|v| v.iter().map(|n| n.0).collect())
}

fn observer_type(s: Option<&str>) -> Result<ObserverType, ConfigError> {
    match s.unwrap_or("") {
        "" => Ok(ObserverType::Default),
        "histogram" => Ok(ObserverType::Histogram),
        "summary" => Ok(ObserverType::Summary),
        other => Err(ConfigError::Invalid(format!(
            "invalid observer type '{other}'"
        ))),
    }
}

fn match_type(s: Option<&str>) -> Result<Option<MatchType>, ConfigError> {
    match s.unwrap_or("") {
        "" => Ok(None),
        "glob" => Ok(Some(MatchType::Glob)),
        "regex" => Ok(Some(MatchType::Regex)),
        other => Err(ConfigError::Invalid(format!(
            "invalid match type '{other}'"
        ))),
    }
}

fn action(s: Option<&str>) -> Result<Action, ConfigError> {
    match s.unwrap_or("") {
        "" | "map" => Ok(Action::Map),
        "drop" => Ok(Action::Drop),
        other => Err(ConfigError::Invalid(format!(
            "invalid action type '{other}'"
        ))),
    }
}

fn metric_type(s: Option<&str>) -> Result<Option<EventKind>, ConfigError> {
    match s.unwrap_or("") {
        "" => Ok(None),
        "counter" => Ok(Some(EventKind::Counter)),
        "gauge" => Ok(Some(EventKind::Gauge)),
        "observer" => Ok(Some(EventKind::Observer)),
        other => Err(ConfigError::Invalid(format!(
            "invalid metric type '{other}'"
        ))),
    }
}

impl RawConfig {
    fn validate(self) -> Result<MappingConfig, ConfigError> {
        let mut warnings = Vec::new();
        let rd = self.defaults.unwrap_or_default();
        let mut defaults = Defaults::default();
        let ot = rd.observer_type.as_deref().filter(|s| !s.is_empty());
        defaults.observer_type = observer_type(ot.or(rd.timer_type.as_deref()))?;
        defaults.match_type = match_type(rd.match_type.as_deref())?.unwrap_or(MatchType::Glob);
        defaults.glob_disable_ordering = rd.glob_disable_ordering.is_some_and(|b| b.0);
        defaults.ttl = rd.ttl.map(|d| d.0).unwrap_or_default();
        let summary = rd.summary_options.clone().unwrap_or_default();
        let mut summary_quantiles = quantiles(&summary.quantiles).unwrap_or_default();
        if summary_quantiles.is_empty() {
            summary_quantiles = quantiles(&rd.quantiles).unwrap_or_default();
            if !summary_quantiles.is_empty() {
                // Upstream replaces the whole summary_options with the legacy quantiles.
                defaults.summary = SummaryOptions::default();
            } else {
                defaults.summary = summary_options_of(&summary);
            }
        } else {
            defaults.summary = summary_options_of(&summary);
        }
        defaults.summary.quantiles = if summary_quantiles.is_empty() {
            DEFAULT_QUANTILES.to_vec()
        } else {
            summary_quantiles
        };
        let mut buckets = rd
            .histogram_options
            .as_ref()
            .and_then(|h| floats(&h.buckets))
            .unwrap_or_default();
        if buckets.is_empty() {
            buckets = floats(&rd.buckets).unwrap_or_default();
        }
        defaults.buckets = if buckets.is_empty() {
            DEFAULT_BUCKETS.to_vec()
        } else {
            buckets
        };

        let raw_mappings = self.mappings.unwrap_or_default();
        let mut mappings = Vec::with_capacity(raw_mappings.len());
        for (i, m) in raw_mappings.into_iter().enumerate() {
            let match_text = m.match_text.as_ref().map(Scalar::text).unwrap_or_default();
            let at = |msg: String| {
                ConfigError::Invalid(format!("mapping {} (match {:?}): {msg}", i + 1, match_text))
            };
            let labels: Vec<(String, String)> = m
                .labels
                .iter()
                .flatten()
                .map(|(k, v)| (k.clone(), v.as_ref().map(Scalar::text).unwrap_or_default()))
                .collect();
            for (k, _) in &labels {
                if !valid_label_name(k) {
                    return Err(at(format!("invalid label key: {k}")));
                }
            }
            let name = m.name.as_ref().map(Scalar::text).unwrap_or_default();
            if name.is_empty() {
                return Err(at(format!(
                    "line {i}: metric mapping didn't set a metric name"
                )));
            }
            if !valid_name_template(&name) {
                return Err(at(format!(
                    "metric name '{name}' doesn't match regex '^([a-zA-Z_]|(\\$\\{{?\\d+\\}}?))([a-zA-Z0-9_]|(\\$\\{{?\\d+\\}}?))*$'"
                )));
            }
            let mt = match_type(m.match_type.as_deref()).map_err(|e| at(e.to_string()))?;
            let mt = mt.unwrap_or(defaults.match_type);
            let act = action(m.action.as_deref()).map_err(|e| at(e.to_string()))?;
            let kind =
                metric_type(m.match_metric_type.as_deref()).map_err(|e| at(e.to_string()))?;
            match mt {
                MatchType::Glob => {
                    if !valid_glob(&match_text) {
                        return Err(at(format!("invalid match: {match_text}")));
                    }
                }
                MatchType::Regex => {
                    if let Err(e) = regex::Regex::new(&go_regex(&match_text)) {
                        return Err(at(format!("invalid regex {match_text} in mapping: {e}")));
                    }
                }
            }
            let own_ot = m.observer_type.as_deref().filter(|s| !s.is_empty());
            let mut ot =
                observer_type(own_ot.or(m.timer_type.as_deref())).map_err(|e| at(e.to_string()))?;
            if ot == ObserverType::Default {
                ot = defaults.observer_type;
            }
            let summary_q = m.summary_options.as_ref().map(|s| s.quantiles.is_some());
            let hist_b = m.histogram_options.as_ref().map(|h| h.buckets.is_some());
            if m.quantiles.is_some() && summary_q != Some(false) {
                warnings.push(format!(
                    "mapping {}: using the top level quantiles is deprecated. Please use quantiles in the summary_options hierarchy",
                    i + 1
                ));
            }
            if m.buckets.is_some() && hist_b != Some(false) {
                warnings.push(format!(
                    "mapping {}: using the top level buckets is deprecated. Please use buckets in the histogram_options hierarchy",
                    i + 1
                ));
            }
            if summary_q == Some(true) && m.quantiles.is_some() {
                return Err(at(format!(
                    "cannot use quantiles in both the top level and summary options at the same time in {match_text}"
                )));
            }
            if hist_b == Some(true) && m.buckets.is_some() {
                return Err(at(format!(
                    "cannot use buckets in both the top level and histogram options at the same time in {match_text}"
                )));
            }
            let mut buckets = None;
            let mut summary = None;
            if ot == ObserverType::Histogram {
                if m.summary_options.is_some() {
                    return Err(at(
                        "cannot use histogram observer and summary options at the same time".into(),
                    ));
                }
                let mut b = m
                    .histogram_options
                    .as_ref()
                    .and_then(|h| floats(&h.buckets))
                    .unwrap_or_default();
                if let Some(legacy) = floats(&m.buckets).filter(|l| !l.is_empty()) {
                    b = legacy;
                }
                if b.is_empty() {
                    b = defaults.buckets.clone();
                }
                buckets = Some(b);
            }
            if ot == ObserverType::Summary {
                if m.histogram_options.is_some() {
                    return Err(at(
                        "cannot use summary observer and histogram options at the same time".into(),
                    ));
                }
                let raw = m.summary_options.clone().unwrap_or_default();
                let mut s = summary_options_of(&raw);
                if let Some(legacy) = quantiles(&m.quantiles).filter(|l| !l.is_empty()) {
                    s.quantiles = legacy;
                }
                if s.quantiles.is_empty() {
                    s.quantiles = defaults.summary.quantiles.clone();
                }
                if s.max_age.is_zero() {
                    s.max_age = defaults.summary.max_age;
                }
                if s.age_buckets == 0 {
                    s.age_buckets = defaults.summary.age_buckets;
                }
                if s.buf_cap == 0 {
                    s.buf_cap = defaults.summary.buf_cap;
                }
                summary = Some(s);
            }
            let mut ttl = m.ttl.map(|d| d.0).unwrap_or_default();
            if ttl.is_zero() {
                ttl = defaults.ttl;
            }
            mappings.push(MappingSpec {
                match_text,
                match_type: mt,
                name,
                labels,
                action: act,
                match_metric_type: kind,
                help: m.help.as_ref().map(Scalar::text).filter(|h| !h.is_empty()),
                observer_type: ot,
                buckets,
                summary,
                ttl,
                scale: m.scale.map(|s| s.0),
                honor_labels: m.honor_labels.is_some_and(|b| b.0),
            });
        }
        Ok(MappingConfig {
            defaults,
            mappings,
            warnings,
        })
    }
}

fn summary_options_of(raw: &RawSummary) -> SummaryOptions {
    SummaryOptions {
        quantiles: quantiles(&raw.quantiles).unwrap_or_default(),
        max_age: raw.max_age.map(|d| d.0).unwrap_or_default(),
        age_buckets: raw.age_buckets.map_or(0, |n| n.0),
        buf_cap: raw.buf_cap.map_or(0, |n| n.0),
    }
}

/// A Go (RE2) regular expression rewritten for Rust's `regex`, so that it compiles when Go's
/// would and matches what Go's matches: Go's `\d`, `\w`, `\s` and `\b` are ASCII-only
/// (Rust's are Unicode), Go reads `\Q...\E` as literal text and `\101` as an octal code,
/// and inside a class Go takes `[` and `&&` literally where Rust nests and intersects.
pub fn go_regex(pattern: &str) -> String {
    let mut out = String::with_capacity(pattern.len() + 16);
    let mut chars = pattern.chars().peekable();
    // Inside `[...]`, and whether a `]` here would still be a literal (right after `[`/`[^`).
    let mut class = false;
    let mut class_start = false;
    while let Some(c) = chars.next() {
        let at_start = std::mem::take(&mut class_start);
        match c {
            '\\' => {
                let Some(n) = chars.next() else {
                    out.push('\\');
                    break;
                };
                match n {
                    'Q' => {
                        let mut literal = String::new();
                        while let Some(x) = chars.next() {
                            if x == '\\' && chars.peek() == Some(&'E') {
                                chars.next();
                                break;
                            }
                            literal.push(x);
                        }
                        out.push_str(&regex::escape(&literal));
                    }
                    'd' => out.push_str("[0-9]"),
                    'D' => out.push_str("[^0-9]"),
                    'w' => out.push_str("[0-9A-Za-z_]"),
                    'W' => out.push_str("[^0-9A-Za-z_]"),
                    's' => out.push_str("[\\t\\n\\f\\r ]"),
                    'S' => out.push_str("[^\\t\\n\\f\\r ]"),
                    'b' if !class => out.push_str("(?-u:\\b)"),
                    'B' if !class => out.push_str("(?-u:\\B)"),
                    '0'..='7'
                        if n == '0' || chars.peek().is_some_and(|d| ('0'..='7').contains(d)) =>
                    {
                        let mut code = n.to_digit(8).unwrap_or(0);
                        for _ in 0..2 {
                            match chars.peek().and_then(|d| d.to_digit(8)) {
                                Some(d) => {
                                    code = code * 8 + d;
                                    chars.next();
                                }
                                None => break,
                            }
                        }
                        out.push_str(&format!("\\x{{{code:X}}}"));
                    }
                    _ => {
                        out.push('\\');
                        out.push(n);
                    }
                }
            }
            '[' if !class => {
                class = true;
                class_start = true;
                out.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    out.push('^');
                }
            }
            '[' if chars.peek() == Some(&':') => {
                // A POSIX class such as `[:alpha:]`, the same in both.
                out.push('[');
                for x in chars.by_ref() {
                    out.push(x);
                    if x == ']' {
                        break;
                    }
                }
            }
            ']' if class && !at_start => {
                class = false;
                out.push(']');
            }
            '[' | '&' | '~' if class => {
                out.push('\\');
                out.push(c);
            }
            _ => out.push(c),
        }
    }
    out
}

/// `^[a-zA-Z_][a-zA-Z0-9_]+$` (upstream requires at least two characters).
pub fn valid_label_name(k: &str) -> bool {
    let b = k.as_bytes();
    b.len() >= 2
        && (b[0].is_ascii_alphabetic() || b[0] == b'_')
        && b[1..]
            .iter()
            .all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// `^([a-zA-Z_]|\$\{?\d+\}?)([a-zA-Z0-9_]|\$\{?\d+\}?)*$`
fn valid_name_template(name: &str) -> bool {
    let b = name.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_ascii_alphabetic() || c == b'_' || (i > 0 && c.is_ascii_digit()) {
            i += 1;
            continue;
        }
        if c != b'$' {
            return false;
        }
        i += 1;
        if b.get(i) == Some(&b'{') {
            i += 1;
        }
        let digits = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return false;
        }
        i += digits;
        if b.get(i) == Some(&b'}') {
            i += 1;
        }
    }
    !b.is_empty()
}

/// `^(\*|[a-zA-Z_](-?[a-zA-Z0-9_])*)(\.\*|\.[a-zA-Z0-9_](-?[a-zA-Z0-9_])*)*$`
pub fn valid_glob(glob: &str) -> bool {
    glob.split('.').enumerate().all(|(i, seg)| {
        if seg == "*" {
            return true;
        }
        let b = seg.as_bytes();
        let Some(&first) = b.first() else {
            return false;
        };
        let first_ok =
            first.is_ascii_alphabetic() || first == b'_' || (i > 0 && first.is_ascii_digit());
        let word = |c: &u8| c.is_ascii_alphanumeric() || *c == b'_';
        first_ok
            && b.iter().all(|c| word(c) || *c == b'-')
            && !b.ends_with(b"-")
            && !seg.contains("--")
    })
}

/// Any YAML scalar, kept as written: yaml.v2 decodes a scalar into a string field as its
/// source text (`1.0`, `0x1F` and `yes` stay as they are; `~` is empty).
#[derive(Clone, Debug)]
struct Scalar(String);

impl Scalar {
    fn text(&self) -> String {
        self.0.clone()
    }
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a scalar")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        d.deserialize_string(V)
    }
}

/// A number written as an int, a float or a numeric string.
#[derive(Clone, Copy, Debug, Default)]
struct Num(f64);

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Num;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Num, E> {
                Ok(Num(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Num, E> {
                Ok(Num(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Num, E> {
                // yaml.v2 decodes only numeric scalars (`.inf` and `.nan` included) into a
                // float; a quoted "2" is a type error.
                Err(E::custom(format!(
                    "cannot unmarshal !!str `{v}` into float64"
                )))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML boolean as yaml.v2 reads one into a Go `bool`: `true`, `yes`, `on` and their
/// opposites, but not a quoted string.
#[derive(Clone, Copy, Debug)]
struct GoBool(bool);

impl<'de> Deserialize<'de> for GoBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<GoBool, E> {
                Ok(GoBool(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// A YAML number as yaml.v2 reads one into a Go `uint32`: an integer in range, or a float
/// (truncated); not a quoted string.
#[derive(Clone, Copy, Debug)]
struct GoUint32(u32);

impl<'de> Deserialize<'de> for GoUint32 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoUint32;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an unsigned 32-bit integer")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoUint32, E> {
                u32::try_from(v)
                    .map(GoUint32)
                    .map_err(|_| E::custom(format!("{v} overflows uint32")))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoUint32, E> {
                u32::try_from(v)
                    .map(GoUint32)
                    .map_err(|_| E::custom(format!("{v} does not fit uint32")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<GoUint32, E> {
                if (0.0..=f64::from(u32::MAX)).contains(&v) {
                    Ok(GoUint32(v as u32))
                } else {
                    Err(E::custom(format!("{v} does not fit uint32")))
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// A Go `time.Duration` in YAML: a string for `time.ParseDuration`, or nanoseconds.
#[derive(Clone, Copy, Debug)]
struct GoDuration(Duration);

impl<'de> Deserialize<'de> for GoDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = GoDuration;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration such as 30s, 5m or 1h30m")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(v.max(0) as u64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::from_nanos(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<GoDuration, E> {
                parse_go_duration(v)
                    .map(GoDuration)
                    .ok_or_else(|| E::custom(format!("time: invalid duration {v:?}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<GoDuration, E> {
                Ok(GoDuration(Duration::ZERO))
            }
        }
        d.deserialize_any(V)
    }
}

/// Go's `time.ParseDuration`; negative durations become zero (they never expire anything
/// upstream either).
pub fn parse_go_duration(s: &str) -> Option<Duration> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let num_len = rest
            .bytes()
            .take_while(|b| b.is_ascii_digit() || *b == b'.')
            .count();
        let num = &rest[..num_len];
        if num.is_empty() || num == "." || num.matches('.').count() > 1 {
            return None;
        }
        let value: f64 = if num.ends_with('.') {
            num.trim_end_matches('.').parse().ok()?
        } else if num.starts_with('.') {
            format!("0{num}").parse().ok()?
        } else {
            num.parse().ok()?
        };
        rest = &rest[num_len..];
        let unit_len = rest
            .char_indices()
            .find(|(_, c)| c.is_ascii_digit() || *c == '.')
            .map_or(rest.len(), |(i, _)| i);
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos = match unit {
            "ns" => 1.0,
            "us" | "\u{b5}s" | "\u{3bc}s" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            _ => return None,
        };
        total += value * nanos;
    }
    if negative || !total.is_finite() || total > 9.2e18 {
        return if negative { Some(Duration::ZERO) } else { None };
    }
    Some(Duration::from_nanos(total as u64))
}

#[cfg(test)]
mod tests;
