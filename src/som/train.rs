//! Training: the rule of SPEC §3, made fast without changing a single result.
//!
//! Three things keep it fast:
//! - Only the nodes inside the radius are visited: per iteration the half-width of every row of
//!   the disk `d2 <= s_t^2 + 1e-9` and the factor `a_t * theta(d2)` of every node in it are
//!   computed once; a presentation then updates contiguous row segments of each plane.
//! - The best-matching-node search remembers, per sample, the nearest node of every block of
//!   [`BLOCK`] nodes, and rescans only the blocks updated since that sample was last presented.
//!   Late in training the radius is small and most blocks stay clean.
//! - A scan of many dirty blocks is split over the rayon pool above
//!   [`TrainOptions::parallel_min_work`]. Blocks are reduced in index order, so results are the
//!   same for any thread count.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use ndarray::{Array3, ArrayView2};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

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
}

/// Shared with whoever runs the training: progress to read, a flag to cancel.
#[derive(Debug, Default)]
pub struct TrainControl {
    iterations_done: AtomicUsize,
    cancel: AtomicBool,
}

impl TrainControl {
    /// Iterations completed so far.
    pub fn iterations_done(&self) -> usize {
        self.iterations_done.load(Ordering::Relaxed)
    }
    /// Asks the training to stop; it does so before its next iteration.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::Relaxed);
    }
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// How to train, beyond the parameters.
#[derive(Debug, Clone)]
pub struct TrainOptions {
    /// Record the best-matching node of every presentation (for `verbose` answers).
    pub record_bmus: bool,
    /// Node-dimensions (`dirty nodes x dim`) of a best-matching-node scan from which it is split
    /// over the rayon pool. Default 1,048,576 (below it rayon's hand-over costs more than it
    /// saves: even a 300x300 map of colours trains faster on one thread); tests lower it to force the parallel path.
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
            parallel_min_work: 1 << 20,
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
    /// Best-matching-node searches that were split over threads.
    pub parallel_scans: u64,
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
    let mut trainer = Trainer::new(
        params,
        Codebook::from_weights(initial.view()),
        data,
        options,
    );
    for (iteration, (&radius, &rate)) in schedule
        .radii
        .iter()
        .zip(&schedule.learning_rates)
        .enumerate()
    {
        if control.is_cancelled() {
            return Err(SomError::Cancelled {
                iterations_done: iteration,
            });
        }
        trainer.iterate(radius, rate);
        control
            .iterations_done
            .store(iteration + 1, Ordering::Relaxed);
    }
    let bmus = options.record_bmus.then(|| {
        let codebook = &trainer.codebook;
        trainer.bmus.iter().map(|&b| codebook.position(b)).collect()
    });
    Ok(Trained {
        weights: trainer.codebook.to_weights(),
        schedule,
        bmus,
        stats: trainer.stats,
    })
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
        let by_d2: Vec<f64> = (0..=limit as usize)
            .map(|d2| rate * (-(d2 as f64) / two_s2).exp())
            .collect();
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
            let row = (0..=2 * hw).map(|j| by_d2[dr * dr + j.abs_diff(hw).pow(2)]);
            self.factors.extend(row);
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

struct Trainer<'a> {
    codebook: Codebook,
    /// Sample values, contiguous, `(n, dim)`.
    samples: Vec<f64>,
    sample_count: usize,
    options: &'a TrainOptions,
    neighbourhood: Neighbourhood,
    cache: BlockCache,
    /// Blocks to rescan in the current search (reused).
    dirty: Vec<usize>,
    /// Nearest node of each dirty block (reused).
    dirty_minima: Vec<BlockNearest>,
    scratch: Box<Scratch>,
    presentation: u64,
    bmus: Vec<usize>,
    stats: TrainStats,
}

impl<'a> Trainer<'a> {
    fn new(
        params: &CheckedParams,
        codebook: Codebook,
        data: ArrayView2<f64>,
        options: &'a TrainOptions,
    ) -> Self {
        let samples = data.iter().copied().collect();
        let cache = BlockCache::new(params.nodes(), data.nrows(), options.max_cached_blocks);
        let recorded = if options.record_bmus {
            data.nrows() * params.max_iterations()
        } else {
            0
        };
        Trainer {
            codebook,
            samples,
            sample_count: data.nrows(),
            options,
            neighbourhood: Neighbourhood::default(),
            cache,
            dirty: Vec::new(),
            dirty_minima: Vec::new(),
            scratch: Box::new([0.0; BLOCK]),
            presentation: 0,
            bmus: Vec::with_capacity(recorded),
            stats: TrainStats::default(),
        }
    }

