use ndarray::{Array2, Array3};

use super::charts::{UMATRIX_LEFT, UMATRIX_TOP};
use super::*;
use crate::som::{Grid, Scaling, Topology};
use plotters::style::RGBColor;

/// Width, height and RGB pixels of a PNG.
fn decode(png_bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(png_bytes))
        .read_info()
        .unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    let pixels = buffer[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width as usize, info.height as usize, pixels)
}

fn pixel(decoded: &(usize, usize, Vec<[u8; 3]>), x: usize, y: usize) -> [u8; 3] {
    decoded.2[y * decoded.0 + x]
}

/// A (rows, cols, 3) map with every weight in [0, 1], all nodes different.
fn colour_map(rows: usize, cols: usize) -> Array3<f64> {
    Array3::from_shape_fn((rows, cols, 3), |(r, c, k)| {
        ((r * 7 + c * 13 + k * 29) % 97) as f64 / 96.0
    })
}

/// `weights` as SPEC §3 maps are.
fn rectangular(weights: &Array3<f64>) -> Map {
    Map::rectangular(weights.clone())
}

fn level(value: f64) -> u8 {
    (value * 255.0).round() as u8
}

#[test]
fn the_map_is_cols_times_scale_wide_and_every_node_fills_its_cell_with_its_colour() {
    let weights = colour_map(3, 5);
    let picture = map_png(&rectangular(&weights), Some(7)).unwrap();
    assert_eq!(picture.mapping, Some(Mapping::Rgb));
    let decoded = decode(&picture.png);
    assert_eq!((decoded.0, decoded.1), (5 * 7, 3 * 7));
    for r in 0..3 {
        for c in 0..5 {
            let expected = [0, 1, 2].map(|k| level(weights[[r, c, k]]));
            for (x, y) in [
                (c * 7 + 3, r * 7 + 3),
                (c * 7, r * 7),
                (c * 7 + 6, r * 7 + 6),
            ] {
                assert_eq!(
                    pixel(&decoded, x, y),
                    expected,
                    "node ({r}, {c}) at ({x}, {y})"
                );
            }
        }
    }
}

#[test]
fn the_default_scale_makes_small_maps_a_few_hundred_pixels_and_caps_huge_ones() {
    assert_eq!(
        Layout::new(&Grid::rectangular(10, 10), None).unwrap().scale,
        40
    );
    assert_eq!(
        Layout::new(&Grid::rectangular(100, 100), None)
            .unwrap()
            .scale,
        4
    );
    assert_eq!(
        Layout::new(&Grid::rectangular(1000, 1000), None)
            .unwrap()
            .scale,
        1
    );
    let huge = Layout::new(&Grid::rectangular(3000, 3000), None).unwrap();
    assert_eq!((huge.scale, huge.nodes_per_pixel), (1, 2));
    let picture = map_png(&rectangular(&colour_map(10, 10)), None).unwrap();
    assert_eq!((picture.width, picture.height), (400, 400));
    let wide = map_png(&rectangular(&Array3::<f64>::zeros((1, 3, 3))), None).unwrap();
    assert_eq!((wide.width, wide.height), (399, 133));
}

#[test]
fn a_huge_map_is_averaged_down_under_the_pixel_cap() {
    let weights = Array3::from_shape_fn((2100, 2000, 1), |(r, _, _)| (r % 2) as f64);
    let picture = map_png(&rectangular(&weights), None).unwrap();
    assert_eq!(picture.nodes_per_pixel, 2);
    assert_eq!((picture.width, picture.height), (1000, 1050));
    let decoded = decode(&picture.png);
    // Each pixel averages a black and a white row: mid-grey.
    assert_eq!(pixel(&decoded, 10, 10), [128; 3]);
}

#[test]
fn scale_zero_or_too_large_is_refused_with_the_largest_that_works() {
    let weights = colour_map(10, 10);
    for scale in [0, 201, usize::MAX] {
        match map_png(&rectangular(&weights), Some(scale)) {
            Err(RenderError::InvalidScale { max, .. }) => assert_eq!(max, 200),
            other => panic!("scale {scale}: {other:?}"),
        }
    }
    assert!(map_png(&rectangular(&weights), Some(200)).is_ok());
}

#[test]
fn colours_outside_zero_one_are_min_max_scaled_per_channel() {
    let weights = colour_map(4, 4).mapv(|v| v * 255.0);
    let picture = map_png(&rectangular(&weights), Some(1)).unwrap();
    assert_eq!(picture.mapping, Some(Mapping::RgbMinMax));
    let decoded = decode(&picture.png);
    for k in 0..3 {
        let channel: Vec<u8> = decoded.2.iter().map(|p| p[k]).collect();
        assert_eq!(channel.iter().min(), Some(&0));
        assert_eq!(channel.iter().max(), Some(&255));
    }
}

#[test]
fn one_dimension_is_grey_and_more_than_three_use_principal_components() {
    let grey = Array3::from_shape_fn((2, 2, 1), |(r, c, _)| (r * 2 + c) as f64 / 3.0);
    let picture = map_png(&rectangular(&grey), Some(1)).unwrap();
    assert_eq!(picture.mapping, Some(Mapping::Grey));
    assert_eq!(
        decode(&picture.png).2,
        vec![[0; 3], [85; 3], [170; 3], [255; 3]]
    );

    // Two clusters far apart in 5 dimensions, along a direction no single axis shows.
    let weights = Array3::from_shape_fn((4, 6, 5), |(_, c, k)| {
        let side = if c < 3 { -1.0 } else { 1.0 };
        side * (k as f64 + 1.0) + 0.01 * ((c * 5 + k) % 3) as f64
    });
    let picture = map_png(&rectangular(&weights), Some(1)).unwrap();
    assert_eq!(picture.mapping, Some(Mapping::Pca));
    let decoded = decode(&picture.png);
    let (left, right) = (pixel(&decoded, 0, 0), pixel(&decoded, 5, 0));
    assert!(
        left[0].abs_diff(right[0]) > 200,
        "the first component separates the halves: {left:?} {right:?}"
    );
    assert!(
        pixel(&decoded, 1, 3)[0].abs_diff(left[0]) < 10,
        "nodes of the same half look alike"
    );
}

