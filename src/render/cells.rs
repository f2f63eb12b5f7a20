//! The cells of a grid picture, one per node or per block of nodes when a map is averaged
//! down: squares, or hexagons in rows offset by half a cell (the geometry is in [`super`]).
//! Whatever is drawn in a cell (a colour, a mark, a label) stays inside it.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::{Layout, Mapping, Picture, RenderError, SQRT_3, drawing_error, encode_png};
use crate::som::Topology;

/// `rows x cols` cells, each with its colour, laid out by `layout`.
pub(super) struct Cells {
    rows: usize,
    cols: usize,
    /// Row-major.
    colours: Vec<[u8; 3]>,
    layout: Layout,
}

impl Cells {
    pub fn new(rows: usize, cols: usize, colours: Vec<[u8; 3]>, layout: Layout) -> Self {
        assert_eq!(colours.len(), rows * cols, "one colour per cell");
        Cells {
            rows,
            cols,
            colours,
            layout,
        }
    }

    /// The cell that shows node `[row, col]`.
    pub fn of_node(&self, [row, col]: [usize; 2]) -> (usize, usize) {
        let block = self.layout.nodes_per_pixel;
        (row / block, col / block)
    }

    pub fn colour(&self, (row, col): (usize, usize)) -> [u8; 3] {
        self.colours[row * self.cols + col]
    }

    /// Rows and columns of cells.
    pub fn dim(&self) -> (usize, usize) {
        (self.rows, self.cols)
    }

    /// Width and height in pixels.
    pub fn size(&self) -> (usize, usize) {
        self.layout.size(self.rows, self.cols)
    }

    /// The square of a cell of a rectangular grid: top left included, bottom right excluded
    /// (as plotters fills rectangles).
    fn square(&self, (row, col): (usize, usize)) -> [(i32, i32); 2] {
        let scale = self.layout.scale as i32;
        let (x, y) = (col as i32 * scale, row as i32 * scale);
        [(x, y), (x + scale, y + scale)]
    }

    /// The centre of a hexagonal cell, in pixels.
    fn centre(&self, (row, col): (usize, usize)) -> (f64, f64) {
        let (x, y) = hexagon_centre(row as isize, col as isize);
        let scale = self.layout.scale as f64;
        (x * scale, y * scale)
    }

    /// The hexagonal cell pixel `(x, y)` belongs to: the one whose centre is nearest to the
    /// pixel's centre, unless that is a place beyond the picture's edge. A pixel centred on a
    /// vertical edge (odd rows at odd scales) goes to the hexagon on its right.
    fn hexagon_at(&self, x: usize, y: usize) -> Option<(usize, usize)> {
        let scale = self.layout.scale as f64;
        let (x, y) = ((x as f64 + 0.5) / scale, (y as f64 + 0.5) / scale);
        // The rows whose centres are just above and just below the pixel: a hexagon reaches
        // `1/sqrt(3)` up and down from its centre, less than the way to a row further off.
        let above = ((y - 1.0 / SQRT_3) / (SQRT_3 / 2.0)).floor() as isize;
        let (_, row, col) = [above, above + 1]
            .into_iter()
            .map(|row| {
                // In its own row, the hexagon whose width holds the pixel is the nearest.
                let col = (x - 0.5 * row.rem_euclid(2) as f64).floor() as isize;
                let (centre_x, centre_y) = hexagon_centre(row, col);
                let d2 = (x - centre_x).powi(2) + (y - centre_y).powi(2);
                (d2, row, col)
            })
            .min_by(|a, b| a.0.total_cmp(&b.0))
            .expect("two rows");
        let row = usize::try_from(row).ok().filter(|&row| row < self.rows)?;
        let col = usize::try_from(col).ok().filter(|&col| col < self.cols)?;
        Some((row, col))
    }

