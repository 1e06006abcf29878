//! Threads, listeners and connections: one current-thread runtime and one SO_REUSEPORT listener
//! per worker thread per address, so the kernel spreads connections and no state is shared
//! between workers on the request path.

use crate::access_log::AccessLog;
use crate::body::ClientBody;
use crate::h1;
use crate::pipeline;
use crate::snapshot::{ServerLimits, Snapshot};
use arc_swap::ArcSwap;
use graygate_metrics::{PerWorker, Registry, WorkerCells};
use graygate_upstream::{LazyTimer, Pools};
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use socket2::{Domain, Protocol, Socket, Type};
use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// How long in-flight requests may take to finish after shutdown is asked for.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A bound, not yet running gateway.
pub struct Server {
    shared: Arc<Shared>,
    /// Per worker, one listener per configured address; TLS listeners carry their acceptor.
    listeners: Vec<Vec<(std::net::TcpListener, Option<Handshake>)>>,
    local_addrs: Vec<SocketAddr>,
    local_tls_addrs: Vec<SocketAddr>,
}

/// HTTPS listeners: where, and how to shake hands.
pub struct TlsListeners {
    pub listen: Vec<SocketAddr>,
    pub config: Arc<tokio_rustls::rustls::ServerConfig>,
    pub handshake_timeout: Duration,
}

/// What a TLS listener needs per connection.
#[derive(Clone)]
struct Handshake {
    acceptor: tokio_rustls::TlsAcceptor,
    timeout: Duration,
}

/// What every worker shares: the current snapshot, the metrics, the access log.
pub(crate) struct Shared {
    snapshot: ArcSwap<Snapshot>,
    registry: Arc<Registry>,
    access_log: Option<AccessLog>,
}

/// A handle on a running (or about to run) gateway: swap in configurations, read metrics.
#[derive(Clone)]
pub struct ServerHandle {
    shared: Arc<Shared>,
}

impl ServerHandle {
    /// Makes `snapshot` the configuration of every request that starts from now on; requests in
    /// flight finish on the one they started with. What is bound at start stays as it is: the
    /// listen addresses, the worker count, the metrics address and the access log's destination
    /// of the running snapshot carry over (changing them takes a restart).
    pub fn swap(&self, mut snapshot: Snapshot) {
        let running = self.shared.snapshot.load();
        snapshot.listen = running.listen.clone();
        snapshot.workers = running.workers;
        snapshot.metrics.listen = running.metrics.listen;
        snapshot.access_log_config = running.access_log_config.clone();
        snapshot.https_port = running.https_port;
        if self.shared.access_log.is_none() {
            snapshot.access_log = None;
        }
        let globals = &self.shared.registry.globals;
        globals.config_revision.store(snapshot.revision, Relaxed);
        globals.reloads_ok.fetch_add(1, Relaxed);
        globals.last_reload_ok_unix.store(unix_now(), Relaxed);
        self.shared.snapshot.store(Arc::new(snapshot));
    }

