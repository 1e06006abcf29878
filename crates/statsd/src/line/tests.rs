use super::*;

fn parse(line: &str) -> (Vec<Event>, LineStats) {
    let mut out = Vec::new();
    let mut stats = LineStats::default();
    Parser::default().parse_line(line.as_bytes(), &mut out, &mut stats);
    (out, stats)
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    let mut l = Labels::new();
    for (k, v) in pairs {
        set_label(&mut l, (*k).into(), (*v).into());
    }
    l
}

fn one(line: &str) -> Event {
    let (events, stats) = parse(line);
    assert_eq!(stats.sample_errors, [0; 10], "{line}: {stats:?}");
    assert_eq!(events.len(), 1, "{line}: {events:?}");
    events.into_iter().next().unwrap()
}

fn error_of(line: &str) -> SampleError {
    let (events, stats) = parse(line);
    assert!(events.is_empty(), "{line}: {events:?}");
    let found: Vec<_> = SampleError::ALL
        .iter()
        .filter(|e| stats.errors(**e) > 0)
        .collect();
    assert_eq!(found.len(), 1, "{line}: {stats:?}");
    *found[0]
}

#[test]
fn types_and_values() {
    let e = one("foo:2|c");
    assert_eq!(
        (e.name.as_str(), e.kind, e.value, e.relative),
        ("foo", EventKind::Counter, 2.0, false)
    );
    let e = one("foo:-3|g");
    assert_eq!(
        (e.kind, e.value, e.relative),
        (EventKind::Gauge, -3.0, true)
    );
    let e = one("foo:+3|g");
    assert_eq!((e.value, e.relative), (3.0, true));
    let e = one("foo:250|ms");
    assert_eq!((e.kind, e.value), (EventKind::Observer, 0.25));
    assert_eq!(one("foo:250|h").value, 250.0);
    assert_eq!(one("foo:250|d").value, 250.0);
    assert!(one("foo:NaN|g").value.is_nan());
    assert_eq!(one("foo:+Inf|g").value, f64::INFINITY);
    assert_eq!(one("foo:1e3|c").value, 1000.0);
    assert_eq!(one("foo:0x1p3|c").value, 8.0);
    assert_eq!(one("foo:0X1.8P+1|g").value, 3.0);
    assert_eq!(one("foo:-0x.8p0|g").value, -0.5);
    assert_eq!(one("foo:0x1p-2|ms").value, 0.00025);
    assert_eq!(one("foo:0x1fffffffffffffp0|g").value, 9007199254740991.0);
}

#[test]
fn sample_rates() {
    assert_eq!(one("foo:1|c|@0.1").value, 10.0);
    assert_eq!(one("foo:1|g|@0.1").value, 1.0);
    assert_eq!(one("foo:1|ms|@0.1").weight, 10);
    assert_eq!(one("foo:1|ms|@0.3").weight, 3);
    assert_eq!(one("foo:1|c|@0").value, 1.0);
    // A rate above 1 gives int(1/rate) == 0 observations, as upstream.
    let (events, stats) = parse("foo:1|ms|@2");
    assert!(events.is_empty());
    assert_eq!(stats.samples, 1);
    // An unparsable rate is counted but the sample is kept with rate 1.
    let (events, stats) = parse("foo:1|c|@abc");
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].value, 1.0);
    assert_eq!(stats.errors(SampleError::InvalidSampleFactor), 1);
    assert_eq!(one("foo:1|ms|@0.0000000001").weight, MAX_WEIGHT);
}

#[test]
fn multiple_values() {
    let (events, stats) = parse("foo:1|c:2|c");
    assert_eq!(
        events.iter().map(|e| e.value).collect::<Vec<_>>(),
        [1.0, 2.0]
    );
    assert_eq!(stats.samples, 2);
    let (events, _) = parse("foo:1:2:3|ms|#a:b");
    assert_eq!(events.len(), 3);
    assert_eq!(events[2].value, 0.003);
    assert_eq!(events[2].labels, labels(&[("a", "b")]));
    assert_eq!(
        error_of("foo:1:2|c"),
        SampleError::InvalidExtendedAggregateType
    );
}

#[test]
fn tags_in_every_style() {
    let want = labels(&[("tag1", "bar"), ("tag2", "baz")]);
    for line in [
        "foo:1|c|#tag1:bar,tag2:baz",
        "foo:1|c|#tag1:bar,#tag2:baz",
        "foo,tag1=bar,tag2=baz:1|c",
        "foo#tag1=bar,tag2=baz:1|c",
        "foo[tag1=bar,tag2=baz]:1|c",
    ] {
        let (events, stats) = parse(line);
        assert_eq!(events.len(), 1, "{line}");
        assert_eq!(events[0].name, "foo", "{line}");
        assert_eq!(events[0].labels, want, "{line}");
        assert_eq!(stats.tags, 1, "{line}");
    }
    let e = one("foo[tag=v].bar:1|c");
    assert_eq!(e.name, "foo.bar");
    let e = one("foo:1|c|#a.b:c:d");
    assert_eq!(e.labels, labels(&[("a_b", "c:d")]));
}

