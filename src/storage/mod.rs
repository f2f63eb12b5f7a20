//! Where models live: the [`ModelRepository`] seam, and its folder implementation
//! ([`FolderRepository`]): a folder of `NAME.npy` (weights) and `NAME.json` (everything else).
//! The cluster's implementation (PostgreSQL records, object-store weights) is in
//! [`crate::cluster`]. Handlers, the job runner and the command line hold a [`ModelStore`] and
//! know neither.
//!
//! Invariants of the folder:
//! - A change to a model (train finished, import, delete) is committed in one step through an
//!   intent journal ([`journal`]) while the name's lock is held, so after a crash at any moment,
//!   and under any interleaving of changes to one name, a model is either whole (its `.npy` and
//!   record agree) or absent. [`ModelStore::open`] carries out intents left by a crash, then
//!   removes leftover temporary files.
//! - Every write goes to a temporary file created exclusively, under an unpredictable name
//!   starting with `.`, in the same folder, flushed, then renamed into place.
//! - Nothing in the folder is trusted: files are opened without following symlinks or blocking
//!   on FIFOs, only regular files are read, and a `.npy` header is checked against the size
//!   limits and the file's length before anything is allocated for it.
//! - A model is *complete*, and listed, when its `.npy` reads as a 3-D array of finite numbers
//!   and its `.json`, if any, says it succeeded. Unreadable or badly named files are logged and
//!   skipped, never fatal. Names are checked by [`validate_name`] before any path is built.
//! - No file path leaves the store: callers get names, bytes, arrays and versions.

mod cache;
mod datasets;
mod files;
mod ingest;
mod journal;
mod loaded;
mod meta;
mod names;
mod npy;
mod repository;
pub mod table;

use std::collections::HashMap;
use std::fs::{self, File};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant, SystemTime};

use ndarray::Array3;
use tempfile::TempPath;

use crate::som::SizeLimits;
use files::{FileVersion, OpenError, TEMP_MARKER};
use journal::Intent;

pub use cache::{DEFAULT_CACHE_BYTES, ModelCache};
pub use datasets::{
    CsvOptions, DatasetError, DatasetHold, DatasetRecord, DatasetRepository, DatasetStore,
    Datasets, StagedDataset,
};
pub use loaded::{LoadedMap, NodeLabels};
pub use meta::{
    DataRecord, GivenOptionsRecord, ModelMeta, NodesRecord, OptionsRecord, ScalerRecord,
    TrainingStatus,
};
pub use names::{MAX_NAME_LEN, model_name, python_float_repr, validate_name};
pub use npy::{NpyError, data_from_npy, data_from_npy_file, weights_from_npy, weights_to_npy};
pub(crate) use repository::loaded_map;
pub use repository::{ModelRepository, ModelStore};

