//! The training options of SPEC §3b over a real socket: each goes through `/train`, shows in
//! `GET /models/NAME`, and changes what `/predict` and `/download` answer as it should.

mod common;

use common::{TestApp, colours, fixture, send, spawn_app};
use ndarray::Array3;
use ndarray_npy::ReadNpyExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// `/train` of `body`: the model's name and the answer (which must be 200).
async fn train(app: &TestApp, body: &Value) -> (String, Value) {
    let response = send(app, Method::POST, "/train", body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    let name = answer["operation-location"].as_str().unwrap().to_owned();
    (name, answer)
}

async fn record(app: &TestApp, name: &str) -> Value {
    let response = app
        .client
        .get(app.url(&format!("/models/{name}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

async fn predict(app: &TestApp, name: &str, data: &Value) -> Vec<[usize; 2]> {
    let body = json!({"model_name": name, "test_data": data});
    let response = send(app, Method::POST, "/predict", &body).await;
    let status = response.status();
    let answer: Value = response.json().await.unwrap();
    assert_eq!(status, StatusCode::OK, "{answer}");
    serde_json::from_value(answer["predictions"].clone()).unwrap()
}

/// `/download/NAME` with `query` (e.g. `?units=data`): the weights.
async fn download(app: &TestApp, name: &str, query: &str) -> Array3<f64> {
    let response = app
        .client
        .get(app.url(&format!("/download/{name}{query}")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{query}");
    Array3::<f64>::read_npy(&response.bytes().await.unwrap()[..]).unwrap()
}

/// The node whose weights are nearest `v` by `distance`, ties to the smallest flat index.
fn nearest_by(weights: &Array3<f64>, v: &[f64], distance: fn(&[f64], &[f64]) -> f64) -> [usize; 2] {
    let (rows, cols, dim) = weights.dim();
    let mut best = (f64::INFINITY, [0, 0]);
    for r in 0..rows {
        for c in 0..cols {
            let w: Vec<f64> = (0..dim).map(|k| weights[[r, c, k]]).collect();
            let d = distance(v, &w);
            if d < best.0 {
                best = (d, [r, c]);
            }
        }
    }
    best.1
}

fn cosine(v: &[f64], w: &[f64]) -> f64 {
    let dot: f64 = v.iter().zip(w).map(|(a, b)| a * b).sum();
    let norm = |x: &[f64]| x.iter().map(|a| a * a).sum::<f64>().sqrt();
    1.0 - dot / (norm(v) * norm(w))
}

fn euclidean(v: &[f64], w: &[f64]) -> f64 {
    v.iter().zip(w).map(|(a, b)| (a - b) * (a - b)).sum()
}

/// Rows whose second feature is in the thousands: unscaled, it alone decides every distance.
fn lopsided(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            let i = i as f64;
            vec![
                (i * 0.37) % 1.0,
                1000.0 + (i * 611.0) % 997.0,
                (i * 0.13) % 0.5,
            ]
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_option_round_trips_through_train_the_record_and_predict() {
    let app = spawn_app().await;
    let data = lopsided(12);
    let body = json!({
        "training_data": data, "grid_shape": [4, 6], "max_iterations": 20,
        "learning_rate": 0.3, "seed": 5, "verbose": true,
        "topology": "hexagonal", "toroidal": true, "neighbourhood": "bubble", "radius": 2.5,
        "schedule": "linear", "final_radius": 0.5, "final_learning_rate": 0.01,
        "distance": "manhattan", "init": "sample", "order": "shuffled", "scaling": "minmax",
        "mode": "online",
    });
    let (name, answer) = train(&app, &body).await;
    assert!(name.ends_with("_4X6_20N_0.3LR"), "{name}");
    assert_eq!(
        answer["seed"], 5,
        "sample init and shuffled order draw from the seed"
    );
    assert_eq!(
        answer["neigh_radii"][19], 0.5,
        "the linear schedule ends at final_radius"
    );

    let described = record(&app, &name).await;
    assert_eq!(
        described["options"],
        json!({
            "topology": "hexagonal", "toroidal": true, "neighbourhood": "bubble",
            "radius": 2.5, "schedule": "linear", "final_radius": 0.5,
            "final_learning_rate": 0.01, "compatibility": null, "distance": "manhattan",
            "init": "sample", "order": "shuffled", "scaling": "minmax", "mode": "online",
        })
    );
    assert_eq!(described["learning_rate"], 0.3);
    assert_eq!(described["seed"], 5);
    assert_eq!(described["scaler"]["kind"], "minmax");
    assert_eq!(described["scaler"]["offset"][1], 1000.0);
    assert_eq!(described["quality_per_iteration"], Value::Null, "online");

    // The raw rows, scaled by the model's scaler and compared by its distance, land where the
    // training placed them.
    let verbose: Vec<[usize; 2]> = serde_json::from_value(answer["predictions"].clone()).unwrap();
    assert_eq!(predict(&app, &name, &json!(data)).await, verbose);

    let (again, _) = train(&app, &body).await;
    assert_eq!(
        download(&app, &again, "").await,
        download(&app, &name, "").await,
        "the same seed draws the same sample rows and shuffles"
    );

    let python = json!({
        "training_data": colours(10), "grid_shape": [5, 5], "max_iterations": 10,
        "compatibility": "python-service",
    });
    let (name, _) = train(&app, &python).await;
    let options = &record(&app, &name).await["options"];
    assert_eq!(
        (
            &options["compatibility"],
            &options["neighbourhood"],
            &options["schedule"],
            &options["radius"]
        ),
        (
            &json!("python-service"),
            &json!("gaussian-full"),
            &json!("exponential"),
            &json!(2.5)
        )
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_cosine_distance_a_vector_and_its_multiples_land_on_the_same_node() {
    let app = spawn_app().await;
    let data: Vec<[f64; 2]> = (0..12)
        .map(|i| {
            let angle = i as f64 * 0.13;
            let length = 1.0 + (i % 4) as f64 * 3.0;
            [length * angle.cos(), length * angle.sin()]
        })
        .collect();
    let vectors = json!([[1.0, 0.0], [10.0, 0.0], [0.3, 1.0], [3.0, 10.0], [0.7, 0.7]]);
    let rows: Vec<Vec<f64>> = serde_json::from_value(vectors.clone()).unwrap();
    for distance in ["cosine", "euclidean"] {
        let body = json!({
            "training_data": data, "grid_shape": [3, 4], "max_iterations": 15, "seed": 2,
            "distance": distance,
        });
        let (name, _) = train(&app, &body).await;
        assert_eq!(record(&app, &name).await["options"]["distance"], distance);
        let weights = download(&app, &name, "").await;
        let by = if distance == "cosine" {
            cosine
        } else {
            euclidean
        };
        let predicted = predict(&app, &name, &vectors).await;
        let expected: Vec<[usize; 2]> = rows.iter().map(|v| nearest_by(&weights, v, by)).collect();
        assert_eq!(predicted, expected, "{distance}");
        if distance == "cosine" {
            assert_eq!(predicted[0], predicted[1], "[1, 0] and [10, 0]");
            assert_eq!(predicted[2], predicted[3], "[0.3, 1] and [3, 10]");
        }
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_standard_scaled_model_predicts_raw_input_as_it_placed_its_training_rows() {
    let app = spawn_app().await;
    let data = lopsided(20);
    let body = json!({
        "training_data": data, "grid_shape": [5, 5], "max_iterations": 30, "seed": 3,
        "scaling": "standard", "verbose": true,
    });
    let (name, answer) = train(&app, &body).await;
    let verbose: Vec<[usize; 2]> = serde_json::from_value(answer["predictions"].clone()).unwrap();
    assert_eq!(predict(&app, &name, &json!(data)).await, verbose);

    let described = record(&app, &name).await;
    assert_eq!(described["options"]["scaling"], "standard");
    let offset: Vec<f64> = serde_json::from_value(described["scaler"]["offset"].clone()).unwrap();
    let scale: Vec<f64> = serde_json::from_value(described["scaler"]["scale"].clone()).unwrap();
    let n = data.len() as f64;
    let mean = data.iter().map(|row| row[1]).sum::<f64>() / n;
    assert!((offset[1] - mean).abs() < 1e-9, "the mean of the feature");
    assert!(scale[1] > 100.0, "its standard deviation: {}", scale[1]);

    // The stored weights are in scaled units; the training rows, scaled, land on their
    // nearest node in them.
    let scaled = download(&app, &name, "").await;
    assert_eq!(scaled, download(&app, &name, "?units=scaled").await);
    for (row, placed) in data.iter().zip(&verbose) {
        let row: Vec<f64> = (0..3).map(|k| (row[k] - offset[k]) / scale[k]).collect();
        assert_eq!(nearest_by(&scaled, &row, euclidean), *placed);
    }
    let in_data_units = download(&app, &name, "?units=data").await;
    for ((r, c, k), w) in in_data_units.indexed_iter() {
        assert_eq!(*w, scaled[[r, c, k]] * scale[k] + offset[k]);
    }
    assert!(in_data_units.iter().skip(1).step_by(3).all(|w| *w > 500.0));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_model_is_named_batch_with_no_learning_rate_and_its_quality_per_iteration() {
    let app = spawn_app().await;
    let body = json!({
        "training_data": colours(10), "grid_shape": [4, 3], "max_iterations": 7,
        "mode": "batch", "init": "pca", "topology": "hexagonal", "toroidal": true,
        "seed": 11,
    });
    let (name, answer) = train(&app, &body).await;
    assert!(name.ends_with("_4X3_7N_batch"), "{name}");
    assert_eq!(
        answer["seed"],
        Value::Null,
        "PCA in batch mode draws nothing"
    );
    let described = record(&app, &name).await;
    assert_eq!(described["learning_rate"], Value::Null);
    assert_eq!(described["options"]["mode"], "batch");
    assert_eq!(described["options"]["init"], "pca");
    assert_eq!(described["options"]["final_learning_rate"], Value::Null);
    let quality = described["quality_per_iteration"].as_array().unwrap();
    assert_eq!(quality.len(), 7);
    assert_eq!(
        described["recorded_iterations"],
        json!([1, 2, 3, 4, 5, 6, 7])
    );
    assert!(
        quality
            .iter()
            .all(|pair| pair.as_array().unwrap().len() == 2)
    );
    let last = quality[6][0].as_f64().unwrap();
    let error = described["quantization_error"].as_f64().unwrap();
    assert!(
        (last - error).abs() < 1e-9,
        "the last iteration's error is the map's: {last} vs {error}"
    );
    let (_, listed) = common::get_json(&app, "/models").await;
    assert_eq!(listed[0]["options"]["mode"], "batch");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_option_or_combination_is_a_422_naming_the_field() {
    let app = spawn_app().await;
    let good = json!({"training_data": colours(6), "grid_shape": [4, 4], "max_iterations": 3});
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"mode": "batch", "learning_rate": 0.1}),
            "learning_rate",
            "invalid_option",
        ),
        (
            json!({"mode": "batch", "schedule": "linear", "final_learning_rate": 0.01}),
            "final_learning_rate",
            "invalid_option",
        ),
        (
            json!({"mode": "batch", "neighbourhood": "mexican-hat"}),
            "neighbourhood",
            "invalid_option",
        ),
        (
            json!({"mode": "batch", "order": "shuffled"}),
            "order",
            "invalid_option",
        ),
        (
            json!({"mode": "batch", "verbose": true}),
            "verbose",
            "invalid_option",
        ),
        (
            json!({"topology": "hexagonal", "toroidal": true, "grid_shape": [5, 4]}),
            "toroidal",
            "invalid_option",
        ),
        (
            json!({"final_radius": 0.5}),
            "final_radius",
            "invalid_option",
        ),
        (
            json!({"final_learning_rate": 0.01}),
            "final_learning_rate",
            "invalid_option",
        ),
        (
            json!({"schedule": "linear", "radius": 2, "final_radius": 3}),
            "final_radius",
            "invalid_option",
        ),
        (
            json!({"schedule": "linear", "learning_rate": 0.1, "final_learning_rate": 0.2}),
            "final_learning_rate",
            "invalid_option",
        ),
        (json!({"radius": 0}), "radius", "invalid_option"),
        (json!({"radius": -1.5}), "radius", "invalid_option"),
        (
            json!({"compatibility": "python-service", "neighbourhood": "bubble"}),
            "neighbourhood",
            "invalid_option",
        ),
        (
            json!({"compatibility": "python-service", "schedule": "inverse"}),
            "schedule",
            "invalid_option",
        ),
        (
            json!({"compatibility": "python-service", "radius": 2}),
            "radius",
            "invalid_option",
        ),
        (
            json!({"compatibility": "python-service", "mode": "batch"}),
            "mode",
            "invalid_option",
        ),
        (
            json!({"topology": "triangular"}),
            "rectangular, hexagonal",
            "invalid_option",
        ),
        (
            json!({"neighbourhood": "cone"}),
            "mexican-hat",
            "invalid_option",
        ),
        (
            json!({"schedule": "step"}),
            "exponential, linear, inverse",
            "invalid_option",
        ),
        (
            json!({"compatibility": "minisom"}),
            "python-service",
            "invalid_option",
        ),
        (
            json!({"distance": "chebyshev"}),
            "euclidean, manhattan, cosine",
            "invalid_option",
        ),
        (
            json!({"init": "zeros"}),
            "random, sample, pca",
            "invalid_option",
        ),
        (
            json!({"order": "reversed"}),
            "given, shuffled",
            "invalid_option",
        ),
        (
            json!({"scaling": "log"}),
            "none, standard, minmax",
            "invalid_option",
        ),
        (
            json!({"mode": "stochastic"}),
            "online, batch",
            "invalid_option",
        ),
        (json!({"toroidal": "yes"}), "toroidal", "invalid_type"),
        (json!({"radius": "big"}), "radius", "invalid_type"),
        (json!({"final_radius": [1]}), "final_radius", "invalid_type"),
        (json!({"topology": 6}), "\"hexagonal\"", "invalid_type"),
        (json!({"mode": true}), "\"batch\"", "invalid_type"),
        (json!({"radius": 1e-300}), "got 1e-300", "invalid_option"),
        (
            json!({"training_data": [[0.5, 0.5, 0.5], [1e200, 0.0, 0.0]]}),
            "within ±1e100",
            "invalid_data",
        ),
    ];
    for (patch, named, code) in cases {
        let mut body = good.clone();
        for (key, value) in patch.as_object().unwrap() {
            body[key] = value.clone();
        }
        for path in ["/train", "/atrain"] {
            let response = send(&app, Method::POST, path, &body).await;
            let status = response.status();
            let answer: Value = response.json().await.unwrap();
            assert_eq!(
                status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{path} {patch}: {answer}"
            );
            assert_eq!(answer["code"], code, "{path} {patch}: {answer}");
            let message = answer["message"].as_str().unwrap();
            assert!(message.contains(named), "{path} {patch}: {message}");
        }
    }
    assert!(app.stored().is_empty(), "{:?}", app.stored());

    // Batch without a learning rate, the options' defaults written out, and nulls are fine.
    let mut fine = good.clone();
    for (key, value) in [
        ("mode", json!("batch")),
        ("topology", json!("rectangular")),
        ("toroidal", json!(false)),
        ("distance", Value::Null),
        ("radius", Value::Null),
    ] {
        fine[key] = value;
    }
    train(&app, &fine).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn download_units_other_than_scaled_or_data_are_a_422() {
    let app = spawn_app().await;
    let body = json!({"training_data": colours(5), "grid_shape": [2, 2], "max_iterations": 2});
    let (name, _) = train(&app, &body).await;
    let stored = download(&app, &name, "").await;
    assert_eq!(
        download(&app, &name, "?units=data").await,
        stored,
        "no scaler"
    );
    for query in ["?units=raw", "?units=", "?units=DATA"] {
        let response = app
            .client
            .get(app.url(&format!("/download/{name}{query}")))
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{query}"
        );
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["code"], "invalid_option");
        assert!(
            answer["message"].as_str().unwrap().contains("units"),
            "{answer}"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_made_before_options_reads_as_the_defaults() {
    let app = spawn_app().await;
    let models = app.models_dir();
    std::fs::copy(
        fixture("original-npy/10X10_100N.npy"),
        models.join("old.npy"),
    )
    .unwrap();
    let old_record = json!({
        "name": "old", "status": "succeeded", "grid_shape": [10, 10], "dim": 3,
        "max_iterations": 100, "learning_rate": 0.1, "seed": 1,
        "created_at": "2025-01-02T03:04:05Z", "started_at": null, "finished_at": null,
        "iterations_done": 100, "training_seconds": 0.01, "quantization_error": 0.02,
        "topographic_error": 0.0, "error": null,
    });
    std::fs::write(models.join("old.json"), old_record.to_string()).unwrap();
    let described = record(&app, "old").await;
    assert_eq!(
        described["options"],
        json!({
            "topology": "rectangular", "toroidal": false, "neighbourhood": "gaussian",
            "radius": 5.0, "schedule": "exponential", "final_radius": null,
            "final_learning_rate": null, "compatibility": null, "distance": "euclidean",
            "init": "random", "order": "given", "scaling": "none", "mode": "online",
        })
    );
    assert_eq!(described["scaler"], Value::Null);
    assert_eq!(described["quality_per_iteration"], Value::Null);
    assert_eq!(described["learning_rate"], 0.1);
    let weights = download(&app, "old", "").await;
    let vectors = colours(4);
    let expected: Vec<[usize; 2]> = vectors
        .iter()
        .map(|v| common::nearest(&weights, v))
        .collect();
    assert_eq!(predict(&app, "old", &json!(vectors)).await, expected);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replaced_model_is_not_served_with_the_options_of_the_old_one() {
    let app = spawn_app().await;
    let body = json!({
        "training_data": [[1.0, 0.0], [0.0, 1.0], [5.0, 5.0], [0.2, 3.0]],
        "grid_shape": [3, 3], "max_iterations": 10, "seed": 4, "distance": "cosine",
        "scaling": "minmax",
    });
    let (name, _) = train(&app, &body).await;
    let vectors = json!([[1.0, 0.0], [10.0, 0.0], [0.0, 4.0], [4.0, 4.5]]);
    let rows: Vec<Vec<f64>> = serde_json::from_value(vectors.clone()).unwrap();
    let before = predict(&app, &name, &vectors).await;

    // The same weights imported under the same name: no options, no scaler.
    let bytes = app
        .client
        .get(app.url(&format!("/download/{name}")))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let weights = Array3::<f64>::read_npy(&bytes[..]).unwrap();
    let replaced = app
        .client
        .put(app.url(&format!("/models/{name}?replace=true")))
        .body(bytes)
        .send()
        .await
        .unwrap();
    assert_eq!(replaced.status(), StatusCode::OK);
    let described = record(&app, &name).await;
    assert_eq!(described["options"]["distance"], "euclidean");
    assert_eq!(described["scaler"], Value::Null);
    let expected: Vec<[usize; 2]> = rows.iter().map(|v| common::nearest(&weights, v)).collect();
    assert_ne!(before, expected, "the options changed the answer");
    assert_eq!(predict(&app, &name, &vectors).await, expected);
    app.stop().await;
}
