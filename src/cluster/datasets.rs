//! The datasets of several replicas: uploads read and checked into a local staging file (the
//! folder's code), the data then put in the object store and the record committed in the
//! `datasets` table, so every replica lists, trains on and predicts with every dataset. A
//! dataset is in use while a queued or running job's record names it.

use std::path::Path;
use std::sync::Arc;

use ndarray::Array2;
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};
use tempfile::NamedTempFile;

use super::blobs::STORE;
use super::{Cluster, db_error};
use crate::storage::{
    CsvOptions, DatasetError, DatasetHold, DatasetRecord, DatasetRepository, DatasetStore,
    StagedDataset, StorageError, data_from_npy, validate_name,
};

/// A cluster's datasets, as a [`DatasetRepository`].
#[derive(Debug, Clone)]
pub struct SharedDatasets {
    cluster: Arc<Cluster>,
    /// Where uploads are staged before they go to the object store.
    staging: DatasetStore,
}

impl SharedDatasets {
    pub fn new(cluster: Arc<Cluster>, staging: DatasetStore) -> Self {
        SharedDatasets { cluster, staging }
    }

    async fn stored(&self, name: &str) -> Result<Option<(DatasetRecord, String)>, DatasetError> {
        validate_name(name).map_err(|_| DatasetError::InvalidName(name.to_owned()))?;
        let row = sqlx::query("SELECT record, data_key FROM datasets WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.cluster.pool)
            .await
            .map_err(unavailable_db)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let unreadable = |err: sqlx::Error| DatasetError::Unreadable {
            name: name.to_owned(),
            reason: err.to_string(),
        };
        let Json(record): Json<DatasetRecord> = row.try_get("record").map_err(unreadable)?;
        Ok(Some((record, row.try_get("data_key").map_err(unreadable)?)))
    }
}

/// Whether a queued or running job's record names `name` as its dataset, read in `tx`.
async fn in_use(tx: &mut Transaction<'_, Postgres>, name: &str) -> Result<bool, DatasetError> {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM models WHERE status IN ('queued', 'running') \
         AND record->>'dataset' = $1)",
    )
    .bind(name)
    .fetch_one(&mut **tx)
    .await
    .map_err(unavailable_db)
}

fn unavailable_db(err: sqlx::Error) -> DatasetError {
    match db_error(err) {
        StorageError::Unavailable(what) => DatasetError::Unavailable(what),
        _ => DatasetError::Unavailable(super::DATABASE),
    }
}

fn unavailable_store(_: StorageError) -> DatasetError {
    DatasetError::Unavailable(STORE)
}

impl DatasetRepository for SharedDatasets {
    fn upload_file(&self) -> Result<NamedTempFile, DatasetError> {
        self.staging.upload_file()
    }

    fn stage(
        &self,
        name: &str,
        upload: &Path,
        csv: &CsvOptions,
    ) -> Result<StagedDataset, DatasetError> {
        self.staging.stage(name, upload, csv)
    }