    fn iterate(&mut self, radius: f64, rate: f64) {
        self.neighbourhood.set(radius, rate);
        let dim = self.codebook.dim();
        for sample in 0..self.sample_count {
            self.presentation += 1;
            let bmu = self.best_matching_node(sample);
            if self.options.record_bmus {
                self.bmus.push(bmu);
            }
            let v = &self.samples[sample * dim..(sample + 1) * dim];
            pulp::Arch::new().dispatch(
                #[inline(always)]
                || {
                    update(
                        &mut self.codebook,
                        &self.neighbourhood,
                        &mut self.cache.updated_at,
                        self.presentation,
                        v,
                        bmu,
                        &mut self.stats,
                    )
                },
            );
        }
    }

    fn best_matching_node(&mut self, sample: usize) -> usize {
        let dim = self.codebook.dim();
        let v = &self.samples[sample * dim..(sample + 1) * dim];
        let cache = &mut self.cache;
        let slot = if cache.per_sample { sample } else { 0 };
        let searched_at = if cache.per_sample {
            cache.searched_at[slot]
        } else {
            0
        };
        self.dirty.clear();
        let minima = &mut cache.minima[slot * cache.blocks..(slot + 1) * cache.blocks];
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

        let work = self.dirty.len() * BLOCK * dim;
        let codebook = &self.codebook;
        self.dirty_minima.clear();
        self.dirty_minima
            .resize(self.dirty.len(), (f64::INFINITY, UNKNOWN_OFFSET));
        if work >= self.options.parallel_min_work && self.dirty.len() > 1 {
            self.stats.parallel_scans += 1;
            let chunk = (self.dirty.len())
                .div_ceil(rayon::current_num_threads() * 2)
                .max(1);
            self.dirty
                .par_chunks(chunk)
                .zip(self.dirty_minima.par_chunks_mut(chunk))
                .for_each_init(
                    || Box::new([0.0; BLOCK]),
                    |sums, (blocks, out)| codebook.minima_of_blocks(v, blocks, out, bound, sums),
                );
        } else {
            let (blocks, out) = (&self.dirty, &mut self.dirty_minima);
            codebook.minima_of_blocks(v, blocks, out, bound, &mut self.scratch);
        }
        let last_block_padding = match self.dirty.last() {
            Some(&b) if b + 1 == cache.blocks => cache.blocks * BLOCK - codebook.nodes(),
            _ => 0,
        };
        self.stats.nodes_scanned += (self.dirty.len() * BLOCK - last_block_padding) as u64;

        for (&b, &minimum) in self.dirty.iter().zip(&self.dirty_minima) {
            minima[b] = minimum;
        }
        cache.searched_at[slot] = self.presentation;
        let mut best = (f64::INFINITY, 0);
        for (block, &(minimum, _)) in minima.iter().enumerate() {
            if minimum < best.0 {
                best = (minimum, block);
            }
        }
        let block = best.1;
        match minima[block].1 {
            UNKNOWN_OFFSET => codebook.block_argmin(v, block, &mut self.scratch),
            offset => block * BLOCK + offset as usize,
        }
    }
}

/// Moves every node inside the neighbourhood of `bmu` towards `v`, and stamps the blocks it
/// touched with `presentation`.
#[inline(always)]
fn update(
    codebook: &mut Codebook,
    neighbourhood: &Neighbourhood,
    updated_at: &mut [u64],
    presentation: u64,
    v: &[f64],
    bmu: usize,
    stats: &mut TrainStats,
) {
    let (rows, cols, nodes) = (codebook.rows(), codebook.cols(), codebook.nodes());
    let (br, bc) = (bmu / cols, bmu % cols);
    let reach = neighbourhood.half_height();
    let planes = codebook.planes_mut();
    for r in br.saturating_sub(reach)..=(br + reach).min(rows - 1) {
        let dr = r.abs_diff(br);
        let hw = neighbourhood.half_widths[dr];
        let first_col = bc.saturating_sub(hw);
        let last_col = (bc + hw).min(cols - 1);
        let factors_start = neighbourhood.offsets[dr] + first_col + hw - bc;
        let width = last_col + 1 - first_col;
        let factors = &neighbourhood.factors[factors_start..factors_start + width];
        let start = r * cols + first_col;
        for (k, &vk) in v.iter().enumerate() {
            let segment = &mut planes[k * nodes + start..k * nodes + start + width];
            for (w, &f) in segment.iter_mut().zip(factors) {
                *w += f * (vk - *w);
            }
        }
        for stamp in &mut updated_at[start / BLOCK..=(start + width - 1) / BLOCK] {
            *stamp = presentation;
        }
        stats.nodes_updated += width as u64;
    }
}
