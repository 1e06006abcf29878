//! The single writer of configuration. Every change — from the admin API, a rollback, or the
//! configuration file (at start and on SIGHUP) — goes through [`Control`]: the new sites are
//! validated by building a complete snapshot, persisted as a new revision, and only then swapped
//! in. A change that fails validation is rejected whole and nothing moves.
//!
//! How the file and admin changes combine: the latest change wins. The state directory records
//! which version of the file's `sites` it last took in (a hash). At start and on SIGHUP, if the
//! file's sites differ from that, they become a new revision (actor `file`), replacing changes
//! made through the API; if they are the same, the persisted revision (with the API's changes)
//! stays. Everything outside `sites` (listeners, limits, metrics, logs) always comes from the
//! file.

use crate::error::ApiError;
use crate::store::{Revision, Store};
use arc_swap::ArcSwap;
use graygate_config::{Config, ConfigErrors, Document, Site};
use graygate_metrics::Registry;
use graygate_proxy::{ServerHandle, Snapshot};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, OnceLock};

/// Adjusts a freshly built snapshot for this process (command-line overrides).
pub type Prepare = Box<dyn Fn(&mut Snapshot) + Send + Sync>;

pub struct Control {
    path: PathBuf,
    registry: Arc<Registry>,
    prepare: Prepare,
    server: OnceLock<ServerHandle>,
    state: Mutex<State>,
    /// What readers see: published after each change, read without the lock, so that reads
    /// (and the admin listener's single thread) never wait behind a change's validation and
    /// fsyncs.
    published: ArcSwap<Published>,
}

/// The current revision, its sites and the history, for readers.
#[derive(Debug, Default)]
struct Published {
    revision: u64,
    sites: Vec<Site>,
    history: Vec<Revision>,
}

struct State {
    /// The file's configuration (its non-site settings apply) with the current sites.
    config: Config,
    base_dir: PathBuf,
    revision: u64,
    file_hash: String,
    store: Store,
}

/// Why the configuration could not be loaded at start.
#[derive(Debug)]
pub enum StartError {
    Config(ConfigErrors),
    State(std::io::Error),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Config(e) => write!(f, "{e}"),
            StartError::State(e) => write!(f, "state directory: {e}"),
        }
    }
}

impl Control {
    /// Loads the configuration file and the state directory, reconciles them, and returns the
    /// snapshot to start with.
    pub fn load(
        path: &Path,
        state_dir: Option<&Path>,
        registry: Arc<Registry>,
        prepare: Prepare,
    ) -> Result<(Control, Snapshot), StartError> {
        let doc = Document::read(path).map_err(StartError::Config)?;
        let mut config = doc.parse().map_err(StartError::Config)?;
        let file_hash = sites_hash(&config.sites);
        let (mut store, persisted) = Store::open(state_dir).map_err(StartError::State)?;
        let (revision, pending) = match persisted {
            Some(state) if state.file_hash == file_hash => {
                config.sites = state.sites;
                (state.revision, None)
            }
            Some(state) => (state.revision + 1, Some("configuration file changed")),
            None => (1, Some("loaded from the configuration file")),
        };
        let mut snapshot = Snapshot::build(&config, doc.base_dir(), &registry)
            .map_err(|e| StartError::Config(doc.locate(e)))?;
        snapshot.revision = revision;
        prepare(&mut snapshot);
        if let Some(change) = pending {
            let rev = Revision {
                revision,
                time: now(),
                actor: "file".into(),
                change: format!("{change}: {}", path.display()),
                sites: config.sites.clone(),
            };
            store.commit(rev, &file_hash).map_err(StartError::State)?;
        }
        let state = State {
            config,
            base_dir: doc.base_dir().to_path_buf(),
            revision,
            file_hash,
            store,
        };
        let control = Control {
            path: path.to_path_buf(),
            registry,
            prepare,
            server: OnceLock::new(),
            published: ArcSwap::from_pointee(Published::default()),
            state: Mutex::new(state),
        };
        control.publish(&control.lock());
        Ok((control, snapshot))
    }

    /// Connects the running gateway that changes are swapped into.
    pub fn attach(&self, server: ServerHandle) {
        let _ = self.server.set(server);
    }

    pub fn persistent(&self) -> bool {
        self.lock().store.persistent()
    }

    /// SIGHUP: re-reads the file. Its non-site settings always apply; its sites become a new
    /// revision only when they changed since they were last taken in.
    pub fn reload_file(&self) -> Result<u64, String> {
        let doc = Document::read(&self.path).map_err(|e| e.to_string())?;
        let mut file = doc.parse().map_err(|e| e.to_string())?;
        let mut state = self.lock();
        let file_hash = sites_hash(&file.sites);
        let from_file = file_hash != state.file_hash;
        if !from_file {
            file.sites = state.config.sites.clone();
        }
        let revision = state.revision + 1;
        let mut snapshot = Snapshot::build(&file, doc.base_dir(), &self.registry)
            .map_err(|e| doc.locate(e).to_string())?;
        snapshot.revision = revision;
        (self.prepare)(&mut snapshot);
        let change = if from_file {
            "configuration file changed (reload)"
        } else {
            "configuration file reloaded (sites unchanged)"
        };
        let rev = Revision {
            revision,
            time: now(),
            actor: "file".into(),
            change: change.into(),
            sites: file.sites.clone(),
        };
        state
            .store
            .commit(rev, &file_hash)
            .map_err(|e| format!("cannot persist the revision: {e}"))?;
        state.config = file;
        state.base_dir = doc.base_dir().to_path_buf();
        state.revision = revision;
        state.file_hash = file_hash;
        self.publish(&state);
        self.swap(snapshot);
        Ok(revision)
    }

