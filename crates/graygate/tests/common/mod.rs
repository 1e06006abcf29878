//! Test harness: the real graygate binary on a free port, real origin servers on real sockets,
//! and a small HTTP/1.1 client over raw TCP (so tests control every byte sent).

#![allow(dead_code)]

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A running graygate process, killed on drop.
pub struct Gateway {
    child: Child,
    pub addr: SocketAddr,
    /// The metrics endpoint, when the config has one.
    pub metrics: Option<SocketAddr>,
    /// The admin listener, when enabled.
    pub admin: Option<SocketAddr>,
    /// The first HTTPS listener, when TLS is configured.
    pub tls: Option<SocketAddr>,
    /// The StatsD listeners, when the `statsd` section is on.
    pub statsd_udp: Option<SocketAddr>,
    pub statsd_tcp: Option<SocketAddr>,
    pub dir: tempfile::TempDir,
}

impl Gateway {
    /// Writes `config` (YAML) to a temp dir and starts `graygate run` on a free port.
    pub fn start(config: &str) -> Gateway {
        let dir = tempfile::tempdir().expect("temp dir");
        Gateway::start_in(dir, config)
    }

    /// Like [`Gateway::start`], in a directory the test prepared (static roots, pin files).
    pub fn start_in(dir: tempfile::TempDir, config: &str) -> Gateway {
        let path = dir.path().join("graygate.yaml");
        std::fs::write(&path, config).expect("write config");
        Gateway::launch(dir, Some(&path), None, &[])
    }

    /// `graygate run` with no config: the embedded demo.
    pub fn demo() -> Gateway {
        Gateway::launch(tempfile::tempdir().expect("temp dir"), None, None, &[])
    }

