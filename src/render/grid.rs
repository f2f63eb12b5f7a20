//! Pictures of the grid itself, without margins: the map, hits and predictions.

use std::collections::BTreeMap;

use ndarray::{ArrayView2, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::cells::Cells;
use super::{Colouring, Layout, Map, Picture, RenderError, Sizing};
use crate::som::Grid;

/// The cells of a `rows x cols` grid at `layout`, each the colour `colour_of` gives its node,
/// or the mean colour of its block of nodes when averaged down.
pub(super) fn node_cells(
    (rows, cols): (usize, usize),
    layout: Layout,
    colour_of: impl Fn(usize, usize) -> [u8; 3],
) -> Cells {
    let block = layout.nodes_per_pixel;
    let (cell_rows, cell_cols) = (rows.div_ceil(block), cols.div_ceil(block));
    let mut sums = vec![([0u64; 3], 0u64); cell_rows * cell_cols];
    for r in 0..rows {
        for c in 0..cols {
            let (sum, count) = &mut sums[(r / block) * cell_cols + c / block];
            for (total, level) in sum.iter_mut().zip(colour_of(r, c)) {
                *total += u64::from(level);
            }
            *count += 1;
        }
    }
    let colours = sums
        .into_iter()
        .map(|(sum, count)| sum.map(|total| ((total + count / 2) / count) as u8))
        .collect();
    Cells::new(cell_rows, cell_cols, colours, layout)
}

/// The cells of `map` at `layout`, each the colour of its node's weights.
pub(super) fn weight_cells(map: &Map, colouring: &Colouring, layout: Layout) -> Cells {
    let weights = map.weights();
    let (rows, cols, _) = weights.dim();
    node_cells((rows, cols), layout, |r, c| {
        colouring.colour(weights.index_axis(Axis(0), r).row(c))
    })
}

/// The colouring and the cells of a picture of `map` sized by `sizing` (see [`Layout`]).
fn map_cells(map: &Map, sizing: Sizing) -> Result<(Colouring, Cells), RenderError> {
    let layout = Layout::new(map.grid(), sizing)?;
    let colouring = Colouring::of_weights(map.weights());
    let cells = weight_cells(map, &colouring, layout);
    Ok((colouring, cells))
}

/// Paints `map` at `scale` with its top left corner at `origin` on `root`; returns its width
/// and height in pixels.
pub(super) fn paint_map(
    root: &DrawingArea<BitMapBackend, Shift>,
    map: &Map,
    scale: usize,
    origin: (i32, i32),
) -> Result<(usize, usize), RenderError> {
    let (_, cells) = map_cells(map, Sizing::Scale(scale))?;
    cells.paint(root, origin)?;
    Ok(cells.size())
}

/// Black on light colours, white on dark ones.
pub(super) fn contrast([red, green, blue]: [u8; 3]) -> RGBColor {
    let luminance = 0.299 * f64::from(red) + 0.587 * f64::from(green) + 0.114 * f64::from(blue);
    if luminance > 140.0 { BLACK } else { WHITE }
}

/// The map: each node's colour (see [`Colouring`]) over its cell.
pub fn map_png(map: &Map, sizing: impl Into<Sizing>) -> Result<Picture, RenderError> {
    let (colouring, cells) = map_cells(map, sizing.into())?;
    cells.draw(Some(colouring.mapping), |_| Ok(()))
}

/// How many of `best_matches` each node of `grid` is, row-major: the hits [`hits_png`] draws.
pub fn hits_per_node(grid: &Grid, best_matches: &[[usize; 2]]) -> Vec<u64> {
    let mut hits = vec![0; grid.rows * grid.cols];
    for &[row, col] in best_matches {
        hits[row * grid.cols + col] += 1;
    }
    hits
}

/// The map with a disc on every node that is the best match of some vectors, its area in
/// proportion to their number (written on it when the cell is large enough). `hits` has one
/// count per node, row-major (see [`hits_per_node`]).
pub fn hits_png(
    map: &Map,
    hits: &[u64],
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    let grid = map.grid();
    if hits.len() != grid.rows * grid.cols {
        return Err(RenderError::NothingToDraw("the hits are not one per node"));
    }
    let (colouring, cells) = map_cells(map, sizing.into())?;
    let mut per_cell: BTreeMap<(usize, usize), u64> = BTreeMap::new();
    for (index, &count) in hits.iter().enumerate().filter(|(_, count)| **count > 0) {
        let node = [index / grid.cols, index % grid.cols];
        *per_cell.entry(cells.of_node(node)).or_default() += count;
    }
    let most = per_cell.values().copied().max().unwrap_or(1);
    cells.draw(Some(colouring.mapping), |root| {
        for (&cell, &count) in &per_cell {
            let ring = contrast(cells.colour(cell));
            let size = (count as f64 / most as f64).sqrt();
            cells.mark(root, cell, ring, ring, size)?;
            let text_colour = contrast([ring.0, ring.1, ring.2]);
            if size > 0.6 {
                cells.label(root, cell, &count.to_string(), text_colour)?;
            }
        }
        Ok(())
    })
}

/// The map with each vector of `data` (in the data's units, as the map's picture is) drawn
/// at its best-matching node (`best_matches`, in the same order): a disc of the vector's own
/// colour, ringed for contrast, labelled with the vector's index (the first and a count when
/// several share a node).
pub fn predictions_png(
    map: &Map,
    data: ArrayView2<f64>,
    best_matches: &[[usize; 2]],
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    let (colouring, cells) = map_cells(map, sizing.into())?;
    let mut vectors_at: BTreeMap<(usize, usize), Vec<usize>> = BTreeMap::new();
    for (index, &node) in best_matches.iter().enumerate() {
        vectors_at
            .entry(cells.of_node(node))
            .or_default()
            .push(index);
    }
    cells.draw(Some(colouring.mapping), |root| {
        for (&cell, indices) in &vectors_at {
            let [red, green, blue] = colouring.colour(data.row(indices[0]));
            let fill = RGBColor(red, green, blue);
            cells.mark(root, cell, fill, contrast(cells.colour(cell)), 1.0)?;
            let text = match indices.len() {
                1 => indices[0].to_string(),
                n => format!("{}+{}", indices[0], n - 1),
            };
            cells.label(root, cell, &text, contrast([red, green, blue]))?;
        }
        Ok(())
    })
}
