//! The admin API against a running gateway: every endpoint, rejected changes leaving the old
//! configuration serving, tokens and CSRF, changes under load served by consistent snapshots,
//! persistence across kill -9, and how the file and admin changes combine.

mod common;
use common::*;
use serde_json::{Value, json};
use std::process::Command;

const TOKEN: &str = "t0ken-for-tests";

fn config(stable: &Origin, gray: &Origin) -> String {
    format!(
        r#"sites:
  - name: shop
    hosts: ["shop.example.com"]
    version_header: true
    release:
      default: stable
      versions:
        stable: {{upstream: {{servers: ["{}"]}}}}
        gray: {{upstream: {{servers: ["{}"]}}}}
      rules:
        - pin: {{uids: ["1001"]}}
          version: gray
        - name: qa
          header: {{name: X-Gray, present: true}}
          version: gray
        - percent: 0
          version: gray
"#,
        stable.addr, gray.addr
    )
}

fn start(config: &str, state: Option<&std::path::Path>) -> Gateway {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("graygate.yaml");
    std::fs::write(&path, config).expect("config");
    start_at(dir, &path, state)
}

fn start_at(
    dir: tempfile::TempDir,
    path: &std::path::Path,
    state: Option<&std::path::Path>,
) -> Gateway {
    Gateway::launch(dir, Some(path), state, &[("GRAYGATE_ADMIN_TOKEN", TOKEN)])
}

/// An API call with the token and the CSRF header; returns status and JSON (or text) body.
fn api(gw: &Gateway, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    gw.api(TOKEN, method, path, body)
}

fn proxied(gw: &Gateway, cookie: &str) -> Reply {
    let mut c = Client::connect(gw.addr);
    c.send_raw(
        format!("GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: {cookie}\r\n\r\n").as_bytes(),
    );
    c.read_reply(false).expect("reply")
}

