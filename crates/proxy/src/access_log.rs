//! The access log: one JSON object per request, written off the request path.
//!
//! Workers format a line and hand it to a bounded channel without waiting; when the channel is
//! full the line is dropped and counted (`graygate_access_log_dropped_total`). One writer thread
//! drains the channel into stdout or a file, flushing when it runs out of lines, and reopens the
//! file when asked (SIGUSR1, for logrotate).

use graygate_metrics::Registry;
use std::fmt::Write as _;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender, TrySendError, sync_channel};
use std::time::Duration;

/// A field of the access log, in configuration order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Time,
    RequestId,
    Client,
    Method,
    Host,
    Path,
    Status,
    BytesIn,
    BytesOut,
    Duration,
    Upstream,
    UpstreamTime,
    Site,
    Version,
    Reason,
}

impl Field {
    pub const ALL: [(Field, &'static str); 15] = [
        (Field::Time, "time"),
        (Field::RequestId, "request_id"),
        (Field::Client, "client"),
        (Field::Method, "method"),
        (Field::Host, "host"),
        (Field::Path, "path"),
        (Field::Status, "status"),
        (Field::BytesIn, "bytes_in"),
        (Field::BytesOut, "bytes_out"),
        (Field::Duration, "duration"),
        (Field::Upstream, "upstream"),
        (Field::UpstreamTime, "upstream_time"),
        (Field::Site, "site"),
        (Field::Version, "version"),
        (Field::Reason, "reason"),
    ];

    pub fn name(self) -> &'static str {
        Field::ALL
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("", |(_, n)| n)
    }

    /// The configured field list; empty means all fields. `Err((index, message))` names the
    /// first unknown field.
    pub fn parse_list(names: &[String]) -> Result<Vec<Field>, (usize, String)> {
        if names.is_empty() {
            return Ok(Field::ALL.iter().map(|(f, _)| *f).collect());
        }
        names
            .iter()
            .enumerate()
            .map(|(i, name)| {
                Field::ALL
                    .iter()
                    .find(|(_, n)| n == name)
                    .map(|(f, _)| *f)
                    .ok_or_else(|| {
                        let known: Vec<&str> = Field::ALL.iter().map(|(_, n)| *n).collect();
                        (
                            i,
                            format!(
                                "unknown access-log field {name:?}; the fields are {}",
                                known.join(", ")
                            ),
                        )
                    })
            })
            .collect()
    }
}

/// What one request contributes to its line.
#[derive(Debug, Default)]
pub struct Entry<'a> {
    pub request_id: &'a str,
    pub client: Option<std::net::SocketAddr>,
    pub method: &'a str,
    pub host: &'a str,
    pub path: &'a str,
    pub status: u16,
    pub bytes_in: u64,
    pub bytes_out: u64,
    pub duration: Duration,
    pub upstream: Option<std::net::SocketAddr>,
    pub upstream_time: Option<Duration>,
    pub site: &'a str,
    pub version: &'a str,
    pub reason: &'a str,
}

/// Formats one line (with its newline).
pub fn format(fields: &[Field], e: &Entry<'_>, now: std::time::SystemTime) -> String {
    let mut line = String::with_capacity(320);
    line.push('{');
    for (i, field) in fields.iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push('"');
        line.push_str(field.name());
        line.push_str("\":");
        match field {
            Field::Time => {
                line.push('"');
                rfc3339_millis(&mut line, now);
                line.push('"');
            }
            Field::RequestId => string(&mut line, e.request_id),
            Field::Client => match e.client {
                Some(addr) => string(&mut line, &addr.ip().to_canonical().to_string()),
                None => line.push_str("null"),
            },
            Field::Method => string(&mut line, e.method),
            Field::Host => string(&mut line, e.host),
            Field::Path => string(&mut line, e.path),
            Field::Status => {
                let _ = write!(line, "{}", e.status);
            }
            Field::BytesIn => {
                let _ = write!(line, "{}", e.bytes_in);
            }
            Field::BytesOut => {
                let _ = write!(line, "{}", e.bytes_out);
            }
            Field::Duration => {
                let _ = write!(line, "{:.6}", e.duration.as_secs_f64());
            }
            Field::Upstream => match e.upstream {
                Some(addr) => string(&mut line, &addr.to_string()),
                None => line.push_str("null"),
            },
            Field::UpstreamTime => match e.upstream_time {
                Some(t) => {
                    let _ = write!(line, "{:.6}", t.as_secs_f64());
                }
                None => line.push_str("null"),
            },
            Field::Site => string(&mut line, e.site),
            Field::Version => string(&mut line, e.version),
            Field::Reason => string(&mut line, e.reason),
        }
    }
    line.push_str("}\n");
    line
}

