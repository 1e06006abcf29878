//! The configuration model: what an operator writes, field for field. Defaults follow nginx where
//! nginx has the same knob (its directive is named in the field's doc).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

/// A whole graygate configuration file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Plain-HTTP listen addresses (nginx `listen`). Default `0.0.0.0:8080`.
    #[serde(default = "default_listen")]
    pub listen: Vec<SocketAddr>,
    /// Worker threads, each with its own runtime and its own SO_REUSEPORT listener
    /// (nginx `worker_processes`). Absent: one per CPU.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub workers: Option<usize>,
    /// Pin each worker thread to its own CPU (nginx `worker_cpu_affinity auto`): worker `i`
    /// runs on the `i`-th CPU the process may use (wrapping around). Off by default.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub pin_workers: bool,
    /// Pin worker `i` to CPU `worker_cpus[i]` (nginx `worker_cpu_affinity` with one mask per
    /// worker). One entry per worker; takes precedence over `pin_workers`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub worker_cpus: Vec<usize>,
    /// Client-side connection limits and timeouts.
    #[serde(default)]
    pub server: Server,
    /// The Prometheus endpoint.
    #[serde(default)]
    pub metrics: Metrics,
    /// The JSON access log.
    #[serde(default)]
    pub access_log: AccessLog,
    /// The admin API and page.
    #[serde(default)]
    pub admin: Admin,
    /// HTTPS listeners and certificates.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<Tls>,
    /// StatsD listeners whose metrics are served on the metrics listener (statsd_exporter).
    #[serde(default)]
    pub statsd: Statsd,
    /// The sites, matched by host and path prefix.
    pub sites: Vec<Site>,
}

fn default_listen() -> Vec<SocketAddr> {
    vec![SocketAddr::from(([0, 0, 0, 0], 8080))]
}

/// The Prometheus endpoint: `GET /metrics` on its own listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// Record and serve metrics. Off: nothing is recorded and no listener is opened.
    pub enabled: bool,
    /// Listen address of the metrics endpoint (the seed's nginx-lua exporter used 9113).
    pub listen: SocketAddr,
    /// Also expose the seed's nginx-lua families (`nginx_http_requests_total{host,status}`,
    /// `nginx_http_request_duration_seconds{host}`, `nginx_http_connections{state}`).
    pub nginx_compat: bool,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics {
            enabled: true,
            listen: SocketAddr::from(([0, 0, 0, 0], 9113)),
            nginx_compat: false,
        }
    }
}

/// StatsD ingestion as Prometheus' statsd_exporter v0.27.2 does it (docs/statsd.md): lines
/// arriving over UDP, TCP or a unixgram socket are mapped with statsd_exporter's mapping file
/// and served, with the `statsd_exporter_*` counters, on the metrics listener. Each field names
/// the statsd_exporter flag it stands for.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Statsd {
    /// Open the listeners. Off by default.
    pub enabled: bool,
    /// UDP address (`--statsd.listen-udp`); `null` turns UDP off.
    pub listen_udp: Option<SocketAddr>,
    /// TCP address (`--statsd.listen-tcp`); `null` turns TCP off.
    pub listen_tcp: Option<SocketAddr>,
    /// Unixgram socket path (`--statsd.listen-unixgram`); refused if the path exists, removed
    /// at exit. Relative to the config file.
    pub listen_unixgram: Option<PathBuf>,
    /// Permission bits of the unixgram socket, octal (`--statsd.unixsocket-mode`).
    pub unixsocket_mode: String,
    /// statsd_exporter's mapping YAML, read unmodified (`--statsd.mapping-config`); re-read on
    /// SIGHUP. Relative to the config file. Absent: names are only escaped, never mapped.
    pub mapping_config: Option<PathBuf>,
    /// Receive buffer of the UDP and unixgram sockets (`--statsd.read-buffer`). Absent: ask
    /// the kernel for 16 MiB, taking what it grants.
    pub read_buffer_bytes: Option<usize>,
    /// Mapping results kept in an LRU cache (`--statsd.cache-size`); 0 turns it off.
    pub cache_size: usize,
    /// Event batches in flight between the listeners and the mapper
    /// (`--statsd.event-queue-size`).
    pub event_queue_size: usize,
    /// Lines per batch (`--statsd.event-flush-threshold`).
    pub event_flush_threshold: usize,
    /// Longest time a listener holds a partial batch (`--statsd.event-flush-interval`).
    pub event_flush_interval_ms: u64,
    /// DogStatsD tags, `|#k:v` (`--statsd.parse-dogstatsd-tags`).
    pub parse_dogstatsd_tags: bool,
    /// InfluxDB tags, `name,k=v` (`--statsd.parse-influxdb-tags`).
    pub parse_influxdb_tags: bool,
    /// Librato tags, `name#k=v` (`--statsd.parse-librato-tags`).
    pub parse_librato_tags: bool,
    /// SignalFX tags, `name[k=v]` (`--statsd.parse-signalfx-tags`).
    pub parse_signalfx_tags: bool,
}

