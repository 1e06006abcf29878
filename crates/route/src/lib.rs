//! The route phase: which site answers a request, by host and path prefix.
//!
//! Sits after the HTTP layer has parsed a request and before the release decision. Built once
//! per configuration into a [`RouteTable`]; a lookup allocates nothing. Hosts match like nginx
//! `server_name`: exact names first, then the longest leading wildcard (`*.example.com`, which
//! matches any depth of subdomain but not `example.com` itself), then the catch-all `*`. Within
//! a host, the longest path prefix that ends at a `/` boundary wins.

use graygate_config::{FieldError, FieldPath, Site};
use std::collections::HashMap;

/// Index of a site in the configuration's `sites` list.
pub type SiteId = u16;

/// Which site answers, and which of its configured `hosts` entries matched (the `host` label of
/// metrics: always a configured name, never what a client sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    pub site: SiteId,
    pub host: u16,
}

#[derive(Debug, Default)]
pub struct RouteTable {
    exact: HashMap<Box<str>, Prefixes>,
    /// Suffixes including the leading dot (`.example.com`), longest first.
    wildcard: Vec<(Box<str>, Prefixes)>,
    any: Prefixes,
}

/// Path prefixes of one host, longest first.
#[derive(Debug, Default)]
struct Prefixes(Vec<(Box<str>, Route)>);

impl RouteTable {
    /// Builds the table; two sites claiming the same host and prefix is an error.
    pub fn build(sites: &[Site]) -> Result<RouteTable, Vec<FieldError>> {
        let mut table = RouteTable::default();
        let mut errors = Vec::new();
        let mut wildcard: HashMap<Box<str>, Prefixes> = HashMap::new();
        let mut seen: HashMap<(String, String), usize> = HashMap::new();
        if sites.len() > usize::from(SiteId::MAX) {
            errors.push(FieldPath::root().key("sites").error("too many sites"));
        }
        for (i, site) in sites.iter().enumerate() {
            let at = FieldPath::root().key("sites").index(i);
            let prefix = site.path_prefix.as_deref().unwrap_or("/");
            if !prefix.starts_with('/') || prefix.contains(['?', '#', ' ']) {
                errors.push(at.key("path_prefix").error(format!(
                    "{prefix:?} is not a path prefix; it must start with `/`"
                )));
            }
            if site.hosts.is_empty() {
                errors.push(
                    at.key("hosts")
                        .error("a site needs at least one host (`*` for any)"),
                );
            }
            for (j, host) in site.hosts.iter().enumerate() {
                let host_at = at.key("hosts").index(j);
                let name = host.to_ascii_lowercase();
                let name = name.strip_suffix('.').unwrap_or(&name);
                let bucket = if name == "*" {
                    &mut table.any
                } else if let Some(suffix) = name.strip_prefix("*.") {
                    if !valid_host(suffix) {
                        errors.push(host_at.error(format!("{host:?} is not a host name")));
                        continue;
                    }
                    wildcard.entry(format!(".{suffix}").into()).or_default()
                } else if valid_host(name) {
                    table.exact.entry(name.into()).or_default()
                } else {
                    errors.push(host_at.error(format!(
                        "{host:?} is not a host name; use `name.example.com`, `*.example.com` or `*`"
                    )));
                    continue;
                };
                if let Some(other) = seen.insert((name.to_string(), prefix.to_string()), i) {
                    errors.push(host_at.error(format!(
                        "host {host:?} with path prefix {prefix:?} is already served by site {:?}",
                        sites[other].name
                    )));
                }
                bucket.0.push((
                    prefix.into(),
                    Route {
                        site: i as SiteId,
                        host: j as u16,
                    },
                ));
            }
        }
        table.wildcard = wildcard.into_iter().collect();
        table
            .wildcard
            .sort_by(|a, b| b.0.len().cmp(&a.0.len()).then_with(|| a.0.cmp(&b.0)));
        for prefixes in table
            .exact
            .values_mut()
            .chain(table.wildcard.iter_mut().map(|(_, p)| p))
            .chain([&mut table.any])
        {
            prefixes.0.sort_by_key(|p| std::cmp::Reverse(p.0.len()));
        }
        if errors.is_empty() {
            Ok(table)
        } else {
            Err(errors)
        }
    }

    /// The site for a `Host` (with or without port, any case) and a request path.
    pub fn route(&self, host: &str, path: &str) -> Option<Route> {
        let mut buf = [0u8; 253];
        let host = normalize(host, &mut buf);
        if let Some(host) = host {
            if let Some(site) = self.exact.get(host).and_then(|p| p.find(path)) {
                return Some(site);
            }
            for (suffix, prefixes) in &self.wildcard {
                if host.len() > suffix.len()
                    && host.ends_with(&**suffix)
                    && let Some(site) = prefixes.find(path)
                {
                    return Some(site);
                }
            }
        }
        self.any.find(path)
    }
}

impl Prefixes {
    fn find(&self, path: &str) -> Option<Route> {
        self.0
            .iter()
            .find(|(prefix, _)| prefix_matches(prefix, path))
            .map(|(_, route)| *route)
    }
}

