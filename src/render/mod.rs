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
//! The labels' picture starts the same way, its legend right of the map. A mark on a node
//! (hits, predictions) is at least 6 pixels across, covering some neighbours of a cell under
//! 8 pixels. Charts (U-matrix, curves, component planes, the figure, the samples side by
//! side) have titles, axes or colour bars. [`Sizing`] sizes all but the curves. Text uses the
//! DejaVu Sans font shipped in `assets/fonts`, so no system font library is needed.

mod cells;
mod charts;
mod colour;
mod figure;
mod grid;

use std::sync::Once;

use ndarray::{Array3, ArrayView3};
use plotters::style::FontStyle;

use crate::som::{Distance, Grid, Scaler, Topology};
use crate::storage::{DataRecord, LoadedMap};

pub use charts::{Curves, comparison_png, curves_png, umatrix, umatrix_png};
pub use colour::{Colouring, Mapping};
pub use figure::{MAX_PANELS, components_png, feature_index, figure_png, labels_png};
pub use grid::{hits_per_node, hits_png, map_png, predictions_png};

/// Pictures stay under this many pixels; a larger map is drawn at one pixel per block of
/// nodes, averaged.
pub const MAX_PIXELS: usize = 4_000_000;

/// A picture of a small map gets a scale that makes it about this many pixels across.
const DEFAULT_SIDE: usize = 400;

/// The longest side a client may ask for with [`Sizing::Size`]: the pixel cap allows no
/// square picture larger.
pub const MAX_SIZE: usize = 2000;
/// The shortest: a thumbnail.
pub const MIN_SIZE: usize = 16;

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
    #[error("size {size} is not possible: use {MIN_SIZE} to {MAX_SIZE} pixels")]
    InvalidSize { size: usize },
    #[error("size {size} is too small for this picture: it needs at least {least} pixels")]
    SizeTooSmall { size: usize, least: usize },
    #[error("give either size (pixels on the longer side) or scale (pixels per node), not both")]
    SizeAndScale,
    #[error("{0}")]
    UnknownFeature(String),
    #[error(
        "the map has {features} features and a picture shows at most {MAX_PANELS} at once: \
         ask for one with feature=INDEX or feature=NAME"
    )]
    TooManyPanels { features: usize },
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

/// How large a client wants a picture.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sizing {
    /// About [`DEFAULT_SIDE`] pixels across (see [`Layout::new`]).
    Default,
    /// Pixels per node.
    Scale(usize),
    /// At most this many pixels on the picture's longer side, at the largest scale that fits.
    Size(usize),
}

impl Sizing {
    /// The sizing a client's `scale` and `size` ask for: one of them, `size` within
    /// [`MIN_SIZE`]..=[`MAX_SIZE`] (checked here, before it sizes anything).
    pub fn new(scale: Option<usize>, size: Option<usize>) -> Result<Self, RenderError> {
        match (scale, size) {
            (Some(_), Some(_)) => Err(RenderError::SizeAndScale),
            (Some(scale), None) => Ok(Sizing::Scale(scale)),
            (None, Some(size)) if (MIN_SIZE..=MAX_SIZE).contains(&size) => Ok(Sizing::Size(size)),
            (None, Some(size)) => Err(RenderError::InvalidSize { size }),
            (None, None) => Ok(Sizing::Default),
        }
    }
}

impl From<Option<usize>> for Sizing {
    fn from(scale: Option<usize>) -> Self {
        scale.map_or(Sizing::Default, Sizing::Scale)
    }
}

/// The names of a model's features, in order, as pictures title them: those it was trained
/// with, else `feature 0`, `feature 1`, ...
pub fn feature_names(model: &LoadedMap) -> Vec<String> {
    match &model.feature_names {
        Some(names) => names.to_vec(),
        None => (0..model.map.dim())
            .map(|k| format!("feature {k}"))
            .collect(),
    }
}

/// Where the training data landed on `map` (`hits.png` by `GET`), from the model's record.
pub fn training_hits_png(
    map: &Map,
    record: &DataRecord,
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    hits_png(map, &record.nodes.hits(), sizing)
}

/// Each node in its majority label's colour (`labels.png`), from the model's record; `None`
/// for a model trained without labels.
pub fn training_labels_png(
    map: &Map,
    record: &DataRecord,
    sizing: impl Into<Sizing>,
) -> Option<Result<Picture, RenderError>> {
    let names = record.labels.as_ref()?;
    let majority: Vec<Option<usize>> = (record.nodes.majority_labels()?.into_iter())
        .map(|label| label.map(|index| index as usize))
        .collect();
    Some(labels_png(
        map,
        &record.nodes.hits(),
        &majority,
        names,
        sizing,
    ))
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
    /// The layout of a bare picture of the grid (see [`Layout::framed`]).
    pub fn new(grid: &Grid, sizing: impl Into<Sizing>) -> Result<Self, RenderError> {
        Layout::framed(grid, sizing.into(), DEFAULT_SIDE, &|cells| Some(cells))
    }

    /// The layout of the grid's cells in a picture whose width and height are `frame` of the
    /// cells' (`None` when too large to count). By default the cells are about `side` pixels
    /// across, at least one pixel per node (two on a hexagonal grid: see `least_scale`); at a
    /// requested scale; or at the largest scale whose picture is at most the requested size on
    /// its longer side. The picture stays under [`MAX_PIXELS`] pixels; a map too large for
    /// that (or for the size) is averaged down, one cell per block of nodes (on a hexagonal
    /// grid the blocks' cells are hexagons too, so the picture keeps the grid's proportions).
    pub fn framed(
        grid: &Grid,
        sizing: Sizing,
        side: usize,
        frame: &dyn Fn((usize, usize)) -> Option<(usize, usize)>,
    ) -> Result<Self, RenderError> {
        let (rows, cols, topology) = (grid.rows, grid.cols, grid.topology);
        let least = Layout::least_scale(topology);
        let fits = |rows: usize, cols: usize, scale: usize| {
            pixel_size(topology, rows, cols, scale)
                .and_then(frame)
                .is_some_and(|(width, height)| {
                    let within = match sizing {
                        Sizing::Size(size) => width.max(height) <= size,
                        Sizing::Default | Sizing::Scale(_) => true,
                    };
                    within && width.checked_mul(height).is_some_and(|p| p <= MAX_PIXELS)
                })
        };
        let largest = (1..)
            .take_while(|&s| fits(rows, cols, s))
            .last()
            .unwrap_or(1);
        let scale = match sizing {
            Sizing::Scale(scale) if scale == 0 || (scale > 1 && !fits(rows, cols, scale)) => {
                return Err(RenderError::InvalidScale {
                    scale,
                    rows,
                    cols,
                    max: largest,
                });
            }
            Sizing::Scale(scale) => scale,
            Sizing::Size(_) => largest,
            Sizing::Default => (side / rows.max(cols)).max(least).clamp(1, largest),
        };
        let nodes_per_pixel = (1..=rows.max(cols))
            .find(|&n| fits(rows.div_ceil(n), cols.div_ceil(n), least))
            .ok_or_else(|| match sizing {
                Sizing::Size(size) => RenderError::SizeTooSmall {
                    size,
                    least: pixel_size(topology, 1, 1, least)
                        .and_then(frame)
                        .map_or(usize::MAX, |(width, height)| width.max(height)),
                },
                Sizing::Default | Sizing::Scale(_) => {
                    RenderError::NothingToDraw("the picture is too large")
                }
            })?;
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
