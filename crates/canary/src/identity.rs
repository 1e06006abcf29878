//! Identity: the account id (`uid` cookie) and the device id (`uuid` cookie, a fresh id for a
//! new device, or a salted hash of the client address).

use crate::RequestView;
use http::HeaderValue;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime};

/// Who sent a request.
#[derive(Debug, Clone, Copy)]
pub struct Identity<'a> {
    /// The account id, when the cookie is present and well-formed.
    pub uid: Option<&'a str>,
    pub device: Device<'a>,
}

/// The device id of a request.
#[derive(Debug, Clone, Copy)]
pub enum Device<'a> {
    /// A well-formed id from the cookie.
    Cookie(&'a str),
    /// A new device: this id decides the request and is set as the cookie on the response.
    New(DeviceId),
    /// The cookie is present but malformed: no percentage rule can place this device, and the
    /// cookie is left alone (some apps write their own ids).
    Invalid,
}

impl Identity<'_> {
    /// The id that percentage buckets hash, if the device has a usable one.
    pub fn device_key(&self) -> Option<&str> {
        match &self.device {
            Device::Cookie(id) => Some(id),
            Device::New(id) => Some(id.as_str()),
            Device::Invalid => None,
        }
    }

    /// The id to set as the device cookie on the response, for a new device.
    pub fn new_device(&self) -> Option<&DeviceId> {
        match &self.device {
            Device::New(id) => Some(id),
            _ => None,
        }
    }
}

/// A device id in UUID text form (36 bytes, lower-case hex), stored inline: no allocation.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct DeviceId([u8; 36]);

impl DeviceId {
    /// A version-4 UUID from 16 random bytes (the caller owns the randomness).
    pub fn v4(mut bytes: [u8; 16]) -> DeviceId {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        DeviceId::format(bytes)
    }

    /// A stable id from a hash (used for address-derived ids; version nibble 8, "custom").
    fn from_hash(hash: u128) -> DeviceId {
        let mut bytes = hash.to_be_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x80;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        DeviceId::format(bytes)
    }

    fn format(bytes: [u8; 16]) -> DeviceId {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut pos = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                pos += 1;
            }
            out[pos] = HEX[usize::from(b >> 4)];
            out[pos + 1] = HEX[usize::from(b & 0xf)];
            pos += 2;
        }
        DeviceId(out)
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII hex digits and dashes are ever written into the array.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl std::fmt::Debug for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The identity part of a policy, compiled.
#[derive(Debug)]
pub(crate) struct IdentityPolicy {
    pub(crate) uid_cookie: Box<str>,
    pub(crate) uuid_cookie: Box<str>,
    pub(crate) max_age: Duration,
    /// `; Max-Age=..; Domain=..; Secure; HttpOnly; SameSite=Lax`, rendered once.
    pub(crate) cookie_attributes: Box<str>,
    /// Seed for address-derived device ids, when enabled.
    pub(crate) ip_seed: Option<u64>,
}

impl IdentityPolicy {
    pub(crate) fn identify<'a>(
        &self,
        request: &RequestView<'a>,
        fresh: impl FnOnce() -> DeviceId,
    ) -> Identity<'a> {
        let [uid, device] = cookies(request.headers, [&self.uid_cookie, &self.uuid_cookie]);
        let uid = uid.filter(|v| valid_uid(v));
        let device = match device {
            Some(id) if valid_device_id(id) => Device::Cookie(id),
            Some(_) => Device::Invalid,
            None => match (self.ip_seed, request.client_ip) {
                (Some(seed), Some(ip)) => {
                    let octets = match ip.to_canonical() {
                        std::net::IpAddr::V4(v4) => v4.to_ipv6_mapped().octets(),
                        std::net::IpAddr::V6(v6) => v6.octets(),
                    };
                    Device::New(DeviceId::from_hash(xxhash_rust::xxh3::xxh3_128_with_seed(
                        &octets, seed,
                    )))
                }
                _ => Device::New(fresh()),
            },
        };
        Identity { uid, device }
    }

    pub(crate) fn set_cookie(&self, id: &DeviceId, now: SystemTime) -> HeaderValue {
        let mut value = String::with_capacity(96 + self.cookie_attributes.len());
        let expires = httpdate::fmt_http_date(now + self.max_age);
        let _ = write!(
            value,
            "{}={}; Path=/; Expires={}{}",
            self.uuid_cookie,
            id.as_str(),
            expires,
            self.cookie_attributes
        );
        // Cookie names and attributes were validated as header-safe when the policy was built.
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// The value of the first cookie called `name` in the request's `Cookie` headers (HTTP/2 may
/// split cookies over several). Values in double quotes are unquoted. Non-text headers are skipped.
pub fn cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    let [value] = cookies(headers, [name]);
    value
}

