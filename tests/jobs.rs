//! Jobs end to end: cancelling queued and running jobs, the iteration limit, the stored record,
//! `GET /jobs`, and, with the real binary, memory after many trainings and the exit after
//! SIGTERM.

mod common;

use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use common::{colours, get_json, job_status, send, spawn_app_in, spawn_app_with, wait_for_status};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// Flags that keep trainings at normal priority: the tests share a busy machine, where idle
/// trainings could wait for a core for a long time.
const NORMAL: [&str; 2] = ["--training-priority", "normal"];

async fn atrain(app: &common::TestApp, body: &Value) -> String {
    let queued: Value = send(app, Method::POST, "/atrain", body)
        .await
        .json()
        .await
        .unwrap();
    queued["operation-location"].as_str().unwrap().to_owned()
}

async fn cancel(app: &common::TestApp, name: &str) -> (StatusCode, Value) {
    let response = app
        .client
        .delete(app.url(&format!("/jobs/{name}")))
        .send()
        .await
        .unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// A 1000x1000 map on 400 samples: a single iteration takes far longer than a second.
fn big_map_training() -> Value {
    json!({"training_data": colours(400), "grid_shape": [1000, 1000], "max_iterations": 100})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_job_cancelled_frees_its_place_and_its_name_at_once() {
    let flags = [
        &NORMAL[..],
        &["--max-concurrent-jobs", "1", "--queue-limit", "1"],
    ]
    .concat();
    let app = spawn_app_with(&flags).await;
    let running = atrain(&app, &big_map_training()).await;
    wait_for_status(&app, &running, "running").await;
    let queued = atrain(&app, &common::long_training()).await;
    assert_eq!(job_status(&app, &queued).await["status"], "queued");

    let (status, answer) = cancel(&app, &queued).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer, json!({"name": queued, "status": "cancelled"}));
    let now = job_status(&app, &queued).await;
    assert_eq!(now["status"], "cancelled", "at once: {now}");
    assert_eq!(now["eta_seconds"], Value::Null);
    let stored: Value = serde_json::from_slice(
        &std::fs::read(app.models_dir().join(format!("{queued}.json"))).unwrap(),
    )
    .unwrap();
    assert_eq!(stored["status"], "cancelled");

    let (again, refused) = cancel(&app, &queued).await;
    assert_eq!(again, StatusCode::CONFLICT, "{refused}");
    assert_eq!(refused["code"], "conflict");

    let next = send(&app, Method::POST, "/atrain", &common::long_training()).await;
    assert_eq!(next.status(), StatusCode::OK, "the queue's place is free");
    let next: Value = next.json().await.unwrap();
    let deleted = app
        .client
        .delete(app.url(&format!("/models/{queued}")))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::OK);
    assert!(!app.models_dir().join(format!("{queued}.json")).exists());

    cancel(&app, next["operation-location"].as_str().unwrap()).await;
    cancel(&app, &running).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_job_cancelled_is_asked_to_stop_and_stops_inside_an_iteration() {
    let app = spawn_app_with(&NORMAL).await;
    let name = atrain(&app, &big_map_training()).await;
    wait_for_status(&app, &name, "running").await;

    let (status, answer) = cancel(&app, &name).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{answer}");
    assert_eq!(
        answer,
        json!({"name": name, "status": "running", "cancel_requested": true})
    );
    let asked = Instant::now();
    let mut seen = Vec::new();
    let stopped = loop {
        let now = job_status(&app, &name).await;
        if now["status"] == "cancelled" {
            break now;
        }
        assert_eq!(now["status"], "running", "{now}");
        assert_eq!(now["cancel_requested"], true, "until it stops: {now}");
        seen.push(now);
        // Behaviour, not a benchmark: the bound is generous.
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "still running: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(stopped["cancel_requested"], false);
    assert_eq!(stopped["eta_seconds"], Value::Null);
    assert_eq!(
        stopped["iterations_done"], 0,
        "stopped inside the first iteration"
    );
    let (again, _) = cancel(&app, &name).await;
    assert_eq!(again, StatusCode::CONFLICT);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterations_over_the_limit_are_refused_and_the_server_lives() {
    let app = spawn_app_with(&["--max-iterations", "500"]).await;
    let body = |iterations: f64| json!({"training_data": colours(5), "grid_shape": [3, 3], "max_iterations": iterations});
    for (path, iterations) in [("/train", 1e10), ("/atrain", 1e12), ("/train", 501.0)] {
        let response = send(&app, Method::POST, path, &body(iterations)).await;
        assert_eq!(
            response.status(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "{path}"
        );
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["code"], "too_large", "{error}");
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("500") && message.contains("--max-iterations"),
            "{message}"
        );
        let (health, _) = get_json(&app, "/health").await;
        assert_eq!(health, StatusCode::OK);
    }
    let within = send(&app, Method::POST, "/train", &body(500.0)).await;
    assert_eq!(within.status(), StatusCode::OK);
    assert!(
        app.stored().len() == 2,
        "only the training within the limit"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stored_record_keeps_a_thousand_iterations_and_a_verbose_answer_all() {
    let app = spawn_app_with(&[]).await;
    let body = json!({"training_data": colours(3), "grid_shape": [2, 2], "max_iterations": 2500, "verbose": true});
    let response = send(&app, Method::POST, "/train", &body).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["neigh_radii"].as_array().unwrap().len(), 2500);
    assert_eq!(answer["learning_rates"].as_array().unwrap().len(), 2500);
    assert_eq!(answer["bmu_indicies"].as_array().unwrap().len(), 2500 * 3);
    let name = answer["operation-location"].as_str().unwrap();
    let stored: Value = serde_json::from_slice(
        &std::fs::read(app.models_dir().join(format!("{name}.json"))).unwrap(),
    )
    .unwrap();
    let iterations = stored["recorded_iterations"].as_array().unwrap();
    let radii = stored["radius_per_iteration"].as_array().unwrap();
    assert_eq!(iterations.len(), 1000);
    assert_eq!(radii.len(), 1000);
    assert_eq!(
        stored["learning_rate_per_iteration"]
            .as_array()
            .unwrap()
            .len(),
        1000
    );
    assert_eq!(
        (iterations[0].as_u64(), iterations[999].as_u64()),
        (Some(1), Some(2500))
    );
    assert_eq!(radii[0], answer["neigh_radii"][0]);
    assert_eq!(radii[999], answer["neigh_radii"][2499]);
    let curves = app
        .client
        .get(app.url(&format!("/models/{name}/curves.png")))
        .send()
        .await
        .unwrap();
    assert_eq!(curves.status(), StatusCode::OK);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_jobs_lists_pending_and_ended_jobs_newest_first() {
    let flags = [&NORMAL[..], &["--max-concurrent-jobs", "1"]].concat();
    let app = spawn_app_with(&flags).await;
    let (empty, listed) = get_json(&app, "/jobs").await;
    assert_eq!((empty, listed), (StatusCode::OK, json!([])));
    let quick = json!({"training_data": colours(3), "grid_shape": [2, 2], "max_iterations": 5});
    let trained: Value = send(&app, Method::POST, "/train", &quick)
        .await
        .json()
        .await
        .unwrap();
    let succeeded = trained["operation-location"].as_str().unwrap().to_owned();
    let running = atrain(&app, &big_map_training()).await;
    wait_for_status(&app, &running, "running").await;
    let queued = atrain(&app, &common::long_training()).await;

    let (status, listed) = get_json(&app, "/jobs/").await;
    assert_eq!(status, StatusCode::OK);
    let jobs = listed.as_array().unwrap();
    let summary: Vec<(&str, &str)> = jobs
        .iter()
        .map(|job| {
            (
                job["name"].as_str().unwrap(),
                job["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (queued.as_str(), "queued"),
            (running.as_str(), "running"),
            (succeeded.as_str(), "succeeded")
        ]
    );
    for field in [
        "progress",
        "iterations_done",
        "max_iterations",
        "created_at",
        "started_at",
        "finished_at",
        "cancel_requested",
    ] {
        assert!(
            jobs.iter().all(|job| job.get(field).is_some()),
            "{field}: {listed}"
        );
    }
    assert_eq!(jobs[2]["progress"], 1.0);
    assert_eq!(jobs[2]["max_iterations"], 5);
    assert_eq!(jobs[0]["started_at"], Value::Null);
    assert_ne!(jobs[1]["started_at"], Value::Null);

    cancel(&app, &queued).await;
    cancel(&app, &running).await;
    wait_for_status(&app, &running, "cancelled").await;
    let (_, listed) = get_json(&app, "/jobs").await;
    let statuses: Vec<&str> = (listed.as_array().unwrap().iter())
        .map(|job| job["status"].as_str().unwrap())
        .collect();
    assert_eq!(statuses, ["cancelled", "cancelled", "succeeded"]);
    app.stop().await;
}

/// The real binary, serving on a free port over `dir`.
struct Server {
    child: Child,
    address: String,
}

impl Server {
    fn start(dir: &Path, flags: &[&str]) -> Server {
        let folders: [std::ffi::OsString; 4] = [
            "--models-dir".into(),
            dir.join("models").into(),
            "--logs-dir".into(),
            dir.join("logs").into(),
        ];
        let args = (folders.into_iter()).chain(flags.iter().map(|&flag| flag.into()));
        let (child, address) = common::start_binary(args);
        Server { child, address }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Resident memory in kB, from the kernel's own account.
    fn rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmRSS:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_big_trainings_leave_no_weights_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &NORMAL);
    let client = reqwest::Client::new();
    let body =
        json!({"training_data": colours(3), "grid_shape": [1000, 1000], "max_iterations": 1});
    let mut rss = Vec::new();
    for _ in 0..8 {
        let response = client
            .post(server.url("/train"))
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        rss.push(server.rss_kb());
    }
    let growth_mb = (rss[7] as f64 - rss[0] as f64) / 1024.0;
    assert!(growth_mb < 60.0, "RSS grew {growth_mb:.0} MB: {rss:?} kB");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_long_training_within_the_grace_period_and_records_why() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = Server::start(
        dir.path(),
        &[&NORMAL[..], &["--shutdown-grace-seconds", "1"]].concat(),
    );
    let client = reqwest::Client::new();
    let queued: Value = client
        .post(server.url("/atrain"))
        .body(big_map_training().to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let name = queued["operation-location"].as_str().unwrap().to_owned();
    let job = server.url(&format!("/jobs/{name}"));
    loop {
        let now: Value = client.get(&job).send().await.unwrap().json().await.unwrap();
        if now["status"] == "running" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let terminated = Command::new("kill")
        .args(["-TERM", &server.child.id().to_string()])
        .status()
        .unwrap();
    assert!(terminated.success());
    let signalled = Instant::now();
    let exit = loop {
        if let Some(exit) = server.child.try_wait().unwrap() {
            break exit;
        }
        assert!(
            signalled.elapsed() < Duration::from_secs(1 + 5),
            "still running past its grace period plus 5 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");

    let app = spawn_app_in(dir, &[]).await;
    let after = job_status(&app, &name).await;
    assert_eq!(after["status"], "failed", "{after}");
    assert_eq!(after["error"], "interrupted by shutdown");
    app.stop().await;
}
