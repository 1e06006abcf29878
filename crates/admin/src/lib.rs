//! The control plane: the admin listener with its page and JSON API, and [`Control`], the one
//! place configuration changes go through.
//!
//! It sits beside the request path, not on it: a change builds a complete new snapshot, which is
//! persisted and swapped in atomically (`graygate-proxy`'s `ServerHandle::swap`); workers pick it
//! up for the next request they start. The admin listener runs on its own thread and runtime.

mod api;
mod auth;
mod certs;
mod control;
mod error;
mod store;

pub use certs::Certificates;
pub use control::{Control, Prepare, StartError};
pub use error::ApiError;
pub use store::{Revision, StateFile};

use graygate_proxy::ServerHandle;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::watch;

/// The admin listener's settings, resolved (the token read from its source).
#[derive(Debug, Clone)]
pub struct Settings {
    pub listen: SocketAddr,
    pub token: Option<String>,
    pub token_name: String,
}

impl Settings {
    /// Resolves the token from the environment variable or the file. Refuses a listener that is
    /// not on loopback without a token.
    pub fn resolve(
        admin: &graygate_config::Admin,
        listen: SocketAddr,
        base_dir: &std::path::Path,
    ) -> Result<Settings, String> {
        let from_env = std::env::var(&admin.token_env)
            .ok()
            .filter(|t| !t.is_empty());
        let token = match (from_env, &admin.token_file) {
            (Some(token), _) => Some(token),
            (None, Some(file)) => {
                let path = base_dir.join(file);
                let text = std::fs::read_to_string(&path)
                    .map_err(|e| format!("admin token file {}: {e}", path.display()))?;
                let token = text.lines().next().unwrap_or("").trim().to_string();
                if token.is_empty() {
                    return Err(format!("admin token file {} is empty", path.display()));
                }
                Some(token)
            }
            (None, None) => None,
        };
        if token.is_none() && !listen.ip().is_loopback() {
            return Err(format!(
                "the admin listener {listen} is not on loopback: set a token in ${} or admin.token_file",
                admin.token_env
            ));
        }
        Ok(Settings {
            listen,
            token,
            token_name: admin.token_name.clone(),
        })
    }
}

/// Binds the admin listener and serves it on its own thread until `shutdown` turns true.
pub fn spawn(
    settings: Settings,
    control: Arc<Control>,
    certificates: Option<Arc<Certificates>>,
    server: ServerHandle,
    shutdown: watch::Receiver<bool>,
) -> io::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind(settings.listen).map_err(|e| {
        io::Error::new(
            e.kind(),
            format!(
                "cannot listen on {} for the admin API: {e}",
                settings.listen
            ),
        )
    })?;
    listener.set_nonblocking(true)?;
    let local = listener.local_addr()?;
    let app = api::router(Arc::new(api::App {
        settings,
        control,
        certificates,
        server,
        shutdown: shutdown.clone(),
    }));
    std::thread::Builder::new()
        .name("graygate-admin".into())
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
                let mut stop = shutdown;
                let served = axum::serve(listener, app).with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                });
                if let Err(e) = served.await {
                    tracing::error!(error = %e, "admin listener failed");
                }
            });
        })?;
    Ok(local)
}
