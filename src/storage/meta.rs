//! What is known of a model besides its weights, stored as `NAME.json` beside `NAME.npy`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a model's training stands. A model without a `.json` (as the Python service wrote
/// them) is `Succeeded`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum TrainingStatus {
    Queued,
    Running,
    #[default]
    Succeeded,
    Failed,
    Cancelled,
}

impl TrainingStatus {
    pub const ALL: [TrainingStatus; 5] = [
        TrainingStatus::Queued,
        TrainingStatus::Running,
        TrainingStatus::Succeeded,
        TrainingStatus::Failed,
        TrainingStatus::Cancelled,
    ];

    /// The name stored and shown by the API.
    pub fn as_str(self) -> &'static str {
        match self {
            TrainingStatus::Queued => "queued",
            TrainingStatus::Running => "running",
            TrainingStatus::Succeeded => "succeeded",
            TrainingStatus::Failed => "failed",
            TrainingStatus::Cancelled => "cancelled",
        }
    }

    /// Queued or running: the job may still change it.
    pub fn is_pending(self) -> bool {
        matches!(self, TrainingStatus::Queued | TrainingStatus::Running)
    }
}

/// The contents of `NAME.json`. Unknown values are `None` (a model imported or dropped in by
/// hand knows only its weights).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct ModelMeta {
    pub name: String,
    #[serde(default)]
    pub status: TrainingStatus,
    pub grid_shape: Option<[usize; 2]>,
    pub dim: Option<usize>,
    pub max_iterations: Option<usize>,
    pub learning_rate: Option<f64>,
    pub seed: Option<u64>,
    pub created_at: Option<Timestamp>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    #[serde(default)]
    pub iterations_done: usize,
    pub training_seconds: Option<f64>,
    pub quantization_error: Option<f64>,
    pub topographic_error: Option<f64>,
    /// Why the training failed, when it did.
    pub error: Option<String>,
    /// The radius and learning rate of some iterations (at most 1,000, the first and the last
    /// among them), whose numbers are in `recorded_iterations`; without those numbers (an
    /// older record), of every iteration in order.
    pub radius_per_iteration: Option<Vec<f64>>,
    pub learning_rate_per_iteration: Option<Vec<f64>>,
    pub recorded_iterations: Option<Vec<usize>>,
}
