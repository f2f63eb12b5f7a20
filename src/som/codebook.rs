//! The map's weights in the layout the hot loops want, and the queries on them: best-matching
//! node, prediction, quantization and topographic error.
//!
//! Weights are kept plane by plane (structure of arrays): `planes[k * nodes + i]` is component
//! `k` of node `i` (flat index `row * cols + col`). A distance scan then runs over contiguous
//! slices, one node per SIMD lane, and each node's raw distance (see [`Distance::raw`]) is
//! summed in the order `k = 0..dim`, exactly as a scalar loop would: the result does not depend
//! on vector width, block size or thread count.

use std::sync::atomic::{AtomicBool, Ordering};

use ndarray::{Array3, ArrayView2, ArrayView3};
use rayon::prelude::*;

use super::SomError;
use super::distance::{cosine, squared_norm};
use super::options::{Distance, Options, Topology};
use super::topology::Grid;

/// `(raw distance, flat index)` of the nearest and second-nearest node of a vector.
pub(crate) type NearestTwo = ((f64, usize), (f64, usize));

/// Two empty places, which the first two nodes seen fill.
pub(crate) const NO_NODES: NearestTwo = ((f64::INFINITY, usize::MAX), (f64::INFINITY, usize::MAX));

/// Puts `candidate` in `nearest` if it is nearer, by (distance, index) with candidates coming
/// in increasing index, than one of the two kept. An empty place (index `usize::MAX`) is
/// always filled, even at an infinite distance (values near f64's limit square to it): a node
/// is always named.
#[inline(always)]
pub(crate) fn keep_nearest_two(nearest: &mut NearestTwo, candidate: (f64, usize)) {
    let (first, second) = nearest;
    if candidate.0 < first.0 || first.1 == usize::MAX {
        *second = *first;
        *first = candidate;
    } else if candidate.0 < second.0 || second.1 == usize::MAX {
        *second = candidate;
    }
}

/// Nodes scanned together: small enough for the partial sums to stay in L1, large enough that
/// the per-block bookkeeping is cheap. Measured with callgrind on 100x100 colours for 1000
/// iterations: 64 -> 698M instructions, 128 -> 560M, 256 -> 499M, 512 -> 578M.
pub(crate) const BLOCK: usize = 256;

/// Nodes whose distances [`Codebook::minima_of_blocks`] sums together in registers, for maps
/// of at least [`LANE_SCAN_MIN_DIM`] dimensions: four AVX-512 or eight AVX2 registers of sums,
/// loaded and stored once per scan instead of once per four planes, and abandoned as a group.
/// Measured with callgrind on 2,000 x 300 blobs, 25x15, 10 iterations: the online search
/// took 1.78e9 instructions instead of 3.8e9 for the plane scan; other widths were not tried.
const LANES: usize = 32;

/// Components summed between two checks of a [`LANES`] group against the bound.
const CHECK_EVERY: usize = 8;

/// Dimension from which the search scans [`LANES`] nodes at a time: below it a distance is a
/// handful of terms, too few for the bound to cut anything, and the plane scan is cheaper.
const LANE_SCAN_MIN_DIM: usize = 2 * CHECK_EVERY;

/// A block's smallest raw distance to a sample, and the offset in the block of the node at
/// that distance when known.
pub(crate) type BlockNearest = (f64, u32);

/// The offset of a [`BlockNearest`] that was not worth finding.
pub(crate) const UNKNOWN_OFFSET: u32 = u32::MAX;

/// Room for the squared distances of one block, reused across scans so that no scan pays for
/// zeroing it.
pub(crate) type Scratch = [f64; BLOCK];

/// A map's weights, plane by plane, with the grid they sit on and the distance that compares
/// them with vectors. Built from and turned back into `(rows, cols, dim)` arrays.
#[derive(Debug, Clone, PartialEq)]
pub struct Codebook {
    grid: Grid,
    distance: Distance,
    dim: usize,
    /// `(dim, rows * cols)`, row-major.
    planes: Vec<f64>,
}

