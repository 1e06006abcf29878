//! The decision engine against its promises: stickiness, monotone percentages, fractions,
//! rule order, app versions, and malformed input falling back to the default.

use graygate_canary::{Decision, DeviceId, Reason, ReleasePolicy, RequestView};
use graygate_config::{Document, FieldPath};
use http::{HeaderMap, HeaderValue};
use proptest::prelude::*;

fn policy(release_yaml: &str) -> ReleasePolicy {
    try_policy(release_yaml).unwrap_or_else(|e| panic!("{e}"))
}

fn try_policy(release_yaml: &str) -> Result<ReleasePolicy, String> {
    let indented: String = release_yaml
        .lines()
        .map(|l| format!("      {l}\n"))
        .collect();
    let text = format!("sites:\n  - name: shop\n    hosts: [\"*\"]\n    release:\n{indented}");
    let doc = Document::from_text("t.yaml", text, ".");
    let config = doc.parse().map_err(|e| e.to_string())?;
    let path = FieldPath::root().key("sites").index(0).key("release");
    ReleasePolicy::build(&config.sites[0].release, "shop", doc.base_dir(), &path)
        .map_err(|e| doc.locate(e).to_string())
}

const TWO: &str = "default: stable\nversions:\n  stable: {root: a}\n  gray: {root: b}\n";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn decide_with(p: &ReleasePolicy, h: &HeaderMap, query: Option<&str>) -> (String, String) {
    let view = RequestView {
        headers: h,
        query,
        client_ip: None,
    };
    let id = p.identify(&view, || DeviceId::v4([7; 16]));
    let d = p.decide(&view, &id);
    (
        p.version_name(d.version).to_string(),
        p.reason_label(d.reason).to_string(),
    )
}

fn decide(p: &ReleasePolicy, h: &[(&str, &str)]) -> (String, String) {
    decide_with(p, &headers(h), None)
}

fn device(i: u64) -> String {
    format!(
        "{:032x}",
        u128::from(i).wrapping_mul(0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c835)
    )
}

fn in_gray(p: &ReleasePolicy, uuid: &str) -> bool {
    decide(p, &[("cookie", &format!("uuid={uuid}"))]).0 == "gray"
}

#[test]
fn no_rules_means_default() {
    let p = policy(TWO);
    assert_eq!(decide(&p, &[]), ("stable".into(), "default".into()));
}

#[test]
fn fraction_within_one_percent_over_100k_devices() {
    for pct in [1.0, 5.0, 20.0, 50.0, 99.5] {
        let p = policy(&format!(
            "{TWO}rules:\n  - percent: {pct}\n    version: gray\n"
        ));
        let n = 100_000;
        let hits = (0..n).filter(|i| in_gray(&p, &device(*i))).count();
        let got = hits as f64 * 100.0 / n as f64;
        assert!(
            (got - pct).abs() <= 1.0,
            "{pct}% configured, {got}% observed"
        );
    }
}

#[test]
fn several_versions_share_without_overlap() {
    let p = policy(
        "default: a\nversions:\n  a: {root: a}\n  b: {root: b}\n  c: {root: c}\nrules:\n  - {percent: 30, version: b}\n  - {percent: 20, version: c}\n",
    );
    let mut counts = std::collections::HashMap::new();
    for i in 0..100_000 {
        let v = decide(&p, &[("cookie", &format!("uuid={}", device(i)))]).0;
        *counts.entry(v).or_insert(0u32) += 1;
    }
    for (v, want) in [("a", 50.0), ("b", 30.0), ("c", 20.0)] {
        let got = f64::from(counts[v]) / 1000.0;
        assert!((got - want).abs() <= 1.0, "{v}: {got}% vs {want}%");
    }
}

#[test]
fn pin_beats_percent_and_first_match_wins() {
    let p = policy(&format!(
        "{TWO}rules:\n  - pin: {{uids: [1001, \"42\"]}}\n    version: gray\n  - name: all-stable\n    percent: 100\n    version: stable\n  - percent: 0\n    version: gray\n"
    ));
    assert_eq!(
        decide(&p, &[("cookie", "uid=1001; uuid=abc")]),
        ("gray".into(), "pin".into())
    );
    assert_eq!(
        decide(&p, &[("cookie", "uid=42")]),
        ("gray".into(), "pin".into())
    );
    assert_eq!(
        decide(&p, &[("cookie", "uid=7; uuid=abc")]),
        ("stable".into(), "rule:all-stable".into())
    );
}

