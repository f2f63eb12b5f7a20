//! The batch trainer's search pass by Euclidean distance: the nearest and second-nearest node
//! of every sample, the very nodes and raw distances the exact scan finds, at the speed of a
//! matrix product.
//!
//! `|x - w|^2 = |x|^2 - 2 x.w + |w|^2`: the cross terms of all samples with all nodes are one
//! matrix product, which runs in f32 (faer's kernels: about 100 GFLOP/s per core here, against
//! some 5 for the pruned f64 scan) on samples and nodes centred on the samples' mean (distances
//! do not change, and the terms that cancel stay small). Each estimate `t_j = |w_j|^2 - 2 x.w_j`
//! (`|x|^2` is the same for every node) is then within `E` of `|x - w_j|^2 - |x|^2` as the exact
//! scan computes it, for a bound `E` per sample (below). Every node whose estimate is within
//! `2E` of the second-smallest estimate is measured exactly, in f64 in the order `k = 0..dim`
//! as the exact scan measures it, and the two nearest of those are the two nearest of all.
//!
//! Why: let `s` be the second-smallest estimate, `a`, `b` the exact distances of the true
//! nearest and second-nearest. Two nodes have estimates `<= s`, so exact distances `<= s + E`,
//! so `b <= s + E`; any node as near as `b` has an estimate `<= b + E <= s + 2E`. So every node
//! the exact scan could name (ties included) is measured, and measured as that scan does.
//!
//! The bound, with `u = 2^-24` (f32 rounding), `D` components, `x'`, `w'` the centred vectors
//! and `S = (|x'| + |w'|)^2`: rounding the centred vectors to f32 moves `|x - w|^2` by at most
//! `2.0004 u S`; the f32 dot product of `D` terms errs by at most `gamma_D |x'| |w'|`, with
//! `gamma_D = D u / (1 - D u)` (any summation order, fused or not), and `2 |x'| |w'| <= S / 2`,
//! so the `-2 x.w` term by at most `gamma_D S / 2`; the f64 sums (the exact scan's own
//! rounding, the norms, `t_j`) by at most `(D + 8) 2^-52 S`. [`SLACK`] covers the products of
//! small factors left out. Where the bound cannot be had (more than [`MAX_DIM`] components,
//! values past [`MAX_CENTRED`], fewer than two nodes) the caller scans exactly instead.

use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use faer::{Accum, MatMut, MatRef, Par};
use rayon::prelude::*;

use super::TrainControl;
use crate::som::distance::squared_euclidean_four;
use crate::som::options::Distance;

/// `(raw distance, flat index)` of the nearest and second-nearest node of a sample.
pub(super) type NearestTwo = ((f64, usize), (f64, usize));

/// A sample's best-matching node, its raw distance to it, and the second-nearest node (what
/// the topographic error asks of it); `usize::MAX` on a one-node map.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Match {
    pub(super) distance: f64,
    pub(super) node: usize,
    pub(super) runner_up: usize,
}

impl From<NearestTwo> for Match {
    fn from(((distance, node), (_, runner_up)): NearestTwo) -> Match {
        Match {
            distance,
            node,
            runner_up,
        }
    }
}

/// The f32 unit roundoff.
const U: f64 = f32::EPSILON as f64 / 2.0;

/// Factor on the bound for the second-order terms it leaves out (each below `1e-4` of it).
const SLACK: f64 = 1.5;

/// Most components for which the f32 products are used: `D u` stays below 1/100, so
/// `gamma_D` is within 1% of `D u` and candidates stay few.
const MAX_DIM: usize = 167_000;

/// Largest centred value rounded to f32: squares and dot products of such values stay far from
/// f32's range (3.4e38) whatever `D`.
const MAX_CENTRED: f64 = 1e15;

/// Most rows of samples whose products with every node are computed together.
const MAX_ROWS: usize = 256;

/// Rows of samples whose products with every node are computed together: enough that the
/// product runs at its full rate, few enough that the `rows x nodes` block stays in cache.
fn rows_per_chunk(nodes: usize) -> usize {
    (262_144 / nodes.max(1)).clamp(16, MAX_ROWS)
}

/// Room for one chunk, one per rayon thread, reused by every pass.
#[derive(Debug, Default)]
struct Scratch {
    /// Centred samples in f32, `(rows, dim)`.
    samples: Vec<f32>,
    /// Their products with every node, `(rows, nodes)`.
    products: Vec<f32>,
    /// `(row, node)` pairs to measure exactly: per row, in increasing node index.
    pairs: Vec<(usize, usize)>,
    /// Their exact raw distances.
    exact: Vec<f64>,
    /// Per row: its pairs, and its runner-up when certain without measuring (else
    /// `usize::MAX`: the two nearest of its pairs).
    plans: Vec<(Range<usize>, usize)>,
}

