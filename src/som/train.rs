//! Training: the rule of SPEC §3, made fast without changing a single result.
//!
//! What keeps it fast:
//! - Only the nodes inside the radius are visited: per iteration the half-width of every row of
//!   the disk `d2 <= s_t^2 + 1e-9` and the factor `a_t * theta(d2)` of every node in it are
//!   computed once; a presentation then updates contiguous row segments of each plane.
//! - The best-matching-node search remembers, per sample, the nearest node of every block of
//!   [`BLOCK`] nodes, and rescans only the blocks updated since that sample was last presented.
//!   Late in training the radius is small and most blocks stay clean.
//! - A large map is cut into bands of interleaved rows, one per thread, each owning its
//!   weights for the whole training. Per presentation each band finds its own nearest node, the
//!   bands swap those through a [`Rendezvous`] (a few atomics, no lock, no task hand-over) and
//!   each band updates its own rows. Every node's distance and update are computed exactly as
//!   on one thread and ties go to the smallest flat index, so results do not depend on the
//!   thread count.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

use ndarray::{Array3, ArrayView2, Axis, Slice};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::codebook::{BLOCK, BlockNearest, Codebook, Scratch, UNKNOWN_OFFSET};
use super::params::{CheckedParams, SomError, check_finite, check_initial_weights};

/// Initial weights `(rows, cols, dim)`, uniform in `[0, 1)`, drawn in C order from
/// `ChaCha8Rng::seed_from_u64(seed)` with rand's standard `f64` draw. Pinned by a test: the same
/// seed gives the same weights after any dependency upgrade.
pub fn random_weights(rows: usize, cols: usize, dim: usize, seed: u64) -> Array3<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Array3::from_shape_simple_fn((rows, cols, dim), || rng.random::<f64>())
}

/// A fresh seed in `0..2^53`, for a request that gave none (it is recorded with the model).
pub fn random_seed() -> u64 {
    rand::random::<u64>() >> 11
}

/// Neighbourhood radius and learning rate of each iteration `t = 1..=N`.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub radii: Vec<f64>,
    pub learning_rates: Vec<f64>,
}

impl Schedule {
    /// The schedule of SPEC §3: `s_t = s0 exp(-t / lambda)`, `a_t = a0 exp(-t / lambda)`.
    pub fn new(params: &CheckedParams) -> Self {
        let n = params.max_iterations() as f64;
        let s0 = params.rows().max(params.cols()) as f64 / 2.0;
        let lambda = if s0 > 1.0 { n / s0.ln() } else { n };
        let decay = |t: usize| (-(t as f64) / lambda).exp();
        let ts = 1..=params.max_iterations();
        Schedule {
            radii: ts.clone().map(|t| s0 * decay(t)).collect(),
            learning_rates: ts.map(|t| params.learning_rate() * decay(t)).collect(),
        }
    }

    /// At most `points` of the iterations (at least two), evenly spaced, the first and the
    /// last among them: what is stored with a model, whose record must not grow with
    /// `max_iterations`.
    pub fn sample(&self, points: usize) -> SampledSchedule {
        let n = self.radii.len();
        let points = points.max(2).min(n);
        let indices: Vec<usize> = if points == n {
            (0..n).collect()
        } else {
            (0..points)
                .map(|k| ((k * (n - 1)) as f64 / (points - 1) as f64).round() as usize)
                .collect()
        };
        SampledSchedule {
            iterations: indices.iter().map(|&i| i + 1).collect(),
            radii: indices.iter().map(|&i| self.radii[i]).collect(),
            learning_rates: indices.iter().map(|&i| self.learning_rates[i]).collect(),
        }
    }
}

/// Some iterations of a [`Schedule`] with their numbers (counted from 1).
#[derive(Debug, Clone, PartialEq)]
pub struct SampledSchedule {
    pub iterations: Vec<usize>,
    pub radii: Vec<f64>,
    pub learning_rates: Vec<f64>,
}

/// Shared with whoever runs the training: progress to read, a flag to cancel.
#[derive(Debug, Default)]
pub struct TrainControl {
    iterations_done: AtomicUsize,
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
    /// Asks the training to stop; it does so before its next presentation.
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

/// How to train, beyond the parameters.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Record the best-matching node of every presentation (for `verbose` answers).
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
}

impl Default for TrainOptions {
    fn default() -> Self {
        TrainOptions {
            record_bmus: false,
            parallel_min_work: 16_384,
            max_cached_blocks: 1 << 22,
        }
    }
}