#[test]
fn every_endpoint() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = start(&config(&stable, &gray), None);
    let admin = gw.admin.expect("admin");

    assert_eq!(get(admin, "/healthz", &[]).text(), "ok\n");
    assert_eq!(get(admin, "/readyz", &[]).status, 200);
    let page = get(admin, "/", &[]);
    assert!(
        page.header("content-security-policy")
            .is_some_and(|c| c.contains("script-src 'self'"))
    );
    assert!(page.text().contains("app.js"));
    let openapi: Value = serde_json::from_slice(&get(admin, "/api/v1/openapi.json", &[]).body)
        .expect("openapi JSON");
    assert_eq!(openapi["openapi"], "3.0.3");
    assert!(
        openapi["paths"]["/sites/{site}/release/versions/{version}/percent"]["put"].is_object()
    );

    let (status, sites) = api(&gw, "GET", "/sites", None);
    assert_eq!((status, sites["revision"].as_u64()), (200, Some(1)));
    assert_eq!(sites["sites"][0]["name"], "shop");
    let (_, site) = api(&gw, "GET", "/sites/shop", None);
    assert_eq!(site["release"]["default"], "stable");
    assert_eq!(api(&gw, "GET", "/sites/nope", None).0, 404);
    let (_, release) = api(&gw, "GET", "/sites/shop/release", None);
    assert_eq!(release["rules"].as_array().map(Vec::len), Some(3));

    // Percentages: applied at once to new requests.
    let (status, rev) = api(
        &gw,
        "PUT",
        "/sites/shop/release/versions/gray/percent",
        Some(json!({"percent": 100})),
    );
    assert_eq!((status, rev["revision"].as_u64()), (200, Some(2)));
    let reply = proxied(&gw, "uuid=device-1");
    assert_eq!(
        (
            reply.text().as_str(),
            reply.header("x-graygate-reason"),
            reply.header("x-graygate-revision")
        ),
        ("gray", Some("percent"), Some("2"))
    );
    assert_eq!(
        api(&gw, "POST", "/sites/shop/release/rollback", None).1["revision"],
        3
    );
    assert_eq!(proxied(&gw, "uuid=device-1").text(), "stable");

    // Pins: add (bulk), list, remove.
    assert_eq!(
        api(
            &gw,
            "POST",
            "/sites/shop/release/pins",
            Some(json!({"version": "gray", "uids": ["7", "8", " 9 "]}))
        )
        .0,
        200
    );
    let (_, pins) = api(&gw, "GET", "/sites/shop/release/pins", None);
    assert_eq!(pins["pins"]["gray"], json!(["1001", "7", "8", "9"]));
    assert_eq!(
        proxied(&gw, "uid=8; uuid=x").header("x-graygate-reason"),
        Some("pin")
    );
    assert_eq!(
        api(
            &gw,
            "DELETE",
            "/sites/shop/release/pins",
            Some(json!({"uids": ["8"]}))
        )
        .0,
        200
    );
    assert_eq!(
        proxied(&gw, "uid=8; uuid=x").header("x-graygate-reason"),
        Some("default")
    );
    // Pinning to another version moves the uid.
    api(
        &gw,
        "POST",
        "/sites/shop/release/pins",
        Some(json!({"version": "stable", "uids": ["7"]})),
    );
    let (_, pins) = api(&gw, "GET", "/sites/shop/release/pins", None);
    assert_eq!(
        (pins["pins"]["gray"].clone(), pins["pins"]["stable"].clone()),
        (json!(["1001", "9"]), json!(["7"]))
    );

    // Rules, release and site replaced whole.
    let rules =
        json!([{"name": "beta", "cookie": {"name": "beta", "equals": "1"}, "version": "gray"}]);
    assert_eq!(
        api(&gw, "PUT", "/sites/shop/release/rules", Some(rules)).0,
        200
    );
    assert_eq!(
        proxied(&gw, "beta=1; uuid=x").header("x-graygate-reason"),
        Some("rule:beta")
    );
    let mut release = api(&gw, "GET", "/sites/shop/release", None).1;
    release["default"] = json!("gray");
    assert_eq!(api(&gw, "PUT", "/sites/shop/release", Some(release)).0, 200);
    assert_eq!(proxied(&gw, "uuid=x").text(), "gray");
    let mut new_site = api(&gw, "GET", "/sites/shop", None).1;
    new_site["name"] = json!("blog");
    new_site["hosts"] = json!(["blog.example.com"]);
    assert_eq!(
        api(&gw, "PUT", "/sites/blog", Some(new_site.clone())).0,
        200
    );
    assert_eq!(
        api(&gw, "GET", "/sites", None).1["sites"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    assert_eq!(
        api(&gw, "PUT", "/sites/other", Some(new_site)).0,
        422,
        "name mismatch"
    );
    assert_eq!(api(&gw, "DELETE", "/sites/blog", None).0, 200);

    // Upstreams.
    let (_, upstreams) = api(&gw, "GET", "/upstreams", None);
    assert_eq!(upstreams.as_array().map(Vec::len), Some(2));
    assert_eq!(upstreams[0]["name"], "shop/gray");
    let swapped = json!({"servers": [stable.addr.to_string()]});
    assert_eq!(
        api(
            &gw,
            "PUT",
            "/sites/shop/release/versions/gray/upstream",
            Some(swapped)
        )
        .0,
        200
    );
    assert_eq!(
        proxied(&gw, "uuid=x").text(),
        "stable",
        "gray's upstream now points at the stable origin"
    );

    // Revisions: list, show, roll back.
    let (_, revisions) = api(&gw, "GET", "/revisions", None);
    let current = revisions["current"].as_u64().expect("current");
    let list = revisions["revisions"].as_array().expect("list");
    assert_eq!(list[0]["revision"].as_u64(), Some(current));
    assert_eq!(list.last().map(|r| r["actor"].clone()), Some(json!("file")));
    assert_eq!(list[0]["actor"], "admin");
    let (_, first) = api(&gw, "GET", "/revisions/1", None);
    assert_eq!(first["sites"][0]["release"]["default"], "stable");
    let (status, rolled) = api(&gw, "POST", "/revisions/1/rollback", None);
    assert_eq!(
        (status, rolled["revision"].as_u64()),
        (200, Some(current + 1))
    );
    assert_eq!(proxied(&gw, "uuid=x").text(), "stable");
    assert_eq!(
        proxied(&gw, "uid=8; uuid=x").header("x-graygate-reason"),
        Some("default")
    );
    assert_eq!(api(&gw, "GET", "/revisions/999", None).0, 404);

    // Stats.
    let (_, stats) = api(&gw, "GET", "/stats", None);
    assert!(
        stats["sites"]["shop"]["stable"]["requests"]
            .as_u64()
            .is_some_and(|n| n > 0)
    );
    assert_eq!(stats["bucket_bounds"].as_array().map(Vec::len), Some(13));
}

#[test]
fn explain_and_decide_agree_with_real_requests() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = start(&config(&stable, &gray), None);
    api(
        &gw,
        "PUT",
        "/sites/shop/release/versions/gray/percent",
        Some(json!({"percent": 30})),
    );
    for i in 0..200 {
        let uuid = format!("device-{i}");
        let real = proxied(&gw, &format!("uuid={uuid}"));
        let (status, explained) = api(
            &gw,
            "POST",
            "/explain",
            Some(json!({"host": "shop.example.com", "path": "/", "uuid": uuid})),
        );
        assert_eq!(status, 200, "{explained}");
        assert_eq!(
            explained["version"].as_str(),
            real.header("x-graygate-version"),
            "{explained}"
        );
        assert_eq!(
            explained["reason"].as_str(),
            real.header("x-graygate-reason")
        );
        let decided = request(
            gw.admin.expect("admin"),
            "GET",
            &format!("/api/v1/decide?site=shop&uuid={uuid}&account_id="),
            &[&format!("Authorization: Bearer {TOKEN}")],
            "",
        );
        assert_eq!(
            Some(decided.text().as_str()),
            real.header("x-graygate-version")
        );
    }
    let (_, pinned) = api(
        &gw,
        "POST",
        "/explain",
        Some(json!({"host": "shop.example.com", "uid": "1001", "uuid": "x"})),
    );
    assert_eq!(
        (pinned["version"].as_str(), pinned["reason"].as_str()),
        (Some("gray"), Some("pin"))
    );
    assert_eq!(pinned["rules"][0], json!({"name": "pin", "matched": true}));
    let (_, header) = api(
        &gw,
        "POST",
        "/explain",
        Some(json!({"host": "shop.example.com", "headers": {"X-Gray": "1"}, "uuid": "x"})),
    );
    assert_eq!(
        header["rules"],
        json!([{"name": "pin", "matched": false}, {"name": "rule:qa", "matched": true}])
    );
    let (_, new_device) = api(
        &gw,
        "POST",
        "/explain",
        Some(json!({"host": "shop.example.com"})),
    );
    assert_eq!(new_device["new_device"], true);
    assert_eq!(
        api(
            &gw,
            "POST",
            "/explain",
            Some(json!({"host": "nobody.example"}))
        )
        .0,
        404
    );
    let decided = request(
        gw.admin.expect("admin"),
        "GET",
        "/api/v1/decide?site=shop&account_id=1001&uuid=abc",
        &[&format!("Authorization: Bearer {TOKEN}")],
        "",
    );
    assert_eq!((decided.status, decided.text().as_str()), (200, "gray"));
}

