use bytes::Bytes;
use graygate_files::{FileBody, StaticRoot};
use http::header::{
    ACCEPT_RANGES, ALLOW, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, IF_MATCH,
    IF_MODIFIED_SINCE, IF_NONE_MATCH, IF_RANGE, LAST_MODIFIED, LOCATION, RANGE,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Response, StatusCode};
use http_body::Body;
use http_body_util::BodyExt;
use std::time::{Duration, UNIX_EPOCH};
use tempfile::TempDir;

const SECRET: &str = "TOP-SECRET-OUTSIDE-THE-ROOT";

/// `tmp/root` is served; `tmp/secret` and `tmp/outside/secret` sit just outside it.
struct Site {
    tmp: TempDir,
    root: StaticRoot,
}

impl Site {
    fn new() -> Site {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("root");
        std::fs::create_dir_all(dir.join("dir")).unwrap();
        std::fs::create_dir_all(dir.join("noindex")).unwrap();
        std::fs::create_dir_all(dir.join("a")).unwrap();
        std::fs::create_dir_all(tmp.path().join("outside")).unwrap();
        std::fs::write(tmp.path().join("secret"), SECRET).unwrap();
        std::fs::write(tmp.path().join("outside/secret"), SECRET).unwrap();
        std::fs::write(dir.join("dir/index.html"), "<h1>index</h1>").unwrap();
        std::fs::write(dir.join("hello.txt"), "hello, world\n").unwrap();
        std::fs::write(dir.join("digits.bin"), "0123456789").unwrap();
        std::fs::write(dir.join("empty.txt"), "").unwrap();
        let root = StaticRoot::new(&dir).unwrap();
        Site { tmp, root }
    }

    fn path(&self, rel: &str) -> std::path::PathBuf {
        self.tmp.path().join("root").join(rel)
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        headers: &[(HeaderName, &str)],
    ) -> (Response<()>, Bytes) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        let response = self.root.serve(&method, path, &map).await;
        let (parts, body) = response.into_parts();
        let hint = body.size_hint().exact();
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(hint, Some(bytes.len() as u64), "size_hint must be exact");
        (Response::from_parts(parts, ()), bytes)
    }

    async fn get(&self, path: &str, headers: &[(HeaderName, &str)]) -> (Response<()>, Bytes) {
        self.request(Method::GET, path, headers).await
    }
}

fn header(r: &Response<()>, name: HeaderName) -> &str {
    r.headers()
        .get(&name)
        .map(|v| v.to_str().unwrap())
        .unwrap_or_else(|| panic!("missing {name}"))
}

#[tokio::test]
async fn content_types() {
    let site = Site::new();
    for (name, ctype) in [
        ("a.html", "text/html; charset=utf-8"),
        ("a.css", "text/css; charset=utf-8"),
        ("a.js", "text/javascript; charset=utf-8"),
        ("a.json", "application/json; charset=utf-8"),
        ("a.svg", "image/svg+xml"),
        ("a.PNG", "image/png"),
        ("a.woff2", "font/woff2"),
        ("a.wasm", "application/wasm"),
        ("a.weird", "application/octet-stream"),
        ("Makefile", "application/octet-stream"),
    ] {
        std::fs::write(site.path(name), "x").unwrap();
        let (r, _) = site.get(&format!("/{name}"), &[]).await;
        assert_eq!(r.status(), StatusCode::OK, "{name}");
        assert_eq!(header(&r, CONTENT_TYPE), ctype, "{name}");
    }
}