impl Default for Statsd {
    fn default() -> Statsd {
        Statsd {
            enabled: false,
            listen_udp: Some(SocketAddr::from(([0, 0, 0, 0], 9125))),
            listen_tcp: Some(SocketAddr::from(([0, 0, 0, 0], 9125))),
            listen_unixgram: None,
            unixsocket_mode: "755".into(),
            mapping_config: None,
            read_buffer_bytes: None,
            cache_size: 1000,
            event_queue_size: 10_000,
            event_flush_threshold: 1000,
            event_flush_interval_ms: 200,
            parse_dogstatsd_tags: true,
            parse_influxdb_tags: true,
            parse_librato_tags: true,
            parse_signalfx_tags: true,
        }
    }
}

/// HTTPS: listeners, certificates chosen by SNI, HTTP/2 limits.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tls {
    /// HTTPS listen addresses (nginx `listen ... ssl`).
    pub listen: Vec<SocketAddr>,
    /// Certificates from files: PEM chain (leaf first) and PEM private key.
    #[serde(default)]
    pub certificates: Vec<TlsCertificate>,
    /// A directory watched for `<name>.crt` + `<name>.key` pairs: added, replaced or removed
    /// files take effect within a second.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory: Option<PathBuf>,
    /// The certificate for unknown or absent SNI. Default: the first of `certificates`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_certificate: Option<String>,
    /// Environment variable with the key (64 hex digits) that seals private keys uploaded
    /// through the admin API before they are written to the state directory.
    #[serde(default = "default_sealing_key_env")]
    pub sealing_key_env: String,
    /// File with that key, used when the variable is unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealing_key_file: Option<PathBuf>,
    /// Time allowed for a TLS handshake.
    #[serde(default = "default_handshake_timeout_ms")]
    pub handshake_timeout_ms: u64,
    /// HTTP/2 limits.
    #[serde(default)]
    pub http2: Http2,
}

fn default_sealing_key_env() -> String {
    "GRAYGATE_SEALING_KEY".into()
}

fn default_handshake_timeout_ms() -> u64 {
    10_000
}

/// A certificate from files.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TlsCertificate {
    /// Name in metrics, logs and the admin API.
    pub name: String,
    /// PEM certificate chain, leaf first.
    pub cert: PathBuf,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

/// HTTP/2 limits (nginx `http2_max_concurrent_streams`, `large_client_header_buffers`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http2 {
    /// Streams a client may have open at once on one connection.
    pub max_concurrent_streams: u32,
    /// Largest header list (decoded) of one request.
    pub max_header_list_bytes: u32,
    /// Streams reset by the client before graygate accepted them, kept at most (rapid-reset
    /// defence: more and the connection is closed).
    pub max_pending_reset_streams: usize,
    /// Streams graygate may reset for protocol errors before it closes the connection.
    pub max_local_error_resets: usize,
}

impl Default for Http2 {
    fn default() -> Http2 {
        Http2 {
            max_concurrent_streams: 128,
            max_header_list_bytes: 32 * 1024,
            max_pending_reset_streams: 20,
            max_local_error_resets: 1024,
        }
    }
}

/// The admin listener: the admin page and the JSON API under `/api/v1`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// Serve the admin API and page.
    pub enabled: bool,
    /// Listen address. Anything but loopback requires a token.
    pub listen: SocketAddr,
    /// Environment variable holding the bearer token.
    pub token_env: String,
    /// File holding the bearer token (first line); used when the variable is unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_file: Option<PathBuf>,
    /// Who changes made with the token are recorded as, in revisions and the audit log.
    pub token_name: String,
    /// Directory of the persisted state (current revision, history, audit log). Without it,
    /// changes made through the API last until restart.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_dir: Option<PathBuf>,
}

impl Default for Admin {
    fn default() -> Admin {
        Admin {
            enabled: true,
            listen: SocketAddr::from(([127, 0, 0, 1], 9180)),
            token_env: "GRAYGATE_ADMIN_TOKEN".into(),
            token_file: None,
            token_name: "admin".into(),
            state_dir: None,
        }
    }
}