    /// The snapshot serving new requests.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.shared.snapshot.load_full()
    }

    pub fn registry(&self) -> &Arc<Registry> {
        &self.shared.registry
    }

    /// Asks the access log to reopen its file (logrotate).
    pub fn reopen_access_log(&self) {
        if let Some(log) = &self.shared.access_log {
            log.reopen();
        }
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Server {
    /// Binds every listen address once per worker. Port 0 is resolved by the first bind and
    /// reused for the other workers' sockets, so all workers share the one port. `registry`
    /// must be the one `snapshot` was built with, sized for `snapshot.workers`.
    pub fn bind(
        snapshot: Snapshot,
        registry: Arc<Registry>,
        tls: Option<TlsListeners>,
    ) -> io::Result<Server> {
        let workers = snapshot.workers;
        let mut listeners: Vec<Vec<_>> = (0..workers).map(|_| Vec::new()).collect();
        let mut local_addrs = Vec::new();
        let mut local_tls_addrs = Vec::new();
        let handshake = tls.as_ref().map(|t| Handshake {
            acceptor: tokio_rustls::TlsAcceptor::from(t.config.clone()),
            timeout: t.handshake_timeout,
        });
        let plain = snapshot.listen.iter().map(|a| (*a, None));
        let secure = tls
            .iter()
            .flat_map(|t| t.listen.iter().map(|a| (*a, handshake.clone())));
        for (addr, handshake) in plain.chain(secure) {
            let mut addr = addr;
            let shared_socket = match snapshot.server.reuseport {
                true => None,
                false => Some(bind_listener(addr, snapshot.server.backlog, false)?),
            };
            for worker in listeners.iter_mut() {
                let listener = match &shared_socket {
                    // Every worker polls the one accept queue (nginx without `reuseport`).
                    Some(socket) => socket.try_clone()?,
                    None => bind_listener(addr, snapshot.server.backlog, true)?,
                };
                addr = listener.local_addr()?;
                worker.push((listener, handshake.clone()));
            }
            if handshake.is_some() {
                local_tls_addrs.push(addr)
            } else {
                local_addrs.push(addr)
            }
        }
        let mut snapshot = snapshot;
        snapshot.https_port = local_tls_addrs.first().map(SocketAddr::port);
        let access_log = match &snapshot.access_log {
            Some(_) => Some(AccessLog::start(
                &snapshot.access_log_config.path,
                snapshot.access_log_config.buffer_lines,
                registry.clone(),
            )?),
            None => None,
        };
        registry
            .globals
            .config_revision
            .store(snapshot.revision, Relaxed);
        registry
            .globals
            .last_reload_ok_unix
            .store(unix_now(), Relaxed);
        let shared = Arc::new(Shared {
            snapshot: ArcSwap::from_pointee(snapshot),
            registry,
            access_log,
        });
        Ok(Server {
            shared,
            listeners,
            local_addrs,
            local_tls_addrs,
        })
    }

    /// The addresses actually bound (with real ports where the config said 0).
    pub fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// The HTTPS addresses actually bound.
    pub fn local_tls_addrs(&self) -> &[SocketAddr] {
        &self.local_tls_addrs
    }

    pub fn handle(&self) -> ServerHandle {
        ServerHandle {
            shared: self.shared.clone(),
        }
    }

    /// Runs the workers until `shutdown` turns true, then stops accepting, lets in-flight
    /// requests finish (up to a deadline) and returns.
    pub fn run(self, shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let mut threads = Vec::new();
        let cpus = self.shared.snapshot.load().cpus.clone();
        for (index, listeners) in self.listeners.into_iter().enumerate() {
            let shared = self.shared.clone();
            let shutdown = shutdown.clone();
            let cpu = cpus.as_ref().and_then(|c| c.get(index).copied());
            let thread = std::thread::Builder::new()
                .name(format!("graygate-worker-{index}"))
                .spawn(move || {
                    if let Some(id) = cpu
                        && !core_affinity::set_for_current(core_affinity::CoreId { id })
                    {
                        tracing::warn!(
                            worker = index,
                            cpu = id,
                            "could not pin the worker to its CPU"
                        );
                    }
                    worker_main(index, shared, listeners, shutdown)
                })?;
            threads.push(thread);
        }
        let mut result = Ok(());
        for thread in threads {
            match thread.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a worker thread panicked")),
            }
        }
        result
    }
}

fn bind_listener(
    addr: SocketAddr,
    backlog: u32,
    reuseport: bool,
) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(reuseport)?;
    socket.set_nonblocking(true)?;
    socket
        .bind(&addr.into())
        .map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// A worker's state; lives on its thread only.
pub(crate) struct Worker {
    pub(crate) index: usize,
    shared: Arc<Shared>,
    /// The snapshot this worker last saw, wrapped so requests can hold it with a cheap,
    /// non-atomic `Rc` clone rather than bumping a reference count all workers share.
    #[allow(clippy::redundant_allocation)]
    current: RefCell<Rc<Arc<Snapshot>>>,
    pub(crate) pools: Pools,
    cells: Arc<PerWorker<WorkerCells>>,
    pub(crate) access_log: Option<AccessLog>,
    rng: Cell<u64>,
    connections: Cell<usize>,
}

