//! The upstream side of HTTP/1.1 against scripted origins that answer with exactly the bytes a
//! test gives: chunked bodies split anywhere, bodies delimited by close, interim responses,
//! servers that close idle keepalive connections, and responses that are not HTTP at all.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a scripted origin does with one request on a connection.
#[derive(Clone, Copy)]
enum After {
    /// Keep the connection for the next request.
    Stay,
    /// Close it after the response.
    Close,
}

/// An origin that answers every request with the pieces of `script` (written with small pauses
/// between them, so they arrive as separate reads), then keeps or closes the connection.
struct Scripted {
    addr: SocketAddr,
    connections: Arc<AtomicU64>,
}

impl Scripted {
    fn start(script: &'static [&'static [u8]], after: After) -> Scripted {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let connections = Arc::new(AtomicU64::new(0));
        let count = connections.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                count.fetch_add(1, Ordering::SeqCst);
                std::thread::spawn(move || {
                    while read_request(&mut stream) {
                        for piece in script {
                            if stream.write_all(piece).is_err() {
                                return;
                            }
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        if let After::Close = after {
                            return;
                        }
                    }
                });
            }
        });
        Scripted { addr, connections }
    }

    fn connections(&self) -> u64 {
        self.connections.load(Ordering::SeqCst)
    }
}

/// Reads one request head (these tests send no request bodies); false at the end of the stream.
fn read_request(stream: &mut TcpStream) -> bool {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return false,
        }
    }
    true
}

fn site(origin: SocketAddr) -> String {
    format!(
        r#"workers: 1
sites:
  - name: wire
    hosts: ["*"]
    release:
      default: stable
      versions:
        stable: {{upstream: {{servers: ["{origin}"], response_timeout_ms: 2000}}}}
"#
    )
}

#[test]
fn chunked_responses_split_anywhere_arrive_whole_and_the_connection_is_reused() {
    let origin = Scripted::start(
        &[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Origin: scripted\r\n\r\n5\r\nhel",
            b"lo\r\n7;ext=1\r\n, world\r\n",
            b"0\r\nTrailer-A: x\r\n",
            b"\r\n",
        ],
        After::Stay,
    );
    let gw = Gateway::start(&site(origin.addr));
    let mut client = Client::connect(gw.addr);
    for _ in 0..3 {
        let reply = client.get("/", &[]);
        assert_eq!(reply.status, 200);
        assert_eq!(reply.text(), "hello, world");
        assert_eq!(reply.header("x-origin"), Some("scripted"));
        assert_eq!(reply.header("trailer-a"), None);
    }
    assert_eq!(origin.connections(), 1, "the connection was not reused");
}

#[test]
fn a_body_delimited_by_close_streams_whole_and_the_connection_is_not_reused() {
    let origin = Scripted::start(
        &[b"HTTP/1.1 200 OK\r\n\r\nuntil ", b"the end"],
        After::Close,
    );
    let gw = Gateway::start(&site(origin.addr));
    let mut client = Client::connect(gw.addr);
    assert_eq!(client.get("/", &[]).text(), "until the end");
    assert_eq!(client.get("/", &[]).text(), "until the end");
    assert_eq!(origin.connections(), 2);
}

#[test]
fn a_server_that_closes_after_each_response_is_retried_transparently() {
    // The origin says nothing about closing: graygate finds out when it reuses the connection.
    let origin = Scripted::start(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"],
        After::Close,
    );
    let gw = Gateway::start(&site(origin.addr));
    let mut client = Client::connect(gw.addr);
    for i in 0..5 {
        let reply = client.get("/", &[]);
        assert_eq!(
            (reply.status, reply.text().as_str()),
            (200, "ok"),
            "request {i}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(
        gw.metric("graygate_upstream_errors_total{upstream=\"wire/stable\",kind=\"exchange\"}"),
        0
    );
}

#[test]
fn interim_responses_are_skipped_and_head_responses_have_no_body() {
    let origin = Scripted::start(
        &[
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nX-Final: yes\r\n\r\n",
        ],
        After::Stay,
    );
    let gw = Gateway::start(&site(origin.addr));
    let reply = get(gw.addr, "/", &[]);
    assert_eq!((reply.status, reply.header("x-final")), (200, Some("yes")));

    let head = Scripted::start(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"],
        After::Stay,
    );
    let gw = Gateway::start(&site(head.addr));
    let mut client = Client::connect(gw.addr);
    for _ in 0..3 {
        client.send_raw(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        let reply = client.read_reply(true).expect("a reply");
        assert_eq!(reply.status, 200);
        assert_eq!(reply.header("content-length"), Some("11"));
    }
    assert_eq!(head.connections(), 1);
}

#[test]
fn a_response_that_is_not_http_is_a_502_counted_as_protocol() {
    let origin = Scripted::start(&[b"SSH-2.0-OpenSSH_9.2\r\n\r\n"], After::Close);
    let gw = Gateway::start(&site(origin.addr));
    assert_eq!(get(gw.addr, "/", &[]).status, 502);
    let conflicting = Scripted::start(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok"],
        After::Close,
    );
    let gw2 = Gateway::start(&site(conflicting.addr));
    assert_eq!(get(gw2.addr, "/", &[]).status, 502);
    assert_eq!(
        gw.metric("graygate_upstream_errors_total{upstream=\"wire/stable\",kind=\"protocol\"}"),
        1
    );
}

#[test]
fn an_upstream_that_stalls_mid_body_is_cut_off_at_the_response_timeout() {
    // 10 bytes announced, 3 sent, then nothing (the origin waits for another request).
    let origin = Scripted::start(
        &[b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"],
        After::Stay,
    );
    let gw = Gateway::start(&site(origin.addr).replace("2000", "500"));
    let mut stream = TcpStream::connect(gw.addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let started = std::time::Instant::now();
    let mut received = Vec::new();
    // The client gets the head and the 3 bytes, then the connection closes: the response can
    // never be completed.
    let _ = stream.read_to_end(&mut received);
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 200 OK"), "{text}");
    assert!(text.ends_with("abc"), "{text}");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}