/// Counters of the work done, for tests and profiling.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrainStats {
    /// Node weight vectors updated, over all presentations.
    pub nodes_updated: u64,
    /// Nodes whose distance to a sample was computed during training (a block of nodes
    /// abandoned part-way as too far counts whole).
    pub nodes_scanned: u64,
    /// Threads the map's rows were split over (1: not split).
    pub threads: usize,
}

/// The result of a training.
#[derive(Debug, Clone)]
pub struct Trained {
    /// Final weights, `(rows, cols, dim)`.
    pub weights: Array3<f64>,
    pub schedule: Schedule,
    /// `[row, col]` of the best-matching node of every presentation, in order (when recorded).
    pub bmus: Option<Vec<[usize; 2]>>,
    pub stats: TrainStats,
}

/// Trains a map from `initial` weights `(rows, cols, dim)` on `data` `(n, dim)`.
///
/// # Errors
/// [`SomError::NoSamples`], [`SomError::DimensionMismatch`] (data of another dimension than the
/// parameters), [`SomError::NonFinite`], [`SomError::InitialWeightsShape`], and
/// [`SomError::Cancelled`] when `control` was cancelled.
pub fn train(
    params: &CheckedParams,
    initial: Array3<f64>,
    data: ArrayView2<f64>,
    options: &TrainOptions,
    control: &TrainControl,
) -> Result<Trained, SomError> {
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
    check_initial_weights(params, &initial)?;

    let schedule = Schedule::new(params);
    // Borrowed as it is when already contiguous (as the HTTP and CLI readers make it): a
    // training never holds a second copy of its data.
    let contiguous = data.as_standard_layout();
    let samples = contiguous
        .as_slice()
        .expect("a standard layout array is contiguous");
    let threads = if params.nodes() * params.dim() >= options.parallel_min_work {
        rayon::current_num_threads().clamp(1, params.rows())
    } else {
        1
    };
    let shared = Shared {
        samples,
        dim: params.dim(),
        cols: params.cols(),
        schedule: &schedule,
        options,
        control,
        rendezvous: Rendezvous::new(threads),
    };
    let mut bands: Vec<Band> = (0..threads)
        .map(|band| Band::new(&initial, band, threads, data.nrows(), options))
        .collect();
    let (leader, helpers) = bands.split_first_mut().expect("at least one band");
    let outcome = std::thread::scope(|scope| {
        for (index, band) in helpers.iter_mut().enumerate() {
            let shared = &shared;
            scope.spawn(move || band.run(shared, index + 1));
        }
        leader.run(&shared, 0)
    });
    outcome?;

    let mut weights = initial;
    for (index, band) in bands.iter().enumerate() {
        let rows = Slice::new(index as isize, None, threads as isize);
        (weights.slice_axis_mut(Axis(0), rows)).assign(&band.codebook.to_weights());
    }
    let mut stats = TrainStats {
        threads,
        ..TrainStats::default()
    };
    for band in &bands {
        stats.nodes_updated += band.stats.nodes_updated;
        stats.nodes_scanned += band.stats.nodes_scanned;
    }
    let bmus = options.record_bmus.then(|| {
        let cols = params.cols();
        (bands[0].bmus.iter())
            .map(|&b| [b / cols, b % cols])
            .collect()
    });
    Ok(Trained {
        weights,
        schedule,
        bmus,
        stats,
    })
}

/// What every band reads.
struct Shared<'a> {
    /// Sample values, contiguous, `(n, dim)`.
    samples: &'a [f64],
    dim: usize,
    cols: usize,
    schedule: &'a Schedule,
    options: &'a TrainOptions,
    control: &'a TrainControl,
    rendezvous: Rendezvous,
}

/// The factor `a_t * theta(d2)` of every node of the disk, row by row, for one iteration.
#[derive(Debug, Default)]
struct Neighbourhood {
    /// Half-width of the disk's row at `|dr|`, for `dr` in `0..=half_height`.
    half_widths: Vec<usize>,
    /// For each `|dr|`, the factors of columns `-hw..=hw`, rows one after another.
    factors: Vec<f64>,
    /// Where the factors of row `|dr|` start in `factors`.
    offsets: Vec<usize>,
    /// The factor of each squared distance `d2`, NaN until needed.
    by_d2: Vec<f64>,
}

