//! Certificates managed through the admin API: uploaded as PEM, checked, served at once, and
//! persisted in the state directory with the private key sealed (AES-256-GCM under a key from
//! the environment or a key file). No plaintext private key is ever written.

use crate::error::ApiError;
use graygate_tls::{CertStore, Certificate, Sealer, Source, unix_now};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;

/// The API's certificates: the live store, where they persist, and the sealing key.
#[derive(Debug)]
pub struct Certificates {
    pub store: Arc<CertStore>,
    writing: std::sync::Mutex<()>,
    dir: Option<PathBuf>,
    sealer: Option<Sealer>,
    key_hint: String,
}

/// A certificate as persisted: the chain in clear (it is public), the key sealed.
#[derive(Debug, Serialize, Deserialize)]
struct Stored {
    name: String,
    cert_pem: String,
    /// Hex of nonce, ciphertext and tag; the certificate's name is the associated data.
    key_sealed: String,
}

impl Certificates {
    /// `dir` is the state directory's `certs/`; `key_hint` says how to provide a sealing key.
    pub fn new(
        store: Arc<CertStore>,
        dir: Option<PathBuf>,
        sealer: Option<Sealer>,
        key_hint: String,
    ) -> Certificates {
        Certificates {
            store,
            writing: std::sync::Mutex::new(()),
            dir,
            sealer,
            key_hint,
        }
    }

    /// Loads the persisted certificates into the store; returns the problems (one per file).
    pub fn load(&self) -> Vec<String> {
        let Some(dir) = &self.dir else {
            return Vec::new();
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Vec::new();
        };
        let mut problems = Vec::new();
        let mut loaded = Vec::new();
        for path in entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
        {
            let result = (|| {
                let stored: Stored =
                    serde_json::from_slice(&std::fs::read(&path).map_err(|e| e.to_string())?)
                        .map_err(|e| e.to_string())?;
                let sealer = self
                    .sealer
                    .as_ref()
                    .ok_or_else(|| format!("no sealing key to open it; {}", self.key_hint))?;
                let key = sealer
                    .open(&stored.key_sealed, &stored.name)
                    .map_err(|e| e.to_string())?;
                Certificate::parse(&stored.name, stored.cert_pem.as_bytes(), &key, unix_now())
                    .map_err(|e| e.to_string())
            })();
            match result {
                Ok(certificate) => loaded.push(certificate),
                Err(e) => problems.push(format!("{}: {e}", path.display())),
            }
        }
        self.store.replace(Source::Api, loaded);
        problems
    }

    /// Checks, persists (sealed) and serves a certificate; the previous one under the name keeps
    /// serving if anything fails.
    pub fn put(&self, name: &str, cert_pem: &str, key_pem: &str) -> Result<Certificate, ApiError> {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            return Err(ApiError::field(
                "/name",
                "certificate names may only use letters, digits and `.`, `-`, `_`",
            ));
        }
        let sealer = self.sealer.as_ref().ok_or_else(|| {
            ApiError::new(
                http::StatusCode::PRECONDITION_FAILED,
                format!(
                    "refusing to store a private key without a sealing key: {}",
                    self.key_hint
                ),
            )
        })?;
        let certificate =
            Certificate::parse(name, cert_pem.as_bytes(), key_pem.as_bytes(), unix_now())
                .map_err(|e| ApiError::field("/cert_pem", e.0))?;
        if let Some(dir) = &self.dir {
            let key_sealed = sealer
                .seal(key_pem.as_bytes(), name)
                .map_err(|e| ApiError::internal(e.0))?;
            let stored = Stored {
                name: name.to_string(),
                cert_pem: cert_pem.to_string(),
                key_sealed,
            };
            let bytes = serde_json::to_vec_pretty(&stored)
                .map_err(|e| ApiError::internal(e.to_string()))?;
            crate::store::write_atomic(&dir.join(format!("{name}.json")), &bytes)
                .map_err(|e| ApiError::internal(format!("cannot persist: {e}")))?;
        }
        self.store.put(Source::Api, certificate.clone());
        Ok(certificate)
    }

    /// Stops serving and forgets an API certificate.
    pub fn delete(&self, name: &str) -> Result<(), ApiError> {
        // The name becomes a file name: never let it reach outside the certificate directory.
        check_name(name)?;
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = &self.dir {
            let path = dir.join(format!("{name}.json"));
            if path.exists() {
                std::fs::remove_file(&path)
                    .map_err(|e| ApiError::internal(format!("cannot delete: {e}")))?;
            }
        }
        if self.store.remove(Source::Api, name) {
            Ok(())
        } else {
            Err(ApiError::not_found(format!(
                "no API certificate named {name:?}"
            )))
        }
    }
}

/// Certificate names are file names in the state directory: letters, digits, `.`, `-`, `_`, and
/// never a name of dots alone.
fn check_name(name: &str) -> Result<(), ApiError> {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if !plain || name.bytes().all(|b| b == b'.') {
        return Err(ApiError::field(
            "/name",
            "certificate names may only use letters, digits and `.`, `-`, `_`",
        ));
    }
    Ok(())
}

/// The JSON shape of a certificate in the API.
pub fn describe(source: Source, c: &Certificate) -> serde_json::Value {
    serde_json::json!({
        "name": c.name,
        "source": source.label(),
        "dns_names": c.dns_names,
        "not_before": c.not_before,
        "not_after": c.not_after,
        "expires_in_seconds": c.not_after - unix_now(),
        "serial": c.serial,
        "fingerprint_sha256": c.fingerprint,
    })
}
