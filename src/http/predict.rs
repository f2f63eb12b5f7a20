//! `GET /predict` (with a JSON body, as the Python client sends it) and `POST /predict`, and
//! the bounded, abandonable search they share with the pictures of vectors.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Json;
use axum::extract::State;
use ndarray::Array2;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::body::{JsonBody, RequestBody};
use super::error::{ApiError, ErrorOut, Failure};
use super::models::blocking;
use super::state::AppState;
use super::wire::{Loose, Samples, present};
use crate::storage::{LoadedMap, validate_name};

/// The body of `/predict`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"model_name": "10X10_100N", "test_data": [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]}))]
pub struct PredictIn {
    /// The model's name.
    #[schema(required, schema_with = super::schema::name_schema)]
    model_name: Option<Loose>,
    /// The vectors: nested `n x D`, or flat with `test_data_shape`; an empty list gives `[]`.
    /// Required unless `dataset` names stored vectors.
    #[serde(default)]
    #[schema(schema_with = super::wire::samples_schema)]
    test_data: Samples,
    /// `[n, D]`: the shape of a flat `test_data`.
    #[schema(value_type = Option<[u64; 2]>, min_items = 2, max_items = 2)]
    test_data_shape: Option<Loose>,
    /// The name of a stored dataset (`PUT /datasets/NAME`) whose rows to place, instead of
    /// `test_data` (sending both is a 422); within `--max-predict-work` like any vectors.
    #[schema(value_type = Option<String>)]
    dataset: Option<String>,
    /// Errors carry their chain of causes in `exception`.
    #[schema(value_type = Option<bool>, default = false)]
    debug_mode: Option<Loose>,
}

impl RequestBody for PredictIn {
    const FIELDS: &'static [&'static str] = &[
        "model_name",
        "test_data",
        "test_data_shape",
        "dataset",
        "debug_mode",
    ];
    fn debug_mode(&self) -> bool {
        Loose::flag("debug_mode", &self.debug_mode).unwrap_or(false)
    }
}

/// The vectors of a picture request (`hits.png`, `predictions.png`).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"test_data": [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]}))]
pub struct VectorsIn {
    /// The vectors, at least one: nested `n x D`, or flat with `test_data_shape`.
    #[serde(default)]
    #[schema(required, schema_with = super::wire::some_samples_schema)]
    test_data: Samples,
    /// `[n, D]`: the shape of a flat `test_data`.
    #[schema(value_type = Option<[u64; 2]>, min_items = 2, max_items = 2)]
    test_data_shape: Option<Loose>,
    /// Errors carry their chain of causes in `exception`.
    #[schema(value_type = Option<bool>, default = false)]
    debug_mode: Option<Loose>,
}

impl RequestBody for VectorsIn {
    const FIELDS: &'static [&'static str] = &["test_data", "test_data_shape", "debug_mode"];
    fn debug_mode(&self) -> bool {
        Loose::flag("debug_mode", &self.debug_mode).unwrap_or(false)
    }
}

impl VectorsIn {
    /// The vectors, at least one.
    pub fn into_vectors(self) -> Result<Array2<f64>, ApiError> {
        Loose::flag("debug_mode", &self.debug_mode)?;
        self.test_data
            .into_array("test_data", "test_data_shape", &self.test_data_shape)?
            .ok_or_else(|| ApiError::InvalidValue {
                code: "invalid_data",
                message: "test_data is empty: send the vectors to draw".into(),
            })
    }
}

