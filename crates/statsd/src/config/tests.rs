use super::*;

fn err(yaml: &str) -> String {
    match MappingConfig::from_yaml(yaml) {
        Ok(_) => panic!("accepted: {yaml}"),
        Err(e) => e.to_string(),
    }
}

fn ok(yaml: &str) -> MappingConfig {
    match MappingConfig::from_yaml(yaml) {
        Ok(c) => c,
        Err(e) => panic!("{e}: {yaml}"),
    }
}

#[test]
fn empty_and_defaults() {
    let c = ok("");
    assert!(c.mappings.is_empty());
    assert_eq!(c.defaults.buckets, DEFAULT_BUCKETS);
    assert_eq!(c.defaults.summary.quantiles, DEFAULT_QUANTILES);
    let c = ok(
        "defaults:\n  observer_type: histogram\n  match_type: regex\n  glob_disable_ordering: true\n  ttl: 1m30s\n  histogram_options:\n    buckets: [1, 2]\nmappings: []\n",
    );
    assert_eq!(c.defaults.observer_type, ObserverType::Histogram);
    assert_eq!(c.defaults.match_type, MatchType::Regex);
    assert!(c.defaults.glob_disable_ordering);
    assert_eq!(c.defaults.ttl, Duration::from_secs(90));
    assert_eq!(c.defaults.buckets, [1.0, 2.0]);
}

