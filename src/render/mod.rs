//! Pictures of maps as PNG: pure functions from weights (and options) to PNG bytes, drawn
//! with plotters. Nothing here knows of HTTP or files.
//!
//! Pictures of the grid itself (the map, hits, predictions) have no margin: node `(r, c)`
//! fills columns `[c*s, (c+1)*s)` and rows `[r*s, (r+1)*s)` for the scale `s`, so a client can
//! find a node's pixels. Charts (U-matrix, curves, the samples side by side) have a title and
//! axes. Text uses the DejaVu Sans font shipped in `assets/fonts`, so no system font library
//! is needed.

mod charts;
mod colour;
mod grid;

use std::sync::Once;

use plotters::style::FontStyle;

pub use charts::{comparison_png, curves_png, umatrix, umatrix_png};
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

/// Pixels per node and nodes per pixel of a grid picture of a `rows x cols` map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub scale: usize,
    pub nodes_per_pixel: usize,
}

impl Layout {
    /// The layout for a requested scale, or the default one: about [`DEFAULT_SIDE`] pixels
    /// across, at least one pixel per node, at most [`MAX_PIXELS`] pixels; a map too large
    /// for that is averaged down.
    pub fn new(rows: usize, cols: usize, requested: Option<usize>) -> Result<Self, RenderError> {
        let fits = |scale: usize| {
            let height = rows.checked_mul(scale);
            let width = cols.checked_mul(scale);
            height
                .zip(width)
                .and_then(|(height, width)| height.checked_mul(width))
                .is_some_and(|pixels| pixels <= MAX_PIXELS)
        };
        let largest = (1..).take_while(|&s| fits(s)).last().unwrap_or(1);
        let scale = match requested {
            Some(scale) if scale == 0 || (scale > 1 && !fits(scale)) => {
                return Err(RenderError::InvalidScale {
                    scale,
                    rows,
                    cols,
                    max: largest,
                });
            }
            Some(scale) => scale,
            None => (DEFAULT_SIDE / rows.max(cols)).clamp(1, largest),
        };
        let nodes_per_pixel = (1..)
            .find(|&n| rows.div_ceil(n) * cols.div_ceil(n) <= MAX_PIXELS)
            .expect("some block size fits");
        Ok(Layout {
            scale: if nodes_per_pixel > 1 { 1 } else { scale },
            nodes_per_pixel,
        })
    }
}

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
