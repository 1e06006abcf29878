//! Turning a raw request path into segments that cannot leave the root.

use percent_encoding::percent_decode_str;

/// A decoded request path: plain file names, none of them `..`, `.`, empty or containing a
/// separator.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct RequestPath {
    pub(crate) segments: Vec<String>,
    /// The client asked for a directory (`/dir/`), which decides between 301 and the index.
    pub(crate) trailing_slash: bool,
}

/// `None` means 400.
///
/// The whole path is decoded before it is split, so an encoded slash (`%2f`) separates segments
/// like a plain one: `/..%2fsecret` is the segment `..` followed by `secret`, and is rejected.
/// Rejecting `..` outright (as nginx does for paths that would climb above `/`) is simpler and
/// safer than resolving it. Backslashes are rejected rather than taken literally: some
/// filesystems and clients treat them as separators.
pub(crate) fn parse(raw: &str) -> Option<RequestPath> {
    if !raw.starts_with('/') {
        return None;
    }
    let decoded = percent_decode_str(raw).decode_utf8().ok()?;
    if decoded.contains(['\0', '\\']) {
        return None;
    }
    let mut segments = Vec::new();
    for segment in decoded.split('/') {
        match segment {
            "" | "." => {}
            ".." => return None,
            // A drive prefix would make `Path::push` replace the root.
            s if cfg!(windows) && s.contains(':') => return None,
            s => segments.push(s.to_owned()),
        }
    }
    Some(RequestPath {
        segments,
        trailing_slash: decoded.ends_with('/'),
    })
}

/// `Location` for a directory asked for without its slash: the path as the client sent it,
/// plus `/`.
///
/// Leading slashes are collapsed to one: `//host/dir/` would be a protocol-relative URL and turn
/// the redirect into an open redirect to another host.
pub(crate) fn directory_location(raw: &str) -> String {
    let mut location = String::with_capacity(raw.len() + 1);
    location.push('/');
    location.push_str(raw.trim_start_matches('/'));
    location.push('/');
    location
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segments(raw: &str) -> Option<Vec<String>> {
        parse(raw).map(|p| p.segments)
    }

    #[test]
    fn plain_paths() {
        assert_eq!(segments("/"), Some(vec![]));
        assert_eq!(segments("/a/b.txt"), Some(vec!["a".into(), "b.txt".into()]));
        assert_eq!(segments("//a/./b//"), Some(vec!["a".into(), "b".into()]));
        assert_eq!(segments("/a%20b"), Some(vec!["a b".into()]));
        assert_eq!(segments("/caf%C3%A9"), Some(vec!["café".into()]));
        assert_eq!(
            segments("/.well-known/x"),
            Some(vec![".well-known".into(), "x".into()])
        );
        assert_eq!(segments("/..."), Some(vec!["...".into()]));
    }

    #[test]
    fn trailing_slash() {
        assert!(parse("/").is_some_and(|p| p.trailing_slash));
        assert!(parse("/dir/").is_some_and(|p| p.trailing_slash));
        assert!(parse("/dir%2F").is_some_and(|p| p.trailing_slash));
        assert!(parse("/dir").is_some_and(|p| !p.trailing_slash));
    }

    #[test]
    fn rejected() {
        for raw in [
            "",
            "relative",
            "*",
            "/..",
            "/../etc/passwd",
            "/a/../b",
            "/%2e%2e/secret",
            "/.%2E/secret",
            "/%2E./secret",
            "/..%2fsecret",
            "/%2e%2e%2fsecret",
            "/a%2f..%2f..%2fsecret",
            "/a/..%5csecret",
            "/a\\b",
            "/nul%00.txt",
            "/bad%ff",
        ] {
            assert_eq!(parse(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn location() {
        assert_eq!(directory_location("/dir"), "/dir/");
        assert_eq!(directory_location("/a%20b"), "/a%20b/");
        assert_eq!(
            directory_location("//evil.example/dir"),
            "/evil.example/dir/"
        );
    }
}