impl Codebook {
    /// Copies `(rows, cols, dim)` weights into planes, on a rectangular grid, compared by
    /// Euclidean distance (SPEC §3; [`Codebook::with`] sets others).
    pub fn from_weights(weights: ArrayView3<f64>) -> Self {
        let (rows, cols, dim) = weights.dim();
        let nodes = rows * cols;
        let mut planes = vec![0.0; nodes * dim];
        for ((r, c, k), &w) in weights.indexed_iter() {
            planes[k * nodes + r * cols + c] = w;
        }
        Codebook {
            grid: Grid::rectangular(rows, cols),
            distance: Distance::Euclidean,
            dim,
            planes,
        }
    }

    /// Copies `(rows, cols, dim)` weights into planes, on the grid and compared by the
    /// distance of checked training options.
    pub fn on_grid(weights: ArrayView3<f64>, options: &Options) -> Self {
        Codebook::from_weights(weights).with(options.topology, options.toroidal, options.distance)
    }

    /// The same weights on a grid of this topology, compared by this distance.
    pub fn with(mut self, topology: Topology, toroidal: bool, distance: Distance) -> Self {
        self.grid.topology = topology;
        self.grid.toroidal = toroidal;
        self.distance = distance;
        self
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }
    pub fn distance(&self) -> Distance {
        self.distance
    }

    /// The weights as a `(rows, cols, dim)` array.
    pub fn to_weights(&self) -> Array3<f64> {
        let nodes = self.nodes();
        let cols = self.cols();
        Array3::from_shape_fn((self.rows(), cols, self.dim), |(r, c, k)| {
            self.planes[k * nodes + r * cols + c]
        })
    }

    pub fn rows(&self) -> usize {
        self.grid.rows
    }
    pub fn cols(&self) -> usize {
        self.grid.cols
    }
    pub fn dim(&self) -> usize {
        self.dim
    }
    pub fn nodes(&self) -> usize {
        self.grid.nodes()
    }

    pub(crate) fn planes_mut(&mut self) -> &mut [f64] {
        &mut self.planes
    }

    /// Sets every node's weights from `weights` `(nodes, dim)`, node after node.
    pub(crate) fn assign_nodes(&mut self, weights: &[f64]) {
        let nodes = self.nodes();
        for (i, node) in weights.chunks_exact(self.dim).enumerate() {
            for (k, &w) in node.iter().enumerate() {
                self.planes[k * nodes + i] = w;
            }
        }
    }

    /// `[row, col]` of a flat node index.
    pub fn position(&self, node: usize) -> [usize; 2] {
        self.grid.position(node)
    }

    fn check_dimension(&self, data: &ArrayView2<f64>) -> Result<(), SomError> {
        if data.ncols() != self.dim && data.nrows() > 0 {
            return Err(SomError::DimensionMismatch {
                expected: self.dim,
                got: data.ncols(),
            });
        }
        Ok(())
    }

    /// The best-matching node of every vector of `data` `(n, dim)` as `[row, col]`; ties go to
    /// the smallest flat index. Vectors are spread over the rayon pool.
    ///
    /// # Errors
    /// [`SomError::DimensionMismatch`] when `data` has another dimension than the map.
    pub fn predict(&self, data: ArrayView2<f64>) -> Result<Vec<[usize; 2]>, SomError> {
        let never = AtomicBool::new(false);
        Ok(self
            .predict_unless(data, &never)?
            .expect("a prediction that is never stopped finishes"))
    }

    /// [`Codebook::predict`], given up (`None`) soon after `stop` is set: a vector's search is
    /// the most work done after it.
    ///
    /// # Errors
    /// [`SomError::DimensionMismatch`] when `data` has another dimension than the map.
    pub fn predict_unless(
        &self,
        data: ArrayView2<f64>,
        stop: &AtomicBool,
    ) -> Result<Option<Vec<[usize; 2]>>, SomError> {
        let nearest = self.nearest_unless(data, stop)?;
        Ok(nearest.map(|nearest| {
            (nearest.into_iter())
                .map(|(node, _)| self.position(node))
                .collect()
        }))
    }

    /// The flat index of every vector's best-matching node (ties: the smallest index) and its
    /// distance to it (the map's, not squared: the terms whose mean is
    /// [`Codebook::quantization_error`]); given up (`None`) soon after `stop` is set.
    ///
    /// # Errors
    /// [`SomError::DimensionMismatch`] when `data` has another dimension than the map.
    pub fn nearest_unless(
        &self,
        data: ArrayView2<f64>,
        stop: &AtomicBool,
    ) -> Result<Option<Vec<(usize, f64)>>, SomError> {
        self.check_dimension(&data)?;
        let nearest = self.map_rows(data, |v| {
            (!stop.load(Ordering::Relaxed)).then(|| {
                let (raw, node) = self.nearest(v);
                (node, self.distance.finish(raw))
            })
        });
        Ok(nearest.into_iter().collect())
    }

