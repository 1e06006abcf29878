//! Static roots through the running gateway: validators, ranges, HEAD, directories, and no way
//! out of the root however the path is spelled.

mod common;
use common::*;

fn gateway() -> Gateway {
    let dir = tempfile::tempdir().expect("dir");
    write_tree(
        dir.path(),
        &[
            ("www/index.html", "<h1>home</h1>"),
            ("www/app.js", "console.log(1);"),
            ("www/docs/index.html", "docs"),
            ("www/data.bin", "0123456789"),
            ("secret.txt", "TOP SECRET"),
        ],
    );
    std::os::unix::fs::symlink(
        dir.path().join("secret.txt"),
        dir.path().join("www/leak.txt"),
    )
    .expect("symlink");
    Gateway::start_in(
        dir,
        "sites:\n  - name: s\n    hosts: [\"*\"]\n    release:\n      default: v\n      versions:\n        v: {root: www}\n",
    )
}

#[test]
fn files_with_validators_ranges_and_head() {
    let gw = gateway();
    let home = get(gw.addr, "/", &["Cookie: uuid=x"]);
    assert_eq!((home.status, home.text().as_str()), (200, "<h1>home</h1>"));
    assert_eq!(
        home.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let js = get(gw.addr, "/app.js", &["Cookie: uuid=x"]);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(js.header("content-length"), Some("15"));
    let etag = js.header("etag").expect("etag").to_string();
    let modified = js
        .header("last-modified")
        .expect("last-modified")
        .to_string();

    let not_modified = get(
        gw.addr,
        "/app.js",
        &["Cookie: uuid=x", &format!("If-None-Match: {etag}")],
    );
    assert_eq!(not_modified.status, 304);
    assert!(not_modified.body.is_empty());
    assert_eq!(
        get(
            gw.addr,
            "/app.js",
            &["Cookie: uuid=x", &format!("If-Modified-Since: {modified}")]
        )
        .status,
        304
    );

    let part = get(
        gw.addr,
        "/data.bin",
        &["Cookie: uuid=x", "Range: bytes=2-5"],
    );
    assert_eq!((part.status, part.text().as_str()), (206, "2345"));
    assert_eq!(part.header("content-range"), Some("bytes 2-5/10"));
    let suffix = get(gw.addr, "/data.bin", &["Cookie: uuid=x", "Range: bytes=-3"]);
    assert_eq!(suffix.text(), "789");
    let beyond = get(
        gw.addr,
        "/data.bin",
        &["Cookie: uuid=x", "Range: bytes=20-"],
    );
    assert_eq!(beyond.status, 416);
    assert_eq!(beyond.header("content-range"), Some("bytes */10"));

    let mut c = Client::connect(gw.addr);
    c.send_raw(b"HEAD /data.bin HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
    let head = c.read_reply(true).expect("head");
    assert_eq!(
        (head.status, head.header("content-length")),
        (200, Some("10"))
    );
    // The connection is still in step: the next response is whole.
    assert_eq!(c.get("/data.bin", &["Cookie: uuid=x"]).text(), "0123456789");
}

#[test]
fn directories_and_missing_files() {
    let gw = gateway();
    assert_eq!(get(gw.addr, "/docs/", &["Cookie: uuid=x"]).text(), "docs");
    let redirect = get(gw.addr, "/docs", &["Cookie: uuid=x"]);
    assert_eq!(
        (redirect.status, redirect.header("location")),
        (301, Some("/docs/"))
    );
    let missing = get(gw.addr, "/nope.html", &["Cookie: uuid=x"]);
    assert_eq!(
        (missing.status, missing.text().as_str()),
        (404, "404 Not Found\n")
    );
    let post = raw(
        gw.addr,
        b"POST / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\nContent-Length: 0\r\n\r\n",
    )
    .expect("reply");
    assert_eq!(post.status, 405);
}

#[test]
fn no_way_out_of_the_root() {
    let gw = gateway();
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/docs/%2E%2e/%2e%2E/secret.txt",
        "/..%2fsecret.txt",
        "/%2e%2e%2fsecret.txt",
        "/docs/../../secret.txt",
        "/..\\secret.txt",
        "/leak.txt",
        "//..//secret.txt",
    ] {
        let reply = raw(
            gw.addr,
            format!("GET {path} HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n").as_bytes(),
        );
        if let Some(reply) = reply {
            assert!(
                matches!(reply.status, 400 | 404),
                "{path}: {}",
                reply.status
            );
            assert!(
                !reply.text().contains("TOP SECRET"),
                "{path} escaped the root"
            );
        }
    }
}
