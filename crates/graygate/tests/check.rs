//! `graygate check` and `graygate run` on configurations with mistakes: every kind of mistake
//! is reported with file:line:column, the field path and what is expected.

mod common;
use common::*;

const GOOD: &str = r#"listen: ["127.0.0.1:0"]
sites:
  - name: shop
    hosts: ["shop.example.com"]
    release:
      default: stable
      versions:
        stable: {upstream: {servers: ["127.0.0.1:9001"]}}
        gray: {upstream: {servers: ["127.0.0.1:9002"]}}
      rules:
        - pin: {uids: ["1001"]}
          version: gray
        - percent: 20
          version: gray
"#;

#[test]
fn a_valid_file_passes() {
    let (ok, out) = check(GOOD);
    assert!(ok, "{out}");
    assert_eq!(out.trim(), "graygate.yaml: ok (1 sites, 2 versions)");
}

#[test]
fn each_kind_of_mistake_is_located() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "yaml syntax",
            "sites: [\n",
            "graygate.yaml:1:8: sites: unclosed bracket '['",
        ),
        (
            "unknown field",
            &GOOD.replace("    hosts:", "    hostnames:"),
            "graygate.yaml:4:5: sites[0].hostnames: unknown field `hostnames`, expected one of",
        ),
        (
            "wrong type",
            &GOOD.replace("percent: 20", "percent: lots"),
            "graygate.yaml:13:20: sites[0].release.rules[1].percent: invalid floating point",
        ),
        (
            "missing field",
            &GOOD.replace("      default: stable\n", ""),
            "graygate.yaml:6:7: sites[0].release: missing field `default`",
        ),
        (
            "duplicate key",
            &GOOD.replace("        gray: {", "        stable: {"),
            "graygate.yaml:9:9: sites[0].release.versions.stable: duplicate mapping key",
        ),
        (
            "unknown default",
            &GOOD.replace("default: stable", "default: blue"),
            "graygate.yaml:6:16: sites[0].release.default: no version named \"blue\"; the versions are [\"gray\", \"stable\"]",
        ),
        (
            "unknown rule target",
            &GOOD.replace(
                "          version: gray\n        - percent",
                "          version: grey\n        - percent",
            ),
            "graygate.yaml:12:20: sites[0].release.rules[0].version: no version named \"grey\"",
        ),
        (
            "two matchers",
            &GOOD.replace(
                "- percent: 20\n          version: gray",
                "- {percent: 20, version: gray, header: {name: x, present: true}}",
            ),
            "graygate.yaml:13:11: sites[0].release.rules[1]: a rule needs exactly one of pin, header, cookie, query, app_version, percent; found header and percent",
        ),
        (
            "percent out of range",
            &GOOD.replace("percent: 20", "percent: 120"),
            "graygate.yaml:13:20: sites[0].release.rules[1].percent: 120 is not a percentage from 0 to 100",
        ),
        (
            "bad regex",
            &GOOD.replace(
                "- percent: 20",
                "- header: {name: x-tenant, regex: \"[a-\"}",
            ),
            "graygate.yaml:13:43: sites[0].release.rules[1].header.regex: invalid regular expression",
        ),
        (
            "root and upstream",
            &GOOD.replace(
                "stable: {upstream: {servers: [\"127.0.0.1:9001\"]}}",
                "stable: {root: www, upstream: {servers: [\"127.0.0.1:9001\"]}}",
            ),
            "graygate.yaml:8:17: sites[0].release.versions.stable: a version needs exactly one of `root` (a directory) or `upstream` (servers)",
        ),
        (
            "missing root dir",
            &GOOD.replace(
                "stable: {upstream: {servers: [\"127.0.0.1:9001\"]}}",
                "stable: {root: no-such-dir}",
            ),
            "graygate.yaml:8:24: sites[0].release.versions.stable.root: static root ",
        ),
        (
            "bad server",
            &GOOD.replace("127.0.0.1:9002", "nowhere"),
            "graygate.yaml:9:37: sites[0].release.versions.gray.upstream.servers[0]: \"nowhere\" is not a `host:port` address",
        ),
        (
            "bad listen",
            &GOOD.replace("127.0.0.1:0", "127.0.0.1"),
            "graygate.yaml:1:10: listen[0]: invalid socket address syntax",
        ),
        (
            "bad host",
            &GOOD.replace("shop.example.com", "shop example"),
            "graygate.yaml:4:13: sites[0].hosts[0]: \"shop example\" is not a host name",
        ),
        (
            "header limit too small",
            &format!("{GOOD}server:\n  max_header_bytes: 100\n"),
            "graygate.yaml:16:21: server.max_header_bytes: must be at least 8192",
        ),
    ];
    for (name, config, want) in cases {
        let (ok, out) = check(config);
        assert!(!ok, "{name}: accepted");
        assert!(out.starts_with(want), "{name}:\nwant: {want}\ngot:  {out}");
    }
}

#[test]
fn all_errors_are_reported_at_once() {
    let config = GOOD
        .replace("default: stable", "default: blue")
        .replace("percent: 20", "percent: 120");
    let (ok, out) = check(&config);
    assert!(!ok);
    assert_eq!(out.lines().count(), 2, "{out}");
}

#[test]
fn run_refuses_an_invalid_file() {
    let dir = tempfile::tempdir().expect("dir");
    let path = dir.path().join("bad.yaml");
    std::fs::write(&path, GOOD.replace("default: stable", "default: blue")).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graygate"))
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("sites[0].release.default: no version named \"blue\""),
        "{stderr}"
    );
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
}

#[test]
fn version_subcommand() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_graygate"))
        .arg("version")
        .output()
        .expect("run");
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("graygate {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn worker_cpus_must_name_one_usable_cpu_per_worker() {
    let (ok, out) = check(&format!("workers: 2\nworker_cpus: [0, 4096]\n{GOOD}"));
    assert!(!ok);
    assert!(
        out.contains(
            "graygate.yaml:2:18: worker_cpus[1]: CPU 4096 is not one this process may use"
        ),
        "{out}"
    );
    let (ok, out) = check(&format!("workers: 2\nworker_cpus: [0]\n{GOOD}"));
    assert!(!ok);
    assert!(
        out.contains("worker_cpus: give one CPU per worker: 1 entries for 2 workers"),
        "{out}"
    );
}