#[tokio::test]
async fn full_response_headers() {
    let site = Site::new();
    let meta = std::fs::metadata(site.path("hello.txt")).unwrap();
    let mtime = meta.modified().unwrap();
    let secs = mtime.duration_since(UNIX_EPOCH).unwrap().as_secs();

    let (r, body) = site.get("/hello.txt", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&body[..], b"hello, world\n");
    assert_eq!(header(&r, CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(header(&r, CONTENT_LENGTH), "13");
    assert_eq!(header(&r, ETAG), format!("\"{secs:x}-d\""));
    assert_eq!(
        header(&r, LAST_MODIFIED),
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    );
    assert_eq!(header(&r, ACCEPT_RANGES), "bytes");
}

#[tokio::test]
async fn head_has_same_headers_and_no_body() {
    let site = Site::new();
    let (get, _) = site.get("/hello.txt", &[]).await;
    let (head, body) = site.request(Method::HEAD, "/hello.txt", &[]).await;
    assert_eq!(head.status(), StatusCode::OK);
    assert!(body.is_empty());
    assert_eq!(head.headers(), get.headers());

    // Range does not apply to HEAD.
    let (head, body) = site
        .request(Method::HEAD, "/hello.txt", &[(RANGE, "bytes=0-1")])
        .await;
    assert_eq!(head.status(), StatusCode::OK);
    assert_eq!(header(&head, CONTENT_LENGTH), "13");
    assert!(body.is_empty());

    let (head, body) = site.request(Method::HEAD, "/missing", &[]).await;
    assert_eq!(head.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&head, CONTENT_LENGTH), "14");
    assert!(body.is_empty());
}

#[tokio::test]
async fn not_modified() {
    let site = Site::new();
    let (r, _) = site.get("/hello.txt", &[]).await;
    let etag = header(&r, ETAG).to_owned();
    let modified = header(&r, LAST_MODIFIED).to_owned();

    for headers in [
        vec![(IF_NONE_MATCH, etag.as_str())],
        vec![(IF_NONE_MATCH, &format!("\"x\", W/{etag}"))],
        vec![(IF_MODIFIED_SINCE, modified.as_str())],
    ] {
        for method in [Method::GET, Method::HEAD] {
            let (r, body) = site.request(method, "/hello.txt", &headers).await;
            assert_eq!(r.status(), StatusCode::NOT_MODIFIED, "{headers:?}");
            assert!(body.is_empty());
            assert_eq!(header(&r, ETAG), etag);
            assert_eq!(header(&r, LAST_MODIFIED), modified);
            assert!(r.headers().get(CONTENT_LENGTH).is_none());
        }
    }

    let long_ago = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1000));
    for headers in [
        vec![(IF_NONE_MATCH, "\"other\"")],
        vec![(IF_MODIFIED_SINCE, long_ago.as_str())],
        vec![(IF_MODIFIED_SINCE, "not a date")],
        // If-None-Match takes precedence over If-Modified-Since.
        vec![(IF_NONE_MATCH, "\"other\""), (IF_MODIFIED_SINCE, &modified)],
    ] {
        let (r, body) = site.get("/hello.txt", &headers).await;
        assert_eq!(r.status(), StatusCode::OK, "{headers:?}");
        assert_eq!(&body[..], b"hello, world\n");
    }
}