#[test]
fn header_cookie_query_matchers() {
    let p = policy(&format!(
        "{TWO}rules:\n  - name: hdr\n    header: {{name: X-Gray, equals: \"1\"}}\n    version: gray\n  - name: ck\n    cookie: {{name: beta, one_of: [yes, on]}}\n    version: gray\n  - name: q\n    query: {{name: gray, present: true}}\n    version: gray\n  - name: re\n    header: {{name: X-Tenant, regex: \"^t-(1|2)$\"}}\n    version: gray\n"
    ));
    assert_eq!(decide(&p, &[("x-gray", "1")]).1, "rule:hdr");
    assert_eq!(decide(&p, &[("x-gray", "2")]).1, "default");
    assert_eq!(decide(&p, &[("cookie", "beta=on")]).1, "rule:ck");
    assert_eq!(decide(&p, &[("cookie", "beta=off")]).1, "default");
    assert_eq!(decide_with(&p, &headers(&[]), Some("a=1&gray")).1, "rule:q");
    assert_eq!(
        decide_with(&p, &headers(&[]), Some("grayish=1")).1,
        "default"
    );
    assert_eq!(decide(&p, &[("x-tenant", "t-2")]).1, "rule:re");
    assert_eq!(decide(&p, &[("x-tenant", "t-3")]).1, "default");
}

#[test]
fn absent_header_rule() {
    let p = policy(&format!(
        "{TWO}rules:\n  - name: no-ua\n    header: {{name: user-agent, present: false}}\n    version: gray\n"
    ));
    assert_eq!(decide(&p, &[]).1, "rule:no-ua");
    assert_eq!(decide(&p, &[("user-agent", "x")]).1, "default");
}

#[test]
fn app_version_comparisons() {
    let p = policy(&format!(
        "{TWO}rules:\n  - name: android-new\n    app_version: {{user_agent: MyApp, gte: \"7.3.0\", lt: \"8\"}}\n    version: gray\n  - name: hdr\n    app_version: {{header: X-App-Version, gt: \"7.9.3\"}}\n    version: gray\n"
    ));
    let ua = |v: &str| {
        decide(
            &p,
            &[(
                "user-agent",
                &format!("Mozilla/5.0 (Linux; Android 14) MyApp/{v} Mobile"),
            )],
        )
        .1
    };
    assert_eq!(ua("7.3.1"), "rule:android-new");
    assert_eq!(ua("7.3.0"), "rule:android-new");
    assert_eq!(ua("7.10.2"), "rule:android-new");
    assert_eq!(ua("7.2.9"), "default");
    assert_eq!(ua("8.0.0"), "default");
    assert_eq!(ua("garbage"), "default");
    assert_eq!(decide(&p, &[("x-app-version", "7.10.0")]).1, "rule:hdr");
    assert_eq!(decide(&p, &[("x-app-version", "7.9.3")]).1, "default");
}

#[test]
fn malformed_identity_falls_back_to_default() {
    let p = policy(&format!(
        "{TWO}rules:\n  - pin: {{uids: [\"1001\"]}}\n    version: gray\n  - percent: 100\n    version: gray\n"
    ));
    // A malformed device id: no percentage rule can place it.
    assert_eq!(
        decide(&p, &[("cookie", "uuid=not a uuid!")]),
        ("stable".into(), "default".into())
    );
    assert_eq!(
        decide(&p, &[("cookie", &format!("uuid={}", "x".repeat(200)))]).0,
        "stable"
    );
    // A malformed uid is no uid.
    assert_eq!(decide(&p, &[("cookie", "uid=; uuid=%%%")]).0, "stable");
    // Cookie headers that are not text are ignored; the new-device id decides.
    let mut h = HeaderMap::new();
    h.insert(
        http::header::COOKIE,
        HeaderValue::from_bytes(b"uuid=\xff\xfe").unwrap(),
    );
    assert_eq!(decide_with(&p, &h, None).0, "gray");
}

#[test]
fn new_device_gets_an_id_and_a_cookie() {
    let p = policy(TWO);
    let h = headers(&[]);
    let view = RequestView {
        headers: &h,
        query: None,
        client_ip: None,
    };
    let id = p.identify(&view, || DeviceId::v4([1; 16]));
    let new = id.new_device().expect("new device");
    let cookie = p.device_cookie(new, std::time::UNIX_EPOCH);
    assert_eq!(
        cookie.to_str().unwrap(),
        "uuid=01010101-0101-4101-8101-010101010101; Path=/; Expires=Fri, 01 Jan 1971 00:00:00 GMT; Max-Age=31536000; SameSite=Lax"
    );
    let returning = headers(&[("cookie", "uuid=abc")]);
    let view = RequestView {
        headers: &returning,
        query: None,
        client_ip: None,
    };
    assert!(p.identify(&view, || unreachable!()).new_device().is_none());
}

