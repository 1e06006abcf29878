//! A drop-in replacement for Prometheus' statsd_exporter (v0.27.2 flags, mapping file,
//! metric names): StatsD arrives over UDP, TCP or a unixgram socket, is parsed and mapped
//! by `graygate-statsd`, and is exposed on `/metrics` with statsd_exporter's own counters.
//! [`run`] is `graygate statsd-exporter`; [`Exporter`] is the embeddable part (listeners,
//! registry, exposition), which [`Embedded`] runs inside `graygate run` for the gateway's
//! `statsd` section (checked by [`Settings::build`]).

mod exporter;
mod format;
mod gateway;
mod http;
mod listen;
mod registry;
mod summary;
mod telemetry;

use std::ffi::OsString;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{ArgAction, Parser as ClapParser};
use graygate_statsd::{Mapper, Parser, parse_go_duration};
use tokio::sync::Notify;

pub use exporter::{Bound, Exporter, ExporterOptions, ListenerAddrs, Reserved};
pub use format::{TextFormat, write_float};
pub use gateway::{Embedded, Settings};
pub use http::{WebOptions, serve};

/// statsd_exporter's command line.
#[derive(ClapParser, Debug)]
#[command(
    name = "graygate statsd-exporter",
    version,
    about = "StatsD to Prometheus, compatible with statsd_exporter"
)]
struct Flags {
    /// Address for the web interface and metrics.
    #[arg(long = "web.listen-address", default_value = ":9102")]
    web_listen_address: String,
    /// Path under which to expose metrics.
    #[arg(long = "web.telemetry-path", default_value = "/metrics")]
    web_telemetry_path: String,
    /// Enable shutdown and reload via HTTP request.
    #[arg(long = "web.enable-lifecycle", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    web_enable_lifecycle: bool,
    /// Accepted for compatibility; TLS and basic auth are not supported (must be empty).
    #[arg(long = "web.config.file", default_value = "")]
    web_config_file: String,
    /// Accepted for compatibility; ignored.
    #[arg(long = "web.systemd-socket", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    web_systemd_socket: bool,
    /// UDP address for StatsD lines; "" disables it.
    #[arg(long = "statsd.listen-udp", default_value = ":9125")]
    listen_udp: String,
    /// TCP address for StatsD lines; "" disables it.
    #[arg(long = "statsd.listen-tcp", default_value = ":9125")]
    listen_tcp: String,
    /// Unixgram socket path for StatsD datagrams; "" disables it.
    #[arg(long = "statsd.listen-unixgram", default_value = "")]
    listen_unixgram: String,
    /// Permission mode of the unix socket (octal).
    #[arg(long = "statsd.unixsocket-mode", default_value = "755")]
    unixsocket_mode: String,
    /// Metric mapping configuration file name.
    #[arg(long = "statsd.mapping-config", default_value = "")]
    mapping_config: String,
    /// Size in bytes of the UDP/unixgram receive buffer.
    #[arg(long = "statsd.read-buffer")]
    read_buffer: Option<usize>,
    /// Maximum size of the metric mapping cache (LRU).
    #[arg(long = "statsd.cache-size", default_value_t = 1000)]
    cache_size: usize,
    /// Cache replacement policy; "random" is served by the LRU cache.
    #[arg(long = "statsd.cache-type", default_value = "lru", value_parser = ["lru", "random"])]
    cache_type: String,
    /// Size of the internal queue for processing events.
    #[arg(long = "statsd.event-queue-size", default_value_t = 10000)]
    event_queue_size: usize,
    /// Number of lines to hold before flushing.
    #[arg(long = "statsd.event-flush-threshold", default_value_t = 1000)]
    event_flush_threshold: usize,
    /// Maximum time between event queue flushes.
    #[arg(long = "statsd.event-flush-interval", default_value = "200ms")]
    event_flush_interval: String,
    /// Accepted for compatibility; there is no packet queue (received lines are batched).
    #[arg(long = "statsd.udp-packet-queue-size", default_value_t = 10000)]
    udp_packet_queue_size: usize,
    /// Accepted for compatibility; not supported (must be empty).
    #[arg(long = "statsd.relay.address", default_value = "")]
    relay_address: String,
    /// Accepted for compatibility; ignored.
    #[arg(long = "statsd.relay.packet-length", default_value_t = 1400)]
    relay_packet_length: usize,
    /// Accepted for compatibility; the FSM is not dumped.
    #[arg(long = "debug.dump-fsm", default_value = "")]
    dump_fsm: String,
    /// Check configuration and exit.
    #[arg(long = "check-config", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "false", action = ArgAction::Set)]
    check_config: bool,
    #[command(flatten)]
    tags: TagFlags,
    /// Only log messages with the given severity or above: debug, info, warn, error.
    #[arg(long = "log.level", default_value = "info", value_parser = ["debug", "info", "warn", "error"])]
    log_level: String,
    /// Output format of log messages: logfmt, json.
    #[arg(long = "log.format", default_value = "logfmt", value_parser = ["logfmt", "json"])]
    log_format: String,
}

