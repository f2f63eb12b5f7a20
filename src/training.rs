//! One training from checked input to the weights and the record stored beside them, shared
//! by the command line and the job runner so both store the same facts about a model.

use std::time::Instant;

use jiff::Timestamp;
use ndarray::{Array2, Array3};

use crate::som::{
    CheckedParams, Initial, Schedule, SomError, TrainControl, TrainSettings, sample_indices, train,
};
use crate::storage::{DatasetHold, ModelMeta, OptionsRecord, ScalerRecord, TrainingStatus};

/// A training that passed every check.
#[derive(Debug, Clone)]
pub struct TrainingJob {
    pub params: CheckedParams,
    /// Where the weights start: a method (random, sample, PCA) or given weights.
    pub initial: Initial,
    /// The seed of the training's generator (SPEC §3b: initial weights, then shuffles).
    pub seed: u64,
    /// `(n, dim)`, finite, in data units.
    pub data: Array2<f64>,
    /// Keep the best-matching node of every presentation (the `verbose` answer).
    pub record_bmus: bool,
    /// The stored dataset `data` came from, held (neither replaced nor deleted) while the job
    /// lives.
    pub dataset: Option<DatasetHold>,
}

impl TrainingJob {
    /// What is known of the model before it is trained: its parameters, options and seed
    /// (when the training draws from it).
    pub fn record(&self) -> ModelMeta {
        let params = &self.params;
        let given_weights = matches!(self.initial, Initial::Weights(_));
        let options = params.options();
        ModelMeta {
            grid_shape: Some([params.rows(), params.cols()]),
            dim: Some(params.dim()),
            max_iterations: Some(params.max_iterations()),
            learning_rate: params.learning_rate(),
            seed: options.uses_seed(given_weights).then_some(self.seed),
            options: Some(OptionsRecord::new(options, given_weights)),
            dataset: self.dataset.as_ref().map(|hold| hold.name().to_owned()),
            ..ModelMeta::default()
        }
    }
}

/// Iterations whose radius and learning rate are stored with a model, at most.
pub const RECORDED_ITERATIONS: usize = 1_000;

/// A finished training: its weights and the record to store beside them.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// `(rows, cols, dim)`, in scaled units when the options scale the data.
    pub weights: Array3<f64>,
    /// Everything but the name and the creation time, which the caller owns. Its radius,
    /// learning rate and errors are those of at most [`RECORDED_ITERATIONS`] iterations.
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

/// Trains (the core measures the final map on the data as trained on, scaled or not) and
/// builds the record.
pub fn run(job: &TrainingJob, control: &TrainControl) -> Result<Outcome, SomError> {
    let params = &job.params;
    let settings = TrainSettings {
        record_bmus: job.record_bmus,
        ..TrainSettings::default()
    };
    let started = Instant::now();
    let trained = train(
        params,
        job.initial.clone(),
        job.seed,
        job.data.view(),
        &settings,
        control,
    )?;
    let training_seconds = started.elapsed().as_secs_f64();

    let recorded = trained.schedule.sample(RECORDED_ITERATIONS);
    let quality_per_iteration = (trained.quality_per_iteration.as_ref()).map(|quality| {
        (sample_indices(quality.len(), RECORDED_ITERATIONS).into_iter())
            .map(|i| quality[i])
            .collect()
    });
    let meta = ModelMeta {
        status: TrainingStatus::Succeeded,
        finished_at: Some(Timestamp::now()),
        iterations_done: params.max_iterations(),
        training_seconds: Some(training_seconds),
        quantization_error: Some(trained.quality[0]),
        topographic_error: Some(trained.quality[1]),
        radius_per_iteration: Some(recorded.radii),
        learning_rate_per_iteration: params.learning_rate().map(|_| recorded.learning_rates),
        recorded_iterations: Some(recorded.iterations),
        scaler: trained.scaler.as_ref().map(ScalerRecord::new),
        quality_per_iteration,
        ..job.record()
    };
    let verbose = match (trained.bmus, trained.predictions) {
        (Some(bmus), Some(predictions)) => Some(Verbose {
            bmus,
            predictions,
            schedule: trained.schedule,
        }),
        _ => None,
    };
    Ok(Outcome {
        weights: trained.weights,
        meta,
        verbose,
    })
}
