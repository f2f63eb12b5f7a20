//! The job queue of several replicas, in PostgreSQL. Any replica queues a job (its input put in
//! the object store first, then its name and row committed); a replica with a free slot claims
//! the oldest queued job (`FOR UPDATE SKIP LOCKED`, so replicas never take the same one) with a
//! lease it renews every second while it trains, with the job's progress. A job whose lease
//! ran out (its replica died or lost the database) is claimed again and trained from its seed,
//! up to `attempts` times. Every change of a job's state is [`JobState::apply`] in a
//! transaction holding the model's row.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, Row, Transaction};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::input::{self, JobSettings, VerboseRecord};
use super::repository::{ClusterRepository, claim_name_in, notify};
use super::{CANCEL_CHANNEL, Cluster, JOBS_CHANNEL, Running, db_error};
use crate::jobs::{
    Ended, Ending, Event, JobError, JobQueue, JobState, JobView, QueueSettings, Submitted, Trained,
    thread_budget, train_here,
};
use crate::som::{SizeLimits, TrainControl};
use crate::storage::{ModelMeta, StorageError, TrainingStatus, weights_to_npy};
use crate::training::{TrainingJob, Verbose};

/// How often a running job's lease and progress are written, at most.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How often a replica with a free slot looks for work when no notification woke it (a lease
/// that ran out sends none).
const POLL: Duration = Duration::from_secs(1);

/// How often a waiting `/train` reads its job's state.
const WAIT_POLL: Duration = Duration::from_millis(100);

/// How long a replica keeps trying to record a job's end while the database is away, before
/// leaving the job to the lease (another replica then trains it again).
const FINISH_PATIENCE: Duration = Duration::from_secs(60);

/// The columns of a job as views are made of them.
const JOB_COLUMNS: &str = "m.record - 'data' AS record, j.seq, j.worker, j.cancel_requested, j.progress, \
     j.iterations_done, EXTRACT(EPOCH FROM now() - j.running_since)::float8 AS running_for";

/// The queue of a cluster, as a [`JobQueue`].
#[derive(Debug, Clone)]
pub struct PgQueue {
    cluster: Arc<Cluster>,
    settings: Arc<QueueSettings>,
    lease: Duration,
    attempts: i32,
    limits: SizeLimits,
    slots: Arc<Semaphore>,
    stopping: Arc<AtomicBool>,
    /// This process's jobs that ended, by status, and the seconds it spent training.
    ended: Arc<Mutex<([usize; 5], f64)>>,
}

/// Why a claimed job's input was not read.
#[derive(Debug)]
enum Unloaded {
    /// It cannot be trained: the job fails with this reason.
    Unusable(String),
    /// The store is away: the job is left to its lease.
    Unavailable,
}

/// A job this replica claimed.
#[derive(Debug)]
struct Claim {
    name: String,
    attempt: i32,
    input_key: String,
    cancel_requested: bool,
}

impl PgQueue {
    /// A queue on `cluster` whose claims last `lease` unless renewed, trying a job at most
    /// `attempts` times; starts the replica's claim loop and the orphan sweep.
    pub fn start(
        cluster: Arc<Cluster>,
        settings: QueueSettings,
        lease: Duration,
        attempts: u32,
        limits: SizeLimits,
    ) -> PgQueue {
        let queue = PgQueue {
            slots: Arc::new(Semaphore::new(settings.max_concurrent)),
            cluster,
            settings: Arc::new(settings),
            lease,
            attempts: i32::try_from(attempts).unwrap_or(i32::MAX),
            limits,
            stopping: Arc::default(),
            ended: Arc::default(),
        };
        tokio::spawn(queue.clone().claim_loop());
        tokio::spawn(sweep_loop(ClusterRepository::new(
            queue.cluster.clone(),
            limits,
        )));
        queue
    }

