//! Proxying to real origin servers: keepalive reuse, forwarded headers, streaming bodies,
//! new-device cookies, the fallback to the default version, and timeouts.

mod common;
use common::*;
use std::io::Write;

fn two_upstreams(stable: &Origin, gray: std::net::SocketAddr, extra: &str) -> String {
    format!(
        r#"sites:
  - name: shop
    hosts: ["*"]
    version_header: true
    release:
      default: stable
      versions:
        stable: {{upstream: {{servers: ["{}"]{extra}}}}}
        gray: {{upstream: {{servers: ["{gray}"]{extra}}}}}
      rules:
        - pin: {{uids: ["1001"]}}
          version: gray
        - name: gray-header
          header: {{name: X-Gray, equals: "1"}}
          version: gray
"#,
        stable.addr
    )
}

#[test]
fn upstream_connections_are_kept_alive_and_reused() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(&stable, gray.addr, ""));
    // 300 requests on one client connection, then 100 on 100 separate client connections.
    let mut client = Client::connect(gw.addr);
    for _ in 0..300 {
        let reply = client.get("/", &["Cookie: uuid=returning-device"]);
        assert_eq!(reply.text(), "stable");
    }
    for _ in 0..100 {
        assert_eq!(
            get(gw.addr, "/", &["Cookie: uuid=returning-device"]).text(),
            "stable"
        );
    }
    assert_eq!(stable.requests(), 400);
    // Two workers: at most one idle connection each is ever needed for sequential requests.
    assert!(
        stable.connections() <= 2,
        "{} origin connections for 400 requests",
        stable.connections()
    );
    assert_eq!(gray.requests(), 0);
}

#[test]
fn rules_choose_the_upstream_and_new_devices_get_a_cookie() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(&stable, gray.addr, ""));
    let new = get(gw.addr, "/", &[]);
    assert_eq!(new.text(), "stable");
    assert_eq!(new.header("x-origin"), Some("stable"));
    let cookie = new.header("set-cookie").expect("cookie for a new device");
    assert!(
        cookie.contains("; Path=/; Expires=") && cookie.contains("GMT"),
        "{cookie}"
    );
    let pinned = get(gw.addr, "/", &["Cookie: uid=1001; uuid=abc"]);
    assert_eq!(
        (pinned.text().as_str(), pinned.header("x-graygate-reason")),
        ("gray", Some("pin"))
    );
    assert!(pinned.header("set-cookie").is_none());
    let by_header = get(gw.addr, "/", &["Cookie: uuid=abc", "X-Gray: 1"]);
    assert_eq!(
        (
            by_header.text().as_str(),
            by_header.header("x-graygate-reason")
        ),
        ("gray", Some("rule:gray-header"))
    );
}

#[test]
fn forwarded_headers_and_hop_by_hop_fields() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(&stable, gray.addr, ""));
    let reply = get(
        gw.addr,
        "/headers?q=1",
        &[
            "Cookie: uuid=abc",
            "X-Forwarded-For: 198.51.100.7",
            "Connection: keep-alive, X-Private",
            "X-Private: secret",
            "Keep-Alive: timeout=9",
            "X-App: kept",
        ],
    );
    let seen = reply.text();
    assert!(seen.starts_with("GET /headers?q=1\n"), "{seen}");
    assert!(seen.contains("host: test.local\n"), "{seen}");
    assert!(
        seen.contains("x-forwarded-for: 198.51.100.7, 127.0.0.1\n"),
        "{seen}"
    );
    assert!(seen.contains("x-forwarded-proto: http\n"), "{seen}");
    assert!(seen.contains("x-real-ip: 127.0.0.1\n"), "{seen}");
    assert!(seen.contains("x-app: kept\n"), "{seen}");
    for gone in ["x-private", "keep-alive:"] {
        assert!(!seen.contains(gone), "{gone} reached the origin:\n{seen}");
    }
}

#[test]
fn bodies_stream_both_ways() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(&stable, gray.addr, ""));
    // Upload 8 MiB chunked, in pieces, and get it echoed back.
    let mut client = Client::connect(gw.addr);
    client.send_raw(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nCookie: uuid=abc\r\nTransfer-Encoding: chunked\r\n\r\n",
    );
    let piece = vec![b'y'; 64 * 1024];
    for _ in 0..128 {
        client.send_raw(format!("{:x}\r\n", piece.len()).as_bytes());
        client.send_raw(&piece);
        client.send_raw(b"\r\n");
    }
    client.send_raw(b"0\r\n\r\n");
    let echoed = client.read_reply(false).expect("reply");
    assert_eq!(echoed.status, 200);
    assert_eq!(echoed.body.len(), 8 << 20);
    // Download 16 MiB with Content-Length kept end to end.
    let big = get(gw.addr, "/big?n=16777216", &["Cookie: uuid=abc"]);
    assert_eq!(big.header("content-length"), Some("16777216"));
    assert_eq!(big.body.len(), 16 << 20);
}