/// Everything that can go wrong with stored models.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error(
        "invalid model name {0:?}: use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.' nor ending in '.npy'"
    )]
    InvalidName(String),
    #[error("no model named {0:?}")]
    NotFound(String),
    /// A symlink, FIFO, device or folder where a model's file belongs: never read nor served.
    #[error("no model named {0:?} (what is stored under that name is not a regular file)")]
    NotARegularFile(String),
    #[error("a model named {0:?} already exists")]
    AlreadyExists(String),
    #[error("the weights of {name:?} cannot be read: {reason}")]
    InvalidWeights { name: String, reason: String },
    #[error("the model data of {name:?} cannot be read: {source}")]
    InvalidMeta {
        name: String,
        source: serde_json::Error,
    },
    /// The store or the registry cannot be reached now (a replica's database or object
    /// store is down): the request may be retried.
    #[error("{0} is unavailable now: try again in a few seconds")]
    Unavailable(&'static str),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Handle to a models folder. Cheap to clone; clones share the locks and the cache of file
/// checks.
#[derive(Debug, Clone)]
pub struct FolderRepository {
    dir: PathBuf,
    limits: SizeLimits,
    /// Held while a name is chosen and claimed, so two trainings never get the same name and an
    /// import's "does it exist" is still true when it commits.
    naming: Arc<Mutex<()>>,
    /// Per-name locks: a change holds its name's for writing, a read of the pair for reading.
    names: Arc<NameLocks>,
    /// The shape each `.npy` read with (`None`: unreadable), by name, for the file's version.
    checked: Arc<Mutex<HashMap<String, FileCheck>>>,
    /// The last listing, the folder's modification time when it was made, and when it was
    /// made. Every write of the store is a rename into the folder, which changes that time; so
    /// does a file dropped in or removed by hand. A file overwritten in place does not, so a
    /// listing is also redone once it is [`LISTING_MAX_AGE`] old.
    listing: Arc<Mutex<Option<Listing>>>,
    /// An exclusive lock on the folder, held by the one process that recovers it at open: a
    /// command run beside the server must not carry out the server's intents or remove its
    /// temporary files mid-write.
    _owner: Option<Arc<File>>,
}

/// The versions of a model's weights and record: what is read from both stays current while
/// neither changes (a model replaced, or its record rewritten, has new ones).
#[derive(Debug, Clone, Copy, PartialEq)]
struct FileVersions {
    weights: FileVersion,
    record: Option<FileVersion>,
}

impl FileVersions {
    /// As text: what [`ModelRepository::version`] answers.
    fn tag(&self) -> String {
        let record = self.record.map(|record| record.tag()).unwrap_or_default();
        format!("npy:{};json:{record}", self.weights.tag())
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct FileCheck {
    version: FileVersion,
    shape: Option<[usize; 3]>,
}

/// How long a listing of an unchanged folder is reused.
pub const LISTING_MAX_AGE: Duration = Duration::from_secs(1);

/// File times tick coarsely (a few milliseconds): a listing made this soon after the folder
/// changed could miss a second change stamped with the same time, so it is not reused.
const FOLDER_TIME_TICK: Duration = Duration::from_millis(50);

/// Bytes read to find a `.npy` header: its fixed part and the longest header accepted.
const NPY_HEAD_BYTES: u64 = npy::MAX_HEADER_LEN as u64 + 12;

#[derive(Debug)]
struct Listing {
    folder_changed: SystemTime,
    made: Instant,
    reusable: bool,
    names: Arc<[String]>,
}

/// A fixed set of reader-writer locks a name hashes to: bounded memory whatever the names, and
/// two names rarely share one (which would only make them wait for each other).
#[derive(Debug)]
struct NameLocks(Box<[RwLock<()>]>);

impl NameLocks {
    fn new() -> Self {
        NameLocks((0..64).map(|_| RwLock::new(())).collect())
    }

    fn of(&self, name: &str) -> &RwLock<()> {
        let hash = BuildHasherDefault::<DefaultHasher>::default().hash_one(name);
        &self.0[hash as usize % self.0.len()]
    }
}

impl FolderRepository {
    /// Opens (and creates) the models folder with the default size limits. The first process
    /// to open it carries out the intents a crash left and removes leftover temporary files.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self, StorageError> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(io_error("create", &dir))?;
        let folder = File::open(&dir).map_err(io_error("open", &dir))?;
        let owner = match folder.try_lock() {
            Ok(()) => Some(Arc::new(folder)),
            Err(err) => {
                tracing::info!(error = %err, "another process has the models folder open: it recovers the folder, not this one");
                None
            }
        };
        let store = FolderRepository {
            dir,
            limits: SizeLimits::default(),
            naming: Arc::default(),
            names: Arc::new(NameLocks::new()),
            checked: Arc::default(),
            listing: Arc::default(),
            _owner: owner,
        };
        if store._owner.is_some() {
            store.recover()?;
        }
        Ok(store)
    }

    /// The same store, refusing weights over `limits` (files over them are skipped as
    /// unreadable).
    pub fn with_limits(mut self, limits: SizeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The folder this store works in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Carries out every intent left by a crash, then removes leftover temporary files.
    fn recover(&self) -> Result<(), StorageError> {
        for (file_name, name) in self.hidden_files(|file| Intent::model_of(file).is_some()) {
            let Some(name) = name else { continue };
            match self.read_intent(&file_name, &name) {
                Ok(intent) => {
                    tracing::warn!(model = %name, ?intent, "finishing a change a crash interrupted");
                    self.apply(&name, &intent)?;
                }
                Err(reason) => {
                    tracing::warn!(file = %file_name, %reason, "removing an unusable intent file");
                    let path = self.dir.join(&file_name);
                    files::remove_if_present(&path).map_err(io_error("remove", &path))?;
                }
            }
        }
        for (file_name, _) in self.hidden_files(|file| file.contains(TEMP_MARKER)) {
            tracing::info!(file = %file_name, "removing a temporary file left by a crash");
            let _ = fs::remove_file(self.dir.join(file_name));
        }
        Ok(())
    }

    /// The folder's files whose names start with `.` and pass `wanted`, with the model name of
    /// an intent file.
    fn hidden_files(&self, wanted: impl Fn(&str) -> bool) -> Vec<(String, Option<String>)> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter(|file| file.starts_with('.') && wanted(file))
            .map(|file| {
                let name = Intent::model_of(&file)
                    .filter(|name| validate_name(name).is_ok())
                    .map(str::to_owned);
                (file, name)
            })
            .collect()
    }

    fn read_intent(&self, file_name: &str, name: &str) -> Result<Intent, String> {
        let (mut file, _) = files::open_regular(&self.dir.join(file_name))
            .map_err(|_| "not a readable regular file".to_owned())?;
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(|err| err.to_string())?;
        let intent: Intent = serde_json::from_slice(&text).map_err(|err| err.to_string())?;
        if intent.is_for(name) {
            Ok(intent)
        } else {
            Err("it names files of another model".into())
        }
    }

    fn path(&self, name: &str, extension: &str) -> Result<PathBuf, StorageError> {
        validate_name(name)?;
        Ok(self.dir.join(format!("{name}.{extension}")))
    }

    fn read_lock(&self, name: &str) -> RwLockReadGuard<'_, ()> {
        self.names.of(name).read().expect("name lock")
    }

    fn write_lock(&self, name: &str) -> RwLockWriteGuard<'_, ()> {
        self.names.of(name).write().expect("name lock")
    }

    /// The complete models, found from the folder's entries. An entry that is not a regular
    /// file (a symlink, FIFO, device, folder) is skipped without being opened, so a planted
    /// `/dev/zero` link or FIFO cannot stall a listing.
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
            if !entry.file_type().is_ok_and(|kind| kind.is_file()) {
                tracing::warn!(file = ?file_name, "skipping a weights entry that is not a regular file (a symlink, FIFO, device or folder)");
                continue;
            }
            if validate_name(name).is_err() {
                tracing::warn!(file = ?file_name, "skipping a weights file whose name breaks the naming rule");
                continue;
            }
            let Ok(metadata) = entry.metadata() else {
                continue;
            };
            let _reading = self.read_lock(name);
            if self
                .weights_shape(name, FileVersion::of(&metadata))
                .is_some()
                && self.is_finished(name)
            {
                names.push(name.to_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    /// The shape `(rows, cols, dim)` of `name`'s `.npy`, or `None` when it does not read as
    /// weights; the file is read once per version.
    fn weights_shape(&self, name: &str, version: FileVersion) -> Option<[usize; 3]> {
        let known = self
            .checked
            .lock()
            .expect("check cache lock")
            .get(name)
            .copied();
        if let Some(check) = known
            && check.version == version
        {
            return check.shape;
        }
        let (shape, version) = match self.load_versioned(name) {
            Ok((weights, read)) => (Some(weights.dim().into()), read),
            Err(err) => {
                tracing::warn!(model = name, error = %err, "skipping an unreadable weights file");
                (None, version)
            }
        };
        self.checked
            .lock()
            .expect("check cache lock")
            .insert(name.to_owned(), FileCheck { version, shape });
        shape
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

    /// Opens one of `name`'s files if it is a regular file.
    fn open_file(
        &self,
        name: &str,
        extension: &str,
    ) -> Result<Option<(File, fs::Metadata)>, StorageError> {
        let path = self.path(name, extension)?;
        match files::open_regular(&path) {
            Ok(opened) => Ok(Some(opened)),
            Err(OpenError::Missing) => Ok(None),
            Err(OpenError::NotRegular) => {
                tracing::warn!(
                    model = name,
                    extension,
                    "refusing to read a file of the models folder that is not a regular file"
                );
                Err(StorageError::NotARegularFile(name.to_owned()))
            }
            Err(OpenError::Io(err)) => Err(io_error("read", &path)(err)),
        }
    }

    /// The bytes of `name`'s `.npy` and their version; the header is checked against the size
    /// limits and the file's length before the rest is read.
    fn read_weights(&self, name: &str) -> Result<(Vec<u8>, FileVersion), StorageError> {
        let (mut file, metadata) = self
            .open_file(name, "npy")?
            .ok_or_else(|| StorageError::NotFound(name.to_owned()))?;
        let invalid = |err: NpyError| StorageError::InvalidWeights {
            name: name.to_owned(),
            reason: err.to_string(),
        };
        let read_error = |err| io_error("read", &self.dir.join(format!("{name}.npy")))(err);
        let mut head = Vec::new();
        (&mut file)
            .take(NPY_HEAD_BYTES)
            .read_to_end(&mut head)
            .map_err(read_error)?;
        let header = npy::NpyHeader::parse(&head).map_err(invalid)?;
        header.check_weights(&self.limits).map_err(invalid)?;
        header.check_len(metadata.len()).map_err(invalid)?;
        let bytes = files::read_rest(&mut file, head, metadata.len()).map_err(read_error)?;
        Ok((bytes, FileVersion::of(&metadata)))
    }

    /// The weights `(rows, cols, dim)` of `name` and the version of the file they came from.
    pub(crate) fn load_versioned(
        &self,
        name: &str,
    ) -> Result<(Array3<f64>, FileVersion), StorageError> {
        let (bytes, version) = self.read_weights(name)?;
        let weights =
            weights_from_npy(&bytes, &self.limits).map_err(|err| StorageError::InvalidWeights {
                name: name.to_owned(),
                reason: err.to_string(),
            })?;
        Ok((weights, version))
    }

    /// The weights `(rows, cols, dim)` of `name`.
    pub fn load(&self, name: &str) -> Result<Array3<f64>, StorageError> {
        Ok(self.load_versioned(name)?.0)
    }

    /// The version of `name`'s `.json` now, `None` when it has none.
    fn record_version(&self, name: &str) -> Result<Option<FileVersion>, StorageError> {
        let json = self.path(name, "json")?;
        Ok(match files::regular_metadata(&json) {
            Ok(Some(metadata)) => Some(FileVersion::of(&metadata)),
            _ => None,
        })
    }

    /// The version of `name`'s `.npy` now, without reading it.
    fn weights_version(&self, name: &str) -> Result<FileVersion, StorageError> {
        let path = self.path(name, "npy")?;
        match files::regular_metadata(&path) {
            Ok(Some(metadata)) => Ok(FileVersion::of(&metadata)),
            Ok(None) => Err(StorageError::NotFound(name.to_owned())),
            Err(OpenError::NotRegular) => Err(StorageError::NotARegularFile(name.to_owned())),
            Err(OpenError::Missing) => Err(StorageError::NotFound(name.to_owned())),
            Err(OpenError::Io(err)) => Err(io_error("read", &path)(err)),
        }
    }

    /// Writes `weights` to a flushed temporary file of the folder, before any lock is taken:
    /// this is the slow part of a change.
    fn stage_weights(&self, name: &str, weights: &Array3<f64>) -> Result<TempPath, StorageError> {
        let path = self.path(name, "npy")?;
        files::write_temp(&self.dir, &format!("{name}.npy"), &weights_to_npy(weights))
            .map_err(io_error("write", &path))
    }

    /// Commits staged weights and their record. The caller holds the name's write lock.
    fn commit_staged(&self, meta: &ModelMeta, staged: TempPath) -> Result<(), StorageError> {
        let weights = staged
            .file_name()
            .and_then(|file| file.to_str())
            .expect("temporary names are ASCII")
            .to_owned();
        let intent = Intent::Commit {
            weights,
            record: Box::new(meta.clone()),
        };
        // From here the intent owns the staged file (recovery renames it if this process
        // dies), so it must not vanish on drop; it is removed by hand if no intent names it.
        let staged = staged
            .keep()
            .map_err(|err| io_error("keep", &self.dir)(err.error))?;
        if let Err(err) = self.write_intent(&meta.name, &intent) {
            let _ = fs::remove_file(&staged);
            return Err(err);
        }
        self.apply(&meta.name, &intent)
    }

    fn write_intent(&self, name: &str, intent: &Intent) -> Result<(), StorageError> {
        let path = self.dir.join(Intent::file_name(name));
        let text = serde_json::to_vec(intent).expect("an intent always serialises");
        write_atomically(&path, &text)
    }

    /// Carries out `intent` on `name`'s files, then removes it. Every step can be repeated, so
    /// recovery runs this again after a crash anywhere in it.
    fn apply(&self, name: &str, intent: &Intent) -> Result<(), StorageError> {
        let npy = self.path(name, "npy")?;
        let json = self.path(name, "json")?;
        match intent {
            Intent::Commit { weights, record } => {
                match fs::rename(self.dir.join(weights), &npy) {
                    Ok(()) => {}
                    // Renamed before a crash.
                    Err(err) if err.kind() == io::ErrorKind::NotFound => {}
                    Err(err) => return Err(io_error("rename", &npy)(err)),
                }
                write_atomically(&json, &record_bytes(record))?;
            }
            Intent::Delete => {
                for path in [&json, &npy] {
                    files::remove_if_present(path).map_err(io_error("remove", path))?;
                }
            }
        }
        let intent_path = self.dir.join(Intent::file_name(name));
        files::remove_if_present(&intent_path).map_err(io_error("remove", &intent_path))?;
        files::sync_dir(&self.dir).map_err(io_error("sync", &self.dir))?;
        self.checked.lock().expect("check cache lock").remove(name);
        Ok(())
    }
}

impl ModelRepository for FolderRepository {
    /// Names of every complete model, sorted. Reused while the folder is unchanged (for at
    /// most [`LISTING_MAX_AGE`]), so listing a thousand models costs no file reads.
    fn list(&self) -> Result<Arc<[String]>, StorageError> {
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

    /// Names of every model whose `.json` says it is queued or running.
    fn pending_names(&self) -> Result<Vec<String>, StorageError> {
        let entries = fs::read_dir(&self.dir).map_err(io_error("read", &self.dir))?;
        Ok(entries
            .flatten()
            .filter(|entry| entry.file_type().is_ok_and(|kind| kind.is_file()))
            .filter_map(|entry| {
                let file_name = entry.file_name().into_string().ok()?;
                let name = file_name.strip_suffix(".json")?;
                let meta = self.meta(name).ok()??;
                meta.status.is_pending().then(|| name.to_owned())
            })
            .collect())
    }

    /// What is known of `name`: its `.json`, with the grid shape and dimension filled in from
    /// the weights when the `.json` is missing (a model dropped in by hand) or silent.
    fn describe(&self, name: &str) -> Result<ModelMeta, StorageError> {
        let path = self.path(name, "npy")?;
        let _reading = self.read_lock(name);
        let stored = self.meta(name)?;
        let shape = match files::regular_metadata(&path) {
            Ok(Some(metadata)) => self.weights_shape(name, FileVersion::of(&metadata)),
            Ok(None) | Err(_) => None,
        };
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

    /// `name`'s weights with the options and scaler of its record, and the versions they were
    /// read at. Read under the name's lock, so the weights and the record are of one commit.
    fn load_map_versioned(&self, name: &str) -> Result<(LoadedMap, String), StorageError> {
        let _reading = self.read_lock(name);
        let record = self.record_version(name)?;
        let meta = self.meta(name)?;
        let (weights, read) = self.load_versioned(name)?;
        let map = repository::loaded_map(name, &weights, meta.as_ref())?;
        let version = FileVersions {
            weights: read,
            record,
        };
        Ok((map, version.tag()))
    }

    /// The bytes of `name`'s `.npy`, once checked to read as weights: what a download serves.
    fn weights_bytes(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let (bytes, _) = self.read_weights(name)?;
        weights_from_npy(&bytes, &self.limits).map_err(|err| StorageError::InvalidWeights {
            name: name.to_owned(),
            reason: err.to_string(),
        })?;
        Ok(bytes)
    }

    /// The `.json` of `name`, or `None` when it has none.
    fn meta(&self, name: &str) -> Result<Option<ModelMeta>, StorageError> {
        let Some((mut file, _)) = self.open_file(name, "json")? else {
            return Ok(None);
        };
        let mut text = Vec::new();
        file.read_to_end(&mut text)
            .map_err(io_error("read", &self.dir.join(format!("{name}.json"))))?;
        let invalid = |source| StorageError::InvalidMeta {
            name: name.to_owned(),
            source,
        };
        let meta: ModelMeta = serde_json::from_slice(&text).map_err(invalid)?;
        if let Some(data) = &meta.data {
            // The summary's node count sizes every column read from it: it must be the map's.
            let nodes = meta
                .grid_shape
                .map(|[rows, cols]| rows.saturating_mul(cols));
            if !data.nodes.is_for(nodes) {
                return Err(invalid(serde::de::Error::custom(
                    "its summary per node does not fit its grid_shape",
                )));
            }
        }
        Ok(Some(meta))
    }

    /// Whether anything (weights, a `.json`, or something planted there) is stored under
    /// `name`.
    fn exists(&self, name: &str) -> Result<bool, StorageError> {
        let present = |path: PathBuf| fs::symlink_metadata(path).is_ok();
        Ok(present(self.path(name, "npy")?) || present(self.path(name, "json")?))
    }

    /// Writes the `.json` of `meta.name` alone, atomically: for a record that does not go with
    /// new weights (a job queued, running, failed or cancelled).
    fn save_meta(&self, meta: &ModelMeta) -> Result<(), StorageError> {
        let path = self.path(&meta.name, "json")?;
        let _changing = self.write_lock(&meta.name);
        write_atomically(&path, &record_bytes(meta))
    }

    /// Stores trained `weights` and their final record `meta` under `meta.name` as one change:
    /// after a crash both are there or neither changed.
    fn commit_model(&self, meta: &ModelMeta, weights: &Array3<f64>) -> Result<(), StorageError> {
        let staged = self.stage_weights(&meta.name, weights)?;
        let _changing = self.write_lock(&meta.name);
        self.commit_staged(meta, staged)
    }

    /// Claims a free name for a new model, `base` or `base_2`, `base_3`, ..., by writing its
    /// `.json` (`meta` with that name) before anyone else can take it. Returns the name.
    fn claim_name(&self, base: &str, mut meta: ModelMeta) -> Result<String, StorageError> {
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
    fn import(
        &self,
        name: &str,
        weights: &Array3<f64>,
        replace: bool,
    ) -> Result<(ModelMeta, bool), StorageError> {
        let staged = self.stage_weights(name, weights)?;
        let _naming = self.naming.lock().expect("naming lock");
        let existed = self.exists(name)?;
        if existed && !replace {
            return Err(StorageError::AlreadyExists(name.to_owned()));
        }
        let meta = ModelMeta::imported(name, weights.dim());
        let _changing = self.write_lock(name);
        self.commit_staged(&meta, staged)?;
        Ok((meta, existed))
    }

    /// The versions of `name`'s files, as text: it changes when either file is replaced, so it
    /// keys what is derived from them (a picture's `ETag`).
    fn version(&self, name: &str) -> Result<String, StorageError> {
        let versions = FileVersions {
            weights: self.weights_version(name)?,
            record: self.record_version(name)?,
        };
        Ok(versions.tag())
    }

    /// Removes the weights and `.json` of `name` as one change. Not found when neither existed.
    fn delete(&self, name: &str) -> Result<(), StorageError> {
        validate_name(name)?;
        let _changing = self.write_lock(name);
        if !self.exists(name)? {
            return Err(StorageError::NotFound(name.to_owned()));
        }
        self.write_intent(name, &Intent::Delete)?;
        self.apply(name, &Intent::Delete)
    }
}

/// Writes `bytes` to `path` through a flushed temporary file beside it, renamed into place:
/// readers see the old file or the new, never a torn one, and a symlink planted at `path` is
/// replaced, not written through.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), StorageError> {
    files::write_atomically(path, bytes).map_err(io_error("write", path))
}

fn record_bytes(meta: &ModelMeta) -> Vec<u8> {
    serde_json::to_vec_pretty(meta).expect("model data always serialises")
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
