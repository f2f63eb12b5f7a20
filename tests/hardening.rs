//! What a careless or hostile client cannot do: hold connections and bodies forever, make the
//! server hold unbounded memory or work, drive it from another site's page, or be ignored
//! silently when it misspells a field. End to end over real sockets.

mod common;

use std::time::{Duration, Instant};

use common::{colours, send, spawn_app, spawn_app_with};
use ndarray::Array3;
use ndarray_npy::WriteNpyExt;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or `limit` passes); returns what it sent and
/// whether it closed.
async fn read_until_closed(stream: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut received = Vec::new();
    let mut buffer = [0u8; 4096];
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, stream.read(&mut buffer)).await {
            Ok(Ok(0)) | Ok(Err(_)) => return (String::from_utf8_lossy(&received).into(), true),
            Ok(Ok(n)) => received.extend_from_slice(&buffer[..n]),
            Err(_) => return (String::from_utf8_lossy(&received).into(), false),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_half_sent_and_idle_connections_are_closed_after_the_header_timeout() {
    let app = spawn_app_with(&["--header-timeout-seconds", "1"]).await;

    let mut silent = TcpStream::connect(app.address).await.unwrap();
    let mut half_sent = TcpStream::connect(app.address).await.unwrap();
    half_sent
        .write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n")
        .await
        .unwrap();
    let mut idle = TcpStream::connect(app.address).await.unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: test\r\n\r\n")
        .await
        .unwrap();

    for (what, stream) in [
        ("silent", &mut silent),
        ("half-sent", &mut half_sent),
        ("idle keep-alive", &mut idle),
    ] {
        let (received, closed) = read_until_closed(stream, Duration::from_secs(10)).await;
        assert!(closed, "the {what} connection is still open: {received}");
        if what == "idle keep-alive" {
            assert!(received.starts_with("HTTP/1.1 200"), "{received}");
        }
    }
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_that_stops_or_only_trickles_is_answered_408() {
    let app = spawn_app_with(&[
        "--body-timeout-seconds",
        "1",
        "--body-deadline-seconds",
        "3",
    ])
    .await;
    let head = "POST /train HTTP/1.1\r\nHost: test\r\nContent-Length: 100\r\n\r\n";

    let mut stopped = TcpStream::connect(app.address).await.unwrap();
    stopped.write_all(head.as_bytes()).await.unwrap();
    stopped.write_all(b"{\"training_data\":").await.unwrap();
    let (answer, _) = read_until_closed(&mut stopped, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("body_timeout"), "{answer}");

    let mut trickle = TcpStream::connect(app.address).await.unwrap();
    trickle.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    let answer = loop {
        // A byte every half second never trips the 1 s pause, only the 3 s deadline.
        if trickle.write_all(b" ").await.is_err() {
            break read_until_closed(&mut trickle, Duration::from_secs(5))
                .await
                .0;
        }
        let mut buffer = [0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(500), trickle.read(&mut buffer)).await
        {
            break String::from_utf8_lossy(&buffer[..n]).into_owned();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "never cut off");
    };
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(app.stored().is_empty(), "nothing was stored");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_upload_that_keeps_arriving_outlives_the_body_deadline_but_not_a_pause() {
    let app = spawn_app_with(&[
        "--body-timeout-seconds",
        "1",
        "--body-deadline-seconds",
        "2",
    ])
    .await;
    let rows = 14;
    let head = format!(
        "PUT /datasets/slow HTTP/1.1\r\nHost: test\r\nContent-Length: {}\r\n\r\n",
        rows * 4
    );
    let mut steady = TcpStream::connect(app.address).await.unwrap();
    steady.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();
    for _ in 0..rows {
        // A row every quarter second: never a 1 s pause, but 3.5 s in all, past the deadline.
        tokio::time::sleep(Duration::from_millis(250)).await;
        steady.write_all(b"1,2\n").await.unwrap();
    }
    let (answer, _) = read_until_closed(&mut steady, Duration::from_secs(2)).await;
    assert!(started.elapsed() > Duration::from_secs(3));
    assert!(answer.starts_with("HTTP/1.1 201"), "{answer}");
    assert!(answer.contains("\"rows\":14"), "{answer}");

    let mut paused = TcpStream::connect(app.address).await.unwrap();
    paused
        .write_all(head.replace("slow", "paused").as_bytes())
        .await
        .unwrap();
    paused.write_all(b"1,2\n").await.unwrap();
    let (answer, _) = read_until_closed(&mut paused, Duration::from_secs(10)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let listed: Value = app
        .client
        .get(app.url("/datasets"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_in_flight_past_their_budget_get_503_busy_until_one_ends() {
    let app = spawn_app_with(&[
        "--max-body-bytes",
        "3000",
        "--max-inflight-body-bytes",
        "4000",
    ])
    .await;
    // A client that sends 2,400 of the 2,500 bytes it declared holds a share of 2,400; the
    // share follows what arrived, not what was declared.
    let mut slow = TcpStream::connect(app.address).await.unwrap();
    let mut head =
        b"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Length: 2500\r\n\r\n{\"model_name\": \""
            .to_vec();
    head.extend(std::iter::repeat_n(b'x', 2400 - 15));
    slow.write_all(&head).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let body = json!({"model_name": "x", "test_data": vec![[0.5; 3]; 120]}).to_string();
    assert!(body.len() > 1500 && body.len() < 3000, "{}", body.len());
    let busy = send(
        &app,
        Method::POST,
        "/predict",
        &serde_json::from_str(&body).unwrap(),
    )
    .await;
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(busy.headers()["retry-after"], "1");
    assert_eq!(busy.json::<Value>().await.unwrap()["code"], "busy");

    drop(slow);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let served = send(
        &app,
        Method::POST,
        "/predict",
        &serde_json::from_str(&body).unwrap(),
    )
    .await;
    assert_eq!(
        served.status(),
        StatusCode::NOT_FOUND,
        "the share came back"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_wait_and_are_served_once_idle_ones_are_closed() {
    let app = spawn_app_with(&["--max-connections", "2", "--header-timeout-seconds", "1"]).await;
    let _idle: Vec<TcpStream> = vec![
        TcpStream::connect(app.address).await.unwrap(),
        TcpStream::connect(app.address).await.unwrap(),
    ];
    let started = Instant::now();
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "the third connection waited for a slot"
    );
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap();
    let open_files = limits
        .lines()
        .find(|line| line.starts_with("Max open files"))
        .unwrap();
    let numbers: Vec<&str> = open_files.split_whitespace().skip(3).take(2).collect();
    assert_eq!(
        numbers[0], numbers[1],
        "soft limit raised to the hard one: {open_files}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misspelt_field_trains_but_the_answer_names_it_and_the_closest_field() {
    let app = spawn_app().await;
    let body = json!({
        "training_data": colours(5), "grid_shape": [3, 3], "max_iterations": 2,
        "learningrate": 0.5, "pp_FIND_BMU": "auto", "colour": 1,
    });
    for path in ["/train", "/atrain"] {
        let answer: Value = send(&app, Method::POST, path, &body)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            answer["warnings"],
            json!([
                "unknown field 'colour' ignored",
                "unknown field 'learningrate' ignored; did you mean 'learning_rate'?"
            ]),
            "{path}: {answer}"
        );
    }
    let clean = json!({"training_data": colours(5), "grid_shape": [3, 3], "max_iterations": 2});
    let answer: Value = send(&app, Method::POST, "/train", &clean)
        .await
        .json()
        .await
        .unwrap();
    assert!(answer.get("warnings").is_none(), "{answer}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn work_past_its_limits_is_refused_before_it_starts() {
    let app = spawn_app_with(&["--max-predict-work", "1000"]).await;
    let verbose = json!({
        "training_data": colours(1000), "grid_shape": [2, 2], "max_iterations": 1001,
        "verbose": true,
    });
    let answer = send(&app, Method::POST, "/train", &verbose).await;
    assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["code"], "too_large", "{answer}");

    let trained: Value = send(
        &app,
        Method::POST,
        "/train",
        &json!({"training_data": colours(5), "grid_shape": [10, 10], "max_iterations": 1}),
    )
    .await
    .json()
    .await
    .unwrap();
    let name = trained["operation-location"].as_str().unwrap();
    // 4 vectors x 100 nodes x 3 = 1,200 distance terms, over 1,000.
    let vectors = json!({"model_name": name, "test_data": colours(4)});
    for path in ["/predict".to_owned(), format!("/models/{name}/hits.png")] {
        let answer = send(&app, Method::POST, &path, &vectors).await;
        assert_eq!(answer.status(), StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        let answer: Value = answer.json().await.unwrap();
        assert_eq!(answer["code"], "too_large", "{path}: {answer}");
        assert!(
            answer["message"]
                .as_str()
                .unwrap()
                .contains("--max-predict-work")
        );
    }
    let within = json!({"model_name": name, "test_data": colours(3)});
    assert_eq!(
        send(&app, Method::POST, "/predict", &within).await.status(),
        StatusCode::OK
    );
    app.stop().await;
}

/// CPU seconds this process has used (user + system), from the kernel's own count.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let fields: Vec<f64> = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .map(|field| field.parse().unwrap_or(0.0))
        .collect();
    // Fields 14 and 15 (utime, stime) in clock ticks; the list starts at field 3.
    (fields[14 - 3] + fields[15 - 3]) / 100.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prediction_stops_when_its_client_goes_away() {
    let app = spawn_app_with(&["--max-predict-work", "1000000000000"]).await;
    let mut npy = Vec::new();
    Array3::from_shape_fn((1000, 1000, 3), |(r, c, k)| {
        ((r * 7 + c * 13 + k) % 97) as f64 / 97.0
    })
    .write_npy(&mut npy)
    .unwrap();
    let put = app
        .client
        .put(app.url("/models/big"))
        .body(npy)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), StatusCode::CREATED);
    // About a minute of searching on two cores.
    let vectors = json!({"model_name": "big", "test_data": colours(20_000)});
    let gone = app
        .client
        .post(app.url("/predict"))
        .body(vectors.to_string())
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(gone.is_err(), "the client gave up first");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let spent = cpu_seconds() - before;
    assert!(
        spent < 1.0,
        "the search went on after its client left: {spent:.2} CPU seconds in 2 s"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_from_another_origin_are_refused_unless_allowed() {
    let allowed = "http://maps.example:3000";
    let app = spawn_app_with(&["--allowed-origin", allowed]).await;
    let body = json!({"training_data": colours(3), "grid_shape": [2, 2], "max_iterations": 1});
    let post = |origin: Option<String>| {
        let mut request = app
            .client
            .post(app.url("/train"))
            .header("content-type", "text/plain")
            .body(body.to_string());
        if let Some(origin) = origin {
            request = request.header("origin", origin);
        }
        request.send()
    };

    let refused = post(Some("http://evil.example".into())).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(
        refused.json::<Value>().await.unwrap()["code"],
        "forbidden_origin"
    );
    assert!(
        app.stored().is_empty(),
        "the refused training stored nothing"
    );

    let own = format!("http://{}", app.address);
    assert_eq!(post(Some(own)).await.unwrap().status(), StatusCode::OK);
    assert_eq!(post(None).await.unwrap().status(), StatusCode::OK);
    let cross = post(Some(allowed.into())).await.unwrap();
    assert_eq!(cross.status(), StatusCode::OK);
    assert_eq!(cross.headers()["access-control-allow-origin"], allowed);

    let preflight = |origin: &str| {
        app.client
            .request(Method::OPTIONS, app.url("/train"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let answered = preflight(allowed).await.unwrap();
    assert_eq!(answered.status(), StatusCode::OK);
    assert_eq!(answered.headers()["access-control-allow-origin"], allowed);
    assert!(
        answered.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert_eq!(
        preflight("http://evil.example").await.unwrap().status(),
        StatusCode::FORBIDDEN
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_tell_browsers_to_load_only_from_this_server_and_never_frame_them() {
    let app = spawn_app().await;
    for path in ["/", "/docs/", "/openapi.json"] {
        let response = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        let headers = response.headers();
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        let policy = headers["content-security-policy"].to_str().unwrap();
        for directive in [
            "default-src 'self'",
            "script-src 'self'",
            "frame-ancestors 'none'",
        ] {
            assert!(policy.contains(directive), "{path}: {policy}");
        }
    }
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        initializer.contains(r#""validatorUrl": "none""#)
            || initializer.contains(r#""validatorUrl":"none""#),
        "{initializer}"
    );
    app.stop().await;
}
