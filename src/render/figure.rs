//! Pictures that explain a map to a reader: the component planes (a heat map per feature),
//! the known labels, and the map as a figure with ticks, a title and a legend.

use ndarray::Axis;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::cells::Cells;
use super::charts::{BAR_WIDTH, Heat, UMATRIX_TOP, canvas, fitted, title};
use super::grid::{node_cells, weight_cells};
use super::{Colouring, DEFAULT_SIDE, Layout, Map, Picture, RenderError, SQRT_3, Sizing};

/// The most panels [`components_png`] draws at once.
pub const MAX_PANELS: usize = 64;

/// A component panel: its title band above the map, the padding left of and below it.
pub(super) const PANEL_TITLE: usize = 28;
pub(super) const PANEL_PAD: usize = 12;
const PANEL_BAR_GAP: usize = 8;
const PANEL_BAR_LABELS: usize = 64;
/// The colour bar's least height, room for its three labels.
const PANEL_LEAST_BAR: usize = 60;
/// The map's side in each of several panels by default (one panel gets [`DEFAULT_SIDE`]).
const PANEL_SIDE: usize = 200;

/// The width and height of a panel around a map `(width, height)` pixels.
pub(super) fn panel_size((width, height): (usize, usize)) -> (usize, usize) {
    (
        PANEL_PAD + width + PANEL_BAR_GAP + BAR_WIDTH + PANEL_BAR_LABELS,
        PANEL_TITLE + height.max(PANEL_LEAST_BAR) + PANEL_PAD,
    )
}

/// Panels across and down for `count` panels: as square as can be, filled row by row.
pub(super) fn panel_grid(count: usize) -> (usize, usize) {
    let across = (1..=count).find(|a| a * a >= count).unwrap_or(1);
    (across, count.div_ceil(across))
}

/// The feature `asked` names among `names` (one per feature): an index from 0, or a name.
pub fn feature_index(names: &[String], asked: &str) -> Result<usize, RenderError> {
    if let Ok(index) = asked.parse::<usize>()
        && index < names.len()
    {
        return Ok(index);
    }
    names
        .iter()
        .position(|name| name == asked)
        .ok_or_else(|| unknown_feature(names, asked))
}

/// The error for a feature `names` (one per feature) does not have.
fn unknown_feature(names: &[String], asked: &str) -> RenderError {
    let shown: Vec<String> = names
        .iter()
        .take(5)
        .map(|name| format!("{name:?}"))
        .collect();
    let more = if names.len() > shown.len() {
        ", ..."
    } else {
        ""
    };
    RenderError::UnknownFeature(format!(
        "no feature {asked:?}: give an index from 0 to {} or a name ({}{more})",
        names.len().saturating_sub(1),
        shown.join(", ")
    ))
}

