//! The release decision: which version of a site one request gets, and why.
//!
//! In the request path this is the `decide` phase, between routing (which picked the site) and
//! the target phase (which serves the chosen version's files or forwards to its upstream). It is
//! pure: a [`ReleasePolicy`] (built once from the configuration) and a view of the request go in,
//! a [`Decision`] comes out. No I/O, no clock, no randomness: the caller passes a fresh device id
//! and the current time where they are needed, so every answer can be tested and replayed.
//!
//! Semantics (see `docs/release.md`): the device is identified by the uuid cookie (or a fresh id
//! for a new device, or a salted hash of the client address); rules are tried in order and the
//! first match picks the version; percentage rules hash the device id into one of 10,000 buckets
//! with the release's salt, so a device gets the same answer on every node and after restarts,
//! and raising a percentage only adds devices. Anything unusable (a malformed cookie, a header
//! that is not text) makes the rule not match; the default version is the answer of last resort.

mod build;
mod identity;
mod rules;
mod version;

pub use identity::{Device, DeviceId, Identity, cookie};
pub use version::AppVersionNumber;

use rules::Rule;
use std::net::IpAddr;

/// Index of a version in [`ReleasePolicy::versions`].
pub type VersionId = u16;

/// The answer for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    pub version: VersionId,
    pub reason: Reason,
}

/// Why a version was chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The rule at this position matched.
    Rule(u16),
    /// No rule matched.
    Default,
    /// The chosen version could not serve and the default version did (set by the proxy).
    Fallback,
}

/// What the decision may look at in a request. Borrowed, so building one costs nothing.
#[derive(Debug, Clone, Copy)]
pub struct RequestView<'a> {
    pub headers: &'a http::HeaderMap,
    /// The query string, without the `?`.
    pub query: Option<&'a str>,
    pub client_ip: Option<IpAddr>,
}

/// A site's release policy, validated and compiled: the runtime form of `config::Release`.
#[derive(Debug)]
pub struct ReleasePolicy {
    versions: Vec<Box<str>>,
    default: VersionId,
    /// Seed for percentage buckets, derived from the configured salt.
    bucket_seed: u64,
    identity: identity::IdentityPolicy,
    rules: Vec<Rule>,
}

impl ReleasePolicy {
    /// Version names, indexed by [`VersionId`]; in the configuration's (sorted) order.
    pub fn versions(&self) -> &[Box<str>] {
        &self.versions
    }

    pub fn version_name(&self, id: VersionId) -> &str {
        self.versions.get(usize::from(id)).map_or("", |v| v)
    }

    pub fn default_version(&self) -> VersionId {
        self.default
    }

    /// The label of a reason as it appears in logs and metrics: `pin`, `rule:<name>`,
    /// `percent`, `default` or `fallback`.
    pub fn reason_label(&self, reason: Reason) -> &str {
        match reason {
            Reason::Rule(i) => self
                .rules
                .get(usize::from(i))
                .map_or("default", |r| &r.label),
            Reason::Default => "default",
            Reason::Fallback => "fallback",
        }
    }

    /// Who is asking: the account id and the device id from the cookies. `fresh` is called
    /// only for a new device (no usable cookie and no address-derived id configured).
    pub fn identify<'a>(
        &self,
        request: &RequestView<'a>,
        fresh: impl FnOnce() -> DeviceId,
    ) -> Identity<'a> {
        self.identity.identify(request, fresh)
    }

    /// The names of the account-id and device-id cookies.
    pub fn cookie_names(&self) -> (&str, &str) {
        (&self.identity.uid_cookie, &self.identity.uuid_cookie)
    }

    /// The `Set-Cookie` value that gives a new device its id; `now` dates `Expires`.
    pub fn device_cookie(&self, id: &DeviceId, now: std::time::SystemTime) -> http::HeaderValue {
        self.identity.set_cookie(id, now)
    }

    /// The decision: the first rule that matches, else the default version. Never fails.
    pub fn decide(&self, request: &RequestView<'_>, identity: &Identity<'_>) -> Decision {
        let bucket = identity.device_key().map(|key| self.bucket(key));
        for (i, rule) in self.rules.iter().enumerate() {
            if rule.matcher.matches(request, identity, bucket) {
                return Decision {
                    version: rule.version,
                    reason: Reason::Rule(i as u16),
                };
            }
        }
        Decision {
            version: self.default,
            reason: Reason::Default,
        }
    }

    /// Every rule in order with whether it matched, then the decision: what `explain` shows.
    pub fn explain(
        &self,
        request: &RequestView<'_>,
        identity: &Identity<'_>,
    ) -> (Vec<(&str, bool)>, Decision) {
        let bucket = identity.device_key().map(|key| self.bucket(key));
        let mut tried = Vec::with_capacity(self.rules.len());
        for (i, rule) in self.rules.iter().enumerate() {
            let matched = rule.matcher.matches(request, identity, bucket);
            tried.push((&*rule.label, matched));
            if matched {
                return (
                    tried,
                    Decision {
                        version: rule.version,
                        reason: Reason::Rule(i as u16),
                    },
                );
            }
        }
        (
            tried,
            Decision {
                version: self.default,
                reason: Reason::Default,
            },
        )
    }

    /// The device's bucket in `0..10_000`: `xxh3(device id, seed = xxh3(salt)) mod 10000`.
    pub fn bucket(&self, device: &str) -> u16 {
        (xxhash_rust::xxh3::xxh3_64_with_seed(device.as_bytes(), self.bucket_seed) % BUCKETS) as u16
    }
}

/// Percentages have two decimals: 10,000 buckets.
const BUCKETS: u64 = 10_000;
