//! statsd_exporter's own metrics, under its names, so existing alerts keep working.

use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;

use graygate_statsd::SampleError;

use crate::exporter::{Shared, State};
use crate::format::{Rendered, write_label_value};
use crate::registry::sample;

/// Every family name this module writes.
const OWN: [&str; 24] = [
    "statsd_exporter_build_info",
    "statsd_exporter_config_reloads_total",
    "statsd_exporter_event_queue_flushed_total",
    "statsd_exporter_events_actions_total",
    "statsd_exporter_events_conflict_total",
    "statsd_exporter_events_error_total",
    "statsd_exporter_events_total",
    "statsd_exporter_events_unmapped_total",
    "statsd_exporter_lines_total",
    "statsd_exporter_loaded_mappings",
    "statsd_exporter_metrics_total",
    "statsd_exporter_sample_errors_total",
    "statsd_exporter_samples_total",
    "statsd_exporter_tag_errors_total",
    "statsd_exporter_tags_total",
    "statsd_exporter_tcp_connection_errors_total",
    "statsd_exporter_tcp_connections_total",
    "statsd_exporter_tcp_too_long_lines_total",
    "statsd_exporter_udp_packet_drops_total",
    "statsd_exporter_udp_packets_total",
    "statsd_exporter_unixgram_packets_total",
    "statsd_metric_mapper_cache_gets_total",
    "statsd_metric_mapper_cache_hits_total",
    "statsd_metric_mapper_cache_length",
];

/// Whether `name` is one of ours (a mapped metric of that name is refused).
pub(crate) fn is_own(name: &str) -> bool {
    name.starts_with("statsd_") && OWN.contains(&name)
}

struct Family {
    name: &'static str,
    kind: &'static str,
    help: &'static str,
    text: String,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            kind,
            help,
            text: String::new(),
        }
    }

    fn value(mut self, v: f64) -> Family {
        sample(&mut self.text, self.name, "", &[], None, v);
        self
    }

    fn labeled(mut self, label: &str, values: &[(&str, u64)]) -> Option<Family> {
        let mut any = false;
        for (lv, v) in values {
            if *v > 0 {
                any = true;
                sample(
                    &mut self.text,
                    self.name,
                    "",
                    &[(label.to_owned(), (*lv).to_owned())],
                    None,
                    *v as f64,
                );
            }
        }
        any.then_some(self)
    }
}

