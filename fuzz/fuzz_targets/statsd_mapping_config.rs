//! Arbitrary text as a statsd_exporter mapping file, then a few names mapped through it.
//!
//! Input: the YAML, optionally followed by `\n---names---\n` and names, one a line (none
//! given: a fixed set). Checks: loading never panics; a loaded mapper maps every name of
//! every kind without panicking; `map` and `map_into` (with a dirty reused buffer) agree;
//! the mapping cache gives the same answer twice.
#![no_main]

use graygate_statsd::{EventKind, MapCache, Mapped, Mapper};
use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "test.dispatcher.FooProcessor.send.success",
    "foo_product.signup.facebook.failure",
    "a.b.c",
    "a.b",
    "a",
    "",
    ".",
    "a..b",
    "app1.web-1.request.200",
    "x.y.z.w.v.u.t.s.r.q.p.o.n.m.l.k.j.i.h.g.f.e.d.c.b.a",
];

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let (yaml, names) = match text.split_once("\n---names---\n") {
        Some((yaml, names)) => (yaml, names.lines().take(16).collect::<Vec<_>>()),
        None => (text.as_ref(), NAMES.to_vec()),
    };
    let Ok(mapper) = Mapper::from_yaml(yaml) else {
        return;
    };
    let mut reused = Mapped::default();
    let mut cache = MapCache::new(4);
    let mut uncached = MapCache::new(0);
    for name in names {
        for kind in [EventKind::Counter, EventKind::Gauge, EventKind::Observer] {
            let owned = mapper.map(name, kind);
            let hit = mapper.map_into(name, kind, &mut reused);
            assert_eq!(owned.is_some(), hit, "{name:?}");
            if let Some(owned) = &owned {
                assert_eq!(owned, &reused, "{name:?}");
                let mapping = mapper.mapping(owned.mapping).expect("mapping index in range");
                assert_eq!(owned.label_count(), mapping.label_keys().len());
            }
            let first = cache.get_or_map(&mapper, name, kind);
            let second = cache.get_or_map(&mapper, name, kind);
            assert_eq!(first.as_deref(), owned.as_ref());
            assert_eq!(second.as_deref(), owned.as_ref());
            assert_eq!(cache.lookup(&mapper, name, kind), owned.as_ref());
            assert_eq!(uncached.lookup(&mapper, name, kind), owned.as_ref());
        }
    }
});
