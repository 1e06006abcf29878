//! A fixed number of glob mappings, for counting instructions per map under callgrind:
//! `valgrind --tool=callgrind target/release/examples/map_profile [rules] [iterations]`, or
//! `map_profile talk [iterations]` for the talk's two rules over four names (the
//! `talk_2_rules_4_names` bench; one iteration maps all four names).

use std::hint::black_box;

use graygate_statsd::{EventKind, Mapped, Mapper};

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

fn main() {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    let iterations =
        |arg: Option<String>| -> usize { arg.and_then(|a| a.parse().ok()).unwrap_or(1_000_000) };
    let mut out = Mapped::default();
    let mut hits = 0;
    if first.as_deref() == Some("talk") {
        let mapper = Mapper::from_yaml(TALK).expect("talk config");
        for _ in 0..iterations(args.next()) {
            for name in TALK_NAMES {
                hits += usize::from(mapper.map_into(black_box(name), EventKind::Counter, &mut out));
            }
        }
        println!("{hits} hits");
        return;
    }
    let rules: usize = first.and_then(|a| a.parse().ok()).unwrap_or(100);
    let mut yaml = String::from("mappings:\n");
    for i in 0..rules {
        yaml.push_str(&format!(
            "- match: app{i}.*.request.*\n  name: app{i}_requests_total\n  labels:\n    host: \"$1\"\n    code: \"$2\"\n"
        ));
    }
    let mapper = Mapper::from_yaml(&yaml).expect("profile config");
    let name = format!("app{}.web-1.request.200", rules - 1);
    for _ in 0..iterations(args.next()) {
        hits += usize::from(mapper.map_into(black_box(&name), EventKind::Counter, &mut out));
    }
    println!("{hits} hits");
}