#[test]
fn rejected_changes_leave_the_running_configuration() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = start(&config(&stable, &gray), None);
    let (status, error) = api(
        &gw,
        "PUT",
        "/sites/shop/release/versions/gray/percent",
        Some(json!({"percent": 120})),
    );
    assert_eq!(status, 422);
    assert_eq!(
        error["error"]["errors"][0]["path"],
        "/sites/0/release/rules/2/percent"
    );
    assert!(
        error["error"]["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("120 is not a percentage"))
    );
    let bad_rules = json!([{"version": "blue", "percent": 5}, {"version": "gray", "header": {"name": "x", "regex": "("}}]);
    let (status, error) = api(&gw, "PUT", "/sites/shop/release/rules", Some(bad_rules));
    assert_eq!(status, 422);
    let paths: Vec<&str> = error["error"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str())
        .collect();
    assert_eq!(
        paths,
        [
            "/sites/0/release/rules/0/version",
            "/sites/0/release/rules/1/header/regex"
        ]
    );
    let (status, error) = api(
        &gw,
        "PUT",
        "/sites/shop/release",
        Some(json!({"default": "stable", "versions": {}, "surprise": 1})),
    );
    assert_eq!(status, 422);
    assert!(error["error"]["message"].as_str().is_some());
    assert_eq!(
        api(
            &gw,
            "PUT",
            "/sites/shop/release/versions/nope/percent",
            Some(json!({"percent": 5}))
        )
        .0,
        404
    );
    // Nothing moved.
    assert_eq!(api(&gw, "GET", "/revisions", None).1["current"], 1);
    assert_eq!(
        proxied(&gw, "uuid=x").header("x-graygate-revision"),
        Some("1")
    );
    // Counted: the changes that reached validation (the malformed body did not).
    assert_eq!(
        gw.metric(r#"graygate_admin_changes_total{result="rejected"}"#),
        3
    );
}

#[test]
fn tokens_and_csrf() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = start(&config(&stable, &gray), None);
    let admin = gw.admin.expect("admin");
    assert_eq!(get(admin, "/api/v1/sites", &[]).status, 401);
    assert_eq!(
        get(admin, "/api/v1/sites", &["Authorization: Bearer wrong"]).status,
        401
    );
    assert_eq!(
        get(
            admin,
            "/api/v1/sites",
            &[&format!("Authorization: Bearer {TOKEN}x")]
        )
        .status,
        401
    );
    assert_eq!(gw.metric("graygate_admin_auth_failures_total"), 3);
    assert_eq!(
        get(admin, "/healthz", &[]).status,
        200,
        "health needs no token"
    );
    let auth = format!("Authorization: Bearer {TOKEN}");
    let body = r#"{"percent": 50}"#;
    let path = "/api/v1/sites/shop/release/versions/gray/percent";
    let no_csrf = request(
        admin,
        "PUT",
        path,
        &[&auth, "Content-Type: application/json"],
        body,
    );
    assert_eq!(no_csrf.status, 403);
    let form = request(
        admin,
        "PUT",
        path,
        &[
            &auth,
            "X-Graygate-Request: 1",
            "Content-Type: application/x-www-form-urlencoded",
        ],
        body,
    );
    assert_eq!(form.status, 415);
    let cross = request(
        admin,
        "PUT",
        path,
        &[
            &auth,
            "X-Graygate-Request: 1",
            "Content-Type: application/json",
            "Origin: http://evil.example",
        ],
        body,
    );
    assert_eq!(cross.status, 403);
    assert_eq!(
        api(&gw, "GET", "/revisions", None).1["current"],
        1,
        "no refused request changed anything"
    );
    let same = request(
        admin,
        "PUT",
        path,
        &[
            &auth,
            "X-Graygate-Request: 1",
            "Content-Type: application/json",
            &format!("Origin: http://{admin}"),
        ],
        body,
    );
    assert_eq!(same.status, 200);
}