/// A map whose left half is all one colour and right half another.
fn two_halves(rows: usize, cols: usize) -> Array3<f64> {
    Array3::from_shape_fn((rows, cols, 3), |(_, c, k)| {
        if c < cols / 2 {
            [0.9, 0.1, 0.1][k]
        } else {
            [0.1, 0.2, 0.9][k]
        }
    })
}

#[test]
fn the_u_matrix_is_high_along_the_boundary_of_two_halves_and_low_inside() {
    let weights = two_halves(6, 8);
    let values = umatrix(&rectangular(&weights));
    for r in 0..6 {
        for c in 0..8 {
            let on_boundary = c == 3 || c == 4;
            assert_eq!(
                values[[r, c]] > 0.1,
                on_boundary,
                "({r}, {c}): {}",
                values[[r, c]]
            );
        }
    }
    let picture = umatrix_png(&rectangular(&weights), "U-matrix", Some(10)).unwrap();
    let decoded = decode(&picture.png);
    let cell = |r: usize, c: usize| {
        pixel(
            &decoded,
            UMATRIX_LEFT + c * 10 + 5,
            UMATRIX_TOP + r * 10 + 5,
        )
    };
    let brightness = |p: [u8; 3]| p.iter().map(|&v| u32::from(v)).sum::<u32>();
    for r in 0..6 {
        assert!(
            brightness(cell(r, 3)) > brightness(cell(r, 1)) + 200,
            "row {r}"
        );
        assert!(
            brightness(cell(r, 4)) > brightness(cell(r, 6)) + 200,
            "row {r}"
        );
        assert_eq!(
            cell(r, 0),
            cell(r, 7),
            "the insides share the lowest colour"
        );
    }
}

/// The cells (at `scale`) in which two pictures of the same size differ.
fn differing_cells(a: &[u8], b: &[u8], scale: usize) -> Vec<[usize; 2]> {
    let (a, b) = (decode(a), decode(b));
    assert_eq!((a.0, a.1), (b.0, b.1));
    let mut cells: Vec<[usize; 2]> = (0..a.1)
        .flat_map(|y| (0..a.0).map(move |x| (x, y)))
        .filter(|&(x, y)| pixel(&a, x, y) != pixel(&b, x, y))
        .map(|(x, y)| [y / scale, x / scale])
        .collect();
    cells.sort();
    cells.dedup();
    cells
}

#[test]
fn predictions_change_the_map_exactly_at_the_predicted_cells() {
    let weights = colour_map(10, 10);
    let data = Array2::from_shape_fn((4, 3), |(i, k)| weights[[i * 2, 9 - i, k]]);
    let best = [[0, 9], [2, 8], [4, 7], [6, 6]];
    for scale in [8, 9, 40] {
        let map = map_png(&rectangular(&weights), Some(scale)).unwrap();
        let drawn =
            predictions_png(&rectangular(&weights), data.view(), &best, Some(scale)).unwrap();
        let mut expected = best.to_vec();
        expected.sort();
        assert_eq!(
            differing_cells(&map.png, &drawn.png, scale),
            expected,
            "scale {scale}"
        );
    }
}

#[test]
fn hits_change_the_map_exactly_at_the_nodes_hit() {
    let weights = colour_map(8, 8);
    let best = [[1, 1], [1, 1], [1, 1], [5, 2], [7, 7]];
    let plain = map_png(&rectangular(&weights), Some(30)).unwrap();
    let map = rectangular(&weights);
    let hits = hits_png(&map, &hits_per_node(map.grid(), &best), Some(30)).unwrap();
    assert_eq!(
        differing_cells(&plain.png, &hits.png, 30),
        vec![[1, 1], [5, 2], [7, 7]]
    );
}

#[test]
fn the_curves_draw_both_series_with_their_colours() {
    let radii: Vec<f64> = (0..100).map(|t| 5.0 * (-(t as f64) / 50.0).exp()).collect();
    let rates: Vec<f64> = (0..100).map(|t| 0.1 * (-(t as f64) / 50.0).exp()).collect();
    let picture = curves_png(
        "training",
        &Curves {
            radii: &radii,
            learning_rates: &rates,
            ..Curves::default()
        },
    )
    .unwrap();
    let decoded = decode(&picture.png);
    assert_eq!((decoded.0, decoded.1), (800, 560));
    let blue = decoded.2.iter().filter(|p| **p == [0, 0, 255]).count();
    let red = decoded.2.iter().filter(|p| **p == [255, 0, 0]).count();
    assert!(blue > 500 && red > 500, "blue {blue}, red {red}");
    assert!(matches!(
        curves_png("t", &Curves::default()),
        Err(RenderError::NothingToDraw(_))
    ));
}