    /// Mean distance (the map's, not squared) from each vector of `data` to its best-matching
    /// node.
    ///
    /// # Errors
    /// [`SomError::DimensionMismatch`], [`SomError::NoSamples`].
    pub fn quantization_error(&self, data: ArrayView2<f64>) -> Result<f64, SomError> {
        self.check_dimension(&data)?;
        if data.nrows() == 0 {
            return Err(SomError::NoSamples);
        }
        let distances = self.map_rows(data, |v| self.distance.finish(self.nearest(v).0));
        Ok(distances.iter().sum::<f64>() / data.nrows() as f64)
    }

    /// Fraction of the vectors of `data` whose nearest and second-nearest nodes are not
    /// neighbours on the grid ([`Grid::are_neighbours`]). A one-node map has no second node: 0.
    ///
    /// # Errors
    /// [`SomError::DimensionMismatch`], [`SomError::NoSamples`].
    pub fn topographic_error(&self, data: ArrayView2<f64>) -> Result<f64, SomError> {
        self.check_dimension(&data)?;
        if data.nrows() == 0 {
            return Err(SomError::NoSamples);
        }
        if self.nodes() < 2 {
            return Ok(0.0);
        }
        let separated = self.map_rows(data, |v| {
            let (first, second) = self.nearest_two(v);
            !self.grid.are_neighbours(first.1, second.1)
        });
        let count = separated.into_iter().filter(|&s| s).count();
        Ok(count as f64 / data.nrows() as f64)
    }

    /// Applies `f` to every row of `data` (of this map's dimension), in parallel, keeping the
    /// order.
    fn map_rows<T: Send>(
        &self,
        data: ArrayView2<f64>,
        f: impl Fn(&[f64]) -> T + Sync + Send,
    ) -> Vec<T> {
        let data = data.as_standard_layout();
        let values = data
            .as_slice()
            .expect("a standard layout array is contiguous");
        values
            .par_chunks(self.dim)
            .with_min_len(16)
            .map(f)
            .collect()
    }

    /// Raw distance and flat index of the node nearest `v` (ties: smallest index).
    pub(crate) fn nearest(&self, v: &[f64]) -> (f64, usize) {
        vectorised(
            #[inline(always)]
            || {
                let mut sums = [0.0; BLOCK];
                let mut bound = f64::INFINITY;
                let mut best = (f64::INFINITY, 0, UNKNOWN_OFFSET);
                for block in 0..self.nodes().div_ceil(BLOCK) {
                    let (minimum, offset) =
                        self.block_nearest(v, block, &mut sums, &mut bound, None);
                    if minimum < best.0 {
                        best = (minimum, block, offset);
                    }
                }
                let node = match best.2 {
                    UNKNOWN_OFFSET => self.argmin_in_block(v, best.1, &mut sums),
                    offset => best.1 * BLOCK + offset as usize,
                };
                (best.0, node)
            },
        )
    }

