//! Property tests: the parser and mapper never panic, escaping yields valid names, and the
//! glob state machine agrees with a slow reference model of statsd_exporter's semantics.

use graygate_statsd::{EventKind, LineStats, Mapper, Parser, escape_metric_name};
use proptest::prelude::*;

proptest! {
    #[test]
    fn parser_never_panics(line in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut out = Vec::new();
        let mut stats = LineStats::default();
        Parser::default().parse_line(&line, &mut out, &mut stats);
    }

    #[test]
    fn parser_never_panics_on_protocol_like_text(line in "[a-z.,#=\\[\\]:|@+\\-0-9e]{0,60}") {
        let mut out = Vec::new();
        let mut stats = LineStats::default();
        Parser::default().parse_line(line.as_bytes(), &mut out, &mut stats);
        for e in &out {
            prop_assert!(e.weight >= 1);
        }
    }

    #[test]
    fn counter_lines_round_trip(name in "[a-z][a-z0-9_.]{0,20}", value in 0u32..1_000_000) {
        let line = format!("{name}:{value}|c");
        let mut out = Vec::new();
        let mut stats = LineStats::default();
        Parser::default().parse_line(line.as_bytes(), &mut out, &mut stats);
        prop_assert_eq!(out.len(), 1);
        prop_assert_eq!(&out[0].name, &name);
        prop_assert_eq!(out[0].value, f64::from(value));
    }

    #[test]
    fn escaped_names_are_valid(name in "\\PC{1,30}") {
        let e = escape_metric_name(&name);
        prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
        prop_assert!(!e.as_bytes()[0].is_ascii_digit());
    }

    #[test]
    fn glob_fsm_matches_reference(
        globs in proptest::collection::vec(proptest::collection::vec(prop_oneof!["a", "b", "\\*"], 1..4), 1..8),
        names in proptest::collection::vec(proptest::collection::vec(prop_oneof!["a", "b", "c"], 1..4), 1..8),
    ) {
        let globs: Vec<String> = globs.iter().map(|g| g.join(".")).collect();
        let mut yaml = String::from("mappings:\n");
        for (i, g) in globs.iter().enumerate() {
            yaml.push_str(&format!("- match: \"{g}\"\n  name: m{i}\n"));
        }
        let mapper = Mapper::from_yaml(&yaml).unwrap();
        for name in names {
            let name = name.join(".");
            let got = mapper.map(&name, EventKind::Counter).map(|m| m.mapping);
            prop_assert_eq!(got, reference(&globs, &name), "globs {:?} name {}", globs, name);
        }
    }

    #[test]
    fn mapper_never_panics(name in "\\PC{0,40}") {
        let mapper = Mapper::from_yaml("mappings:\n- match: a.*.c\n  name: x_$1\n- match: \"(.*)\\\\.(.*)\"\n  match_type: regex\n  name: r_$1\n").unwrap();
        let _ = mapper.map(&name, EventKind::Gauge);
    }
}

/// statsd_exporter's glob choice, written as plainly as possible: a glob whose path was
/// created by an earlier glob is dead; a path's priority is the last glob that ends there;
/// the live matching path with the lowest priority wins.
fn reference(globs: &[String], name: &str) -> Option<usize> {
    let segs: Vec<Vec<&str>> = globs.iter().map(|g| g.split('.').collect()).collect();
    let fields: Vec<&str> = name.split('.').collect();
    let mut best: Option<(usize, usize)> = None;
    for (j, g) in segs.iter().enumerate() {
        let created_earlier = segs[..j]
            .iter()
            .any(|e| e.len() >= g.len() && e[..g.len()] == g[..]);
        if created_earlier {
            continue;
        }
        let matches =
            g.len() == fields.len() && g.iter().zip(&fields).all(|(p, f)| *p == "*" || p == f);
        if !matches {
            continue;
        }
        let priority = segs.iter().rposition(|e| e == g).unwrap_or(j);
        if best.is_none_or(|(p, _)| priority < p) {
            best = Some((priority, j));
        }
    }
    best.map(|(_, j)| j)
}
