//! The job runner: every training is a job, queued in order, at most `max_concurrent` training
//! at once on blocking threads (never the async runtime's workers), at most `queue_limit`
//! waiting. A job's state lives in its model's `.json`, written when it is queued, when it
//! starts and when it ends, so a restart never leaves a job pending.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;
use tokio::sync::{Semaphore, watch};

use crate::som::{SomError, TrainControl};
use crate::storage::{ModelMeta, ModelStore, StorageError, TrainingStatus, model_name};
use crate::training::{self, Outcome, TrainingJob};

/// Why a job could not be queued or changed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the job queue is full ({0} jobs waiting): try again later")]
    QueueFull(usize),
    #[error("no job named {0:?}")]
    NotFound(String),
    #[error("the model {0:?} is still training: cancel its job with DELETE /jobs/{0} first")]
    Pending(String),
    #[error(transparent)]
    Storage(#[from] StorageError),
}

/// What a finished job gives its waiter.
pub type JobResult = Result<Arc<Outcome>, String>;

/// One training job.
#[derive(Debug)]
pub struct Job {
    pub name: String,
    pub control: TrainControl,
    meta: Mutex<ModelMeta>,
    started: Mutex<Option<Instant>>,
    finished: watch::Sender<Option<JobResult>>,
}

impl Job {
    /// The job's record, with `iterations_done` as of now.
    pub fn meta(&self) -> ModelMeta {
        let mut meta = self.meta.lock().expect("job meta lock").clone();
        if meta.status == TrainingStatus::Running {
            meta.iterations_done = self.control.iterations_done();
        }
        meta
    }

    /// Where the job stands, without copying its record.
    pub fn status(&self) -> TrainingStatus {
        self.meta.lock().expect("job meta lock").status
    }

    /// Seconds the job still needs, estimated from its pace so far.
    pub fn eta_seconds(&self) -> Option<f64> {
        let started = (*self.started.lock().expect("job start lock"))?;
        let done = self.control.iterations_done();
        let total = self.meta().max_iterations?;
        if done == 0 {
            return None;
        }
        let per_iteration = started.elapsed().as_secs_f64() / done as f64;
        Some(per_iteration * total.saturating_sub(done) as f64)
    }

    /// Waits until the job has ended and returns its outcome or the reason it failed.
    pub async fn wait(&self) -> JobResult {
        let mut receiver = self.finished.subscribe();
        let ended = receiver
            .wait_for(Option::is_some)
            .await
            .expect("the job keeps its sender");
        ended.clone().expect("waited for Some")
    }
}

/// The jobs of this process, by name.
#[derive(Debug, Clone)]
pub struct JobRegistry {
    store: ModelStore,
    jobs: Arc<Mutex<HashMap<String, Arc<Job>>>>,
    training_slots: Arc<Semaphore>,
    max_concurrent: usize,
    cores: usize,
    queued: Arc<Mutex<usize>>,
    queue_limit: usize,
    priority: TrainingPriority,
    /// Seconds spent training by the jobs that ended, for `/metrics`.
    training_seconds: Arc<Mutex<f64>>,
}

impl JobRegistry {
    /// A registry that trains at most `max_concurrent` jobs at once, at `priority`, and keeps
    /// at most `queue_limit` waiting. Records left queued or running by a crash are marked
    /// failed.
    pub fn new(
        store: ModelStore,
        max_concurrent: usize,
        queue_limit: usize,
        priority: TrainingPriority,
    ) -> Self {
        mark_interrupted(&store);
        JobRegistry {
            store,
            jobs: Arc::default(),
            training_slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_concurrent: max_concurrent.max(1),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            queued: Arc::default(),
            queue_limit,
            priority,
            training_seconds: Arc::default(),
        }
    }

    /// The job named `name`, if this process ran it.
    pub fn get(&self, name: &str) -> Option<Arc<Job>> {
        self.jobs.lock().expect("jobs lock").get(name).cloned()
    }

    /// Counts of queued and running jobs.
    pub fn counts(&self) -> (usize, usize) {
        let by_status = self.count_by_status();
        let count = |wanted| {
            by_status
                .iter()
                .find(|(status, _)| *status == wanted)
                .map_or(0, |(_, count)| *count)
        };
        (
            count(TrainingStatus::Queued),
            count(TrainingStatus::Running),
        )
    }