    /// The pixels of a hexagonal cell with their distances from its centre.
    fn hexagon_pixels(&self, cell: (usize, usize)) -> Vec<(usize, usize, f64)> {
        let (centre_x, centre_y) = self.centre(cell);
        let scale = self.layout.scale as f64;
        let (width, height) = self.size();
        let span = |centre: f64, reach: f64, end: usize| {
            let first = (centre - reach).floor().max(0.0) as usize;
            let last = ((centre + reach).ceil().max(0.0) as usize).min(end);
            first..last
        };
        let columns = span(centre_x, scale / 2.0, width);
        let mut pixels = Vec::new();
        for y in span(centre_y, scale / SQRT_3, height) {
            for x in columns.clone() {
                if self.hexagon_at(x, y) == Some(cell) {
                    let distance = (x as f64 + 0.5 - centre_x).hypot(y as f64 + 0.5 - centre_y);
                    pixels.push((x, y, distance));
                }
            }
        }
        pixels
    }

    /// Paints the cells with the top left corner at `(left, top)`; pixels outside every
    /// hexagon are left as they were.
    pub fn paint(
        &self,
        root: &DrawingArea<BitMapBackend, Shift>,
        (left, top): (i32, i32),
    ) -> Result<(), RenderError> {
        match self.layout.topology {
            Topology::Rectangular => {
                for row in 0..self.rows {
                    for col in 0..self.cols {
                        let [red, green, blue] = self.colour((row, col));
                        let [(x0, y0), (x1, y1)] = self.square((row, col));
                        let cell = Rectangle::new(
                            [(left + x0, top + y0), (left + x1, top + y1)],
                            RGBColor(red, green, blue).filled(),
                        );
                        root.draw(&cell).map_err(drawing_error)?;
                    }
                }
            }
            Topology::Hexagonal => {
                let (width, height) = self.size();
                for y in 0..height {
                    for x in 0..width {
                        if let Some(cell) = self.hexagon_at(x, y) {
                            let [red, green, blue] = self.colour(cell);
                            let pixel = (left + x as i32, top + y as i32);
                            root.draw_pixel(pixel, &RGBColor(red, green, blue))
                                .map_err(drawing_error)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// Draws the cells on white, then `overlay` over them, and encodes the result.
    pub fn draw(
        &self,
        mapping: Option<Mapping>,
        overlay: impl FnOnce(&DrawingArea<BitMapBackend, Shift>) -> Result<(), RenderError>,
    ) -> Result<Picture, RenderError> {
        super::register_font();
        let (width, height) = self.size();
        let mut rgb = vec![255u8; width * height * 3];
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

    /// A mark on a cell, drawn on a picture made by [`Cells::draw`], at least
    /// [`LEAST_MARK`] pixels across so it shows on a map of any size. On a cell of 8 pixels or
    /// more it is a disc of `fill` with a `ring`, inside the circle that fits in the cell and
    /// changing none of the pixels outside it; `size` (0..=1) scales the disc. A smaller cell
    /// gets a square of `fill` ringed by `ring`, [`LEAST_MARK`] pixels wide, centred on the
    /// cell (but inside the picture) and covering some of its neighbours.
    pub fn mark(
        &self,
        root: &DrawingArea<BitMapBackend, Shift>,
        cell: (usize, usize),
        fill: RGBColor,
        ring: RGBColor,
        size: f64,
    ) -> Result<(), RenderError> {
        let scale = self.layout.scale as i32;
        let stroke = if scale >= 24 { 2 } else { 1 };
        let radius = f64::from(scale / 2 - 2) * size;
        let radius = radius.round().max(LEAST_MARK as f64 / 2.0);
        if scale < 8 {
            // Centred on the cell, moved inside the picture at its edges.
            let (x, y) = self.middle(cell);
            let (width, height) = self.size();
            let place = |centre: f64, end: usize| {
                let start = centre.round() as i32 - LEAST_MARK as i32 / 2;
                start.clamp(0, end.saturating_sub(LEAST_MARK) as i32)
            };
            let (left, top) = (place(x, width), place(y, height));
            let (right, bottom) = (left + LEAST_MARK as i32, top + LEAST_MARK as i32);
            root.draw(&Rectangle::new(
                [(left, top), (right, bottom)],
                ring.filled(),
            ))
            .map_err(drawing_error)?;
            let inside = [(left + 1, top + 1), (right - 1, bottom - 1)];
            return root
                .draw(&Rectangle::new(inside, fill.filled()))
                .map_err(drawing_error);
        }
        match self.layout.topology {
            Topology::Rectangular => {
                let (x, y) = self.middle(cell);
                let centre = (x as i32, y as i32);
                let radius = radius as i32;
                root.draw(&Circle::new(centre, radius, fill.filled()))
                    .map_err(drawing_error)?;
                root.draw(&Circle::new(centre, radius, ring.stroke_width(stroke)))
                    .map_err(drawing_error)?;
            }
            Topology::Hexagonal => {
                // Plotters' shapes know nothing of hexagons: the mark is the cell's own
                // pixels near its centre, so it cannot spill into a neighbour.
                for (x, y, distance) in self.hexagon_pixels(cell) {
                    if distance <= radius {
                        let colour = if distance > radius - f64::from(stroke) {
                            ring
                        } else {
                            fill
                        };
                        root.draw_pixel((x as i32, y as i32), &colour)
                            .map_err(drawing_error)?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The middle of a cell, in pixels from the cells' top left corner.
    pub fn middle(&self, cell: (usize, usize)) -> (f64, f64) {
        match self.layout.topology {
            Topology::Rectangular => {
                let [(x, y), _] = self.square(cell);
                let half = self.layout.scale as f64 / 2.0;
                (f64::from(x) + half, f64::from(y) + half)
            }
            Topology::Hexagonal => self.centre(cell),
        }
    }

    /// Writes `text` centred in the cell, in `colour`, if it fits inside it.
    pub fn label(
        &self,
        root: &DrawingArea<BitMapBackend, Shift>,
        cell: (usize, usize),
        text: &str,
        colour: RGBColor,
    ) -> Result<(), RenderError> {
        let scale = self.layout.scale as i32;
        if scale < 14 {
            return Ok(());
        }
        let style = TextStyle::from(("sans-serif", f64::from(scale) * 0.32).into_font())
            .color(&colour)
            .pos(Pos::new(HPos::Center, VPos::Center));
        let (width, height) = root
            .estimate_text_size(text, &style)
            .map_err(drawing_error)?;
        let (width, height) = (width as i32, height as i32);
        let (centre, fits) = match self.layout.topology {
            Topology::Rectangular => {
                let [(x0, y0), _] = self.square(cell);
                let fits = width <= scale - 6 && height <= scale - 6;
                ((x0 + scale / 2, y0 + scale / 2), fits)
            }
            Topology::Hexagonal => {
                let (x, y) = self.centre(cell);
                // Inside the circle that fits in the hexagon, 3 pixels in.
                let fits = f64::from(width).hypot(f64::from(height)) <= f64::from(scale - 6);
                ((x.round() as i32, y.round() as i32), fits)
            }
        };
        if !fits {
            return Ok(());
        }
        root.draw(&Text::new(text.to_owned(), centre, style))
            .map_err(drawing_error)
    }
}

/// The fewest pixels across a mark on a cell, whatever the cell's size.
pub(super) const LEAST_MARK: usize = 6;

/// The centre of the hexagon of `[row, col]`, a cell's width being 1: its position of SPEC §3b
/// moved so that the hexagons' bounds start at 0.
fn hexagon_centre(row: isize, col: isize) -> (f64, f64) {
    let shift = 0.5 * row.rem_euclid(2) as f64;
    (
        col as f64 + 0.5 + shift,
        1.0 / SQRT_3 + row as f64 * SQRT_3 / 2.0,
    )
}