#[test]
fn a_public_admin_listener_needs_a_token() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("g.yaml");
    std::fs::write(&path, "admin: {listen: \"0.0.0.0:0\"}\nsites:\n  - name: s\n    hosts: [\"*\"]\n    release: {default: v, versions: {v: {root: .}}}\n").expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_graygate"))
        .args([
            "run",
            "--listen",
            "127.0.0.1:0",
            "--metrics-listen",
            "127.0.0.1:0",
            "--config",
        ])
        .arg(&path)
        .env_remove("GRAYGATE_ADMIN_TOKEN")
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("is not on loopback: set a token"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_hundred_changes_under_traffic_without_a_failed_or_mixed_request() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = std::sync::Arc::new(start(&config(&stable, &gray), None));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut traffic = Vec::new();
    for t in 0..3 {
        let (gw, stop) = (gw.clone(), stop.clone());
        traffic.push(std::thread::spawn(move || {
            let mut seen = Vec::new();
            let mut c = Client::connect(gw.addr);
            let mut i = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                c.send_raw(
                    format!(
                        "GET / HTTP/1.1\r\nHost: shop.example.com\r\nCookie: uuid=t{t}-{i}\r\n\r\n"
                    )
                    .as_bytes(),
                );
                let reply = c.read_reply(false).expect("a response");
                assert_eq!(reply.status, 200);
                let revision: u64 = reply
                    .header("x-graygate-revision")
                    .and_then(|r| r.parse().ok())
                    .expect("revision");
                seen.push((
                    revision,
                    reply.text(),
                    reply.header("x-graygate-version").map(str::to_string),
                ));
                i += 1;
            }
            seen
        }));
    }
    // Revision r serves everyone gray when r is even, no one when odd.
    for i in 0..100 {
        let percent = if i % 2 == 0 { 100 } else { 0 };
        let (status, rev) = api(
            &gw,
            "PUT",
            "/sites/shop/release/versions/gray/percent",
            Some(json!({"percent": percent})),
        );
        assert_eq!(status, 200);
        assert_eq!(rev["revision"].as_u64(), Some(i + 2));
        // New requests see the change at once.
        assert_eq!(
            proxied(&gw, "uuid=probe").header("x-graygate-revision"),
            Some((i + 2).to_string().as_str())
        );
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut total = 0;
    let mut revisions = std::collections::BTreeSet::new();
    for t in traffic {
        for (revision, body, version) in t.join().expect("traffic thread") {
            let expected = if revision == 1 || revision % 2 == 1 {
                "stable"
            } else {
                "gray"
            };
            assert_eq!(body, expected, "revision {revision} answered from {body}");
            assert_eq!(version.as_deref(), Some(expected));
            revisions.insert(revision);
            total += 1;
        }
    }
    assert!(
        total > 300 && revisions.len() > 10,
        "{total} requests over {} revisions",
        revisions.len()
    );
}

