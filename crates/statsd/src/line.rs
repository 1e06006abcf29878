//! The StatsD line protocol as statsd_exporter reads it (`pkg/line`).
//!
//! One call parses one line into zero or more [`Event`]s and counts what it saw in
//! [`LineStats`], with the same reasons statsd_exporter uses for
//! `statsd_exporter_sample_errors_total{reason}`.

use std::borrow::Cow;

use crate::escape::escape_metric_name;

/// The kind of a StatsD event, as the mapper and the registry see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventKind {
    /// `c`
    Counter,
    /// `g`
    Gauge,
    /// `ms`, `h`, `d`
    Observer,
}

impl EventKind {
    /// The name statsd_exporter uses (`match_metric_type`, `events_total{type}`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Counter => "counter",
            EventKind::Gauge => "gauge",
            EventKind::Observer => "observer",
        }
    }

    /// Index for per-kind arrays.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Labels: sorted by name, unique names (a later tag with the same name wins).
pub type Labels = Vec<(String, String)>;

/// Sets `name` to `value` in a sorted label list.
pub fn set_label(labels: &mut Labels, name: String, value: String) {
    match labels.binary_search_by(|(k, _)| k.as_str().cmp(&name)) {
        Ok(i) => labels[i].1 = value,
        Err(i) => labels.insert(i, (name, value)),
    }
}

/// One parsed sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    /// The StatsD name with name-embedded tags removed (not escaped).
    pub name: String,
    pub kind: EventKind,
    /// Already divided by the sample rate for counters, and by 1000 for `ms`.
    pub value: f64,
    /// A gauge value written with a leading `+` or `-` is a delta.
    pub relative: bool,
    /// Labels from tags.
    pub labels: Labels,
    /// How many identical events this stands for: statsd_exporter repeats an
    /// observation `int(1/rate)` times; we carry the count instead (capped at
    /// [`MAX_WEIGHT`]).
    pub weight: u32,
}

/// One parsed sample, borrowed from the line (and the parser's label list): what
/// [`Parser::parse_line_with`] hands to its callback, so a consumer that maps and counts
/// events at once allocates nothing per sample. [`Sample::to_event`] makes it owned.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Sample<'a> {
    /// The StatsD name with name-embedded tags removed (not escaped).
    pub name: &'a str,
    pub kind: EventKind,
    /// Already divided by the sample rate for counters, and by 1000 for `ms`.
    pub value: f64,
    /// A gauge value written with a leading `+` or `-` is a delta.
    pub relative: bool,
    /// Labels from tags, sorted by name.
    pub labels: &'a Labels,
    /// How many identical events this stands for (see [`Event::weight`]).
    pub weight: u32,
}

impl Sample<'_> {
    /// The owned form.
    pub fn to_event(&self) -> Event {
        Event {
            name: self.name.to_owned(),
            kind: self.kind,
            value: self.value,
            relative: self.relative,
            labels: self.labels.clone(),
            weight: self.weight,
        }
    }
}

/// Upper bound on [`Event::weight`], so a line like `x:1|ms|@0.0000001` cannot make the
/// exporter spin (statsd_exporter would create ten million events).
pub const MAX_WEIGHT: u32 = 1_000_000;

/// Why a sample (or line) was rejected; `label()` is statsd_exporter's reason label.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SampleError {
    MalformedLine,
    MixedTaggingStyles,
    NotEnoughPartsAfterColon,
    InvalidExtendedAggregateType,
    MalformedComponent,
    MalformedValue,
    InvalidSampleFactor,
    IllegalEvent,
    MalformedContainerId,
    MalformedTimestamp,
}

impl SampleError {
    /// Every reason, in `index()` order.
    pub const ALL: [SampleError; 10] = [
        SampleError::MalformedLine,
        SampleError::MixedTaggingStyles,
        SampleError::NotEnoughPartsAfterColon,
        SampleError::InvalidExtendedAggregateType,
        SampleError::MalformedComponent,
        SampleError::MalformedValue,
        SampleError::InvalidSampleFactor,
        SampleError::IllegalEvent,
        SampleError::MalformedContainerId,
        SampleError::MalformedTimestamp,
    ];

