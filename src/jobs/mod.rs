//! The job runner: every training is a job, queued in order, at most `max_concurrent` training
//! at once on blocking threads (never the async runtime's workers), at most `queue_limit`
//! waiting. A job's state is decided by [`state::JobState`] alone and lives in its model's
//! `.json`, written (on the blocking pool) at every change, so a restart never leaves a job
//! pending. The registry keeps the pending jobs and the last [`ENDED_KEPT`] ended ones, with
//! their records but never their weights.

mod state;

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;
use ndarray::Array3;
use tokio::sync::{Semaphore, oneshot, watch};

pub use state::{Event, JobState, Refused};

use crate::som::{SomError, TrainControl};
use crate::storage::{ModelMeta, ModelStore, StorageError, TrainingStatus, model_name};
use crate::training::{self, TrainingJob, Verbose};

/// Ended jobs the registry remembers (for `GET /jobs`); older ones are read from their
/// `.json`.
pub const ENDED_KEPT: usize = 100;

/// Why a job could not be queued or changed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("the job queue is full ({0} jobs waiting): try again later")]
    QueueFull(usize),
    #[error("no job named {0:?}")]
    NotFound(String),
    #[error("the model {0:?} is still training: cancel its job with DELETE /jobs/{0} first")]
    Pending(String),
    #[error("the job {name:?} has already ended ({}): nothing to cancel", status.as_str())]
    Ended {
        name: String,
        status: TrainingStatus,
    },
    #[error(transparent)]
    Storage(#[from] StorageError),
    /// A task of the blocking pool panicked (logged where it happened).
    #[error("internal error")]
    Internal,
}

/// One training job.
#[derive(Debug)]
pub struct Job {
    pub name: String,
    pub control: TrainControl,
    /// Order of submission, for listing newest first.
    seq: u64,
    now: Mutex<Now>,
    /// Held from deciding a change to writing it, so the `.json` ends as the last decision.
    writing: Mutex<()>,
    /// Becomes true when the job ends, so a queued job cancelled leaves the queue at once.
    ended: watch::Sender<bool>,
}

#[derive(Debug)]
struct Now {
    state: JobState,
    started: Option<Instant>,
}

/// A job as `GET /jobs` and `GET /jobs/{name}` show it.
#[derive(Debug, Clone)]
pub struct JobView {
    pub meta: ModelMeta,
    pub cancel_requested: bool,
    /// The fraction of its work done, 0..1: within an iteration while it runs (counted in
    /// samples), else as its record's iterations say.
    pub progress: f64,
    /// Seconds still needed, estimated from the pace so far; only while running.
    pub eta_seconds: Option<f64>,
}

impl JobView {
    /// A job known only by its record (ended, or of another process run).
    pub fn of_record(meta: ModelMeta) -> JobView {
        let progress = match meta.max_iterations {
            Some(total) if total > 0 => (meta.iterations_done as f64 / total as f64).min(1.0),
            _ => 0.0,
        };
        JobView {
            meta,
            cancel_requested: false,
            progress,
            eta_seconds: None,
        }
    }
}

impl Job {
    /// The job's record, with `iterations_done` as of now.
    pub fn meta(&self) -> ModelMeta {
        self.view().meta
    }

    /// Where the job stands, without copying its record.
    pub fn status(&self) -> TrainingStatus {
        self.now.lock().expect("job state lock").state.status()
    }

    /// The job's record, whether a cancel is pending, its progress and its ETA, as of now.
    pub fn view(&self) -> JobView {
        let now = self.now.lock().expect("job state lock");
        let mut meta = now.state.meta.clone();
        meta.iterations_done = match meta.status {
            TrainingStatus::Running => self.control.iterations_done(),
            _ => meta.iterations_done,
        };
        let mut view = JobView::of_record(meta);
        view.cancel_requested = now.state.cancel_requested;
        if view.meta.status == TrainingStatus::Running {
            let fraction = self.control.fraction_done();
            view.progress = fraction;
            if let Some(started) = now.started
                && fraction > 0.0
            {
                let elapsed = started.elapsed().as_secs_f64();
                view.eta_seconds = Some(elapsed * (1.0 - fraction) / fraction);
            }
        }
        view
    }
}

