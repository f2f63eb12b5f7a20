//! The model registry: `/list-of-models`, `/download/{name}`, `/models...`, `/health`.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};

use super::body::read_body;
use super::error::{ApiError, ErrorOut, Failure};
use super::jobs::job_status;
use super::name::{DownloadName, ModelName};
use super::schema::{self, status_schema};
use super::state::AppState;
use crate::som::{Compatibility, InitMethod, SomError};
use crate::storage::{
    DataRecord, ModelMeta, NpyError, OptionsRecord, ScalerRecord, StorageError, TrainingStatus,
    weights_from_npy, weights_to_npy,
};

#[utoipa::path(get, path = "/list-of-models", tag = "models",
    description = "Names of every complete model, sorted. Files dropped into the models folder appear without a restart.",
    responses((status = 200, description = "Model names", body = Vec<String>, example = json!(["100X100_1000N", "10X10_100N", "10X10_200N", "10X10_500N"]))))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<String>>, Failure> {
    let names = blocking(move || state.store.list()).await??;
    Ok(Json(names.to_vec()))
}

/// The units `/download` serves weights in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Units {
    /// The stored weights, in the units the map was trained in.
    #[default]
    Scaled,
    /// Converted back to the data's units with the model's scaler.
    Data,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DownloadOptions {
    /// `scaled` (default): the stored weights, in the units the map was trained in (scaled
    /// units for a scaled model); `data`: converted back to the data's units with the model's
    /// scaler (the stored weights for a model without one).
    #[param(value_type = Option<Units>, inline)]
    units: Option<Units>,
}

fn units(query: Result<Query<DownloadOptions>, QueryRejection>) -> Result<Units, ApiError> {
    let Query(options) = query.map_err(|_| SomError::InvalidOption {
        field: "units",
        message: "units must be \"scaled\" (the stored weights, the default) or \"data\" (converted back to the data's units with the model's scaler)".into(),
    })?;
    Ok(options.units.unwrap_or_default())
}

#[utoipa::path(get, path = "/download/{name}", tag = "models",
    description = "The weights as .npy (little-endian f64, shape (rows, cols, D)); a trailing .npy on the name is ignored. A scaled model's weights are stored in scaled units: ?units=data converts them back to the data's units.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N"), DownloadOptions),
    responses(
        (status = 200, description = "The .npy bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, description = "No such model, or its job is still queued or running (the body then has status and progress)", body = ErrorOut, example = json!({"message": "the model \"NAME\" is not trained yet: its job is running", "code": "model_not_found", "status": "running", "progress": 0.42})),
        (status = 410, description = "The job was cancelled", body = ErrorOut, example = json!({"message": "the training of \"NAME\" was cancelled", "code": "job_cancelled"})), (status = 500, description = "The training failed", body = ErrorOut, example = json!({"message": "the training of \"NAME\" failed: interrupted", "code": "job_failed"})),
        (status = 422, description = "units is neither scaled nor data", body = ErrorOut, example = json!({"message": "units must be \"scaled\" (the stored weights, the default) or \"data\" (converted back to the data's units with the model's scaler)", "code": "invalid_option"})),
    ))]
