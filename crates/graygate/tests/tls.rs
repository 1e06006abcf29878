//! HTTPS against real clients: openssl s_client sees the certificate chosen by SNI (three
//! tenants, a wildcard, no SNI), curl negotiates h2 and HTTP/1.1, h2load runs many streams;
//! certificates are replaced under a continuous handshake loop through the admin API and through
//! the watched directory; bad certificates are refused by name while the old one keeps serving;
//! no private key lands on disk in clear. Certificates are made at test time (rcgen).

mod common;
use common::*;
use serde_json::{Value, json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "tls-test-token";
const SEALING_KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

/// A self-signed certificate for `names`, valid from `from` to `to` (days from today), with a
/// serial.
fn cert(names: &[&str], serial: u64, from: i64, to: i64) -> (String, String) {
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .expect("params");
    params.serial_number = Some(rcgen::SerialNumber::from(serial));
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, names[0]);
    let (y, m, d) = day(from);
    params.not_before = rcgen::date_time_ymd(y, m, d);
    let (y, m, d) = day(to);
    params.not_after = rcgen::date_time_ymd(y, m, d);
    let cert = params.self_signed(&key).expect("self-signed");
    (cert.pem(), key.serialize_pem())
}

/// The date (year, month, day) `offset` days from today, UTC.
fn day(offset: i64) -> (i32, u8, u8) {
    let z = now().div_euclid(86_400) + offset + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

fn valid(names: &[&str], serial: u64) -> (String, String) {
    cert(names, serial, -1, 30)
}

fn write_pair(dir: &Path, name: &str, (crt, key): &(String, String)) {
    // Key first, certificate last (renamed into place): the watcher sees a consistent pair.
    std::fs::write(dir.join(format!("{name}.key.tmp")), key).expect("key");
    std::fs::rename(
        dir.join(format!("{name}.key.tmp")),
        dir.join(format!("{name}.key")),
    )
    .expect("rename");
    std::fs::write(dir.join(format!("{name}.crt.tmp")), crt).expect("crt");
    std::fs::rename(
        dir.join(format!("{name}.crt.tmp")),
        dir.join(format!("{name}.crt")),
    )
    .expect("rename");
}

struct Tls {
    gw: Gateway,
    https: std::net::SocketAddr,
    certs_dir: std::path::PathBuf,
    state: std::path::PathBuf,
}

fn start(extra_site: &str) -> Tls {
    let dir = tempfile::tempdir().expect("dir");
    let root = dir.path();
    std::fs::create_dir_all(root.join("www")).expect("www");
    std::fs::write(root.join("www/index.html"), "hello over tls").expect("page");
    let certs_dir = root.join("watched");
    std::fs::create_dir_all(&certs_dir).expect("watched");
    for (name, host, serial) in [
        ("a", "a.test", 1),
        ("b", "b.test", 2),
        ("c", "c.test", 3),
        ("fallback", "default.test", 4),
    ] {
        let (crt, key) = valid(&[host], serial);
        std::fs::write(root.join(format!("{name}.crt")), crt).expect("crt");
        std::fs::write(root.join(format!("{name}.key")), key).expect("key");
    }
    write_pair(&certs_dir, "wild", &valid(&["*.w.test"], 5));
    let config = format!(
        r#"tls:
  listen: ["127.0.0.1:0"]
  default_certificate: fallback
  directory: watched
  certificates:
    - {{name: fallback, cert: fallback.crt, key: fallback.key}}
    - {{name: a, cert: a.crt, key: a.key}}
    - {{name: b, cert: b.crt, key: b.key}}
    - {{name: c, cert: c.crt, key: c.key}}
sites:
  - name: s
    hosts: ["*"]
    version_header: true
    release:
      default: "1.0.0"
      versions:
        "1.0.0": {{root: www}}
        "1.1.0": {{root: www}}
      rules:
        - pin: {{uids: ["1001"]}}
          version: "1.1.0"
{extra_site}"#
    );
    std::fs::write(root.join("graygate.yaml"), config).expect("config");
    let state = root.join("state");
    let env = [
        ("GRAYGATE_ADMIN_TOKEN", TOKEN),
        ("GRAYGATE_SEALING_KEY", SEALING_KEY),
    ];
    let config_path = root.join("graygate.yaml");
    let gw = Gateway::launch(dir, Some(&config_path), Some(&state), &env);
    let https = gw.tls.expect("https listener");
    Tls {
        gw,
        https,
        certs_dir,
        state,
    }
}

/// The subject CN and serial the server presents for `sni` (None: no SNI at all).
fn presented(addr: std::net::SocketAddr, sni: Option<&str>) -> Option<(String, String)> {
    let mut cmd = Command::new("openssl");
    cmd.args(["s_client", "-connect", &addr.to_string()]);
    match sni {
        Some(name) => cmd.args(["-servername", name]),
        None => cmd.arg("-noservername"),
    };
    let out = cmd
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .expect("openssl is installed");
    let pem = String::from_utf8_lossy(&out.stdout).to_string();
    let mut x509 = Command::new("openssl")
        .args(["x509", "-noout", "-subject", "-serial"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("openssl");
    use std::io::Write;
    x509.stdin
        .take()
        .expect("stdin")
        .write_all(pem.as_bytes())
        .expect("write");
    let text = String::from_utf8_lossy(&x509.wait_with_output().expect("x509").stdout).to_string();
    let subject = text.lines().find_map(|l| {
        l.strip_prefix("subject=CN = ")
            .or_else(|| l.strip_prefix("subject=CN="))
    })?;
    let serial = text.lines().find_map(|l| l.strip_prefix("serial="))?;
    Some((
        subject.trim().to_string(),
        serial.trim().trim_start_matches('0').to_string(),
    ))
}

fn api(t: &Tls, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    t.gw.api(TOKEN, method, path, body)
}

#[test]
fn sni_picks_the_tenant_wildcard_or_default_certificate() {
    let t = start("");
    for (sni, cn) in [
        ("a.test", "a.test"),
        ("b.test", "b.test"),
        ("C.TEST", "c.test"),
        ("x.w.test", "*.w.test"),
        ("unknown.test", "default.test"),
    ] {
        let (subject, _) =
            presented(t.https, Some(sni)).unwrap_or_else(|| panic!("no certificate for {sni}"));
        assert_eq!(subject, cn, "SNI {sni}");
    }
    assert_eq!(
        presented(t.https, None).map(|p| p.0).as_deref(),
        Some("default.test"),
        "no SNI"
    );
    // Only TLS 1.2 and 1.3.
    let old = Command::new("openssl")
        .args(["s_client", "-connect", &t.https.to_string(), "-tls1_1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(!old.success(), "TLS 1.1 must be refused");
}

#[test]
fn curl_gets_h2_and_http11_through_the_same_pipeline() {
    let t = start("");
    let url = format!("https://a.test:{}/", t.https.port());
    let resolve = format!("a.test:{}:127.0.0.1", t.https.port());
    for (flag, version) in [("--http2", "2"), ("--http1.1", "1.1")] {
        let out = Command::new("curl")
            .args([
                "-sS",
                "-k",
                flag,
                "--resolve",
                &resolve,
                "-D",
                "-",
                "-b",
                "uid=1001; uuid=tls-device",
                "-w",
                "\n%{http_version}",
                &url,
            ])
            .output()
            .expect("curl");
        let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
        assert!(text.contains("x-graygate-version: 1.1.0"), "{text}");
        assert!(text.contains("x-graygate-reason: pin"), "{text}");
        assert!(text.contains("hello over tls"));
        assert!(text.trim_end().ends_with(version), "{flag}: {text}");
    }
    let metrics = t.gw.metrics_text();
    assert!(
        metrics.contains("graygate_http_protocol_requests_total{protocol=\"h2\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("graygate_http_protocol_requests_total{protocol=\"h1-tls\"} 1"));
    assert!(metrics.contains("graygate_tls_handshakes_total 2"));
    let expiry: f64 = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix("graygate_tls_certificate_expiry_seconds{name=\"a\",source=\"config\"} ")
        })
        .and_then(|v| v.parse().ok())
        .expect("expiry of a");
    assert!(
        expiry > 29.0 * 86400.0 && expiry <= 31.0 * 86400.0,
        "{expiry}"
    );
    // A client that speaks no TLS is a protocol failure, counted.
    let mut c = Client::connect(t.https);
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a.test\r\n\r\n");
    let _ = c.read_reply(false);
    std::thread::sleep(Duration::from_millis(200));
    assert!(t.gw.metric(r#"graygate_tls_handshake_failures_total{reason="protocol"}"#) >= 1);
}

#[test]
fn h2load_many_streams_without_errors() {
    let t = start("");
    let out = Command::new("h2load")
        .args([
            "-n",
            "4000",
            "-c",
            "8",
            "-m",
            "16",
            &format!("https://127.0.0.1:{}/", t.https.port()),
        ])
        .output()
        .expect("h2load is installed (scripts/test.sh installs Debian's nghttp2-client)");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("4000 succeeded, 0 failed, 0 errored"),
        "{text}"
    );
    assert!(text.contains("status codes: 4000 2xx"), "{text}");
}

/// Handshakes continuously (openssl s_client) until stopped, counting attempts and failures.
struct HandshakeLoop {
    attempts: std::sync::Arc<std::sync::atomic::AtomicU32>,
    failures: std::sync::Arc<std::sync::atomic::AtomicU32>,
    thread: std::thread::JoinHandle<()>,
}

fn handshake_loop(
    addr: std::net::SocketAddr,
    sni: &'static str,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> HandshakeLoop {
    use std::sync::atomic::Ordering::Relaxed;
    let attempts = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let failures = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let (a, f) = (attempts.clone(), failures.clone());
    let thread = std::thread::spawn(move || {
        while !stop.load(Relaxed) {
            a.fetch_add(1, Relaxed);
            if presented(addr, Some(sni)).is_none() {
                f.fetch_add(1, Relaxed);
            }
        }
    });
    HandshakeLoop {
        attempts,
        failures,
        thread,
    }
}

fn wait_for_serial(addr: std::net::SocketAddr, sni: &str, serial: &str) -> Duration {
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(5) {
        if presented(addr, Some(sni)).is_some_and(|(_, s)| s.eq_ignore_ascii_case(serial)) {
            return started.elapsed();
        }
    }
    panic!("serial {serial} never served for {sni}");
}

#[test]
fn hot_swap_under_handshakes_through_the_api_and_the_directory() {
    let t = start("");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops = [
        handshake_loop(t.https, "a.test", stop.clone()),
        handshake_loop(t.https, "x.w.test", stop.clone()),
    ];
    std::thread::sleep(Duration::from_millis(300));

    // Through the admin API: a new certificate for a.test (serial 0x77).
    let (crt, key) = valid(&["a.test"], 0x77);
    let (status, body) = api(
        &t,
        "PUT",
        "/certificates/a-rotated",
        Some(json!({"cert_pem": crt, "key_pem": key})),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["dns_names"], json!(["a.test"]));
    assert!(wait_for_serial(t.https, "a.test", "77") < Duration::from_secs(1));

    // Through the watched directory: a new wildcard certificate (serial 0x88).
    write_pair(&t.certs_dir, "wild", &valid(&["*.w.test"], 0x88));
    assert!(
        wait_for_serial(t.https, "x.w.test", "88") < Duration::from_millis(1500),
        "within a second of the poll"
    );

    // Keep handshaking after the swaps until each loop has made a fair number, however slow
    // the machine (each attempt starts two openssl processes).
    let deadline = Instant::now() + Duration::from_secs(60);
    while loops
        .iter()
        .any(|l| l.attempts.load(std::sync::atomic::Ordering::Relaxed) < 20)
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for l in loops {
        l.thread.join().expect("loop");
        let (attempts, failures) = (
            l.attempts.load(std::sync::atomic::Ordering::Relaxed),
            l.failures.load(std::sync::atomic::Ordering::Relaxed),
        );
        assert!(attempts >= 20, "only {attempts} handshakes in a minute");
        assert_eq!(failures, 0, "{failures} of {attempts} handshakes failed");
    }
    let (_, list) = api(&t, "GET", "/certificates", None);
    let names: Vec<&str> = list
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert!(
        names.contains(&"a-rotated") && names.contains(&"wild") && names.contains(&"fallback"),
        "{names:?}"
    );
    let rotated = list
        .as_array()
        .expect("list")
        .iter()
        .find(|c| c["name"] == "a-rotated")
        .expect("a-rotated");
    assert_eq!(rotated["source"], "api");
    assert_eq!(
        rotated["fingerprint_sha256"].as_str().map(str::len),
        Some(64)
    );
    // Removing the API certificate brings back the configured one.
    assert_eq!(api(&t, "DELETE", "/certificates/a-rotated", None).0, 200);
    assert!(wait_for_serial(t.https, "a.test", "1") < Duration::from_secs(1));
}

#[test]
fn bad_certificates_are_refused_by_name_and_the_old_one_keeps_serving() {
    let t = start("");
    let (good_crt, _) = valid(&["a.test"], 0x99);
    let (_, other_key) = valid(&["a.test"], 0x98);
    let cases = [
        (
            "mismatch",
            good_crt.clone(),
            other_key,
            "the private key does not belong to the certificate",
        ),
        (
            "garbage",
            "not a pem".to_string(),
            "nor this".to_string(),
            "no CERTIFICATE block",
        ),
        ("expired", String::new(), String::new(), ""),
        ("future", String::new(), String::new(), ""),
    ];
    for (name, crt, key, want) in cases {
        // The expired and future certificates come with their own (matching) keys.
        let (crt, key, want) = match name {
            "expired" => {
                let (c, k) = cert(&["a.test"], 0x97, -10, -1);
                (c, k, "expired on")
            }
            "future" => {
                let (c, k) = cert(&["a.test"], 0x96, 1, 10);
                (c, k, "not valid yet")
            }
            _ => (crt, key, want),
        };
        let (status, body) = api(
            &t,
            "PUT",
            &format!("/certificates/{name}"),
            Some(json!({"cert_pem": crt, "key_pem": key})),
        );
        assert_eq!(status, 422, "{name}: {body}");
        let message = body["error"]["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        assert!(
            message.contains(&format!("certificate {name:?}")) && message.contains(want),
            "{name}: {message}"
        );
    }
    // An unsupported key type (ECDSA P-521; openssl makes it).
    let dir = tempfile::tempdir().expect("dir");
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:secp521r1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=a.test",
        ])
        .arg("-keyout")
        .arg(dir.path().join("k.pem"))
        .arg("-out")
        .arg(dir.path().join("c.pem"))
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let crt = std::fs::read_to_string(dir.path().join("c.pem")).expect("c");
    let key = std::fs::read_to_string(dir.path().join("k.pem")).expect("k");
    let (status, body) = api(
        &t,
        "PUT",
        "/certificates/p521",
        Some(json!({"cert_pem": crt, "key_pem": key})),
    );
    assert_eq!(status, 422);
    assert!(
        body["error"]["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("unsupported private key type")),
        "{body}"
    );
    // A bad file in the watched directory: refused, the old wildcard keeps serving.
    std::fs::write(
        t.certs_dir.join("wild.key"),
        "-----BEGIN PRIVATE KEY-----\nbroken\n-----END PRIVATE KEY-----\n",
    )
    .expect("key");
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(
        presented(t.https, Some("y.w.test")).map(|p| p.1).as_deref(),
        Some("5")
    );
    assert_eq!(
        presented(t.https, Some("a.test")).map(|p| p.1).as_deref(),
        Some("1")
    );
}

#[test]
fn no_private_key_in_clear_on_disk_and_keys_need_a_sealing_key() {
    let t = start("");
    let (crt, key) = valid(&["sealed.test"], 0x55);
    assert_eq!(
        api(
            &t,
            "PUT",
            "/certificates/sealed",
            Some(json!({"cert_pem": crt, "key_pem": key}))
        )
        .0,
        200
    );
    let mut files = 0;
    for entry in walk(&t.state) {
        let text = std::fs::read(&entry).unwrap_or_default();
        assert!(
            !String::from_utf8_lossy(&text).contains("PRIVATE KEY"),
            "{} holds a PEM private key",
            entry.display()
        );
        files += 1;
    }
    assert!(files >= 3);
    // The uploaded certificate serves at once.
    assert_eq!(
        presented(t.https, Some("sealed.test"))
            .map(|p| p.1)
            .as_deref(),
        Some("55")
    );

    // Without a sealing key, uploads are refused with instructions.
    let dir = tempfile::tempdir().expect("dir");
    std::fs::create_dir_all(dir.path().join("www")).expect("www");
    let (c, k) = valid(&["x.test"], 1);
    std::fs::write(dir.path().join("x.crt"), &c).expect("crt");
    std::fs::write(dir.path().join("x.key"), &k).expect("key");
    std::fs::write(
        dir.path().join("g.yaml"),
        "tls:\n  listen: [\"127.0.0.1:0\"]\n  certificates: [{name: x, cert: x.crt, key: x.key}]\nsites:\n  - name: s\n    hosts: [\"*\"]\n    release: {default: v, versions: {v: {root: www}}}\n",
    )
    .expect("config");
    let path = dir.path().join("g.yaml");
    let gw = Gateway::launch(dir, Some(&path), None, &[("GRAYGATE_ADMIN_TOKEN", TOKEN)]);
    let t2 = Tls {
        https: gw.tls.expect("tls"),
        gw,
        certs_dir: std::path::PathBuf::new(),
        state: std::path::PathBuf::new(),
    };
    let (status, body) = api(
        &t2,
        "PUT",
        "/certificates/x2",
        Some(json!({"cert_pem": c, "key_pem": k})),
    );
    assert_eq!(status, 412);
    assert!(
        body["error"]["message"].as_str().is_some_and(
            |m| m.contains("GRAYGATE_SEALING_KEY") && m.contains("openssl rand -hex 32")
        ),
        "{body}"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path))
        } else {
            out.push(path)
        }
    }
    out
}

#[test]
fn plain_http_is_redirected_to_https_when_the_site_asks() {
    let t = start("    https_redirect: true\n");
    let mut c = Client::connect(t.gw.addr);
    c.send_raw(b"GET /cart?id=7 HTTP/1.1\r\nHost: shop.test:8080\r\n\r\n");
    let reply = c.read_reply(false).expect("reply");
    assert_eq!(reply.status, 301);
    assert_eq!(
        reply.header("location"),
        Some(format!("https://shop.test:{}/cart?id=7", t.https.port()).as_str())
    );
    c.send_raw(b"POST /form HTTP/1.1\r\nHost: shop.test\r\nContent-Length: 3\r\n\r\nx=1");
    let post = c.read_reply(false).expect("reply");
    assert_eq!(
        (post.status, post.header("location")),
        (
            308,
            Some(format!("https://shop.test:{}/form", t.https.port()).as_str())
        )
    );
}

#[test]
fn h2_requests_reach_an_http11_upstream_with_the_routed_host_and_https_proto() {
    let origin = Origin::start("api-origin");
    let t = start(&format!(
        r#"  - name: api
    hosts: ["api.test"]
    release:
      default: stable
      versions:
        stable: {{upstream: {{servers: ["{}"]}}}}
"#,
        origin.addr
    ));
    let authority = format!("api.test:{}", t.https.port());
    let url = format!("https://{authority}/headers?q=1");
    let resolve = format!("{authority}:127.0.0.1");
    let out = Command::new("curl")
        .args([
            "-sS",
            "-k",
            "--http2",
            "--resolve",
            &resolve,
            "-b",
            "uuid=h2-device; a=1",
        ])
        .args(["-w", "\n%{http_version}", &url])
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    // The origin saw an origin-form HTTP/1.1 request for the host the site was routed by.
    assert!(text.starts_with("get /headers?q=1\n"), "{text}");
    assert!(text.contains(&format!("host: {authority}\n")), "{text}");
    assert!(text.contains("x-forwarded-proto: https\n"), "{text}");
    assert!(text.contains("cookie: uuid=h2-device; a=1\n"), "{text}");
    assert!(text.trim_end().ends_with("\n2"), "{text}");
    assert_eq!(origin.requests(), 1);
}
