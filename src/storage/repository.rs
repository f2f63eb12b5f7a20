//! The model repository seam: what the handlers, the job runner and the command line may ask
//! of wherever models live. Two implementations: a folder ([`super::FolderRepository`], one
//! process) and PostgreSQL records with object-store weights ([`crate::cluster`], any number
//! of replicas). Every method blocks (files, or a database and a store reached over the
//! network): call them off the async runtime's workers.

use std::fmt::Debug;
use std::sync::Arc;

use ndarray::Array3;

use super::{DataRecord, LoadedMap, ModelMeta, StorageError};

/// Where models live. A model is its weights and its record, changed together: a reader sees
/// both of one commit, never a torn pair.
pub trait ModelRepository: Debug + Send + Sync {
    /// Names of every complete (succeeded, readable) model, sorted.
    fn list(&self) -> Result<Arc<[String]>, StorageError>;

    /// Names of every model whose record says it is queued or running.
    fn pending_names(&self) -> Result<Vec<String>, StorageError>;

    /// What is known of `name`: its record, with the grid shape and dimension filled in from
    /// the weights when the record is missing or silent. Not found when neither exists.
    fn describe(&self, name: &str) -> Result<ModelMeta, StorageError>;

    /// The record of `name`, or `None` when it has none.
    fn meta(&self, name: &str) -> Result<Option<ModelMeta>, StorageError>;

    /// `name`'s weights with the options and scaler of its record, and the version they were
    /// read at (see [`ModelRepository::version`]).
    fn load_map_versioned(&self, name: &str) -> Result<(LoadedMap, String), StorageError>;

    /// The stored `.npy` bytes of `name`'s weights, checked to read as weights: what a
    /// download serves.
    fn weights_bytes(&self, name: &str) -> Result<Vec<u8>, StorageError>;

    /// The version of `name`'s weights and record, as text: it changes whenever either does,
    /// so it keys what is derived from them (a cached map, a picture's `ETag`).
    fn version(&self, name: &str) -> Result<String, StorageError>;

    /// Whether anything is stored under `name` (a model, a pending job's record, or something
    /// that is neither but holds the name).
    fn exists(&self, name: &str) -> Result<bool, StorageError>;

    /// Stores the record `meta` alone: one that does not go with new weights (a job queued,
    /// running, failed or cancelled).
    fn save_meta(&self, meta: &ModelMeta) -> Result<(), StorageError>;

    /// Stores trained `weights` and their final record `meta` under `meta.name` as one change.
    fn commit_model(&self, meta: &ModelMeta, weights: &Array3<f64>) -> Result<(), StorageError>;

    /// Claims a free name for a new model, `base` or `base_2`, `base_3`, ..., by storing
    /// `meta` under it before anyone else can take it. Returns the name.
    fn claim_name(&self, base: &str, meta: ModelMeta) -> Result<String, StorageError>;

    /// Stores `weights`, made elsewhere, as the model `name` with a record that knows only
    /// their shape and when they came; returns it and whether a model was replaced. An
    /// existing model is replaced only when `replace` is set; otherwise it is
    /// [`StorageError::AlreadyExists`] and nothing is written.
    fn import(
        &self,
        name: &str,
        weights: &Array3<f64>,
        replace: bool,
    ) -> Result<(ModelMeta, bool), StorageError>;

    /// Removes `name`'s weights and record as one change. Not found when neither existed.
    fn delete(&self, name: &str) -> Result<(), StorageError>;

    /// `name`'s weights with the options and scaler of its record: the map as predictions and
    /// pictures use it.
    fn load_map(&self, name: &str) -> Result<LoadedMap, StorageError> {
        Ok(self.load_map_versioned(name)?.0)
    }

    /// What `name` knows of the data it was trained on (feature names, labels, the summary per
    /// node); `None` for a model without it. Not found when there is no such model.
    fn data_record(&self, name: &str) -> Result<Option<DataRecord>, StorageError> {
        Ok(self.describe(name)?.data)
    }
}

/// The repository a service or a command works with: shared, cheap to clone.
pub type ModelStore = Arc<dyn ModelRepository>;

/// Weights read for `name` and its record, as one map; a record that does not fit the
/// weights is [`StorageError::InvalidMeta`].
pub(crate) fn loaded_map(
    name: &str,
    weights: &Array3<f64>,
    meta: Option<&ModelMeta>,
) -> Result<LoadedMap, StorageError> {
    LoadedMap::new(weights.view(), meta).map_err(|reason| StorageError::InvalidMeta {
        name: name.to_owned(),
        source: serde::de::Error::custom(reason),
    })
}