/// The component planes of `map`: a panel per feature (or only the panel of `feature`), each
/// titled with its name from `names` (one per feature), a heat map of that weight over the
/// grid in the data's units, laid out as the map's picture, with a colour bar from its lowest
/// value to its highest. Panels are filled row by row, as square a grid of them as can be;
/// panel `k` has its top left corner at `((k % across) w, (k / across) h)` for a panel `w x h`
/// (see `panel_size`), its map at `(PANEL_PAD, PANEL_TITLE)` in it. `sizing` sizes the whole
/// picture (a scale is per node of each panel).
///
/// # Errors
/// [`RenderError::TooManyPanels`] for all of more than [`MAX_PANELS`] features;
/// [`RenderError::UnknownFeature`] for a `feature` the map does not have.
pub fn components_png(
    map: &Map,
    names: &[String],
    feature: Option<usize>,
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    let weights = map.weights();
    let dim = weights.dim().2;
    if names.len() != dim {
        return Err(RenderError::NothingToDraw(
            "the names are not one per feature",
        ));
    }
    let features: Vec<usize> = match feature {
        Some(k) if k >= dim => return Err(unknown_feature(names, &k.to_string())),
        Some(k) => vec![k],
        None if dim > MAX_PANELS => return Err(RenderError::TooManyPanels { features: dim }),
        None => (0..dim).collect(),
    };
    let (across, down) = panel_grid(features.len());
    let frame = |cells: (usize, usize)| {
        let (width, height) = panel_size(cells);
        Some((width.checked_mul(across)?, height.checked_mul(down)?))
    };
    let side = if features.len() == 1 {
        DEFAULT_SIDE
    } else {
        PANEL_SIDE
    };
    let layout = Layout::framed(map.grid(), sizing.into(), side, &frame)?;
    let heats: Vec<Heat> = features
        .iter()
        .map(|&k| Heat::new(&weights.index_axis(Axis(2), k).to_owned(), layout))
        .collect();
    let cells = heats[0].cells.size();
    let (panel_width, panel_height) = panel_size(cells);
    let (width, height) = frame(cells).expect("the layout's frame counts");
    let png = canvas(width, height, |root| {
        let style = TextStyle::from(("sans-serif", 14).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Center, VPos::Center));
        for (index, (heat, &k)) in heats.iter().zip(&features).enumerate() {
            let left = (index % across * panel_width) as i32;
            let top = (index / across * panel_height) as i32;
            let name = fitted(root, &names[k], &style, panel_width - 8)?;
            let centre = (left + panel_width as i32 / 2, top + PANEL_TITLE as i32 / 2);
            root.draw(&Text::new(name, centre, style.clone()))
                .map_err(super::drawing_error)?;
            let map_top = top + PANEL_TITLE as i32;
            heat.cells.paint(root, (left + PANEL_PAD as i32, map_top))?;
            let bar_left = left + (PANEL_PAD + cells.0 + PANEL_BAR_GAP) as i32;
            heat.bar(root, (bar_left, map_top), cells.1.max(PANEL_LEAST_BAR), 3)?;
        }
        Ok(())
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

/// Where [`figure_png`] puts the map: right of the rows' ticks, below the title.
pub(super) const FIGURE_LEFT: usize = 48;
pub(super) const FIGURE_TOP: usize = UMATRIX_TOP;
/// Below the map: the columns' ticks and their numbers.
const FIGURE_TICKS: usize = 32;
const FIGURE_RIGHT: usize = 24;
const LEGEND_LINE: usize = 18;
/// A tick's length, and the fewest pixels between two ticks.
pub(super) const TICK: i32 = 6;
const TICK_SPACING: f64 = 32.0;

/// The map as a figure: `title_text` above it (shortened with an ellipsis when too long,
/// never clipped), node numbers from 0 with tick marks left of the rows and below the
/// columns, and, unless the weights are the colours (D = 3, in [0, 1]), a legend under it
/// saying how the colours were made. The map's top left corner is at
/// `(FIGURE_LEFT, FIGURE_TOP)`.
pub fn figure_png(
    map: &Map,
    title_text: &str,
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    let colouring = Colouring::of_weights(map.weights());
    let legend = colouring.mapping.legend(map.weights().dim().2);
    let legend_height = legend
        .as_ref()
        .map_or(0, |lines| lines.len() * LEGEND_LINE + 8);
    let frame = |(width, height): (usize, usize)| {
        Some((
            FIGURE_LEFT + width + FIGURE_RIGHT,
            FIGURE_TOP + height + FIGURE_TICKS + legend_height,
        ))
    };
    let layout = Layout::framed(map.grid(), sizing.into(), DEFAULT_SIDE, &frame)?;
    let cells = weight_cells(map, &colouring, layout);
    let (map_width, map_height) = cells.size();
    let (width, height) = frame((map_width, map_height)).expect("the layout's frame counts");
    let origin = (FIGURE_LEFT as i32, FIGURE_TOP as i32);
    let png = canvas(width, height, |root| {
        title(root, title_text, width)?;
        cells.paint(root, origin)?;
        ticks(root, &cells, origin, layout)?;
        if let Some(lines) = &legend {
            let style = TextStyle::from(("sans-serif", 12).into_font())
                .color(&BLACK)
                .pos(Pos::new(HPos::Left, VPos::Top));
            let top = FIGURE_TOP + map_height + FIGURE_TICKS + 4;
            for (index, line) in lines.iter().enumerate() {
                let text = fitted(root, line, &style, width - 2 * PANEL_PAD)?;
                let at = (PANEL_PAD as i32, (top + index * LEGEND_LINE) as i32);
                root.draw(&Text::new(text, at, style.clone()))
                    .map_err(super::drawing_error)?;
            }
        }
        Ok(())
    })?;
    Ok(Picture {
        png,
        width,
        height,
        scale: layout.scale,
        nodes_per_pixel: layout.nodes_per_pixel,
        mapping: Some(colouring.mapping),
    })
}

/// Tick marks with node numbers left of the rows and below the columns of `cells` painted at
/// `(left, top)`: every 1, 2 or 5 times a power of ten nodes, as few as keep the numbers
/// apart.
fn ticks(
    root: &DrawingArea<BitMapBackend, Shift>,
    cells: &Cells,
    (left, top): (i32, i32),
    layout: Layout,
) -> Result<(), RenderError> {
    let (cell_rows, cell_cols) = cells.dim();
    let scale = layout.scale as f64;
    let row_pitch = match layout.topology {
        crate::som::Topology::Rectangular => scale,
        crate::som::Topology::Hexagonal => scale * SQRT_3 / 2.0,
    };
    let style = TextStyle::from(("sans-serif", 12).into_font()).color(&BLACK);
    let (_, map_height) = cells.size();
    let bottom = top + map_height as i32;
    for row in (0..cell_rows).step_by(tick_step(row_pitch)) {
        let y = top + cells.middle((row, 0)).1.round() as i32;
        let mark = PathElement::new([(left - TICK, y), (left - 1, y)], BLACK);
        root.draw(&mark).map_err(super::drawing_error)?;
        let number = (row * layout.nodes_per_pixel).to_string();
        let at = (left - TICK - 3, y);
        let style = style.pos(Pos::new(HPos::Right, VPos::Center));
        root.draw(&Text::new(number, at, style))
            .map_err(super::drawing_error)?;
    }
    for col in (0..cell_cols).step_by(tick_step(scale)) {
        let x = left + cells.middle((0, col)).0.round() as i32;
        let mark = PathElement::new([(x, bottom), (x, bottom + TICK - 1)], BLACK);
        root.draw(&mark).map_err(super::drawing_error)?;
        let number = (col * layout.nodes_per_pixel).to_string();
        let style = style.pos(Pos::new(HPos::Center, VPos::Top));
        root.draw(&Text::new(number, (x, bottom + TICK + 2), style))
            .map_err(super::drawing_error)?;
    }
    Ok(())
}

/// Cells between two ticks `pitch` pixels apart: 1, 2, 5, 10, 20, ... whichever first keeps
/// them [`TICK_SPACING`] apart.
fn tick_step(pitch: f64) -> usize {
    [1, 2, 5]
        .into_iter()
        .cycle()
        .scan(1, |power, step| {
            let value = step * *power;
            if step == 5 {
                *power *= 10;
            }
            Some(value)
        })
        .find(|&step| step as f64 * pitch >= TICK_SPACING)
        .expect("some step spaces the ticks")
}

/// The colour of the `k`th label: ten distinct colours (matplotlib's `tab10`), then hues a
/// golden angle apart.
pub(super) fn label_colour(k: usize) -> [u8; 3] {
    const TAB10: [[u8; 3]; 10] = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    if let Some(colour) = TAB10.get(k) {
        return *colour;
    }
    let hue = (k as f64 * 0.618_033_988_75).fract() * 6.0;
    let rising = hue.fract();
    let [high, low] = [0.85, 0.25];
    let mid_up = low + (high - low) * rising;
    let mid_down = high - (high - low) * rising;
    let rgb = match hue as usize {
        0 => [high, mid_up, low],
        1 => [mid_down, high, low],
        2 => [low, high, mid_up],
        3 => [low, mid_down, high],
        4 => [mid_up, low, high],
        _ => [high, low, mid_down],
    };
    rgb.map(|unit| (unit * 255.0).round() as u8)
}

/// The colour of a node no labelled sample landed on.
pub(super) const NO_LABEL: [u8; 3] = [190, 190, 190];
/// The share of its label's colour a node that no sample landed on keeps (one with the most
/// hits has all of it).
pub(super) const LEAST_SHADE: f64 = 0.3;
const LEGEND_GAP: usize = 16;
const LEGEND_WIDTH: usize = 200;
const LEGEND_SWATCH: usize = 14;
/// The labels a legend names before "and N more".
const LEGEND_LABELS: usize = 20;

/// The known labels over the map: each node in the colour of its majority label
/// (`majority`, an index into `label_names`, or `None` where no labelled sample landed), paler
/// the fewer `hits` it has (from [`LEAST_SHADE`] of the colour with none to all of it with
/// the most), and a legend right of the map. Both slices have one entry per node, row-major.
/// The map's top left corner is the picture's, laid out as in the map's picture.
pub fn labels_png(
    map: &Map,
    hits: &[u64],
    majority: &[Option<usize>],
    label_names: &[String],
    sizing: impl Into<Sizing>,
) -> Result<Picture, RenderError> {
    let grid = *map.grid();
    let nodes = grid.rows * grid.cols;
    if hits.len() != nodes || majority.len() != nodes {
        return Err(RenderError::NothingToDraw(
            "the summary is not one per node",
        ));
    }
    if majority
        .iter()
        .flatten()
        .any(|&label| label >= label_names.len())
    {
        return Err(RenderError::NothingToDraw("a node's label has no name"));
    }
    let mut entries: Vec<(String, [u8; 3])> = label_names
        .iter()
        .take(LEGEND_LABELS)
        .enumerate()
        .map(|(k, name)| (name.clone(), label_colour(k)))
        .collect();
    if label_names.len() > LEGEND_LABELS {
        let more = label_names.len() - LEGEND_LABELS;
        entries.push((format!("and {more} more"), [255; 3]));
    }
    entries.push(("no label".to_owned(), NO_LABEL));
    let legend_height = PANEL_PAD + (entries.len() + 1) * LEGEND_LINE;
    let frame = |(width, height): (usize, usize)| {
        Some((width + LEGEND_GAP + LEGEND_WIDTH, height.max(legend_height)))
    };
    let layout = Layout::framed(&grid, sizing.into(), DEFAULT_SIDE, &frame)?;
    let most = hits.iter().copied().max().unwrap_or(0).max(1);
    let colours = node_cells((grid.rows, grid.cols), layout, |r, c| {
        let node = r * grid.cols + c;
        // A node without a label won no sample: it is drawn in the legend's grey as it
        // stands, not shaded to near white like a labelled node's few hits.
        let Some(label) = majority[node] else {
            return NO_LABEL;
        };
        let shade = LEAST_SHADE + (1.0 - LEAST_SHADE) * (hits[node] as f64 / most as f64).sqrt();
        label_colour(label).map(|level| (255.0 - (255.0 - f64::from(level)) * shade).round() as u8)
    });
    let (map_width, map_height) = colours.size();
    let (width, height) = frame((map_width, map_height)).expect("the layout's frame counts");
    let png = canvas(width, height, |root| {
        colours.paint(root, (0, 0))?;
        let left = (map_width + LEGEND_GAP) as i32;
        let style = TextStyle::from(("sans-serif", 12).into_font())
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        let text_width = LEGEND_WIDTH - LEGEND_SWATCH - 8 - PANEL_PAD;
        for (index, (name, colour)) in entries.iter().enumerate() {
            let top = (PANEL_PAD + index * LEGEND_LINE) as i32;
            if *colour != [255; 3] {
                let [red, green, blue] = *colour;
                let swatch = [
                    (left, top),
                    (left + LEGEND_SWATCH as i32, top + LEGEND_SWATCH as i32),
                ];
                root.draw(&Rectangle::new(swatch, RGBColor(red, green, blue).filled()))
                    .map_err(super::drawing_error)?;
            }
            let text = fitted(root, name, &style, text_width)?;
            let at = (
                left + LEGEND_SWATCH as i32 + 8,
                top + LEGEND_SWATCH as i32 / 2,
            );
            root.draw(&Text::new(text, at, style.clone()))
                .map_err(super::drawing_error)?;
        }
        let note_top = (PANEL_PAD + entries.len() * LEGEND_LINE) as i32;
        let note = fitted(root, "paler: fewer hits", &style, LEGEND_WIDTH - PANEL_PAD)?;
        root.draw(&Text::new(
            note,
            (left, note_top + LEGEND_SWATCH as i32 / 2),
            style,
        ))
        .map_err(super::drawing_error)?;
        Ok(())
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