    /// The `reason` label value.
    pub fn label(self) -> &'static str {
        match self {
            SampleError::MalformedLine => "malformed_line",
            SampleError::MixedTaggingStyles => "mixed_tagging_styles",
            SampleError::NotEnoughPartsAfterColon => "not_enough_parts_after_colon",
            SampleError::InvalidExtendedAggregateType => "invalid_extended_aggregate_type",
            SampleError::MalformedComponent => "malformed_component",
            SampleError::MalformedValue => "malformed_value",
            SampleError::InvalidSampleFactor => "invalid_sample_factor",
            SampleError::IllegalEvent => "illegal_event",
            SampleError::MalformedContainerId => "malformed_container_id",
            SampleError::MalformedTimestamp => "malformed_timestamp",
        }
    }

    /// Index into [`LineStats::sample_errors`].
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Counters a parse updates; add them to the exporter's own metrics.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LineStats {
    /// `statsd_exporter_samples_total`
    pub samples: u64,
    /// `statsd_exporter_tags_total` (samples that carried at least one tag)
    pub tags: u64,
    /// `statsd_exporter_tag_errors_total`
    pub tag_errors: u64,
    /// `statsd_exporter_sample_errors_total{reason}`, indexed by [`SampleError::index`].
    pub sample_errors: [u64; SampleError::ALL.len()],
}

impl LineStats {
    fn error(&mut self, e: SampleError) {
        self.sample_errors[e.index()] += 1;
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &LineStats) {
        self.samples += other.samples;
        self.tags += other.tags;
        self.tag_errors += other.tag_errors;
        for (a, b) in self.sample_errors.iter_mut().zip(other.sample_errors) {
            *a += b;
        }
    }

    /// Total sample errors of one reason.
    pub fn errors(&self, e: SampleError) -> u64 {
        self.sample_errors[e.index()]
    }
}

/// Which tagging extensions are on (statsd_exporter's `--statsd.parse-*-tags` flags; all on
/// by default).
#[derive(Clone, Debug)]
pub struct Parser {
    pub dogstatsd: bool,
    pub influxdb: bool,
    pub librato: bool,
    pub signalfx: bool,
    /// DogStatsD 1.2/1.3 `|c:container` and `|T<unix>` fields. statsd_exporter v0.27.2
    /// treats them as invalid sample factors; later releases accept them. Off by default.
    pub dogstatsd_extras: bool,
}

impl Default for Parser {
    fn default() -> Self {
        Parser {
            dogstatsd: true,
            influxdb: true,
            librato: true,
            signalfx: true,
            dogstatsd_extras: false,
        }
    }
}

impl Parser {
    /// Parses one line (no line terminator) and appends its events to `out`.
    ///
    /// An empty line yields nothing and counts nothing, as upstream.
    pub fn parse_line(&self, line: &[u8], out: &mut Vec<Event>, stats: &mut LineStats) {
        self.parse_line_with(line, stats, |sample| out.push(sample.to_event()));
    }