/// The end of a job, for whoever waits for it (`/train`).
#[derive(Debug)]
pub struct Ending(oneshot::Receiver<Verbose>);

impl Ending {
    /// Waits until the job has ended; then [`Job::status`] says how. Gives the `verbose`
    /// additions of a job that asked for them and succeeded, handed over once and not kept.
    pub async fn wait(self) -> Option<Verbose> {
        self.0.await.ok()
    }
}

/// The jobs of this process, by name.
#[derive(Debug, Clone)]
pub struct JobRegistry {
    store: ModelStore,
    jobs: Arc<Mutex<Jobs>>,
    training_slots: Arc<Semaphore>,
    max_concurrent: usize,
    cores: usize,
    queue_limit: usize,
    priority: TrainingPriority,
    /// Seconds spent training by the jobs that ended, for `/metrics`.
    training_seconds: Arc<Mutex<f64>>,
}

#[derive(Debug, Default)]
struct Jobs {
    by_name: HashMap<String, Arc<Job>>,
    /// Jobs in the `queued` state: the queue's places taken.
    queued: usize,
    /// The last [`ENDED_KEPT`] jobs that ended, oldest first.
    ended: VecDeque<Arc<Job>>,
    /// Jobs of this process that ended, by status (the order of [`TrainingStatus::ALL`]).
    ended_counts: [usize; 5],
    submitted: u64,
}

impl JobRegistry {
    /// A registry that trains at most `max_concurrent` jobs at once, at `priority`, and keeps
    /// at most `queue_limit` waiting. Records left queued or running by a crash are marked
    /// failed, before anything else can use the folder.
    pub fn new(
        store: ModelStore,
        max_concurrent: usize,
        queue_limit: usize,
        priority: TrainingPriority,
    ) -> Self {
        recover_interrupted(&store);
        JobRegistry {
            store,
            jobs: Arc::default(),
            training_slots: Arc::new(Semaphore::new(max_concurrent.max(1))),
            max_concurrent: max_concurrent.max(1),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            queue_limit,
            priority,
            training_seconds: Arc::default(),
        }
    }

    /// The job named `name`, if this process ran it and remembers it.
    pub fn get(&self, name: &str) -> Option<Arc<Job>> {
        self.jobs
            .lock()
            .expect("jobs lock")
            .by_name
            .get(name)
            .cloned()
    }