impl Worker {
    /// The current snapshot; picks up a newly swapped-in one. Requests hold what this returns
    /// until they finish, so they run on the snapshot they started with.
    #[allow(clippy::redundant_allocation)]
    pub(crate) fn snapshot(&self) -> Rc<Arc<Snapshot>> {
        let latest = self.shared.snapshot.load();
        let mut current = self.current.borrow_mut();
        if !Arc::ptr_eq(&current, &latest) {
            *current = Rc::new(Arc::clone(&latest));
        }
        Rc::clone(&current)
    }

    /// This worker's unlabelled counters and gauges.
    pub(crate) fn cells(&self) -> &WorkerCells {
        self.cells.worker(self.index)
    }

    /// 16 bytes from a per-worker wyrand generator seeded from the OS: device ids need to be
    /// unique, not secret, and a syscall per new device would cost more than the rest of its
    /// decision.
    pub(crate) fn random_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        for half in out.chunks_exact_mut(8) {
            let s = self.rng.get().wrapping_add(0xa076_1d64_78bd_642f);
            self.rng.set(s);
            let t = u128::from(s) * u128::from(s ^ 0xe703_7ed1_a0b4_28db);
            half.copy_from_slice(&((t >> 64) as u64 ^ t as u64).to_le_bytes());
        }
        out
    }
}

/// The clocks of one client connection's timeouts, kept by its connection (`h1.rs`) and
/// read by its driver.
#[derive(Debug, Default)]
pub struct Clocks {
    /// Since when a request head has been arriving (from accept for the first request), while
    /// one is incomplete: nginx's `client_header_timeout`.
    pub head_started: Cell<Option<Instant>>,
    /// Since when writing to the client has been blocked (it is not reading): nginx's
    /// `send_timeout`.
    pub write_blocked: Cell<Option<Instant>>,
}

impl Clocks {
    /// The clocks of a connection accepted now: waiting for its first request head.
    pub fn accepted() -> Rc<Clocks> {
        Rc::new(Clocks {
            head_started: Cell::new(Some(Instant::now())),
            write_blocked: Cell::new(None),
        })
    }
}

/// Per-connection state shared by its requests.
pub(crate) struct Conn {
    pub(crate) peer: SocketAddr,
    /// `peer`'s address as a header value, for `X-Forwarded-For` and `X-Real-IP`.
    pub(crate) client_address: http::HeaderValue,
    /// The connection is TLS (HTTPS).
    pub(crate) tls: bool,
    served: Cell<u64>,
    in_flight: Cell<u32>,
    idle_since: Cell<Instant>,
    /// The connection has idled long enough to give back its buffers (until its next
    /// request); its HTTP/1 side does so the next time it is polled.
    pub(crate) lean: Cell<bool>,
    /// The header and send timeouts' clocks.
    pub(crate) clocks: Rc<Clocks>,
}

impl Conn {
    /// Counts a request in; returns how many this connection has now served.
    pub(crate) fn begin_request(&self, worker: &Worker) -> u64 {
        worker.cells().writing.inc();
        self.lean.set(false);
        self.in_flight.set(self.in_flight.get() + 1);
        self.served.set(self.served.get() + 1);
        self.served.get()
    }

    /// Counts a request out, once its response has ended (the log phase).
    pub(crate) fn end_request(&self, worker: &Worker) {
        worker.cells().writing.dec();
        self.in_flight.set(self.in_flight.get().saturating_sub(1));
        self.idle_since.set(Instant::now());
    }
}

