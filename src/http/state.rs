//! What every handler shares: cheap to clone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use crate::jobs::JobRegistry;
use crate::som::{Codebook, SizeLimits};
use crate::storage::{ModelStore, StorageError};

use super::metrics::RequestCounts;

#[derive(Clone)]
pub struct AppState {
    pub store: ModelStore,
    pub jobs: JobRegistry,
    pub models: ModelCache,
    pub limits: SizeLimits,
    pub requests: RequestCounts,
    /// Most vectors x nodes x dimension one prediction or picture may search.
    pub max_predict_work: u64,
}

/// Loaded maps by name, so a prediction does not read the file again. An entry is used only
/// while the file's modification time and length are unchanged, so a file replaced by hand is
/// read again.
#[derive(Clone, Default)]
pub struct ModelCache {
    entries: Arc<Mutex<HashMap<String, CachedModel>>>,
    hits: Arc<AtomicU64>,
    misses: Arc<AtomicU64>,
}

#[derive(Clone)]
struct CachedModel {
    modified: SystemTime,
    len: u64,
    map: Arc<Codebook>,
}

impl ModelCache {
    /// The map `name`, from the cache or the store. Blocking: call it off the async runtime.
    pub fn get(&self, store: &ModelStore, name: &str) -> Result<Arc<Codebook>, StorageError> {
        let path = store.weights_path(name)?;
        let metadata =
            std::fs::metadata(&path).map_err(|_| StorageError::NotFound(name.to_owned()))?;
        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let len = metadata.len();
        let cached = self
            .entries
            .lock()
            .expect("model cache lock")
            .get(name)
            .cloned();
        if let Some(entry) = cached
            && entry.modified == modified
            && entry.len == len
        {
            self.hits.fetch_add(1, Ordering::Relaxed);
            return Ok(entry.map);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let map = Arc::new(Codebook::from_weights(store.load(name)?.view()));
        let entry = CachedModel {
            modified,
            len,
            map: map.clone(),
        };
        self.entries
            .lock()
            .expect("model cache lock")
            .insert(name.to_owned(), entry);
        Ok(map)
    }

    /// Drops `name` from the cache, when its files are deleted or replaced.
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
}
