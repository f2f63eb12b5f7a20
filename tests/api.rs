//! The HTTP API end to end, over a real socket, as the Python client talks to it.

mod common;

use std::time::Duration;

use common::{
    colours, job_status, long_training, nearest, send, spawn_app, spawn_app_in, spawn_app_with,
    start_long_job, wait_for_status,
};
use ndarray::Array3;
use ndarray_npy::ReadNpyExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// The Python client's flow: /train/, /atrain/ then polling /download/NAME/, GET /predict/
/// with a body; the downloaded weights load as (x, y, 3) f64 and every prediction is the
/// nearest node of its vector in them.
async fn python_client_flow(side: usize, iterations: usize) {
    let app = spawn_app().await;
    let data = colours(10);
    let payload = json!({
        "training_data": data,
        "training_data_shape": [10, 3],
        "grid_shape": [side, side],
        "max_iterations": iterations,
        "learning_rate": 0.1,
    });
    let trained = send(&app, Method::POST, "/train/", &payload).await;
    assert_eq!(trained.status(), StatusCode::OK);
    let trained: Value = trained.json().await.unwrap();
    let name = trained["operation-location"].as_str().unwrap().to_owned();
    assert!(
        trained["message"]
            .as_str()
            .unwrap()
            .starts_with("Model training has finished")
    );

    let queued: Value = send(&app, Method::POST, "/atrain/", &payload)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(queued["status"], "queued");
    let background = queued["operation-location"].as_str().unwrap().to_owned();
    assert_ne!(background, name);
    let mut bytes = None;
    for _ in 0..600 {
        let response = app
            .client
            .get(app.url(&format!("/download/{background}/")))
            .send()
            .await
            .unwrap();
        match response.status() {
            StatusCode::OK => {
                bytes = Some(response.bytes().await.unwrap());
                break;
            }
            StatusCode::NOT_FOUND => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("download answered {other}"),
        }
    }
    let weights = Array3::<f64>::read_npy(&bytes.expect("the job finished")[..]).unwrap();
    assert_eq!(weights.dim(), (side, side, 3));

    let listed: Vec<String> = app
        .client
        .get(app.url("/list-of-models/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, {
        let mut both = vec![name.clone(), background.clone()];
        both.sort();
        both
    });

    let predicted: Value = send(
        &app,
        Method::GET,
        "/predict/",
        &json!({"model_name": background, "test_data": data, "test_data_shape": [10, 3]}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(predicted["operation-location"], background.as_str());
    let predictions: Vec<[usize; 2]> =
        serde_json::from_value(predicted["predictions"].clone()).unwrap();
    assert_eq!(predictions.len(), 10);
    for (v, p) in data.iter().zip(predictions) {
        assert_eq!(p, nearest(&weights, v));
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_flow_works_on_a_10x10_map() {
    python_client_flow(10, 100).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_python_client_flow_works_on_a_larger_map() {
    python_client_flow(60, 300).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_a_json_error_with_its_code_and_change_nothing() {
    let app = spawn_app_with(&["--max-body-bytes", "4096"]).await;
    let good = json!({"training_data": [[0.1, 0.2], [0.3, 0.4]], "grid_shape": [3, 3], "max_iterations": 5});
    let with = |key: &str, value: Value| {
        let mut body = good.clone();
        body[key] = value;
        body
    };
    let without = |key: &str| {
        let mut body = good.clone();
        body.as_object_mut().unwrap().remove(key);
        body
    };
    let cases: Vec<(&str, String, StatusCode, &str)> = vec![
        (
            "/train",
            with("grid_shape", json!([0, 0])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grid_shape",
        ),
        (
            "/train",
            with("grid_shape", json!([10])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grid_shape",
        ),
        (
            "/train",
            with("grid_shape", json!([10, 10, 10])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grid_shape",
        ),
        (
            "/train",
            with("grid_shape", json!([-1, 5])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grid_shape",
        ),
        (
            "/train",
            with("grid_shape", json!([10.5, 10])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grid_shape",
        ),
        (
            "/train",
            with("max_iterations", json!(0)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_iterations",
        ),
        (
            "/train",
            with("max_iterations", json!(-5)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_iterations",
        ),
        (
            "/train",
            with("max_iterations", json!(2.5)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_iterations",
        ),
        (
            "/train",
            with("learning_rate", json!(0)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_learning_rate",
        ),
        (
            "/train",
            with("learning_rate", json!(-0.1)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_learning_rate",
        ),
        (
            "/train",
            with("learning_rate", json!(5)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_learning_rate",
        ),
        (
            "/train",
            with("seed", json!(9007199254740992u64)).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_seed",
        ),
        (
            "/train",
            with("training_data_shape", json!([3, 2])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "shape_mismatch",
        ),
        (
            "/train",
            with("training_data_shape", json!([4])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "shape_mismatch",
        ),
        (
            "/train",
            with("training_data", json!([0.1, 0.2, 0.3, 0.4])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "shape_mismatch",
        ),
        (
            "/train",
            with("training_data", json!("colours")).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            "/train",
            with("training_data", json!([[0.1, "x"]])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "/train",
            with("training_data", Value::Null).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            "/train",
            with("training_data", json!([[0.1, 0.2], [0.3]])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "/train",
            with("training_data", json!([])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_data",
        ),
        (
            "/train",
            with("max_iterations", json!("5")).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_type",
        ),
        (
            "/train",
            with("grid_shape", json!([1000, 1001])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "too_large",
        ),
        (
            "/train",
            without("grid_shape").to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "/train",
            without("max_iterations").to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "/train",
            without("training_data").to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
        (
            "/atrain",
            with("grid_shape", json!([0, 3])).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_grid_shape",
        ),
        (
            "/train",
            r#"{"training_data": [[NaN, 1]], "grid_shape": [2, 2], "max_iterations": 1}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "non_finite_value",
        ),
        (
            "/atrain",
            r#"{"training_data": [[1, -Infinity]], "grid_shape": [2, 2], "max_iterations": 1, "seed": "NaN"}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "non_finite_value",
        ),
        (
            "/predict",
            r#"{"model_name": "NaN", "test_data": [[Infinity, 1]]}"#.into(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "non_finite_value",
        ),
        (
            "/train",
            r#"{"training_data": [[Infinity, 1]]"#.into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/train",
            "{not json".into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/train",
            String::new(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/train",
            "[1, 2]".into(),
            StatusCode::BAD_REQUEST,
            "invalid_json",
        ),
        (
            "/predict",
            json!({"model_name": "missing", "test_data": [[0.1, 0.2]]}).to_string(),
            StatusCode::NOT_FOUND,
            "model_not_found",
        ),
        (
            "/predict",
            json!({"model_name": "../etc/passwd", "test_data": [[0.1]]}).to_string(),
            StatusCode::BAD_REQUEST,
            "invalid_name",
        ),
        (
            "/predict",
            json!({"test_data": [[0.1]]}).to_string(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "missing_field",
        ),
    ];
    let before = app.stored();
    for debug in [false, true] {
        for (path, body, status, code) in &cases {
            let body = if debug && body.starts_with('{') && body.ends_with('}') && body.len() > 2 {
                format!("{}, \"debug_mode\": true}}", &body[..body.len() - 1])
            } else {
                body.clone()
            };
            let response = app
                .client
                .post(app.url(path))
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), *status, "{path} {body}");
            let answer: Value = response
                .json()
                .await
                .unwrap_or_else(|e| panic!("{body}: {e}"));
            assert_eq!(answer["code"], *code, "{path} {body}: {answer}");
            assert!(
                answer["message"].as_str().is_some_and(|m| !m.is_empty()),
                "{answer}"
            );
            if debug && body.contains("debug_mode") && answer["code"] != "invalid_json" {
                assert!(answer["exception"].is_string(), "{body}: {answer}");
            }
            let health = app.client.get(app.url("/health")).send().await.unwrap();
            assert_eq!(
                health.status(),
                StatusCode::OK,
                "the connection still works after {body}"
            );
        }
    }
    let big = "x".repeat(10_000);
    let response = app
        .client
        .post(app.url("/train"))
        .body(big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "body_too_large"
    );
    assert_eq!(
        app.stored(),
        before,
        "a failed request changed nothing stored"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_models_jobs_paths_and_methods_get_json_404_and_405() {
    let app = spawn_app().await;
    for path in [
        "/download/nothing",
        "/download/nothing/",
        "/jobs/nothing",
        "/models-of-list",
        "/download/a/b",
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
        let answer: Value = response.json().await.unwrap();
        assert!(
            answer["code"].is_string() && answer["message"].is_string(),
            "{answer}"
        );
    }
    for (method, path) in [
        (Method::GET, "/download/..%2Fx"),
        (Method::GET, "/jobs/.hidden"),
        (Method::GET, "/download/a%20b"),
        (Method::GET, "/models/..%2Fx"),
        (Method::DELETE, "/models/..%2F..%2Fetc%2Fpasswd"),
        (Method::DELETE, "/jobs/..%2Fx"),
        (Method::PUT, "/models/%2Fabs"),
    ] {
        let response = app
            .client
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::BAD_REQUEST,
            "{method} {path}"
        );
        assert_eq!(
            response.json::<Value>().await.unwrap()["code"],
            "invalid_name"
        );
    }
    // HTTP clients resolve dot segments before sending; a raw request keeps them.
    for path in [
        "/download/%2e%2e",
        "/download/%2E%2E%2Fsecret",
        "/jobs/%2e%2e",
        "/models/%2e%2e",
        "/models/%ff",
        "/download/%ff%fe",
        "/jobs/%c3",
    ] {
        let (status, body) = raw_get(&app, path).await;
        assert_eq!(status, 400, "{path}: {body}");
        assert!(body.contains("\"code\":\"invalid_name\""), "{path}: {body}");
    }
    let response = app.client.delete(app.url("/train")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(
        response.json::<Value>().await.unwrap()["code"],
        "method_not_allowed"
    );
    app.stop().await;
}

/// A GET sent byte for byte, as `curl --path-as-is` would: the status and the body.
async fn raw_get(app: &common::TestApp, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let (address, path) = (app.address, path.to_owned());
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        (answer[9..12].parse().unwrap(), answer)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prediction_of_vectors_of_another_dimension_is_a_422_and_an_empty_list_gives_none() {
    let app = spawn_app().await;
    std::fs::copy(
        common::fixture("original-npy/10X10_100N.npy"),
        app.models_dir().join("old.npy"),
    )
    .unwrap();
    let wrong = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": "old", "test_data": [[0.1, 0.2]]}),
    )
    .await;
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        wrong.json::<Value>().await.unwrap()["code"],
        "dimension_mismatch"
    );
    let empty: Value = send(
        &app,
        Method::POST,
        "/predict",
        &json!({"model_name": "old", "test_data": []}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(empty["predictions"], json!([]));
    let flat: Value = send(
        &app,
        Method::GET,
        "/predict/",
        &json!({"model_name": "old.npy".trim_end_matches(".npy"), "test_data": [0.1, 0.2, 0.3, 0.9, 0.9, 0.9], "test_data_shape": [2, 3]}),
    )
    .await
    .json()
    .await
    .unwrap();
    let weights =
        Array3::<f64>::read_npy(std::fs::File::open(app.models_dir().join("old.npy")).unwrap())
            .unwrap();
    let expected = [
        nearest(&weights, &[0.1, 0.2, 0.3]),
        nearest(&weights, &[0.9, 0.9, 0.9]),
    ];
    assert_eq!(flat["predictions"], json!(expected));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_identical_trainings_in_the_same_second_get_two_names_and_two_files() {
    let app = spawn_app().await;
    let payload =
        json!({"training_data": colours(5), "grid_shape": [4, 4], "max_iterations": 3, "seed": 1});
    let (a, b) = tokio::join!(
        send(&app, Method::POST, "/atrain", &payload),
        send(&app, Method::POST, "/atrain", &payload)
    );
    let a: Value = a.json().await.unwrap();
    let b: Value = b.json().await.unwrap();
    let (a, b) = (
        a["operation-location"].as_str().unwrap(),
        b["operation-location"].as_str().unwrap(),
    );
    assert_ne!(a, b);
    assert!(a.ends_with("_2") || b.ends_with("_2"), "{a} {b}");
    for name in [a, b] {
        let mut found = false;
        for _ in 0..200 {
            if app.models_dir().join(format!("{name}.npy")).exists() {
                found = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(found, "{name}.npy was written");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_and_the_listing_answer_while_a_job_trains() {
    let app = spawn_app().await;
    let name = start_long_job(&app).await;
    let health: Value = app
        .client
        .get(app.url("/health/"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["jobs"]["running"], 1);
    let listed: Vec<String> = app
        .client
        .get(app.url("/list-of-models"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(!listed.contains(&name), "an unfinished model is not listed");
    let download = app
        .client
        .get(app.url(&format!("/download/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::NOT_FOUND);
    let pending: Value = download.json().await.unwrap();
    assert_eq!(pending["status"], "running", "{pending}");
    let status = job_status(&app, &name).await;
    assert_eq!(
        status["status"], "running",
        "still running after those requests: {status}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_answers_503_and_a_cancelled_job_410() {
    let app = spawn_app_with(&["--max-concurrent-jobs", "1", "--queue-limit", "1"]).await;
    let first: Value = send(&app, Method::POST, "/atrain", &long_training())
        .await
        .json()
        .await
        .unwrap();
    let first = first["operation-location"].as_str().unwrap().to_owned();
    wait_for_status(&app, &first, "running").await;
    let second: Value = send(&app, Method::POST, "/atrain", &long_training())
        .await
        .json()
        .await
        .unwrap();
    let second = second["operation-location"].as_str().unwrap().to_owned();
    assert_eq!(job_status(&app, &second).await["status"], "queued");
    let third = send(&app, Method::POST, "/atrain", &long_training()).await;
    assert_eq!(third.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(third.headers().contains_key("retry-after"));
    assert_eq!(third.json::<Value>().await.unwrap()["code"], "queue_full");

    // A queued job is cancelled at once (200), a running one is asked to stop (202); the
    // queued one first, or it could start once the first stops.
    for (name, answer) in [(&second, StatusCode::OK), (&first, StatusCode::ACCEPTED)] {
        let cancelled = app
            .client
            .delete(app.url(&format!("/jobs/{name}/")))
            .send()
            .await
            .unwrap();
        assert_eq!(cancelled.status(), answer);
        wait_for_status(&app, name, "cancelled").await;
        let again = app
            .client
            .delete(app.url(&format!("/jobs/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            again.status(),
            StatusCode::CONFLICT,
            "an ended job cannot be cancelled"
        );
        let download = app
            .client
            .get(app.url(&format!("/download/{name}")))
            .send()
            .await
            .unwrap();
        assert_eq!(download.status(), StatusCode::GONE);
        assert_eq!(
            download.json::<Value>().await.unwrap()["code"],
            "job_cancelled"
        );
    }
    assert!(!app.models_dir().join(format!("{first}.npy")).exists());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_left_running_by_a_crash_reads_failed_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let models = dir.path().join("models");
    std::fs::create_dir_all(&models).unwrap();
    let record =
        json!({"name": "crashed", "status": "running", "grid_shape": [5, 5], "max_iterations": 10});
    std::fs::write(models.join("crashed.json"), record.to_string()).unwrap();
    let app = spawn_app_in(dir, &[]).await;
    let status = job_status(&app, "crashed").await;
    assert_eq!(status["status"], "failed", "{status}");
    assert_eq!(status["error"], "interrupted");
    let download = app
        .client
        .get(app.url("/download/crashed"))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(
        download.json::<Value>().await.unwrap()["code"],
        "job_failed"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_server_records_a_running_job_as_interrupted() {
    let app = spawn_app_with(&["--shutdown-grace-seconds", "1"]).await;
    let name = start_long_job(&app).await;
    let record = app.models_dir().join(format!("{name}.json"));
    let _dir = app.stop().await;
    let meta: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    assert_eq!(meta["status"], "failed", "{meta}");
    assert_eq!(meta["error"], "interrupted by shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_train_request_can_return_every_presentation_verbosely() {
    let app = spawn_app().await;
    let payload = json!({
        "training_data": colours(4), "grid_shape": [3, 3], "max_iterations": 2, "verbose": true,
        "seed": 5, "pp_FIND_BMU": 4, "pp_INF_BMU_W": 4, "pp_INF_BMU_POS": 4
    });
    let answer: Value = send(&app, Method::POST, "/train", &payload)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(answer["seed"], 5);
    assert_eq!(answer["predictions"].as_array().unwrap().len(), 4);
    assert_eq!(answer["learning_rates"].as_array().unwrap().len(), 2);
    assert_eq!(answer["neigh_radii"].as_array().unwrap().len(), 2);
    assert_eq!(answer["bmu_indicies"].as_array().unwrap().len(), 8);
    app.stop().await;
}
