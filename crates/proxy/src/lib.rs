//! The data plane: the life of a request, phase by phase.
//!
//! ```text
//! accept (one SO_REUSEPORT listener and one current-thread runtime per worker thread)
//!   -> HTTP/1.1 (own connection: heads parsed in place,  h1.rs, h1/head.rs
//!      framing refused; HTTP/2: hyper), timeouts          worker.rs
//!   -> hygiene: refuse what a front proxy must not forward hygiene.rs
//!   -> route: host + path prefix -> site                  graygate-route
//!   -> decide: release policy -> version + reason         graygate-canary
//!   -> target: static root or upstream pool               graygate-files / graygate-upstream
//!   -> forward / serve, fallback to the default version   pipeline.rs, forward.rs
//!   -> respond: Set-Cookie for new devices, version header
//!   -> log: metrics per worker, JSON access-log line        log.rs, access_log.rs
//! ```
//!
//! Configuration arrives as a [`Snapshot`]: validated, immutable, swapped in atomically. Each
//! request runs to completion on the snapshot it started with.

pub mod access_log;
mod body;
mod date;
mod forward;
mod h1;
mod hygiene;
mod log;
pub mod metrics;
mod pipeline;
mod snapshot;
mod worker;

pub use graygate_metrics::Registry;
pub use snapshot::{Snapshot, Target, UNROUTED};
pub use worker::{Server, ServerHandle, TlsListeners};
