//! The runtime configuration: every stage's checked, compiled form, built in one go from a
//! configuration document so that errors from all stages come back together and located.

use graygate_canary::{ReleasePolicy, VersionId};
use graygate_config::{self as config, ConfigErrors, Document, FieldError, FieldPath};
use graygate_files::StaticRoot;
use graygate_route::RouteTable;
use graygate_upstream::Upstream;
use http::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One configuration, compiled. Immutable once built; shared by all workers.
#[derive(Debug)]
pub struct Snapshot {
    pub routes: RouteTable,
    pub sites: Vec<Site>,
    pub listen: Vec<SocketAddr>,
    pub metrics_listen: Option<SocketAddr>,
    pub workers: usize,
    pub server: ServerLimits,
}

/// A site at run time.
#[derive(Debug)]
pub struct Site {
    pub name: Box<str>,
    pub policy: ReleasePolicy,
    /// Where each version is served from, by [`VersionId`].
    pub targets: Vec<Target>,
    /// `X-Graygate-Version` / `X-Graygate-Reason` values, rendered once (when enabled).
    pub version_header: Option<Vec<HeaderValue>>,
}

/// What serves a version.
#[derive(Debug, Clone)]
pub enum Target {
    Root(Arc<StaticRoot>),
    Upstream(Arc<Upstream>),
}

/// Client-connection settings.
#[derive(Debug, Clone)]
pub struct ServerLimits {
    pub client_header_timeout: Duration,
    pub keepalive_timeout: Duration,
    pub keepalive_requests: u64,
    pub max_header_bytes: usize,
    pub max_headers: usize,
    pub tcp_nodelay: bool,
    pub backlog: u32,
}

impl Snapshot {
    /// Parses and compiles a document. Every error from every stage is returned, located.
    pub fn load(doc: &Document) -> Result<Snapshot, ConfigErrors> {
        let config = doc.parse()?;
        Snapshot::build(&config, doc.base_dir()).map_err(|errors| doc.locate(errors))
    }

    /// Compiles a parsed configuration; relative paths resolve against `base_dir`.
    pub fn build(
        config: &config::Config,
        base_dir: &std::path::Path,
    ) -> Result<Snapshot, Vec<FieldError>> {
        let mut errors = Vec::new();
        let root = FieldPath::root();
        if config.listen.is_empty() {
            errors.push(
                root.key("listen")
                    .error("give at least one address to listen on"),
            );
        }
        let workers = config
            .workers
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        if workers == 0 || workers > 1024 {
            errors.push(
                root.key("workers")
                    .error("workers must be from 1 to 1024 (omit it for one per CPU)"),
            );
        }
        let server = &config.server;
        let at = root.key("server");
        if server.max_header_bytes < 8192 {
            errors.push(at.key("max_header_bytes").error("must be at least 8192"));
        }
        for (field, ms) in [
            ("client_header_timeout_ms", server.client_header_timeout_ms),
            ("keepalive_timeout_ms", server.keepalive_timeout_ms),
        ] {
            if ms == 0 {
                errors.push(at.key(field).error("a timeout must be above 0 ms"));
            }
        }
        if server.keepalive_requests == 0 {
            errors.push(at.key("keepalive_requests").error("must be at least 1"));
        }
        if server.max_headers == 0 {
            errors.push(at.key("max_headers").error("must be at least 1"));
        }
        if config.sites.is_empty() {
            errors.push(root.key("sites").error("configure at least one site"));
        }
        let routes = RouteTable::build(&config.sites)
            .map_err(|e| errors.extend(e))
            .ok();
        let mut sites = Vec::with_capacity(config.sites.len());
        for (i, site) in config.sites.iter().enumerate() {
            let at = root.key("sites").index(i);
            if site.name.is_empty()
                || !site
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
            {
                errors.push(
                    at.key("name")
                        .error("site names may only use letters, digits and `.`, `-`, `_`"),
                );
            }
            if config.sites[..i].iter().any(|s| s.name == site.name) {
                errors.push(
                    at.key("name")
                        .error(format!("another site is already named {:?}", site.name)),
                );
            }
            match build_site(site, base_dir, &at.key("release")) {
                Ok(site) => sites.push(site),
                Err(e) => errors.extend(e),
            }
        }
        match routes {
            Some(routes) if errors.is_empty() => Ok(Snapshot {
                routes,
                sites,
                listen: config.listen.clone(),
                metrics_listen: config.metrics.as_ref().map(|m| m.listen),
                workers,
                server: ServerLimits {
                    client_header_timeout: Duration::from_millis(server.client_header_timeout_ms),
                    keepalive_timeout: Duration::from_millis(server.keepalive_timeout_ms),
                    keepalive_requests: server.keepalive_requests,
                    max_header_bytes: server.max_header_bytes,
                    max_headers: server.max_headers,
                    tcp_nodelay: server.tcp_nodelay,
                    backlog: server.backlog,
                },
            }),
            _ => Err(errors),
        }
    }

    /// The default version's target of a site.
    pub fn default_target(&self, site: &Site) -> (VersionId, Target) {
        let v = site.policy.default_version();
        (v, site.targets[usize::from(v)].clone())
    }
}

fn build_site(
    site: &config::Site,
    base_dir: &std::path::Path,
    at: &FieldPath,
) -> Result<Site, Vec<FieldError>> {
    let mut errors = Vec::new();
    let policy = ReleasePolicy::build(&site.release, &site.name, base_dir, at)
        .map_err(|e| errors.extend(e))
        .ok();
    let mut targets = Vec::new();
    // BTreeMap order: the same order the policy numbers versions in.
    for (name, version) in &site.release.versions {
        let at = at.key("versions").key(name.clone());
        match (&version.root, &version.upstream) {
            (Some(dir), None) => match StaticRoot::new(&base_dir.join(dir)) {
                Ok(root) => targets.push(Target::Root(Arc::new(root))),
                // The error names the directory.
                Err(e) => errors.push(at.key("root").error(e.to_string())),
            },
            (None, Some(upstream)) => match Upstream::build(upstream, &at.key("upstream")) {
                Ok(u) => targets.push(Target::Upstream(Arc::new(u))),
                Err(e) => errors.extend(e),
            },
            _ => errors.push(at.error(
                "a version needs exactly one of `root` (a directory) or `upstream` (servers)",
            )),
        }
    }
    let Some(policy) = policy else {
        return Err(errors);
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    let version_header = site.version_header.then(|| {
        policy
            .versions()
            .iter()
            // Version names were checked to be header-safe when the policy was built.
            .map(|v| HeaderValue::from_str(v).unwrap_or_else(|_| HeaderValue::from_static("")))
            .collect()
    });
    Ok(Site {
        name: site.name.as_str().into(),
        policy,
        targets,
        version_header,
    })
}
