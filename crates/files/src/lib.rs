//! Static roots: serve a version's files from a directory, like nginx `root`.
//!
//! In the request path this is the target phase for versions whose target is a static root: the
//! release decision has picked the version, this crate turns the request into a response, and
//! the log phase comes after. [`StaticRoot::serve`] answers GET and HEAD with the validators and
//! conditional handling of RFC 9110 (ETag, Last-Modified, If-Match, If-None-Match,
//! If-Modified-Since, If-Unmodified-Since), byte ranges (single ranges, and multipart for a few
//! disjoint ones), `index.html` for directories and a 301 to add a missing trailing slash.
//!
//! Nothing outside the root is ever served: `..` in any encoding is a 400, and the resolved file
//! is canonicalized and must still lie under the canonical root (a symlink leading out is a
//! 404). Lookups run on the worker (page-cache hits, as in nginx) and files are streamed in 64 KiB chunks by
//! [`FileBody`], so a large file never sits in memory. Error bodies are short fixed text and
//! never mention paths or OS errors.

mod body;
mod conditional;
mod mime;
mod path;
mod range;

pub use body::FileBody;

use body::{CHUNK, Piece};
use bytes::Bytes;
use conditional::{Conditions, Plan, Validators};
use http::header::{
    ACCEPT_RANGES, ALLOW, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, ETAG, LAST_MODIFIED,
    LOCATION,
};
use http::{HeaderMap, HeaderValue, Method, Response, StatusCode};
use path::RequestPath;
use std::fs::{self, File, Metadata};
use std::hash::{BuildHasher, Hasher, RandomState};
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

/// A directory served as a static root. Cloning is cheap (the state is shared).
#[derive(Debug, Clone)]
pub struct StaticRoot {
    inner: Arc<Root>,
}

impl StaticRoot {
    /// Fails when `dir` does not exist or is not a directory (error message names the path).
    ///
    /// The directory is canonicalized once, here: if it is a symlink that is later re-pointed
    /// (symlink-swap deploys), a new `StaticRoot` must be built to follow it.
    pub fn new(dir: &Path) -> io::Result<StaticRoot> {
        let named =
            |e: io::Error| io::Error::new(e.kind(), format!("static root {}: {e}", dir.display()));
        let canonical = fs::canonicalize(dir).map_err(named)?;
        if !fs::metadata(&canonical).map_err(named)?.is_dir() {
            return Err(io::Error::new(
                io::ErrorKind::NotADirectory,
                format!("static root {} is not a directory", dir.display()),
            ));
        }
        Ok(StaticRoot {
            inner: Arc::new(Root {
                dir: canonical,
                index: INDEX,
            }),
        })
    }

    /// The canonical root directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// Answers one request. `path` is the raw request path (still percent-encoded, without the
    /// query string). Must be called, and the body polled, inside a tokio runtime.
    pub async fn serve(
        &self,
        method: &Method,
        path: &str,
        headers: &HeaderMap,
    ) -> Response<FileBody> {
        let head = *method == Method::HEAD;
        if *method != Method::GET && !head {
            let mut response = text(StatusCode::METHOD_NOT_ALLOWED, false);
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return response;
        }
        let Some(request) = path::parse(path) else {
            return text(StatusCode::BAD_REQUEST, head);
        };
        let conditions = Conditions::from_headers(headers);
        // Lookup, open, metadata and the read of a small file run right here on the worker, as
        // nginx does on its event loop: for a version's files on local disk they are page-cache
        // hits that take microseconds, while a hop to tokio's blocking pool and back costs more
        // than all of them and serialised every static request behind one queue. Bodies larger
        // than one chunk are streamed through tokio::fs, off the worker.
        self.inner.respond(&request, path, &conditions, head)
    }
}

const INDEX: &str = "index.html";

#[derive(Debug)]
struct Root {
    dir: PathBuf,
    index: &'static str,
}

/// A regular file under the root, opened.
struct Found {
    file: File,
    meta: Metadata,
    /// Name the content type is taken from: the one asked for, not a symlink's target (as nginx).
    name: String,
}

