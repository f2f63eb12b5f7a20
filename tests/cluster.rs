//! Several replicas of the real binary on one PostgreSQL and one S3-compatible store (Garage in
//! CI: `scripts/cluster-deps.sh`). These run when `KOHONEN_TEST_DATABASE_URL` and
//! `KOHONEN_TEST_STORE` name them (with the store's `AWS_*` variables), as `.ci/run` does; each
//! test makes its own database and store prefix. Without them each test says so and passes:
//! the default `cargo test` needs neither server.

mod common;

use std::process::{Child, Command};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// The cluster a test works in: its own database (made on the server of
/// `KOHONEN_TEST_DATABASE_URL`) and its own prefix of the store.
struct Cluster {
    database_url: String,
    store: String,
    dir: tempfile::TempDir,
}

impl Cluster {
    /// `None` (after saying why) when the test servers are not given.
    async fn new() -> Option<Cluster> {
        let (Ok(url), Ok(store)) = (
            std::env::var("KOHONEN_TEST_DATABASE_URL"),
            std::env::var("KOHONEN_TEST_STORE"),
        ) else {
            eprintln!(
                "KOHONEN_TEST_DATABASE_URL and KOHONEN_TEST_STORE are not set: not run (.ci/run sets them)"
            );
            return None;
        };
        let tag = format!("{:012x}", rand_tag());
        let database = format!("cluster_test_{tag}");
        let admin = sqlx_connect(&url).await;
        sqlx::query(&format!("CREATE DATABASE {database}"))
            .execute(&admin)
            .await
            .unwrap();
        let (base, _) = url.rsplit_once('/').unwrap();
        Some(Cluster {
            database_url: format!("{base}/{database}"),
            store: format!("{}/{tag}", store.trim_end_matches('/')),
            dir: tempfile::tempdir().unwrap(),
        })
    }

    /// A replica named `id` with a lease of `lease` seconds and one training slot.
    fn replica(&self, id: &str, lease: u64) -> Replica {
        let dir = self.dir.path().join(id);
        Replica::start(&[
            "--database-url",
            &self.database_url,
            "--store",
            &self.store,
            "--replica-id",
            id,
            "--job-lease-seconds",
            &lease.to_string(),
            "--max-concurrent-jobs",
            "1",
            "--models-dir",
            dir.join("models").to_str().unwrap(),
            "--logs-dir",
            dir.join("logs").to_str().unwrap(),
        ])
    }
}

async fn sqlx_connect(url: &str) -> sqlx::PgPool {
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap()
}

fn rand_tag() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    (nanos as u64) ^ (u64::from(std::process::id()) << 40)
}

/// The real binary as one replica.
struct Replica {
    child: Child,
    address: String,
    client: reqwest::Client,
}

