//! The `graygate` binary: command line, configuration loading, signals. Everything that touches
//! a request lives in the library crates; see ARCHITECTURE.md for the map.

mod demo;

use clap::{Parser, Subcommand};
use graygate_config::Document;
use graygate_proxy::{Server, Snapshot};
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
    match cli.command.unwrap_or(Command::Run {
        config: None,
        listen: Vec::new(),
        workers: None,
    }) {
        Command::Version => {
            println!("graygate {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Check { config } => check(&config),
        Command::Run {
            config,
            listen,
            workers,
        } => run(config, listen, workers),
    }
}

fn check(path: &std::path::Path) -> ExitCode {
    let loaded = Document::read(path).and_then(|doc| Snapshot::load(&doc));
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

fn run(config: Option<PathBuf>, listen: Vec<SocketAddr>, workers: Option<usize>) -> ExitCode {
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
    let mut snapshot = match Document::read(&path).and_then(|doc| Snapshot::load(&doc)) {
        Ok(snapshot) => snapshot,
        Err(errors) => {
            eprintln!("{errors}");
            eprintln!("graygate: not starting: the configuration has errors");
            return ExitCode::FAILURE;
        }
    };
    if !listen.is_empty() {
        snapshot.listen = listen;
    }
    if let Some(n) = workers.filter(|n| *n > 0) {
        snapshot.workers = n;
    }
    if demo.is_some() {
        tracing::info!(
            "no --config given: serving the embedded demo (versions 1.0.0 and 1.1.0, 20% and uid 1001 on 1.1.0)"
        );
    }
    let workers = snapshot.workers;
    let metrics_listen = snapshot.metrics_listen;
    let server = match Server::bind(snapshot) {
        Ok(server) => server,
        Err(e) => {
            eprintln!("graygate: {e}");
            return ExitCode::FAILURE;
        }
    };
    tracing::info!(workers, "graygate {} started", env!("CARGO_PKG_VERSION"));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let stats = server.stats();
    if let Some(addr) = metrics_listen {
        match graygate_proxy::metrics::spawn(addr, stats.clone(), stopped.clone()) {
            Ok(addr) => println!("metrics on http://{addr}/metrics"),
            Err(e) => {
                eprintln!("graygate: {e}");
                return ExitCode::FAILURE;
            }
        }
    }
    for addr in server.local_addrs() {
        // Parsed by tests and scripts: keep this line's shape (metrics first, then listeners).
        println!("listening on http://{addr}");
    }
    std::thread::spawn(move || {
        wait_for_signal();
        tracing::info!("shutting down: no new connections, finishing requests in flight");
        let _ = stop.send(true);
    });
    let result = server.run(stopped);
    let totals = stats.totals();
    tracing::info!(
        requests = totals.requests,
        fallbacks = totals.fallbacks,
        "stopped"
    );
    drop(demo);
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("graygate: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Blocks until SIGINT or SIGTERM.
fn wait_for_signal() {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    runtime.block_on(async {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    });
}