impl Neighbourhood {
    fn set(&mut self, radius: f64, rate: f64) {
        let limit = radius * radius + 1e-9;
        let two_s2 = 2.0 * radius * radius;
        let inside = |d2: usize| (d2 as f64) <= limit;
        let mut half_height = limit.sqrt() as usize;
        while inside((half_height + 1).pow(2)) {
            half_height += 1;
        }
        while !inside(half_height.pow(2)) {
            half_height -= 1;
        }
        // Only sums of two squares occur as d2 (about a quarter of the integers up to s^2 for
        // large radii), so each factor is computed when first needed.
        self.by_d2.clear();
        self.by_d2.resize(limit as usize + 1, f64::NAN);
        self.half_widths.clear();
        self.factors.clear();
        self.offsets.clear();
        let mut hw = half_height;
        for dr in 0..=half_height {
            while !inside(dr * dr + hw * hw) {
                hw -= 1;
            }
            self.half_widths.push(hw);
            self.offsets.push(self.factors.len());
            for j in 0..=2 * hw {
                let d2 = dr * dr + j.abs_diff(hw).pow(2);
                let factor = &mut self.by_d2[d2];
                if factor.is_nan() {
                    *factor = rate * (-(d2 as f64) / two_s2).exp();
                }
                self.factors.push(*factor);
            }
        }
    }

    fn half_height(&self) -> usize {
        self.half_widths.len() - 1
    }
}

/// Per sample, the nearest node of every block as it was when the sample was last presented.
struct BlockCache {
    blocks: usize,
    /// `(slots, blocks)`: squared distance from the slot's sample to each block's nearest node
    /// (and its offset, when known); NaN where the search skipped the block as too far (it is
    /// rescanned next time).
    minima: Vec<BlockNearest>,
    /// Presentation (counted from 1) of each slot's last search; 0: never.
    searched_at: Vec<u64>,
    /// Presentation that last updated each block; 0: none.
    updated_at: Vec<u64>,
    /// Whether each sample has its own slot; if not, all share slot 0 and every block is
    /// rescanned every time.
    per_sample: bool,
}

impl BlockCache {
    fn new(nodes: usize, samples: usize, max_cached_blocks: usize) -> Self {
        let blocks = nodes.div_ceil(BLOCK);
        let per_sample = samples.saturating_mul(blocks) <= max_cached_blocks;
        let slots = if per_sample { samples } else { 1 };
        BlockCache {
            blocks,
            minima: vec![(f64::INFINITY, UNKNOWN_OFFSET); slots * blocks],
            searched_at: vec![0; slots],
            updated_at: vec![0; blocks],
            per_sample,
        }
    }
}

/// A band of rows of the map and everything its thread needs to train them. Band `i` of `n`
/// holds rows `i, i + n, i + 2n, ...`: interleaved, the bands share the work evenly even when
/// the neighbourhood covers only a few rows.
struct Band {
    /// The band's rows of the map, in order.
    codebook: Codebook,
    /// This band's number `i`, the first row it holds.
    first_row: usize,
    /// The number of bands `n`, the step between its rows.
    row_step: usize,
    neighbourhood: Neighbourhood,
    cache: BlockCache,
    /// Blocks to rescan in the current search (reused).
    dirty: Vec<usize>,
    /// Nearest node of each dirty block (reused).
    dirty_minima: Vec<BlockNearest>,
    scratch: Box<Scratch>,
    presentation: u64,
    /// Flat index (in the whole map) of the best-matching node of every presentation, kept by
    /// the first band when recording.
    bmus: Vec<usize>,
    stats: TrainStats,
}

impl Band {
    fn new(
        initial: &Array3<f64>,
        band: usize,
        bands: usize,
        samples: usize,
        options: &TrainOptions,
    ) -> Self {
        let rows = Slice::new(band as isize, None, bands as isize);
        let codebook = Codebook::from_weights(initial.slice_axis(Axis(0), rows));
        let cache = BlockCache::new(codebook.nodes(), samples, options.max_cached_blocks);
        Band {
            codebook,
            first_row: band,
            row_step: bands,
            neighbourhood: Neighbourhood::default(),
            cache,
            dirty: Vec::new(),
            dirty_minima: Vec::new(),
            scratch: Box::new([0.0; BLOCK]),
            presentation: 0,
            bmus: Vec::new(),
            stats: TrainStats::default(),
        }
    }