pub async fn download(
    State(state): State<AppState>,
    DownloadName(name): DownloadName,
    query: Result<Query<DownloadOptions>, QueryRejection>,
) -> Result<Response, Failure> {
    let units = units(query)?;
    let job_meta = (state.jobs.view(&name).await)
        .map_err(ApiError::from)?
        .map(|job| job.meta);
    let store = state.store.clone();
    let read = name.clone();
    // The record decides first (a failed or pending job has no weights to serve); then the
    // weights are read and checked in the same blocking task.
    let (meta, bytes, etag) = blocking(move || {
        let meta = match job_meta {
            Some(meta) => Some(meta),
            None => match store.meta(&read) {
                Ok(meta) => meta,
                Err(err @ StorageError::Unavailable(_)) => return Err(err),
                // Unreadable records are read again below with the weights, which say why.
                Err(_) => None,
            },
        };
        if meta
            .as_ref()
            .is_some_and(|meta| meta.status != TrainingStatus::Succeeded)
        {
            return Ok((meta, Vec::new(), String::new()));
        }
        let bytes = match units {
            Units::Scaled => store.weights_bytes(&read)?,
            Units::Data => weights_to_npy(&store.load_map(&read)?.weights_in_data_units()),
        };
        let etag = format!("\"{:016x}\"", fingerprint(&bytes));
        Ok::<_, StorageError>((meta, bytes, etag))
    })
    .await??;
    if let Some(meta) = meta {
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
                let detail = job_status(&state, &name)
                    .await?
                    .map_or(Value::Null, |job| json!(job));
                return Err(ApiError::ModelPending {
                    name,
                    status,
                    detail,
                }
                .into());
            }
        }
    }
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

/// The options of SPEC §3b a map was trained with (the defaults for a map made before options
/// existed, imported or dropped in by hand).
#[derive(Serialize, ToSchema)]
pub struct OptionsOut {
    #[schema(schema_with = schema::topology_schema)]
    topology: &'static str,
    toroidal: bool,
    #[schema(schema_with = schema::neighbourhood_schema)]
    neighbourhood: &'static str,
    /// Starting radius; null when unknown (the grid is unknown).
    radius: Option<f64>,
    #[schema(schema_with = schema::schedule_schema)]
    schedule: &'static str,
    /// The last radius of the linear schedule; null for the others.
    final_radius: Option<f64>,
    /// The last learning rate of the linear schedule; null for the others and in batch mode.
    final_learning_rate: Option<f64>,
    #[schema(schema_with = schema::compatibility_schema)]
    compatibility: Option<&'static str>,
    #[schema(schema_with = schema::distance_schema)]
    distance: &'static str,
    #[schema(schema_with = schema::init_schema)]
    init: Option<&'static str>,
    #[schema(schema_with = schema::order_schema)]
    order: &'static str,
    #[schema(schema_with = schema::scaling_schema)]
    scaling: &'static str,
    #[schema(schema_with = schema::mode_schema)]
    mode: &'static str,
}

impl From<OptionsRecord> for OptionsOut {
    fn from(options: OptionsRecord) -> Self {
        OptionsOut {
            topology: options.topology.as_str(),
            toroidal: options.toroidal,
            neighbourhood: options.neighbourhood.as_str(),
            radius: options.radius,
            schedule: options.schedule.as_str(),
            final_radius: options.final_radius,
            final_learning_rate: options.final_learning_rate,
            compatibility: options.compatibility.map(Compatibility::as_str),
            distance: options.distance.as_str(),
            init: options.init.map(InitMethod::as_str),
            order: options.order.as_str(),
            scaling: options.scaling.as_str(),
            mode: options.mode.as_str(),
        }
    }
}

/// The scaling a scaled model's weights are in: per feature,
/// `scaled = (value - offset) / scale`.
#[derive(Serialize, ToSchema)]
pub struct ScalerOut {
    #[schema(schema_with = schema::scaling_schema)]
    kind: &'static str,
    offset: Vec<f64>,
    scale: Vec<f64>,
}

impl From<&ScalerRecord> for ScalerOut {
    fn from(scaler: &ScalerRecord) -> Self {
        ScalerOut {
            kind: scaler.kind.as_str(),
            offset: scaler.offset.clone(),
            scale: scaler.scale.clone(),
        }
    }
}

