//! StatsD ingestion for graygate, compatible with Prometheus' statsd_exporter v0.27.2: the
//! line protocol with its tagging extensions ([`Parser`]), the mapping YAML and its
//! validation ([`MappingConfig`]), and the mapper that turns a StatsD name into a
//! Prometheus name and labels ([`Mapper`]) — globs through a state machine, no regex on
//! that path — with an LRU cache in front ([`MapCache`]). Pure: no I/O, no clock, no
//! async; `graygate-statsd-exporter` does the sockets, the registry and `/metrics`.

mod cache;
mod config;
mod escape;
mod fxhash;
mod glob;
mod line;
mod mapper;
mod template;

pub use cache::MapCache;
pub use config::{
    Action, ConfigError, DEFAULT_BUCKETS, DEFAULT_QUANTILES, Defaults, MappingConfig, MappingSpec,
    MatchType, ObserverType, Quantile, SummaryOptions, parse_go_duration, valid_glob,
    valid_label_name,
};
pub use escape::{escape_metric_name, escape_metric_name_in};
pub use fxhash::{FxBuild, FxHasher};
pub use line::{
    Event, EventKind, Labels, LineStats, MAX_WEIGHT, Parser, Sample, SampleError, parse_go_float,
    set_label,
};
pub use mapper::{CachedMapping, Mapped, Mapper, Mapping};
