//! Text exposition: Prometheus 0.0.4 and OpenMetrics 1.0.0.

use crate::names::*;
use crate::{
    Cell, DURATION_BUCKETS, Histogram, PerWorker, Registry, STATUS_MIN, UPSTREAM_ERROR_KINDS,
};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

/// Which text format to render.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Prometheus,
    OpenMetrics,
}

impl Format {
    /// Picks the format a scraper asked for in its `Accept` header.
    pub fn from_accept(accept: Option<&str>) -> Format {
        match accept {
            Some(a) if a.contains("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }
}

/// Summed histogram: cumulative bucket counts, sum in seconds.
#[derive(Default, Clone)]
struct Summed {
    buckets: [u64; 14],
    sum_nanos: u64,
}

impl Summed {
    fn add(&mut self, h: &Histogram) {
        for (total, cell) in self.buckets.iter_mut().zip(&h.buckets) {
            *total += cell.get();
        }
        self.sum_nanos = self.sum_nanos.wrapping_add(h.sum_nanos.get());
    }

    fn merge(&mut self, other: &Summed) {
        for (a, b) in self.buckets.iter_mut().zip(other.buckets) {
            *a += b;
        }
        self.sum_nanos = self.sum_nanos.wrapping_add(other.sum_nanos);
    }
}

struct Out {
    text: String,
    format: Format,
}

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let name = match (self.format, kind) {
            (Format::OpenMetrics, "counter") => name.strip_suffix("_total").unwrap_or(name),
            _ => name,
        };
        let _ = writeln!(self.text, "# HELP {name} {help}");
        let _ = writeln!(self.text, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        self.text.push_str(name);
        if !labels.is_empty() {
            self.text.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    self.text.push(',');
                }
                let _ = write!(self.text, "{k}=\"");
                escape(&mut self.text, v);
                self.text.push('"');
            }
            self.text.push('}');
        }
        let _ = writeln!(self.text, " {value}");
    }

    fn histogram(&mut self, name: &str, labels: &[(&str, &str)], h: &Summed) {
        let mut cumulative = 0;
        let bucket = format!("{name}_bucket");
        for (i, count) in h.buckets.iter().enumerate() {
            cumulative += count;
            let le = DURATION_BUCKETS
                .get(i)
                .map_or_else(|| "+Inf".to_string(), |b| seconds(*b));
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            self.sample(&bucket, &with_le, cumulative);
        }
        self.sample(&format!("{name}_sum"), labels, h.sum_nanos as f64 / 1e9);
        self.sample(&format!("{name}_count"), labels, cumulative);
    }
}

/// `le` values as Prometheus client libraries print them (`0.001`, `1.0`, `10.0`).
fn seconds(b: f64) -> String {
    if b.fract() == 0.0 {
        format!("{b:.1}")
    } else {
        format!("{b}")
    }
}

