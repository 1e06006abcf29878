#!/usr/bin/env python3
"""End-to-end StatsD ingest over loopback: lines/s over TCP, and loss over UDP at a fixed rate,
with the exporter's CPU time per million lines.

Usage: bench/statsd/ingest.py [--exporter CMD] [--sender CMD] [--lines N] [--udp-rate R]
                              [--seconds S] [--packet-bytes B] [--names K] [--skip-tcp]
                              [--skip-udp] [--extra=--exporter-flag=value ...]

For mapped names: --extra=--statsd.mapping-config=bench/statsd/mapping.yml

Starts the exporter (default: graygate's example binary) and sends with the Rust load
generator (`statsd_load`), both built with
`cargo build --release -p graygate-statsd-exporter --example statsd_exporter --example statsd_load`.
`--exporter statsd_exporter` runs Prometheus' binary from PATH through the same script for
a side-by-side figure. Lines received are read from statsd_exporter_lines_total on /metrics;
CPU is the exporter's utime+stime from /proc/PID/stat over the phase. Bounded: at most
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
    """Polls until `target` lines arrived, or the count stops moving for 0.5 s."""
    deadline = time.time() + timeout
    seen, last_change, last = 0.0, time.time(), -1.0
    while time.time() < deadline:
        seen = lines_total(web)
        if seen >= target:
            break
        if seen != last:
            last, last_change = seen, time.time()
        elif time.time() - last_change > 0.5:
            break
        time.sleep(0.05)
    return seen

def udp_receive_buffer_errors():
    """The kernel's count of datagrams dropped because a receive buffer was full (all sockets)."""
    with open("/proc/net/snmp") as f:
        rows = [line.split() for line in f if line.startswith("Udp:")]
    return int(rows[1][rows[0].index("RcvbufErrors")])

def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

def main():
    ap = argparse.ArgumentParser()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    examples = os.path.join(root, "target/release/examples")
    ap.add_argument("--exporter", default=os.path.join(examples, "statsd_exporter"))
    ap.add_argument("--sender", default=os.path.join(examples, "statsd_load"))
    ap.add_argument("--lines", type=int, default=10_000_000)
    ap.add_argument("--udp-rate", type=int, default=2_000_000, help="lines per second")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--packet-bytes", type=int, default=1400,
                    help="UDP datagram size limit; statsd clients pack lines up to ~1400 bytes")
    ap.add_argument("--names", type=int, default=100)
    ap.add_argument("--skip-tcp", action="store_true")
    ap.add_argument("--skip-udp", action="store_true")
    ap.add_argument("--extra", action="append", default=[], help="extra exporter flag")
    args = ap.parse_args()

    tcp_port, udp_port, web_port = free_port(socket.SOCK_STREAM), free_port(socket.SOCK_DGRAM), free_port(socket.SOCK_STREAM)
    web = f"127.0.0.1:{web_port}"
    proc = subprocess.Popen([args.exporter, f"--statsd.listen-tcp=127.0.0.1:{tcp_port}",
                             f"--statsd.listen-udp=127.0.0.1:{udp_port}", f"--web.listen-address={web}",
                             "--log.level=error", *args.extra])
    try:
        for _ in range(200):
            try:
                lines_total(web)
                break
            except OSError:
                time.sleep(0.05)
        print(f"load: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
        if not args.skip_tcp:
            base, cpu0 = lines_total(web), cpu_seconds(proc.pid)
            t0 = time.perf_counter()
            out = subprocess.run([args.sender, "tcp", f"127.0.0.1:{tcp_port}", str(args.lines),
                                  str(args.names)], check=True, capture_output=True, text=True).stdout
            seen = wait_lines(web, base + args.lines, 120) - base
            dt = time.perf_counter() - t0
            cpu = cpu_seconds(proc.pid) - cpu0
            print(f"tcp: {int(seen)} of {args.lines} lines in {dt:.3f}s = {seen / dt / 1e6:.2f}M lines/s, "
                  f"exporter CPU {cpu:.2f}s = {cpu / max(seen, 1) * 1e6:.3f} CPU s per M lines  [{out.strip()}]")
        if not args.skip_udp:
            base, cpu0, drops0 = lines_total(web), cpu_seconds(proc.pid), udp_receive_buffer_errors()
            out = subprocess.run([args.sender, "udp", f"127.0.0.1:{udp_port}", str(args.udp_rate),
                                  str(args.seconds), str(args.names), str(args.packet_bytes)],
                                 check=True, capture_output=True, text=True).stdout
            fields = dict(kv.split("=", 1) for kv in out.split())
            sent = int(fields["udp_sent_lines"])
            got = wait_lines(web, base + sent, 10) - base
            cpu = cpu_seconds(proc.pid) - cpu0
            drops = udp_receive_buffer_errors() - drops0
            loss = 100.0 * (1 - got / max(sent, 1))
            print(f"udp: offered {float(fields['rate']) / 1e6:.2f}M lines/s for {fields['seconds']}s "
                  f"({fields['lines_per_datagram']} lines per datagram), received {int(got)} of {sent}, "
                  f"loss {loss:.2f}% ({drops} datagrams dropped at the receive buffer), exporter CPU {cpu:.2f}s = {cpu / max(got, 1) * 1e6:.3f} CPU s per M lines "
                  f"({cpu / float(fields['seconds']):.2f} cores)")
    finally:
        proc.terminate()
        proc.wait(timeout=10)

if __name__ == "__main__":
    sys.exit(main())
