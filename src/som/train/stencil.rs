//! The neighbourhood of one iteration as offsets from the best-matching node: for each row
//! offset a span of column offsets and the factor `a_t * h(d2, s_t)` of each, computed once
//! per iteration so that a presentation only walks contiguous segments of the planes.
//!
//! A node's factor depends only on its offset from the best-matching node (and, on a
//! hexagonal grid, on the parity of that node's row, whose odd rows are shifted), because
//! [`Grid::quad_d2`] computes distances from offsets. Spans cover every offset where the
//! factor can be non-zero (all of them for kernels without a cut-off); on a toroidal grid
//! each span is at most one period long, so no node is visited twice.

use crate::som::options::{Neighbourhood, Topology};
use crate::som::topology::{Grid, quad_to_d2};

/// Factors of a whole row of offsets, `dc` from `first` to `first + len - 1`.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Span {
    /// Row offset from the best-matching node.
    pub dr: isize,
    /// First column offset.
    pub first: isize,
    /// Where its factors start in [`Shape::factors`].
    pub start: usize,
    pub len: usize,
}

/// The stencil for best-matching nodes in rows of one parity.
#[derive(Debug, Default)]
pub(super) struct Shape {
    pub spans: Vec<Span>,
    pub factors: Vec<f64>,
}

/// Factors of `4 d2` values cached for at most this many distinct values per iteration; past
/// it (kernels without cut-off on very long grids) factors are computed where needed.
const MAX_CACHED_QUADS: u64 = 1 << 22;

/// The stencil of one iteration.
#[derive(Debug, Default)]
pub(super) struct Stencil {
    /// `[even row, odd row]` of the best-matching node; on a rectangular grid both are the
    /// same and only the first is filled.
    shapes: [Shape; 2],
    hexagonal: bool,
    /// The factor of each `4 d2`, NaN until needed.
    by_quad: Vec<f64>,
}

impl Stencil {
    /// Sets the stencil for radius `s` and learning rate `rate` (1 for batch).
    pub fn set(&mut self, grid: &Grid, kernel: Neighbourhood, s: f64, rate: f64) {
        self.hexagonal = grid.topology == Topology::Hexagonal;
        // Largest 4 d2 inside the reach (u64::MAX: every node).
        let quad_limit = match kernel.reach(s) {
            Some(d2) => (4.0 * d2).floor().min(u64::MAX as f64) as u64,
            None => u64::MAX,
        };
        // Keep the bound where the reach rounds: a node is in when its d2 <= reach exactly.
        let inside = |quad: u64| match kernel.reach(s) {
            Some(d2) => quad_to_d2(quad) <= d2,
            None => true,
        };
        let max_quad = max_quad(grid).min(quad_limit.saturating_add(4));
        self.by_quad.clear();
        if max_quad < MAX_CACHED_QUADS {
            self.by_quad.resize(max_quad as usize + 1, f64::NAN);
        }
        let parities = if self.hexagonal { 2 } else { 1 };
        for parity in 0..parities {
            let mut shape = std::mem::take(&mut self.shapes[parity]);
            shape.spans.clear();
            shape.factors.clear();
            let Some((row_first, row_last)) = offsets(grid.rows, grid.toroidal, |dr| {
                inside(grid.quad_d2(parity, dr, 0))
            }) else {
                self.shapes[parity] = shape;
                continue;
            };
            for dr in row_first..=row_last {
                let Some((first, last)) = offsets(grid.cols, grid.toroidal, |dc| {
                    inside(grid.quad_d2(parity, dr, dc))
                }) else {
                    continue;
                };
                let start = shape.factors.len();
                for dc in first..=last {
                    let quad = grid.quad_d2(parity, dr, dc);
                    let factor = self.factor(quad, kernel, s, rate);
                    shape.factors.push(factor);
                }
                shape.spans.push(Span {
                    dr,
                    first,
                    start,
                    len: (last - first + 1) as usize,
                });
            }
            self.shapes[parity] = shape;
        }
    }

    fn factor(&mut self, quad: u64, kernel: Neighbourhood, s: f64, rate: f64) -> f64 {
        let compute = || rate * kernel.factor(quad_to_d2(quad), s);
        match self.by_quad.get_mut(quad as usize) {
            Some(cached) => {
                if cached.is_nan() {
                    *cached = compute();
                }
                *cached
            }
            None => compute(),
        }
    }

    /// The stencil for a best-matching node in row `row`.
    pub fn shape(&self, row: usize) -> &Shape {
        &self.shapes[if self.hexagonal { row % 2 } else { 0 }]
    }
}

/// The largest `4 d2` on the grid (an upper bound).
fn max_quad(grid: &Grid) -> u64 {
    let (r, c) = ((grid.rows as u64).saturating_sub(1), grid.cols as u64);
    4 * r * r + 4 * c * c
}

/// The offsets `first..=last` along an axis of `period` nodes where `reached` holds, or
/// `None` when it holds nowhere. Grid distances grow (never shrink) away from offset 0 on
/// either side, up to the far end of a plain axis or half way round a toroidal one (on a
/// hexagonal grid column 0 is nearest too, its shift being at most half a column), so each
/// side's last reached offset is found by bisection: a few distance evaluations per row
/// instead of one per node. On a toroidal axis the span is at most one period, so that no
/// node is visited twice.
fn offsets(
    period: usize,
    toroidal: bool,
    reached: impl Fn(isize) -> bool,
) -> Option<(isize, isize)> {
    if !reached(0) {
        return None;
    }
    let period = period as isize;
    let reach = if toroidal { period / 2 } else { period - 1 };
    let last = farthest(reach, &reached);
    let first = -farthest(reach, |k| reached(-k));
    if toroidal {
        Some((first, last.min(first + period - 1)))
    } else {
        Some((first, last))
    }
}

/// The largest `k` in `0..=reach` for which `reached(k)` holds, given that it holds at 0 and
/// once it fails it fails for every larger `k`.
fn farthest(reach: isize, reached: impl Fn(isize) -> bool) -> isize {
    let (mut holds, mut fails) = (0, reach + 1);
    while fails - holds > 1 {
        let middle = holds + (fails - holds) / 2;
        if reached(middle) {
            holds = middle;
        } else {
            fails = middle;
        }
    }
    holds
}