    /// Claims jobs while slots are free, until the replica stops.
    async fn claim_loop(self) {
        loop {
            let Ok(slot) = self.slots.clone().acquire_owned().await else {
                return;
            };
            if self.stopping.load(Ordering::SeqCst) {
                return;
            }
            match self.claim().await {
                Ok(Some(claim)) => {
                    tokio::spawn(self.clone().run(claim, slot));
                    continue;
                }
                Ok(None) => {}
                Err(err) => tracing::warn!(error = %err, "cannot claim a job"),
            }
            drop(slot);
            tokio::select! {
                () = self.cluster.jobs_changed.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
        }
    }

    /// Takes the oldest queued job, or one whose lease ran out, for this replica; a job that
    /// used up its attempts fails instead (and the next is looked for).
    async fn claim(&self) -> Result<Option<Claim>, StorageError> {
        loop {
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            let row = sqlx::query(
                "SELECT j.name, j.attempts, j.input_key, j.cancel_requested, m.record \
                 FROM jobs j JOIN models m ON m.name = j.name \
                 WHERE m.status = 'queued' OR (m.status = 'running' AND j.lease_until < now()) \
                 ORDER BY j.seq LIMIT 1 FOR UPDATE OF j, m SKIP LOCKED",
            )
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some(row) = row else {
                return Ok(None);
            };
            let name: String = row.try_get("name").map_err(db_error)?;
            let attempts: i32 = row.try_get("attempts").map_err(db_error)?;
            let Json(meta): Json<ModelMeta> = row.try_get("record").map_err(db_error)?;
            let cancel_requested: bool = row.try_get("cancel_requested").map_err(db_error)?;
            let mut state = JobState {
                meta,
                cancel_requested,
            };
            let event = match state.status() {
                TrainingStatus::Queued => Event::Start,
                // Its replica went away: a cancel it was asked is obeyed, and a job that has
                // used up its attempts fails.
                _ if cancel_requested => Event::Stopped { iterations_done: 0 },
                _ if attempts >= self.attempts => Event::Fail(format!(
                    "the replica training it stopped answering, {attempts} times: the job is not tried again"
                )),
                _ => Event::Restart,
            };
            let restart = matches!(event, Event::Restart | Event::Start);
            if let Err(refused) = state.apply(event, Timestamp::now()) {
                tracing::error!(job = %name, %refused, "a claimed job's state refused its start");
                return Ok(None);
            }
            ClusterRepository::write(&mut tx, &state.meta, None).await?;
            if !restart {
                sqlx::query(
                    "UPDATE jobs SET lease_until = NULL, cancel_requested = false \
                     WHERE name = $1",
                )
                .bind(&name)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
                tx.commit().await.map_err(db_error)?;
                tracing::warn!(job = %name, status = state.status().as_str(), "a job whose replica went away ended");
                self.discard_input(&row.try_get::<String, _>("input_key").map_err(db_error)?)
                    .await;
                continue;
            }
            sqlx::query(
                "UPDATE jobs SET worker = $2, lease_until = now() + $3 * interval '1 second', \
                 attempts = attempts + 1, progress = 0, iterations_done = 0, \
                 running_since = now() WHERE name = $1",
            )
            .bind(&name)
            .bind(&self.settings.replica_id)
            .bind(self.lease.as_secs_f64())
            .execute(&mut *tx)
            .await
            .map_err(db_error)?;
            tx.commit().await.map_err(db_error)?;
            tracing::info!(job = %name, attempt = attempts + 1, "job claimed");
            return Ok(Some(Claim {
                name,
                attempt: attempts + 1,
                input_key: row.try_get("input_key").map_err(db_error)?,
                cancel_requested,
            }));
        }
    }

    /// Trains a claimed job with a heartbeat, then records its end.
    async fn run(self, claim: Claim, slot: OwnedSemaphorePermit) {
        let control = Arc::new(TrainControl::default());
        if claim.cancel_requested {
            control.cancel();
        }
        (self.cluster.running.lock().expect("running lock")).insert(
            claim.name.clone(),
            Running {
                control: control.clone(),
                attempt: claim.attempt,
            },
        );
        let heartbeat = tokio::spawn(self.clone().heartbeat(
            claim.name.clone(),
            claim.attempt,
            control.clone(),
        ));
        let started = Instant::now();
        let (trained, dataset) = match self.load_input(&claim.input_key).await {
            Ok((settings, data)) => {
                let dataset = settings.dataset().map(str::to_owned);
                let threads = thread_budget(self.settings.max_concurrent, &self.slots);
                let priority = self.settings.priority;
                let name = claim.name.clone();
                let limits = self.limits;
                let training = control.clone();
                let trained =
                    tokio::task::spawn_blocking(move || match settings.into_job(data, limits) {
                        Ok(job) => train_here(&name, &job, &training, threads, priority),
                        Err(reason) => {
                            failed(format!("the stored job cannot be trained: {reason}"))
                        }
                    })
                    .await
                    .unwrap_or_else(|err| {
                        tracing::error!(error = %err, "a job's task crashed");
                        failed("internal error".into())
                    });
                (Some(trained), dataset)
            }
            Err(Unloaded::Unusable(reason)) => (Some(failed(reason)), None),
            Err(Unloaded::Unavailable) => (None, None),
        };
        let seconds = started.elapsed().as_secs_f64();
        // The lease is renewed until the end is recorded: storing the result may take a while.
        let ended = match trained {
            Some(trained) => self.finish(&claim, trained, dataset).await,
            None => {
                tracing::warn!(job = %claim.name, "the job's input cannot be read now: its lease will give it to another attempt");
                None
            }
        };
        heartbeat.abort();
        {
            let mut running = self.cluster.running.lock().expect("running lock");
            // A later attempt of the same job (this replica lost its lease and took it again)
            // keeps its entry.
            if running
                .get(&claim.name)
                .is_some_and(|entry| entry.attempt == claim.attempt)
            {
                running.remove(&claim.name);
            }
        }
        drop(slot);
        if let Some(status) = ended {
            let mut ended = self.ended.lock().expect("ended lock");
            if let Some(index) = TrainingStatus::ALL.iter().position(|&s| s == status) {
                ended.0[index] += 1;
            }
            ended.1 += seconds;
        }
    }

    /// Renews the lease and writes the progress every [`HEARTBEAT`]; stops the training when
    /// a cancel was asked or the job is no longer this replica's.
    async fn heartbeat(self, name: String, attempt: i32, control: Arc<TrainControl>) {
        let every = HEARTBEAT.min(self.lease / 3);
        loop {
            tokio::time::sleep(every).await;
            let renewed: Result<Option<bool>, _> = sqlx::query_scalar(
                "UPDATE jobs SET lease_until = now() + $4 * interval '1 second', progress = $5, \
                 iterations_done = $6 WHERE name = $1 AND worker = $2 AND attempts = $3 \
                 RETURNING cancel_requested",
            )
            .bind(&name)
            .bind(&self.settings.replica_id)
            .bind(attempt)
            .bind(self.lease.as_secs_f64())
            .bind(control.fraction_done())
            .bind(i64::try_from(control.iterations_done()).unwrap_or(i64::MAX))
            .fetch_optional(&self.cluster.pool)
            .await;
            match renewed {
                Ok(Some(false)) => {}
                Ok(Some(true)) => control.cancel(),
                Ok(None) => {
                    tracing::warn!(job = %name, "the job is no longer this replica's: stopping it");
                    control.cancel();
                    return;
                }
                // The database is away: the lease runs out if it stays away, and then the
                // job is another replica's.
                Err(err) => tracing::warn!(job = %name, error = %err, "cannot renew a job's lease"),
            }
        }
    }

    async fn load_input(&self, key: &str) -> Result<(JobSettings, ndarray::Array2<f64>), Unloaded> {
        let blobs = &self.cluster.blobs;
        let read = |part: &'static str| async move {
            match blobs.get(&format!("{key}/{part}")).await {
                Ok(Some(bytes)) => Ok(bytes),
                Ok(None) => Err(Unloaded::Unusable(format!(
                    "its {part} is missing from the object store"
                ))),
                Err(_) => Err(Unloaded::Unavailable),
            }
        };
        let settings = read("settings.json").await?;
        let data = read("data.npy").await?;
        tokio::task::spawn_blocking(move || input::decode(&settings, &data))
            .await
            .map_err(|err| Unloaded::Unusable(err.to_string()))?
            .map_err(Unloaded::Unusable)
    }

