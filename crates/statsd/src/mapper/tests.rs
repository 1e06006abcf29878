use super::*;

fn mapper(yaml: &str) -> Mapper {
    match Mapper::from_yaml(yaml) {
        Ok(m) => m,
        Err(e) => panic!("{e}"),
    }
}

fn map(m: &Mapper, name: &str, kind: EventKind) -> Option<(String, Vec<(String, String)>)> {
    m.map(name, kind).map(|r| {
        let keys = m.mapping(r.mapping).unwrap().label_keys();
        let labels = (0..r.label_count())
            .map(|i| (keys[i].clone(), r.label(i).to_owned()))
            .collect();
        (r.name().to_owned(), labels)
    })
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| ((*k).into(), (*v).into())).collect()
}

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

#[test]
fn the_talk_rules() {
    let m = mapper(TALK);
    assert_eq!(
        map(
            &m,
            "test.dispatcher.FooProcessor.send.success",
            EventKind::Counter
        ),
        Some((
            "dispatcher_events_total".into(),
            pairs(&[
                ("action", "send"),
                ("job", "test_dispatcher"),
                ("outcome", "success"),
                ("processor", "FooProcessor")
            ])
        ))
    );
    assert_eq!(
        map(
            &m,
            "foo_product.signup.facebook.failure",
            EventKind::Counter
        ),
        Some((
            "signup_events_total".into(),
            pairs(&[
                ("job", "foo_product_server"),
                ("outcome", "failure"),
                ("provider", "facebook")
            ])
        ))
    );
    assert_eq!(map(&m, "test.web-server.foo.bar", EventKind::Counter), None);
    assert_eq!(map(&m, "test.dispatcher.a.b", EventKind::Counter), None);
}

#[test]
fn regex_rules_come_after_globs_in_order() {
    let m = mapper(
        r#"
mappings:
- match: "(.*)\\.bar"
  match_type: regex
  name: "regex_${1}"
  labels:
    first: "$1"
- match: "foo.*"
  name: "glob_$1"
- match: "(.*)"
  match_type: regex
  name: "catch_all"
"#,
    );
    assert_eq!(map(&m, "foo.bar", EventKind::Gauge).unwrap().0, "glob_bar");
    assert_eq!(
        map(&m, "x.y.bar", EventKind::Gauge).unwrap(),
        ("regex_x.y".into(), pairs(&[("first", "x.y")]))
    );
    assert_eq!(map(&m, "zz", EventKind::Gauge).unwrap().0, "catch_all");
}

#[test]
fn regex_templates_follow_go_expand() {
    let m = mapper(
        "mappings:\n- match: \"(a)(b)\"\n  match_type: regex\n  name: \"x_$1_y\"\n  labels:\n    l1: \"$2$$\"\n",
    );
    // `$1_y` names group "1_y", which does not exist.
    assert_eq!(
        map(&m, "ab", EventKind::Counter).unwrap(),
        ("x_".into(), pairs(&[("l1", "b$")]))
    );
}

#[test]
fn match_metric_type_filters() {
    let m = mapper(
        r#"
mappings:
- match: "a.*"
  name: "a_gauge"
  match_metric_type: gauge
- match: "a.*"
  name: "a_other"
- match: "r.*"
  match_type: regex
  name: "r_timer"
  match_metric_type: observer
"#,
    );
    assert_eq!(map(&m, "a.x", EventKind::Gauge).unwrap().0, "a_gauge");
    assert_eq!(map(&m, "a.x", EventKind::Counter).unwrap().0, "a_other");
    assert_eq!(map(&m, "r.x", EventKind::Observer).unwrap().0, "r_timer");
    assert_eq!(map(&m, "r.x", EventKind::Counter), None);
}

#[test]
fn options_fall_back_like_the_registry() {
    let m = mapper(
        r#"
defaults:
  observer_type: histogram
  histogram_options:
    buckets: [1, 5]
mappings:
- match: "h.*"
  name: "h"
- match: "s.*"
  name: "s"
  observer_type: summary
"#,
    );
    let h = m.mapping(0);
    assert_eq!(m.observer_type(h), ObserverType::Histogram);
    assert_eq!(m.buckets(h), [1.0, 5.0]);
    assert_eq!(m.observer_type(None), ObserverType::Histogram);
    let s = m.mapping(1);
    assert_eq!(m.observer_type(s), ObserverType::Summary);
    assert_eq!(m.summary_options(s).quantiles.len(), 3);
    assert_eq!(Mapper::default().observer_type(None), ObserverType::Summary);
}

