//! Client app versions (`7.3.1`, `7.10.0-beta`), compared by numeric components.

use std::cmp::Ordering;

/// An app version: up to four numeric components, missing ones count as 0, anything after the
/// numeric part (`-beta`, `+build`) is ignored. `7.10.0 > 7.9.3`, `7.3 == 7.3.0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppVersionNumber([u32; 4]);

impl AppVersionNumber {
    /// Parses the leading `N(.N){0,3}` of `text`. `None` when it does not start with a digit or
    /// a component overflows.
    pub fn parse(text: &str) -> Option<AppVersionNumber> {
        let bytes = text.as_bytes();
        let mut parts = [0u32; 4];
        let mut i = 0;
        for (n, part) in parts.iter_mut().enumerate() {
            if n > 0 {
                // A dot continues the version only when a digit follows it.
                if bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                } else {
                    break;
                }
            }
            let start = i;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                *part = part
                    .checked_mul(10)?
                    .checked_add(u32::from(bytes[i] - b'0'))?;
                i += 1;
            }
            if i == start {
                return None;
            }
        }
        Some(AppVersionNumber(parts))
    }
}

impl PartialOrd for AppVersionNumber {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for AppVersionNumber {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.cmp(&other.0)
    }
}

/// A bound on an app version.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Bound {
    Gte(AppVersionNumber),
    Gt(AppVersionNumber),
    Lte(AppVersionNumber),
    Lt(AppVersionNumber),
    Eq(AppVersionNumber),
}

impl Bound {
    pub(crate) fn holds(&self, v: AppVersionNumber) -> bool {
        match *self {
            Bound::Gte(b) => v >= b,
            Bound::Gt(b) => v > b,
            Bound::Lte(b) => v <= b,
            Bound::Lt(b) => v < b,
            Bound::Eq(b) => v == b,
        }
    }
}

/// The version after `token/` in a User-Agent, where `token` is a whole product name
/// (`MyApp` matches `MyApp/7.3.1`, not `NotMyApp/7.3.1`).
pub(crate) fn from_product_token(user_agent: &str, token: &str) -> Option<AppVersionNumber> {
    let mut from = 0;
    while let Some(found) = user_agent[from..].find(token) {
        let start = from + found;
        let end = start + token.len();
        let boundary = start == 0 || !user_agent.as_bytes()[start - 1].is_ascii_alphanumeric();
        if boundary && user_agent.as_bytes().get(end) == Some(&b'/') {
            return AppVersionNumber::parse(&user_agent[end + 1..]);
        }
        from = end;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> AppVersionNumber {
        AppVersionNumber::parse(s).unwrap()
    }

    #[test]
    fn numeric_not_lexical() {
        assert!(v("7.10.0") > v("7.9.3"));
        assert!(v("10.0") > v("9.99.99"));
        assert_eq!(v("7.3"), v("7.3.0"));
        assert_eq!(v("7.3.1-beta"), v("7.3.1"));
        assert!(v("7.3.1.5") > v("7.3.1"));
    }

    #[test]
    fn rejects_non_versions() {
        assert_eq!(AppVersionNumber::parse(""), None);
        assert_eq!(AppVersionNumber::parse("v7"), None);
        assert_eq!(AppVersionNumber::parse("99999999999"), None);
        assert_eq!(AppVersionNumber::parse("7."), Some(v("7")));
    }

    #[test]
    fn product_tokens() {
        let ua = "Mozilla/5.0 (Linux; Android 14) MyApp/7.3.1 (build 42)";
        assert_eq!(from_product_token(ua, "MyApp"), Some(v("7.3.1")));
        assert_eq!(
            from_product_token("NotMyApp/9.0 MyApp/1.2", "MyApp"),
            Some(v("1.2"))
        );
        assert_eq!(from_product_token("MyAppX/1.0", "MyApp"), None);
        assert_eq!(from_product_token("MyApp 1.0", "MyApp"), None);
    }
}
