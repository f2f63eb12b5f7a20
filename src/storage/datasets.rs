//! The dataset store: uploaded training data, kept beside the models as `NAME.json` (the
//! record, [`DatasetRecord`]) and the data it names, `NAME~RANDOM.npy` (little-endian f64,
//! C order, shape `(rows, dim)`), in the `datasets` folder of the models folder.
//!
//! Invariants:
//! - The record is the commit point: a dataset exists, whole, once its record is renamed into
//!   place, and every record names a data file written and flushed before it. A data file's
//!   name holds `~` (never part of a name, see [`validate_name`]) and random characters, so a
//!   replacement never overwrites the data a reader or a job may be reading; the old data file
//!   is removed after the new record is in place. After a crash at any moment a dataset is its
//!   old self or its new self; [`DatasetStore::open`] removes data files no record names and
//!   leftover temporary files.
//! - Changes hold one lock, which also guards the holds jobs take ([`DatasetStore::hold`]): a
//!   dataset held by a queued or running job is neither replaced nor deleted (a job retried
//!   must see the same data).
//! - Names are checked by [`validate_name`] before any path is built; files are opened without
//!   following symlinks, and a data file's header is checked against its length before
//!   anything is allocated for it.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use jiff::Timestamp;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use tempfile::{NamedTempFile, TempPath};

use super::files::{self, OpenError, TEMP_MARKER};
use super::ingest::ingest;
use super::names::validate_name;
use super::npy::{self, NpyHeader};

/// Everything that can go wrong with stored datasets.
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error(
        "invalid dataset name {0:?}: use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.' nor ending in '.npy'"
    )]
    InvalidName(String),
    #[error("no dataset named {0:?}")]
    NotFound(String),
    #[error("a dataset named {0:?} already exists")]
    AlreadyExists(String),
    #[error("the dataset {0:?} is used by a queued or running job")]
    InUse(String),
    /// The upload is not usable data; the reason names what to fix.
    #[error("{0}")]
    InvalidData(String),
    #[error("the dataset {name:?} cannot be read: {reason}")]
    Unreadable { name: String, reason: String },
    /// The cluster's database or object store is down: the request may be retried.
    #[error("{0} is unavailable now: try again in a few seconds")]
    Unavailable(&'static str),
    #[error("{action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// What is stored about a dataset besides its numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DatasetRecord {
    pub name: String,
    pub rows: usize,
    pub dim: usize,
    /// The element type uploaded: `float32` or `float64` for a `.npy`, `csv` for text. The
    /// data is stored as float64 whatever it was.
    pub dtype: String,
    /// Bytes of the stored data file.
    pub bytes: u64,
    pub created_at: Timestamp,
    /// The names of the numeric columns, from a CSV header.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// The CSV column kept as the rows' labels, and the labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_column: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<Vec<String>>,
    /// The data file, in the datasets folder.
    data_file: String,
}

/// How an upload is read when it is CSV.
#[derive(Debug, Clone, Default)]
pub struct CsvOptions {
    pub delimiter: Option<char>,
    pub label_column: Option<String>,
}

/// Handle to the datasets folder. Cheap to clone; clones share the lock and the holds.
#[derive(Debug, Clone)]
pub struct DatasetStore {
    dir: PathBuf,
    /// Held by every change, and by every hold taken or given back.
    changes: Arc<Mutex<HashMap<String, usize>>>,
}

/// A job's claim on a dataset: while it lives, the dataset is neither replaced nor deleted.
/// In a cluster the claim is the job's record itself (a queued or running job names its
/// dataset), so the hold only names it.
#[derive(Debug)]
pub struct DatasetHold {
    store: Option<DatasetStore>,
    name: String,
}

impl Drop for DatasetHold {
    fn drop(&mut self) {
        let Some(store) = &self.store else {
            return;
        };
        let mut holds = store.lock();
        if let Some(count) = holds.get_mut(&self.name) {
            *count -= 1;
            if *count == 0 {
                holds.remove(&self.name);
            }
        }
    }
}

impl Clone for DatasetHold {
    fn clone(&self) -> Self {
        if let Some(store) = &self.store {
            *store.lock().entry(self.name.clone()).or_default() += 1;
        }
        DatasetHold {
            store: self.store.clone(),
            name: self.name.clone(),
        }
    }
}

