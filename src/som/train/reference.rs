//! SPEC §3 and §3b written out with no optimisation at all: every node's distance to every
//! sample, every node's factor on every presentation. The fast trainers must give the same
//! maps (the tests check them against this on random option combinations).

use ndarray::{Array2, Array3, Axis};

use super::{Outcome, TrainStats};
use crate::som::init::{Generator, shuffle};
use crate::som::options::{Mode, Order};
use crate::som::params::CheckedParams;
use crate::som::schedule::Schedule;
use crate::som::topology::Grid;

/// Trains `initial` weights `(rows, cols, dim)` on `data` `(n, dim)` (scaled); `rng` is the
/// training's generator after the initial weights were drawn.
pub(super) fn train(
    params: &CheckedParams,
    mut weights: Array3<f64>,
    data: &Array2<f64>,
    schedule: &Schedule,
    rng: &mut Generator,
) -> Outcome {
    let options = params.options();
    let grid = params.grid();
    let dim = params.dim();
    let mut flat = weights
        .view_mut()
        .into_shape_with_order((grid.nodes(), dim))
        .expect("weights are contiguous");
    let mut order = Vec::new();
    match options.mode {
        Mode::Online => {
            let mut bmus = Vec::new();
            for (t, &s) in schedule.radii.iter().enumerate() {
                let a = schedule.learning_rates[t];
                match options.order {
                    Order::Given => order = (0..data.nrows()).collect(),
                    Order::Shuffled => shuffle(&mut order, data.nrows(), rng),
                }
                for &sample in &order {
                    let v = data.row(sample);
                    let v = v.as_slice().expect("rows are contiguous");
                    let b = nearest_two(params, &flat, v).0.1;
                    bmus.push(b);
                    for i in 0..grid.nodes() {
                        let h = options.neighbourhood.factor(grid.d2(i, b), s);
                        for (k, &vk) in v.iter().enumerate() {
                            let w = &mut flat[[i, k]];
                            *w += a * h * (vk - *w);
                        }
                    }
                }
            }
            Outcome {
                weights,
                bmus: Some(bmus),
                quality_per_iteration: None,
                found: None,
                stats: TrainStats::default(),
            }
        }
        Mode::Batch => {
            let mut quality = Vec::new();
            for &s in &schedule.radii {
                let bmus: Vec<usize> = (data.rows().into_iter())
                    .map(|v| {
                        nearest_two(params, &flat, v.as_slice().expect("contiguous"))
                            .0
                            .1
                    })
                    .collect();
                // The sums over samples, grouped by the node each sample won (the spec leaves
                // their order free; the batch trainer sums in this order too, so the two agree
                // to the last bit, exact ties between nodes included).
                let mut won = vec![0.0; grid.nodes()];
                let mut sums = Array2::zeros((grid.nodes(), dim));
                for (v, &b) in data.rows().into_iter().zip(&bmus) {
                    won[b] += 1.0;
                    let mut sum = sums.row_mut(b);
                    sum += &v;
                }
                let mut updated = flat.to_owned();
                for i in 0..grid.nodes() {
                    let mut numerator = vec![0.0; dim];
                    let mut denominator = 0.0;
                    for (j, &count) in won.iter().enumerate() {
                        let h = options.neighbourhood.factor(grid.d2(i, j), s);
                        if h == 0.0 || count == 0.0 {
                            continue;
                        }
                        denominator += h * count;
                        for (total, &sum) in numerator.iter_mut().zip(sums.row(j)) {
                            *total += h * sum;
                        }
                    }
                    if denominator != 0.0 {
                        for (k, total) in numerator.iter().enumerate() {
                            updated[[i, k]] = total / denominator;
                        }
                    }
                }
                flat.assign(&updated);
                quality.push(errors(params, &flat, data));
            }
            Outcome {
                weights,
                bmus: None,
                quality_per_iteration: Some(quality),
                found: None,
                stats: TrainStats::default(),
            }
        }
    }
}

/// `(raw distance, flat index)` of the nearest and second-nearest nodes of `v` among the
/// rows of `weights` `(nodes, dim)`, ties to the smaller index.
fn nearest_two(
    params: &CheckedParams,
    weights: &ndarray::ArrayViewMut2<f64>,
    v: &[f64],
) -> ((f64, usize), (f64, usize)) {
    let distance = params.options().distance;
    let mut first = (f64::INFINITY, usize::MAX);
    let mut second = (f64::INFINITY, usize::MAX);
    for (i, w) in weights.axis_iter(Axis(0)).enumerate() {
        let d = distance.raw(v, w.as_slice().expect("rows are contiguous"));
        if d < first.0 || first.1 == usize::MAX {
            second = first;
            first = (d, i);
        } else if d < second.0 || second.1 == usize::MAX {
            second = (d, i);
        }
    }
    (first, second)
}

/// `[quantization error, topographic error]` of the map on `data`.
fn errors(
    params: &CheckedParams,
    weights: &ndarray::ArrayViewMut2<f64>,
    data: &Array2<f64>,
) -> [f64; 2] {
    let grid: Grid = params.grid();
    let distance = params.options().distance;
    let (mut total, mut separated) = (0.0, 0usize);
    for v in data.rows() {
        let (first, second) = nearest_two(params, weights, v.as_slice().expect("contiguous"));
        total += distance.finish(first.0);
        if grid.nodes() > 1 && !grid.are_neighbours(first.1, second.1) {
            separated += 1;
        }
    }
    let n = data.nrows() as f64;
    [total / n, separated as f64 / n]
}
