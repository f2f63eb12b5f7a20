//! `/datasets`: uploads of `.npy` and CSV over a real socket, their records, and their limits.

mod common;

use common::{get_json, spawn_app, spawn_app_with};
use ndarray::{Array2, ShapeBuilder};
use ndarray_npy::WriteNpyExt;
use reqwest::StatusCode;
use serde_json::Value;

async fn put(app: &common::TestApp, path: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let response = app
        .client
        .put(app.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

fn npy<A: ndarray_npy::WritableElement>(array: &Array2<A>) -> Vec<u8> {
    let mut bytes = Vec::new();
    array.write_npy(&mut bytes).unwrap();
    bytes
}

#[tokio::test]
async fn an_f32_npy_in_fortran_order_is_stored_with_its_record() {
    let app = spawn_app().await;
    let data = Array2::from_shape_vec((3, 2).f(), vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let (status, body) = put(&app, "/datasets/small", npy(&data)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rows"], 3);
    assert_eq!(body["dim"], 2);
    assert_eq!(body["dtype"], "float32");
    assert_eq!(body["bytes"].as_u64(), Some(128 + 6 * 8));
    let (status, one) = get_json(&app, "/datasets/small").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["name"], "small");
    let f64_data = Array2::from_shape_vec((2, 2), vec![0.5f64, 1.5, 2.5, 3.5]).unwrap();
    let (status, body) = put(&app, "/datasets/wide", npy(&f64_data)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dtype"], "float64");
    let (_, list) = get_json(&app, "/datasets").await;
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["small", "wide"]);
}

#[tokio::test]
async fn a_csv_with_a_bom_semicolons_a_header_and_a_label_column_is_stored() {
    let app = spawn_app().await;
    let csv = "\u{feff}r;name;g\n0.1;red;0.2\n0.3;blue;0.4\n1;green;2\n";
    let (status, body) = put(
        &app,
        "/datasets/colours?label_column=name",
        csv.as_bytes().to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["rows"], 3);
    assert_eq!(body["dim"], 2);
    assert_eq!(body["dtype"], "csv");
    assert_eq!(body["features"], serde_json::json!(["r", "g"]));
    assert_eq!(body["label_column"], "name");
}

#[tokio::test]
async fn bad_uploads_are_422_saying_why() {
    let app = spawn_app().await;
    let cube = ndarray::Array3::<f64>::zeros((2, 2, 2));
    let mut cube_bytes = Vec::new();
    cube.write_npy(&mut cube_bytes).unwrap();
    let nan = Array2::from_shape_vec((1, 2), vec![1.0, f64::NAN]).unwrap();
    let mut lying = npy(&Array2::<f64>::zeros((4, 3)));
    lying.truncate(lying.len() - 8);
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (cube_bytes, "2 dimensions"),
        (npy(&nan), "finite"),
        (b"a,b\n1,2\n3,x\n".to_vec(), "line 3, column 2"),
        (lying, "header"),
    ];
    for (body, expected) in cases {
        let (status, answer) = put(&app, "/datasets/bad", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["code"], "invalid_data");
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(expected), "{message} lacks {expected}");
    }
    let (status, _) = get_json(&app, "/datasets/bad").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn an_upload_over_the_configured_limit_is_413() {
    let app = spawn_app_with(&["--max-dataset-bytes", "100"]).await;
    let csv = "1,2,3\n".repeat(50);
    let (status, body) = put(&app, "/datasets/big", csv.into_bytes()).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "body_too_large");
    let (status, _) = put(&app, "/datasets/small", b"1,2\n".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED);
}

#[tokio::test]
async fn an_existing_name_is_409_unless_replaced_and_delete_removes_it() {
    let app = spawn_app().await;
    let (status, _) = put(&app, "/datasets/d", b"1,2\n".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = put(&app, "/datasets/d", b"1,2,3\n".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = put(&app, "/datasets/d?replace=true", b"1,2,3\n".to_vec()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["dim"], 3);
    let response = app
        .client
        .delete(app.url("/datasets/d"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (status, body) = get_json(&app, "/datasets/d").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["code"], "dataset_not_found");
    let files: Vec<_> = std::fs::read_dir(app.models_dir().join("datasets"))
        .unwrap()
        .collect();
    assert!(files.is_empty(), "{files:?}");
}
