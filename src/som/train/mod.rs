//! Training: from checked parameters, initial weights and data to a trained map.
//!
//! [`train`] runs the fast trainers ([`online`]: bands of rows meeting at a [`rendezvous`]
//! once per presentation; [`batch`]: all samples' best-matching nodes at once, then per-node
//! sums); [`train_reference`] runs [`reference`], SPEC §3 and §3b written out with no
//! optimisation, which the tests hold the fast trainers to. Both share everything before the
//! loop: scaling, the seeded generator, the initial weights and the schedule.

mod batch;
mod candidates;
mod online;
mod reference;
mod rendezvous;
mod stencil;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use ndarray::{Array2, Array3, ArrayView2, CowArray, Ix2};

use super::codebook::Codebook;
use super::init::{Generator, Initial, generator, initial_weights};
use super::options::Mode;
use super::params::{CheckedParams, SomError, check_finite, check_initial_weights};
use super::scaling::Scaler;
use super::schedule::Schedule;
use super::summary::NodeSummary;
use candidates::{CandidateSearch, Match};

/// Shared with whoever runs the training: progress to read, a flag to cancel.
#[derive(Debug, Default)]
pub struct TrainControl {
    iterations_done: AtomicUsize,
    /// Samples handled since the training began (presented, online; searched, batch): an
    /// iteration over a large dataset takes seconds, and progress counted in iterations alone
    /// would stand still that long.
    samples_done: AtomicU64,
    /// Samples the whole training handles: iterations x samples, once known.
    samples_planned: AtomicU64,
    cancel: AtomicBool,
    /// What a test makes happen at `(band, presentation)`: a panic, a cancel.
    #[cfg(test)]
    fault: std::sync::OnceLock<Fault>,
}

impl TrainControl {
    /// Iterations completed so far.
    pub fn iterations_done(&self) -> usize {
        self.iterations_done.load(Ordering::Relaxed)
    }
    fn set_iterations_done(&self, done: usize) {
        self.iterations_done.store(done, Ordering::Relaxed);
    }
    /// The fraction of the training's work done, 0..1, counted in samples; 0 until the
    /// training has started its loop.
    pub fn fraction_done(&self) -> f64 {
        let planned = self.samples_planned.load(Ordering::Relaxed);
        match planned {
            0 => 0.0,
            _ => (self.samples_done.load(Ordering::Relaxed) as f64 / planned as f64).min(1.0),
        }
    }
    fn plan(&self, iterations: usize, samples: usize) {
        let planned = (iterations as u64).saturating_mul(samples as u64);
        self.samples_planned.store(planned, Ordering::Relaxed);
    }
    /// Sets the samples handled since the training began (one writer).
    fn set_samples_done(&self, done: u64) {
        self.samples_done.store(done, Ordering::Relaxed);
    }
    /// Counts `more` samples handled (any number of writers).
    fn add_samples_done(&self, more: usize) {
        self.samples_done.fetch_add(more as u64, Ordering::Relaxed);
    }
    /// Asks the training to stop; it does so before its next presentation (online) or
    /// within a few milliseconds' work (batch).
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Makes band `band` call `fault` (e.g. panic) just before its presentation
    /// `presentation` (counted from 1), to test what training does then.
    #[cfg(test)]
    pub(crate) fn inject(&self, band: usize, presentation: u64, fault: fn(&TrainControl)) {
        self.fault
            .set((band, presentation, fault))
            .expect("one injected fault per training");
    }

    #[cfg(test)]
    fn fault_if_injected(&self, band: usize, presentation: u64) {
        if let Some(&(at_band, at, fault)) = self.fault.get()
            && (at_band, at) == (band, presentation)
        {
            fault(self);
        }
    }
}

/// A test's fault: at `(band, presentation)`, call this.
#[cfg(test)]
type Fault = (usize, u64, fn(&TrainControl));

/// How to run a training, beyond what it computes.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// Record the best-matching node of every presentation (for `verbose` answers; online
    /// mode).
    pub record_bmus: bool,
    /// Size of a map (`nodes x dim`) from which its rows are split over threads, as many as the
    /// current rayon pool has (at most one per row). Default 16,384: a 100x100 map of colours is
    /// split, a 10x10 one is not (its presentations take less than the threads' handshake).
    /// Tests lower it to force the split.
    pub parallel_min_work: usize,
    /// Most block minima (samples x blocks of nodes) the search cache may hold, 16 bytes each.
    /// Past it every search rescans every node: with that many samples nearly every block is
    /// updated between two presentations of a sample anyway. Default 4,194,304 (64 MiB).
    pub max_cached_blocks: usize,
    /// The label (an index into names kept by the caller) of every sample, counted per node in
    /// [`Trained::nodes`]; as many as samples.
    pub labels: Option<Arc<[u32]>>,
}

