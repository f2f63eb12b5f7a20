//! `POST /train` (waits for its job) and `POST /atrain` (answers at once).

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde::Deserialize;
use utoipa::ToSchema;

use super::body::{JsonBody, RequestBody};
use super::error::{ApiError, ErrorOut, Failure};
use super::models::blocking;
use super::schema;
use super::state::AppState;
use super::wire::{FeatureNames, LabelsIn, Loose, Samples, grid_shape, present};
use crate::jobs::{Ended, Submitted};
use crate::som::{
    Compatibility, Decay, Distance, InitMethod, Initial, Mode, Neighbourhood, Order, Scaling,
    SomError, SomParams, Topology, TrainingOptions, check_seed, random_seed,
};
use crate::storage::{DatasetHold, TrainingStatus};
use crate::training::{DataNames, Labels, NamesError, TrainingJob, header_feature_names};
use ndarray::Array2;

/// Most presentations (iterations x samples) a `verbose` answer lists one by one.
pub const MAX_VERBOSE_PRESENTATIONS: u64 = 1_000_000;

/// The body of `/train` and `/atrain` (SPEC §4 `TrainRequest`).
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"training_data": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.5, 0.5, 0.5]], "grid_shape": [10, 10], "max_iterations": 100, "learning_rate": 0.1, "seed": 7}))]
pub struct TrainIn {
    /// The samples: nested `n x D` rows of equal length, or a flat list with
    /// `training_data_shape`. Required unless `dataset` names stored samples.
    #[serde(default)]
    #[schema(schema_with = super::wire::some_samples_schema)]
    training_data: Samples,
    /// `[n, D]`: the shape of a flat `training_data` (must agree with nested rows).
    #[schema(value_type = Option<[u64; 2]>, min_items = 2, max_items = 2)]
    training_data_shape: Option<Loose>,
    /// The name of a stored dataset (`PUT /datasets/NAME`) to train on, instead of
    /// `training_data` (sending both is a 422).
    #[schema(value_type = Option<String>)]
    dataset: Option<String>,
    /// One distinct name per feature; with `dataset`, these win over its CSV header's names.
    /// `GET /models/NAME` shows them.
    #[serde(default)]
    #[schema(schema_with = super::wire::feature_names_schema)]
    feature_names: FeatureNames,
    /// One label per training row (a string or an integer); with `dataset`, these win over
    /// its label column. The model then counts the labels each node won, and `/predict`
    /// answers each vector's node's majority label.
    #[serde(default)]
    #[schema(schema_with = super::wire::labels_schema)]
    labels: LabelsIn,
    /// `[rows, columns]` of the map.
    #[schema(required, value_type = [u64; 2], min_items = 2, max_items = 2)]
    grid_shape: Option<Loose>,
    /// Iterations; each presents every sample once. The maximum is the server's
    /// `--max-iterations`.
    #[schema(required, value_type = u64, minimum = 1, maximum = 1_000_000)]
    max_iterations: Option<Loose>,
    /// Initial learning rate `a0`, `0 < rate <= 1`: 0.1 when absent in online mode; batch mode
    /// has none (sending one with `"mode": "batch"` is a 422).
    #[schema(value_type = Option<f64>, exclusive_minimum = 0, maximum = 1, default = 0.1)]
    learning_rate: Option<Loose>,
    /// Seed of the training's draws (random or sample initial weights, shuffled order),
    /// `0 <= seed < 2^53`; drawn at random when absent.
    #[schema(value_type = Option<u64>, minimum = 0, maximum = 9_007_199_254_740_991_u64)]
    seed: Option<Loose>,
    #[schema(schema_with = schema::topology_schema)]
    topology: Option<Loose>,
    /// The grid wraps around in both directions; a hexagonal one then needs an even number
    /// of rows.
    #[schema(value_type = Option<bool>, default = false, example = true)]
    toroidal: Option<Loose>,
    #[schema(schema_with = schema::neighbourhood_schema)]
    neighbourhood: Option<Loose>,
    /// Starting radius `s0 >= 0.000001`; default half the grid's longer side.
    #[schema(value_type = Option<f64>, minimum = 0.000001, example = 3.0)]
    radius: Option<Loose>,
    #[schema(schema_with = schema::schedule_schema)]
    schedule: Option<Loose>,
    /// The last radius `s1` of the `linear` schedule (only with it), `0.000001 <= s1 <=
    /// radius`; default `min(1, radius)`.
    #[schema(value_type = Option<f64>, minimum = 0.000001, example = 0.5)]
    final_radius: Option<Loose>,
    /// The last learning rate `a1` of the `linear` schedule (only with it, online),
    /// `0 < a1 <= learning_rate`; default `learning_rate / 100`.
    #[schema(value_type = Option<f64>, exclusive_minimum = 0, maximum = 1, example = 0.01)]
    final_learning_rate: Option<Loose>,
    #[schema(schema_with = schema::compatibility_schema)]
    compatibility: Option<Loose>,
    #[schema(schema_with = schema::distance_schema)]
    distance: Option<Loose>,
    #[schema(schema_with = schema::init_schema)]
    init: Option<Loose>,
    #[schema(schema_with = schema::order_schema)]
    order: Option<Loose>,
    #[schema(schema_with = schema::scaling_schema)]
    scaling: Option<Loose>,
    #[schema(schema_with = schema::mode_schema)]
    mode: Option<Loose>,
    /// Also answer every presentation's best-matching node, radius and learning rate.
    #[schema(value_type = Option<bool>, default = false)]
    verbose: Option<Loose>,
    /// Errors carry their chain of causes in `exception`.
    #[schema(value_type = Option<bool>, default = false)]
    debug_mode: Option<Loose>,
    /// Accepted and ignored (the Python client sends them; parallelism is automatic). Read
    /// only by serde, so that they are not named as unknown fields.
    #[allow(dead_code)]
    #[serde(rename = "pp_FIND_BMU")]
    #[schema(value_type = Option<Value>)]
    pp_find_bmu: Option<Loose>,
    #[allow(dead_code)]
    #[serde(rename = "pp_INF_BMU_W")]
    #[schema(value_type = Option<Value>)]
    pp_inf_bmu_w: Option<Loose>,
    #[allow(dead_code)]
    #[serde(rename = "pp_INF_BMU_POS")]
    #[schema(value_type = Option<Value>)]
    pp_inf_bmu_pos: Option<Loose>,
}