    /// The pending jobs and the recently ended ones, newest first.
    pub fn list(&self) -> Vec<Arc<Job>> {
        let mut jobs: Vec<_> = (self.jobs.lock().expect("jobs lock").by_name)
            .values()
            .cloned()
            .collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(job.seq));
        jobs
    }

    /// Counts of queued and running jobs.
    pub fn counts(&self) -> (usize, usize) {
        let by_status = self.count_by_status();
        (by_status[0].1, by_status[1].1)
    }

    /// How many of this process's jobs are in each status (those that ended, all of them).
    pub fn count_by_status(&self) -> [(TrainingStatus, usize); 5] {
        let jobs = self.jobs.lock().expect("jobs lock");
        let mut counts = TrainingStatus::ALL.map(|status| (status, 0));
        for ((status, count), ended) in counts.iter_mut().zip(jobs.ended_counts) {
            *count = ended;
            if status.is_pending() {
                *count = (jobs.by_name.values())
                    .filter(|job| job.status() == *status)
                    .count();
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
        match jobs.by_name.get(name) {
            Some(job) if job.status().is_pending() => Err(JobError::Pending(name.to_owned())),
            _ => {
                jobs.by_name.remove(name);
                Ok(())
            }
        }
    }

    /// Names and queues a training. Its record is stored (on the blocking pool) before this
    /// returns, so the name is taken and the job is visible at once.
    pub async fn submit(
        &self,
        job: TrainingJob,
        accepted: Timestamp,
    ) -> Result<(Arc<Job>, Ending), JobError> {
        {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            if jobs.queued >= self.queue_limit {
                return Err(JobError::QueueFull(jobs.queued));
            }
            jobs.queued += 1;
        }
        let params = &job.params;
        let base = model_name(
            accepted,
            [params.rows(), params.cols()],
            params.max_iterations(),
            params.learning_rate(),
        );
        let meta = ModelMeta {
            status: TrainingStatus::Queued,
            created_at: Some(accepted),
            ..job.record()
        };
        let store = self.store.clone();
        let claimed = blocking(move || {
            let name = store.claim_name(&base, meta.clone())?;
            Ok(ModelMeta { name, ..meta })
        })
        .await;
        let meta = match claimed {
            Ok(meta) => meta,
            Err(err) => {
                self.jobs.lock().expect("jobs lock").queued -= 1;
                return Err(err);
            }
        };
        let (handover, ending) = oneshot::channel();
        let handle = {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            jobs.submitted += 1;
            let handle = Arc::new(Job {
                name: meta.name.clone(),
                control: TrainControl::default(),
                seq: jobs.submitted,
                now: Mutex::new(Now {
                    state: JobState {
                        meta,
                        cancel_requested: false,
                    },
                    started: None,
                }),
                writing: Mutex::new(()),
                ended: watch::Sender::new(false),
            });
            jobs.by_name.insert(handle.name.clone(), handle.clone());
            handle
        };
        tokio::spawn(self.clone().run(handle.clone(), job, handover));
        Ok((handle, Ending(ending)))
    }

    /// Cancels job `name`: a queued one at once, a running one is asked to stop. Returns its
    /// state afterwards.
    pub async fn cancel(&self, name: &str) -> Result<JobView, JobError> {
        let registry = self.clone();
        let name = name.to_owned();
        blocking(move || {
            let Some(job) = registry.get(&name) else {
                return Err(match registry.store.meta(&name)? {
                    Some(meta) => JobError::Ended {
                        name,
                        status: meta.status,
                    },
                    None => JobError::NotFound(name),
                });
            };
            match registry.change(&job, Event::Cancel) {
                Ok(()) => {
                    job.control.cancel();
                    tracing::info!(job = %name, status = job.status().as_str(), "cancel requested");
                    Ok(job.view())
                }
                Err(refused) => Err(JobError::Ended {
                    name,
                    status: refused.status,
                }),
            }
        })
        .await
    }

    /// Ends every queued or running job as failed with `reason` and stops its training: used
    /// when the server stops, so no record stays pending.
    pub async fn interrupt_all(&self, reason: &str) {
        let registry = self.clone();
        let reason = reason.to_owned();
        let interrupted = blocking(move || {
            for job in registry.list() {
                // Recorded before stopping, so the training's own end is refused and the
                // record says why it ended.
                if registry
                    .change(&job, Event::Interrupt(reason.clone()))
                    .is_ok()
                {
                    job.control.cancel();
                    tracing::warn!(job = %job.name, reason, "job interrupted");
                }
            }
            Ok(())
        })
        .await;
        if interrupted.is_err() {
            tracing::error!("interrupting the jobs failed");
        }
    }

    async fn run(self, job: Arc<Job>, training: TrainingJob, handover: oneshot::Sender<Verbose>) {
        let mut ended = job.ended.subscribe();
        let slot = tokio::select! {
            slot = self.training_slots.clone().acquire_owned() => {
                slot.expect("the semaphore is never closed")
            }
            // Cancelled or interrupted while queued: its place is already free.
            _ = ended.wait_for(|&ended| ended) => return,
        };
        let threads = self.thread_budget();
        let span = tracing::Span::current();
        let registry = self.clone();
        let trained = tokio::task::spawn_blocking(move || {
            let _entered = span.enter();
            registry.train(&job, &training, threads)
        })
        .await;
        drop(slot);
        match trained {
            Ok(Some(verbose)) => {
                // The waiter may have gone: then the additions are dropped here.
                let _ = handover.send(verbose);
            }
            Ok(None) => {}
            Err(err) => tracing::error!(error = %err, "a job's task crashed"),
        }
    }

    /// Starts, trains and ends `job` on the calling (blocking) thread, with a rayon pool of
    /// `threads`; returns the `verbose` additions of a job that succeeded and asked for them.
    fn train(&self, job: &Job, training: &TrainingJob, threads: usize) -> Option<Verbose> {
        if let Err(refused) = self.change(job, Event::Start) {
            tracing::info!(job = %job.name, %refused, "not started");
            return None;
        }
        tracing::info!(job = %job.name, "training started");
        let started = Instant::now();
        let priority = self.priority;
        let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
            let train = || training::run(training, &job.control);
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .start_handler(move |_| priority.apply_to_current_thread())
                .build();
            match pool {
                Ok(pool) => pool.install(train),
                Err(_) => train(),
            }
        }));
        *self.training_seconds.lock().expect("training seconds lock") +=
            started.elapsed().as_secs_f64();
        let (event, verbose) = match result {
            Ok(Ok(outcome)) => (
                Event::Succeed(Box::new(outcome.meta)),
                Some((outcome.weights, outcome.verbose)),
            ),
            Ok(Err(SomError::Cancelled { iterations_done })) => {
                (Event::Stopped { iterations_done }, None)
            }
            Ok(Err(err)) => (Event::Fail(err.to_string()), None),
            Err(panic) => {
                let message = (panic.downcast_ref::<&str>().copied())
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                tracing::error!(job = %job.name, panic = message, "training panicked");
                (Event::Fail("internal error".into()), None)
            }
        };
        let (weights, verbose) = match verbose {
            Some((weights, verbose)) => (Some(weights), verbose),
            None => (None, None),
        };
        match self.finish(job, event, weights) {
            Ok(()) => {
                let view = job.view();
                tracing::info!(job = %job.name, seconds = view.meta.training_seconds, status = view.meta.status.as_str(), error = view.meta.error, "training ended");
            }
            Err(refused) => tracing::info!(job = %job.name, %refused, "training ended late"),
        }
        verbose.filter(|_| job.status() == TrainingStatus::Succeeded)
    }

    /// Threads for a job starting now: the cores shared among the jobs training, so that
    /// trainings do not crowd out each other and the HTTP workers.
    fn thread_budget(&self) -> usize {
        let training = self.max_concurrent - self.training_slots.available_permits();
        (self.cores / training.max(1)).max(1)
    }

    /// Applies `event` to `job` and stores the record it leaves. Blocking.
    fn change(&self, job: &Job, event: Event) -> Result<(), Refused> {
        self.finish(job, event, None)
    }

    /// Applies `event` to `job` and stores the record it leaves, with the weights of a
    /// training that succeeded; if those cannot be stored, the job fails instead. Blocking.
    fn finish(&self, job: &Job, event: Event, weights: Option<Array3<f64>>) -> Result<(), Refused> {
        let _writing = job.writing.lock().expect("job writing lock");
        let now = Timestamp::now();
        let before = job.now.lock().expect("job state lock").state.clone();
        let mut next = before.clone();
        next.apply(event, now)?;
        if next.meta != before.meta
            && let Err(err) = persist(&self.store, &next.meta, weights.as_ref())
        {
            tracing::error!(job = %job.name, error = %err, "storing the job's record failed");
            if weights.is_some() {
                next = before.clone();
                next.apply(Event::Fail("the weights could not be saved".into()), now)?;
                if let Err(err) = persist(&self.store, &next.meta, None) {
                    tracing::error!(job = %job.name, error = %err, "storing the job's record failed");
                }
            }
        }
        // The summary of the data per node is stored with the model; an ended job kept in
        // memory for /jobs holds no copy (a 1000x1000 map's is 24 MB).
        next.meta.data = None;
        let status = next.status();
        {
            let mut current = job.now.lock().expect("job state lock");
            current.state = next;
            if before.status() == TrainingStatus::Queued && status == TrainingStatus::Running {
                current.started = Some(Instant::now());
            }
        }
        if before.status().is_pending() && !status.is_pending() {
            job.ended.send_replace(true);
        }
        self.count_change(job, before.status(), status);
        Ok(())
    }

    /// Keeps the queue count and the list of ended jobs in step with a job's change.
    fn count_change(&self, job: &Job, before: TrainingStatus, after: TrainingStatus) {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        if before == TrainingStatus::Queued && after != TrainingStatus::Queued {
            jobs.queued -= 1;
        }
        if before.is_pending() && !after.is_pending() {
            if let Some(index) = TrainingStatus::ALL.iter().position(|&s| s == after) {
                jobs.ended_counts[index] += 1;
            }
            if let Some(handle) = jobs.by_name.get(&job.name).cloned() {
                jobs.ended.push_back(handle);
            }
            while jobs.ended.len() > ENDED_KEPT {
                let Some(oldest) = jobs.ended.pop_front() else {
                    break;
                };
                if (jobs.by_name.get(&oldest.name)).is_some_and(|kept| Arc::ptr_eq(kept, &oldest)) {
                    jobs.by_name.remove(&oldest.name);
                }
            }
        }
    }
}