    /// Records the end of a claimed job, if it is still this replica's: weights and `verbose`
    /// additions put first, then the state committed. Returns the status it ended with.
    async fn finish(
        &self,
        claim: &Claim,
        trained: Trained,
        dataset: Option<String>,
    ) -> Option<TrainingStatus> {
        let Trained {
            mut event,
            weights,
            verbose,
        } = trained;
        if let Event::Succeed(meta) = &mut event {
            meta.dataset = dataset;
        }
        let mut objects = Vec::new();
        if let Some(weights) = weights {
            match self
                .put_result(&claim.name, claim.attempt, weights, verbose)
                .await
            {
                Ok(keys) => objects = keys,
                // The store is away: the lease gives the job to another attempt.
                Err(err) => {
                    tracing::warn!(job = %claim.name, error = %err, "cannot store a job's result now");
                    return None;
                }
            }
        }
        let deadline = Instant::now() + FINISH_PATIENCE;
        let ended = loop {
            match self.record_end(claim, &event, &objects).await {
                Ok(ended) => break ended,
                Err(err) if Instant::now() < deadline => {
                    tracing::warn!(job = %claim.name, error = %err, "cannot record a job's end yet");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
                Err(err) => {
                    tracing::error!(job = %claim.name, error = %err, "gave up recording a job's end: its lease decides");
                    break None;
                }
            }
        };
        // Not this replica's any more, or not known whether its commit landed: what was put
        // is left to the orphan sweep, which keeps what a row names.
        if let Some(status) = ended {
            tracing::info!(job = %claim.name, status = status.as_str(), "training ended");
            if !status.is_pending() {
                self.discard_input(&claim.input_key).await;
            }
        }
        ended
    }

    /// Puts a success's weights (and `verbose` additions) where the job's row will name
    /// them; gives their keys, weights first.
    async fn put_result(
        &self,
        name: &str,
        attempt: i32,
        weights: ndarray::Array3<f64>,
        verbose: Option<Verbose>,
    ) -> Result<Vec<String>, StorageError> {
        // Up to hundreds of megabytes of bytes to write: off the runtime's threads.
        let encoded = tokio::task::spawn_blocking(move || {
            let verbose = verbose.map(|verbose| {
                serde_json::to_vec(&VerboseRecord::from(verbose))
                    .expect("verbose additions always serialise")
            });
            (weights_to_npy(&weights), verbose)
        })
        .await;
        let Ok((npy, verbose)) = encoded else {
            tracing::error!(job = %name, "encoding a job's result crashed");
            return Err(StorageError::Unavailable(super::blobs::STORE));
        };
        let tag = rand::random::<u64>();
        let key = format!("models/{name}/{attempt}-{tag:016x}.npy");
        self.cluster.blobs.put(&key, npy).await?;
        let mut keys = vec![key];
        if let Some(bytes) = verbose {
            let key = format!("verbose/{name}/{tag:016x}.json");
            self.cluster.blobs.put(&key, bytes).await?;
            keys.push(key);
        }
        Ok(keys)
    }

    /// Applies `event` to the job if it is still this replica's claim; `None` when it is not
    /// (the lease ran out and another replica took it, or it was handed back or deleted).
    async fn record_end(
        &self,
        claim: &Claim,
        event: &Event,
        objects: &[String],
    ) -> Result<Option<TrainingStatus>, StorageError> {
        let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
        let Some(mut state) = self.claimed_state(&mut tx, claim).await? else {
            return Ok(None);
        };
        if let Err(refused) = state.apply(event.clone(), Timestamp::now()) {
            tracing::info!(job = %claim.name, %refused, "training ended late");
            return Ok(None);
        }
        let replaced =
            ClusterRepository::write(&mut tx, &state.meta, objects.first().map(String::as_str))
                .await?;
        sqlx::query(
            "UPDATE jobs SET lease_until = NULL, cancel_requested = false, \
             progress = CASE WHEN $2 THEN 1 ELSE progress END, verbose_key = $3 WHERE name = $1",
        )
        .bind(&claim.name)
        .bind(state.status() == TrainingStatus::Succeeded)
        .bind(objects.get(1))
        .execute(&mut *tx)
        .await
        .map_err(db_error)?;
        tx.commit().await.map_err(db_error)?;
        if let Some(old) = replaced {
            self.cluster.blobs.discard(&old).await;
        }
        Ok(Some(state.status()))
    }

    /// The job's state, its rows locked in `tx`, if it is still `claim`'s.
    async fn claimed_state(
        &self,
        tx: &mut Transaction<'_, Postgres>,
        claim: &Claim,
    ) -> Result<Option<JobState>, StorageError> {
        let row = sqlx::query(
            "SELECT m.record, j.cancel_requested FROM jobs j JOIN models m ON m.name = j.name \
             WHERE j.name = $1 AND j.worker = $2 AND j.attempts = $3 FOR UPDATE OF j, m",
        )
        .bind(&claim.name)
        .bind(&self.settings.replica_id)
        .bind(claim.attempt)
        .fetch_optional(&mut **tx)
        .await
        .map_err(db_error)?;
        let Some(row) = row else {
            return Ok(None);
        };
        let Json(meta): Json<ModelMeta> = row.try_get("record").map_err(db_error)?;
        Ok(Some(JobState {
            meta,
            cancel_requested: row.try_get("cancel_requested").map_err(db_error)?,
        }))
    }

    async fn discard_input(&self, key: &str) {
        for part in ["settings.json", "data.npy"] {
            self.cluster.blobs.discard(&format!("{key}/{part}")).await;
        }
    }

    /// Gives this replica's running jobs back to the queue (a cancel asked of one ends it
    /// cancelled instead), then stops their trainings: their ends find them no longer ours.
    async fn hand_back(&self) -> Result<(), StorageError> {
        let running: Vec<(String, i32, Arc<TrainControl>)> = (self.cluster.running.lock())
            .expect("running lock")
            .iter()
            .map(|(name, running)| (name.clone(), running.attempt, running.control.clone()))
            .collect();
        for (name, attempt, control) in running {
            let claim = Claim {
                name: name.clone(),
                attempt,
                input_key: String::new(),
                cancel_requested: false,
            };
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            if let Some(mut state) = self.claimed_state(&mut tx, &claim).await? {
                let event = match state.cancel_requested {
                    true => Event::Stopped {
                        iterations_done: control.iterations_done(),
                    },
                    false => Event::HandBack,
                };
                if state.apply(event, Timestamp::now()).is_ok() {
                    ClusterRepository::write(&mut tx, &state.meta, None).await?;
                    sqlx::query(
                        "UPDATE jobs SET worker = NULL, lease_until = NULL, \
                         attempts = attempts - 1 WHERE name = $1",
                    )
                    .bind(&name)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                    notify(&mut tx, JOBS_CHANNEL, "").await?;
                    tx.commit().await.map_err(db_error)?;
                    tracing::warn!(job = %name, status = state.status().as_str(), "job handed back at shutdown");
                }
            }
            control.cancel();
        }
        Ok(())
    }

    /// The view of job `name` from its rows, if it is a job.
    async fn read_view(&self, name: &str) -> Result<Option<JobView>, StorageError> {
        let row = sqlx::query(&format!(
            "SELECT {JOB_COLUMNS} FROM jobs j JOIN models m ON m.name = j.name WHERE j.name = $1"
        ))
        .bind(name)
        .fetch_optional(&self.cluster.pool)
        .await
        .map_err(db_error)?;
        row.map(|row| job_view(&row)).transpose()
    }
}

/// A training that never ran, failed for `reason`.
fn failed(reason: String) -> Trained {
    Trained {
        event: Event::Fail(reason),
        weights: None,
        verbose: None,
    }
}

/// A job's view from a row of [`JOB_COLUMNS`].
fn job_view(row: &PgRow) -> Result<JobView, StorageError> {
    let Json(mut meta): Json<ModelMeta> = row.try_get("record").map_err(db_error)?;
    // What a model knows of its data is the model's, not the job's (and can be large).
    meta.data = None;
    let mut view = JobView::of_record(meta);
    if view.meta.status == TrainingStatus::Running {
        let progress: f64 = row.try_get("progress").map_err(db_error)?;
        let iterations: i64 = row.try_get("iterations_done").map_err(db_error)?;
        let running_for: Option<f64> = row.try_get("running_for").map_err(db_error)?;
        view.meta.iterations_done = usize::try_from(iterations).unwrap_or(0);
        view.progress = progress.clamp(0.0, 1.0);
        view.eta_seconds = running_for
            .filter(|_| progress > 0.0)
            .map(|elapsed| elapsed * (1.0 - progress) / progress);
        view.cancel_requested = row.try_get("cancel_requested").map_err(db_error)?;
    }
    view.worker = row.try_get("worker").map_err(db_error)?;
    Ok(view)
}

/// Sweeps orphaned objects at start and then every hour.
async fn sweep_loop(repository: ClusterRepository) {
    loop {
        if let Err(err) = repository.sweep_orphans().await {
            tracing::warn!(error = %err, "the orphan sweep failed; it runs again in an hour");
        }
        tokio::time::sleep(Duration::from_secs(3600)).await;
    }
}

fn unavailable(err: StorageError) -> JobError {
    match err {
        StorageError::Unavailable(what) => JobError::Unavailable(what.to_owned()),
        other => JobError::Storage(other),
    }
}

#[async_trait::async_trait]
impl JobQueue for PgQueue {
    async fn submit(&self, job: TrainingJob, accepted: Timestamp) -> Result<Submitted, JobError> {
        if self.stopping.load(Ordering::SeqCst) {
            return Err(JobError::Unavailable(
                "this replica, which is stopping,".into(),
            ));
        }
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM models WHERE status = 'queued'")
            .fetch_one(&self.cluster.pool)
            .await
            .map_err(|err| unavailable(db_error(err)))?;
        if usize::try_from(queued).unwrap_or(usize::MAX) >= self.settings.queue_limit {
            return Err(JobError::QueueFull(usize::try_from(queued).unwrap_or(0)));
        }
        let (base, meta) = job.queued(accepted);
        let (settings, data) = tokio::task::spawn_blocking(move || input::encode(&job))
            .await
            .map_err(|_| JobError::Internal)?;
        let input_key = format!("inputs/{:016x}", rand::random::<u64>());
        let blobs = &self.cluster.blobs;
        let put = async {
            blobs
                .put(&format!("{input_key}/settings.json"), settings)
                .await?;
            blobs.put(&format!("{input_key}/data.npy"), data).await
        };
        if let Err(err) = put.await {
            self.discard_input(&input_key).await;
            return Err(unavailable(err));
        }
        let queued = async {
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            let name = claim_name_in(&mut tx, &base, &meta).await?;
            sqlx::query("INSERT INTO jobs (name, input_key) VALUES ($1, $2)")
                .bind(&name)
                .bind(&input_key)
                .execute(&mut *tx)
                .await
                .map_err(db_error)?;
            notify(&mut tx, JOBS_CHANNEL, "").await?;
            tx.commit().await.map_err(db_error)?;
            Ok::<_, StorageError>(name)
        };
        let name = match queued.await {
            Ok(name) => name,
            Err(err) => {
                self.discard_input(&input_key).await;
                return Err(unavailable(err));
            }
        };
        tracing::info!(job = %name, "job queued");
        let queue = self.clone();
        let waited = name.clone();
        let ending = Ending::new(Box::pin(async move { queue.wait(&waited).await }));
        Ok(Submitted { name, ending })
    }

