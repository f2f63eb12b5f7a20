//! `/openapi.json` describes every route, and `/docs` serves its page from the binary.

mod common;

use common::spawn_app;
use reqwest::StatusCode;
use serde_json::Value;

/// Every operation of the API (SPEC §4 and the pictures issue).
const OPERATIONS: [(&str, &str); 20] = [
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
    ("get", "/models/{name}/image.png"),
    ("get", "/models/{name}/umatrix.png"),
    ("get", "/models/{name}/curves.png"),
    ("post", "/models/{name}/hits.png"),
    ("post", "/models/{name}/predictions.png"),
    ("get", "/health"),
    ("get", "/metrics"),
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
    app.stop().await;
}
