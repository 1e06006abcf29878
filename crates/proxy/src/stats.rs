//! Per-worker counters. Each worker only ever writes its own [`WorkerStats`] (relaxed atomics on
//! a cache line no other worker writes); readers sum across workers.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Counters of one worker.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub requests: AtomicU64,
    /// Requests refused before routing (malformed or forbidden HTTP).
    pub rejected: AtomicU64,
    /// Requests whose version could not serve and that the default version served instead.
    pub fallbacks: AtomicU64,
    /// Upstream exchanges that failed (connect, timeout, reset).
    pub upstream_errors: AtomicU64,
    /// TCP connections opened to upstream servers.
    pub upstream_connections: AtomicU64,
    /// New devices given an id.
    pub new_devices: AtomicU64,
}

impl WorkerStats {
    pub(crate) fn add(counter: &AtomicU64) {
        counter.fetch_add(1, Relaxed);
    }
}

/// All workers' counters, summed on read.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub(crate) workers: Vec<Arc<WorkerStats>>,
}

/// A point-in-time sum of all workers' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    pub requests: u64,
    pub rejected: u64,
    pub fallbacks: u64,
    pub upstream_errors: u64,
    pub upstream_connections: u64,
    pub new_devices: u64,
}

impl Stats {
    pub fn totals(&self) -> Totals {
        let mut t = Totals::default();
        for w in &self.workers {
            t.requests += w.requests.load(Relaxed);
            t.rejected += w.rejected.load(Relaxed);
            t.fallbacks += w.fallbacks.load(Relaxed);
            t.upstream_errors += w.upstream_errors.load(Relaxed);
            t.upstream_connections += w.upstream_connections.load(Relaxed);
            t.new_devices += w.new_devices.load(Relaxed);
        }
        t
    }

    /// Prometheus text exposition of the totals.
    pub fn render(&self) -> String {
        let t = self.totals();
        let mut out = String::new();
        for (name, help, value) in [
            (
                "graygate_http_requests_total",
                "Requests received.",
                t.requests,
            ),
            (
                "graygate_http_rejected_total",
                "Requests refused before routing (malformed or forbidden HTTP).",
                t.rejected,
            ),
            (
                "graygate_release_fallbacks_total",
                "Requests served by the default version because the chosen one failed.",
                t.fallbacks,
            ),
            (
                "graygate_upstream_errors_total",
                "Failed upstream exchanges.",
                t.upstream_errors,
            ),
            (
                "graygate_upstream_connections_opened_total",
                "TCP connections opened to upstream servers.",
                t.upstream_connections,
            ),
            (
                "graygate_release_new_devices_total",
                "New devices given a device id.",
                t.new_devices,
            ),
        ] {
            out.push_str(&format!(
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}\n"
            ));
        }
        out
    }
}
