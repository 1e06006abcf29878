//! A real Prometheus (Debian's `prometheus`, installed by scripts/test.sh) scrapes a running
//! graygate under traffic to two versions; its HTTP API must see the configured split, a sane
//! P99 per host, and every dashboard query must evaluate.

mod common;
use common::*;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Prometheus {
    child: Child,
    addr: std::net::SocketAddr,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    fn start(target: std::net::SocketAddr) -> Prometheus {
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
    fn query(&self, promql: &str) -> Vec<serde_json::Value> {
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

fn encode(text: &str) -> String {
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

fn value(sample: &serde_json::Value) -> f64 {
    sample["value"][1]
        .as_str()
        .and_then(|v| v.parse().ok())
        .unwrap_or(f64::NAN)
}

#[test]
fn prometheus_sees_the_split_and_the_p99() {
    // The demo: 20% of new devices on 1.1.0.
    let gw = Gateway::demo();
    let prometheus = Prometheus::start(gw.metrics.expect("metrics"));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic = {
        let (addr, stop) = (gw.addr, stop.clone());
        std::thread::spawn(move || {
            let mut c = Client::connect(addr);
            let mut n = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) && n < 200_000 {
                c.get("/", &[]);
                n += 1;
                if n.is_multiple_of(50) {
                    std::thread::sleep(Duration::from_millis(5));
                }
            }
            n
        })
    };
    let split = "sum by (version) (rate(graygate_http_requests_total{site=\"demo\"}[5s]))";
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut rates = Vec::new();
    while Instant::now() < deadline {
        std::thread::sleep(Duration::from_secs(1));
        rates = prometheus.query(split);
        if rates.len() == 2 && rates.iter().all(|s| value(s) > 0.0) {
            break;
        }
    }
    assert_eq!(rates.len(), 2, "both versions seen: {rates:?}");
    let rate = |v: &str| {
        rates
            .iter()
            .find(|s| s["metric"]["version"] == v)
            .map(value)
            .unwrap_or(0.0)
    };
    let share = rate("1.1.0") / (rate("1.1.0") + rate("1.0.0"));
    assert!(
        (share - 0.2).abs() < 0.06,
        "1.1.0 got {share:.3} of the traffic, 0.2 configured"
    );

    let p99 = prometheus.query("histogram_quantile(0.99, sum by (host, le) (rate(graygate_http_request_duration_seconds_bucket{site=\"demo\"}[5s])))");
    assert_eq!(p99.len(), 1, "{p99:?}");
    assert_eq!(p99[0]["metric"]["host"], "*");
    let p99 = value(&p99[0]);
    assert!(p99 > 0.0 && p99 < 1.0, "P99 {p99} s");

    // Every dashboard query is valid PromQL that Prometheus evaluates.
    for (_, dashboard) in dashboards() {
        let mut exprs = Vec::new();
        dashboard_exprs(&dashboard, &mut exprs);
        for expr in exprs {
            prometheus.query(
                &expr
                    .replace("$__rate_interval", "5s")
                    .replace("$site", "demo"),
            );
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    assert!(traffic.join().expect("traffic") > 1000);
}
