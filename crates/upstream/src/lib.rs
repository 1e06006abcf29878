//! Upstream pools: per-worker keepalive connections to a version's servers
