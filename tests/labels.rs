//! What a model knows of its data, over a real socket: feature names and labels given to
//! `/train` (or by a dataset, or the command line), the summary per node it stores, and the
//! distances and labels `/predict` answers.

mod common;

use std::process::Command;

use common::{TestApp, get_json, send, spawn_app};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Three blobs far apart in 2-D, each a 6x5 lattice of points 1 wide around its centre,
/// labelled "a", "b" and "c" in turn.
fn blobs() -> (Vec<[f64; 2]>, Vec<&'static str>) {
    let centres = [([0.0, 0.0], "a"), ([10.0, 0.0], "b"), ([0.0, 10.0], "c")];
    let mut points = Vec::new();
    let mut labels = Vec::new();
    for i in 0..90 {
        let ([x, y], label) = centres[i % 3];
        let m = i / 3;
        let (dx, dy) = ((m % 6) as f64 / 5.0 - 0.5, (m / 6) as f64 / 4.0 - 0.5);
        points.push([x + dx, y + dy]);
        labels.push(label);
    }
    (points, labels)
}

/// Trains with `/train` and answers the model's name.
async fn train(app: &TestApp, request: Value) -> String {
    let response = send(app, Method::POST, "/train", &request).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["operation-location"].as_str().unwrap().to_owned()
}

