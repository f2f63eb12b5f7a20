//! Pictures of maps as PNG: pure functions from a model (its weights and what its record says
//! of them) to PNG bytes, drawn with plotters. Nothing here knows of HTTP or files.
//!
//! Pictures of the grid itself (the map, hits, predictions) have no margin, so a client can
//! find a node's pixels at the scale `s`. On a rectangular grid node `(r, c)` fills columns
//! `[c*s, (c+1)*s)` and rows `[r*s, (r+1)*s)`. On a hexagonal grid each node is a hexagon with
//! a vertical point, `s` wide, centred at `s` times its position of SPEC §3b moved right by
//! `s/2` and down by `s/sqrt(3)`: `(s (c + 1/2 + (r mod 2)/2), s (1/sqrt(3) + r sqrt(3)/2))`;
//! a pixel belongs to the hexagon whose centre is nearest to the pixel's centre, so the
//! hexagons tile with no gaps, and the corners they leave are white (see [`Layout::size`]).
//! Charts (U-matrix, curves, the samples side by side) have a title and axes. Text uses the
//! DejaVu Sans font shipped in `assets/fonts`, so no system font library is needed.

mod cells;
mod charts;
mod colour;
mod grid;

use std::sync::Once;

use ndarray::{Array3, ArrayView3};
use plotters::style::FontStyle;

use crate::som::{Distance, Grid, Scaler, Topology};
use crate::storage::LoadedMap;

pub use charts::{Curves, comparison_png, curves_png, umatrix, umatrix_png};
pub use colour::{Colouring, Mapping};
pub use grid::{hits_png, map_png, predictions_png};

/// Pictures stay under this many pixels; a larger map is drawn at one pixel per block of
/// nodes, averaged.
pub const MAX_PIXELS: usize = 4_000_000;

/// A picture of a small map gets a scale that makes it about this many pixels across.
const DEFAULT_SIDE: usize = 400;

/// Why a picture cannot be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error(
        "scale {scale} is not possible for a {rows}x{cols} map: use 1 to {max} pixels per node"
    )]
    InvalidScale {
        scale: usize,
        rows: usize,
        cols: usize,
        max: usize,
    },
    #[error("there is nothing to draw: {0}")]
    NothingToDraw(&'static str),
    #[error("drawing failed: {0}")]
    Drawing(String),
}

/// A drawn picture and how it was drawn.
#[derive(Debug, Clone)]
pub struct Picture {
    pub png: Vec<u8>,
    pub width: usize,
    pub height: usize,
    /// Pixels per node along each side (1 when averaged down).
    pub scale: usize,
    /// Nodes per pixel along each side: 1 unless the map was too large to draw whole.
    pub nodes_per_pixel: usize,
    /// How weights became colours, for pictures of the grid.
    pub mapping: Option<Mapping>,
}

/// A map as its pictures show it: weights `(rows, cols, dim)` in the data's units, on the grid
/// it was trained on.
#[derive(Debug, Clone)]
pub struct Map {
    weights: Array3<f64>,
    grid: Grid,
    /// The map's distance, which the U-matrix measures neighbours by.
    distance: Distance,
}

impl Map {
    /// The map `weights` trained on a `topology` grid, wrapping round when `toroidal`. Weights
    /// in the scaled units of `scaler` are brought back to the data's units: SPEC §3b has
    /// pictures show the data as it was given, whatever the map was trained on.
    pub fn new(
        mut weights: Array3<f64>,
        topology: Topology,
        toroidal: bool,
        scaler: Option<&Scaler>,
    ) -> Self {
        if let Some(scaler) = scaler {
            scaler.unscale_weights(&mut weights);
        }
        let (rows, cols, _) = weights.dim();
        let grid = Grid {
            rows,
            cols,
            topology,
            toroidal,
        };
        Map {
            weights,
            grid,
            distance: Distance::Euclidean,
        }
    }

    /// A map as SPEC §3 makes them: rectangular, not toroidal, not scaled.
    pub fn rectangular(weights: Array3<f64>) -> Self {
        Map::new(weights, Topology::Rectangular, false, None)
    }

    /// A stored model's map: its weights in the data's units, its grid and its distance, as
    /// its record says (see [`LoadedMap`]).
    pub fn of_model(model: &LoadedMap) -> Self {
        Map {
            weights: model.weights_in_data_units(),
            grid: *model.map.grid(),
            distance: model.map.distance(),
        }
    }

    /// `(rows, cols, dim)`, in the data's units.
    pub fn weights(&self) -> ArrayView3<'_, f64> {
        self.weights.view()
    }

    pub fn grid(&self) -> &Grid {
        &self.grid
    }

    pub fn distance(&self) -> Distance {
        self.distance
    }
}

