//! The memory a large dataset costs the server, measured on the real binary's peak resident
//! set (`VmHWM`), which a test inside the test process could not isolate.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ndarray::Array2;
use ndarray_npy::WriteNpyExt;
use serde_json::{Value, json};

/// The server as a child process, killed when dropped.
struct Server {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_kohonen"))
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .arg("--models-dir")
            .arg(dir.path().join("models"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        }
    }

    /// Peak resident set of the server so far, in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        let line = status
            .lines()
            .find(|line| line.starts_with("VmHWM:"))
            .unwrap();
        let kib: u64 = line
            .split_whitespace()
            .nth(1)
            .and_then(|kib| kib.parse().ok())
            .unwrap();
        kib * 1024
    }
}

/// Peak resident set of a fresh server after start-up and an upload: measured at 25 MB idle
/// and 53, 59 and 63 MB after uploads of 13, 100 and 307 MB (the upload's own buffers are a few
/// MiB; the rest is allocator arenas that the runtime's and the blocking pool's threads keep),
/// in the dev profile on Linux x86-64. 80 MB is that with some room, well under a copy of the
/// data (100 MB): a copy anywhere fails the bounds below.
const BASELINE: u64 = 80 << 20;

/// Starts a server, uploads `npy` as the dataset `big` and trains a small batch map on it with
/// `scaling`; returns the server's peak resident set after the upload and after the training.
async fn peaks(npy: &[u8], scaling: &str) -> (u64, u64) {
    let server = Server::start();
    let client = reqwest::Client::new();
    let mut up = false;
    for _ in 0..200 {
        if client
            .get(format!("{}/health", server.url))
            .send()
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(up, "the server never answered");
    let uploaded = client
        .put(format!("{}/datasets/big", server.url))
        .body(npy.to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), 201, "{}", uploaded.text().await.unwrap());
    let after_upload = server.peak_rss();
    let body = json!({"dataset": "big", "grid_shape": [3, 3], "max_iterations": 2,
                      "mode": "batch", "scaling": scaling, "seed": 1});
    let trained = client
        .post(format!("{}/train", server.url))
        .body(body.to_string())
        .send()
        .await
        .unwrap();
    let status = trained.status();
    let body: Value = trained.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    (after_upload, server.peak_rss())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn training_on_a_100_mb_dataset_peaks_under_two_and_a_half_times_its_size() {
    let (rows, dim) = (40_000, 320);
    let data = Array2::from_shape_fn((rows, dim), |(r, c)| ((r * 31 + c * 17) % 101) as f64);
    let mut npy = Vec::with_capacity(rows * dim * 8 + 128);
    data.write_npy(&mut npy).unwrap();
    drop(data);
    let file_bytes = npy.len() as u64;

    // Unscaled, the training borrows the data as loaded: one copy, read without another.
    let (after_upload, unscaled) = peaks(&npy, "none").await;
    // Standard scaling holds the data twice (as stored and scaled): the most a training holds.
    let (_, scaled) = peaks(&npy, "standard").await;
    eprintln!(
        "file {file_bytes} bytes; peak RSS after the upload {after_upload}, after an unscaled \
         training {unscaled}, after a scaled one {scaled}"
    );
    assert!(
        after_upload < BASELINE,
        "the upload peaked at {after_upload} bytes"
    );
    let one_copy = file_bytes * 3 / 2 + BASELINE;
    assert!(
        unscaled < one_copy,
        "the unscaled training peaked at {unscaled} bytes, over {one_copy}"
    );
    let bound = file_bytes * 5 / 2 + BASELINE;
    assert!(
        scaled < bound,
        "the scaled training peaked at {scaled} bytes, over {bound}"
    );
}
