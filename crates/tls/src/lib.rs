//! TLS for the accept phase: certificates chosen by SNI during the handshake from a live store,
//! and private keys sealed before they touch the disk.
//!
//! [`CertStore`] implements rustls' `ResolvesServerCert` over an atomically swapped map: exact
//! names, leading wildcards (`*.example.com` covers one label), and a default certificate for
//! unknown or absent SNI. Certificates come from several sources (the configuration file, a
//! watched directory, the admin API); each source replaces its own set, and the merged map is
//! swapped in whole, so a handshake sees either the old or the new certificate, never a mix.
//! Every certificate is checked before it is accepted ([`Certificate::parse`]); a bad one is
//! refused with a message naming it, and whatever served before keeps serving.

mod seal;
mod store;
mod watch;

pub use seal::{SealError, Sealer};
pub use store::{CertStore, Source};
pub use watch::{load_files, watch_directory};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::sync::Arc;

/// A checked certificate chain with its key, ready for handshakes.
#[derive(Debug, Clone)]
pub struct Certificate {
    /// The name it is managed under (configuration, file stem, or API name).
    pub name: String,
    pub key: Arc<CertifiedKey>,
    /// DNS names of the leaf (subject alternative names, else the common name), lower-case.
    pub dns_names: Vec<String>,
    pub not_before: i64,
    pub not_after: i64,
    /// SHA-256 of the leaf certificate, hex.
    pub fingerprint: String,
    /// The leaf's serial number, hex.
    pub serial: String,
}

/// Why a certificate was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertError(pub String);

impl std::fmt::Display for CertError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for CertError {}

impl Certificate {
    /// Parses and checks a PEM chain (leaf first) and its PEM private key: both parse, the key
    /// type is supported, the key belongs to the leaf, and `now` (unix seconds) is inside the
    /// leaf's validity period.
    pub fn parse(
        name: &str,
        chain_pem: &[u8],
        key_pem: &[u8],
        now: i64,
    ) -> Result<Certificate, CertError> {
        let fail = |what: String| CertError(format!("certificate {name:?}: {what}"));
        let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<_, _>>()
            .map_err(|e| fail(format!("the certificate PEM does not parse: {e}")))?;
        let Some(leaf) = chain.first() else {
            return Err(fail("no CERTIFICATE block in the certificate PEM".into()));
        };
        let key = PrivateKeyDer::from_pem_slice(key_pem)
            .map_err(|e| fail(format!("the private key PEM does not parse: {e}")))?;
        let signing = any_supported_type(&key)
            .map_err(|e| fail(format!("unsupported private key type: {e}")))?;
        let certified = CertifiedKey::new(chain.clone(), signing);
        certified
            .keys_match()
            .map_err(|_| fail("the private key does not belong to the certificate".into()))?;
        let (_, x509) = x509_parser::parse_x509_certificate(leaf.as_ref())
            .map_err(|e| fail(format!("the leaf certificate does not parse: {e}")))?;
        let not_before = x509.validity().not_before.timestamp();
        let not_after = x509.validity().not_after.timestamp();
        if now < not_before {
            return Err(fail(format!(
                "not valid yet (valid from {})",
                x509.validity().not_before
            )));
        }
        if now > not_after {
            return Err(fail(format!("expired on {}", x509.validity().not_after)));
        }
        let mut dns_names: Vec<String> = Vec::new();
        if let Ok(Some(san)) = x509.subject_alternative_name() {
            for general in &san.value.general_names {
                if let x509_parser::extensions::GeneralName::DNSName(dns) = general {
                    dns_names.push(dns.to_ascii_lowercase());
                }
            }
        }
        if dns_names.is_empty() {
            dns_names.extend(
                x509.subject()
                    .iter_common_name()
                    .filter_map(|cn| cn.as_str().ok())
                    .map(str::to_ascii_lowercase),
            );
        }
        let fingerprint = hex(ring::digest::digest(&ring::digest::SHA256, leaf.as_ref()).as_ref());
        let serial = hex(x509.raw_serial());
        Ok(Certificate {
            name: name.to_string(),
            key: Arc::new(certified),
            dns_names,
            not_before,
            not_after,
            fingerprint,
            serial,
        })
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The rustls server configuration for the HTTPS listeners: TLS 1.2 and 1.3 only, ALPN `h2`
/// then `http/1.1`, certificates from `store`.
pub fn server_config(store: Arc<CertStore>) -> Result<Arc<rustls::ServerConfig>, CertError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| CertError(format!("TLS setup: {e}")))?
        .with_no_client_auth()
        .with_cert_resolver(store);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
