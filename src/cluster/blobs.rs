//! The object store of several replicas: weights, job inputs and `verbose` additions, as
//! objects under one prefix of one bucket. Keys are made here and never taken from a client.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{
    ClientOptions, ObjectStore, ObjectStoreExt, PutPayload, RetryConfig, WriteMultipart,
};

use crate::storage::StorageError;

/// What the store is called in errors and in `/health`.
pub const STORE: &str = "the object store";

/// The size of a multipart upload's parts (S3 wants at least 5 MiB but the last).
const UPLOAD_PART_BYTES: usize = 8 << 20;

/// A bucket and a prefix in an S3-compatible store.
#[derive(Debug, Clone)]
pub struct Blobs {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

impl Blobs {
    /// The store of `url` (`s3://BUCKET/PREFIX`), its endpoint and credentials from the
    /// standard `AWS_*` variables. Requests give up after a few seconds, so a store that is
    /// down makes requests fail fast (503) instead of hanging.
    pub fn from_url(url: &str) -> Result<Blobs, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("--store {url:?} must be s3://BUCKET/PREFIX"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!(
                "--store {url:?} names no bucket: use s3://BUCKET/PREFIX"
            ));
        }
        let retry = RetryConfig {
            max_retries: 2,
            retry_timeout: Duration::from_secs(5),
            ..RetryConfig::default()
        };
        // These options replace those `from_env` read, so AWS_ALLOW_HTTP is read again here.
        let allow_http = std::env::var("AWS_ALLOW_HTTP").is_ok_and(|value| value == "true");
        let client = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(Duration::from_secs(60));
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_retry(retry)
            .with_client_options(client)
            .build()
            .map_err(|err| format!("the object store of {url:?}: {err}"))?;
        Ok(Blobs {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_owned(),
        })
    }

    fn path(&self, key: &str) -> Path {
        match self.prefix.as_str() {
            "" => Path::from(key),
            prefix => Path::from(format!("{prefix}/{key}")),
        }
    }

    /// Stores `bytes` under `key`.
    pub async fn put(&self, key: &str, bytes: Vec<u8>) -> Result<(), StorageError> {
        self.store
            .put(&self.path(key), PutPayload::from(bytes))
            .await
            .map(|_| ())
            .map_err(unavailable)
    }

    /// Stores the file at `path` under `key`, in parts of some megabytes: a dataset of
    /// gigabytes is never held in memory.
    pub async fn put_file(&self, key: &str, path: &std::path::Path) -> Result<(), StorageError> {
        use tokio::io::AsyncReadExt;
        let failed = |err: std::io::Error| {
            tracing::warn!(error = %err, "cannot read a staged file for the object store");
            StorageError::Unavailable(STORE)
        };
        let mut file = tokio::fs::File::open(path).await.map_err(failed)?;
        let upload = (self.store.put_multipart(&self.path(key)).await).map_err(unavailable)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, UPLOAD_PART_BYTES);
        let mut buffer = vec![0; UPLOAD_PART_BYTES];
        loop {
            let read = match file.read(&mut buffer).await {
                Ok(read) => read,
                Err(err) => {
                    let _ = writer.abort().await;
                    return Err(failed(err));
                }
            };
            if read == 0 {
                break;
            }
            if let Err(err) = writer.wait_for_capacity(2).await {
                // Parts already sent would stay in the store, unlisted, until aborted.
                let _ = writer.abort().await;
                return Err(unavailable(err));
            }
            writer.write(&buffer[..read]);
        }
        writer.finish().await.map(|_| ()).map_err(unavailable)
    }

    /// The bytes under `key`; `None` when there are none.
    pub async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, StorageError> {
        match self.store.get(&self.path(key)).await {
            // The collected body is one buffer: turned into a Vec without a copy.
            Ok(found) => Ok(Some(Vec::from(found.bytes().await.map_err(unavailable)?))),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Removes `key` (nothing when it is not there).
    pub async fn delete(&self, key: &str) -> Result<(), StorageError> {
        match self.store.delete(&self.path(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(err) => Err(unavailable(err)),
        }
    }

    /// Removes `key`, logging instead of failing: for what is no longer named by the registry
    /// (the orphan sweep removes what this misses).
    pub async fn discard(&self, key: &str) {
        if let Err(err) = self.delete(key).await {
            tracing::warn!(key, error = %err, "cannot remove an object no longer used");
        }
    }

    /// Keys under `folder` (relative to the prefix) last changed before `older_than` ago.
    pub async fn keys_older_than(
        &self,
        folder: &str,
        older_than: Duration,
    ) -> Result<Vec<String>, StorageError> {
        use futures_util::TryStreamExt;
        let root = self.path(folder);
        let objects: Vec<_> = self
            .store
            .list(Some(&root))
            .try_collect()
            .await
            .map_err(unavailable)?;
        let cutoff = cutoff_seconds(older_than);
        let skip = match self.prefix.as_str() {
            "" => 0,
            prefix => prefix.len() + 1,
        };
        Ok(objects
            .into_iter()
            .filter(|object| object.last_modified.timestamp() < cutoff)
            .filter_map(|object| object.location.as_ref().get(skip..).map(str::to_owned))
            .collect())
    }

    /// Writes, reads back and removes a probe object: the store is reachable and the
    /// credentials may write. The error says why not, in the store's words.
    pub async fn check(&self, probe: &str) -> Result<(), String> {
        let path = self.path(&format!("probes/{probe}"));
        let written = b"kohonen".to_vec();
        let failed = |what: &str, err: object_store::Error| format!("{what} a probe object: {err}");
        (self
            .store
            .put(&path, PutPayload::from(written.clone()))
            .await)
            .map_err(|err| failed("writing", err))?;
        let read = match self.store.get(&path).await {
            Ok(found) => found.bytes().await.map_err(|err| failed("reading", err))?,
            Err(err) => return Err(failed("reading", err)),
        };
        (self.store.delete(&path).await).map_err(|err| failed("removing", err))?;
        if read.as_ref() == written.as_slice() {
            Ok(())
        } else {
            Err("a probe object read back differs from what was written".into())
        }
    }
}

/// Seconds since the epoch `older_than` ago.
fn cutoff_seconds(older_than: Duration) -> i64 {
    let now = jiff::Timestamp::now().as_second();
    now - i64::try_from(older_than.as_secs()).unwrap_or(i64::MAX / 2)
}

fn unavailable(err: object_store::Error) -> StorageError {
    tracing::warn!(error = %err, "the object store failed");
    StorageError::Unavailable(STORE)
}
