//! The picture endpoints under `/models/{name}/`, over a real socket: real PNGs, decoded.

mod common;

use common::{colours, send, spawn_app};
use kohonen::som::{Scaling, Topology};
use kohonen::storage::{
    FolderRepository, ModelMeta, ModelRepository, OptionsRecord, ScalerRecord, TrainingStatus,
};
use ndarray::Array3;
use ndarray_npy::ReadNpyExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Width, height and RGB pixels of a PNG.
fn decode(bytes: &[u8]) -> (usize, usize, Vec<[u8; 3]>) {
    let mut reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buffer = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buffer).unwrap();
    let pixels = buffer[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width as usize, info.height as usize, pixels)
}

async fn train_10x10(app: &common::TestApp) -> (String, Array3<f64>) {
    let answer: Value = send(
        app,
        Method::POST,
        "/train",
        &json!({"training_data": colours(10), "grid_shape": [10, 10], "max_iterations": 100, "seed": 3}),
    )
    .await
    .json()
    .await
    .unwrap();
    let name = answer["operation-location"].as_str().unwrap().to_owned();
    let bytes = app
        .client
        .get(app.url(&format!("/download/{name}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    (name, Array3::read_npy(&bytes[..]).unwrap())
}

async fn get(app: &common::TestApp, path: &str) -> reqwest::Response {
    app.client.get(app.url(path)).send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_map_picture_shows_every_node_in_its_own_colour_and_is_cached_by_etag() {
    let app = spawn_app().await;
    let (name, weights) = train_10x10(&app).await;
    let response = get(&app, &format!("/models/{name}/image.png?scale=12")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/png");
    assert_eq!(response.headers()["x-colour-mapping"], "rgb");
    assert_eq!(response.headers()["x-scale"], "12");
    let etag = response.headers()["etag"].to_str().unwrap().to_owned();
    let (width, height, pixels) = decode(&response.bytes().await.unwrap());
    assert_eq!((width, height), (120, 120));
    for r in 0..10 {
        for c in 0..10 {
            let expected = [0, 1, 2].map(|k| (weights[[r, c, k]] * 255.0).round() as u8);
            assert_eq!(
                pixels[(r * 12 + 6) * width + c * 12 + 6],
                expected,
                "node ({r}, {c})"
            );
        }
    }
    let again = app
        .client
        .get(app.url(&format!("/models/{name}/image.png?scale=12")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
    assert!(again.bytes().await.unwrap().is_empty());
    let other_scale = app
        .client
        .get(app.url(&format!("/models/{name}/image.png")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_scale.status(),
        StatusCode::OK,
        "another scale is another picture"
    );
    let (width, height, _) = decode(&other_scale.bytes().await.unwrap());
    assert_eq!((width, height), (400, 400), "the default scale");

    // Replacing the model changes the picture's ETag.
    let mut inverted = Vec::new();
    ndarray_npy::WriteNpyExt::write_npy(&weights.mapv(|w| 1.0 - w), &mut inverted).unwrap();
    let replaced = app
        .client
        .put(app.url(&format!("/models/{name}?replace=true")))
        .body(inverted)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let fresh = app
        .client
        .get(app.url(&format!("/models/{name}/image.png?scale=12")))
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(fresh.status(), StatusCode::OK);
    let (_, _, pixels) = decode(&fresh.bytes().await.unwrap());
    let expected = [0, 1, 2].map(|k| ((1.0 - weights[[0, 0, k]]) * 255.0).round() as u8);
    assert_eq!(pixels[6 * 120 + 6], expected);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predictions_and_hits_are_drawn_over_the_map_at_the_predicted_cells() {
    let app = spawn_app().await;
    let (name, _) = train_10x10(&app).await;
    let vectors = json!([[0.9, 0.1, 0.1], [0.1, 0.9, 0.1], [0.1, 0.1, 0.9]]);
    let predicted: Value = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": name, "test_data": vectors}),
    )
    .await
    .json()
    .await
    .unwrap();
    let mut cells: Vec<[usize; 2]> =
        serde_json::from_value(predicted["predictions"].clone()).unwrap();
    cells.sort();
    cells.dedup();
    let map = decode(
        &get(&app, &format!("/models/{name}/image.png?scale=30"))
            .await
            .bytes()
            .await
            .unwrap(),
    );
    for picture in ["predictions.png", "hits.png"] {
        let response = send(
            &app,
            Method::POST,
            &format!("/models/{name}/{picture}?scale=30"),
            &json!({"test_data": vectors}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{picture}");
        let drawn = decode(&response.bytes().await.unwrap());
        assert_eq!((drawn.0, drawn.1), (300, 300));
        let mut changed: Vec<[usize; 2]> = (0..300 * 300)
            .filter(|&i| map.2[i] != drawn.2[i])
            .map(|i| [i / 300 / 30, i % 300 / 30])
            .collect();
        changed.sort();
        changed.dedup();
        assert_eq!(changed, cells, "{picture}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_u_matrix_and_the_curves_are_pngs_with_their_own_size() {
    let app = spawn_app().await;
    let (name, _) = train_10x10(&app).await;
    for (path, size) in [
        (format!("/models/{name}/umatrix.png"), None),
        (format!("/models/{name}/curves.png/"), Some((800, 560))),
    ] {
        let response = get(&app, &path).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert!(response.headers().contains_key("etag"));
        let (width, height, pixels) = decode(&response.bytes().await.unwrap());
        if let Some(size) = size {
            assert_eq!((width, height), size);
        }
        assert!(width >= 400 && height >= 400, "{path}: {width}x{height}");
        let white = pixels.iter().filter(|p| **p == [255; 3]).count();
        assert!(white < pixels.len(), "{path} has a drawing");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_picture_requests_are_4xx_with_the_usual_json() {
    let app = spawn_app().await;
    let (name, _) = train_10x10(&app).await;
    let imported = app
        .client
        .put(app.url("/models/imported"))
        .body(std::fs::read(common::fixture("npy-edge/f32_4x6x3.npy")).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(imported.status(), StatusCode::CREATED);
    let before = app.stored();
    let cases: Vec<(Method, String, Value, StatusCode, &str)> = vec![
        (
            Method::GET,
            "/models/nobody/image.png".into(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            Method::GET,
            "/models/nobody/umatrix.png".into(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            Method::GET,
            "/models/nobody/curves.png".into(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            Method::POST,
            "/models/nobody/hits.png".into(),
            json!({"test_data": [[0.1, 0.2, 0.3]]}),
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            Method::POST,
            "/models/nobody/predictions.png".into(),
            json!({"test_data": [[0.1, 0.2, 0.3]]}),
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            Method::GET,
            format!("/models/{name}/image.png?scale=0"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scale",
        ),
        (
            Method::GET,
            format!("/models/{name}/umatrix.png?scale=100000000000"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scale",
        ),
        (
            Method::GET,
            format!("/models/{name}/image.png?scale=big"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            Method::GET,
            format!("/models/{name}/image.png?scale=-1"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            Method::POST,
            format!("/models/{name}/predictions.png"),
            json!({"test_data": [[0.1, 0.2]]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "dimension_mismatch",
        ),
        (
            Method::POST,
            format!("/models/{name}/hits.png"),
            json!({"test_data": []}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            Method::POST,
            format!("/models/{name}/hits.png"),
            json!({}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            Method::POST,
            format!("/models/{name}/predictions.png?scale=0"),
            json!({"test_data": [[0.1, 0.2, 0.3]]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_scale",
        ),
        (
            Method::GET,
            "/models/imported/curves.png".into(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            Method::GET,
            "/models/..%2Fx/image.png".into(),
            Value::Null,
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            Method::POST,
            "/models/..%2Fx/hits.png".into(),
            json!({"test_data": [[0.1, 0.2, 0.3]]}),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            Method::GET,
            format!("/models/{name}/labels.png"),
            Value::Null,
            StatusCode::NOT_FOUND,
            "no_labels",
        ),
        (
            Method::GET,
            format!("/models/{name}/image.png?size=100&scale=3"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_size",
        ),
        (
            Method::GET,
            format!("/models/{name}/figure.png?size=15"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_size",
        ),
        (
            Method::GET,
            format!("/models/{name}/umatrix.png?size=100"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_size",
        ),
        (
            Method::GET,
            format!("/models/{name}/components.png?size=99999999999999999999999"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            Method::POST,
            format!("/models/{name}/hits.png?size=2001"),
            json!({"test_data": [[0.1, 0.2, 0.3]]}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_size",
        ),
        (
            Method::GET,
            format!("/models/{name}/components.png?feature=3"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_feature",
        ),
        (
            Method::GET,
            format!("/models/{name}/components.png?feature=weight"),
            Value::Null,
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_feature",
        ),
        (
            Method::GET,
            "/models/nobody/components.png".into(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            Method::GET,
            "/models/nobody/figure.png".into(),
            Value::Null,
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
    ];
    for (method, path, body, status, code) in cases {
        let mut request = app.client.request(method.clone(), app.url(&path));
        if !body.is_null() {
            request = request.body(body.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["code"], code, "{method} {path}: {answer}");
        if path.contains("size=9999") {
            assert!(
                answer["message"].as_str().unwrap().contains("\"size\""),
                "{answer}"
            );
        }
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(app.stored(), before, "a picture request stores nothing");
    app.stop().await;
}

/// Stores `weights` as the trained model `name` with `meta`'s options, as a training would.
fn store_model(app: &common::TestApp, name: &str, weights: &Array3<f64>, meta: ModelMeta) {
    let (rows, cols, dim) = weights.dim();
    let meta = ModelMeta {
        name: name.to_owned(),
        status: TrainingStatus::Succeeded,
        grid_shape: Some([rows, cols]),
        dim: Some(dim),
        ..meta
    };
    FolderRepository::open(app.models_dir())
        .unwrap()
        .commit_model(&meta, weights)
        .unwrap();
}

fn hexagonal() -> ModelMeta {
    ModelMeta {
        options: Some(OptionsRecord {
            topology: Topology::Hexagonal,
            ..OptionsRecord::default()
        }),
        ..ModelMeta::default()
    }
}

/// A `(rows, cols, 3)` map with every weight in [0, 1], all nodes different.
fn colour_map(rows: usize, cols: usize) -> Array3<f64> {
    Array3::from_shape_fn((rows, cols, 3), |(r, c, k)| {
        ((r * 7 + c * 13 + k * 29) % 97) as f64 / 96.0
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hexagonal_model_is_drawn_as_hexagons_in_every_picture() {
    let app = spawn_app().await;
    let weights = colour_map(6, 7);
    store_model(&app, "hex", &weights, hexagonal());
    let colour = |r: usize, c: usize| [0, 1, 2].map(|k| (weights[[r, c, k]] * 255.0).round() as u8);

    let response = get(&app, "/models/hex/image.png?scale=40").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-scale"], "40");
    let (width, height, pixels) = decode(&response.bytes().await.unwrap());
    // floor((7 + 1/2) 40) by round(40 (3 * 6 + 1) / (2 sqrt(3))) = round(219.4).
    assert_eq!((width, height), (300, 219));
    // Node (r, c) is centred at (40 (c + 1/2 + (r mod 2)/2), 40 (1/sqrt(3) + r sqrt(3)/2)).
    let at = |x: usize, y: usize| pixels[y * width + x];
    assert_eq!(at(20, 23), colour(0, 0));
    assert_eq!(
        at(280, 57),
        colour(1, 6),
        "odd rows are shifted right by half a node"
    );
    assert_eq!(at(5, 57), [255; 3], "nothing left of an odd row");
    assert_eq!(at(295, 23), [255; 3], "nothing right of an even row");

    let response = get(&app, "/models/hex/umatrix.png?scale=40").await;
    assert_eq!(response.status(), StatusCode::OK);
    let (width, height, _) = decode(&response.bytes().await.unwrap());
    // The hexagons (300 x 219) with a margin of 12, the title's 44 above, the colour bar
    // (16 + 20 wide) and its labels (80) on the right.
    assert_eq!((width, height), (12 + 300 + 16 + 20 + 80, 44 + 219 + 12));

    let response = send(
        &app,
        Method::POST,
        "/models/hex/hits.png?scale=40",
        &json!({"test_data": [[0.9, 0.1, 0.1]]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let (width, height, _) = decode(&response.bytes().await.unwrap());
    assert_eq!((width, height), (300, 219));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scaled_model_is_drawn_in_the_units_of_its_data() {
    let app = spawn_app().await;
    // Weights in scaled units from -3 to 3; in the data's units, 0.2 to 0.8: drawn as they
    // are (RGB), not stretched over the whole range as the scaled ones would be.
    let scaled = colour_map(5, 4).mapv(|w| w * 6.0 - 3.0);
    let (offset, scale) = (vec![0.5, 0.4, 0.6], vec![0.1, 0.1, 0.05]);
    let mut data_units = scaled.clone();
    for mut node in data_units.lanes_mut(ndarray::Axis(2)) {
        for ((w, offset), scale) in node.iter_mut().zip(&offset).zip(&scale) {
            *w = *w * scale + offset;
        }
    }
    let scaler = ScalerRecord {
        kind: Scaling::Standard,
        offset,
        scale,
    };
    let with_scaler = ModelMeta {
        scaler: Some(scaler),
        ..ModelMeta::default()
    };
    store_model(&app, "scaled", &scaled, with_scaler);
    store_model(&app, "unscaled", &data_units, ModelMeta::default());
    let mut pictures = Vec::new();
    for name in ["scaled", "unscaled"] {
        let response = get(&app, &format!("/models/{name}/image.png?scale=10")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["x-colour-mapping"], "rgb", "{name}");
        pictures.push(response.bytes().await.unwrap());
    }
    assert!(pictures[0] == pictures[1], "the same picture");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_curves_of_a_batch_model_show_its_errors() {
    let app = spawn_app().await;
    let batch = ModelMeta {
        max_iterations: Some(20),
        recorded_iterations: Some((1..=20).collect()),
        radius_per_iteration: Some((0..20).map(|t| 3.0 - 0.1 * f64::from(t)).collect()),
        quality_per_iteration: Some((0..20).map(|t| [1.0 / f64::from(t + 1), 0.1]).collect()),
        ..ModelMeta::default()
    };
    store_model(&app, "batch", &colour_map(3, 3), batch);
    let response = get(&app, "/models/batch/curves.png").await;
    assert_eq!(response.status(), StatusCode::OK);
    let (width, height, _) = decode(&response.bytes().await.unwrap());
    assert_eq!((width, height), (800, 44 + 10 + 3 * 253), "three panels");
    app.stop().await;
}

/// Whether any pixel of the rows `y` and columns `x` is dark, as text is.
fn has_dark_pixels(
    (width, _, pixels): &(usize, usize, Vec<[u8; 3]>),
    y: std::ops::Range<usize>,
    x: std::ops::Range<usize>,
) -> bool {
    y.flat_map(|y| x.clone().map(move |x| (x, y)))
        .any(|(x, y)| pixels[y * width + x].iter().all(|&v| v < 100))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn components_show_a_titled_panel_per_feature_or_the_one_asked_for() {
    let app = spawn_app().await;
    // Feature 0 rises along the columns, 1 down the rows, 2 is constant: in data units.
    let weights = Array3::from_shape_fn((4, 5, 3), |(r, c, k)| match k {
        0 => c as f64 * 100.0,
        1 => -(r as f64),
        _ => 7.0,
    });
    store_model(&app, "three", &weights, ModelMeta::default());
    let response = get(&app, "/models/three/components.png?scale=10").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().contains_key("etag"));
    let all = decode(&response.bytes().await.unwrap());
    // Two panels across and two down, each 12 + 50 + 8 + 20 + 64 wide and 28 + 60 + 12 high
    // (the colour bar is at least 60 high).
    let (panel_width, panel_height) = (154, 100);
    assert_eq!((all.0, all.1), (2 * panel_width, 2 * panel_height));
    for slot in 0..4 {
        let (left, top) = (slot % 2 * panel_width, slot / 2 * panel_height);
        let titled = has_dark_pixels(&all, top..top + 28, left..left + panel_width);
        assert_eq!(titled, slot < 3, "panel {slot}'s title");
    }
    let at = |picture: &(usize, usize, Vec<[u8; 3]>), left: usize, r: usize, c: usize| {
        picture.2[(28 + r * 10 + 5) * picture.0 + left + 12 + c * 10 + 5]
    };
    let (lowest, highest) = ([68, 1, 84], [254, 232, 37]);
    assert_eq!((at(&all, 0, 0, 0), at(&all, 0, 0, 4)), (lowest, highest));
    assert_eq!(
        (at(&all, panel_width, 3, 0), at(&all, panel_width, 0, 0)),
        (lowest, highest)
    );

    for feature in ["1", "feature%201"] {
        let response = get(
            &app,
            &format!("/models/three/components.png?scale=10&feature={feature}"),
        )
        .await;
        assert_eq!(response.status(), StatusCode::OK, "{feature}");
        let one = decode(&response.bytes().await.unwrap());
        assert_eq!((one.0, one.1), (panel_width, panel_height), "{feature}");
        assert_eq!(at(&one, 0, 0, 2), highest, "{feature}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_figure_and_size_fit_the_picture_to_the_asked_side() {
    let app = spawn_app().await;
    let (name, _) = train_10x10(&app).await;
    let response = get(&app, &format!("/models/{name}/figure.png?scale=20")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-colour-mapping"], "rgb");
    let figure = decode(&response.bytes().await.unwrap());
    // The map at (48, 44), ticks under the columns every other node, the name above.
    assert_eq!((figure.0, figure.1), (48 + 200 + 24, 44 + 200 + 32));
    let black = |x: usize, y: usize| figure.2[y * figure.0 + x] == [0; 3];
    assert!(black(48 + 10, 44 + 200 + 3) && black(48 + 50, 44 + 200 + 3));
    assert!(!black(48 + 30, 44 + 200 + 3));
    assert!(has_dark_pixels(&figure, 0..44, 0..figure.0));

    for (picture, size, expected) in [
        ("image.png", 100, (100, 100)),
        ("image.png", 95, (90, 90)),
        ("figure.png", 400, (400, 400)),
    ] {
        let response = get(&app, &format!("/models/{name}/{picture}?size={size}")).await;
        assert_eq!(response.status(), StatusCode::OK, "{picture}");
        let (width, height, _) = decode(&response.bytes().await.unwrap());
        assert!(width.max(height) <= size, "{picture}: {width}x{height}");
        if picture == "image.png" {
            assert_eq!((width, height), expected);
        }
    }
    let response = send(
        &app,
        Method::POST,
        &format!("/models/{name}/predictions.png?size=50"),
        &json!({"test_data": [[0.5, 0.5, 0.5]]}),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["x-scale"], "5");
    app.stop().await;
}

#[test]
fn render_draws_components_and_figures_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let weights = colour_map(6, 8);
    let npy = dir.path().join("six.npy");
    ndarray_npy::write_npy(&npy, &weights).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_kohonen"))
            .arg("render")
            .arg(&npy)
            .args(args)
            .current_dir(dir.path())
            .output()
            .unwrap()
    };
    for (kind, out) in [("components", "c.png"), ("figure", "f.png")] {
        let output = run(&["--kind", kind, "--size", "300", "--out", out]);
        assert!(output.status.success(), "{kind}: {output:?}");
        let summary: Value = serde_json::from_slice(&output.stdout).unwrap();
        let (width, height, _) = decode(&std::fs::read(dir.path().join(out)).unwrap());
        assert_eq!(
            (summary["width"].as_u64(), summary["height"].as_u64()),
            (Some(width as u64), Some(height as u64))
        );
        assert!(
            width.max(height) <= 300 && width.max(height) > 250,
            "{kind}: {width}x{height}"
        );
    }
    let one = run(&[
        "--kind",
        "components",
        "--feature",
        "feature 2",
        "--out",
        "one.png",
    ]);
    assert!(one.status.success(), "{one:?}");
    for (args, complaint) in [
        (
            &["--kind", "components", "--feature", "9", "--out", "x.png"][..],
            "no feature \"9\"",
        ),
        (
            &["--kind", "figure", "--feature", "0", "--out", "x.png"][..],
            "--feature",
        ),
        (
            &["--size", "300", "--scale", "2", "--out", "x.png"][..],
            "not both",
        ),
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(complaint), "{args:?}: {stderr}");
    }
    assert!(!dir.path().join("x.png").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_training_datas_hits_and_labels_are_drawn_from_the_models_record() {
    let app = spawn_app().await;
    // Two labelled clusters at opposite corners of the unit square.
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for i in 0..40 {
        let (centre, label) = if i % 2 == 0 {
            (0.1, "low")
        } else {
            (0.9, "high")
        };
        let jitter = (i / 2) as f64 / 400.0;
        points.push(vec![centre + jitter, centre - jitter]);
        labels.push(label);
    }
    let answer: Value = send(
        &app,
        Method::POST,
        "/train",
        &json!({"training_data": points, "labels": labels, "feature_names": ["east", "north"],
                "grid_shape": [6, 6], "max_iterations": 40, "seed": 7}),
    )
    .await
    .json()
    .await
    .unwrap();
    let name = answer["operation-location"].as_str().unwrap().to_owned();
    let picture = |path: String| {
        let app = &app;
        async move {
            let response = reqwest::get(app.url(&path)).await.unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            response.bytes().await.unwrap().to_vec()
        }
    };

    // GET hits.png is POST hits.png of the training data itself.
    let stored = picture(format!("/models/{name}/hits.png?scale=20")).await;
    let posted = send(
        &app,
        Method::POST,
        &format!("/models/{name}/hits.png?scale=20"),
        &json!({"test_data": points}),
    )
    .await;
    assert_eq!(posted.status(), StatusCode::OK);
    assert_eq!(stored, posted.bytes().await.unwrap().to_vec());

    // Each cluster's node is in its label's colour: "low" came first (tab10 blue), "high"
    // second (orange).
    let (width, _, pixels) = decode(&picture(format!("/models/{name}/labels.png?scale=20")).await);
    let predicted: Value = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": name, "test_data": [[0.1, 0.1], [0.9, 0.9]]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let colour_at = |node: &Value| {
        let (row, col) = (
            node[0].as_u64().unwrap() as usize,
            node[1].as_u64().unwrap() as usize,
        );
        pixels[(row * 20 + 10) * width + col * 20 + 10]
    };
    let [r, g, b] = colour_at(&predicted["predictions"][0]);
    assert!(
        b > r + 40 && b > g,
        "the low cluster's node is blue: {:?}",
        [r, g, b]
    );
    let [r, g, b] = colour_at(&predicted["predictions"][1]);
    assert!(
        r > b + 80 && r > g,
        "the high cluster's node is orange: {:?}",
        [r, g, b]
    );

    // Component planes are titled and picked by the stored names.
    picture(format!("/models/{name}/components.png?feature=north")).await;
    let unknown = reqwest::get(app.url(&format!("/models/{name}/components.png?feature=up")))
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let message = unknown.text().await.unwrap();
    assert!(
        message.contains("east") && message.contains("north"),
        "{message}"
    );
}
