//! graygate's own HTTP/1 connection over a raw socket: HTTP/1.0 clients, response framing,
//! request bodies the pipeline does not read, heads that arrive in pieces.

mod common;
use common::*;
use std::io::{Read, Write};
use std::net::TcpListener;

fn files() -> Gateway {
    let dir = tempfile::tempdir().expect("dir");
    write_tree(dir.path(), &[("www/index.html", "home")]);
    Gateway::start_in(
        dir,
        "sites:\n  - name: s\n    hosts: [\"*\"]\n    release:\n      default: v\n      versions:\n        v: {root: www}\n",
    )
}

#[test]
fn http10_clients_get_keepalive_only_when_they_ask() {
    let gw = files();
    let mut c = Client::connect(gw.addr);
    c.send_raw(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nCookie: uuid=x\r\n\r\n");
    let first = c.read_reply(false).expect("first");
    assert_eq!((first.status, first.text().as_str()), (200, "home"));
    assert_eq!(first.header("connection"), Some("keep-alive"));
    assert!(first.header("date").is_some());
    c.send_raw(b"GET / HTTP/1.0\r\nCookie: uuid=x\r\n\r\n");
    let second = c.read_reply(false).expect("second");
    assert_eq!(
        (second.status, second.header("connection")),
        (200, Some("close"))
    );
    assert!(c.is_closed());
}

#[test]
fn a_response_of_unknown_length_is_chunked_for_http11_and_closes_for_http10() {
    // An origin whose response has no length: a chunked body.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let mut seen = Vec::new();
                loop {
                    let Ok(n) = stream.read(&mut buf) else { return };
                    if n == 0 {
                        return;
                    }
                    seen.extend_from_slice(&buf[..n]);
                    while let Some(end) = seen.windows(4).position(|w| w == b"\r\n\r\n") {
                        seen.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
                        if stream.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
            });
        }
    });
    let gw = Gateway::start(&format!(
        "sites:\n  - name: s\n    hosts: [\"*\"]\n    release:\n      default: v\n      versions:\n        v: {{upstream: {{servers: [\"{addr}\"]}}}}\n"
    ));
    let mut c = Client::connect(gw.addr);
    for _ in 0..2 {
        c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
        let reply = c.read_reply(false).expect("reply");
        assert_eq!(reply.header("transfer-encoding"), Some("chunked"));
        assert_eq!(reply.text(), "hello world");
    }
    let mut c = Client::connect(gw.addr);
    c.send_raw(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nCookie: uuid=x\r\n\r\n");
    let reply = c.read_reply(false).expect("reply");
    assert_eq!(reply.header("transfer-encoding"), None);
    assert_eq!(reply.header("connection"), Some("close"));
    assert_eq!(reply.text(), "hello world");
    assert!(c.is_closed());
}

#[test]
fn an_unread_request_body_is_skipped_when_here_and_closes_the_connection_when_not() {
    let gw = files();
    let mut c = Client::connect(gw.addr);
    // A static root does not read bodies: a whole one is skipped, the next request is served.
    c.send_raw(b"POST / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\nContent-Length: 5\r\n\r\nhello");
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
    let first = c.read_reply(false).expect("first");
    assert_ne!(first.header("connection"), Some("close"));
    let second = c.read_reply(false).expect("second");
    assert_eq!((second.status, second.text().as_str()), (200, "home"));
    // Most of a large body is still to come: answered, then closed (its bytes are not read as
    // a request).
    let mut c = Client::connect(gw.addr);
    c.send_raw(b"POST / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\nContent-Length: 100000\r\n\r\nGET /smuggled HTTP/1.1\r\n\r\n");
    let reply = c.read_reply(false).expect("reply");
    assert_eq!(reply.header("connection"), Some("close"));
    assert!(c.is_closed());
}

#[test]
fn a_head_arriving_byte_by_byte_is_served() {
    let gw = files();
    let mut c = Client::connect(gw.addr);
    for b in b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n" {
        c.send_raw(&[*b]);
    }
    let reply = c.read_reply(false).expect("reply");
    assert_eq!((reply.status, reply.text().as_str()), (200, "home"));
    // HEAD: the length of the body that GET would send, and no body.
    c.send_raw(b"HEAD / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
    let head = c.read_reply(true).expect("head");
    assert_eq!(head.header("content-length"), Some("4"));
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
    assert_eq!(c.read_reply(false).expect("after head").text(), "home");
}

#[test]
fn a_connection_that_gave_back_its_buffer_after_idling_serves_the_next_requests() {
    let gw = files();
    let mut c = Client::connect(gw.addr);
    assert_eq!(c.get("/", &["Cookie: uuid=x"]).text(), "home");
    // Past the moment an idle connection gives back its read buffer (1 s).
    std::thread::sleep(std::time::Duration::from_millis(1500));
    // The next head arrives in two reads, the first onto the stack, the rest appended.
    c.send_raw(b"GET / HTTP/1.1\r\nHo");
    std::thread::sleep(std::time::Duration::from_millis(50));
    c.send_raw(b"st: a\r\nCookie: uuid=x\r\n\r\n");
    let reply = c.read_reply(false).expect("after idling");
    assert_eq!((reply.status, reply.text().as_str()), (200, "home"));
    // A request with a body and a pipelined one behind it, after idling again: the unread body
    // is skipped from the buffer and the second request served.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let body = "x".repeat(1_000);
    c.send_raw(
        format!(
            "POST / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
    c.send_raw(b"GET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
    let _ = c.read_reply(false).expect("post");
    let reply = c.read_reply(false).expect("get after post");
    assert_eq!((reply.status, reply.text().as_str()), (200, "home"));
}