/// Pixels per node and nodes per pixel of a grid picture of a map, and the shape of its cells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub scale: usize,
    pub nodes_per_pixel: usize,
    /// Squares, or hexagons in rows offset by half a cell.
    pub topology: Topology,
}

impl Layout {
    /// The layout for a requested scale, or the default one: about [`DEFAULT_SIDE`] pixels
    /// across, at least one pixel per node (two on a hexagonal grid: see `least_scale`), at
    /// most [`MAX_PIXELS`] pixels; a map too large for that is averaged down, one cell per
    /// block of nodes (on a hexagonal grid the blocks' cells are hexagons too, so the picture
    /// keeps the grid's proportions).
    pub fn new(grid: &Grid, requested: Option<usize>) -> Result<Self, RenderError> {
        let (rows, cols, topology) = (grid.rows, grid.cols, grid.topology);
        let least = Layout::least_scale(topology);
        let fits = |rows: usize, cols: usize, scale: usize| {
            pixel_size(topology, rows, cols, scale)
                .and_then(|(width, height)| width.checked_mul(height))
                .is_some_and(|pixels| pixels <= MAX_PIXELS)
        };
        let largest = (1..)
            .take_while(|&s| fits(rows, cols, s))
            .last()
            .unwrap_or(1);
        let scale = match requested {
            Some(scale) if scale == 0 || (scale > 1 && !fits(rows, cols, scale)) => {
                return Err(RenderError::InvalidScale {
                    scale,
                    rows,
                    cols,
                    max: largest,
                });
            }
            Some(scale) => scale,
            None => (DEFAULT_SIDE / rows.max(cols)).max(least).clamp(1, largest),
        };
        let nodes_per_pixel = (1..)
            .find(|&n| fits(rows.div_ceil(n), cols.div_ceil(n), least))
            .expect("some block size fits");
        Ok(Layout {
            scale: if nodes_per_pixel > 1 { least } else { scale },
            nodes_per_pixel,
            topology,
        })
    }

    /// The fewest pixels per node that show every node, which the default layout keeps to: a
    /// hexagon 1 pixel wide may hold no pixel's centre (so, asked for, a hexagonal map drawn
    /// at scale 1 shows only some of its nodes), while one 2 wide holds at least one.
    fn least_scale(topology: Topology) -> usize {
        match topology {
            Topology::Rectangular => 1,
            Topology::Hexagonal => 2,
        }
    }

    /// Width and height in pixels of `rows x cols` cells: `cols * s` by `rows * s` for
    /// squares; for hexagons `floor((cols + 1/2) s)` by `round(s (3 rows + 1) / (2 sqrt(3)))`,
    /// the pixels whose centres lie within the hexagons' bounds (the rows' centres are
    /// `s sqrt(3)/2` apart and a hexagon is `2s/sqrt(3)` high).
    pub fn size(&self, rows: usize, cols: usize) -> (usize, usize) {
        pixel_size(self.topology, rows, cols, self.scale).expect("a layout's cells fit")
    }
}

/// See [`Layout::size`]; `None` when too large to count.
fn pixel_size(
    topology: Topology,
    rows: usize,
    cols: usize,
    scale: usize,
) -> Option<(usize, usize)> {
    match topology {
        Topology::Rectangular => Some((cols.checked_mul(scale)?, rows.checked_mul(scale)?)),
        Topology::Hexagonal => {
            let width = cols.checked_mul(2)?.checked_add(1)?.checked_mul(scale)? / 2;
            let height = (scale as f64 * (3.0 * rows as f64 + 1.0) / (2.0 * SQRT_3)).round();
            (height < u32::MAX as f64).then_some((width, height as usize))
        }
    }
}

/// `sqrt(3)`, which `std` has no stable constant for.
const SQRT_3: f64 = 1.732_050_807_568_877_2;

/// Registers the shipped font with plotters, once per process.
fn register_font() {
    static REGISTERED: Once = Once::new();
    REGISTERED.call_once(|| {
        let font = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
        for style in [FontStyle::Normal, FontStyle::Bold] {
            plotters::style::register_font("sans-serif", style, font)
                .unwrap_or_else(|_| panic!("the shipped font parses"));
        }
    });
}

/// PNG bytes of an RGB buffer.
fn encode_png(rgb: &[u8], width: usize, height: usize) -> Result<Vec<u8>, RenderError> {
    let mut png = Vec::new();
    let mut encoder = png::Encoder::new(&mut png, width as u32, height as u32);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(drawing_error)?;
    writer.write_image_data(rgb).map_err(drawing_error)?;
    writer.finish().map_err(drawing_error)?;
    Ok(png)
}

fn drawing_error(err: impl std::fmt::Display) -> RenderError {
    RenderError::Drawing(err.to_string())
}

#[cfg(test)]
mod tests;