impl Default for TrainSettings {
    fn default() -> Self {
        TrainSettings {
            record_bmus: false,
            parallel_min_work: 16_384,
            max_cached_blocks: 1 << 22,
            labels: None,
        }
    }
}

/// Counters of the work done, for tests and profiling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainStats {
    /// Node weight vectors updated, over all presentations.
    pub nodes_updated: u64,
    /// Nodes whose distance to a sample was computed during training: online, by the pruned
    /// scan (a block of nodes abandoned part-way as too far counts whole); batch, exactly in
    /// f64 (after the f32 products, only the nodes they leave in doubt).
    pub nodes_scanned: u64,
    /// Threads the map's rows were split over (1: not split).
    pub threads: usize,
}

/// The result of a training.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Final weights, `(rows, cols, dim)`, in scaled units when the data was scaled.
    pub weights: Array3<f64>,
    pub schedule: Schedule,
    /// `[row, col]` of the best-matching node of every presentation, in order (online mode,
    /// when recorded).
    pub bmus: Option<Vec<[usize; 2]>>,
    /// `[quantization error, topographic error]` after every iteration (batch mode).
    pub quality_per_iteration: Option<Vec<[f64; 2]>>,
    /// `[quantization error, topographic error]` of the final map on the training data, in
    /// the units it was trained in.
    pub quality: [f64; 2],
    /// `[row, col]` of the best-matching node of every training sample on the final map,
    /// when the presentations were recorded (`record_bmus`).
    pub predictions: Option<Vec<[usize; 2]>>,
    /// The scaling fitted on the data, when the options ask for one.
    pub scaler: Option<Scaler>,
    /// What the training samples left on each node of the final map.
    pub nodes: NodeSummary,
    pub stats: TrainStats,
}

/// Everything a trainer's loop needs, prepared the same way for every trainer.
struct Prepared<'a> {
    /// `(n, dim)`, scaled, contiguous.
    data: CowArray<'a, f64, Ix2>,
    scaler: Option<Scaler>,
    initial: Array3<f64>,
    /// Where the generator stands after the initial weights were drawn.
    rng: Generator,
    schedule: Schedule,
}

/// Checks the data, fits the scaler, draws the initial weights and computes the schedule.
fn prepare<'a>(
    params: &CheckedParams,
    initial: Initial,
    seed: u64,
    data: ArrayView2<'a, f64>,
    control: &TrainControl,
) -> Result<Prepared<'a>, SomError> {
    if data.nrows() == 0 {
        return Err(SomError::NoSamples);
    }
    if data.ncols() != params.dim() {
        return Err(SomError::DimensionMismatch {
            expected: params.dim(),
            got: data.ncols(),
        });
    }
    check_finite(data)?;
    let options = params.options();
    let scaler = Scaler::fit(options.scaling, data);
    // Borrowed as it is when unscaled and already contiguous (as the HTTP and CLI readers
    // make it): a training never holds a second copy of its data.
    let data: CowArray<f64, Ix2> = match &scaler {
        Some(scaler) => CowArray::from(scaler.scale(data)),
        None if data.is_standard_layout() => CowArray::from(data),
        None => CowArray::from(data.as_standard_layout().into_owned()),
    };
    let mut rng = generator(seed);
    let initial = match initial {
        Initial::Method(method) => {
            let (rows, cols) = (params.rows(), params.cols());
            initial_weights(method, rows, cols, data.view(), &mut rng, control)?
        }
        Initial::Weights(weights) => {
            check_initial_weights(params, &weights)?;
            weights
        }
    };
    let schedule = Schedule::new(&options.schedule, params.max_iterations());
    Ok(Prepared {
        data,
        scaler,
        initial,
        rng,
        schedule,
    })
}

