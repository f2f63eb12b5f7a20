//! Where nodes sit on the grid: squared grid distances (with wrap-around) and neighbours.
//!
//! Distances are computed from the integer offsets between two nodes, never from their
//! positions as floats: `4 d2` is an integer on both grids (`3 dr^2 + (2 dc + shift)^2` on a
//! hexagonal one), so a distance does not depend on where on the grid the pair sits, and the
//! fast trainers can precompute the factor of each offset once per iteration and get the very
//! numbers the reference trainer gets pair by pair.

use super::options::Topology;

/// A grid of `rows x cols` nodes; node `[r, c]` has flat index `r * cols + c`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grid {
    pub rows: usize,
    pub cols: usize,
    pub topology: Topology,
    pub toroidal: bool,
}

impl Grid {
    /// A rectangular grid without wrap-around (SPEC §3).
    pub fn rectangular(rows: usize, cols: usize) -> Self {
        Grid {
            rows,
            cols,
            topology: Topology::Rectangular,
            toroidal: false,
        }
    }

    pub fn nodes(&self) -> usize {
        self.rows * self.cols
    }

    /// `[row, col]` of a flat index.
    pub fn position(&self, node: usize) -> [usize; 2] {
        [node / self.cols, node % self.cols]
    }

    /// Four times the squared grid distance from a node in row `from_row` to the node `dr`
    /// rows and `dc` columns away (`|dr| < rows`, `|dc| < cols`), taking the shortest way
    /// round on a toroidal grid.
    pub fn quad_d2(&self, from_row: usize, dr: isize, dc: isize) -> u64 {
        let wrap = |offset: u64, period: u64| {
            if self.toroidal {
                offset.min(period - offset)
            } else {
                offset
            }
        };
        let rows = wrap(dr.unsigned_abs() as u64, self.rows as u64);
        match self.topology {
            Topology::Rectangular => {
                let cols = wrap(dc.unsigned_abs() as u64, self.cols as u64);
                4 * (rows * rows + cols * cols)
            }
            Topology::Hexagonal => {
                // In half columns: odd rows sit half a column to the right.
                let to_row = (from_row as isize + dr).rem_euclid(2);
                let shift = to_row - (from_row % 2) as isize;
                let half_cols = wrap((2 * dc + shift).unsigned_abs() as u64, 2 * self.cols as u64);
                3 * rows * rows + half_cols * half_cols
            }
        }
    }

    /// The squared grid distance `d2` between two nodes (flat indices).
    pub fn d2(&self, a: usize, b: usize) -> f64 {
        let ([ra, ca], [rb, cb]) = (self.position(a), self.position(b));
        let dr = rb as isize - ra as isize;
        let dc = cb as isize - ca as isize;
        quad_to_d2(self.quad_d2(ra, dr, dc))
    }

    /// Whether two nodes are neighbours for the topographic error: on a rectangular grid the
    /// 8 around a node (each axis wrapped when toroidal), on a hexagonal grid the 6 at distance
    /// 1. A node is not its own neighbour.
    pub fn are_neighbours(&self, a: usize, b: usize) -> bool {
        if a == b {
            return false;
        }
        let ([ra, ca], [rb, cb]) = (self.position(a), self.position(b));
        match self.topology {
            Topology::Rectangular => {
                let near = |x: usize, y: usize, period: usize| {
                    let d = x.abs_diff(y);
                    d <= 1 || (self.toroidal && period - d <= 1)
                };
                near(ra, rb, self.rows) && near(ca, cb, self.cols)
            }
            Topology::Hexagonal => self.d2(a, b) <= 1.0 + 1e-9,
        }
    }

    /// The neighbours of a node (as [`Grid::are_neighbours`] says), each once, in flat order.
    pub fn neighbours(&self, node: usize) -> Vec<usize> {
        let [r, c] = self.position(node);
        let mut found = Vec::with_capacity(8);
        for dr in -1..=1isize {
            for dc in -1..=1isize {
                let (nr, nc) = (r as isize + dr, c as isize + dc);
                let (nr, nc) = if self.toroidal {
                    (
                        nr.rem_euclid(self.rows as isize),
                        nc.rem_euclid(self.cols as isize),
                    )
                } else if nr < 0 || nc < 0 || nr >= self.rows as isize || nc >= self.cols as isize {
                    continue;
                } else {
                    (nr, nc)
                };
                let other = nr as usize * self.cols + nc as usize;
                if self.are_neighbours(node, other) && !found.contains(&other) {
                    found.push(other);
                }
            }
        }
        found.sort_unstable();
        found
    }
}

/// `d2` from four times it (exact: a multiple of a quarter).
pub fn quad_to_d2(quad: u64) -> f64 {
    quad as f64 / 4.0
}