    /// How many of this process's jobs are in each status.
    pub fn count_by_status(&self) -> [(TrainingStatus, usize); 5] {
        let mut counts = TrainingStatus::ALL.map(|status| (status, 0));
        for job in self.jobs.lock().expect("jobs lock").values() {
            let status = job.status();
            if let Some((_, count)) = counts.iter_mut().find(|(s, _)| *s == status) {
                *count += 1;
            }
        }
        counts
    }

    /// Seconds spent training, summed over the jobs that ended.
    pub fn training_seconds(&self) -> f64 {
        *self.training_seconds.lock().expect("training seconds lock")
    }

    /// Forgets an ended job, when its model is deleted. A pending job is kept: it is
    /// [`JobError::Pending`].
    pub fn forget(&self, name: &str) -> Result<(), JobError> {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        match jobs.get(name) {
            Some(job) if job.status().is_pending() => Err(JobError::Pending(name.to_owned())),
            _ => {
                jobs.remove(name);
                Ok(())
            }
        }
    }

    /// Names and queues a training. Its record is stored before this returns, so the name is
    /// taken and the job is visible at once.
    pub fn submit(&self, job: TrainingJob, accepted: Timestamp) -> Result<Arc<Job>, JobError> {
        {
            let mut queued = self.queued.lock().expect("queue lock");
            if *queued >= self.queue_limit {
                return Err(JobError::QueueFull(*queued));
            }
            *queued += 1;
        }
        let params = job.params;
        let base = model_name(
            accepted,
            [params.rows(), params.cols()],
            params.max_iterations(),
            params.learning_rate(),
        );
        let meta = ModelMeta {
            status: TrainingStatus::Queued,
            grid_shape: Some([params.rows(), params.cols()]),
            dim: Some(params.dim()),
            max_iterations: Some(params.max_iterations()),
            learning_rate: Some(params.learning_rate()),
            seed: match &job.init {
                training::Init::Seed(seed) => Some(*seed),
                training::Init::Weights(_) => None,
            },
            created_at: Some(accepted),
            ..ModelMeta::default()
        };
        let name = match self.store.claim_name(&base, meta.clone()) {
            Ok(name) => name,
            Err(err) => {
                *self.queued.lock().expect("queue lock") -= 1;
                return Err(err.into());
            }
        };
        let handle = Arc::new(Job {
            name: name.clone(),
            control: TrainControl::default(),
            meta: Mutex::new(ModelMeta {
                name: name.clone(),
                ..meta
            }),
            started: Mutex::new(None),
            finished: watch::Sender::new(None),
        });
        self.jobs
            .lock()
            .expect("jobs lock")
            .insert(name, handle.clone());
        tokio::spawn(self.clone().run(handle.clone(), job));
        Ok(handle)
    }

    /// Cancels a queued or running job; returns its status afterwards.
    pub fn cancel(&self, name: &str) -> Result<TrainingStatus, JobError> {
        let job = self
            .get(name)
            .ok_or_else(|| JobError::NotFound(name.into()))?;
        job.control.cancel();
        let status = job.meta().status;
        if status.is_pending() {
            Ok(TrainingStatus::Cancelled)
        } else {
            Ok(status)
        }
    }

    /// Cancels every queued or running job and records it as failed with `reason`: used when
    /// the server stops, so no record stays pending.
    pub fn interrupt_all(&self, reason: &str) {
        let jobs: Vec<_> = self
            .jobs
            .lock()
            .expect("jobs lock")
            .values()
            .cloned()
            .collect();
        for job in jobs.iter().filter(|job| job.meta().status.is_pending()) {
            // Recorded before cancelling, so the job's own ending sees it was interrupted.
            self.update(job, |meta| {
                meta.status = TrainingStatus::Failed;
                meta.error = Some(reason.to_owned());
                meta.finished_at = Some(Timestamp::now());
            });
            job.control.cancel();
            tracing::warn!(job = %job.name, reason, "job interrupted");
        }
    }