/// What `/models` shows of a model; `null` where unknown (a map imported or dropped in by hand
/// knows only its weights).
#[derive(Serialize, ToSchema)]
pub struct ModelOut {
    name: String,
    /// `[rows, columns]`.
    #[schema(value_type = Option<[u64; 2]>)]
    grid_shape: Option<[usize; 2]>,
    /// Components of each node's weight vector.
    dim: Option<usize>,
    /// When the training was accepted (RFC 3339, UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    created_at: Option<Timestamp>,
    /// The seed of the training's draws; null when it drew nothing (PCA or given weights,
    /// samples in the given order).
    seed: Option<u64>,
    /// Null in batch mode, which has none.
    learning_rate: Option<f64>,
    max_iterations: Option<usize>,
    /// In scaled units for a scaled model.
    quantization_error: Option<f64>,
    topographic_error: Option<f64>,
    training_seconds: Option<f64>,
    /// The stored dataset the map was trained on (`"dataset"` of `/train`); absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    dataset: Option<String>,
    options: OptionsOut,
    /// For a scaled model (`scaling` other than `none`); else null.
    scaler: Option<ScalerOut>,
}

impl From<&ModelMeta> for ModelOut {
    fn from(meta: &ModelMeta) -> Self {
        ModelOut {
            name: meta.name.clone(),
            grid_shape: meta.grid_shape,
            dim: meta.dim,
            created_at: meta.created_at,
            seed: meta.seed,
            learning_rate: meta.learning_rate,
            max_iterations: meta.max_iterations,
            quantization_error: meta.quantization_error,
            topographic_error: meta.topographic_error,
            training_seconds: meta.training_seconds,
            dataset: meta.dataset.clone(),
            options: meta.options().into(),
            scaler: meta.scaler.as_ref().map(ScalerOut::from),
        }
    }
}

/// One model: its summary and where its training stands.
#[derive(Serialize, ToSchema)]
pub struct ModelDetailOut {
    #[serde(flatten)]
    summary: ModelOut,
    #[schema(schema_with = status_schema)]
    status: &'static str,
    /// When the training ended (RFC 3339, UTC).
    #[schema(value_type = Option<String>, format = DateTime)]
    finished_at: Option<Timestamp>,
    /// Why the training failed, when it did.
    error: Option<String>,
    /// Batch mode: `[quantization error, topographic error]` after each iteration (of at most
    /// 1,000 evenly spaced ones, the first and last among them); null online.
    #[schema(value_type = Option<Vec<[f64; 2]>>)]
    quality_per_iteration: Option<Vec<[f64; 2]>>,
    /// The numbers (from 1) of the iterations `quality_per_iteration` belongs to; null when
    /// unknown.
    recorded_iterations: Option<Vec<usize>>,
    /// One name per feature (component of the weights), when the training was given them
    /// (`feature_names`, or a CSV dataset's header); else null.
    feature_names: Option<Vec<String>>,
    /// The distinct labels of the training rows, in order of first appearance (the indices
    /// of `GET /models/{name}/nodes` point into it); null when trained without labels.
    labels: Option<Vec<String>>,
}

/// The answer of `DELETE /models/{name}` and `DELETE /datasets/{name}`.
#[derive(Serialize, ToSchema)]
pub struct DeletedOut {
    name: String,
    /// Always true.
    deleted: bool,
}

impl DeletedOut {
    pub fn new(name: String) -> Self {
        DeletedOut {
            name,
            deleted: true,
        }
    }
}

/// `GET /models`: every complete model with what is known of it.
#[utoipa::path(get, path = "/models", tag = "models",
    description = "Every complete model with what is known of it (null where unknown, e.g. a .npy dropped in by hand).",
    responses((status = 200, description = "Model summaries", body = Vec<ModelOut>, example = json!([{"name": "10X10_100N", "grid_shape": [10, 10], "dim": 3, "created_at": "2026-11-27T09:30:00Z", "seed": 1, "learning_rate": 0.1, "max_iterations": 100, "quantization_error": 0.01, "topographic_error": 0.0, "training_seconds": 0.0002}]))))]