/// The rightmost column of the highest blue (radius) pixels.
fn right_end_of_the_top_of_the_radius(iterations: &[usize]) -> usize {
    let picture = curves_png(
        "t",
        &Curves {
            iterations,
            radii: &[5.0, 5.0, 0.0],
            learning_rates: &[0.1, 0.1, 0.0],
            ..Curves::default()
        },
    )
    .unwrap();
    let (width, _, pixels) = decode(&picture.png);
    let blue: Vec<(usize, usize)> = (pixels.iter().enumerate())
        .filter(|(_, p)| **p == [0, 0, 255])
        .map(|(i, _)| (i % width, i / width))
        .collect();
    let top = blue.iter().map(|&(_, y)| y).min().unwrap();
    (blue.iter())
        .filter(|&&(_, y)| y <= top + 2)
        .map(|&(x, _)| x)
        .max()
        .unwrap()
}

#[test]
fn the_curves_draw_each_recorded_point_at_its_iteration() {
    let late = right_end_of_the_top_of_the_radius(&[1, 900, 1000]);
    let early = right_end_of_the_top_of_the_radius(&[1, 100, 1000]);
    // The plot is about 700 pixels wide: 80% of it apart.
    assert!(late > early + 450, "late {late}, early {early}");
    let unnumbered = right_end_of_the_top_of_the_radius(&[]);
    assert!(early < unnumbered && unnumbered < late, "{unnumbered}");
}

#[test]
fn maps_side_by_side_show_each_map_under_its_name() {
    let a = colour_map(10, 10);
    let b = two_halves(20, 20);
    let picture = comparison_png(&[("a", &rectangular(&a)), ("b", &rectangular(&b))], 100).unwrap();
    let decoded = decode(&picture.png);
    assert_eq!(
        (decoded.0, decoded.1),
        (16 + 100 + 16 + 100 + 16, UMATRIX_TOP + 100 + 16)
    );
    let expected = [0, 1, 2].map(|k| level(a[[0, 0, k]]));
    assert_eq!(pixel(&decoded, 16 + 5, UMATRIX_TOP + 5), expected);
    assert_eq!(
        pixel(&decoded, 16 + 100 + 16 + 2, UMATRIX_TOP + 2),
        [230, 26, 26]
    );
}

fn hexagonal(weights: &Array3<f64>, toroidal: bool) -> Map {
    Map::new(weights.clone(), Topology::Hexagonal, toroidal, None)
}

const SQRT_3: f64 = 1.732_050_807_568_877_2;

/// Where the centre of node `(r, c)` of a hexagonal picture at `scale` is, in pixels: its
/// position of SPEC §3b, times the scale, moved right by half a hexagon's width and down by
/// half its height.
fn hexagon_centre(r: isize, c: isize, scale: usize) -> (f64, f64) {
    let s = scale as f64;
    let shift = 0.5 * r.rem_euclid(2) as f64;
    (
        s * (c as f64 + 0.5 + shift),
        s * (1.0 / SQRT_3 + r as f64 * SQRT_3 / 2.0),
    )
}

/// The pixel holding the centre of node `(r, c)`.
fn centre_pixel(r: usize, c: usize, scale: usize) -> (usize, usize) {
    let (x, y) = hexagon_centre(r as isize, c as isize, scale);
    (x as usize, y as usize)
}

/// The node whose hexagon holds pixel `(x, y)` of a `rows x cols` map at `scale`, found by
/// brute force: the nearest centre among the nodes and a border of places around them.
fn hexagon_of_pixel(
    (x, y): (usize, usize),
    (rows, cols): (usize, usize),
    scale: usize,
) -> Option<[usize; 2]> {
    let (px, py) = (x as f64 + 0.5, y as f64 + 0.5);
    let mut best = (f64::INFINITY, -1, -1);
    for r in -1..=rows as isize {
        for c in -1..=cols as isize {
            let (cx, cy) = hexagon_centre(r, c, scale);
            let d2 = (px - cx).powi(2) + (py - cy).powi(2);
            if d2 < best.0 {
                best = (d2, r, c);
            }
        }
    }
    let (_, r, c) = best;
    let inside = (0..rows as isize).contains(&r) && (0..cols as isize).contains(&c);
    inside.then_some([r as usize, c as usize])
}

#[test]
fn a_hexagonal_map_is_hexagons_in_rows_offset_by_half_a_node_with_no_gaps() {
    let weights = colour_map(3, 5);
    let picture = map_png(&hexagonal(&weights, false), Some(20)).unwrap();
    assert_eq!(picture.scale, 20);
    let decoded = decode(&picture.png);
    // floor((5 + 1/2) 20) by round(20 (3 * 3 + 1) / (2 sqrt(3))) = round(57.7).
    assert_eq!((decoded.0, decoded.1), (110, 58));
    assert_eq!((picture.width, picture.height), (110, 58));
    let colour = |[r, c]: [usize; 2]| [0, 1, 2].map(|k| level(weights[[r, c, k]]));
    for r in 0..3 {
        for c in 0..5 {
            // A hexagon 20 wide reaches 10 pixels left and right of its centre and 11.5 up
            // and down.
            let (x, y) = centre_pixel(r, c, 20);
            for (x, y) in [(x, y), (x - 8, y), (x + 8, y), (x, y - 9), (x, y + 9)] {
                assert_eq!(
                    pixel(&decoded, x, y),
                    colour([r, c]),
                    "node ({r}, {c}) at ({x}, {y})"
                );
            }
        }
    }
    // Row 1 starts half a node in, and its last hexagon ends half a node past row 0's.
    let (_, y0) = centre_pixel(0, 0, 20);
    let (_, y1) = centre_pixel(1, 0, 20);
    assert_eq!(pixel(&decoded, 4, y0), colour([0, 0]));
    assert_eq!(pixel(&decoded, 4, y1), [255; 3]);
    assert_eq!(pixel(&decoded, 105, y0), [255; 3]);
    assert_eq!(pixel(&decoded, 105, y1), colour([1, 4]));
    // Every pixel is its nearest node's (regular hexagons tiling the plane), or white beyond
    // the map's edge.
    for y in 0..decoded.1 {
        for x in 0..decoded.0 {
            let expected = hexagon_of_pixel((x, y), (3, 5), 20).map_or([255; 3], colour);
            assert_eq!(pixel(&decoded, x, y), expected, "({x}, {y})");
        }
    }
}

