//! `/openapi.json` describes every route, and `/docs` serves its page from the binary.

mod common;

use common::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

/// Every operation of the API (SPEC §4 and the pictures issue).
const OPERATIONS: [(&str, &str); 29] = [
    ("post", "/train"),
    ("post", "/atrain"),
    ("get", "/list-of-models"),
    ("get", "/download/{name}"),
    ("get", "/predict"),
    ("post", "/predict"),
    ("get", "/jobs"),
    ("get", "/jobs/{name}"),
    ("delete", "/jobs/{name}"),
    ("get", "/models"),
    ("get", "/models/{name}"),
    ("put", "/models/{name}"),
    ("delete", "/models/{name}"),
    ("get", "/models/{name}/nodes"),
    ("get", "/models/{name}/image.png"),
    ("get", "/models/{name}/umatrix.png"),
    ("get", "/models/{name}/curves.png"),
    ("get", "/models/{name}/components.png"),
    ("get", "/models/{name}/figure.png"),
    ("get", "/models/{name}/hits.png"),
    ("post", "/models/{name}/hits.png"),
    ("get", "/models/{name}/labels.png"),
    ("post", "/models/{name}/predictions.png"),
    ("get", "/health"),
    ("get", "/metrics"),
    ("get", "/datasets"),
    ("get", "/datasets/{name}"),
    ("put", "/datasets/{name}"),
    ("delete", "/datasets/{name}"),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_openapi_document_has_every_operation_with_its_answers() {
    let app = spawn_app().await;
    let document: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.clone(), path.clone()))
        })
        .collect();
    documented.sort();
    let mut expected: Vec<(String, String)> = OPERATIONS
        .iter()
        .map(|(method, path)| (method.to_string(), path.to_string()))
        .collect();
    expected.sort();
    assert_eq!(documented, expected);
    for (method, path) in &documented {
        let operation = &document["paths"][path][method];
        assert!(
            operation["description"]
                .as_str()
                .is_some_and(|d| d.len() > 20),
            "{method} {path} says what it does"
        );
        let responses = operation["responses"].as_object().unwrap();
        assert!(responses.contains_key("200"), "{method} {path}");
        let cannot_fail = ["/health", "/metrics", "/list-of-models", "/models", "/jobs"];
        assert!(
            responses.keys().any(|status| status.starts_with('4'))
                || cannot_fail.contains(&path.as_str()),
            "{method} {path} documents its errors"
        );
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_page_and_its_assets_come_from_the_binary() {
    let app = spawn_app().await;
    let page = app.client.get(app.url("/docs")).send().await.unwrap();
    assert_eq!(
        page.status(),
        StatusCode::OK,
        "the redirect to /docs/ is followed"
    );
    assert!(page.text().await.unwrap().contains("swagger-ui"));
    let bundle = app
        .client
        .get(app.url("/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(bundle.status(), StatusCode::OK);
    assert!(bundle.bytes().await.unwrap().len() > 100_000);
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(initializer.contains("/openapi.json"));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_web_page_and_its_assets_are_served_from_the_binary() {
    let app = spawn_app().await;
    for (path, content_type, marker) in [
        ("/", "text/html", "<title>Kohonen maps</title>"),
        ("/assets/app.js", "text/javascript", "/atrain"),
        ("/assets/api.js", "text/javascript", "XMLHttpRequest"),
        ("/assets/data.js", "text/javascript", "label"),
        ("/assets/jobs.js", "text/javascript", "/jobs"),
        ("/assets/models.js", "text/javascript", "#/models/"),
        ("/assets/options.js", "text/javascript", "aria-invalid"),
        ("/assets/style.css", "text/css", ".models"),
    ] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let served_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            served_type.starts_with(content_type),
            "{path}: {served_type}"
        );
        assert!(response.text().await.unwrap().contains(marker), "{path}");
    }
    let missing = app
        .client
        .get(app.url("/assets/nope.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

/// The served document, as a tester that trusts it would read it.
async fn served_document(extra: &[&str]) -> Value {
    let app = common::spawn_app_with(extra).await;
    let document = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    app.stop().await;
    document
}

fn operations(document: &Value) -> Vec<(String, String, Value)> {
    document["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .iter()
                .map(move |(method, operation)| (method.clone(), path.clone(), operation.clone()))
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_name_in_a_path_states_the_naming_rule_and_its_400() {
    let document = served_document(&[]).await;
    let names = operations(&document)
        .into_iter()
        .filter(|(_, path, _)| path.contains("{name}"))
        .collect::<Vec<_>>();
    assert_eq!(names.len(), 19);
    for (method, path, operation) in names {
        let name = operation["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|parameter| parameter["name"] == "name" && parameter["in"] == "path")
            .unwrap_or_else(|| panic!("{method} {path} has a name parameter"));
        let schema = &name["schema"];
        let pattern = schema["pattern"].as_str().unwrap();
        assert!(
            pattern.starts_with('^') && pattern.ends_with('$'),
            "{pattern}"
        );
        assert_eq!(schema["minLength"], 1, "{method} {path}");
        let longest = if path.starts_with("/download/") {
            204
        } else {
            200
        };
        assert_eq!(schema["maxLength"], longest, "{method} {path}");
        assert!(
            operation["responses"]["400"].is_object(),
            "{method} {path} documents invalid_name"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_json_body_names_its_required_fields_and_every_error_its_shape() {
    let document = served_document(&[]).await;
    let schemas = &document["components"]["schemas"];
    for (body, required) in [
        ("TrainIn", &["grid_shape", "max_iterations"][..]),
        ("PredictIn", &["model_name"][..]),
        ("VectorsIn", &["test_data"][..]),
    ] {
        let listed: Vec<&str> = schemas[body]["required"]
            .as_array()
            .unwrap_or_else(|| panic!("{body} lists its required fields"))
            .iter()
            .map(|field| field.as_str().unwrap())
            .collect();
        assert_eq!(listed, required, "{body}");
        assert_ne!(
            schemas[body]["additionalProperties"], false,
            "{body} accepts unknown fields (named in warnings)"
        );
    }
    for (method, path, operation) in operations(&document) {
        assert_eq!(
            operation["responses"]["403"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/ErrorOut",
            "{method} {path} documents forbidden_origin"
        );
        if operation["requestBody"].is_object() {
            for status in ["408", "413", "503"] {
                assert!(
                    operation["responses"][status].is_object(),
                    "{method} {path} documents {status}"
                );
            }
        }
        for (status, response) in operation["responses"].as_object().unwrap() {
            for (media, content) in response["content"].as_object().into_iter().flatten() {
                let schema = &content["schema"];
                if media == "application/json" {
                    assert!(
                        schema["$ref"].is_string() || schema["type"] == "array",
                        "{method} {path} {status} answers a typed body: {schema}"
                    );
                } else if media != "text/plain" {
                    assert_eq!(schema["format"], "binary", "{method} {path} {status}");
                }
            }
        }
    }
    let put = &document["paths"]["/models/{name}"]["put"];
    assert!(put["requestBody"]["content"]["application/octet-stream"].is_object());
    assert_eq!(put["parameters"][1]["schema"]["type"], "boolean");
    let scale = &document["paths"]["/models/{name}/image.png"]["get"]["parameters"][1];
    assert_eq!(
        (
            &scale["name"],
            &scale["schema"]["minimum"],
            &scale["schema"]["maximum"]
        ),
        (&Value::from("scale"), &Value::from(1), &Value::from(2000))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_states_the_limits_the_server_was_started_with() {
    let document = served_document(&["--max-iterations", "50", "--max-nodes", "400"]).await;
    let train = &document["components"]["schemas"]["TrainIn"]["properties"];
    assert_eq!(train["max_iterations"]["maximum"], 50);
    assert_eq!(train["max_iterations"]["minimum"], 1);
    assert_eq!(train["grid_shape"]["items"]["maximum"], 400);
    assert_eq!(train["grid_shape"]["items"]["minimum"], 1);
    let default = served_document(&[]).await;
    assert_eq!(
        default["components"]["schemas"]["TrainIn"]["properties"]["max_iterations"]["maximum"],
        1_000_000
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_training_options_are_documented_with_the_cores_names_bounds_and_examples() {
    use kohonen::som::{
        Compatibility, Decay, Distance, InitMethod, Mode, Neighbourhood, Order, Scaling, Topology,
    };
    let document = served_document(&[]).await;
    let schemas = &document["components"]["schemas"];
    let train = &schemas["TrainIn"]["properties"];
    let named: [(&str, Vec<&str>); 9] = [
        ("topology", Topology::names()),
        ("neighbourhood", Neighbourhood::names()),
        ("schedule", Decay::names()),
        ("compatibility", Compatibility::names()),
        ("distance", Distance::names()),
        ("init", InitMethod::names()),
        ("order", Order::names()),
        ("scaling", Scaling::names()),
        ("mode", Mode::names()),
    ];
    for (field, names) in named {
        for schema in [&train[field], &schemas["OptionsOut"]["properties"][field]] {
            let mut expected: Vec<Value> = names.iter().map(|name| Value::from(*name)).collect();
            expected.push(Value::Null);
            assert_eq!(schema["enum"], Value::from(expected), "{field}");
            let example = &schema["examples"][0];
            assert!(
                names.contains(&example.as_str().unwrap()),
                "{field}: {example}"
            );
            assert!(
                schema["description"].as_str().is_some_and(|d| d.len() > 20),
                "{field} says what it does"
            );
        }
    }
    assert_eq!(train["topology"]["default"], "rectangular");
    assert_eq!(train["compatibility"]["default"], Value::Null);
    assert_eq!(
        train["toroidal"]["type"],
        serde_json::json!(["boolean", "null"])
    );
    assert_eq!(train["toroidal"]["default"], false);
    for field in ["final_learning_rate", "learning_rate"] {
        assert_eq!(train[field]["exclusiveMinimum"], 0, "{field}");
        assert!(train[field]["description"].is_string(), "{field}");
    }
    for field in ["radius", "final_radius"] {
        assert_eq!(train[field]["minimum"], 0.000001, "{field}");
        assert!(train[field]["description"].is_string(), "{field}");
    }
    assert_eq!(train["final_learning_rate"]["maximum"], 1);
    for field in ["radius", "final_radius", "final_learning_rate", "toroidal"] {
        assert!(!train[field]["example"].is_null(), "{field} has an example");
    }

    let model = &schemas["ModelOut"]["properties"];
    assert_eq!(model["options"]["$ref"], "#/components/schemas/OptionsOut");
    assert!(model["scaler"].is_object());
    assert!(
        schemas["ModelDetailOut"]
            .to_string()
            .contains("quality_per_iteration")
    );
    let download = &document["paths"]["/download/{name}"]["get"];
    let units = download["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|parameter| parameter["name"] == "units")
        .expect("download documents units");
    assert_eq!(units["in"], "query");
    let units = units["schema"].to_string();
    assert!(
        units.contains("\"scaled\"") && units.contains("\"data\""),
        "{units}"
    );
    assert!(download["responses"]["422"].is_object());
}