    /// Parses one line (no line terminator) and calls `each` with every sample, borrowed:
    /// no allocation unless the line has tags or SignalFX brackets in its name.
    pub fn parse_line_with(
        &self,
        line: &[u8],
        stats: &mut LineStats,
        mut each: impl FnMut(&Sample<'_>),
    ) {
        if line.is_empty() {
            return;
        }
        let Ok(line) = std::str::from_utf8(line) else {
            stats.error(SampleError::MalformedLine);
            return;
        };
        let Some((raw_name, rest)) = split_once_ascii(line, b':') else {
            stats.error(SampleError::MalformedLine);
            return;
        };
        if raw_name.is_empty() {
            stats.error(SampleError::MalformedLine);
            return;
        }

        let mut labels = Labels::new();
        let name = self.name_and_tags(raw_name, &mut labels, stats);
        // A byte scan: `str::contains` with a string pattern builds a searcher first, which
        // costs more than scanning a few dozen bytes.
        let dogstatsd_tagged = rest.as_bytes().windows(2).any(|w| w == b"|#");
        if dogstatsd_tagged && !labels.is_empty() {
            stats.error(SampleError::MixedTaggingStyles);
            return;
        }

        let mut head = split_ascii(rest, b'|');
        let (Some(first), Some(kind)) = (head.next(), head.next()) else {
            stats.error(SampleError::NotEnoughPartsAfterColon);
            return;
        };

        if first.bytes().any(|b| b == b':') {
            // DogStatsD extended aggregation: `name:1:2:3|ms|...`.
            if !matches!(kind, "ms" | "h" | "d") {
                stats.error(SampleError::InvalidExtendedAggregateType);
                return;
            }
            let suffix = rest.split_once('|').map_or("", |(_, s)| s);
            let mut sample = String::new();
            for value in first.split(':') {
                sample.clear();
                sample.push_str(value);
                sample.push('|');
                sample.push_str(suffix);
                self.sample(&sample, &name, &mut labels, &mut each, stats);
            }
        } else if dogstatsd_tagged {
            self.sample(rest, &name, &mut labels, &mut each, stats);
        } else {
            for sample in split_ascii(rest, b':') {
                self.sample(sample, &name, &mut labels, &mut each, stats);
            }
        }
    }

    fn sample(
        &self,
        sample: &str,
        name: &str,
        labels: &mut Labels,
        each: &mut impl FnMut(&Sample<'_>),
        stats: &mut LineStats,
    ) {
        stats.samples += 1;
        // v0.27.2 allows a value, a type and two more components; the later releases that
        // read `|c:` and `|T` allow eight.
        let max_parts = if self.dogstatsd_extras { 8 } else { 4 };
        let mut parts: [&str; 8] = [""; 8];
        let mut count = 0;
        for part in split_ascii(sample, b'|') {
            if count == max_parts {
                stats.error(SampleError::MalformedComponent);
                return;
            }
            parts[count] = part;
            count += 1;
        }
        if count < 2 {
            stats.error(SampleError::MalformedComponent);
            return;
        }
        let (value_text, kind) = (parts[0], parts[1]);
        let relative = value_text.starts_with('+') || value_text.starts_with('-');
        let Some(mut value) = parse_go_float(value_text) else {
            stats.error(SampleError::MalformedValue);
            return;
        };

        let extra = &parts[2..count];
        if extra.iter().any(|c| c.is_empty()) {
            stats.error(SampleError::MalformedComponent);
            return;
        }
        let mut repeat: f64 = 1.0;
        for component in extra {
            match component.as_bytes()[0] {
                b'@' => {
                    let factor = match parse_go_float_or_range(&component[1..]) {
                        Ok(f) => f,
                        Err(f) => {
                            stats.error(SampleError::InvalidSampleFactor);
                            f
                        }
                    };
                    let factor = if factor == 0.0 { 1.0 } else { factor };
                    match kind {
                        "c" => value /= factor,
                        "ms" | "h" | "d" => repeat = 1.0 / factor,
                        _ => {}
                    }
                }
                b'#' => {
                    if self.dogstatsd {
                        dogstatsd_tags(&component[1..], labels, stats);
                    }
                }
                b'c' if self.dogstatsd_extras => {
                    if component.len() > 2 && component.starts_with("c:") {
                        set_label(labels, "container_id".into(), component[2..].into());
                    } else {
                        stats.error(SampleError::MalformedContainerId);
                        return;
                    }
                }
                b'T' if self.dogstatsd_extras => {
                    if component.len() < 2 || component[1..].parse::<i64>().is_err() {
                        stats.error(SampleError::MalformedTimestamp);
                        return;
                    }
                }
                // v0.27.2 counts an unknown component and keeps the sample (its loop
                // `continue`s to the next component); later releases drop the sample.
                _ if !self.dogstatsd_extras => stats.error(SampleError::InvalidSampleFactor),
                _ => {
                    stats.error(SampleError::InvalidSampleFactor);
                    return;
                }
            }
        }

        if !labels.is_empty() {
            stats.tags += 1;
        }
        let weight = go_float_to_count(repeat);
        if weight == 0 {
            return;
        }
        let kind = match kind {
            "c" => EventKind::Counter,
            "g" => EventKind::Gauge,
            "ms" => {
                value /= 1000.0;
                EventKind::Observer
            }
            "h" | "d" => EventKind::Observer,
            _ => {
                stats.sample_errors[SampleError::IllegalEvent.index()] += u64::from(weight);
                return;
            }
        };
        each(&Sample {
            name,
            kind,
            value,
            relative,
            labels,
            weight,
        });
    }

    fn name_and_tags<'a>(
        &self,
        name: &'a str,
        labels: &mut Labels,
        stats: &mut LineStats,
    ) -> Cow<'a, str> {
        // Most names have no tags: one pass over the bytes says so.
        if !name.bytes().any(|c| matches!(c, b'[' | b']' | b'#' | b',')) {
            return Cow::Borrowed(name);
        }
        if self.signalfx {
            match (name.find('['), name.find(']')) {
                (Some(start), Some(end)) if end > start => {
                    name_tags(&name[start + 1..end], labels, stats);
                    let mut out = String::with_capacity(name.len());
                    out.push_str(&name[..start]);
                    out.push_str(&name[end + 1..]);
                    return Cow::Owned(out);
                }
                // `]` before `[`: statsd_exporter slices out of range and panics; we count a
                // tag error and keep the name as it is.
                (Some(_), Some(_)) | (Some(_), None) | (None, Some(_)) => {
                    stats.tag_errors += 1;
                    return Cow::Borrowed(name);
                }
                (None, None) => {}
            }
        }
        for (i, c) in name.bytes().enumerate() {
            if (c == b'#' && self.librato) || (c == b',' && self.influxdb) {
                name_tags(&name[i + 1..], labels, stats);
                return Cow::Borrowed(&name[..i]);
            }
        }
        Cow::Borrowed(name)
    }
}

