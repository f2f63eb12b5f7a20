//! The models of several replicas: records in PostgreSQL's `models` table, weights in the
//! object store under the key the row names (see the invariants in [`super`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use ndarray::Array3;
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};

use super::{Cluster, MODELS_CHANNEL, db_error};
use crate::som::SizeLimits;
use crate::storage::{
    LoadedMap, ModelMeta, ModelRepository, StorageError, TrainingStatus, validate_name,
    weights_from_npy, weights_to_npy,
};

/// How old an object no row names must be before the sweep removes it: far longer than any
/// put takes to be followed by its row's commit.
const ORPHAN_AGE: Duration = Duration::from_secs(3600);

/// The advisory lock the orphan sweep holds, so one replica sweeps at a time.
const SWEEP_LOCK: i64 = 0x6b6f_686f_6e65_6e01;

/// The registry and weights of a cluster, as a [`ModelRepository`].
#[derive(Debug, Clone)]
pub struct ClusterRepository {
    cluster: Arc<Cluster>,
    limits: SizeLimits,
}

impl ClusterRepository {
    pub fn new(cluster: Arc<Cluster>, limits: SizeLimits) -> Self {
        ClusterRepository { cluster, limits }
    }

    /// Removes the objects no row names and no put in flight can still name (older than
    /// [`ORPHAN_AGE`]): weights of replaced or deleted models whose removal failed, and those
    /// of a replica that died between a put and its commit. One replica at a time.
    pub async fn sweep_orphans(&self) -> Result<usize, StorageError> {
        let mut connection = self.cluster.pool.acquire().await.map_err(db_error)?;
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
            .bind(SWEEP_LOCK)
            .fetch_one(&mut *connection)
            .await
            .map_err(db_error)?;
        if !locked {
            return Ok(0);
        }
        let swept = self.sweep_unlocked().await;
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(SWEEP_LOCK)
            .execute(&mut *connection)
            .await;
        if let Err(err) = unlocked {
            tracing::warn!(error = %err, "cannot release the sweep's lock (it goes with the connection)");
        }
        swept
    }

    async fn sweep_unlocked(&self) -> Result<usize, StorageError> {
        let blobs = &self.cluster.blobs;
        let mut removed = 0;
        for (folder, query) in [
            (
                "models",
                "SELECT EXISTS (SELECT 1 FROM models WHERE weights_key = $1)",
            ),
            // A job's input is needed only while it may still be trained.
            (
                "inputs",
                "SELECT EXISTS (SELECT 1 FROM jobs j JOIN models m ON m.name = j.name \
                 WHERE m.status IN ('queued', 'running') AND j.input_key = split_part($1, '/', 1) || '/' || split_part($1, '/', 2))",
            ),
            // A waiting `/train` takes its additions within a moment of the job's end: older
            // ones were left by a client that went away.
            ("verbose", "SELECT false"),
            (
                "datasets",
                "SELECT EXISTS (SELECT 1 FROM datasets WHERE data_key = $1)",
            ),
        ] {
            for key in blobs.keys_older_than(folder, ORPHAN_AGE).await? {
                let named: bool = sqlx::query_scalar(query)
                    .bind(&key)
                    .fetch_one(&self.cluster.pool)
                    .await
                    .map_err(db_error)?;
                if !named {
                    blobs.delete(&key).await?;
                    removed += 1;
                }
            }
        }
        if removed > 0 {
            tracing::info!(removed, "orphaned objects removed");
        }
        Ok(removed)
    }

    async fn record(&self, name: &str) -> Result<Option<StoredModel>, StorageError> {
        validate_name(name)?;
        let row = sqlx::query("SELECT record, weights_key, version FROM models WHERE name = $1")
            .bind(name)
            .fetch_optional(&self.cluster.pool)
            .await
            .map_err(db_error)?;
        row.map(|row| StoredModel::read(name, &row)).transpose()
    }

    /// The weights of a complete model and its row; not found for a pending one.
    async fn weights(&self, name: &str) -> Result<(Vec<u8>, StoredModel), StorageError> {
        let stored = self
            .record(name)
            .await?
            .filter(|stored| stored.meta.status == TrainingStatus::Succeeded)
            .ok_or_else(|| StorageError::NotFound(name.to_owned()))?;
        let key = stored
            .weights_key
            .as_deref()
            .ok_or_else(|| StorageError::NotFound(name.to_owned()))?;
        let bytes = (self.cluster.blobs.get(key).await?)
            .ok_or_else(|| StorageError::NotFound(name.to_owned()))?;
        Ok((bytes, stored))
    }

    fn checked_weights(&self, name: &str, bytes: &[u8]) -> Result<Array3<f64>, StorageError> {
        weights_from_npy(bytes, &self.limits).map_err(|err| StorageError::InvalidWeights {
            name: name.to_owned(),
            reason: err.to_string(),
        })
    }

    /// Puts `weights` under a new key of `name` (before any row names it) and gives the key.
    async fn put_weights(&self, name: &str, weights: &Array3<f64>) -> Result<String, StorageError> {
        let key = format!("models/{name}/{:016x}.npy", rand::random::<u64>());
        self.cluster
            .blobs
            .put(&key, weights_to_npy(weights))
            .await?;
        Ok(key)
    }

