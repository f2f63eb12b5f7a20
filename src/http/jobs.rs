//! `GET /jobs/{name}` and `DELETE /jobs/{name}`.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::{ApiError, Failure};
use super::name::ModelName;
use super::state::AppState;
use crate::storage::ModelMeta;

/// The status of job `name` as the API shows it, if there is such a job.
pub fn job_status(state: &AppState, name: &str) -> Option<Value> {
    let (meta, eta) = match state.jobs.get(name) {
        Some(job) => (job.meta(), job.eta_seconds()),
        None => (state.store.meta(name).ok()??, None),
    };
    Some(describe(&meta, eta))
}

fn describe(meta: &ModelMeta, eta_seconds: Option<f64>) -> Value {
    let progress = match meta.max_iterations {
        Some(total) if total > 0 => meta.iterations_done as f64 / total as f64,
        _ => 0.0,
    };
    json!({
        "name": meta.name,
        "status": meta.status,
        "iterations_done": meta.iterations_done,
        "max_iterations": meta.max_iterations,
        "progress": progress,
        "created_at": meta.created_at,
        "started_at": meta.started_at,
        "finished_at": meta.finished_at,
        "eta_seconds": eta_seconds,
        "error": meta.error,
    })
}

pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<Value>, Failure> {
    job_status(&state, &name)
        .map(Json)
        .ok_or_else(|| ApiError::JobNotFound(name).into())
}

pub async fn cancel(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<Value>, Failure> {
    match state.jobs.cancel(&name) {
        Ok(status) => Ok(Json(json!({"name": name, "status": status}))),
        Err(_) => match state.store.meta(&name)? {
            Some(meta) => Err(ApiError::Conflict(format!(
                "the job {name:?} has already ended ({:?}): nothing to cancel",
                meta.status
            ))
            .into()),
            None => Err(ApiError::JobNotFound(name).into()),
        },
    }
}
