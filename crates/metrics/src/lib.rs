//! graygate's metrics: cells per worker, resolved when a configuration loads, summed and
//! rendered when Prometheus scrapes.
//!
//! This is the log phase's bookkeeping, the last step of the request path. Every series lives in
//! one cell per worker thread, and only that worker writes it, so recording a request is a few
//! plain loads and stores on memory no other core writes: no lock, no shared atomic, no
//! allocation. The [`Registry`] hands out handles keyed by label values; the same labels always
//! get the same cells, so counters survive configuration reloads. A scrape sums the workers'
//! cells and renders Prometheus text or OpenMetrics.

pub mod names;
mod process;
mod render;

pub use render::Format;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};

/// Upper bounds of the request-duration buckets, in seconds: fit for a P99 of web traffic.
pub const DURATION_BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];
const BUCKET_NANOS: [u64; 13] = [
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    500_000_000,
    1_000_000_000,
    2_500_000_000,
    5_000_000_000,
    10_000_000_000,
];

/// Status codes 100..=599 are counted individually.
const STATUS_MIN: u16 = 100;
const STATUSES: usize = 500;

/// Kinds of upstream errors, the `kind` label of `graygate_upstream_errors_total`.
pub const UPSTREAM_ERROR_KINDS: [&str; 6] = [
    "connect",
    "connect_timeout",
    "timeout",
    "exchange",
    "protocol",
    "client_body",
];

/// A counter or gauge with a single writer (its worker thread). Reads from other threads see a
/// recent value; writes are a load and a store, not a read-modify-write.
#[derive(Debug, Default)]
pub struct Cell(AtomicU64);

impl Cell {
    #[inline]
    pub fn add(&self, n: u64) {
        self.0.store(self.0.load(Relaxed).wrapping_add(n), Relaxed);
    }

    #[inline]
    pub fn inc(&self) {
        self.add(1);
    }

    /// For gauges that go down (connection states).
    #[inline]
    pub fn dec(&self) {
        self.0.store(self.0.load(Relaxed).wrapping_sub(1), Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Relaxed)
    }
}

/// A latency histogram over [`DURATION_BUCKETS`] (plus +Inf), sum kept in nanoseconds.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [Cell; 14],
    sum_nanos: Cell,
}

impl Histogram {
    #[inline]
    pub fn observe(&self, elapsed: std::time::Duration) {
        let nanos = u64::try_from(elapsed.as_nanos()).unwrap_or(u64::MAX);
        let i = BUCKET_NANOS
            .iter()
            .position(|b| nanos <= *b)
            .unwrap_or(BUCKET_NANOS.len());
        self.buckets[i].inc();
        self.sum_nanos.add(nanos);
    }
}

/// One cell (or cell group) per worker.
#[derive(Debug)]
pub struct PerWorker<T>(Box<[T]>);

impl<T: Default> PerWorker<T> {
    fn new(workers: usize) -> Arc<PerWorker<T>> {
        Arc::new(PerWorker(
            (0..workers.max(1)).map(|_| T::default()).collect(),
        ))
    }
}

impl<T> PerWorker<T> {
    /// The cells of worker `i`.
    #[inline]
    pub fn worker(&self, i: usize) -> &T {
        &self.0[i.min(self.0.len() - 1)]
    }

    fn all(&self) -> &[T] {
        &self.0
    }
}

/// Requests of one (host, site, version): by status, and their durations.
#[derive(Debug)]
pub struct HttpCells {
    statuses: [Cell; STATUSES],
    duration: Histogram,
}

impl Default for HttpCells {
    fn default() -> HttpCells {
        HttpCells {
            statuses: std::array::from_fn(|_| Cell::default()),
            duration: Histogram::default(),
        }
    }
}

impl HttpCells {
    /// Records one finished request.
    #[inline]
    pub fn record(&self, status: u16, elapsed: std::time::Duration) {
        let i = usize::from(status.saturating_sub(STATUS_MIN)).min(STATUSES - 1);
        self.statuses[i].inc();
        self.duration.observe(elapsed);
    }
}

