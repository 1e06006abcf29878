//! Validators and conditional requests (RFC 9110 §8.8, §13), decided before any byte is read.

use crate::range::{self, Ranges};
use http::HeaderMap;
use http::header::{
    HeaderName, IF_MATCH, IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, IF_UNMODIFIED_SINCE, RANGE,
};
use std::fs::Metadata;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The validators of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validators {
    /// Strong, nginx-style: `"<mtime seconds hex>-<size hex>"`, quotes included.
    pub(crate) etag: Option<String>,
    /// Whole seconds since the epoch; `None` when the filesystem has no usable mtime.
    pub(crate) last_modified: Option<SystemTime>,
}

impl Validators {
    pub(crate) fn of(meta: &Metadata) -> Validators {
        let Ok(mtime) = meta.modified() else {
            // Without an mtime an ETag would not change when the content does.
            return Validators {
                etag: None,
                last_modified: None,
            };
        };
        let secs = match mtime.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_secs()).map_or(i64::MIN, |s| -s),
        };
        // `httpdate` panics outside 1970..9999, so such mtimes get no Last-Modified.
        let last_modified = u64::try_from(secs)
            .ok()
            .filter(|&s| s < 253_402_300_800)
            .map(|s| UNIX_EPOCH + Duration::from_secs(s));
        Validators {
            etag: Some(format!("\"{secs:x}-{:x}\"", meta.len())),
            last_modified,
        }
    }
}

/// The conditional and range headers of a request, copied out so that the decision can be made
/// together with the file lookup.
#[derive(Debug, Default, Clone)]
pub(crate) struct Conditions {
    if_match: Option<String>,
    if_none_match: Option<String>,
    if_modified_since: Option<SystemTime>,
    if_unmodified_since: Option<SystemTime>,
    range: Option<String>,
    if_range: Option<String>,
}

impl Conditions {
    pub(crate) fn from_headers(headers: &HeaderMap) -> Conditions {
        let range = match single(headers, &RANGE) {
            Some(Some(v)) => Some(v),
            // Several or non-text Range fields are not a valid range request: ignore them.
            _ => None,
        };
        Conditions {
            if_match: list(headers, &IF_MATCH),
            if_none_match: list(headers, &IF_NONE_MATCH),
            if_modified_since: date(headers, &IF_MODIFIED_SINCE),
            if_unmodified_since: date(headers, &IF_UNMODIFIED_SINCE),
            range,
            // An unreadable If-Range is a validator that matches nothing.
            if_range: single(headers, &IF_RANGE).map(Option::unwrap_or_default),
        }
    }
}

/// What to answer, given the validators of the file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    PreconditionFailed,
    NotModified,
    Full,
    /// Unsatisfiable byte ranges: 416.
    Unsatisfiable,
    /// Sorted, disjoint inclusive ranges; one means a plain 206, more mean multipart.
    Partial(Vec<(u64, u64)>),
}