#[test]
fn kill_9_mid_burst_keeps_the_last_acknowledged_revision() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let state = tempfile::tempdir().expect("state");
    let cfg = tempfile::tempdir().expect("dir");
    let path = cfg.path().join("graygate.yaml");
    std::fs::write(&path, config(&stable, &gray)).expect("config");
    let gw = start_at(tempfile::tempdir().expect("dir"), &path, Some(state.path()));
    let mut acknowledged = 0;
    let killer = {
        let pid = gw.pid();
        std::thread::spawn(move || {
            std::thread::sleep(std::time::Duration::from_millis(400));
            Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status()
                .expect("kill")
        })
    };
    for i in 0..10_000 {
        let auth = format!("Authorization: Bearer {TOKEN}");
        let body = format!("{{\"percent\": {}}}", i % 100);
        let admin = gw.admin.expect("admin");
        let attempt = std::panic::catch_unwind(|| {
            request(
                admin,
                "PUT",
                "/api/v1/sites/shop/release/versions/gray/percent",
                &[
                    &auth,
                    "X-Graygate-Request: 1",
                    "Content-Type: application/json",
                ],
                &body,
            )
        });
        match attempt {
            Ok(reply) if reply.status == 200 => {
                let rev: Value = serde_json::from_slice(&reply.body).expect("json");
                acknowledged = rev["revision"].as_u64().expect("revision");
            }
            _ => break,
        }
    }
    killer.join().expect("killer");
    assert!(
        acknowledged > 2,
        "the burst made {acknowledged} revisions before the kill"
    );
    drop(gw);
    // Restart on the same state: the last acknowledged revision (or the one in flight at the
    // kill, which was on disk but not yet answered) serves.
    let gw = start_at(tempfile::tempdir().expect("dir"), &path, Some(state.path()));
    let (_, revisions) = api(&gw, "GET", "/revisions", None);
    let current = revisions["current"].as_u64().expect("current");
    assert!(
        current == acknowledged || current == acknowledged + 1,
        "restarted at {current}, {acknowledged} acknowledged"
    );
    let (_, old) = api(&gw, "GET", &format!("/revisions/{acknowledged}"), None);
    assert_eq!(old["revision"].as_u64(), Some(acknowledged));
    let audit = std::fs::read_to_string(state.path().join("audit.log")).expect("audit log");
    assert_eq!(
        audit.lines().count() as u64,
        current,
        "one audit line per revision"
    );
    assert_eq!(
        proxied(&gw, "uuid=x").header("x-graygate-revision"),
        Some(current.to_string().as_str())
    );
}

