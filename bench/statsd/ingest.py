#!/usr/bin/env python3
"""End-to-end StatsD ingest over loopback: lines/s over TCP, and loss over UDP at a fixed rate.

Usage: bench/statsd/ingest.py [--exporter CMD] [--lines N] [--udp-rate R] [--seconds S]
                              [--packet-bytes B] [--skip-tcp]

Starts the exporter (default: graygate's example binary, built with
`cargo build --release -p graygate-statsd-exporter --example statsd_exporter`; pass
`--exporter statsd_exporter` to run Prometheus' binary from PATH side by side), sends
100 distinct names, and reads statsd_exporter_lines_total from /metrics. Bounded: at most
--lines lines over TCP and --seconds of UDP, loopback only.
"""
import argparse, os, socket, subprocess, sys, time, urllib.request

def free_port(kind):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port

def lines_total(web):
    body = urllib.request.urlopen(f"http://{web}/metrics", timeout=5).read().decode()
    for line in body.splitlines():
        if line.startswith("statsd_exporter_lines_total "):
            return float(line.split()[1])
    return 0.0

def wait_lines(web, target, timeout):
    deadline = time.time() + timeout
    seen = 0.0
    while time.time() < deadline:
        seen = lines_total(web)
        if seen >= target:
            break
        time.sleep(0.02)
    return seen

def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--exporter", default=os.path.join(root, "target/release/examples/statsd_exporter"))
    ap.add_argument("--lines", type=int, default=4_000_000)
    ap.add_argument("--udp-rate", type=int, default=2_000_000, help="lines per second")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--packet-bytes", type=int, default=1400,
                    help="UDP datagram size limit; statsd clients pack lines up to ~1400 bytes")
    ap.add_argument("--skip-tcp", action="store_true")
    args = ap.parse_args()

    tcp_port, udp_port, web_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    web = f"127.0.0.1:{web_port}"
    proc = subprocess.Popen([args.exporter, f"--statsd.listen-tcp=127.0.0.1:{tcp_port}",
                             f"--statsd.listen-udp=127.0.0.1:{udp_port}", f"--web.listen-address={web}",
                             "--log.level=error"])
    try:
        for _ in range(200):
            try:
                lines_total(web)
                break
            except OSError:
                time.sleep(0.05)
        names = [f"app.service{i}.requests:1|c\n" for i in range(100)]
        block = "".join(names * 100).encode()  # 10,000 lines
        # TCP: as fast as one connection goes.
        base = lines_total(web)
        if args.skip_tcp:
            args.lines = 0
        n_blocks = args.lines // 10_000
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", tcp_port)) as s:
            for _ in range(n_blocks):
                s.sendall(block)
        target = base + n_blocks * 10_000
        seen = wait_lines(web, target, 120)
        dt = time.perf_counter() - t0
        if n_blocks:
            print(f"tcp: {int(seen - base)} lines in {dt:.3f}s = {(seen - base) / dt / 1e6:.2f}M lines/s")

        # UDP: paced multi-line packets of at most --packet-bytes; loss = sent - received.
        per_packet = 0
        size = 0
        while per_packet < len(names) and size + len(names[per_packet]) <= args.packet_bytes:
            size += len(names[per_packet])
            per_packet += 1
        per_packet = max(per_packet, 1)
        packet = "".join(names[:per_packet]).rstrip("\n").encode()
        pps = args.udp_rate / per_packet
        base = lines_total(web)
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sent = 0
        t0 = time.perf_counter()
        while True:
            now = time.perf_counter() - t0
            if now >= args.seconds:
                break
            due = int(now * pps) + 1
            while sent < due:
                u.sendto(packet, ("127.0.0.1", udp_port))
                sent += 1
        elapsed = time.perf_counter() - t0
        got = wait_lines(web, base + sent * per_packet, 10) - base
        rate = sent * per_packet / elapsed
        loss = 100.0 * (1 - got / (sent * per_packet))
        print(f"udp: {per_packet} lines ({len(packet)} bytes) per datagram, offered {rate / 1e6:.2f}M lines/s for {elapsed:.1f}s, received {int(got)} of {sent * per_packet} lines, loss {loss:.2f}%")
    finally:
        proc.terminate()
        proc.wait(timeout=10)

if __name__ == "__main__":
    sys.exit(main())