/// An upstream's request durations and errors by kind.
#[derive(Debug, Default)]
pub struct UpstreamCells {
    pub duration: Histogram,
    errors: [Cell; 6],
}

impl UpstreamCells {
    /// Counts an error of one of [`UPSTREAM_ERROR_KINDS`] (unknown kinds count as `exchange`).
    pub fn error(&self, kind: &str) {
        let i = UPSTREAM_ERROR_KINDS
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(4);
        self.errors[i].inc();
    }
}

/// Per-worker counters and gauges that have no labels from the configuration.
#[derive(Debug, Default)]
pub struct WorkerCells {
    /// Open client connections.
    pub active: Cell,
    /// Connections receiving a request head.
    pub reading: Cell,
    /// Requests being processed or answered.
    pub writing: Cell,
    pub accepted: Cell,
    /// Requests refused before routing, by the answer given.
    pub rejected_400: Cell,
    pub rejected_405: Cell,
    /// Requests hyper refused while parsing (it answers 400 or 431 itself and closes).
    pub rejected_parse_400: Cell,
    pub rejected_parse_431: Cell,
    pub new_devices: Cell,
    pub upstream_connections: Cell,
    /// Requests by protocol: HTTP/1.x in clear, HTTP/1.1 over TLS, HTTP/2 over TLS.
    pub requests_h1: Cell,
    pub requests_h1_tls: Cell,
    pub requests_h2: Cell,
    pub tls_handshakes: Cell,
    /// Failed handshakes by reason, see [`TLS_FAILURE_REASONS`].
    pub tls_failures: [Cell; 3],
}

/// Reasons a TLS handshake fails: `timeout`, `protocol` (bad records, no shared version or
/// cipher, alerts), `io` (the peer went away).
pub const TLS_FAILURE_REASONS: [&str; 3] = ["timeout", "protocol", "io"];

/// Certificates in effect: name, source, expiry (unix seconds). Supplied by the TLS store.
pub type CertificateList = Box<dyn Fn() -> Vec<(String, String, i64)> + Send + Sync>;

/// More families for the same endpoint (the StatsD exporter's), written after graygate's own
/// and before OpenMetrics' `# EOF`. Their names must not collide with graygate's: see
/// [`names::PREFIX`] and [`names::FOREIGN`].
pub type ExtraFamilies = Box<dyn Fn(Format, &mut String) + Send + Sync>;

/// Holds the extra families' writer; opaque in debug output.
struct Extra(std::sync::OnceLock<ExtraFamilies>);

impl std::fmt::Debug for Extra {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Extra(..)")
    }
}

/// Holds the certificate list supplier; opaque in debug output.
struct Certificates(std::sync::OnceLock<CertificateList>);

impl std::fmt::Debug for Certificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Certificates(..)")
    }
}

/// Process-wide values set outside the request path.
#[derive(Debug, Default)]
pub struct Globals {
    pub config_revision: AtomicU64,
    pub reloads_ok: AtomicU64,
    pub reloads_failed: AtomicU64,
    pub last_reload_ok_unix: AtomicU64,
    pub access_log_written: AtomicU64,
    pub access_log_dropped: AtomicU64,
    pub admin_auth_failures: AtomicU64,
    pub admin_changes_ok: AtomicU64,
    pub admin_changes_rejected: AtomicU64,
}

/// Request totals of one series, see [`Registry::http_totals`].
#[derive(Debug, Clone, Default)]
pub struct HttpTotals {
    pub host: String,
    pub site: String,
    pub version: String,
    pub requests: u64,
    pub errors_5xx: u64,
    /// Per-bucket (not cumulative) counts over [`DURATION_BUCKETS`], then +Inf.
    pub buckets: [u64; 14],
}

type Key3 = (String, String, String);

#[derive(Debug, Default)]
struct Series {
    http: BTreeMap<Key3, Arc<PerWorker<HttpCells>>>,
    decisions: BTreeMap<Key3, Arc<PerWorker<Cell>>>,
    upstreams: BTreeMap<String, Arc<PerWorker<UpstreamCells>>>,
}

