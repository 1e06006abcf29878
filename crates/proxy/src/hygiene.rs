//! Edge hygiene: requests a front proxy must refuse rather than forward. hyper already rejects
//! malformed request lines and headers, bad or conflicting Content-Length, transfer codings
//! other than chunked, and oversized heads (431); this adds what hyper accepts but nginx refuses.

use http::{Method, Request, StatusCode, Version};

/// Why a request is refused: the status to answer with.
pub fn check<B>(request: &Request<B>) -> Result<(), StatusCode> {
    let headers = request.headers();
    let mut hosts = headers.get_all(http::header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(StatusCode::BAD_REQUEST);
    }
    match host {
        None if request.version() == Version::HTTP_11 && request.uri().authority().is_none() => {
            return Err(StatusCode::BAD_REQUEST);
        }
        Some(host) if !valid_host(host.as_bytes()) => return Err(StatusCode::BAD_REQUEST),
        _ => {}
    }
    // HTTP/2: a Host that disagrees with :authority is malformed (RFC 9113 §8.3.1).
    if request.version() == Version::HTTP_2
        && let (Some(authority), Some(host)) = (request.uri().authority(), host)
        && !authority
            .as_str()
            .eq_ignore_ascii_case(host.to_str().unwrap_or(""))
    {
        return Err(StatusCode::BAD_REQUEST);
    }
    // hyper does not forward CONNECT to a service as an ordinary request; a gateway does not
    // open tunnels for clients.
    if request.method() == Method::CONNECT {
        return Err(StatusCode::METHOD_NOT_ALLOWED);
    }
    let target = request.uri();
    let origin_form = target.path().starts_with('/');
    let asterisk = target.path() == "*" && request.method() == Method::OPTIONS;
    if !(origin_form || asterisk) {
        return Err(StatusCode::BAD_REQUEST);
    }
    Ok(())
}

/// `host[:port]`, a bracketed IPv6 literal, or a registered name: the characters nginx accepts.
fn valid_host(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= 255
        && value
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || b"-._:[]".contains(b))
        && !value.starts_with(b".")
        && !value.windows(2).any(|w| w == b"..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(version: Version, hosts: &[&str]) -> Request<()> {
        let mut builder = Request::builder().uri("/").version(version);
        for h in hosts {
            builder = builder.header("host", *h);
        }
        builder.body(()).unwrap()
    }

    #[test]
    fn host_rules() {
        assert_eq!(check(&req(Version::HTTP_11, &["a.com"])), Ok(()));
        assert_eq!(
            check(&req(Version::HTTP_11, &[])),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(check(&req(Version::HTTP_10, &[])), Ok(()));
        assert_eq!(
            check(&req(Version::HTTP_11, &["a.com", "b.com"])),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check(&req(Version::HTTP_11, &["a b"])),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(
            check(&req(Version::HTTP_11, &["../etc"])),
            Err(StatusCode::BAD_REQUEST)
        );
        assert_eq!(check(&req(Version::HTTP_11, &["[::1]:8080"])), Ok(()));
    }
}
