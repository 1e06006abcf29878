//! The `graygate` binary: command line, start-up, signals. Everything that touches a request
//! lives in the library crates; see ARCHITECTURE.md for the map.

mod demo;

use clap::{Parser, Subcommand};
use graygate_admin::{Certificates, Control, Settings};
use graygate_config::{ConfigErrors, Document};
use graygate_proxy::{Registry, Server, Snapshot, TlsListeners};
use graygate_statsd_exporter::{Embedded, Reserved, Settings as StatsdSettings, TextFormat};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

/// Edge gateway for gray (canary) releases.
#[derive(Parser)]
#[command(name = "graygate", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve. Without --config, serves the embedded demo.
    Run(RunArgs),
    /// Validate a configuration file and exit: 0 when valid, 1 with every error otherwise.
    Check {
        /// Configuration file (YAML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the version.
    Version,
    /// Run as a drop-in statsd_exporter, with its command-line flags (see docs/statsd.md).
    #[command(name = "statsd-exporter", disable_help_flag = true)]
    StatsdExporter {
        /// statsd_exporter's flags, e.g. --statsd.listen-udp=:9125 --statsd.mapping-config=FILE.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<std::ffi::OsString>,
    },
}

#[derive(clap::Args, Clone, Default)]
struct RunArgs {
    /// Configuration file (YAML).
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Listen here instead of the configured addresses (repeatable; port 0 picks a free port).
    #[arg(long)]
    listen: Vec<SocketAddr>,
    /// Worker threads, instead of the configured number.
    #[arg(long)]
    workers: Option<usize>,
    /// Serve metrics here instead of the configured address (port 0 picks a free port).
    #[arg(long)]
    metrics_listen: Option<SocketAddr>,
    /// Serve the admin API and page here instead of the configured address.
    #[arg(long)]
    admin_listen: Option<SocketAddr>,
    /// Keep the admin state (revisions, audit log) here instead of the configured directory.
    #[arg(long)]
    state_dir: Option<PathBuf>,
    /// Listen for HTTPS here instead of the configured addresses (repeatable).
    #[arg(long)]
    tls_listen: Vec<SocketAddr>,
}