/// The search of one training: the samples' centre, the current nodes in f32 and per-thread
/// room, allocated once.
#[derive(Debug)]
pub(super) struct CandidateSearch {
    dim: usize,
    nodes: usize,
    /// The samples' mean, subtracted before rounding to f32.
    centre: Vec<f64>,
    /// Centred node weights rounded to f32, `(nodes, dim)`.
    nodes_f32: Vec<f32>,
    /// `|w'_j|^2` of the rounded nodes, in f64.
    node_norms: Vec<f64>,
    /// The largest `|w'_j|`.
    largest_norm: f64,
    /// `E = coefficient (|x'| + largest_norm)^2`.
    coefficient: f64,
    scratch: Vec<Mutex<Scratch>>,
    /// `(sample, node)` distances measured exactly so far.
    measured: AtomicU64,
}

impl CandidateSearch {
    /// The search for `samples` `(n, dim)` on a map of `nodes` nodes compared by `distance`,
    /// or `None` where only the exact scan is right (see the module's comment).
    pub(super) fn new(
        samples: &[f64],
        dim: usize,
        nodes: usize,
        distance: Distance,
    ) -> Option<CandidateSearch> {
        if distance != Distance::Euclidean || nodes < 2 || dim == 0 || dim > MAX_DIM {
            return None;
        }
        let n = samples.len() / dim;
        let mut centre = vec![0.0; dim];
        for v in samples.chunks_exact(dim) {
            centre.iter_mut().zip(v).for_each(|(c, &x)| *c += x);
        }
        centre.iter_mut().for_each(|c| *c /= n as f64);
        let centred_within_limit = samples.chunks_exact(dim).all(|v| {
            v.iter()
                .zip(&centre)
                .all(|(x, c)| (x - c).abs() <= MAX_CENTRED)
        });
        if !centred_within_limit {
            return None;
        }
        let gamma = dim as f64 * U / (1.0 - dim as f64 * U);
        let f64_sums = (dim + 8) as f64 * f64::EPSILON;
        let coefficient = SLACK * (gamma / 2.0 + 2.0004 * U + f64_sums);
        let rows = rows_per_chunk(nodes);
        let scratch = (0..rayon::current_num_threads())
            .map(|_| {
                Mutex::new(Scratch {
                    samples: vec![0.0; rows * dim],
                    products: vec![0.0; rows * nodes],
                    pairs: Vec::with_capacity(rows * nodes),
                    exact: Vec::with_capacity(rows * nodes),
                    plans: Vec::with_capacity(rows),
                })
            })
            .collect();
        Some(CandidateSearch {
            dim,
            nodes,
            centre,
            nodes_f32: vec![0.0; nodes * dim],
            node_norms: vec![0.0; nodes],
            largest_norm: 0.0,
            coefficient,
            scratch,
            measured: AtomicU64::new(0),
        })
    }

    /// Takes the nodes' weights `(nodes, dim)` for the next passes; false (and the exact scan
    /// must be used) when a centred weight is past [`MAX_CENTRED`].
    pub(super) fn set_nodes(&mut self, weights: &[f64]) -> bool {
        let dim = self.dim;
        let rows = weights
            .chunks_exact(dim)
            .zip(self.nodes_f32.chunks_exact_mut(dim));
        let mut within_limit = true;
        for ((w, rounded), norm) in rows.zip(&mut self.node_norms) {
            *norm = centre_and_round(w, &self.centre, rounded);
            within_limit &= w
                .iter()
                .zip(&self.centre)
                .all(|(x, c)| (x - c).abs() <= MAX_CENTRED);
        }
        self.largest_norm = self
            .node_norms
            .iter()
            .fold(0.0_f64, |m, &n| m.max(n))
            .sqrt();
        within_limit
    }

    /// The nearest two nodes of every sample of `samples` `(n, dim)` into `found` (`n`),
    /// `weights` being the `(nodes, dim)` given to [`CandidateSearch::set_nodes`]. Counts the
    /// samples searched in `control` and gives up (leaving `found` meaningless: the caller
    /// checks `control`) once cancelled.
    pub(super) fn search(
        &self,
        samples: &[f64],
        weights: &[f64],
        found: &mut [Match],
        control: &TrainControl,
    ) {
        let (dim, nodes) = (self.dim, self.nodes);
        let rows = rows_per_chunk(nodes);
        samples
            .par_chunks(rows * dim)
            .zip(found.par_chunks_mut(rows))
            .for_each(|(chunk, found)| {
                if control.is_cancelled() {
                    return;
                }
                let thread = rayon::current_thread_index().unwrap_or(0);
                let mut scratch = self.scratch[thread].lock().expect("scratch lock");
                pulp::Arch::new().dispatch(
                    #[inline(always)]
                    || self.search_chunk(chunk, weights, found, &mut scratch),
                );
                control.add_samples_done(found.len());
                (self.measured).fetch_add(scratch.pairs.len() as u64, Ordering::Relaxed);
            });
    }

