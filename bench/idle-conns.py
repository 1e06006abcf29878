#!/usr/bin/env python3
"""Holds N idle keepalive client connections to a running proxy and reports its memory.

    bench/idle-conns.py --port 8080 --pid PID [--conns 10000]

Each connection sends one request (cookies of a returning device) and reads the response, so it
is a real keepalive connection, then stays idle. The proxy's resident memory (VmRSS of PID) is
read before and after; the difference over N is the cost of one idle connection. At the end
every connection sends a second request, which must be answered: idle connections are kept,
not dropped. Loopback only; the number of connections is bounded by --conns.
"""
import argparse, resource, socket, sys, time

def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise SystemExit(f"no VmRSS for {pid}")

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nCookie: uuid=idle-device\r\n\r\n"

def read_response(s):
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = s.recv(4096)
        if not chunk:
            return None
        body += chunk
    return head.split(b"\r\n")[0]

def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--conns", type=int, default=10000)
    ap.add_argument("--hold", type=float, default=3.0, help="seconds to stay idle")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = a.conns + 100
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(want, soft), max(want, hard)))
    # Warm the proxy (upstream connections, buffers) before the baseline.
    warm = socket.create_connection(("127.0.0.1", a.port))
    for _ in range(100):
        warm.sendall(REQUEST)
        read_response(warm)
    warm.close()
    time.sleep(0.5)
    before = rss_kb(a.pid)
    conns = []
    for i in range(a.conns):
        s = socket.create_connection(("127.0.0.1", a.port))
        s.sendall(REQUEST)
        if read_response(s) is None:
            sys.exit(f"connection {i} closed before its first response")
        conns.append(s)
    time.sleep(a.hold)
    after = rss_kb(a.pid)
    alive = 0
    for s in conns:
        s.sendall(REQUEST)
        status = read_response(s)
        if status and status.split()[1] == b"200":
            alive += 1
    per = (after - before) * 1024 / a.conns
    print(f"idle keepalive connections: {a.conns}  answered after {a.hold:.0f}s idle: {alive}")
    print(f"RSS before {before/1024:.1f} MiB, with connections {after/1024:.1f} MiB: {per:.0f} bytes per idle connection")
    for s in conns:
        s.close()
    if alive != a.conns:
        sys.exit(1)

if __name__ == "__main__":
    main()
