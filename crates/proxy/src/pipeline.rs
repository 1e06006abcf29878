//! One request, phase by phase: hygiene, route, decide, target, forward or serve (with the
//! fallback to the default version), respond; the log phase rides in the response body
//! (`log.rs`). Runs on a worker thread; nothing here blocks.

use crate::body::{ClientBody, CountedBody, ProxyBody, Source};
use crate::forward;
use crate::hygiene;
use crate::log::{Details, LogPhase, Served, request_id};
use crate::snapshot::{Site, Snapshot, Target};
use crate::worker::{Conn, Worker};
use graygate_canary::{Decision, DeviceId, Reason, RequestView};
use graygate_upstream::{Upstream, UpstreamError};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use std::convert::Infallible;
use std::rc::Rc;
use std::time::Instant;

const X_GRAYGATE_VERSION: HeaderName = HeaderName::from_static("x-graygate-version");
const X_GRAYGATE_REASON: HeaderName = HeaderName::from_static("x-graygate-reason");
const X_GRAYGATE_REVISION: HeaderName = HeaderName::from_static("x-graygate-revision");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The service hyper calls for each request on a connection.
pub(crate) async fn handle(
    worker: Rc<Worker>,
    conn: Rc<Conn>,
    mut request: Request<ClientBody>,
) -> Result<Response<ProxyBody>, Infallible> {
    let snapshot = worker.snapshot();
    let http1 = request.version() < http::Version::HTTP_2;
    let cells = worker.cells();
    match (http1, conn.tls) {
        (true, false) => cells.requests_h1.inc(),
        (true, true) => cells.requests_h1_tls.inc(),
        (false, _) => cells.requests_h2.inc(),
    }
    // HTTP/2 has its own connection management; `Connection: close` is HTTP/1 only.
    let last_on_connection =
        conn.begin_request(&worker) >= snapshot.server.keepalive_requests && http1;
    let mut log = LogPhase::start(worker.clone(), conn.clone(), snapshot.clone());
    if log.logs_access() {
        log.details = Some(Box::new(details(&worker, &mut request)));
    }
    let mut response = match hygiene::check(&request) {
        Ok(()) => route_and_serve(&worker, &conn, &snapshot, request, &mut log).await,
        Err(status) => {
            if status == StatusCode::METHOD_NOT_ALLOWED {
                cells.rejected_405.inc()
            } else {
                cells.rejected_400.inc()
            }
            // The connection's framing is suspect after a refused request: close it.
            let mut r = status_response(status);
            r.headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            r
        }
    };
    if last_on_connection {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    log.status = response.status().as_u16();
    Ok(response.map(|body| body.with_log(log)))
}

/// What the access log records of the request; gives the request an id if it has none, which
/// then goes upstream too (nginx's `$request_id`).
fn details<B>(worker: &Worker, request: &mut Request<B>) -> Details {
    let given = request
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| (1..=128).contains(&v.len()))
        .map(str::to_string);
    let request_id = given.unwrap_or_else(|| {
        let id = request_id(worker);
        if let Ok(value) = HeaderValue::from_str(&id) {
            request.headers_mut().insert(X_REQUEST_ID, value);
        }
        id
    });
    Details {
        request_id,
        method: request.method().as_str().to_string(),
        host: host_of(request).to_string(),
        path: request
            .uri()
            .path_and_query()
            .map_or("/", |pq| pq.as_str())
            .to_string(),
    }
}

/// The host a request is for: an absolute-form target names it (RFC 9112 §3.2.2), else `Host`.
fn host_of<B>(request: &Request<B>) -> &str {
    match request.uri().host() {
        Some(host) => host,
        None => request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(""),
    }
}