#[tokio::test]
async fn if_match() {
    let site = Site::new();
    let (r, _) = site.get("/hello.txt", &[]).await;
    let etag = header(&r, ETAG).to_owned();

    let (r, body) = site.get("/hello.txt", &[(IF_MATCH, "\"stale\"")]).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);
    assert_eq!(&body[..], b"412 Precondition Failed\n");

    let weak = format!("W/{etag}");
    let (r, _) = site.get("/hello.txt", &[(IF_MATCH, &weak)]).await;
    assert_eq!(r.status(), StatusCode::PRECONDITION_FAILED);

    for ok in [etag.as_str(), "*"] {
        let (r, _) = site.get("/hello.txt", &[(IF_MATCH, ok)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{ok}");
    }
}

#[tokio::test]
async fn single_ranges() {
    let site = Site::new();
    for (range, status_range, bytes) in [
        ("bytes=2-4", "bytes 2-4/10", "234"),
        ("bytes=7-", "bytes 7-9/10", "789"),
        ("bytes=-3", "bytes 7-9/10", "789"),
        ("bytes=0-0", "bytes 0-0/10", "0"),
        ("bytes=5-100", "bytes 5-9/10", "56789"),
        ("bytes=-100", "bytes 0-9/10", "0123456789"),
    ] {
        let (r, body) = site.get("/digits.bin", &[(RANGE, range)]).await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{range}");
        assert_eq!(header(&r, CONTENT_RANGE), status_range);
        assert_eq!(header(&r, CONTENT_LENGTH), bytes.len().to_string());
        assert_eq!(header(&r, CONTENT_TYPE), "application/octet-stream");
        assert_eq!(&body[..], bytes.as_bytes(), "{range}");
    }
}

#[tokio::test]
async fn multiple_ranges() {
    let site = Site::new();
    let (r, body) = site.get("/digits.bin", &[(RANGE, "bytes=0-1, 5-6")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    let ctype = header(&r, CONTENT_TYPE);
    let boundary = ctype
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap();
    assert!(r.headers().get(CONTENT_RANGE).is_none());
    let expected = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 0-1/10\r\n\r\n01\
         \r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 5-6/10\r\n\r\n56\
         \r\n--{boundary}--\r\n"
    );
    assert_eq!(std::str::from_utf8(&body).unwrap(), expected);
    assert_eq!(header(&r, CONTENT_LENGTH), expected.len().to_string());

    // Adjacent ranges are coalesced into a plain 206.
    let (r, body) = site.get("/digits.bin", &[(RANGE, "bytes=0-1,2-3")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, CONTENT_RANGE), "bytes 0-3/10");
    assert_eq!(&body[..], b"0123");
}

#[tokio::test]
async fn unsatisfiable_range() {
    let site = Site::new();
    for (path, range, total) in [
        ("/digits.bin", "bytes=10-", "10"),
        ("/digits.bin", "bytes=20-30", "10"),
        ("/digits.bin", "bytes=-0", "10"),
        ("/empty.txt", "bytes=-5", "0"),
        ("/empty.txt", "bytes=0-", "0"),
    ] {
        let (r, body) = site.get(path, &[(RANGE, range)]).await;
        assert_eq!(r.status(), StatusCode::RANGE_NOT_SATISFIABLE, "{range}");
        assert_eq!(header(&r, CONTENT_RANGE), format!("bytes */{total}"));
        assert_eq!(&body[..], b"416 Range Not Satisfiable\n");
    }
}

#[tokio::test]
async fn invalid_range_is_ignored() {
    let site = Site::new();
    for range in [
        "bytes=5-2",
        "bytes=abc",
        "lines=1-2",
        "bytes",
        "bytes=1-2-3",
    ] {
        let (r, body) = site.get("/digits.bin", &[(RANGE, range)]).await;
        assert_eq!(r.status(), StatusCode::OK, "{range}");
        assert_eq!(&body[..], b"0123456789");
        assert!(r.headers().get(CONTENT_RANGE).is_none());
    }
}

#[tokio::test]
async fn if_range() {
    let site = Site::new();
    let (r, _) = site.get("/digits.bin", &[]).await;
    let etag = header(&r, ETAG).to_owned();
    let modified = header(&r, LAST_MODIFIED).to_owned();

    for validator in [etag.as_str(), modified.as_str()] {
        let (r, body) = site
            .get(
                "/digits.bin",
                &[(RANGE, "bytes=0-1"), (IF_RANGE, validator)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT, "{validator}");
        assert_eq!(&body[..], b"01");
    }

    let weak = format!("W/{etag}");
    let old = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1000));
    for validator in ["\"stale\"", weak.as_str(), old.as_str(), "junk"] {
        let (r, body) = site
            .get(
                "/digits.bin",
                &[(RANGE, "bytes=0-1"), (IF_RANGE, validator)],
            )
            .await;
        assert_eq!(r.status(), StatusCode::OK, "{validator}");
        assert_eq!(&body[..], b"0123456789");
    }
}

#[tokio::test]
async fn directories() {
    let site = Site::new();
    let (r, body) = site.get("/dir/", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(&body[..], b"<h1>index</h1>");

    let (r, _) = site.get("/dir", &[]).await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&r, LOCATION), "/dir/");

    std::fs::create_dir(site.path("with space")).unwrap();
    let (r, _) = site.get("/with%20space", &[]).await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&r, LOCATION), "/with%20space/");

    // No open redirect through a protocol-relative Location.
    let (r, _) = site.get("//dir", &[]).await;
    assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(header(&r, LOCATION), "/dir/");

    let (r, _) = site.get("/noindex/", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    // The root itself serves its index once there is one.
    let (r, _) = site.get("/", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    std::fs::write(site.path("index.html"), "home").unwrap();
    let (r, body) = site.get("/", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&body[..], b"home");

    // A file asked for as a directory.
    let (r, _) = site.get("/hello.txt/", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn errors() {
    let site = Site::new();
    let (r, body) = site.get("/missing.txt", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    assert_eq!(header(&r, CONTENT_TYPE), "text/plain; charset=utf-8");
    assert_eq!(&body[..], b"404 Not Found\n");

    let (r, _) = site.get("/hello.txt/more", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    let long = format!("/{}", "x".repeat(5000));
    let (r, _) = site.get(&long, &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);

    for method in [Method::POST, Method::PUT, Method::DELETE, Method::OPTIONS] {
        let (r, body) = site.request(method, "/hello.txt", &[]).await;
        assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
        assert_eq!(header(&r, ALLOW), "GET, HEAD");
        assert_eq!(&body[..], b"405 Method Not Allowed\n");
    }

    for bad in ["relative", "/nul%00", "/bad%ff", "/back\\slash"] {
        let (r, _) = site.get(bad, &[]).await;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn permission_denied_is_403() {
    use std::os::unix::fs::PermissionsExt;
    let site = Site::new();
    let path = site.path("locked.txt");
    std::fs::write(&path, "locked").unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&path).is_ok() {
        // Running as root: permissions are not enforced, nothing to test.
        return;
    }
    let (r, body) = site.get("/locked.txt", &[]).await;
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert_eq!(&body[..], b"403 Forbidden\n");
}

#[tokio::test]
async fn traversal_never_escapes() {
    let site = Site::new();
    for attempt in [
        "/../secret",
        "/../etc/passwd",
        "/%2e%2e/secret",
        "/.%2E/secret",
        "/a/%2E%2e/%2e%2E/secret",
        "/..%2fsecret",
        "/%2e%2e%2fsecret",
        "/a/../../secret",
        "/a%2f..%2f..%2fsecret",
        "/..%5csecret",
        "/a/..\\..\\secret",
        "/../outside/secret",
        "/%2e%2e/outside/secret",
        "//../secret",
        "/./../secret",
    ] {
        for method in [Method::GET, Method::HEAD] {
            let (r, body) = site.request(method, attempt, &[]).await;
            assert!(
                matches!(r.status(), StatusCode::BAD_REQUEST | StatusCode::NOT_FOUND),
                "{attempt}: {}",
                r.status()
            );
            assert!(
                !String::from_utf8_lossy(&body).contains(SECRET),
                "{attempt} leaked"
            );
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn symlinks() {
    use std::os::unix::fs::symlink;
    let site = Site::new();
    let outside = site.tmp.path().join("outside");
    symlink(outside.join("secret"), site.path("out-file")).unwrap();
    symlink(&outside, site.path("out-dir")).unwrap();
    symlink("../secret", site.path("a/up")).unwrap();
    symlink(site.path("hello.txt"), site.path("in-file.txt")).unwrap();
    symlink("dir", site.path("in-dir")).unwrap();
    symlink("loop", site.path("loop")).unwrap();

    for path in [
        "/out-file",
        "/out-dir/secret",
        "/out-dir/",
        "/out-dir",
        "/a/up",
    ] {
        let (r, body) = site.get(path, &[]).await;
        assert_eq!(r.status(), StatusCode::NOT_FOUND, "{path}");
        assert!(!String::from_utf8_lossy(&body).contains(SECRET));
    }

    let (r, body) = site.get("/in-file.txt", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&body[..], b"hello, world\n");
    let (r, body) = site.get("/in-dir/", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(&body[..], b"<h1>index</h1>");

    let (r, body) = site.get("/loop", &[]).await;
    // nginx's answer to ELOOP, and no detail in the body.
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(&body[..], b"500 Internal Server Error\n");
}

#[cfg(unix)]
#[tokio::test]
async fn special_files_are_not_served() {
    use std::os::unix::net::UnixListener;
    let site = Site::new();
    let _listener = UnixListener::bind(site.path("sock")).unwrap();
    let (r, _) = site.get("/sock", &[]).await;
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 251) as u8).collect()
}

#[tokio::test]
async fn large_file_is_streamed_in_chunks() {
    let site = Site::new();
    let data = pattern(1024 * 1024 + 123);
    std::fs::write(site.path("big.bin"), &data).unwrap();

    let response = site
        .root
        .serve(&Method::GET, "/big.bin", &HeaderMap::new())
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[CONTENT_LENGTH],
        data.len().to_string().as_str()
    );
    let mut body = response.into_body();
    assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
    let (received, frames) = drain(&mut body).await;
    assert!(frames >= 16, "only {frames} frames");
    assert!(body.is_end_stream());
    assert_eq!(received, data);
}

#[tokio::test]
async fn large_ranges_stream_exact_bytes() {
    let site = Site::new();
    let data = pattern(300_000);
    std::fs::write(site.path("big.bin"), &data).unwrap();

    let (r, body) = site.get("/big.bin", &[(RANGE, "bytes=1000-250000")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(&r, CONTENT_RANGE), "bytes 1000-250000/300000");
    assert_eq!(&body[..], &data[1000..=250_000]);

    let (r, body) = site.get("/big.bin", &[(RANGE, "bytes=-70000")]).await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&body[..], &data[230_000..]);

    // Parts far apart need a seek between them.
    let (r, body) = site
        .get("/big.bin", &[(RANGE, "bytes=-10,100-199999")])
        .await;
    assert_eq!(r.status(), StatusCode::PARTIAL_CONTENT);
    let boundary = header(&r, CONTENT_TYPE)
        .strip_prefix("multipart/byteranges; boundary=")
        .unwrap()
        .to_owned();
    let mut expected = format!(
        "--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 100-199999/300000\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(&data[100..200_000]);
    expected.extend_from_slice(
        format!("\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes 299990-299999/300000\r\n\r\n").as_bytes(),
    );
    expected.extend_from_slice(&data[299_990..]);
    expected.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    assert_eq!(body.len(), expected.len());
    assert!(body[..] == expected[..]);
}

#[tokio::test]
async fn empty_file() {
    let site = Site::new();
    let (r, body) = site.get("/empty.txt", &[]).await;
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(header(&r, CONTENT_LENGTH), "0");
    assert!(body.is_empty());
}

#[tokio::test]
async fn truncated_file_fails_the_body() {
    let site = Site::new();
    let data = pattern(512 * 1024);
    std::fs::write(site.path("shrinks.bin"), &data).unwrap();
    let response = site
        .root
        .serve(&Method::GET, "/shrinks.bin", &HeaderMap::new())
        .await;
    std::fs::write(site.path("shrinks.bin"), b"short").unwrap();
    let result = response.into_body().collect().await;
    assert_eq!(
        result.err().map(|e| e.kind()),
        Some(std::io::ErrorKind::UnexpectedEof)
    );
}

#[test]
fn root_must_be_a_directory() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    let err = StaticRoot::new(&missing).unwrap_err();
    assert!(
        err.to_string().contains(&*missing.to_string_lossy()),
        "{err}"
    );

    let file = tmp.path().join("file");
    std::fs::write(&file, "x").unwrap();
    let err = StaticRoot::new(&file).unwrap_err();
    assert!(err.to_string().contains(&*file.to_string_lossy()), "{err}");

    let root = StaticRoot::new(tmp.path()).unwrap();
    assert_eq!(root.dir(), std::fs::canonicalize(tmp.path()).unwrap());
}

#[test]
fn thread_safety() {
    fn send_sync<T: Send + Sync + Clone>() {}
    fn send<T: Send>() {}
    send_sync::<StaticRoot>();
    send::<FileBody>();
}

#[tokio::test]
async fn serve_future_is_send() {
    fn assert_send<T: Send>(_: &T) {}
    let site = Site::new();
    let headers = HeaderMap::new();
    let future = site.root.serve(&Method::GET, "/hello.txt", &headers);
    assert_send(&future);
    drop(future);
}

async fn drain(body: &mut FileBody) -> (Vec<u8>, usize) {
    let mut received = Vec::new();
    let mut frames = 0;
    while let Some(frame) = body.frame().await {
        let data = frame.unwrap().into_data().unwrap();
        assert!(data.len() <= 64 * 1024);
        frames += 1;
        received.extend_from_slice(&data);
        assert_eq!(
            body.size_hint().exact(),
            Some((1024 * 1024 + 123 - received.len()) as u64)
        );
    }
    (received, frames)
}