impl RequestBody for TrainIn {
    const FIELDS: &'static [&'static str] = &[
        "training_data",
        "training_data_shape",
        "dataset",
        "feature_names",
        "labels",
        "grid_shape",
        "max_iterations",
        "learning_rate",
        "seed",
        "topology",
        "toroidal",
        "neighbourhood",
        "radius",
        "schedule",
        "final_radius",
        "final_learning_rate",
        "compatibility",
        "distance",
        "init",
        "order",
        "scaling",
        "mode",
        "verbose",
        "debug_mode",
        "pp_FIND_BMU",
        "pp_INF_BMU_W",
        "pp_INF_BMU_POS",
    ];
    fn debug_mode(&self) -> bool {
        Loose::flag("debug_mode", &self.debug_mode).unwrap_or(false)
    }
}

impl TrainIn {
    /// The options of SPEC §3b as sent: each of the right type and, when named, a known
    /// name. Whether they fit together is the core's check ([`SomParams::check`]).
    fn options(&self) -> Result<TrainingOptions, ApiError> {
        Ok(TrainingOptions {
            topology: Loose::named(Topology::FIELD, &self.topology, Topology::ALL)?,
            toroidal: Loose::boolean("toroidal", &self.toroidal)?,
            neighbourhood: Loose::named(
                Neighbourhood::FIELD,
                &self.neighbourhood,
                Neighbourhood::ALL,
            )?,
            radius: Loose::number("radius", &self.radius)?,
            schedule: Loose::named(Decay::FIELD, &self.schedule, Decay::ALL)?,
            final_radius: Loose::number("final_radius", &self.final_radius)?,
            final_learning_rate: Loose::number("final_learning_rate", &self.final_learning_rate)?,
            compatibility: Loose::named(
                Compatibility::FIELD,
                &self.compatibility,
                Compatibility::ALL,
            )?,
            distance: Loose::named(Distance::FIELD, &self.distance, Distance::ALL)?,
            init: Loose::named(InitMethod::FIELD, &self.init, InitMethod::ALL)?,
            order: Loose::named(Order::FIELD, &self.order, Order::ALL)?,
            scaling: Loose::named(Scaling::FIELD, &self.scaling, Scaling::ALL)?,
            mode: Loose::named(Mode::FIELD, &self.mode, Mode::ALL)?,
        })
    }
}