/// The access log: one JSON object per request.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct AccessLog {
    /// Write the access log.
    pub enabled: bool,
    /// `stdout`, or a file path (appended to; reopened on SIGUSR1 for logrotate).
    pub path: String,
    /// Fields to write, in this order. Default: all of them.
    pub fields: Vec<String>,
    /// Lines buffered between the workers and the writer; when full, lines are dropped and
    /// counted (`graygate_access_log_dropped_total`), requests never wait.
    pub buffer_lines: usize,
}

impl Default for AccessLog {
    fn default() -> AccessLog {
        AccessLog {
            enabled: false,
            path: "stdout".into(),
            fields: Vec::new(),
            buffer_lines: 16 * 1024,
        }
    }
}

/// How graygate treats client connections.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Time allowed to receive a request's header block (nginx `client_header_timeout`).
    pub client_header_timeout_ms: u64,
    /// How long an idle keepalive client connection is kept open (nginx `keepalive_timeout`).
    pub keepalive_timeout_ms: u64,
    /// Requests served on one client connection before it is closed (nginx `keepalive_requests`).
    pub keepalive_requests: u64,
    /// Largest request header block, request line included (nginx `large_client_header_buffers`).
    /// Larger requests get 431. At least 8192.
    pub max_header_bytes: usize,
    /// Most header fields in one request; more get 431.
    pub max_headers: usize,
    /// Set TCP_NODELAY on client connections (nginx `tcp_nodelay`).
    pub tcp_nodelay: bool,
    /// Listen backlog (nginx `listen ... backlog=`).
    pub backlog: u32,
    /// One listening socket per worker with SO_REUSEPORT, so the kernel spreads new
    /// connections over the workers (nginx `listen ... reuseport`). Off: one socket whose
    /// accept queue all workers share.
    pub reuseport: bool,
    /// An HTTP/1 client that takes no part of a response for this long is cut off (nginx
    /// `send_timeout`), so a client that stops reading cannot hold its upstream connection.
    pub send_timeout_ms: u64,
}

impl Default for Server {
    fn default() -> Server {
        Server {
            client_header_timeout_ms: 60_000,
            keepalive_timeout_ms: 75_000,
            keepalive_requests: 1000,
            max_header_bytes: 32 * 1024,
            max_headers: 100,
            tcp_nodelay: true,
            backlog: 1024,
            reuseport: true,
            send_timeout_ms: 60_000,
        }
    }
}

/// A site: the hosts and path prefix it answers for, and its release.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Site {
    /// Name used in logs, metrics and the admin API.
    pub name: String,
    /// Host names: exact (`shop.example.com`), a leading wildcard (`*.example.com`), or `*` for
    /// any host. Matched case-insensitively, without the port.
    pub hosts: Vec<String>,
    /// Only requests whose path starts with this prefix (at a `/` boundary). Default `/`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path_prefix: Option<String>,
    /// Add `X-Graygate-Version` (and `X-Graygate-Reason`) to responses. Off by default: it tells
    /// clients which version they got.
    #[serde(default)]
    pub version_header: bool,
    /// Answer plain-HTTP requests with a redirect to HTTPS (301, 308 for methods with a body).
    #[serde(default)]
    pub https_redirect: bool,
    /// Which version each request gets.
    pub release: Release,
}

/// A release: versions, the default, how devices are identified, and the ordered rules.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Release {
    /// The version that serves whenever no rule matches or anything goes wrong.
    pub default: String,
    /// Versions by name, each a static root or an upstream.
    pub versions: BTreeMap<String, Version>,
    /// Salt for percentage buckets. Changing it reshuffles every device. Default: the site name.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
    /// How users and devices are identified.
    #[serde(default)]
    pub identity: Identity,
    /// Rules in order; the first that matches picks the version.
    #[serde(default)]
    pub rules: Vec<Rule>,
}

/// One version of a site: exactly one of `root` or `upstream`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Version {
    /// Serve files from this directory (nginx `root`). Relative to the config file.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub root: Option<PathBuf>,
    /// Proxy to these servers (nginx `upstream` + `proxy_pass`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<Upstream>,
}

/// An upstream pool.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// Servers as `host:port` (names resolved when the config loads), used round-robin.
    pub servers: Vec<String>,
    /// Idle keepalive connections kept per server.
    #[serde(default)]
    pub keepalive: Keepalive,
    /// Time allowed to establish a connection (nginx `proxy_connect_timeout`).
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Time allowed from sending the request to receiving the response header
    /// (nginx `proxy_read_timeout` for the first byte).
    #[serde(default = "default_response_timeout_ms")]
    pub response_timeout_ms: u64,
    /// The `Host` sent upstream: `pass` the client's (default), the server's address `node`, or
    /// `rewrite` to `upstream_host` (APISIX's `pass_host`).
    #[serde(default)]
    pub pass_host: PassHost,
    /// The Host sent when `pass_host: rewrite`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_host: Option<String>,
    /// Name in metrics and logs (the `upstream` label). Default `<site>/<version>`.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