async fn route_and_serve(
    worker: &Rc<Worker>,
    conn: &Conn,
    snapshot: &Snapshot,
    request: Request<ClientBody>,
    log: &mut LogPhase,
) -> Response<ProxyBody> {
    let Some(route) = snapshot
        .routes
        .route(host_of(&request), request.uri().path())
    else {
        return status_response(StatusCode::NOT_FOUND);
    };
    let site = &snapshot.sites[usize::from(route.site)];
    if site.https_redirect && !conn.tls {
        return https_redirect(&request, snapshot.https_port);
    }

    let view = RequestView {
        headers: request.headers(),
        query: request.uri().query(),
        client_ip: Some(conn.peer.ip()),
    };
    let identity = site
        .policy
        .identify(&view, || DeviceId::v4(worker.random_bytes()));
    let decision = site.policy.decide(&view, &identity);
    let set_cookie = identity
        .new_device()
        .map(|id| site.policy.device_cookie(id, std::time::SystemTime::now()));

    let served = |d: Decision| Served {
        site: route.site,
        host: route.host,
        version: d.version,
        reason: d.reason,
    };
    log.served = Some(served(decision));
    let (mut response, decision) = serve(worker, conn, site, decision, request, log).await;
    log.served = Some(served(decision));

    if let Some(cookie) = set_cookie {
        worker.cells().new_devices.inc();
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    if let Some(values) = &site.version_header {
        let headers = response.headers_mut();
        if let Some(v) = values.get(usize::from(decision.version)) {
            headers.insert(X_GRAYGATE_VERSION, v.clone());
        }
        if let Ok(reason) = HeaderValue::from_str(site.policy.reason_label(decision.reason)) {
            headers.insert(X_GRAYGATE_REASON, reason);
        }
        headers.insert(X_GRAYGATE_REVISION, HeaderValue::from(snapshot.revision));
    }
    response
}

/// Serves the decided version; if it is an upstream that could not be reached and it is not the
/// default version, the default version serves instead (the decision then says `fallback`).
async fn serve(
    worker: &Rc<Worker>,
    conn: &Conn,
    site: &Site,
    decision: Decision,
    request: Request<ClientBody>,
    log: &mut LogPhase,
) -> (Response<ProxyBody>, Decision) {
    let upstream = match &site.targets[usize::from(decision.version)] {
        Target::Root(root) => return (serve_files(root, &request).await, decision),
        Target::Upstream(upstream) => upstream,
    };
    let request = match forward_to(worker, conn, upstream, request, log).await {
        Ok(response) => return (response, decision),
        Err((error, request)) => {
            count_error(worker, site, decision.version, &error);
            let default = site.policy.default_version();
            match request {
                // Nothing reached the server, so any request may go elsewhere (as nginx's
                // proxy_next_upstream does for requests not yet sent).
                Some(retry) if decision.version != default && error.nothing_sent() => {
                    tracing::warn!(site = %site.name, version = site.policy.version_name(decision.version), %error, "falling back to the default version");
                    retry
                }
                _ => {
                    tracing::warn!(site = %site.name, version = site.policy.version_name(decision.version), %error, "upstream request failed");
                    return (error_response(&error), decision);
                }
            }
        }
    };
    let fallback = Decision {
        version: site.policy.default_version(),
        reason: Reason::Fallback,
    };
    let response = match &site.targets[usize::from(fallback.version)] {
        Target::Root(root) => serve_files(root, &request).await,
        Target::Upstream(upstream) => {
            // Boxed: the fallback is rare, and its future would otherwise add its size to every
            // request's.
            match Box::pin(forward_to(worker, conn, upstream, request, log)).await {
                Ok(response) => response,
                Err((error, _)) => {
                    count_error(worker, site, fallback.version, &error);
                    tracing::warn!(site = %site.name, %error, "default version failed too");
                    error_response(&error)
                }
            }
        }
    };
    (response, fallback)
}

fn count_error(worker: &Worker, site: &Site, version: u16, error: &UpstreamError) {
    if let Some(Some(cells)) = site.upstreams.get(usize::from(version)) {
        cells.worker(worker.index).error(error.kind());
    }
}

type Unsent = Request<CountedBody>;

/// Sends the request to one of the upstream's servers. When it fails before anything was sent,
/// the request comes back (its header map as the client sent it) for a retry elsewhere.
async fn forward_to<B>(
    worker: &Rc<Worker>,
    conn: &Conn,
    upstream: &Upstream,
    request: Request<B>,
    log: &mut LogPhase,
) -> Result<Response<ProxyBody>, (UpstreamError, Option<Unsent>)>
where
    B: IntoCounted,
{
    let server = worker.pools.pick(upstream);
    let (mut parts, body) = request.into_parts();
    // HTTP/2 and absolute-form targets name the host in the URI, and that is the host the site
    // was routed by: it is the Host the upstream gets (RFC 9112 §3.2.2, RFC 9113 §8.3.1).
    if let Some(authority) = parts
        .uri
        .authority()
        .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        parts.headers.insert(header::HOST, authority);
    }
    // HTTP/2 clients send cookies as several fields; HTTP/1.1 wants one (RFC 9113 §8.2.3).
    if parts.version == http::Version::HTTP_2
        && parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .nth(1)
            .is_some()
    {
        let joined: Vec<&str> = parts
            .headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if let Ok(value) = HeaderValue::from_str(&joined.join("; ")) {
            parts.headers.insert(header::COOKIE, value);
        }
    }
    let set = forward::request_headers(
        &parts.headers,
        &conn.client_address,
        conn.tls,
        upstream,
        server,
    );
    // Upstreams get origin-form targets over HTTP/1.1 whatever the client spoke.
    if parts.uri.authority().is_some() {
        let origin_form = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        parts.uri = origin_form
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
    }
    parts.version = http::Version::HTTP_11;
    log.upstream = Some((server, Instant::now()));
    let body = body.into_counted(log);
    let opened = worker.pools.connections_opened();
    let result = worker
        .pools
        .send(upstream, server, Request::from_parts(parts, body), &set)
        .await;
    worker
        .cells()
        .upstream_connections
        .add(worker.pools.connections_opened() - opened);
    match result {
        Ok(response) => Ok(response.map(|body| ProxyBody::new(Source::Upstream(body)))),
        Err((error, unsent)) => Err((error, unsent)),
    }
}