pub(crate) fn render(shared: &Shared, state: &State, out: &mut Vec<Rendered>) {
    let i = &shared.ingest;
    let o = &state.outcomes;
    let c = |a: &std::sync::atomic::AtomicU64| a.load(Relaxed) as f64;
    let mut fams: Vec<Option<Family>> = Vec::new();
    let mut build = Family::new(
        "statsd_exporter_build_info",
        "gauge",
        "A metric with a constant '1' value labeled by version, revision, branch, goversion from which statsd_exporter was built, and the goos and goarch for the build.",
    );
    let _ = write!(
        build.text,
        "statsd_exporter_build_info{{branch=\"\",goarch=\"{}\",goos=\"{}\",goversion=\"graygate\",revision=\"\",tags=\"\",version=\"",
        go_arch(std::env::consts::ARCH),
        std::env::consts::OS
    );
    write_label_value(&mut build.text, env!("CARGO_PKG_VERSION"));
    build.text.push_str("\"} 1\n");
    fams.push(Some(build));
    fams.push(
        Family::new(
            "statsd_exporter_config_reloads_total",
            "counter",
            "The number of configuration reloads.",
        )
        .labeled(
            "outcome",
            &[("failure", o.reload_failure), ("success", o.reload_success)],
        ),
    );
    fams.push(Some(
        Family::new(
            "statsd_exporter_event_queue_flushed_total",
            "counter",
            "Number of times events were flushed to exporter",
        )
        .value(shared.flushes(std::time::Instant::now()) as f64),
    ));
    fams.push(
        Family::new(
            "statsd_exporter_events_actions_total",
            "counter",
            "The total number of StatsD events by action.",
        )
        .labeled(
            "action",
            &[("drop", o.actions_drop), ("map", o.actions_map)],
        ),
    );
    fams.push(
        Family::new(
            "statsd_exporter_events_conflict_total",
            "counter",
            "The total number of StatsD events with conflicting names.",
        )
        .labeled(
            "type",
            &[
                ("counter", o.conflicts[0]),
                ("gauge", o.conflicts[1]),
                ("observer", o.conflicts[2]),
            ],
        ),
    );
    fams.push(
        Family::new(
            "statsd_exporter_events_error_total",
            "counter",
            "The total number of StatsD events discarded due to errors.",
        )
        .labeled(
            "reason",
            &[
                ("empty_metric_name", o.empty_name),
                ("illegal_negative_counter", o.negative_counter),
            ],
        ),
    );
    fams.push(
        Family::new(
            "statsd_exporter_events_total",
            "counter",
            "The total number of StatsD events seen.",
        )
        .labeled(
            "type",
            &[
                ("counter", o.events[0]),
                ("gauge", o.events[1]),
                ("observer", o.events[2]),
            ],
        ),
    );
    fams.push(Some(
        Family::new(
            "statsd_exporter_events_unmapped_total",
            "counter",
            "The total number of StatsD events no mapping was found for.",
        )
        .value(o.unmapped as f64),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_lines_total",
            "counter",
            "The total number of StatsD lines received.",
        )
        .value(c(&i.lines)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_loaded_mappings",
            "gauge",
            "The current number of configured metric mappings.",
        )
        .value(state.mapper.len() as f64),
    ));
    let v = &state.registry.vectors_created;
    fams.push(
        Family::new(
            "statsd_exporter_metrics_total",
            "gauge",
            "The total number of metrics.",
        )
        .labeled(
            "type",
            &[
                ("counter", v[0]),
                ("gauge", v[1]),
                ("histogram", v[2]),
                ("summary", v[3]),
            ],
        ),
    );
    let errors: Vec<(&str, u64)> = SampleError::ALL
        .iter()
        .map(|e| (e.label(), i.sample_errors[e.index()].load(Relaxed)))
        .collect();
    let mut errors_sorted = errors.clone();
    errors_sorted.sort();
    fams.push(
        Family::new(
            "statsd_exporter_sample_errors_total",
            "counter",
            "The total number of errors parsing StatsD samples.",
        )
        .labeled("reason", &errors_sorted),
    );
    fams.push(Some(
        Family::new(
            "statsd_exporter_samples_total",
            "counter",
            "The total number of StatsD samples received.",
        )
        .value(c(&i.samples)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_tag_errors_total",
            "counter",
            "The number of errors parsing DogStatsD tags.",
        )
        .value(c(&i.tag_errors)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_tags_total",
            "counter",
            "The total number of DogStatsD tags processed.",
        )
        .value(c(&i.tags)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_tcp_connection_errors_total",
            "counter",
            "The number of errors encountered reading from TCP.",
        )
        .value(c(&i.tcp_errors)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_tcp_connections_total",
            "counter",
            "The total number of TCP connections handled.",
        )
        .value(c(&i.tcp_connections)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_tcp_too_long_lines_total",
            "counter",
            "The number of lines discarded due to being too long.",
        )
        .value(c(&i.tcp_too_long)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_udp_packet_drops_total",
            "counter",
            "The total number of dropped StatsD packets which received over UDP.",
        )
        .value(0.0),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_udp_packets_total",
            "counter",
            "The total number of StatsD packets received over UDP.",
        )
        .value(c(&i.udp_packets)),
    ));
    fams.push(Some(
        Family::new(
            "statsd_exporter_unixgram_packets_total",
            "counter",
            "The total number of StatsD packets received over Unixgram.",
        )
        .value(c(&i.unixgram_packets)),
    ));
    // statsd_exporter registers the cache metrics only with a cache (size above 0).
    let cache = state.cache.enabled();
    fams.push(cache.then(|| {
        Family::new(
            "statsd_metric_mapper_cache_gets_total",
            "counter",
            "The count of total metric cache gets.",
        )
        .value(state.cache.gets as f64)
    }));
    fams.push(cache.then(|| {
        Family::new(
            "statsd_metric_mapper_cache_hits_total",
            "counter",
            "The count of total metric cache hits.",
        )
        .value(state.cache.hits as f64)
    }));
    fams.push(cache.then(|| {
        Family::new(
            "statsd_metric_mapper_cache_length",
            "gauge",
            "The count of unique metrics currently cached.",
        )
        .value(state.cache.len() as f64)
    }));
    for f in fams.into_iter().flatten() {
        out.push(Rendered {
            name: f.name.to_owned(),
            kind: f.kind,
            help: f.help.to_owned(),
            body: f.text,
        });
    }
}

/// `runtime.GOARCH` spelling of the build architecture, as in statsd_exporter's build info.
fn go_arch(arch: &str) -> &str {
    match arch {
        "x86_64" => "amd64",
        "x86" => "386",
        "aarch64" => "arm64",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn go_arch_names() {
        assert_eq!(super::go_arch("x86_64"), "amd64");
        assert_eq!(super::go_arch("aarch64"), "arm64");
        assert_eq!(super::go_arch("s390x"), "s390x");
    }
}
