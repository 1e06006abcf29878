//! The decision as the proxy runs it per request: identify (cookie parse), then rules and the
//! bucket hash. Pinned-set sizes from 10 to 100,000 show the lookup stays flat.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use graygate_canary::{DeviceId, ReleasePolicy, RequestView};
use graygate_config::{Document, FieldPath};
use http::{HeaderMap, HeaderValue};
use std::hint::black_box;

fn policy(pins: usize) -> ReleasePolicy {
    let uids: Vec<String> = (0..pins).map(|i| format!("\"{}\"", 100_000 + i)).collect();
    let text = format!(
        "sites:\n  - name: shop\n    hosts: [\"*\"]\n    release:\n      default: stable\n      versions:\n        stable: {{root: a}}\n        gray: {{root: b}}\n      rules:\n        - pin: {{uids: [{}]}}\n          version: gray\n        - percent: 20\n          version: gray\n",
        uids.join(", ")
    );
    let doc = Document::from_text("bench.yaml", text, ".");
    let config = doc.parse().expect("bench config parses");
    let path = FieldPath::root().key("sites").index(0).key("release");
    ReleasePolicy::build(&config.sites[0].release, "shop", doc.base_dir(), &path)
        .expect("bench policy builds")
}

fn request(cookie: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(
        http::header::HOST,
        HeaderValue::from_static("shop.example.com"),
    );
    h.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0"),
    );
    h.insert(
        http::header::ACCEPT,
        HeaderValue::from_static("text/html,application/xhtml+xml"),
    );
    if !cookie.is_empty() {
        h.insert(
            http::header::COOKIE,
            HeaderValue::from_str(cookie).expect("ascii cookie"),
        );
    }
    h
}

fn decide(c: &mut Criterion) {
    let mut group = c.benchmark_group("decide");
    for pins in [10, 1_000, 100_000] {
        let p = policy(pins);
        let returning =
            request("_ga=GA1.2.3; uid=5012; uuid=0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5; theme=dark");
        let pinned = request(&format!(
            "uid={}; uuid=0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5",
            100_000 + pins / 2
        ));
        for (name, headers) in [("returning", &returning), ("pinned", &pinned)] {
            group.bench_with_input(BenchmarkId::new(name, pins), headers, |b, h| {
                b.iter(|| {
                    let view = RequestView {
                        headers: black_box(h),
                        query: None,
                        client_ip: None,
                    };
                    let id = p.identify(&view, || DeviceId::v4([9; 16]));
                    black_box(p.decide(&view, &id))
                })
            });
        }
    }
    let p = policy(10);
    let fresh = request("");
    group.bench_function("new_device", |b| {
        b.iter(|| {
            let view = RequestView {
                headers: black_box(&fresh),
                query: None,
                client_ip: None,
            };
            let id = p.identify(&view, || DeviceId::v4(black_box([9; 16])));
            black_box(p.decide(&view, &id))
        })
    });
    group.finish();
}

criterion_group!(benches, decide);
criterion_main!(benches);