#[test]
fn many_regexes_use_the_set_in_order() {
    let mut yaml = String::from("mappings:\n");
    for i in 0..50 {
        yaml.push_str(&format!(
            "- match: \"^m{i}\\\\.(.*)\"\n  match_type: regex\n  name: \"r{i}_$1\"\n"
        ));
    }
    yaml.push_str("- match: \"^m4(.*)\"\n  match_type: regex\n  name: \"late\"\n");
    let m = mapper(&yaml);
    assert!(m.regex_set.is_some());
    assert_eq!(map(&m, "m42.x", EventKind::Counter).unwrap().0, "r42_x");
    assert_eq!(map(&m, "m4zz", EventKind::Counter).unwrap().0, "late");
}

#[test]
fn a_thousand_regexes_are_tried_in_order() {
    let mut yaml = String::from("mappings:\n");
    for i in 0..1000 {
        yaml.push_str(&format!("- match: \"^app{i}\\\\.([^.]*)\\\\.request\\\\.(.*)$\"\n  match_type: regex\n  name: app{i}\n"));
    }
    let m = mapper(&yaml);
    assert!(m.regex_set.is_none());
    assert_eq!(
        map(&m, "app999.h.request.2", EventKind::Counter).unwrap().0,
        "app999"
    );
}

#[test]
fn literal_prefixes_of_anchored_regexes() {
    assert_eq!(anchored_literal_prefix("^app1\\.([^.]*)"), "app1.");
    assert_eq!(anchored_literal_prefix("^ab?c"), "a");
    assert_eq!(anchored_literal_prefix("^ab+"), "a");
    assert_eq!(anchored_literal_prefix("abc"), "");
    assert_eq!(anchored_literal_prefix("^a|b"), "");
    assert_eq!(anchored_literal_prefix("^(?i)ab"), "");
    assert_eq!(anchored_literal_prefix("^\\d"), "");
}

/// Regex rules match as Go's RE2 does: ASCII `\d`, `\w`, `\s`, `\b`; `\Q...\E` literal;
/// octal escapes; `[` and `&&` literal inside a class.
#[test]
fn regex_rules_use_go_syntax() {
    let rule = |pattern: &str| {
        let yaml = format!(
            "mappings:\n- match: '{pattern}'\n  match_type: regex\n  name: hit\n  labels:\n    c1: \"$1\"\n"
        );
        mapper(&yaml)
    };
    let hit =
        |m: &Mapper, name: &str| map(m, name, EventKind::Counter).map(|(_, l)| l[0].1.clone());
    let m = rule(r"(\w+)\.count$");
    assert_eq!(hit(&m, "cafe.count"), Some("cafe".into()));
    assert_eq!(hit(&m, "café.count"), None);
    let m = rule(r"^x(\d+)$");
    assert_eq!(hit(&m, "x42"), Some("42".into()));
    assert_eq!(hit(&m, "x\u{663}"), None);
    let m = rule(r"^a(\s)b$");
    assert_eq!(hit(&m, "a\u{a0}b"), None);
    let m = rule(r"(\bz)");
    assert_eq!(hit(&m, "éz"), Some("z".into()));
    let m = rule(r"^(\Qa.b\E)$");
    assert_eq!(hit(&m, "a.b"), Some("a.b".into()));
    assert_eq!(hit(&m, "axb"), None);
    let m = rule(r"^(\101)$");
    assert_eq!(hit(&m, "A"), Some("A".into()));
    let m = rule(r"^([[\d&]+)$");
    assert_eq!(hit(&m, "[1&"), Some("[1&".into()));
    let m = rule(r"^([^\D]+)$");
    assert_eq!(hit(&m, "123"), Some("123".into()));
    let m = rule(r"^([[:alpha:]]+)$");
    assert_eq!(hit(&m, "abc"), Some("abc".into()));
    assert_eq!(go_regex(r"a\\d"), r"a\\d");
}

/// statsd_exporter's issue 168: a later glob explored while backtracking must not change
/// the labels of the rule that matched.
#[test]
fn backtracking_keeps_the_winners_labels() {
    let m = mapper(
        r#"
mappings:
- match: '*.dummy.*'
  name: metric_one
  labels:
    system: $1
    attribute: $2
- match: 'full.name.*'
  name: metric_two
  labels:
    system: static
    attribute: $1
"#,
    );
    assert_eq!(
        map(&m, "full.name.anothertest", EventKind::Counter),
        Some((
            "metric_two".into(),
            pairs(&[("attribute", "anothertest"), ("system", "static")])
        ))
    );
    assert_eq!(
        map(&m, "whatever.dummy.test", EventKind::Counter),
        Some((
            "metric_one".into(),
            pairs(&[("attribute", "test"), ("system", "whatever")])
        ))
    );
}
