//! The metrics endpoint: `GET /metrics` in Prometheus text format (OpenMetrics when the scraper
//! asks for it in `Accept`), on its own listener and thread so scrapes never compete with
//! traffic for a worker.

use crate::worker::ServerHandle;
use bytes::Bytes;
use graygate_metrics::Format;
use http::{Method, Response, StatusCode, header};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use tokio::sync::watch;

/// Binds `addr` and serves metrics until `shutdown` turns true. Returns the bound address.
pub fn spawn(
    addr: SocketAddr,
    server: ServerHandle,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(addr).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!("cannot listen on {addr} for metrics: {e}"),
        )
    })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    std::thread::Builder::new()
        .name("graygate-metrics".into())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                loop {
                    let stream = tokio::select! {
                        accepted = listener.accept() => match accepted {
                            Ok((stream, _)) => stream,
                            Err(_) => continue,
                        },
                        _ = shutdown.wait_for(|stop| *stop) => return,
                    };
                    let server = server.clone();
                    tokio::spawn(async move {
                        let service =
                            service_fn(move |request: http::Request<hyper::body::Incoming>| {
                                let response = answer(&server, &request);
                                async move { Ok::<_, Infallible>(response) }
                            });
                        let _ = http1::Builder::new()
                            .timer(hyper_util::rt::TokioTimer::new())
                            .header_read_timeout(std::time::Duration::from_secs(10))
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            });
        })?;
    Ok(local)
}

fn answer(
    server: &ServerHandle,
    request: &http::Request<hyper::body::Incoming>,
) -> Response<http_body_util::Full<Bytes>> {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let format = Format::from_accept(accept);
    let (status, content_type, body) = match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => {
            let nginx_compat = server.snapshot().metrics.nginx_compat;
            (
                StatusCode::OK,
                format.content_type(),
                Bytes::from(server.registry().render(format, nginx_compat)),
            )
        }
        _ => (
            StatusCode::NOT_FOUND,
            "text/plain; charset=utf-8",
            Bytes::from_static(b"404 Not Found\n"),
        ),
    };
    let mut response = Response::new(http_body_util::Full::new(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    response
}
