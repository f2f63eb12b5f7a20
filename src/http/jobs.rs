//! `GET /jobs`, `GET /jobs/{name}` and `DELETE /jobs/{name}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use jiff::Timestamp;
use serde::Serialize;
use utoipa::ToSchema;

use super::error::{ApiError, ErrorOut, Failure};
use super::models::blocking;
use super::name::ModelName;
use super::schema::status_schema;
use super::state::AppState;
use crate::jobs::JobView;
use crate::storage::TrainingStatus;

/// Where a training stands (times RFC 3339 UTC, null when not yet).
#[derive(Serialize, ToSchema)]
pub struct JobOut {
    name: String,
    #[schema(schema_with = status_schema)]
    status: &'static str,
    iterations_done: usize,
    max_iterations: Option<usize>,
    /// The fraction of the work done: within an iteration while it runs (counted in
    /// samples), else `iterations_done / max_iterations`.
    #[schema(minimum = 0, maximum = 1)]
    progress: f64,
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    started_at: Option<Timestamp>,
    #[schema(value_type = Option<String>, format = DateTime)]
    finished_at: Option<Timestamp>,
    /// Seconds left, estimated from the pace so far; null unless it runs.
    eta_seconds: Option<f64>,
    /// A cancel was asked that the running training has not yet obeyed.
    cancel_requested: bool,
    /// Why it failed, when it did.
    error: Option<String>,
    /// The replica that trains it, or trained it last (its `--replica-id`); null before it
    /// starts.
    worker: Option<String>,
}

/// The answer of `DELETE /jobs/{name}`.
#[derive(Serialize, ToSchema)]
pub struct CancelOut {
    name: String,
    /// `cancelled` (a queued job, at once) or `running` (asked to stop).
    #[schema(schema_with = status_schema)]
    status: &'static str,
    /// Present, true, while a running job has been asked to stop.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    cancel_requested: bool,
}

/// The status of job `name` as the API shows it, if there is such a job: the queue's, else
/// the model's record (read on the blocking pool).
pub async fn job_status(state: &AppState, name: &str) -> Result<Option<JobOut>, Failure> {
    if let Some(view) = state.jobs.view(name).await.map_err(ApiError::from)? {
        return Ok(Some(describe(&view)));
    }
    let store = state.store.clone();
    let name = name.to_owned();
    let meta = blocking(move || store.meta(&name)).await??;
    Ok(meta.map(|meta| describe(&JobView::of_record(meta))))
}

fn describe(view: &JobView) -> JobOut {
    let meta = &view.meta;
    JobOut {
        name: meta.name.clone(),
        status: meta.status.as_str(),
        iterations_done: meta.iterations_done,
        max_iterations: meta.max_iterations,
        progress: view.progress,
        created_at: meta.created_at,
        started_at: meta.started_at,
        finished_at: meta.finished_at,
        eta_seconds: view.eta_seconds,
        cancel_requested: view.cancel_requested,
        error: meta.error.clone(),
        worker: view.worker.clone(),
    }
}

#[utoipa::path(get, path = "/jobs", tag = "jobs", operation_id = "list_jobs",
    description = "The queued and running jobs and the last 100 that ended (since the server started), newest first.",
    responses(
        (status = 200, description = "The jobs", body = Vec<JobOut>, example = json!([{"name": "NAME", "status": "running", "iterations_done": 420, "max_iterations": 1000, "progress": 0.42, "created_at": "2026-11-27T10:50:44Z", "started_at": "2026-11-27T10:50:44Z", "finished_at": null, "eta_seconds": 12.5, "cancel_requested": false, "error": null}])),
    ))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<JobOut>>, Failure> {
    let jobs = state.jobs.list().await.map_err(ApiError::from)?;
    Ok(Json(jobs.iter().map(describe).collect()))
}

#[utoipa::path(get, path = "/jobs/{name}", tag = "jobs", operation_id = "get_job",
    description = "Where a training stands: status (queued, running, succeeded, failed, cancelled), progress 0..1, ETA while running, and whether a cancel was asked that it has not yet obeyed.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "The job", body = JobOut, example = json!({"name": "NAME", "status": "running", "iterations_done": 420, "max_iterations": 1000, "progress": 0.42, "created_at": "2026-11-27T10:50:44Z", "started_at": "2026-11-27T10:50:44Z", "finished_at": null, "eta_seconds": 12.5, "cancel_requested": false, "error": null})),
        (status = 404, description = "No such job", body = ErrorOut, example = json!({"message": "no job named \"x\"", "code": "job_not_found"})),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<JobOut>, Failure> {
    job_status(&state, &name)
        .await?
        .map(Json)
        .ok_or_else(|| ApiError::JobNotFound(name).into())
}

#[utoipa::path(delete, path = "/jobs/{name}", tag = "jobs", operation_id = "cancel_job",
    description = "Cancels a job. A queued job is cancelled at once (200) and leaves the queue; a running one is asked to stop (202, cancel_requested) and is cancelled within a second; an ended one is 409.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "The queued job is cancelled", body = CancelOut, example = json!({"name": "NAME", "status": "cancelled"})),
        (status = 202, description = "The running job is asked to stop", body = CancelOut, example = json!({"name": "NAME", "status": "running", "cancel_requested": true})),
        (status = 404, description = "No such job", body = ErrorOut, example = json!({"message": "no job named \"x\"", "code": "job_not_found"})),
        (status = 409, description = "The job has already ended", body = ErrorOut, example = json!({"message": "the job \"NAME\" has already ended (succeeded): nothing to cancel", "code": "conflict"})),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<(StatusCode, Json<CancelOut>), Failure> {
    let view = state.jobs.cancel(&name).await.map_err(ApiError::from)?;
    let status = view.meta.status;
    let answer = CancelOut {
        name,
        status: status.as_str(),
        cancel_requested: status == TrainingStatus::Running,
    };
    let code = match status {
        TrainingStatus::Running => StatusCode::ACCEPTED,
        _ => StatusCode::OK,
    };
    Ok((code, Json(answer)))
}
