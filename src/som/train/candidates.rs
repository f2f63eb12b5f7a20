//! The batch trainer's search pass by Euclidean distance: the nearest and second-nearest node
//! of every sample, the very nodes and raw distances the exact scan finds, at the speed of a
//! matrix product.
//!
//! `|x - w|^2 = |x|^2 - 2 x.w + |w|^2`: the cross terms of a chunk of samples with all nodes
//! are one matrix product, which runs in f32 (faer's kernels: about 100 GFLOP/s per core here,
//! against some 5 for the pruned f64 scan). Samples and nodes are centred on the chunk's mean
//! first (distances do not change, and the terms that cancel stay small), and chunks are made
//! of samples that had the same or nearby best matches in the previous pass, so that their
//! mean is near them and near the nodes that compete for them. Each estimate
//! `t_j = |w_j|^2 - 2 x.w_j` (`|x|^2` is the same for every node) is then within `E_j` of
//! `|x - w_j|^2 - |x|^2` as the exact scan computes it, for a bound `E_j` per sample and node
//! (below). The nodes that could be nearest or second-nearest by those bounds are measured
//! exactly, in f64 in the order `k = 0..dim` as the exact scan measures them, and the two
//! nearest of those are the two nearest of all.
//!
//! Why: let `p`, `q` have the two smallest estimates and `B = max(t_p + E_p, t_q + E_q)`. Two
//! nodes are within `B` exactly, so the true second-smallest distance `b <= B`; a node `j`
//! with `d_j <= b` has `t_j - E_j <= d_j <= B`. So every node the exact scan could name (ties
//! included) has `t_j - E_j <= B`, and all those are measured, as that scan measures them.
//! When every one of them but `p` has `t_j - E_j > t_p + E_p`, `p` is the nearest without
//! doubt, and if just one other, `q`, remains, it is the runner-up: then only `p` is measured
//! (the quantization error needs its distance).
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
use crate::som::codebook::{NO_NODES, NearestTwo, keep_nearest_two, vectorised};
use crate::som::distance::squared_euclidean_four;
use crate::som::options::Distance;

/// A sample's best-matching node, its raw distance to it, and the second-nearest node (what
/// the topographic error asks of it); `usize::MAX` on a one-node map.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
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

/// The smallest normal f32, `2^-126`.
const TINY: f64 = f32::MIN_POSITIVE as f64;

/// Factor on the bound for the second-order terms it leaves out (each below `1e-4` of it).
const SLACK: f64 = 1.5;

/// Most components for which the f32 products are used: `D u` stays below 1/100, so
/// `gamma_D` is within 1% of `D u` and candidates stay few.
const MAX_DIM: usize = 167_000;

/// Largest value, after subtracting the samples' mean, that is rounded to f32: a chunk's mean
/// is within this of it too, so squares and dot products stay far from f32's range (3.4e38)
/// whatever `D`.
const MAX_CENTRED: f64 = 1e15;

/// Room for the search's buffers, over all threads, that is always allowed, in bytes.
const MAX_ROOM: usize = 64 << 20;

/// Rows of samples whose products with every node are computed together: enough that the
/// product runs at its full rate, few enough that the `rows x nodes` block stays in cache
/// (up to 16,384 nodes; past that, 16 rows whatever the block's size).
fn rows_per_chunk(nodes: usize) -> usize {
    (262_144 / nodes.max(1)).clamp(16, 512)
}

