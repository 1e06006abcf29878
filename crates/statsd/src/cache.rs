//! A bounded LRU cache of mapping results, keyed by (name, kind), as statsd_exporter's
//! `--statsd.cache-size` (misses are cached too). Size 0 disables it.

use std::collections::HashMap;
use std::sync::Arc;

use crate::fxhash::FxBuild;
use crate::line::EventKind;
use crate::mapper::{CachedMapping, Mapped, Mapper};

const NIL: u32 = u32::MAX;

struct Slot {
    key: Box<str>,
    kind: EventKind,
    value: CachedMapping,
    prev: u32,
    next: u32,
}

/// LRU cache in front of a [`Mapper`]; one per consumer, no locking.
pub struct MapCache {
    capacity: usize,
    index: [HashMap<Box<str>, u32, FxBuild>; 3],
    slots: Vec<Slot>,
    head: u32,
    tail: u32,
    /// `statsd_metric_mapper_cache_gets_total`
    pub gets: u64,
    /// `statsd_metric_mapper_cache_hits_total`
    pub hits: u64,
    /// The result of the last `lookup` when the cache is disabled.
    scratch: Mapped,
}

impl std::fmt::Debug for MapCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapCache")
            .field("capacity", &self.capacity)
            .field("len", &self.slots.len())
            .finish()
    }
}

impl MapCache {
    /// A cache holding at most `capacity` results.
    pub fn new(capacity: usize) -> MapCache {
        MapCache {
            capacity,
            index: Default::default(),
            slots: Vec::new(),
            head: NIL,
            tail: NIL,
            gets: 0,
            hits: 0,
            scratch: Mapped::default(),
        }
    }

    /// Whether results are cached at all (size 0 disables the cache; statsd_exporter then
    /// registers no cache metrics).
    pub fn enabled(&self) -> bool {
        self.capacity > 0
    }

    /// Counts `times` more lookups of an entry just returned by [`MapCache::get_or_map`]:
    /// statsd_exporter handles a sampled observation as `int(1/rate)` separate events,
    /// each of which asks the cache (and, after the first, finds the entry).
    pub fn repeat_hits(&mut self, times: u64) {
        if self.enabled() {
            self.gets += times;
            self.hits += times;
        }
    }

    /// Entries held (`statsd_metric_mapper_cache_length`).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether the cache is empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// Forgets everything (after a mapping reload).
    pub fn clear(&mut self) {
        for map in &mut self.index {
            map.clear();
        }
        self.slots.clear();
        self.head = NIL;
        self.tail = NIL;
    }

    /// The cached result for `name`, or maps it and remembers the answer.
    pub fn get_or_map(&mut self, mapper: &Mapper, name: &str, kind: EventKind) -> CachedMapping {
        if self.capacity == 0 {
            return mapper.map(name, kind).map(Arc::new);
        }
        let slot = self.slot(mapper, name, kind);
        self.slots[slot as usize].value.clone()
    }

    /// Like [`MapCache::get_or_map`], borrowing the result instead of sharing it: no
    /// reference count touched on a hit, and with the cache disabled the result is
    /// expanded into a buffer kept for the next call.
    pub fn lookup(&mut self, mapper: &Mapper, name: &str, kind: EventKind) -> Option<&Mapped> {
        if self.capacity == 0 {
            let found = mapper.map_into(name, kind, &mut self.scratch);
            return found.then_some(&self.scratch);
        }
        let slot = self.slot(mapper, name, kind);
        self.slots[slot as usize].value.as_deref()
    }

    /// The slot holding `name`'s result, mapped and inserted on a miss (counted).
    fn slot(&mut self, mapper: &Mapper, name: &str, kind: EventKind) -> u32 {
        self.gets += 1;
        if let Some(&slot) = self.index[kind.index()].get(name) {
            self.hits += 1;
            self.touch(slot);
            return slot;
        }
        let value = mapper.map(name, kind).map(Arc::new);
        self.insert(name, kind, value)
    }

    fn insert(&mut self, name: &str, kind: EventKind, value: CachedMapping) -> u32 {
        let slot = if self.slots.len() < self.capacity {
            self.slots.push(Slot {
                key: name.into(),
                kind,
                value,
                prev: NIL,
                next: NIL,
            });
            (self.slots.len() - 1) as u32
        } else {
            // Reuse the least recently used slot.
            let slot = self.tail;
            self.unlink(slot);
            let old = &mut self.slots[slot as usize];
            self.index[old.kind.index()].remove(&old.key);
            old.key = name.into();
            old.kind = kind;
            old.value = value;
            slot
        };
        self.index[kind.index()].insert(name.into(), slot);
        self.push_front(slot);
        slot
    }

    fn touch(&mut self, slot: u32) {
        if self.head != slot {
            self.unlink(slot);
            self.push_front(slot);
        }
    }

    fn unlink(&mut self, slot: u32) {
        let (prev, next) = {
            let s = &self.slots[slot as usize];
            (s.prev, s.next)
        };
        match prev {
            NIL => self.head = next,
            p => self.slots[p as usize].next = next,
        }
        match next {
            NIL => self.tail = prev,
            n => self.slots[n as usize].prev = prev,
        }
    }

    fn push_front(&mut self, slot: u32) {
        let old = self.head;
        {
            let s = &mut self.slots[slot as usize];
            s.prev = NIL;
            s.next = old;
        }
        match old {
            NIL => self.tail = slot,
            h => self.slots[h as usize].prev = slot,
        }
        self.head = slot;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evicts_least_recently_used_and_caches_misses() {
        let mapper = Mapper::from_yaml("mappings:\n- match: a.*\n  name: a_$1\n").unwrap();
        let mut cache = MapCache::new(2);
        assert!(
            cache
                .get_or_map(&mapper, "a.x", EventKind::Counter)
                .is_some()
        );
        assert!(
            cache
                .get_or_map(&mapper, "zz", EventKind::Counter)
                .is_none()
        );
        assert!(
            cache
                .get_or_map(&mapper, "a.x", EventKind::Counter)
                .is_some()
        );
        assert_eq!(cache.hits, 1);
        // "zz" is now least recently used.
        cache.get_or_map(&mapper, "a.y", EventKind::Counter);
        assert_eq!(cache.len(), 2);
        cache.get_or_map(&mapper, "zz", EventKind::Counter);
        assert_eq!(cache.hits, 1);
        cache.get_or_map(&mapper, "a.y", EventKind::Counter);
        assert_eq!(cache.hits, 2);
        // Kinds are separate keys.
        cache.get_or_map(&mapper, "a.y", EventKind::Gauge);
        assert_eq!(cache.hits, 2);
        cache.clear();
        assert!(cache.is_empty());
    }

    #[test]
    fn lookup_agrees_with_get_or_map_and_counts_the_same() {
        let mapper = Mapper::from_yaml("mappings:\n- match: a.*\n  name: a_$1\n").unwrap();
        for capacity in [0, 1, 2] {
            let (mut shared, mut borrowed) = (MapCache::new(capacity), MapCache::new(capacity));
            for name in ["a.x", "zz", "a.y", "a.x", "zz", "a.x"] {
                let want = shared.get_or_map(&mapper, name, EventKind::Counter);
                let got = borrowed.lookup(&mapper, name, EventKind::Counter).cloned();
                assert_eq!(
                    got,
                    want.as_deref().cloned(),
                    "{name} at capacity {capacity}"
                );
            }
            assert_eq!((borrowed.gets, borrowed.hits), (shared.gets, shared.hits));
            assert_eq!(borrowed.len(), shared.len());
        }
    }
}
