//! Loaded maps kept in memory so that a prediction or a picture does not read and convert the
//! file again: a caching layer over a [`ModelStore`], bounded in bytes.
//!
//! Invariants: only reads fill it (a training that finishes does not, so memory follows what
//! clients ask for); an entry is used only while the model's version
//! ([`super::ModelRepository::version`]) is the one it was read at (a replaced model, or a
//! rewritten record, is read again: its weights, options and scaler are never stale); the maps held never weigh more than the budget, least recently used
//! out first, and a map larger than the whole budget is served but not kept.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::{LoadedMap, ModelStore, StorageError};

/// The default budget: 256 MiB, about five 1000x1000x3 maps.
pub const DEFAULT_CACHE_BYTES: usize = 256 << 20;

/// Maps by name over a store. Cheap to clone; clones share the maps and the counters.
#[derive(Clone, Debug)]
pub struct ModelCache {
    store: ModelStore,
    budget: usize,
    entries: Arc<Mutex<Entries>>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

#[derive(Debug, Default)]
struct Entries {
    maps: HashMap<String, Entry>,
    /// Bytes of the maps held.
    bytes: usize,
    /// Counts lookups: an entry's `used` is the count at its last one.
    clock: u64,
}

#[derive(Debug)]
struct Entry {
    version: String,
    map: LoadedMap,
    bytes: usize,
    used: u64,
}

impl Entries {
    fn remove(&mut self, name: &str) {
        if let Some(entry) = self.maps.remove(name) {
            self.bytes -= entry.bytes;
        }
    }

    /// Keeps `entry`, first dropping the least recently used maps until it fits in `budget`.
    fn insert(&mut self, name: &str, entry: Entry, budget: usize) {
        self.remove(name);
        while self.bytes + entry.bytes > budget {
            let oldest = self
                .maps
                .iter()
                .min_by_key(|(_, entry)| entry.used)
                .map(|(name, _)| name.clone());
            match oldest {
                Some(oldest) => self.remove(&oldest),
                None => break,
            }
        }
        self.bytes += entry.bytes;
        self.maps.insert(name.to_owned(), entry);
    }
}

impl ModelCache {
    /// A cache over `store` holding at most `budget` bytes of maps.
    pub fn new(store: ModelStore, budget: usize) -> Self {
        ModelCache {
            store,
            budget,
            entries: Arc::default(),
            hits: Arc::default(),
            misses: Arc::default(),
        }
    }

    /// The map `name` with its options and scaler, from memory or the store. Blocking: call
    /// it off the async runtime.
    pub fn model(&self, name: &str) -> Result<LoadedMap, StorageError> {
        let version = self.store.version(name)?;
        {
            let mut entries = self.entries.lock().expect("model cache lock");
            entries.clock += 1;
            let now = entries.clock;
            if let Some(entry) = entries.maps.get_mut(name)
                && entry.version == version
            {
                entry.used = now;
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(entry.map.clone());
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let (map, version) = self.store.load_map_versioned(name)?;
        let bytes = map.bytes();
        if bytes <= self.budget {
            let mut entries = self.entries.lock().expect("model cache lock");
            let used = entries.clock;
            let entry = Entry {
                version,
                map: map.clone(),
                bytes,
                used,
            };
            entries.insert(name, entry, self.budget);
        }
        Ok(map)
    }

    /// Drops `name`, when its files are deleted or replaced: its memory is given back at once.
    pub fn forget(&self, name: &str) {
        self.entries.lock().expect("model cache lock").remove(name);
    }

    /// How many lookups were served from memory and how many read the file.
    pub fn hits_and_misses(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    /// Bytes of the maps held now.
    pub fn bytes(&self) -> usize {
        self.entries.lock().expect("model cache lock").bytes
    }
}
