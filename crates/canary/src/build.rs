//! Building a [`ReleasePolicy`] from `config::Release`: every check happens here, once, so the
//! decision itself has nothing left that can fail.

use crate::identity::IdentityPolicy;
use crate::rules::{IdSet, Matcher, Rule, ValueTest, VersionSource};
use crate::version::{AppVersionNumber, Bound};
use crate::{BUCKETS, ReleasePolicy, VersionId};
use graygate_config::{self as config, FieldError, FieldPath};
use std::path::Path;
use std::time::Duration;

impl ReleasePolicy {
    /// Compiles a release. `site` names the default salt; `base_dir` resolves relative pin files;
    /// `path` is where the release sits in the document, for error messages. All errors are
    /// reported, not just the first.
    pub fn build(
        release: &config::Release,
        site: &str,
        base_dir: &Path,
        path: &FieldPath,
    ) -> Result<ReleasePolicy, Vec<FieldError>> {
        let mut errors = Vec::new();
        let versions: Vec<Box<str>> = release.versions.keys().map(|k| k.as_str().into()).collect();
        if versions.is_empty() {
            errors.push(
                path.key("versions")
                    .error("a release needs at least one version"),
            );
        }
        if versions.len() > usize::from(u16::MAX) {
            errors.push(
                path.key("versions")
                    .error("too many versions (at most 65535)"),
            );
        }
        for name in &versions {
            if !valid_version_name(name) {
                errors.push(path.key("versions").key(name.to_string()).error(
                    "version names may only use letters, digits and `.`, `-`, `_`, `+` (they appear in headers and metrics)",
                ));
            }
        }
        let lookup = |name: &str, at: FieldPath, errors: &mut Vec<FieldError>| -> VersionId {
            match versions.iter().position(|v| **v == *name) {
                Some(i) => i as VersionId,
                None => {
                    let known: Vec<&str> = versions.iter().map(|v| &**v).collect();
                    errors.push(at.error(format!(
                        "no version named {name:?}; the versions are {known:?}"
                    )));
                    0
                }
            }
        };
        let default = lookup(&release.default, path.key("default"), &mut errors);
        let identity = build_identity(&release.identity, &path.key("identity"), &mut errors);

        let mut rules = Vec::with_capacity(release.rules.len());
        let mut labels: Vec<String> = Vec::new();
        let mut next_bucket: u32 = 0;
        for (i, rule) in release.rules.iter().enumerate() {
            let at = path.key("rules").index(i);
            let version = lookup(&rule.version, at.key("version"), &mut errors);
            let Some((label, matcher)) =
                build_matcher(rule, i, &at, base_dir, &mut next_bucket, &mut errors)
            else {
                continue;
            };
            if let Some(name) = &rule.name {
                if !valid_rule_name(name) {
                    errors.push(
                        at.key("name").error(
                            "rule names may only use letters, digits and `.`, `-`, `_`, `:`",
                        ),
                    );
                } else if labels.iter().any(|l| l == &label) {
                    errors.push(
                        at.key("name")
                            .error(format!("another rule is already named {name:?}")),
                    );
                }
            }
            labels.push(label.clone());
            rules.push(Rule {
                label: label.into(),
                version,
                matcher,
            });
        }
        if next_bucket > BUCKETS as u32 {
            errors.push(path.key("rules").error(format!(
                "percentages add up to {}%, more than 100%",
                f64::from(next_bucket) / 100.0
            )));
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        let salt = release.salt.as_deref().unwrap_or(site);
        Ok(ReleasePolicy {
            versions,
            default,
            bucket_seed: xxhash_rust::xxh3::xxh3_64(salt.as_bytes()),
            identity,
            rules,
        })
    }
}

fn build_identity(
    identity: &config::Identity,
    at: &FieldPath,
    errors: &mut Vec<FieldError>,
) -> IdentityPolicy {
    let cookie = &identity.uuid_cookie;
    for (name, field) in [
        (&identity.uid_cookie, at.key("uid_cookie")),
        (&cookie.name, at.key("uuid_cookie").key("name")),
    ] {
        if !valid_cookie_name(name) {
            errors.push(field.error(format!(
                "{name:?} is not a valid cookie name (letters, digits and !#$%&'*+-.^_`|~)"
            )));
        }
    }
    if cookie.max_age_s == 0 {
        errors.push(
            at.key("uuid_cookie")
                .key("max_age_s")
                .error("the device cookie needs a lifetime above 0 seconds"),
        );
    }
    let mut attributes = format!("; Max-Age={}", cookie.max_age_s);
    if let Some(domain) = &cookie.domain {
        if domain.is_empty()
            || !domain
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
        {
            errors.push(
                at.key("uuid_cookie")
                    .key("domain")
                    .error(format!("{domain:?} is not a domain name")),
            );
        }
        attributes.push_str("; Domain=");
        attributes.push_str(domain);
    }
    if cookie.secure {
        attributes.push_str("; Secure");
    }
    if cookie.http_only {
        attributes.push_str("; HttpOnly");
    }
    attributes.push_str("; SameSite=Lax");
    let ip_seed = identity.device_id_from_ip.as_ref().map(|d| {
        if d.salt.is_empty() {
            errors.push(
                at.key("device_id_from_ip")
                    .key("salt")
                    .error("the salt must not be empty: without it, ids map back to addresses"),
            );
        }
        xxhash_rust::xxh3::xxh3_64(d.salt.as_bytes())
    });
    IdentityPolicy {
        uid_cookie: identity.uid_cookie.as_str().into(),
        uuid_cookie: cookie.name.as_str().into(),
        max_age: Duration::from_secs(cookie.max_age_s),
        cookie_attributes: attributes.into(),
        ip_seed,
    }
}

/// The matcher of one rule and its reason label; `None` (with errors recorded) when unusable.
fn build_matcher(
    rule: &config::Rule,
    index: usize,
    at: &FieldPath,
    base_dir: &Path,
    next_bucket: &mut u32,
    errors: &mut Vec<FieldError>,
) -> Option<(String, Matcher)> {
    let present: Vec<&str> = [
        ("pin", rule.pin.is_some()),
        ("header", rule.header.is_some()),
        ("cookie", rule.cookie.is_some()),
        ("query", rule.query.is_some()),
        ("app_version", rule.app_version.is_some()),
        ("percent", rule.percent.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    if present.len() != 1 {
        errors.push(at.error(format!(
            "a rule needs exactly one of pin, header, cookie, query, app_version, percent; found {}",
            if present.is_empty() { "none".to_string() } else { present.join(" and ") }
        )));
        return None;
    }
    let named = |default: &str| match &rule.name {
        Some(name) => format!("rule:{name}"),
        None if default.is_empty() => format!("rule:rule{index}"),
        None => default.to_string(),
    };
    let errors_before = errors.len();
    let result = if let Some(pin) = &rule.pin {
        let ids = build_pin(pin, &at.key("pin"), base_dir, errors);
        // A pin is reported as `pin` unless the rule has its own name.
        (named("pin"), Matcher::Pin(ids))
    } else if let Some(m) = &rule.header {
        let at = at.key("header");
        let name = http::HeaderName::from_bytes(m.name.as_bytes()).unwrap_or_else(|_| {
            errors.push(
                at.key("name")
                    .error(format!("{:?} is not a valid header name", m.name)),
            );
            http::header::HOST
        });
        (named(""), Matcher::Header(name, build_test(m, &at, errors)))
    } else if let Some(m) = &rule.cookie {
        let at = at.key("cookie");
        if !valid_cookie_name(&m.name) {
            errors.push(
                at.key("name")
                    .error(format!("{:?} is not a valid cookie name", m.name)),
            );
        }
        (
            named(""),
            Matcher::Cookie(m.name.as_str().into(), build_test(m, &at, errors)),
        )
    } else if let Some(m) = &rule.query {
        let at = at.key("query");
        if m.name.is_empty() {
            errors.push(
                at.key("name")
                    .error("the query parameter name must not be empty"),
            );
        }
        (
            named(""),
            Matcher::Query(m.name.as_str().into(), build_test(m, &at, errors)),
        )
    } else if let Some(app) = &rule.app_version {
        (
            named(""),
            build_app_version(app, &at.key("app_version"), errors),
        )
    } else {
        let pct = rule.percent.unwrap_or(0.0);
        let buckets = pct * 100.0;
        if !(0.0..=100.0).contains(&pct) || (buckets - buckets.round()).abs() > 1e-6 {
            errors.push(at.key("percent").error(format!(
                "{pct} is not a percentage from 0 to 100 with at most two decimals"
            )));
        }
        let lo = *next_bucket;
        *next_bucket += buckets.round().clamp(0.0, BUCKETS as f64) as u32;
        let hi = (*next_bucket).min(BUCKETS as u32);
        (
            named("percent"),
            Matcher::Percent {
                lo: lo.min(BUCKETS as u32) as u16,
                hi: hi as u16,
            },
        )
    };
    (errors.len() == errors_before).then_some(result)
}

fn build_pin(
    pin: &config::Pin,
    at: &FieldPath,
    base_dir: &Path,
    errors: &mut Vec<FieldError>,
) -> IdSet {
    let mut ids = IdSet::default();
    for (i, uid) in pin.uids.iter().enumerate() {
        if uid.is_empty() || !uid.bytes().all(|b| b.is_ascii_graphic()) {
            errors.push(at.key("uids").index(i).error(format!(
                "{uid:?} is not an account id (visible ASCII, no spaces)"
            )));
        }
        ids.insert(uid.as_str().into());
    }
    if let Some(file) = &pin.uids_file {
        let path = base_dir.join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                for (n, line) in text.lines().enumerate() {
                    let line = line.trim();
                    if line.is_empty() || line.starts_with('#') {
                        continue;
                    }
                    if !line.bytes().all(|b| b.is_ascii_graphic()) {
                        errors.push(at.key("uids_file").error(format!(
                            "{}:{}: not an account id (visible ASCII, no spaces)",
                            path.display(),
                            n + 1
                        )));
                        break;
                    }
                    ids.insert(line.into());
                }
            }
            Err(e) => errors.push(
                at.key("uids_file")
                    .error(format!("cannot read {}: {e}", path.display())),
            ),
        }
    }
    if pin.uids.is_empty() && pin.uids_file.is_none() {
        errors.push(at.error("a pin needs `uids` or `uids_file`"));
    }
    ids
}

fn build_test(m: &config::ValueMatch, at: &FieldPath, errors: &mut Vec<FieldError>) -> ValueTest {
    let set = [
        m.present.is_some(),
        m.equals.is_some(),
        m.one_of.is_some(),
        m.regex.is_some(),
    ];
    if set.iter().filter(|s| **s).count() != 1 {
        errors.push(at.error("give exactly one of present, equals, one_of, regex"));
        return ValueTest::Present(true);
    }
    if let Some(p) = m.present {
        ValueTest::Present(p)
    } else if let Some(v) = &m.equals {
        ValueTest::Equals(v.as_bytes().into())
    } else if let Some(vs) = &m.one_of {
        if vs.is_empty() {
            errors.push(at.key("one_of").error("one_of needs at least one value"));
        }
        ValueTest::OneOf(vs.iter().map(|v| v.as_bytes().into()).collect())
    } else {
        let pattern = m.regex.as_deref().unwrap_or_default();
        match regex::bytes::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) => ValueTest::Regex(re),
            Err(e) => {
                errors.push(at.key("regex").error(format!(
                    "invalid regular expression: {}",
                    last_line(&e.to_string())
                )));
                ValueTest::Present(true)
            }
        }
    }
}

