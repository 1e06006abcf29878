//! Header handling on the way to an upstream and back, as nginx does with the usual
//! `proxy_set_header` lines: hop-by-hop fields dropped both ways, `X-Forwarded-For` appended to,
//! `X-Forwarded-Proto` and `X-Real-IP` set, `Host` passed or rewritten per upstream.

use graygate_config::PassHost;
use graygate_upstream::Upstream;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");
const KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");
const PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");

/// The client's own values of the fields [`request_headers`] rewrites, so that a request sent
/// to a second upstream (the fallback) is rewritten from what the client sent, not twice.
#[derive(Debug, Default)]
pub struct ClientValues {
    host: Option<HeaderValue>,
    forwarded_for: Vec<HeaderValue>,
}

impl ClientValues {
    /// Puts the client's values back.
    pub fn restore(self, headers: &mut HeaderMap) {
        headers.remove(header::HOST);
        if let Some(host) = self.host {
            headers.insert(header::HOST, host);
        }
        headers.remove(&X_FORWARDED_FOR);
        for value in self.forwarded_for {
            headers.append(X_FORWARDED_FOR, value);
        }
    }
}

/// The client's address as a header value (`X-Real-IP`, the tail of `X-Forwarded-For`): made
/// once per connection, not per request.
pub fn client_address(peer: SocketAddr) -> HeaderValue {
    HeaderValue::from_str(&peer.ip().to_canonical().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// Rewrites a client request's headers for the upstream server at `server`; `client` is
/// [`client_address`] of the connection.
pub fn request_headers(
    headers: &mut HeaderMap,
    client: &HeaderValue,
    tls: bool,
    upstream: &Upstream,
    server: SocketAddr,
) -> ClientValues {
    remove_hop_by_hop(headers);
    let saved = ClientValues {
        host: headers.get(header::HOST).cloned(),
        forwarded_for: headers.get_all(&X_FORWARDED_FOR).iter().cloned().collect(),
    };
    // nginx's $proxy_add_x_forwarded_for: what the client sent, then the client's address.
    let forwarded = {
        let mut values = headers
            .get_all(&X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .peekable();
        if values.peek().is_some() {
            let mut joined = values.collect::<Vec<_>>().join(", ");
            joined.push_str(", ");
            joined.push_str(client.to_str().unwrap_or("unknown"));
            HeaderValue::from_str(&joined).ok()
        } else {
            None
        }
    };
    headers.insert(X_FORWARDED_FOR, forwarded.unwrap_or_else(|| client.clone()));
    headers.insert(X_REAL_IP, client.clone());
    let proto = if tls { "https" } else { "http" };
    headers.insert(X_FORWARDED_PROTO, HeaderValue::from_static(proto));
    match (upstream.pass_host, &upstream.upstream_host) {
        (PassHost::Rewrite, Some(host)) => {
            headers.insert(header::HOST, host.clone());
        }
        (PassHost::Node, _) => {
            if let Ok(v) = HeaderValue::from_str(&server.to_string()) {
                headers.insert(header::HOST, v);
            }
        }
        // An HTTP/1.0 client may send no Host; the upstream still needs one.
        _ if !headers.contains_key(header::HOST) => {
            if let Ok(v) = HeaderValue::from_str(&server.to_string()) {
                headers.insert(header::HOST, v);
            }
        }
        _ => {}
    }
    saved
}

/// Drops hop-by-hop fields from an upstream response before it goes to the client.
pub fn response_headers(headers: &mut HeaderMap) {
    remove_hop_by_hop(headers);
}

/// The fields that are hop-by-hop by definition (RFC 9110 §7.6.1). `Transfer-Encoding` is
/// re-decided by each hop's own framing.
const HOP_BY_HOP: [HeaderName; 9] = [
    header::CONNECTION,
    KEEP_ALIVE,
    PROXY_CONNECTION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
];

/// RFC 9110 §7.6.1: `Connection` and every field it names, plus [`HOP_BY_HOP`].
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names (a length switch and a compare each) finds which are present;
    // only those are removed. Most messages carry none, or just `Connection: keep-alive`, and
    // hashing nine names for removal every time cost more than the rest of the header work.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(i) = hop_by_hop_index(name) {
            present |= 1 << i;
        }
    }
    if present == 0 {
        return;
    }
    if present & 1 != 0 {
        let named: Vec<HeaderName> = headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            // Connection options that are not field names in practice.
            .filter(|t| !t.eq_ignore_ascii_case("keep-alive") && !t.eq_ignore_ascii_case("close"))
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for (i, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << i) != 0 {
            headers.remove(name);
        }
    }
}

