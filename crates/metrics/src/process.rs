//! Process metrics from /proc (Linux), with the standard client-library names.

use crate::names::*;

/// USER_HZ: the unit of CPU times in /proc, fixed at 100 by the Linux user-space ABI.
const TICKS_PER_SECOND: f64 = 100.0;

/// Calls `emit(name, type, help, value)` for each process metric that can be read.
pub(crate) fn render(emit: &mut dyn FnMut(&str, &str, &str, f64), started_unix: f64) {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    if let Some(fields) = stat_fields(&stat) {
        let field = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok());
        if let (Some(utime), Some(stime)) = (field(11), field(12)) {
            emit(
                PROCESS_CPU,
                "counter",
                "Total user and system CPU time spent in seconds.",
                (utime + stime) / TICKS_PER_SECOND,
            );
        }
        if let Some(threads) = field(17) {
            emit(PROCESS_THREADS, "gauge", "Number of OS threads.", threads);
        }
        if let Some(vsize) = field(20) {
            emit(
                PROCESS_VIRTUAL_MEMORY,
                "gauge",
                "Virtual memory size in bytes.",
                vsize,
            );
        }
    }
    if let Some(rss_kib) = status_kib("VmRSS:") {
        emit(
            PROCESS_RSS,
            "gauge",
            "Resident memory size in bytes.",
            rss_kib * 1024.0,
        );
    }
    if let Ok(entries) = std::fs::read_dir("/proc/self/fd") {
        emit(
            PROCESS_OPEN_FDS,
            "gauge",
            "Number of open file descriptors.",
            entries.count() as f64,
        );
    }
    if let Some(max) = max_open_files() {
        emit(
            PROCESS_MAX_FDS,
            "gauge",
            "Maximum number of open file descriptors.",
            max,
        );
    }
    emit(
        PROCESS_START_TIME,
        "gauge",
        "Start time of the process since unix epoch in seconds.",
        started_unix.floor(),
    );
}

/// Fields of /proc/self/stat after the command name (which may contain spaces and parentheses):
/// index 0 is the state (field 3 in proc(5)).
fn stat_fields(stat: &str) -> Option<Vec<&str>> {
    let after = &stat[stat.rfind(')')? + 1..];
    Some(after.split_whitespace().collect())
}

fn status_kib(key: &str) -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

fn max_open_files() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line["Max open files".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}
