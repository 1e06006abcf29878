//! The web listener: the telemetry path, a landing page, and the lifecycle endpoints.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::Notify;

use crate::exporter::Exporter;

/// What the web listener serves.
#[derive(Clone, Debug)]
pub struct WebOptions {
    /// `--web.telemetry-path`
    pub telemetry_path: String,
    /// `--web.enable-lifecycle`: `PUT|POST /-/reload` and `/-/quit`.
    pub lifecycle: bool,
}

/// Serves until the process ends. `reload` is notified on `/-/reload`, `quit` on `/-/quit`.
pub async fn serve(
    exporter: Exporter,
    listener: TcpListener,
    options: WebOptions,
    reload: Arc<Notify>,
    quit: Arc<Notify>,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let exporter = exporter.clone();
        let options = options.clone();
        let (reload, quit) = (reload.clone(), quit.clone());
        tokio::spawn(async move {
            let service = service_fn(move |req: Request<Incoming>| {
                let response = respond(&exporter, &options, &req, &reload, &quit);
                async move { Ok::<_, Infallible>(response) }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn respond(
    exporter: &Exporter,
    options: &WebOptions,
    req: &Request<Incoming>,
    reload: &Notify,
    quit: &Notify,
) -> Response<Full<Bytes>> {
    let path = req.uri().path();
    let reply = |status: StatusCode, ctype: &'static str, body: String| {
        let mut r = Response::new(Full::new(Bytes::from(body)));
        *r.status_mut() = status;
        r.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static(ctype),
        );
        r
    };
    if path == options.telemetry_path {
        let mut body = String::with_capacity(64 * 1024);
        exporter.render(&mut body);
        return reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            body,
        );
    }
    let lifecycle = options.lifecycle && matches!(*req.method(), Method::PUT | Method::POST);
    match path {
        // statsd_exporter's texts; other methods get an empty 200.
        "/-/healthy" | "/-/ready" => {
            let text = match (req.method() == Method::GET, path) {
                (false, _) => "",
                (true, "/-/healthy") => "Statsd Exporter is Healthy.\n",
                (true, _) => "Statsd Exporter is Ready.\n",
            };
            reply(StatusCode::OK, "text/plain; charset=utf-8", text.into())
        }
        "/-/reload" if lifecycle => {
            reload.notify_one();
            reply(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "Requesting reload".into(),
            )
        }
        "/-/quit" if lifecycle => {
            quit.notify_one();
            reply(
                StatusCode::OK,
                "text/plain; charset=utf-8",
                "Requesting termination... Goodbye!".into(),
            )
        }
        "/" => reply(
            StatusCode::OK,
            "text/html; charset=utf-8",
            format!(
                "<html><head><title>StatsD Exporter</title></head><body><h1>StatsD Exporter</h1><p><a href=\"{0}\">Metrics</a></p></body></html>\n",
                options.telemetry_path
            ),
        ),
        _ => reply(
            StatusCode::NOT_FOUND,
            "text/plain",
            "404 page not found\n".into(),
        ),
    }
}