    async fn view(&self, name: &str) -> Result<Option<JobView>, JobError> {
        self.read_view(name).await.map_err(unavailable)
    }

    async fn list(&self) -> Result<Vec<JobView>, JobError> {
        let rows = sqlx::query(&format!(
            "(SELECT {JOB_COLUMNS} FROM jobs j JOIN models m ON m.name = j.name \
               WHERE m.status IN ('queued', 'running')) \
             UNION ALL \
             (SELECT {JOB_COLUMNS} FROM jobs j JOIN models m ON m.name = j.name \
               WHERE m.status NOT IN ('queued', 'running') ORDER BY j.seq DESC LIMIT {}) \
             ORDER BY seq DESC",
            crate::jobs::ENDED_KEPT
        ))
        .fetch_all(&self.cluster.pool)
        .await
        .map_err(|err| unavailable(db_error(err)))?;
        rows.iter()
            .map(job_view)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    async fn cancel(&self, name: &str) -> Result<JobView, JobError> {
        let cancelled = async {
            let mut tx = self.cluster.pool.begin().await.map_err(db_error)?;
            let row = sqlx::query(
                "SELECT m.record, j.cancel_requested, j.input_key FROM models m \
                 LEFT JOIN jobs j ON j.name = m.name WHERE m.name = $1 FOR UPDATE OF m",
            )
            .bind(name)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db_error)?;
            let Some(row) = row else {
                return Ok(Err(JobError::NotFound(name.to_owned())));
            };
            let Json(meta): Json<ModelMeta> = row.try_get("record").map_err(db_error)?;
            let cancel_requested: Option<bool> =
                row.try_get("cancel_requested").map_err(db_error)?;
            let Some(cancel_requested) = cancel_requested else {
                // A model without a job (imported): nothing runs.
                return Ok(Err(JobError::Ended {
                    name: name.to_owned(),
                    status: meta.status,
                }));
            };
            let mut state = JobState {
                meta,
                cancel_requested,
            };
            if let Err(refused) = state.apply(Event::Cancel, Timestamp::now()) {
                return Ok(Err(JobError::Ended {
                    name: name.to_owned(),
                    status: refused.status,
                }));
            }
            let mut input = None;
            if state.status() == TrainingStatus::Running {
                sqlx::query("UPDATE jobs SET cancel_requested = true WHERE name = $1")
                    .bind(name)
                    .execute(&mut *tx)
                    .await
                    .map_err(db_error)?;
                notify(&mut tx, CANCEL_CHANNEL, name).await?;
            } else {
                ClusterRepository::write(&mut tx, &state.meta, None).await?;
                // Cancelled while queued: nothing will read its input again.
                input = row
                    .try_get::<Option<String>, _>("input_key")
                    .map_err(db_error)?;
            }
            tx.commit().await.map_err(db_error)?;
            tracing::info!(job = %name, status = state.status().as_str(), "cancel requested");
            Ok(Ok(input))
        };
        if let Some(input) = cancelled.await.map_err(unavailable)?? {
            self.discard_input(&input).await;
        }
        self.read_view(name)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| JobError::NotFound(name.to_owned()))
    }