/// `text.split(sep)` for an ASCII separator, with a plain byte loop: fields are a few bytes
/// long, and `str::split`'s searcher costs more to set up than such a scan.
fn split_ascii(text: &str, sep: u8) -> impl Iterator<Item = &str> {
    let mut rest = Some(text);
    std::iter::from_fn(move || {
        let current = rest?;
        match split_once_ascii(current, sep) {
            Some((field, after)) => {
                rest = Some(after);
                Some(field)
            }
            None => {
                rest = None;
                Some(current)
            }
        }
    })
}

/// `text.split_once(sep)` for an ASCII separator, with a plain byte loop.
fn split_once_ascii(text: &str, sep: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == sep)?;
    // `sep` is ASCII, so both sides are on character boundaries.
    Some((text.get(..at)?, text.get(at + 1..)?))
}

/// `k=v,k2=v2` (InfluxDB, Librato, SignalFX).
fn name_tags(component: &str, labels: &mut Labels, stats: &mut LineStats) {
    split_tags(component, |tag| tag_pair(tag, '=', labels, stats));
}

/// `k:v,#k2:v2` after a `|#`.
fn dogstatsd_tags(component: &str, labels: &mut Labels, stats: &mut LineStats) {
    split_tags(component, |tag| {
        tag_pair(tag.strip_prefix('#').unwrap_or(tag), ':', labels, stats)
    });
}

/// Every `,`-separated piece, and the last one only when it is not empty.
fn split_tags(component: &str, mut each: impl FnMut(&str)) {
    let mut pieces = component.split(',').peekable();
    while let Some(piece) = pieces.next() {
        if pieces.peek().is_none() && piece.is_empty() {
            break;
        }
        each(piece);
    }
}

fn tag_pair(tag: &str, separator: char, labels: &mut Labels, stats: &mut LineStats) {
    match tag.split_once(separator) {
        Some((k, v)) if !k.is_empty() && !v.is_empty() => {
            set_label(labels, escape_metric_name(k).into_owned(), v.to_owned());
        }
        _ => stats.tag_errors += 1,
    }
}

