//! The forward phase's connections: an upstream is a set of servers, and each worker thread
//! keeps its own pool of idle keepalive HTTP/1.1 connections to each server.
//!
//! Sits after the release decision picked a version whose target is an upstream, and before the
//! respond phase. [`Upstream`] is the validated, shareable description (it lives in the config
//! snapshot); [`Pools`] is per worker and never crosses threads, so checking a connection out and
//! back in takes no lock. A connection goes back to its pool when the response body has been read
//! to the end; one abandoned mid-body is closed, since its framing is unknown.
//!
//! Errors say whether anything reached the server ([`UpstreamError::nothing_sent`]): the proxy
//! may then safely send the request elsewhere (the fallback to the default version).

mod h1;
mod pool;
mod timer;

pub use h1::{Chunked, Decoded, LAST_CHUNK, add_content_length, chunk_header};
pub use pool::{PooledBody, Pools};
pub use timer::LazyTimer;

/// A boxed error from a request body.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

use graygate_config::{self as config, FieldError, FieldPath, PassHost};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// An upstream pool as configured, with names resolved.
#[derive(Debug)]
pub struct Upstream {
    pub servers: Vec<SocketAddr>,
    pub max_idle: usize,
    pub idle_timeout: Duration,
    pub max_requests: u64,
    pub connect_timeout: Duration,
    pub response_timeout: Duration,
    pub pass_host: PassHost,
    pub upstream_host: Option<http::HeaderValue>,
}

impl Upstream {
    /// Validates an upstream and resolves its server names (once, at load, like nginx).
    pub fn build(cfg: &config::Upstream, at: &FieldPath) -> Result<Upstream, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut servers = Vec::new();
        if cfg.servers.is_empty() {
            errors.push(
                at.key("servers")
                    .error("an upstream needs at least one server (`host:port`)"),
            );
        }
        for (i, server) in cfg.servers.iter().enumerate() {
            match server.to_socket_addrs() {
                Ok(mut addrs) => match addrs.next() {
                    Some(addr) => servers.push(addr),
                    None => errors.push(
                        at.key("servers")
                            .index(i)
                            .error(format!("{server:?} resolves to no address")),
                    ),
                },
                Err(e) => errors.push(
                    at.key("servers")
                        .index(i)
                        .error(format!("{server:?} is not a `host:port` address: {e}")),
                ),
            }
        }
        for (field, ms) in [
            ("connect_timeout_ms", cfg.connect_timeout_ms),
            ("response_timeout_ms", cfg.response_timeout_ms),
        ] {
            if ms == 0 {
                errors.push(at.key(field).error("a timeout must be above 0 ms"));
            }
        }
        if cfg.keepalive.max_requests == 0 {
            errors.push(
                at.key("keepalive")
                    .key("max_requests")
                    .error("must be at least 1"),
            );
        }
        let upstream_host = match (cfg.pass_host, &cfg.upstream_host) {
            (PassHost::Rewrite, None) => {
                errors.push(
                    at.key("upstream_host")
                        .error("`pass_host: rewrite` needs `upstream_host`"),
                );
                None
            }
            (PassHost::Rewrite, Some(host)) => match http::HeaderValue::from_str(host) {
                Ok(v) if !host.is_empty() => Some(v),
                _ => {
                    errors.push(
                        at.key("upstream_host")
                            .error(format!("{host:?} is not a valid Host value")),
                    );
                    None
                }
            },
            (_, Some(_)) => {
                errors.push(
                    at.key("upstream_host")
                        .error("`upstream_host` is only used with `pass_host: rewrite`"),
                );
                None
            }
            (_, None) => None,
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Upstream {
            servers,
            max_idle: cfg.keepalive.max_idle,
            idle_timeout: Duration::from_millis(cfg.keepalive.idle_timeout_ms),
            max_requests: cfg.keepalive.max_requests,
            connect_timeout: Duration::from_millis(cfg.connect_timeout_ms),
            response_timeout: Duration::from_millis(cfg.response_timeout_ms),
            pass_host: cfg.pass_host,
            upstream_host,
        })
    }
}

/// Why a request to an upstream failed.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// No connection could be made: refused, unreachable, or the connect timeout passed.
    #[error("connect to {addr} failed: {source}")]
    Connect {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The server did not answer with a response header in time.
    #[error("{addr} sent no response within {timeout:?}")]
    Timeout { addr: SocketAddr, timeout: Duration },
    /// The connection broke after the request (or part of it) was sent.
    #[error("request to {addr} failed: {source}")]
    Exchange {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The server's response was not valid HTTP/1.1.
    #[error("invalid response from {addr}: {source}")]
    Protocol {
        addr: SocketAddr,
        source: std::io::Error,
    },
    /// The client's request body broke off or was malformed while it was streamed upstream.
    #[error("client request body failed while sent to {addr}: {source}")]
    ClientBody { addr: SocketAddr, source: BoxError },
}

impl UpstreamError {
    /// True when the server cannot have seen any of the request, so sending it elsewhere is safe
    /// whatever its method.
    pub fn nothing_sent(&self) -> bool {
        matches!(self, UpstreamError::Connect { .. })
    }

    /// True when the client caused the failure: its request body broke off or was malformed
    /// while being streamed upstream. The answer is then 400, and the upstream is not to blame.
    pub fn client_caused(&self) -> bool {
        matches!(self, UpstreamError::ClientBody { .. })
    }

    /// A short stable label for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            UpstreamError::Connect { source, .. }
                if source.kind() == std::io::ErrorKind::TimedOut =>
            {
                "connect_timeout"
            }
            UpstreamError::Connect { .. } => "connect",
            UpstreamError::Timeout { .. } => "timeout",
            UpstreamError::Exchange { .. } => "exchange",
            UpstreamError::Protocol { .. } => "protocol",
            UpstreamError::ClientBody { .. } => "client_body",
        }
    }
}