/// `--[no-]statsd.parse-*-tags`, kingpin style.
#[derive(clap::Args, Debug)]
struct TagFlags {
    #[arg(long = "statsd.parse-dogstatsd-tags", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    dogstatsd: bool,
    #[arg(long = "no-statsd.parse-dogstatsd-tags", hide = true)]
    no_dogstatsd: bool,
    #[arg(long = "statsd.parse-influxdb-tags", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    influxdb: bool,
    #[arg(long = "no-statsd.parse-influxdb-tags", hide = true)]
    no_influxdb: bool,
    #[arg(long = "statsd.parse-librato-tags", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    librato: bool,
    #[arg(long = "no-statsd.parse-librato-tags", hide = true)]
    no_librato: bool,
    #[arg(long = "statsd.parse-signalfx-tags", num_args = 0..=1, require_equals = true, default_missing_value = "true", default_value = "true", action = ArgAction::Set)]
    signalfx: bool,
    #[arg(long = "no-statsd.parse-signalfx-tags", hide = true)]
    no_signalfx: bool,
}

/// `graygate statsd-exporter ARGS...`: `args` are the arguments after the subcommand.
pub fn run(args: Vec<std::ffi::OsString>) -> ExitCode {
    let argv = std::iter::once(OsString::from("graygate statsd-exporter")).chain(args);
    let flags = match Flags::try_parse_from(argv) {
        Ok(f) => f,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => {
                    ExitCode::SUCCESS
                }
                _ => ExitCode::FAILURE,
            };
        }
    };
    init_logging(&flags.log_level, &flags.log_format);
    match main(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            tracing::error!("{msg}");
            ExitCode::FAILURE
        }
    }
}

/// `--log.format` is accepted; both formats are tracing's text format.
fn init_logging(level: &str, _format: &str) {
    let filter = tracing_subscriber::EnvFilter::new(level);
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn main(flags: Flags) -> Result<(), String> {
    // kingpin rejects a malformed duration while parsing the flags, before any check.
    let flush_interval = parse_go_duration(&flags.event_flush_interval).ok_or_else(|| {
        format!(
            "invalid --statsd.event-flush-interval {:?}",
            flags.event_flush_interval
        )
    })?;
    let mapper = load_mapper(&flags.mapping_config)?;
    if flags.check_config {
        tracing::info!("Configuration check successful, exiting");
        return Ok(());
    }
    if !flags.relay_address.is_empty() {
        return Err("--statsd.relay.address is not supported by graygate".into());
    }
    if !flags.web_config_file.is_empty() {
        return Err("--web.config.file (TLS, basic auth) is not supported by graygate".into());
    }
    if !flags.dump_fsm.is_empty() {
        tracing::warn!("--debug.dump-fsm is not supported; ignoring");
    }
    let unixsocket_mode = u32::from_str_radix(&flags.unixsocket_mode, 8).map_err(|_| {
        format!(
            "invalid --statsd.unixsocket-mode {:?}",
            flags.unixsocket_mode
        )
    })?;
    let t = &flags.tags;
    let options = ExporterOptions {
        parser: Parser {
            dogstatsd: t.dogstatsd && !t.no_dogstatsd,
            influxdb: t.influxdb && !t.no_influxdb,
            librato: t.librato && !t.no_librato,
            signalfx: t.signalfx && !t.no_signalfx,
            dogstatsd_extras: false,
        },
        cache_size: flags.cache_size,
        event_queue_size: flags.event_queue_size,
        flush_threshold: flags.event_flush_threshold,
        flush_interval,
        read_buffer: flags.read_buffer,
        unixsocket_mode,
        reserved: Reserved::default(),
    };
    if flags.listen_udp.is_empty()
        && flags.listen_tcp.is_empty()
        && flags.listen_unixgram.is_empty()
    {
        return Err("At least one of UDP/TCP/Unixgram listeners must be specified.".into());
    }
    let addrs = ListenerAddrs {
        udp: resolve(&flags.listen_udp, "UDP")?,
        tcp: resolve(&flags.listen_tcp, "TCP")?,
        unixgram: (!flags.listen_unixgram.is_empty())
            .then(|| PathBuf::from(&flags.listen_unixgram)),
    };
    let web = resolve(&flags.web_listen_address, "web")?
        .ok_or_else(|| "--web.listen-address must not be empty".to_string())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(
            std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .clamp(2, 4),
        )
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))?;
    let result = runtime.block_on(serve_all(flags, mapper, options, addrs, web));
    if let Some(path) = result.as_ref().ok().and_then(Clone::clone) {
        let _ = std::fs::remove_file(path);
    }
    runtime.shutdown_timeout(Duration::from_millis(100));
    result.map(|_| ())
}