/// The answer of `/predict`.
#[derive(Serialize, ToSchema)]
pub struct PredictOut {
    /// The model's name.
    #[serde(rename = "operation-location")]
    operation_location: String,
    /// `[row, col]` of each vector's best-matching node, in the order of the vectors.
    predictions: Vec<[usize; 2]>,
    /// Each vector's distance to its best-matching node, in the map's distance (in scaled
    /// units for a scaled model): on the training data, the terms the model's
    /// `quantization_error` averages. Large ones flag vectors unlike the training data.
    distances: Vec<f64>,
    /// For a model trained with labels: the majority label of each vector's best-matching
    /// node (ties: the label seen first in training), `null` where that node won no
    /// training sample. Absent for a model without labels.
    #[serde(skip_serializing_if = "Option::is_none")]
    labels: Option<Vec<Option<String>>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[utoipa::path(get, operation_id = "predict_with_get", path = "/predict", tag = "models",
    description = "POST /predict as a GET with a JSON body, which is what the Python client sends. A browser (and this page) cannot send a GET with a body: use POST /predict here, with the same body and the same answer.",
    request_body(content = PredictIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Predictions, in the order of the vectors", body = PredictOut, example = json!({"operation-location": "10X10_100N", "predictions": [[0, 9], [9, 2]]})),
        (status = 400, description = "The body is not JSON, or the name breaks the naming rule", body = ErrorOut, example = json!({"message": "invalid model name \"../x\": use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.' and not ending in .npy", "code": "invalid_name"})),
        (status = 403, description = "A browser request from another origin", body = ErrorOut),
        (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})),
        (status = 408, description = "The body stopped arriving", body = ErrorOut),
        (status = 413, description = "The body is over the limit", body = ErrorOut),
        (status = 422, description = "The vectors' dimension differs from the map's, the data is invalid, or the work is over the limit", body = ErrorOut, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"})),
        (status = 503, description = "Too many bodies are being read (see Retry-After)", body = ErrorOut),
    ))]
pub async fn predict_with_get(
    state: State<AppState>,
    body: JsonBody<PredictIn>,
) -> Result<Json<PredictOut>, Failure> {
    predict(state, body).await
}

#[utoipa::path(post, path = "/predict", tag = "models",
    description = "The best-matching node [row, col] of every vector. This is the form to use from this page; GET /predict takes the same body. The work (vectors x nodes x D) is limited by --max-predict-work, and stops when the client goes away.",
    request_body(content = PredictIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Predictions, in the order of the vectors", body = PredictOut, example = json!({"operation-location": "10X10_100N", "predictions": [[0, 9], [9, 2]]})),
        (status = 400, description = "The body is not JSON, or the name breaks the naming rule", body = ErrorOut, example = json!({"message": "invalid model name \"../x\": use 1-200 ASCII letters, digits, '.', '_' or '-', not starting with '.' and not ending in .npy", "code": "invalid_name"})),
        (status = 403, description = "A browser request from another origin", body = ErrorOut),
        (status = 404, description = "No such model", body = ErrorOut, example = json!({"message": "no model named \"x\"", "code": "model_not_found"})),
        (status = 408, description = "The body stopped arriving", body = ErrorOut),
        (status = 413, description = "The body is over the limit", body = ErrorOut),
        (status = 422, description = "The vectors' dimension differs from the map's, the data is invalid, or the work is over the limit", body = ErrorOut, example = json!({"message": "the vectors have 2 components but the map's nodes have 3", "code": "dimension_mismatch"})),
        (status = 503, description = "Too many bodies are being read (see Retry-After)", body = ErrorOut),
    ))]