    /// Trains the band through every iteration. Band 0 leads: it checks for cancellation
    /// before every presentation (one presentation of a large map at a large radius takes
    /// milliseconds, a whole iteration can take minutes), publishes progress and records the
    /// best-matching nodes; the others follow it through the rendezvous.
    fn run(&mut self, shared: &Shared, band: usize) -> Result<(), SomError> {
        let _stop_if_unwinding = StopIfUnwinding {
            rendezvous: &shared.rendezvous,
            band,
        };
        let leader = band == 0;
        let dim = shared.dim;
        let schedule = shared.schedule;
        let rates = schedule.radii.iter().zip(&schedule.learning_rates);
        for (iteration, (&radius, &rate)) in rates.enumerate() {
            let cancelled = SomError::Cancelled {
                iterations_done: iteration,
            };
            self.neighbourhood.set(radius, rate);
            for (sample, v) in shared.samples.chunks_exact(dim).enumerate() {
                #[cfg(test)]
                shared
                    .control
                    .fault_if_injected(band, self.presentation + 1);
                if leader && shared.control.is_cancelled() {
                    shared.rendezvous.stop(band);
                    return Err(cancelled);
                }
                self.presentation += 1;
                let nearest = self.nearest_node(sample, v, shared.cols);
                let bmu = shared
                    .rendezvous
                    .exchange(band, self.presentation, nearest)
                    .ok_or_else(|| cancelled.clone())?;
                if leader && shared.options.record_bmus {
                    self.bmus.push(bmu);
                }
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || self.update(v, bmu, shared.cols),
                );
            }
            if leader {
                let done = &shared.control.iterations_done;
                done.store(iteration + 1, Ordering::Relaxed);
            }
        }
        Ok(())
    }

    /// The squared distance and flat index (in the whole map) of the band's node nearest `v`.
    fn nearest_node(&mut self, sample: usize, v: &[f64], cols: usize) -> (f64, usize) {
        let codebook = &self.codebook;
        let cache = &mut self.cache;
        let slot = if cache.per_sample { sample } else { 0 };
        let searched_at = if cache.per_sample {
            cache.searched_at[slot]
        } else {
            0
        };
        let minima = &mut cache.minima[slot * cache.blocks..(slot + 1) * cache.blocks];
        self.dirty.clear();
        self.dirty.extend(
            (0..cache.blocks)
                .filter(|&b| cache.updated_at[b] >= searched_at || minima[b].0.is_nan()),
        );
        for &b in &self.dirty {
            minima[b] = (f64::NAN, UNKNOWN_OFFSET);
        }
        let bound = minima
            .iter()
            .fold(f64::INFINITY, |m, &(d, _)| if d < m { d } else { m });

        self.dirty_minima.clear();
        self.dirty_minima
            .resize(self.dirty.len(), (f64::INFINITY, UNKNOWN_OFFSET));
        let (blocks, out) = (&self.dirty, &mut self.dirty_minima);
        codebook.minima_of_blocks(v, blocks, out, bound, &mut self.scratch);
        let last_block_padding = match self.dirty.last() {
            Some(&b) if b + 1 == cache.blocks => cache.blocks * BLOCK - codebook.nodes(),
            _ => 0,
        };
        self.stats.nodes_scanned += (self.dirty.len() * BLOCK - last_block_padding) as u64;

        for (&b, &nearest) in self.dirty.iter().zip(&self.dirty_minima) {
            minima[b] = nearest;
        }
        cache.searched_at[slot] = self.presentation;
        let mut best = (f64::INFINITY, 0);
        for (block, &(minimum, _)) in minima.iter().enumerate() {
            if minimum < best.0 {
                best = (minimum, block);
            }
        }
        let (distance, block) = best;
        let local = match minima[block].1 {
            UNKNOWN_OFFSET => codebook.block_argmin(v, block, &mut self.scratch),
            offset => block * BLOCK + offset as usize,
        };
        let (row, col) = (local / cols, local % cols);
        (
            distance,
            (row * self.row_step + self.first_row) * cols + col,
        )
    }

    /// Moves every node of the band inside the neighbourhood of `bmu` (a flat index in the
    /// whole map) towards `v`, and stamps the blocks it touched with the presentation.
    #[inline(always)]
    fn update(&mut self, v: &[f64], bmu: usize, cols: usize) {
        let (br, bc) = (bmu / cols, bmu % cols);
        let reach = self.neighbourhood.half_height();
        let (lowest, step) = (br.saturating_sub(reach), self.row_step);
        let first = lowest + (self.first_row + step - lowest % step) % step;
        let end = (br + reach + 1).min(self.first_row + self.codebook.rows() * step);
        let nodes = self.codebook.nodes();
        let neighbourhood = &self.neighbourhood;
        let planes = self.codebook.planes_mut();
        for r in (first..end).step_by(step) {
            let dr = r.abs_diff(br);
            let hw = neighbourhood.half_widths[dr];
            let first_col = bc.saturating_sub(hw);
            let last_col = (bc + hw).min(cols - 1);
            let factors_start = neighbourhood.offsets[dr] + first_col + hw - bc;
            let width = last_col + 1 - first_col;
            let factors = &neighbourhood.factors[factors_start..factors_start + width];
            let start = (r - self.first_row) / step * cols + first_col;
            for (k, &vk) in v.iter().enumerate() {
                let segment = &mut planes[k * nodes + start..k * nodes + start + width];
                for (w, &f) in segment.iter_mut().zip(factors) {
                    *w += f * (vk - *w);
                }
            }
            for stamp in &mut self.cache.updated_at[start / BLOCK..=(start + width - 1) / BLOCK] {
                *stamp = self.presentation;
            }
            self.stats.nodes_updated += width as u64;
        }
    }
}