/// Room for one chunk, one per rayon thread, reused by every pass.
#[derive(Debug, Default)]
struct Scratch {
    /// The chunk's mean `(dim)`.
    centre: Vec<f64>,
    /// Centred samples in f32, `(rows, dim)`, and their norms `|x'|`.
    samples: Vec<f32>,
    sample_norms: Vec<f64>,
    /// Each node's distance to the chunk's centre, and the nodes that can be nearest or
    /// second-nearest to one of its samples, in increasing index.
    to_centre: Vec<f64>,
    kept: Vec<usize>,
    /// The kept nodes centred in f32, `(kept, dim)`, their squared norms and norms.
    nodes: Vec<f32>,
    node_squares: Vec<f64>,
    node_norms: Vec<f64>,
    /// The samples' products with every node, `(rows, nodes)`.
    products: Vec<f32>,
    /// One sample's estimates `t_j`, and their bounds `t_j - E_j`, `t_j + E_j` (`nodes`).
    estimates: Vec<f64>,
    lower: Vec<f64>,
    upper: Vec<f64>,
    /// `(sample, node)` pairs to measure exactly: per sample, in increasing node index.
    pairs: Vec<(usize, usize)>,
    /// Their exact raw distances.
    exact: Vec<f64>,
    /// Per row: its pairs, and its runner-up when certain without measuring (else
    /// `usize::MAX`: the two nearest of its pairs).
    plans: Vec<(Range<usize>, usize)>,
}

/// The search of one training: the order of the samples, per-thread room, allocated once.
#[derive(Debug)]
pub(super) struct CandidateSearch {
    dim: usize,
    nodes: usize,
    /// The samples' mean: values are checked against [`MAX_CENTRED`] about it.
    mean: Vec<f64>,
    /// `E_j = coefficient (|x'| + |w'_j|)^2 + absolute (|x'| + |w'_j|) + floor`.
    coefficient: f64,
    absolute: f64,
    floor: f64,
    /// Samples per chunk.
    rows: usize,
    /// The samples in the order they are searched: grouped by their best match in the
    /// previous pass (as given at first).
    order: Vec<usize>,
    /// Where each node's group starts in `order` (counting sort), `nodes + 1`.
    starts: Vec<usize>,
    /// The matches in `order`'s order.
    ordered: Vec<Match>,
    /// Whether the matches passed to the next search are a previous pass's.
    grouped: bool,
    scratch: Vec<Mutex<Scratch>>,
    /// `(sample, node)` distances measured exactly so far.
    measured: AtomicU64,
}