/// Trains a map with the fast trainer of the parameters' mode: from `initial` weights (or a
/// method to compute them), drawing from the generator of `seed` (SPEC §3b), on `data`
/// `(n, dim)` in data units.
///
/// # Errors
/// [`SomError::NoSamples`], [`SomError::DimensionMismatch`] (data of another dimension than the
/// parameters), [`SomError::NonFinite`], [`SomError::InitialWeightsShape`], and
/// [`SomError::Cancelled`] when `control` was cancelled.
pub fn train(
    params: &CheckedParams,
    initial: Initial,
    seed: u64,
    data: ArrayView2<f64>,
    settings: &TrainSettings,
    control: &TrainControl,
) -> Result<Trained, SomError> {
    check_labels(settings.labels.as_deref(), data.nrows())?;
    let prepared = prepare(params, initial, seed, data, control)?;
    // Batch searches once more after its last iteration, for the final map's errors.
    let passes = prepared.schedule.radii.len() + usize::from(params.options().mode == Mode::Batch);
    control.plan(passes, prepared.data.nrows());
    let samples = prepared
        .data
        .as_slice()
        .expect("prepared data is contiguous");
    let outcome = match params.options().mode {
        Mode::Online => online::train(
            params,
            prepared.initial,
            samples,
            &prepared.schedule,
            &prepared.rng,
            settings,
            control,
        )?,
        Mode::Batch => batch::train(
            params,
            prepared.initial,
            samples,
            &prepared.schedule,
            control,
        )?,
    };
    let data = prepared.data.view();
    let labels = settings.labels.as_deref();
    outcome.into_trained(params, prepared.schedule, prepared.scaler, data, labels)
}

/// `labels`, when given, must name one label per sample.
fn check_labels(labels: Option<&[u32]>, samples: usize) -> Result<(), SomError> {
    match labels {
        Some(labels) if labels.len() != samples => Err(SomError::InvalidOption {
            field: "labels",
            message: format!(
                "labels has {} entries but the data has {samples} rows: send one label per row",
                labels.len()
            ),
        }),
        _ => Ok(()),
    }
}

/// Trains as [`train`] does with the reference trainer: every option, written out as SPEC
/// §3 and §3b say it, with no optimisation. For tests and for reading; slow.
///
/// # Errors
/// As [`train`], but never [`SomError::Cancelled`].
pub fn train_reference(
    params: &CheckedParams,
    initial: Initial,
    seed: u64,
    data: ArrayView2<f64>,
) -> Result<Trained, SomError> {
    let Prepared {
        data,
        scaler,
        initial,
        mut rng,
        schedule,
    } = prepare(params, initial, seed, data, &TrainControl::default())?;
    let data: Array2<f64> = data.into_owned();
    let outcome = reference::train(params, initial, &data, &schedule, &mut rng);
    outcome.into_trained(params, schedule, scaler, data.view(), None)
}

/// What a trainer's loop gives back.
struct Outcome {
    /// `(rows, cols, dim)`.
    weights: Array3<f64>,
    /// Flat index of the best-matching node of every presentation (online, when recorded).
    bmus: Option<Vec<usize>>,
    /// `[qe, te]` after every iteration (batch).
    quality_per_iteration: Option<Vec<[f64; 2]>>,
    /// The nearest two nodes of every sample on the final weights, when the trainer searched
    /// for them (batch, for its last errors).
    found: Option<Vec<Match>>,
    stats: TrainStats,
}

impl Outcome {
    /// The trained map with its quality and node summary on `data` (the training data as
    /// trained on, scaled or not: no second copy is made), whose samples carry `labels` when
    /// given, and, when the presentations were recorded, the best-matching node of every
    /// sample; or [`SomError::Diverged`] when a weight became infinite (possible only with the
    /// negative factors of `mexican-hat`).
    fn into_trained(
        self,
        params: &CheckedParams,
        schedule: Schedule,
        scaler: Option<Scaler>,
        data: ArrayView2<f64>,
        labels: Option<&[u32]>,
    ) -> Result<Trained, SomError> {
        if self.weights.iter().any(|w| !w.is_finite()) {
            return Err(SomError::Diverged);
        }
        let mut map = Codebook::on_grid(self.weights.view(), params.options());
        // Batch searched the final map in its last pass (and measured it there).
        let found = match self.found {
            Some(found) => found,
            None => {
                let weights = self.weights.as_standard_layout();
                let flat = weights
                    .as_slice()
                    .expect("a standard layout array is contiguous");
                final_search(&mut map, flat, data)
            }
        };
        let quality = match self.quality_per_iteration.as_ref().and_then(|q| q.last()) {
            Some(&last) => last,
            None => batch::errors(&found, &map),
        };
        let distance = map.distance();
        let nearest = found.iter().map(|m| (m.node, distance.finish(m.distance)));
        let nodes = NodeSummary::new(map.nodes(), nearest, labels);
        let predictions = match self.bmus {
            Some(_) => Some(map.predict(data)?),
            None => None,
        };
        let grid = params.grid();
        Ok(Trained {
            weights: self.weights,
            schedule,
            bmus: (self.bmus).map(|bmus| bmus.into_iter().map(|b| grid.position(b)).collect()),
            quality_per_iteration: self.quality_per_iteration,
            quality,
            predictions,
            scaler,
            nodes,
            stats: self.stats,
        })
    }
}

