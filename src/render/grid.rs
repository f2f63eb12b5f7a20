//! Pictures of the grid itself, without margins: the map, hits and predictions.

use std::collections::BTreeMap;

use ndarray::{ArrayView2, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::cells::Cells;
use super::{Colouring, Layout, Map, Picture, RenderError};

/// The cells of `map` at `layout`, each the colour of its node, or the mean colour of its
/// block of nodes when averaged down.
fn node_cells(map: &Map, colouring: &Colouring, layout: Layout) -> Cells {
    let weights = map.weights();
    let (rows, cols, _) = weights.dim();
    let block = layout.nodes_per_pixel;
    let (cell_rows, cell_cols) = (rows.div_ceil(block), cols.div_ceil(block));
    let mut sums = vec![([0u64; 3], 0u64); cell_rows * cell_cols];
    for r in 0..rows {
        for c in 0..cols {
            let colour = colouring.colour(weights.index_axis(Axis(0), r).row(c));
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
    Cells::new(cell_rows, cell_cols, colours, layout)
}

/// The colouring and the cells of a picture of `map` at `scale` (see [`Layout`]).
fn map_cells(map: &Map, scale: Option<usize>) -> Result<(Colouring, Cells), RenderError> {
    let layout = Layout::new(map.grid(), scale)?;
    let colouring = Colouring::of_weights(map.weights());
    let cells = node_cells(map, &colouring, layout);
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
    let (_, cells) = map_cells(map, Some(scale))?;
    cells.paint(root, origin)?;
    Ok(cells.size())
}

/// Black on light colours, white on dark ones.
fn contrast([red, green, blue]: [u8; 3]) -> RGBColor {
    let luminance = 0.299 * f64::from(red) + 0.587 * f64::from(green) + 0.114 * f64::from(blue);
    if luminance > 140.0 { BLACK } else { WHITE }
}

/// The map: each node's colour (see [`Colouring`]) over its cell.
pub fn map_png(map: &Map, scale: Option<usize>) -> Result<Picture, RenderError> {
    let (colouring, cells) = map_cells(map, scale)?;
    cells.draw(Some(colouring.mapping), |_| Ok(()))
}

/// The map with a disc on every node that is the best match of some vectors, its area in
/// proportion to their number (written on it when the cell is large enough).
pub fn hits_png(
    map: &Map,
    best_matches: &[[usize; 2]],
    scale: Option<usize>,
) -> Result<Picture, RenderError> {
    let (colouring, cells) = map_cells(map, scale)?;
    let mut hits: BTreeMap<(usize, usize), usize> = BTreeMap::new();
    for &node in best_matches {
        *hits.entry(cells.of_node(node)).or_default() += 1;
    }
    let most = hits.values().copied().max().unwrap_or(1);
    cells.draw(Some(colouring.mapping), |root| {
        for (&cell, &count) in &hits {
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
    scale: Option<usize>,
) -> Result<Picture, RenderError> {
    let (colouring, cells) = map_cells(map, scale)?;
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
