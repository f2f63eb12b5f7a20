//! `spawn_app()`: a real server on a free loopback port over its own temporary models folder.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::Parser;
use kohonen::config::ServeArgs;
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
