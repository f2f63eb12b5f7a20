//! Pictures of the grid itself, without margins: the map, hits and predictions.

use std::collections::BTreeMap;

use ndarray::{ArrayView2, ArrayView3};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Colouring, Layout, Picture, RenderError, drawing_error, encode_png, register_font};

/// The cells of a grid picture: one per node, or per block of nodes when averaged down.
struct Cells {
    rows: usize,
    cols: usize,
    colours: Vec<[u8; 3]>,
    layout: Layout,
}

impl Cells {
    fn new(weights: ArrayView3<f64>, colouring: &Colouring, layout: Layout) -> Self {
        let (rows, cols, _) = weights.dim();
        let block = layout.nodes_per_pixel;
        let (cell_rows, cell_cols) = (rows.div_ceil(block), cols.div_ceil(block));
        let mut sums = vec![([0u64; 3], 0u64); cell_rows * cell_cols];
        for r in 0..rows {
            for c in 0..cols {
                let colour = colouring.colour(weights.index_axis(ndarray::Axis(0), r).row(c));
                let (sum, count) = &mut sums[(r / block) * cell_cols + c / block];
                for (total, level) in sum.iter_mut().zip(colour) {
                    *total += u64::from(level);
                }
                *count += 1;
            }
        }
        let colours = sums
            .into_iter()
            .map(|(sum, count)| sum.map(|total| ((total + count / 2) / count) as u8))
            .collect();
        Cells {
            rows: cell_rows,
            cols: cell_cols,
            colours,
            layout,
        }
    }

    /// The colouring and the cells of a picture of `weights` at `scale` (see [`Layout`]).
    fn of_map(
        weights: ArrayView3<f64>,
        scale: Option<usize>,
    ) -> Result<(Colouring, Self), RenderError> {
        let (rows, cols, _) = weights.dim();
        let layout = Layout::new(rows, cols, scale)?;
        let colouring = Colouring::of_weights(weights);
        let cells = Cells::new(weights, &colouring, layout);
        Ok((colouring, cells))
    }

    /// The cell that shows node `[row, col]`.
    fn of_node(&self, [row, col]: [usize; 2]) -> (usize, usize) {
        let block = self.layout.nodes_per_pixel;
        (row / block, col / block)
    }

    fn colour(&self, (row, col): (usize, usize)) -> [u8; 3] {
        self.colours[row * self.cols + col]
    }

    fn size(&self) -> (usize, usize) {
        let scale = self.layout.scale;
        (self.cols * scale, self.rows * scale)
    }

    /// The pixel rectangle of a cell: top left included, bottom right excluded (as plotters
    /// fills rectangles).
    fn rect(&self, (row, col): (usize, usize)) -> [(i32, i32); 2] {
        let scale = self.layout.scale as i32;
        let (x, y) = (col as i32 * scale, row as i32 * scale);
        [(x, y), (x + scale, y + scale)]
    }

    /// Paints the cells with the top left corner at `(left, top)`.
    fn paint(
        &self,
        root: &DrawingArea<BitMapBackend, Shift>,
        (left, top): (i32, i32),
    ) -> Result<(), RenderError> {
        for row in 0..self.rows {
            for col in 0..self.cols {
                let [red, green, blue] = self.colour((row, col));
                let [(x0, y0), (x1, y1)] = self.rect((row, col));
                let cell = Rectangle::new(
                    [(left + x0, top + y0), (left + x1, top + y1)],
                    RGBColor(red, green, blue).filled(),
                );
                root.draw(&cell).map_err(drawing_error)?;
            }
        }
        Ok(())
    }

    /// Draws the cells, then `overlay` over them, and encodes the result.
    fn draw(
        &self,
        mapping: Option<super::Mapping>,
        overlay: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), RenderError>,
    ) -> Result<Picture, RenderError> {
        register_font();
        let (width, height) = self.size();
        let mut rgb = vec![0u8; width * height * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, (width as u32, height as u32))
                .into_drawing_area();
            self.paint(&root, (0, 0))?;
            overlay(&root)?;
            root.present().map_err(drawing_error)?;
        }
        Ok(Picture {
            png: encode_png(&rgb, width, height)?,
            width,
            height,
            scale: self.layout.scale,
            nodes_per_pixel: self.layout.nodes_per_pixel,
            mapping,
        })
    }
}

/// Paints the map `weights` at `scale` with its top left corner at `origin` on `root`;
/// returns its width and height in pixels.
pub(super) fn paint_map(
    root: &DrawingArea<BitMapBackend, Shift>,
    weights: ArrayView3<f64>,
    scale: usize,
    origin: (i32, i32),
) -> Result<(usize, usize), RenderError> {
    let (rows, cols, _) = weights.dim();
    let layout = Layout::new(rows, cols, Some(scale))?;
    let cells = Cells::new(weights, &Colouring::of_weights(weights), layout);
    cells.paint(root, origin)?;
    Ok(cells.size())
}

