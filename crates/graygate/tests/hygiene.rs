//! Malformed and dangerous HTTP over a raw socket: each gets its 4xx from graygate and nothing
//! reaches the origin.

mod common;
use common::*;

fn gateway(origin: &Origin) -> Gateway {
    Gateway::start(&format!(
        "sites:\n  - name: s\n    hosts: [\"*\"]\n    release:\n      default: v\n      versions:\n        v: {{upstream: {{servers: [\"{}\"]}}}}\n",
        origin.addr
    ))
}

#[test]
fn refused_requests_never_reach_the_origin() {
    let origin = Origin::start("origin");
    let gw = gateway(&origin);
    let big_header = format!(
        "GET / HTTP/1.1\r\nHost: a\r\nX-Big: {}\r\n\r\n",
        "b".repeat(40 * 1024)
    );
    let many_headers = format!(
        "GET / HTTP/1.1\r\nHost: a\r\n{}\r\n",
        (0..150)
            .map(|i| format!("X-H{i}: v\r\n"))
            .collect::<String>()
    );
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("no Host in HTTP/1.1", b"GET / HTTP/1.1\r\n\r\n".to_vec(), 400),
        ("two Hosts", b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(), 400),
        ("bad Host", b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n".to_vec(), 400),
        ("CL then TE", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400),
        ("TE then CL", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n".to_vec(), 400),
        ("bad Content-Length", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5x\r\n\r\nhello".to_vec(), 400),
        ("conflicting Content-Lengths", b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!".to_vec(), 400),
        ("unknown transfer coding", b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(), 400),
        ("TE in HTTP/1.0", b"POST / HTTP/1.0\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n".to_vec(), 400),
        ("oversized header block", big_header.into_bytes(), 431),
        ("too many header fields", many_headers.into_bytes(), 431),
        ("garbage request line", b"HELLO\r\n\r\n".to_vec(), 400),
        ("space in target", b"GET /a b HTTP/1.1\r\nHost: a\r\n\r\n".to_vec(), 400),
        ("folded header", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: 1\r\n  continued\r\n\r\n".to_vec(), 400),
        ("NUL in header", b"GET / HTTP/1.1\r\nHost: a\r\nX-A: a\0b\r\n\r\n".to_vec(), 400),
        ("CONNECT", b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n".to_vec(), 405),
    ];
    for (name, bytes, want) in &cases {
        let mut c = Client::connect(gw.addr);
        c.send_raw(bytes);
        let reply = c
            .read_reply(false)
            .unwrap_or_else(|| panic!("{name}: no response"));
        assert_eq!(reply.status, *want, "{name}");
        assert!(
            c.is_closed(),
            "{name}: connection must close after a refused request"
        );
    }
    assert_eq!(origin.requests(), 0, "a refused request reached the origin");
    // Every refusal is counted, whoever made it.
    let refused = |status: &str, by: &str| {
        gw.metric(&format!(
            "graygate_http_rejected_total{{status=\"{status}\",by=\"{by}\"}}"
        ))
    };
    assert_eq!(refused("431", "parser"), 2);
    assert_eq!(refused("405", "hygiene"), 1);
    assert_eq!(
        refused("400", "hygiene") + refused("400", "parser"),
        cases.len() as u64 - 3
    );
}

#[test]
fn a_smuggled_request_behind_conflicting_framing_is_not_forwarded() {
    let origin = Origin::start("origin");
    let gw = gateway(&origin);
    let mut c = Client::connect(gw.addr);
    // Read by Content-Length, the body is "0\r\n\r\nGET /admin ..."; by chunks, it ends at "0".
    c.send_raw(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /admin HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(c.read_reply(false).expect("reply").status, 400);
    assert!(
        c.read_reply(false).is_none(),
        "no second response on this connection"
    );
    assert_eq!(origin.requests(), 0);
}

#[test]
fn clean_requests_on_the_same_connection_still_flow() {
    let origin = Origin::start("origin");
    let gw = gateway(&origin);
    let mut c = Client::connect(gw.addr);
    // Pipelined: a chunked POST whose body mentions framing headers, then a GET.
    c.send_raw(b"POST /echo HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\nTransfer-Encoding: chunked\r\n\r\n1f\r\nContent-Length: 5\r\nHost: evil\r\n\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\n\r\n");
    let first = c.read_reply(false).expect("first");
    assert_eq!(
        (first.status, first.text().as_str()),
        (200, "Content-Length: 5\r\nHost: evil\r\n")
    );
    let second = c.read_reply(false).expect("second");
    assert_eq!((second.status, second.text().as_str()), (200, "origin"));
    assert_eq!(origin.requests(), 2);
    // HTTP/1.0 without Host is fine (routed to the catch-all site).
    let reply = raw(gw.addr, b"GET / HTTP/1.0\r\nCookie: uuid=x\r\n\r\n").expect("reply");
    assert_eq!((reply.status, reply.text().as_str()), (200, "origin"));
}

#[test]
fn a_malformed_request_body_is_the_clients_fault() {
    let origin = Origin::start("origin");
    let gw = gateway(&origin);
    let mut c = Client::connect(gw.addr);
    // The chunk says 5 bytes, then the stream breaks the chunked framing.
    c.send_raw(b"POST /echo HTTP/1.1\r\nHost: a\r\nCookie: uuid=x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXYZ\r\n");
    let reply = c.read_reply(false).expect("reply");
    assert_eq!(
        (reply.status, reply.text().as_str()),
        (400, "400 Bad Request\n")
    );
}