impl Root {
    /// Blocking file-system calls; quick for files in the page cache.
    fn respond(
        &self,
        request: &RequestPath,
        raw_path: &str,
        conditions: &Conditions,
        head: bool,
    ) -> Response<FileBody> {
        let found = match self.find(request) {
            Ok(Some(found)) => found,
            Ok(None) => return redirect(raw_path, head),
            Err(status) => return text(status, head),
        };
        let len = found.meta.len();
        let validators = Validators::of(&found.meta);
        let ctype = mime::content_type(&found.name);
        match conditional::evaluate(conditions, &validators, len, !head) {
            Plan::PreconditionFailed => text(StatusCode::PRECONDITION_FAILED, head),
            Plan::NotModified => not_modified(&validators),
            Plan::Unsatisfiable => {
                let mut response = text(StatusCode::RANGE_NOT_SATISFIABLE, head);
                set(&mut response, CONTENT_RANGE, format!("bytes */{len}"));
                response
            }
            Plan::Full => full(found.file, len, ctype, &validators, head),
            Plan::Partial(ranges) => partial(found.file, len, ctype, &validators, &ranges),
        }
    }

    /// `Ok(None)`: a directory asked for without its trailing slash.
    fn find(&self, request: &RequestPath) -> Result<Option<Found>, StatusCode> {
        let mut requested = self.dir.clone();
        requested.extend(&request.segments);
        let mut target = self.confine(&requested)?;
        let mut meta = fs::metadata(&target).map_err(|e| status_of(&e))?;
        let mut name = request.segments.last().map_or("", String::as_str);
        if meta.is_dir() {
            if !request.trailing_slash {
                return Ok(None);
            }
            target = self.confine(&target.join(self.index))?;
            meta = fs::metadata(&target).map_err(|e| status_of(&e))?;
            name = self.index;
        } else if request.trailing_slash {
            // `/file.txt/` names a directory that does not exist (nginx: ENOTDIR, 404).
            return Err(StatusCode::NOT_FOUND);
        }
        // Checked before opening: opening a FIFO blocks, opening a device may have effects.
        if !meta.is_file() {
            return Err(StatusCode::NOT_FOUND);
        }
        let file = File::open(&target).map_err(|e| status_of(&e))?;
        // Validators and length come from what was opened, not from the earlier lookup.
        let meta = file.metadata().map_err(|e| status_of(&e))?;
        if !meta.is_file() {
            return Err(StatusCode::NOT_FOUND);
        }
        Ok(Some(Found {
            file,
            meta,
            name: name.to_owned(),
        }))
    }

    /// Resolves every symlink and refuses (as 404, revealing nothing) what ends up outside.
    fn confine(&self, path: &Path) -> Result<PathBuf, StatusCode> {
        let canonical = fs::canonicalize(path).map_err(|e| status_of(&e))?;
        if canonical.starts_with(&self.dir) {
            Ok(canonical)
        } else {
            Err(StatusCode::NOT_FOUND)
        }
    }
}

