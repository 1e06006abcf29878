//! Route lookups for arbitrary hosts and paths against a fixed table.
//!
//! Input: `host\npath` (no newline: the whole input is the host, path `/`).
#![no_main]

use graygate_config::Document;
use graygate_route::RouteTable;
use libfuzzer_sys::fuzz_target;
use std::sync::LazyLock;

const CONFIG: &str = r#"
sites:
  - {name: shop, hosts: [shop.example.com, "Shop2.Example.COM."], path_prefix: /, release: &r {default: a, versions: {a: {root: x}}}}
  - {name: api, hosts: [shop.example.com], path_prefix: /api, release: *r}
  - {name: api-v2, hosts: [shop.example.com], path_prefix: /api/v2/, release: *r}
  - {name: wild, hosts: ["*.example.com"], path_prefix: /, release: *r}
  - {name: wild-static, hosts: ["*.example.com"], path_prefix: /static, release: *r}
  - {name: eu, hosts: ["*.eu.example.com", "EU.example.org"], path_prefix: /, release: *r}
  - {name: any, hosts: ["*"], path_prefix: /, release: *r}
  - {name: admin, hosts: ["*"], path_prefix: /admin/, release: *r}
  - {name: underscore, hosts: [in_ternal.local, "10.0.0.1"], path_prefix: /x, release: *r}
"#;

/// The table, and how many hosts each site lists.
static TABLE: LazyLock<(RouteTable, Vec<usize>)> = LazyLock::new(|| {
    let doc = Document::from_text("route.yaml", CONFIG, ".");
    let config = doc.parse().unwrap_or_else(|e| panic!("{e}"));
    let table = RouteTable::build(&config.sites).unwrap_or_else(|e| panic!("{}", doc.locate(e)));
    let hosts = config.sites.iter().map(|s| s.hosts.len()).collect();
    (table, hosts)
});

fuzz_target!(|data: &[u8]| {
    let (table, sites) = &*TABLE;
    let text = String::from_utf8_lossy(data);
    let (host, path) = text.split_once('\n').unwrap_or((&text, "/"));
    let site = table.route(host, path);
    if let Some(route) = site {
        let hosts = sites.get(usize::from(route.site)).copied().unwrap_or(0);
        assert!(
            usize::from(route.host) < hosts,
            "{route:?} is not a configured host"
        );
    }
    if host.is_ascii() {
        let upper = host.to_ascii_uppercase();
        assert_eq!(
            table.route(&upper, path),
            site,
            "host {host:?} and {upper:?} route differently"
        );
    }
    if !host.contains(':') {
        let with_port = format!("{host}:8080");
        assert_eq!(
            table.route(&with_port, path),
            site,
            "host {host:?} and {with_port:?} route differently"
        );
    }
});
