//! One training from checked input to the weights and the record stored beside them, shared
//! by the command line and the job runner so both store the same facts about a model.

use std::time::Instant;

use jiff::Timestamp;
use ndarray::{Array2, Array3};

use crate::som::{
    CheckedParams, Codebook, Schedule, SomError, TrainControl, TrainOptions, random_weights, train,
};
use crate::storage::{ModelMeta, TrainingStatus};

/// Where the weights start.
#[derive(Debug, Clone)]
pub enum Init {
    /// Uniform in `[0, 1)` from this seed (see [`random_weights`]).
    Seed(u64),
    /// Given weights `(rows, cols, dim)`, e.g. a map trained elsewhere.
    Weights(Array3<f64>),
}

/// A training that passed every check.
#[derive(Debug, Clone)]
pub struct TrainingJob {
    pub params: CheckedParams,
    pub init: Init,
    /// `(n, dim)`, finite.
    pub data: Array2<f64>,
    /// Keep the best-matching node of every presentation (the `verbose` answer).
    pub record_bmus: bool,
}

/// Iterations whose radius and learning rate are stored with a model, at most.
pub const RECORDED_ITERATIONS: usize = 1_000;

/// A finished training: its weights and the record to store beside them.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub weights: Array3<f64>,
    /// Everything but the name and the creation time, which the caller owns. Its radius and
    /// learning rate are those of at most [`RECORDED_ITERATIONS`] iterations.
    pub meta: ModelMeta,
    /// What a `verbose` answer adds, when the job asked for it (`record_bmus`).
    pub verbose: Option<Verbose>,
}

/// What a `verbose` answer adds to the record.
#[derive(Debug, Clone)]
pub struct Verbose {
    /// `[row, col]` of the best-matching node of every presentation.
    pub bmus: Vec<[usize; 2]>,
    /// `[row, col]` of the best-matching node of every training sample on the final map.
    pub predictions: Vec<[usize; 2]>,
    /// The radius and learning rate of every iteration.
    pub schedule: Schedule,
}

/// Trains, then measures the map's quality on the training data.
pub fn run(job: &TrainingJob, control: &TrainControl) -> Result<Outcome, SomError> {
    let params = &job.params;
    let (initial, seed) = match &job.init {
        Init::Seed(seed) => (
            random_weights(params.rows(), params.cols(), params.dim(), *seed),
            Some(*seed),
        ),
        Init::Weights(weights) => (weights.clone(), None),
    };
    let options = TrainOptions {
        record_bmus: job.record_bmus,
        ..TrainOptions::default()
    };
    let started = Instant::now();
    let trained = train(params, initial, job.data.view(), &options, control)?;
    let training_seconds = started.elapsed().as_secs_f64();

    let map = Codebook::from_weights(trained.weights.view());
    let data = job.data.view();
    let recorded = trained.schedule.sample(RECORDED_ITERATIONS);
    let meta = ModelMeta {
        status: TrainingStatus::Succeeded,
        grid_shape: Some([params.rows(), params.cols()]),
        dim: Some(params.dim()),
        max_iterations: Some(params.max_iterations()),
        learning_rate: Some(params.learning_rate()),
        seed,
        finished_at: Some(Timestamp::now()),
        iterations_done: params.max_iterations(),
        training_seconds: Some(training_seconds),
        quantization_error: Some(map.quantization_error(data)?),
        topographic_error: Some(map.topographic_error(data)?),
        radius_per_iteration: Some(recorded.radii),
        learning_rate_per_iteration: Some(recorded.learning_rates),
        recorded_iterations: Some(recorded.iterations),
        ..ModelMeta::default()
    };
    let verbose = match trained.bmus {
        Some(bmus) => Some(Verbose {
            bmus,
            predictions: map.predict(data)?,
            schedule: trained.schedule,
        }),
        None => None,
    };
    Ok(Outcome {
        weights: trained.weights,
        meta,
        verbose,
    })
}