#[test]
fn a_hexagonal_map_keeps_the_default_size_and_the_pixel_cap() {
    let layout = |rows, cols, scale| {
        let grid = Grid {
            rows,
            cols,
            topology: Topology::Hexagonal,
            toroidal: false,
        };
        Layout::new(&grid, scale).unwrap()
    };
    let ten = layout(10, 10, None);
    assert_eq!((ten.scale, ten.nodes_per_pixel), (40, 1));
    // round(40 (3 * 10 + 1) / (2 sqrt(3))) = round(357.96)
    assert_eq!(ten.size(10, 10), (420, 358));
    // Two pixels per node at least, so that every hexagon holds a pixel.
    let thousand = layout(1000, 1000, None);
    assert_eq!((thousand.scale, thousand.nodes_per_pixel), (2, 1));
    assert_eq!(thousand.size(1000, 1000), (2001, 1733));
    assert_eq!(layout(1000, 1000, Some(1)).scale, 1, "unless asked");
    let huge = layout(3000, 3000, None);
    assert_eq!((huge.scale, huge.nodes_per_pixel), (2, 3));
    let too_large = Grid {
        rows: 10,
        cols: 10,
        topology: Topology::Hexagonal,
        toroidal: false,
    };
    match Layout::new(&too_large, Some(1000)) {
        Err(RenderError::InvalidScale { max, .. }) => {
            let fits = |scale: usize| {
                let layout = Layout {
                    scale,
                    nodes_per_pixel: 1,
                    topology: Topology::Hexagonal,
                };
                let (width, height) = layout.size(10, 10);
                width * height <= MAX_PIXELS
            };
            assert!(fits(max) && !fits(max + 1), "{max}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_huge_hexagonal_map_is_averaged_down_in_hexagonal_blocks() {
    let weights = Array3::from_shape_fn((1100, 1100, 1), |(r, _, _)| (r % 2) as f64);
    let picture = map_png(&hexagonal(&weights, false), None).unwrap();
    assert_eq!((picture.nodes_per_pixel, picture.scale), (2, 2));
    // 550 x 550 blocks: floor(550.5 * 2) by round(2 (3 * 550 + 1) / (2 sqrt(3))).
    assert_eq!((picture.width, picture.height), (1101, 953));
    let decoded = decode(&picture.png);
    // Each block averages two black and two white nodes: mid-grey.
    assert_eq!(pixel(&decoded, 500, 500), [128; 3]);
}

/// The cells in which two hexagonal pictures of a `rows x cols` map at `scale` differ.
fn differing_hexagons(
    a: &[u8],
    b: &[u8],
    rows: usize,
    cols: usize,
    scale: usize,
) -> Vec<[usize; 2]> {
    let (a, b) = (decode(a), decode(b));
    assert_eq!((a.0, a.1), (b.0, b.1));
    let mut cells: Vec<[usize; 2]> = (0..a.1)
        .flat_map(|y| (0..a.0).map(move |x| (x, y)))
        .filter(|&(x, y)| pixel(&a, x, y) != pixel(&b, x, y))
        .map(|(x, y)| {
            hexagon_of_pixel((x, y), (rows, cols), scale)
                .unwrap_or_else(|| panic!("({x}, {y}) changed outside every hexagon"))
        })
        .collect();
    cells.sort();
    cells.dedup();
    cells
}

#[test]
fn hits_and_predictions_change_a_hexagonal_map_exactly_in_the_hexagons_hit() {
    let weights = colour_map(8, 9);
    let map = hexagonal(&weights, false);
    let best = [[1, 1], [1, 1], [1, 1], [5, 2], [7, 8], [0, 0]];
    let data = Array2::from_shape_fn((best.len(), 3), |(i, k)| {
        1.0 - weights[[best[i][0], best[i][1], k]]
    });
    let mut expected = best.to_vec();
    expected.sort();
    expected.dedup();
    // Even scales: an odd one puts the vertical edges of odd rows through pixels' centres,
    // where the brute force and the picture may pick either side. Below 8 pixels a mark
    // covers neighbours (see the markers' least size).
    for scale in [8, 12, 40] {
        let plain = map_png(&map, Some(scale)).unwrap();
        let hits = hits_png(&map, &hits_per_node(map.grid(), &best), Some(scale)).unwrap();
        let drawn = predictions_png(&map, data.view(), &best, Some(scale)).unwrap();
        for (what, picture) in [("hits", hits), ("predictions", drawn)] {
            assert_eq!(
                differing_hexagons(&plain.png, &picture.png, 8, 9, scale),
                expected,
                "{what} at scale {scale}"
            );
        }
    }
}

#[test]
fn the_hexagonal_u_matrix_averages_over_the_six_neighbours() {
    let weights = Array3::from_shape_fn((5, 5, 1), |(r, c, _)| f64::from((r, c) == (2, 2)));
    let values = umatrix(&hexagonal(&weights, false));
    // Row 2 is even: its neighbours in rows 1 and 3 are in columns 1 and 2.
    let six = [[1, 1], [1, 2], [2, 1], [2, 3], [3, 1], [3, 2]];
    for r in 0..5 {
        for c in 0..5 {
            let expected = if [r, c] == [2, 2] {
                1.0
            } else if six.contains(&[r, c]) {
                1.0 / 6.0
            } else {
                0.0
            };
            assert_eq!(values[[r, c]], expected, "({r}, {c})");
        }
    }
    assert!(
        umatrix(&rectangular(&weights))[[1, 3]] > 0.0,
        "a diagonal neighbour on a rectangular grid"
    );

    // Drawn as hexagons too, laid out as the map's picture under the title.
    let picture = umatrix_png(&hexagonal(&weights, false), "U-matrix", Some(20)).unwrap();
    let decoded = decode(&picture.png);
    // The hexagons are 110 x 92 pixels: the title, the colour bar and its labels set the size.
    assert_eq!(
        (decoded.0, decoded.1),
        (320, UMATRIX_TOP + 160 + UMATRIX_LEFT)
    );
    let cell = |r: usize, c: usize| {
        let (x, y) = centre_pixel(r, c, 20);
        pixel(&decoded, UMATRIX_LEFT + x, UMATRIX_TOP + y)
    };
    assert_ne!(cell(2, 2), cell(1, 2));
    assert_ne!(cell(1, 2), cell(1, 3));
    assert_eq!(cell(1, 3), cell(0, 0), "not a neighbour: the lowest colour");
    assert_eq!(cell(1, 2), cell(3, 1));
}

#[test]
fn a_toroidal_u_matrix_measures_across_the_wrap_edge() {
    // Columns 0, 1, 2, 3, 0: the first and the last are equal.
    let weights = Array3::from_shape_fn((4, 5, 1), |(_, c, _)| (c % 4) as f64);
    let flat = umatrix(&rectangular(&weights));
    let wrapped = umatrix(&Map::new(
        weights.clone(),
        Topology::Rectangular,
        true,
        None,
    ));
    // Node (1, 0): 3 neighbours in column 1 at distance 1, and either 2 in its own column
    // (flat) or also 3 in column 4 at distance 0 (wrapped).
    assert_eq!(flat[[1, 0]], 3.0 / 5.0);
    assert_eq!(wrapped[[1, 0]], 3.0 / 8.0);
    for r in 0..4 {
        assert!(wrapped[[r, 0]] < flat[[r, 0]], "row {r}");
    }

    // On a hexagonal torus every node has 6 neighbours, some across the edges.
    let weights = Array3::from_shape_fn((4, 4, 1), |(r, c, _)| f64::from((r, c) == (0, 0)));
    let values = umatrix(&hexagonal(&weights, true));
    assert_eq!(values[[0, 0]], 1.0);
    let touched: Vec<[usize; 2]> = values
        .indexed_iter()
        .filter(|&(_, &v)| v == 1.0 / 6.0)
        .map(|((r, c), _)| [r, c])
        .collect();
    assert_eq!(touched, [[0, 1], [0, 3], [1, 0], [1, 3], [3, 0], [3, 3]]);
}

#[test]
fn a_batch_record_draws_its_radius_and_errors_without_a_learning_rate() {
    let iterations: Vec<usize> = (1..=50).map(|t| t * 2).collect();
    let radii: Vec<f64> = (0..50).map(|t| 3.0 - t as f64 * 0.05).collect();
    let quality: Vec<[f64; 2]> = (0..50)
        .map(|t| [1.0 / (1.0 + t as f64), 0.5 * (-(t as f64) / 10.0).exp()])
        .collect();
    let picture = curves_png(
        "batch",
        &Curves {
            iterations: &iterations,
            radii: &radii,
            learning_rates: &[],
            quality: &quality,
        },
    )
    .unwrap();
    let decoded = decode(&picture.png);
    assert_eq!((decoded.0, decoded.1), (800, UMATRIX_TOP + 10 + 3 * 253));
    let count = |colour: RGBColor| {
        let wanted = [colour.0, colour.1, colour.2];
        decoded.2.iter().filter(|p| **p == wanted).count()
    };
    let [blue, red, quantization, topographic] = [
        plotters::style::BLUE,
        plotters::style::RED,
        charts::QUANTIZATION,
        charts::TOPOGRAPHIC,
    ]
    .map(count);
    assert!(
        blue > 500 && quantization > 500 && topographic > 500 && red == 0,
        "blue {blue}, quantization {quantization}, topographic {topographic}, red {red}"
    );
}

#[test]
fn a_scaled_model_is_drawn_in_the_data_units_on_its_grid() {
    use crate::storage::{LoadedMap, ModelMeta, OptionsRecord, ScalerRecord};
    let scaled = Array3::from_shape_fn((2, 3, 2), |(r, c, k)| (r * 3 + c) as f64 - 2.5 + k as f64);
    let meta = ModelMeta {
        options: Some(OptionsRecord {
            topology: Topology::Hexagonal,
            ..OptionsRecord::default()
        }),
        scaler: Some(ScalerRecord {
            kind: Scaling::Standard,
            offset: vec![10.0, -1.0],
            scale: vec![2.0, 0.5],
        }),
        ..ModelMeta::default()
    };
    let loaded = |meta: &ModelMeta| LoadedMap::new(scaled.view(), Some(meta)).unwrap();
    let map = Map::of_model(&loaded(&meta));
    assert_eq!(map.grid().topology, Topology::Hexagonal);
    assert_eq!(map.weights()[[1, 2, 0]], scaled[[1, 2, 0]] * 2.0 + 10.0);
    assert_eq!(map.weights()[[1, 2, 1]], scaled[[1, 2, 1]] * 0.5 - 1.0);
    let old = Map::of_model(&loaded(&ModelMeta::default()));
    assert_eq!(old.grid(), &Grid::rectangular(2, 3));
    assert_eq!(old.weights(), scaled.view());
}

/// The bounding box `[left, top, right, bottom]` (inclusive) of the pixels in which two
/// pictures of the same size differ.
fn changed_box(a: &[u8], b: &[u8]) -> [usize; 4] {
    let (a, b) = (decode(a), decode(b));
    assert_eq!((a.0, a.1), (b.0, b.1));
    let changed: Vec<(usize, usize)> = (0..a.1)
        .flat_map(|y| (0..a.0).map(move |x| (x, y)))
        .filter(|&(x, y)| pixel(&a, x, y) != pixel(&b, x, y))
        .collect();
    assert!(!changed.is_empty(), "nothing changed");
    [
        changed.iter().map(|p| p.0).min().unwrap(),
        changed.iter().map(|p| p.1).min().unwrap(),
        changed.iter().map(|p| p.0).max().unwrap(),
        changed.iter().map(|p| p.1).max().unwrap(),
    ]
}

#[test]
fn a_prediction_marker_is_at_least_six_pixels_across_on_a_100x100_map() {
    let weights = colour_map(100, 100);
    let data = Array2::from_shape_fn((1, 3), |(_, k)| 1.0 - weights[[50, 50, k]]);
    for map in [rectangular(&weights), hexagonal(&weights, false)] {
        let plain = map_png(&map, None).unwrap();
        assert!(
            plain.scale < 6,
            "the default draws nodes smaller than a mark"
        );
        let drawn = predictions_png(&map, data.view(), &[[50, 50]], None).unwrap();
        let [left, top, right, bottom] = changed_box(&plain.png, &drawn.png);
        assert!(
            right - left + 1 >= 6 && bottom - top + 1 >= 6,
            "{left} {top} {right} {bottom}"
        );
        // Centred on the node's cell.
        let (x, y) = match map.grid().topology {
            Topology::Rectangular => (50.5 * 4.0, 50.5 * 4.0),
            Topology::Hexagonal => hexagon_centre(50, 50, plain.scale),
        };
        let (mid_x, mid_y) = (
            (left + right + 1) as f64 / 2.0,
            (top + bottom + 1) as f64 / 2.0,
        );
        assert!(
            (mid_x - x).abs() <= 1.0 && (mid_y - y).abs() <= 1.0,
            "({mid_x}, {mid_y}) vs ({x}, {y})"
        );
    }
    // In a corner, whole inside the picture.
    let map = rectangular(&weights);
    let plain = map_png(&map, None).unwrap();
    let drawn = predictions_png(&map, data.view(), &[[99, 0]], None).unwrap();
    assert_eq!(changed_box(&plain.png, &drawn.png), [0, 394, 5, 399]);
    // At 8 pixels per node a mark is a disc inside its cell, still 6 across.
    let map = rectangular(&colour_map(10, 10));
    let plain = map_png(&map, Some(8)).unwrap();
    let drawn = hits_png(&map, &hits_per_node(map.grid(), &[[3, 4]]), Some(8)).unwrap();
    let [left, top, right, bottom] = changed_box(&plain.png, &drawn.png);
    assert!(right - left + 1 >= 6 && bottom - top + 1 >= 6);
    assert!(left >= 4 * 8 && right < 5 * 8 && top >= 3 * 8 && bottom < 4 * 8);
}

#[test]
fn size_gives_the_largest_scale_whose_picture_fits_on_its_longer_side() {
    let map = rectangular(&colour_map(7, 3));
    let picture = map_png(&map, Sizing::Size(100)).unwrap();
    assert_eq!((picture.scale, picture.width, picture.height), (14, 42, 98));
    let square = map_png(&rectangular(&colour_map(10, 10)), Sizing::Size(100)).unwrap();
    assert_eq!((square.width, square.height), (100, 100));
    // More nodes across than pixels: averaged down, blocks of 10 x 10 nodes.
    let large = Array3::from_shape_fn((1000, 1000, 1), |(r, _, _)| (r % 2) as f64);
    let picture = map_png(&rectangular(&large), Sizing::Size(100)).unwrap();
    assert_eq!(
        (picture.nodes_per_pixel, picture.width, picture.height),
        (10, 100, 100)
    );
    assert_eq!(pixel(&decode(&picture.png), 50, 50), [128; 3]);
    let hex = map_png(&hexagonal(&colour_map(6, 7), false), Sizing::Size(150)).unwrap();
    // floor(7.5 s) <= 150 and round(s 19 / (2 sqrt(3))) <= 150: s = 20.
    assert_eq!((hex.scale, hex.width, hex.height), (20, 150, 110));
    // A chart fits whole, its title and colour bar too.
    let umatrix = umatrix_png(&rectangular(&colour_map(30, 30)), "U", Sizing::Size(400)).unwrap();
    assert!(
        umatrix.width.max(umatrix.height) <= 400,
        "{}x{}",
        umatrix.width,
        umatrix.height
    );
    assert!(
        umatrix.width.max(umatrix.height) > 370,
        "the largest that fits"
    );
    assert!(matches!(
        umatrix_png(&map, "U", Sizing::Size(100)),
        Err(RenderError::SizeTooSmall { least, .. }) if least > 100
    ));
}

#[test]
fn size_is_checked_and_does_not_go_with_scale() {
    assert_eq!(Sizing::new(None, None).unwrap(), Sizing::Default);
    assert_eq!(Sizing::new(Some(3), None).unwrap(), Sizing::Scale(3));
    assert_eq!(Sizing::new(None, Some(16)).unwrap(), Sizing::Size(16));
    assert!(matches!(
        Sizing::new(Some(3), Some(100)),
        Err(RenderError::SizeAndScale)
    ));
    for size in [0, 15, 2001, usize::MAX] {
        assert!(
            matches!(
                Sizing::new(None, Some(size)),
                Err(RenderError::InvalidSize { .. })
            ),
            "{size}"
        );
    }
}

/// A `(rows, cols, 3)` map whose feature `k` rises along the columns, the rows, and both.
fn three_features(rows: usize, cols: usize) -> Array3<f64> {
    Array3::from_shape_fn((rows, cols, 3), |(r, c, k)| match k {
        0 => c as f64 * 10.0,
        1 => r as f64 - 100.0,
        _ => (r + c) as f64 / 1000.0,
    })
}

fn names(count: usize) -> Vec<String> {
    (0..count).map(|k| format!("feature {k}")).collect()
}

/// Whether a row of pixels from `left` to `right` (excluded) has dark (text) pixels.
fn has_dark_pixels(
    decoded: &(usize, usize, Vec<[u8; 3]>),
    y: std::ops::Range<usize>,
    x: std::ops::Range<usize>,
) -> bool {
    y.flat_map(|y| x.clone().map(move |x| (x, y)))
        .any(|(x, y)| pixel(decoded, x, y).iter().all(|&v| v < 100))
}

#[test]
fn components_draw_a_titled_panel_per_feature_in_the_data_units() {
    let weights = three_features(4, 5);
    let picture = components_png(&rectangular(&weights), &names(3), None, Some(10)).unwrap();
    let decoded = decode(&picture.png);
    // Three panels, two across and two down, the fourth place empty.
    let (panel_width, panel_height) = figure::panel_size((50, 40));
    assert_eq!((decoded.0, decoded.1), (2 * panel_width, 2 * panel_height));
    for slot in 0..4 {
        let (left, top) = (slot % 2 * panel_width, slot / 2 * panel_height);
        let titled = has_dark_pixels(
            &decoded,
            top..top + figure::PANEL_TITLE,
            left..left + panel_width,
        );
        assert_eq!(titled, slot < 3, "panel {slot}");
        let map = |r: usize, c: usize| {
            pixel(
                &decoded,
                left + figure::PANEL_PAD + c * 10 + 5,
                top + figure::PANEL_TITLE + r * 10 + 5,
            )
        };
        // Viridis from the feature's lowest value (dark purple) to its highest (yellow).
        let (lowest, highest) = ([68, 1, 84], [254, 232, 37]);
        match slot {
            0 => assert_eq!((map(2, 0), map(2, 4)), (lowest, highest)),
            1 => assert_eq!((map(0, 2), map(3, 2)), (lowest, highest)),
            2 => assert_eq!((map(0, 0), map(3, 4)), (lowest, highest)),
            _ => assert_eq!(map(1, 1), [255; 3]),
        }
    }

    let one = components_png(&rectangular(&weights), &names(3), Some(1), Some(10)).unwrap();
    let single = decode(&one.png);
    assert_eq!((single.0, single.1), (panel_width, panel_height));
    assert_eq!(
        pixel(&single, figure::PANEL_PAD + 25, figure::PANEL_TITLE + 35),
        [254, 232, 37]
    );
}

#[test]
fn components_name_their_features_and_draw_at_most_sixty_four_at_once() {
    let named: Vec<String> = ["red", "green", "blue"].map(String::from).to_vec();
    assert_eq!(feature_index(&named, "green").unwrap(), 1);
    assert_eq!(feature_index(&named, "2").unwrap(), 2);
    for unknown in ["3", "purple", ""] {
        match feature_index(&named, unknown) {
            Err(RenderError::UnknownFeature(message)) => {
                assert!(
                    message.contains("0 to 2") && message.contains("\"red\""),
                    "{message}"
                )
            }
            other => panic!("{unknown}: {other:?}"),
        }
    }
    let map = rectangular(&three_features(3, 3));
    assert!(matches!(
        components_png(&map, &named, Some(3), None),
        Err(RenderError::UnknownFeature(_))
    ));
    let wide = rectangular(&Array3::from_shape_fn((2, 2, 65), |(r, c, k)| {
        (r + c + k) as f64
    }));
    assert!(matches!(
        components_png(&wide, &names(65), None, None),
        Err(RenderError::TooManyPanels { features: 65 })
    ));
    let one = components_png(&wide, &names(65), Some(64), None).unwrap();
    assert!(one.width > 400);
    let sixty_four = rectangular(&Array3::from_shape_fn((10, 10, 64), |(r, c, k)| {
        (r * c + k) as f64
    }));
    let picture = components_png(&sixty_four, &names(64), None, None).unwrap();
    assert!(picture.width * picture.height <= MAX_PIXELS);
    assert_eq!(
        picture.width,
        8 * figure::panel_size((10 * picture.scale, 0)).0
    );
}

#[test]
fn components_of_a_hexagonal_map_are_hexagons() {
    let weights = three_features(4, 5);
    let picture =
        components_png(&hexagonal(&weights, false), &names(3), Some(0), Some(20)).unwrap();
    let decoded = decode(&picture.png);
    let at = |x: usize, y: usize| pixel(&decoded, figure::PANEL_PAD + x, figure::PANEL_TITLE + y);
    // The corner of the bounding box of the first hexagon shows the background; its centre
    // and the first of row 1 (shifted right by half a node) have the column's colours.
    assert_eq!(at(0, 0), [255; 3]);
    let (x, y) = centre_pixel(0, 0, 20);
    assert_eq!(at(x, y), [68, 1, 84]);
    let (x, y) = centre_pixel(1, 4, 20);
    assert_eq!(at(x, y), [254, 232, 37]);
    assert_eq!(
        at(2, centre_pixel(1, 0, 20).1),
        [255; 3],
        "odd rows start half a node in"
    );
}

#[test]
fn the_figure_has_ticks_a_title_and_says_how_colours_were_made() {
    use figure::{FIGURE_LEFT, FIGURE_TOP, TICK};
    let map = rectangular(&colour_map(10, 10));
    let picture = figure_png(&map, "my map", Some(20)).unwrap();
    let decoded = decode(&picture.png);
    assert_eq!(picture.mapping, Some(Mapping::Rgb));
    // The map's cells where they are said to be.
    let expected = [0, 1, 2].map(|k| level(colour_map(10, 10)[[3, 4, k]]));
    assert_eq!(
        pixel(
            &decoded,
            FIGURE_LEFT + 4 * 20 + 10,
            FIGURE_TOP + 3 * 20 + 10
        ),
        expected
    );
    let is_black = |x: usize, y: usize| pixel(&decoded, x, y) == [0; 3];
    // Every other row and column (40 pixels apart) has a tick: rows left of the map, columns
    // under it; none between them.
    for node in 0..10 {
        let middle = node * 20 + 10;
        let row_tick = is_black(FIGURE_LEFT - TICK as usize / 2, FIGURE_TOP + middle);
        let col_tick = is_black(FIGURE_LEFT + middle, FIGURE_TOP + 200 + TICK as usize / 2);
        assert_eq!(
            (row_tick, col_tick),
            (node % 2 == 0, node % 2 == 0),
            "node {node}"
        );
    }
    assert!(
        !is_black(FIGURE_LEFT - 3, FIGURE_TOP + 20),
        "between two ticks"
    );
    assert!(
        has_dark_pixels(&decoded, 0..FIGURE_TOP, 0..decoded.0),
        "a title"
    );
    // The numbers beside the ticks.
    assert!(has_dark_pixels(
        &decoded,
        FIGURE_TOP..FIGURE_TOP + 20,
        0..FIGURE_LEFT - TICK as usize
    ));
    let height_without_legend = decoded.1;

    // D = 5: a legend under the ticks; a long title shortened inside the picture.
    let five = rectangular(&Array3::from_shape_fn((10, 10, 5), |(r, c, k)| {
        (r * k + c) as f64
    }));
    let long = "a".repeat(300);
    let picture = figure_png(&five, &long, Some(20)).unwrap();
    assert_eq!(picture.mapping, Some(Mapping::Pca));
    let decoded = decode(&picture.png);
    assert!(decoded.1 > height_without_legend);
    assert!(
        has_dark_pixels(&decoded, height_without_legend..decoded.1, 0..decoded.0),
        "a legend"
    );
    let (first, last) = {
        let dark: Vec<usize> = (0..FIGURE_TOP)
            .flat_map(|y| (0..decoded.0).map(move |x| (x, y)))
            .filter(|&(x, y)| pixel(&decoded, x, y).iter().all(|&v| v < 100))
            .map(|(x, _)| x)
            .collect();
        (*dark.iter().min().unwrap(), *dark.iter().max().unwrap())
    };
    assert!(
        first >= 4 && last + 4 < decoded.0,
        "the title fits: {first}..{last} of {}",
        decoded.0
    );
}

#[test]
fn labels_png_colours_a_node_by_its_majority_label_shaded_by_its_hits() {
    let map = rectangular(&colour_map(4, 4));
    let mut hits = vec![0u64; 16];
    let mut majority = vec![None; 16];
    hits[5] = 9; // (1, 1): the most hits, label 1
    majority[5] = Some(1);
    hits[10] = 1; // (2, 2): a ninth of the most, label 0
    majority[10] = Some(0);
    let label_names = ["cat", "dog"].map(String::from).to_vec();
    let picture = labels_png(&map, &hits, &majority, &label_names, Some(20)).unwrap();
    let decoded = decode(&picture.png);
    let node = |r: usize, c: usize| pixel(&decoded, c * 20 + 10, r * 20 + 10);
    assert_eq!(
        node(1, 1),
        figure::label_colour(1),
        "all of its label's colour"
    );
    // A third (sqrt(1/9)) of the way from the least shade to the full colour.
    let shade = figure::LEAST_SHADE + (1.0 - figure::LEAST_SHADE) / 3.0;
    let paler =
        figure::label_colour(0).map(|v| (255.0 - (255.0 - f64::from(v)) * shade).round() as u8);
    assert_eq!(node(2, 2), paler);
    assert_eq!(node(0, 0), figure::NO_LABEL, "the legend's grey, unshaded");
    // The legend, right of the map: a swatch per label then one for no label, with names.
    let swatch = |index: usize| pixel(&decoded, 80 + 16 + 4, 12 + index * 18 + 4);
    assert_eq!(swatch(0), figure::label_colour(0));
    assert_eq!(swatch(1), figure::label_colour(1));
    assert_eq!(swatch(2), figure::NO_LABEL);
    assert!(
        has_dark_pixels(&decoded, 12..30, 80 + 16 + 14..decoded.0),
        "a name"
    );
    assert!(matches!(
        labels_png(&map, &hits[..15], &majority, &label_names, None),
        Err(RenderError::NothingToDraw(_))
    ));
    assert_ne!(figure::label_colour(10), figure::label_colour(11));
}

#[test]
fn hits_from_the_training_data_shade_where_the_data_is_on_a_hexagonal_map() {
    let map = hexagonal(&colour_map(5, 6), false);
    let mut hits = vec![0u64; 30];
    hits[2 * 6 + 3] = 4;
    hits[4 * 6 + 5] = 1;
    let plain = map_png(&map, Some(20)).unwrap();
    let drawn = hits_png(&map, &hits, Some(20)).unwrap();
    assert_eq!(
        differing_hexagons(&plain.png, &drawn.png, 5, 6, 20),
        vec![[2, 3], [4, 5]]
    );
}
