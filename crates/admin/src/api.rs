//! Routes of the admin listener: the page, health, and the JSON API (docs/admin-api.md).

use crate::Settings;
use crate::auth;
use crate::control::Control;
use crate::error::ApiError;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use graygate_canary::{DeviceId, RequestView};
use graygate_config::{Release, Rule, Site, Upstream};
use graygate_proxy::ServerHandle;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::sync::watch;

pub struct App {
    pub settings: Settings,
    pub control: Arc<Control>,
    pub certificates: Option<Arc<crate::Certificates>>,
    pub server: ServerHandle,
    pub shutdown: watch::Receiver<bool>,
}

type Shared = State<Arc<App>>;
type ApiResult<T> = Result<T, ApiError>;

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

pub fn router(app: Arc<App>) -> Router {
    let api = Router::new()
        .route("/sites", get(list_sites))
        .route(
            "/sites/{site}",
            get(get_site).put(put_site).delete(delete_site),
        )
        .route("/sites/{site}/release", get(get_release).put(put_release))
        .route("/sites/{site}/release/rules", put(put_rules))
        .route(
            "/sites/{site}/release/versions/{version}/percent",
            put(put_percent),
        )
        .route(
            "/sites/{site}/release/versions/{version}/upstream",
            put(put_upstream),
        )
        .route("/sites/{site}/release/rollback", post(rollback_zero))
        .route(
            "/sites/{site}/release/pins",
            get(get_pins).post(add_pins).delete(remove_pins),
        )
        .route("/upstreams", get(list_upstreams))
        .route("/revisions", get(list_revisions))
        .route("/revisions/{n}", get(get_revision))
        .route("/revisions/{n}/rollback", post(rollback_revision))
        .route("/explain", post(explain))
        .route("/decide", get(decide))
        .route("/stats", get(stats))
        .route("/certificates", get(list_certificates))
        .route(
            "/certificates/{name}",
            put(put_certificate).delete(delete_certificate),
        )
        .fallback(|| async { ApiError::not_found("no such API resource") })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            auth::guard,
        ));
    Router::new()
        .route(
            "/",
            get(|| async {
                asset(
                    "text/html; charset=utf-8",
                    include_str!("../assets/index.html"),
                )
            }),
        )
        .route(
            "/app.js",
            get(|| async {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../assets/app.js"),
                )
            }),
        )
        .route(
            "/app.css",
            get(|| async { asset("text/css; charset=utf-8", include_str!("../assets/app.css")) }),
        )
        .route(
            "/api/v1/openapi.json",
            get(|| async { asset("application/json", include_str!("../assets/openapi.json")) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .nest("/api/v1", api)
        .with_state(app)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

async fn readyz(State(app): Shared) -> (StatusCode, &'static str) {
    if *app.shutdown.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}

/// Runs a configuration change off the async runtime (it validates, writes and fsyncs).
async fn change(
    app: &Arc<App>,
    description: String,
    edit: impl FnOnce(&mut Vec<Site>) -> Result<(), ApiError> + Send + 'static,
) -> ApiResult<Json<Value>> {
    let (control, actor) = (app.control.clone(), app.settings.token_name.clone());
    let revision = tokio::task::spawn_blocking(move || control.change(&actor, description, edit))
        .await
        .map_err(|_| ApiError::internal("the change did not complete"))??;
    Ok(Json(json!({"revision": revision})))
}

fn find<'a>(sites: &'a mut [Site], name: &str) -> ApiResult<&'a mut Site> {
    sites
        .iter_mut()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no site named {name:?}")))
}

fn site_of(app: &App, name: &str) -> ApiResult<Site> {
    let (_, sites) = app.control.sites();
    sites
        .into_iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ApiError::not_found(format!("no site named {name:?}")))
}

/// Parses a JSON body into a configuration type; errors name the field.
fn body<T: serde::de::DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_json::from_value(value).map_err(|e| ApiError::field("", format!("invalid body: {e}")))
}