    /// Writes `meta` (and, when given, the key of its new weights) as `meta.name`'s row in
    /// `tx`, announcing the change at commit; gives the key of the weights it replaced.
    pub(super) async fn write(
        tx: &mut Transaction<'_, Postgres>,
        meta: &ModelMeta,
        weights_key: Option<&str>,
    ) -> Result<Option<String>, StorageError> {
        let old: Option<Option<String>> =
            sqlx::query_scalar("SELECT weights_key FROM models WHERE name = $1 FOR UPDATE")
                .bind(&meta.name)
                .fetch_optional(&mut **tx)
                .await
                .map_err(db_error)?;
        sqlx::query(
            "INSERT INTO models (name, status, record, weights_key) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (name) DO UPDATE SET status = $2, record = $3, \
             weights_key = COALESCE($4, models.weights_key), version = nextval('model_versions'), \
             changed_at = now()",
        )
        .bind(&meta.name)
        .bind(meta.status.as_str())
        .bind(Json(meta))
        .bind(weights_key)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        announce(tx, &meta.name).await?;
        Ok(old.flatten().filter(|_| weights_key.is_some()))
    }
}

/// Commits with `tx` a notification that `name` changed: every replica drops its cached
/// listing and version of it.
async fn announce(tx: &mut Transaction<'_, Postgres>, name: &str) -> Result<(), StorageError> {
    notify(tx, MODELS_CHANNEL, name).await
}

/// Commits with `tx` a notification on `channel`.
pub(super) async fn notify(
    tx: &mut Transaction<'_, Postgres>,
    channel: &str,
    payload: &str,
) -> Result<(), StorageError> {
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(channel)
        .bind(payload)
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
    Ok(())
}

