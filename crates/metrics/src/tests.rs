use super::*;
use std::time::Duration;

#[test]
fn sums_workers_and_keeps_cells_across_lookups() {
    let registry = Registry::new(2);
    let a = registry.http("shop.example.com", "shop", "1.1.0");
    a.worker(0).record(200, Duration::from_millis(3));
    a.worker(1).record(200, Duration::from_millis(30));
    a.worker(1).record(503, Duration::from_secs(20));
    // A reload resolving the same labels gets the same cells.
    let again = registry.http("shop.example.com", "shop", "1.1.0");
    again.worker(0).record(200, Duration::from_micros(10));
    let text = registry.render(Format::Prometheus, false);
    assert!(text.contains("graygate_http_requests_total{host=\"shop.example.com\",site=\"shop\",version=\"1.1.0\",status=\"200\"} 3\n"), "{text}");
    assert!(text.contains("status=\"503\"} 1\n"));
    assert!(text.contains("graygate_http_request_duration_seconds_bucket{host=\"shop.example.com\",site=\"shop\",version=\"1.1.0\",le=\"0.001\"} 1\n"), "{text}");
    assert!(text.contains("le=\"0.005\"} 2\n"));
    assert!(text.contains("le=\"10.0\"} 3\n"));
    assert!(text.contains("le=\"+Inf\"} 4\n"));
    assert!(text.contains("graygate_http_request_duration_seconds_count{host=\"shop.example.com\",site=\"shop\",version=\"1.1.0\"} 4\n"));
}

#[test]
fn openmetrics_names_counters_without_total_and_ends_with_eof() {
    let registry = Registry::new(1);
    registry
        .decision("shop", "1.0.0", "default")
        .worker(0)
        .inc();
    let text = registry.render(Format::OpenMetrics, false);
    assert!(text.contains("# TYPE graygate_release_decisions counter\n"));
    assert!(text.contains(
        "graygate_release_decisions_total{site=\"shop\",version=\"1.0.0\",reason=\"default\"} 1\n"
    ));
    assert!(text.ends_with("# EOF\n"));
    assert_eq!(
        Format::from_accept(Some(
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5"
        )),
        Format::OpenMetrics
    );
    assert_eq!(Format::from_accept(Some("text/plain")), Format::Prometheus);
}

#[test]
fn nginx_compat_folds_by_host() {
    let registry = Registry::new(1);
    registry
        .http("a.com", "s", "v1")
        .worker(0)
        .record(200, Duration::from_millis(1));
    registry
        .http("a.com", "s", "v2")
        .worker(0)
        .record(200, Duration::from_millis(1));
    let cells = registry.worker_cells();
    cells.worker(0).active.inc();
    let text = registry.render(Format::Prometheus, true);
    assert!(
        text.contains("nginx_http_requests_total{host=\"a.com\",status=\"200\"} 2\n"),
        "{text}"
    );
    assert!(text.contains("nginx_http_request_duration_seconds_count{host=\"a.com\"} 2\n"));
    assert!(text.contains("nginx_http_connections{state=\"waiting\"} 1\n"));
    assert!(
        !registry
            .render(Format::Prometheus, false)
            .contains("nginx_")
    );
}

#[test]
fn label_values_are_escaped() {
    let registry = Registry::new(1);
    registry
        .upstream("we\"ird\\name\n")
        .worker(0)
        .error("timeout");
    let text = registry.render(Format::Prometheus, false);
    assert!(
        text.contains("upstream=\"we\\\"ird\\\\name\\n\",kind=\"timeout\"} 1"),
        "{text}"
    );
}

#[test]
fn process_metrics_are_present() {
    let text = Registry::new(1).render(Format::Prometheus, false);
    for name in [
        names::PROCESS_CPU,
        names::PROCESS_RSS,
        names::PROCESS_OPEN_FDS,
        names::PROCESS_START_TIME,
    ] {
        assert!(text.contains(&format!("\n{name} ")), "{name} missing");
    }
}

#[test]
fn extra_families_come_after_graygate_and_before_eof() {
    let registry = Registry::new(1);
    registry.set_extra_families(Box::new(|format, out| {
        out.push_str(match format {
            Format::Prometheus => "# TYPE extra gauge\nextra 1\n",
            Format::OpenMetrics => "# TYPE extra gauge\nextra 2\n",
        })
    }));
    let text = registry.render(Format::Prometheus, false);
    assert!(text.ends_with("\n# TYPE extra gauge\nextra 1\n"), "{text}");
    let text = registry.render(Format::OpenMetrics, false);
    assert!(
        text.ends_with("\n# TYPE extra gauge\nextra 2\n# EOF\n"),
        "{text}"
    );
}