    async fn run(self, job: Arc<Job>, training_job: TrainingJob) {
        let slot = self
            .training_slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        *self.queued.lock().expect("queue lock") -= 1;
        let result = if job.control.is_cancelled() {
            Err(SomError::Cancelled { iterations_done: 0 })
        } else {
            self.update(&job, |meta| {
                meta.status = TrainingStatus::Running;
                meta.started_at = Some(Timestamp::now());
            });
            *job.started.lock().expect("job start lock") = Some(Instant::now());
            tracing::info!(job = %job.name, "training started");
            let worker = job.clone();
            let span = tracing::Span::current();
            let threads = self.thread_budget();
            let priority = self.priority;
            tokio::task::spawn_blocking(move || {
                let _entered = span.enter();
                let train = || training::run(&training_job, &worker.control);
                let pool = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .start_handler(move |_| priority.apply_to_current_thread())
                    .build();
                match pool {
                    Ok(pool) => pool.install(train),
                    Err(_) => train(),
                }
            })
            .await
            .unwrap_or_else(|panic| {
                tracing::error!(job = %job.name, error = %panic, "training crashed");
                Err(SomError::Cancelled {
                    iterations_done: job.control.iterations_done(),
                })
            })
        };
        drop(slot);
        if let Some(started) = *job.started.lock().expect("job start lock") {
            *self.training_seconds.lock().expect("training seconds lock") +=
                started.elapsed().as_secs_f64();
        }
        let outcome = self.finish(&job, result);
        job.finished.send_replace(Some(outcome));
    }

    /// Threads for a job starting now: the cores shared among the jobs training, so that
    /// trainings do not crowd out each other and the HTTP workers.
    fn thread_budget(&self) -> usize {
        let training = self.max_concurrent - self.training_slots.available_permits();
        (self.cores / training.max(1)).max(1)
    }

    /// Stores the result and the final record; returns what the waiter gets.
    fn finish(&self, job: &Job, result: Result<Outcome, SomError>) -> JobResult {
        let now = Some(Timestamp::now());
        match result {
            Ok(outcome) => {
                let mut meta = ModelMeta {
                    name: job.name.clone(),
                    created_at: job.meta().created_at,
                    started_at: job.meta().started_at,
                    ..outcome.meta.clone()
                };
                // Weights and final record in one commit: a crash leaves both or neither.
                match self.store.commit_model(&meta, &outcome.weights) {
                    Ok(()) => *job.meta.lock().expect("job meta lock") = meta.clone(),
                    Err(err) => {
                        tracing::error!(job = %job.name, error = %err, "saving the weights failed");
                        meta.status = TrainingStatus::Failed;
                        meta.error = Some("the weights could not be saved".into());
                        self.replace(job, meta.clone());
                    }
                }
                tracing::info!(job = %job.name, seconds = meta.training_seconds, status = ?meta.status, "training ended");
                match meta.status {
                    TrainingStatus::Succeeded => Ok(Arc::new(outcome)),
                    _ => Err(meta.error.unwrap_or_default()),
                }
            }
            Err(SomError::Cancelled { iterations_done }) => {
                let interrupted = job.meta().status == TrainingStatus::Failed;
                if interrupted {
                    // `interrupt_all` already recorded why; a shutdown is not a user's cancel.
                    return Err(job.meta().error.unwrap_or_default());
                }
                self.update(job, |meta| {
                    meta.status = TrainingStatus::Cancelled;
                    meta.iterations_done = iterations_done;
                    meta.finished_at = now;
                });
                tracing::info!(job = %job.name, "training cancelled");
                Err("the job was cancelled".into())
            }
            Err(err) => {
                let reason = err.to_string();
                self.update(job, |meta| {
                    meta.status = TrainingStatus::Failed;
                    meta.error = Some(reason.clone());
                    meta.finished_at = now;
                });
                tracing::error!(job = %job.name, error = %reason, "training failed");
                Err(reason)
            }
        }
    }

    fn update(&self, job: &Job, change: impl FnOnce(&mut ModelMeta)) {
        let mut meta = job.meta();
        change(&mut meta);
        self.replace(job, meta);
    }

    fn replace(&self, job: &Job, meta: ModelMeta) {
        if let Err(err) = self.store.save_meta(&meta) {
            tracing::error!(job = %job.name, error = %err, "saving the job record failed");
        }
        *job.meta.lock().expect("job meta lock") = meta;
    }
}