    async fn forget(&self, name: &str) -> Result<(), JobError> {
        // The job's row goes with its model's (ON DELETE CASCADE); a pending one is refused.
        match self.read_view(name).await.map_err(unavailable)? {
            Some(view) if view.meta.status.is_pending() => Err(JobError::Pending(name.to_owned())),
            _ => Ok(()),
        }
    }

    async fn counts(&self) -> Result<(usize, usize), JobError> {
        let rows = sqlx::query(
            "SELECT status, count(*) AS jobs FROM models \
             WHERE status IN ('queued', 'running') GROUP BY status",
        )
        .fetch_all(&self.cluster.pool)
        .await
        .map_err(|err| unavailable(db_error(err)))?;
        let mut counts = (0, 0);
        for row in rows {
            let status: String = row
                .try_get("status")
                .map_err(|err| unavailable(db_error(err)))?;
            let jobs: i64 = row
                .try_get("jobs")
                .map_err(|err| unavailable(db_error(err)))?;
            let jobs = usize::try_from(jobs).unwrap_or(0);
            match status.as_str() {
                "queued" => counts.0 = jobs,
                _ => counts.1 = jobs,
            }
        }
        Ok(counts)
    }

    fn count_by_status(&self) -> [(TrainingStatus, usize); 5] {
        let ended = self.ended.lock().expect("ended lock").0;
        let mut counts = TrainingStatus::ALL.map(|status| (status, 0));
        for ((_, count), ended) in counts.iter_mut().zip(ended) {
            *count = ended;
        }
        let running = self.cluster.running.lock().expect("running lock").len();
        counts[1].1 = running;
        counts
    }