/// RFC 9110 §13.2.2 order of evaluation. Only GET and HEAD reach this, so a false
/// If-None-Match is always 304. Ranges are considered for GET only (§14.2).
pub(crate) fn evaluate(c: &Conditions, v: &Validators, len: u64, get: bool) -> Plan {
    let precondition_failed = match &c.if_match {
        Some(list) => !tag_list_matches(list, v.etag.as_deref(), Comparison::Strong),
        None => matches!((c.if_unmodified_since, v.last_modified),
            (Some(since), Some(modified)) if modified > since),
    };
    if precondition_failed {
        return Plan::PreconditionFailed;
    }

    let not_modified = match &c.if_none_match {
        Some(list) => tag_list_matches(list, v.etag.as_deref(), Comparison::Weak),
        None => matches!((c.if_modified_since, v.last_modified),
            (Some(since), Some(modified)) if modified <= since),
    };
    if not_modified {
        return Plan::NotModified;
    }

    let Some(range) = c.range.as_deref().filter(|_| get) else {
        return Plan::Full;
    };
    if c.if_range
        .as_deref()
        .is_some_and(|validator| !if_range_matches(validator, v))
    {
        return Plan::Full;
    }
    match range::parse(range, len) {
        Ranges::Ignore => Plan::Full,
        Ranges::Unsatisfiable => Plan::Unsatisfiable,
        Ranges::Satisfiable(ranges) => Plan::Partial(ranges),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Strong,
    Weak,
}

/// Whether an If-Match / If-None-Match value (`*` or a list of entity tags) matches `ours`
/// (always a strong tag). A syntax error ends the list: what was not understood does not match.
fn tag_list_matches(list: &str, ours: Option<&str>, cmp: Comparison) -> bool {
    let mut rest = list;
    loop {
        rest = rest.trim_start_matches([' ', '\t', ',']);
        if rest.is_empty() {
            return false;
        }
        if rest.starts_with('*') {
            // `*` matches any current representation, and the file exists.
            return true;
        }
        let Some((tag, weak, after)) = entity_tag(rest) else {
            return false;
        };
        let usable = cmp == Comparison::Weak || !weak;
        if usable && ours == Some(tag) {
            return true;
        }
        rest = after;
    }
}

/// Splits one entity tag off the front of `s`: the opaque tag with its quotes, whether it was
/// weak, and what follows.
fn entity_tag(s: &str) -> Option<(&str, bool, &str)> {
    let (weak, s) = match s.strip_prefix("W/") {
        Some(rest) => (true, rest),
        None => (false, s),
    };
    let body = s.strip_prefix('"')?;
    let end = body.find('"')?;
    let tag = s.get(..end + 2)?;
    let after = s.get(end + 2..)?;
    Some((tag, weak, after))
}

/// If-Range (RFC 9110 §13.1.5): a strong entity tag equal to ours, or a date exactly equal to
/// Last-Modified (what nginx does; our Last-Modified is never considered weak).
fn if_range_matches(validator: &str, v: &Validators) -> bool {
    let validator = validator.trim();
    if validator.starts_with('"') || validator.starts_with("W/") {
        return match entity_tag(validator) {
            Some((tag, false, rest)) if rest.trim().is_empty() => v.etag.as_deref() == Some(tag),
            _ => false,
        };
    }
    match (httpdate::parse_http_date(validator), v.last_modified) {
        (Ok(date), Some(modified)) => date == modified,
        _ => false,
    }
}

/// All field lines of a list header joined, or `None` when absent. A line that is not text
/// becomes an empty member, which matches nothing but still counts as "present".
fn list(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut joined: Option<String> = None;
    for value in headers.get_all(name) {
        let text = value.to_str().unwrap_or("");
        match &mut joined {
            Some(j) => {
                j.push_str(", ");
                j.push_str(text);
            }
            None => joined = Some(text.to_owned()),
        }
    }
    joined
}

/// `None` when absent; `Some(None)` when repeated or not text; `Some(Some(v))` otherwise.
fn single(headers: &HeaderMap, name: &HeaderName) -> Option<Option<String>> {
    let mut values = headers.get_all(name).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return Some(None);
    }
    Some(first.to_str().ok().map(str::to_owned))
}