#[test]
fn tag_errors_are_counted_and_the_sample_kept() {
    for (line, errors) in [
        ("foo:1|c|#novalue", 1),
        ("foo:1|c|#:v,k:", 2),
        ("foo,a=b,,c=d:1|c", 1),
        ("foo,a=b,:1|c", 0),
        ("foo[a=b:1|c", 1),
        ("foo]a=b[:1|c", 1),
    ] {
        let (events, stats) = parse(line);
        assert_eq!(events.len(), 1, "{line}");
        assert_eq!(stats.tag_errors, errors, "{line}");
    }
}

#[test]
fn every_error_reason() {
    assert_eq!(error_of("foo"), SampleError::MalformedLine);
    assert_eq!(error_of(":1|c"), SampleError::MalformedLine);
    assert_eq!(
        error_of("foo,a=b:1|c|#c:d"),
        SampleError::MixedTaggingStyles
    );
    assert_eq!(error_of("foo:1"), SampleError::NotEnoughPartsAfterColon);
    assert_eq!(error_of("foo:1|c|"), SampleError::MalformedComponent);
    assert_eq!(
        error_of("foo:1|c|@1|#a:b|@1|@1|@1|@1|@1"),
        SampleError::MalformedComponent
    );
    assert_eq!(error_of("foo:abc|c"), SampleError::MalformedValue);
    assert_eq!(error_of("foo:1e400|c"), SampleError::MalformedValue);
    // Go's hexadecimal floats need a `p` exponent.
    assert_eq!(error_of("foo:0x10|c"), SampleError::MalformedValue);
    assert_eq!(error_of("foo:0xp1|c"), SampleError::MalformedValue);
    assert_eq!(error_of("foo:0x1p|c"), SampleError::MalformedValue);
    assert_eq!(error_of("foo:0x1p2000|g"), SampleError::MalformedValue);
    assert_eq!(one("foo:1|c|@0x1p-1").value, 2.0);
    assert_eq!(
        error_of("foo:1|c|@1|#a:b|@1"),
        SampleError::MalformedComponent
    );
    assert_eq!(error_of("foo:+nan|g"), SampleError::MalformedValue);
    assert_eq!(error_of("foo:-NaN|g"), SampleError::MalformedValue);
    assert_eq!(error_of("foo:1|s"), SampleError::IllegalEvent);
    assert_eq!(error_of("foo:1|zz"), SampleError::IllegalEvent);
    let (events, stats) = parse("foo\u{0}:1|c");
    assert_eq!((events.len(), stats.samples), (1, 1));
    let mut out = Vec::new();
    let mut stats = LineStats::default();
    Parser::default().parse_line(b"fo\xffo:1|c", &mut out, &mut stats);
    assert_eq!(stats.errors(SampleError::MalformedLine), 1);
}

#[test]
fn empty_line_counts_nothing() {
    let (events, stats) = parse("");
    assert!(events.is_empty());
    assert_eq!(stats, LineStats::default());
}

#[test]
fn extensions_can_be_turned_off() {
    let parser = Parser {
        influxdb: false,
        dogstatsd: false,
        ..Parser::default()
    };
    let mut out = Vec::new();
    let mut stats = LineStats::default();
    parser.parse_line(b"foo,a=b:1|c|#c:d", &mut out, &mut stats);
    assert_eq!(out[0].name, "foo,a=b");
    assert!(out[0].labels.is_empty());
}

#[test]
fn dogstatsd_extras_when_enabled() {
    let parser = Parser {
        dogstatsd_extras: true,
        ..Parser::default()
    };
    let mut out = Vec::new();
    let mut stats = LineStats::default();
    parser.parse_line(b"foo:1|c|#a:b|c:abc|T1656581400", &mut out, &mut stats);
    assert_eq!(
        out[0].labels,
        labels(&[("a", "b"), ("container_id", "abc")])
    );
    parser.parse_line(b"foo:1|c|T12x", &mut out, &mut stats);
    assert_eq!(stats.errors(SampleError::MalformedTimestamp), 1);
}

/// statsd_exporter v0.27.2 counts a component it does not know as an invalid sample
/// factor and keeps the sample, with the tags of the other components.
#[test]
fn unknown_components_are_counted_and_the_sample_kept() {
    for (line, want) in [
        ("foo:1|c|x", labels(&[])),
        ("foo:1|c|#a:b|c:abc", labels(&[("a", "b")])),
        ("foo:1|c|T1656581400|#a:b", labels(&[("a", "b")])),
    ] {
        let (events, stats) = parse(line);
        assert_eq!(events.len(), 1, "{line}");
        assert_eq!(events[0].value, 1.0, "{line}");
        assert_eq!(events[0].labels, want, "{line}");
        assert_eq!(stats.errors(SampleError::InvalidSampleFactor), 1, "{line}");
        assert_eq!(stats.tags, u64::from(!want.is_empty()), "{line}");
    }
    // With a sample rate the sample keeps it.
    let (events, _) = parse("foo:1|ms|x|@0.5");
    assert_eq!(events[0].weight, 2);
}

