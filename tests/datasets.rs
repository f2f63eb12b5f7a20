//! `/datasets`: uploads of `.npy` and CSV over a real socket, their records, and their limits.

mod common;

use common::{
    get_json, job_status, send, spawn_app, spawn_app_with, start_long_job, wait_for_status,
};
use ndarray::{Array2, ShapeBuilder};
use ndarray_npy::WriteNpyExt;
use reqwest::Method;
use reqwest::StatusCode;
use serde_json::Value;
use serde_json::json;

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
async fn a_csv_delimiter_can_be_given_and_a_bad_one_is_422() {
    let app = spawn_app().await;
    let (status, body) = put(
        &app,
        "/datasets/piped?delimiter=%7C",
        b"a|b|c\n1|2|3\n".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dim"], 3);
    assert_eq!(body["features"], json!(["a", "b", "c"]));
    let (status, body) = put(&app, "/datasets/tabs?delimiter=tab", b"1\t2\n".to_vec()).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["dim"], 2);
    let (status, body) = put(&app, "/datasets/dotted?delimiter=.", b"1.2\n".to_vec()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "invalid_option");
    assert!(
        body["message"].as_str().unwrap().contains("delimiter"),
        "{body}"
    );
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
    let mut padded = npy(&Array2::<f64>::zeros((4, 3)));
    padded.extend_from_slice(&[0; 8]);
    let huge = Array2::from_shape_vec((1, 2), vec![1.0, -1e300]).unwrap();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (cube_bytes, "2 dimensions"),
        (npy(&Array2::<f64>::zeros((0, 3))), "no values"),
        (
            npy(&Array2::<i64>::zeros((2, 2))),
            "only float32 and float64",
        ),
        (
            b"a,b\n1,2\n3\n".to_vec(),
            "every row must have the same length",
        ),
        (npy(&nan), "finite"),
        (npy(&huge), "row 0, column 1"),
        (b"1,2\nnan,3\n".to_vec(), "line 2, column 1 is nan"),
        (b"a,b\n1,2\n3,x\n".to_vec(), "line 3, column 2"),
        (b"1,2\n\xff,3\n".to_vec(), "UTF-8"),
        (lying, "header"),
        (padded, "more bytes"),
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
async fn a_chunked_upload_without_a_length_is_413_once_past_the_limit_and_leaves_no_file() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let app = spawn_app_with(&["--max-dataset-bytes", "100"]).await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    let chunk = "1,2,3\n".repeat(10);
    let request = format!(
        "PUT /datasets/big HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n\
         {len:x}\r\n{chunk}\r\n{len:x}\r\n{chunk}\r\n0\r\n\r\n",
        len = chunk.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0; 4096];
    let n = stream.read(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("body_too_large"), "{answer}");
    let left: Vec<_> = std::fs::read_dir(app.models_dir().join("datasets"))
        .unwrap()
        .collect();
    assert!(left.is_empty(), "{left:?}");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_trains_and_predicts_on_a_stored_dataset_and_records_its_name() {
    let app = spawn_app().await;
    let (status, _) = put(
        &app,
        "/datasets/rgb",
        b"r,g,b\n1,0,0\n0,1,0\n0,0,1\n".to_vec(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED);
    let trained = send(
        &app,
        Method::POST,
        "/train",
        &json!({"dataset": "rgb", "grid_shape": [3, 3], "max_iterations": 5, "seed": 1}),
    )
    .await;
    let trained_status = trained.status();
    let trained: Value = trained.json().await.unwrap();
    assert_eq!(trained_status, StatusCode::OK, "{trained}");
    let model = trained["operation-location"].as_str().unwrap().to_owned();
    let (_, detail) = get_json(&app, &format!("/models/{model}")).await;
    assert_eq!(detail["dataset"], "rgb", "{detail}");
    let record: Value = serde_json::from_slice(
        &std::fs::read(app.models_dir().join(format!("{model}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(record["dataset"], "rgb");
    let predicted = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": model, "dataset": "rgb"}),
    )
    .await;
    assert_eq!(predicted.status(), StatusCode::OK);
    let predicted: Value = predicted.json().await.unwrap();
    assert_eq!(predicted["predictions"].as_array().unwrap().len(), 3);
    let both = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": model, "dataset": "rgb", "test_data": [[1, 0, 0]]}),
    )
    .await;
    assert_eq!(both.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = get_json(&app, "/datasets/rgb").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_and_training_data_together_are_422_and_an_unknown_dataset_404() {
    let app = spawn_app().await;
    put(&app, "/datasets/rgb", b"1,0,0\n".to_vec()).await;
    for path in ["/train", "/atrain"] {
        let both = send(
            &app,
            Method::POST,
            path,
            &json!({"dataset": "rgb", "training_data": [[1, 0, 0]], "grid_shape": [2, 2], "max_iterations": 1}),
        )
        .await;
        assert_eq!(both.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let body: Value = both.json().await.unwrap();
        assert_eq!(body["code"], "invalid_data");
    }
    let missing = send(
        &app,
        Method::POST,
        "/atrain",
        &json!({"dataset": "nope", "grid_shape": [2, 2], "max_iterations": 1}),
    )
    .await;
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_a_queued_job_uses_is_neither_deleted_nor_replaced() {
    let app = spawn_app_with(&["--max-concurrent-jobs", "1"]).await;
    put(&app, "/datasets/held", b"1,0,0\n0,1,0\n".to_vec()).await;
    let running = start_long_job(&app).await;
    let queued = send(
        &app,
        Method::POST,
        "/atrain",
        &json!({"dataset": "held", "grid_shape": [2, 2], "max_iterations": 1}),
    )
    .await;
    assert_eq!(queued.status(), StatusCode::OK);
    let queued: Value = queued.json().await.unwrap();
    let queued = queued["operation-location"].as_str().unwrap().to_owned();
    assert_eq!(job_status(&app, &queued).await["status"], "queued");
    let deleted = app
        .client
        .delete(app.url("/datasets/held"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::CONFLICT);
    let (status, body) = put(&app, "/datasets/held?replace=true", b"5,5,5\n".to_vec()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    for name in [&running, &queued] {
        let response = app
            .client
            .delete(app.url(&format!("/jobs/{name}")))
            .send()
            .await
            .unwrap();
        assert!(response.status().is_success());
    }
    wait_for_status(&app, &queued, "cancelled").await;
    wait_for_status(&app, &running, "cancelled").await;
    let mut deleted = StatusCode::CONFLICT;
    for _ in 0..100 {
        deleted = app
            .client
            .delete(app.url("/datasets/held"))
            .send()
            .await
            .unwrap()
            .status();
        if deleted == StatusCode::OK {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(deleted, StatusCode::OK);
}

#[tokio::test]
async fn a_name_that_breaks_the_naming_rule_is_400_and_nothing_is_stored() {
    let app = spawn_app().await;
    let long = format!("/datasets/{}", "a".repeat(201));
    for path in [
        "/datasets/.hidden",
        "/datasets/a.npy",
        "/datasets/%2E%2E%2Fx",
        "/datasets/a~b",
        "/datasets/a%20b",
        &long,
    ] {
        let (status, body) = put(&app, path, b"1,2\n".to_vec()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_eq!(body["code"], "invalid_name");
    }
    let (_, list) = get_json(&app, "/datasets").await;
    assert_eq!(list, serde_json::json!([]));
}

#[tokio::test]
async fn a_restart_removes_data_files_no_record_names_and_keeps_the_datasets() {
    let app = spawn_app().await;
    put(&app, "/datasets/kept", b"1,2\n3,4\n".to_vec()).await;
    let folder = app.models_dir().join("datasets");
    std::fs::write(folder.join("kept~crashed.npy"), b"half").unwrap();
    std::fs::write(folder.join(".upload.tmp-crashed"), b"half").unwrap();
    let dir = app.stop().await;
    let app = common::spawn_app_in(dir, &[]).await;
    let mut files: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert_eq!(files[0], "kept.json");
    assert!(files[1].starts_with("kept~") && files[1].ends_with(".npy"));
    let (status, body) = get_json(&app, "/datasets/kept").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["rows"], 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn predicting_a_dataset_over_the_work_limit_is_422_too_large() {
    let app = spawn_app_with(&["--max-predict-work", "20"]).await;
    put(&app, "/datasets/rgb", b"1,0,0\n0,1,0\n0,0,1\n".to_vec()).await;
    let trained: Value = send(
        &app,
        Method::POST,
        "/train",
        &json!({"dataset": "rgb", "grid_shape": [2, 2], "max_iterations": 1, "seed": 1}),
    )
    .await
    .json()
    .await
    .unwrap();
    let model = trained["operation-location"].as_str().unwrap();
    let predicted = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": model, "dataset": "rgb"}),
    )
    .await;
    assert_eq!(predicted.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = predicted.json().await.unwrap();
    assert_eq!(body["code"], "too_large", "{body}");
}