/// `/api` matches `/api` and `/api/x`, not `/apix`; `/api/` matches what starts with it.
fn prefix_matches(prefix: &str, path: &str) -> bool {
    path.starts_with(prefix)
        && (prefix.ends_with('/')
            || path.len() == prefix.len()
            || path.as_bytes()[prefix.len()] == b'/')
}

/// Lower-cases the host into `buf`, without port or trailing dot. `None` for hosts that cannot
/// be configured names (too long, IPv6 literals, non-ASCII): those only reach the `*` site.
fn normalize<'b>(host: &str, buf: &'b mut [u8; 253]) -> Option<&'b str> {
    if host.starts_with('[') {
        return None;
    }
    let name = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.bytes().all(|b| b.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > buf.len() {
        return None;
    }
    let out = &mut buf[..name.len()];
    for (o, b) in out.iter_mut().zip(name.bytes()) {
        if !(b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b'_') {
            return None;
        }
        *o = b.to_ascii_lowercase();
    }
    std::str::from_utf8(out).ok()
}

fn valid_host(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use graygate_config::Document;

    /// Routes to site ids only, for the tests that check which site answers.
    #[derive(Debug)]
    struct Sites(RouteTable);

    impl Sites {
        fn route(&self, host: &str, path: &str) -> Option<SiteId> {
            self.0.route(host, path).map(|r| r.site)
        }
    }

    fn table(sites: &str) -> Result<Sites, String> {
        let text = format!("sites:\n{sites}");
        let doc = Document::from_text("t.yaml", text, ".");
        let config = doc.parse().map_err(|e| e.to_string())?;
        RouteTable::build(&config.sites)
            .map(Sites)
            .map_err(|e| doc.locate(e).to_string())
    }

    fn site(name: &str, hosts: &str, prefix: &str) -> String {
        format!(
            "  - name: {name}\n    hosts: {hosts}\n    path_prefix: {prefix}\n    release: {{default: a, versions: {{a: {{root: x}}}}}}\n"
        )
    }

    #[test]
    fn exact_then_wildcard_then_any() {
        let t = table(
            &[
                site("exact", "[Shop.Example.com]", "/"),
                site("wild", "[\"*.example.com\"]", "/"),
                site("deeper", "[\"*.eu.example.com\"]", "/"),
                site("any", "[\"*\"]", "/"),
            ]
            .concat(),
        )
        .unwrap();
        assert_eq!(t.route("shop.example.com", "/"), Some(0));
        assert_eq!(t.route("SHOP.EXAMPLE.COM:8080", "/x"), Some(0));
        assert_eq!(t.route("shop.example.com.", "/"), Some(0));
        assert_eq!(t.route("a.example.com", "/"), Some(1));
        assert_eq!(t.route("a.b.example.com", "/"), Some(1));
        assert_eq!(t.route("x.eu.example.com", "/"), Some(2));
        assert_eq!(t.route("example.com", "/"), Some(3));
        assert_eq!(t.route("[::1]:8080", "/"), Some(3));
        assert_eq!(t.route("", "/"), Some(3));
    }

    #[test]
    fn longest_prefix_at_segment_boundary() {
        let t = table(
            &[
                site("root", "[a.com]", "/"),
                site("api", "[a.com]", "/api"),
                site("v2", "[a.com]", "/api/v2/"),
            ]
            .concat(),
        )
        .unwrap();
        assert_eq!(t.route("a.com", "/api"), Some(1));
        assert_eq!(t.route("a.com", "/api/x"), Some(1));
        assert_eq!(t.route("a.com", "/apix"), Some(0));
        assert_eq!(t.route("a.com", "/api/v2/users"), Some(2));
        assert_eq!(t.route("b.com", "/"), None);
    }

    #[test]
    fn the_matching_host_entry_is_reported() {
        let t = table(&site("s", "[a.com, \"*.a.com\", \"*\"]", "/")).unwrap();
        assert_eq!(t.0.route("A.com", "/"), Some(Route { site: 0, host: 0 }));
        assert_eq!(t.0.route("x.a.com", "/"), Some(Route { site: 0, host: 1 }));
        assert_eq!(
            t.0.route("evil.example", "/"),
            Some(Route { site: 0, host: 2 })
        );
    }

    #[test]
    fn conflicts_and_bad_hosts_are_errors() {
        let err =
            table(&[site("a", "[a.com]", "/"), site("b", "[A.com]", "/")].concat()).unwrap_err();
        assert!(err.contains("t.yaml:7:13: sites[1].hosts[0]: host \"A.com\" with path prefix \"/\" is already served by site \"a\""), "{err}");
        let err = table(&site("a", "[\"bad host\"]", "/")).unwrap_err();
        assert!(
            err.contains("sites[0].hosts[0]: \"bad host\" is not a host name"),
            "{err}"
        );
        let err = table(&site("a", "[a.com]", "api")).unwrap_err();
        assert!(
            err.contains("sites[0].path_prefix: \"api\" is not a path prefix"),
            "{err}"
        );
    }
}
