//! `/models`, `/models/{name}` (GET, PUT, DELETE) and `/metrics`, end to end over a real socket.

mod common;

use common::{fixture, get_json, send, spawn_app, spawn_app_with, start_long_job, wait_for_status};
use ndarray::Array3;
use ndarray_npy::{ReadNpyExt, WriteNpyExt};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn put_npy(app: &common::TestApp, path: &str, file: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .put(app.url(path))
        .body(std::fs::read(fixture(file)).unwrap())
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

async fn predictions(app: &common::TestApp, name: &str, vectors: &Value) -> Value {
    let answer: Value = send(
        app,
        Method::POST,
        "/predict",
        &json!({"model_name": name, "test_data": vectors}),
    )
    .await
    .json()
    .await
    .unwrap();
    answer["predictions"].clone()
}

fn weights(file: &str) -> Array3<f64> {
    Array3::read_npy(std::fs::File::open(fixture(file)).unwrap()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_map_is_described_served_replaced_and_deleted() {
    let app = spawn_app().await;
    let (status, created) =
        put_npy(&app, "/models/imported", "npy-edge/f64_fortran_4x6x3.npy").await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["grid_shape"], json!([4, 6]));
    assert_eq!(created["dim"], 3);
    assert_eq!(created["seed"], Value::Null);

    let (_, listed) = get_json(&app, "/models").await;
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    assert_eq!(listed[0]["name"], "imported");
    assert_eq!(listed[0]["grid_shape"], json!([4, 6]));
    let (_, one) = get_json(&app, "/models/imported/").await;
    assert_eq!(one["status"], "succeeded", "{one}");

    let vectors = json!([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [0.9, 0.1, 0.4]]);
    let expected = |w: &Array3<f64>| {
        json!(
            vectors
                .as_array()
                .unwrap()
                .iter()
                .map(|v| {
                    let v: Vec<f64> = serde_json::from_value(v.clone()).unwrap();
                    common::nearest(w, &v)
                })
                .collect::<Vec<_>>()
        )
    };
    let fortran = expected(&weights("npy-edge/f64_fortran_4x6x3.npy"));
    assert_eq!(predictions(&app, "imported", &vectors).await, fortran);

    let stored = app.stored();
    let (status, refused) = put_npy(
        &app,
        "/models/imported",
        "npy-edge/big_endian_f64_4x6x3.npy",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "conflict");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("replace=true")
    );
    assert_eq!(app.stored(), stored, "a refused import changed nothing");

    // The same shape in the same byte layout, so the file's length does not change; the next
    // prediction must still come from the new map (the import drops the cached one, and the
    // cache is keyed on the file's time as well).
    let inverted = weights("npy-edge/f64_c_order_4x6x3.npy").mapv(|w| 1.0 - w);
    let mut bytes = Vec::new();
    inverted.write_npy(&mut bytes).unwrap();
    let replaced = app
        .client
        .put(app.url("/models/imported?replace=true"))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let expected_now = expected(&inverted);
    assert_ne!(expected_now, fortran, "the vectors tell the two maps apart");
    assert_eq!(predictions(&app, "imported", &vectors).await, expected_now);
    let downloaded = app
        .client
        .get(app.url("/download/imported"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(Array3::<f64>::read_npy(&downloaded[..]).unwrap(), inverted);

    let deleted = app
        .client
        .delete(app.url("/models/imported"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(app.stored().is_empty(), "both files are gone");
    let (status, gone) = get_json(&app, "/models/imported").await;
    assert_eq!(
        (status, gone["code"].clone()),
        (StatusCode::NOT_FOUND, json!("model_not_found"))
    );
    let predict = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": "imported", "test_data": vectors}),
    )
    .await;
    assert_eq!(
        predict.status(),
        StatusCode::NOT_FOUND,
        "the cached map went too"
    );
    let again = app
        .client
        .delete(app.url("/models/imported"))
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_imports_are_refused_and_store_nothing() {
    let app = spawn_app().await;
    for file in [
        "npy-edge/bad_nan_4x6x3.npy",
        "npy-edge/bad_2d.npy",
        "npy-edge/bad_not_npy.npy",
        "npy-edge/bad_object.npy",
        "npy-edge/bad_truncated.npy",
    ] {
        let (status, answer) = put_npy(&app, "/models/bad", file).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{file}: {answer}");
        assert_eq!(answer["code"], "invalid_data", "{file}");
    }
    // The size limits are checked on the header, before the contents are read.
    let limited = spawn_app_with(&["--max-nodes", "20"]).await;
    for file in ["npy-edge/f32_4x6x3.npy", "npy-edge/bad_nan_4x6x3.npy"] {
        let (status, answer) = put_npy(&limited, "/models/big", file).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
        assert_eq!(answer["code"], "too_large", "24 nodes over a limit of 20");
    }
    assert!(limited.stored().is_empty(), "{:?}", limited.stored());
    limited.stop().await;
    let (status, answer) = put_npy(&app, "/models/..%2fescape", "npy-edge/f32_4x6x3.npy").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(answer["code"], "invalid_name");
    let (status, answer) = put_npy(
        &app,
        "/models/small?replace=maybe",
        "npy-edge/f32_4x6x3.npy",
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["code"], "invalid_type");
    assert!(app.stored().is_empty(), "{:?}", app.stored());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_dropped_into_the_folder_is_described_from_its_weights() {
    let app = spawn_app().await;
    std::fs::copy(
        fixture("original-npy/10X10_100N.npy"),
        app.models_dir().join("10X10_100N.npy"),
    )
    .unwrap();
    let (_, listed) = get_json(&app, "/models").await;
    assert_eq!(
        listed,
        json!([{
            "name": "10X10_100N", "grid_shape": [10, 10], "dim": 3, "created_at": null,
            "seed": null, "learning_rate": null, "max_iterations": null,
            "quantization_error": null, "topographic_error": null, "training_seconds": null,
            "options": {
                "topology": "rectangular", "toroidal": false, "neighbourhood": "gaussian",
                "radius": 5.0, "schedule": "exponential", "final_radius": null,
                "final_learning_rate": null, "compatibility": null, "distance": "euclidean",
                "init": "random", "order": "given", "scaling": "none", "mode": "online",
            },
            "scaler": null,
        }])
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_cannot_be_deleted_or_replaced_while_it_trains() {
    let app = spawn_app().await;
    let name = start_long_job(&app).await;
    let refused = app
        .client
        .delete(app.url(&format!("/models/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let answer: Value = refused.json().await.unwrap();
    assert_eq!(answer["code"], "conflict");
    assert!(
        answer["message"].as_str().unwrap().contains("/jobs/"),
        "{answer}"
    );
    let (status, _) = put_npy(
        &app,
        &format!("/models/{name}?replace=true"),
        "npy-edge/f32_4x6x3.npy",
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (_, described) = get_json(&app, &format!("/models/{name}")).await;
    assert_eq!(described["status"], "running", "{described}");
    assert!(app.models_dir().join(format!("{name}.json")).exists());

    app.client
        .delete(app.url(&format!("/jobs/{name}")))
        .send()
        .await
        .unwrap();
    wait_for_status(&app, &name, "cancelled").await;
    let deleted = app
        .client
        .delete(app.url(&format!("/models/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    let (status, _) = get_json(&app, &format!("/jobs/{name}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the job went with its model");
    assert!(app.stored().is_empty());
    app.stop().await;
}

/// The value of the sample `series` (name with labels, exactly) in a Prometheus text.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_requests_jobs_training_time_and_the_model_cache() {
    let app = spawn_app().await;
    let trained: Value = send(
        &app,
        Method::POST,
        "/train/",
        &json!({"training_data": common::colours(10), "grid_shape": [10, 10], "max_iterations": 50}),
    )
    .await
    .json()
    .await
    .unwrap();
    let name = trained["operation-location"].as_str().unwrap();
    for _ in 0..3 {
        predictions(&app, name, &json!([[0.5, 0.5, 0.5]])).await;
    }
    app.client
        .get(app.url(&format!("/download/{name}")))
        .send()
        .await
        .unwrap();
    app.client
        .get(app.url("/download/nobody"))
        .send()
        .await
        .unwrap();
    app.client
        .get(app.url("/no/such/path"))
        .send()
        .await
        .unwrap();

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    let text = response.text().await.unwrap();
    let count = |series: &str| sample(&text, series).unwrap_or_else(|| panic!("{series}\n{text}"));
    let requests = "kohonen_http_requests_total";
    assert_eq!(
        count(&format!(
            "{requests}{{method=\"POST\",route=\"/train\",status=\"200\"}}"
        )),
        1.0
    );
    assert_eq!(
        count(&format!(
            "{requests}{{method=\"POST\",route=\"/predict\",status=\"200\"}}"
        )),
        3.0
    );
    assert_eq!(
        count(&format!(
            "{requests}{{method=\"GET\",route=\"/download/{{name}}\",status=\"200\"}}"
        )),
        1.0
    );
    assert_eq!(
        count(&format!(
            "{requests}{{method=\"GET\",route=\"/download/{{name}}\",status=\"404\"}}"
        )),
        1.0
    );
    assert_eq!(
        count(&format!(
            "{requests}{{method=\"GET\",route=\"unmatched\",status=\"404\"}}"
        )),
        1.0
    );
    assert_eq!(count("kohonen_jobs{status=\"succeeded\"}"), 1.0);
    assert_eq!(count("kohonen_jobs{status=\"running\"}"), 0.0);
    assert!(count("kohonen_training_seconds_total") > 0.0);
    assert_eq!(count("kohonen_model_cache_misses_total"), 1.0);
    assert_eq!(count("kohonen_model_cache_hits_total"), 2.0);
    assert_eq!(count("kohonen_models"), 1.0);
    assert!(text.contains("# TYPE kohonen_http_requests_total counter"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trained_model_replaced_by_an_import_is_described_by_the_import() {
    let app = spawn_app().await;
    let trained: Value = send(
        &app,
        Method::POST,
        "/train",
        &json!({"training_data": [[0.1, 0.2, 0.3]], "grid_shape": [2, 2], "max_iterations": 1}),
    )
    .await
    .json()
    .await
    .unwrap();
    let name = trained["operation-location"].as_str().unwrap();
    let mut npy = Vec::new();
    Array3::from_elem((5, 5, 2), 0.5)
        .write_npy(&mut npy)
        .unwrap();
    let replaced = app
        .client
        .put(app.url(&format!("/models/{name}?replace=true")))
        .body(npy)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let (status, described) = get_json(&app, &format!("/models/{name}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(described["grid_shape"], json!([5, 5]), "{described}");
    assert_eq!(described["dim"], json!(2), "{described}");
    let download = app
        .client
        .get(app.url(&format!("/download/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_with_the_longest_allowed_name_is_imported_and_predicts() {
    let app = spawn_app().await;
    let name = "m".repeat(200);
    let mut npy = Vec::new();
    Array3::from_elem((2, 2, 3), 0.5)
        .write_npy(&mut npy)
        .unwrap();
    let put = app
        .client
        .put(app.url(&format!("/models/{name}")))
        .body(npy)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    let answer = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": name, "test_data": [[0.5, 0.5, 0.5]]}),
    )
    .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["operation-location"], json!(name));
    app.stop().await;
}
