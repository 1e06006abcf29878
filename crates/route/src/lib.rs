//! Route table: host and path prefix to site
