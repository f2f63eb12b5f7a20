//! `spawn_app()`: a real server on a free loopback port over its own temporary models folder.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use std::time::Duration;

use clap::Parser;
use kohonen::config::ServeArgs;
use ndarray::Array3;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::oneshot;

pub struct TestApp {
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub dir: tempfile::TempDir,
    stop: Option<oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn models_dir(&self) -> PathBuf {
        self.dir.path().join("models")
    }

    /// Every file of the models folder with its bytes, to show that nothing changed.
    pub fn stored(&self) -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<_> = std::fs::read_dir(self.models_dir())
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (
                    e.file_name().into_string().unwrap(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    }

    /// Stops the server as SIGTERM would, waits for it, and hands back its folder.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.server.take().unwrap().await.unwrap().unwrap();
        self.dir
    }
}

/// A server with the given extra flags, e.g. `["--queue-limit", "1"]`.
pub async fn spawn_app_with(flags: &[&str]) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    spawn_app_in(dir, flags).await
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// A server over an existing folder (for restart tests).
pub async fn spawn_app_in(dir: tempfile::TempDir, flags: &[&str]) -> TestApp {
    let models = dir.path().join("models");
    let mut args = vec![
        "kohonen",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        "--models-dir",
        models.to_str().unwrap(),
    ];
    args.extend_from_slice(flags);
    let args = ServeArgs::parse_from(args);
    let (stop, stopped) = oneshot::channel::<()>();
    let (address, server) = kohonen::http::start(&args, async {
        let _ = stopped.await;
    })
    .await
    .unwrap();
    let server = tokio::spawn(server);
    TestApp {
        address,
        client: reqwest::Client::new(),
        dir,
        stop: Some(stop),
        server: Some(server),
    }
}

pub fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path)
}

/// `requests.post(url, data=json.dumps(payload))`: a JSON text body and no Content-Type.
pub async fn send(app: &TestApp, method: Method, path: &str, body: &Value) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .body(body.to_string())
        .send()
        .await
        .unwrap()
}

pub fn colours(n: usize) -> Vec<Vec<f64>> {
    (0..n)
        .map(|i| {
            (0..3)
                .map(|k| ((i * 7 + k * 5) % 11) as f64 / 10.0)
                .collect()
        })
        .collect()
}

pub fn nearest(weights: &Array3<f64>, v: &[f64]) -> [usize; 2] {
    let (rows, cols, _) = weights.dim();
    let mut best = (f64::INFINITY, [0, 0]);
    for r in 0..rows {
        for c in 0..cols {
            let d: f64 = v
                .iter()
                .enumerate()
                .map(|(k, x)| (x - weights[[r, c, k]]).powi(2))
                .sum();
            if d < best.0 {
                best = (d, [r, c]);
            }
        }
    }
    best.1
}

/// A training that takes seconds on this machine: 300x300 for 3000 iterations.
pub fn long_training() -> Value {
    json!({"training_data": colours(10), "grid_shape": [300, 300], "max_iterations": 3000})
}

pub async fn job_status(app: &TestApp, name: &str) -> Value {
    app.client
        .get(app.url(&format!("/jobs/{name}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

pub async fn wait_for_status(app: &TestApp, name: &str, wanted: &str) -> Value {
    for _ in 0..500 {
        let status = job_status(app, name).await;
        if status["status"] == wanted {
            return status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!(
        "{name} never became {wanted}: {}",
        job_status(app, name).await
    );
}

/// Queues [`long_training`] with `/atrain` and waits until it runs; returns its name.
pub async fn start_long_job(app: &TestApp) -> String {
    let queued: Value = send(app, Method::POST, "/atrain", &long_training())
        .await
        .json()
        .await
        .unwrap();
    let name = queued["operation-location"].as_str().unwrap().to_owned();
    wait_for_status(app, &name, "running").await;
    name
}

/// `GET path`: the status and the JSON body.
pub async fn get_json(app: &TestApp, path: &str) -> (reqwest::StatusCode, Value) {
    let response = app.client.get(app.url(path)).send().await.unwrap();
    let status = response.status();
    (status, response.json().await.unwrap())
}

/// The real binary serving on a free loopback port with `args` (after `--host`, `--port`),
/// once it says where it listens: the child and its address. Its logs keep being read, or it
/// would block once the pipe is full.
pub fn start_binary<S: AsRef<std::ffi::OsStr>>(
    args: impl IntoIterator<Item = S>,
) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_kohonen"))
        .args(["--host", "127.0.0.1", "--port", "0"])
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let address = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            let (_, rest) = line.split_once("listening")?;
            let (_, rest) = rest.split_once("addr=")?;
            Some(rest.split_whitespace().next()?.to_owned())
        })
        .expect("the server says where it listens");
    std::thread::spawn(move || lines.for_each(drop));
    (child, address)
}
