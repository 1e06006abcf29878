//! A real Prometheus (Debian's `prometheus`, installed by scripts/test.sh) scrapes a running
//! graygate under traffic to two versions; its HTTP API must see the configured split, a sane
//! P99 per host, and every dashboard query must evaluate.

mod common;
use common::*;
use std::time::{Duration, Instant};

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