    /// For each block index of `blocks`, the smallest raw distance from `v` to a node of
    /// that block and, for a block as near as `bound` or any earlier block of `blocks`, the
    /// offset of that node in the block (else [`UNKNOWN_OFFSET`]); `(NaN, UNKNOWN_OFFSET)` for
    /// a block that cannot come that near. The offsets spare the search from scanning the
    /// winning block a second time.
    ///
    /// `bound` must be the raw distance of some node (or infinity): blocks are then skipped
    /// only when every one of their nodes is strictly farther than a node that exists, so the
    /// nearest node and its ties are found whatever the bound.
    ///
    /// `guess`, a node likely to be nearest (put its block first in `blocks`), is measured
    /// first and its distance bounds the rest of the search. The scan [`LANES`] nodes at a
    /// time measures the guess's whole group first (in its block's turn), as it would later
    /// anyway: measuring the guess alone, a chain of `dim` dependent additions over as many
    /// cache lines, took some 4% of the online training of 16,000 x 300 blobs (perf).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn minima_of_blocks(
        &self,
        v: &[f64],
        blocks: &[usize],
        out: &mut [BlockNearest],
        mut bound: f64,
        sums: &mut Scratch,
        guess: Option<usize>,
    ) {
        let lead = guess.filter(|&node| self.lane_group_start(v.len(), node).is_some());
        if let Some(distance) =
            (guess.filter(|_| lead.is_none())).and_then(|node| self.raw_distance(v, node))
        {
            bound = bound.min(distance);
        }
        vectorised(
            #[inline(always)]
            || {
                for (&block, nearest) in blocks.iter().zip(out.iter_mut()) {
                    let lead = lead.filter(|&node| node / BLOCK == block);
                    *nearest = self.block_nearest(v, block, sums, &mut bound, lead);
                }
            },
        )
    }

    /// Offset in its block of the first node of `node`'s group of [`LANES`], when the scan by
    /// groups of lanes measures vectors of `dim` components and `node` lies in a whole group.
    fn lane_group_start(&self, dim: usize, node: usize) -> Option<usize> {
        let lanes = matches!(self.distance, Distance::Euclidean | Distance::Manhattan)
            && dim >= LANE_SCAN_MIN_DIM;
        let (block, offset) = (node / BLOCK, node % BLOCK);
        let len = BLOCK.min(self.nodes() - block * BLOCK);
        (lanes && offset < len / LANES * LANES).then_some(offset / LANES * LANES)
    }

    /// [`Codebook::minima_of_blocks`] for one block, tightening `bound` to its minimum when
    /// that is nearer; `lead`, a node of the block in a whole group of lanes
    /// ([`Codebook::lane_group_start`]), has its group measured first.
    #[inline(always)]
    fn block_nearest(
        &self,
        v: &[f64],
        block: usize,
        sums: &mut Scratch,
        bound: &mut f64,
        lead: Option<usize>,
    ) -> BlockNearest {
        let lead = lead.and_then(|node| self.lane_group_start(v.len(), node));
        match self.distance {
            Distance::Euclidean if v.len() >= LANE_SCAN_MIN_DIM => {
                self.lane_block_minimum::<false>(v, block, bound, lead)
            }
            Distance::Manhattan if v.len() >= LANE_SCAN_MIN_DIM => {
                self.lane_block_minimum::<true>(v, block, bound, lead)
            }
            _ => self.plane_block_minimum(v, block, sums, bound),
        }
    }

    /// [`Codebook::minima_of_blocks`] for one block, from whole planes of partial sums.
    #[inline(always)]
    fn plane_block_minimum(
        &self,
        v: &[f64],
        block: usize,
        sums: &mut Scratch,
        bound: &mut f64,
    ) -> BlockNearest {
        match self.raw_distances(v, block, sums, *bound) {
            None => (f64::NAN, UNKNOWN_OFFSET),
            Some(len) => {
                let minimum = smallest(&sums[..len]);
                if minimum <= *bound {
                    *bound = minimum;
                    (minimum, position_of(&sums[..len], minimum) as u32)
                } else {
                    (minimum, UNKNOWN_OFFSET)
                }
            }
        }
    }

    /// [`Codebook::minima_of_blocks`] for one block, [`LANES`] nodes at a time with their sums
    /// in registers ([`Codebook::lane_sums`]); the bound tightens after every group of lanes,
    /// not only after every block. A block some of whose groups were abandoned as too far
    /// is known exactly only when it beats the bound it started with (the abandoned nodes are
    /// farther than that); otherwise it is reported as unable to come near. The group at
    /// offset `lead` in the block, when given, is measured first; ties still go to the
    /// smallest offset.
    #[inline(always)]
    fn lane_block_minimum<const ABS: bool>(
        &self,
        v: &[f64],
        block: usize,
        bound: &mut f64,
        lead: Option<usize>,
    ) -> BlockNearest {
        let start = block * BLOCK;
        let len = BLOCK.min(self.nodes() - start);
        let entry_bound = *bound;
        let mut best = (f64::INFINITY, UNKNOWN_OFFSET);
        let mut abandoned = false;
        let mut take = |sums: Option<&[f64]>, offset: usize, bound: &mut f64| match sums {
            None => abandoned = true,
            Some(sums) => {
                let minimum = smallest(sums);
                let at = (offset + position_of(sums, minimum)) as u32;
                if minimum < best.0 || (minimum == best.0 && at < best.1) {
                    best = (minimum, at);
                }
                if minimum <= *bound {
                    *bound = minimum;
                }
            }
        };
        let all = [true; LANES];
        if let Some(offset) = lead {
            let sums = self.lane_sums::<LANES, ABS>(v, start + offset, *bound, &all);
            take(sums.as_ref().map(|s| &s[..]), offset, bound);
        }
        let mut offset = 0;
        while offset + LANES <= len {
            if lead != Some(offset) {
                let sums = self.lane_sums::<LANES, ABS>(v, start + offset, *bound, &all);
                take(sums.as_ref().map(|s| &s[..]), offset, bound);
            }
            offset += LANES;
        }
        // The last nodes, fewer than LANES, in one window ending at the block's end when it
        // fits: its first lanes, nodes already measured, are left out.
        match len - offset {
            0 => {}
            rest if rest <= 8 && len >= 8 => {
                let sums = self.window_sums::<8, ABS>(v, start, len, rest, *bound);
                take(sums.as_ref().map(|s| &s[..]), len - 8, bound);
            }
            rest if rest <= 16 && len >= 16 => {
                let sums = self.window_sums::<16, ABS>(v, start, len, rest, *bound);
                take(sums.as_ref().map(|s| &s[..]), len - 16, bound);
            }
            rest if len >= LANES => {
                let sums = self.window_sums::<LANES, ABS>(v, start, len, rest, *bound);
                take(sums.as_ref().map(|s| &s[..]), len - LANES, bound);
            }
            _ => {
                while offset + 4 <= len {
                    let sums = self.lane_sums::<4, ABS>(v, start + offset, *bound, &[true; 4]);
                    take(sums.as_ref().map(|s| &s[..]), offset, bound);
                    offset += 4;
                }
                while offset < len {
                    let sums = self.lane_sums::<1, ABS>(v, start + offset, *bound, &[true]);
                    take(sums.as_ref().map(|s| &s[..]), offset, bound);
                    offset += 1;
                }
            }
        }
        match (abandoned, best.0) {
            // Every sum was infinite or NaN: what the plane scan reports then.
            (false, minimum) if minimum == f64::INFINITY => {
                let mut sums = [0.0; BLOCK];
                let mut bound = entry_bound;
                self.plane_block_minimum(v, block, &mut sums, &mut bound)
            }
            (false, _) => best,
            (true, minimum) if minimum <= entry_bound => best,
            (true, _) => (f64::NAN, UNKNOWN_OFFSET),
        }
    }

    /// [`Codebook::lane_sums`] of the last `rest` of the `len` nodes of the block from
    /// `start`, measured as the last `W` (`rest <= W <= len`), the others' sums infinite. A
    /// block's last few nodes measured in groups of 4 and 1 took, each group, as long as a
    /// whole group of [`LANES`]: its one chain of `dim` dependent additions.
    #[inline(always)]
    fn window_sums<const W: usize, const ABS: bool>(
        &self,
        v: &[f64],
        start: usize,
        len: usize,
        rest: usize,
        bound: f64,
    ) -> Option<[f64; W]> {
        let alive: [bool; W] = std::array::from_fn(|lane| lane >= W - rest);
        let mut sums = self.lane_sums::<W, ABS>(v, start + len - W, bound, &alive)?;
        for (sum, &alive) in sums.iter_mut().zip(&alive) {
            if !alive {
                *sum = f64::INFINITY;
            }
        }
        Some(sums)
    }

    /// The raw distances (sums of `(v_k - w_k)^2`, or `|v_k - w_k|` when `ABS`, in the order
    /// `k = 0..dim`, from 0) from `v` to the `W` nodes from `first` on, kept in registers
    /// through all `dim` components; `None` as soon as, after a group of [`CHECK_EVERY`]
    /// components, every partial sum of an `alive` node exceeds `bound` (the terms are never
    /// negative).
    #[inline(always)]
    fn lane_sums<const W: usize, const ABS: bool>(
        &self,
        v: &[f64],
        first: usize,
        bound: f64,
        alive: &[bool; W],
    ) -> Option<[f64; W]> {
        let nodes = self.nodes();
        let mut sums = [0.0; W];
        let groups = self
            .planes
            .chunks(CHECK_EVERY * nodes)
            .zip(v.chunks(CHECK_EVERY));
        let last = v.len().div_ceil(CHECK_EVERY) - 1;
        for (group, (planes, v)) in groups.enumerate() {
            for (plane, &vk) in planes.chunks_exact(nodes).zip(v) {
                let w: &[f64; W] = plane[first..first + W]
                    .try_into()
                    .expect("a slice of W values");
                for (sum, &w) in sums.iter_mut().zip(w) {
                    let d = vk - w;
                    *sum += if ABS { d.abs() } else { d * d };
                }
            }
            if group != last && all_exceed(&sums, bound, alive) {
                return None;
            }
        }
        Some(sums)
    }

    /// The raw distance from `v` to node `node` (by a sum of terms, as [`Codebook::lane_sums`]
    /// computes it), for distances that are sums of terms; `None` for the cosine distance.
    fn raw_distance(&self, v: &[f64], node: usize) -> Option<f64> {
        let nodes = self.nodes();
        let terms = self.planes[node..].iter().step_by(nodes).zip(v);
        match self.distance {
            Distance::Euclidean => Some(terms.fold(0.0, |s, (&w, &vk)| {
                let d = vk - w;
                s + d * d
            })),
            Distance::Manhattan => Some(terms.fold(0.0, |s, (&w, &vk)| s + (vk - w).abs())),
            Distance::Cosine => None,
        }
    }

    /// Flat index of the node of `block` nearest `v` (ties: smallest index).
    pub(crate) fn block_argmin(&self, v: &[f64], block: usize, sums: &mut Scratch) -> usize {
        vectorised(
            #[inline(always)]
            || self.argmin_in_block(v, block, sums),
        )
    }

    /// Raw distances and flat indices of the nearest and second-nearest nodes, ordered by
    /// (distance, index); the second is `(inf, usize::MAX)` on a one-node map.
    pub(crate) fn nearest_two(&self, v: &[f64]) -> NearestTwo {
        vectorised(
            #[inline(always)]
            || {
                let mut sums = [0.0; BLOCK];
                let mut two = NO_NODES;
                for block in 0..self.nodes().div_ceil(BLOCK) {
                    let Some(len) = self.raw_distances(v, block, &mut sums, two.1.0) else {
                        continue;
                    };
                    for (offset, &d) in sums[..len].iter().enumerate() {
                        keep_nearest_two(&mut two, (d, block * BLOCK + offset));
                    }
                }
                two
            },
        )
    }

    #[inline(always)]
    fn argmin_in_block(&self, v: &[f64], block: usize, sums: &mut Scratch) -> usize {
        let len = self
            .raw_distances(v, block, sums, f64::INFINITY)
            .expect("nothing exceeds an infinite bound");
        block * BLOCK + first_of_smallest(&sums[..len])
    }

    /// Writes the raw distances from `v` to the nodes of `block` into `sums[..len]` and
    /// returns `len` (`BLOCK`, or less for the last block); `None` when no node of the block
    /// can be nearer than (or as near as) `bound`.
    #[inline(always)]
    fn raw_distances(
        &self,
        v: &[f64],
        block: usize,
        sums: &mut Scratch,
        bound: f64,
    ) -> Option<usize> {
        match self.distance {
            Distance::Euclidean => self.sums_of_terms::<false>(v, block, sums, bound),
            Distance::Manhattan => self.sums_of_terms::<true>(v, block, sums, bound),
            Distance::Cosine => Some(self.cosine_distances(v, block, sums)),
        }
    }

    /// The cosine distances from `v` to the nodes of `block`, each from `v.w` and `|w|^2`
    /// summed in the order `k = 0..dim`.
    #[inline(always)]
    fn cosine_distances(&self, v: &[f64], block: usize, dots: &mut Scratch) -> usize {
        let nodes = self.nodes();
        let start = block * BLOCK;
        let len = BLOCK.min(nodes - start);
        let mut norms = [0.0; BLOCK];
        let (dots, norms) = (&mut dots[..len], &mut norms[..len]);
        dots.fill(0.0);
        for (k, &vk) in v.iter().enumerate() {
            let plane = &self.planes[k * nodes + start..k * nodes + start + len];
            for ((dot, norm), &w) in dots.iter_mut().zip(norms.iter_mut()).zip(plane) {
                *dot += vk * w;
                *norm += w * w;
            }
        }
        let norm_v = squared_norm(v);
        for (dot, &norm) in dots.iter_mut().zip(norms.iter()) {
            *dot = cosine(*dot, norm_v, norm);
        }
        len
    }

    /// [`Codebook::raw_distances`] for the distances that are sums of one term per component:
    /// `(v_k - w_k)^2`, or `|v_k - w_k|` when `ABS`. Planes are taken four at a time so each
    /// partial sum is loaded and stored once per four components, and every sum still adds
    /// its components in the order `k = 0..dim`, starting from 0.
    ///
    /// Returns `None` as soon as every partial sum exceeds `bound`: the terms are never
    /// negative, so no node of the block can then be nearer than (or as near as) `bound`. For
    /// high-dimensional data this skips most of the work on nodes far from `v`.
    #[inline(always)]
    fn sums_of_terms<const ABS: bool>(
        &self,
        v: &[f64],
        block: usize,
        sums: &mut Scratch,
        bound: f64,
    ) -> Option<usize> {
        let nodes = self.nodes();
        let start = block * BLOCK;
        let len = BLOCK.min(nodes - start);
        let sums = &mut sums[..len];
        let plane = |k: usize| &self.planes[k * nodes + start..k * nodes + start + len];
        let first = v.len().min(4);
        match first {
            4 => accumulate::<4, true, ABS>([plane(0), plane(1), plane(2), plane(3)], v, sums),
            3 => accumulate::<3, true, ABS>([plane(0), plane(1), plane(2)], v, sums),
            2 => accumulate::<2, true, ABS>([plane(0), plane(1)], v, sums),
            _ => accumulate::<1, true, ABS>([plane(0)], v, sums),
        }
        let mut k = first;
        while k + 4 <= v.len() {
            if smallest(sums) > bound {
                return None;
            }
            let planes = [plane(k), plane(k + 1), plane(k + 2), plane(k + 3)];
            accumulate::<4, false, ABS>(planes, &v[k..], sums);
            k += 4;
        }
        match v.len() - k {
            3 => accumulate::<3, false, ABS>([plane(k), plane(k + 1), plane(k + 2)], &v[k..], sums),
            2 => accumulate::<2, false, ABS>([plane(k), plane(k + 1)], &v[k..], sums),
            1 => accumulate::<1, false, ABS>([plane(k)], &v[k..], sums),
            _ => {}
        }
        Some(len)
    }
}

