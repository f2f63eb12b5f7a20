//! `POST /train` (waits for its job) and `POST /atrain` (answers at once).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::body::{Fields, JsonBody};
use super::error::{ApiError, Failure};
use super::state::AppState;
use crate::jobs::{Ending, Job};
use crate::som::{SomParams, check_seed, random_seed};
use crate::storage::TrainingStatus;
use crate::training::{Init, TrainingJob};

/// A validated training request.
struct TrainIn {
    job: TrainingJob,
    verbose: bool,
    debug: bool,
}

fn parse(body: &JsonBody, state: &AppState) -> Result<TrainIn, Failure> {
    let fields = Fields(&body.0);
    let debug = fields.flag("debug_mode").unwrap_or(false);
    let parsed = (|| {
        let verbose = fields.flag("verbose")?;
        let [rows, cols] = fields.grid_shape()?;
        let iterations = fields
            .count("max_iterations", "invalid_iterations", "100")?
            .ok_or(ApiError::MissingField("max_iterations"))?;
        let learning_rate = fields.number("learning_rate")?.unwrap_or(0.1);
        let seed = match fields.count("seed", "invalid_seed", "42")? {
            Some(seed) => check_seed(seed)?,
            None => random_seed(),
        };
        let data = fields
            .data("training_data", "training_data_shape")?
            .ok_or(crate::som::SomError::NoSamples)?;
        let params = SomParams::new(rows, cols, iterations as usize)
            .learning_rate(learning_rate)
            .limits(state.limits)
            .check(data.ncols())?;
        Ok::<_, ApiError>(TrainIn {
            job: TrainingJob {
                params,
                init: Init::Seed(seed),
                data,
                record_bmus: verbose,
            },
            verbose,
            debug,
        })
    })();
    parsed.map_err(|err| err.debug(debug))
}

async fn submit(state: &AppState, request: &TrainIn) -> Result<(Arc<Job>, Ending), Failure> {
    state
        .jobs
        .submit(request.job.clone(), Timestamp::now())
        .await
        .map_err(|err| ApiError::from(err).debug(request.debug))
}

#[utoipa::path(post, path = "/train", tag = "training",
    description = "Trains a map and answers when it is saved. A /train is a job like any other: it shows at /jobs/NAME, and finishes even if the client goes away.",
    request_body(content = Object, description = "Training data, nested n x D (or flat with training_data_shape [n, D]), grid_shape [x, y] and max_iterations; learning_rate (0 < lr <= 1, default 0.1), seed, verbose and debug_mode are optional. Any Content-Type is accepted.", example = json!({"training_data": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.5, 0.5, 0.5]], "grid_shape": [10, 10], "max_iterations": 100, "learning_rate": 0.1, "seed": 7})),
    responses(
        (status = 200, description = "The map is trained and saved", body = Object, example = json!({"message": "Model training has finished and time taken is 0.0003 seconds.", "operation-location": "27-11-2026_10h50m44sT_10X10_100N_0.1LR", "seed": 7, "training_seconds": 0.0003, "quantization_error": 0.0009, "topographic_error": 0.0})),
        (status = 400, description = "The body is not JSON", body = Object, example = json!({"message": "the body is not valid JSON: expected value at line 1 column 1", "code": "invalid_json"})), (status = 422, description = "A field is missing, of the wrong type or invalid (the code names it)", body = Object, example = json!({"message": "grid_shape must be two whole numbers >= 1, e.g. [10, 10]", "code": "invalid_grid_shape"})), (status = 413, description = "The body is over the limit", body = Object, example = json!({"message": "the request body is over the limit of 67108864 bytes", "code": "body_too_large"})), (status = 503, description = "Too many jobs are waiting (see Retry-After)", body = Object, example = json!({"message": "the job queue is full: try again in a few seconds", "code": "queue_full"})),
    ))]
pub async fn train(State(state): State<AppState>, body: JsonBody) -> Result<Json<Value>, Failure> {
    let request = parse(&body, &state)?;
    let (job, ending) = submit(&state, &request).await?;
    let verbose = ending.wait().await;
    let meta = job.meta();
    let ended = match meta.status {
        TrainingStatus::Succeeded => Ok(()),
        TrainingStatus::Cancelled => Err(ApiError::JobCancelled(job.name.clone())),
        _ => Err(ApiError::JobFailed {
            name: job.name.clone(),
            reason: meta.error.clone().unwrap_or_default(),
        }),
    };
    ended.map_err(|err| err.debug(request.debug))?;
    let seconds = meta.training_seconds.unwrap_or_default();
    let mut answer = json!({
        "message": format!("Model training has finished and time taken is {seconds} seconds."),
        "operation-location": job.name,
        "seed": meta.seed,
        "training_seconds": seconds,
        "quantization_error": meta.quantization_error,
        "topographic_error": meta.topographic_error,
    });
    if request.verbose {
        // A job that asked for them and succeeded always hands them over.
        let verbose = verbose.ok_or(ApiError::Internal)?;
        answer["predictions"] = json!(verbose.predictions);
        answer["learning_rates"] = json!(verbose.schedule.learning_rates);
        answer["neigh_radii"] = json!(verbose.schedule.radii);
        answer["bmu_indicies"] = json!(verbose.bmus);
    }
    Ok(Json(answer))
}

#[utoipa::path(post, path = "/atrain", tag = "training",
    description = "Validates the request, queues the training and answers at once. Follow it at /jobs/NAME; /download/NAME answers 404 until it is done.",
    request_body(content = Object, description = "Training data, nested n x D (or flat with training_data_shape [n, D]), grid_shape [x, y] and max_iterations; learning_rate (0 < lr <= 1, default 0.1), seed, verbose and debug_mode are optional. Any Content-Type is accepted.", example = json!({"training_data": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [1.0, 0.0, 1.0], [0.5, 0.5, 0.5]], "grid_shape": [10, 10], "max_iterations": 100, "learning_rate": 0.1, "seed": 7})),
    responses(
        (status = 200, description = "Queued", body = Object, example = json!({"operation-location": "27-11-2026_10h50m44sT_100X100_1000N_0.1LR", "status": "queued", "job": "/jobs/27-11-2026_10h50m44sT_100X100_1000N_0.1LR"})),
        (status = 400, description = "The body is not JSON", body = Object, example = json!({"message": "the body is not valid JSON: expected value at line 1 column 1", "code": "invalid_json"})), (status = 422, description = "A field is missing, of the wrong type or invalid (the code names it)", body = Object, example = json!({"message": "grid_shape must be two whole numbers >= 1, e.g. [10, 10]", "code": "invalid_grid_shape"})), (status = 413, description = "The body is over the limit", body = Object, example = json!({"message": "the request body is over the limit of 67108864 bytes", "code": "body_too_large"})), (status = 503, description = "Too many jobs are waiting (see Retry-After)", body = Object, example = json!({"message": "the job queue is full: try again in a few seconds", "code": "queue_full"})),
    ))]
pub async fn atrain(State(state): State<AppState>, body: JsonBody) -> Result<Json<Value>, Failure> {
    let request = parse(&body, &state)?;
    let (job, _ending) = submit(&state, &request).await?;
    Ok(Json(json!({
        "operation-location": job.name,
        "status": "queued",
        "job": format!("/jobs/{}", job.name),
    })))
}