async fn list_sites(State(app): Shared) -> Json<Value> {
    let (revision, sites) = app.control.sites();
    Json(json!({"revision": revision, "sites": sites}))
}

async fn get_site(State(app): Shared, Path(site): Path<String>) -> ApiResult<Json<Site>> {
    site_of(&app, &site).map(Json)
}

async fn put_site(
    State(app): Shared,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let site: Site = body(value)?;
    if site.name != name {
        return Err(ApiError::field(
            "/name",
            format!(
                "the site in the body is named {:?}, the path says {name:?}",
                site.name
            ),
        ));
    }
    change(&app, format!("replace site {name}"), move |sites| {
        match sites.iter_mut().find(|s| s.name == name) {
            Some(existing) => *existing = site,
            None => sites.push(site),
        }
        Ok(())
    })
    .await
}

async fn delete_site(State(app): Shared, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    change(&app, format!("delete site {name}"), move |sites| {
        let before = sites.len();
        sites.retain(|s| s.name != name);
        if sites.len() == before {
            Err(ApiError::not_found(format!("no site named {name:?}")))
        } else {
            Ok(())
        }
    })
    .await
}

async fn get_release(State(app): Shared, Path(site): Path<String>) -> ApiResult<Json<Release>> {
    site_of(&app, &site).map(|s| Json(s.release))
}

async fn put_release(
    State(app): Shared,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let release: Release = body(value)?;
    change(
        &app,
        format!("replace the release of {name}"),
        move |sites| {
            find(sites, &name)?.release = release;
            Ok(())
        },
    )
    .await
}

