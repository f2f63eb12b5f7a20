//! The model registry: `/list-of-models`, `/download/{name}`, `/health`.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::error::{ApiError, Failure};
use super::jobs::job_status;
use super::state::AppState;
use crate::storage::{TrainingStatus, validate_name, weights_from_npy};

pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<String>>, Failure> {
    let names = blocking(move || state.store.list()).await??;
    Ok(Json(names.to_vec()))
}

pub async fn download(
    State(state): State<AppState>,
    Path(name): Path<String>,
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
                let status = if pending == TrainingStatus::Queued {
                    "queued"
                } else {
                    "running"
                };
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

/// FNV-1a: a stable fingerprint of a file's bytes for its `ETag`.
fn fingerprint(bytes: &[u8]) -> u64 {
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
