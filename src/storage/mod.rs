//! The model store: a folder of `NAME.npy` (weights) and `NAME.json` (everything else).
//!
//! Invariants: every write goes to a temporary file in the same folder whose name starts with
//! `.` and is then renamed into place, so a crash leaves the old file or the new, never a torn
//! one; leftovers are removed by [`ModelStore::open`]. A model is *complete*, and listed, when
//! its `.npy` reads as a 3-D array of finite numbers and its `.json`, if any, says it
//! succeeded. Unreadable or badly named files are logged and skipped, never fatal. Names are
//! checked by [`validate_name`] before any path is built from them.

mod meta;
mod names;
mod npy;

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use ndarray::Array3;

pub use meta::{ModelMeta, TrainingStatus};
pub use names::{MAX_NAME_LEN, model_name, python_float_repr, validate_name};
pub use npy::{data_from_npy, weights_from_npy, weights_to_npy};

/// Everything that can go wrong with stored models.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "invalid model name {0:?}: use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.'"
    )]
    InvalidName(String),
    #[error("no model named {0:?}")]
    NotFound(String),
    #[error("a model named {0:?} already exists")]
    AlreadyExists(String),
    #[error("the weights of {name:?} cannot be read: {reason}")]
    InvalidWeights { name: String, reason: String },
    #[error("the model data of {name:?} cannot be read: {source}")]
    InvalidMeta {
        name: String,
        source: serde_json::Error,
    },
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Handle to a models folder. Cheap to clone; clones share the name lock and the cache of
/// file checks.
#[derive(Debug, Clone)]
pub struct ModelStore {
    dir: PathBuf,
    /// Held while a name is chosen and claimed, so two trainings never get the same name.
    naming: Arc<Mutex<()>>,
    /// The shape each `.npy` read with (`None`: unreadable), by name, for the file's (mtime,
    /// length).
    checked: Arc<Mutex<HashMap<String, FileCheck>>>,
    /// The last listing, the folder's modification time when it was made, and when it was
    /// made. Every write of the store is a rename into the folder, which changes that time; so
    /// does a file dropped in or removed by hand. A file overwritten in place does not, so a
    /// listing is also redone once it is [`LISTING_MAX_AGE`] old.
    listing: Arc<Mutex<Option<Listing>>>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct FileCheck {
    modified: SystemTime,
    len: u64,
    shape: Option<[usize; 3]>,
}

const TEMP_MARKER: &str = ".tmp-";

/// How long a listing of an unchanged folder is reused.
pub const LISTING_MAX_AGE: Duration = Duration::from_secs(1);

/// File times tick coarsely (a few milliseconds): a listing made this soon after the folder
/// changed could miss a second change stamped with the same time, so it is not reused.
const FOLDER_TIME_TICK: Duration = Duration::from_millis(50);

#[derive(Debug)]
struct Listing {
    folder_changed: SystemTime,
    made: Instant,
    reusable: bool,
    names: Arc<[String]>,
}

impl ModelStore {
    /// Opens (and creates) the models folder and removes temporary files left by a crash.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        for entry in fs::read_dir(&dir)
            .map_err(io_error("read", &dir))?
            .flatten()
        {
            let file_name = entry.file_name();
            let file_name = file_name.to_string_lossy();
            if file_name.starts_with('.') && file_name.contains(TEMP_MARKER) {
                tracing::info!(file = %file_name, "removing a temporary file left by a crash");
                let _ = fs::remove_file(entry.path());
            }
        }
        Ok(ModelStore {
            dir,
            naming: Arc::default(),
            checked: Arc::default(),
            listing: Arc::default(),
        })
    }

