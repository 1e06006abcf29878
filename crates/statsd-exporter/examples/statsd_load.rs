//! A bounded StatsD load generator for `bench/statsd/`, loopback only, fast enough that the
//! sender is not what limits the exporter.
//!
//! ```text
//! statsd_load udp 127.0.0.1:9125 RATE SECONDS [NAMES] [PACKET_BYTES]
//! statsd_load tcp 127.0.0.1:9125 LINES [NAMES]
//! ```
//!
//! UDP sends pre-built datagrams of whole lines (`app.service<i>.requests:1|c`, cycling over
//! NAMES distinct names) of at most PACKET_BYTES (default 1400) at RATE lines per second for
//! SECONDS, paced every 200 µs. TCP writes LINES lines over one connection as fast as it
//! goes. Prints what was sent; the script reads what arrived from `/metrics`.

use std::io::Write;
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::process::ExitCode;
use std::time::{Duration, Instant};

/// Upper bounds, so a typo cannot turn a benchmark into a flood.
const MAX_SECONDS: f64 = 60.0;
const MAX_RATE: u64 = 20_000_000;
const MAX_LINES: u64 = 200_000_000;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("statsd_load: {e}");
            eprintln!(
                "usage: statsd_load udp ADDR RATE SECONDS [NAMES] [PACKET_BYTES]\n       statsd_load tcp ADDR LINES [NAMES]"
            );
            ExitCode::from(2)
        }
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let mode = args.first().map(String::as_str).unwrap_or_default();
    let addr: SocketAddr = arg(args, 1, "ADDR")?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    match mode {
        "udp" => {
            let rate: u64 = arg(args, 2, "RATE")?;
            let seconds: f64 = arg(args, 3, "SECONDS")?;
            let names = optional(args, 4, 100)?;
            let packet_bytes = optional(args, 5, 1400)?;
            if rate == 0 || rate > MAX_RATE || !(seconds > 0.0 && seconds <= MAX_SECONDS) {
                return Err(format!(
                    "RATE must be 1..={MAX_RATE} and SECONDS 0..={MAX_SECONDS}"
                ));
            }
            udp(addr, rate, seconds, names, packet_bytes)
        }
        "tcp" => {
            let lines: u64 = arg(args, 2, "LINES")?;
            let names = optional(args, 3, 100)?;
            if lines > MAX_LINES {
                return Err(format!("LINES must be at most {MAX_LINES}"));
            }
            tcp(addr, lines, names)
        }
        _ => Err("the first argument is udp or tcp".into()),
    }
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> Result<T, String> {
    let text = args.get(i).ok_or_else(|| format!("{what} is missing"))?;
    text.parse()
        .map_err(|_| format!("{what}: cannot parse {text:?}"))
}

fn optional(args: &[String], i: usize, default: usize) -> Result<usize, String> {
    match args.get(i) {
        Some(_) => arg(args, i, "optional argument"),
        None => Ok(default),
    }
}

fn line(i: usize) -> String {
    format!("app.service{i}.requests:1|c")
}

/// Datagrams of whole lines, together covering every name the same number of times.
fn datagrams(names: usize, packet_bytes: usize) -> Vec<(Vec<u8>, u64)> {
    let names = names.max(1);
    let mut packets = Vec::new();
    let mut packet = Vec::new();
    let mut lines = 0;
    // Enough rounds that the packets end on a name boundary often enough to stay even.
    for i in 0..names * 64 {
        let text = line(i % names);
        if !packet.is_empty() && packet.len() + 1 + text.len() > packet_bytes {
            packets.push((std::mem::take(&mut packet), lines));
            lines = 0;
        }
        if !packet.is_empty() {
            packet.push(b'\n');
        }
        packet.extend_from_slice(text.as_bytes());
        lines += 1;
    }
    if !packet.is_empty() {
        packets.push((packet, lines));
    }
    packets
}

fn udp(
    addr: SocketAddr,
    rate: u64,
    seconds: f64,
    names: usize,
    packet_bytes: usize,
) -> Result<(), String> {
    let socket = UdpSocket::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    socket.connect(addr).map_err(|e| e.to_string())?;
    let packets = datagrams(names, packet_bytes);
    let per_packet = packets.iter().map(|p| p.1).sum::<u64>() as f64 / packets.len() as f64;
    let limit = Duration::from_secs_f64(seconds);
    let budget = (rate as f64 * seconds) as u64;
    let (mut lines, mut sent, mut errors) = (0u64, 0usize, 0u64);
    let start = Instant::now();
    loop {
        let elapsed = start.elapsed();
        if elapsed >= limit || lines >= budget {
            break;
        }
        let due = ((elapsed.as_secs_f64() * rate as f64) as u64).min(budget);
        while lines < due {
            let (packet, n) = &packets[sent % packets.len()];
            match socket.send(packet) {
                Ok(_) => {}
                // ECONNREFUSED from an earlier datagram, or ENOBUFS: counted as sent
                // (the receiver's count tells what arrived).
                Err(_) => errors += 1,
            }
            lines += n;
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = start.elapsed().as_secs_f64();
    println!(
        "udp_sent_lines={lines} datagrams={sent} lines_per_datagram={per_packet:.1} bytes_per_datagram<={packet_bytes} seconds={elapsed:.3} rate={:.0} send_errors={errors}",
        lines as f64 / elapsed
    );
    Ok(())
}

fn tcp(addr: SocketAddr, lines: u64, names: usize) -> Result<(), String> {
    let names = names.max(1);
    let mut block = Vec::new();
    let per_block = (names * 100) as u64;
    for i in 0..per_block as usize {
        block.extend_from_slice(line(i % names).as_bytes());
        block.push(b'\n');
    }
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let start = Instant::now();
    let mut sent = 0;
    while sent + per_block <= lines {
        stream.write_all(&block).map_err(|e| e.to_string())?;
        sent += per_block;
    }
    let rest = (lines - sent) as usize;
    for i in 0..rest {
        writeln!(stream, "{}", line(i % names)).map_err(|e| e.to_string())?;
    }
    sent += rest as u64;
    stream.flush().map_err(|e| e.to_string())?;
    let elapsed = start.elapsed().as_secs_f64();
    println!("tcp_sent_lines={sent} seconds={elapsed:.3}");
    Ok(())
}
