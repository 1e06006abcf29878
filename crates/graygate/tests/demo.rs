//! The embedded demo, driven as a new user would: new devices, returning devices, the pinned
//! tester, and the cookie attributes.

mod common;
use common::*;

#[test]
fn demo_serves_both_versions_by_rule() {
    let gw = Gateway::demo();

    // A new device: a page naming its version, a uuid cookie with Path and Expires, same response.
    let first = get(gw.addr, "/", &[]);
    assert_eq!(first.status, 200);
    let version = first
        .header("x-graygate-version")
        .expect("version header")
        .to_string();
    assert!(version == "1.0.0" || version == "1.1.0");
    assert!(
        first
            .text()
            .contains(&format!("<span id=\"version\">{version}</span>"))
    );
    let cookie = first
        .header("set-cookie")
        .expect("a new device gets a cookie");
    assert!(cookie.starts_with("uuid="), "{cookie}");
    assert!(cookie.contains("; Path=/"), "{cookie}");
    assert!(cookie.contains("; Expires="), "{cookie}");
    let uuid = set_cookies(&first)["uuid"].clone();
    assert_eq!(uuid.len(), 36);

    // Returning: same version every time, no new cookie.
    for _ in 0..20 {
        let again = get(gw.addr, "/", &[&format!("Cookie: uuid={uuid}")]);
        assert_eq!(again.header("x-graygate-version"), Some(version.as_str()));
        assert!(again.header("set-cookie").is_none());
    }

    // The pinned tester gets 1.1.0 whatever the device.
    let pinned = get(gw.addr, "/", &[&format!("Cookie: uid=1001; uuid={uuid}")]);
    assert_eq!(pinned.header("x-graygate-version"), Some("1.1.0"));
    assert_eq!(pinned.header("x-graygate-reason"), Some("pin"));
    assert!(pinned.text().contains("1.1.0"));

    // Assets of the chosen version come from the same root.
    let css = get(gw.addr, "/style.css", &[&format!("Cookie: uuid={uuid}")]);
    assert_eq!(css.status, 200);
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
}

#[test]
fn demo_sends_a_fifth_of_new_devices_to_the_new_version() {
    let gw = Gateway::demo();
    let mut client = Client::connect(gw.addr);
    let n = 3000;
    let mut gray = 0;
    let mut ids = std::collections::HashSet::new();
    for _ in 0..n {
        let reply = client.get("/", &[]);
        let uuid = set_cookies(&reply)["uuid"].clone();
        assert!(ids.insert(uuid), "device ids must be unique");
        if reply.header("x-graygate-version") == Some("1.1.0") {
            assert_eq!(reply.header("x-graygate-reason"), Some("percent"));
            gray += 1;
        }
    }
    let share = f64::from(gray) * 100.0 / f64::from(n);
    // 3000 draws at p=0.2: standard deviation 0.73 points; 3 points is over 4 sigma.
    assert!(
        (share - 20.0).abs() < 3.0,
        "{share}% of new devices on 1.1.0"
    );
}

#[test]
fn demo_stops_cleanly_on_sigterm() {
    let gw = Gateway::demo();
    assert_eq!(get(gw.addr, "/", &[]).status, 200);
    assert!(gw.terminate().success());
}
