//! Content types by file extension.

/// Extension (lowercase) to `Content-Type`. Text types carry `charset=utf-8` because browsers
/// otherwise guess, and a wrong guess breaks non-ASCII text.
const TABLE: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("map", "application/json; charset=utf-8"),
    ("webmanifest", "application/manifest+json; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("xml", "text/xml; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("svg", "image/svg+xml"),
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("ico", "image/x-icon"),
    ("bmp", "image/bmp"),
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("mp4", "video/mp4"),
    ("webm", "video/webm"),
    ("mp3", "audio/mpeg"),
    ("ogg", "audio/ogg"),
    ("wav", "audio/wav"),
    ("zip", "application/zip"),
    ("gz", "application/gzip"),
    ("tar", "application/x-tar"),
];

pub(crate) const DEFAULT: &str = "application/octet-stream";

/// The content type for a file name. A leading dot does not start an extension (`.htaccess` has
/// none), matching `Path::extension`.
pub(crate) fn content_type(file_name: &str) -> &'static str {
    let Some((stem, ext)) = file_name.rsplit_once('.') else {
        return DEFAULT;
    };
    if stem.is_empty() {
        return DEFAULT;
    }
    TABLE
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map_or(DEFAULT, |(_, ctype)| ctype)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn by_extension() {
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(content_type("INDEX.HTM"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.min.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("a.woff2"), "font/woff2");
        assert_eq!(content_type("a.svg"), "image/svg+xml");
        assert_eq!(content_type("a.tar.gz"), "application/gzip");
        assert_eq!(content_type("README"), DEFAULT);
        assert_eq!(content_type(".json"), DEFAULT);
        assert_eq!(content_type("a."), DEFAULT);
        assert_eq!(content_type("a.unknown"), DEFAULT);
    }

    #[test]
    fn table_is_well_formed() {
        for (ext, ctype) in TABLE {
            assert_eq!(*ext, ext.to_ascii_lowercase());
            assert!(http::HeaderValue::from_str(ctype).is_ok(), "{ctype}");
            assert!(
                !ctype.starts_with("text/") || ctype.ends_with("; charset=utf-8"),
                "{ctype}"
            );
        }
    }
}