impl CandidateSearch {
    /// The search for `samples` `(n, dim)` on a map of `nodes` nodes compared by `distance`,
    /// or `None` where only the exact scan is right (see the module's comment) or its room
    /// would exceed half the samples' size and [`MAX_ROOM`].
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
        let mut mean = vec![0.0; dim];
        for v in samples.chunks_exact(dim) {
            mean.iter_mut().zip(v).for_each(|(c, &x)| *c += x);
        }
        mean.iter_mut().for_each(|c| *c /= n as f64);
        if !within_limit(samples, &mean) {
            return None;
        }
        // Room per thread: the nodes in f32 and seven values per node, a chunk of samples in
        // f32 and its block of products (plus the pairs in doubt, a few per sample unless the
        // data defeat the bound). Held to half the data's own size or 64 MiB, whichever is more (a large
        // map on few samples, as a final quality pass may be, scans exactly instead).
        let rows = rows_per_chunk(nodes).min(n);
        let room = nodes * (4 * dim + 7 * 8) + rows * (nodes * 4 + dim * 4 + 8) + dim * 8;
        let allowed = (samples.len() * 8 / 2).max(MAX_ROOM);
        if rayon::current_num_threads() * room > allowed {
            return None;
        }
        let gamma = dim as f64 * U / (1.0 - dim as f64 * U);
        let f64_sums = (dim + 8) as f64 * f64::EPSILON;
        let coefficient = SLACK * (gamma / 2.0 + 2.0004 * U + f64_sums);
        // Values below f32's normal range lose their relative accuracy (or are flushed to
        // zero): up to `2^-126` per value and per product, whatever their size.
        let absolute = SLACK * 4.0 * (dim as f64).sqrt() * TINY;
        let floor = SLACK * 4.0 * (dim + 1) as f64 * TINY;
        let scratch = (0..rayon::current_num_threads())
            .map(|_| {
                Mutex::new(Scratch {
                    centre: vec![0.0; dim],
                    samples: vec![0.0; rows * dim],
                    sample_norms: vec![0.0; rows],
                    to_centre: vec![0.0; nodes],
                    kept: Vec::with_capacity(nodes),
                    nodes: vec![0.0; nodes * dim],
                    node_squares: vec![0.0; nodes],
                    node_norms: vec![0.0; nodes],
                    products: vec![0.0; rows * nodes],
                    estimates: vec![0.0; nodes],
                    lower: vec![0.0; nodes],
                    upper: vec![0.0; nodes],
                    pairs: Vec::with_capacity(4 * rows),
                    exact: Vec::with_capacity(4 * rows),
                    plans: Vec::with_capacity(rows),
                })
            })
            .collect();
        Some(CandidateSearch {
            dim,
            nodes,
            mean,
            coefficient,
            absolute,
            floor,
            rows,
            order: (0..n).collect(),
            starts: vec![0; nodes + 1],
            ordered: vec![Match::default(); n],
            grouped: false,
            scratch,
            measured: AtomicU64::new(0),
        })
    }

    /// Whether the search is exact for these weights `(nodes, dim)`: false (and the exact
    /// scan must be used) when one is past [`MAX_CENTRED`] from the samples' mean.
    pub(super) fn can_search(&self, weights: &[f64]) -> bool {
        within_limit(weights, &self.mean)
    }

    /// `(sample, node)` distances measured exactly by the searches so far.
    pub(super) fn measured(&self) -> u64 {
        self.measured.load(Ordering::Relaxed)
    }

    /// The nearest two nodes of every sample of `samples` `(n, dim)` into `found` (`n`), on
    /// `weights` `(nodes, dim)`. `found` must hold the previous pass's matches, if any: they
    /// group the samples. Counts the samples searched in `control` and gives up (leaving
    /// `found` meaningless: the caller checks `control`) once cancelled.
    pub(super) fn search(
        &mut self,
        samples: &[f64],
        weights: &[f64],
        found: &mut [Match],
        control: &TrainControl,
    ) {
        if self.grouped {
            self.group_by_match(found);
        }
        let rows = self.rows;
        let mut ordered = std::mem::take(&mut self.ordered);
        let this = &*self;
        (this.order)
            .par_chunks(rows)
            .zip(ordered.par_chunks_mut(rows))
            .for_each(|(chunk, found)| {
                if control.is_cancelled() {
                    return;
                }
                // One room per thread of the pool the search was made for; the lock keeps a
                // search run from another pool right, if slower.
                let thread = rayon::current_thread_index().unwrap_or(0) % this.scratch.len();
                let mut scratch = this.scratch[thread].lock().expect("scratch lock");
                vectorised(
                    #[inline(always)]
                    || this.search_chunk(chunk, samples, weights, found, &mut scratch),
                );
                control.add_samples_done(found.len());
                (this.measured).fetch_add(scratch.pairs.len() as u64, Ordering::Relaxed);
            });
        for (&sample, &matched) in self.order.iter().zip(&ordered) {
            found[sample] = matched;
        }
        self.ordered = ordered;
        self.grouped = true;
    }

    /// Orders the samples by their best match in `found` (a counting sort, stable).
    fn group_by_match(&mut self, found: &[Match]) {
        self.starts.fill(0);
        for m in found {
            self.starts[m.node + 1] += 1;
        }
        for j in 0..self.nodes {
            self.starts[j + 1] += self.starts[j];
        }
        for (sample, m) in found.iter().enumerate() {
            self.order[self.starts[m.node]] = sample;
            self.starts[m.node] += 1;
        }
    }

    #[inline(always)]
    fn search_chunk(
        &self,
        chunk: &[usize],
        samples: &[f64],
        weights: &[f64],
        found: &mut [Match],
        scratch: &mut Scratch,
    ) {
        let (dim, nodes, rows) = (self.dim, self.nodes, chunk.len());
        let sample = |i: usize| &samples[i * dim..(i + 1) * dim];
        let s = scratch;
        s.centre.fill(0.0);
        for &i in chunk {
            s.centre
                .iter_mut()
                .zip(sample(i))
                .for_each(|(c, &x)| *c += x);
        }
        s.centre.iter_mut().for_each(|c| *c /= rows as f64);
        for ((&i, rounded), norm) in chunk
            .iter()
            .zip(s.samples.chunks_exact_mut(dim))
            .zip(&mut s.sample_norms)
        {
            *norm = centre_and_round(sample(i), &s.centre, rounded).sqrt();
        }
        // Nodes that cannot be nearest or second-nearest to any sample of the chunk are left
        // out of the product: with `r` the chunk's radius about its centre and `a`, `b` the two
        // nodes nearest the centre, every sample has two nodes within `r + |w_b - c|`, and node
        // `j` is at least `|w_j - c| - r` from every sample (the triangle inequality). The
        // factor `1 + 1e-6` covers the rounding of these f64 and f32 norms (below 1e-12 and
        // 1e-7 of them) and of the exact scan's sums; `sqrt(dim) 2^-126` what f32 loses below
        // its normal range.
        for (w, distance) in weights.chunks_exact(dim).zip(&mut s.to_centre) {
            *distance = squared_distance(w, &s.centre).sqrt();
        }
        let radius = s.sample_norms[..rows]
            .iter()
            .fold(0.0_f64, |m, &r| m.max(r))
            * (1.0 + 1e-6);
        let [_, b] = two_smallest(&s.to_centre);
        let reach = (radius + s.to_centre[b]) * (1.0 + 1e-6);
        s.kept.clear();
        (s.kept).extend((0..nodes).filter(|&j| s.to_centre[j] - radius <= reach));
        let kept = s.kept.len();
        for (((&j, rounded), square), norm) in (s.kept.iter())
            .zip(s.nodes.chunks_exact_mut(dim))
            .zip(&mut s.node_squares)
            .zip(&mut s.node_norms)
        {
            *square = centre_and_round(&weights[j * dim..(j + 1) * dim], &s.centre, rounded);
            *norm = square.sqrt() * (1.0 + U);
        }
        let products = &mut s.products[..rows * kept];
        faer::linalg::matmul::matmul(
            MatMut::from_row_major_slice_mut(products, rows, kept),
            Accum::Replace,
            MatRef::from_row_major_slice(&s.samples[..rows * dim], rows, dim),
            MatRef::from_row_major_slice(&s.nodes[..kept * dim], kept, dim).transpose(),
            1.0,
            Par::Seq,
        );
        s.pairs.clear();
        s.plans.clear();
        for ((&i, products), &norm) in chunk
            .iter()
            .zip(products.chunks_exact(kept))
            .zip(&s.sample_norms)
        {
            let sample_norm = norm * (1.0 + U);
            let bounds = (s.estimates[..kept].iter_mut())
                .zip(s.lower.iter_mut().zip(s.upper.iter_mut()))
                .zip(
                    products
                        .iter()
                        .zip(s.node_squares.iter().zip(&s.node_norms)),
                );
            for ((t, (lower, upper)), (&product, (&square, &node_norm))) in bounds {
                *t = square - 2.0 * f64::from(product);
                let reach = sample_norm + node_norm;
                let e = self.coefficient * reach * reach + self.absolute * reach + self.floor;
                (*lower, *upper) = (*t - e, *t + e);
            }
            // Positions in `kept`, which lists nodes in increasing index.
            let [p, q] = two_smallest(&s.estimates[..kept]);
            let reachable = s.upper[p].max(s.upper[q]);
            let start = s.pairs.len();
            let in_doubt = |k: usize| s.lower[k] <= reachable;
            let mut others = (0..kept).filter(|&k| k != p && in_doubt(k));
            let (first, second) = (others.next(), others.next());
            let nearest_certain = (0..kept).all(|k| k == p || s.lower[k] > s.upper[p]);
            let runner_up = match (nearest_certain, first, second) {
                (true, Some(only), None) => {
                    s.pairs.push((i, s.kept[p]));
                    s.kept[only]
                }
                _ => {
                    let pairs = (0..kept).filter(|&k| in_doubt(k)).map(|k| (i, s.kept[k]));
                    s.pairs.extend(pairs);
                    usize::MAX
                }
            };
            s.plans.push((start..s.pairs.len(), runner_up));
        }
        s.exact.clear();
        for group in s.pairs.chunks(4) {
            // A short last group measures its last pair again; the copies are not kept.
            let pair = |k: usize| {
                let (i, j) = group[k.min(group.len() - 1)];
                (sample(i), &weights[j * dim..(j + 1) * dim])
            };
            let distances = squared_euclidean_four([0, 1, 2, 3].map(pair));
            s.exact.extend_from_slice(&distances[..group.len()]);
        }
        for ((range, runner_up), matched) in s.plans.iter().zip(found) {
            let pairs = &s.pairs[range.clone()];
            *matched = match *runner_up {
                usize::MAX => {
                    let mut two = NO_NODES;
                    for (&(_, node), &d) in pairs.iter().zip(&s.exact[range.clone()]) {
                        keep_nearest_two(&mut two, (d, node));
                    }
                    Match::from(two)
                }
                runner_up => Match {
                    distance: s.exact[range.start],
                    node: pairs[0].1,
                    runner_up,
                },
            };
        }
    }
}

