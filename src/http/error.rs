//! The one error type of the HTTP edge, turned into `{"message", "code"}` once, here.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use crate::jobs::JobError;
use crate::render::RenderError;
use crate::som::SomError;
use crate::storage::{DatasetError, StorageError};
use crate::training::NamesError;

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidJson(String),
    #[error("the field {0:?} is missing")]
    MissingField(&'static str),
    #[error("the field {field:?} must be {expected}")]
    InvalidType {
        field: &'static str,
        expected: &'static str,
    },
    /// A value of the right type that is not allowed, with the code that names the field.
    #[error("{message}")]
    InvalidValue { code: &'static str, message: String },
    /// A feature name or label the rules refuse.
    #[error(transparent)]
    Names(#[from] NamesError),
    #[error(transparent)]
    Som(#[from] SomError),
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Dataset(#[from] DatasetError),
    #[error(transparent)]
    Render(#[from] RenderError),
    #[error("no job named {0:?}")]
    JobNotFound(String),
    #[error("the model {name:?} is not trained yet: its job is {status}")]
    ModelPending {
        name: String,
        status: &'static str,
        detail: Value,
    },
    #[error("the training of {name:?} failed: {reason}")]
    JobFailed { name: String, reason: String },
    #[error("the training of {0:?} was cancelled")]
    JobCancelled(String),
    #[error(
        "the model {0:?} has no summary of its training data: it was imported, trained before summaries were kept, or is not trained yet"
    )]
    NoNodeSummary(String),
    #[error(
        "the model {0:?} was trained without labels: send labels (or a dataset with a label_column) when training"
    )]
    NoLabels(String),
    #[error("{0}")]
    Conflict(String),
    #[error("the job queue is full: try again in a few seconds")]
    QueueFull,
    #[error("the request body is over the limit of {0} bytes")]
    BodyTooLarge(usize),
    #[error("the server is reading too many request bodies at once: try again in a second")]
    Busy,
    #[error("the request body stopped arriving: send it at once, then wait for the answer")]
    BodyTimeout,
    #[error(
        "requests from the web origin {0:?} are refused: this server answers pages of its own origin, and those its operator allows with --allowed-origin"
    )]
    ForbiddenOrigin(String),
    #[error("no such path: {0}")]
    NotFound(String),
    #[error("method {method} is not allowed on {path}")]
    MethodNotAllowed { method: String, path: String },
    /// A dependency of the service (its database, its object store) is down.
    #[error("{0} is unavailable now: try again in a few seconds")]
    Unavailable(String),
    #[error("internal error (details in the server log)")]
    Internal,
}

impl From<JobError> for ApiError {
    fn from(err: JobError) -> Self {
        match err {
            JobError::QueueFull(_) => ApiError::QueueFull,
            JobError::NotFound(name) => ApiError::JobNotFound(name),
            conflict @ (JobError::Pending(_) | JobError::Ended { .. }) => {
                ApiError::Conflict(conflict.to_string())
            }
            JobError::Storage(err) => err.into(),
            JobError::Unavailable(what) => ApiError::Unavailable(what),
            JobError::Internal => ApiError::Internal,
        }
    }
}

