//! Every metric name graygate exposes, in one place. Durations are in seconds.

/// Every graygate family starts with this; other expositions on the metrics listener (the
/// StatsD exporter's mapped metrics) may not use it.
pub const PREFIX: &str = "graygate_";

pub const HTTP_REQUESTS: &str = "graygate_http_requests_total";
pub const HTTP_REQUEST_DURATION: &str = "graygate_http_request_duration_seconds";
pub const UPSTREAM_REQUEST_DURATION: &str = "graygate_upstream_request_duration_seconds";
pub const UPSTREAM_ERRORS: &str = "graygate_upstream_errors_total";
pub const UPSTREAM_CONNECTIONS_OPENED: &str = "graygate_upstream_connections_opened_total";
pub const RELEASE_DECISIONS: &str = "graygate_release_decisions_total";
pub const RELEASE_FALLBACKS: &str = "graygate_release_fallbacks_total";
pub const RELEASE_NEW_DEVICES: &str = "graygate_release_new_devices_total";
pub const HTTP_REJECTED: &str = "graygate_http_rejected_total";
pub const HTTP_PROTOCOL_REQUESTS: &str = "graygate_http_protocol_requests_total";
pub const TLS_HANDSHAKES: &str = "graygate_tls_handshakes_total";
pub const TLS_HANDSHAKE_FAILURES: &str = "graygate_tls_handshake_failures_total";
pub const TLS_CERTIFICATE_EXPIRY: &str = "graygate_tls_certificate_expiry_seconds";
pub const CONNECTIONS: &str = "graygate_connections";
pub const CONNECTIONS_ACCEPTED: &str = "graygate_connections_accepted_total";
pub const CONFIG_REVISION: &str = "graygate_config_revision";
pub const CONFIG_RELOADS: &str = "graygate_config_reloads_total";
pub const CONFIG_LAST_RELOAD_SUCCESS: &str =
    "graygate_config_last_reload_success_timestamp_seconds";
pub const ADMIN_AUTH_FAILURES: &str = "graygate_admin_auth_failures_total";
pub const ADMIN_CHANGES: &str = "graygate_admin_changes_total";
pub const BUILD_INFO: &str = "graygate_build_info";
pub const ACCESS_LOG_DROPPED: &str = "graygate_access_log_dropped_total";
pub const ACCESS_LOG_WRITTEN: &str = "graygate_access_log_lines_total";

pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
pub const PROCESS_RSS: &str = "process_resident_memory_bytes";
pub const PROCESS_VIRTUAL_MEMORY: &str = "process_virtual_memory_bytes";
pub const PROCESS_OPEN_FDS: &str = "process_open_fds";
pub const PROCESS_MAX_FDS: &str = "process_max_fds";
pub const PROCESS_START_TIME: &str = "process_start_time_seconds";
pub const PROCESS_THREADS: &str = "process_threads";

/// The seed's nginx-lua names, exposed too when `metrics.nginx_compat` is on.
pub const NGINX_HTTP_REQUESTS: &str = "nginx_http_requests_total";
pub const NGINX_HTTP_REQUEST_DURATION: &str = "nginx_http_request_duration_seconds";
pub const NGINX_HTTP_CONNECTIONS: &str = "nginx_http_connections";

/// The families graygate exposes outside [`PREFIX`]: no other exposition on the metrics
/// listener may take these names (or their `_total`, `_sum`, `_count`, `_bucket` forms).
pub const FOREIGN: [&str; 10] = [
    PROCESS_CPU,
    PROCESS_RSS,
    PROCESS_VIRTUAL_MEMORY,
    PROCESS_OPEN_FDS,
    PROCESS_MAX_FDS,
    PROCESS_START_TIME,
    PROCESS_THREADS,
    NGINX_HTTP_REQUESTS,
    NGINX_HTTP_REQUEST_DURATION,
    NGINX_HTTP_CONNECTIONS,
];
