//! The online trainer: the rule of SPEC §3 and §3b, made fast without changing a single
//! result.
//!
//! What keeps it fast:
//! - Only the nodes the neighbourhood reaches are visited: per iteration the [`Stencil`] holds
//!   the factor `a_t * h(d2)` of every offset it reaches, and a presentation updates
//!   contiguous row segments of each plane.
//! - The best-matching-node search remembers, per sample, the nearest node of every block of
//!   [`BLOCK`] nodes, and rescans only the blocks updated since that sample was last presented.
//!   Late in training the radius is small and most blocks stay clean.
//! - The search starts from the distance to the sample's nearest node of its last
//!   presentation (per band): nodes farther than that are abandoned after a few components
//!   ([`Codebook::minima_of_blocks`]). On 16,000 x 300 blobs with only 375 nodes, two blocks,
//!   every block is updated between two presentations of a sample and this bound is what
//!   remains of the cache's help.
//! - An update visits runs of consecutive nodes (row segments joined where one reaches the
//!   last column and the next starts at the first), long runs plane after plane and short
//!   ones a few nodes through every plane ([`update_lanes`]).
//! - A large map is cut into bands of interleaved rows, one per thread, each owning its
//!   weights for the whole training. Per presentation each band finds its own nearest node, the
//!   bands swap those through a [`Rendezvous`] and each band updates its own rows. Every
//!   node's distance and update are computed exactly as on one thread and ties go to the
//!   smallest flat index, so results do not depend on the thread count.

use ndarray::{Array3, Axis, Slice};

use super::rendezvous::{Rendezvous, StopIfUnwinding};
use super::stencil::Stencil;
use super::{Outcome, TrainControl, TrainSettings, TrainStats};
use crate::som::codebook::{BLOCK, BlockNearest, Codebook, Scratch, UNKNOWN_OFFSET, vectorised};
use crate::som::init::{Generator, shuffle};
use crate::som::options::Order;
use crate::som::params::{CheckedParams, SomError};
use crate::som::schedule::Schedule;
use crate::som::topology::Grid;

/// Trains `initial` weights `(rows, cols, dim)` on `samples` `(n, dim)` (scaled, row-major);
/// `rng` is the training's generator after the initial weights were drawn.
pub(super) fn train(
    params: &CheckedParams,
    initial: Array3<f64>,
    samples: &[f64],
    schedule: &Schedule,
    rng: &Generator,
    settings: &TrainSettings,
    control: &TrainControl,
) -> Result<Outcome, SomError> {
    let n = samples.len() / params.dim();
    let threads = if params.nodes() * params.dim() >= settings.parallel_min_work {
        rayon::current_num_threads().clamp(1, params.rows())
    } else {
        1
    };
    let options = params.options();
    let shared = Shared {
        samples,
        dim: params.dim(),
        grid: params.grid(),
        params,
        schedule,
        settings,
        control,
        rendezvous: Rendezvous::new(threads),
    };
    let mut bands: Vec<Band> = (0..threads)
        .map(|band| {
            let rows = Slice::new(band as isize, None, threads as isize);
            let codebook = Codebook::on_grid(initial.slice_axis(Axis(0), rows), options);
            Band::new(codebook, band, threads, n, rng.clone(), settings)
        })
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
    Ok(Outcome {
        weights,
        bmus: settings
            .record_bmus
            .then(|| std::mem::take(&mut bands[0].bmus)),
        quality_per_iteration: None,
        found: None,
        stats,
    })
}

/// Runs of at least this many nodes are updated plane after plane; shorter ones
/// [`update_lanes`] at a time, each group through every plane. With it the update of
/// 2,000 x 300 blobs on 25x15 for 10 iterations took 0.95e9 instructions instead of 2.04e9
/// (callgrind); 32, two rounds of the plane loop's vector body, was not tuned further.
const LONG_RUN: usize = 32;

/// Moves the `W` nodes from `first` on towards `v` by their `factors`, going through all the
/// planes with the nodes' factors held in registers. A run shorter than [`LONG_RUN`] updated
/// plane after plane spends most of each plane in the loop's set-up and scalar tail.
#[inline(always)]
fn update_lanes<const W: usize>(
    planes: &mut [f64],
    nodes: usize,
    v: &[f64],
    first: usize,
    factors: &[f64],
) {
    let factors: [f64; W] = factors[..W].try_into().expect("W factors");
    for (plane, &vk) in planes.chunks_exact_mut(nodes).zip(v) {
        let w: &mut [f64; W] = (&mut plane[first..first + W])
            .try_into()
            .expect("a slice of W values");
        for (w, &f) in w.iter_mut().zip(&factors) {
            *w += f * (vk - *w);
        }
    }
}

