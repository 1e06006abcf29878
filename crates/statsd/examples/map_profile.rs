//! A fixed number of glob mappings, for counting instructions per map under callgrind:
//! `valgrind --tool=callgrind target/release/examples/map_profile [rules] [iterations]`.

use std::hint::black_box;

use graygate_statsd::{EventKind, Mapped, Mapper};

fn main() {
    let mut args = std::env::args().skip(1);
    let rules: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(100);
    let iterations: usize = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let mut yaml = String::from("mappings:\n");
    for i in 0..rules {
        yaml.push_str(&format!(
            "- match: app{i}.*.request.*\n  name: app{i}_requests_total\n  labels:\n    host: \"$1\"\n    code: \"$2\"\n"
        ));
    }
    let mapper = Mapper::from_yaml(&yaml).expect("profile config");
    let name = format!("app{}.web-1.request.200", rules - 1);
    let mut out = Mapped::default();
    let mut hits = 0;
    for _ in 0..iterations {
        hits += usize::from(mapper.map_into(black_box(&name), EventKind::Counter, &mut out));
    }
    println!("{hits} hits");
}