    /// `graygate run` with two workers and every listener on a free loopback port; `config`
    /// `None` serves the demo; `state` is the admin state directory.
    pub fn launch(
        dir: tempfile::TempDir,
        config: Option<&Path>,
        state: Option<&Path>,
        env: &[(&str, &str)],
    ) -> Gateway {
        let mut args: Vec<String> = [
            "run",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--admin-listen",
            "127.0.0.1:0",
            "--workers",
            "2",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        for (flag, path) in [("--config", config), ("--state-dir", state)] {
            if let Some(path) = path {
                args.push(flag.to_string());
                args.push(path.to_str().expect("utf-8 path").to_string());
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        Gateway::spawn_with(&args, dir, env)
    }

    fn spawn(args: &[&str], dir: tempfile::TempDir) -> Gateway {
        Gateway::spawn_with(args, dir, &[])
    }

    /// Starts `graygate` with these arguments and environment variables.
    pub fn spawn_with(args: &[&str], dir: tempfile::TempDir, env: &[(&str, &str)]) -> Gateway {
        let mut child = Command::new(env!("CARGO_BIN_EXE_graygate"))
            .args(args)
            .envs(env.iter().copied())
            .env("GRAYGATE_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start graygate");
        let stdout = child.stdout.take().expect("stdout");
        let mut lines = BufReader::new(stdout).lines();
        let mut metrics = None;
        let mut admin = None;
        let mut tls = None;
        let (mut statsd_udp, mut statsd_tcp) = (None, None);
        let addr = loop {
            match lines.next() {
                Some(Ok(line)) => {
                    if let Some(addr) = line.strip_prefix("listening on https://") {
                        tls = tls.or(Some(addr.parse().expect("https address")));
                    }
                    if let Some(addr) = line.strip_prefix("statsd on udp://") {
                        statsd_udp = Some(addr.parse().expect("statsd UDP address"));
                    }
                    if let Some(addr) = line.strip_prefix("statsd on tcp://") {
                        statsd_tcp = Some(addr.parse().expect("statsd TCP address"));
                    }
                    if let Some(addr) = line.strip_prefix("listening on http://") {
                        break addr.parse().expect("address");
                    }
                    if let Some(addr) = line
                        .strip_prefix("metrics on http://")
                        .and_then(|l| l.strip_suffix("/metrics"))
                    {
                        metrics = Some(addr.parse().expect("metrics address"));
                    }
                    if let Some(addr) = line
                        .strip_prefix("admin on http://")
                        .and_then(|l| l.strip_suffix('/'))
                    {
                        admin = Some(addr.parse().expect("admin address"));
                    }
                }
                _ => panic!("graygate exited before listening"),
            }
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        Gateway {
            child,
            addr,
            metrics,
            admin,
            tls,
            statsd_udp,
            statsd_tcp,
            dir,
        }
    }

    /// An admin API call with `token` and the CSRF header: the status and the JSON body (or the
    /// text, as a JSON string, when the body is not JSON).
    pub fn api(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (u16, serde_json::Value) {
        let auth = format!("Authorization: Bearer {token}");
        let mut headers = vec![auth.as_str(), "X-Graygate-Request: 1"];
        let text = body.map(|b| b.to_string()).unwrap_or_default();
        if !text.is_empty() {
            headers.push("Content-Type: application/json");
        }
        let reply = request(
            self.admin.expect("admin listener"),
            method,
            &format!("/api/v1{path}"),
            &headers,
            &text,
        );
        let value = serde_json::from_slice(&reply.body)
            .unwrap_or_else(|_| serde_json::Value::String(reply.text()));
        (reply.status, value)
    }

    /// The value of a series on the metrics endpoint, named with its labels as rendered
    /// (`name{a="x",b="y"}`); 0 when the series is not there yet.
    pub fn metric(&self, name: &str) -> u64 {
        self.metrics_text()
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map_or(0, |v| v as u64)
    }

    /// The whole exposition.
    pub fn metrics_text(&self) -> String {
        get(self.metrics.expect("metrics endpoint"), "/metrics", &[]).text()
    }

    /// The value of an unlabelled counter on the metrics endpoint; panics when absent.
    pub fn counter(&self, name: &str) -> u64 {
        let text = get(self.metrics.expect("metrics configured"), "/metrics", &[]).text();
        text.lines()
            .find_map(|l| l.strip_prefix(name).and_then(|v| v.strip_prefix(' ')))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or_else(|| panic!("{name} not in:\n{text}"))
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().expect("wait")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `graygate check --config FILE`.
pub fn check(config: &str) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("graygate.yaml");
    std::fs::write(&path, config).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_graygate"))
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("run check");
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    (
        out.status.success(),
        text.replace(path.to_str().unwrap_or(""), "graygate.yaml"),
    )
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// A client connection that can send several requests (keepalive).
pub struct Client {
    addr: SocketAddr,
    reader: BufReader<TcpStream>,
}

impl Client {
    pub fn connect(addr: SocketAddr) -> Client {
        let stream = TcpStream::connect(addr).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        Client {
            addr,
            reader: BufReader::new(stream),
        }
    }

    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.reader.get_mut().write_all(bytes).expect("write");
    }

    /// GET with extra header lines, e.g. `&["Cookie: uid=1"]`.
    pub fn get(&mut self, path: &str, headers: &[&str]) -> Reply {
        let mut req = format!("GET {path} HTTP/1.1\r\nHost: test.local\r\n");
        for h in headers {
            req.push_str(h);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        self.send_raw(req.as_bytes());
        let reply = self.read_reply(false).expect("a response");
        // The server ends a connection after `keepalive_requests`; carry on with a new one.
        if reply
            .header("connection")
            .is_some_and(|c| c.eq_ignore_ascii_case("close"))
        {
            *self = Client::connect(self.addr);
        }
        reply
    }

    /// Reads one response; `head_only` for responses to HEAD. `None` when the server closed.
    pub fn read_reply(&mut self, head_only: bool) -> Option<Reply> {
        let mut line = String::new();
        if self.reader.read_line(&mut line).ok()? == 0 {
            return None;
        }
        let status = line.split_whitespace().nth(1)?.parse().ok()?;
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            self.reader.read_line(&mut h).ok()?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':')?;
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mut reply = Reply {
            status,
            headers,
            body: Vec::new(),
        };
        if head_only || status == 304 || status == 204 {
            return Some(reply);
        }
        if reply
            .header("transfer-encoding")
            .is_some_and(|v| v.contains("chunked"))
        {
            loop {
                let mut size = String::new();
                self.reader.read_line(&mut size).ok()?;
                let n = usize::from_str_radix(size.trim().split(';').next()?, 16).ok()?;
                let mut chunk = vec![0; n + 2];
                self.reader.read_exact(&mut chunk).ok()?;
                if n == 0 {
                    break;
                }
                reply.body.extend_from_slice(&chunk[..n]);
            }
        } else if let Some(len) = reply.header("content-length") {
            let mut body = vec![0; len.parse().ok()?];
            self.reader.read_exact(&mut body).ok()?;
            reply.body = body;
        } else {
            self.reader.read_to_end(&mut reply.body).ok()?;
        }
        Some(reply)
    }

    /// True when the server has closed the connection (reads EOF).
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0))
    }
}

/// A request with a method, header lines and a body, on a fresh connection.
pub fn request(addr: SocketAddr, method: &str, path: &str, headers: &[&str], body: &str) -> Reply {
    let mut req = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut c = Client::connect(addr);
    c.send_raw(req.as_bytes());
    c.read_reply(method == "HEAD").expect("a response")
}

/// One request on a fresh connection.
pub fn get(addr: SocketAddr, path: &str, headers: &[&str]) -> Reply {
    Client::connect(addr).get(path, headers)
}

/// Raw bytes on a fresh connection; the response, if any.
pub fn raw(addr: SocketAddr, bytes: &[u8]) -> Option<Reply> {
    let mut c = Client::connect(addr);
    c.send_raw(bytes);
    c.read_reply(false)
}

/// A real HTTP/1.1 origin server on 127.0.0.1:0 (its own thread and runtime) that counts
/// connections and requests. Paths: `/` answers its name; `/headers` echoes request headers as
/// `name: value` lines; `/echo` answers the request body; `/slow` waits 3 s; `/big?n=BYTES`
/// streams that many bytes.
pub struct Origin {
    pub addr: SocketAddr,
    pub connections: Arc<AtomicU64>,
    pub requests: Arc<AtomicU64>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Origin {
    pub fn start(name: &'static str) -> Origin {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind origin");
        listener.set_nonblocking(true).expect("nonblocking");
        let addr = listener.local_addr().expect("addr");
        let connections = Arc::new(AtomicU64::new(0));
        let requests = Arc::new(AtomicU64::new(0));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (c, r) = (connections.clone(), requests.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::from_std(listener).expect("listener");
                let accept = async {
                    loop {
                        let Ok((stream, _)) = listener.accept().await else {
                            continue;
                        };
                        c.fetch_add(1, Ordering::SeqCst);
                        let r = r.clone();
                        tokio::spawn(async move {
                            let service = hyper::service::service_fn(move |req| {
                                r.fetch_add(1, Ordering::SeqCst);
                                origin_answer(name, req)
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                                .await;
                        });
                    }
                };
                tokio::select! { _ = accept => {}, _ = stopped => {} }
            });
        });
        Origin {
            addr,
            connections,
            requests,
            _stop: stop,
        }
    }

    pub fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }

    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::SeqCst)
    }
}

