//! The runtime configuration: every stage's checked, compiled form, built in one go from a
//! configuration document so that errors from all stages come back together and located.

use graygate_canary::{ReleasePolicy, VersionId};
use graygate_config::{self as config, ConfigErrors, Document, FieldError, FieldPath};
use graygate_files::StaticRoot;
use graygate_metrics::{Cell, HttpCells, PerWorker, Registry, UpstreamCells};
use graygate_route::RouteTable;
use graygate_upstream::Upstream;
use http::HeaderValue;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

/// One configuration, compiled. Immutable once built; shared by all workers.
#[derive(Debug)]
pub struct Snapshot {
    /// The configuration revision this snapshot is (1 at start; the admin store counts up).
    pub revision: u64,
    pub routes: RouteTable,
    pub sites: Vec<Site>,
    pub listen: Vec<SocketAddr>,
    pub workers: usize,
    /// The CPU each worker is pinned to, when pinning is configured.
    pub cpus: Option<Vec<usize>>,
    pub server: ServerLimits,
    pub metrics: config::Metrics,
    /// The access log's fields, in order, when it is on.
    pub access_log: Option<Vec<crate::access_log::Field>>,
    /// The access log as configured (where it goes, its buffer).
    pub access_log_config: config::AccessLog,
    /// Requests no site answers (and requests refused before routing).
    pub unrouted: Arc<PerWorker<HttpCells>>,
    /// The port HTTPS redirects point at (set by the process once its TLS listener is bound).
    pub https_port: Option<u16>,
    /// HTTP/2 limits for TLS connections that negotiate h2.
    pub http2: config::Http2,
}

/// Label values for requests that matched no site.
pub const UNROUTED: &str = "_none";

/// A site at run time.
#[derive(Debug)]
pub struct Site {
    pub name: Box<str>,
    pub policy: ReleasePolicy,
    /// Where each version is served from, by [`VersionId`].
    pub targets: Vec<Target>,
    /// `X-Graygate-Version` / `X-Graygate-Reason` values, rendered once (when enabled).
    pub version_header: Option<Vec<HeaderValue>>,
    /// The `hosts` entries, lower-cased: the `host` label.
    pub hosts: Vec<Box<str>>,
    /// Request cells by `[host entry][version]`.
    pub http: Vec<Vec<Arc<PerWorker<HttpCells>>>>,
    /// Decision cells by `[version][reason]`: one per rule, then `default`, then `fallback`.
    pub decisions: Vec<Vec<Arc<PerWorker<Cell>>>>,
    /// Plain-HTTP requests are redirected to HTTPS.
    pub https_redirect: bool,
    /// Upstream cells by version (`None` for static roots).
    pub upstreams: Vec<Option<Arc<PerWorker<UpstreamCells>>>>,
}

impl Site {
    /// The decision cell index of a reason.
    pub fn reason_index(&self, reason: graygate_canary::Reason) -> usize {
        let rules = self.decisions.first().map_or(2, Vec::len) - 2;
        match reason {
            graygate_canary::Reason::Rule(i) => usize::from(i).min(rules),
            graygate_canary::Reason::Default => rules,
            graygate_canary::Reason::Fallback => rules + 1,
        }
    }
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
    pub reuseport: bool,
    pub send_timeout: Duration,
}

impl Snapshot {
    /// Parses and compiles a document. Every error from every stage is returned, located.
    /// Metric handles come from `registry` (the same labels always get the same cells).
    pub fn load(doc: &Document, registry: &Registry) -> Result<Snapshot, ConfigErrors> {
        let config = doc.parse()?;
        Snapshot::build(&config, doc.base_dir(), registry).map_err(|errors| doc.locate(errors))
    }