/// How training threads share the cores with the rest of the machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TrainingPriority {
    /// Linux's `SCHED_IDLE`: any other thread that wants a core gets it at once, so requests
    /// stay fast while maps train (the `/health` p99 target is met only this way); trainings
    /// then wait while other work keeps every core busy.
    #[default]
    Idle,
    /// Nice 10: other work is preferred but trainings keep about a tenth of a busy core.
    Low,
    /// The same priority as everything else.
    Normal,
}

impl std::str::FromStr for TrainingPriority {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "idle" => Ok(TrainingPriority::Idle),
            "low" => Ok(TrainingPriority::Low),
            "normal" => Ok(TrainingPriority::Normal),
            other => Err(format!("{other:?} is not one of idle, low, normal")),
        }
    }
}

impl TrainingPriority {
    /// Applies the priority to the calling thread; the band threads a training spawns inherit
    /// it. Where the system refuses, the thread keeps its priority and the reason is logged.
    fn apply_to_current_thread(self) {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        use thread_priority::{ThreadPriority, ThreadPriorityValue};
        let (priority, policy) = match self {
            TrainingPriority::Normal => return,
            TrainingPriority::Idle => (ThreadPriority::Min, NormalThreadSchedulePolicy::Idle),
            // Cross-platform priority 22 of 99 is nice 10.
            TrainingPriority::Low => match ThreadPriorityValue::try_from(22u8) {
                Ok(value) => (
                    ThreadPriority::Crossplatform(value),
                    NormalThreadSchedulePolicy::Other,
                ),
                Err(_) => return,
            },
        };
        let policy = ThreadSchedulePolicy::Normal(policy);
        if let Err(err) = set_thread_priority_and_policy(thread_native_id(), priority, policy) {
            tracing::warn!(error = ?err, priority = ?self, "cannot lower a training thread's priority");
        }
    }
}

/// Marks every record left queued or running (by a crash) as failed.
fn mark_interrupted(store: &ModelStore) {
    for name in store.pending_names() {
        if let Ok(Some(mut meta)) = store.meta(&name) {
            meta.status = TrainingStatus::Failed;
            meta.error = Some("interrupted".into());
            meta.finished_at = Some(Timestamp::now());
            match store.save_meta(&meta) {
                Ok(()) => {
                    tracing::warn!(job = %name, "a job left pending by a restart is marked failed")
                }
                Err(err) => {
                    tracing::error!(job = %name, error = %err, "cannot mark an interrupted job")
                }
            }
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::TrainingPriority;

    /// The scheduling policy (0 normal, 5 idle) and nice value of the calling thread, from
    /// the kernel's own record.
    fn policy_and_nice() -> (i64, i64) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let fields: Vec<i64> = stat
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .skip(1)
            .map(|field| field.parse().unwrap_or(-1))
            .collect();
        // Field 4 of stat comes first here; field 19 is nice, field 41 the policy.
        (fields[41 - 4], fields[19 - 4])
    }

    fn in_a_thread_applying(priority: TrainingPriority) -> ((i64, i64), (i64, i64)) {
        std::thread::spawn(move || {
            priority.apply_to_current_thread();
            let spawned = std::thread::spawn(policy_and_nice).join().unwrap();
            (policy_and_nice(), spawned)
        })
        .join()
        .unwrap()
    }

    #[test]
    fn training_threads_get_their_priority_and_their_band_threads_inherit_it() {
        let (policy, nice) = policy_and_nice();
        assert_eq!(policy, 0, "tests run under the normal policy");
        let idle = (5, nice);
        assert_eq!(in_a_thread_applying(TrainingPriority::Idle), (idle, idle));
        // A process already nicer than 10 cannot be raised to it.
        let low = (0, nice.max(10));
        assert_eq!(in_a_thread_applying(TrainingPriority::Low), (low, low));
        let normal = (0, nice);
        assert_eq!(
            in_a_thread_applying(TrainingPriority::Normal),
            (normal, normal)
        );
        assert_eq!(
            policy_and_nice(),
            (0, nice),
            "the caller's own thread is untouched"
        );
    }
}
