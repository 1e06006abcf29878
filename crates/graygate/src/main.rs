//! The `graygate` binary: command line, configuration loading, signals. Everything that touches
//! a request lives in the library crates; see ARCHITECTURE.md for the map.

mod demo;

use clap::{Parser, Subcommand};
use graygate_config::Document;
use graygate_proxy::{Registry, Server, ServerHandle, Snapshot};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

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
    Run {
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
    },
    /// Validate a configuration file and exit: 0 when valid, 1 with every error otherwise.
    Check {
        /// Configuration file (YAML).
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Print the version.
    Version,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("GRAYGATE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let default = Command::Run {
        config: None,
        listen: Vec::new(),
        workers: None,
        metrics_listen: None,
    };
    match cli.command.unwrap_or(default) {
        Command::Version => {
            println!("graygate {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check { config } => check(&config),
        Command::Run {
            config,
            listen,
            workers,
            metrics_listen,
        } => run(
            config,
            Overrides {
                listen,
                workers,
                metrics_listen,
            },
        ),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let loaded = Document::read(path).and_then(|doc| Snapshot::load(&doc, &Registry::new(1)));
    match loaded {
        Ok(snapshot) => {
            let versions: usize = snapshot
                .sites
                .iter()
                .map(|s| s.policy.versions().len())
                .sum();
            println!(
                "{}: ok ({} sites, {} versions)",
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

/// Command-line overrides of the configuration file.
struct Overrides {
    listen: Vec<SocketAddr>,
    workers: Option<usize>,
    metrics_listen: Option<SocketAddr>,
}

impl Overrides {
    fn apply(&self, snapshot: &mut Snapshot, workers: usize) {
        if !self.listen.is_empty() {
            snapshot.listen = self.listen.clone();
        }
        if let Some(addr) = self.metrics_listen {
            snapshot.metrics.listen = addr;
        }
        snapshot.workers = workers;
    }
}

/// Reads and compiles the configuration file.
fn load(
    path: &std::path::Path,
    registry: &Registry,
) -> Result<Snapshot, graygate_config::ConfigErrors> {
    Document::read(path).and_then(|doc| Snapshot::load(&doc, registry))
}

fn run(config: Option<PathBuf>, overrides: Overrides) -> ExitCode {
    // The demo's files live in a temporary directory for as long as the process runs.
    let demo = match config {
        Some(_) => None,
        None => match demo::Demo::unpack() {
            Ok(demo) => Some(demo),
            Err(e) => {
                eprintln!("graygate: cannot unpack the embedded demo: {e}");
                return ExitCode::FAILURE;
            }
        },
    };
    let path = config.unwrap_or_else(|| demo.as_ref().map(|d| d.config_path()).unwrap_or_default());
    // The worker count sizes the metric cells, so it is settled before the snapshot is built.
    let configured_workers = Document::read(&path)
        .and_then(|doc| doc.parse())
        .ok()
        .and_then(|c| c.workers);
    let workers = overrides
        .workers
        .filter(|n| *n > 0)
        .or(configured_workers)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let registry = Registry::new(workers);
    let mut snapshot = match load(&path, &registry) {
        Ok(snapshot) => snapshot,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("graygate: not starting: the configuration has errors");
            return ExitCode::FAILURE;
        }
    };
    overrides.apply(&mut snapshot, workers);
    if demo.is_some() {
        tracing::info!(
            "no --config given: serving the embedded demo (versions 1.0.0 and 1.1.0, 20% and uid 1001 on 1.1.0)"
        );
    }
    let metrics = snapshot.metrics.enabled.then_some(snapshot.metrics.listen);
    let server = match Server::bind(snapshot, registry.clone()) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("graygate: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let handle = server.handle();
    if let Some(addr) = metrics {
        match graygate_proxy::metrics::spawn(addr, handle.clone(), stopped.clone()) {
            Ok(addr) => println!("metrics on http://{addr}/metrics"),
            Err(e) => {
                eprintln!("graygate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    let signals = match Signals::register() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("graygate: cannot handle signals: {e}");
            return ExitCode::FAILURE;
        }
    };
    for addr in server.local_addrs() {
        // Parsed by tests and scripts: keep this line's shape (metrics first, then listeners).
        println!("listening on http://{addr}");
    }
    tracing::info!(workers, "graygate {} started", env!("CARGO_PKG_VERSION"));
    std::thread::spawn(move || {
        signals.run(&path, &handle, &overrides, workers);
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stop.send(true);
    });
    let result = server.run(stopped);
    tracing::info!("stopped");
    drop(demo);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graygate: {e}");
            ExitCode::FAILURE
        }
    }
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
        path: &std::path::Path,
        handle: &ServerHandle,
        overrides: &Overrides,
        workers: usize,
    ) {
        self.runtime.block_on(async {
            loop {
                tokio::select! {
                    _ = self.int.recv() => return,
                    _ = self.term.recv() => return,
                    _ = self.usr1.recv() => handle.reopen_access_log(),
                    _ = self.hup.recv() => reload(path, handle, overrides, workers),
                }
            }
        });
    }
}

fn reload(path: &std::path::Path, handle: &ServerHandle, overrides: &Overrides, workers: usize) {
    let registry = handle.registry();
    match load(path, registry) {
        Ok(mut snapshot) => {
            let running = handle.snapshot();
            overrides.apply(&mut snapshot, workers);
            if snapshot.listen != running.listen
                || snapshot.metrics.listen != running.metrics.listen
            {
                tracing::warn!("listen addresses changed: they take effect at the next restart");
                snapshot.listen = running.listen.clone();
            }
            handle.swap(snapshot);
            tracing::info!(
                revision = registry
                    .globals
                    .config_revision
                    .load(std::sync::atomic::Ordering::Relaxed),
                "configuration reloaded"
            );
        }
        Err(errors) => {
            registry
                .globals
                .reloads_failed
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!("configuration not reloaded, the running one stays:\n{errors}");
        }
    }
}