    /// `(sample, node)` distances measured exactly by the searches so far.
    pub(super) fn measured(&self) -> u64 {
        self.measured.load(Ordering::Relaxed)
    }

    #[inline(always)]
    fn search_chunk(
        &self,
        chunk: &[f64],
        weights: &[f64],
        found: &mut [Match],
        scratch: &mut Scratch,
    ) {
        let (dim, nodes, rows) = (self.dim, self.nodes, found.len());
        let Scratch {
            samples,
            products,
            pairs,
            exact,
            plans,
        } = scratch;
        let (samples, products) = (&mut samples[..rows * dim], &mut products[..rows * nodes]);
        let mut sample_norms = [0.0; MAX_ROWS];
        for ((v, rounded), norm) in chunk
            .chunks_exact(dim)
            .zip(samples.chunks_exact_mut(dim))
            .zip(&mut sample_norms)
        {
            *norm = centre_and_round(v, &self.centre, rounded).sqrt();
        }
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(products, rows, nodes),
            Accum::Replace,
            MatRef::from_row_major_slice(samples, rows, dim),
            MatRef::from_row_major_slice(&self.nodes_f32, nodes, dim).transpose(),
            1.0,
            Par::Seq,
        );
        let largest = self.largest_norm * (1.0 + U);
        pairs.clear();
        plans.clear();
        for (row, (products, &norm)) in products.chunks_exact(nodes).zip(&sample_norms).enumerate()
        {
            let estimate = |j: usize| self.node_norms[j] - 2.0 * f64::from(products[j]);
            let (mut best, mut smallest, mut second) = (0, f64::INFINITY, f64::INFINITY);
            for j in 0..nodes {
                let t = estimate(j);
                if t < smallest {
                    (best, smallest, second) = (j, t, smallest);
                } else if t < second {
                    second = t;
                }
            }
            let reach = norm * (1.0 + U) + largest;
            let margin = 2.0 * self.coefficient * reach * reach;
            let start = pairs.len();
            let within = |j: usize| estimate(j) <= second + margin;
            // The nearest is certain when every other node's estimate is more than `2E` past
            // it; the runner-up too when a single other node is within reach.
            let mut others = (0..nodes).filter(|&j| j != best && within(j));
            let runner_up = match (second - smallest > margin, others.next(), others.next()) {
                (true, Some(only), None) => {
                    pairs.push((row, best));
                    only
                }
                _ => {
                    pairs.extend((0..nodes).filter(|&j| within(j)).map(|j| (row, j)));
                    usize::MAX
                }
            };
            plans.push((start..pairs.len(), runner_up));
        }
        exact.clear();
        for group in pairs.chunks(4) {
            // A short last group measures its last pair again; the copies are not kept.
            let pair = |i: usize| {
                let (row, node) = group[i.min(group.len() - 1)];
                (
                    &chunk[row * dim..(row + 1) * dim],
                    &weights[node * dim..(node + 1) * dim],
                )
            };
            let distances = squared_euclidean_four([0, 1, 2, 3].map(pair));
            exact.extend_from_slice(&distances[..group.len()]);
        }
        for ((range, runner_up), nearest) in plans.iter().zip(found) {
            *nearest = match *runner_up {
                usize::MAX => {
                    let mut two = ((f64::INFINITY, usize::MAX), (f64::INFINITY, usize::MAX));
                    for (&(_, node), &d) in pairs[range.clone()].iter().zip(&exact[range.clone()]) {
                        keep_nearest_two(&mut two, (d, node));
                    }
                    Match {
                        distance: two.0.0,
                        node: two.0.1,
                        runner_up: two.1.1,
                    }
                }
                runner_up => Match {
                    distance: exact[range.start],
                    node: pairs[range.start].1,
                    runner_up,
                },
            };
        }
    }
}

/// Writes `v - centre` rounded to f32 into `out` and returns the squared norm of what was
/// written, in f64.
fn centre_and_round(v: &[f64], centre: &[f64], out: &mut [f32]) -> f64 {
    let mut norm = 0.0;
    for ((o, &x), &c) in out.iter_mut().zip(v).zip(centre) {
        *o = (x - c) as f32;
        norm += f64::from(*o) * f64::from(*o);
    }
    norm
}