/// The values of the first cookies called `names[i]`, found in one pass over the `Cookie`
/// headers (the identity needs two on every request).
pub fn cookies<'a, const N: usize>(
    headers: &'a http::HeaderMap,
    names: [&str; N],
) -> [Option<&'a str>; N] {
    let mut found = [None; N];
    let mut missing = N;
    for value in headers.get_all(http::header::COOKIE) {
        // Bytes, not `to_str`: no validation pass over every header, only the values found.
        for pair in value.as_bytes().split(|&b| b == b';') {
            let pair = pair.trim_ascii_start();
            let Some(eq) = pair.iter().position(|&b| b == b'=') else {
                continue;
            };
            let Some(i) = names.iter().position(|n| n.as_bytes() == &pair[..eq]) else {
                continue;
            };
            if found[i].is_some() {
                continue;
            }
            let value = pair[eq + 1..].trim_ascii_end();
            let value = match value {
                [b'"', inner @ .., b'"'] => inner,
                value => value,
            };
            // A value that is not text counts as found (the first cookie of a name wins).
            found[i] = Some(std::str::from_utf8(value).ok());
            missing -= 1;
            if missing == 0 {
                return found.map(Option::flatten);
            }
        }
    }
    found.map(Option::flatten)
}

/// Device ids we accept from clients: 1 to 64 characters of `[A-Za-z0-9_-]` (UUIDs, hex
/// strings, and the ids older gateways issued).
fn valid_device_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Account ids: 1 to 128 visible ASCII characters.
fn valid_uid(uid: &str) -> bool {
    (1..=128).contains(&uid.len()) && uid.bytes().all(|b| b.is_ascii_graphic())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(cookie_header: &str) -> http::HeaderMap {
        let mut h = http::HeaderMap::new();
        h.insert(
            http::header::COOKIE,
            HeaderValue::from_str(cookie_header).unwrap(),
        );
        h
    }

    #[test]
    fn finds_cookies_by_exact_name() {
        let h = headers("xuid=9; uid=1001; uuid=\"abc\" ;other=1");
        assert_eq!(cookie(&h, "uid"), Some("1001"));
        assert_eq!(cookie(&h, "uuid"), Some("abc"));
        assert_eq!(cookie(&h, "other"), Some("1"));
        assert_eq!(cookie(&h, "missing"), None);
    }

    #[test]
    fn cookies_split_over_several_headers() {
        let mut h = headers("a=1");
        h.append(http::header::COOKIE, HeaderValue::from_static("uuid=x-1"));
        assert_eq!(cookie(&h, "uuid"), Some("x-1"));
    }

    #[test]
    fn v4_ids_have_the_uuid_shape() {
        let id = DeviceId::v4([0xff; 16]);
        assert_eq!(id.as_str(), "ffffffff-ffff-4fff-bfff-ffffffffffff");
        assert!(valid_device_id(id.as_str()));
    }

    #[test]
    fn device_id_validation() {
        assert!(valid_device_id("0af1c2d3e4f5a6b7c8d9e0f1a2b3c4d5"));
        assert!(!valid_device_id(""));
        assert!(!valid_device_id("has space"));
        assert!(!valid_device_id(&"a".repeat(65)));
        assert!(!valid_device_id("é"));
    }
}
