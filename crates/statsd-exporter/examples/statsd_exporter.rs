//! `graygate statsd-exporter` as a standalone binary, for the bench script under
//! `bench/statsd/` until the `graygate` binary wires the subcommand.

fn main() -> std::process::ExitCode {
    graygate_statsd_exporter::run(std::env::args_os().skip(1).collect())
}
