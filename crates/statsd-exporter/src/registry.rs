//! The registry of mapped metrics, with statsd_exporter's rules (`pkg/registry`): one type
//! per name, any number of label sets per name (each label-name set is a "vector" with the
//! help, buckets and objectives it was created with), TTL expiry per series, and the
//! conflict checks that keep a scrape valid.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graygate_statsd::{FxBuild, Quantile, SummaryOptions};

use crate::format::{Rendered, write_float, write_label_value};
use crate::summary::Summary;

/// The type of a registered metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
    Summary,
}

impl Kind {
    /// `statsd_exporter_metrics_total{type}` label and TYPE line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// How to update a series.
#[derive(Clone, Copy, Debug)]
pub enum Update {
    Add(f64),
    Set(f64),
    Observe { value: f64, times: u32 },
}

/// Settings for a vector created by this update.
pub struct Create<'a> {
    pub help: &'a str,
    pub buckets: &'a [f64],
    /// A summary's options, worked out only when a vector is created.
    pub summary: Option<&'a dyn Fn() -> SummaryOptions>,
    pub ttl: Duration,
}

struct Vector {
    label_names: Vec<String>,
    help: String,
    buckets: Arc<[f64]>,
    objectives: Arc<[Quantile]>,
    summary: SummaryOptions,
}

enum Value {
    Scalar(f64),
    Histogram {
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
    Summary(Box<Summary>),
}

struct Series {
    vector: usize,
    labels: Vec<(String, String)>,
    value: Value,
    last: Instant,
    ttl: Duration,
}

struct Family {
    kind: Kind,
    vectors: Vec<Vector>,
    series: HashMap<Box<[u8]>, Series, FxBuild>,
}

/// Mapped metrics.
#[derive(Default)]
pub struct Registry {
    families: HashMap<String, Family, FxBuild>,
    key: Vec<u8>,
    /// `statsd_exporter_metrics_total{type}`: vectors created, per kind.
    pub vectors_created: [u64; 4],
}

/// Why an update was refused.
#[derive(Debug, PartialEq, Eq)]
pub enum Refused {
    /// The name (or a histogram/summary suffix of it) has another type.
    Conflict,
}

impl Registry {
    /// Applies `update` to the series `name{labels}` of `kind`, creating it if needed.
    /// `labels` are sorted by name, with unique names. `refuse` is asked about a name
    /// before its first series is created (a refused name never gets a family, so names
    /// already here need not be asked again).
    #[allow(clippy::too_many_arguments)]
    pub fn update(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        kind: Kind,
        update: Update,
        create: &Create<'_>,
        now: Instant,
        refuse: impl FnOnce(&str) -> bool,
    ) -> Result<(), Refused> {
        series_key(labels, &mut self.key);
        if let Some(family) = self.families.get_mut(name)
            && family.kind == kind
            && let Some(series) = family.series.get_mut(self.key.as_slice())
        {
            series.last = now;
            series.ttl = create.ttl;
            apply(
                &family.vectors[series.vector],
                &mut series.value,
                update,
                now,
            );
            return Ok(());
        }
        if self.conflicts(name, kind) || refuse(name) {
            return Err(Refused::Conflict);
        }
        let family = self
            .families
            .entry(name.to_owned())
            .or_insert_with(|| Family {
                kind,
                vectors: Vec::new(),
                series: HashMap::default(),
            });
        let vector = match family.vectors.iter().position(|v| {
            v.label_names
                .iter()
                .map(String::as_str)
                .eq(labels.iter().map(|(k, _)| *k))
        }) {
            Some(i) => i,
            None => {
                self.vectors_created[kind.index()] += 1;
                let mut buckets: Vec<f64> = create.buckets.to_vec();
                // client_golang panics on unsorted buckets; sort instead, and drop a
                // trailing +Inf (it is always added).
                buckets.sort_by(f64::total_cmp);
                buckets.dedup();
                buckets.retain(|b| *b != f64::INFINITY && !b.is_nan());
                let summary = create.summary.map(|options| options()).unwrap_or_default();
                let mut objectives = summary.quantiles.clone();
                objectives.sort_by(|a, b| a.quantile.total_cmp(&b.quantile));
                objectives.dedup_by(|a, b| a.quantile == b.quantile);
                family.vectors.push(Vector {
                    label_names: labels.iter().map(|(k, _)| (*k).to_owned()).collect(),
                    help: create.help.to_owned(),
                    buckets: buckets.into(),
                    objectives: objectives.into(),
                    summary,
                });
                family.vectors.len() - 1
            }
        };
        let v = &family.vectors[vector];
        let mut value = match kind {
            Kind::Counter | Kind::Gauge => Value::Scalar(0.0),
            Kind::Histogram => Value::Histogram {
                counts: vec![0; v.buckets.len()],
                sum: 0.0,
                count: 0,
            },
            Kind::Summary => Value::Summary(Box::new(Summary::new(&v.summary, now))),
        };
        apply(v, &mut value, update, now);
        family.series.insert(
            self.key.as_slice().into(),
            Series {
                vector,
                labels: labels
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                value,
                last: now,
                ttl: create.ttl,
            },
        );
        Ok(())
    }

