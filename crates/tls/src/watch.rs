//! Certificates from files: the ones named in the configuration, and a watched directory of
//! `<name>.crt` + `<name>.key` pairs, polled so that changes take effect within a second.

use crate::{CertError, CertStore, Certificate, Source, unix_now};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Loads and checks one certificate from a chain file and a key file.
pub fn load_files(name: &str, cert: &Path, key: &Path) -> Result<Certificate, CertError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| {
            CertError(format!(
                "certificate {name:?}: cannot read {}: {e}",
                path.display()
            ))
        })
    };
    Certificate::parse(name, &read(cert)?, &read(key)?, unix_now())
}

/// How often the directory is looked at.
const POLL: Duration = Duration::from_millis(250);

/// Watches `dir` on a thread of its own for the life of the process. A pair that appears or
/// changes is checked and then served; one that fails the checks is reported and the
/// certificate served before under that name keeps serving; a removed pair stops serving.
pub fn watch_directory(store: Arc<CertStore>, dir: PathBuf) -> std::io::Result<()> {
    let mut seen: BTreeMap<String, Stamp> = BTreeMap::new();
    let mut serving: BTreeMap<String, Certificate> = BTreeMap::new();
    scan(&store, &dir, &mut seen, &mut serving);
    std::thread::Builder::new()
        .name("graygate-certs".into())
        .spawn(move || {
            loop {
                std::thread::sleep(POLL);
                scan(&store, &dir, &mut seen, &mut serving);
            }
        })?;
    Ok(())
}

/// Modification time and length of a pair's two files.
type Stamp = (Option<SystemTime>, u64, Option<SystemTime>, u64);

fn scan(
    store: &CertStore,
    dir: &Path,
    seen: &mut BTreeMap<String, Stamp>,
    serving: &mut BTreeMap<String, Certificate>,
) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        tracing::warn!(dir = %dir.display(), "cannot read the certificate directory");
        return;
    };
    let mut now: BTreeMap<String, Stamp> = BTreeMap::new();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "crt")
            && let Some(name) = path.file_stem().and_then(|s| s.to_str())
        {
            let key = path.with_extension("key");
            let stamp = |p: &Path| {
                std::fs::metadata(p)
                    .map(|m| (m.modified().ok(), m.len()))
                    .unwrap_or((None, 0))
            };
            let ((cm, cl), (km, kl)) = (stamp(&path), stamp(&key));
            now.insert(name.to_string(), (cm, cl, km, kl));
        }
    }
    if now == *seen {
        return;
    }
    for (name, stamp) in &now {
        if seen.get(name) == Some(stamp) {
            continue;
        }
        let cert = dir.join(format!("{name}.crt"));
        match load_files(name, &cert, &dir.join(format!("{name}.key"))) {
            Ok(certificate) => {
                tracing::info!(name, serial = %certificate.serial, "certificate loaded from the directory");
                serving.insert(name.clone(), certificate);
            }
            Err(e) => tracing::error!(
                "{e} (from {}); the previous certificate, if any, keeps serving",
                dir.display()
            ),
        }
    }
    serving.retain(|name, _| now.contains_key(name));
    *seen = now;
    store.replace(Source::Directory, serving.values().cloned().collect());
}