fn escape(out: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn sum_cells(cells: &PerWorker<Cell>) -> u64 {
    cells.all().iter().map(Cell::get).sum()
}

pub(crate) fn render(registry: &Registry, format: Format, nginx_compat: bool) -> String {
    let mut out = Out {
        text: String::with_capacity(16 * 1024),
        format,
    };
    let series = registry.lock();

    // Requests and durations by host, site, version; also folded by host for nginx names.
    out.family(
        HTTP_REQUESTS,
        "counter",
        "Requests answered, by host, site, version and status.",
    );
    let mut by_host_status: BTreeMap<(&str, u16), u64> = BTreeMap::new();
    let mut by_host_duration: BTreeMap<&str, Summed> = BTreeMap::new();
    let mut durations = Vec::with_capacity(series.http.len());
    for ((host, site, version), cells) in &series.http {
        let mut statuses = [0u64; crate::STATUSES];
        let mut summed = Summed::default();
        for worker in cells.all() {
            for (total, cell) in statuses.iter_mut().zip(&worker.statuses) {
                *total += cell.get();
            }
            summed.add(&worker.duration);
        }
        for (i, count) in statuses.iter().enumerate().filter(|(_, c)| **c > 0) {
            let status = STATUS_MIN + i as u16;
            let code = status.to_string();
            out.sample(
                HTTP_REQUESTS,
                &[
                    ("host", host),
                    ("site", site),
                    ("version", version),
                    ("status", &code),
                ],
                count,
            );
            *by_host_status.entry((host.as_str(), status)).or_default() += count;
        }
        by_host_duration
            .entry(host.as_str())
            .or_default()
            .merge(&summed);
        durations.push(((host, site, version), summed));
    }
    out.family(
        HTTP_REQUEST_DURATION,
        "histogram",
        "Time from request head to the end of the response, in seconds.",
    );
    for ((host, site, version), summed) in &durations {
        out.histogram(
            HTTP_REQUEST_DURATION,
            &[("host", host), ("site", site), ("version", version)],
            summed,
        );
    }

    out.family(
        RELEASE_DECISIONS,
        "counter",
        "Release decisions that served requests, by site, version and reason.",
    );
    for ((site, version, reason), cells) in &series.decisions {
        out.sample(
            RELEASE_DECISIONS,
            &[("site", site), ("version", version), ("reason", reason)],
            sum_cells(cells),
        );
    }

    out.family(
        UPSTREAM_REQUEST_DURATION,
        "histogram",
        "Time from sending a request upstream to the end of its response, in seconds.",
    );
    for (name, cells) in &series.upstreams {
        let mut summed = Summed::default();
        for worker in cells.all() {
            summed.add(&worker.duration);
        }
        out.histogram(UPSTREAM_REQUEST_DURATION, &[("upstream", name)], &summed);
    }
    out.family(
        UPSTREAM_ERRORS,
        "counter",
        "Failed upstream exchanges, by upstream and kind.",
    );
    for (name, cells) in &series.upstreams {
        for (i, kind) in UPSTREAM_ERROR_KINDS.iter().enumerate() {
            let total: u64 = cells.all().iter().map(|w| w.errors[i].get()).sum();
            out.sample(
                UPSTREAM_ERRORS,
                &[("upstream", name), ("kind", kind)],
                total,
            );
        }
    }

    let workers = registry.worker_cells.all();
    let total =
        |f: fn(&crate::WorkerCells) -> &Cell| workers.iter().map(|w| f(w).get()).sum::<u64>();
    let (active, reading, writing) = (
        total(|w| &w.active),
        total(|w| &w.reading),
        total(|w| &w.writing),
    );
    let waiting = active.saturating_sub(reading + writing);
    out.family(
        CONNECTIONS,
        "gauge",
        "Client connections by state, as nginx reports them.",
    );
    for (state, value) in [
        ("active", active),
        ("reading", reading),
        ("writing", writing),
        ("waiting", waiting),
    ] {
        out.sample(CONNECTIONS, &[("state", state)], value);
    }
    out.family(
        CONNECTIONS_ACCEPTED,
        "counter",
        "Client connections accepted.",
    );
    out.sample(CONNECTIONS_ACCEPTED, &[], total(|w| &w.accepted));
    out.family(
        HTTP_REJECTED,
        "counter",
        "Requests refused before routing, by status and by whom: graygate's hygiene checks, or the HTTP parser.",
    );
    out.sample(
        HTTP_REJECTED,
        &[("status", "400"), ("by", "hygiene")],
        total(|w| &w.rejected_400),
    );
    out.sample(
        HTTP_REJECTED,
        &[("status", "405"), ("by", "hygiene")],
        total(|w| &w.rejected_405),
    );
    out.sample(
        HTTP_REJECTED,
        &[("status", "400"), ("by", "parser")],
        total(|w| &w.rejected_parse_400),
    );
    out.sample(
        HTTP_REJECTED,
        &[("status", "431"), ("by", "parser")],
        total(|w| &w.rejected_parse_431),
    );
    out.family(
        RELEASE_NEW_DEVICES,
        "counter",
        "New devices given a device id.",
    );
    out.sample(RELEASE_NEW_DEVICES, &[], total(|w| &w.new_devices));
    out.family(
        UPSTREAM_CONNECTIONS_OPENED,
        "counter",
        "TCP connections opened to upstream servers.",
    );
    out.sample(
        UPSTREAM_CONNECTIONS_OPENED,
        &[],
        total(|w| &w.upstream_connections),
    );

    out.family(HTTP_PROTOCOL_REQUESTS, "counter", "Requests by protocol (h1: HTTP/1.x in clear, h1-tls: HTTP/1.1 over TLS, h2: HTTP/2 over TLS).");
    out.sample(
        HTTP_PROTOCOL_REQUESTS,
        &[("protocol", "h1")],
        total(|w| &w.requests_h1),
    );
    out.sample(
        HTTP_PROTOCOL_REQUESTS,
        &[("protocol", "h1-tls")],
        total(|w| &w.requests_h1_tls),
    );
    out.sample(
        HTTP_PROTOCOL_REQUESTS,
        &[("protocol", "h2")],
        total(|w| &w.requests_h2),
    );
    out.family(TLS_HANDSHAKES, "counter", "TLS handshakes completed.");
    out.sample(TLS_HANDSHAKES, &[], total(|w| &w.tls_handshakes));
    out.family(
        TLS_HANDSHAKE_FAILURES,
        "counter",
        "TLS handshakes that failed, by reason.",
    );
    for (i, reason) in crate::TLS_FAILURE_REASONS.iter().enumerate() {
        let failed: u64 = workers.iter().map(|w| w.tls_failures[i].get()).sum();
        out.sample(TLS_HANDSHAKE_FAILURES, &[("reason", reason)], failed);
    }
    let certificates = registry.certificates();
    out.family(
        TLS_CERTIFICATE_EXPIRY,
        "gauge",
        "Seconds until each certificate in effect expires.",
    );
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    for (name, source, not_after) in &certificates {
        out.sample(
            TLS_CERTIFICATE_EXPIRY,
            &[("name", name), ("source", source)],
            not_after - now,
        );
    }
    let g = &registry.globals;
    out.family(
        CONFIG_REVISION,
        "gauge",
        "Revision of the configuration serving traffic.",
    );
    out.sample(CONFIG_REVISION, &[], g.config_revision.load(Relaxed));
    out.family(
        CONFIG_RELOADS,
        "counter",
        "Configuration reloads, by result.",
    );
    out.sample(
        CONFIG_RELOADS,
        &[("result", "success")],
        g.reloads_ok.load(Relaxed),
    );
    out.sample(
        CONFIG_RELOADS,
        &[("result", "failure")],
        g.reloads_failed.load(Relaxed),
    );
    out.family(
        CONFIG_LAST_RELOAD_SUCCESS,
        "gauge",
        "Unix time of the last configuration load that succeeded.",
    );
    out.sample(
        CONFIG_LAST_RELOAD_SUCCESS,
        &[],
        g.last_reload_ok_unix.load(Relaxed),
    );
    out.family(ACCESS_LOG_WRITTEN, "counter", "Access-log lines written.");
    out.sample(ACCESS_LOG_WRITTEN, &[], g.access_log_written.load(Relaxed));
    out.family(
        ACCESS_LOG_DROPPED,
        "counter",
        "Access-log lines dropped because the log buffer was full.",
    );
    out.sample(ACCESS_LOG_DROPPED, &[], g.access_log_dropped.load(Relaxed));
    out.family(
        ADMIN_AUTH_FAILURES,
        "counter",
        "Admin API requests refused for a missing or wrong token.",
    );
    out.sample(
        ADMIN_AUTH_FAILURES,
        &[],
        g.admin_auth_failures.load(Relaxed),
    );
    out.family(
        ADMIN_CHANGES,
        "counter",
        "Changes made through the admin API, by result.",
    );
    out.sample(
        ADMIN_CHANGES,
        &[("result", "applied")],
        g.admin_changes_ok.load(Relaxed),
    );
    out.sample(
        ADMIN_CHANGES,
        &[("result", "rejected")],
        g.admin_changes_rejected.load(Relaxed),
    );
    out.family(
        BUILD_INFO,
        "gauge",
        "Always 1; the labels say which build is running.",
    );
    out.sample(BUILD_INFO, &[("version", env!("CARGO_PKG_VERSION"))], 1);

    crate::process::render(
        &mut |name, kind, help, value| {
            out.family(name, kind, help);
            out.sample(name, &[], value);
        },
        registry.started_unix,
    );

    if nginx_compat {
        out.family(
            NGINX_HTTP_REQUESTS,
            "counter",
            "Number of HTTP requests (nginx-lua compatible).",
        );
        for ((host, status), count) in &by_host_status {
            out.sample(
                NGINX_HTTP_REQUESTS,
                &[("host", host), ("status", &status.to_string())],
                count,
            );
        }
        out.family(
            NGINX_HTTP_REQUEST_DURATION,
            "histogram",
            "HTTP request latency (nginx-lua compatible).",
        );
        for (host, summed) in &by_host_duration {
            out.histogram(NGINX_HTTP_REQUEST_DURATION, &[("host", host)], summed);
        }
        out.family(
            NGINX_HTTP_CONNECTIONS,
            "gauge",
            "Number of HTTP connections (nginx-lua compatible).",
        );
        for (state, value) in [
            ("reading", reading),
            ("waiting", waiting),
            ("writing", writing),
            ("active", active),
        ] {
            out.sample(NGINX_HTTP_CONNECTIONS, &[("state", state)], value);
        }
    }
    // Outside the series lock: the extra writer takes its own.
    drop(series);
    registry.extra_families(format, &mut out.text);
    if format == Format::OpenMetrics {
        out.text.push_str("# EOF\n");
    }
    out.text
}