/// All series. Handles are looked up (or created) when a configuration loads; requests only use
/// handles.
#[derive(Debug)]
pub struct Registry {
    workers: usize,
    certificates: Certificates,
    extra: Extra,
    series: Mutex<Series>,
    worker_cells: Arc<PerWorker<WorkerCells>>,
    pub globals: Globals,
    started_unix: f64,
}

impl Registry {
    pub fn new(workers: usize) -> Arc<Registry> {
        let started_unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        Arc::new(Registry {
            workers: workers.max(1),
            certificates: Certificates(std::sync::OnceLock::new()),
            extra: Extra(std::sync::OnceLock::new()),
            series: Mutex::default(),
            worker_cells: PerWorker::new(workers),
            globals: Globals::default(),
            started_unix,
        })
    }

    pub fn workers(&self) -> usize {
        self.workers
    }

    /// The cells of `graygate_http_requests_total` and `_duration_seconds` for these labels.
    pub fn http(&self, host: &str, site: &str, version: &str) -> Arc<PerWorker<HttpCells>> {
        let key = (host.to_string(), site.to_string(), version.to_string());
        self.lock()
            .http
            .entry(key)
            .or_insert_with(|| PerWorker::new(self.workers))
            .clone()
    }

    /// The cell of `graygate_release_decisions_total` for these labels.
    pub fn decision(&self, site: &str, version: &str, reason: &str) -> Arc<PerWorker<Cell>> {
        let key = (site.to_string(), version.to_string(), reason.to_string());
        self.lock()
            .decisions
            .entry(key)
            .or_insert_with(|| PerWorker::new(self.workers))
            .clone()
    }

    /// The cells of an upstream, by its name.
    pub fn upstream(&self, name: &str) -> Arc<PerWorker<UpstreamCells>> {
        self.lock()
            .upstreams
            .entry(name.to_string())
            .or_insert_with(|| PerWorker::new(self.workers))
            .clone()
    }

    /// Where certificate expiries come from (set once, when TLS is configured).
    pub fn set_certificates(&self, list: CertificateList) {
        let _ = self.certificates.0.set(list);
    }

    /// Appends another exposition's families to every scrape (set once, at start).
    pub fn set_extra_families(&self, extra: ExtraFamilies) {
        let _ = self.extra.0.set(extra);
    }

    fn extra_families(&self, format: Format, out: &mut String) {
        if let Some(extra) = self.extra.0.get() {
            extra(format, out);
        }
    }

    fn certificates(&self) -> Vec<(String, String, i64)> {
        self.certificates.0.get().map(|f| f()).unwrap_or_default()
    }

    /// Unlabelled per-worker cells.
    pub fn worker_cells(&self) -> Arc<PerWorker<WorkerCells>> {
        self.worker_cells.clone()
    }

    /// Totals per (host, site, version) since start, summed over workers: for live views that
    /// compute rates from two readings.
    pub fn http_totals(&self) -> Vec<HttpTotals> {
        let series = self.lock();
        series
            .http
            .iter()
            .map(|((host, site, version), cells)| {
                let mut t = HttpTotals {
                    host: host.clone(),
                    site: site.clone(),
                    version: version.clone(),
                    ..HttpTotals::default()
                };
                for worker in cells.all() {
                    for (i, cell) in worker.statuses.iter().enumerate() {
                        let n = cell.get();
                        t.requests += n;
                        if (500..600).contains(&(STATUS_MIN as usize + i)) {
                            t.errors_5xx += n;
                        }
                    }
                    for (total, cell) in t.buckets.iter_mut().zip(&worker.duration.buckets) {
                        *total += cell.get();
                    }
                }
                t
            })
            .collect()
    }

    /// The whole exposition. `nginx_compat` adds the seed's nginx-lua families.
    pub fn render(&self, format: Format, nginx_compat: bool) -> String {
        render::render(self, format, nginx_compat)
    }

    fn lock(&self) -> MutexGuard<'_, Series> {
        // A panic while holding this lock cannot leave the maps half-updated (entry inserts are
        // atomic from the map's point of view), so a poisoned lock is still usable.
        self.series.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests;
