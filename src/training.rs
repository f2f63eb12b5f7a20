//! One training from checked input to the weights and the record stored beside them, shared
//! by the command line and the job runner so both store the same facts about a model.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use jiff::Timestamp;
use ndarray::{Array2, Array3};

use crate::som::{
    CheckedParams, Initial, Schedule, SomError, TrainControl, TrainSettings, sample_indices, train,
};
use crate::storage::{
    DataRecord, DatasetHold, ModelMeta, NodesRecord, OptionsRecord, ScalerRecord, TrainingStatus,
};

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
    /// What the data's columns and rows are called, when the client said.
    pub names: DataNames,
}

/// Longest feature name or label, in characters: a name for a chart's title or a legend, not
/// a document.
pub const MAX_NAME_CHARS: usize = 100;

/// Most distinct labels a training may have: a legend of classes, and the per-node counts
/// stay small (each node lists only the labels it won).
pub const MAX_LABELS: usize = 1_000;

/// What a training's data columns and rows are called, checked against the data.
#[derive(Debug, Clone, Default)]
pub struct DataNames {
    /// One distinct, non-empty name per column.
    pub feature_names: Option<Vec<String>>,
    pub labels: Option<Labels>,
}

/// One label per training row: the distinct labels in order of first appearance, and each
/// row's index into them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Labels {
    pub names: Vec<String>,
    pub of_row: Vec<u32>,
    index: HashMap<String, u32>,
}

/// A feature name or a label the rules refuse; each names its field.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum NamesError {
    #[error("{field} has {got} entries but the data has {expected} {per}s: send one per {per}")]
    Count {
        field: &'static str,
        got: usize,
        expected: usize,
        per: &'static str,
    },
    #[error(
        "{field}[{index}] has {chars} characters, over the limit of {MAX_NAME_CHARS}: use a shorter name"
    )]
    TooLong {
        field: &'static str,
        index: usize,
        chars: usize,
    },
    #[error("feature_names[{0}] is empty: every feature needs a name")]
    EmptyName(usize),
    #[error("feature_names[{index}] repeats {name:?}: every feature needs its own name")]
    Repeated { index: usize, name: String },
    #[error(
        "labels has more than {MAX_LABELS} distinct values (the {index}th row brings one too many): labels name classes; keep free text out of them"
    )]
    TooManyLabels { index: usize },
    #[error("{field}[{index}] is {what}: {expected}")]
    NotText {
        field: &'static str,
        index: usize,
        what: String,
        expected: &'static str,
    },
}

impl NamesError {
    /// The request field at fault: `feature_names` or `labels`.
    pub fn field(&self) -> &'static str {
        match self {
            NamesError::Count { field, .. }
            | NamesError::TooLong { field, .. }
            | NamesError::NotText { field, .. } => field,
            NamesError::EmptyName(_) | NamesError::Repeated { .. } => "feature_names",
            NamesError::TooManyLabels { .. } => "labels",
        }
    }
}

impl Labels {
    /// Adds the next row's label, interning it among at most [`MAX_LABELS`] distinct ones.
    pub fn push(&mut self, label: &str) -> Result<(), NamesError> {
        let row = self.of_row.len();
        let chars = label.chars().count();
        if chars > MAX_NAME_CHARS {
            return Err(NamesError::TooLong {
                field: "labels",
                index: row,
                chars,
            });
        }
        let label = match self.index.get(label) {
            Some(&known) => known,
            None if self.names.len() == MAX_LABELS => {
                return Err(NamesError::TooManyLabels { index: row });
            }
            None => {
                let new = self.names.len() as u32;
                self.names.push(label.to_owned());
                self.index.insert(label.to_owned(), new);
                new
            }
        };
        self.of_row.push(label);
        Ok(())
    }

    /// The labels of `rows`, in order.
    pub fn from_rows<S: AsRef<str>>(rows: &[S]) -> Result<Labels, NamesError> {
        let mut labels = Labels::default();
        for label in rows {
            labels.push(label.as_ref())?;
        }
        Ok(labels)
    }
}

/// Checks `names` as the names of a data's columns: non-empty, distinct, each at most
/// [`MAX_NAME_CHARS`] characters (their number is checked against the data by
/// [`DataNames::check`]).
pub fn check_feature_names(names: &[String]) -> Result<(), NamesError> {
    let mut seen = std::collections::HashSet::new();
    for (index, name) in names.iter().enumerate() {
        let chars = name.chars().count();
        if chars == 0 {
            return Err(NamesError::EmptyName(index));
        }
        if chars > MAX_NAME_CHARS {
            return Err(NamesError::TooLong {
                field: "feature_names",
                index,
                chars,
            });
        }
        if !seen.insert(name.as_str()) {
            return Err(NamesError::Repeated {
                index,
                name: name.clone(),
            });
        }
    }
    Ok(())
}

/// A CSV header's names as feature names: kept only when they pass [`check_feature_names`].
/// A header is the file's, not the client's choice: pandas' `to_csv` names its index column
/// `""`, and such a file trains unnamed (with a warning in the log) instead of failing on a
/// name nobody sent.
pub fn header_feature_names(header: Option<Vec<String>>) -> Option<Vec<String>> {
    let header = header?;
    match check_feature_names(&header) {
        Ok(()) => Some(header),
        Err(problem) => {
            tracing::warn!("the CSV header does not name the features: {problem}");
            None
        }
    }
}

impl DataNames {
    /// Checks the counts against data of `rows` rows of `dim` columns: one feature name per
    /// column, one label per row.
    pub fn check(&self, rows: usize, dim: usize) -> Result<(), NamesError> {
        if let Some(names) = &self.feature_names {
            check_feature_names(names)?;
            if names.len() != dim {
                return Err(NamesError::Count {
                    field: "feature_names",
                    got: names.len(),
                    expected: dim,
                    per: "column",
                });
            }
        }
        if let Some(labels) = &self.labels
            && labels.of_row.len() != rows
        {
            return Err(NamesError::Count {
                field: "labels",
                got: labels.of_row.len(),
                expected: rows,
                per: "row",
            });
        }
        Ok(())
    }
}

impl TrainingJob {
    /// The name a job accepted at `accepted` asks for (`base`, or `base_2`, ... if taken) and
    /// its record while queued.
    pub fn queued(&self, accepted: Timestamp) -> (String, ModelMeta) {
        let params = &self.params;
        let base = crate::storage::model_name(
            accepted,
            [params.rows(), params.cols()],
            params.max_iterations(),
            params.learning_rate(),
        );
        let meta = ModelMeta {
            status: TrainingStatus::Queued,
            created_at: Some(accepted),
            ..self.record()
        };
        (base, meta)
    }

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
    let labels = job.names.labels.as_ref();
    let settings = TrainSettings {
        record_bmus: job.record_bmus,
        labels: labels.map(|labels| Arc::from(labels.of_row.as_slice())),
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
        data: Some(DataRecord {
            feature_names: job.names.feature_names.clone(),
            labels: labels.map(|labels| labels.names.clone()),
            nodes: NodesRecord::new(&trained.nodes),
        }),
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
