//! `POST /train` (waits for its job) and `POST /atrain` (answers at once).

use axum::Json;
use axum::extract::State;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::body::{Fields, JsonBody};
use super::error::{ApiError, Failure};
use super::state::AppState;
use crate::jobs::Job;
use crate::som::{SomParams, check_seed, random_seed};
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

fn submit(state: &AppState, request: &TrainIn) -> Result<std::sync::Arc<Job>, Failure> {
    state
        .jobs
        .submit(request.job.clone(), Timestamp::now())
        .map_err(|err| ApiError::from(err).debug(request.debug))
}

pub async fn train(State(state): State<AppState>, body: JsonBody) -> Result<Json<Value>, Failure> {
    let request = parse(&body, &state)?;
    let job = submit(&state, &request)?;
    let outcome = job.wait().await.map_err(|reason| {
        let error = if job.control.is_cancelled() {
            ApiError::JobCancelled(job.name.clone())
        } else {
            ApiError::JobFailed {
                name: job.name.clone(),
                reason,
            }
        };
        error.debug(request.debug)
    })?;
    let meta = &outcome.meta;
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
        answer["predictions"] = json!(outcome.predictions);
        answer["learning_rates"] = json!(meta.learning_rate_per_iteration);
        answer["neigh_radii"] = json!(meta.radius_per_iteration);
        answer["bmu_indicies"] = json!(outcome.bmus);
    }
    Ok(Json(answer))
}

pub async fn atrain(State(state): State<AppState>, body: JsonBody) -> Result<Json<Value>, Failure> {
    let request = parse(&body, &state)?;
    let job = submit(&state, &request)?;
    Ok(Json(json!({
        "operation-location": job.name,
        "status": "queued",
        "job": format!("/jobs/{}", job.name),
    })))
}