/// Publishes "stopped" for its band when the band unwinds from a panic, so that the other
/// bands leave the rendezvous instead of waiting forever for its next answer. Not on a normal
/// return: a band that has finished may still be read by slower ones.
struct StopIfUnwinding<'a> {
    rendezvous: &'a Rendezvous,
    band: usize,
}

impl Drop for StopIfUnwinding<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.rendezvous.stop(self.band);
        }
    }
}

/// Where the bands swap their nearest nodes, once per presentation.
///
/// Band `i` writes its nearest node into its slot, in the half chosen by the presentation's
/// parity, then publishes the presentation number; it reads the others' once they have
/// published the same number. A band can be at most one presentation ahead of the slowest
/// (it needs everyone's answer to go on), so two halves are enough for no answer to be
/// overwritten before it is read.
struct Rendezvous {
    slots: Vec<Slot>,
}

/// One band's mailbox, on its own cache lines so that bands do not slow each other down.
#[repr(align(128))]
#[derive(Default)]
struct Slot {
    presentation: AtomicU64,
    distance: [AtomicU64; 2],
    node: [AtomicU64; 2],
}

/// Published instead of a presentation number when a band stops.
const STOPPED: u64 = u64::MAX;

/// Busy-wait rounds before a waiting band starts yielding its core.
const SPINS_BEFORE_YIELD: u32 = 1 << 8;

impl Rendezvous {
    fn new(bands: usize) -> Self {
        Rendezvous {
            slots: (0..bands).map(|_| Slot::default()).collect(),
        }
    }

    /// Publishes band `band`'s nearest node for `presentation` and returns the nearest of all
    /// bands (ties: the smallest flat index), or `None` if a band stopped (then this band is
    /// marked stopped too).
    fn exchange(&self, band: usize, presentation: u64, nearest: (f64, usize)) -> Option<usize> {
        if self.slots.len() == 1 {
            return Some(nearest.1);
        }
        let half = (presentation % 2) as usize;
        let mine = &self.slots[band];
        mine.distance[half].store(nearest.0.to_bits(), Ordering::Relaxed);
        mine.node[half].store(nearest.1 as u64, Ordering::Relaxed);
        mine.presentation.store(presentation, Ordering::Release);
        let mut best = (f64::INFINITY, usize::MAX);
        for slot in &self.slots {
            let mut spins = 0;
            loop {
                match slot.presentation.load(Ordering::Acquire) {
                    STOPPED => {
                        // Leaving too: a band still waiting for this one's answer (rather than
                        // the stopped band's) must learn of the stop from it.
                        self.stop(band);
                        return None;
                    }
                    published if published >= presentation => break,
                    _ if spins < SPINS_BEFORE_YIELD => {
                        spins += 1;
                        std::hint::spin_loop();
                    }
                    _ => std::thread::yield_now(),
                }
            }
            let distance = f64::from_bits(slot.distance[half].load(Ordering::Relaxed));
            let node = slot.node[half].load(Ordering::Relaxed) as usize;
            if distance < best.0 || (distance == best.0 && node < best.1) {
                best = (distance, node);
            }
        }
        Some(best.1)
    }

    /// Tells the other bands that band `band` stopped (the leader on a cancel, any band on a
    /// panic).
    fn stop(&self, band: usize) {
        self.slots[band]
            .presentation
            .store(STOPPED, Ordering::Release);
    }
}