async fn origin_answer(
    name: &'static str,
    req: hyper::Request<hyper::body::Incoming>,
) -> Result<hyper::Response<http_body_util::combinators::BoxBody<Bytes, hyper::Error>>, hyper::Error>
{
    let full = |b: Bytes| Full::new(b).map_err(|never| match never {}).boxed();
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    let body = match path.as_str() {
        "/headers" => {
            let mut text = format!("{} {}\n", req.method(), req.uri());
            for (k, v) in req.headers() {
                text.push_str(&format!(
                    "{}: {}\n",
                    k,
                    String::from_utf8_lossy(v.as_bytes())
                ));
            }
            full(Bytes::from(text))
        }
        "/echo" => {
            let collected = req.into_body().collect().await?.to_bytes();
            full(collected)
        }
        "/slow" => {
            tokio::time::sleep(Duration::from_secs(3)).await;
            full(Bytes::from_static(b"slow"))
        }
        "/big" => {
            let n: usize = query
                .strip_prefix("n=")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1 << 20);
            full(Bytes::from(vec![b'x'; n]))
        }
        _ => full(Bytes::from(name)),
    };
    Ok(hyper::Response::builder()
        .header("x-origin", name)
        .body(body)
        .expect("response"))
}

/// A free TCP port on loopback with nothing listening (connections are refused).
pub fn closed_port() -> SocketAddr {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = l.local_addr().expect("addr");
    drop(l);
    addr
}