/// Black on light colours, white on dark ones.
fn contrast([red, green, blue]: [u8; 3]) -> RGBColor {
    let luminance = 0.299 * f64::from(red) + 0.587 * f64::from(green) + 0.114 * f64::from(blue);
    if luminance > 140.0 { BLACK } else { WHITE }
}

/// A mark inside a cell that always changes some of its pixels and none outside it: a disc
/// of `fill` with a `ring` when the cell is large enough, else a block of `ring` inset by a
/// pixel. `size` (0..=1) scales the disc.
fn mark(
    root: &DrawingArea<BitMapBackend, Shift>,
    [(x0, y0), (x1, y1)]: [(i32, i32); 2],
    fill: RGBColor,
    ring: RGBColor,
    size: f64,
) -> Result<(), RenderError> {
    let scale = x1 - x0;
    if scale >= 8 {
        let centre = (x0 + scale / 2, y0 + scale / 2);
        let largest = f64::from(scale / 2 - 2);
        let radius = (largest * size).round().max(2.0) as i32;
        root.draw(&Circle::new(centre, radius, fill.filled()))
            .map_err(drawing_error)?;
        let stroke = if scale >= 24 { 2 } else { 1 };
        root.draw(&Circle::new(centre, radius, ring.stroke_width(stroke)))
            .map_err(drawing_error)?;
    } else {
        let inset = i32::from(scale >= 3);
        let block = Rectangle::new(
            [(x0 + inset, y0 + inset), (x1 - inset, y1 - inset)],
            ring.filled(),
        );
        root.draw(&block).map_err(drawing_error)?;
    }
    Ok(())
}

/// Writes `text` centred in the cell, in `colour`, if it fits inside it.
fn label(
    root: &DrawingArea<BitMapBackend, Shift>,
    [(x0, y0), (x1, _)]: [(i32, i32); 2],
    text: &str,
    colour: RGBColor,
) -> Result<(), RenderError> {
    let scale = x1 - x0;
    if scale < 14 {
        return Ok(());
    }
    let style = TextStyle::from(("sans-serif", f64::from(scale) * 0.32).into_font())
        .color(&colour)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let (width, height) = root
        .estimate_text_size(text, &style)
        .map_err(drawing_error)?;
    if width as i32 > scale - 6 || height as i32 > scale - 6 {
        return Ok(());
    }
    let centre = (x0 + scale / 2, y0 + scale / 2);
    root.draw(&Text::new(text.to_owned(), centre, style))
        .map_err(drawing_error)
}

/// The map: each node's colour (see [`Colouring`]) over its cell.
pub fn map_png(weights: ArrayView3<f64>, scale: Option<usize>) -> Result<Picture, RenderError> {
    let (colouring, cells) = Cells::of_map(weights, scale)?;
    cells.draw(Some(colouring.mapping), |_| Ok(()))
}

/// The map with a disc on every node that is the best match of some vectors, its area in
/// proportion to their number (written on it when the cell is large enough).
pub fn hits_png(
    weights: ArrayView3<f64>,
    best_matches: &[[usize; 2]],
    scale: Option<usize>,
) -> Result<Picture, RenderError> {
    let (colouring, cells) = Cells::of_map(weights, scale)?;
    let mut hits: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for &node in best_matches {
        *hits.entry(cells.of_node(node)).or_default() += 1;
    }
    let most = hits.values().copied().max().unwrap_or(1);
    cells.draw(Some(colouring.mapping), |root| {
        for (&cell, &count) in &hits {
            let rect = cells.rect(cell);
            let ring = contrast(cells.colour(cell));
            let size = (count as f64 / most as f64).sqrt();
            mark(root, rect, ring, ring, size)?;
            let text_colour = contrast([ring.0, ring.1, ring.2]);
            if size > 0.6 {
                label(root, rect, &count.to_string(), text_colour)?;
            }
        }
        Ok(())
    })
}

/// The map with each vector of `data` drawn at its best-matching node (`best_matches`, in
/// the same order): a disc of the vector's own colour, ringed for contrast, labelled with the
/// vector's index (the first and a count when several share a node).
pub fn predictions_png(
    weights: ArrayView3<f64>,
    data: ArrayView2<f64>,
    best_matches: &[[usize; 2]],
    scale: Option<usize>,
) -> Result<Picture, RenderError> {
    let (colouring, cells) = Cells::of_map(weights, scale)?;
    let mut vectors_at: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (index, &node) in best_matches.iter().enumerate() {
        vectors_at
            .entry(cells.of_node(node))
            .or_default()
            .push(index);
    }
    cells.draw(Some(colouring.mapping), |root| {
        for (&cell, indices) in &vectors_at {
            let rect = cells.rect(cell);
            let [red, green, blue] = colouring.colour(data.row(indices[0]));
            let fill = RGBColor(red, green, blue);
            mark(root, rect, fill, contrast(cells.colour(cell)), 1.0)?;
            let text = match indices.len() {
                1 => indices[0].to_string(),
                n => format!("{}+{}", indices[0], n - 1),
            };
            label(root, rect, &text, contrast([red, green, blue]))?;
        }
        Ok(())
    })
}