#[test]
fn a_down_gray_upstream_falls_back_to_the_default_version() {
    let stable = Origin::start("stable");
    let gw = Gateway::start(&two_upstreams(&stable, closed_port(), ""));
    let fallbacks =
        r#"graygate_release_decisions_total{site="shop",version="stable",reason="fallback"}"#;
    let refused = r#"graygate_upstream_errors_total{upstream="shop/gray",kind="connect"}"#;
    assert_eq!(gw.metric(fallbacks), 0);
    for method in ["GET", "POST"] {
        let mut c = Client::connect(gw.addr);
        c.send_raw(format!("{method} / HTTP/1.1\r\nHost: a\r\nCookie: uid=1001; uuid=abc\r\nContent-Length: 2\r\n\r\nhi").as_bytes());
        let reply = c.read_reply(false).expect("reply");
        assert_eq!(reply.status, 200, "{method}");
        assert_eq!(reply.text(), "stable");
        assert_eq!(reply.header("x-graygate-version"), Some("stable"));
        assert_eq!(reply.header("x-graygate-reason"), Some("fallback"));
    }
    assert_eq!(gw.metric(fallbacks), 2);
    assert_eq!(gw.metric(refused), 2);
}

#[test]
fn a_down_default_upstream_is_a_bare_502() {
    let gw = Gateway::start(
        &two_upstreams(&Origin::start("unused"), closed_port(), "")
            .replace("default: stable", "default: gray"),
    );
    let reply = get(gw.addr, "/", &["Cookie: uuid=abc"]);
    assert_eq!(reply.status, 502);
    assert_eq!(reply.text(), "502 Bad Gateway\n");
}

#[test]
fn a_slow_upstream_times_out_with_504() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(
        &stable,
        gray.addr,
        ", response_timeout_ms: 300",
    ));
    let started = std::time::Instant::now();
    let reply = get(gw.addr, "/slow", &["Cookie: uuid=abc"]);
    assert_eq!(reply.status, 504);
    assert_eq!(reply.text(), "504 Gateway Timeout\n");
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
    // The next request on a fresh upstream connection is fine.
    assert_eq!(get(gw.addr, "/", &["Cookie: uuid=abc"]).text(), "stable");
}

#[test]
fn slow_clients_are_cut_off_at_the_header_timeout() {
    let stable = Origin::start("stable");
    let config =
        two_upstreams(&stable, closed_port(), "") + "server:\n  client_header_timeout_ms: 300\n";
    let gw = Gateway::start(&config);
    let mut c = Client::connect(gw.addr);
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\n");
    std::thread::sleep(std::time::Duration::from_millis(800));
    let _ = std::io::stdout().flush();
    // The connection is gone (a 408 or a plain close), and nothing reached the origin.
    match c.read_reply(false) {
        None => {}
        Some(reply) => assert_eq!(reply.status, 408),
    }
    assert_eq!(stable.requests(), 0);
}

