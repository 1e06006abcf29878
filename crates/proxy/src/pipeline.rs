//! One request, phase by phase: hygiene, route, decide, target, forward or serve (with the
//! fallback to the default version), respond. Runs on a worker thread; nothing here blocks.

use crate::body::ProxyBody;
use crate::forward;
use crate::framing::Verdict;
use crate::hygiene;
use crate::snapshot::{Site, Snapshot, Target};
use crate::stats::WorkerStats;
use crate::worker::{Conn, Worker};
use graygate_canary::{Decision, DeviceId, Reason, RequestView};
use graygate_upstream::{Upstream, UpstreamError};
use http::header::{self, HeaderName, HeaderValue};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::rc::Rc;

const X_GRAYGATE_VERSION: HeaderName = HeaderName::from_static("x-graygate-version");
const X_GRAYGATE_REASON: HeaderName = HeaderName::from_static("x-graygate-reason");

/// The service hyper calls for each request on a connection.
pub(crate) async fn handle(
    worker: Rc<Worker>,
    conn: Rc<Conn>,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    WorkerStats::add(&worker.stats.requests);
    let snapshot = worker.snapshot();
    let last_on_connection = conn.begin_request() >= snapshot.server.keepalive_requests;
    let framing = conn.framing.next();
    let checked = hygiene::check(&request).and(match framing {
        Verdict::Clean => Ok(()),
        Verdict::Conflicting => Err(StatusCode::BAD_REQUEST),
    });
    let mut response = match checked {
        Ok(()) => route_and_serve(&worker, &conn, &snapshot, request).await,
        Err(status) => {
            WorkerStats::add(&worker.stats.rejected);
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
    conn.end_request();
    Ok(response)
}

async fn route_and_serve(
    worker: &Rc<Worker>,
    conn: &Conn,
    snapshot: &Snapshot,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    // Absolute-form targets name the host themselves (RFC 9112 §3.2.2).
    let host = match request.uri().host() {
        Some(host) => host,
        None => request
            .headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or(""),
    };
    let Some(site_id) = snapshot.routes.route(host, request.uri().path()) else {
        return status_response(StatusCode::NOT_FOUND);
    };
    let site = &snapshot.sites[usize::from(site_id)];

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

    let (mut response, decision) = serve(worker, conn, site, decision, request).await;

    if let Some(cookie) = set_cookie {
        WorkerStats::add(&worker.stats.new_devices);
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
    request: Request<Incoming>,
) -> (Response<ProxyBody>, Decision) {
    let target = &site.targets[usize::from(decision.version)];
    let upstream = match target {
        Target::Root(root) => return (serve_files(root, &request).await, decision),
        Target::Upstream(upstream) => upstream,
    };
    let (request, saved) = match forward_to(worker, conn, upstream, request).await {
        Ok(response) => return (response, decision),
        Err((error, request)) => {
            if !error.client_caused() {
                WorkerStats::add(&worker.stats.upstream_errors);
            }
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
    WorkerStats::add(&worker.stats.fallbacks);
    let fallback = Decision {
        version: site.policy.default_version(),
        reason: Reason::Fallback,
    };
    let mut request = request;
    saved.restore(request.headers_mut());
    let response = match &site.targets[usize::from(fallback.version)] {
        Target::Root(root) => serve_files(root, &request).await,
        Target::Upstream(upstream) => match forward_to(worker, conn, upstream, request).await {
            Ok(response) => response,
            Err((error, _)) => {
                WorkerStats::add(&worker.stats.upstream_errors);
                tracing::warn!(site = %site.name, %error, "default version failed too");
                error_response(&error)
            }
        },
    };
    (response, fallback)
}

type Unsent = (Request<Incoming>, forward::ClientValues);

/// Sends the request to one of the upstream's servers. When it fails before anything was sent,
/// the request comes back, with the client's original header values, for a retry elsewhere.
async fn forward_to(
    worker: &Rc<Worker>,
    conn: &Conn,
    upstream: &Upstream,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, (UpstreamError, Option<Unsent>)> {
    let server = worker.pools.pick(upstream);
    let (mut parts, body) = request.into_parts();
    let saved = forward::request_headers(&mut parts.headers, conn.peer, upstream, server);
    // Upstreams get origin-form targets over HTTP/1.1 whatever the client spoke.
    if parts.uri.authority().is_some() {
        let origin_form = parts.uri.path_and_query().map_or("/", |pq| pq.as_str());
        parts.uri = origin_form
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
    }
    parts.version = http::Version::HTTP_11;
    let opened = worker.pools.connections_opened();
    let result = worker
        .pools
        .send(upstream, server, Request::from_parts(parts, body))
        .await;
    let new_connections = worker.pools.connections_opened() - opened;
    if new_connections > 0 {
        worker
            .stats
            .upstream_connections
            .fetch_add(new_connections, std::sync::atomic::Ordering::Relaxed);
    }
    match result {
        Ok(response) => {
            let (mut parts, body) = response.into_parts();
            forward::response_headers(&mut parts.headers);
            Ok(Response::from_parts(parts, ProxyBody::Upstream(body)))
        }
        Err((error, unsent)) => Err((error, unsent.map(|r| (r, saved)))),
    }
}

async fn serve_files(
    root: &graygate_files::StaticRoot,
    request: &Request<Incoming>,
) -> Response<ProxyBody> {
    root.serve(request.method(), request.uri().path(), request.headers())
        .await
        .map(ProxyBody::File)
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
        StatusCode::BAD_REQUEST => "400 Bad Request\n",
        StatusCode::NOT_FOUND => "404 Not Found\n",
        StatusCode::METHOD_NOT_ALLOWED => "405 Method Not Allowed\n",
        StatusCode::BAD_GATEWAY => "502 Bad Gateway\n",
        StatusCode::GATEWAY_TIMEOUT => "504 Gateway Timeout\n",
        _ => "",
    };
    let mut response = Response::new(ProxyBody::text(text));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}