pub async fn list_details(State(state): State<AppState>) -> Result<Json<Vec<ModelOut>>, Failure> {
    let summaries = blocking(move || {
        let names = state.store.list()?;
        let mut summaries = Vec::with_capacity(names.len());
        for name in names.iter() {
            match state.store.describe(name) {
                Ok(meta) => summaries.push(ModelOut::from(&meta)),
                // Deleted since the listing was made.
                Err(StorageError::NotFound(_)) => {}
                // A partial list would read as models gone: the whole answer is a 503.
                Err(err @ StorageError::Unavailable(_)) => return Err(err),
                Err(err) => {
                    tracing::warn!(model = %name, error = %err, "cannot describe a listed model");
                }
            }
        }
        Ok::<_, StorageError>(summaries)
    })
    .await??;
    Ok(Json(summaries))
}

/// `GET /models/{name}`: the summary plus where its training stands; also for a model whose
/// job is still queued or running, failed or was cancelled.
#[utoipa::path(get, path = "/models/{name}", tag = "models", operation_id = "get_model",
    description = "One model's summary, plus status, finished_at and error; also while its job is queued or running.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses((status = 200, description = "The model", body = ModelDetailOut), (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"}))))]
pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<ModelDetailOut>, Failure> {
    // A job that succeeded keeps no copy of what its model knows of the data: the store has it.
    let job = state.jobs.view(&name).await.map_err(ApiError::from)?;
    let mut meta = match job {
        Some(job) if job.meta.status != TrainingStatus::Succeeded => job.meta,
        _ => {
            let store = state.store.clone();
            blocking(move || store.describe(&name)).await??
        }
    };
    let (feature_names, labels) = match meta.data.take() {
        Some(data) => (data.feature_names, data.labels),
        None => (None, None),
    };
    Ok(Json(ModelDetailOut {
        summary: ModelOut::from(&meta),
        status: meta.status.as_str(),
        finished_at: meta.finished_at,
        error: meta.error,
        quality_per_iteration: meta.quality_per_iteration,
        recorded_iterations: meta.recorded_iterations,
        feature_names,
        labels,
    }))
}

/// What the training data left on each node of a map, in columns indexed by the node's flat
/// index `i = row * cols + col` (`[row, col] = [i / cols, i % cols]`), each of `rows x cols`
/// entries.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"name": "blobs", "grid_shape": [1, 3], "hits": [2, 0, 3], "mean_distance": [0.12, null, 0.08], "feature_names": ["x", "y"], "labels": ["a", "b"], "majority_label": [0, null, 1], "label_counts": [[[0, 2]], [], [[0, 1], [1, 2]]]}))]
pub struct NodesOut {
    name: String,
    /// `[rows, columns]`.
    #[schema(value_type = [u64; 2])]
    grid_shape: [usize; 2],
    /// Training samples each node won (its hits); they sum to the number of rows.
    hits: Vec<u64>,
    /// Mean distance (the map's, in the units it was trained in) from each node to the
    /// samples it won; null where it won none.
    mean_distance: Vec<Option<f64>>,
    /// One name per feature, when the training was given them.
    feature_names: Option<Vec<String>>,
    /// The distinct labels, in order of first appearance; null without labels.
    labels: Option<Vec<String>>,
    /// Index into `labels` of the label most of each node's samples carried (ties: the
    /// smallest index); null where the node won none. Null without labels.
    #[schema(value_type = Option<Vec<Option<u32>>>)]
    majority_label: Option<Vec<Option<u32>>>,
    /// `[label index, count]` pairs of each node's samples, in increasing index (empty where
    /// it won none). Null without labels.
    #[schema(value_type = Option<Vec<Vec<[u64; 2]>>>)]
    label_counts: Option<Vec<Vec<[u64; 2]>>>,
}

/// `GET /models/{name}/nodes`: the stored summary of the training data per node.
#[utoipa::path(get, path = "/models/{name}/nodes", tag = "models", operation_id = "get_model_nodes",
    description = "What the training data left on each node of the map: hits, mean distance to the samples won, and, for a model trained with labels, the majority label and the label counts. Columns indexed by the node's flat index row * cols + col.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "The summary per node", body = NodesOut),
        (status = 404, description = "No such model, or it has no summary (imported, trained before summaries were kept, or not trained yet)", body = ErrorOut, example = json!({"message": "the model \"my-map\" has no summary of its training data: it was imported, trained before summaries were kept, or is not trained yet", "code": "no_node_summary"})),
    ))]
