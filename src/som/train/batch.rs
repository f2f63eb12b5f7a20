//! The batch trainer (SPEC §3b `mode: "batch"`): per iteration the best-matching node of
//! every sample with the weights as they are, then every node set to the
//! neighbourhood-weighted mean of the samples.
//!
//! The search is the matrix-product search of [`candidates`](super::candidates) (Euclidean
//! distance), else the exact scan, both exact. The weighted mean is computed from per-node
//! sums (the samples each node won and how many), so each node's new weights cost one term per
//! *winning node* (those its neighbourhood does not reach are skipped after a table look-up),
//! not one per sample. Samples are searched in parallel, per-node sums and nodes updated in
//! parallel, each result computed by one thread in a fixed order: results do not depend on the
//! thread count. Every buffer is allocated before the first iteration. A cancel is noticed
//! within one chunk's search or one node's update, not only between iterations.

use ndarray::Array3;
use rayon::prelude::*;

use super::candidates::{CandidateSearch, Match};
use super::{Outcome, TrainControl, TrainStats};
use crate::som::codebook::{Codebook, vectorised};
use crate::som::options::Neighbourhood;
use crate::som::params::{CheckedParams, SomError};
use crate::som::schedule::Schedule;
use crate::som::topology::{Grid, quad_to_d2};

/// Nodes whose per-node sums one task gathers (each task reads every sample's best match).
const NODES_PER_SUM_TASK: usize = 64;

/// Trains `initial` weights `(rows, cols, dim)` on `samples` `(n, dim)` (scaled, contiguous).
pub(super) fn train(
    params: &CheckedParams,
    initial: Array3<f64>,
    samples: &[f64],
    schedule: &Schedule,
    control: &TrainControl,
) -> Result<Outcome, SomError> {
    let options = params.options();
    let grid = params.grid();
    let (nodes, dim) = (grid.nodes(), params.dim());
    let n = samples.len() / dim;
    let mut map = Codebook::on_grid(initial.view(), options);
    // The weights node after node `(nodes, dim)`, as the update writes them.
    let mut weights = initial.into_raw_vec_and_offset().0;
    let mut candidates = CandidateSearch::new(samples, dim, nodes, options.distance);
    let mut quality = Vec::with_capacity(schedule.radii.len());
    let mut factors = Factors {
        table: Vec::new(),
        reach: 0,
        kernel: options.neighbourhood,
        radius: 0.0,
    };
    let mut found = vec![Match::default(); n];
    // Per node: how many samples it won and their sum `(nodes, dim)`.
    let mut counts = vec![0.0; nodes];
    let mut sums = vec![0.0; nodes * dim];
    // The new weights, node by node `(nodes, dim)`.
    let mut updated = vec![0.0; nodes * dim];
    let mut winners: Vec<usize> = Vec::with_capacity(nodes);
    // Distances measured by the exact scan, where the candidate search could not be used.
    let mut scanned = 0;
    for (iteration, &radius) in schedule.radii.iter().enumerate() {
        let cancelled = || SomError::Cancelled {
            iterations_done: iteration,
        };
        scanned += search(
            &mut candidates,
            &mut map,
            samples,
            &weights,
            &mut found,
            control,
        );
        if control.is_cancelled() {
            return Err(cancelled());
        }
        if iteration > 0 {
            quality.push(errors(&found, &map));
        }
        sum_by_node(samples, dim, &found, &mut counts, &mut sums);
        winners.clear();
        winners.extend((0..nodes).filter(|&j| counts[j] > 0.0));

        factors.set(&grid, options.neighbourhood, radius);
        let update = Update {
            grid: &grid,
            factors: &factors,
            winners: &winners,
            counts: &counts,
            sums: &sums,
            current: &weights,
            dim,
        };
        updated
            .par_chunks_mut(dim)
            .enumerate()
            .with_min_len(16)
            .for_each(|(i, new)| {
                if !control.is_cancelled() {
                    vectorised(
                        #[inline(always)]
                        || update.node(i, new),
                    );
                }
            });
        if control.is_cancelled() {
            return Err(cancelled());
        }
        std::mem::swap(&mut weights, &mut updated);
        control.set_iterations_done(iteration + 1);
    }
    scanned += search(
        &mut candidates,
        &mut map,
        samples,
        &weights,
        &mut found,
        control,
    );
    if control.is_cancelled() {
        return Err(SomError::Cancelled {
            iterations_done: schedule.radii.len(),
        });
    }
    quality.push(errors(&found, &map));
    let shape = (grid.rows, grid.cols, dim);
    Ok(Outcome {
        weights: Array3::from_shape_vec(shape, weights).expect("(nodes, dim) weights"),
        bmus: None,
        quality_per_iteration: Some(quality),
        found: Some(found),
        stats: TrainStats {
            threads: rayon::current_num_threads(),
            nodes_scanned: scanned + candidates.as_ref().map_or(0, CandidateSearch::measured),
            ..TrainStats::default()
        },
    })
}