fn worker_main(
    index: usize,
    shared: Arc<Shared>,
    listeners: Vec<(std::net::TcpListener, Option<Handshake>)>,
    shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&runtime, async move {
        let mut seed = [0u8; 8];
        getrandom::fill(&mut seed)
            .map_err(|e| io::Error::other(format!("no OS randomness: {e}")))?;
        let snapshot = shared.snapshot.load_full();
        let worker = Rc::new(Worker {
            index,
            cells: shared.registry.worker_cells(),
            access_log: shared.access_log.clone(),
            shared,
            current: RefCell::new(Rc::new(snapshot)),
            pools: Pools::default(),
            rng: Cell::new(u64::from_le_bytes(seed)),
            connections: Cell::new(0),
        });
        let sweeper = {
            let worker = worker.clone();
            tokio::task::spawn_local(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    worker.pools.sweep();
                }
            })
        };
        let mut accepting = Vec::new();
        for (listener, handshake) in listeners {
            let listener = TcpListener::from_std(listener)?;
            let accept = accept_loop(worker.clone(), listener, handshake, shutdown.clone());
            accepting.push(tokio::task::spawn_local(accept));
        }
        let mut stop = shutdown.clone();
        let _ = stop.wait_for(|stop| *stop).await;
        for task in &accepting {
            task.abort();
        }
        let deadline = Instant::now() + DRAIN_TIMEOUT;
        while worker.connections.get() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        sweeper.abort();
        Ok(())
    })
}

async fn accept_loop(
    worker: Rc<Worker>,
    listener: TcpListener,
    handshake: Option<Handshake>,
    shutdown: watch::Receiver<bool>,
) {
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors and similar: back off instead of spinning.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tokio::task::spawn_local(serve_connection(
            worker.clone(),
            stream,
            peer,
            handshake.clone(),
            shutdown.clone(),
        ));
    }
}

async fn serve_connection(
    worker: Rc<Worker>,
    stream: TcpStream,
    peer: SocketAddr,
    handshake: Option<Handshake>,
    shutdown: watch::Receiver<bool>,
) {
    let limits = worker.snapshot().server.clone();
    if limits.tcp_nodelay {
        let _ = stream.set_nodelay(true);
    }
    worker.connections.set(worker.connections.get() + 1);
    worker.cells().accepted.inc();
    worker.cells().active.inc();
    // Each kind of connection's future is boxed on its own: the task then holds only the state
    // of the protocol in use (a plain HTTP/1 connection does not carry room for TLS and HTTP/2
    // state), which is most of an idle connection's memory.
    match handshake {
        None => Box::pin(serve_http1(&worker, stream, peer, false, &limits, shutdown)).await,
        Some(handshake) => {
            let accept = Box::pin(handshake.acceptor.accept(stream));
            match tokio::time::timeout(handshake.timeout, accept).await {
                Ok(Ok(tls)) => {
                    worker.cells().tls_handshakes.inc();
                    if tls.get_ref().1.alpn_protocol() == Some(b"h2") {
                        let io = TokioIo::new(tls);
                        Box::pin(serve_http2(&worker, io, peer, &limits, shutdown)).await;
                    } else {
                        Box::pin(serve_http1(&worker, tls, peer, true, &limits, shutdown)).await;
                    }
                }
                Ok(Err(e)) => {
                    // rustls reports protocol trouble (alerts, no shared version, bad records) as
                    // InvalidData; anything else is the connection itself.
                    let reason = if e.kind() == io::ErrorKind::InvalidData {
                        1
                    } else {
                        2
                    };
                    worker.cells().tls_failures[reason].inc();
                    tracing::debug!(%peer, error = %e, "TLS handshake failed");
                }
                Err(_) => worker.cells().tls_failures[0].inc(),
            }
        }
    }
    worker.cells().active.dec();
    worker.connections.set(worker.connections.get() - 1);
}

fn conn(peer: SocketAddr, tls: bool, clocks: Rc<Clocks>) -> Rc<Conn> {
    Rc::new(Conn {
        peer,
        client_address: crate::forward::client_address(peer),
        tls,
        served: Cell::new(0),
        in_flight: Cell::new(0),
        idle_since: Cell::new(Instant::now()),
        lean: Cell::new(false),
        clocks,
    })
}

