//! Training parameters, unchecked -> checked, and the data shapes the core accepts.
//!
//! Every way a request can be wrong has its own [`SomError`] variant whose message says what
//! to send instead; the HTTP layer maps variants to error codes, the CLI prints the message.

use ndarray::{Array2, Array3, ArrayView2};

use super::init::check_pca_dim;
use super::options::{InitMethod, Options, TrainingOptions};
use super::topology::Grid;

/// Largest magnitude of a data value or given weight: sums of squares of differences over
/// millions of values (distances, variances, covariances) then stay finite.
pub const MAX_ABS_VALUE: f64 = 1e100;

/// Largest seed accepted: seeds must survive a round trip through a JSON number (an f64).
pub const MAX_SEED_EXCLUSIVE: u64 = 1 << 53;

/// Everything that can be wrong with a training or prediction request.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SomError {
    #[error(
        "grid_shape must be two integers >= 1 (rows, columns), got [{rows}, {cols}]; e.g. [10, 10]"
    )]
    EmptyGrid { rows: usize, cols: usize },
    #[error("max_iterations must be an integer >= 1, got 0; e.g. 100")]
    ZeroIterations,
    #[error("learning_rate must be a finite number with 0 < learning_rate <= 1, got {0}; e.g. 0.1")]
    InvalidLearningRate(f64),
    #[error("seed must be an integer with 0 <= seed < 2^53 (9007199254740992), got {0}")]
    InvalidSeed(u64),
    #[error("the data has no samples: send at least one row, e.g. [[0.1, 0.2, 0.3]]")]
    NoSamples,
    #[error("the data rows have no values: every row needs at least one number")]
    ZeroDimension,
    #[error(
        "row {row} has {len} values but row 0 has {expected}: every row must have the same length"
    )]
    RaggedRows {
        row: usize,
        len: usize,
        expected: usize,
    },
    // u128: a client's shape may be two huge numbers, whose product must not overflow.
    #[error("the data shape [{rows}, {cols}] needs {} values but {len} were sent", *rows as u128 * *cols as u128)]
    ShapeMismatch {
        rows: usize,
        cols: usize,
        len: usize,
    },
    #[error("row {row}, column {col} is {value}: every value must be a finite number")]
    NonFinite { row: usize, col: usize, value: f64 },
    #[error(
        "row {row}, column {col} is {value:?}: values must lie within ±1e100 (distances between larger ones overflow); rescale the data"
    )]
    ValueTooLarge { row: usize, col: usize, value: f64 },
    #[error(
        "the initial weights have shape {got:?} but a {rows}x{cols} map of {dim}-dimensional data needs [{rows}, {cols}, {dim}]"
    )]
    InitialWeightsShape {
        rows: usize,
        cols: usize,
        dim: usize,
        got: Vec<usize>,
    },
    #[error(
        "the vectors have {got} values each but the map's nodes have {expected}: send {expected}-dimensional vectors"
    )]
    DimensionMismatch { expected: usize, got: usize },
    #[error(
        "a {rows}x{cols} map has {nodes} nodes, over the limit of {limit}: use a smaller grid_shape"
    )]
    TooManyNodes {
        rows: usize,
        cols: usize,
        nodes: usize,
        limit: usize,
    },
    #[error(
        "a map of {nodes} nodes x {dim} dimensions holds {weights} weights, over the limit of {limit}: use a smaller grid_shape or fewer dimensions"
    )]
    TooManyWeights {
        nodes: usize,
        dim: usize,
        weights: usize,
        limit: usize,
    },
    #[error(
        "max_iterations is {max_iterations}, over the limit of {limit} (the server's --max-iterations): use fewer iterations"
    )]
    TooManyIterations { max_iterations: usize, limit: usize },
    /// A §3b option with a value out of range, or a combination that makes no sense.
    #[error("{message}")]
    InvalidOption {
        /// The request field (the flag, with dashes) at fault.
        field: &'static str,
        message: String,
    },
    #[error(
        "the weights became infinite during training (a neighbourhood with negative factors, mexican-hat, pushed nodes apart faster than the data pulled them back): use a smaller learning_rate or another neighbourhood"
    )]
    Diverged,
    #[error(
        "the data's principal components could not be computed (the eigendecomposition of its covariance did not converge): use init \"random\" or \"sample\""
    )]
    PcaNoConvergence,
    #[error("training was cancelled after {iterations_done} iterations")]
    Cancelled { iterations_done: usize },
}

/// Size limits of a map, so one request cannot exhaust the machine's memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeLimits {
    /// Most nodes (rows x columns) a map may have. Default 1,000,000.
    pub max_nodes: usize,
    /// Most weights (nodes x dimension) a map may have. Default 50,000,000.
    pub max_weights: usize,
    /// Most iterations a training may run. Default 1,000,000: the schedule holds two numbers
    /// per iteration, and a `verbose` answer one entry per iteration.
    pub max_iterations: usize,
}

