//! The model registry: `/list-of-models`, `/download/{name}`, `/models...`, `/health`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};

use super::body::read_body;
use super::error::{ApiError, Failure};
use super::jobs::job_status;
use super::name::ModelName;
use super::state::AppState;
use crate::storage::{ModelMeta, StorageError, TrainingStatus, validate_name, weights_from_npy};

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<String>>, Failure> {
    let names = blocking(move || state.store.list()).await??;
    Ok(Json(names.to_vec()))
}

pub async fn download(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Response, Failure> {
    let name = name.strip_suffix(".npy").unwrap_or(&name).to_owned();
    validate_name(&name)?;
    if let Some(meta) = state
        .jobs
        .get(&name)
        .map(|job| job.meta())
        .or_else(|| state.store.meta(&name).ok().flatten())
    {
        match meta.status {
            TrainingStatus::Succeeded => {}
            TrainingStatus::Failed => {
                return Err(ApiError::JobFailed {
                    name,
                    reason: meta.error.unwrap_or_default(),
                }
                .into());
            }
            TrainingStatus::Cancelled => return Err(ApiError::JobCancelled(name).into()),
            pending @ (TrainingStatus::Queued | TrainingStatus::Running) => {
                let status = pending.as_str();
                let detail = job_status(&state, &name).unwrap_or(Value::Null);
                return Err(ApiError::ModelPending {
                    name,
                    status,
                    detail,
                }
                .into());
            }
        }
    }
    let path = state.store.weights_path(&name)?;
    let read_name = name.clone();
    let bytes = blocking(move || {
        let bytes = std::fs::read(&path)
            .map_err(|_| crate::storage::StorageError::NotFound(read_name.clone()))?;
        weights_from_npy(&bytes).map_err(|reason| {
            crate::storage::StorageError::InvalidWeights {
                name: read_name,
                reason,
            }
        })?;
        Ok::<_, crate::storage::StorageError>(bytes)
    })
    .await??;
    let etag = format!("\"{:016x}\"", fingerprint(&bytes));
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.npy\""),
            ),
            (header::ETAG, etag),
        ],
        bytes,
    )
        .into_response())
}

/// What `/models` shows of a model.
fn summary(meta: &ModelMeta) -> Value {
    json!({
        "name": meta.name,
        "grid_shape": meta.grid_shape,
        "dim": meta.dim,
        "created_at": meta.created_at,
        "seed": meta.seed,
        "learning_rate": meta.learning_rate,
        "max_iterations": meta.max_iterations,
        "quantization_error": meta.quantization_error,
        "topographic_error": meta.topographic_error,
        "training_seconds": meta.training_seconds,
    })
}

/// `GET /models`: every complete model with what is known of it.
pub async fn list_details(State(state): State<AppState>) -> Result<Json<Vec<Value>>, Failure> {
    let summaries = blocking(move || {
        let names = state.store.list()?;
        let summaries = names
            .iter()
            .filter_map(|name| match state.store.describe(name) {
                Ok(meta) => Some(summary(&meta)),
                // Deleted since the listing was made.
                Err(StorageError::NotFound(_)) => None,
                Err(err) => {
                    tracing::warn!(model = %name, error = %err, "cannot describe a listed model");
                    None
                }
            })
            .collect::<Vec<_>>();
        Ok::<_, StorageError>(summaries)
    })
    .await??;
    Ok(Json(summaries))
}

/// `GET /models/{name}`: the summary plus where its training stands; also for a model whose
/// job is still queued or running, failed or was cancelled.
pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<Value>, Failure> {
    let meta = match state.jobs.get(&name) {
        Some(job) => job.meta(),
        None => {
            let store = state.store.clone();
            blocking(move || store.describe(&name)).await??
        }
    };
    let mut body = summary(&meta);
    body["status"] = json!(meta.status);
    body["finished_at"] = json!(meta.finished_at);
    body["error"] = json!(meta.error);
    Ok(Json(body))
}

/// `DELETE /models/{name}`: removes its files and cached map; 409 while it trains.
pub async fn delete(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<Value>, Failure> {
    state.jobs.forget(&name).map_err(ApiError::from)?;
    let deleted = name.clone();
    blocking(move || {
        state
            .store
            .delete(&deleted)
            .map(|()| state.models.forget(&deleted))
    })
    .await??;
    tracing::info!(model = %name, "model deleted");
    Ok(Json(json!({"name": name, "deleted": true})))
}

#[derive(Deserialize)]
pub struct ImportOptions {
    /// Replace a model of the same name instead of answering 409.
    #[serde(default)]
    replace: bool,
}

/// `PUT /models/{name}`: stores a `.npy` made elsewhere (the raw file as the body), checked
/// like any stored file and against the size limits. 201 when new, 200 when it replaced one.
pub async fn import(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    options: Result<Query<ImportOptions>, QueryRejection>,
    request: Request,
) -> Result<Response, Failure> {
    let Query(options) = options.map_err(|_| ApiError::InvalidType {
        field: "replace",
        expected: "true or false",
    })?;
    let bytes = read_body(request).await?;
    if bytes.is_empty() {
        return Err(ApiError::InvalidValue {
            code: "invalid_data",
            message: "the body is empty: send the bytes of a .npy file of weights (rows, cols, \
                      dim), e.g. curl -X PUT --data-binary @map.npy"
                .into(),
        }
        .into());
    }
    if state
        .jobs
        .get(&name)
        .is_some_and(|job| job.status().is_pending())
    {
        return Err(ApiError::from(crate::jobs::JobError::Pending(name)).into());
    }
    let imported = name.clone();
    let (meta, replaced) = blocking(move || {
        let weights = weights_from_npy(&bytes).map_err(|reason| ApiError::InvalidValue {
            code: "invalid_data",
            message: format!(
                "the body is not a usable .npy of weights (rows, cols, dim): {reason}"
            ),
        })?;
        let (rows, cols, dim) = weights.dim();
        state.limits.check(rows, cols, dim)?;
        let replaced = state.store.exists(&imported)?;
        let meta = state
            .store
            .import(&imported, &weights, options.replace)
            .map_err(|err| match err {
                StorageError::AlreadyExists(_) => ApiError::Conflict(format!(
                    "{err}: PUT /models/{imported}?replace=true replaces it"
                )),
                other => other.into(),
            })?;
        state.models.forget(&imported);
        Ok::<_, ApiError>((meta, replaced))
    })
    .await??;
    tracing::info!(model = %name, replaced, "model imported");
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(summary(&meta))).into_response())
}

/// FNV-1a: a stable fingerprint of a file's bytes for its `ETag`.
pub(super) fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub async fn health(State(state): State<AppState>) -> Json<Value> {
    let (queued, running) = state.jobs.counts();
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "jobs": {"queued": queued, "running": running},
    }))
}

/// Runs blocking work (file reads, CPU work) off the async runtime's threads.
pub async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Failure> {
    let span = tracing::Span::current();
    tokio::task::spawn_blocking(move || span.in_scope(work))
        .await
        .map_err(|err| {
            tracing::error!(error = %err, "blocking work panicked");
            ApiError::Internal.into()
        })
}