async fn serve_http1<I>(
    worker: &Rc<Worker>,
    io: I,
    peer: SocketAddr,
    tls: bool,
    limits: &ServerLimits,
    shutdown: watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + 'static,
{
    let conn = conn(peer, tls, Clocks::accepted());
    let closing = Rc::new(Cell::new(false));
    let limits_h1 = h1::Limits {
        max_header_bytes: limits.max_header_bytes,
        max_headers: limits.max_headers,
    };
    let connection = h1::serve(worker.clone(), conn.clone(), io, limits_h1, closing.clone());
    tokio::pin!(connection);
    let timeouts = Timeouts {
        keepalive: limits.keepalive_timeout,
        header: Some(limits.client_header_timeout),
        send: Some(limits.send_timeout),
        lean_after: Some(LEAN_AFTER),
    };
    // Between requests the connection sees the flag before its next read and closes.
    let graceful = |_: std::pin::Pin<&mut _>| closing.set(true);
    drive(connection, graceful, &conn, timeouts, shutdown).await;
}

async fn serve_http2<I>(
    worker: &Rc<Worker>,
    io: I,
    peer: SocketAddr,
    limits: &ServerLimits,
    shutdown: watch::Receiver<bool>,
) where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + 'static,
{
    // HTTP/2's header and send timeouts are hyper's and its flow control's.
    let conn = conn(peer, true, Rc::default());
    let service = {
        let (worker, conn) = (worker.clone(), conn.clone());
        service_fn(move |request: http::Request<hyper::body::Incoming>| {
            pipeline::handle(worker.clone(), conn.clone(), request.map(ClientBody::H2))
        })
    };
    let h2 = worker.snapshot().http2.clone();
    let mut builder = hyper::server::conn::http2::Builder::new(LocalExec);
    builder
        .timer(TokioTimer::new())
        .max_concurrent_streams(h2.max_concurrent_streams)
        .max_header_list_size(h2.max_header_list_bytes)
        .max_pending_accept_reset_streams(h2.max_pending_reset_streams)
        .max_local_error_reset_streams(h2.max_local_error_resets);
    let connection = builder.serve_connection(io, service);
    tokio::pin!(connection);
    // HTTP/2 flow control paces each stream; a stalled stream does not hold a connection alone.
    let timeouts = Timeouts {
        keepalive: limits.keepalive_timeout,
        header: None,
        send: None,
        lean_after: None,
    };
    let ended = drive(
        connection,
        |c| c.graceful_shutdown(),
        &conn,
        timeouts,
        shutdown,
    )
    .await;
    if let Some(Err(e)) = ended {
        tracing::debug!(%peer, error = %e, "HTTP/2 connection ended with an error");
    }
}

/// The timeouts of one connection.
#[derive(Clone, Copy)]
struct Timeouts {
    keepalive: Duration,
    /// Cut off a client whose request head takes longer than this to arrive (HTTP/1).
    header: Option<Duration>,
    /// Cut off a client that takes no part of a response for this long.
    send: Option<Duration>,
    /// Let an idle connection give back its buffers after this long without a request.
    lean_after: Option<Duration>,
}

/// How long an HTTP/1 connection idles before it gives back its read buffer: long enough that
/// a busy connection never does (a buffer per request would cost more than it saves), short
/// enough that thousands of idle keepalive connections hold little memory.
const LEAN_AFTER: Duration = Duration::from_secs(1);

/// Runs a connection to its end (its output; `None` when a timeout cut it off), closing it
/// gracefully when it idles past the keepalive timeout or when the gateway shuts down, and
/// abruptly when a request head takes longer than the header timeout or a response stalls past
/// the send timeout (the client stopped reading).
async fn drive<C>(
    mut connection: std::pin::Pin<&mut C>,
    graceful: impl Fn(std::pin::Pin<&mut C>),
    conn: &Conn,
    timeouts: Timeouts,
    mut shutdown: watch::Receiver<bool>,
) -> Option<C::Output>
where
    C: std::future::Future,
{
    let mut closing = false;
    let mut timer = LazyTimer::default();
    loop {
        let expiry = {
            let (timer, closing) = (&mut timer, closing);
            std::future::poll_fn(move |cx| poll_expired(timer, cx, conn, timeouts, closing))
        };
        tokio::select! {
            // The connection first: the timer reads the clocks and counters it has just updated.
            biased;
            ended = connection.as_mut() => return Some(ended),
            expired = expiry => match expired {
                Expired::Header => {
                    tracing::debug!(peer = %conn.peer, "no complete request head within the header timeout; closing");
                    return None;
                }
                Expired::Send => {
                    tracing::debug!(peer = %conn.peer, "response stalled past the send timeout; closing");
                    return None;
                }
                Expired::Idle => {
                    closing = true;
                    graceful(connection.as_mut());
                }
                // The connection is polled next (biased select) and lets go of its buffers.
                Expired::Lean => conn.lean.set(true),
            },
            _ = shutdown.wait_for(|stop| *stop), if !closing => {
                closing = true;
                graceful(connection.as_mut());
            }
        }
    }
}

/// Which timeout of a connection ran out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expired {
    /// A request head has been arriving for the header timeout (nginx's
    /// `client_header_timeout`).
    Header,
    /// Writing to the client has been blocked for the send timeout (nginx's `send_timeout`: the
    /// time between two successful writes while a response is going out).
    Send,
    /// No request in flight for the keepalive timeout.
    Idle,
    /// No request in flight for a while: time to give back buffers.
    Lean,
}