/// A validated training request.
struct TrainRequest {
    job: TrainingJob,
    verbose: bool,
    debug: bool,
    warnings: Vec<String>,
}

/// A stored dataset held for a training: the hold, its data and its names.
type Stored = (DatasetHold, Array2<f64>, DatasetNames);

/// What a stored dataset calls its columns (its CSV header) and rows (its label column), the
/// labels interned off the runtime; their error counts only when the request sends none.
struct DatasetNames {
    features: Option<Vec<String>>,
    labels: Option<Result<Labels, NamesError>>,
}

/// The stored dataset a request names, held and read on the blocking pool; a 422 when the
/// request also sends `training_data`.
async fn dataset(body: &JsonBody<TrainIn>, state: &AppState) -> Result<Option<Stored>, Failure> {
    let Some(name) = body.value.dataset.clone() else {
        return Ok(None);
    };
    if !matches!(body.value.training_data, Samples::Missing) {
        return Err(ApiError::InvalidValue {
            code: "invalid_data",
            message: "send the samples either as training_data or as the name of a stored dataset, not both".into(),
        }
        .debug(body.value.debug_mode()));
    }
    let datasets = state.datasets.clone();
    let stored = blocking(move || {
        let (hold, data, record) = datasets.hold(&name)?;
        let names = DatasetNames {
            features: record.features,
            labels: record.labels.as_deref().map(Labels::from_rows),
        };
        Ok::<_, ApiError>((hold, data, names))
    });
    Ok(Some(stored.await??))
}

/// The names of the data's columns and rows: the request's own, else those of the stored
/// dataset (its CSV header, its label column), checked against the data's shape.
fn data_names(
    feature_names: FeatureNames,
    labels: LabelsIn,
    stored: Option<DatasetNames>,
    data: &Array2<f64>,
) -> Result<DataNames, ApiError> {
    let (stored_features, stored_labels) = match stored {
        Some(DatasetNames { features, labels }) => (features, labels),
        None => (None, None),
    };
    let labels = match labels.into_labels()? {
        Some(labels) => Some(labels),
        None => stored_labels.transpose()?,
    };
    let names = DataNames {
        feature_names: (feature_names.into_names()?).or(header_feature_names(stored_features)),
        labels,
    };
    names.check(data.nrows(), data.ncols())?;
    Ok(names)
}

fn parse(
    body: JsonBody<TrainIn>,
    state: &AppState,
    stored: Option<Stored>,
) -> Result<TrainRequest, Failure> {
    let JsonBody {
        value: body,
        warnings,
    } = body;
    let debug = body.debug_mode();
    let parsed = (|| {
        Loose::flag("debug_mode", &body.debug_mode)?;
        let verbose = Loose::flag("verbose", &body.verbose)?;
        let [rows, cols] = grid_shape(&body.grid_shape)?;
        present("max_iterations", &body.max_iterations)?;
        let iterations = Loose::count(
            "max_iterations",
            &body.max_iterations,
            "invalid_iterations",
            "100",
        )?
        .ok_or(ApiError::MissingField("max_iterations"))?;
        let learning_rate = Loose::number("learning_rate", &body.learning_rate)?;
        let options = body.options()?;
        let seed = match Loose::count("seed", &body.seed, "invalid_seed", "42")? {
            Some(seed) => check_seed(seed)?,
            None => random_seed(),
        };
        let (hold, data, record) = match stored {
            Some((hold, data, record)) => (Some(hold), data, Some(record)),
            None => {
                let data = body
                    .training_data
                    .into_array(
                        "training_data",
                        "training_data_shape",
                        &body.training_data_shape,
                    )?
                    .ok_or(SomError::NoSamples)?;
                (None, data, None)
            }
        };
        let names = data_names(body.feature_names, body.labels, record, &data)?;
        let params = SomParams {
            learning_rate,
            ..SomParams::new(
                rows,
                cols,
                usize::try_from(iterations).unwrap_or(usize::MAX),
            )
        }
        .options(options)
        .limits(state.limits)
        .check(data.ncols())?;
        if verbose && params.options().mode == Mode::Batch {
            return Err(SomError::InvalidOption {
                field: "verbose",
                message: "verbose lists the best-matching node and learning rate of every presentation, and batch mode has neither: leave out verbose, or send \"mode\": \"online\"".into(),
            }
            .into());
        }
        let presentations = iterations.saturating_mul(data.nrows() as u64);
        if verbose && presentations > MAX_VERBOSE_PRESENTATIONS {
            return Err(ApiError::InvalidValue {
                code: "too_large",
                message: format!(
                    "a verbose answer lists every presentation, and {iterations} iterations of {} samples are {presentations}, over the limit of {MAX_VERBOSE_PRESENTATIONS}: drop verbose or train on less",
                    data.nrows()
                ),
            });
        }
        Ok::<_, ApiError>(TrainRequest {
            job: TrainingJob {
                params,
                initial: Initial::Method(params.options().init),
                seed,
                data,
                record_bmus: verbose,
                dataset: hold,
                names,
            },
            verbose,
            debug,
            warnings,
        })
    })();
    parsed.map_err(|err| err.debug(debug))
}

