//! Parse errors: each kind of mistake names the place and says what is expected.

use graygate_config::{Document, FieldPath};

fn parse_err(text: &str) -> String {
    let doc = Document::from_text("test.yaml", text, ".");
    doc.parse().expect_err("should not parse").to_string()
}

const MINIMAL: &str = "sites:\n  - name: demo\n    hosts: [\"*\"]\n    release:\n      default: \"1.0.0\"\n      versions:\n        \"1.0.0\": {root: www}\n";

#[test]
fn minimal_config_parses_with_defaults() {
    let config = Document::from_text("t.yaml", MINIMAL, ".")
        .parse()
        .expect("parses");
    assert_eq!(config.listen[0].port(), 8080);
    assert_eq!(config.sites[0].release.identity.uuid_cookie.name, "uuid");
    assert_eq!(config.server.keepalive_timeout_ms, 75_000);
}

#[test]
fn unknown_field_names_line_column_and_path() {
    let text = MINIMAL.replace("hosts:", "hostz:");
    let err = parse_err(&text);
    assert!(
        err.starts_with("test.yaml:3:5: sites[0].hostz: unknown field `hostz`, expected one of"),
        "{err}"
    );
}

#[test]
fn unknown_field_inside_a_version() {
    let text = MINIMAL.replace("{root: www}", "{roots: www}");
    let err = parse_err(&text);
    assert!(
        err.starts_with(
            "test.yaml:7:19: sites[0].release.versions.\"1.0.0\".roots: unknown field `roots`"
        ),
        "{err}"
    );
}

#[test]
fn wrong_type_is_reported_at_the_value() {
    let err = parse_err(&format!("workers: lots\n{MINIMAL}"));
    assert!(err.starts_with("test.yaml:1:10: workers: "), "{err}");
}

#[test]
fn bad_listen_address() {
    let err = parse_err(&format!("listen: [\"localhost\"]\n{MINIMAL}"));
    assert!(err.starts_with("test.yaml:1:10: listen[0]: "), "{err}");
}

#[test]
fn missing_required_field() {
    let err = parse_err("sites:\n  - name: demo\n    hosts: [a]\n");
    assert_eq!(err, "test.yaml:2:5: sites[0]: missing field `release`");
}

#[test]
fn yaml_syntax_error() {
    let err = parse_err("sites: [\n");
    assert!(err.starts_with("test.yaml:1:8:"), "{err}");
}

#[test]
fn duplicate_keys_are_errors() {
    let err = parse_err(&MINIMAL.replace("    hosts:", "    name: again\n    hosts:"));
    assert!(
        err.starts_with("test.yaml:3:5:") && err.contains("duplicate"),
        "{err}"
    );
}

#[test]
fn field_errors_are_located_by_path() {
    let doc = Document::from_text("test.yaml", MINIMAL, ".");
    let path = FieldPath::root()
        .key("sites")
        .index(0)
        .key("release")
        .key("default");
    let errs = doc.locate(vec![path.error("no version named \"1.0.0\"")]);
    assert_eq!(
        errs.to_string(),
        "test.yaml:5:16: sites[0].release.default: no version named \"1.0.0\""
    );
}

#[test]
fn unreadable_file() {
    let err =
        Document::read(std::path::Path::new("/nonexistent/graygate.yaml")).expect_err("missing");
    assert!(
        err.to_string()
            .starts_with("/nonexistent/graygate.yaml: cannot read the file"),
        "{err}"
    );
}

#[test]
fn statsd_section_defaults_nulls_and_unknown_fields() {
    let config = Document::from_text("t.yaml", MINIMAL, ".")
        .parse()
        .expect("parses");
    assert!(!config.statsd.enabled, "off unless enabled");
    assert_eq!(config.statsd.listen_udp.map(|a| a.port()), Some(9125));
    assert_eq!(config.statsd.event_flush_interval_ms, 200);
    let text = format!("statsd:\n  enabled: true\n  listen_tcp: null\n{MINIMAL}");
    let config = Document::from_text("t.yaml", text, ".")
        .parse()
        .expect("parses");
    assert!(config.statsd.enabled);
    assert_eq!(config.statsd.listen_tcp, None);
    assert!(config.statsd.listen_udp.is_some());
    let err = parse_err(&format!("statsd:\n  listen-udp: \":9125\"\n{MINIMAL}"));
    assert!(
        err.starts_with("test.yaml:2:3: statsd.listen-udp: unknown field `listen-udp`"),
        "{err}"
    );
}
