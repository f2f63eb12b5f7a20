//! The numeric core: Kohonen self-organising maps trained exactly as SPEC §3 says.
//!
//! Knows nothing of HTTP, files or JSON. Parameters and the options of SPEC §3b go unchecked
//! -> checked ([`SomParams::check`]); [`train`] turns initial weights and data into a trained
//! map; [`Codebook`] answers queries on a map (best-matching node, prediction, quality).
//!
//! The options are types, each in its own module: the grid ([`topology`]), the neighbourhood
//! factor ([`kernel`]), the [`schedule`], the [`distance`], the initial weights ([`init`]) and
//! the feature [`scaling`]; the trainers in [`train`] share them.
//!
//! Shapes: weights `(rows, cols, dim)` row-major, data `(n, dim)`; node `[r, c]` has flat
//! index `r * cols + c`.

mod codebook;
mod distance;
mod init;
mod kernel;
mod options;
mod params;
mod scaling;
mod schedule;
mod summary;
mod topology;
mod train;

pub use codebook::Codebook;
pub use init::{Initial, MAX_PCA_DIM, random_seed, random_weights};
pub use options::{
    Compatibility, DEFAULT_LEARNING_RATE, Decay, Distance, InitMethod, Mode, NamedOption,
    Neighbourhood, Options, Order, Scaling, ScheduleSpec, Topology, TrainingOptions,
};
pub use params::{
    CheckedParams, MAX_ABS_VALUE, MAX_SEED_EXCLUSIVE, SizeLimits, SomError, SomParams,
    check_finite, check_seed, data_from_flat, data_from_rows, value_error,
};
pub use scaling::Scaler;
pub use schedule::{SampledSchedule, Schedule, sample_indices};
pub use summary::{NodeSummary, majority};
pub use topology::Grid;
pub use train::{TrainControl, TrainSettings, TrainStats, Trained, train, train_reference};

/// The ten sample colours of the original service's notebook, `(10, 3)` RGB in `[0, 1]`.
pub const SAMPLE_COLOURS: [[f64; 3]; 10] = [
    [0.09803922, 0.78823529, 0.27058824],
    [0.17254902, 0.8745098, 0.18823529],
    [0.82352941, 0.6, 0.49411765],
    [0.83529412, 0.56078431, 0.65098039],
    [0.85098039, 0.74509804, 0.54509804],
    [0.06666667, 0.3254902, 0.63529412],
    [0.1254902, 0.56470588, 0.09411765],
    [0.82352941, 0.00392157, 0.61176471],
    [0.91764706, 0.85882353, 0.70980392],
    [0.38039216, 0.68627451, 0.70980392],
];

#[cfg(test)]
mod options_tests;
#[cfg(test)]
mod tests;