    /// The folder this store works in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, name: &str, extension: &str) -> Result<PathBuf, StorageError> {
        validate_name(name)?;
        Ok(self.dir.join(format!("{name}.{extension}")))
    }

    /// Where the weights of `name` are (or would be) stored.
    pub fn weights_path(&self, name: &str) -> Result<PathBuf, StorageError> {
        self.path(name, "npy")
    }

    /// Names of every complete model, sorted. Reused while the folder is unchanged (for at
    /// most [`LISTING_MAX_AGE`]), so listing a thousand models costs no file reads.
    pub fn list(&self) -> Result<Arc<[String]>, StorageError> {
        let folder = fs::metadata(&self.dir).map_err(io_error("read", &self.dir))?;
        let folder_changed = folder.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        if let Some(listing) = &*self.listing.lock().expect("listing lock")
            && listing.reusable
            && listing.folder_changed == folder_changed
            && listing.made.elapsed() < LISTING_MAX_AGE
        {
            return Ok(listing.names.clone());
        }
        let made = Instant::now();
        let settled = SystemTime::now()
            .duration_since(folder_changed)
            .is_ok_and(|age| age > FOLDER_TIME_TICK);
        let names: Arc<[String]> = self.scan()?.into();
        let listing = Listing {
            folder_changed,
            made,
            reusable: settled,
            names: names.clone(),
        };
        *self.listing.lock().expect("listing lock") = Some(listing);
        Ok(names)
    }

    fn scan(&self) -> Result<Vec<String>, StorageError> {
        let mut names = Vec::new();
        let entries = fs::read_dir(&self.dir).map_err(io_error("read", &self.dir))?;
        for entry in entries.flatten() {
            let file_name = entry.file_name();
            let Some(name) = file_name.to_str().and_then(|f| f.strip_suffix(".npy")) else {
                continue;
            };
            if name.starts_with('.') {
                continue;
            }
            if validate_name(name).is_err() {
                tracing::warn!(file = ?file_name, "skipping a weights file whose name breaks the naming rule");
                continue;
            }
            let readable = entry
                .metadata()
                .is_ok_and(|metadata| self.weights_shape(name, &metadata).is_some());
            if readable && self.is_finished(name) {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// Names of every model whose `.json` says it is queued or running.
    pub fn pending_names(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| {
                let file_name = entry.file_name().into_string().ok()?;
                let name = file_name.strip_suffix(".json")?;
                let meta = self.meta(name).ok()??;
                meta.status.is_pending().then(|| name.to_owned())
            })
            .collect()
    }

    /// The shape `(rows, cols, dim)` of `name`'s `.npy`, or `None` when it does not read as
    /// weights; the file is read once per version (modification time and length).
    fn weights_shape(&self, name: &str, metadata: &fs::Metadata) -> Option<[usize; 3]> {
        let modified = metadata.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let len = metadata.len();
        let known = self
            .checked
            .lock()
            .expect("check cache lock")
            .get(name)
            .copied();
        if let Some(check) = known
            && check.modified == modified
            && check.len == len
        {
            return check.shape;
        }
        let shape = match self.load(name) {
            Ok(weights) => Some(weights.dim().into()),
            Err(err) => {
                tracing::warn!(model = name, error = %err, "skipping an unreadable weights file");
                None
            }
        };
        let check = FileCheck {
            modified,
            len,
            shape,
        };
        self.checked
            .lock()
            .expect("check cache lock")
            .insert(name.to_owned(), check);
        shape
    }

    /// What is known of `name`: its `.json`, with the grid shape and dimension filled in from
    /// the weights when the `.json` is missing (a model dropped in by hand) or silent.
    pub fn describe(&self, name: &str) -> Result<ModelMeta, StorageError> {
        let path = self.path(name, "npy")?;
        let stored = self.meta(name)?;
        let shape = fs::metadata(&path)
            .ok()
            .and_then(|metadata| self.weights_shape(name, &metadata));
        let mut meta = match (stored, shape) {
            (Some(meta), _) => meta,
            (None, Some(_)) => ModelMeta {
                name: name.to_owned(),
                ..ModelMeta::default()
            },
            (None, None) => return Err(StorageError::NotFound(name.to_owned())),
        };
        if let Some([rows, cols, dim]) = shape {
            meta.grid_shape.get_or_insert([rows, cols]);
            meta.dim.get_or_insert(dim);
        }
        Ok(meta)
    }

    fn is_finished(&self, name: &str) -> bool {
        match self.meta(name) {
            Ok(Some(meta)) => meta.status == TrainingStatus::Succeeded,
            Ok(None) => true,
            Err(err) => {
                tracing::warn!(model = name, error = %err, "skipping a model whose .json cannot be read");
                false
            }
        }
    }

    /// The weights `(rows, cols, dim)` of `name`.
    pub fn load(&self, name: &str) -> Result<Array3<f64>, StorageError> {
        let path = self.path(name, "npy")?;
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                return Err(StorageError::NotFound(name.to_owned()));
            }
            Err(err) => return Err(io_error("read", &path)(err)),
        };
        weights_from_npy(&bytes).map_err(|reason| StorageError::InvalidWeights {
            name: name.to_owned(),
            reason,
        })
    }

    /// The `.json` of `name`, or `None` when it has none.
    pub fn meta(&self, name: &str) -> Result<Option<ModelMeta>, StorageError> {
        let path = self.path(name, "json")?;
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(io_error("read", &path)(err)),
        };
        serde_json::from_slice(&text)
            .map(Some)
            .map_err(|source| StorageError::InvalidMeta {
                name: name.to_owned(),
                source,
            })
    }

    /// Whether anything (weights or a `.json`) is stored under `name`.
    pub fn exists(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.path(name, "npy")?.exists() || self.path(name, "json")?.exists())
    }

    /// Writes the weights of `name`, atomically.
    pub fn save_weights(&self, name: &str, weights: &Array3<f64>) -> Result<(), StorageError> {
        let path = self.path(name, "npy")?;
        write_atomically(&path, &weights_to_npy(weights))
    }

    /// Writes the `.json` of `meta.name`, atomically.
    pub fn save_meta(&self, meta: &ModelMeta) -> Result<(), StorageError> {
        let path = self.path(&meta.name, "json")?;
        let text = serde_json::to_vec_pretty(meta).expect("model data always serialises");
        write_atomically(&path, &text)
    }

    /// Claims a free name for a new model, `base` or `base_2`, `base_3`, ..., by writing its
    /// `.json` (`meta` with that name) before anyone else can take it. Returns the name.
    pub fn claim_name(&self, base: &str, mut meta: ModelMeta) -> Result<String, StorageError> {
        validate_name(base)?;
        let _naming = self.naming.lock().expect("naming lock");
        let mut name = base.to_owned();
        let mut suffix = 2;
        while self.exists(&name)? {
            name = format!("{base}_{suffix}");
            suffix += 1;
        }
        meta.name = name.clone();
        self.save_meta(&meta)?;
        Ok(name)
    }

    /// Stores `weights`, made elsewhere, as the model `name` with a `.json` that knows only
    /// their shape and when they came; returns it and whether a model was replaced. An
    /// existing model is replaced only when `replace` is set; otherwise it is
    /// [`StorageError::AlreadyExists`] and nothing is written.
    pub fn import(
        &self,
        name: &str,
        weights: &Array3<f64>,
        replace: bool,
    ) -> Result<(ModelMeta, bool), StorageError> {
        let _naming = self.naming.lock().expect("naming lock");
        let existed = self.exists(name)?;
        if existed && !replace {
            return Err(StorageError::AlreadyExists(name.to_owned()));
        }
        let (rows, cols, dim) = weights.dim();
        let meta = ModelMeta {
            name: name.to_owned(),
            status: TrainingStatus::Succeeded,
            grid_shape: Some([rows, cols]),
            dim: Some(dim),
            created_at: Some(jiff::Timestamp::now()),
            ..ModelMeta::default()
        };
        self.save_weights(name, weights)?;
        self.save_meta(&meta)?;
        Ok((meta, existed))
    }

    /// The modification time and length of each of `name`'s files, as text: it changes when
    /// either file is rewritten, so it keys what is derived from them (a picture's `ETag`).
    pub fn version(&self, name: &str) -> Result<String, StorageError> {
        let mut version = String::new();
        for extension in ["npy", "json"] {
            let path = self.path(name, extension)?;
            match fs::metadata(&path) {
                Ok(metadata) => {
                    let modified = metadata
                        .modified()
                        .ok()
                        .and_then(|time| time.duration_since(SystemTime::UNIX_EPOCH).ok())
                        .map_or(0, |since| since.as_nanos());
                    version.push_str(&format!("{extension}:{modified}:{};", metadata.len()));
                }
                Err(_) if extension == "json" => {}
                Err(_) => return Err(StorageError::NotFound(name.to_owned())),
            }
        }
        Ok(version)
    }

    /// Removes the weights and `.json` of `name`. Not found when neither existed.
    pub fn delete(&self, name: &str) -> Result<(), StorageError> {
        let mut removed = false;
        for extension in ["npy", "json"] {
            let path = self.path(name, extension)?;
            match fs::remove_file(&path) {
                Ok(()) => removed = true,
                Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                Err(err) => return Err(io_error("remove", &path)(err)),
            }
        }
        self.checked.lock().expect("check cache lock").remove(name);
        if removed {
            Ok(())
        } else {
            Err(StorageError::NotFound(name.to_owned()))
        }
    }
}

/// Writes `bytes` to a temporary file beside `path` (named `.NAME.tmp-...`, so never listed and
/// removed by [`ModelStore::open`] if left by a crash), flushes it to disk, then renames it over
/// `path`: readers see the old file or the new, never a torn one.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let file_name = path.file_name().unwrap_or_default().to_string_lossy();
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let temp = dir.join(format!(
        ".{file_name}{TEMP_MARKER}{}-{unique}",
        std::process::id()
    ));
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&temp, path)
    })();
    if let Err(err) = written {
        let _ = fs::remove_file(&temp);
        return Err(io_error("write", path)(err));
    }
    if let Ok(dir) = fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

fn io_error(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> StorageError {
    let path = path.to_owned();
    move |source| StorageError::Io {
        action,
        path,
        source,
    }
}

#[cfg(test)]
mod tests;
