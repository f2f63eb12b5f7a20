//! Uploaded training data: `PUT/GET/DELETE /datasets/{name}`, `GET /datasets`.
//!
//! An upload is streamed to a temporary file of the datasets folder chunk by chunk, outside the
//! JSON body limit, the in-flight budget and the total body deadline, up to
//! `--max-dataset-bytes` (413 past it); only then is it read, in a blocking task and a chunk or
//! a line at a time, as a `.npy` (it starts with `\x93NUMPY`, whatever the `Content-Type`
//! says) or as CSV.

use std::io::Write;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::BodyExt;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::body::body_error;
use super::error::{ApiError, ErrorOut, Failure};
use super::models::{DeletedOut, blocking};
use super::name::ModelName;
use super::state::AppState;
use crate::som::SomError;
use crate::storage::table::parse_delimiter;
use crate::storage::{CsvOptions, DatasetRecord};

/// What the API shows of a dataset (its labels are kept, not listed).
#[derive(Serialize, ToSchema)]
pub struct DatasetOut {
    name: String,
    rows: usize,
    dim: usize,
    /// What was uploaded: `float32` or `float64` (a `.npy`) or `csv`; stored as float64.
    dtype: String,
    /// Bytes of the stored data.
    bytes: u64,
    #[schema(value_type = String, format = DateTime)]
    created_at: Timestamp,
    /// The numeric columns' names, from a CSV header.
    features: Option<Vec<String>>,
    /// The CSV column kept as the rows' labels.
    label_column: Option<String>,
}

impl From<DatasetRecord> for DatasetOut {
    fn from(record: DatasetRecord) -> Self {
        DatasetOut {
            name: record.name,
            rows: record.rows,
            dim: record.dim,
            dtype: record.dtype,
            bytes: record.bytes,
            created_at: record.created_at,
            features: record.features,
            label_column: record.label_column,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UploadOptions {
    /// Replace a dataset of the same name instead of answering 409 (never one a queued or
    /// running job uses).
    #[serde(default)]
    #[param(value_type = Option<bool>)]
    replace: bool,
    /// A CSV column kept as text, the rows' labels, instead of a feature.
    label_column: Option<String>,
    /// The CSV delimiter: one character that cannot be part of a number, or `tab`; detected
    /// among `,` `;` and tab when not given.
    #[param(example = ";")]
    delimiter: Option<String>,
}

#[utoipa::path(put, path = "/datasets/{name}", tag = "datasets", operation_id = "put_dataset",
    description = "Stores training data under a name: a .npy (float32 or float64, 2-D, C or Fortran order) when the body starts with \\x93NUMPY, whatever the Content-Type; CSV otherwise (UTF-8, an optional byte order mark, the delimiter given by ?delimiter= or detected among ',', ';' and tab, the first row a header when none of its fields is a number). Every value must be a finite number, except the column named by ?label_column=, kept as the rows' labels. Streamed to disk, up to --max-dataset-bytes (default 4 GiB), not the JSON body limit.",
    params(("name" = String, Path, description = "Dataset name, e.g. colours"), UploadOptions),
    request_body(content = Vec<u8>, content_type = "application/octet-stream", description = "A .npy file or CSV text"),
    responses(
        (status = 201, description = "Stored", body = DatasetOut),
        (status = 200, description = "Replaced an existing dataset", body = DatasetOut),
        (status = 409, description = "A dataset of that name exists (add ?replace=true), or a queued or running job uses it", body = ErrorOut, example = json!({"message": "a dataset named \"colours\" already exists: PUT /datasets/colours?replace=true replaces it", "code": "conflict"})),
        (status = 413, description = "Over --max-dataset-bytes", body = ErrorOut, example = json!({"message": "the request body is over the limit of 4294967296 bytes", "code": "body_too_large"})),
        (status = 422, description = "Not usable data, or a delimiter that is not one character outside numbers", body = ErrorOut, example = json!({"message": "the CSV body cannot be read: line 3, column 2: \"x\" is not a number", "code": "invalid_data"})),
    ))]
pub async fn put(
    State(state): State<AppState>,
    ModelName(name): ModelName,
    options: Result<Query<UploadOptions>, QueryRejection>,
    request: Request,
) -> Result<Response, Failure> {
    let Query(options) = options.map_err(|_| ApiError::InvalidType {
        field: "replace",
        expected: "true or false",
    })?;
    // Every option is checked before a byte of the body is read.
    let delimiter = options
        .delimiter
        .as_deref()
        .map(parse_delimiter)
        .transpose();
    let delimiter = delimiter.map_err(|message| {
        ApiError::from(SomError::InvalidOption {
            field: "delimiter",
            message: format!("delimiter: {message}"),
        })
    })?;
    let limit = state.max_dataset_bytes;
    let too_large = || ApiError::BodyTooLarge(usize::try_from(limit).unwrap_or(usize::MAX));
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return Err(too_large().into());
    }
    let store = state.datasets.clone();
    let (upload, file) = blocking(move || {
        let upload = store.upload_file()?;
        let file = upload.reopen().map_err(|err| {
            tracing::error!(error = %err, "cannot reopen an upload file");
            ApiError::Internal
        })?;
        Ok::<_, ApiError>((upload, file))
    })
    .await??;
    let received = stream_to_file(request.into_body(), file, limit).await?;
    if received == 0 {
        return Err(ApiError::InvalidValue {
            code: "invalid_data",
            message: "the body is empty: send a .npy file or CSV text, e.g. curl -X PUT --data-binary @data.csv".into(),
        }
        .into());
    }
    let csv = CsvOptions {
        delimiter,
        label_column: options.label_column,
    };
    let store = state.datasets.clone();
    let stored = name.clone();
    let (record, replaced) = blocking(move || {
        let staged = store.stage(&stored, upload.path(), &csv)?;
        drop(upload);
        store
            .commit(&stored, staged, options.replace)
            .map_err(|err| match err {
                crate::storage::DatasetError::AlreadyExists(_) => ApiError::Conflict(format!(
                    "{err}: PUT /datasets/{stored}?replace=true replaces it"
                )),
                other => other.into(),
            })
    })
    .await??;
    tracing::info!(dataset = %name, rows = record.rows, dim = record.dim, replaced, "dataset stored");
    let status = if replaced {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(DatasetOut::from(record))).into_response())
}

