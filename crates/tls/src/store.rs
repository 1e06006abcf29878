//! The live certificate map and its sources.

use crate::Certificate;
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// Where certificates come from. A name present in several sources is taken from the highest:
/// the admin API over the watched directory over the configuration file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Source {
    Config,
    Directory,
    Api,
}

impl Source {
    pub fn label(self) -> &'static str {
        match self {
            Source::Config => "config",
            Source::Directory => "directory",
            Source::Api => "api",
        }
    }
}

#[derive(Debug, Default)]
struct Map {
    exact: HashMap<String, Arc<CertifiedKey>>,
    /// Keyed by the suffix after `*.`.
    wildcard: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

/// The certificates serving handshakes.
#[derive(Debug)]
pub struct CertStore {
    map: ArcSwap<Map>,
    sources: Mutex<BTreeMap<Source, BTreeMap<String, Certificate>>>,
    /// The name of the default certificate; else the first by name of the config source.
    default_name: Option<String>,
}

impl CertStore {
    pub fn new(default_name: Option<String>) -> CertStore {
        CertStore {
            map: ArcSwap::from_pointee(Map::default()),
            sources: Mutex::default(),
            default_name,
        }
    }

    /// Replaces every certificate of one source and swaps the merged map in.
    pub fn replace(&self, source: Source, certificates: Vec<Certificate>) {
        let mut sources = self.lock();
        sources.insert(
            source,
            certificates
                .into_iter()
                .map(|c| (c.name.clone(), c))
                .collect(),
        );
        self.rebuild(&sources);
    }

    /// Adds or replaces one certificate of a source.
    pub fn put(&self, source: Source, certificate: Certificate) {
        let mut sources = self.lock();
        sources
            .entry(source)
            .or_default()
            .insert(certificate.name.clone(), certificate);
        self.rebuild(&sources);
    }

    /// Removes one certificate of a source; true when it was there.
    pub fn remove(&self, source: Source, name: &str) -> bool {
        let mut sources = self.lock();
        let removed = sources
            .get_mut(&source)
            .and_then(|s| s.remove(name))
            .is_some();
        self.rebuild(&sources);
        removed
    }

    /// Every certificate in effect, by name, with its source.
    pub fn list(&self) -> Vec<(Source, Certificate)> {
        let sources = self.lock();
        let mut effective: BTreeMap<String, (Source, Certificate)> = BTreeMap::new();
        for (source, certs) in sources.iter() {
            for (name, cert) in certs {
                effective.insert(name.clone(), (*source, cert.clone()));
            }
        }
        effective.into_values().collect()
    }

    /// The certificate a handshake would get for `sni` (None: no SNI).
    pub fn lookup(&self, sni: Option<&str>) -> Option<Arc<CertifiedKey>> {
        let map = self.map.load();
        if let Some(name) = sni {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            if let Some(key) = map.exact.get(&name) {
                return Some(key.clone());
            }
            if let Some((_, parent)) = name.split_once('.')
                && let Some(key) = map.wildcard.get(parent)
            {
                return Some(key.clone());
            }
        }
        map.default.clone()
    }

    fn rebuild(&self, sources: &BTreeMap<Source, BTreeMap<String, Certificate>>) {
        // Lower sources first, so higher ones overwrite names they share.
        let mut effective: BTreeMap<&str, &Certificate> = BTreeMap::new();
        for certs in sources.values() {
            for (name, cert) in certs {
                effective.insert(name, cert);
            }
        }
        // Host names are claimed source by source, lowest first, so a host covered by an API
        // certificate is served by it whatever the certificates are called; a certificate
        // replaced by name in a higher source does not claim its hosts at all.
        let mut map = Map::default();
        for (source, certs) in sources {
            for (name, cert) in certs {
                let overridden = sources
                    .range((
                        std::ops::Bound::Excluded(*source),
                        std::ops::Bound::Unbounded,
                    ))
                    .any(|(_, higher)| higher.contains_key(name));
                if overridden {
                    continue;
                }
                for dns in &cert.dns_names {
                    match dns.strip_prefix("*.") {
                        Some(suffix) => map.wildcard.insert(suffix.to_string(), cert.key.clone()),
                        None => map.exact.insert(dns.clone(), cert.key.clone()),
                    };
                }
            }
        }
        map.default = match &self.default_name {
            Some(name) => effective.get(name.as_str()).map(|c| c.key.clone()),
            None => None,
        }
        .or_else(|| {
            sources
                .get(&Source::Config)
                .and_then(|c| c.values().next())
                .or_else(|| effective.values().next().copied())
                .map(|c| c.key.clone())
        });
        self.map.store(Arc::new(map));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<Source, BTreeMap<String, Certificate>>> {
        // The map is rebuilt whole from the sources; a poisoned lock holds consistent sources.
        self.sources.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.lookup(hello.server_name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(name: &str, host: &str) -> Certificate {
        let key = rcgen::KeyPair::generate().expect("key");
        let params = rcgen::CertificateParams::new(vec![host.to_string()]).expect("params");
        let pem = params.self_signed(&key).expect("cert").pem();
        Certificate::parse(
            name,
            pem.as_bytes(),
            key.serialize_pem().as_bytes(),
            crate::unix_now(),
        )
        .expect("valid")
    }

    fn serving(store: &CertStore, host: &str) -> Vec<u8> {
        store.lookup(Some(host)).expect("a certificate").cert[0].to_vec()
    }

    #[test]
    fn higher_sources_win_by_host_whatever_the_names() {
        let store = CertStore::new(None);
        let (file, api) = (
            cert("zzz-from-file", "x.test"),
            cert("aaa-from-api", "x.test"),
        );
        store.replace(Source::Config, vec![file.clone()]);
        assert_eq!(serving(&store, "x.test"), file.key.cert[0].to_vec());
        store.put(Source::Api, api.clone());
        assert_eq!(serving(&store, "x.test"), api.key.cert[0].to_vec());
        store.remove(Source::Api, "aaa-from-api");
        assert_eq!(serving(&store, "x.test"), file.key.cert[0].to_vec());
    }

    #[test]
    fn a_name_replaced_in_a_higher_source_claims_no_hosts() {
        let store = CertStore::new(None);
        store.replace(
            Source::Config,
            vec![cert("shop", "old.test"), cert("other", "other.test")],
        );
        store.put(Source::Api, cert("shop", "new.test"));
        // old.test was only the file's "shop", which the API replaced: the default answers.
        assert_ne!(serving(&store, "old.test"), serving(&store, "new.test"));
        assert!(
            store
                .list()
                .iter()
                .any(|(s, c)| *s == Source::Api && c.name == "shop")
        );
    }
}
