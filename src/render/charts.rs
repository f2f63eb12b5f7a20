//! Pictures with a title and axes: the U-matrix, the training curves, the samples side by
//! side.

use ndarray::{Array2, ArrayView3, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::grid::paint_map;
use super::{Layout, MAX_PIXELS, Picture, RenderError, drawing_error, encode_png, register_font};

/// Where the U-matrix's cells start: below the title, right of the margin.
pub(crate) const UMATRIX_TOP: usize = 44;
pub(crate) const UMATRIX_LEFT: usize = 12;
const BAR_GAP: usize = 16;
const BAR_WIDTH: usize = 20;
const BAR_LABELS: usize = 80;
const MIN_BAR_HEIGHT: usize = 160;

/// For each node, the mean Euclidean distance from its weights to those of its (up to 8)
/// neighbours: high where the map folds between clusters, low inside them.
pub fn umatrix(weights: ArrayView3<f64>) -> Array2<f64> {
    let (rows, cols, _) = weights.dim();
    Array2::from_shape_fn((rows, cols), |(r, c)| {
        let node = weights.index_axis(Axis(0), r);
        let node = node.row(c);
        let mut total = 0.0;
        let mut count = 0;
        for nr in r.saturating_sub(1)..=(r + 1).min(rows - 1) {
            for nc in c.saturating_sub(1)..=(c + 1).min(cols - 1) {
                if (nr, nc) == (r, c) {
                    continue;
                }
                let other = weights.index_axis(Axis(0), nr);
                let distance: f64 = node
                    .iter()
                    .zip(other.row(nc))
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                total += distance;
                count += 1;
            }
        }
        if count == 0 {
            0.0
        } else {
            total / f64::from(count)
        }
    })
}

/// A white canvas of `width x height` handed to `draw`, then encoded.
fn canvas(
    width: usize,
    height: usize,
    draw: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), RenderError>,
) -> Result<Vec<u8>, RenderError> {
    register_font();
    let mut buffer = vec![255u8; width * height * 3];
    {
        let root = BitMapBackend::with_buffer(&mut buffer, (width as u32, height as u32))
            .into_drawing_area();
        draw(&root)?;
        root.present().map_err(drawing_error)?;
    }
    encode_png(&buffer, width, height)
}

/// A chart's picture: no grid scale, no colour mapping.
fn chart(png: Vec<u8>, width: usize, height: usize) -> Picture {
    Picture {
        png,
        width,
        height,
        scale: 1,
        nodes_per_pixel: 1,
        mapping: None,
    }
}

