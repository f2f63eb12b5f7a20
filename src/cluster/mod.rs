//! Several replicas as one service: the registry (models' and datasets' names, records and
//! versions) and the job queue in PostgreSQL, the weights, the datasets' data and the jobs'
//! inputs in an S3-compatible object store. [`ClusterRepository`], [`SharedDatasets`] and
//! [`PgQueue`] implement the seams ([`crate::storage::ModelRepository`],
//! [`crate::storage::DatasetRepository`], [`crate::jobs::JobQueue`]) on them.
//!
//! Invariants:
//! - Weights are put in the object store before the row that names them commits; a row never
//!   names a missing object, and an object no row names (a crash between the two, a replaced
//!   model's old weights) is an orphan, removed by [`ClusterRepository::sweep_orphans`].
//! - Names are unique by the `models` table's primary key, never by the object store (Garage
//!   and others overwrite on `PUT` whatever its conditions).
//! - Every change of a model commits a `NOTIFY kohonen_models` with its name, and every
//!   replica's caches of it (the listing, the versions) are dropped when it arrives; while the
//!   listener is disconnected the caches are not used at all, and no entry is used after
//!   [`CACHE_MAX_AGE`] whatever happens to the notifications.
//! - A database or store that cannot be reached is [`StorageError::Unavailable`] (503), never
//!   a 500, and nothing is retried in a loop on a request's time.

mod blobs;
mod datasets;
mod input;
mod queue;
mod repository;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::postgres::{PgListener, PgPool, PgPoolOptions};
use tokio::sync::Notify;

pub use blobs::Blobs;
pub use datasets::SharedDatasets;
pub use queue::PgQueue;
pub use repository::ClusterRepository;

use crate::som::TrainControl;
use crate::storage::StorageError;

/// What the database is called in errors and in `/health`.
pub const DATABASE: &str = "the database";

/// The notification channels: a model changed (payload: its name), a job was queued or handed
/// back (wake the claimers), a running job is asked to stop (payload: its name).
const MODELS_CHANNEL: &str = "kohonen_models";
const JOBS_CHANNEL: &str = "kohonen_jobs";
const CANCEL_CHANNEL: &str = "kohonen_cancel";

/// How long a health reading is reused: `/health` under load must not probe both
/// dependencies on every request.
const HEALTH_MAX_AGE: Duration = Duration::from_secs(1);

/// The database and the store, shared by the repository and the queue of one replica.
#[derive(Debug)]
pub struct Cluster {
    pool: PgPool,
    blobs: Blobs,
    /// The runtime the repository's blocking methods run their queries on.
    runtime: tokio::runtime::Handle,
    caches: Caches,
    /// Wakes the claim loop: a job was queued or handed back somewhere.
    jobs_changed: Notify,
    /// The trainings this replica runs, by name: a cancel notification stops them.
    running: Mutex<HashMap<String, Running>>,
    health: Mutex<Option<(Instant, Health)>>,
}

/// A training this replica runs: its claim's attempt and its control.
#[derive(Debug)]
struct Running {
    control: Arc<TrainControl>,
    attempt: i32,
}

/// Per-replica caches of the registry, valid only while the listener is connected.
#[derive(Debug, Default)]
struct Caches {
    live: AtomicBool,
    /// Counts the changes heard of: what a query read is cached only if no change was heard
    /// of while it ran (it may have read the row before the change committed).
    generation: AtomicU64,
    listing: Mutex<Option<(Instant, Arc<[String]>)>>,
    versions: Mutex<HashMap<String, (Instant, String)>>,
}

/// How long a cached listing or version is used at most: the bound on staleness should a
/// notification be lost without the connection reporting it (a half-open TCP connection).
const CACHE_MAX_AGE: Duration = Duration::from_millis(500);

impl Caches {
    fn forget(&self, name: &str) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.listing.lock().expect("listing lock") = None;
        self.versions.lock().expect("versions lock").remove(name);
    }

    fn clear(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
        *self.listing.lock().expect("listing lock") = None;
        self.versions.lock().expect("versions lock").clear();
    }

    /// The generation to give [`Caches::keep_listing`] and [`Caches::keep_version`] when a
    /// query is about to run; `None` while the caches are off.
    fn before_query(&self) -> Option<u64> {
        self.live
            .load(Ordering::SeqCst)
            .then(|| self.generation.load(Ordering::SeqCst))
    }

    fn unchanged_since(&self, generation: Option<u64>) -> bool {
        generation == Some(self.generation.load(Ordering::SeqCst))
    }

    fn listing(&self) -> Option<Arc<[String]>> {
        self.before_query()?;
        let listing = self.listing.lock().expect("listing lock");
        let (made, names) = listing.as_ref()?;
        (made.elapsed() < CACHE_MAX_AGE).then(|| names.clone())
    }

    /// Keeps `names`, read by a query that started at `generation` at `started`.
    fn keep_listing(&self, generation: Option<u64>, started: Instant, names: &Arc<[String]>) {
        let mut listing = self.listing.lock().expect("listing lock");
        if self.unchanged_since(generation) {
            *listing = Some((started, names.clone()));
        }
    }

    fn version(&self, name: &str) -> Option<String> {
        self.before_query()?;
        let versions = self.versions.lock().expect("versions lock");
        let (read, version) = versions.get(name)?;
        (read.elapsed() < CACHE_MAX_AGE).then(|| version.clone())
    }

    /// Keeps `version`, read by a query that started at `generation` at `started`.
    fn keep_version(&self, generation: Option<u64>, started: Instant, name: &str, version: &str) {
        let mut versions = self.versions.lock().expect("versions lock");
        if self.unchanged_since(generation) {
            versions.insert(name.to_owned(), (started, version.to_owned()));
        }
    }
}