fn build_app_version(
    app: &config::AppVersion,
    at: &FieldPath,
    errors: &mut Vec<FieldError>,
) -> Matcher {
    let header = app.header.as_ref().map(|h| {
        http::HeaderName::from_bytes(h.as_bytes()).unwrap_or_else(|_| {
            errors.push(
                at.key("header")
                    .error(format!("{h:?} is not a valid header name")),
            );
            http::header::USER_AGENT
        })
    });
    let source = match (&header, &app.user_agent, &app.regex) {
        (Some(_), Some(_), _) => {
            errors.push(at.error("give either `header` or `user_agent`, not both"));
            None
        }
        (_, Some(_), Some(_)) => {
            errors.push(at.error("`user_agent` names a product token; use `regex` alone to match the User-Agent with a pattern"));
            None
        }
        (h, _, Some(pattern)) => match regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
        {
            Ok(re) if re.captures_len() >= 2 => Some(VersionSource::Regex(h.clone(), re)),
            Ok(_) => {
                errors.push(at.key("regex").error("the regular expression needs a capture group around the version, e.g. `MyApp/([0-9.]+)`"));
                None
            }
            Err(e) => {
                errors.push(at.key("regex").error(format!(
                    "invalid regular expression: {}",
                    last_line(&e.to_string())
                )));
                None
            }
        },
        (Some(h), None, None) => Some(VersionSource::Header(h.clone())),
        (None, Some(token), None) => {
            if token.is_empty() || token.contains('/') || token.contains(' ') {
                errors.push(
                    at.key("user_agent")
                        .error("give the product name only, e.g. `MyApp` for `MyApp/7.3.1`"),
                );
            }
            Some(VersionSource::ProductToken(token.as_str().into()))
        }
        (None, None, None) => {
            errors.push(
                at.error("say where the version comes from: `header`, `user_agent` or `regex`"),
            );
            None
        }
    };
    let mut bounds = Vec::new();
    for (field, value, make) in [
        ("gte", &app.gte, Bound::Gte as fn(AppVersionNumber) -> Bound),
        ("gt", &app.gt, Bound::Gt),
        ("lte", &app.lte, Bound::Lte),
        ("lt", &app.lt, Bound::Lt),
        ("eq", &app.eq, Bound::Eq),
    ] {
        if let Some(text) = value {
            match AppVersionNumber::parse(text) {
                Some(v) if v_is_whole(text) => bounds.push(make(v)),
                _ => errors.push(
                    at.key(field)
                        .error(format!("{text:?} is not a version like 7.3.1")),
                ),
            }
        }
    }
    if bounds.is_empty() {
        errors.push(at.error("give at least one bound: gte, gt, lte, lt or eq"));
    }
    Matcher::AppVersion {
        source: source.unwrap_or(VersionSource::Header(http::header::USER_AGENT)),
        bounds,
    }
}

/// Bounds in the config must be plain dotted numbers (a client's version may carry suffixes).
fn v_is_whole(text: &str) -> bool {
    !text.is_empty()
        && text.split('.').count() <= 4
        && text
            .split('.')
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// The regex crate's errors repeat the pattern with a caret; the last line says what is wrong.
fn last_line(text: &str) -> String {
    text.lines()
        .rfind(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
        .to_string()
}

fn valid_version_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+".contains(&b))
}

fn valid_rule_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b))
}

/// RFC 6265 cookie-name: an HTTP token.
fn valid_cookie_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