/// Runs `f` compiled for the widest vector instructions the CPU has (pulp's dispatch), with
/// `f`'s body inlined into the function compiled for them.
///
/// A closure handed straight to `pulp::Arch::dispatch` is called there as `FnOnce`, through a
/// shim that the compiler may keep out of line, and then compiled for plain SSE2 whatever the
/// closure's `#[inline(always)]`: profiled on 16,000 x 300 blobs, the online update and the
/// quality scans ran that way, two doubles per instruction. Called as `FnMut`, a closure is
/// its own body, which `#[inline(always)]` does inline.
#[inline(always)]
pub(crate) fn vectorised<R>(f: impl FnMut() -> R) -> R {
    struct Op<F>(F);
    impl<R, F: FnMut() -> R> pulp::WithSimd for Op<F> {
        type Output = R;
        #[inline(always)]
        fn with_simd<S: pulp::Simd>(mut self, _: S) -> R {
            (self.0)()
        }
    }
    pulp::Arch::new().dispatch(Op(f))
}

/// Adds `(v[j] - planes[j][i])^2` (`|v[j] - planes[j][i]|` when `ABS`) for `j = 0..K`, in
/// order, to `sums[i]` (to 0 when `FIRST`).
#[inline(always)]
fn accumulate<const K: usize, const FIRST: bool, const ABS: bool>(
    planes: [&[f64]; K],
    v: &[f64],
    sums: &mut [f64],
) {
    let len = sums.len();
    let planes = planes.map(|plane| &plane[..len]);
    let v: [f64; K] = std::array::from_fn(|j| v[j]);
    for (i, sum) in sums.iter_mut().enumerate() {
        let mut s = if FIRST { 0.0 } else { *sum };
        for j in 0..K {
            let d = v[j] - planes[j][i];
            s += if ABS { d.abs() } else { d * d };
        }
        *sum = s;
    }
}