/// Claims a free name in `tx`, `base` or `base_2`, `base_3`, ..., with the row of `meta` (the
/// table's primary key decides between replicas). Returns the name.
pub(super) async fn claim_name_in(
    tx: &mut Transaction<'_, Postgres>,
    base: &str,
    meta: &ModelMeta,
) -> Result<String, StorageError> {
    validate_name(base)?;
    // Names taken by trainings of the same second and shape: the suffixes in use.
    let taken: Vec<String> =
        sqlx::query_scalar("SELECT name FROM models WHERE name = $1 OR name LIKE $1 || '\\_%'")
            .bind(base)
            .fetch_all(&mut **tx)
            .await
            .map_err(db_error)?;
    let mut suffix = 1;
    loop {
        let name = match suffix {
            1 => base.to_owned(),
            n => format!("{base}_{n}"),
        };
        suffix += 1;
        if taken.contains(&name) {
            continue;
        }
        let record = ModelMeta {
            name: name.clone(),
            ..meta.clone()
        };
        let inserted = sqlx::query(
            "INSERT INTO models (name, status, record) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(&name)
        .bind(record.status.as_str())
        .bind(Json(&record))
        .execute(&mut **tx)
        .await
        .map_err(db_error)?;
        if inserted.rows_affected() == 1 {
            return Ok(name);
        }
    }
}

/// A model's row.
#[derive(Debug)]
struct StoredModel {
    meta: ModelMeta,
    weights_key: Option<String>,
    version: i64,
}

impl StoredModel {
    fn read(name: &str, row: &sqlx::postgres::PgRow) -> Result<StoredModel, StorageError> {
        let invalid = |err: sqlx::Error| StorageError::InvalidMeta {
            name: name.to_owned(),
            source: serde::de::Error::custom(err),
        };
        let Json(meta): Json<ModelMeta> = row.try_get("record").map_err(invalid)?;
        Ok(StoredModel {
            meta,
            weights_key: row.try_get("weights_key").map_err(invalid)?,
            version: row.try_get("version").map_err(invalid)?,
        })
    }

    fn version_tag(&self) -> String {
        format!("v{}", self.version)
    }
}

impl ModelRepository for ClusterRepository {
    fn list(&self) -> Result<Arc<[String]>, StorageError> {
        let caches = &self.cluster.caches;
        if let Some(names) = caches.listing() {
            return Ok(names);
        }
        let (generation, started) = (caches.before_query(), Instant::now());
        let names: Vec<String> = self
            .cluster
            .block_on(
                sqlx::query_scalar(
                    "SELECT name FROM models WHERE status = 'succeeded' \
                     AND weights_key IS NOT NULL ORDER BY name",
                )
                .fetch_all(&self.cluster.pool),
            )
            .map_err(db_error)?;
        let names: Arc<[String]> = names.into();
        caches.keep_listing(generation, started, &names);
        Ok(names)
    }

    fn pending_names(&self) -> Result<Vec<String>, StorageError> {
        self.cluster
            .block_on(
                sqlx::query_scalar(
                    "SELECT name FROM models WHERE status IN ('queued', 'running') ORDER BY name",
                )
                .fetch_all(&self.cluster.pool),
            )
            .map_err(db_error)
    }

    fn describe(&self, name: &str) -> Result<ModelMeta, StorageError> {
        self.meta(name)?
            .ok_or_else(|| StorageError::NotFound(name.to_owned()))
    }

    fn meta(&self, name: &str) -> Result<Option<ModelMeta>, StorageError> {
        Ok(self
            .cluster
            .block_on(self.record(name))?
            .map(|stored| stored.meta))
    }

    fn load_map_versioned(&self, name: &str) -> Result<(LoadedMap, String), StorageError> {
        let (bytes, stored) = self.cluster.block_on(self.weights(name))?;
        let weights = self.checked_weights(name, &bytes)?;
        let map = crate::storage::loaded_map(name, &weights, Some(&stored.meta))?;
        Ok((map, stored.version_tag()))
    }

    fn weights_bytes(&self, name: &str) -> Result<Vec<u8>, StorageError> {
        let (bytes, _) = self.cluster.block_on(self.weights(name))?;
        self.checked_weights(name, &bytes)?;
        Ok(bytes)
    }

    fn version(&self, name: &str) -> Result<String, StorageError> {
        let caches = &self.cluster.caches;
        if let Some(version) = caches.version(name) {
            return Ok(version);
        }
        let (generation, started) = (caches.before_query(), Instant::now());
        let stored = self
            .cluster
            .block_on(self.record(name))?
            .filter(|stored| stored.weights_key.is_some())
            .ok_or_else(|| StorageError::NotFound(name.to_owned()))?;
        let version = stored.version_tag();
        caches.keep_version(generation, started, name, &version);
        Ok(version)
    }

    fn exists(&self, name: &str) -> Result<bool, StorageError> {
        Ok(self.cluster.block_on(self.record(name))?.is_some())
    }

    fn save_meta(&self, meta: &ModelMeta) -> Result<(), StorageError> {
        validate_name(&meta.name)?;
        self.cluster.block_on(async {
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            Self::write(&mut tx, meta, None).await?;
            tx.commit().await.map_err(db_error)
        })
    }

    fn commit_model(&self, meta: &ModelMeta, weights: &Array3<f64>) -> Result<(), StorageError> {
        validate_name(&meta.name)?;
        self.cluster.block_on(async {
            let key = self.put_weights(&meta.name, weights).await?;
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            let replaced = Self::write(&mut tx, meta, Some(&key)).await?;
            tx.commit().await.map_err(db_error)?;
            if let Some(old) = replaced {
                self.cluster.blobs.discard(&old).await;
            }
            Ok(())
        })
    }

    fn claim_name(&self, base: &str, meta: ModelMeta) -> Result<String, StorageError> {
        self.cluster.block_on(async {
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            let name = claim_name_in(&mut tx, base, &meta).await?;
            tx.commit().await.map_err(db_error)?;
            Ok(name)
        })
    }

    fn import(
        &self,
        name: &str,
        weights: &Array3<f64>,
        replace: bool,
    ) -> Result<(ModelMeta, bool), StorageError> {
        validate_name(name)?;
        let meta = ModelMeta::imported(name, weights.dim());
        self.cluster.block_on(async {
            let key = self.put_weights(name, weights).await?;
            let imported = async {
                let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
                let status: Option<String> =
                    sqlx::query_scalar("SELECT status FROM models WHERE name = $1 FOR UPDATE")
                        .bind(name)
                        .fetch_optional(&mut *tx)
                        .await
                        .map_err(db_error)?;
                let existed = status.is_some();
                let pending =
                    status.is_some_and(|status| status == "queued" || status == "running");
                if existed && (!replace || pending) {
                    return Err(StorageError::AlreadyExists(name.to_owned()));
                }
                // An ended job of that name no longer describes what is stored.
                sqlx::query("DELETE FROM jobs WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                let replaced = Self::write(&mut tx, &meta, Some(&key)).await?;
                tx.commit().await.map_err(db_error)?;
                Ok((existed, replaced))
            }
            .await;
            match imported {
                Ok((existed, replaced)) => {
                    if let Some(old) = replaced {
                        self.cluster.blobs.discard(&old).await;
                    }
                    Ok((meta.clone(), existed))
                }
                // Refused: nothing names the new weights. Any other failure may have come
                // after the commit landed: the sweep removes them if no row names them.
                Err(err @ StorageError::AlreadyExists(_)) => {
                    self.cluster.blobs.discard(&key).await;
                    Err(err)
                }
                Err(err) => Err(err),
            }
        })
    }

    fn delete(&self, name: &str) -> Result<(), StorageError> {
        validate_name(name)?;
        self.cluster.block_on(async {
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            let key: Option<Option<String>> =
                sqlx::query_scalar("DELETE FROM models WHERE name = $1 RETURNING weights_key")
                    .bind(name)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(db_error)?;
            let Some(key) = key else {
                return Err(StorageError::NotFound(name.to_owned()));
            };
            announce(&mut tx, name).await?;
            tx.commit().await.map_err(db_error)?;
            if let Some(key) = key {
                self.cluster.blobs.discard(&key).await;
            }
            Ok(())
        })
    }
}