/// The nearest two nodes of every vector of `data` `(n, dim)` (the map's dimension, at least
/// one vector) on `map`, whose weights `(nodes, dim)` are `weights`, in one search pass by the
/// batch trainer's search (f32 products decided exactly, for Euclidean distance): the very
/// nodes and distances of [`Codebook::quantization_error`] and
/// [`Codebook::topographic_error`], which scan twice (on 16,000 x 300 the second scan cost a
/// quarter of ten online iterations), and what the node summary counts.
fn final_search(map: &mut Codebook, weights: &[f64], data: ArrayView2<f64>) -> Vec<Match> {
    let data = data.as_standard_layout();
    let samples = data
        .as_slice()
        .expect("a standard layout array is contiguous");
    let mut candidates = CandidateSearch::new(samples, map.dim(), map.nodes(), map.distance());
    let mut found = vec![Match::default(); data.nrows()];
    let never = TrainControl::default();
    batch::search(&mut candidates, map, samples, weights, &mut found, &never);
    found
}

#[cfg(test)]
mod final_search_tests {
    use super::*;
    use crate::som::{Distance, Topology, random_weights};

    #[test]
    fn the_final_search_gives_the_codebooks_two_errors_to_the_bit() {
        let data = Array2::from_shape_fn((500, 7), |(i, k)| ((i * 13 + k * 5) % 17) as f64 / 17.0);
        for (rows, cols) in [(1, 1), (1, 2), (6, 5), (20, 20)] {
            for topology in [Topology::Rectangular, Topology::Hexagonal] {
                let weights = random_weights(rows, cols, 7, 3);
                let mut map = Codebook::from_weights(weights.view()).with(
                    topology,
                    false,
                    Distance::Euclidean,
                );
                let flat = weights.as_slice().unwrap();
                let found = final_search(&mut map, flat, data.view());
                let both = batch::errors(&found, &map);
                let qe = map.quantization_error(data.view()).unwrap();
                let te = map.topographic_error(data.view()).unwrap();
                assert_eq!(both, [qe, te], "{rows}x{cols} {topology:?}");
            }
        }
    }
}

#[cfg(test)]
mod summary_tests {
    use super::*;
    use crate::som::{Mode, SomParams, TrainingOptions};

    #[test]
    fn the_node_summary_counts_every_sample_once_and_averages_to_the_quantization_error() {
        let data = Array2::from_shape_fn((300, 4), |(i, k)| ((i * 7 + k * 3) % 11) as f64 / 11.0);
        let labels: Arc<[u32]> = (0..300).map(|i| (i % 3) as u32).collect();
        for mode in [Mode::Online, Mode::Batch] {
            let options = TrainingOptions {
                mode: Some(mode),
                ..TrainingOptions::default()
            };
            let params = SomParams::new(5, 4, 6).options(options).check(4).unwrap();
            let settings = TrainSettings {
                labels: Some(labels.clone()),
                ..TrainSettings::default()
            };
            let never = TrainControl::default();
            let initial = Initial::Method(params.options().init);
            let trained = train(&params, initial, 3, data.view(), &settings, &never).unwrap();
            let nodes = &trained.nodes;
            assert_eq!(nodes.hits.iter().sum::<u64>(), 300, "{mode:?}");
            let total: f64 = (nodes.hits.iter().zip(&nodes.mean_distance))
                .map(|(&hits, mean)| hits as f64 * mean.unwrap_or(0.0))
                .sum();
            approx::assert_relative_eq!(total / 300.0, trained.quality[0], epsilon = 1e-12);
            let counts = nodes.label_counts.as_ref().unwrap();
            for (node, counts) in counts.iter().enumerate() {
                assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), nodes.hits[node]);
            }
        }
    }

    #[test]
    fn labels_of_another_length_than_the_data_are_refused() {
        let data = Array2::zeros((4, 2));
        let params = SomParams::new(2, 2, 1).check(2).unwrap();
        let settings = TrainSettings {
            labels: Some(Arc::from([0, 1, 2])),
            ..TrainSettings::default()
        };
        let initial = Initial::Method(params.options().init);
        let never = TrainControl::default();
        let err = train(&params, initial, 1, data.view(), &settings, &never).unwrap_err();
        assert!(
            err.to_string()
                .contains("labels has 3 entries but the data has 4 rows")
        );
    }
}
