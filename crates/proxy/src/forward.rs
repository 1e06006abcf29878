//! Header handling on the way to an upstream and back, as nginx does with the usual
//! `proxy_set_header` lines: hop-by-hop fields dropped both ways, `X-Forwarded-For` appended to,
//! `X-Forwarded-Proto` and `X-Real-IP` set, `Host` passed or rewritten per upstream.
//!
//! Upstream responses arrive without hop-by-hop fields (the upstream's parser never puts them in
//! the map). On the way up the client's header map is not changed: [`request_headers`] computes the
//! fields to set, and the upstream's encoder writes the client's fields less the hop-by-hop ones
//! and those replaced, then these. A request that falls back to another version is therefore
//! rewritten from what the client sent, and no field is removed from or inserted into a map.

use graygate_config::PassHost;
use graygate_upstream::Upstream;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use std::net::SocketAddr;

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// The client's address as a header value (`X-Real-IP`, the tail of `X-Forwarded-For`): made
/// once per connection, not per request.
pub fn client_address(peer: SocketAddr) -> HeaderValue {
    HeaderValue::from_str(&peer.ip().to_canonical().to_string())
        .unwrap_or_else(|_| HeaderValue::from_static("unknown"))
}

/// The fields to set on a client request (`headers`) for the upstream server at `server`;
/// `client` is [`client_address`] of the connection.
pub fn request_headers(
    headers: &HeaderMap,
    client: &HeaderValue,
    tls: bool,
    upstream: &Upstream,
    server: SocketAddr,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut set = Vec::with_capacity(4);
    // nginx's $proxy_add_x_forwarded_for: what the client sent, then the client's address.
    let mut sent = headers
        .get_all(&X_FORWARDED_FOR)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .peekable();
    let forwarded = if sent.peek().is_some() {
        let mut joined = sent.collect::<Vec<_>>().join(", ");
        joined.push_str(", ");
        joined.push_str(client.to_str().unwrap_or("unknown"));
        HeaderValue::from_str(&joined).unwrap_or_else(|_| client.clone())
    } else {
        client.clone()
    };
    set.push((X_FORWARDED_FOR, forwarded));
    set.push((X_REAL_IP, client.clone()));
    let proto = if tls { "https" } else { "http" };
    set.push((X_FORWARDED_PROTO, HeaderValue::from_static(proto)));
    let node = || HeaderValue::from_str(&server.to_string()).ok();
    let host = match (upstream.pass_host, &upstream.upstream_host) {
        (PassHost::Rewrite, Some(host)) => Some(host.clone()),
        (PassHost::Node, _) => node(),
        // An HTTP/1.0 client may send no Host; the upstream still needs one.
        _ if !headers.contains_key(header::HOST) => node(),
        _ => None,
    };
    if let Some(host) = host {
        set.push((header::HOST, host));
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;
    use graygate_config::FieldPath;

    fn upstream(yaml_pass_host: &str) -> Upstream {
        let mut cfg = graygate_config::Upstream {
            servers: vec!["127.0.0.1:9001".into()],
            keepalive: Default::default(),
            connect_timeout_ms: 1000,
            response_timeout_ms: 1000,
            pass_host: PassHost::Pass,
            upstream_host: None,
            name: None,
        };
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

    fn set_for(h: &HeaderMap, client: &str, mode: &str) -> HeaderMap {
        let set = request_headers(
            h,
            &client_address(client.parse().unwrap()),
            false,
            &upstream(mode),
            SERVER.parse().unwrap(),
        );
        let mut out = HeaderMap::new();
        for (name, value) in set {
            out.append(name, value);
        }
        out
    }

    #[test]
    fn forwarded_headers_like_nginx() {
        let h = headers(&[
            ("host", "a.com"),
            ("x-forwarded-for", "198.51.100.1"),
            ("x-forwarded-for", "10.0.0.1"),
            ("x-forwarded-proto", "https"),
        ]);
        let set = set_for(&h, CLIENT, "pass");
        assert_eq!(
            set["x-forwarded-for"],
            "198.51.100.1, 10.0.0.1, 203.0.113.9"
        );
        assert_eq!(set.get_all("x-forwarded-for").iter().count(), 1);
        assert_eq!(set["x-real-ip"], "203.0.113.9");
        assert_eq!(set["x-forwarded-proto"], "http");
        assert!(!set.contains_key("host"), "the client's Host passes as is");
        // The client's map is untouched: a second upstream sees the same input.
        assert_eq!(
            set_for(&h, CLIENT, "node")["x-forwarded-for"],
            set["x-forwarded-for"]
        );
        let h = headers(&[("host", "a.com")]);
        assert_eq!(
            set_for(&h, "[::ffff:10.1.1.1]:1", "pass")["x-forwarded-for"],
            "10.1.1.1"
        );
    }

    #[test]
    fn host_pass_node_rewrite() {
        let h = headers(&[("host", "a.com")]);
        assert_eq!(set_for(&h, CLIENT, "node")["host"], SERVER);
        assert_eq!(set_for(&h, CLIENT, "rewrite")["host"], "internal.svc");
        assert_eq!(set_for(&headers(&[]), CLIENT, "pass")["host"], SERVER);
    }
}
