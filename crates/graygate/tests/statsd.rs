//! The `statsd` section inside `graygate run`: StatsD lines sent over real UDP and TCP sockets
//! come out, mapped by statsd_exporter's mapping file, on the gateway's metrics listener, in
//! Prometheus text (promtool) and OpenMetrics (a real Prometheus scraping it); SIGHUP re-reads
//! the mapping and refuses a broken one; `graygate check` names a bad mapping file.

mod common;
use common::*;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

const MAPPING: &str = r#"mappings:
  - match: "shop.*.requests"
    name: "shop_requests_total"
    labels:
      handler: "$1"
  - match: "shop.*.latency"
    observer_type: histogram
    histogram_options:
      buckets: [0.1, 1]
    name: "shop_latency_seconds"
    labels:
      handler: "$1"
"#;

/// A gateway with one static site and the `statsd` section on free loopback ports, reading
/// `mapping.yml` (written next to the config) with `mapping`.
fn gateway(mapping: &str) -> Gateway {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("mapping.yml"), mapping).expect("mapping");
    let root = write_tree(dir.path(), &[("site/index.html", "hello")]);
    Gateway::start_in(
        dir,
        &format!(
            r#"statsd:
  enabled: true
  listen_udp: 127.0.0.1:0
  listen_tcp: 127.0.0.1:0
  mapping_config: mapping.yml
  event_flush_interval_ms: 10
sites:
  - name: web
    hosts: ["*"]
    release:
      default: v1
      versions:
        v1: {{root: "{}"}}
"#,
            root.join("site").display()
        ),
    )
}

fn udp(gw: &Gateway, datagram: &str) {
    let socket = UdpSocket::bind("127.0.0.1:0").expect("bind");
    socket
        .send_to(datagram.as_bytes(), gw.statsd_udp.expect("UDP listener"))
        .expect("send");
}

fn tcp(gw: &Gateway, lines: &str) {
    let mut stream = TcpStream::connect(gw.statsd_tcp.expect("TCP listener")).expect("connect");
    stream.write_all(lines.as_bytes()).expect("write");
}