/// The client's body, wrapped once for counting (a retried request is already wrapped).
trait IntoCounted {
    fn into_counted(self, log: &LogPhase) -> CountedBody;
}

impl IntoCounted for ClientBody {
    fn into_counted(self, log: &LogPhase) -> CountedBody {
        CountedBody::new(self, log.bytes_in.clone())
    }
}

impl IntoCounted for CountedBody {
    fn into_counted(self, _: &LogPhase) -> CountedBody {
        self
    }
}

async fn serve_files<B>(
    root: &graygate_files::StaticRoot,
    request: &Request<B>,
) -> Response<ProxyBody> {
    root.serve(request.method(), request.uri().path(), request.headers())
        .await
        .map(|body| ProxyBody::new(Source::File(body)))
}

/// `301` (`308` when the method has a body to keep) to the same URL over HTTPS, as nginx's
/// `return 301 https://$host$request_uri`.
fn https_redirect<B>(request: &Request<B>, https_port: Option<u16>) -> Response<ProxyBody> {
    let host = host_of(request);
    // The host without its port; an IPv6 literal keeps its brackets.
    let name = match host.rfind(':') {
        Some(colon)
            if !host[colon..].contains(']')
                && host[colon + 1..].bytes().all(|b| b.is_ascii_digit()) =>
        {
            &host[..colon]
        }
        _ => host,
    };
    let authority = match https_port {
        Some(443) | None => name.to_string(),
        Some(port) => format!("{name}:{port}"),
    };
    let target = request.uri().path_and_query().map_or("/", |pq| pq.as_str());
    let keeps_body = !matches!(*request.method(), http::Method::GET | http::Method::HEAD);
    let status = if keeps_body {
        StatusCode::PERMANENT_REDIRECT
    } else {
        StatusCode::MOVED_PERMANENTLY
    };
    let mut response = status_response(status);
    if let Ok(location) = HeaderValue::from_str(&format!("https://{authority}{target}")) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}

fn error_response(error: &UpstreamError) -> Response<ProxyBody> {
    match error {
        _ if error.client_caused() => status_response(StatusCode::BAD_REQUEST),
        UpstreamError::Timeout { .. } => status_response(StatusCode::GATEWAY_TIMEOUT),
        _ => status_response(StatusCode::BAD_GATEWAY),
    }
}

/// A short plain-text response for a status: no internal detail ever goes to the client.
pub(crate) fn status_response(status: StatusCode) -> Response<ProxyBody> {
    let text: &'static str = match status {
        StatusCode::MOVED_PERMANENTLY => "301 Moved Permanently\n",
        StatusCode::PERMANENT_REDIRECT => "308 Permanent Redirect\n",
        StatusCode::BAD_REQUEST => "400 Bad Request\n",
        StatusCode::NOT_FOUND => "404 Not Found\n",
        StatusCode::METHOD_NOT_ALLOWED => "405 Method Not Allowed\n",
        StatusCode::BAD_GATEWAY => "502 Bad Gateway\n",
        StatusCode::GATEWAY_TIMEOUT => "504 Gateway Timeout\n",
        _ => "",
    };
    let mut response = Response::new(ProxyBody::new(Source::text(text)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