    /// Applies a change to the sites: validates the result as a whole, persists it as a new
    /// revision, swaps it in. Returns the new revision.
    pub fn change(
        &self,
        actor: &str,
        change: String,
        edit: impl FnOnce(&mut Vec<Site>) -> Result<(), ApiError>,
    ) -> Result<u64, ApiError> {
        let mut state = self.lock();
        let mut sites = state.config.sites.clone();
        if let Err(e) = edit(&mut sites).and_then(|()| paths_known(&state.config.sites, &sites)) {
            self.registry
                .globals
                .admin_changes_rejected
                .fetch_add(1, Relaxed);
            return Err(e);
        }
        let result = self.commit(&mut state, actor, change, sites);
        let counter = if result.is_ok() {
            &self.registry.globals.admin_changes_ok
        } else {
            &self.registry.globals.admin_changes_rejected
        };
        counter.fetch_add(1, Relaxed);
        result
    }

    /// A new revision with the sites of revision `n`.
    pub fn rollback(&self, actor: &str, n: u64) -> Result<u64, ApiError> {
        let mut state = self.lock();
        let old = state
            .store
            .get(n)
            .ok_or_else(|| ApiError::not_found(format!("no revision {n}")))?;
        self.commit(
            &mut state,
            actor,
            format!("rollback to revision {n}"),
            old.sites,
        )
    }

    /// The current sites and revision.
    pub fn sites(&self) -> (u64, Vec<Site>) {
        let published = self.published.load();
        (published.revision, published.sites.clone())
    }

    pub fn revisions(&self) -> (u64, Vec<Revision>) {
        let published = self.published.load();
        (published.revision, published.history.clone())
    }

    fn publish(&self, state: &State) {
        let published = Published {
            revision: state.revision,
            sites: state.config.sites.clone(),
            history: state.store.list(),
        };
        self.published.store(Arc::new(published));
    }

    pub fn revision(&self, n: u64) -> Option<Revision> {
        self.lock().store.get(n)
    }

    fn commit(
        &self,
        state: &mut State,
        actor: &str,
        change: String,
        sites: Vec<Site>,
    ) -> Result<u64, ApiError> {
        let mut config = state.config.clone();
        config.sites = sites;
        let revision = state.revision + 1;
        let mut snapshot =
            Snapshot::build(&config, &state.base_dir, &self.registry).map_err(ApiError::invalid)?;
        snapshot.revision = revision;
        (self.prepare)(&mut snapshot);
        let rev = Revision {
            revision,
            time: now(),
            actor: actor.to_string(),
            change,
            sites: config.sites.clone(),
        };
        let file_hash = state.file_hash.clone();
        state
            .store
            .commit(rev, &file_hash)
            .map_err(|e| ApiError::internal(format!("cannot persist the revision: {e}")))?;
        state.config = config;
        state.revision = revision;
        self.publish(state);
        self.swap(snapshot);
        Ok(revision)
    }

    fn swap(&self, snapshot: Snapshot) {
        if let Some(server) = self.server.get() {
            server.swap(snapshot);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic mid-change leaves the previous, consistent state in place (fields are only
        // assigned after everything succeeded), so a poisoned lock is still safe to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Paths on the server (static roots, pin files) come from the configuration file only: a
/// change through the API may keep and reuse them but not name new ones, or the API could
/// publish or read any file the process can.
fn paths_known(current: &[Site], changed: &[Site]) -> Result<(), ApiError> {
    let known: std::collections::HashSet<&Path> = paths(current).map(|(_, p)| p).collect();
    for (pointer, path) in paths(changed) {
        if !known.contains(path) {
            return Err(ApiError::field(
                pointer,
                format!(
                    "{} is not a path the configuration file uses; server paths are set in the file",
                    path.display()
                ),
            ));
        }
    }
    Ok(())
}

/// Every server path in the sites, with a JSON pointer to it.
fn paths(sites: &[Site]) -> impl Iterator<Item = (String, &Path)> {
    sites.iter().enumerate().flat_map(|(i, site)| {
        let roots = site.release.versions.iter().filter_map(move |(name, v)| {
            v.root
                .as_deref()
                .map(|p| (format!("/sites/{i}/release/versions/{name}/root"), p))
        });
        let files = site
            .release
            .rules
            .iter()
            .enumerate()
            .filter_map(move |(j, r)| {
                r.pin
                    .as_ref()
                    .and_then(|p| p.uids_file.as_deref())
                    .map(|p| (format!("/sites/{i}/release/rules/{j}/pin/uids_file"), p))
            });
        roots.chain(files)
    })
}

fn sites_hash(sites: &[Site]) -> String {
    let bytes = serde_json::to_vec(sites).unwrap_or_default();
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes))
}

fn now() -> String {
    graygate_proxy::access_log::timestamp(std::time::SystemTime::now())
}