/// Go's `int(x)` for the repeat count, then clamped to `0..=MAX_WEIGHT`. Go converts NaN and
/// out-of-range values to `math.MinInt64` on amd64, i.e. no events.
fn go_float_to_count(x: f64) -> u32 {
    if !(1.0..9.223_372_036_854_776e18).contains(&x) {
        return 0;
    }
    let n = x.trunc();
    if n > f64::from(MAX_WEIGHT) {
        MAX_WEIGHT
    } else {
        n as u32
    }
}

/// `strconv.ParseFloat(s, 64)` returning `None` on any error.
pub fn parse_go_float(s: &str) -> Option<f64> {
    parse_go_float_or_range(s).ok()
}

/// `strconv.ParseFloat(s, 64)`: `Err(value)` carries what Go returns with the error
/// (0 for syntax errors, ±Inf for out-of-range).
fn parse_go_float_or_range(s: &str) -> Result<f64, f64> {
    let body = s.strip_prefix(['+', '-']).unwrap_or(s);
    let negative = s.starts_with('-');
    if body.eq_ignore_ascii_case("inf") || body.eq_ignore_ascii_case("infinity") {
        return Ok(if negative {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Go reads a sign before "inf" and "infinity" only: "+nan" is a syntax error.
    if body.eq_ignore_ascii_case("nan") && body.len() == s.len() {
        return Ok(f64::NAN);
    }
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = parse_hex_float(hex).ok_or(0.0)?;
        let v = if negative { -v } else { v };
        return if v.is_infinite() { Err(v) } else { Ok(v) };
    }
    // Rust accepts exactly Go's decimal syntax (digits, one '.', an exponent) except that it
    // also accepts "inf"/"nan" spellings handled above. Underscores (which Go allows only
    // after a base prefix) are not supported.
    if body.is_empty()
        || !body
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'e' | b'E' | b'+' | b'-'))
    {
        return Err(0.0);
    }
    match s.parse::<f64>() {
        Ok(v) if v.is_infinite() => Err(v),
        Ok(v) => Ok(v),
        Err(_) => Err(0.0),
    }
}

/// The part after `0x` of a Go hexadecimal float (`1.8p3` is 12): hex digits with at most
/// one `.`, then a mandatory binary exponent. Rounds to nearest; `inf` when out of range.
fn parse_hex_float(text: &str) -> Option<f64> {
    let (mantissa, exponent) = text.split_once(['p', 'P'])?;
    let exponent: i64 = match exponent.strip_prefix('+') {
        Some(e) if !e.starts_with('-') => e,
        _ => exponent,
    }
    .parse()
    .ok()?;
    let mut bits: u64 = 0;
    let mut scale: i64 = 0;
    let mut sticky = false;
    let mut digits = false;
    let mut dot = false;
    for c in mantissa.chars() {
        if c == '.' && !dot {
            dot = true;
            continue;
        }
        let d = u64::from(c.to_digit(16)?);
        digits = true;
        if bits >> 60 == 0 {
            bits = bits << 4 | d;
            if dot {
                scale -= 4;
            }
        } else {
            // Beyond 60 bits only whether anything was dropped matters for rounding.
            sticky |= d != 0;
            if !dot {
                scale += 4;
            }
        }
    }
    if !digits {
        return None;
    }
    let mut value = (bits | u64::from(sticky)) as f64;
    let mut e = exponent.saturating_add(scale);
    // Scale by 2^e in steps that cannot overflow an intermediate f64 needlessly.
    while e > 0 && value.is_finite() && value != 0.0 {
        let step = e.min(1000);
        value *= f64::powi(2.0, step as i32);
        e -= step;
    }
    while e < 0 && value != 0.0 {
        let step = (-e).min(1000);
        value /= f64::powi(2.0, step as i32);
        e += step;
    }
    Some(value)
}

#[cfg(test)]
mod tests;