impl DatasetHold {
    /// The hold of a dataset a cluster's registry guards (see [`DatasetHold`]).
    pub(crate) fn in_registry(name: &str) -> DatasetHold {
        DatasetHold {
            store: None,
            name: name.to_owned(),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl DatasetStore {
    /// Opens the folder `dir` (created on the first upload) and removes what a crash left:
    /// temporary files and data files no record names.
    pub fn open(dir: impl Into<PathBuf>) -> DatasetStore {
        let store = DatasetStore {
            dir: dir.into(),
            changes: Arc::default(),
        };
        store.recover();
        store
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, usize>> {
        self.changes.lock().expect("datasets lock")
    }

    fn recover(&self) {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        let files: Vec<String> = entries
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .collect();
        let named: Vec<String> = files
            .iter()
            .filter_map(|file| file.strip_suffix(".json"))
            .filter_map(|name| self.record(name).ok())
            .map(|record| record.data_file)
            .collect();
        for file in files {
            let orphan = file.contains('~') && file.ends_with(".npy") && !named.contains(&file);
            if orphan || (file.starts_with('.') && file.contains(TEMP_MARKER)) {
                tracing::info!(file = %file, "removing a dataset file a crash left");
                let _ = fs::remove_file(self.dir.join(file));
            }
        }
    }

    fn path(&self, name: &str) -> Result<PathBuf, DatasetError> {
        validate_name(name).map_err(|_| DatasetError::InvalidName(name.to_owned()))?;
        Ok(self.dir.join(format!("{name}.json")))
    }

    fn io(&self, action: &'static str) -> impl FnOnce(io::Error) -> DatasetError {
        let path = self.dir.clone();
        move |source| DatasetError::Io {
            action,
            path,
            source,
        }
    }

    fn record_unlocked(&self, name: &str) -> Result<DatasetRecord, DatasetError> {
        let path = self.path(name)?;
        let mut file = match files::open_regular(&path) {
            Ok((file, _)) => file,
            Err(OpenError::Missing | OpenError::NotRegular) => {
                return Err(DatasetError::NotFound(name.to_owned()));
            }
            Err(OpenError::Io(err)) => return Err(self.io("read")(err)),
        };
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(self.io("read"))?;
        let record: DatasetRecord =
            serde_json::from_slice(&text).map_err(|err| DatasetError::Unreadable {
                name: name.to_owned(),
                reason: err.to_string(),
            })?;
        if record.name != name
            || !record.data_file.starts_with(&format!("{name}~"))
            || record.data_file.contains('/')
        {
            return Err(DatasetError::Unreadable {
                name: name.to_owned(),
                reason: "its record names another dataset's files".into(),
            });
        }
        Ok(record)
    }
}

impl DatasetRepository for DatasetStore {
    /// A new empty temporary file of the folder for an upload to be written to; removed when
    /// dropped.
    fn upload_file(&self) -> Result<NamedTempFile, DatasetError> {
        fs::create_dir_all(&self.dir).map_err(self.io("create"))?;
        files::create_temp(&self.dir, "upload").map_err(self.io("create a temporary file in"))
    }

    /// Reads the upload at `upload` as the data of `name` ([`ingest`]) into a new temporary
    /// data file of the folder, ready for [`DatasetStore::commit`]. Memory stays bounded
    /// whatever the upload's size.
    fn stage(
        &self,
        name: &str,
        upload: &Path,
        csv: &CsvOptions,
    ) -> Result<StagedDataset, DatasetError> {
        self.path(name)?;
        fs::create_dir_all(&self.dir).map_err(self.io("create"))?;
        let file = files::create_temp(&self.dir, &format!("{name}~"))
            .map_err(self.io("create a temporary file in"))?;
        let ingested = ingest(upload, file.as_file(), file.path(), csv)?;
        let bytes = file.as_file().metadata().map_err(self.io("read"))?.len();
        Ok(StagedDataset {
            file: file.into_temp_path(),
            rows: ingested.rows,
            dim: ingested.dim,
            bytes,
            pending: ingested.pending,
        })
    }

    /// Stores `staged` as the dataset `name`; returns its record and whether it replaced one.
    /// An existing dataset is replaced only with `replace`, and never while a job holds it.
    fn commit(
        &self,
        name: &str,
        staged: StagedDataset,
        replace: bool,
    ) -> Result<(DatasetRecord, bool), DatasetError> {
        let json = self.path(name)?;
        // The staged file's random characters make the data file's name: a new name per
        // upload, so a replacement never overwrites data a reader is reading.
        let random = staged
            .file
            .file_name()
            .and_then(|file| file.to_str())
            .and_then(|file| file.rsplit(TEMP_MARKER).next())
            .expect("temporary names are ASCII and hold the marker")
            .to_owned();
        let data_file = format!("{name}~{random}.npy");
        let record = staged.record(name, data_file.clone());
        let holds = self.lock();
        let old = match self.record_unlocked(name) {
            Ok(old) => Some(old),
            Err(DatasetError::NotFound(_)) => None,
            Err(err) => return Err(err),
        };
        if old.is_some() && !replace {
            return Err(DatasetError::AlreadyExists(name.to_owned()));
        }
        if old.is_some() && holds.contains_key(name) {
            return Err(DatasetError::InUse(name.to_owned()));
        }
        staged
            .file
            .persist_noclobber(self.dir.join(&data_file))
            .map_err(|err| self.io("rename into")(err.error))?;
        let text = serde_json::to_vec_pretty(&record).expect("a record always serialises");
        files::write_atomically(&json, &text).map_err(self.io("write"))?;
        if let Some(old) = &old {
            let _ = files::remove_if_present(&self.dir.join(&old.data_file));
        }
        Ok((record, old.is_some()))
    }

    /// The record of `name`.
    fn record(&self, name: &str) -> Result<DatasetRecord, DatasetError> {
        let _holds = self.lock();
        self.record_unlocked(name)
    }

    /// Every readable dataset's record, sorted by name.
    fn list(&self) -> Result<Vec<DatasetRecord>, DatasetError> {
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return Ok(Vec::new());
        };
        let mut records: Vec<DatasetRecord> = entries
            .flatten()
            .filter_map(|entry| entry.file_name().into_string().ok())
            .filter_map(|file| file.strip_suffix(".json").map(str::to_owned))
            .filter(|name| validate_name(name).is_ok())
            .filter_map(|name| match self.record(&name) {
                Ok(record) => Some(record),
                Err(err) => {
                    tracing::warn!(dataset = %name, error = %err, "skipping an unreadable dataset");
                    None
                }
            })
            .collect();
        records.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(records)
    }

    /// The data `(rows, dim)` of `name`, with its record: read into one array, the only copy.
    fn load(&self, name: &str) -> Result<(Array2<f64>, DatasetRecord), DatasetError> {
        let record = self.record(name)?;
        let unreadable = |reason: String| DatasetError::Unreadable {
            name: name.to_owned(),
            reason,
        };
        let (mut file, metadata) = files::open_regular(&self.dir.join(&record.data_file))
            .map_err(|_| unreadable("its data file is missing".into()))?;
        let header = NpyHeader::read_from(&mut file).map_err(|err| unreadable(err.to_string()))?;
        header
            .check_len(metadata.len())
            .map_err(|err| unreadable(err.to_string()))?;
        let data = npy::read_data(&header, &mut file).map_err(|err| unreadable(err.to_string()))?;
        if data.dim() != (record.rows, record.dim) {
            return Err(unreadable("its data disagrees with its record".into()));
        }
        Ok((data, record))
    }

    /// Removes `name`, unless a job holds it.
    fn delete(&self, name: &str) -> Result<(), DatasetError> {
        let json = self.path(name)?;
        let holds = self.lock();
        let record = self.record_unlocked(name)?;
        if holds.contains_key(name) {
            return Err(DatasetError::InUse(name.to_owned()));
        }
        files::remove_if_present(&json).map_err(self.io("remove"))?;
        files::sync_dir(&self.dir).map_err(self.io("sync"))?;
        let _ = files::remove_if_present(&self.dir.join(&record.data_file));
        Ok(())
    }

    /// Claims `name` for a job and reads its data `(rows, dim)` and record: until the hold is
    /// dropped, the dataset is neither replaced nor deleted, so what is read is what is stored.
    fn hold(&self, name: &str) -> Result<(DatasetHold, Array2<f64>, DatasetRecord), DatasetError> {
        {
            let mut holds = self.lock();
            self.record_unlocked(name)?;
            *holds.entry(name.to_owned()).or_default() += 1;
        }
        let hold = DatasetHold {
            store: Some(self.clone()),
            name: name.to_owned(),
        };
        let (data, record) = self.load(name)?;
        Ok((hold, data, record))
    }
}

/// Where datasets live: a folder (one process), or the cluster's registry and object store
/// ([`crate::cluster`]). Uploads are read and checked into a local staging file either way.
/// Every method blocks: call them off the async runtime's workers.
pub trait DatasetRepository: std::fmt::Debug + Send + Sync {
    /// A new empty temporary file for an upload to be written to; removed when dropped.
    fn upload_file(&self) -> Result<NamedTempFile, DatasetError>;

    /// Reads the upload at `upload` as the data of `name` into a staged data file, ready for
    /// [`DatasetRepository::commit`]. Memory stays bounded whatever the upload's size.
    fn stage(
        &self,
        name: &str,
        upload: &Path,
        csv: &CsvOptions,
    ) -> Result<StagedDataset, DatasetError>;

    /// Stores `staged` as the dataset `name`; returns its record and whether it replaced one.
    /// An existing dataset is replaced only with `replace`, and never while a job uses it.
    fn commit(
        &self,
        name: &str,
        staged: StagedDataset,
        replace: bool,
    ) -> Result<(DatasetRecord, bool), DatasetError>;

    /// The record of `name`.
    fn record(&self, name: &str) -> Result<DatasetRecord, DatasetError>;

    /// Every readable dataset's record, sorted by name.
    fn list(&self) -> Result<Vec<DatasetRecord>, DatasetError>;

    /// The data `(rows, dim)` of `name`, with its record.
    fn load(&self, name: &str) -> Result<(Array2<f64>, DatasetRecord), DatasetError>;

    /// Removes `name`, unless a job uses it.
    fn delete(&self, name: &str) -> Result<(), DatasetError>;

    /// Claims `name` for a job and reads its data and record: while the hold lives (in a
    /// cluster: while the job is queued or running), the dataset is neither replaced nor
    /// deleted.
    fn hold(&self, name: &str) -> Result<(DatasetHold, Array2<f64>, DatasetRecord), DatasetError>;
}

/// The datasets a service works with: shared, cheap to clone.
pub type Datasets = Arc<dyn DatasetRepository>;

/// What an upload says about itself, before it is stored.
#[derive(Debug, Clone)]
pub struct PendingRecord {
    dtype: String,
    features: Option<Vec<String>>,
    label_column: Option<String>,
    labels: Option<Vec<String>>,
}

impl PendingRecord {
    pub(super) fn new(
        dtype: &str,
        features: Option<Vec<String>>,
        label_column: Option<String>,
        labels: Option<Vec<String>>,
    ) -> PendingRecord {
        PendingRecord {
            dtype: dtype.to_owned(),
            features,
            label_column,
            labels,
        }
    }
}

/// An upload read and written as a data file, not yet a dataset: dropping it removes the file.
#[derive(Debug)]
pub struct StagedDataset {
    file: TempPath,
    rows: usize,
    dim: usize,
    bytes: u64,
    pending: PendingRecord,
}

impl StagedDataset {
    /// The record of the dataset `name` this upload makes, its data stored as `data_file`.
    pub(crate) fn record(&self, name: &str, data_file: String) -> DatasetRecord {
        let pending = self.pending.clone();
        DatasetRecord {
            name: name.to_owned(),
            rows: self.rows,
            dim: self.dim,
            dtype: pending.dtype,
            bytes: self.bytes,
            created_at: Timestamp::now(),
            features: pending.features,
            label_column: pending.label_column,
            labels: pending.labels,
            data_file,
        }
    }

    /// The staged data file (a `.npy` of float64).
    pub(crate) fn path(&self) -> &Path {
        &self.file
    }
}