/// Writes the body's chunks to `file` in a blocking task as they arrive; returns the bytes
/// written, or 413 once they pass `limit`.
async fn stream_to_file(body: Body, mut file: std::fs::File, limit: u64) -> Result<u64, ApiError> {
    let (chunks, mut receiver) = tokio::sync::mpsc::channel::<Bytes>(8);
    let writer = tokio::task::spawn_blocking(move || {
        while let Some(chunk) = receiver.blocking_recv() {
            file.write_all(&chunk)?;
        }
        file.sync_all()
    });
    let mut body = body;
    let mut received = 0u64;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(body_error)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        received += data.len() as u64;
        if received > limit {
            return Err(ApiError::BodyTooLarge(
                usize::try_from(limit).unwrap_or(usize::MAX),
            ));
        }
        if chunks.send(data).await.is_err() {
            break;
        }
    }
    drop(chunks);
    let written = writer.await.map_err(|err| {
        tracing::error!(error = %err, "the upload writer panicked");
        ApiError::Internal
    })?;
    written.map_err(|err| {
        tracing::error!(error = %err, "cannot write an upload");
        ApiError::Internal
    })?;
    Ok(received)
}

#[utoipa::path(get, path = "/datasets", tag = "datasets", operation_id = "list_datasets",
    description = "Every stored dataset, sorted by name.",
    responses((status = 200, description = "Dataset summaries", body = Vec<DatasetOut>)))]
pub async fn list(State(state): State<AppState>) -> Result<Json<Vec<DatasetOut>>, Failure> {
    let records = blocking(move || state.datasets.list()).await??;
    Ok(Json(records.into_iter().map(DatasetOut::from).collect()))
}

#[utoipa::path(get, path = "/datasets/{name}", tag = "datasets", operation_id = "get_dataset",
    description = "The dataset's record: rows, dim, the uploaded dtype, stored bytes, when it came, and a CSV's feature names and label column.",
    params(("name" = String, Path, description = "Dataset name")),
    responses(
        (status = 200, description = "The dataset's record", body = DatasetOut),
        (status = 404, description = "No such dataset", body = ErrorOut, example = json!({"message": "no dataset named \"x\"", "code": "dataset_not_found"})),
    ))]
pub async fn get(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<DatasetOut>, Failure> {
    let record = blocking(move || state.datasets.record(&name)).await??;
    Ok(Json(record.into()))
}

#[utoipa::path(delete, path = "/datasets/{name}", tag = "datasets", operation_id = "delete_dataset",
    description = "Removes the dataset's data and record; 409 while a queued or running job uses it.",
    params(("name" = String, Path, description = "Dataset name")),
    responses(
        (status = 200, description = "Deleted", body = DeletedOut, example = json!({"name": "colours", "deleted": true})),
        (status = 404, description = "No such dataset", body = ErrorOut),
        (status = 409, description = "A queued or running job uses it", body = ErrorOut, example = json!({"message": "the dataset \"colours\" is used by a queued or running job", "code": "conflict"})),
    ))]
pub async fn delete(
    State(state): State<AppState>,
    ModelName(name): ModelName,
) -> Result<Json<DeletedOut>, Failure> {
    let deleted = name.clone();
    blocking(move || state.datasets.delete(&deleted)).await??;
    tracing::info!(dataset = %name, "dataset deleted");
    Ok(Json(DeletedOut::new(name)))
}
