//! Metrics and access logs from a running gateway: families and labels, formats, cardinality,
//! the nginx-lua names, promtool, JSON access-log lines, logrotate, drops under back-pressure,
//! and live reload on SIGHUP.

mod common;
use common::*;
use std::process::Command;

fn config(stable: &Origin, gray: &Origin, extra: &str) -> String {
    format!(
        r#"{extra}
sites:
  - name: shop
    hosts: ["shop.example.com", "*.shop.example.com"]
    release:
      default: stable
      versions:
        stable: {{upstream: {{servers: ["{}"]}}}}
        gray: {{upstream: {{servers: ["{}"], name: gray-pool}}}}
      rules:
        - pin: {{uids: ["1001"]}}
          version: gray
        - name: qa
          header: {{name: X-Gray, present: true}}
          version: gray
"#,
        stable.addr, gray.addr
    )
}

fn traffic(gw: &Gateway) {
    let mut c = Client::connect(gw.addr);
    for i in 0..20 {
        c.send_raw(
            format!("GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=d{i}\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(c.read_reply(false).expect("reply").status, 200);
    }
    for _ in 0..5 {
        c.send_raw(
            b"GET / HTTP/1.1\r\nHost: a.shop.example.com\r\nCookie: uid=1001; uuid=x\r\n\r\n",
        );
        assert_eq!(c.read_reply(false).expect("reply").text(), "gray");
    }
    c.send_raw(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=x\r\nX-Gray: 1\r\n\r\n");
    c.read_reply(false).expect("reply");
    c.send_raw(b"GET /nope HTTP/1.1\r\nHost: attacker-controlled.example\r\n\r\n");
    assert_eq!(c.read_reply(false).expect("reply").status, 404);
}

#[test]
fn metric_families_labels_and_promtool() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&config(&stable, &gray, ""));
    traffic(&gw);
    // One idle keepalive connection stays open while metrics are read.
    let mut idle = Client::connect(gw.addr);
    idle.send_raw(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=d0\r\n\r\n");
    idle.read_reply(false).expect("reply");
    wait_until(|| gw.metric(r#"graygate_connections{state="active"}"#) == 1);
    let text = gw.metrics_text();
    for line in [
        r#"graygate_http_requests_total{host="shop.example.com",site="shop",version="stable",status="200"} 21"#,
        r#"graygate_http_requests_total{host="*.shop.example.com",site="shop",version="gray",status="200"} 5"#,
        r#"graygate_http_requests_total{host="_none",site="_none",version="_none",status="404"} 1"#,
        r#"graygate_http_request_duration_seconds_count{host="shop.example.com",site="shop",version="stable"} 21"#,
        r#"graygate_release_decisions_total{site="shop",version="gray",reason="pin"} 5"#,
        r#"graygate_release_decisions_total{site="shop",version="gray",reason="rule:qa"} 1"#,
        r#"graygate_release_decisions_total{site="shop",version="stable",reason="default"} 21"#,
        r#"graygate_upstream_request_duration_seconds_count{upstream="gray-pool"} 6"#,
        r#"graygate_upstream_errors_total{upstream="shop/stable",kind="connect"} 0"#,
        r#"graygate_connections{state="active"} 1"#,
        r#"graygate_connections{state="waiting"} 1"#,
        r#"graygate_connections{state="writing"} 0"#,
        r#"graygate_config_revision 1"#,
        r#"graygate_build_info{version=""#,
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
    for family in [
        "process_cpu_seconds_total",
        "process_resident_memory_bytes",
        "process_open_fds",
        "graygate_config_reloads_total",
    ] {
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "missing {family}"
        );
    }
    // Cardinality: what a client sends never becomes a label value.
    assert!(!text.contains("attacker-controlled"));
    assert!(
        !text.contains("nginx_http_requests_total"),
        "nginx names are off by default"
    );

    let (code, output) = promtool_check(&text);
    assert_eq!(code, 0, "promtool: {output}");
}

#[test]
fn openmetrics_on_request_and_nginx_names_on_switch() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&config(&stable, &gray, "metrics: {nginx_compat: true}"));
    traffic(&gw);
    let om = get(
        gw.metrics.expect("metrics"),
        "/metrics",
        &["Accept: application/openmetrics-text; version=1.0.0"],
    );
    assert!(
        om.header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text"))
    );
    let om = om.text();
    assert!(
        om.contains("# TYPE graygate_http_requests counter\n"),
        "{om}"
    );
    assert!(om.ends_with("# EOF\n"));
    let text = gw.metrics_text();
    for line in [
        r#"nginx_http_requests_total{host="shop.example.com",status="200"} 21"#,
        r#"nginx_http_request_duration_seconds_count{host="*.shop.example.com"} 5"#,
        r#"nginx_http_connections{state="writing"} 0"#,
    ] {
        assert!(text.contains(line), "missing {line}\n{text}");
    }
}

#[test]
fn access_log_lines_are_json_with_version_and_reason_and_survive_logrotate() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("access.log");
    let extra = format!("access_log: {{enabled: true, path: \"{}\"}}", log.display());
    let gw = Gateway::start_in(dir, &config(&stable, &gray, &extra));
    let mut c = Client::connect(gw.addr);
    c.send_raw(b"POST /echo?x=1 HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uid=1001; uuid=abc\r\nContent-Length: 5\r\nX-Request-Id: req-42\r\n\r\nhello");
    assert_eq!(c.read_reply(false).expect("reply").text(), "hello");
    c.send_raw(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\n\r\n");
    c.read_reply(false).expect("reply");
    let lines = wait_for_lines(&log, 2);
    let first: serde_json::Value = serde_json::from_str(&lines[0]).expect("JSON");
    assert_eq!(first["request_id"], "req-42");
    assert_eq!(first["method"], "POST");
    assert_eq!(first["host"], "shop.example.com");
    assert_eq!(first["path"], "/echo?x=1");
    assert_eq!(first["status"], 200);
    assert_eq!(first["bytes_in"], 5);
    assert_eq!(first["bytes_out"], 5);
    assert_eq!(first["site"], "shop");
    assert_eq!(first["version"], "gray");
    assert_eq!(first["reason"], "pin");
    assert_eq!(first["client"], "127.0.0.1");
    assert_eq!(first["upstream"], gray.addr.to_string());
    assert!(
        first["duration"]
            .as_f64()
            .is_some_and(|d| d > 0.0 && d < 5.0)
    );
    assert!(first["upstream_time"].as_f64().is_some());
    assert!(
        first["time"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z') && t.len() == 24)
    );
    let second: serde_json::Value = serde_json::from_str(&lines[1]).expect("JSON");
    assert_eq!(
        (second["version"].as_str(), second["reason"].as_str()),
        (Some("stable"), Some("default"))
    );
    assert_eq!(
        second["request_id"].as_str().map(str::len),
        Some(16),
        "a generated id"
    );

    // logrotate: move the file away, signal, and new lines go to a new file.
    let rotated = log.with_extension("log.1");
    std::fs::rename(&log, &rotated).expect("rename");
    kill("USR1", &gw);
    std::thread::sleep(std::time::Duration::from_millis(500));
    c.send_raw(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=abc\r\n\r\n");
    c.read_reply(false).expect("reply");
    assert_eq!(wait_for_lines(&log, 1).len(), 1);
    assert_eq!(
        std::fs::read_to_string(&rotated)
            .expect("rotated")
            .lines()
            .count(),
        2
    );
}

#[test]
fn a_stuck_access_log_drops_lines_and_never_delays_requests() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let dir = tempfile::tempdir().expect("dir");
    let fifo = dir.path().join("stuck.log");
    assert!(
        Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .expect("mkfifo")
            .success()
    );
    // A reader that opens the pipe and never reads: once the pipe is full, the writer blocks.
    let path = fifo.clone();
    let _reader = std::thread::spawn(move || {
        let _file = std::fs::File::open(path);
        std::thread::sleep(std::time::Duration::from_secs(60));
    });
    let extra = format!(
        "server: {{keepalive_requests: 100000}}\naccess_log: {{enabled: true, path: \"{}\", buffer_lines: 8}}",
        fifo.display()
    );
    let gw = Gateway::start_in(dir, &config(&stable, &gray, &extra));
    let mut c = Client::connect(gw.addr);
    let started = std::time::Instant::now();
    for i in 0..3000 {
        c.send_raw(
            format!("GET /{i} HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=abc\r\n\r\n")
                .as_bytes(),
        );
        assert_eq!(c.read_reply(false).expect("reply").status, 200);
    }
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let dropped = gw.metric("graygate_access_log_dropped_total");
    assert!(dropped > 1000, "dropped {dropped}");
}

#[test]
fn sighup_reloads_the_file_and_refuses_a_broken_one() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&config(&stable, &gray, ""));
    let path = gw.path().join("graygate.yaml");
    let ask = |gw: &Gateway| {
        let mut c = Client::connect(gw.addr);
        c.send_raw(b"GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=abc\r\n\r\n");
        c.read_reply(false).expect("reply").text()
    };
    assert_eq!(ask(&gw), "stable");
    // Everyone to gray: a percent rule at 100.
    let text = std::fs::read_to_string(&path).expect("read")
        + "        - percent: 100\n          version: gray\n";
    std::fs::write(&path, &text).expect("write");
    kill("HUP", &gw);
    wait_until(|| ask(&gw) == "gray");
    assert_eq!(gw.metric("graygate_config_revision"), 2);
    assert_eq!(
        gw.metric(r#"graygate_config_reloads_total{result="success"}"#),
        1
    );
    // A broken file is refused whole; the running configuration stays.
    std::fs::write(&path, text.replace("default: stable", "default: nope")).expect("write");
    kill("HUP", &gw);
    wait_until(|| gw.metric(r#"graygate_config_reloads_total{result="failure"}"#) == 1);
    assert_eq!(ask(&gw), "gray");
    assert_eq!(gw.metric("graygate_config_revision"), 2);
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

fn wait_until(mut done: impl FnMut() -> bool) {
    for _ in 0..100 {
        if done() {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("condition not reached within 2 s");
}

fn wait_for_lines(path: &std::path::Path, n: usize) -> Vec<String> {
    for _ in 0..100 {
        let lines: Vec<String> = std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        if lines.len() >= n {
            return lines;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    panic!("fewer than {n} lines in {}", path.display());
}
