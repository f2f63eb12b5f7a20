use ndarray::{Array2, Array3};

use super::charts::{UMATRIX_LEFT, UMATRIX_TOP};
use super::*;

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

fn level(value: f64) -> u8 {
    (value * 255.0).round() as u8
}

#[test]
fn the_map_is_cols_times_scale_wide_and_every_node_fills_its_cell_with_its_colour() {
    let weights = colour_map(3, 5);
    let picture = map_png(weights.view(), Some(7)).unwrap();
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
    assert_eq!(Layout::new(10, 10, None).unwrap().scale, 40);
    assert_eq!(Layout::new(100, 100, None).unwrap().scale, 4);
    assert_eq!(Layout::new(1000, 1000, None).unwrap().scale, 1);
    let huge = Layout::new(3000, 3000, None).unwrap();
    assert_eq!((huge.scale, huge.nodes_per_pixel), (1, 2));
    let picture = map_png(colour_map(10, 10).view(), None).unwrap();
    assert_eq!((picture.width, picture.height), (400, 400));
    let wide = map_png(Array3::<f64>::zeros((1, 3, 3)).view(), None).unwrap();
    assert_eq!((wide.width, wide.height), (399, 133));
}

#[test]
fn a_huge_map_is_averaged_down_under_the_pixel_cap() {
    let weights = Array3::from_shape_fn((2100, 2000, 1), |(r, _, _)| (r % 2) as f64);
    let picture = map_png(weights.view(), None).unwrap();
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
        match map_png(weights.view(), Some(scale)) {
            Err(RenderError::InvalidScale { max, .. }) => assert_eq!(max, 200),
            other => panic!("scale {scale}: {other:?}"),
        }
    }
    assert!(map_png(weights.view(), Some(200)).is_ok());
}

#[test]
fn colours_outside_zero_one_are_min_max_scaled_per_channel() {
    let weights = colour_map(4, 4).mapv(|v| v * 255.0);
    let picture = map_png(weights.view(), Some(1)).unwrap();
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
    let picture = map_png(grey.view(), Some(1)).unwrap();
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
    let picture = map_png(weights.view(), Some(1)).unwrap();
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
    let values = umatrix(weights.view());
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
    let picture = umatrix_png(weights.view(), "U-matrix", Some(10)).unwrap();
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
    for scale in [2, 5, 40] {
        let map = map_png(weights.view(), Some(scale)).unwrap();
        let drawn = predictions_png(weights.view(), data.view(), &best, Some(scale)).unwrap();
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
    let map = map_png(weights.view(), Some(30)).unwrap();
    let hits = hits_png(weights.view(), &best, Some(30)).unwrap();
    assert_eq!(
        differing_cells(&map.png, &hits.png, 30),
        vec![[1, 1], [5, 2], [7, 7]]
    );
}

#[test]
fn the_curves_draw_both_series_with_their_colours() {
    let radii: Vec<f64> = (0..100).map(|t| 5.0 * (-(t as f64) / 50.0).exp()).collect();
    let rates: Vec<f64> = (0..100).map(|t| 0.1 * (-(t as f64) / 50.0).exp()).collect();
    let picture = curves_png("training", &[], &radii, &rates).unwrap();
    let decoded = decode(&picture.png);
    assert_eq!((decoded.0, decoded.1), (800, 560));
    let blue = decoded.2.iter().filter(|p| **p == [0, 0, 255]).count();
    let red = decoded.2.iter().filter(|p| **p == [255, 0, 0]).count();
    assert!(blue > 500 && red > 500, "blue {blue}, red {red}");
    assert!(matches!(
        curves_png("t", &[], &[], &[]),
        Err(RenderError::NothingToDraw(_))
    ));
}

/// The rightmost column of the highest blue (radius) pixels.
fn right_end_of_the_top_of_the_radius(iterations: &[usize]) -> usize {
    let picture = curves_png("t", iterations, &[5.0, 5.0, 0.0], &[0.1, 0.1, 0.0]).unwrap();
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
    let picture = comparison_png(&[("a", a.view()), ("b", b.view())], 100).unwrap();
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