#[test]
fn device_id_from_ip_is_stable_and_salted() {
    let yaml = |salt: &str| format!("{TWO}identity:\n  device_id_from_ip: {{salt: {salt}}}\n");
    let (p, q) = (policy(&yaml("s1")), policy(&yaml("s2")));
    let h = headers(&[]);
    let id = |p: &ReleasePolicy, ip: &str| {
        let view = RequestView {
            headers: &h,
            query: None,
            client_ip: Some(ip.parse().unwrap()),
        };
        p.identify(&view, || unreachable!())
            .new_device()
            .unwrap()
            .as_str()
            .to_string()
    };
    assert_eq!(id(&p, "10.1.2.3"), id(&p, "10.1.2.3"));
    assert_eq!(id(&p, "10.1.2.3"), id(&p, "::ffff:10.1.2.3"));
    assert_ne!(id(&p, "10.1.2.3"), id(&p, "10.1.2.4"));
    assert_ne!(id(&p, "10.1.2.3"), id(&q, "10.1.2.3"));
}

#[test]
fn buckets_are_stable_across_builds_and_releases() {
    // The bucket is part of the contract: the same device gets the same answer on every node and
    // after every upgrade. These values pin xxh3(salt="shop", id) mod 10000.
    let p = policy(TWO);
    let q = policy(TWO);
    for i in 0..1000 {
        assert_eq!(p.bucket(&device(i)), q.bucket(&device(i)));
    }
    assert_eq!(
        p.bucket("0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"),
        EXPECTED_BUCKET
    );
}

// Cross-checked with the reference xxHash (Python `xxhash`): xxh3_64(id, seed=xxh3_64(b"shop")) % 10000.
const EXPECTED_BUCKET: u16 = 1038;

#[test]
fn explain_lists_rules_tried() {
    let p = policy(&format!(
        "{TWO}rules:\n  - name: hdr\n    header: {{name: x-gray, present: true}}\n    version: gray\n  - percent: 100\n    version: gray\n"
    ));
    let h = headers(&[("cookie", "uuid=abc")]);
    let view = RequestView {
        headers: &h,
        query: None,
        client_ip: None,
    };
    let id = p.identify(&view, || unreachable!());
    let (tried, d) = p.explain(&view, &id);
    assert_eq!(tried, vec![("rule:hdr", false), ("percent", true)]);
    assert_eq!(
        d,
        Decision {
            version: 0,
            reason: Reason::Rule(1)
        }
    );
}

#[test]
fn config_errors_name_the_field() {
    let cases: &[(&str, &str)] = &[
        (
            "default: nope\nversions:\n  stable: {root: a}\n",
            "t.yaml:5:16: sites[0].release.default: no version named \"nope\"; the versions are [\"stable\"]",
        ),
        (
            &format!("{TWO}rules:\n  - version: gray\n"),
            "sites[0].release.rules[0]: a rule needs exactly one of pin, header, cookie, query, app_version, percent; found none",
        ),
        (
            &format!("{TWO}rules:\n  - {{version: gray, percent: 5, pin: {{uids: [1]}}}}\n"),
            "found pin and percent",
        ),
        (
            &format!("{TWO}rules:\n  - {{version: blue, percent: 5}}\n"),
            "sites[0].release.rules[0].version: no version named \"blue\"",
        ),
        (
            &format!("{TWO}rules:\n  - {{version: gray, percent: 101}}\n"),
            "sites[0].release.rules[0].percent: 101 is not a percentage from 0 to 100 with at most two decimals",
        ),
        (
            &format!("{TWO}rules:\n  - {{version: gray, percent: 0.001}}\n"),
            "0.001 is not a percentage",
        ),
        (
            &format!(
                "{TWO}rules:\n  - {{version: gray, percent: 60}}\n  - {{version: stable, percent: 50}}\n"
            ),
            "sites[0].release.rules: percentages add up to 110%, more than 100%",
        ),
        (
            &format!("{TWO}rules:\n  - version: gray\n    header: {{name: x, regex: \"(\"}}\n"),
            "sites[0].release.rules[0].header.regex: invalid regular expression",
        ),
        (
            &format!(
                "{TWO}rules:\n  - version: gray\n    header: {{name: x, equals: a, regex: b}}\n"
            ),
            "give exactly one of present, equals, one_of, regex",
        ),
        (
            &format!(
                "{TWO}rules:\n  - version: gray\n    header: {{name: \"bad name\", present: true}}\n"
            ),
            "\"bad name\" is not a valid header name",
        ),
        (
            &format!(
                "{TWO}rules:\n  - version: gray\n    app_version: {{header: x-v, gte: \"7.x\"}}\n"
            ),
            "app_version.gte: \"7.x\" is not a version like 7.3.1",
        ),
        (
            &format!("{TWO}rules:\n  - version: gray\n    app_version: {{gte: \"7\"}}\n"),
            "say where the version comes from",
        ),
        (
            &format!("{TWO}rules:\n  - version: gray\n    app_version: {{header: x-v}}\n"),
            "give at least one bound",
        ),
        (
            &format!(
                "{TWO}rules:\n  - version: gray\n    pin: {{uids_file: /nonexistent/uids.txt}}\n"
            ),
            "pin.uids_file: cannot read /nonexistent/uids.txt",
        ),
        (
            &format!(
                "{TWO}rules:\n  - {{name: a, version: gray, percent: 1}}\n  - {{name: a, version: gray, percent: 1}}\n"
            ),
            "rules[1].name: another rule is already named \"a\"",
        ),
        (
            &format!("{TWO}identity:\n  uid_cookie: \"a b\"\n"),
            "identity.uid_cookie: \"a b\" is not a valid cookie name",
        ),
        (
            "default: \"a b\"\nversions:\n  \"a b\": {root: a}\n",
            "version names may only use letters",
        ),
    ];
    for (yaml, want) in cases {
        let err = try_policy(yaml).expect_err(yaml);
        assert!(
            err.contains(want),
            "config:\n{yaml}\nwant: {want}\ngot:  {err}"
        );
    }
}

