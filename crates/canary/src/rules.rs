//! Rule matchers, compiled: each answers "does this request match?" without allocating.

use crate::identity::{Identity, cookie};
use crate::version::{self, AppVersionNumber, Bound};
use crate::{RequestView, VersionId};
use std::borrow::Cow;
use std::collections::HashSet;
use std::hash::BuildHasherDefault;
use xxhash_rust::xxh3::Xxh3Default;

/// Pin sets can hold hundreds of thousands of ids; xxh3 hashes them fast and they are only read
/// per request (ids from clients are looked up, never inserted, so flooding is not a concern).
pub(crate) type IdSet = HashSet<Box<str>, BuildHasherDefault<Xxh3Default>>;

#[derive(Debug)]
pub(crate) struct Rule {
    /// `pin`, `percent` or `rule:<name>`: the decision reason.
    pub(crate) label: Box<str>,
    pub(crate) version: VersionId,
    pub(crate) matcher: Matcher,
}

#[derive(Debug)]
pub(crate) enum Matcher {
    Pin(IdSet),
    Header(http::HeaderName, ValueTest),
    Cookie(Box<str>, ValueTest),
    Query(Box<str>, ValueTest),
    AppVersion {
        source: VersionSource,
        bounds: Vec<Bound>,
    },
    /// Buckets `lo..hi` of 10,000.
    Percent {
        lo: u16,
        hi: u16,
    },
}

#[derive(Debug)]
pub(crate) enum ValueTest {
    Present(bool),
    Equals(Box<[u8]>),
    OneOf(Vec<Box<[u8]>>),
    Regex(regex::bytes::Regex),
}

#[derive(Debug)]
pub(crate) enum VersionSource {
    Header(http::HeaderName),
    ProductToken(Box<str>),
    /// First capture group of the regex over a header (or the User-Agent when `None`).
    Regex(Option<http::HeaderName>, regex::Regex),
}

impl Matcher {
    pub(crate) fn matches(
        &self,
        request: &RequestView<'_>,
        identity: &Identity<'_>,
        bucket: Option<u16>,
    ) -> bool {
        match self {
            Matcher::Pin(ids) => identity.uid.is_some_and(|uid| ids.contains(uid)),
            Matcher::Header(name, test) => {
                let mut values = request.headers.get_all(name).iter().peekable();
                match test {
                    ValueTest::Present(want) => values.peek().is_some() == *want,
                    _ => values.any(|v| test.matches_value(v.as_bytes())),
                }
            }
            Matcher::Cookie(name, test) => {
                test.matches(cookie(request.headers, name).map(str::as_bytes))
            }
            Matcher::Query(name, test) => test.matches(query_param(request.query, name).as_deref()),
            Matcher::AppVersion { source, bounds } => source
                .extract(request)
                .is_some_and(|v| bounds.iter().all(|b| b.holds(v))),
            Matcher::Percent { lo, hi } => bucket.is_some_and(|b| (*lo..*hi).contains(&b)),
        }
    }
}

impl ValueTest {
    fn matches(&self, value: Option<&[u8]>) -> bool {
        match (self, value) {
            (ValueTest::Present(want), v) => v.is_some() == *want,
            (_, Some(v)) => self.matches_value(v),
            (_, None) => false,
        }
    }

    fn matches_value(&self, value: &[u8]) -> bool {
        match self {
            ValueTest::Present(want) => *want,
            ValueTest::Equals(expected) => **expected == *value,
            ValueTest::OneOf(options) => options.iter().any(|o| **o == *value),
            ValueTest::Regex(re) => re.is_match(value),
        }
    }
}

impl VersionSource {
    fn extract(&self, request: &RequestView<'_>) -> Option<AppVersionNumber> {
        let text =
            |name: &http::HeaderName| request.headers.get(name).and_then(|v| v.to_str().ok());
        match self {
            VersionSource::Header(name) => AppVersionNumber::parse(text(name)?.trim()),
            VersionSource::ProductToken(token) => {
                version::from_product_token(text(&http::header::USER_AGENT)?, token)
            }
            VersionSource::Regex(header, re) => {
                let haystack = text(header.as_ref().unwrap_or(&http::header::USER_AGENT))?;
                AppVersionNumber::parse(re.captures(haystack)?.get(1)?.as_str())
            }
        }
    }
}

/// The first value of query parameter `name`, percent-decoded (`+` is a space, as in forms).
fn query_param<'a>(query: Option<&'a str>, name: &str) -> Option<Cow<'a, [u8]>> {
    for pair in query?.split('&') {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        if decode(key).as_ref() == name.as_bytes() {
            return Some(decode(value));
        }
    }
    None
}

fn decode(text: &str) -> Cow<'_, [u8]> {
    if !text.bytes().any(|b| b == b'%' || b == b'+') {
        return Cow::Borrowed(text.as_bytes());
    }
    let spaced = text.replace('+', " ");
    Cow::Owned(percent_encoding::percent_decode_str(&spaced).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_params_are_decoded() {
        assert_eq!(
            query_param(Some("a=1&gray=on"), "gray").as_deref(),
            Some(&b"on"[..])
        );
        assert_eq!(
            query_param(Some("g%72ay=o%6E+x"), "gray").as_deref(),
            Some(&b"on x"[..])
        );
        assert_eq!(
            query_param(Some("flag&x=1"), "flag").as_deref(),
            Some(&b""[..])
        );
        assert_eq!(query_param(Some("x=1"), "gray"), None);
        assert_eq!(query_param(None, "gray"), None);
        assert_eq!(
            query_param(Some("bad=%zz%"), "bad").as_deref(),
            Some(&b"%zz%"[..])
        );
    }
}