/// Whether every value of `rows` `(_, dim)` is within [`MAX_CENTRED`] of `mean`.
fn within_limit(rows: &[f64], mean: &[f64]) -> bool {
    rows.chunks_exact(mean.len()).all(|v| {
        v.iter()
            .zip(mean)
            .all(|(x, c)| (x - c).abs() <= MAX_CENTRED)
    })
}

/// The indices of the two smallest of `values` (at least two, finite: every value the search
/// compares is).
#[inline(always)]
fn two_smallest(values: &[f64]) -> [usize; 2] {
    let (mut first, mut second) = ((f64::INFINITY, 0), (f64::INFINITY, 1));
    for (j, &t) in values.iter().enumerate() {
        if t < second.0 {
            if t < first.0 {
                (first, second) = ((t, j), first);
            } else {
                second = (t, j);
            }
        }
    }
    [first.1, second.1]
}

/// Writes `v - centre` rounded to f32 into `out` and returns the squared norm of what was
/// written, in f64, summed in eight running sums (its order is free: the bound covers any).
/// Two plain passes, which the compiler vectorises (one interleaved pass ran at about 2 ns a
/// value, a fifth of the whole search, measured with perf).
#[inline(always)]
fn centre_and_round(v: &[f64], centre: &[f64], out: &mut [f32]) -> f64 {
    for ((o, &x), &c) in out.iter_mut().zip(v).zip(centre) {
        *o = (x - c) as f32;
    }
    let mut lanes = [0.0; 8];
    let mut chunks = out.chunks_exact(8);
    for chunk in &mut chunks {
        for (lane, &o) in lanes.iter_mut().zip(chunk) {
            *lane += f64::from(o) * f64::from(o);
        }
    }
    let tail: f64 = chunks
        .remainder()
        .iter()
        .map(|&o| f64::from(o) * f64::from(o))
        .sum();
    lanes.iter().sum::<f64>() + tail
}