    fn conflicts(&self, name: &str, kind: Kind) -> bool {
        let clash = |n: &str| self.families.get(n).is_some_and(|f| f.kind != kind);
        if clash(name) {
            return true;
        }
        let suffixes: &[&str] = match kind {
            Kind::Histogram => &["_sum", "_count", "_bucket"],
            Kind::Summary => &["_sum", "_count"],
            _ => &[],
        };
        if suffixes.iter().any(|s| clash(&format!("{name}{s}"))) {
            return true;
        }
        // The other way round (`x_count` after the summary `x`) upstream accepts the event
        // and then fails every scrape; refuse it, whatever its type.
        let sample_of = |suffix: &str, kinds: &[Kind]| {
            name.strip_suffix(suffix)
                .and_then(|stem| self.families.get(stem))
                .is_some_and(|f| kinds.contains(&f.kind))
        };
        sample_of("_sum", &[Kind::Histogram, Kind::Summary])
            || sample_of("_count", &[Kind::Histogram, Kind::Summary])
            || sample_of("_bucket", &[Kind::Histogram])
    }

    /// Removes series whose TTL has passed.
    pub fn expire(&mut self, now: Instant) {
        for family in self.families.values_mut() {
            family
                .series
                .retain(|_, s| s.ttl.is_zero() || now.saturating_duration_since(s.last) <= s.ttl);
        }
    }