/// Polls the one timer of a client connection ([`LazyTimer`]), for its timeouts and for giving
/// back buffers when idle. Each wake-up works out which deadline comes first from the
/// connection's clocks (a few loads, no clock read). The idle deadlines move with every request,
/// but later, so a busy connection re-arms about once a second (`LEAN_AFTER`), and an idle one
/// sleeps until its next deadline (no periodic wake-ups). Must be polled after the connection
/// in the same wake-up (the driver's select is biased): the connection's reads and writes update
/// the clocks, and its I/O is what wakes the task for a deadline that came closer.
fn poll_expired(
    timer: &mut LazyTimer,
    cx: &mut std::task::Context<'_>,
    conn: &Conn,
    timeouts: Timeouts,
    closing: bool,
) -> std::task::Poll<Expired> {
    match next_deadline(conn, timeouts, closing) {
        Some((at, expired)) => timer
            .poll_until(cx, tokio::time::Instant::from_std(at))
            .map(|()| expired),
        // A request is in flight and its response is moving: nothing can expire.
        None => std::task::Poll::Pending,
    }
}

/// The connection's earliest deadline, if any applies now.
fn next_deadline(conn: &Conn, timeouts: Timeouts, closing: bool) -> Option<(Instant, Expired)> {
    let clocks = &conn.clocks;
    let after = |since: Option<Instant>, timeout: Option<Duration>, expired| {
        since
            .zip(timeout)
            .and_then(|(since, timeout)| since.checked_add(timeout))
            .map(|at| (at, expired))
    };
    // Of the two idle deadlines only the nearer one matters: giving back buffers comes first
    // unless the keepalive timeout is shorter (or they were given back already).
    let idle = (!closing && conn.in_flight.get() == 0).then(|| conn.idle_since.get());
    let (idle_after, idle_expired) = match timeouts.lean_after {
        Some(lean) if lean < timeouts.keepalive && !conn.lean.get() => (lean, Expired::Lean),
        _ => (timeouts.keepalive, Expired::Idle),
    };
    [
        after(clocks.head_started.get(), timeouts.header, Expired::Header),
        after(clocks.write_blocked.get(), timeouts.send, Expired::Send),
        after(idle, Some(idle_after), idle_expired),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|(at, _)| *at)
}

/// Spawns HTTP/2 stream tasks on the worker's own thread (the pipeline is `!Send` by design).
#[derive(Clone, Copy)]
struct LocalExec;

impl<F> hyper::rt::Executor<F> for LocalExec
where
    F: std::future::Future + 'static,
{
    fn execute(&self, future: F) {
        tokio::task::spawn_local(future);
    }
}
