//! The log phase: when a response has been sent to its end (or abandoned), its request is
//! counted — status, duration, decision, upstream time — and its access-log line is queued.
//!
//! [`LogPhase`] is created when a request arrives and travels inside the response body; it does
//! its work when dropped, so every request is logged exactly once, including requests whose
//! client went away mid-way (status 499, as nginx logs them).

use crate::access_log::{self, Entry};
use crate::snapshot::{Snapshot, UNROUTED};
use crate::worker::{Conn, Worker};
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

/// nginx's status for requests whose client closed the connection before the answer.
pub const CLIENT_CLOSED: u16 = 499;

/// Where a request was routed and what served it.
#[derive(Debug, Clone, Copy)]
pub struct Served {
    pub site: u16,
    pub host: u16,
    pub version: u16,
    pub reason: graygate_canary::Reason,
}

/// Request details kept only when the access log is on.
#[derive(Debug, Default)]
pub struct Details {
    pub request_id: String,
    pub method: String,
    pub host: String,
    pub path: String,
}

pub struct LogPhase {
    worker: Rc<Worker>,
    conn: Rc<Conn>,
    #[allow(clippy::redundant_allocation)]
    snapshot: Rc<Arc<Snapshot>>,
    started: Instant,
    pub status: u16,
    pub served: Option<Served>,
    /// The upstream server and when the exchange with it began.
    pub upstream: Option<(SocketAddr, Instant)>,
    pub bytes_out: u64,
    pub bytes_in: Rc<std::cell::Cell<u64>>,
    pub details: Option<Box<Details>>,
}

impl LogPhase {
    #[allow(clippy::redundant_allocation)]
    pub fn start(worker: Rc<Worker>, conn: Rc<Conn>, snapshot: Rc<Arc<Snapshot>>) -> LogPhase {
        LogPhase {
            worker,
            conn,
            snapshot,
            started: Instant::now(),
            status: CLIENT_CLOSED,
            served: None,
            upstream: None,
            bytes_out: 0,
            bytes_in: Rc::default(),
            details: None,
        }
    }

    /// Whether the access log wants request details.
    pub fn logs_access(&self) -> bool {
        self.snapshot.access_log.is_some() && self.worker.access_log.is_some()
    }

    fn finish(&mut self) {
        let elapsed = self.started.elapsed();
        let snapshot = &self.snapshot;
        let w = self.worker.index;
        let site = self.served.and_then(|s| {
            snapshot
                .sites
                .get(usize::from(s.site))
                .map(|site| (s, site))
        });
        let upstream_time = self.upstream.map(|(_, at)| at.elapsed());
        if snapshot.metrics.enabled {
            match site {
                Some((s, site)) => {
                    if let Some(cells) = site
                        .http
                        .get(usize::from(s.host))
                        .and_then(|v| v.get(usize::from(s.version)))
                    {
                        cells.worker(w).record(self.status, elapsed);
                    }
                    if let Some(cells) = site
                        .decisions
                        .get(usize::from(s.version))
                        .and_then(|r| r.get(site.reason_index(s.reason)))
                    {
                        cells.worker(w).inc();
                    }
                    if let (Some(t), Some(Some(cells))) =
                        (upstream_time, site.upstreams.get(usize::from(s.version)))
                    {
                        cells.worker(w).duration.observe(t);
                    }
                }
                None => snapshot.unrouted.worker(w).record(self.status, elapsed),
            }
        }
        if let (Some(fields), Some(log)) = (&snapshot.access_log, &self.worker.access_log) {
            let details = self.details.take().unwrap_or_default();
            let (site_name, version, reason) = match site {
                Some((s, site)) => (
                    &*site.name,
                    site.policy.version_name(s.version),
                    site.policy.reason_label(s.reason),
                ),
                None => (UNROUTED, UNROUTED, UNROUTED),
            };
            let entry = Entry {
                request_id: &details.request_id,
                client: Some(self.conn.peer),
                method: &details.method,
                host: &details.host,
                path: &details.path,
                status: self.status,
                bytes_in: self.bytes_in.get(),
                bytes_out: self.bytes_out,
                duration: elapsed,
                upstream: self.upstream.map(|(addr, _)| addr),
                upstream_time,
                site: site_name,
                version,
                reason,
            };
            log.write(access_log::format(
                fields,
                &entry,
                std::time::SystemTime::now(),
            ));
        }
        self.conn.end_request(&self.worker);
    }
}

impl Drop for LogPhase {
    fn drop(&mut self) {
        self.finish();
    }
}

/// Renders a fresh request id: 16 hex digits from the worker's generator.
pub fn request_id(worker: &Worker) -> String {
    let bytes = worker.random_bytes();
    let mut id = String::with_capacity(16);
    for b in &bytes[..8] {
        use std::fmt::Write;
        let _ = write!(id, "{b:02x}");
    }
    id
}
