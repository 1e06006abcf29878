//! The gateway's `statsd` section: the same exporter inside `graygate run`, its metrics
//! appended to the gateway's metrics listener. [`Settings::build`] checks the section like
//! any other stage does (field errors, the mapping file loaded and validated);
//! [`Embedded`] runs the exporter on its own runtime and takes a new mapping on reload.

use std::io;
use std::path::Path;
use std::time::Duration;

use graygate_config::{Config, FieldError, FieldPath, Statsd};
use graygate_statsd::{Mapper, Parser};

use crate::exporter::{Bound, Exporter, ExporterOptions, ListenerAddrs, Reserved};
use crate::format::TextFormat;

/// A checked `statsd` section with its mapping loaded.
#[derive(Debug)]
pub struct Settings {
    pub options: ExporterOptions,
    pub addrs: ListenerAddrs,
    pub mapper: Mapper,
    /// The section as written, to tell which changes a reload cannot apply.
    section: Statsd,
}

impl Settings {
    /// Checks `config.statsd` and loads its mapping file (relative to `base_dir`). `None`
    /// when the section is off.
    pub fn build(config: &Config, base_dir: &Path) -> Result<Option<Settings>, Vec<FieldError>> {
        let section = &config.statsd;
        if !section.enabled {
            return Ok(None);
        }
        let at = FieldPath::root().key("statsd");
        let mut errors = Vec::new();
        if !config.metrics.enabled {
            errors.push(at.key("enabled").error(
                "StatsD metrics are served on the metrics listener: turn metrics.enabled on too",
            ));
        }
        if section.listen_udp.is_none()
            && section.listen_tcp.is_none()
            && section.listen_unixgram.is_none()
        {
            errors.push(at.key("enabled").error(
                "no listener: give at least one of listen_udp, listen_tcp, listen_unixgram",
            ));
        }
        let unixsocket_mode = u32::from_str_radix(&section.unixsocket_mode, 8)
            .ok()
            .filter(|m| *m <= 0o7777);
        if unixsocket_mode.is_none() {
            errors.push(
                at.key("unixsocket_mode")
                    .error("expected octal permission bits, e.g. \"755\" or \"660\""),
            );
        }
        for (field, value) in [
            ("event_queue_size", section.event_queue_size as u64),
            (
                "event_flush_threshold",
                section.event_flush_threshold as u64,
            ),
            ("event_flush_interval_ms", section.event_flush_interval_ms),
        ] {
            if value == 0 {
                errors.push(at.key(field).error("must be at least 1"));
            }
        }
        if section.read_buffer_bytes == Some(0) {
            errors.push(
                at.key("read_buffer_bytes")
                    .error("must be at least 1 (omit it for the 16 MiB default)"),
            );
        }
        let mapper = match load_mapping(section, base_dir) {
            Ok(mapper) => Some(mapper),
            Err(message) => {
                errors.push(at.key("mapping_config").error(message));
                None
            }
        };
        let (Some(mapper), Some(unixsocket_mode), true) =
            (mapper, unixsocket_mode, errors.is_empty())
        else {
            return Err(errors);
        };
        let options = ExporterOptions {
            parser: Parser {
                dogstatsd: section.parse_dogstatsd_tags,
                influxdb: section.parse_influxdb_tags,
                librato: section.parse_librato_tags,
                signalfx: section.parse_signalfx_tags,
                dogstatsd_extras: false,
            },
            cache_size: section.cache_size,
            event_queue_size: section.event_queue_size,
            flush_threshold: section.event_flush_threshold,
            flush_interval: Duration::from_millis(section.event_flush_interval_ms),
            read_buffer: section.read_buffer_bytes,
            unixsocket_mode,
            reserved: Reserved::default(),
        };
        let addrs = ListenerAddrs {
            udp: section.listen_udp,
            tcp: section.listen_tcp,
            unixgram: section.listen_unixgram.as_ref().map(|p| base_dir.join(p)),
        };
        Ok(Some(Settings {
            options,
            addrs,
            mapper,
            section: section.clone(),
        }))
    }
}

/// The mapping file, read and validated; the message names the file and says why.
fn load_mapping(section: &Statsd, base_dir: &Path) -> Result<Mapper, String> {
    let Some(path) = &section.mapping_config else {
        return Ok(Mapper::default());
    };
    let path = base_dir.join(path);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read the mapping file {}: {e}", path.display()))?;
    Mapper::from_yaml(&text)
        .map_err(|e| format!("the mapping file {} is not valid: {e}", path.display()))
}

/// A running exporter inside the gateway; it runs until the process ends.
pub struct Embedded {
    exporter: Exporter,
    bound: Bound,
    section: Statsd,
    _runtime: tokio::runtime::Runtime,
}

impl std::fmt::Debug for Embedded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Embedded")
            .field("bound", &self.bound)
            .finish_non_exhaustive()
    }
}

impl Embedded {
    /// Binds the listeners and starts the exporter on two threads of its own, so StatsD
    /// traffic never runs on a gateway worker. `reserved` are the gateway's metric names.
    pub fn start(mut settings: Settings, reserved: Reserved) -> io::Result<Embedded> {
        for warning in settings.mapper.warnings() {
            tracing::warn!("statsd mapping: {warning}");
        }
        settings.options.reserved = reserved;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("graygate-statsd")
            .enable_all()
            .build()?;
        let (exporter, bound) = {
            let _entered = runtime.enter();
            let exporter = Exporter::start(settings.mapper, settings.options);
            let bound = exporter.spawn_listeners(&settings.addrs)?;
            (exporter, bound)
        };
        Ok(Embedded {
            exporter,
            bound,
            section: settings.section,
            _runtime: runtime,
        })
    }

    /// What the listeners bound (port 0 resolved).
    pub fn bound(&self) -> &Bound {
        &self.bound
    }

    pub fn exporter(&self) -> &Exporter {
        &self.exporter
    }

    /// The mapped metrics and the exporter's own, for the gateway's metrics listener.
    pub fn render(&self, format: TextFormat, out: &mut String) {
        self.exporter.render_as(format, out);
    }

    /// Takes a reloaded configuration's section: the new mapping is swapped in (counted in
    /// `statsd_exporter_config_reloads_total`). Listeners and queue settings stay as they
    /// were started; a change to them is logged as needing a restart.
    pub fn reload(&self, settings: Option<Settings>) {
        let Some(settings) = settings else {
            tracing::warn!(
                "statsd: the reloaded configuration turns the section off; the listeners stay until restart"
            );
            return;
        };
        let mut started = self.section.clone();
        started
            .mapping_config
            .clone_from(&settings.section.mapping_config);
        if started != settings.section {
            tracing::warn!(
                "statsd: only the mapping is reloaded; the other changes to the section take effect at restart"
            );
        }
        for warning in settings.mapper.warnings() {
            tracing::warn!("statsd mapping: {warning}");
        }
        let mappings = settings.mapper.len();
        self.exporter.replace_mapper(settings.mapper);
        tracing::info!(mappings, "statsd mapping reloaded");
    }

    /// Counts a reload refused because the section (or its mapping file) had errors.
    pub fn reload_failed(&self) {
        self.exporter.reload_failed();
    }

    /// Removes the unixgram socket file, as statsd_exporter does on exit (a socket file left
    /// behind would refuse the next start).
    pub fn remove_socket_file(&self) {
        if let Some(path) = &self.bound.unixgram {
            let _ = std::fs::remove_file(path);
        }
    }
}

#[cfg(test)]
mod tests;