/// [`update_lanes`] for the nodes of lanes `active` of the `W` from `window` on (the run's
/// last few nodes, fewer than `W`, by their `factors`), the other lanes' values written back
/// unchanged: one vector per plane instead of one scalar per node and plane. The run's tails
/// were half the update's time on 16,000 x 300 blobs (perf): late in training the
/// neighbourhood is a few nodes per row.
#[inline(always)]
fn update_masked<const W: usize>(
    planes: &mut [f64],
    nodes: usize,
    v: &[f64],
    window: usize,
    active: std::ops::Range<usize>,
    factors: &[f64],
) {
    let mut lane_factors = [0.0; W];
    let mut on = [false; W];
    for (lane, &f) in active.zip(factors) {
        lane_factors[lane] = f;
        on[lane] = true;
    }
    for (plane, &vk) in planes.chunks_exact_mut(nodes).zip(v) {
        let w: &mut [f64; W] = (&mut plane[window..window + W])
            .try_into()
            .expect("a slice of W values");
        for ((w, &f), &on) in w.iter_mut().zip(&lane_factors).zip(&on) {
            let moved = *w + f * (vk - *w);
            *w = if on { moved } else { *w };
        }
    }
}

/// A sample without a guess in [`Band::guesses`].
const NO_GUESS: u32 = u32::MAX;

/// What every band reads.
struct Shared<'a> {
    /// Sample values, contiguous, `(n, dim)`.
    samples: &'a [f64],
    dim: usize,
    grid: Grid,
    params: &'a CheckedParams,
    schedule: &'a Schedule,
    settings: &'a TrainSettings,
    control: &'a TrainControl,
    rendezvous: Rendezvous,
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
    stencil: Stencil,
    cache: BlockCache,
    /// The training's generator, as every band has it: each draws the same permutations.
    rng: Generator,
    /// The order of the current iteration's presentations.
    order: Vec<usize>,
    /// Blocks to rescan in the current search (reused).
    dirty: Vec<usize>,
    /// Nearest node of each dirty block (reused).
    dirty_minima: Vec<BlockNearest>,
    scratch: Box<Scratch>,
    /// Per sample, the band's node (in the band) nearest it when it was last presented
    /// ([`NO_GUESS`] before): its distance, computed first, bounds the search at once.
    guesses: Vec<u32>,
    /// The current presentation's update as runs of consecutive nodes of the band,
    /// `(first node, first factor in run_factors, length)` (reused).
    runs: Vec<(usize, usize, usize)>,
    /// The factors of [`Band::runs`], end to end (reused).
    run_factors: Vec<f64>,
    presentation: u64,
    /// Flat index (in the whole map) of the best-matching node of every presentation, kept by
    /// the first band when recording.
    bmus: Vec<usize>,
    stats: TrainStats,
}