/// Stores a job's record and, when its training succeeded, the weights beside it, as one
/// change (a crash leaves the model whole or as it was).
fn persist(
    store: &ModelStore,
    meta: &ModelMeta,
    weights: Option<&Array3<f64>>,
) -> Result<(), StorageError> {
    match weights {
        Some(weights) => store.commit_model(meta, weights),
        None => store.save_meta(meta),
    }
}

/// Runs `work` on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, JobError> + Send + 'static,
) -> Result<T, JobError> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|err| {
            tracing::error!(error = %err, "a blocking task of the job runner crashed");
            Err(JobError::Internal)
        })
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

/// Ends every record left queued or running (by a crash) as failed, "interrupted".
fn recover_interrupted(store: &ModelStore) {
    for name in store.pending_names() {
        let Ok(Some(meta)) = store.meta(&name) else {
            continue;
        };
        let mut state = JobState {
            meta,
            cancel_requested: false,
        };
        if state
            .apply(Event::Interrupt("interrupted".into()), Timestamp::now())
            .is_err()
        {
            continue;
        }
        match store.save_meta(&state.meta) {
            Ok(()) => {
                tracing::warn!(job = %name, "a job left pending by a restart is marked failed")
            }
            Err(err) => {
                tracing::error!(job = %name, error = %err, "cannot mark an interrupted job")
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

#[cfg(test)]
mod job_tests {
    use super::*;
    use crate::som::{InitMethod, Initial};
    use crate::som::{SAMPLE_COLOURS, SomParams, data_from_rows};

    fn small_training() -> TrainingJob {
        let data = data_from_rows(&SAMPLE_COLOURS).unwrap();
        TrainingJob {
            params: SomParams::new(5, 5, 10).check(3).unwrap(),
            initial: Initial::Method(InitMethod::Random),
            seed: 1,
            data,
            record_bmus: false,
            dataset: None,
            names: Default::default(),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_job_whose_training_panics_ends_failed_not_cancelled() {
        let dir = tempfile::tempdir().unwrap();
        let store = ModelStore::open(dir.path()).unwrap();
        let registry = JobRegistry::new(store.clone(), 1, 4, TrainingPriority::Normal);
        // Holding the only slot keeps the job queued while the fault is set.
        let slot = registry.training_slots.clone().acquire_owned().await;
        let (job, ending) = registry
            .submit(small_training(), Timestamp::now())
            .await
            .unwrap();
        job.control
            .inject(0, 3, |_| panic!("a panic injected by a test"));
        drop(slot);
        assert!(ending.wait().await.is_none());
        let meta = job.meta();
        assert_eq!(meta.status, TrainingStatus::Failed);
        assert_eq!(meta.error.as_deref(), Some("internal error"));
        let stored = store.meta(&job.name).unwrap().unwrap();
        assert_eq!(stored.status, TrainingStatus::Failed);
        assert_eq!(stored.error.as_deref(), Some("internal error"));
        assert!(!dir.path().join(format!("{}.npy", job.name)).exists());
        assert_eq!(registry.counts(), (0, 0));
    }
}
