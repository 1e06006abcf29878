//! Persisted state: the current revision of the sites, every revision's content, and an
//! append-only audit log, in a state directory. Writes are atomic (temp file, fsync, rename,
//! fsync of the directory), so a crash at any point leaves the last acknowledged revision.
//!
//! Layout:
//! - `state.json` — `{"revision", "file_hash", "sites"}`: what serves after a restart;
//! - `revisions/<n>.json` — `{"revision", "time", "actor", "change", "sites"}`, one per revision;
//! - `audit.log` — one JSON object per revision: time, revision, actor, change.

use graygate_config::Site;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// One revision: who changed what, and the sites it resulted in.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Revision {
    pub revision: u64,
    pub time: String,
    pub actor: String,
    pub change: String,
    pub sites: Vec<Site>,
}

/// What `state.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StateFile {
    pub revision: u64,
    /// Hash of the configuration file's sites this state last took in (see `Control`).
    pub file_hash: String,
    pub sites: Vec<Site>,
}

/// Revisions, on disk when there is a state directory and in memory always (for listing).
#[derive(Debug)]
pub struct Store {
    dir: Option<PathBuf>,
    /// Summaries (no sites) of every revision, oldest first; sites of those in memory only.
    history: BTreeMap<u64, Revision>,
}

impl Store {
    /// Opens (creating) the state directory; returns the store and the persisted state, if any.
    pub fn open(dir: Option<&Path>) -> io::Result<(Store, Option<StateFile>)> {
        let Some(dir) = dir else {
            return Ok((
                Store {
                    dir: None,
                    history: BTreeMap::new(),
                },
                None,
            ));
        };
        fs::create_dir_all(dir.join("revisions"))
            .and_then(|()| fs::create_dir_all(dir.join("certs")))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot create the state directory {}: {e}", dir.display()),
                )
            })?;
        let state = match fs::read(dir.join("state.json")) {
            Ok(bytes) => Some(serde_json::from_slice::<StateFile>(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", dir.join("state.json").display()),
                )
            })?),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(e) => return Err(e),
        };
        let mut history = BTreeMap::new();
        let current = state.as_ref().map_or(0, |s| s.revision);
        for entry in fs::read_dir(dir.join("revisions"))? {
            let path = entry?.path();
            let Some(n) = path
                .file_stem()
                .and_then(|s| s.to_str())
                .and_then(|s| s.parse::<u64>().ok())
            else {
                continue;
            };
            // Revisions written but never committed (a crash before state.json) are not history.
            if n > current {
                let _ = fs::remove_file(&path);
                continue;
            }
            if let Ok(rev) = fs::read(&path)
                .map_err(|_| ())
                .and_then(|b| serde_json::from_slice::<Revision>(&b).map_err(|_| ()))
            {
                history.insert(
                    n,
                    Revision {
                        sites: Vec::new(),
                        ..rev
                    },
                );
            }
        }
        let store = Store {
            dir: Some(dir.to_path_buf()),
            history,
        };
        store.reconcile_audit()?;
        Ok((store, state))
    }

    pub fn persistent(&self) -> bool {
        self.dir.is_some()
    }

    /// Records a revision: its content, then `state.json` (the commit point), then the audit
    /// line. Returns once everything is on disk.
    pub fn commit(&mut self, rev: Revision, file_hash: &str) -> io::Result<()> {
        if let Some(dir) = &self.dir {
            write_atomic(
                &dir.join("revisions")
                    .join(format!("{:08}.json", rev.revision)),
                &serde_json::to_vec_pretty(&rev)?,
            )?;
            let state = StateFile {
                revision: rev.revision,
                file_hash: file_hash.to_string(),
                sites: rev.sites.clone(),
            };
            write_atomic(&dir.join("state.json"), &serde_json::to_vec_pretty(&state)?)?;
            // state.json is in place: the revision is committed, whatever happens next. A missing
            // audit line is filled in from the revision file at the next start.
            if let Err(e) = append_audit(dir, &rev) {
                tracing::error!(revision = rev.revision, error = %e, "audit log not written; it will be completed at the next start");
            }
        }
        // Without a state directory the history keeps the sites so rollback still works.
        let keep_sites = self.dir.is_none();
        let summary = if keep_sites {
            rev
        } else {
            Revision {
                sites: Vec::new(),
                ..rev
            }
        };
        self.history.insert(summary.revision, summary);
        Ok(())
    }

    /// Revisions, newest first, without their sites.
    pub fn list(&self) -> Vec<Revision> {
        self.history
            .values()
            .rev()
            .map(|r| Revision {
                sites: Vec::new(),
                ..r.clone()
            })
            .collect()
    }

    /// A revision with its sites.
    pub fn get(&self, n: u64) -> Option<Revision> {
        match &self.dir {
            Some(dir) => {
                let bytes = fs::read(dir.join("revisions").join(format!("{n:08}.json"))).ok()?;
                serde_json::from_slice(&bytes).ok()
            }
            None => self.history.get(&n).cloned(),
        }
    }

    /// The audit log must list every committed revision; a crash between committing and
    /// appending leaves a gap that is filled from the revision files at the next start.
    fn reconcile_audit(&self) -> io::Result<()> {
        let Some(dir) = &self.dir else { return Ok(()) };
        let logged: std::collections::BTreeSet<u64> = fs::read_to_string(dir.join("audit.log"))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| v["revision"].as_u64())
            .collect();
        for rev in self
            .history
            .values()
            .filter(|r| !logged.contains(&r.revision))
        {
            append_audit(dir, rev)?;
        }
        Ok(())
    }
}

fn append_audit(dir: &Path, rev: &Revision) -> io::Result<()> {
    let line = serde_json::json!({"time": rev.time, "revision": rev.revision, "actor": rev.actor, "change": rev.change});
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("audit.log"))?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

/// Writes `bytes` to `path` so that `path` always holds either the old or the new content.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("state")
    ));
    {
        let mut file = File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    fs::rename(&tmp, path)?;
    // Renamed: the new content is what readers see. A failed directory sync only weakens
    // durability across a power cut; reporting it as a failed write would be false.
    if let Err(e) = File::open(dir).and_then(|d| d.sync_all()) {
        tracing::error!(path = %path.display(), error = %e, "directory sync failed after a write");
    }
    Ok(())
}