async fn submit(state: &AppState, job: TrainingJob, debug: bool) -> Result<Submitted, Failure> {
    state
        .jobs
        .submit(job, Timestamp::now())
        .await
        .map_err(|err| ApiError::from(err).debug(debug))
}

/// The answer of a finished `/train`.
#[derive(serde::Serialize, ToSchema)]
pub struct TrainOut {
    /// "Model training has finished and time taken is S seconds."
    message: String,
    /// The model's name.
    #[serde(rename = "operation-location")]
    operation_location: String,
    seed: Option<u64>,
    training_seconds: f64,
    quantization_error: Option<f64>,
    topographic_error: Option<f64>,
    /// With `verbose`: the best-matching node `[row, col]` of every training sample.
    #[serde(skip_serializing_if = "Option::is_none")]
    predictions: Option<Vec<[usize; 2]>>,
    /// With `verbose`: the learning rate of every iteration.
    #[serde(skip_serializing_if = "Option::is_none")]
    learning_rates: Option<Vec<f64>>,
    /// With `verbose`: the neighbourhood radius of every iteration.
    #[serde(skip_serializing_if = "Option::is_none")]
    neigh_radii: Option<Vec<f64>>,
    /// With `verbose`: the best-matching node of every presentation, in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    bmu_indicies: Option<Vec<[usize; 2]>>,
    /// Fields of the request that were ignored, e.g. misspelt ones.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

/// The answer of `/atrain`.
#[derive(serde::Serialize, ToSchema)]
pub struct AtrainOut {
    /// The model's (and the job's) name.
    #[serde(rename = "operation-location")]
    operation_location: String,
    /// Always "queued".
    status: &'static str,
    /// Where to follow the job: `/jobs/NAME`.
    job: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<String>,
}

#[utoipa::path(post, path = "/train", tag = "training",
    description = "Trains a map and answers when it is saved. A /train is a job like any other: it shows at /jobs/NAME, and finishes even if the client goes away. Any Content-Type is accepted; fields it does not know are ignored and named in warnings.",
    request_body(content = TrainIn, content_type = "application/json"),
    responses(
        (status = 200, description = "The map is trained and saved", body = TrainOut, example = json!({"message": "Model training has finished and time taken is 0.0003 seconds.", "operation-location": "27-11-2026_10h50m44sT_10X10_100N_0.1LR", "seed": 7, "training_seconds": 0.0003, "quantization_error": 0.0009, "topographic_error": 0.0})),
        (status = 400, description = "The body is not JSON", body = ErrorOut, example = json!({"message": "the body is not valid JSON: expected value at line 1 column 1", "code": "invalid_json"})),
        (status = 403, description = "A browser request from another origin", body = ErrorOut),
        (status = 408, description = "The body stopped arriving", body = ErrorOut),
        (status = 410, description = "The job was cancelled while the request waited", body = ErrorOut),
        (status = 413, description = "The body is over the limit", body = ErrorOut, example = json!({"message": "the request body is over the limit of 67108864 bytes", "code": "body_too_large"})),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the code names it)", body = ErrorOut, example = json!({"message": "grid_shape must be two whole numbers >= 1, e.g. [10, 10]", "code": "invalid_grid_shape"})),
        (status = 500, description = "The training failed", body = ErrorOut),
        (status = 503, description = "Too many jobs are waiting, or too many bodies are being read (see Retry-After)", body = ErrorOut, example = json!({"message": "the job queue is full: try again in a few seconds", "code": "queue_full"})),
    ))]