async fn put_rules(
    State(app): Shared,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let rules: Vec<Rule> = body(value)?;
    change(&app, format!("replace the rules of {name}"), move |sites| {
        find(sites, &name)?.release.rules = rules;
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Percent {
    percent: f64,
}

async fn put_percent(
    State(app): Shared,
    Path((name, version)): Path<(String, String)>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let Percent { percent } = body(value)?;
    change(&app, format!("{name}: {version} to {percent}%"), move |sites| {
        let site = find(sites, &name)?;
        if !site.release.versions.contains_key(&version) {
            return Err(ApiError::not_found(format!("site {name:?} has no version {version:?}")));
        }
        let rules = &mut site.release.rules;
        let mut matching = rules.iter_mut().filter(|r| r.percent.is_some() && r.version == version);
        match (matching.next(), matching.next()) {
            (Some(rule), None) => rule.percent = Some(percent),
            (None, _) => rules.push(Rule { percent: Some(percent), ..unnamed_rule(version) }),
            (Some(_), Some(_)) => {
                return Err(ApiError::conflict(format!("several percentage rules send traffic to {version:?}; edit the rules instead")));
            }
        }
        Ok(())
    })
    .await
}

async fn put_upstream(
    State(app): Shared,
    Path((name, version)): Path<(String, String)>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let upstream: Upstream = body(value)?;
    change(
        &app,
        format!("{name}: upstream of {version}"),
        move |sites| {
            let site = find(sites, &name)?;
            let target = site.release.versions.get_mut(&version).ok_or_else(|| {
                ApiError::not_found(format!("site {name:?} has no version {version:?}"))
            })?;
            target.root = None;
            target.upstream = Some(upstream);
            Ok(())
        },
    )
    .await
}

async fn rollback_zero(State(app): Shared, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    change(
        &app,
        format!("{name}: every percentage to 0%"),
        move |sites| {
            for rule in &mut find(sites, &name)?.release.rules {
                if rule.percent.is_some() {
                    rule.percent = Some(0.0);
                }
            }
            Ok(())
        },
    )
    .await
}

async fn get_pins(State(app): Shared, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    let site = site_of(&app, &name)?;
    let mut pins: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for rule in &site.release.rules {
        if let Some(pin) = &rule.pin {
            pins.entry(rule.version.clone())
                .or_default()
                .extend(pin.uids.iter().cloned());
        }
    }
    Ok(Json(json!({"pins": pins})))
}

/// A rule for `version` with no name and no matcher yet: the caller sets exactly one.
fn unnamed_rule(version: String) -> Rule {
    Rule {
        name: None,
        version,
        pin: None,
        header: None,
        cookie: None,
        query: None,
        app_version: None,
        percent: None,
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AddPins {
    version: String,
    uids: Vec<String>,
}

async fn add_pins(
    State(app): Shared,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let AddPins { version, uids } = body(value)?;
    let uids: Vec<String> = uids
        .into_iter()
        .map(|u| u.trim().to_string())
        .filter(|u| !u.is_empty())
        .collect();
    if uids.is_empty() {
        return Err(ApiError::field("/uids", "give at least one uid"));
    }
    let description = format!("{name}: pin {} uid(s) to {version}", uids.len());
    change(&app, description, move |sites| {
        let site = find(sites, &name)?;
        if !site.release.versions.contains_key(&version) {
            return Err(ApiError::not_found(format!(
                "site {name:?} has no version {version:?}"
            )));
        }
        let rules = &mut site.release.rules;
        // A uid pinned elsewhere moves here.
        for rule in rules.iter_mut().filter(|r| r.version != version) {
            if let Some(pin) = &mut rule.pin {
                pin.uids.retain(|u| !uids.contains(u));
            }
        }
        rules.retain(|r| {
            r.pin
                .as_ref()
                .is_none_or(|p| !p.uids.is_empty() || p.uids_file.is_some())
        });
        match rules
            .iter_mut()
            .find(|r| r.version == version && r.pin.is_some())
        {
            Some(rule) => {
                if let Some(pin) = &mut rule.pin {
                    for uid in uids {
                        if !pin.uids.contains(&uid) {
                            pin.uids.push(uid);
                        }
                    }
                }
            }
            // Pins go first: a pinned user gets the version whatever else matches.
            None => rules.insert(
                0,
                Rule {
                    pin: Some(graygate_config::Pin {
                        uids,
                        uids_file: None,
                    }),
                    ..unnamed_rule(version)
                },
            ),
        }
        Ok(())
    })
    .await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RemovePins {
    uids: Vec<String>,
}

async fn remove_pins(
    State(app): Shared,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let RemovePins { uids } = body(value)?;
    change(
        &app,
        format!("{name}: unpin {} uid(s)", uids.len()),
        move |sites| {
            let rules = &mut find(sites, &name)?.release.rules;
            for rule in rules.iter_mut() {
                if let Some(pin) = &mut rule.pin {
                    pin.uids.retain(|u| !uids.contains(u));
                }
            }
            rules.retain(|r| {
                r.pin
                    .as_ref()
                    .is_none_or(|p| !p.uids.is_empty() || p.uids_file.is_some())
            });
            Ok(())
        },
    )
    .await
}

async fn list_upstreams(State(app): Shared) -> Json<Value> {
    let (_, sites) = app.control.sites();
    let mut out = Vec::new();
    for site in &sites {
        for (version, v) in &site.release.versions {
            if let Some(u) = &v.upstream {
                let name = u
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("{}/{version}", site.name));
                out.push(json!({"site": site.name, "version": version, "name": name, "servers": u.servers}));
            }
        }
    }
    Json(Value::Array(out))
}

async fn list_revisions(State(app): Shared) -> Json<Value> {
    let (current, revisions) = app.control.revisions();
    let list: Vec<Value> = revisions
        .iter()
        .map(|r| json!({"revision": r.revision, "time": r.time, "actor": r.actor, "change": r.change}))
        .collect();
    Json(json!({"current": current, "revisions": list}))
}

async fn get_revision(State(app): Shared, Path(n): Path<u64>) -> ApiResult<Json<Value>> {
    // Reading a revision takes the control lock (and may read a file): off the async runtime.
    let control = app.control.clone();
    let rev = tokio::task::spawn_blocking(move || control.revision(n))
        .await
        .map_err(|_| ApiError::internal("the read did not complete"))?
        .ok_or_else(|| ApiError::not_found(format!("no revision {n}")))?;
    Ok(Json(serde_json::to_value(rev).unwrap_or(Value::Null)))
}

async fn rollback_revision(State(app): Shared, Path(n): Path<u64>) -> ApiResult<Json<Value>> {
    let (control, actor) = (app.control.clone(), app.settings.token_name.clone());
    let revision = tokio::task::spawn_blocking(move || control.rollback(&actor, n))
        .await
        .map_err(|_| ApiError::internal("the rollback did not complete"))??;
    Ok(Json(json!({"revision": revision})))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct Explain {
    host: Option<String>,
    path: Option<String>,
    headers: BTreeMap<String, String>,
    cookies: BTreeMap<String, String>,
    query: Option<String>,
    uid: Option<String>,
    uuid: Option<String>,
    client_ip: Option<std::net::IpAddr>,
}

async fn explain(State(app): Shared, Json(value): Json<Value>) -> ApiResult<Json<Value>> {
    let req: Explain = body(value)?;
    let snapshot = app.server.snapshot();
    let host = req.host.clone().unwrap_or_default();
    let path = req.path.clone().unwrap_or_else(|| "/".into());
    let route = snapshot.routes.route(&host, &path).ok_or_else(|| {
        ApiError::not_found(format!("no site answers host {host:?} and path {path:?}"))
    })?;
    let site = &snapshot.sites[usize::from(route.site)];
    let mut headers = HeaderMap::new();
    for (name, value) in &req.headers {
        let name = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| ApiError::field(format!("/headers/{name}"), "not a valid header name"))?;
        let value = HeaderValue::from_str(value)
            .map_err(|_| ApiError::field(format!("/headers/{name}"), "not a valid header value"))?;
        headers.append(name, value);
    }
    let (uid_cookie, uuid_cookie) = site.policy.cookie_names();
    let mut cookies: Vec<String> = req
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect();
    if let Some(uid) = &req.uid {
        cookies.push(format!("{uid_cookie}={uid}"));
    }
    if let Some(uuid) = &req.uuid {
        cookies.push(format!("{uuid_cookie}={uuid}"));
    }
    if !cookies.is_empty() {
        let value = HeaderValue::from_str(&cookies.join("; "))
            .map_err(|_| ApiError::field("/cookies", "not valid cookie text"))?;
        headers.append(header::COOKIE, value);
    }
    let view = RequestView {
        headers: &headers,
        query: req.query.as_deref(),
        client_ip: req.client_ip,
    };
    let identity = site.policy.identify(&view, || DeviceId::v4(random_bytes()));
    let (tried, decision) = site.policy.explain(&view, &identity);
    let rules: Vec<Value> = tried
        .iter()
        .map(|(name, matched)| json!({"name": name, "matched": matched}))
        .collect();
    Ok(Json(json!({
        "site": &*site.name,
        "host": &*site.hosts[usize::from(route.host)],
        "version": site.policy.version_name(decision.version),
        "reason": site.policy.reason_label(decision.reason),
        "new_device": identity.new_device().is_some(),
        "device": identity.device_key(),
        "bucket": identity.device_key().map(|d| site.policy.bucket(d)),
        "rules": rules,
        "revision": snapshot.revision,
    })))
}

#[derive(Deserialize)]
struct Decide {
    site: String,
    account_id: Option<String>,
    uuid: Option<String>,
}

/// The seed's gray-service contract: the version as plain text.
async fn decide(State(app): Shared, Query(q): Query<Decide>) -> ApiResult<Response> {
    let snapshot = app.server.snapshot();
    let site = snapshot
        .sites
        .iter()
        .find(|s| *s.name == q.site)
        .ok_or_else(|| ApiError::not_found(format!("no site named {:?}", q.site)))?;
    let (uid_cookie, uuid_cookie) = site.policy.cookie_names();
    let mut cookies = Vec::new();
    if let Some(uid) = q.account_id.filter(|u| !u.is_empty()) {
        cookies.push(format!("{uid_cookie}={uid}"));
    }
    if let Some(uuid) = q.uuid.filter(|u| !u.is_empty()) {
        cookies.push(format!("{uuid_cookie}={uuid}"));
    }
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&cookies.join("; ")) {
        headers.insert(header::COOKIE, value);
    }
    let view = RequestView {
        headers: &headers,
        query: None,
        client_ip: None,
    };
    let identity = site.policy.identify(&view, || DeviceId::v4(random_bytes()));
    let decision = site.policy.decide(&view, &identity);
    let mut response = site
        .policy
        .version_name(decision.version)
        .to_string()
        .into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    Ok(response)
}

/// Requests, 5xx answers and duration buckets of one version, summed over its hosts.
type VersionTotals = (u64, u64, [u64; 14]);

async fn stats(State(app): Shared) -> Json<Value> {
    let mut sites: BTreeMap<String, BTreeMap<String, VersionTotals>> = BTreeMap::new();
    for t in app.server.registry().http_totals() {
        if t.site == graygate_proxy::UNROUTED {
            continue;
        }
        let entry = sites
            .entry(t.site)
            .or_default()
            .entry(t.version)
            .or_insert((0, 0, [0; 14]));
        entry.0 += t.requests;
        entry.1 += t.errors_5xx;
        for (a, b) in entry.2.iter_mut().zip(t.buckets) {
            *a += b;
        }
    }
    let sites: BTreeMap<String, Value> = sites
        .into_iter()
        .map(|(site, versions)| {
            let versions: BTreeMap<String, Value> = versions
                .into_iter()
                .map(|(v, (requests, errors, buckets))| {
                    (
                        v,
                        json!({"requests": requests, "errors_5xx": errors, "buckets": buckets}),
                    )
                })
                .collect();
            (site, json!(versions))
        })
        .collect();
    Json(json!({"bucket_bounds": graygate_metrics::DURATION_BUCKETS, "sites": sites}))
}

/// Device ids for explain/decide calls without one: unique, not secret.
fn random_bytes() -> [u8; 16] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = xxhash_rust::xxh3::xxh3_128(&nanos.to_le_bytes());
    mixed.to_le_bytes()
}

fn certificates(app: &App) -> ApiResult<&Arc<crate::Certificates>> {
    app.certificates
        .as_ref()
        .ok_or_else(|| ApiError::not_found("TLS is not configured (no `tls` section)"))
}

async fn list_certificates(State(app): Shared) -> ApiResult<Json<Value>> {
    let certs = certificates(&app)?;
    let list: Vec<Value> = certs
        .store
        .list()
        .iter()
        .map(|(source, c)| crate::certs::describe(*source, c))
        .collect();
    Ok(Json(Value::Array(list)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Upload {
    cert_pem: String,
    key_pem: String,
}

async fn put_certificate(
    State(app): Shared,
    Path(name): Path<String>,
    Json(value): Json<Value>,
) -> ApiResult<Json<Value>> {
    let Upload { cert_pem, key_pem } = body(value)?;
    let certs = certificates(&app)?.clone();
    let certificate = tokio::task::spawn_blocking(move || certs.put(&name, &cert_pem, &key_pem))
        .await
        .map_err(|_| ApiError::internal("the upload did not complete"))??;
    Ok(Json(crate::certs::describe(
        graygate_tls::Source::Api,
        &certificate,
    )))
}

async fn delete_certificate(
    State(app): Shared,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    let certs = certificates(&app)?.clone();
    tokio::task::spawn_blocking(move || certs.delete(&name))
        .await
        .map_err(|_| ApiError::internal("the delete did not complete"))??;
    Ok(Json(json!({"deleted": true})))
}