impl Band {
    fn new(
        codebook: Codebook,
        band: usize,
        bands: usize,
        samples: usize,
        rng: Generator,
        settings: &TrainSettings,
    ) -> Self {
        let cache = BlockCache::new(codebook.nodes(), samples, settings.max_cached_blocks);
        Band {
            codebook,
            first_row: band,
            row_step: bands,
            stencil: Stencil::default(),
            cache,
            rng,
            order: Vec::new(),
            dirty: Vec::new(),
            dirty_minima: Vec::new(),
            scratch: Box::new([0.0; BLOCK]),
            guesses: vec![NO_GUESS; samples],
            runs: Vec::new(),
            run_factors: Vec::new(),
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
        let options = shared.params.options();
        let n = shared.samples.len() / dim;
        let schedule = shared.schedule;
        let rates = schedule.radii.iter().zip(&schedule.learning_rates);
        for (iteration, (&radius, &rate)) in rates.enumerate() {
            let cancelled = SomError::Cancelled {
                iterations_done: iteration,
            };
            (self.stencil).set(&shared.grid, options.neighbourhood, radius, rate);
            match options.order {
                Order::Given if self.order.len() != n => self.order = (0..n).collect(),
                Order::Given => {}
                Order::Shuffled => shuffle(&mut self.order, n, &mut self.rng),
            }
            for position in 0..n {
                let sample = self.order[position];
                let v = &shared.samples[sample * dim..(sample + 1) * dim];
                #[cfg(test)]
                shared
                    .control
                    .fault_if_injected(band, self.presentation + 1);
                if leader && shared.control.is_cancelled() {
                    shared.rendezvous.stop(band);
                    return Err(cancelled);
                }
                self.presentation += 1;
                if leader {
                    shared.control.set_samples_done(self.presentation);
                }
                let nearest = self.nearest_node(sample, v, shared.grid.cols);
                let bmu = shared
                    .rendezvous
                    .exchange(band, self.presentation, nearest)
                    .ok_or_else(|| cancelled.clone())?;
                if leader && shared.settings.record_bmus {
                    self.bmus.push(bmu);
                }
                vectorised(
                    #[inline(always)]
                    || self.update(v, bmu, &shared.grid),
                );
            }
            if leader {
                shared.control.set_iterations_done(iteration + 1);
            }
        }
        Ok(())
    }

    /// The raw distance and flat index (in the whole map) of the band's node nearest `v`.
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
        let cached = minima
            .iter()
            .fold(f64::INFINITY, |m, &(d, _)| if d < m { d } else { m });
        // Late in training a sample's nearest node seldom moves: with its distance as the
        // bound from the start, the search abandons most other nodes after a few components.
        let guess = match self.guesses[sample] {
            NO_GUESS => None,
            node => Some(node as usize),
        };
        if let Some(first) =
            guess.and_then(|node| self.dirty.iter().position(|&b| b == node / BLOCK))
        {
            self.dirty[..=first].rotate_right(1);
        }

        self.dirty_minima.clear();
        self.dirty_minima
            .resize(self.dirty.len(), (f64::INFINITY, UNKNOWN_OFFSET));
        let (blocks, out) = (&self.dirty, &mut self.dirty_minima);
        codebook.minima_of_blocks(v, blocks, out, cached, &mut self.scratch, guess);
        let last_block_padding = match self.dirty.contains(&(cache.blocks - 1)) {
            true => cache.blocks * BLOCK - codebook.nodes(),
            false => 0,
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
        self.guesses[sample] = u32::try_from(local).unwrap_or(NO_GUESS);
        let (row, col) = (local / cols, local % cols);
        (
            distance,
            (row * self.row_step + self.first_row) * cols + col,
        )
    }

    /// Moves every node of the band that the stencil reaches from `bmu` (a flat index in the
    /// whole map) towards `v`, and stamps the blocks it touched with the presentation.
    ///
    /// The stencil's row segments are first joined into runs of consecutive nodes (a segment
    /// reaching the last column continues in the next row's first): a map 15 columns wide
    /// otherwise updates each plane in pieces of at most 15 values, too short to vectorise.
    #[inline(always)]
    fn update(&mut self, v: &[f64], bmu: usize, grid: &Grid) {
        self.collect_runs(bmu, grid);
        let nodes = self.codebook.nodes();
        let planes = self.codebook.planes_mut();
        for &(start, first_factor, len) in &self.runs {
            let factors = &self.run_factors[first_factor..first_factor + len];
            if len >= LONG_RUN {
                for (plane, &vk) in planes.chunks_exact_mut(nodes).zip(v) {
                    for (w, &f) in plane[start..start + len].iter_mut().zip(factors) {
                        *w += f * (vk - *w);
                    }
                }
            } else {
                let mut offset = 0;
                while offset + 8 <= len {
                    update_lanes::<8>(planes, nodes, v, start + offset, &factors[offset..]);
                    offset += 8;
                }
                // The tail in one window of 8 lanes, moved left when it would pass the band's
                // last node (its first lanes are then nodes this run has just updated).
                let (tail, factors) = (start + offset, &factors[offset..]);
                if tail < start + len && nodes >= 8 {
                    let window = tail.min(nodes - 8);
                    let lanes = tail - window..tail - window + (len - offset);
                    update_masked::<8>(planes, nodes, v, window, lanes, factors);
                } else {
                    for (node, f) in (tail..start + len).zip(factors.chunks(1)) {
                        update_lanes::<1>(planes, nodes, v, node, f);
                    }
                }
            }
            let blocks = start / BLOCK..=(start + len - 1) / BLOCK;
            for stamp in &mut self.cache.updated_at[blocks] {
                *stamp = self.presentation;
            }
            self.stats.nodes_updated += len as u64;
        }
    }

    /// Fills [`Band::runs`] and [`Band::run_factors`] with the band's nodes that the stencil
    /// reaches from `bmu`.
    fn collect_runs(&mut self, bmu: usize, grid: &Grid) {
        self.runs.clear();
        self.run_factors.clear();
        let (rows, cols) = (grid.rows as isize, grid.cols as isize);
        let (br, bc) = ((bmu / grid.cols) as isize, (bmu % grid.cols) as isize);
        let shape = self.stencil.shape(bmu / grid.cols);
        for span in &shape.spans {
            let row = br + span.dr;
            let row = match grid.toroidal {
                true => row.rem_euclid(rows),
                false if (0..rows).contains(&row) => row,
                false => continue,
            } as usize;
            if row % self.row_step != self.first_row {
                continue;
            }
            let band_row = row / self.row_step;
            let factors = &shape.factors[span.start..span.start + span.len];
            // The span's columns, cut at the edges of a plain grid or wrapped round a
            // toroidal one (then in two pieces when it crosses the last column):
            // `(first column, first factor, length)`.
            let first = bc + span.first;
            let pieces: [(usize, usize, usize); 2] = if grid.toroidal {
                let start = first.rem_euclid(cols) as usize;
                let head = span.len.min(grid.cols - start);
                [(start, 0, head), (0, head, span.len - head)]
            } else {
                let start = first.max(0);
                let end = (first + span.len as isize).min(cols);
                let len = (end - start).max(0) as usize;
                [(start as usize, (start - first) as usize, len), (0, 0, 0)]
            };
            for (col, offset, len) in pieces {
                if len == 0 {
                    continue;
                }
                let start = band_row * grid.cols + col;
                match self.runs.last_mut() {
                    Some(run) if run.0 + run.2 == start => run.2 += len,
                    _ => self.runs.push((start, self.run_factors.len(), len)),
                }
                (self.run_factors).extend_from_slice(&factors[offset..offset + len]);
            }
        }
    }
}