fn title(
    root: &DrawingArea<BitMapBackend, Shift>,
    text: &str,
    width: usize,
) -> Result<(), RenderError> {
    let style = TextStyle::from(("sans-serif", 18).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    root.draw(&Text::new(
        text.to_owned(),
        ((width / 2) as i32, (UMATRIX_TOP / 2) as i32),
        style,
    ))
    .map_err(drawing_error)
}

/// A number for an axis label, short whatever its size: `50`, `0.125`, `2.5e-5`.
fn short_number(value: f64) -> String {
    if value != 0.0 && (value.abs() >= 1e4 || value.abs() < 1e-3) {
        format!("{value:.2e}")
    } else {
        let fixed = format!("{value:.3}");
        fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// The U-matrix (see [`umatrix`]) as a heat map with a colour bar and `title` above it. The
/// cell of node `(r, c)` starts at `(UMATRIX_LEFT + c*s, UMATRIX_TOP + r*s)`.
pub fn umatrix_png(
    weights: ArrayView3<f64>,
    title_text: &str,
    scale: Option<usize>,
) -> Result<Picture, RenderError> {
    let (rows, cols, _) = weights.dim();
    let layout = Layout::new(rows, cols, scale)?;
    let values = umatrix(weights);
    let block = layout.nodes_per_pixel;
    let (cell_rows, cell_cols) = (rows.div_ceil(block), cols.div_ceil(block));
    let cells = Array2::from_shape_fn((cell_rows, cell_cols), |(r, c)| {
        let rows_in = r * block..((r + 1) * block).min(rows);
        let cols_in = c * block..((c + 1) * block).min(cols);
        let count = (rows_in.len() * cols_in.len()) as f64;
        rows_in
            .flat_map(|nr| cols_in.clone().map(move |nc| (nr, nc)))
            .map(|node| values[node])
            .sum::<f64>()
            / count
    });
    let low = cells.iter().copied().fold(f64::INFINITY, f64::min);
    let high = cells.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let level = |value: f64| {
        if high > low {
            (value - low) / (high - low)
        } else {
            0.0
        }
    };
    let s = layout.scale;
    let (grid_width, grid_height) = (cell_cols * s, cell_rows * s);
    let bar_height = grid_height.max(MIN_BAR_HEIGHT);
    let bar_left = UMATRIX_LEFT + grid_width + BAR_GAP;
    let width = (bar_left + BAR_WIDTH + BAR_LABELS).max(320);
    let height = UMATRIX_TOP + bar_height + UMATRIX_LEFT;
    let png = canvas(width, height, |root| {
        title(root, title_text, width)?;
        for ((r, c), &value) in cells.indexed_iter() {
            let x = (UMATRIX_LEFT + c * s) as i32;
            let y = (UMATRIX_TOP + r * s) as i32;
            let colour = ViridisRGB.get_color(level(value) as f32);
            let cell = Rectangle::new([(x, y), (x + s as i32, y + s as i32)], colour.filled());
            root.draw(&cell).map_err(drawing_error)?;
        }
        let top = UMATRIX_TOP as i32;
        let left = bar_left as i32;
        for y in 0..bar_height {
            let unit = 1.0 - y as f64 / (bar_height - 1).max(1) as f64;
            let colour = ViridisRGB.get_color(unit as f32);
            let line = Rectangle::new(
                [
                    (left, top + y as i32),
                    (left + BAR_WIDTH as i32, top + y as i32 + 1),
                ],
                colour.filled(),
            );
            root.draw(&line).map_err(drawing_error)?;
        }
        let label_style = TextStyle::from(("sans-serif", 12).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for tick in 0..5 {
            let unit = f64::from(tick) / 4.0;
            let y = top + ((1.0 - unit) * (bar_height - 1) as f64).round() as i32;
            let span = (high - low).max(0.0);
            let value = low + unit * span;
            // Rounding leaves dust such as 3.8e-12 where the truth is 0.
            let value = if value.abs() < span * 1e-6 {
                0.0
            } else {
                value
            };
            root.draw(&Text::new(
                short_number(value),
                (left + BAR_WIDTH as i32 + 6, y),
                label_style.clone(),
            ))
            .map_err(drawing_error)?;
        }
        Ok(())
    })?;
    Ok(Picture {
        png,
        width,
        height,
        scale: s,
        nodes_per_pixel: block,
        mapping: None,
    })
}

/// The neighbourhood radius and the learning rate by iteration, one panel each. `iterations`
/// numbers the points (a stored record keeps only some iterations); empty, the points are
/// iterations 1, 2, 3, ... (older records keep every one).
pub fn curves_png(
    title_text: &str,
    iterations: &[usize],
    radii: &[f64],
    learning_rates: &[f64],
) -> Result<Picture, RenderError> {
    if radii.is_empty() || learning_rates.is_empty() {
        return Err(RenderError::NothingToDraw(
            "the training record has no per-iteration radius or learning rate",
        ));
    }
    let numbered = iterations.len() == radii.len() && iterations.len() == learning_rates.len();
    let iteration = |k: usize| {
        if numbered {
            iterations[k] as f64
        } else {
            (k + 1) as f64
        }
    };
    let last = iteration(radii.len() - 1).max(1.0);
    let (width, height) = (800, 560);
    let png = canvas(width, height, |root| {
        title(root, title_text, width)?;
        let body = root.margin(UMATRIX_TOP as u32, 10, 10, 10);
        let panels = body.split_evenly((2, 1));
        for (panel, (series, label, colour)) in panels.iter().zip([
            (radii, "neighbourhood radius", BLUE),
            (learning_rates, "learning rate", RED),
        ]) {
            let high = series.iter().copied().fold(0.0_f64, f64::max) * 1.05;
            let mut chart = ChartBuilder::on(panel)
                .x_label_area_size(36)
                .y_label_area_size(60)
                .margin(8)
                .build_cartesian_2d(0.0..last, 0.0..high.max(1e-12))
                .map_err(drawing_error)?;
            chart
                .configure_mesh()
                .x_desc("iteration")
                .y_desc(label)
                .label_style(("sans-serif", 12))
                .axis_desc_style(("sans-serif", 14))
                .x_label_formatter(&|value| format!("{value:.0}"))
                .y_label_formatter(&|value| short_number(*value))
                .draw()
                .map_err(drawing_error)?;
            chart
                .draw_series(LineSeries::new(
                    series.iter().enumerate().map(|(k, &v)| (iteration(k), v)),
                    colour.stroke_width(2),
                ))
                .map_err(drawing_error)?;
        }
        Ok(())
    })?;
    Ok(chart(png, width, height))
}

/// Maps side by side, each drawn `side` pixels across (as near as whole pixels per node
/// allow) with its name above it.
pub fn comparison_png(
    maps: &[(&str, ArrayView3<f64>)],
    side: usize,
) -> Result<Picture, RenderError> {
    if maps.is_empty() {
        return Err(RenderError::NothingToDraw("no maps to compare"));
    }
    let gap = 16;
    let scales: Vec<usize> = maps
        .iter()
        .map(|(_, weights)| {
            let (rows, cols, _) = weights.dim();
            (side / rows.max(cols)).max(1)
        })
        .collect();
    let sizes: Vec<(usize, usize)> = maps
        .iter()
        .zip(&scales)
        .map(|((_, weights), scale)| {
            let (rows, cols, _) = weights.dim();
            (cols * scale, rows * scale)
        })
        .collect();
    let tallest = sizes.iter().map(|&(_, h)| h).max().unwrap_or(0);
    let width = gap + sizes.iter().map(|&(w, _)| w + gap).sum::<usize>();
    let height = UMATRIX_TOP + tallest + gap;
    if width * height > MAX_PIXELS {
        return Err(RenderError::NothingToDraw(
            "the maps side by side are too large",
        ));
    }
    let png = canvas(width, height, |root| {
        let mut left = gap;
        for (((name, weights), &scale), &(map_width, _)) in maps.iter().zip(&scales).zip(&sizes) {
            let style = TextStyle::from(("sans-serif", 14).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                name.to_string(),
                ((left + map_width / 2) as i32, (UMATRIX_TOP / 2) as i32),
                style,
            ))
            .map_err(drawing_error)?;
            paint_map(root, *weights, scale, (left as i32, UMATRIX_TOP as i32))?;
            left += map_width + gap;
        }
        Ok(())
    })?;
    Ok(chart(png, width, height))
}