    /// Compiles a parsed configuration; relative paths resolve against `base_dir`.
    pub fn build(
        config: &config::Config,
        base_dir: &std::path::Path,
        registry: &Registry,
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
        let cpus = worker_cpus(config, workers, &root, &mut errors);
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
        let access_log = if config.access_log.enabled {
            let at = root.key("access_log");
            if config.access_log.buffer_lines == 0 {
                errors.push(at.key("buffer_lines").error("must be at least 1"));
            }
            if config.access_log.path.is_empty() {
                errors.push(at.key("path").error("give `stdout` or a file path"));
            }
            match crate::access_log::Field::parse_list(&config.access_log.fields) {
                Ok(fields) => Some(fields),
                Err((i, message)) => {
                    errors.push(at.key("fields").index(i).error(message));
                    None
                }
            }
        } else {
            None
        };
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
            match build_site(site, base_dir, &at.key("release"), registry) {
                Ok(site) => sites.push(site),
                Err(e) => errors.extend(e),
            }
        }
        match routes {
            Some(routes) if errors.is_empty() => Ok(Snapshot {
                revision: 1,
                routes,
                sites,
                listen: config.listen.clone(),
                metrics: config.metrics.clone(),
                access_log,
                access_log_config: config.access_log.clone(),
                unrouted: registry.http(UNROUTED, UNROUTED, UNROUTED),
                https_port: None,
                http2: config
                    .tls
                    .as_ref()
                    .map(|t| t.http2.clone())
                    .unwrap_or_default(),
                workers,
                cpus,
                server: ServerLimits {
                    client_header_timeout: Duration::from_millis(server.client_header_timeout_ms),
                    keepalive_timeout: Duration::from_millis(server.keepalive_timeout_ms),
                    keepalive_requests: server.keepalive_requests,
                    max_header_bytes: server.max_header_bytes,
                    max_headers: server.max_headers,
                    tcp_nodelay: server.tcp_nodelay,
                    backlog: server.backlog,
                    reuseport: server.reuseport,
                    send_timeout: Duration::from_millis(server.send_timeout_ms.max(1)),
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
    registry: &Registry,
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
    let hosts: Vec<Box<str>> = site
        .hosts
        .iter()
        .map(|h| h.to_ascii_lowercase().into())
        .collect();
    let versions = policy.versions();
    let http = hosts
        .iter()
        .map(|host| {
            versions
                .iter()
                .map(|v| registry.http(host, &site.name, v))
                .collect()
        })
        .collect();
    let mut reasons: Vec<&str> = (0..site.release.rules.len())
        .map(|i| policy.reason_label(graygate_canary::Reason::Rule(i as u16)))
        .collect();
    reasons.extend(["default", "fallback"]);
    let decisions = versions
        .iter()
        .map(|v| {
            reasons
                .iter()
                .map(|r| registry.decision(&site.name, v, r))
                .collect()
        })
        .collect();
    let upstreams = site
        .release
        .versions
        .iter()
        .map(|(version, cfg)| {
            cfg.upstream.as_ref().map(|u| {
                let name = u
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}/{version}", site.name));
                registry.upstream(&name)
            })
        })
        .collect();
    Ok(Site {
        https_redirect: site.https_redirect,
        name: site.name.as_str().into(),
        policy,
        targets,
        version_header,
        hosts,
        http,
        decisions,
        upstreams,
    })
}

/// The CPU of each worker (`worker_cpus`, or `pin_workers` over the CPUs this process may use),
/// or `None` when workers are not pinned.
fn worker_cpus(
    config: &config::Config,
    workers: usize,
    root: &FieldPath,
    errors: &mut Vec<FieldError>,
) -> Option<Vec<usize>> {
    if config.worker_cpus.is_empty() && !config.pin_workers {
        return None;
    }
    let available: Vec<usize> = core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|c| c.id)
        .collect();
    if config.worker_cpus.is_empty() {
        if available.is_empty() {
            errors.push(
                root.key("pin_workers")
                    .error("the CPUs this process may use cannot be read on this system"),
            );
            return None;
        }
        return Some(
            (0..workers)
                .map(|i| available[i % available.len()])
                .collect(),
        );
    }
    let at = root.key("worker_cpus");
    if config.worker_cpus.len() != workers {
        errors.push(at.error(format!(
            "give one CPU per worker: {} entries for {workers} workers",
            config.worker_cpus.len()
        )));
    }
    for (i, cpu) in config.worker_cpus.iter().enumerate() {
        if !available.contains(cpu) {
            errors.push(at.index(i).error(format!(
                "CPU {cpu} is not one this process may use (available: {available:?})"
            )));
        }
    }
    Some(config.worker_cpus.clone())
}