#[test]
fn large_pin_sets_load() {
    let dir = std::env::temp_dir().join(format!("graygate-pins-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("uids.txt");
    let ids: String = (0..100_000)
        .map(|i| format!("{}\n", 1_000_000 + i))
        .collect();
    std::fs::write(&file, format!("# testers\n\n{ids}")).unwrap();
    let p = policy(&format!(
        "{TWO}rules:\n  - pin: {{uids_file: {}}}\n    version: gray\n",
        file.display()
    ));
    assert_eq!(decide(&p, &[("cookie", "uid=1099999")]).1, "pin");
    assert_eq!(decide(&p, &[("cookie", "uid=999999")]).1, "default");
    std::fs::remove_dir_all(&dir).unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every device in at a lower percentage is in at any higher one, and the answer for a
    /// device does not change between evaluations or rebuilt policies.
    #[test]
    fn percentages_are_sticky_and_monotone(low in 0u32..=10_000, delta in 0u32..=10_000, salt in "[a-z]{0,8}", ids in prop::collection::vec("[0-9a-f]{32}", 1..200)) {
        let high = (low + delta).min(10_000);
        let yaml = |pct: u32| format!("{TWO}salt: \"{salt}\"\nrules:\n  - percent: {}\n    version: gray\n", f64::from(pct) / 100.0);
        let (p_low, p_high, p_again) = (policy(&yaml(low)), policy(&yaml(high)), policy(&yaml(low)));
        for id in &ids {
            let in_low = in_gray(&p_low, id);
            prop_assert_eq!(in_low, in_gray(&p_again, id));
            prop_assert_eq!(in_low, in_gray(&p_low, id));
            if in_low {
                prop_assert!(in_gray(&p_high, id));
            }
        }
    }

    /// Arbitrary cookie and header text never fails a decision; the answer is a known version.
    #[test]
    fn any_input_decides(cookie in "[ -~]{0,80}", header in "[ -~]{0,40}", query in "[ -~]{0,40}") {
        let p = policy(&format!("{TWO}rules:\n  - pin: {{uids: [\"1\"]}}\n    version: gray\n  - name: h\n    header: {{name: x-a, regex: \"^a+$\"}}\n    version: gray\n  - name: q\n    query: {{name: g, equals: \"1\"}}\n    version: gray\n  - name: v\n    app_version: {{user_agent: App, gte: \"1.2\"}}\n    version: gray\n  - percent: 50\n    version: gray\n"));
        let mut h = HeaderMap::new();
        if let Ok(v) = HeaderValue::from_str(&cookie) { h.insert(http::header::COOKIE, v.clone()); h.insert(http::header::USER_AGENT, v); }
        if let Ok(v) = HeaderValue::from_str(&header) { h.insert("x-a", v); }
        let (version, _) = decide_with(&p, &h, Some(&query));
        prop_assert!(version == "gray" || version == "stable");
    }
}