pub async fn train(
    State(state): State<AppState>,
    body: JsonBody<TrainIn>,
) -> Result<Json<TrainOut>, Failure> {
    let TrainRequest {
        job,
        verbose,
        debug,
        warnings,
    } = {
        let stored = dataset(&body, &state).await?;
        parse(body, &state, stored)?
    };
    let Submitted { name, ending } = submit(&state, job, debug).await?;
    let Ended {
        view,
        verbose: extras,
    } = ending
        .wait()
        .await
        .map_err(|err| ApiError::from(err).debug(debug))?;
    let meta = view.meta;
    let ended = match meta.status {
        TrainingStatus::Succeeded => Ok(()),
        TrainingStatus::Cancelled => Err(ApiError::JobCancelled(name.clone())),
        _ => Err(ApiError::JobFailed {
            name: name.clone(),
            reason: meta.error.clone().unwrap_or_default(),
        }),
    };
    ended.map_err(|err| err.debug(debug))?;
    let seconds = meta.training_seconds.unwrap_or_default();
    // A job that asked for the verbose extras and succeeded always hands them over.
    let extras = match (verbose, extras) {
        (true, Some(extras)) => Some(extras),
        (true, None) => return Err(ApiError::Internal.into()),
        (false, _) => None,
    };
    Ok(Json(TrainOut {
        message: format!("Model training has finished and time taken is {seconds} seconds."),
        operation_location: name,
        seed: meta.seed,
        training_seconds: seconds,
        quantization_error: meta.quantization_error,
        topographic_error: meta.topographic_error,
        predictions: extras.as_ref().map(|extras| extras.predictions.clone()),
        learning_rates: extras
            .as_ref()
            .map(|extras| extras.schedule.learning_rates.clone()),
        neigh_radii: extras.as_ref().map(|extras| extras.schedule.radii.clone()),
        bmu_indicies: extras.map(|extras| extras.bmus),
        warnings,
    }))
}

#[utoipa::path(post, path = "/atrain", tag = "training",
    description = "Validates the request, queues the training and answers at once. Follow it at /jobs/NAME; /download/NAME answers 404 until it is done.",
    request_body(content = TrainIn, content_type = "application/json"),
    responses(
        (status = 200, description = "Queued", body = AtrainOut, example = json!({"operation-location": "27-11-2026_10h50m44sT_100X100_1000N_0.1LR", "status": "queued", "job": "/jobs/27-11-2026_10h50m44sT_100X100_1000N_0.1LR"})),
        (status = 400, description = "The body is not JSON", body = ErrorOut, example = json!({"message": "the body is not valid JSON: expected value at line 1 column 1", "code": "invalid_json"})),
        (status = 403, description = "A browser request from another origin", body = ErrorOut),
        (status = 408, description = "The body stopped arriving", body = ErrorOut),
        (status = 413, description = "The body is over the limit", body = ErrorOut, example = json!({"message": "the request body is over the limit of 67108864 bytes", "code": "body_too_large"})),
        (status = 422, description = "A field is missing, of the wrong type or invalid (the code names it)", body = ErrorOut, example = json!({"message": "grid_shape must be two whole numbers >= 1, e.g. [10, 10]", "code": "invalid_grid_shape"})),
        (status = 503, description = "Too many jobs are waiting, or too many bodies are being read (see Retry-After)", body = ErrorOut, example = json!({"message": "the job queue is full: try again in a few seconds", "code": "queue_full"})),
    ))]
pub async fn atrain(
    State(state): State<AppState>,
    body: JsonBody<TrainIn>,
) -> Result<Json<AtrainOut>, Failure> {
    let stored = dataset(&body, &state).await?;
    let request = parse(body, &state, stored)?;
    let Submitted { name, .. } = submit(&state, request.job, request.debug).await?;
    Ok(Json(AtrainOut {
        job: format!("/jobs/{name}"),
        operation_location: name,
        status: "queued",
        warnings: request.warnings,
    }))
}