pub async fn nodes(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<NodesOut>, Failure> {
    // The columns are as long as the map has nodes (a million on a 1000x1000 map): built off
    // the runtime, as the record is read.
    let store = state.store.clone();
    let nodes = blocking(move || {
        let meta = store.describe(&name)?;
        let (
            Some(DataRecord {
                feature_names,
                labels,
                nodes,
            }),
            Some(grid_shape),
        ) = (meta.data, meta.grid_shape)
        else {
            return Err(ApiError::NoNodeSummary(name));
        };
        Ok(NodesOut {
            name,
            grid_shape,
            majority_label: nodes.majority_labels(),
            hits: nodes.hits(),
            mean_distance: nodes.mean_distances(),
            feature_names,
            labels,
            label_counts: nodes.label_counts(),
        })
    })
    .await??;
    Ok(Json(nodes))
}

/// `DELETE /models/{name}`: removes its files and cached map; 409 while it trains.
#[utoipa::path(delete, path = "/models/{name}", tag = "models", operation_id = "delete_model",
    description = "Removes the model's files and its cached map.",
    params(("name" = String, Path, description = "Model name, e.g. 10X10_100N")),
    responses(
        (status = 200, description = "Deleted", body = DeletedOut, example = json!({"name": "my-map", "deleted": true})),
        (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})), (status = 409, description = "The model is still training: cancel its job first", body = ErrorOut, example = json!({"message": "the model \"NAME\" is still training: cancel its job with DELETE /jobs/NAME first", "code": "conflict"})),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<DeletedOut>, Failure> {
    state.jobs.forget(&name).await.map_err(ApiError::from)?;
    let deleted = name.clone();
    blocking(move || {
        state
            .store
            .delete(&deleted)
            .map(|()| state.models.forget(&deleted))
    })
    .await??;
    tracing::info!(model = %name, "model deleted");
    Ok(Json(DeletedOut::new(name)))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportOptions {
    /// Replace a model of the same name instead of answering 409.
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    replace: bool,
}

/// `PUT /models/{name}`: stores a `.npy` made elsewhere (the raw file as the body), checked
/// like any stored file and against the size limits. 201 when new, 200 when it replaced one.
#[utoipa::path(put, path = "/models/{name}", tag = "models", operation_id = "import_model",
    description = "Imports a map made elsewhere: the body is the bytes of a .npy of shape (rows, cols, D), f32 or f64, either byte order, C or Fortran order.",
    params(("name" = String, Path, description = "Model name, e.g. my-map"), ImportOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "A .npy file (any Content-Type is accepted)"),
    responses(
        (status = 201, description = "Imported", body = ModelOut),
        (status = 200, description = "Replaced an existing model", body = ModelOut),
        (status = 409, description = "A model of that name exists (add ?replace=true), or it is training", body = ErrorOut, example = json!({"message": "a model named \"my-map\" already exists: PUT /models/my-map?replace=true replaces it", "code": "conflict"})), (status = 422, description = "Not a usable .npy of weights, too large, or replace is not true or false", body = ErrorOut, example = json!({"message": "the body is not a usable .npy of weights (rows, cols, dim): the array has shape [4, 6]; a map needs 3 dimensions (rows, cols, dim)", "code": "invalid_data"})),
    ))]
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
    let body = read_body(request).await?;
    if body.bytes.is_empty() {
        return Err(ApiError::InvalidValue {
            code: "invalid_data",
            message: "the body is empty: send the bytes of a .npy file of weights (rows, cols, \
                      dim), e.g. curl -X PUT --data-binary @map.npy"
                .into(),
        }
        .into());
    }
    let job = state.jobs.view(&name).await.map_err(ApiError::from)?;
    if job.is_some_and(|job| job.meta.status.is_pending()) {
        return Err(ApiError::from(crate::jobs::JobError::Pending(name)).into());
    }
    let jobs = state.jobs.clone();
    let imported = name.clone();
    let (meta, replaced) = blocking(move || {
        // The header is checked against the size limits and the body's length before
        // anything is allocated for the array.
        let weights = weights_from_npy(&body.bytes, &state.limits).map_err(|err| match err {
            NpyError::TooLarge(err) => ApiError::Som(err),
            NpyError::Invalid(reason) => ApiError::InvalidValue {
                code: "invalid_data",
                message: format!(
                    "the body is not a usable .npy of weights (rows, cols, dim): {reason}"
                ),
            },
        })?;
        drop(body);
        let imported_model = state
            .store
            .import(&imported, &weights, options.replace)
            .map_err(|err| match err {
                StorageError::AlreadyExists(_) => ApiError::Conflict(format!(
                    "{err}: PUT /models/{imported}?replace=true replaces it"
                )),
                other => other.into(),
            })?;
        state.models.forget(&imported);
        Ok::<_, ApiError>(imported_model)
    })
    .await??;
    // An ended job of that name no longer describes what is stored.
    jobs.forget(&name).await.map_err(ApiError::from)?;
    tracing::info!(model = %name, replaced, "model imported");
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(ModelOut::from(&meta))).into_response())
}