#[test]
fn full_mapping_is_read() {
    let c = ok(r#"
defaults:
  ttl: 10s
mappings:
- match: "test.dispatcher.*.*.*"
  name: "dispatcher_events_total"
  help: "The total number of events."
  labels:
    processor: "$1"
    action: "$2"
    code: 200
  match_metric_type: counter
  honor_labels: true
  scale: 0.5
  unknown_key_is_ignored: 1
- match: "(.*)_ms"
  match_type: regex
  name: "${1}_seconds"
  observer_type: summary
  summary_options:
    quantiles: [{quantile: 0.9, error: 0.01}]
    max_age: 5m
- match: "a.*"
  name: "a"
  timer_type: histogram
  buckets: [0.1, 1]
  ttl: 0
- match: "b.*"
  name: "b"
  action: drop
"#);
    let m = &c.mappings[0];
    assert_eq!(m.labels[0], ("action".into(), "$2".into()));
    assert_eq!(m.labels[1], ("code".into(), "200".into()));
    assert_eq!(m.match_metric_type, Some(EventKind::Counter));
    assert!(m.honor_labels);
    assert_eq!(m.scale, Some(0.5));
    assert_eq!(m.ttl, Duration::from_secs(10));
    let s = c.mappings[1].summary.as_ref().unwrap();
    assert_eq!(s.quantiles.len(), 1);
    assert_eq!(s.max_age, Duration::from_secs(300));
    assert_eq!(c.mappings[2].buckets.as_deref(), Some(&[0.1, 1.0][..]));
    assert_eq!(c.mappings[3].action, Action::Drop);
    assert_eq!(c.warnings.len(), 1);
}

// One test per upstream validation rule.

#[test]
fn rule_label_key_must_be_valid() {
    assert!(
        err("mappings:\n- match: a.b\n  name: x\n  labels:\n    a: v\n")
            .contains("invalid label key: a")
    );
    assert!(
        err("mappings:\n- match: a.b\n  name: x\n  labels:\n    1ab: v\n")
            .contains("invalid label key")
    );
}

#[test]
fn rule_name_is_required() {
    assert!(err("mappings:\n- match: a.b\n").contains("metric mapping didn't set a metric name"));
}

#[test]
fn rule_name_must_match_the_name_regex() {
    assert!(err("mappings:\n- match: a.b\n  name: a-b\n").contains("doesn't match regex"));
    assert!(err("mappings:\n- match: a.b\n  name: 1ab\n").contains("doesn't match regex"));
    ok("mappings:\n- match: a.*\n  name: ${1}_x$1\n");
}

#[test]
fn rule_glob_must_be_valid() {
    for bad in ["a..b", "a.b*", "1a.b", "a.-b", "a-.b", "a--b", "", "a b"] {
        assert!(
            err(&format!("mappings:\n- match: \"{bad}\"\n  name: x\n")).contains("invalid match"),
            "{bad}"
        );
    }
    for good in ["*", "a.*", "a.1b", "a-b.c_d.*", "_x"] {
        ok(&format!("mappings:\n- match: \"{good}\"\n  name: x\n"));
    }
}

#[test]
fn rule_regex_must_compile() {
    assert!(
        err("mappings:\n- match: \"(a\"\n  match_type: regex\n  name: x\n")
            .contains("invalid regex")
    );
}

#[test]
fn rule_enumerations() {
    assert!(
        err("mappings:\n- match: a\n  name: x\n  match_type: fuzzy\n")
            .contains("invalid match type")
    );
    assert!(
        err("mappings:\n- match: a\n  name: x\n  action: keep\n").contains("invalid action type")
    );
    assert!(
        err("mappings:\n- match: a\n  name: x\n  observer_type: gauge\n")
            .contains("invalid observer type")
    );
    assert!(
        err("mappings:\n- match: a\n  name: x\n  match_metric_type: set\n")
            .contains("invalid metric type")
    );
    assert!(err("defaults:\n  match_type: fuzzy\n").contains("invalid match type"));
    // v0.27.2 knows counter, gauge and observer; the old name "timer" is refused.
    assert!(
        err("mappings:\n- match: a\n  name: x\n  match_metric_type: timer\n")
            .contains("invalid metric type")
    );
}

#[test]
fn rule_quantiles_not_in_both_places() {
    assert!(err("mappings:\n- match: a\n  name: x\n  observer_type: summary\n  quantiles: [{quantile: 0.5, error: 0.1}]\n  summary_options:\n    quantiles: [{quantile: 0.5, error: 0.1}]\n").contains("cannot use quantiles in both"));
}

#[test]
fn rule_buckets_not_in_both_places() {
    assert!(err("mappings:\n- match: a\n  name: x\n  observer_type: histogram\n  buckets: [1]\n  histogram_options:\n    buckets: [1]\n").contains("cannot use buckets in both"));
}

#[test]
fn rule_histogram_without_summary_options() {
    assert!(
        err(
            "mappings:\n- match: a\n  name: x\n  observer_type: histogram\n  summary_options: {}\n"
        )
        .contains("cannot use histogram observer and summary options")
    );
}

#[test]
fn rule_summary_without_histogram_options() {
    assert!(
        err(
            "mappings:\n- match: a\n  name: x\n  observer_type: summary\n  histogram_options: {}\n"
        )
        .contains("cannot use summary observer and histogram options")
    );
}

#[test]
fn rule_yaml_shape_and_durations() {
    assert!(matches!(
        MappingConfig::from_yaml("mappings: 3"),
        Err(ConfigError::Yaml(_))
    ));
    assert!(matches!(
        MappingConfig::from_yaml("defaults:\n  ttl: soon\n"),
        Err(ConfigError::Yaml(_))
    ));
}

#[test]
fn go_durations() {
    assert_eq!(parse_go_duration("1h30m"), Some(Duration::from_secs(5400)));
    assert_eq!(parse_go_duration("1.5s"), Some(Duration::from_millis(1500)));
    assert_eq!(parse_go_duration("300ms"), Some(Duration::from_millis(300)));
    assert_eq!(parse_go_duration("0"), Some(Duration::ZERO));
    assert_eq!(parse_go_duration("10"), None);
    assert_eq!(parse_go_duration(""), None);
    assert_eq!(parse_go_duration("1d"), None);
}

/// statsd_exporter reads the file with yaml.v2's non-strict `Unmarshal`: a repeated key
/// keeps its last value, and a number field does not take a quoted string.
#[test]
fn yaml_v2_decoding() {
    let c = ok(
        "mappings:\n- match: a.b\n  name: first\n  name: second\n  labels:\n    ab: x\n    ab: y\n",
    );
    assert_eq!(c.mappings[0].name, "second");
    assert_eq!(c.mappings[0].labels, [("ab".to_owned(), "y".to_owned())]);
    for yaml in [
        "mappings:\n- match: a.b\n  name: x\n  scale: \"2\"\n",
        "mappings:\n- match: a.b\n  name: x\n  honor_labels: \"true\"\n",
        "defaults:\n  glob_disable_ordering: \"true\"\n",
        "mappings:\n- match: a.b\n  name: x\n  observer_type: summary\n  summary_options:\n    age_buckets: \"3\"\n",
        "mappings:\n- match: a.b\n  name: x\n  observer_type: histogram\n  histogram_options:\n    buckets: [\"1\", 2]\n",
        "mappings:\n- match: a.b\n  name: x\n  observer_type: summary\n  summary_options:\n    quantiles:\n    - quantile: \"0.5\"\n      error: 0.1\n",
    ] {
        assert!(
            matches!(MappingConfig::from_yaml(yaml), Err(ConfigError::Yaml(_))),
            "{yaml}"
        );
    }
    let c = ok(
        "mappings:\n- match: a.b\n  name: x\n  help: 1.50\n  labels:\n    l1: y\n    l2: 1.0\n    l3: 0x1F\n    l4: ~\n    l5: True\n    l6:\n",
    );
    let want: Vec<(String, String)> = [
        ("l1", "y"),
        ("l2", "1.0"),
        ("l3", "0x1F"),
        ("l4", ""),
        ("l5", "True"),
        ("l6", ""),
    ]
    .iter()
    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
    .collect();
    assert_eq!(c.mappings[0].labels, want);
    assert_eq!(c.mappings[0].help.as_deref(), Some("1.50"));
    let c = ok(
        "defaults:\n  glob_disable_ordering: yes\nmappings:\n- match: a.b\n  name: x\n  honor_labels: on\n  observer_type: summary\n  summary_options:\n    age_buckets: 3.0\n    buf_cap: 100\n",
    );
    assert!(c.defaults.glob_disable_ordering);
    assert!(c.mappings[0].honor_labels);
    let summary = c.mappings[0].summary.clone().unwrap_or_default();
    assert_eq!((summary.age_buckets, summary.buf_cap), (3, 100));
    let c = ok("mappings:\n- match: a.b\n  name: x\n---\nmappings: []\n");
    assert_eq!(c.mappings.len(), 1);
    assert!(ok("---\n").mappings.is_empty());
    assert!(ok("# only a comment\n").mappings.is_empty());
    let c = ok("defaults:\n  buckets: [.inf, 1e3, 2, -.Inf]\n");
    assert_eq!(
        c.defaults.buckets,
        [f64::INFINITY, 1000.0, 2.0, f64::NEG_INFINITY]
    );
}