    fn training_seconds(&self) -> f64 {
        self.ended.lock().expect("ended lock").1
    }

    async fn release(&self) {
        self.shutdown().await;
    }

    async fn shutdown(&self) {
        self.stopping.store(true, Ordering::SeqCst);
        self.slots.close();
        if let Err(err) = self.hand_back().await {
            tracing::error!(error = %err, "cannot hand the running jobs back: their leases will run out");
        }
    }
}

impl PgQueue {
    /// Waits for job `name` to end, wherever it runs; takes its `verbose` additions.
    async fn wait(&self, name: &str) -> Result<Ended, JobError> {
        loop {
            tokio::time::sleep(WAIT_POLL).await;
            let view = match self.read_view(name).await {
                Ok(Some(view)) => view,
                // Deleted while waiting: it ends as failed for whoever waits.
                Ok(None) => {
                    return Err(JobError::NotFound(name.to_owned()));
                }
                // The database is away: keep waiting, the job goes on.
                Err(_) => continue,
            };
            if view.meta.status.is_pending() {
                continue;
            }
            let verbose = self.take_verbose(name).await;
            return Ok(Ended { view, verbose });
        }
    }

    /// The `verbose` additions of job `name`'s success, read once and removed.
    async fn take_verbose(&self, name: &str) -> Option<Verbose> {
        let key: Option<String> = sqlx::query_scalar(
            "UPDATE jobs j SET verbose_key = NULL FROM jobs old \
             WHERE j.name = $1 AND old.name = j.name RETURNING old.verbose_key",
        )
        .bind(name)
        .fetch_optional(&self.cluster.pool)
        .await
        .ok()
        .flatten()
        .flatten();
        let key = key?;
        let bytes = self.cluster.blobs.get(&key).await.ok().flatten()?;
        self.cluster.blobs.discard(&key).await;
        // A million presentations are tens of megabytes of JSON: read off the runtime.
        let record = tokio::task::spawn_blocking(move || {
            serde_json::from_slice::<VerboseRecord>(&bytes).ok()
        });
        Some(record.await.ok()??.into())
    }
}