    /// Renders every non-empty family for the caller to merge, sort and head.
    pub fn render(&mut self, now: Instant, out: &mut Vec<Rendered>) {
        for (name, family) in &mut self.families {
            if family.series.is_empty() {
                continue;
            }
            let mut series: Vec<&mut Series> = family.series.values_mut().collect();
            series.sort_by(|a, b| {
                a.labels.len().cmp(&b.labels.len()).then_with(|| {
                    a.labels
                        .iter()
                        .map(|(_, v)| v)
                        .cmp(b.labels.iter().map(|(_, v)| v))
                })
            });
            let help = family
                .vectors
                .get(series[0].vector)
                .map_or("", |v| v.help.as_str())
                .to_owned();
            let mut text = String::new();
            for s in series {
                let vector = &family.vectors[s.vector];
                match &mut s.value {
                    Value::Scalar(v) => sample(&mut text, name, "", &s.labels, None, *v),
                    Value::Histogram { counts, sum, count } => {
                        let mut cumulative = 0;
                        for (b, c) in vector.buckets.iter().zip(counts.iter()) {
                            cumulative += *c;
                            sample(
                                &mut text,
                                name,
                                "_bucket",
                                &s.labels,
                                Some(("le", *b)),
                                cumulative as f64,
                            );
                        }
                        sample(
                            &mut text,
                            name,
                            "_bucket",
                            &s.labels,
                            Some(("le", f64::INFINITY)),
                            *count as f64,
                        );
                        sample(&mut text, name, "_sum", &s.labels, None, *sum);
                        sample(&mut text, name, "_count", &s.labels, None, *count as f64);
                    }
                    Value::Summary(summary) => {
                        let values = summary.quantiles(&vector.objectives, now);
                        for (q, v) in vector.objectives.iter().zip(values) {
                            sample(
                                &mut text,
                                name,
                                "",
                                &s.labels,
                                Some(("quantile", q.quantile)),
                                v,
                            );
                        }
                        sample(&mut text, name, "_sum", &s.labels, None, summary.sum);
                        sample(
                            &mut text,
                            name,
                            "_count",
                            &s.labels,
                            None,
                            summary.count as f64,
                        );
                    }
                }
            }
            out.push(Rendered {
                name: name.clone(),
                kind: family.kind.as_str(),
                help,
                body: text,
            });
        }
    }
}

/// A label set as one byte string: the number of labels, then each name and value
/// prefixed by its length (so no two sets collide), as fixed-size words.
///
/// Never empty: an empty boxed key has a dangling pointer, and glibc's AVX-512 `memcmp`
/// reads through it with a masked load that takes a microcode assist on every lookup
/// (a third of the exporter's time when most series have no labels).
fn series_key(labels: &[(&str, &str)], key: &mut Vec<u8>) {
    key.clear();
    key.extend_from_slice(&(labels.len() as u32).to_le_bytes());
    for (k, v) in labels {
        for text in [k, v] {
            key.extend_from_slice(&(text.len() as u32).to_le_bytes());
            key.extend_from_slice(text.as_bytes());
        }
    }
}

fn apply(vector: &Vector, value: &mut Value, update: Update, now: Instant) {
    match (value, update) {
        (Value::Scalar(v), Update::Add(x)) => *v += x,
        (Value::Scalar(v), Update::Set(x)) => *v = x,
        (Value::Histogram { counts, sum, count }, Update::Observe { value, times }) => {
            if let Some(i) = vector.buckets.iter().position(|b| value <= *b) {
                counts[i] += u64::from(times);
            }
            for _ in 0..times {
                *sum += value;
            }
            *count += u64::from(times);
        }
        (Value::Summary(s), Update::Observe { value, times }) => s.observe(value, times, now),
        _ => {}
    }
}

/// One sample line.
pub fn sample(
    out: &mut String,
    name: &str,
    suffix: &str,
    labels: &[(String, String)],
    extra: Option<(&str, f64)>,
    value: f64,
) {
    out.push_str(name);
    out.push_str(suffix);
    if !labels.is_empty() || extra.is_some() {
        out.push('{');
        let mut first = true;
        for (k, v) in labels {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(k);
            out.push_str("=\"");
            write_label_value(out, v);
            out.push('"');
        }
        if let Some((k, v)) = extra {
            if !first {
                out.push(',');
            }
            out.push_str(k);
            out.push_str("=\"");
            write_float(out, v);
            out.push('"');
        }
        out.push('}');
    }
    out.push(' ');
    write_float(out, value);
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_keys_are_length_prefixed() {
        let mut key = b"stale".to_vec();
        series_key(&[], &mut key);
        assert_eq!(key, [0, 0, 0, 0]);
        series_key(&[("a", "b:c"), ("code", "")], &mut key);
        let mut want = vec![2, 0, 0, 0, 1, 0, 0, 0, b'a', 3, 0, 0, 0];
        want.extend_from_slice(b"b:c");
        want.extend_from_slice(&[4, 0, 0, 0]);
        want.extend_from_slice(b"code");
        want.extend_from_slice(&[0, 0, 0, 0]);
        assert_eq!(key, want);
        // Without the lengths, ("ab", "c") and ("a", "bc") would be the same bytes.
        let mut one = Vec::new();
        let mut other = Vec::new();
        series_key(&[("ab", "c")], &mut one);
        series_key(&[("a", "bc")], &mut other);
        assert_ne!(one, other);
    }
}
