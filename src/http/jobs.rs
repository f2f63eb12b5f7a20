//! `GET /jobs/{name}` and `DELETE /jobs/{name}`.

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorOut, Failure};
use super::name::ModelName;
use super::schema::status_schema;
use super::state::AppState;
use crate::storage::ModelMeta;

/// Where a training stands (times RFC 3339 UTC, null when not yet).
#[derive(Serialize, ToSchema)]
pub struct JobOut {
    name: String,
    #[schema(schema_with = status_schema)]
    status: &'static str,
    iterations_done: usize,
    max_iterations: Option<usize>,
    /// `iterations_done / max_iterations`.
    #[schema(minimum = 0, maximum = 1)]
    progress: f64,
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    finished_at: Option<Timestamp>,
    /// Seconds left, estimated from the pace so far, while it runs.
    eta_seconds: Option<f64>,
    /// Why it failed, when it did.
    error: Option<String>,
}

/// The answer of `DELETE /jobs/{name}`.
#[derive(Serialize, ToSchema)]
pub struct CancelOut {
    name: String,
    #[schema(schema_with = status_schema)]
    status: &'static str,
}

/// The status of job `name` as the API shows it, if there is such a job.
pub fn job_status(state: &AppState, name: &str) -> Option<JobOut> {
    let (meta, eta) = match state.jobs.get(name) {
        Some(job) => (job.meta(), job.eta_seconds()),
        None => (state.store.meta(name).ok()??, None),
    };
    Some(describe(&meta, eta))
}

fn describe(meta: &ModelMeta, eta_seconds: Option<f64>) -> JobOut {
    let progress = match meta.max_iterations {
        Some(total) if total > 0 => meta.iterations_done as f64 / total as f64,
        _ => 0.0,
    };
    JobOut {
        name: meta.name.clone(),
        status: meta.status.as_str(),
        iterations_done: meta.iterations_done,
        max_iterations: meta.max_iterations,
        progress,
        created_at: meta.created_at,
        started_at: meta.started_at,
        finished_at: meta.finished_at,
        eta_seconds,
        error: meta.error.clone(),
    }
}

#[utoipa::path(get, path = "/jobs/{name}", tag = "jobs", operation_id = "get_job",
    description = "Where a training stands: status (queued, running, succeeded, failed, cancelled), progress 0..1, ETA.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "The job", body = JobOut, example = json!({"name": "NAME", "status": "running", "iterations_done": 420, "max_iterations": 1000, "progress": 0.42, "created_at": "2026-11-27T10:50:44Z", "started_at": "2026-11-27T10:50:44Z", "finished_at": null, "eta_seconds": 12.5, "error": null})),
        (status = 404, description = "No such job", body = ErrorOut, example = json!({"message": "no job named \"x\"", "code": "job_not_found"})),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<JobOut>, Failure> {
    job_status(&state, &name)
        .map(Json)
        .ok_or_else(|| ApiError::JobNotFound(name).into())
}

#[utoipa::path(delete, path = "/jobs/{name}", tag = "jobs", operation_id = "cancel_job",
    description = "Cancels a queued or running job.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "Cancelled", body = CancelOut, example = json!({"name": "NAME", "status": "cancelled"})),
        (status = 404, description = "No such job", body = ErrorOut, example = json!({"message": "no job named \"x\"", "code": "job_not_found"})), (status = 409, description = "The job has already ended", body = ErrorOut, example = json!({"message": "the job \"NAME\" has already ended (Succeeded): nothing to cancel", "code": "conflict"})),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<CancelOut>, Failure> {
    let status = match state.jobs.get(&name) {
        Some(job) => job.status(),
        None => match state.store.meta(&name)? {
            Some(meta) => meta.status,
            None => return Err(ApiError::JobNotFound(name).into()),
        },
    };
    if !status.is_pending() {
        return Err(ApiError::Conflict(format!(
            "the job {name:?} has already ended ({}): nothing to cancel",
            status.as_str()
        ))
        .into());
    }
    let status = state.jobs.cancel(&name).map_err(ApiError::from)?;
    Ok(Json(CancelOut {
        name,
        status: status.as_str(),
    }))
}