/// A JSON string, escaped (RFC 8259): quotes, backslashes and control characters.
fn string(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// `now` as RFC 3339 UTC with milliseconds, e.g. `2026-11-21T23:59:58.123Z`.
pub fn timestamp(now: std::time::SystemTime) -> String {
    let mut out = String::with_capacity(24);
    rfc3339_millis(&mut out, now);
    out
}

/// `2026-11-21T23:59:58.123Z`, computed without a date library (civil-from-days).
fn rfc3339_millis(out: &mut String, now: std::time::SystemTime) {
    let since = now
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = since.as_secs();
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let _ = write!(
        out,
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    );
}

/// The workers' end of the log: cheap to clone, never blocks.
#[derive(Debug, Clone)]
pub struct AccessLog {
    sender: SyncSender<String>,
    registry: Arc<Registry>,
    reopen: Arc<AtomicBool>,
}

impl AccessLog {
    /// Opens the destination and starts the writer thread.
    pub fn start(
        path: &str,
        buffer_lines: usize,
        registry: Arc<Registry>,
    ) -> io::Result<AccessLog> {
        let sink = Sink::open(path)?;
        let (sender, receiver) = sync_channel(buffer_lines.max(1));
        let reopen = Arc::new(AtomicBool::new(false));
        let (r, flag) = (registry.clone(), reopen.clone());
        std::thread::Builder::new()
            .name("graygate-access-log".into())
            .spawn(move || write_loop(receiver, sink, r, flag))?;
        Ok(AccessLog {
            sender,
            registry,
            reopen,
        })
    }

    /// Queues a line; drops and counts it when the buffer is full.
    pub fn write(&self, line: String) {
        match self.sender.try_send(line) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.registry
                    .globals
                    .access_log_dropped
                    .fetch_add(1, Relaxed);
            }
        }
    }

    /// Asks the writer to reopen its file (after logrotate moved it).
    pub fn reopen(&self) {
        self.reopen.store(true, Relaxed);
    }
}

enum Sink {
    Stdout(BufWriter<io::Stdout>),
    File { path: String, out: BufWriter<File> },
}

impl Sink {
    fn open(path: &str) -> io::Result<Sink> {
        if path == "stdout" {
            return Ok(Sink::Stdout(BufWriter::with_capacity(
                64 * 1024,
                io::stdout(),
            )));
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(|e| {
                io::Error::new(e.kind(), format!("cannot open the access log {path}: {e}"))
            })?;
        Ok(Sink::File {
            path: path.to_string(),
            out: BufWriter::with_capacity(64 * 1024, file),
        })
    }

    fn out(&mut self) -> &mut dyn Write {
        match self {
            Sink::Stdout(out) => out,
            Sink::File { out, .. } => out,
        }
    }
}

fn write_loop(
    receiver: Receiver<String>,
    mut sink: Sink,
    registry: Arc<Registry>,
    reopen: Arc<AtomicBool>,
) {
    loop {
        match receiver.recv_timeout(Duration::from_millis(200)) {
            Ok(line) => {
                if sink.out().write_all(line.as_bytes()).is_ok() {
                    registry.globals.access_log_written.fetch_add(1, Relaxed);
                }
                // Write everything already queued before paying for a flush.
                while let Ok(line) = receiver.try_recv() {
                    if sink.out().write_all(line.as_bytes()).is_ok() {
                        registry.globals.access_log_written.fetch_add(1, Relaxed);
                    }
                }
                let _ = sink.out().flush();
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                let _ = sink.out().flush();
                return;
            }
        }
        if reopen.swap(false, Relaxed)
            && let Sink::File { path, .. } = &sink
        {
            let path = path.clone();
            let _ = sink.out().flush();
            match Sink::open(&path) {
                Ok(new) => sink = new,
                Err(e) => {
                    tracing::error!(error = %e, "cannot reopen the access log; still writing to the old file")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_json_with_escaping() {
        let entry = Entry {
            request_id: "abc",
            method: "GET",
            host: "a.com",
            path: "/x\"y\\z\n",
            status: 200,
            duration: Duration::from_micros(1500),
            site: "s",
            version: "1.0.0",
            reason: "rule:a",
            ..Entry::default()
        };
        let line = format(
            &Field::parse_list(&[]).unwrap(),
            &entry,
            std::time::UNIX_EPOCH + Duration::from_millis(1_763_769_598_123),
        );
        assert!(line.starts_with("{\"time\":\"2025-11-21T23:59:58.123Z\",\"request_id\":\"abc\",\"client\":null,\"method\":\"GET\""), "{line}");
        assert!(line.contains("\"path\":\"/x\\\"y\\\\z\\n\""));
        assert!(line.contains("\"duration\":0.001500"));
        assert!(line.ends_with("\"reason\":\"rule:a\"}\n"));
    }

    #[test]
    fn field_selection() {
        let fields = Field::parse_list(&["status".into(), "version".into()]).unwrap();
        let line = format(
            &fields,
            &Entry {
                status: 404,
                version: "v",
                ..Entry::default()
            },
            std::time::UNIX_EPOCH,
        );
        assert_eq!(line, "{\"status\":404,\"version\":\"v\"}\n");
        assert_eq!(
            Field::parse_list(&["status".into(), "nope".into()])
                .unwrap_err()
                .0,
            1
        );
    }

    #[test]
    fn dates() {
        let mut s = String::new();
        rfc3339_millis(&mut s, std::time::UNIX_EPOCH);
        assert_eq!(s, "1970-01-01T00:00:00.000Z");
        s.clear();
        rfc3339_millis(
            &mut s,
            std::time::UNIX_EPOCH + Duration::from_secs(951_782_400),
        ); // 2000-02-29
        assert_eq!(s, "2000-02-29T00:00:00.000Z");
    }
}