impl Default for SizeLimits {
    fn default() -> Self {
        SizeLimits {
            max_nodes: 1_000_000,
            max_weights: 50_000_000,
            max_iterations: 1_000_000,
        }
    }
}

impl SizeLimits {
    /// Checks that a `rows x cols` map of `dim`-dimensional nodes fits.
    pub fn check(&self, rows: usize, cols: usize, dim: usize) -> Result<(), SomError> {
        let nodes = rows.saturating_mul(cols);
        if nodes > self.max_nodes {
            return Err(SomError::TooManyNodes {
                rows,
                cols,
                nodes,
                limit: self.max_nodes,
            });
        }
        let weights = nodes.saturating_mul(dim);
        if weights > self.max_weights {
            return Err(SomError::TooManyWeights {
                nodes,
                dim,
                weights,
                limit: self.max_weights,
            });
        }
        Ok(())
    }
}

/// Training parameters as a user gave them; [`SomParams::check`] turns them into
/// [`CheckedParams`], the only form training accepts.
#[derive(Debug, Clone, PartialEq)]
pub struct SomParams {
    /// Rows of the grid (x of `grid_shape`).
    pub rows: usize,
    /// Columns of the grid (y of `grid_shape`).
    pub cols: usize,
    /// Iterations; each presents every sample once. At least 1.
    pub max_iterations: usize,
    /// Initial learning rate `a0`, `0 < a0 <= 1`, as given: default 0.1 online, and batch
    /// mode has none.
    pub learning_rate: Option<f64>,
    /// The options of SPEC §3b, as given.
    pub options: TrainingOptions,
    /// Size limits the map must fit in.
    pub limits: SizeLimits,
}

impl SomParams {
    /// Parameters for a `rows x cols` map trained for `max_iterations` with the default
    /// learning rate, options and size limits.
    pub fn new(rows: usize, cols: usize, max_iterations: usize) -> Self {
        SomParams {
            rows,
            cols,
            max_iterations,
            learning_rate: None,
            options: TrainingOptions::default(),
            limits: SizeLimits::default(),
        }
    }

    /// Sets the initial learning rate.
    pub fn learning_rate(mut self, learning_rate: f64) -> Self {
        self.learning_rate = Some(learning_rate);
        self
    }

    /// Sets the options of SPEC §3b.
    pub fn options(mut self, options: TrainingOptions) -> Self {
        self.options = options;
        self
    }

    /// Sets the size limits.
    pub fn limits(mut self, limits: SizeLimits) -> Self {
        self.limits = limits;
        self
    }

    /// Checks the parameters for data of dimension `dim`.
    ///
    /// # Errors
    /// [`SomError::EmptyGrid`], [`SomError::ZeroIterations`], [`SomError::InvalidLearningRate`],
    /// [`SomError::InvalidOption`], [`SomError::ZeroDimension`], [`SomError::TooManyNodes`],
    /// [`SomError::TooManyWeights`], [`SomError::TooManyIterations`].
    pub fn check(self, dim: usize) -> Result<CheckedParams, SomError> {
        if self.rows == 0 || self.cols == 0 {
            return Err(SomError::EmptyGrid {
                rows: self.rows,
                cols: self.cols,
            });
        }
        if self.max_iterations == 0 {
            return Err(SomError::ZeroIterations);
        }
        if self.max_iterations > self.limits.max_iterations {
            return Err(SomError::TooManyIterations {
                max_iterations: self.max_iterations,
                limit: self.limits.max_iterations,
            });
        }
        let options = self
            .options
            .check(self.rows, self.cols, self.learning_rate)?;
        if dim == 0 {
            return Err(SomError::ZeroDimension);
        }
        self.limits.check(self.rows, self.cols, dim)?;
        if options.init == InitMethod::Pca {
            check_pca_dim(dim)?;
        }
        Ok(CheckedParams {
            rows: self.rows,
            cols: self.cols,
            dim,
            max_iterations: self.max_iterations,
            options,
            given_learning_rate: self.learning_rate,
            given_options: self.options,
        })
    }
}

/// Parameters that passed [`SomParams::check`]: a non-empty grid within the size limits,
/// at least one iteration, a learning rate in `(0, 1]` (online), a dimension of at least 1,
/// options that fit together.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CheckedParams {
    rows: usize,
    cols: usize,
    dim: usize,
    max_iterations: usize,
    options: Options,
    /// What was given, for [`CheckedParams::as_given`].
    given_learning_rate: Option<f64>,
    given_options: TrainingOptions,
}