/// A date condition, or `None` when absent, repeated or not a valid HTTP-date: RFC 9110 says to
/// ignore those (§13.1.3, §13.1.4).
fn date(headers: &HeaderMap, name: &HeaderName) -> Option<SystemTime> {
    httpdate::parse_http_date(&single(headers, name)??).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    const ETAG: &str = "\"5f5e100-a\"";

    fn validators() -> Validators {
        Validators {
            etag: Some(ETAG.to_owned()),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(100_000_000)),
        }
    }

    fn conditions(pairs: &[(HeaderName, &str)]) -> Conditions {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        Conditions::from_headers(&headers)
    }

    fn plan(pairs: &[(HeaderName, &str)]) -> Plan {
        evaluate(&conditions(pairs), &validators(), 10, true)
    }

    fn date_str(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    #[test]
    fn tag_lists() {
        let ours = Some(ETAG);
        assert!(tag_list_matches(ETAG, ours, Comparison::Strong));
        assert!(tag_list_matches("*", ours, Comparison::Strong));
        assert!(tag_list_matches("*", None, Comparison::Strong));
        assert!(tag_list_matches(
            "\"x\", \"5f5e100-a\"",
            ours,
            Comparison::Strong
        ));
        assert!(tag_list_matches(
            "\"a,b\" ,\t\"5f5e100-a\"",
            ours,
            Comparison::Weak
        ));
        assert!(tag_list_matches("W/\"5f5e100-a\"", ours, Comparison::Weak));
        assert!(!tag_list_matches(
            "W/\"5f5e100-a\"",
            ours,
            Comparison::Strong
        ));
        assert!(!tag_list_matches("\"other\"", ours, Comparison::Weak));
        assert!(!tag_list_matches("", ours, Comparison::Weak));
        assert!(!tag_list_matches("5f5e100-a", ours, Comparison::Weak));
        assert!(!tag_list_matches("\"unterminated", ours, Comparison::Weak));
        assert!(!tag_list_matches(ETAG, None, Comparison::Weak));
    }

    #[test]
    fn etag_is_nginx_style() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"0123456789abcdef").unwrap();
        let meta = std::fs::metadata(&path).unwrap();
        let secs = meta
            .modified()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let v = Validators::of(&meta);
        assert_eq!(v.etag, Some(format!("\"{secs:x}-10\"")));
        assert_eq!(
            v.last_modified,
            Some(UNIX_EPOCH + Duration::from_secs(secs))
        );
    }

    #[test]
    fn precedence() {
        assert_eq!(plan(&[]), Plan::Full);
        assert_eq!(plan(&[(IF_MATCH, "\"nope\"")]), Plan::PreconditionFailed);
        assert_eq!(plan(&[(IF_MATCH, ETAG)]), Plan::Full);
        assert_eq!(plan(&[(IF_MATCH, "*")]), Plan::Full);
        // If-Match present: If-Unmodified-Since is not looked at.
        let old = date_str(1);
        assert_eq!(
            plan(&[(IF_MATCH, ETAG), (IF_UNMODIFIED_SINCE, &old)]),
            Plan::Full
        );
        assert_eq!(
            plan(&[(IF_UNMODIFIED_SINCE, &old)]),
            Plan::PreconditionFailed
        );
        assert_eq!(
            plan(&[(IF_UNMODIFIED_SINCE, &date_str(100_000_000))]),
            Plan::Full
        );
        assert_eq!(plan(&[(IF_UNMODIFIED_SINCE, "garbage")]), Plan::Full);

        assert_eq!(plan(&[(IF_NONE_MATCH, ETAG)]), Plan::NotModified);
        assert_eq!(
            plan(&[(IF_NONE_MATCH, "W/\"5f5e100-a\"")]),
            Plan::NotModified
        );
        assert_eq!(plan(&[(IF_NONE_MATCH, "*")]), Plan::NotModified);
        assert_eq!(
            plan(&[(IF_NONE_MATCH, "\"x\""), (IF_NONE_MATCH, ETAG)]),
            Plan::NotModified
        );
        // If-None-Match present and false: If-Modified-Since is not looked at.
        let now = date_str(100_000_000);
        assert_eq!(
            plan(&[(IF_NONE_MATCH, "\"x\""), (IF_MODIFIED_SINCE, &now)]),
            Plan::Full
        );
        assert_eq!(plan(&[(IF_MODIFIED_SINCE, &now)]), Plan::NotModified);
        assert_eq!(
            plan(&[(IF_MODIFIED_SINCE, &date_str(200_000_000))]),
            Plan::NotModified
        );
        assert_eq!(
            plan(&[(IF_MODIFIED_SINCE, &date_str(99_999_999))]),
            Plan::Full
        );
        assert_eq!(plan(&[(IF_MODIFIED_SINCE, "yesterday")]), Plan::Full);
        // 412 wins over 304.
        assert_eq!(
            plan(&[(IF_MATCH, "\"nope\""), (IF_NONE_MATCH, ETAG)]),
            Plan::PreconditionFailed
        );
    }

    #[test]
    fn ranges_and_if_range() {
        assert_eq!(plan(&[(RANGE, "bytes=0-1")]), Plan::Partial(vec![(0, 1)]));
        assert_eq!(
            evaluate(
                &conditions(&[(RANGE, "bytes=0-1")]),
                &validators(),
                10,
                false
            ),
            Plan::Full
        );
        assert_eq!(plan(&[(RANGE, "bytes=10-")]), Plan::Unsatisfiable);
        assert_eq!(plan(&[(RANGE, "bytes=x")]), Plan::Full);
        assert_eq!(
            plan(&[(RANGE, "bytes=0-1"), (RANGE, "bytes=2-3")]),
            Plan::Full
        );
        assert_eq!(
            plan(&[(RANGE, "bytes=0-1"), (IF_RANGE, ETAG)]),
            Plan::Partial(vec![(0, 1)])
        );
        assert_eq!(
            plan(&[(RANGE, "bytes=0-1"), (IF_RANGE, "\"old\"")]),
            Plan::Full
        );
        assert_eq!(
            plan(&[(RANGE, "bytes=0-1"), (IF_RANGE, "W/\"5f5e100-a\"")]),
            Plan::Full
        );
        assert_eq!(
            plan(&[(RANGE, "bytes=0-1"), (IF_RANGE, &date_str(100_000_000))]),
            Plan::Partial(vec![(0, 1)])
        );
        assert_eq!(
            plan(&[(RANGE, "bytes=0-1"), (IF_RANGE, &date_str(100_000_001))]),
            Plan::Full
        );
        // A mismatching If-Range also bypasses 416.
        assert_eq!(
            plan(&[(RANGE, "bytes=50-"), (IF_RANGE, "\"old\"")]),
            Plan::Full
        );
        // If-Range without Range changes nothing.
        assert_eq!(plan(&[(IF_RANGE, "\"old\"")]), Plan::Full);
    }
}