/// Scrapes until every line in `want` is in the exposition; returns it.
fn wait_for(gw: &Gateway, want: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let text = gw.metrics_text();
        if want.iter().all(|w| text.lines().any(|l| l == *w)) {
            return text;
        }
        assert!(Instant::now() < deadline, "missing {want:?} in:\n{text}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn udp_and_tcp_lines_are_mapped_on_the_metrics_listener() {
    let gw = gateway(MAPPING);
    udp(
        &gw,
        "shop.cart.requests:3|c\nshop.cart.requests:2|c\nqueue.depth:7|g\nhits:1|c",
    );
    tcp(
        &gw,
        "shop.home.requests:1|c|#region:eu\nshop.cart.latency:250|ms\nshop.cart.latency:2|ms\n",
    );
    // An unmapped name that would shadow one of graygate's own families is refused.
    udp(&gw, "graygate_config_revision:5|g");
    let text = wait_for(
        &gw,
        &[
            r#"shop_requests_total{handler="cart"} 5"#,
            r#"shop_requests_total{handler="home",region="eu"} 1"#,
            r#"shop_latency_seconds_bucket{handler="cart",le="0.1"} 1"#,
            r#"shop_latency_seconds_bucket{handler="cart",le="1"} 2"#,
            r#"shop_latency_seconds_count{handler="cart"} 2"#,
            "queue_depth 7",
            "hits 1",
            "statsd_exporter_udp_packets_total 2",
            "statsd_exporter_tcp_connections_total 1",
            r#"statsd_exporter_events_conflict_total{type="gauge"} 1"#,
            r#"statsd_exporter_events_actions_total{action="map"} 5"#,
            "statsd_exporter_loaded_mappings 2",
        ],
    );
    assert!(text.contains("\ngraygate_config_revision 1\n"), "{text}");
    assert!(text.contains("\n# TYPE process_cpu_seconds_total counter\n"));
    assert_eq!(text.matches("# TYPE graygate_config_revision ").count(), 1);

    // Prometheus text: parses; the only lint findings are names statsd_exporter gives (a
    // gauge called `..._total`) or lets clients give (a counter without `_total`).
    let (code, output) = promtool_check(&text);
    assert!(code == 0 || code == 3, "promtool ({code}): {output}");
    for finding in output.lines().filter(|l| !l.trim().is_empty()) {
        assert!(
            finding.starts_with("statsd_exporter_metrics_total ") || finding.starts_with("hits "),
            "promtool: {output}"
        );
    }

    // OpenMetrics: one `# EOF`, last; counters named by their family.
    let om = get(
        gw.metrics.expect("metrics"),
        "/metrics",
        &["Accept: application/openmetrics-text; version=1.0.0"],
    )
    .text();
    assert!(om.ends_with("\n# EOF\n") && om.matches("# EOF").count() == 1);
    for line in [
        "# TYPE shop_requests counter",
        r#"shop_requests_total{handler="cart"} 5"#,
        "# TYPE hits unknown",
        "hits 1",
        "# TYPE shop_latency_seconds histogram",
        "# TYPE graygate_config_revision gauge",
    ] {
        assert!(om.lines().any(|l| l == line), "missing {line} in:\n{om}");
    }
}

#[test]
fn prometheus_scrapes_the_mapped_series_over_openmetrics() {
    let gw = gateway(MAPPING);
    udp(&gw, "shop.cart.requests:5|c\nhits:2|c\nqueue.depth:7|g");
    wait_for(&gw, &[r#"shop_requests_total{handler="cart"} 5"#]);
    let prometheus = Prometheus::start(gw.metrics.expect("metrics"));
    let deadline = Instant::now() + Duration::from_secs(30);
    let series = |q: &str| prometheus.query(q).first().map(value).unwrap_or(f64::NAN);
    loop {
        // `up` is 0 when a scrape fails to parse.
        if series("up") == 1.0
            && series(r#"shop_requests_total{handler="cart"}"#) == 5.0
            && series("hits") == 2.0
            && series("queue_depth") == 7.0
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "not scraped: up={} shop_requests_total={} hits={}",
            series("up"),
            series("shop_requests_total"),
            series("hits")
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    assert_eq!(series("graygate_config_revision"), 1.0);
    assert_eq!(series(r#"statsd_exporter_udp_packets_total"#), 1.0);
}

#[test]
fn sighup_rereads_the_mapping_and_keeps_it_when_the_new_one_is_broken() {
    let gw = gateway(MAPPING);
    udp(&gw, "shop.cart.requests:1|c");
    wait_for(&gw, &[r#"shop_requests_total{handler="cart"} 1"#]);

    let mapping = gw.path().join("mapping.yml");
    std::fs::write(
        &mapping,
        MAPPING.replace("shop_requests_total", "shop_hits_total"),
    )
    .expect("write");
    kill("HUP", &gw);
    wait_for(
        &gw,
        &[r#"statsd_exporter_config_reloads_total{outcome="success"} 1"#],
    );
    udp(&gw, "shop.cart.requests:2|c");
    wait_for(&gw, &[r#"shop_hits_total{handler="cart"} 2"#]);

    // A mapping without a name is refused: the whole reload is, and the mapping stays.
    std::fs::write(&mapping, "mappings:\n  - match: shop.*.requests\n").expect("write");
    kill("HUP", &gw);
    wait_for(
        &gw,
        &[
            r#"statsd_exporter_config_reloads_total{outcome="failure"} 1"#,
            r#"graygate_config_reloads_total{result="failure"} 1"#,
        ],
    );
    udp(&gw, "shop.cart.requests:3|c");
    wait_for(&gw, &[r#"shop_hits_total{handler="cart"} 5"#]);
    assert_eq!(gw.metric("graygate_config_revision"), 2);
}

#[test]
fn check_names_a_bad_mapping_file_and_run_refuses_it() {
    let dir = tempfile::tempdir().expect("dir");
    let mapping = dir.path().join("mapping.yml");
    std::fs::write(&mapping, "mappings:\n  - match: shop.*.requests\n").expect("write");
    let config = format!(
        "statsd:\n  enabled: true\n  mapping_config: {}\nsites:\n  - name: web\n    hosts: [\"*\"]\n    release:\n      default: v1\n      versions:\n        v1: {{root: /tmp}}\n",
        mapping.display()
    );
    let (ok, text) = check(&config);
    assert!(!ok, "{text}");
    let want = format!(
        "graygate.yaml:3:19: statsd.mapping_config: the mapping file {} is not valid: ",
        mapping.display()
    );
    assert!(text.starts_with(&want), "{text}");
    assert!(text.contains("didn't set a metric name"), "{text}");

    std::fs::write(&mapping, MAPPING).expect("write");
    let (ok, text) = check(&config);
    assert!(ok, "{text}");
    assert!(text.contains("statsd with 2 mappings"), "{text}");

    std::fs::remove_file(&mapping).expect("remove");
    let path = dir.path().join("graygate.yaml");
    std::fs::write(&path, &config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_graygate"))
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
        ])
        .arg("--config")
        .arg(&path)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("statsd.mapping_config: cannot read the mapping file")
            && stderr.contains("not starting"),
        "{stderr}"
    );
}

fn kill(signal: &str, gw: &Gateway) {
    assert!(
        Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(gw.pid().to_string())
            .status()
            .expect("kill")
            .success()
    );
}