/// The nearest two nodes of every sample into `found`, on `weights` `(nodes, dim)`: by the
/// matrix-product search where it is exact for these data and weights, else by the exact scan
/// of `map`, which is given the weights first (and only then: the search reads `weights`
/// itself) and the distances it measured are returned (else 0). Given up (with meaningless
/// answers: the caller checks `control`) once cancelled.
pub(super) fn search(
    candidates: &mut Option<CandidateSearch>,
    map: &mut Codebook,
    samples: &[f64],
    weights: &[f64],
    found: &mut [Match],
    control: &TrainControl,
) -> u64 {
    if let Some(search) = candidates
        && search.can_search(weights)
    {
        search.search(samples, weights, found, control);
        return 0;
    }
    // Chunks of 64 samples: one progress count each, not one per sample from every thread.
    const CHUNK: usize = 64;
    map.assign_nodes(weights);
    let map = &*map;
    let dim = map.dim();
    samples
        .par_chunks(CHUNK * dim)
        .zip(found.par_chunks_mut(CHUNK))
        .for_each(|(chunk, found)| {
            for (v, nearest) in chunk.chunks_exact(dim).zip(found.iter_mut()) {
                if control.is_cancelled() {
                    return;
                }
                *nearest = map.nearest_two(v).into();
            }
            control.add_samples_done(found.len());
        });
    (found.len() * map.nodes()) as u64
}

/// The map's `[qe, te]` on the samples whose nearest two nodes are `found`.
pub(super) fn errors(found: &[Match], map: &Codebook) -> [f64; 2] {
    let n = found.len() as f64;
    let distance = map.distance();
    let grid = map.grid();
    let total: f64 = found.iter().map(|m| distance.finish(m.distance)).sum();
    let separated = (found.iter())
        .filter(|m| grid.nodes() > 1 && !grid.are_neighbours(m.node, m.runner_up))
        .count();
    [total / n, separated as f64 / n]
}

/// Per node, how many samples it won (`counts`) and their sum (`sums`, `(nodes, dim)`), each
/// node's sum taken over its samples in their order. Tasks of [`NODES_PER_SUM_TASK`] nodes run
/// in parallel, each reading every sample's best match and adding only its own nodes' samples.
fn sum_by_node(samples: &[f64], dim: usize, found: &[Match], counts: &mut [f64], sums: &mut [f64]) {
    counts
        .par_chunks_mut(NODES_PER_SUM_TASK)
        .zip(sums.par_chunks_mut(NODES_PER_SUM_TASK * dim))
        .enumerate()
        .for_each(|(task, (counts, sums))| {
            counts.fill(0.0);
            sums.fill(0.0);
            let first = task * NODES_PER_SUM_TASK;
            let own = first..first + counts.len();
            for (v, matched) in samples.chunks_exact(dim).zip(found) {
                if own.contains(&matched.node) {
                    let node = matched.node - first;
                    counts[node] += 1.0;
                    let sum = &mut sums[node * dim..(node + 1) * dim];
                    sum.iter_mut().zip(v).for_each(|(s, &x)| *s += x);
                }
            }
        });
}

/// What one iteration's update of a node reads.
struct Update<'a> {
    grid: &'a Grid,
    factors: &'a Factors,
    /// The nodes that won a sample, in increasing index.
    winners: &'a [usize],
    counts: &'a [f64],
    /// `(nodes, dim)`.
    sums: &'a [f64],
    /// The weights before the update `(nodes, dim)`.
    current: &'a [f64],
    dim: usize,
}

impl Update<'_> {
    /// Writes node `i`'s new weights into `new`: the factor-weighted mean of the winners'
    /// sums, summed over winners in increasing index as the reference does; its weights as
    /// they are when no winner is within reach.
    #[inline(always)]
    fn node(&self, i: usize, new: &mut [f64]) {
        let dim = self.dim;
        let mut denominator = 0.0;
        new.fill(0.0);
        let [row, col] = self.grid.position(i);
        for &j in self.winners {
            let [r, c] = self.grid.position(j);
            let quad =
                (self.grid).quad_d2(row, r as isize - row as isize, c as isize - col as isize);
            let h = self.factors.get(quad);
            if h == 0.0 {
                continue;
            }
            denominator += h * self.counts[j];
            for (x, &sum) in new.iter_mut().zip(&self.sums[j * dim..(j + 1) * dim]) {
                *x += h * sum;
            }
        }
        if denominator == 0.0 {
            new.copy_from_slice(&self.current[i * dim..(i + 1) * dim]);
        } else {
            new.iter_mut().for_each(|x| *x /= denominator);
        }
    }
}

/// Factors looked up by `4 d2`: a table up to the neighbourhood's reach (or the grid's largest
/// distance), capped in size; past the cap (kernels without cut-off on very long grids)
/// computed where needed.
struct Factors {
    table: Vec<f64>,
    /// The largest `4 d2` with a non-zero factor.
    reach: u64,
    kernel: Neighbourhood,
    radius: f64,
}

/// Largest table of factors kept, in entries.
const MAX_TABLE: u64 = 1 << 22;

impl Factors {
    fn set(&mut self, grid: &Grid, kernel: Neighbourhood, radius: f64) {
        let (rows, cols) = (grid.rows as u64, grid.cols as u64);
        let largest = 4 * (rows * rows + cols * cols);
        self.reach = match kernel.reach(radius) {
            Some(d2) => ((4.0 * d2).floor() as u64).min(largest),
            None => largest,
        };
        (self.kernel, self.radius) = (kernel, radius);
        self.table.clear();
        let tabled = self.reach.min(MAX_TABLE);
        (self.table).extend((0..=tabled).map(|quad| kernel.factor(quad_to_d2(quad), radius)));
    }

    #[inline(always)]
    fn get(&self, quad: u64) -> f64 {
        match self.table.get(quad as usize) {
            Some(&factor) => factor,
            None if quad <= self.reach => self.kernel.factor(quad_to_d2(quad), self.radius),
            None => 0.0,
        }
    }
}