    fn commit(
        &self,
        name: &str,
        staged: StagedDataset,
        replace: bool,
    ) -> Result<(DatasetRecord, bool), DatasetError> {
        validate_name(name).map_err(|_| DatasetError::InvalidName(name.to_owned()))?;
        let key = format!("datasets/{name}/{:016x}.npy", rand::random::<u64>());
        let record = staged.record(name, key.clone());
        self.cluster.block_on(async {
            let blobs = &self.cluster.blobs;
            blobs
                .put_file(&key, staged.path())
                .await
                .map_err(unavailable_store)?;
            let committed = async {
                let mut tx = self.cluster.pool.begin().await.map_err(unavailable_db)?;
                let old: Option<String> =
                    sqlx::query_scalar("SELECT data_key FROM datasets WHERE name = $1 FOR UPDATE")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(unavailable_db)?;
                if old.is_some() && !replace {
                    return Err(DatasetError::AlreadyExists(name.to_owned()));
                }
                if old.is_some() && in_use(&mut tx, name).await? {
                    return Err(DatasetError::InUse(name.to_owned()));
                }
                // Without `replace`, a name claimed meanwhile by another replica's upload
                // (no row to lock above) is not overwritten: the insert does nothing.
                let written = sqlx::query(
                    "INSERT INTO datasets (name, record, data_key) VALUES ($1, $2, $3) \
                     ON CONFLICT (name) DO UPDATE SET record = $2, data_key = $3, \
                     changed_at = now() WHERE $4",
                )
                .bind(name)
                .bind(Json(&record))
                .bind(&key)
                .bind(replace)
                .execute(&mut *tx)
                .await
                .map_err(unavailable_db)?;
                if written.rows_affected() == 0 {
                    return Err(DatasetError::AlreadyExists(name.to_owned()));
                }
                tx.commit().await.map_err(unavailable_db)?;
                Ok(old.is_some())
            }
            .await;
            // A replaced dataset's old data stays for a reader that already has its key; the
            // sweep removes it an hour later.
            match committed {
                Ok(replaced) => Ok((record.clone(), replaced)),
                // Refused: nothing names the new data. Any other failure may have come after
                // the commit landed: the sweep removes it if no row names it.
                Err(err @ (DatasetError::AlreadyExists(_) | DatasetError::InUse(_))) => {
                    blobs.discard(&key).await;
                    Err(err)
                }
                Err(err) => Err(err),
            }
        })
    }

    fn record(&self, name: &str) -> Result<DatasetRecord, DatasetError> {
        (self.cluster.block_on(self.stored(name))?)
            .map(|(record, _)| record)
            .ok_or_else(|| DatasetError::NotFound(name.to_owned()))
    }

    fn list(&self) -> Result<Vec<DatasetRecord>, DatasetError> {
        let records: Vec<Json<DatasetRecord>> = self
            .cluster
            .block_on(
                sqlx::query_scalar("SELECT record FROM datasets ORDER BY name")
                    .fetch_all(&self.cluster.pool),
            )
            .map_err(unavailable_db)?;
        Ok(records.into_iter().map(|Json(record)| record).collect())
    }

    fn load(&self, name: &str) -> Result<(Array2<f64>, DatasetRecord), DatasetError> {
        let (record, key) = (self.cluster.block_on(self.stored(name))?)
            .ok_or_else(|| DatasetError::NotFound(name.to_owned()))?;
        let unreadable = |reason: String| DatasetError::Unreadable {
            name: name.to_owned(),
            reason,
        };
        let bytes = (self.cluster.block_on(self.cluster.blobs.get(&key)))
            .map_err(unavailable_store)?
            .ok_or_else(|| unreadable("its data is missing from the object store".into()))?;
        let data = data_from_npy(&bytes).map_err(unreadable)?;
        drop(bytes);
        if data.dim() != (record.rows, record.dim) {
            return Err(unreadable("its data disagrees with its record".into()));
        }
        Ok((data, record))
    }

    fn delete(&self, name: &str) -> Result<(), DatasetError> {
        validate_name(name).map_err(|_| DatasetError::InvalidName(name.to_owned()))?;
        self.cluster.block_on(async {
            let mut tx = self.cluster.pool.begin().await.map_err(unavailable_db)?;
            if in_use(&mut tx, name).await? {
                return Err(DatasetError::InUse(name.to_owned()));
            }
            let key: Option<String> =
                sqlx::query_scalar("DELETE FROM datasets WHERE name = $1 RETURNING data_key")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(unavailable_db)?;
            let key = key.ok_or_else(|| DatasetError::NotFound(name.to_owned()))?;
            tx.commit().await.map_err(unavailable_db)?;
            self.cluster.blobs.discard(&key).await;
            Ok(())
        })
    }

    fn hold(&self, name: &str) -> Result<(DatasetHold, Array2<f64>, DatasetRecord), DatasetError> {
        let (data, record) = self.load(name)?;
        Ok((DatasetHold::in_registry(name), data, record))
    }
}