impl Replica {
    fn start(flags: &[&str]) -> Replica {
        let (child, address) = common::start_binary(flags);
        Replica {
            child,
            address,
            client: reqwest::Client::new(),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    async fn get(&self, path: &str) -> (u16, Value) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn bytes(&self, path: &str) -> (u16, Vec<u8>) {
        let response = self.client.get(self.url(path)).send().await.unwrap();
        let status = response.status().as_u16();
        (status, response.bytes().await.unwrap().to_vec())
    }

    async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let response = (self.client.post(self.url(path)).json(body).send())
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn atrain(&self, body: &Value) -> String {
        let (status, answer) = self.post("/atrain", body).await;
        assert_eq!(status, 200, "{answer}");
        answer["operation-location"].as_str().unwrap().to_owned()
    }

    /// Waits (up to `seconds`) until job `name` passes `done`; gives its last view.
    async fn wait_job(&self, name: &str, seconds: u64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(seconds);
        loop {
            let (_, job) = self.get(&format!("/jobs/{name}")).await;
            if done(&job) {
                return job;
            }
            assert!(Instant::now() < deadline, "job {name} stuck at {job}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn colours() -> Vec<Vec<f64>> {
    (0..12)
        .map(|i| {
            let i = i as f64;
            vec![(i * 0.37) % 1.0, (i * 0.61) % 1.0, (i * 0.13) % 1.0]
        })
        .collect()
}

/// A training of some seconds on the debug or release build, with a fixed seed: `iterations`
/// on a debug build, 30 times as many on a release build (whose training runs about that much
/// faster), so that a replica can be stopped in its middle either way.
fn long_training(iterations: u64) -> Value {
    let iterations = if cfg!(debug_assertions) {
        iterations
    } else {
        iterations * 30
    };
    json!({"training_data": colours(), "grid_shape": [120, 120], "max_iterations": iterations, "seed": 11})
}

/// The weights the same request gives on one process with a folder, undisturbed.
async fn undisturbed_weights(body: &Value) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let alone = Replica::start(&[
        "--models-dir",
        dir.path().join("models").to_str().unwrap(),
        "--logs-dir",
        dir.path().join("logs").to_str().unwrap(),
    ]);
    let (status, trained) = alone.post("/train", body).await;
    assert_eq!(status, 200, "{trained}");
    let name = trained["operation-location"].as_str().unwrap();
    alone.bytes(&format!("/download/{name}")).await.1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_map_trained_through_one_replica_is_listed_downloaded_and_predicted_by_another() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.replica("a", 30);
    let b = cluster.replica("b", 30);
    let body = json!({"training_data": colours(), "grid_shape": [6, 5], "max_iterations": 40, "seed": 2, "verbose": true});
    let (status, trained) = a.post("/train", &body).await;
    assert_eq!(status, 200, "{trained}");
    assert_eq!(trained["bmu_indicies"].as_array().unwrap().len(), 40 * 12);
    let name = trained["operation-location"].as_str().unwrap().to_owned();
    assert_eq!(b.get("/list-of-models").await.1, json!([name]));
    let from_a = a.bytes(&format!("/download/{name}")).await;
    let from_b = b.bytes(&format!("/download/{name}")).await;
    assert_eq!(from_a.0, 200);
    assert_eq!(from_a, from_b);
    assert_eq!(from_b.1, undisturbed_weights(&body).await);
    let (status, predicted) = b
        .post(
            "/predict",
            &json!({"model_name": name, "test_data": [colours()[3]]}),
        )
        .await;
    assert_eq!(status, 200, "{predicted}");
    assert_eq!(predicted["predictions"][0], trained["predictions"][3]);
    let (_, job) = b.get(&format!("/jobs/{name}")).await;
    assert_eq!(job["status"], "succeeded");
    // Whichever replica had a free slot first trained it.
    assert!(job["worker"] == "a" || job["worker"] == "b", "{job}");
    let (status, health) = b.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(
        health["dependencies"],
        json!({"database": "up", "store": "up"})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_stay_unique_when_replicas_queue_the_same_training_at_once() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let replicas = [cluster.replica("a", 30), cluster.replica("b", 30)];
    let body =
        json!({"training_data": colours(), "grid_shape": [3, 3], "max_iterations": 5, "seed": 1});
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let (client, url) = (
                replicas[i % 2].client.clone(),
                replicas[i % 2].url("/atrain"),
            );
            let body = body.clone();
            tokio::spawn(async move {
                let answer: Value = (client.post(url).json(&body).send().await.unwrap())
                    .json()
                    .await
                    .unwrap();
                answer["operation-location"].as_str().unwrap().to_owned()
            })
        })
        .collect();
    let mut queued = Vec::new();
    for task in tasks {
        queued.push(task.await.unwrap());
    }
    let mut names = queued.clone();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 16, "{queued:?}");
    for name in &names {
        replicas[0]
            .wait_job(name, 60, |job| job["status"] == "succeeded")
            .await;
    }
    let listed = replicas[1].get("/list-of-models").await.1;
    assert_eq!(listed, json!(names));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_is_cancelled_from_a_replica_other_than_the_one_running_it() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.replica("a", 30);
    let body = long_training(30_000);
    let name = a.atrain(&body).await;
    a.wait_job(&name, 30, |job| job["status"] == "running")
        .await;
    let b = cluster.replica("b", 30);
    let (_, running) = b.get(&format!("/jobs/{name}")).await;
    assert_eq!(running["worker"], "a");
    let response = (b.client.delete(b.url(&format!("/jobs/{name}"))).send())
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 202);
    let cancelled = b
        .wait_job(&name, 10, |job| job["status"] == "cancelled")
        .await;
    assert!(cancelled["iterations_done"].as_u64() < body["max_iterations"].as_u64());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_of_a_killed_replica_is_trained_again_elsewhere_to_the_same_weights() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let body = long_training(400);
    let a = cluster.replica("a", 3);
    let name = a.atrain(&body).await;
    a.wait_job(&name, 30, |job| {
        job["status"] == "running" && job["worker"] == "a"
    })
    .await;
    let b = cluster.replica("b", 3);
    a.signal("-KILL");
    let done = b
        .wait_job(&name, 120, |job| job["status"] == "succeeded")
        .await;
    assert_eq!(done["worker"], "b");
    let weights = b.bytes(&format!("/download/{name}")).await;
    assert_eq!(weights.0, 200);
    assert!(
        weights.1 == undisturbed_weights(&body).await,
        "the weights differ from an undisturbed run"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_hands_a_running_job_back_to_another_replica() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let body = long_training(400);
    let mut a = cluster.replica("a", 30);
    let name = a.atrain(&body).await;
    a.wait_job(&name, 30, |job| job["status"] == "running")
        .await;
    let b = cluster.replica("b", 30);
    a.signal("-TERM");
    let exited = a.child.wait().unwrap();
    assert!(exited.success(), "{exited:?}");
    // Handed back at once: far sooner than the 30 s lease.
    let done = b
        .wait_job(&name, 60, |job| job["status"] == "succeeded")
        .await;
    assert_eq!(done["worker"], "b");
    assert!(b.bytes(&format!("/download/{name}")).await.1 == undisturbed_weights(&body).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_replaced_through_one_replica_is_served_by_another_within_a_second() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.replica("a", 30);
    let b = cluster.replica("b", 30);
    let trained = |seed: u64| json!({"training_data": colours(), "grid_shape": [4, 4], "max_iterations": 10, "seed": seed});
    let mut weights = Vec::new();
    for seed in [1, 2] {
        let (_, answer) = a.post("/train", &trained(seed)).await;
        let name = answer["operation-location"].as_str().unwrap().to_owned();
        weights.push(a.bytes(&format!("/download/{name}")).await.1);
    }
    let put = |bytes: Vec<u8>| {
        a.client
            .put(a.url("/models/shared?replace=true"))
            .body(bytes)
            .send()
    };
    assert!(put(weights[0].clone()).await.unwrap().status().is_success());
    // B reads (and caches) the first weights.
    assert_eq!(b.bytes("/download/shared").await.1, weights[0]);
    let predict = json!({"model_name": "shared", "test_data": [[0.5, 0.5, 0.5]]});
    assert_eq!(b.post("/predict", &predict).await.0, 200);
    assert!(put(weights[1].clone()).await.unwrap().status().is_success());
    let replaced = Instant::now();
    loop {
        if b.bytes("/download/shared").await.1 == weights[1] {
            break;
        }
        assert!(
            replaced.elapsed() < Duration::from_secs(1),
            "B still serves the old weights a second after the replace"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn a_replica_whose_database_is_out_of_reach_exits_with_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kohonen"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(["--database-url", "postgres://nobody@127.0.0.1:1/none"])
        .args(["--store", "s3://bucket/prefix"])
        .arg("--models-dir")
        .arg(dir.path().join("models"))
        .arg("--logs-dir")
        .arg(dir.path().join("logs"))
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("cannot connect to the database"), "{said}");
}

#[test]
fn a_database_without_a_store_is_refused_at_start() {
    let output = Command::new(env!("CARGO_BIN_EXE_kohonen"))
        .args(["--database-url", "postgres://nobody@127.0.0.1:1/none"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let said = String::from_utf8_lossy(&output.stderr);
    assert!(said.contains("--store"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_uploaded_through_one_replica_is_listed_and_trained_on_through_another() {
    let Some(cluster) = Cluster::new().await else {
        return;
    };
    let a = cluster.replica("a", 30);
    let b = cluster.replica("b", 30);
    let csv = "red,green,blue,name\n1,0,0,r\n0,1,0,g\n0,0,1,b\n1,1,0,y\n";
    let response = (a
        .client
        .put(a.url("/datasets/colours?label_column=name"))
        .body(csv)
        .send())
    .await
    .unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let (status, listed) = b.get("/datasets").await;
    assert_eq!(status, 200);
    assert_eq!(listed[0]["name"], "colours");
    assert_eq!(listed[0]["rows"], 4);
    let body = json!({"dataset": "colours", "grid_shape": [3, 3], "max_iterations": 20, "seed": 4});
    let (status, trained) = b.post("/train", &body).await;
    assert_eq!(status, 200, "{trained}");
    let name = trained["operation-location"].as_str().unwrap();
    let (_, model) = a.get(&format!("/models/{name}")).await;
    assert_eq!(model["feature_names"], json!(["red", "green", "blue"]));
    assert_eq!(model["labels"], json!(["r", "g", "b", "y"]));
    let (status, predicted) = a
        .post(
            "/predict",
            &json!({"model_name": name, "dataset": "colours"}),
        )
        .await;
    assert_eq!(status, 200, "{predicted}");
    assert_eq!(predicted["labels"], json!(["r", "g", "b", "y"]));
    let deleted = (b.client.delete(b.url("/datasets/colours")).send())
        .await
        .unwrap();
    assert_eq!(deleted.status().as_u16(), 200);
    assert_eq!(a.get("/datasets/colours").await.0, 404);
}
