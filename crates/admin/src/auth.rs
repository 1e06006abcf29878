//! Bearer tokens, compared in constant time, and the CSRF rules for state-changing requests.

use crate::api::App;
use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::{Method, StatusCode, header};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// Checks the token and, for requests that change state, the CSRF defences.
pub async fn guard(
    State(app): State<Arc<App>>,
    request: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if let Some(token) = &app.settings.token {
        let given = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(given.as_bytes(), token.as_bytes()) {
            app.server
                .registry()
                .globals
                .admin_auth_failures
                .fetch_add(1, Relaxed);
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "a valid bearer token is required",
            ));
        }
    }
    if app.settings.token.is_none() {
        // Without a token the listener is on loopback; a page on another site that rebinds its
        // DNS name to 127.0.0.1 would still be same-origin, so the Host must be a loopback name.
        let host = request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        if !loopback_host(host) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "without a token the admin API answers only loopback host names",
            ));
        }
    }
    let changes_state = !matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    );
    if changes_state {
        let headers = request.headers();
        if headers.get("x-graygate-request").is_none_or(|v| v != "1") {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "state-changing requests need the header `X-Graygate-Request: 1`",
            ));
        }
        let has_body = headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|l| l != "0")
            || headers.contains_key(header::TRANSFER_ENCODING);
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.trim_start()
                    .to_ascii_lowercase()
                    .starts_with("application/json")
            });
        if has_body && !json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "request bodies must be `Content-Type: application/json`",
            ));
        }
        if let (Some(origin), Some(host)) = (headers.get(header::ORIGIN), headers.get(header::HOST))
        {
            let origin = origin.to_str().unwrap_or("");
            let same = origin
                .split_once("://")
                .is_some_and(|(_, rest)| rest == host.to_str().unwrap_or(""));
            if !same {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "cross-origin requests are refused",
                ));
            }
        }
    }
    Ok(next.run(request).await)
}

/// `localhost`, `127.x.y.z` or `[::1]`, with or without a port.
fn loopback_host(host: &str) -> bool {
    let name = match host.rfind(':') {
        Some(i) if !host[i..].contains(']') => &host[..i],
        _ => host,
    };
    name.eq_ignore_ascii_case("localhost")
        || name == "[::1]"
        || name
            .parse::<std::net::Ipv4Addr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Equal-length comparison that takes the same time wherever the first difference is.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let mut diff = u8::from(a.len() != b.len());
    for (i, expected) in b.iter().enumerate() {
        diff |= a.get(i).copied().unwrap_or(0) ^ expected;
    }
    diff == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn loopback_hosts() {
        for ok in [
            "localhost",
            "localhost:9180",
            "127.0.0.1:9180",
            "127.3.4.5",
            "[::1]:9180",
            "[::1]",
        ] {
            assert!(super::loopback_host(ok), "{ok}");
        }
        for bad in [
            "evil.example:9180",
            "10.0.0.1",
            "",
            "localhost.evil.example",
        ] {
            assert!(!super::loopback_host(bad), "{bad}");
        }
    }

    #[test]
    fn constant_time_eq() {
        assert!(super::constant_time_eq(b"secret", b"secret"));
        assert!(!super::constant_time_eq(b"secreT", b"secret"));
        assert!(!super::constant_time_eq(b"secret1", b"secret"));
        assert!(!super::constant_time_eq(b"", b"secret"));
    }
}