impl CheckedParams {
    /// The parameters as they were given (with the default size limits): checked again, on
    /// another machine or after a restart, they give these same parameters. A queued job is
    /// stored this way, never as values that skip the checks.
    pub fn as_given(&self) -> SomParams {
        SomParams {
            learning_rate: self.given_learning_rate,
            options: self.given_options,
            ..SomParams::new(self.rows, self.cols, self.max_iterations)
        }
    }
    pub fn rows(&self) -> usize {
        self.rows
    }
    pub fn cols(&self) -> usize {
        self.cols
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn max_iterations(&self) -> usize {
        self.max_iterations
    }
    /// The starting learning rate; `None` in batch mode.
    pub fn learning_rate(&self) -> Option<f64> {
        self.options.schedule.learning_rate
    }
    pub fn options(&self) -> &Options {
        &self.options
    }
    /// The grid the nodes sit on.
    pub fn grid(&self) -> Grid {
        Grid {
            rows: self.rows,
            cols: self.cols,
            topology: self.options.topology,
            toroidal: self.options.toroidal,
        }
    }
    /// Number of nodes, `rows * cols`.
    pub fn nodes(&self) -> usize {
        self.rows * self.cols
    }
}

/// Checks that a seed is in `0..2^53`.
pub fn check_seed(seed: u64) -> Result<u64, SomError> {
    if seed < MAX_SEED_EXCLUSIVE {
        Ok(seed)
    } else {
        Err(SomError::InvalidSeed(seed))
    }
}

/// Builds an `(n, dim)` data array from rows of equal length.
///
/// # Errors
/// [`SomError::NoSamples`], [`SomError::ZeroDimension`], [`SomError::RaggedRows`],
/// [`SomError::NonFinite`].
pub fn data_from_rows<R: AsRef<[f64]>>(rows: &[R]) -> Result<Array2<f64>, SomError> {
    let first = rows.first().ok_or(SomError::NoSamples)?.as_ref().len();
    let mut flat = Vec::with_capacity(rows.len() * first);
    for (row, values) in rows.iter().enumerate() {
        let values = values.as_ref();
        if values.len() != first {
            return Err(SomError::RaggedRows {
                row,
                len: values.len(),
                expected: first,
            });
        }
        flat.extend_from_slice(values);
    }
    data_from_flat(flat, [rows.len(), first])
}

/// Builds an `(n, dim)` data array from `n * dim` values in row-major order.
///
/// # Errors
/// [`SomError::NoSamples`], [`SomError::ZeroDimension`], [`SomError::ShapeMismatch`],
/// [`SomError::NonFinite`].
pub fn data_from_flat(flat: Vec<f64>, [rows, cols]: [usize; 2]) -> Result<Array2<f64>, SomError> {
    if rows == 0 {
        return Err(SomError::NoSamples);
    }
    if cols == 0 {
        return Err(SomError::ZeroDimension);
    }
    if rows.checked_mul(cols) != Some(flat.len()) {
        return Err(SomError::ShapeMismatch {
            rows,
            cols,
            len: flat.len(),
        });
    }
    let data = Array2::from_shape_vec((rows, cols), flat).expect("length was checked above");
    check_finite(data.view())?;
    Ok(data)
}

/// Checks that every value of an `(n, dim)` array is finite and within
/// [`MAX_ABS_VALUE`].
pub fn check_finite(data: ArrayView2<f64>) -> Result<(), SomError> {
    // A branch-free pass the compiler vectorises says whether any value is wrong (NaN fails
    // the comparison too); only then is the first one looked for, with its position.
    let fine = |values: &[f64]| {
        (values.iter()).fold(true, |fine, value| fine & (value.abs() <= MAX_ABS_VALUE))
    };
    if data
        .as_slice()
        .is_some_and(|values| values.chunks(4096).all(fine))
    {
        return Ok(());
    }
    match (data.indexed_iter()).find_map(|((row, col), &value)| value_error(row, col, value)) {
        Some(err) => Err(err),
        None => Ok(()),
    }
}

/// What is wrong with the data value `value` at `(row, col)`, if anything: not finite, or
/// beyond [`MAX_ABS_VALUE`]. For data checked a piece at a time, as it is read.
pub fn value_error(row: usize, col: usize, value: f64) -> Option<SomError> {
    if !value.is_finite() {
        Some(SomError::NonFinite { row, col, value })
    } else if value.abs() > MAX_ABS_VALUE {
        Some(SomError::ValueTooLarge { row, col, value })
    } else {
        None
    }
}

/// Checks that given initial weights have the shape `(rows, cols, dim)` the parameters need
/// and are finite (within [`MAX_ABS_VALUE`]); a weight's row is its node's flat index.
pub fn check_initial_weights(
    params: &CheckedParams,
    weights: &Array3<f64>,
) -> Result<(), SomError> {
    let expected = [params.rows, params.cols, params.dim];
    if weights.shape() != expected {
        return Err(SomError::InitialWeightsShape {
            rows: params.rows,
            cols: params.cols,
            dim: params.dim,
            got: weights.shape().to_vec(),
        });
    }
    let cols = params.cols;
    match (weights.indexed_iter())
        .find_map(|((r, c, k), &value)| value_error(r * cols + c, k, value))
    {
        Some(err) => Err(err),
        None => Ok(()),
    }
}