#[test]
fn the_header_timeout_does_not_cut_idle_keepalive_connections() {
    // nginx semantics: client_header_timeout runs while a head is arriving (and from accept to
    // the first request); idle time between requests is keepalive_timeout's.
    let stable = Origin::start("stable");
    let config = two_upstreams(&stable, closed_port(), "")
        + "server:\n  client_header_timeout_ms: 300\n  keepalive_timeout_ms: 10000\n";
    let gw = Gateway::start(&config);
    let mut c = Client::connect(gw.addr);
    assert_eq!(c.get("/", &["Cookie: uuid=a"]).text(), "stable");
    std::thread::sleep(std::time::Duration::from_millis(800));
    assert_eq!(c.get("/", &["Cookie: uuid=a"]).text(), "stable");
    // A connection that never sends a request is closed after the header timeout.
    let mut silent = Client::connect(gw.addr);
    let started = std::time::Instant::now();
    assert!(silent.is_closed());
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[test]
fn keepalive_requests_limit_closes_the_connection() {
    let stable = Origin::start("stable");
    let config = two_upstreams(&stable, closed_port(), "") + "server:\n  keepalive_requests: 3\n";
    let gw = Gateway::start(&config);
    let mut c = Client::connect(gw.addr);
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=a\r\n\r\n");
    assert!(
        c.read_reply(false)
            .expect("1")
            .header("connection")
            .is_none()
    );
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=a\r\n\r\n");
    assert!(
        c.read_reply(false)
            .expect("2")
            .header("connection")
            .is_none()
    );
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=a\r\n\r\n");
    assert_eq!(
        c.read_reply(false).expect("3").header("connection"),
        Some("close")
    );
    assert!(c.is_closed());
}

#[test]
fn idle_client_connections_close_after_the_keepalive_timeout() {
    let stable = Origin::start("stable");
    let config =
        two_upstreams(&stable, closed_port(), "") + "server:\n  keepalive_timeout_ms: 300\n";
    let gw = Gateway::start(&config);
    let mut c = Client::connect(gw.addr);
    assert_eq!(c.get("/", &["Cookie: uuid=a"]).text(), "stable");
    let started = std::time::Instant::now();
    assert!(c.is_closed(), "an idle connection must be closed");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_millis(200)
            && waited < std::time::Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn idle_upstream_connections_expire_and_are_replaced() {
    let stable = Origin::start("stable");
    let gw = Gateway::start(&two_upstreams(
        &stable,
        closed_port(),
        ", keepalive: {idle_timeout_ms: 200}",
    ));
    let mut c = Client::connect(gw.addr);
    assert_eq!(c.get("/", &["Cookie: uuid=a"]).text(), "stable");
    assert_eq!(c.get("/", &["Cookie: uuid=a"]).text(), "stable");
    assert_eq!(stable.connections(), 1);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert_eq!(c.get("/", &["Cookie: uuid=a"]).text(), "stable");
    assert_eq!(
        stable.connections(),
        2,
        "the expired idle connection was reused"
    );
}

#[test]
fn curl_uploads_with_expect_continue() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(&stable, gray.addr, ""));
    let file = gw.path().join("upload.bin");
    std::fs::write(&file, vec![b'z'; 3 << 20]).expect("write");
    let out = std::process::Command::new("curl")
        .args([
            "-sS",
            "--max-time",
            "20",
            "-H",
            "Expect: 100-continue",
            "-b",
            "uuid=a",
            "--data-binary",
        ])
        .arg(format!("@{}", file.display()))
        .arg(format!("http://{}/echo", gw.addr))
        .output()
        .expect("curl is installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), 3 << 20);
}

#[test]
fn the_host_routed_by_is_the_host_sent_upstream() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&two_upstreams(&stable, gray.addr, ""));
    // Absolute form: the target's host wins over the Host field (RFC 9112 §3.2.2).
    let reply = raw(gw.addr, b"GET http://public.example/headers HTTP/1.1\r\nHost: internal.example\r\nCookie: uuid=x\r\n\r\n").expect("reply");
    assert!(
        reply.text().contains("host: public.example\n"),
        "{}",
        reply.text()
    );
    assert!(!reply.text().contains("internal.example"));
}

#[test]
fn a_client_that_stops_reading_is_cut_off_at_the_send_timeout() {
    let stable = Origin::start("stable");
    let config = two_upstreams(&stable, closed_port(), "") + "server:\n  send_timeout_ms: 300\n";
    let gw = Gateway::start(&config);
    let stream = std::net::TcpStream::connect(gw.addr).expect("connect");
    let mut writer = stream.try_clone().expect("clone");
    writer
        .write_all(b"GET /big?n=67108864 HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n")
        .expect("send");
    // Read nothing for a while: the socket buffers fill and graygate's writes block.
    std::thread::sleep(std::time::Duration::from_millis(2000));
    let mut reader = std::io::BufReader::new(stream);
    reader
        .get_ref()
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .expect("timeout");
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match std::io::Read::read(&mut reader, &mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("the connection was not closed: {e} after {total} bytes"),
        }
    }
    assert!(
        total < 64 << 20,
        "the whole response was sent ({total} bytes)"
    );
}

#[test]
fn workers_can_share_one_socket_and_be_pinned_to_cpus() {
    let stable = Origin::start("stable");
    let config = format!(
        "pin_workers: true\nserver: {{reuseport: false}}\n{}",
        two_upstreams(&stable, closed_port(), "")
    );
    let gw = Gateway::start(&config);
    for _ in 0..20 {
        assert_eq!(get(gw.addr, "/", &["Cookie: uuid=a"]).text(), "stable");
    }
    // Each worker thread may run on exactly one CPU, and they are different CPUs when the
    // machine has several.
    let mut cpus = Vec::new();
    for task in std::fs::read_dir(format!("/proc/{}/task", gw.pid())).unwrap() {
        let task = task.unwrap().path();
        let comm = std::fs::read_to_string(task.join("comm")).unwrap_or_default();
        if !comm.starts_with("graygate-worke") {
            continue;
        }
        let status = std::fs::read_to_string(task.join("status")).unwrap();
        let allowed = status
            .lines()
            .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
            .unwrap()
            .trim()
            .to_string();
        assert!(
            allowed.parse::<usize>().is_ok(),
            "a worker may run on {allowed}"
        );
        cpus.push(allowed);
    }
    assert_eq!(cpus.len(), 2, "two workers");
    let available = std::thread::available_parallelism().map_or(1, |n| n.get());
    if available > 1 {
        assert_ne!(cpus[0], cpus[1]);
    }
}