/// FNV-1a: a stable fingerprint of a file's bytes for its `ETag`.
pub(super) fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

#[utoipa::path(get, path = "/health", tag = "service",
    description = "Whether the service is up, and its jobs. With several replicas, the state of each dependency (the database, the object store): 503 while one is down.",
    responses(
        (status = 200, description = "Up", body = HealthOut, example = json!({"status": "ok", "version": "0.1.0", "jobs": {"queued": 0, "running": 1}})),
        (status = 503, description = "A dependency of the replica is down", body = HealthOut, example = json!({"status": "unavailable", "version": "0.1.0", "jobs": null, "dependencies": {"database": "down", "store": "up"}})),
    ))]
pub async fn health(State(state): State<AppState>) -> Response {
    let dependencies = match &state.cluster {
        Some(cluster) => Some(cluster.health().await),
        None => None,
    };
    let counts = match dependencies {
        Some(health) if !health.database => None,
        _ => state.jobs.counts().await.ok(),
    };
    let up = counts.is_some() && dependencies.is_none_or(|health| health.database && health.store);
    let state_of = |up: bool| if up { "up" } else { "down" };
    let answer = HealthOut {
        status: if up { "ok" } else { "unavailable" },
        version: env!("CARGO_PKG_VERSION"),
        jobs: counts.map(|(queued, running)| JobCountsOut { queued, running }),
        dependencies: dependencies.map(|health| DependenciesOut {
            database: state_of(health.database),
            store: state_of(health.store),
        }),
    };
    if up {
        (StatusCode::OK, Json(answer)).into_response()
    } else {
        // As every 503 of the service: when to ask again.
        let retry = [(header::RETRY_AFTER, "1")];
        (StatusCode::SERVICE_UNAVAILABLE, retry, Json(answer)).into_response()
    }
}

/// The answer of `/health`.
#[derive(Serialize, ToSchema)]
pub struct HealthOut {
    /// "ok", or "unavailable" while a dependency is down.
    #[schema(example = "ok")]
    status: &'static str,
    /// The server's version.
    version: &'static str,
    /// Null while the job queue cannot be read.
    jobs: Option<JobCountsOut>,
    /// Only with several replicas (`--database-url`, `--store`).
    #[serde(skip_serializing_if = "Option::is_none")]
    dependencies: Option<DependenciesOut>,
}

/// Whether each dependency of a replica answers: "up" or "down".
#[derive(Serialize, ToSchema)]
pub struct DependenciesOut {
    database: &'static str,
    store: &'static str,
}

/// Trainings waiting for a slot and training now.
#[derive(Serialize, ToSchema)]
pub struct JobCountsOut {
    queued: usize,
    running: usize,
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