fn main() -> ExitCode {
    // statsd_exporter's flags are its own (`--statsd.listen-udp=:9125`), parsed by its crate.
    let mut argv = std::env::args_os();
    if argv.nth(1).is_some_and(|a| a == "statsd-exporter") {
        return graygate_statsd_exporter::run(argv.collect());
    }
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRAYGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match cli.command.unwrap_or(Command::Run(RunArgs::default())) {
        Command::Version => {
            println!("graygate {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check { config } => check(&config),
        Command::StatsdExporter { args } => graygate_statsd_exporter::run(args),
        Command::Run(args) => match run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(message) => {
                eprintln!("{message}");
                ExitCode::FAILURE
            }
        },
    }
}

fn check(path: &Path) -> ExitCode {
    let checked = Document::read(path).and_then(|doc| {
        let config = doc.parse()?;
        let snapshot = Snapshot::build(&config, doc.base_dir(), &Registry::new(1));
        let statsd = StatsdSettings::build(&config, doc.base_dir());
        match (snapshot, statsd) {
            (Ok(snapshot), Ok(statsd)) => Ok((snapshot, statsd)),
            (snapshot, statsd) => {
                let errors = snapshot.err().into_iter().chain(statsd.err()).flatten();
                Err(doc.locate(errors.collect()))
            }
        }
    });
    match checked {
        Ok((snapshot, statsd)) => {
            let versions: usize = snapshot
                .sites
                .iter()
                .map(|s| s.policy.versions().len())
                .sum();
            let statsd = statsd.map_or_else(String::new, |s| {
                format!(", statsd with {} mappings", s.mapper.len())
            });
            println!(
                "{}: ok ({} sites, {} versions{statsd})",
                path.display(),
                snapshot.sites.len(),
                versions
            );
            ExitCode::SUCCESS
        }
        Err(errors) => {
            eprintln!("{errors}");
            ExitCode::FAILURE
        }
    }
}

/// The `statsd` section of the file at `path`, checked and with its mapping loaded.
fn statsd_section(path: &Path) -> Result<Option<StatsdSettings>, ConfigErrors> {
    let doc = Document::read(path)?;
    let config = doc.parse()?;
    StatsdSettings::build(&config, doc.base_dir()).map_err(|e| doc.locate(e))
}

/// Starts the StatsD exporter and appends its families to the metrics listener's. Mapped
/// metrics may not take graygate's names (they count as conflicts instead).
fn start_statsd(settings: StatsdSettings, registry: &Registry) -> Result<Arc<Embedded>, String> {
    use graygate_metrics::{Format, names};
    let reserved = Reserved {
        prefixes: vec![names::PREFIX.to_string()],
        names: names::FOREIGN.iter().map(|n| n.to_string()).collect(),
    };
    let embedded = Arc::new(
        Embedded::start(settings, reserved)
            .map_err(|e| format!("graygate: cannot start the StatsD listeners: {e}"))?,
    );
    let exposed = embedded.clone();
    registry.set_extra_families(Box::new(move |format, out| {
        let format = match format {
            Format::Prometheus => TextFormat::Prometheus,
            Format::OpenMetrics => TextFormat::OpenMetrics,
        };
        exposed.render(format, out);
    }));
    let bound = embedded.bound();
    if let Some(addr) = bound.udp {
        println!("statsd on udp://{addr}");
    }
    if let Some(addr) = bound.tcp {
        println!("statsd on tcp://{addr}");
    }
    if let Some(path) = &bound.unixgram {
        println!("statsd on unixgram:{}", path.display());
    }
    Ok(embedded)
}

fn run(args: RunArgs) -> Result<(), String> {
    // The demo's files live in a temporary directory for as long as the process runs.
    let demo = match &args.config {
        Some(_) => None,
        None => Some(
            demo::Demo::unpack()
                .map_err(|e| format!("graygate: cannot unpack the embedded demo: {e}"))?,
        ),
    };
    let path = args
        .config
        .clone()
        .unwrap_or_else(|| demo.as_ref().map(|d| d.config_path()).unwrap_or_default());
    let not_starting = |errors: &dyn std::fmt::Display| {
        format!("{errors}\ngraygate: not starting: the configuration has errors")
    };
    let doc = Document::read(&path).map_err(|e| not_starting(&e))?;
    let file = doc.parse().map_err(|e| not_starting(&e))?;
    // The worker count sizes the metric cells, so it is settled before any snapshot is built.
    let workers = args
        .workers
        .filter(|n| *n > 0)
        .or(file.workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    // Checked before anything is committed or bound: a configuration with any error is
    // refused whole.
    let statsd =
        StatsdSettings::build(&file, doc.base_dir()).map_err(|e| not_starting(&doc.locate(e)))?;
    let registry = Registry::new(workers);
    let overrides = args.clone();
    let prepare = Box::new(move |snapshot: &mut Snapshot| {
        if !overrides.listen.is_empty() {
            snapshot.listen = overrides.listen.clone();
        }
        if let Some(addr) = overrides.metrics_listen {
            snapshot.metrics.listen = addr;
        }
        snapshot.workers = workers;
    });
    let state_dir = args.state_dir.clone().or_else(|| {
        file.admin
            .state_dir
            .as_ref()
            .map(|d| doc.base_dir().join(d))
    });
    let (control, snapshot) = Control::load(&path, state_dir.as_deref(), registry.clone(), prepare)
        .map_err(|e| not_starting(&e))?;
    let control = Arc::new(control);
    if demo.is_some() {
        tracing::info!(
            "no --config given: serving the embedded demo (versions 1.0.0 and 1.1.0, 20% and uid 1001 on 1.1.0)"
        );
    }
    let admin = if file.admin.enabled {
        let listen = args.admin_listen.unwrap_or(file.admin.listen);
        Some(
            Settings::resolve(&file.admin, listen, doc.base_dir())
                .map_err(|e| format!("graygate: {e}"))?,
        )
    } else {
        None
    };
    let (tls, certificates) = match &file.tls {
        Some(settings) => {
            let (listeners, certificates) = setup_tls(
                settings,
                &args,
                doc.base_dir(),
                state_dir.as_deref(),
                &registry,
            )?;
            (Some(listeners), Some(certificates))
        }
        None => (None, None),
    };
    let metrics = snapshot.metrics.enabled.then_some(snapshot.metrics.listen);
    let statsd = statsd
        .map(|settings| start_statsd(settings, &registry))
        .transpose()?;
    let server = Server::bind(snapshot, registry, tls).map_err(|e| format!("graygate: {e}"))?;
    let handle = server.handle();
    control.attach(handle.clone());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    if let Some(addr) = metrics {
        let addr = graygate_proxy::metrics::spawn(addr, handle.clone(), stopped.clone())
            .map_err(|e| format!("graygate: {e}"))?;
        println!("metrics on http://{addr}/metrics");
    }
    if let Some(settings) = admin {
        let addr = graygate_admin::spawn(
            settings,
            control.clone(),
            certificates,
            handle.clone(),
            stopped.clone(),
        )
        .map_err(|e| format!("graygate: {e}"))?;
        println!("admin on http://{addr}/");
        if !control.persistent() {
            tracing::warn!(
                "no state directory: changes made through the admin API last until restart (set admin.state_dir or --state-dir)"
            );
        }
    }
    let signals =
        Signals::register().map_err(|e| format!("graygate: cannot handle signals: {e}"))?;
    for addr in server.local_tls_addrs() {
        println!("listening on https://{addr}");
    }
    for addr in server.local_addrs() {
        // Parsed by tests and scripts: keep this line's shape (it comes last).
        println!("listening on http://{addr}");
    }
    tracing::info!(workers, "graygate {} started", env!("CARGO_PKG_VERSION"));
    let reloaded = statsd.clone();
    std::thread::spawn(move || {
        signals.run(&control, &handle, reloaded.as_deref(), &path);
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stop.send(true);
    });
    let result = server.run(stopped);
    if let Some(statsd) = statsd {
        statsd.remove_socket_file();
    }
    tracing::info!("stopped");
    drop(demo);
    result.map_err(|e| format!("graygate: {e}"))
}

/// The certificate store with its three sources (configuration files, the watched directory,
/// the admin API's sealed certificates), and the HTTPS listeners that resolve from it.
fn setup_tls(
    settings: &graygate_config::Tls,
    args: &RunArgs,
    base_dir: &Path,
    state_dir: Option<&Path>,
    registry: &Registry,
) -> Result<(TlsListeners, Arc<Certificates>), String> {
    use graygate_tls::{CertStore, Sealer, Source};
    let refuse = |e: &dyn std::fmt::Display| {
        format!("{e}\ngraygate: not starting: the TLS configuration has errors")
    };
    let store = Arc::new(CertStore::new(settings.default_certificate.clone()));
    let mut from_files = Vec::new();
    for c in &settings.certificates {
        from_files.push(
            graygate_tls::load_files(&c.name, &base_dir.join(&c.cert), &base_dir.join(&c.key))
                .map_err(|e| refuse(&e))?,
        );
    }
    store.replace(Source::Config, from_files);
    let key = std::env::var(&settings.sealing_key_env)
        .ok()
        .filter(|k| !k.is_empty())
        .or_else(|| {
            settings
                .sealing_key_file
                .as_ref()
                .and_then(|f| std::fs::read_to_string(base_dir.join(f)).ok())
        });
    let sealer = key
        .map(|k| Sealer::from_hex(&k))
        .transpose()
        .map_err(|e| refuse(&format!("sealing key: {e}")))?;
    let hint = format!(
        "set ${} to 64 hex digits (`openssl rand -hex 32`) or tls.sealing_key_file",
        settings.sealing_key_env
    );
    let certificates = Arc::new(Certificates::new(
        store.clone(),
        state_dir.map(|d| d.join("certs")),
        sealer,
        hint,
    ));
    for problem in certificates.load() {
        tracing::error!("stored certificate not loaded: {problem}");
    }
    if let Some(dir) = &settings.directory {
        graygate_tls::watch_directory(store.clone(), base_dir.join(dir)).map_err(|e| refuse(&e))?;
    }
    let listed = store.clone();
    registry.set_certificates(Box::new(move || {
        listed
            .list()
            .into_iter()
            .map(|(source, c)| (c.name, source.label().to_string(), c.not_after))
            .collect()
    }));
    let config = graygate_tls::server_config(store).map_err(|e| refuse(&e))?;
    let listen = if args.tls_listen.is_empty() {
        settings.listen.clone()
    } else {
        args.tls_listen.clone()
    };
    let handshake_timeout = std::time::Duration::from_millis(settings.handshake_timeout_ms.max(1));
    Ok((
        TlsListeners {
            listen,
            config,
            handshake_timeout,
        },
        certificates,
    ))
}

/// The signals graygate acts on, registered before the first connection is accepted so that
/// an early SIGTERM is a clean shutdown rather than the default kill.
struct Signals {
    runtime: tokio::runtime::Runtime,
    term: tokio::signal::unix::Signal,
    int: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
    usr1: tokio::signal::unix::Signal,
}

impl Signals {
    fn register() -> std::io::Result<Signals> {
        use tokio::signal::unix::{SignalKind, signal};
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let _entered = runtime.enter();
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            runtime,
        })
    }

    /// Handles signals until SIGINT or SIGTERM: SIGHUP reloads the configuration file (a file
    /// with errors is refused whole and the running configuration stays), SIGUSR1 reopens the
    /// access log.
    fn run(
        mut self,
        control: &Control,
        handle: &graygate_proxy::ServerHandle,
        statsd: Option<&Embedded>,
        path: &Path,
    ) {
        self.runtime.block_on(async {
            loop {
                tokio::select! {
                    _ = self.int.recv() => return,
                    _ = self.term.recv() => return,
                    _ = self.usr1.recv() => handle.reopen_access_log(),
                    _ = self.hup.recv() => reload(control, handle, statsd, path),
                }
            }
        });
    }
}

/// SIGHUP: the whole file again, the StatsD mapping file included. The `statsd` section is
/// checked first (it is not part of the snapshot `Control` validates), so a bad mapping
/// refuses the reload whole: the old mapping and the old sites stay, and the reason is
/// logged.
fn reload(
    control: &Control,
    handle: &graygate_proxy::ServerHandle,
    statsd: Option<&Embedded>,
    path: &Path,
) {
    let refused = |errors: &dyn std::fmt::Display| {
        if let Some(statsd) = statsd {
            statsd.reload_failed();
        }
        handle
            .registry()
            .globals
            .reloads_failed
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::error!("configuration not reloaded, the running one stays:\n{errors}");
    };
    let section = match statsd_section(path) {
        Ok(section) => section,
        Err(errors) => return refused(&errors),
    };
    match control.reload_file() {
        Ok(revision) => {
            tracing::info!(revision, "configuration reloaded");
            match (statsd, section) {
                (Some(statsd), section) => statsd.reload(section),
                (None, Some(_)) => {
                    tracing::warn!(
                        "statsd: the section was turned on; its listeners start at restart"
                    )
                }
                (None, None) => {}
            }
        }
        Err(errors) => refused(&errors),
    }
}
