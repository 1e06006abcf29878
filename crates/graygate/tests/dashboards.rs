//! The Grafana dashboards under deploy/grafana/ only query metrics graygate exposes.

mod common;
use common::*;

/// Metric names in a PromQL expression: identifiers of graygate's families (and process_*).
fn metric_names(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let bytes = expr.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let starts = (bytes[i].is_ascii_alphabetic() || bytes[i] == b'_')
            && (i == 0
                || !(bytes[i - 1].is_ascii_alphanumeric()
                    || bytes[i - 1] == b'_'
                    || bytes[i - 1] == b'$'));
        if starts {
            let end = (i..bytes.len())
                .find(|&j| {
                    !(bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b':')
                })
                .unwrap_or(bytes.len());
            let word = &expr[i..end];
            if ["graygate_", "process_", "nginx_"]
                .iter()
                .any(|p| word.starts_with(p))
            {
                names.push(word.to_string());
            }
            i = end;
        } else {
            i += 1;
        }
    }
    names
}

#[test]
fn every_metric_a_dashboard_queries_is_exposed() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&format!(
        "sites:\n  - name: s\n    hosts: [\"*\"]\n    release:\n      default: a\n      versions:\n        a: {{upstream: {{servers: [\"{}\"]}}}}\n        b: {{upstream: {{servers: [\"{}\"]}}}}\n      rules:\n        - {{percent: 50, version: b}}\n",
        stable.addr, gray.addr
    ));
    for _ in 0..20 {
        get(gw.addr, "/", &[]);
    }
    let exposed = gw.metrics_text();
    let mut checked = 0;
    for (file, dashboard) in dashboards() {
        let mut all = Vec::new();
        dashboard_exprs(&dashboard, &mut all);
        assert!(!all.is_empty(), "{file} has no queries");
        for expr in all {
            let names = metric_names(&expr);
            assert!(!names.is_empty(), "{file}: no graygate metric in {expr}");
            for name in names {
                let present = exposed.lines().any(|l| {
                    l.strip_prefix(name.as_str())
                        .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
                });
                assert!(
                    present,
                    "{file}: {name} (in `{expr}`) is not in graygate's exposition"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 20);
}

#[test]
fn metric_name_extraction() {
    assert_eq!(
        metric_names(
            "histogram_quantile(0.99, sum by (le) (rate(graygate_http_request_duration_seconds_bucket{site=\"$site\"}[$__rate_interval])))"
        ),
        vec!["graygate_http_request_duration_seconds_bucket"]
    );
    assert_eq!(
        metric_names("rate(process_cpu_seconds_total[5m]) / graygate_x"),
        vec!["process_cpu_seconds_total", "graygate_x"]
    );
}
