//! Parse and map benchmarks, the same shapes as statsd_exporter's `mapper_benchmark_test.go`
//! and `line_test.go` benchmarks (the talk's two rules over four names; 10/100/1000 globs;
//! a regex rule at position 1000; the mapping cache hit and miss).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use graygate_statsd::{EventKind, LineStats, MapCache, Mapped, Mapper, Parser};

const TALK: &str = r#"
mappings:
- match: test.dispatcher.*.*.*
  name: "dispatcher_events_total"
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
"#;

const TALK_NAMES: [&str; 4] = [
    "test.dispatcher.FooProcessor.send.success",
    "foo_product.signup.facebook.failure",
    "test.web-server.foo.bar",
    "test.dispatcher.BarProcessor.receive.failure",
];

fn globs(n: usize) -> Mapper {
    let mut yaml = String::from("mappings:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "- match: app{i}.*.request.*\n  name: app{i}_requests_total\n  labels:\n    host: \"$1\"\n    code: \"$2\"\n"
        ));
    }
    Mapper::from_yaml(&yaml).expect("bench config")
}

fn regexes(n: usize) -> Mapper {
    let mut yaml = String::from("mappings:\n");
    for i in 0..n {
        yaml.push_str(&format!(
            "- match: \"^app{i}\\\\.([^.]*)\\\\.request\\\\.(.*)$\"\n  match_type: regex\n  name: app{i}_requests_total\n  labels:\n    host: \"$1\"\n    code: \"$2\"\n"
        ));
    }
    Mapper::from_yaml(&yaml).expect("bench config")
}

fn parse(c: &mut Criterion) {
    let parser = Parser::default();
    let mut group = c.benchmark_group("parse");
    for (label, line) in [
        ("counter", "app.requests.count:1|c"),
        ("timer_rate", "app.latency:320|ms|@0.1"),
        (
            "dogstatsd_tags",
            "app.requests:1|c|#env:prod,host:web-1,code:200",
        ),
        ("influx_tags", "app.requests,env=prod,host=web-1:1|c"),
        ("multi_value", "app.latency:1:2:3:4|ms"),
    ] {
        group.throughput(Throughput::Elements(1));
        group.bench_function(label, |b| {
            let mut out = Vec::with_capacity(8);
            let mut stats = LineStats::default();
            b.iter(|| {
                out.clear();
                parser.parse_line(black_box(line.as_bytes()), &mut out, &mut stats);
                black_box(&out);
            })
        });
    }
    group.finish();
}

fn map(c: &mut Criterion) {
    let mut group = c.benchmark_group("map");
    let talk = Mapper::from_yaml(TALK).expect("talk config");
    // `map_into` with a reused `Mapped` is the exporter's path; `map` allocates a result.
    let mut out = Mapped::default();
    group.bench_function("talk_2_rules_4_names", |b| {
        b.iter(|| {
            for name in TALK_NAMES {
                black_box(talk.map_into(black_box(name), EventKind::Counter, &mut out));
            }
        })
    });
    // statsd_exporter's `GetMapping` returns a fresh labels map per call: `map` is the
    // like-for-like comparison, `map_into` the exporter's own path.
    group.bench_function("talk_2_rules_4_names_owned", |b| {
        b.iter(|| {
            for name in TALK_NAMES {
                black_box(talk.map(black_box(name), EventKind::Counter));
            }
        })
    });
    for n in [10, 100, 1000] {
        let mapper = globs(n);
        let name = format!("app{}.web-1.request.200", n - 1);
        group.bench_with_input(BenchmarkId::new("glob_hit", n), &name, |b, name| {
            b.iter(|| black_box(mapper.map_into(black_box(name), EventKind::Counter, &mut out)))
        });
        group.bench_with_input(BenchmarkId::new("glob_hit_owned", n), &name, |b, name| {
            b.iter(|| black_box(mapper.map(black_box(name), EventKind::Counter)))
        });
        group.bench_with_input(
            BenchmarkId::new("glob_miss", n),
            "other.web-1.x.y",
            |b, name| {
                b.iter(|| black_box(mapper.map_into(black_box(name), EventKind::Counter, &mut out)))
            },
        );
    }
    for n in [1, 1000] {
        let mapper = regexes(n);
        let name = format!("app{}.web-1.request.200", n - 1);
        group.bench_with_input(BenchmarkId::new("regex_hit_at", n), &name, |b, name| {
            b.iter(|| black_box(mapper.map_into(black_box(name), EventKind::Counter, &mut out)))
        });
    }
    let mapper = globs(100);
    let mut cache = MapCache::new(1000);
    group.bench_function("cache_hit", |b| {
        b.iter(|| {
            black_box(cache.get_or_map(
                &mapper,
                black_box("app7.web-1.request.200"),
                EventKind::Counter,
            ))
        })
    });
    let names: Vec<String> = (0..4096)
        .map(|i| format!("app7.web-{i}.request.200"))
        .collect();
    let mut small = MapCache::new(1000);
    let mut i = 0;
    group.bench_function("cache_miss", |b| {
        b.iter(|| {
            i = (i + 1) % names.len();
            black_box(small.get_or_map(&mapper, &names[i], EventKind::Counter))
        })
    });
    group.finish();
}

criterion_group!(benches, parse, map);
criterion_main!(benches);