impl ApiError {
    /// The HTTP status and the error code of SPEC §4. Exhaustive on purpose: a new variant
    /// must decide both.
    pub fn status_and_code(&self) -> (StatusCode, &'static str) {
        use StatusCode as S;
        match self {
            ApiError::InvalidJson(_) => (S::BAD_REQUEST, "invalid_json"),
            ApiError::MissingField(_) => (S::UNPROCESSABLE_ENTITY, "missing_field"),
            ApiError::InvalidType { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_type"),
            ApiError::InvalidValue { code, .. } => (S::UNPROCESSABLE_ENTITY, code),
            ApiError::Names(err) => match err.field() {
                "labels" => (S::UNPROCESSABLE_ENTITY, "invalid_labels"),
                _ => (S::UNPROCESSABLE_ENTITY, "invalid_feature_names"),
            },
            ApiError::Som(err) => som_status_and_code(err),
            ApiError::Storage(err) => match err {
                StorageError::InvalidName(_) => (S::BAD_REQUEST, "invalid_name"),
                StorageError::NotFound(_) | StorageError::NotARegularFile(_) => {
                    (S::NOT_FOUND, "model_not_found")
                }
                StorageError::AlreadyExists(_) => (S::CONFLICT, "conflict"),
                StorageError::InvalidWeights { .. } | StorageError::InvalidMeta { .. } => {
                    (S::NOT_FOUND, "model_not_found")
                }
                StorageError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "dependency_unavailable"),
                StorageError::Io { .. } => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::Dataset(err) => match err {
                DatasetError::InvalidName(_) => (S::BAD_REQUEST, "invalid_name"),
                DatasetError::NotFound(_) | DatasetError::Unreadable { .. } => {
                    (S::NOT_FOUND, "dataset_not_found")
                }
                DatasetError::AlreadyExists(_) | DatasetError::InUse(_) => {
                    (S::CONFLICT, "conflict")
                }
                DatasetError::InvalidData(_) => (S::UNPROCESSABLE_ENTITY, "invalid_data"),
                DatasetError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "dependency_unavailable"),
                DatasetError::Io { .. } => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::Render(err) => match err {
                RenderError::InvalidScale { .. } => (S::UNPROCESSABLE_ENTITY, "invalid_scale"),
                RenderError::InvalidSize { .. }
                | RenderError::SizeTooSmall { .. }
                | RenderError::SizeAndScale => (S::UNPROCESSABLE_ENTITY, "invalid_size"),
                RenderError::UnknownFeature(_) => (S::UNPROCESSABLE_ENTITY, "invalid_feature"),
                RenderError::TooManyPanels { .. } => (S::UNPROCESSABLE_ENTITY, "too_large"),
                RenderError::NothingToDraw(_) => (S::NOT_FOUND, "not_found"),
                RenderError::Drawing(_) => (S::INTERNAL_SERVER_ERROR, "internal"),
            },
            ApiError::JobNotFound(_) => (S::NOT_FOUND, "job_not_found"),
            ApiError::ModelPending { .. } => (S::NOT_FOUND, "model_not_found"),
            ApiError::JobFailed { .. } => (S::INTERNAL_SERVER_ERROR, "job_failed"),
            ApiError::JobCancelled(_) => (S::GONE, "job_cancelled"),
            ApiError::NoNodeSummary(_) => (S::NOT_FOUND, "no_node_summary"),
            ApiError::NoLabels(_) => (S::NOT_FOUND, "no_labels"),
            ApiError::Conflict(_) => (S::CONFLICT, "conflict"),
            ApiError::QueueFull => (S::SERVICE_UNAVAILABLE, "queue_full"),
            ApiError::BodyTooLarge(_) => (S::PAYLOAD_TOO_LARGE, "body_too_large"),
            ApiError::Busy => (S::SERVICE_UNAVAILABLE, "busy"),
            ApiError::BodyTimeout => (S::REQUEST_TIMEOUT, "body_timeout"),
            ApiError::ForbiddenOrigin(_) => (S::FORBIDDEN, "forbidden_origin"),
            ApiError::NotFound(_) => (S::NOT_FOUND, "not_found"),
            ApiError::MethodNotAllowed { .. } => (S::METHOD_NOT_ALLOWED, "method_not_allowed"),
            ApiError::Unavailable(_) => (S::SERVICE_UNAVAILABLE, "dependency_unavailable"),
            ApiError::Internal => (S::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// Attaches whether the request asked for `debug_mode`.
    pub fn debug(self, debug: bool) -> Failure {
        Failure { error: self, debug }
    }
}

fn som_status_and_code(err: &SomError) -> (StatusCode, &'static str) {
    let code = match err {
        SomError::EmptyGrid { .. } => "invalid_grid_shape",
        SomError::ZeroIterations => "invalid_iterations",
        SomError::InvalidLearningRate(_) => "invalid_learning_rate",
        SomError::InvalidSeed(_) => "invalid_seed",
        SomError::NoSamples | SomError::ZeroDimension | SomError::RaggedRows { .. } => {
            "invalid_data"
        }
        SomError::ShapeMismatch { .. } | SomError::InitialWeightsShape { .. } => "shape_mismatch",
        SomError::NonFinite { .. } => "non_finite_value",
        SomError::ValueTooLarge { .. } => "invalid_data",
        SomError::Diverged | SomError::PcaNoConvergence => "invalid_option",
        SomError::DimensionMismatch { .. } => "dimension_mismatch",
        SomError::TooManyNodes { .. }
        | SomError::TooManyWeights { .. }
        | SomError::TooManyIterations { .. } => "too_large",
        SomError::InvalidOption { .. } => "invalid_option",
        SomError::Cancelled { .. } => return (StatusCode::GONE, "job_cancelled"),
    };
    (StatusCode::UNPROCESSABLE_ENTITY, code)
}

/// Every error answer: `{"message", "code"}`, plus `exception` with `debug_mode`; a model whose
/// job has not finished adds the job's status fields.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub struct ErrorOut {
    /// What was wrong and how to fix it.
    pub message: String,
    /// The error code of SPEC §4, e.g. `invalid_grid_shape`.
    pub code: String,
    /// With `debug_mode`: the error's chain of causes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
}

/// An [`ApiError`] and whether to explain it (`debug_mode`): what handlers return.
#[derive(Debug)]
pub struct Failure {
    error: ApiError,
    debug: bool,
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Failure {
            error,
            debug: false,
        }
    }
}

impl From<DatasetError> for Failure {
    fn from(error: DatasetError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<StorageError> for Failure {
    fn from(error: StorageError) -> Self {
        ApiError::from(error).into()
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let error = self.error;
        let (status, code) = error.status_and_code();
        let internal = status == StatusCode::INTERNAL_SERVER_ERROR && code == "internal";
        if internal {
            tracing::error!(error = ?error, "request failed");
        }
        let message = match &error {
            ApiError::Storage(StorageError::Io { .. }) => ApiError::Internal.to_string(),
            other => other.to_string(),
        };
        let exception = self.debug.then(|| {
            if internal {
                message.clone()
            } else {
                cause_chain(&error)
            }
        });
        let answer = ErrorOut {
            message,
            code: code.to_owned(),
            exception,
        };
        let mut body = json!(answer);
        if let ApiError::ModelPending { status, detail, .. } = &error {
            body["status"] = json!(status);
            if let Some(fields) = detail.as_object() {
                for (key, value) in fields {
                    body[key] = value.clone();
                }
            }
        }
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match code {
            "queue_full" => Some("5"),
            "busy" | "dependency_unavailable" => Some("1"),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static(seconds));
        }
        response
    }
}

/// The error and its causes, one per line, without the server's file paths.
fn cause_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = format!("{error}");
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!("\ncaused by: {cause}"));
        source = cause.source();
    }
    text
}