/// Puts `candidate` in `nearest` if it is nearer, by (distance, index) with candidates coming
/// in increasing index, than one of the two kept; an empty place (index `usize::MAX`) is
/// always filled, as the exact scan fills it.
pub(super) fn keep_nearest_two(nearest: &mut NearestTwo, candidate: (f64, usize)) {
    let (first, second) = nearest;
    if candidate.0 < first.0 || first.1 == usize::MAX {
        *second = *first;
        *first = candidate;
    } else if candidate.0 < second.0 || second.1 == usize::MAX {
        *second = candidate;
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, Array3};
    use rand::{RngExt, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::som::codebook::Codebook;

    /// The candidate search's answer for every sample, next to the exact scan's.
    fn both(samples: &Array2<f64>, weights: &Array3<f64>) -> (Vec<Match>, Vec<Match>, u64) {
        let (rows, cols, dim) = weights.dim();
        let flat = weights.as_slice().expect("standard layout");
        let samples = samples.as_slice().expect("standard layout");
        let mut search = CandidateSearch::new(samples, dim, rows * cols, Distance::Euclidean)
            .expect("the bound holds for these data");
        assert!(search.set_nodes(flat));
        let mut found = vec![Match::from(((0.0, 0), (0.0, 0))); samples.len() / dim];
        search.search(samples, flat, &mut found, &TrainControl::default());
        let map = Codebook::from_weights(weights.view());
        let exact = (samples.chunks_exact(dim))
            .map(|v| Match::from(map.nearest_two(v)))
            .collect();
        (found, exact, search.measured())
    }

    fn uniform(rng: &mut ChaCha8Rng, shape: (usize, usize), offset: f64, spread: f64) -> Vec<f64> {
        (0..shape.0 * shape.1)
            .map(|_| offset + spread * rng.random::<f64>())
            .collect()
    }

    #[test]
    fn the_candidate_search_finds_what_the_exact_scan_finds_to_the_last_bit() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        // (samples, nodes, dim, offset, spread): small and large dimensions, far from the
        // origin (large cancelling terms, so wide candidate sets), two nodes, many nodes.
        let cases = [
            (500, 12, 3, 0.0, 1.0),
            (700, 2, 5, 0.0, 1.0),
            (300, 60, 40, 0.0, 1.0),
            (257, 30, 300, 1e6, 1.0),
            (100, 400, 7, -3e3, 1e-3),
            (64, 25, 1000, 5.0, 1e-6),
        ];
        for (n, nodes, dim, offset, spread) in cases {
            let samples =
                Array2::from_shape_vec((n, dim), uniform(&mut rng, (n, dim), offset, spread));
            let weights = Array3::from_shape_vec(
                (nodes, 1, dim),
                uniform(&mut rng, (nodes, dim), offset, spread),
            );
            let (found, exact, _) = both(&samples.unwrap(), &weights.unwrap());
            assert_eq!(
                found, exact,
                "{n} samples, {nodes} nodes, dim {dim}, offset {offset}"
            );
        }
    }

    #[test]
    fn ties_go_to_the_smallest_index_as_in_the_exact_scan() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let dim = 16;
        // Nodes 0..4 repeated three times: every sample is equally near three nodes, and a
        // sample equal to a node is at distance 0 from three.
        let distinct = uniform(&mut rng, (4, dim), 0.0, 1.0);
        let nodes: Vec<f64> = distinct.iter().cycle().take(12 * dim).copied().collect();
        let mut samples = uniform(&mut rng, (200, dim), 0.0, 1.0);
        samples.extend_from_slice(&distinct);
        let samples = Array2::from_shape_vec((204, dim), samples).unwrap();
        let weights = Array3::from_shape_vec((3, 4, dim), nodes).unwrap();
        let (found, exact, _) = both(&samples, &weights);
        assert_eq!(found, exact);
        assert!(found.iter().all(|m| m.node < 4 && m.runner_up < 8));
    }

    #[test]
    fn on_separated_data_few_nodes_per_sample_are_measured_exactly() {
        // Three tight clusters on a 10 x 10 map of nodes spread over them: the products decide
        // nearly every sample, so the exact work is a few nodes per sample, not the map.
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let dim = 50;
        let centres = uniform(&mut rng, (3, dim), -10.0, 20.0);
        let around = |rng: &mut ChaCha8Rng, count: usize, spread: f64| -> Vec<f64> {
            (0..count * dim)
                .map(|i| {
                    centres[((i / dim) % 3) * dim + i % dim] + spread * (rng.random::<f64>() - 0.5)
                })
                .collect()
        };
        let samples = Array2::from_shape_vec((3000, dim), around(&mut rng, 3000, 2.0)).unwrap();
        let weights = Array3::from_shape_vec((10, 10, dim), around(&mut rng, 100, 3.0)).unwrap();
        let (found, exact, measured) = both(&samples, &weights);
        assert_eq!(found, exact);
        assert!(
            measured < 3000 * 4,
            "{measured} distances measured for 3000 samples"
        );
    }
}