/// nginx's mapping: missing or not a directory where one is needed is 404, EACCES is 403,
/// anything else (including symlink loops) is 500.
fn status_of(e: &io::Error) -> StatusCode {
    match e.kind() {
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory | io::ErrorKind::InvalidFilename => {
            StatusCode::NOT_FOUND
        }
        io::ErrorKind::PermissionDenied => StatusCode::FORBIDDEN,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// A short plain-text answer (`404 Not Found\n`). HEAD gets the same headers and no body.
fn text(status: StatusCode, head: bool) -> Response<FileBody> {
    let message = format!(
        "{} {}\n",
        status.as_u16(),
        status.canonical_reason().unwrap_or("")
    );
    let len = message.len() as u64;
    let body = if head {
        FileBody::empty()
    } else {
        FileBody::from_bytes(Bytes::from(message))
    };
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(CONTENT_LENGTH, HeaderValue::from(len));
    response
}

fn redirect(raw_path: &str, head: bool) -> Response<FileBody> {
    let Ok(location) = HeaderValue::try_from(path::directory_location(raw_path)) else {
        return text(StatusCode::BAD_REQUEST, head);
    };
    let mut response = text(StatusCode::MOVED_PERMANENTLY, head);
    response.headers_mut().insert(LOCATION, location);
    response
}

fn not_modified(validators: &Validators) -> Response<FileBody> {
    let mut response = Response::new(FileBody::empty());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    validator_headers(&mut response, validators);
    response
}

fn full(
    mut file: File,
    len: u64,
    ctype: &'static str,
    validators: &Validators,
    head: bool,
) -> Response<FileBody> {
    let body = if head {
        FileBody::empty()
    } else if let Some(small) = usize::try_from(len).ok().filter(|&n| n <= CHUNK) {
        // Reading a small file in one call saves a hop to the blocking pool per chunk.
        let mut bytes = vec![0; small];
        if file.read_exact(&mut bytes).is_err() {
            return text(StatusCode::INTERNAL_SERVER_ERROR, head);
        }
        FileBody::from_bytes(Bytes::from(bytes))
    } else {
        let pieces = vec![Piece::File { offset: 0, len }];
        FileBody::from_file(tokio::fs::File::from_std(file), 0, pieces)
    };
    let mut response = Response::new(body);
    representation_headers(&mut response, ctype, validators);
    set(&mut response, CONTENT_LENGTH, len);
    response
}

/// 206 for satisfiable ranges (never empty, sorted and disjoint): a single part, or
/// `multipart/byteranges` (RFC 9110 §14.6) when there are several.
fn partial(
    mut file: File,
    len: u64,
    ctype: &'static str,
    validators: &Validators,
    ranges: &[(u64, u64)],
) -> Response<FileBody> {
    let (ctype, content_range, pieces) = match ranges {
        [(first, last)] => {
            let range = format!("bytes {first}-{last}/{len}");
            let pieces = vec![Piece::File {
                offset: *first,
                len: last - first + 1,
            }];
            (ctype.to_owned(), Some(range), pieces)
        }
        _ => {
            let boundary = boundary();
            let mut pieces = Vec::with_capacity(ranges.len() * 2 + 1);
            for (i, (first, last)) in ranges.iter().enumerate() {
                let separator = if i == 0 { "" } else { "\r\n" };
                pieces.push(Piece::Bytes(Bytes::from(format!(
                    "{separator}--{boundary}\r\nContent-Type: {ctype}\r\n\
                     Content-Range: bytes {first}-{last}/{len}\r\n\r\n"
                ))));
                pieces.push(Piece::File {
                    offset: *first,
                    len: last - first + 1,
                });
            }
            pieces.push(Piece::Bytes(Bytes::from(format!("\r\n--{boundary}--\r\n"))));
            let ctype = format!("multipart/byteranges; boundary={boundary}");
            (ctype, None, pieces)
        }
    };
    // The first seek is done here, instead of as a separate async hop.
    let start = ranges.first().map_or(0, |r| r.0);
    let pos = match file.seek(SeekFrom::Start(start)) {
        Ok(pos) => pos,
        Err(_) => return text(StatusCode::INTERNAL_SERVER_ERROR, false),
    };
    let body = FileBody::from_file(tokio::fs::File::from_std(file), pos, pieces);
    let body_len = http_body::Body::size_hint(&body).exact().unwrap_or(0);
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::PARTIAL_CONTENT;
    representation_headers(&mut response, "", validators);
    set(&mut response, CONTENT_TYPE, ctype);
    set(&mut response, CONTENT_LENGTH, body_len);
    if let Some(range) = content_range {
        set(&mut response, CONTENT_RANGE, range);
    }
    response
}

/// Headers shared by 200 and 206. An empty `ctype` leaves Content-Type to the caller.
fn representation_headers(
    response: &mut Response<FileBody>,
    ctype: &'static str,
    validators: &Validators,
) {
    if !ctype.is_empty() {
        response
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static(ctype));
    }
    response
        .headers_mut()
        .insert(ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    validator_headers(response, validators);
}

fn validator_headers(response: &mut Response<FileBody>, validators: &Validators) {
    if let Some(etag) = &validators.etag {
        set(response, ETAG, etag.as_str());
    }
    if let Some(modified) = validators.last_modified {
        set(response, LAST_MODIFIED, httpdate::fmt_http_date(modified));
    }
}

/// Inserts a header built from our own text; such text is always a valid value, and a value
/// that somehow is not is dropped rather than turned into a panic.
fn set<V>(response: &mut Response<FileBody>, name: http::HeaderName, value: V)
where
    HeaderValue: TryFrom<V>,
{
    if let Ok(value) = HeaderValue::try_from(value) {
        response.headers_mut().insert(name, value);
    }
}

/// A multipart boundary that file contents cannot predict: a per-process random hash of a
/// counter and the clock.
fn boundary() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    if let Ok(now) = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH) {
        hasher.write_u128(now.as_nanos());
    }
    format!("graygate-{:016x}", hasher.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_map_like_nginx() {
        use io::ErrorKind::*;
        for (kind, status) in [
            (NotFound, StatusCode::NOT_FOUND),
            (NotADirectory, StatusCode::NOT_FOUND),
            (InvalidFilename, StatusCode::NOT_FOUND),
            (PermissionDenied, StatusCode::FORBIDDEN),
            (Other, StatusCode::INTERNAL_SERVER_ERROR),
        ] {
            assert_eq!(status_of(&io::Error::from(kind)), status, "{kind:?}");
        }
    }
}
