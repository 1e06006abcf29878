//! The release decision against arbitrary requests.
//!
//! Input: the first line is the query string (`-` alone: no query); every further line is a
//! header `name: value` (invalid names or values are skipped). A header `x-fuzz-client-ip`
//! that parses as an address is used as the client address.
#![no_main]

use graygate_canary::{AppVersionNumber, DeviceId, Reason, ReleasePolicy, RequestView, cookie};
use graygate_config::{Document, FieldPath};
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;
use std::sync::LazyLock;
use std::time::{Duration, SystemTime};

const CONFIG: &str = r#"
sites:
  - name: shop
    hosts: ["*"]
    release:
      default: stable
      versions:
        stable: {root: a}
        gray: {root: b}
        beta: {root: c}
      identity:
        uid_cookie: uid
        uuid_cookie: {name: uuid, domain: example.com, secure: true, http_only: true}
        device_id_from_ip: {salt: fuzz-salt}
      rules:
        - pin: {uids: ["1001", "42"]}
          version: gray
        - name: tenant
          header: {name: X-Tenant, regex: "^t-(1|2)$"}
          version: gray
        - name: beta-cookie
          cookie: {name: beta, one_of: ["yes", "on"]}
          version: beta
        - name: q
          query: {name: gray, equals: "1"}
          version: gray
        - name: android-new
          app_version: {user_agent: MyApp, gte: "7.3.0", lt: "8"}
          version: beta
        - name: hdr-version
          app_version: {header: X-App-Version, gt: "7.9.3"}
          version: gray
        - name: build
          app_version: {regex: "Build/([0-9.]+)", gte: "2", lte: "3.1"}
          version: beta
        - percent: 12.5
          version: gray
"#;

static POLICY: LazyLock<ReleasePolicy> = LazyLock::new(|| {
    let doc = Document::from_text("decide.yaml", CONFIG, ".");
    let config = doc.parse().unwrap_or_else(|e| panic!("{e}"));
    let path = FieldPath::root().key("sites").index(0).key("release");
    ReleasePolicy::build(&config.sites[0].release, "shop", doc.base_dir(), &path)
        .unwrap_or_else(|e| panic!("{}", doc.locate(e)))
});

fuzz_target!(|data: &[u8]| {
    let policy = &*POLICY;
    let mut lines = data.split(|b| *b == b'\n');
    let query_line = lines.next().unwrap_or_default();
    let query = String::from_utf8_lossy(query_line);
    let query = (query != "-").then_some(&*query);

    let mut headers = HeaderMap::new();
    let mut client_ip = None;
    let mut cookie_names = vec![
        "uid".to_string(),
        "uuid".into(),
        "beta".into(),
        String::new(),
    ];
    for line in lines {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let value = value.strip_prefix(b" ").unwrap_or(value);
        let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        else {
            continue;
        };
        if let Ok(text) = value.to_str() {
            let _ = AppVersionNumber::parse(text);
            if name == "x-fuzz-client-ip" {
                client_ip = text.parse::<IpAddr>().ok();
            }
            if name == http::header::COOKIE {
                for pair in text.split(';') {
                    let key = pair.split_once('=').map_or(pair, |(k, _)| k);
                    cookie_names.push(key.trim().to_string());
                }
            }
        }
        headers.append(name, value);
    }
    if let Some(q) = query {
        let _ = AppVersionNumber::parse(q);
    }
    for name in &cookie_names {
        if let Some(v) = cookie(&headers, name) {
            let _ = AppVersionNumber::parse(v);
        }
    }

    let view = RequestView {
        headers: &headers,
        query,
        client_ip,
    };
    let fresh = DeviceId::v4([data.len() as u8; 16]);
    let identity = policy.identify(&view, || fresh);
    let decision = policy.decide(&view, &identity);
    let (tried, explained) = policy.explain(&view, &identity);
    assert_eq!(decision, explained, "decide and explain disagree");
    match tried.last() {
        Some((_, true)) => {
            assert!(matches!(decision.reason, Reason::Rule(i) if usize::from(i) == tried.len() - 1))
        }
        _ => assert_eq!(
            (decision.reason, decision.version),
            (Reason::Default, policy.default_version())
        ),
    }
    assert!(
        tried[..tried.len().saturating_sub(1)]
            .iter()
            .all(|(_, m)| !m)
    );
    assert!(usize::from(decision.version) < policy.versions().len());
    assert!(!policy.version_name(decision.version).is_empty());
    assert!(!policy.reason_label(decision.reason).is_empty());
    if let Some(id) = identity.new_device() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let _ = policy.device_cookie(id, now);
    }
    // Same request, same answer.
    let again = policy.identify(&view, || fresh);
    assert_eq!(policy.decide(&view, &again), decision);
});
