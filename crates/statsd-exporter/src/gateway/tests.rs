use super::*;
use crate::format::{Rendered, write_families};

fn config(statsd: &str) -> Config {
    let text = format!("statsd:\n{statsd}\nsites: []\n");
    graygate_config::Document::from_text("test.yaml", text, ".")
        .parse()
        .expect("parses")
}

fn errors(dir: &Path, statsd: &str) -> Vec<String> {
    match Settings::build(&config(statsd), dir) {
        Ok(_) => Vec::new(),
        Err(errors) => errors.iter().map(ToString::to_string).collect(),
    }
}

#[test]
fn off_by_default() {
    let config = config("  cache_size: 10");
    assert!(!config.statsd.enabled);
    assert!(matches!(Settings::build(&config, Path::new(".")), Ok(None)));
}

#[test]
fn builds_with_the_mapping_relative_to_the_config() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("mapping.yml"),
        "mappings:\n  - match: a.*\n    name: a\n    labels:\n      xx: $1\n",
    )
    .expect("write");
    let config = config(
        "  enabled: true\n  listen_tcp: null\n  listen_udp: 127.0.0.1:0\n  mapping_config: mapping.yml\n  unixsocket_mode: \"660\"\n  parse_librato_tags: false",
    );
    let settings = Settings::build(&config, dir.path())
        .expect("valid")
        .expect("enabled");
    assert_eq!(settings.mapper.len(), 1);
    assert_eq!(settings.addrs.tcp, None);
    assert!(settings.addrs.udp.is_some());
    assert_eq!(settings.options.unixsocket_mode, 0o660);
    assert!(!settings.options.parser.librato && settings.options.parser.dogstatsd);
    assert_eq!(settings.options.flush_interval, Duration::from_millis(200));
}

#[test]
fn a_bad_mapping_file_is_a_field_error_naming_the_file() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("mapping.yml"),
        "mappings:\n  - match: a.*\n",
    )
    .expect("write");
    let got = errors(dir.path(), "  enabled: true\n  mapping_config: mapping.yml");
    assert_eq!(got.len(), 1, "{got:?}");
    assert!(got[0].starts_with("statsd.mapping_config: the mapping file "));
    assert!(got[0].contains("mapping.yml is not valid"), "{got:?}");
    assert!(got[0].contains("didn't set a metric name"), "{got:?}");

    let got = errors(dir.path(), "  enabled: true\n  mapping_config: absent.yml");
    assert!(got[0].contains("cannot read the mapping file"), "{got:?}");
    assert!(got[0].contains("absent.yml"), "{got:?}");
}

#[test]
fn every_field_is_checked() {
    let dir = Path::new(".");
    let got = errors(
        dir,
        "  enabled: true\n  listen_udp: null\n  listen_tcp: null\n  unixsocket_mode: \"999\"\n  event_queue_size: 0\n  event_flush_threshold: 0\n  event_flush_interval_ms: 0\n  read_buffer_bytes: 0",
    );
    for want in [
        "statsd.enabled: no listener",
        "statsd.unixsocket_mode: expected octal",
        "statsd.event_queue_size: must be at least 1",
        "statsd.event_flush_threshold: must be at least 1",
        "statsd.event_flush_interval_ms: must be at least 1",
        "statsd.read_buffer_bytes: must be at least 1",
    ] {
        assert!(got.iter().any(|e| e.starts_with(want)), "{want}: {got:?}");
    }
    let off = Config {
        metrics: graygate_config::Metrics {
            enabled: false,
            ..graygate_config::Metrics::default()
        },
        ..config("  enabled: true")
    };
    let got = Settings::build(&off, dir).expect_err("metrics off");
    assert!(got[0].to_string().contains("turn metrics.enabled on"));
}

#[test]
fn reserved_names_are_compared_by_stem() {
    let reserved = Reserved {
        prefixes: vec!["graygate_".into()],
        names: vec!["process_cpu_seconds_total".into(), "process_threads".into()],
    };
    for refused in [
        "graygate_anything",
        "process_cpu_seconds_total",
        "process_cpu_seconds",
        "process_cpu_seconds_sum",
        "process_threads",
        "process_threads_total",
    ] {
        assert!(reserved.refuses(refused), "{refused}");
    }
    for allowed in [
        "gray_gate",
        "process_cpu",
        "process_threads_max",
        "app_total",
    ] {
        assert!(!reserved.refuses(allowed), "{allowed}");
    }
}

fn family(name: &str, kind: &'static str, body: &str) -> Rendered {
    Rendered {
        name: name.into(),
        kind,
        help: "a \"quoted\" help\\".into(),
        body: body.into(),
    }
}

#[test]
fn openmetrics_headers_keep_every_series_name() {
    let families = [
        family("hits", "counter", "hits 1\n"),
        family("jobs", "gauge", "jobs 2\n"),
        family("jobs_total", "counter", "jobs_total 3\n"),
        family("requests_total", "counter", "requests_total 4\n"),
    ];
    let mut om = String::new();
    write_families(&families, TextFormat::OpenMetrics, &mut om);
    assert_eq!(
        om,
        "# HELP hits a \\\"quoted\\\" help\\\\\n# TYPE hits unknown\nhits 1\n\
         # HELP jobs a \\\"quoted\\\" help\\\\\n# TYPE jobs gauge\njobs 2\n\
         # HELP jobs_total a \\\"quoted\\\" help\\\\\n# TYPE jobs_total unknown\njobs_total 3\n\
         # HELP requests a \\\"quoted\\\" help\\\\\n# TYPE requests counter\nrequests_total 4\n"
    );
    let mut text = String::new();
    write_families(&families[..1], TextFormat::Prometheus, &mut text);
    assert_eq!(
        text,
        "# HELP hits a \"quoted\" help\\\\\n# TYPE hits counter\nhits 1\n"
    );
}
