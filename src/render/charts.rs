//! Pictures with a title and axes: the U-matrix, the training curves, the samples side by
//! side.

use ndarray::{Array2, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::ViridisRGB;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::cells::Cells;
use super::grid::paint_map;
use super::{
    DEFAULT_SIDE, Layout, MAX_PIXELS, Map, Picture, RenderError, Sizing, drawing_error, encode_png,
    pixel_size, register_font,
};
use crate::storage::ModelMeta;

/// Where the U-matrix's cells start: below the title, right of the margin.
pub(crate) const UMATRIX_TOP: usize = 44;
pub(crate) const UMATRIX_LEFT: usize = 12;
const BAR_GAP: usize = 16;
pub(super) const BAR_WIDTH: usize = 20;
const BAR_LABELS: usize = 80;
const MIN_BAR_HEIGHT: usize = 160;
/// The colours of the errors' curves, apart from the radius's blue and the rate's red.
pub(crate) const QUANTIZATION: RGBColor = RGBColor(0, 140, 70);
pub(crate) const TOPOGRAPHIC: RGBColor = RGBColor(230, 120, 0);

/// For each node, the mean distance (the map's: Euclidean, Manhattan or cosine) from its
/// weights to those of its neighbours on
/// the map's grid ([`Grid::neighbours`](crate::som::Grid::neighbours): 8 on a rectangular grid,
/// 6 on a hexagonal one, wrapping round a toroidal one): high where the map folds between
/// clusters, low inside them. `(rows, cols)`.
pub fn umatrix(map: &Map) -> Array2<f64> {
    let (weights, grid, distance) = (map.weights(), map.grid(), map.distance());
    let node = |index: usize| {
        let [r, c] = grid.position(index);
        (weights.index_axis_move(Axis(0), r)).index_axis_move(Axis(0), c)
    };
    let between = |a: usize, b: usize| {
        let (a, b) = (node(a), node(b));
        let (a, b) = (a.as_slice(), b.as_slice());
        distance.finish(distance.raw(
            a.expect("a map's weights are contiguous"),
            b.expect("a map's weights are contiguous"),
        ))
    };
    Array2::from_shape_fn((grid.rows, grid.cols), |(r, c)| {
        let index = r * grid.cols + c;
        let neighbours = grid.neighbours(index);
        let total: f64 = neighbours.iter().map(|&other| between(index, other)).sum();
        if neighbours.is_empty() {
            0.0
        } else {
            total / neighbours.len() as f64
        }
    })
}

/// A white canvas of `width x height` handed to `draw`, then encoded.
pub(super) fn canvas(
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
pub(super) fn chart(png: Vec<u8>, width: usize, height: usize) -> Picture {
    Picture {
        png,
        width,
        height,
        scale: 1,
        nodes_per_pixel: 1,
        mapping: None,
    }
}

/// `text` centred at the top of a chart `width` pixels wide, shortened to fit (see
/// [`fitted`]).
pub(super) fn title(
    root: &DrawingArea<BitMapBackend, Shift>,
    text: &str,
    width: usize,
) -> Result<(), RenderError> {
    let style = TextStyle::from(("sans-serif", 18).into_font())
        .color(&BLACK)
        .pos(Pos::new(HPos::Center, VPos::Center));
    let text = fitted(root, text, &style, width.saturating_sub(16))?;
    root.draw(&Text::new(
        text,
        ((width / 2) as i32, (UMATRIX_TOP / 2) as i32),
        style,
    ))
    .map_err(drawing_error)
}

/// `text`, or as much of its start as fits in `width` pixels followed by an ellipsis: a long
/// name is shortened, never clipped at the picture's edge.
pub(super) fn fitted(
    root: &DrawingArea<BitMapBackend, Shift>,
    text: &str,
    style: &TextStyle,
    width: usize,
) -> Result<String, RenderError> {
    let fits = |text: &str| {
        root.estimate_text_size(text, style)
            .map(|(w, _)| w as usize <= width)
            .map_err(drawing_error)
    };
    if fits(text)? {
        return Ok(text.to_owned());
    }
    let mut kept: Vec<char> = text.chars().collect();
    while !kept.is_empty() {
        kept.pop();
        let shortened = format!("{}\u{2026}", kept.iter().collect::<String>().trim_end());
        if fits(&shortened)? {
            return Ok(shortened);
        }
    }
    Ok("\u{2026}".to_owned())
}

/// A number for an axis label, short whatever its size: `50`, `0.125`, `2.5e-5`.
pub(super) fn short_number(value: f64) -> String {
    if value != 0.0 && (value.abs() >= 1e4 || value.abs() < 1e-3) {
        format!("{value:.2e}")
    } else {
        let fixed = format!("{value:.3}");
        fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}

/// `values` `(rows, cols)` averaged over blocks of `block x block` nodes (the last ones
/// smaller), as a map too large to draw whole is shown.
pub(super) fn averaged(values: &Array2<f64>, block: usize) -> Array2<f64> {
    let (rows, cols) = values.dim();
    let (cell_rows, cell_cols) = (rows.div_ceil(block), cols.div_ceil(block));
    Array2::from_shape_fn((cell_rows, cell_cols), |(r, c)| {
        let rows_in = r * block..((r + 1) * block).min(rows);
        let cols_in = c * block..((c + 1) * block).min(cols);
        let count = (rows_in.len() * cols_in.len()) as f64;
        rows_in
            .flat_map(|nr| cols_in.clone().map(move |nc| (nr, nc)))
            .map(|node| values[node])
            .sum::<f64>()
            / count
    })
}

/// A heat map of `values` (one per node, `(rows, cols)`) at `layout`, in viridis from the
/// lowest value to the highest, with the two.
pub(super) struct Heat {
    pub cells: Cells,
    pub low: f64,
    pub high: f64,
}

impl Heat {
    pub fn new(values: &Array2<f64>, layout: Layout) -> Self {
        let values = averaged(values, layout.nodes_per_pixel);
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        // A map imported with enormous weights can have infinite distances: those take the
        // top colour rather than no colour at all.
        let level = |value: f64| {
            let level = if high > low {
                (value - low) / (high - low)
            } else {
                0.0
            };
            if level.is_finite() {
                level.clamp(0.0, 1.0)
            } else {
                1.0
            }
        };
        let colours = values
            .iter()
            .map(|&value| {
                let RGBColor(red, green, blue) = ViridisRGB.get_color(level(value) as f32);
                [red, green, blue]
            })
            .collect();
        let (rows, cols) = values.dim();
        Heat {
            cells: Cells::new(rows, cols, colours, layout),
            low,
            high,
        }
    }

    /// Draws the colour bar, [`BAR_WIDTH`] wide and `height` high with its top left corner at
    /// `(left, top)`, and `ticks` values beside it from the lowest to the highest.
    pub fn bar(
        &self,
        root: &DrawingArea<BitMapBackend, Shift>,
        (left, top): (i32, i32),
        height: usize,
        ticks: u32,
    ) -> Result<(), RenderError> {
        for y in 0..height {
            let unit = 1.0 - y as f64 / (height - 1).max(1) as f64;
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
        let span = (self.high - self.low).max(0.0);
        for tick in 0..ticks {
            let unit = f64::from(tick) / f64::from(ticks - 1);
            let y = top + ((1.0 - unit) * (height - 1) as f64).round() as i32;
            let value = self.low + unit * span;
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
    }
}

/// The U-matrix (see [`umatrix`]) as a heat map with a colour bar and `title` above it. The
/// cells are laid out as in the map's picture with their top left corner at
/// `(UMATRIX_LEFT, UMATRIX_TOP)`: on a rectangular grid the cell of node `(r, c)` starts at
/// `(UMATRIX_LEFT + c*s, UMATRIX_TOP + r*s)`.
pub fn umatrix_png(
    map: &Map,
    title_text: &str,
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    let frame = |(grid_width, grid_height): (usize, usize)| {
        let bar_left = UMATRIX_LEFT + grid_width + BAR_GAP;
        let width = (bar_left + BAR_WIDTH + BAR_LABELS).max(320);
        Some((
            width,
            UMATRIX_TOP + grid_height.max(MIN_BAR_HEIGHT) + UMATRIX_LEFT,
        ))
    };
    let layout = Layout::framed(map.grid(), sizing.into(), DEFAULT_SIDE, &frame)?;
    let heat = Heat::new(&umatrix(map), layout);
    let (grid_width, grid_height) = heat.cells.size();
    let (width, height) = frame((grid_width, grid_height)).expect("the layout's frame counts");
    let bar_left = UMATRIX_LEFT + grid_width + BAR_GAP;
    let png = canvas(width, height, |root| {
        title(root, title_text, width)?;
        let top = UMATRIX_TOP as i32;
        heat.cells.paint(root, (UMATRIX_LEFT as i32, top))?;
        heat.bar(
            root,
            (bar_left as i32, top),
            grid_height.max(MIN_BAR_HEIGHT),
            5,
        )
    })?;
    Ok(Picture {
        png,
        width,
        height,
        scale: layout.scale,
        nodes_per_pixel: layout.nodes_per_pixel,
        mapping: None,
    })
}

/// What a training record says of each recorded iteration, as [`curves_png`] draws it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Curves<'a> {
    /// The numbers of the recorded iterations (a stored record keeps only some); empty, the
    /// points are iterations 1, 2, 3, ... (older records keep every one).
    pub iterations: &'a [usize],
    pub radii: &'a [f64],
    /// Empty for batch training, which has no learning rate.
    pub learning_rates: &'a [f64],
    /// `[quantization error, topographic error]`, recorded by batch training.
    pub quality: &'a [[f64; 2]],
}

impl<'a> Curves<'a> {
    /// The curves of a model's record (none of an imported model's).
    pub fn of_record(meta: &'a ModelMeta) -> Self {
        Curves {
            iterations: meta.recorded_iterations.as_deref().unwrap_or_default(),
            radii: meta.radius_per_iteration.as_deref().unwrap_or_default(),
            learning_rates: meta
                .learning_rate_per_iteration
                .as_deref()
                .unwrap_or_default(),
            quality: meta.quality_per_iteration.as_deref().unwrap_or_default(),
        }
    }
}

/// The height of a panel of [`curves_png`], 2 of them making the picture 560 high.
const PANEL_HEIGHT: usize = 253;

/// The training by iteration, one panel per series the record has: the neighbourhood radius,
/// then the learning rate (online) or the quantization and topographic errors (batch).
pub fn curves_png(title_text: &str, curves: &Curves) -> Result<Picture, RenderError> {
    let errors = |k: usize| {
        curves
            .quality
            .iter()
            .map(|pair| pair[k])
            .collect::<Vec<f64>>()
    };
    let (quantization, topographic) = (errors(0), errors(1));
    let panels: Vec<(&[f64], &str, RGBColor)> = [
        (curves.radii, "neighbourhood radius", BLUE),
        (curves.learning_rates, "learning rate", RED),
        (&quantization[..], "quantization error", QUANTIZATION),
        (&topographic[..], "topographic error", TOPOGRAPHIC),
    ]
    .into_iter()
    .filter(|(series, ..)| !series.is_empty())
    .collect();
    let radii = curves.radii;
    if radii.is_empty() || panels.len() < 2 {
        return Err(RenderError::NothingToDraw(
            "the training record has no per-iteration radius, learning rate or errors",
        ));
    }
    // Each series on its own: an older record numbers none, and may not have them all.
    let iteration = |series: &[f64], k: usize| {
        if curves.iterations.len() == series.len() {
            curves.iterations[k] as f64
        } else {
            (k + 1) as f64
        }
    };
    let last = iteration(radii, radii.len() - 1).max(1.0);
    let (width, height) = (800, UMATRIX_TOP + 10 + panels.len() * PANEL_HEIGHT);
    let png = canvas(width, height, |root| {
        title(root, title_text, width)?;
        let body = root.margin(UMATRIX_TOP as u32, 10, 10, 10);
        let areas = body.split_evenly((panels.len(), 1));
        for (area, &(series, label, colour)) in areas.iter().zip(&panels) {
            let high = series.iter().copied().fold(0.0_f64, f64::max) * 1.05;
            let mut chart = ChartBuilder::on(area)
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
                    series
                        .iter()
                        .enumerate()
                        .map(|(k, &v)| (iteration(series, k), v)),
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
pub fn comparison_png(maps: &[(&str, &Map)], side: usize) -> Result<Picture, RenderError> {
    if maps.is_empty() {
        return Err(RenderError::NothingToDraw("no maps to compare"));
    }
    let gap = 16;
    let scales: Vec<usize> = maps
        .iter()
        .map(|(_, map)| (side / map.grid().rows.max(map.grid().cols)).max(1))
        .collect();
    let sizes: Vec<(usize, usize)> = maps
        .iter()
        .zip(&scales)
        .map(|((_, map), &scale)| {
            let grid = map.grid();
            pixel_size(grid.topology, grid.rows, grid.cols, scale)
                .expect("a map about `side` pixels across has a size")
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
        for (((name, map), &scale), &(map_width, _)) in maps.iter().zip(&scales).zip(&sizes) {
            let style = TextStyle::from(("sans-serif", 14).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Center, VPos::Center));
            root.draw(&Text::new(
                name.to_string(),
                ((left + map_width / 2) as i32, (UMATRIX_TOP / 2) as i32),
                style,
            ))
            .map_err(drawing_error)?;
            paint_map(root, map, scale, (left as i32, UMATRIX_TOP as i32))?;
            left += map_width + gap;
        }
        Ok(())
    })?;
    Ok(chart(png, width, height))
}