/// Cases from statsd_exporter's own line tests, with the names and labels it expects.
#[test]
fn upstream_line_cases() {
    for (line, name, want, tag_errors) in [
        (
            "foo.[tag1=bar,tag2=baz]test:100|c",
            "foo.test",
            vec![("tag1", "bar"), ("tag2", "baz")],
            0,
        ),
        (
            "[tag1=bar,tag2=baz]foo.test:100|c",
            "foo.test",
            vec![("tag1", "bar"), ("tag2", "baz")],
            0,
        ),
        ("foo.[]test:100|c", "foo.test", vec![], 0),
        ("foo.[tag1,tag2]test:100|c", "foo.test", vec![], 2),
        (
            "[tag1=bar,tag2=bazfoo.test:100|c",
            "[tag1=bar,tag2=bazfoo.test",
            vec![],
            1,
        ),
        (
            "tag1=bar,tag2=baz]foo.test:100|c",
            "tag1=bar,tag2=baz]foo.test",
            vec![],
            1,
        ),
        (
            "foo#09digits=0,tag.with.dots=1:100|c",
            "foo",
            vec![("_09digits", "0"), ("tag_with_dots", "1")],
            0,
        ),
        (
            "foo:100|c|#tag_without_a_value,tag:value",
            "foo",
            vec![("tag", "value")],
            1,
        ),
        ("foo:100|c|#tag:value,,", "foo", vec![("tag", "value")], 1),
        (
            "foo:100|c|@0.1|#tag1:foo:bar",
            "foo",
            vec![("tag1", "foo:bar")],
            0,
        ),
    ] {
        let (events, stats) = parse(line);
        assert_eq!(events.len(), 1, "{line}");
        assert_eq!(events[0].name, name, "{line}");
        assert_eq!(events[0].labels, labels(&want), "{line}");
        assert_eq!(stats.tag_errors, tag_errors, "{line}");
    }
    let (events, _) = parse("foo_timing:0.5:120:3000:10:20000:0.01|ms|@0.5|#tag1:bar");
    assert_eq!(events.len(), 6);
    assert!(events.iter().all(|e| e.weight == 2));
    assert_eq!(events[5].value, 0.00001);
    for line in [
        "foo_counter:0.5:120|c|#tag1:bar",
        "foo_gauge:0.5:120|g",
        "foo:2|t",
        ":100|ms",
        "foo:1o|c",
        "karafka.consumer.consume.cpu_idle_second:  0.111090  -0.055903  -0.195390 (  2.419002)",
        "|h|#consumer:Kafka::SharedConfigurationConsumer,topic:x",
    ] {
        let (events, _) = parse(line);
        assert!(events.is_empty(), "{line}");
    }
}

#[test]
fn borrowed_samples_match_owned_events() {
    let parser = Parser::default();
    for line in [
        "foo:1|c",
        "foo:1:2|c|@0.5",
        "foo,env=prod:3|g",
        "foo#env=prod:3|g",
        "foo[env=prod]bar:3|g",
        "foo:1|ms|#a:b,c:d",
        "foo:1:2:3|h|@0.25",
        "foo:nan|g",
        "foo:INF|g",
        "foo:x|c",
        "foo",
    ] {
        let (events, stats) = parse(line);
        let mut seen = Vec::new();
        let mut borrowed_stats = LineStats::default();
        parser.parse_line_with(line.as_bytes(), &mut borrowed_stats, |s| {
            seen.push(s.to_event());
        });
        assert_eq!(seen.len(), events.len(), "{line}");
        for (a, b) in seen.iter().zip(&events) {
            // NaN != NaN: compare the bits.
            assert_eq!(a.value.to_bits(), b.value.to_bits(), "{line}");
            assert_eq!((&a.name, a.kind, &a.labels), (&b.name, b.kind, &b.labels));
        }
        assert_eq!(borrowed_stats, stats, "{line}");
    }
    // A plain name is a slice of the line itself.
    let line = b"app.requests:1|c";
    let mut name_at = None;
    parser.parse_line_with(line, &mut LineStats::default(), |s| {
        name_at = Some(s.name.as_ptr());
    });
    assert_eq!(name_at, Some(line.as_ptr()));
}

#[test]
fn infinity_and_nan_spellings_ignore_case() {
    assert_eq!(parse_go_float("Inf"), Some(f64::INFINITY));
    assert_eq!(parse_go_float("-INFINITY"), Some(f64::NEG_INFINITY));
    assert!(parse_go_float("NaN").is_some_and(f64::is_nan));
    assert_eq!(parse_go_float("infinit"), None);
}

#[test]
fn ascii_splits_agree_with_str_split() {
    for text in ["", ":", "a", "a:b", ":a:", "a::b", "é:ü:", "1|c|@0.5|#a:b"] {
        for sep in [b':', b'|'] {
            let want: Vec<&str> = text.split(char::from(sep)).collect();
            let got: Vec<&str> = split_ascii(text, sep).collect();
            assert_eq!(got, want, "{text:?} on {sep}");
            assert_eq!(
                split_once_ascii(text, sep),
                text.split_once(char::from(sep)),
                "{text:?} on {sep}"
            );
        }
    }
}