fn default_connect_timeout_ms() -> u64 {
    5_000
}

fn default_response_timeout_ms() -> u64 {
    60_000
}

/// Which `Host` header goes upstream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PassHost {
    #[default]
    Pass,
    Node,
    Rewrite,
}

/// Upstream keepalive pool settings (nginx `keepalive`, `keepalive_timeout`, `keepalive_requests`
/// inside `upstream`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keepalive {
    /// Most idle connections kept per server and worker.
    pub max_idle: usize,
    /// Idle connections older than this are closed.
    pub idle_timeout_ms: u64,
    /// A connection is retired after this many requests.
    pub max_requests: u64,
}

impl Default for Keepalive {
    fn default() -> Keepalive {
        Keepalive {
            max_idle: 64,
            idle_timeout_ms: 60_000,
            max_requests: 10_000,
        }
    }
}

/// Identity: which cookies carry the account id and the device id.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Identity {
    /// Cookie holding the account id (may be absent: anonymous users).
    pub uid_cookie: String,
    /// Cookie holding the device id, set on first visit.
    pub uuid_cookie: UuidCookie,
    /// Derive the device id of clients without the cookie from their IP address (a salted hash),
    /// so cookie-less clients are sticky too. The derived id is also set as the cookie.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_id_from_ip: Option<DeviceIdFromIp>,
}

impl Default for Identity {
    fn default() -> Identity {
        Identity {
            uid_cookie: "uid".into(),
            uuid_cookie: UuidCookie::default(),
            device_id_from_ip: None,
        }
    }
}

/// The device-id cookie and the attributes it is set with.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UuidCookie {
    /// Cookie name.
    pub name: String,
    /// Lifetime; sent as `Expires` (and `Max-Age`).
    pub max_age_s: u64,
    /// `Domain` attribute, to share the id across subdomains.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    /// `Secure` attribute.
    pub secure: bool,
    /// `HttpOnly` attribute (off: front-end code may read the device id).
    pub http_only: bool,
}

impl Default for UuidCookie {
    fn default() -> UuidCookie {
        UuidCookie {
            name: "uuid".into(),
            max_age_s: 365 * 24 * 3600,
            domain: None,
            secure: false,
            http_only: false,
        }
    }
}

/// Device id from the client address.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceIdFromIp {
    /// Secret salt, so ids cannot be mapped back to addresses by hashing the address space.
    pub salt: String,
}

/// A rule: one matcher and the version it sends matching requests to.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Name shown as the decision reason `rule:<name>`. Default `rule<N>` (0-based position).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The version matching requests get.
    pub version: String,
    /// Account ids pinned to the version.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pin: Option<Pin>,
    /// Match a request header.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<ValueMatch>,
    /// Match a cookie.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookie: Option<ValueMatch>,
    /// Match a query parameter.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<ValueMatch>,
    /// Compare a client app version.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app_version: Option<AppVersion>,
    /// Percentage of devices (0 to 100, two decimals), by a sticky hash of the device id.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<f64>,
}

/// Pinned account ids, inline and/or from a file with one id per line.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Pin {
    /// Account ids.
    #[serde(default)]
    pub uids: Vec<String>,
    /// A file of account ids, one per line (`#` comments and blank lines ignored).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uids_file: Option<PathBuf>,
}

/// A test on a named header, cookie or query parameter: exactly one of `present`, `equals`,
/// `one_of`, `regex`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ValueMatch {
    /// The header, cookie or parameter name.
    pub name: String,
    /// `true`: matches when present; `false`: when absent.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub present: Option<bool>,
    /// Matches this exact value.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub equals: Option<String>,
    /// Matches any of these values.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    /// Matches when this regular expression finds a match in the value.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
}

/// A client app version taken from a header or the User-Agent, compared by numeric components
/// (`7.10.0 > 7.9.3`). All given bounds must hold.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppVersion {
    /// Read the version from this header (e.g. `X-App-Version`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// Read the version from the User-Agent product token with this name
    /// (`MyApp` finds `7.3.1` in `MyApp/7.3.1 (Android 14)`).
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// Instead of a product token: a regular expression over the User-Agent (or the header)
    /// whose first capture group is the version.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// Version must be >= this.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gte: Option<String>,
    /// Version must be > this.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gt: Option<String>,
    /// Version must be <= this.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lte: Option<String>,
    /// Version must be < this.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lt: Option<String>,
    /// Version must equal this.
    #[serde(default)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eq: Option<String>,
}