/// The smallest of `sums` (infinity when empty). Eight running minima, one per lane, so the
/// loop compiles to SIMD minima (a single running minimum is a serial dependency chain).
#[inline(always)]
fn smallest(sums: &[f64]) -> f64 {
    const LANES: usize = 8;
    let pick = |a: f64, b: f64| if b < a { b } else { a };
    let mut lanes = [f64::INFINITY; LANES];
    let mut chunks = sums.chunks_exact(LANES);
    for chunk in &mut chunks {
        for (lane, &d) in lanes.iter_mut().zip(chunk) {
            *lane = pick(*lane, d);
        }
    }
    let tail = chunks
        .remainder()
        .iter()
        .fold(f64::INFINITY, |m, &d| pick(m, d));
    lanes.into_iter().fold(tail, pick)
}

/// Whether every one of `sums` that is `alive` is greater than `bound` (NaN counts as
/// greater, as in [`smallest`]). A comparison per lane and an OR of the results: reducing 32
/// sums to their minimum first, every [`CHECK_EVERY`] planes, took a fifth of the online
/// search's time on 16,000 x 300 blobs (perf), as much as the sums themselves.
#[inline(always)]
fn all_exceed<const W: usize>(sums: &[f64; W], bound: f64, alive: &[bool; W]) -> bool {
    !(sums.iter().zip(alive)).fold(false, |within, (&s, &a)| within | ((s <= bound) & a))
}