#[test]
fn the_latest_change_wins_between_file_and_api() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let state = tempfile::tempdir().expect("state");
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("graygate.yaml");
    std::fs::write(&path, config(&stable, &gray)).expect("config");
    let gw = start_at(tempfile::tempdir().expect("dir"), &path, Some(state.path()));
    api(
        &gw,
        "PUT",
        "/sites/shop/release/versions/gray/percent",
        Some(json!({"percent": 100})),
    );
    drop(gw);
    // Restart, file unchanged: the API's change stays.
    let gw = start_at(tempfile::tempdir().expect("dir"), &path, Some(state.path()));
    assert_eq!(proxied(&gw, "uuid=x").text(), "gray");
    assert_eq!(api(&gw, "GET", "/revisions", None).1["current"], 2);
    drop(gw);
    // The file changed while graygate was down: it wins, as a new revision.
    std::fs::write(
        &path,
        config(&stable, &gray).replace("percent: 0", "percent: 0.01"),
    )
    .expect("config");
    let gw = start_at(tempfile::tempdir().expect("dir"), &path, Some(state.path()));
    assert_eq!(proxied(&gw, "uuid=x").text(), "stable");
    let (_, revisions) = api(&gw, "GET", "/revisions", None);
    assert_eq!(revisions["current"], 3);
    assert_eq!(revisions["revisions"][0]["actor"], "file");
    // The state directory holds the JSON state, revisions, the audit log and (sealed) certificates.
    let names: Vec<String> = std::fs::read_dir(state.path())
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .collect();
    assert!(
        names
            .iter()
            .all(|n| ["state.json", "revisions", "certs", "audit.log"].contains(&n.as_str())),
        "{names:?}"
    );
    drop(dir);
}

#[test]
fn the_api_cannot_name_new_server_paths() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = start(&config(&stable, &gray), None);
    let rules = json!([{"pin": {"uids_file": "/proc/self/environ"}, "version": "gray"}]);
    let (status, error) = api(&gw, "PUT", "/sites/shop/release/rules", Some(rules));
    assert_eq!(status, 422);
    assert_eq!(
        error["error"]["errors"][0]["path"],
        "/sites/0/release/rules/0/pin/uids_file"
    );
    assert!(
        !error.to_string().contains("GRAYGATE"),
        "no file content in errors: {error}"
    );
    let mut site = api(&gw, "GET", "/sites/shop", None).1;
    site["release"]["versions"]["stable"] = json!({"root": "/etc"});
    assert_eq!(api(&gw, "PUT", "/sites/shop", Some(site)).0, 422);
    assert_eq!(api(&gw, "GET", "/revisions", None).1["current"], 1);
}

#[test]
fn without_a_token_only_loopback_host_names_are_answered() {
    let (stable, gray) = (Origin::start("stable"), Origin::start("gray"));
    let gw = Gateway::start(&config(&stable, &gray));
    let admin = gw.admin.expect("admin");
    let mut c = Client::connect(admin);
    c.send_raw(b"GET /api/v1/sites HTTP/1.1\r\nHost: rebound.evil.example:9180\r\n\r\n");
    assert_eq!(
        c.read_reply(false).expect("reply").status,
        403,
        "DNS rebinding"
    );
    assert_eq!(
        request(admin, "GET", "/api/v1/sites", &[], "").status,
        200,
        "Host 127.0.0.1:port is fine"
    );
}
