//! End to end over real sockets on 127.0.0.1: StatsD in over UDP, TCP and unixgram,
//! `/metrics` out over HTTP.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use graygate_statsd::Mapper;
use graygate_statsd_exporter::{
    Bound, Exporter, ExporterOptions, ListenerAddrs, WebOptions, serve,
};
use tokio::sync::Notify;

const MAPPING: &str = r#"
defaults:
  observer_type: histogram
  histogram_options:
    buckets: [0.1, 1, 10]
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatcher_events_total"
  help: "Dispatcher events."
  labels:
    processor: "$1"
    action: "$2"
    outcome: "$3"
    job: "test_dispatcher"
- match: "*.signup.*.*"
  name: "signup_events_total"
  labels:
    provider: "$2"
    outcome: "$3"
    job: "${1}_server"
- match: "drop.*"
  name: "dropped"
  action: drop
- match: "summary.*"
  name: "latency_$1"
  observer_type: summary
- match: "(.*)\\.regex\\.(.*)"
  match_type: regex
  name: "regex_${2}"
  labels:
    prefix: "$1"
"#;

fn http_get(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect web");
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

fn http_post(addr: SocketAddr, path: &str) -> String {
    let mut s = TcpStream::connect(addr).expect("connect web");
    write!(
        s,
        "POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    text
}

/// Polls `/metrics` until every `want` line is present (or fails after 10 s).
fn wait_for(web: SocketAddr, want: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let body = http_get(web, "/metrics");
        if want.iter().all(|w| body.lines().any(|l| l == *w)) {
            return body;
        }
        if Instant::now() > deadline {
            panic!("missing {want:?} in:\n{body}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

async fn start(mapping: &str) -> (Exporter, Bound, SocketAddr) {
    let options = ExporterOptions {
        flush_interval: Duration::from_millis(5),
        ..ExporterOptions::default()
    };
    let exporter = Exporter::start(Mapper::from_yaml(mapping).expect("mapping"), options);
    let local: SocketAddr = "127.0.0.1:0".parse().expect("addr");
    let bound = exporter
        .spawn_listeners(&ListenerAddrs {
            udp: Some(local),
            tcp: Some(local),
            unixgram: None,
        })
        .expect("listeners");
    let web = tokio::net::TcpListener::bind(local).await.expect("web");
    let web_addr = web.local_addr().expect("web addr");
    let options = WebOptions {
        telemetry_path: "/metrics".into(),
        lifecycle: false,
    };
    tokio::spawn(serve(
        exporter.clone(),
        web,
        options,
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
    ));
    (exporter, bound, web_addr)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn udp_lines_are_mapped_and_exposed() {
    let (_exporter, bound, web) = start(MAPPING).await;
    let udp = bound.udp.expect("udp");
    tokio::task::spawn_blocking(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("client");
        let packet = "test.dispatcher.FooProcessor.send.success:1|c\n\
                      test.dispatcher.FooProcessor.send.success:2|c|@0.5\n\
                      foo_product.signup.facebook.failure:1|c\n\
                      unmapped.metric-name:42|g\n\
                      unmapped.metric-name:-2|g\n\
                      drop.me:1|c\n\
                      timer.histo:250|ms|#env:prod\n\
                      summary.req:3|h\n\
                      a.regex.b:1|c\n\
                      tagged,host=web-1:5|c\n\
                      bad line\n\
                      neg:-1|c\n\
                      x:1|s";
        sock.send_to(packet.as_bytes(), udp).expect("send");
        let body = wait_for(
            web,
            &[
                "dispatcher_events_total{action=\"send\",job=\"test_dispatcher\",outcome=\"success\",processor=\"FooProcessor\"} 5",
                "signup_events_total{job=\"foo_product_server\",outcome=\"failure\",provider=\"facebook\"} 1",
                "unmapped_metric_name 40",
                "timer_histo_bucket{env=\"prod\",le=\"0.1\"} 0",
                "timer_histo_bucket{env=\"prod\",le=\"1\"} 1",
                "timer_histo_bucket{env=\"prod\",le=\"+Inf\"} 1",
                "timer_histo_sum{env=\"prod\"} 0.25",
                "timer_histo_count{env=\"prod\"} 1",
                "latency_req{quantile=\"0.5\"} 3",
                "latency_req_count 1",
                "regex_b{prefix=\"a\"} 1",
                "tagged{host=\"web-1\"} 5",
                "statsd_exporter_lines_total 13",
                "statsd_exporter_samples_total 12",
                "statsd_exporter_udp_packets_total 1",
                "statsd_exporter_sample_errors_total{reason=\"malformed_line\"} 1",
                "statsd_exporter_sample_errors_total{reason=\"illegal_event\"} 1",
                "statsd_exporter_events_error_total{reason=\"illegal_negative_counter\"} 1",
                "statsd_exporter_events_actions_total{action=\"drop\"} 1",
                "statsd_exporter_events_actions_total{action=\"map\"} 5",
                "statsd_exporter_events_unmapped_total 5",
                "statsd_exporter_events_total{type=\"counter\"} 5",
                "statsd_exporter_events_total{type=\"gauge\"} 2",
                "statsd_exporter_events_total{type=\"observer\"} 2",
                "statsd_exporter_tags_total 2",
                "statsd_exporter_loaded_mappings 5",
            ],
        );
        assert!(body.contains("# HELP dispatcher_events_total Dispatcher events.\n# TYPE dispatcher_events_total counter\n"));
        assert!(body.contains("# TYPE timer_histo histogram\n"));
        assert!(!body.contains("\ndropped") && !body.contains("drop_me"));
    })
    .await
    .expect("client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_lines_conflicts_and_too_long_lines() {
    let (_exporter, bound, web) = start(MAPPING).await;
    let tcp = bound.tcp.expect("tcp");
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(tcp).expect("connect");
        s.write_all(b"tcp.counter:1|c\r\ntcp.counter:2|c\nclash:1|c\nclash:1|g\nclash_sum:1|c\nhist:1|h\nhist:1|h|#a:b\nlast:7|g").expect("write");
        drop(s);
        wait_for(
            web,
            &[
                "tcp_counter 3",
                "last 7",
                "clash 1",
                "hist_count 1",
                "hist_count{a=\"b\"} 1",
                "statsd_exporter_events_conflict_total{type=\"gauge\"} 1",
                "statsd_exporter_tcp_connections_total 1",
                "statsd_exporter_lines_total 8",
            ],
        );
        let mut s = TcpStream::connect(tcp).expect("connect");
        let long = format!("long:{}|c\nafter:1|c\n", "1".repeat(5000));
        s.write_all(long.as_bytes()).expect("write");
        drop(s);
        let body = wait_for(web, &["statsd_exporter_tcp_too_long_lines_total 1"]);
        assert!(!body.contains("\nafter "));
    })
    .await
    .expect("client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unixgram_and_reload() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("statsd.sock");
    let exporter = Exporter::start(
        Mapper::from_yaml(MAPPING).expect("mapping"),
        ExporterOptions {
            flush_interval: Duration::from_millis(5),
            ..ExporterOptions::default()
        },
    );
    let bound = exporter
        .spawn_listeners(&ListenerAddrs {
            unixgram: Some(path.clone()),
            ..ListenerAddrs::default()
        })
        .expect("listener");
    assert_eq!(bound.unixgram.as_deref(), Some(path.as_path()));
    let client = std::os::unix::net::UnixDatagram::unbound().expect("client");
    client
        .send_to(b"foo_product.signup.x.y:1|c", &path)
        .expect("send");

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut out = String::new();
        exporter.render(&mut out);
        if out.contains(
            "signup_events_total{job=\"foo_product_server\",outcome=\"y\",provider=\"x\"} 1",
        ) && out.contains("statsd_exporter_unixgram_packets_total 1")
        {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let err = exporter
        .reload("mappings:\n- match: a..b\n  name: x\n")
        .expect_err("bad mapping");
    assert!(err.to_string().contains("invalid match"), "{err}");
    assert_eq!(exporter.mappings(), 5);
    exporter
        .reload("mappings:\n- match: a.*\n  name: a_$1\n")
        .expect("good mapping");
    assert_eq!(exporter.mappings(), 1);
    let mut out = String::new();
    exporter.render(&mut out);
    assert!(out.contains("statsd_exporter_config_reloads_total{outcome=\"failure\"} 1"));
    assert!(out.contains("statsd_exporter_config_reloads_total{outcome=\"success\"} 1"));
    assert!(out.contains("statsd_exporter_loaded_mappings 1"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ttl_expires_series() {
    let exporter = Exporter::start(
        Mapper::from_yaml("defaults:\n  ttl: 50ms\nmappings: []\n").expect("mapping"),
        ExporterOptions {
            flush_interval: Duration::from_millis(1),
            ..ExporterOptions::default()
        },
    );
    exporter.ingest_datagram(b"short.lived:1|g").await;
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = false;
    loop {
        let mut out = String::new();
        exporter.render(&mut out);
        let present = out.contains("\nshort_lived 1\n");
        seen |= present;
        if seen && !present {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn code(c: ExitCode) -> String {
    format!("{c:?}")
}

#[test]
fn check_config_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good.yml");
    std::fs::write(&good, MAPPING).expect("write");
    let bad = dir.path().join("bad.yml");
    std::fs::write(&bad, "mappings:\n- match: a.b\n").expect("write");
    let run = |args: &[&str]| {
        code(graygate_statsd_exporter::run(
            args.iter().map(Into::into).collect(),
        ))
    };
    let ok = code(ExitCode::SUCCESS);
    let fail = code(ExitCode::FAILURE);
    assert_eq!(
        run(&[
            "--check-config",
            &format!("--statsd.mapping-config={}", good.display())
        ]),
        ok
    );
    assert_eq!(
        run(&[
            "--check-config",
            "--statsd.mapping-config",
            &bad.display().to_string()
        ]),
        fail
    );
    assert_eq!(
        run(&[
            "--check-config",
            "--statsd.mapping-config",
            "/nonexistent/x.yml"
        ]),
        fail
    );
    assert_eq!(run(&["--check-config", "--no-such-flag"]), fail);
    // Flags are parsed (kingpin) before the check: a bad duration fails it.
    assert_eq!(
        run(&["--check-config", "--statsd.event-flush-interval=soon"]),
        fail
    );
    assert_eq!(
        run(&[
            "--check-config",
            "--statsd.cache-size=10",
            "--statsd.event-flush-interval",
            "1s",
            "--log.level=debug"
        ]),
        ok
    );
}

#[test]
fn run_reloads_on_sighup_and_lifecycle() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mapping = dir.path().join("mapping.yml");
    std::fs::write(&mapping, "mappings:\n- match: a.*\n  name: first_$1\n").expect("write");
    let free = || {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("probe");
        l.local_addr().expect("addr")
    };
    let web = free();
    let statsd = free();
    let args: Vec<std::ffi::OsString> = vec![
        format!("--web.listen-address={web}").into(),
        format!("--statsd.listen-udp={statsd}").into(),
        "--statsd.listen-tcp=".into(),
        format!("--statsd.mapping-config={}", mapping.display()).into(),
        "--statsd.event-flush-interval=5ms".into(),
        "--web.enable-lifecycle".into(),
    ];
    let handle = std::thread::spawn(move || code(graygate_statsd_exporter::run(args)));
    let sock = UdpSocket::bind("127.0.0.1:0").expect("client");
    let deadline = Instant::now() + Duration::from_secs(10);
    while TcpStream::connect(web).is_err() {
        assert!(Instant::now() < deadline, "exporter did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    sock.send_to(b"a.x:1|c", statsd).expect("send");
    wait_for(web, &["first_x 1", "statsd_exporter_loaded_mappings 1"]);

    // A bad file is refused and the old mapping stays.
    std::fs::write(&mapping, "mappings:\n- match: a.*\n").expect("write");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    wait_for(
        web,
        &["statsd_exporter_config_reloads_total{outcome=\"failure\"} 1"],
    );
    sock.send_to(b"a.y:1|c", statsd).expect("send");
    wait_for(web, &["first_y 1"]);

    std::fs::write(
        &mapping,
        "mappings:\n- match: a.*\n  name: second_$1\n- match: b.*\n  name: b\n",
    )
    .expect("write");
    assert!(http_post(web, "/-/reload").starts_with("HTTP/1.1 200"));
    wait_for(
        web,
        &[
            "statsd_exporter_config_reloads_total{outcome=\"success\"} 1",
            "statsd_exporter_loaded_mappings 2",
        ],
    );
    sock.send_to(b"a.z:1|c", statsd).expect("send");
    wait_for(web, &["second_z 1"]);
    assert_eq!(http_get(web, "/-/healthy"), "Statsd Exporter is Healthy.\n");
    assert_eq!(http_get(web, "/-/ready"), "Statsd Exporter is Ready.\n");
    let quit = http_post(web, "/-/quit");
    assert!(quit.starts_with("HTTP/1.1 200"), "{quit}");
    assert!(
        quit.ends_with("\r\n\r\nRequesting termination... Goodbye!"),
        "{quit}"
    );
    assert_eq!(handle.join().expect("run thread"), code(ExitCode::SUCCESS));
}

/// Renders until every `want` line is present (or fails after 10 s).
async fn render_until(exporter: &Exporter, want: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut out = String::new();
        exporter.render(&mut out);
        if want.iter().all(|w| out.lines().any(|l| l == *w)) {
            return out;
        }
        assert!(Instant::now() < deadline, "missing {want:?} in:\n{out}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// statsd_exporter handles a sampled observation as `int(1/rate)` events, each looked up in
/// the mapping cache; with `--statsd.cache-size=0` there is no cache and no cache metrics.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mapper_cache_metrics() {
    let exporter = Exporter::start(Mapper::default(), ExporterOptions::default());
    exporter.ingest_datagram(b"t:1|ms|@0.25\nt:1|ms").await;
    render_until(
        &exporter,
        &[
            "statsd_metric_mapper_cache_gets_total 5",
            "statsd_metric_mapper_cache_hits_total 4",
            "statsd_metric_mapper_cache_length 1",
            "statsd_exporter_events_total{type=\"observer\"} 5",
        ],
    )
    .await;

    let exporter = Exporter::start(
        Mapper::default(),
        ExporterOptions {
            cache_size: 0,
            ..ExporterOptions::default()
        },
    );
    exporter.ingest_datagram(b"t:1|ms|@0.25").await;
    let out = render_until(
        &exporter,
        &["statsd_exporter_events_total{type=\"observer\"} 4"],
    )
    .await;
    assert!(!out.contains("statsd_metric_mapper_cache"), "{out}");
}

/// statsd_exporter's event queue flushes on every tick of `--statsd.event-flush-interval`
/// (empty or not) and each time `--statsd.event-flush-threshold` events are queued;
/// `statsd_exporter_event_queue_flushed_total` counts both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn event_queue_flushes_count_ticks_and_thresholds() {
    let exporter = Exporter::start(
        Mapper::default(),
        ExporterOptions {
            flush_threshold: 2,
            flush_interval: Duration::from_secs(3600),
            ..ExporterOptions::default()
        },
    );
    exporter
        .ingest_datagram(b"a:1|c\na:1|c\na:1|c\na:1|c\na:1|c")
        .await;
    render_until(
        &exporter,
        &[
            "statsd_exporter_events_total{type=\"counter\"} 5",
            "statsd_exporter_event_queue_flushed_total 2",
        ],
    )
    .await;

    let exporter = Exporter::start(
        Mapper::default(),
        ExporterOptions {
            flush_interval: Duration::from_millis(20),
            ..ExporterOptions::default()
        },
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut out = String::new();
    exporter.render(&mut out);
    let flushed: f64 = out
        .lines()
        .find_map(|l| l.strip_prefix("statsd_exporter_event_queue_flushed_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0);
    assert!(flushed >= 9.0, "{out}");
}

/// A metric named like a sample of an existing histogram or summary (`x_count` after the
/// summary `x`) would write that sample twice; statsd_exporter's scrape then fails as a
/// whole. It is refused and counted as a conflict instead.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_of_summary_and_histogram_samples_are_conflicts() {
    let exporter = Exporter::start(
        Mapper::from_yaml("mappings:\n- match: h.*\n  name: hist_$1\n  observer_type: histogram\n")
            .expect("mapping"),
        ExporterOptions::default(),
    );
    exporter
        .ingest_datagram(
            b"cache_miss:1|d|#caller:a\ncache_miss_count:3|c|#caller:a\ncache_miss_sum:3|g\nh.x:1|h\nhist_x_bucket:1|c\ncache_miss_bucket:1|c",
        )
        .await;
    let out = render_until(
        &exporter,
        &[
            "statsd_exporter_events_conflict_total{type=\"counter\"} 2",
            "statsd_exporter_events_conflict_total{type=\"gauge\"} 1",
            "cache_miss_bucket 1",
        ],
    )
    .await;
    assert!(!out.contains("TYPE cache_miss_count counter"), "{out}");
    assert!(!out.contains("TYPE hist_x_bucket"), "{out}");
}

/// statsd_exporter removes expired series on its one-second tick only, so a scrape between
/// the TTL's end and the next tick still shows the series.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_series_stay_until_the_sweep() {
    let exporter = Exporter::start(
        Mapper::from_yaml("defaults:\n  ttl: 1ns\nmappings: []\n").expect("mapping"),
        ExporterOptions::default(),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        exporter.ingest_datagram(b"brief:1|g").await;
        tokio::time::sleep(Duration::from_millis(5)).await;
        let mut out = String::new();
        exporter.render(&mut out);
        if out.contains("\nbrief 1\n") {
            break;
        }
        assert!(Instant::now() < deadline, "{out}");
    }
}