fn hop_by_hop_index(name: &HeaderName) -> Option<usize> {
    let s = name.as_str();
    // Cheap length filter first: the hop-by-hop names are 2, 7, 10 or 16 to 19 bytes long.
    if !matches!(s.len(), 2 | 7 | 10 | 16..=19) {
        return None;
    }
    HOP_BY_HOP.iter().position(|h| h.as_str() == s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use graygate_config::FieldPath;

    fn upstream(yaml_pass_host: &str) -> Upstream {
        let mut cfg: graygate_config::Upstream = upstream_config();
        cfg.pass_host = match yaml_pass_host {
            "node" => PassHost::Node,
            "rewrite" => PassHost::Rewrite,
            _ => PassHost::Pass,
        };
        if cfg.pass_host == PassHost::Rewrite {
            cfg.upstream_host = Some("internal.svc".into());
        }
        Upstream::build(&cfg, &FieldPath::root()).unwrap()
    }

    fn upstream_config() -> graygate_config::Upstream {
        graygate_config::Upstream {
            servers: vec!["127.0.0.1:9001".into()],
            keepalive: Default::default(),
            connect_timeout_ms: 1000,
            response_timeout_ms: 1000,
            pass_host: PassHost::Pass,
            upstream_host: None,
            name: None,
        }
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const CLIENT: &str = "203.0.113.9:5555";
    const SERVER: &str = "127.0.0.1:9001";

    #[test]
    fn hop_by_hop_and_connection_named_fields_are_dropped() {
        let mut h = headers(&[
            ("host", "a.com"),
            ("connection", "keep-alive, X-Secret"),
            ("x-secret", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
        ]);
        request_headers(
            &mut h,
            &client_address(CLIENT.parse().unwrap()),
            false,
            &upstream("pass"),
            SERVER.parse().unwrap(),
        );
        for gone in [
            "connection",
            "x-secret",
            "keep-alive",
            "te",
            "upgrade",
            "proxy-connection",
        ] {
            assert!(!h.contains_key(gone), "{gone} forwarded");
        }
        assert_eq!(h["x-kept"], "yes");
        assert_eq!(h["host"], "a.com");
    }

    #[test]
    fn forwarded_headers_like_nginx() {
        let mut h = headers(&[
            ("host", "a.com"),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let saved = request_headers(
            &mut h,
            &client_address(CLIENT.parse().unwrap()),
            false,
            &upstream("pass"),
            SERVER.parse().unwrap(),
        );
        assert_eq!(h["x-forwarded-for"], "198.51.100.1, 10.0.0.1, 203.0.113.9");
        let mut again = h.clone();
        saved.restore(&mut again);
        request_headers(
            &mut again,
            &client_address(CLIENT.parse().unwrap()),
            false,
            &upstream("node"),
            SERVER.parse().unwrap(),
        );
        assert_eq!(
            again["x-forwarded-for"],
            "198.51.100.1, 10.0.0.1, 203.0.113.9"
        );
        assert_eq!(h.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(h["x-real-ip"], "203.0.113.9");
        assert_eq!(h["x-forwarded-proto"], "http");
        let mut h = headers(&[("host", "a.com")]);
        request_headers(
            &mut h,
            &client_address("[::ffff:10.1.1.1]:1".parse().unwrap()),
            false,
            &upstream("pass"),
            SERVER.parse().unwrap(),
        );
        assert_eq!(h["x-forwarded-for"], "10.1.1.1");
    }

    #[test]
    fn host_pass_node_rewrite() {
        for (mode, want) in [
            ("pass", "a.com"),
            ("node", SERVER),
            ("rewrite", "internal.svc"),
        ] {
            let mut h = headers(&[("host", "a.com")]);
            request_headers(
                &mut h,
                &client_address(CLIENT.parse().unwrap()),
                false,
                &upstream(mode),
                SERVER.parse().unwrap(),
            );
            assert_eq!(h["host"], want, "{mode}");
        }
        let mut h = headers(&[]);
        request_headers(
            &mut h,
            &client_address(CLIENT.parse().unwrap()),
            false,
            &upstream("pass"),
            SERVER.parse().unwrap(),
        );
        assert_eq!(h["host"], SERVER);
    }
}
