//! Static file serving for arbitrary request paths: nothing outside the root is ever served.
//!
//! Input: the first line is the raw request path; an optional second line is a `Range` header.
//! The tree (built once per process under the temp dir):
//!
//! ```text
//! graygate-fuzz-static-<pid>/
//!   secret.txt                  <- must never be served
//!   root-sibling/secret.txt     <- same secret, a sibling whose name extends the root's
//!   root/                       <- the static root
//!     index.html, a.txt, big.bin (> 64 KiB, streamed), sub/index.html, sub/b.txt
//!     link-out -> ../secret.txt, dir-out -> .., sub/up -> ../.., loop -> loop
//! ```
#![no_main]

use graygate_files::StaticRoot;
use http::{HeaderMap, HeaderValue, Method};
use http_body_util::BodyExt;
use libfuzzer_sys::fuzz_target;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

const SECRET: &[u8] = b"GRAYGATE-FUZZ-SECRET-8c2e4f";
const PREFIX: &str = "graygate-fuzz-static-";

struct Fixture {
    root: StaticRoot,
    runtime: tokio::runtime::Runtime,
}

static FIXTURE: LazyLock<Fixture> = LazyLock::new(|| {
    let tmp = std::env::temp_dir();
    remove_stale(&tmp);
    let base = tmp.join(format!("{PREFIX}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    build_tree(&base).expect("building the fixture tree");
    let root = StaticRoot::new(&base.join("root")).expect("static root");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    Fixture { root, runtime }
});

fn build_tree(base: &Path) -> std::io::Result<()> {
    use std::fs::{create_dir_all, write};
    use std::os::unix::fs::symlink;
    let root = base.join("root");
    create_dir_all(root.join("sub"))?;
    create_dir_all(base.join("root-sibling"))?;
    write(base.join("secret.txt"), SECRET)?;
    write(base.join("root-sibling/secret.txt"), SECRET)?;
    write(root.join("index.html"), "<h1>index</h1>\n")?;
    write(root.join("a.txt"), "hello\n")?;
    write(root.join("big.bin"), vec![b'x'; 70 * 1024])?;
    write(root.join("sub/index.html"), "<h1>sub</h1>\n")?;
    write(root.join("sub/b.txt"), "b\n")?;
    symlink("../secret.txt", root.join("link-out"))?;
    symlink("..", root.join("dir-out"))?;
    symlink("../..", root.join("sub/up"))?;
    symlink("loop", root.join("loop"))?;
    Ok(())
}

/// Trees left by earlier runs whose process is gone (libFuzzer exits without cleaning up).
fn remove_stale(tmp: &Path) {
    let Ok(entries) = std::fs::read_dir(tmp) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(PREFIX)) else {
            continue;
        };
        if pid.parse::<u32>().is_ok() && !PathBuf::from(format!("/proc/{pid}")).exists() {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fuzz_target!(|data: &[u8]| {
    let fixture = &*FIXTURE;
    let text = String::from_utf8_lossy(data);
    let (path, range) = match text.split_once('\n') {
        Some((path, range)) => (path, Some(range)),
        None => (&*text, None),
    };
    let mut headers = HeaderMap::new();
    if let Some(range) = range.and_then(|r| HeaderValue::from_str(r).ok()) {
        headers.insert(http::header::RANGE, range);
    }
    fixture.runtime.block_on(async {
        let response = fixture.root.serve(&Method::GET, path, &headers).await;
        let status = response.status();
        let Ok(body) = response.into_body().collect().await else {
            return;
        };
        let body = body.to_bytes();
        assert!(
            !contains(&body, SECRET),
            "{path:?} served the secret outside the root (status {status})"
        );
    });
});