/// Writes files (relative path -> content) under `dir`.
pub fn write_tree(dir: &Path, files: &[(&str, &str)]) -> PathBuf {
    for (name, content) in files {
        let path = dir.join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, content).expect("write");
    }
    dir.to_path_buf()
}

/// Cookie `name=value` pairs from Set-Cookie headers.
pub fn set_cookies(reply: &Reply) -> HashMap<String, String> {
    reply
        .all("set-cookie")
        .iter()
        .filter_map(|c| {
            c.split(';')
                .next()?
                .split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// Every `expr` in a dashboard JSON document.
pub fn dashboard_exprs(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("expr", serde_json::Value::String(e)) => out.push(e.clone()),
                    _ => dashboard_exprs(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| dashboard_exprs(v, out)),
        _ => {}
    }
}

pub fn dashboards() -> Vec<(String, serde_json::Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/grafana");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/grafana") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "json") {
            let text = std::fs::read_to_string(&path).expect("read");
            out.push((
                path.display().to_string(),
                serde_json::from_str(&text).expect("dashboard JSON"),
            ));
        }
    }
    assert!(out.len() >= 2, "the global and the per-site dashboards");
    out
}

/// A real Prometheus (Debian's `prometheus`, installed by scripts/test.sh) scraping one target
/// every second; killed on drop. Prometheus 2.x asks for OpenMetrics first, so what it stores
/// went through its OpenMetrics parser.
pub struct Prometheus {
    child: Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    pub fn start(target: std::net::SocketAddr) -> Prometheus {
        let dir = tempfile::tempdir().expect("dir");
        let config = dir.path().join("prometheus.yml");
        std::fs::write(
            &config,
            format!("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: graygate\n    static_configs:\n      - targets: [\"{target}\"]\n"),
        )
        .expect("config");
        let addr = closed_port();
        let child = Command::new("prometheus")
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("prometheus is installed (scripts/test.sh installs Debian's prometheus)");
        let p = Prometheus {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(addr).is_ok()
                && get(addr, "/-/ready", &[]).status == 200
            {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("prometheus did not become ready");
    }

    /// Runs an instant query; returns the result vector.
    pub fn query(&self, promql: &str) -> Vec<serde_json::Value> {
        let reply = get(
            self.addr,
            &format!("/api/v1/query?query={}", encode(promql)),
            &[],
        );
        let body: serde_json::Value =
            serde_json::from_slice(&reply.body).unwrap_or_else(|_| panic!("{}", reply.text()));
        assert_eq!(body["status"], "success", "{promql}: {body}");
        body["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

pub fn value(sample: &serde_json::Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

/// `promtool check metrics` on `text`: its exit code (0 clean, 3 lint findings only, 1 a text
/// it cannot parse) and its output.
pub fn promtool_check(text: &str) -> (i32, String) {
    let out = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(text.as_bytes())?;
            child.wait_with_output()
        })
        .expect("promtool is installed (scripts/test.sh installs Debian's prometheus)");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
    )
}