/// `|w - c|^2` in f64, in eight running sums (its order is free: the pruning's margin covers
/// any).
#[inline(always)]
fn squared_distance(w: &[f64], c: &[f64]) -> f64 {
    let mut lanes = [0.0; 8];
    let (mut ws, mut cs) = (w.chunks_exact(8), c.chunks_exact(8));
    for (w, c) in (&mut ws).zip(&mut cs) {
        for ((lane, &a), &b) in lanes.iter_mut().zip(w).zip(c) {
            *lane += (a - b) * (a - b);
        }
    }
    let tail: f64 = (ws.remainder().iter().zip(cs.remainder()))
        .map(|(a, b)| (a - b) * (a - b))
        .sum();
    lanes.iter().sum::<f64>() + tail
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
        assert!(search.can_search(flat));
        let mut found = vec![Match::default(); samples.len() / dim];
        // Twice: ungrouped, then grouped by the first pass's matches.
        search.search(samples, flat, &mut found, &TrainControl::default());
        let first = found.clone();
        search.search(samples, flat, &mut found, &TrainControl::default());
        assert_eq!(found, first);
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
            // Below f32's normal range (products of 1e-22 are subnormal, of 1e-30 zero).
            (300, 20, 10, 1e-22, 1e-22),
            (300, 20, 10, 1e-30, 1e-30),
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