/// `/predict` by `method` with `body`: the answer, which must be a 200.
async fn predict(app: &TestApp, method: Method, body: Value) -> Value {
    let response = send(app, method, "/predict", &body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn labels_are_predicted_correctly_on_three_well_separated_labelled_blobs() {
    let app = spawn_app().await;
    let (points, labels) = blobs();
    for mode in ["online", "batch"] {
        let name = train(
            &app,
            json!({"training_data": points, "labels": labels, "feature_names": ["x", "y"],
                   "grid_shape": [4, 4], "max_iterations": 30, "seed": 3, "mode": mode}),
        )
        .await;
        // The training rows, then the blobs' centres.
        let mut vectors = points.clone();
        vectors.extend([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]);
        let mut expected = labels.clone();
        expected.extend(["a", "b", "c"]);
        for method in [Method::GET, Method::POST] {
            let answer = predict(
                &app,
                method,
                json!({"model_name": name, "test_data": vectors}),
            )
            .await;
            assert_eq!(answer["labels"], json!(expected), "{mode}");
            assert_eq!(answer["predictions"].as_array().unwrap().len(), 93);
            assert_eq!(answer["distances"].as_array().unwrap().len(), 93);
        }

        let (status, model) = get_json(&app, &format!("/models/{name}")).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(model["feature_names"], json!(["x", "y"]));
        assert_eq!(model["labels"], json!(["a", "b", "c"]));

        let (status, nodes) = get_json(&app, &format!("/models/{name}/nodes")).await;
        assert_eq!(status, StatusCode::OK, "{nodes}");
        assert_eq!(nodes["grid_shape"], json!([4, 4]));
        let hits: Vec<u64> = serde_json::from_value(nodes["hits"].clone()).unwrap();
        assert_eq!(hits.len(), 16);
        assert_eq!(hits.iter().sum::<u64>(), 90, "hits sum to the rows");
        let counts: Vec<Vec<[u64; 2]>> =
            serde_json::from_value(nodes["label_counts"].clone()).unwrap();
        let majority: Vec<Option<u64>> =
            serde_json::from_value(nodes["majority_label"].clone()).unwrap();
        let means = nodes["mean_distance"].as_array().unwrap();
        for node in 0..16 {
            let total: u64 = counts[node].iter().map(|[_, count]| count).sum();
            assert_eq!(total, hits[node]);
            // Blobs this far apart never share a node.
            assert!(counts[node].len() <= 1, "node {node}: {:?}", counts[node]);
            assert_eq!(
                majority[node],
                counts[node].first().map(|[label, _]| *label)
            );
            assert_eq!(means[node].is_null(), hits[node] == 0);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn distances_are_the_terms_the_quantization_error_averages() {
    let app = spawn_app().await;
    let (points, _) = blobs();
    for (mode, scaling) in [
        ("online", "none"),
        ("batch", "standard"),
        ("online", "minmax"),
    ] {
        let name = train(
            &app,
            json!({"training_data": points, "grid_shape": [4, 5], "max_iterations": 20,
                   "seed": 5, "mode": mode, "scaling": scaling}),
        )
        .await;
        let (_, model) = get_json(&app, &format!("/models/{name}")).await;
        let qe = model["quantization_error"].as_f64().unwrap();
        let answer = predict(
            &app,
            Method::POST,
            json!({"model_name": name, "test_data": points}),
        )
        .await;
        let distances: Vec<f64> = serde_json::from_value(answer["distances"].clone()).unwrap();
        assert_eq!(distances.len(), 90);
        let mean = distances.iter().sum::<f64>() / 90.0;
        assert!(
            (mean - qe).abs() <= 1e-12 * qe.max(1.0),
            "{mode}/{scaling}: mean distance {mean} but quantization error {qe}"
        );
        let (_, nodes) = get_json(&app, &format!("/models/{name}/nodes")).await;
        let hits: Vec<u64> = serde_json::from_value(nodes["hits"].clone()).unwrap();
        let means: Vec<Option<f64>> =
            serde_json::from_value(nodes["mean_distance"].clone()).unwrap();
        let weighted: f64 = (hits.iter().zip(&means))
            .map(|(&hits, mean)| hits as f64 * mean.unwrap_or(0.0))
            .sum();
        assert!((weighted / 90.0 - qe).abs() <= 1e-12 * qe.max(1.0));
        assert_eq!(
            answer.get("labels"),
            None,
            "a model without labels has none"
        );
        assert_eq!(nodes["labels"], Value::Null);
        assert_eq!(nodes["label_counts"], Value::Null);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_csv_datasets_header_and_label_column_name_the_features_and_label_the_rows() {
    let app = spawn_app().await;
    let (points, labels) = blobs();
    let mut csv = String::from("width,kind,height\n");
    for ([x, y], label) in points.iter().zip(&labels) {
        csv.push_str(&format!("{x},{label},{y}\n"));
    }
    let response = (app.client.put(app.url("/datasets/blobs?label_column=kind")))
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);

    let request =
        json!({"dataset": "blobs", "grid_shape": [5, 5], "max_iterations": 20, "seed": 1});
    let name = train(&app, request.clone()).await;
    let (_, model) = get_json(&app, &format!("/models/{name}")).await;
    assert_eq!(model["feature_names"], json!(["width", "height"]));
    assert_eq!(model["labels"], json!(["a", "b", "c"]));
    let answer = predict(
        &app,
        Method::GET,
        json!({"model_name": name, "dataset": "blobs"}),
    )
    .await;
    let predicted: Vec<String> = serde_json::from_value(answer["labels"].clone()).unwrap();
    assert_eq!(
        predicted, labels,
        "every training row gets its own blob's label"
    );
    assert_eq!(answer["distances"].as_array().unwrap().len(), 90);

    // The request's own names and labels win over the dataset's.
    let mut own = request;
    own["feature_names"] = json!(["w", "h"]);
    own["labels"] = json!((0..90).map(|i| i % 2).collect::<Vec<_>>());
    let name = train(&app, own).await;
    let (_, model) = get_json(&app, &format!("/models/{name}")).await;
    assert_eq!(model["feature_names"], json!(["w", "h"]));
    assert_eq!(
        model["labels"],
        json!(["0", "1"]),
        "integers are kept as text"
    );

    // pandas' to_csv names its index column "": such a header trains, unnamed.
    let mut csv = String::from(",x,y\n");
    for (row, [x, y]) in points.iter().enumerate() {
        csv.push_str(&format!("{row},{x},{y}\n"));
    }
    let response = (app.client.put(app.url("/datasets/indexed")))
        .body(csv)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let name = train(
        &app,
        json!({"dataset": "indexed", "grid_shape": [3, 3], "max_iterations": 5}),
    )
    .await;
    let (_, model) = get_json(&app, &format!("/models/{name}")).await;
    assert_eq!(model["feature_names"], Value::Null);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_feature_names_and_labels_are_422_naming_their_field() {
    let app = spawn_app().await;
    let data = json!([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]]);
    let long = "n".repeat(101);
    let many: Vec<String> = (0..1001).map(|i| format!("class {i}")).collect();
    let many_rows: Vec<[f64; 2]> = (0..1001).map(|i| [i as f64, 0.0]).collect();
    let cases = [
        (
            json!({"feature_names": ["x"]}),
            "invalid_feature_names",
            "has 1 entries but the data has 2 columns",
        ),
        (
            json!({"feature_names": ["x", long]}),
            "invalid_feature_names",
            "feature_names[1] has 101 characters",
        ),
        (
            json!({"feature_names": ["x", "x"]}),
            "invalid_feature_names",
            "feature_names[1] repeats \"x\"",
        ),
        (
            json!({"feature_names": ["x", ""]}),
            "invalid_feature_names",
            "feature_names[1] is empty",
        ),
        (
            json!({"feature_names": ["x", 2]}),
            "invalid_feature_names",
            "feature_names[1] is 2",
        ),
        (
            json!({"feature_names": "x,y"}),
            "invalid_type",
            "feature_names",
        ),
        (
            json!({"labels": ["a", "b"]}),
            "invalid_labels",
            "labels has 2 entries but the data has 3 rows",
        ),
        (
            json!({"labels": ["a", long, "b"]}),
            "invalid_labels",
            "labels[1] has 101 characters",
        ),
        (
            json!({"labels": ["a", 1.5, "b"]}),
            "invalid_labels",
            "labels[1] is 1.5",
        ),
        (
            json!({"labels": ["a", null, "b"]}),
            "invalid_labels",
            "labels[1] is null",
        ),
        (
            json!({"labels": many, "training_data": many_rows}),
            "invalid_labels",
            "more than 1000 distinct",
        ),
    ];
    for (fields, code, message) in cases {
        let mut request = json!({"training_data": data, "grid_shape": [2, 2], "max_iterations": 2});
        for (key, value) in fields.as_object().unwrap() {
            request[key] = value.clone();
        }
        let response = send(&app, Method::POST, "/train", &request).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{fields}: {answer}"
        );
        assert_eq!(answer["code"], code, "{answer}");
        let text = answer["message"].as_str().unwrap();
        assert!(text.contains(message), "{text:?} lacks {message:?}");
    }
    assert_eq!(get_json(&app, "/list-of-models").await.1, json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_imported_model_has_no_node_summary_and_predicts_no_labels() {
    let app = spawn_app().await;
    let weights = std::fs::read(common::fixture("original-npy/10X10_100N.npy")).unwrap();
    let response = (app.client.put(app.url("/models/imported")))
        .body(weights)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let (status, answer) = get_json(&app, "/models/imported/nodes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(answer["code"], "no_node_summary");
    let (_, model) = get_json(&app, "/models/imported").await;
    assert_eq!(
        (&model["feature_names"], &model["labels"]),
        (&Value::Null, &Value::Null)
    );
    let answer = predict(
        &app,
        Method::POST,
        json!({"model_name": "imported", "test_data": [[0.2, 0.4, 0.6]]}),
    )
    .await;
    assert_eq!(answer.get("labels"), None);
    assert_eq!(answer["distances"].as_array().unwrap().len(), 1);
}

#[test]
fn the_command_lines_label_column_and_feature_names_end_up_in_the_stored_record() {
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("blobs.csv");
    let (points, labels) = blobs();
    let mut text = String::from("kind,x,y\n");
    for ([x, y], label) in points.iter().zip(&labels) {
        text.push_str(&format!("{label},{x},{y}\n"));
    }
    std::fs::write(&csv, text).unwrap();
    let models = dir.path().join("models");
    let train = |name: &str, extra: &[&str]| {
        let mut args = vec!["train", "--data", csv.to_str().unwrap(), "--grid", "4x4"];
        args.extend(["--iterations", "10", "--seed", "2", "--name", name]);
        args.extend([
            "--models-dir",
            models.to_str().unwrap(),
            "--label-column",
            "kind",
        ]);
        args.extend(extra);
        Command::new(env!("CARGO_BIN_EXE_kohonen"))
            .args(&args)
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let record = |name: &str| -> Value {
        let text = std::fs::read(models.join(format!("{name}.json"))).unwrap();
        serde_json::from_slice(&text).unwrap()
    };

    let out = train("header", &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["labels"], json!(["a", "b", "c"]));
    let data = &record("header")["data"];
    assert_eq!(data["feature_names"], json!(["x", "y"]));
    assert_eq!(data["labels"], json!(["a", "b", "c"]));
    // Stored sparse: the map's size and the nodes that won samples.
    assert_eq!(data["nodes"]["nodes"], 16);
    let won = data["nodes"]["won"].as_array().unwrap();
    let hits: u64 = won.iter().map(|node| node["hits"].as_u64().unwrap()).sum();
    assert_eq!(hits, 90);
    assert!(won.iter().all(|node| node["label_counts"].is_array()));

    let out = train("flags", &["--feature-names", "width,height"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        record("flags")["data"]["feature_names"],
        json!(["width", "height"])
    );

    let out = train("bad", &["--feature-names", "width"]);
    assert_eq!(out.status.code(), Some(2));
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("--feature-names"), "{message}");
    assert!(!models.join("bad.json").exists());

    // The record's pictures from the command line, as the server draws them.
    for kind in ["hits", "labels"] {
        let out = dir.path().join(format!("{kind}.png"));
        let rendered = Command::new(env!("CARGO_BIN_EXE_kohonen"))
            .args(["render", "header", "--kind", kind, "--scale", "10", "--out"])
            .arg(&out)
            .arg("--models-dir")
            .arg(&models)
            .output()
            .unwrap();
        assert!(
            rendered.status.success(),
            "{kind}: {}",
            String::from_utf8_lossy(&rendered.stderr)
        );
        let printed: Value = serde_json::from_slice(&rendered.stdout).unwrap();
        assert_eq!(printed["scale"], 10, "{kind}");
        assert!(
            std::fs::read(&out).unwrap().starts_with(b"\x89PNG"),
            "{kind}"
        );
    }
}
