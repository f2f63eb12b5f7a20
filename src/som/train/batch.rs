//! The batch trainer (SPEC §3b `mode: "batch"`): per iteration the best-matching node of
//! every sample with the weights as they are, then every node set to the
//! neighbourhood-weighted mean of the samples.
//!
//! The weighted mean is computed from per-node sums (the samples each node won and how many),
//! so each node's new weights cost one term per *winning node* (those its neighbourhood does
//! not reach are skipped after a table look-up), not one per sample. Samples are searched in
//! parallel and nodes updated in parallel, each result computed by one thread in a fixed
//! order: results do not depend on the thread count. A cancel is noticed within one sample's
//! search or one node's update, not only between iterations.

use ndarray::{Array3, ArrayView2};
use rayon::prelude::*;

use super::{Outcome, TrainControl, TrainStats};
use crate::som::codebook::Codebook;
use crate::som::options::Neighbourhood;
use crate::som::params::{CheckedParams, SomError};
use crate::som::schedule::Schedule;
use crate::som::topology::{Grid, quad_to_d2};

/// Trains `initial` weights `(rows, cols, dim)` on `data` `(n, dim)` (scaled, contiguous).
pub(super) fn train(
    params: &CheckedParams,
    initial: Array3<f64>,
    data: ArrayView2<f64>,
    schedule: &Schedule,
    control: &TrainControl,
) -> Result<Outcome, SomError> {
    let options = params.options();
    let grid = params.grid();
    let (nodes, dim) = (grid.nodes(), params.dim());
    let mut map = Codebook::on_grid(initial.view(), options);
    let samples = data.as_slice().expect("prepared data is contiguous");
    let mut quality = Vec::with_capacity(schedule.radii.len());
    let mut factors = Factors {
        table: Vec::new(),
        reach: 0,
        kernel: options.neighbourhood,
        radius: 0.0,
    };
    // Per node: how many samples it won and their sum `(nodes, dim)`.
    let mut counts = vec![0.0; nodes];
    let mut sums = vec![0.0; nodes * dim];
    // The new weights, node by node `(nodes, dim)`.
    let mut updated = vec![0.0; nodes * dim];
    let mut winners: Vec<usize> = Vec::new();
    for (iteration, &radius) in schedule.radii.iter().enumerate() {
        let cancelled = || SomError::Cancelled {
            iterations_done: iteration,
        };
        let (bmus, errors) = search(&map, samples, dim, control);
        if control.is_cancelled() {
            return Err(cancelled());
        }
        if iteration > 0 {
            quality.push(errors);
        }
        counts.fill(0.0);
        sums.fill(0.0);
        for (v, &b) in samples.chunks_exact(dim).zip(&bmus) {
            counts[b] += 1.0;
            for (sum, &x) in sums[b * dim..(b + 1) * dim].iter_mut().zip(v) {
                *sum += x;
            }
        }
        winners.clear();
        winners.extend((0..nodes).filter(|&j| counts[j] > 0.0));

        factors.set(&grid, options.neighbourhood, radius);
        let factors = &factors;
        let current = &map;
        updated
            .par_chunks_mut(dim)
            .enumerate()
            .with_min_len(64)
            .for_each(|(i, new)| {
                if control.is_cancelled() {
                    return;
                }
                let mut denominator = 0.0;
                new.fill(0.0);
                let [row, col] = grid.position(i);
                for &j in &winners {
                    let [r, c] = grid.position(j);
                    let quad =
                        grid.quad_d2(row, r as isize - row as isize, c as isize - col as isize);
                    let h = factors.get(quad);
                    if h == 0.0 {
                        continue;
                    }
                    denominator += h * counts[j];
                    for (x, &sum) in new.iter_mut().zip(&sums[j * dim..(j + 1) * dim]) {
                        *x += h * sum;
                    }
                }
                if denominator == 0.0 {
                    current.node_weights(i, new);
                } else {
                    new.iter_mut().for_each(|x| *x /= denominator);
                }
            });
        if control.is_cancelled() {
            return Err(cancelled());
        }
        map.assign_nodes(&updated);
        control.set_iterations_done(iteration + 1);
    }
    let (_, errors) = search(&map, samples, dim, control);
    if control.is_cancelled() {
        return Err(SomError::Cancelled {
            iterations_done: schedule.radii.len(),
        });
    }
    quality.push(errors);
    Ok(Outcome {
        weights: map.to_weights(),
        bmus: None,
        quality_per_iteration: Some(quality),
        stats: TrainStats {
            threads: rayon::current_num_threads(),
            ..TrainStats::default()
        },
    })
}

/// The best-matching node of every sample, and the map's `[qe, te]` on them.
/// Given up (with meaningless answers: the caller checks `control`) once cancelled.
fn search(
    map: &Codebook,
    samples: &[f64],
    dim: usize,
    control: &TrainControl,
) -> (Vec<usize>, [f64; 2]) {
    let found: Vec<((f64, usize), (f64, usize))> = samples
        .par_chunks_exact(dim)
        .with_min_len(16)
        .map(|v| match control.is_cancelled() {
            true => ((f64::INFINITY, 0), (f64::INFINITY, 0)),
            false => map.nearest_two(v),
        })
        .collect();
    let n = found.len() as f64;
    let distance = map.distance();
    let grid = map.grid();
    let total: f64 = found
        .iter()
        .map(|(first, _)| distance.finish(first.0))
        .sum();
    let separated = (found.iter())
        .filter(|(first, second)| grid.nodes() > 1 && !grid.are_neighbours(first.1, second.1))
        .count();
    let bmus = found.iter().map(|(first, _)| first.1).collect();
    (bmus, [total / n, separated as f64 / n])
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
