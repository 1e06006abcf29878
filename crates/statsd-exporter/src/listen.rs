//! UDP, TCP and unixgram listeners. Each keeps a local batch of raw lines and hands it to
//! the consumer (which parses, maps and counts) when it reaches
//! `--statsd.event-flush-threshold` lines, 64 KiB, or `--statsd.event-flush-interval` has
//! passed. Listeners only receive and split: the CPU-heavy work is on the consumer.

use std::io;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream, UdpSocket, UnixDatagram};
use tokio::time::{Instant, sleep_until};

use crate::exporter::{Bound, Exporter, Lines, ListenerAddrs};

/// bufio.Reader's default size: a TCP line this long without a newline is "too long".
const TCP_LINE_MAX: usize = 4096;
/// Receive buffer asked for when `--statsd.read-buffer` is not given.
const DEFAULT_READ_BUFFER: usize = 16 << 20;
/// A batch this large is handed over whatever its line count, which bounds the memory a
/// full queue holds.
const BATCH_BYTES: usize = 64 << 10;

pub(crate) fn spawn(exporter: &Exporter, addrs: &ListenerAddrs) -> io::Result<Bound> {
    let mut bound = Bound::default();
    if let Some(addr) = addrs.udp {
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
        let size = exporter
            .options()
            .read_buffer
            .unwrap_or(DEFAULT_READ_BUFFER);
        if let Err(e) = socket.set_recv_buffer_size(size)
            && exporter.options().read_buffer.is_some()
        {
            return Err(e);
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let socket = UdpSocket::from_std(socket.into())?;
        bound.udp = Some(socket.local_addr()?);
        tokio::spawn(udp(exporter.clone(), socket));
    }
    if let Some(addr) = addrs.tcp {
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let listener = TcpListener::from_std(listener)?;
        bound.tcp = Some(listener.local_addr()?);
        tokio::spawn(tcp(exporter.clone(), listener));
    }
    if let Some(path) = &addrs.unixgram {
        if path.exists() {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!("Unixgram socket \"{}\" already exists", path.display()),
            ));
        }
        let socket = UnixDatagram::bind(path)?;
        let mode = exporter.options().unixsocket_mode;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))?;
        bound.unixgram = Some(path.clone());
        tokio::spawn(unixgram(exporter.clone(), socket));
    }
    Ok(bound)
}

/// A batch with its flush deadline.
struct Batch {
    lines: Lines,
    deadline: Instant,
}

impl Batch {
    fn new(exporter: &Exporter) -> Batch {
        Batch {
            lines: exporter.lines(),
            deadline: Instant::now() + exporter.options().flush_interval,
        }
    }

    async fn maybe_flush(&mut self, exporter: &Exporter, force: bool) {
        let full = self.lines.count >= exporter.options().flush_threshold.max(1)
            || self.lines.text.len() >= BATCH_BYTES;
        if full || (force && !self.lines.is_empty()) || Instant::now() >= self.deadline {
            if !self.lines.is_empty() {
                exporter.flush(&mut self.lines).await;
            }
            self.deadline = Instant::now() + interval(exporter);
        }
    }
}

fn interval(exporter: &Exporter) -> Duration {
    exporter
        .options()
        .flush_interval
        .max(Duration::from_millis(1))
}

/// A datagram socket (UDP or unixgram): one packet per receive, parsed the same way.
trait Datagrams: Send + Sync + 'static {
    fn receive(
        &self,
        buf: &mut [u8],
    ) -> impl std::future::Future<Output = io::Result<usize>> + Send;
}

impl Datagrams for UdpSocket {
    fn receive(
        &self,
        buf: &mut [u8],
    ) -> impl std::future::Future<Output = io::Result<usize>> + Send {
        self.recv(buf)
    }
}

impl Datagrams for UnixDatagram {
    fn receive(
        &self,
        buf: &mut [u8],
    ) -> impl std::future::Future<Output = io::Result<usize>> + Send {
        self.recv(buf)
    }
}

async fn udp(exporter: Exporter, socket: UdpSocket) {
    datagrams(exporter, socket, |e| &e.ingest().udp_packets, "UDP").await
}

async fn unixgram(exporter: Exporter, socket: UnixDatagram) {
    datagrams(
        exporter,
        socket,
        |e| &e.ingest().unixgram_packets,
        "unixgram",
    )
    .await
}

/// Receives packets until the socket fails, counting them in `packets` and flushing events in
/// batches (by size or by the flush interval).
async fn datagrams<S: Datagrams>(
    exporter: Exporter,
    socket: S,
    packets: fn(&Exporter) -> &std::sync::atomic::AtomicU64,
    what: &'static str,
) {
    let mut buf = vec![0u8; 65535];
    let mut batch = Batch::new(&exporter);
    loop {
        tokio::select! {
            received = socket.receive(&mut buf) => match received {
                Ok(n) => {
                    packets(&exporter).fetch_add(1, Relaxed);
                    batch.lines.push_datagram(&buf[..n]);
                    batch.maybe_flush(&exporter, false).await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "{what} receive failed");
                    return;
                }
            },
            () = sleep_until(batch.deadline) => batch.maybe_flush(&exporter, true).await,
        }
    }
}

async fn tcp(exporter: Exporter, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                exporter.ingest().tcp_connections.fetch_add(1, Relaxed);
                tokio::spawn(tcp_connection(exporter.clone(), stream));
            }
            Err(e) => {
                tracing::error!(error = %e, "TCP accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

/// Lines as Go's `bufio.Reader.ReadLine`: `\n` or `\r\n` terminated, a final unterminated
/// line counts, and a line of 4096 bytes or more closes the connection.
async fn tcp_connection(exporter: Exporter, mut stream: TcpStream) {
    let mut buf: Vec<u8> = Vec::with_capacity(64 * 1024);
    let mut chunk = vec![0u8; 64 * 1024];
    let mut batch = Batch::new(&exporter);
    loop {
        let read = tokio::select! {
            read = stream.read(&mut chunk) => read,
            () = sleep_until(batch.deadline) => {
                batch.maybe_flush(&exporter, true).await;
                continue;
            }
        };
        let n = match read {
            Ok(0) => {
                if !buf.is_empty() {
                    batch.lines.push_line(&buf);
                }
                break;
            }
            Ok(n) => n,
            Err(e) => {
                exporter.ingest().tcp_errors.fetch_add(1, Relaxed);
                tracing::debug!(error = %e, "TCP read failed");
                break;
            }
        };
        buf.extend_from_slice(&chunk[..n]);
        let mut start = 0;
        let mut too_long = false;
        while let Some(pos) = buf[start..].iter().position(|b| *b == b'\n') {
            let mut line = &buf[start..start + pos];
            // bufio's buffer holds the line and its newline.
            if line.len() >= TCP_LINE_MAX {
                too_long = true;
                break;
            }
            if line.last() == Some(&b'\r') {
                line = &line[..line.len() - 1];
            }
            batch.lines.push_line(line);
            start += pos + 1;
        }
        if too_long || buf.len() - start >= TCP_LINE_MAX {
            exporter.ingest().tcp_too_long.fetch_add(1, Relaxed);
            break;
        }
        buf.drain(..start);
        batch.maybe_flush(&exporter, false).await;
    }
    batch.maybe_flush(&exporter, true).await;
}