async fn serve_all(
    flags: Flags,
    mapper: Mapper,
    options: ExporterOptions,
    addrs: ListenerAddrs,
    web: SocketAddr,
) -> Result<Option<PathBuf>, String> {
    let exporter = Exporter::start(mapper, options);
    let bound = exporter
        .spawn_listeners(&addrs)
        .map_err(|e| format!("failed to start listeners: {e}"))?;
    let listener = tokio::net::TcpListener::bind(web)
        .await
        .map_err(|e| format!("cannot listen on {web}: {e}"))?;
    let web_bound = listener.local_addr().map_err(|e| e.to_string())?;
    let show = |a: Option<SocketAddr>| a.map_or_else(String::new, |a| a.to_string());
    tracing::info!(
        udp = %show(bound.udp),
        tcp = %show(bound.tcp),
        unixgram = %bound.unixgram.as_ref().map_or_else(String::new, |p| p.display().to_string()),
        "Accepting StatsD Traffic"
    );
    tracing::info!(addr = %web_bound, "Accepting Prometheus Requests");
    let reload = Arc::new(Notify::new());
    let quit = Arc::new(Notify::new());
    let web_options = WebOptions {
        telemetry_path: flags.web_telemetry_path.clone(),
        lifecycle: flags.web_enable_lifecycle,
    };
    tokio::spawn(serve(
        exporter.clone(),
        listener,
        web_options,
        reload.clone(),
        quit.clone(),
    ));

    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| format!("cannot watch SIGHUP: {e}"))?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| format!("cannot watch SIGTERM: {e}"))?;
    loop {
        tokio::select! {
            _ = hup.recv() => reload_from(&exporter, &flags.mapping_config),
            () = reload.notified() => reload_from(&exporter, &flags.mapping_config),
            () = quit.notified() => break,
            _ = term.recv() => break,
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    tracing::info!("Received termination signal, exiting");
    Ok(bound.unixgram)
}

fn reload_from(exporter: &Exporter, path: &str) {
    if path.is_empty() {
        tracing::warn!("Received signal but no mapping config to reload");
        return;
    }
    tracing::info!("Received signal, attempting reload");
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => {
            exporter.reload_failed();
            tracing::error!(error = %e, file = path, "Error reloading config; keeping the old mapping");
            return;
        }
    };
    match exporter.reload(&text) {
        Ok(()) => tracing::info!(
            mappings = exporter.mappings(),
            "Config reloaded successfully"
        ),
        Err(e) => {
            tracing::error!(error = %e, file = path, "Error reloading config; keeping the old mapping")
        }
    }
}

fn load_mapper(path: &str) -> Result<Mapper, String> {
    if path.is_empty() {
        return Ok(Mapper::default());
    }
    let text =
        std::fs::read_to_string(path).map_err(|e| format!("error loading config {path}: {e}"))?;
    let mapper =
        Mapper::from_yaml(&text).map_err(|e| format!("error loading config {path}: {e}"))?;
    for w in mapper.warnings() {
        tracing::warn!("{w}");
    }
    Ok(mapper)
}

/// Go-style `host:port` (an empty host means every interface); "" means disabled.
fn resolve(addr: &str, what: &str) -> Result<Option<SocketAddr>, String> {
    if addr.is_empty() {
        return Ok(None);
    }
    let full = if addr.starts_with(':') {
        format!("0.0.0.0{addr}")
    } else {
        addr.to_owned()
    };
    full.to_socket_addrs()
        .map_err(|e| format!("invalid {what} listen address {addr:?}: {e}"))?
        .next()
        .map(Some)
        .ok_or_else(|| format!("invalid {what} listen address {addr:?}"))
}
