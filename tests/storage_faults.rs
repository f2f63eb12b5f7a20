//! The models folder under attack and under races, end to end over a real socket: lying
//! `.npy` headers, symlinks, FIFOs, names ending in `.npy`, deletes racing replacements.

mod common;

use std::path::Path;
use std::time::Duration;

use common::{fixture, get_json, spawn_app, spawn_app_with};
use ndarray::Array3;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use reqwest::StatusCode;
use serde_json::{Value, json};

/// A `.npy` of `extra` data bytes whose header claims `shape`.
fn lying_npy(shape: &str, extra: usize) -> Vec<u8> {
    let mut header = format!("{{'descr': '<f8', 'fortran_order': False, 'shape': {shape}, }}");
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
    bytes.extend_from_slice(&(header.len() as u16).to_le_bytes());
    bytes.extend_from_slice(header.as_bytes());
    bytes.extend(std::iter::repeat_n(0u8, extra));
    bytes
}

fn npy(weights: &Array3<f64>) -> Vec<u8> {
    let mut bytes = Vec::new();
    weights.write_npy(&mut bytes).unwrap();
    bytes
}

async fn put(app: &common::TestApp, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .put(app.url(path))
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `GET path` with a deadline, so that a request the server never answers fails the test
/// instead of hanging it.
async fn get_within(app: &common::TestApp, path: &str) -> (StatusCode, Vec<u8>) {
    let response = app
        .client
        .get(app.url(path))
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap_or_else(|err| panic!("GET {path}: {err}"));
    let status = response.status();
    (status, response.bytes().await.unwrap().to_vec())
}

async fn assert_healthy(app: &common::TestApp) {
    let (status, body) = get_json(app, "/health").await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_import_whose_header_lies_is_refused_and_the_server_stays_up() {
    let app = spawn_app().await;
    let before = app.stored();
    let (status, body) = put(&app, "/models/x", lying_npy("(100000, 100000, 100)", 9)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "too_large", "{body}");
    let (status, body) = put(&app, "/models/x", lying_npy("(500, 500, 3)", 9)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_data", "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("truncated"),
        "{body}"
    );
    assert_healthy(&app).await;
    assert_eq!(app.stored(), before, "a failed import stores nothing");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lying_file_in_the_folder_is_skipped_and_the_rest_is_served() {
    let app = spawn_app().await;
    let models = app.models_dir();
    std::fs::write(
        models.join("liar.npy"),
        lying_npy("(100000, 100000, 100)", 9),
    )
    .unwrap();
    std::fs::copy(fixture("npy-edge/f32_4x6x3.npy"), models.join("good.npy")).unwrap();
    for _ in 0..2 {
        let (status, body) = get_within(&app, "/list-of-models").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            serde_json::from_slice::<Value>(&body).unwrap(),
            json!(["good"])
        );
    }
    let (status, _) = get_within(&app, "/models").await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = get_within(&app, "/download/liar").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn symlinks_and_fifos_in_the_folder_are_neither_listed_nor_served() {
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.npy");
    std::fs::copy(fixture("npy-edge/f32_4x6x3.npy"), &secret).unwrap();
    let app = spawn_app().await;
    let models = app.models_dir();
    std::fs::copy(&secret, models.join("good.npy")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", models.join("zero.npy")).unwrap();
    std::os::unix::fs::symlink(&secret, models.join("outside.npy")).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(models.join("pipe.npy"))
        .status()
        .unwrap();
    assert!(made.success());

    for path in ["/list-of-models", "/models"] {
        let (status, body) = get_within(&app, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        let listed = serde_json::from_slice::<Value>(&body).unwrap().to_string();
        assert!(listed.contains("good"), "{path}: {listed}");
        for hidden in ["zero", "outside", "pipe"] {
            assert!(!listed.contains(hidden), "{path}: {listed}");
        }
    }
    for name in ["zero", "outside", "pipe"] {
        for path in [format!("/download/{name}"), format!("/models/{name}")] {
            let (status, _) = get_within(&app, &path).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        }
        let (status, _) = get_within(&app, &format!("/models/{name}/map.png")).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{name}/map.png");
    }
    assert_healthy(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_ending_in_npy_is_refused_and_download_drops_the_suffix() {
    let app = spawn_app().await;
    let map = std::fs::read(fixture("npy-edge/f32_4x6x3.npy")).unwrap();
    let (status, body) = put(&app, "/models/a.npy", map.clone()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["code"], "invalid_name");
    let (status, _) = put(&app, "/models/a", map).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, bytes) = get_within(&app, "/download/a.npy").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        Array3::<f64>::read_npy(&bytes[..]).unwrap().shape(),
        [4, 6, 3]
    );
    app.stop().await;
}

/// The models folder's files for `name`, checked to be a whole model or nothing; the shape
/// of the model when there is one.
fn whole_or_absent(models: &Path, name: &str) -> Option<Vec<usize>> {
    let mut files: Vec<String> = std::fs::read_dir(models)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    if files.is_empty() {
        return None;
    }
    assert_eq!(files, [format!("{name}.json"), format!("{name}.npy")]);
    let weights =
        Array3::<f64>::read_npy(std::fs::File::open(models.join(format!("{name}.npy"))).unwrap())
            .unwrap();
    let record: Value =
        serde_json::from_slice(&std::fs::read(models.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let (rows, cols, dim) = weights.dim();
    assert_eq!(record["grid_shape"], json!([rows, cols]), "{record}");
    assert_eq!(record["dim"], json!(dim), "{record}");
    Some(weights.shape().to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deletes_racing_replacements_leave_a_whole_model_or_nothing() {
    let app = spawn_app().await;
    let maps = [
        npy(&Array3::from_elem((40, 60, 3), 0.25)),
        npy(&Array3::from_elem((50, 30, 8), 0.5)),
    ];
    let mut outcomes = [0usize; 2];
    for round in 0..200 {
        // A replacement sent a little later each round, and deletes spread around it: early
        // rounds replace before every delete, late ones after, the middle ones interleave.
        let replace = app
            .client
            .put(app.url("/models/n?replace=true"))
            .body(maps[round % 2].clone());
        let head_start = Duration::from_micros((round % 8) as u64 * 700);
        let mut requests = vec![tokio::spawn(async move {
            tokio::time::sleep(head_start).await;
            replace.send().await
        })];
        for delay in 0..6 {
            let delete = app.client.delete(app.url("/models/n"));
            requests.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_micros(delay * 700)).await;
                delete.send().await
            }));
        }
        for request in requests {
            let status = request.await.unwrap().unwrap().status();
            assert!(!status.is_server_error(), "round {round}: {status}");
        }
        match whole_or_absent(&app.models_dir(), "n") {
            Some(_) => outcomes[0] += 1,
            None => outcomes[1] += 1,
        }
        let (status, _) = get_within(&app, "/models/n").await;
        let (download, _) = get_within(&app, "/download/n").await;
        assert_eq!(
            status, download,
            "round {round}: describe and download disagree"
        );
    }
    assert!(
        outcomes[0] > 0 && outcomes[1] > 0,
        "{outcomes:?}: no race happened"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_model_cache_budget_is_a_flag() {
    for (budget, hits) in [("0", 0), ("1048576", 1)] {
        let app = spawn_app_with(&["--model-cache-bytes", budget]).await;
        put(
            &app,
            "/models/m",
            std::fs::read(fixture("npy-edge/f32_4x6x3.npy")).unwrap(),
        )
        .await;
        for _ in 0..2 {
            let response = app
                .client
                .post(app.url("/predict"))
                .body(json!({"model_name": "m", "test_data": [[0.1, 0.2, 0.3]]}).to_string())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK);
        }
        let text = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let line = format!("kohonen_model_cache_hits_total {hits}");
        assert!(text.lines().any(|l| l == line), "budget {budget}: {text}");
        app.stop().await;
    }
}