/// Whether each dependency answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    pub database: bool,
    pub store: bool,
}

impl Cluster {
    /// Connects to the database at `database_url` (applying the embedded migrations under
    /// PostgreSQL's advisory lock, so replicas starting together migrate once) and to the
    /// store at `store_url` (writing, reading and removing a probe object named after
    /// `replica_id`). The error says which one failed and why: the process exits with it.
    pub async fn connect(
        database_url: &str,
        store_url: &str,
        replica_id: &str,
    ) -> Result<Arc<Cluster>, String> {
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(3))
            .connect(database_url)
            .await
            .map_err(|err| format!("cannot connect to the database: {err}"))?;
        sqlx::migrate!()
            .run(&pool)
            .await
            .map_err(|err| format!("cannot migrate the database: {err}"))?;
        let blobs = Blobs::from_url(store_url)?;
        blobs
            .check(replica_id)
            .await
            .map_err(|err| format!("cannot use the object store {store_url:?}: {err}"))?;
        let cluster = Arc::new(Cluster {
            pool,
            blobs,
            runtime: tokio::runtime::Handle::current(),
            caches: Caches::default(),
            jobs_changed: Notify::new(),
            running: Mutex::default(),
            health: Mutex::default(),
        });
        tokio::spawn(listen(Arc::downgrade(&cluster)));
        Ok(cluster)
    }

    /// Whether the database and the store answer now (read at most once a second).
    pub async fn health(&self) -> Health {
        if let Some((read, health)) = *self.health.lock().expect("health lock")
            && read.elapsed() < HEALTH_MAX_AGE
        {
            return health;
        }
        let database = tokio::time::timeout(
            Duration::from_secs(2),
            sqlx::query("SELECT 1").execute(&self.pool),
        );
        let store = tokio::time::timeout(Duration::from_secs(2), self.blobs.get("probes/health"));
        let (database, store) = tokio::join!(database, store);
        let health = Health {
            database: matches!(database, Ok(Ok(_))),
            store: matches!(store, Ok(Ok(_))),
        };
        *self.health.lock().expect("health lock") = Some((Instant::now(), health));
        health
    }

    /// Runs `work` (the registry's queries) to its end from a blocking thread.
    fn block_on<T>(&self, work: impl Future<Output = T>) -> T {
        self.runtime.block_on(work)
    }
}

/// The replica's listener: drops cached registry entries as models change, wakes the claim
/// loop as jobs are queued, stops a local training asked to stop. While disconnected (the
/// database restarting) the caches are off; on reconnecting they start empty. Ends when the
/// cluster is dropped.
async fn listen(cluster: std::sync::Weak<Cluster>) {
    let mut listener: Option<PgListener> = None;
    loop {
        let Some(shared) = cluster.upgrade() else {
            return;
        };
        let connected = match listener.as_mut() {
            Some(connected) => connected,
            None => match subscribe(&shared.pool).await {
                Ok(subscribed) => {
                    shared.caches.clear();
                    shared.caches.live.store(true, Ordering::SeqCst);
                    // Notifications sent while away are lost: look for work now.
                    shared.jobs_changed.notify_one();
                    listener.insert(subscribed)
                }
                Err(err) => {
                    tracing::warn!(error = %err, "cannot listen for the registry's changes; retrying");
                    drop(shared);
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            },
        };
        // Held only while a notification is handled, so the cluster can be dropped.
        drop(shared);
        let received = tokio::time::timeout(Duration::from_secs(5), connected.try_recv()).await;
        let Some(shared) = cluster.upgrade() else {
            return;
        };
        match received {
            // Nothing for a while: loop, so a dropped cluster ends the task.
            Err(_elapsed) => {}
            Ok(Ok(Some(notification))) => {
                let name = notification.payload();
                match notification.channel() {
                    MODELS_CHANNEL => shared.caches.forget(name),
                    JOBS_CHANNEL => shared.jobs_changed.notify_one(),
                    CANCEL_CHANNEL => {
                        let running = shared.running.lock().expect("running lock");
                        if let Some(running) = running.get(name) {
                            running.control.cancel();
                        }
                    }
                    _ => {}
                }
            }
            Ok(Ok(None)) | Ok(Err(_)) => {
                tracing::warn!("lost the database's notifications: caches off until reconnected");
                shared.caches.live.store(false, Ordering::SeqCst);
                shared.caches.clear();
                listener = None;
            }
        }
    }
}

async fn subscribe(pool: &PgPool) -> Result<PgListener, sqlx::Error> {
    let mut listener = PgListener::connect_with(pool).await?;
    listener
        .listen_all([MODELS_CHANNEL, JOBS_CHANNEL, CANCEL_CHANNEL])
        .await?;
    Ok(listener)
}

/// A database error as the registry reports it: the database out of reach, restarting or
/// overloaded is [`StorageError::Unavailable`]; anything else is logged and unavailable too
/// (a query the database refuses is this program's fault, but the client can do nothing
/// but retry).
fn db_error(err: sqlx::Error) -> StorageError {
    let transient = match &err {
        sqlx::Error::Io(_)
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::WorkerCrashed
        | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => db.code().is_some_and(|code| {
            // Connection exceptions, operator intervention (shutdown, restart), insufficient
            // resources, serialization failures and deadlocks.
            ["08", "57", "53", "40"]
                .iter()
                .any(|class| code.starts_with(class))
        }),
        _ => false,
    };
    if transient {
        tracing::warn!(error = %err, "the database is unavailable");
    } else {
        tracing::error!(error = %err, "a database query failed");
    }
    StorageError::Unavailable(DATABASE)
}
