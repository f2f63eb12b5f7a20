//! `GET /jobs`, `GET /jobs/{name}` and `DELETE /jobs/{name}`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use super::error::{ApiError, Failure};
use super::name::ModelName;
use super::state::AppState;
use crate::jobs::JobView;
use crate::storage::{ModelMeta, TrainingStatus};

/// The status of job `name` as the API shows it, if there is such a job. Blocking: it may
/// read the job's `.json`.
pub fn job_status(state: &AppState, name: &str) -> Option<Value> {
    let view = match state.jobs.get(name) {
        Some(job) => job.view(),
        None => JobView {
            meta: state.store.meta(name).ok()??,
            cancel_requested: false,
            eta_seconds: None,
        },
    };
    Some(describe(&view))
}

fn describe(view: &JobView) -> Value {
    let meta: &ModelMeta = &view.meta;
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
        "eta_seconds": view.eta_seconds,
        "cancel_requested": view.cancel_requested,
        "error": meta.error,
    })
}

#[utoipa::path(get, path = "/jobs", tag = "jobs", operation_id = "list_jobs",
    description = "The queued and running jobs and the last 100 that ended (since the server started), newest first.",
    responses(
        (status = 200, description = "The jobs", body = Vec<Object>, example = json!([{"name": "NAME", "status": "running", "iterations_done": 420, "max_iterations": 1000, "progress": 0.42, "created_at": "2026-11-27T10:50:44Z", "started_at": "2026-11-27T10:50:44Z", "finished_at": null, "eta_seconds": 12.5, "cancel_requested": false, "error": null}])),
    ))]
pub async fn list(State(state): State<AppState>) -> Json<Vec<Value>> {
    Json(
        (state.jobs.list().iter())
            .map(|job| describe(&job.view()))
            .collect(),
    )
}

#[utoipa::path(get, path = "/jobs/{name}", tag = "jobs", operation_id = "get_job",
    description = "Where a training stands: status (queued, running, succeeded, failed, cancelled), progress 0..1, ETA while running, and whether a cancel was asked that it has not yet obeyed.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "The job", body = Object, example = json!({"name": "NAME", "status": "running", "iterations_done": 420, "max_iterations": 1000, "progress": 0.42, "created_at": "2026-11-27T10:50:44Z", "started_at": "2026-11-27T10:50:44Z", "finished_at": null, "eta_seconds": 12.5, "cancel_requested": false, "error": null})),
        (status = 400, description = "The name breaks the naming rule", body = Object, example = json!({"message": "invalid model name \"../x\": use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.'", "code": "invalid_name"})), (status = 404, description = "No such job", body = Object, example = json!({"message": "no job named \"x\"", "code": "job_not_found"})),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<Value>, Failure> {
    let lookup = name.clone();
    let status = tokio::task::spawn_blocking(move || job_status(&state, &lookup))
        .await
        .map_err(|_| ApiError::Internal)?;
    status
        .map(Json)
        .ok_or_else(|| ApiError::JobNotFound(name).into())
}

#[utoipa::path(delete, path = "/jobs/{name}", tag = "jobs", operation_id = "cancel_job",
    description = "Cancels a job. A queued job is cancelled at once (200) and leaves the queue; a running one is asked to stop (202, cancel_requested) and is cancelled within a second; an ended one is 409.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "The queued job is cancelled", body = Object, example = json!({"name": "NAME", "status": "cancelled"})),
        (status = 202, description = "The running job is asked to stop", body = Object, example = json!({"name": "NAME", "status": "running", "cancel_requested": true})),
        (status = 400, description = "The name breaks the naming rule", body = Object, example = json!({"message": "invalid model name \"../x\": use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.'", "code": "invalid_name"})), (status = 404, description = "No such job", body = Object, example = json!({"message": "no job named \"x\"", "code": "job_not_found"})), (status = 409, description = "The job has already ended", body = Object, example = json!({"message": "the job \"NAME\" has already ended (succeeded): nothing to cancel", "code": "conflict"})),
    ))]
pub async fn cancel(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<(StatusCode, Json<Value>), Failure> {
    let view = state.jobs.cancel(&name).await.map_err(ApiError::from)?;
    Ok(match view.meta.status {
        TrainingStatus::Running => (
            StatusCode::ACCEPTED,
            Json(json!({"name": name, "status": "running", "cancel_requested": true})),
        ),
        status => (
            StatusCode::OK,
            Json(json!({"name": name, "status": status})),
        ),
    })
}