pub async fn predict(
    State(state): State<AppState>,
    JsonBody { value, warnings }: JsonBody<PredictIn>,
) -> Result<Json<PredictOut>, Failure> {
    let debug = value.debug_mode();
    let parsed = (|| {
        Loose::flag("debug_mode", &value.debug_mode)?;
        let name = match present("model_name", &value.model_name)? {
            Loose::Text(name) => name.clone(),
            _ => {
                return Err(ApiError::InvalidType {
                    field: "model_name",
                    expected: "a string",
                });
            }
        };
        validate_name(&name)?;
        if value.dataset.is_some() && !matches!(value.test_data, Samples::Missing) {
            return Err(ApiError::InvalidValue {
                code: "invalid_data",
                message: "send the vectors either as test_data or as the name of a stored dataset, not both".into(),
            });
        }
        if value.dataset.is_some() {
            return Ok((name, None));
        }
        let data =
            value
                .test_data
                .into_array("test_data", "test_data_shape", &value.test_data_shape)?;
        Ok::<_, ApiError>((name, data))
    })();
    let (name, mut data) = parsed.map_err(|err| err.debug(debug))?;
    if let Some(dataset) = value.dataset {
        let (lookup, model) = (state.clone(), name.clone());
        let stored = blocking(move || {
            // The work is checked from the record before the data is read.
            let record = lookup.datasets.record(&dataset)?;
            let map = lookup.models.model(&model)?.map.clone();
            check_work(
                record.rows,
                map.nodes(),
                record.dim.max(map.dim()),
                lookup.max_predict_work,
            )?;
            Ok::<_, ApiError>(lookup.datasets.load(&dataset)?.0)
        })
        .await?
        .map_err(|err| err.debug(debug))?;
        data = Some(stored);
    }
    let (model, nearest) = match data {
        Some(data) => place_abandonable(&state, &name, data)
            .await
            .map_err(|err| err.debug(debug))?,
        None => {
            // Nothing to place; the model must still exist.
            let lookup = (state.clone(), name.clone());
            let model = blocking(move || lookup.0.models.model(&lookup.1))
                .await?
                .map_err(|err| ApiError::from(err).debug(debug))?;
            (model, Vec::new())
        }
    };
    let labels = model.labels.as_ref().map(|labels| {
        (nearest.iter())
            .map(|&(node, _)| labels.of(node).map(str::to_owned))
            .collect()
    });
    Ok(Json(PredictOut {
        operation_location: name,
        predictions: nearest
            .iter()
            .map(|&(node, _)| model.map.position(node))
            .collect(),
        distances: nearest.iter().map(|&(_, distance)| distance).collect(),
        labels,
        warnings,
    }))
}

/// The map `name` and the best-matching node `[row, col]` of every vector of `data`, as
/// [`place_abandonable`] finds them.
pub async fn predict_abandonable(
    state: &AppState,
    name: &str,
    data: Array2<f64>,
) -> Result<(LoadedMap, Vec<[usize; 2]>), ApiError> {
    let (model, nearest) = place_abandonable(state, name, data).await?;
    let positions = nearest.iter().map(|&(node, _)| model.map.position(node));
    let positions = positions.collect();
    Ok((model, positions))
}

/// The map `name` and the best-matching node (flat index) of every vector of `data` with its
/// distance to it (in data units: a scaled model scales them as it scaled its training data,
/// then compares by its distance), searched off the runtime after checking the work against
/// `--max-predict-work`, and abandoned when the request is (the client went away).
async fn place_abandonable(
    state: &AppState,
    name: &str,
    data: Array2<f64>,
) -> Result<(LoadedMap, Vec<(usize, f64)>), ApiError> {
    let stop = StopOnDrop::default();
    let flag = stop.0.clone();
    let (state, name) = (state.clone(), name.to_owned());
    let limit = state.max_predict_work;
    let searched = blocking(move || {
        let model = state.models.model(&name)?;
        let map = model.map.clone();
        check_work(data.nrows(), map.nodes(), map.dim(), limit)?;
        let data = model.to_map_units(data)?;
        let found = map.nearest_unless(data.view(), &flag)?;
        Ok::<_, ApiError>(found.map(|found| (model, found)))
    })
    .await
    .map_err(|_| ApiError::Internal)??;
    drop(stop);
    // `None` only when the flag was set, which only the request's own end does.
    searched.ok_or(ApiError::Internal)
}

/// Refuses placing `rows` vectors on `nodes` nodes of dimension `dim` when those distance
/// terms are over `limit` (`--max-predict-work`).
fn check_work(rows: usize, nodes: usize, dim: usize, limit: u64) -> Result<(), ApiError> {
    let work = (rows as u64)
        .saturating_mul(nodes as u64)
        .saturating_mul(dim as u64);
    if work > limit {
        return Err(ApiError::InvalidValue {
            code: "too_large",
            message: format!(
                "{rows} vectors on a map of {nodes} nodes of dimension {dim} are {work} distance terms, over the limit of {limit} (--max-predict-work): send fewer vectors at a time"
            ),
        });
    }
    Ok(())
}

/// Sets its flag when dropped: a handler's future is dropped when its client goes away, and
/// the blocking work it started sees the flag and stops.
#[derive(Default)]
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}