/// Position of the first smallest of `sums` (0 when empty). Finds the chunk of eight holding it
/// with branch-free comparisons first, so only that chunk is searched element by element.
#[inline(always)]
fn first_of_smallest(sums: &[f64]) -> usize {
    position_of(sums, smallest(sums))
}

/// Position of the first element of `sums` equal to `minimum` (0 when none).
#[inline(always)]
fn position_of(sums: &[f64], minimum: f64) -> usize {
    let chunk = sums
        .chunks(8)
        .position(|chunk| chunk.iter().fold(false, |found, &d| found | (d == minimum)))
        .unwrap_or(0);
    let offset = sums[chunk * 8..]
        .iter()
        .position(|&d| d == minimum)
        .unwrap_or(0);
    chunk * 8 + offset
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_search_led_by_a_later_group_still_names_the_first_of_two_tied_nodes() {
        // 70 nodes: whole groups of lanes at 0..32 and 32..64. Nodes 5 and 40 (in the second
        // group, measured first as the guess's) are equally near; every other node is far.
        let (rows, cols, dim) = (10, 7, 20);
        let v: Vec<f64> = (0..dim).map(|k| k as f64 / 20.0).collect();
        let mut weights = Array3::from_shape_fn((rows, cols, dim), |(r, c, k)| {
            ((r * 7 + c * 3 + k) % 13) as f64 + 10.0
        });
        for (k, &vk) in v.iter().enumerate() {
            weights[[0, 5, k]] = vk + 0.5;
            weights[[5, 5, k]] = vk + 0.5;
        }
        let codebook = Codebook::from_weights(weights.view());
        for guess in [None, Some(40), Some(5), Some(66)] {
            let mut out = [(f64::NAN, UNKNOWN_OFFSET)];
            let mut sums = [0.0; BLOCK];
            codebook.minima_of_blocks(&v, &[0], &mut out, f64::INFINITY, &mut sums, guess);
            assert_eq!(out[0], (dim as f64 * 0.25, 5), "guess {guess:?}");
        }
    }

    #[test]
    fn every_node_is_nearest_its_own_weights_whatever_the_windows_that_measure_it() {
        // A block's last nodes are measured in a window of 8 (70 nodes), 16 (400: 144 in the
        // second block) or 32 (63), or in groups of 4 and 1 (25).
        let dim = 20;
        for (rows, cols) in [(10, 7), (20, 20), (9, 7), (5, 5)] {
            let weights = Array3::from_shape_fn((rows, cols, dim), |(r, c, k)| {
                ((r * 31 + c * 17 + k * 7) % 23) as f64 + (r * cols + c) as f64 / 1000.0
            });
            let codebook = Codebook::from_weights(weights.view());
            for node in 0..rows * cols {
                let [r, c] = codebook.position(node);
                let v: Vec<f64> = (0..dim).map(|k| weights[[r, c, k]]).collect();
                assert_eq!(codebook.nearest(&v), (0.0, node), "{rows}x{cols}");
            }
        }
    }
}
