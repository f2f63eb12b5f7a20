//! The job queue seam: every training is a job, queued in order and trained on blocking
//! threads (never the async runtime's workers). A job's state is decided by
//! [`state::JobState`] alone. Two queues: [`InProcessQueue`] (one process; the record lives in
//! the model's record in the repository) and the PostgreSQL queue of several replicas
//! ([`crate::cluster`]). Handlers hold a [`Jobs`] and know neither.

mod in_process;
mod state;

use std::fmt::Debug;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::Arc;

use jiff::Timestamp;
use ndarray::Array3;

pub use in_process::{ENDED_KEPT, InProcessQueue};
pub use state::{Event, JobState, Refused};

use crate::som::{SomError, TrainControl};
use crate::storage::{ModelMeta, StorageError, TrainingStatus};
use crate::training::{self, TrainingJob, Verbose};

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
    /// The queue's database cannot be reached now (the service answers 503 and recovers when
    /// it can).
    #[error("the job queue is unavailable: {0}")]
    Unavailable(String),
    /// A task of the blocking pool panicked (logged where it happened).
    #[error("internal error")]
    Internal,
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
    /// The replica that trains it or trained it last (its `--replica-id`); `None` before it
    /// starts.
    pub worker: Option<String>,
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
            worker: None,
        }
    }
}

/// A queued job: its name (taken before this is returned) and its end.
#[derive(Debug)]
pub struct Submitted {
    pub name: String,
    pub ending: Ending,
}

/// The end of a job, for whoever waits for it (`/train`).
pub struct Ending(Waiting);

/// A wait for a job's end.
pub type Waiting = Pin<Box<dyn Future<Output = Result<Ended, JobError>> + Send>>;

impl Debug for Ending {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str("Ending")
    }
}

impl Ending {
    pub fn new(waiting: Waiting) -> Self {
        Ending(waiting)
    }

    /// Waits until the job has ended, wherever it runs.
    pub async fn wait(self) -> Result<Ended, JobError> {
        self.0.await
    }
}

/// How a job ended: its final state, and the `verbose` additions of a job that asked for them
/// and succeeded (handed over once, not kept).
#[derive(Debug)]
pub struct Ended {
    pub view: JobView,
    pub verbose: Option<Verbose>,
}

/// The job queue the handlers use.
#[async_trait::async_trait]
pub trait JobQueue: Debug + Send + Sync {
    /// Names and queues a training: its record is stored before this returns, so the name is
    /// taken and the job is visible at once, from every replica.
    async fn submit(&self, job: TrainingJob, accepted: Timestamp) -> Result<Submitted, JobError>;

    /// Job `name` as of now: `None` when no job of that name is known (the model was imported,
    /// or its job ended long ago: its record says the rest).
    async fn view(&self, name: &str) -> Result<Option<JobView>, JobError>;

    /// The pending jobs and the recently ended ones, newest first.
    async fn list(&self) -> Result<Vec<JobView>, JobError>;

    /// Cancels job `name`: a queued one at once, a running one is asked to stop (wherever it
    /// runs). Returns its state afterwards.
    async fn cancel(&self, name: &str) -> Result<JobView, JobError>;

    /// Forgets an ended job, when its model is deleted or replaced; a pending job is
    /// [`JobError::Pending`].
    async fn forget(&self, name: &str) -> Result<(), JobError>;

    /// Jobs queued and running now.
    async fn counts(&self) -> Result<(usize, usize), JobError>;

    /// How many of this process's jobs are in each status (those that ended, all of them),
    /// for `/metrics`.
    fn count_by_status(&self) -> [(TrainingStatus, usize); 5];

    /// Seconds this process spent training, summed over the jobs that ended.
    fn training_seconds(&self) -> f64;

    /// The process was asked to stop: it takes no more jobs, and gives those another replica
    /// can take back to the queue at once. One process has no one to give them to: its jobs
    /// go on through the grace period (its in-flight `/train` requests wait for them).
    async fn release(&self) {}

    /// The process stops now: its jobs end as failed ("interrupted by shutdown") in one
    /// process, or are handed back to the queue for the other replicas.
    async fn shutdown(&self);
}

/// The job queue a service works with: shared, cheap to clone.
pub type Jobs = Arc<dyn JobQueue>;

/// How a replica runs the jobs it takes.
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Jobs training at once on this replica, at least 1.
    pub max_concurrent: usize,
    /// Jobs waiting, at most (over the whole queue: a full queue refuses new jobs).
    pub queue_limit: usize,
    pub priority: TrainingPriority,
    /// This replica's name in `GET /jobs/{name}`'s `worker`.
    pub replica_id: String,
}

/// What a training run on this thread came to: the event that ends its job, with the weights
/// of a success and the `verbose` additions it asked for.
pub(crate) struct Trained {
    pub event: Event,
    pub weights: Option<Array3<f64>>,
    pub verbose: Option<Verbose>,
}

/// Trains `training` on the calling (blocking) thread with a rayon pool of `threads` at
/// `priority`; a panic is the job's failure ("internal error"), never the process's.
pub(crate) fn train_here(
    name: &str,
    training: &TrainingJob,
    control: &TrainControl,
    threads: usize,
    priority: TrainingPriority,
) -> Trained {
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
        let train = || training::run(training, control);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .start_handler(move |_| priority.apply_to_current_thread())
            .build();
        match pool {
            Ok(pool) => pool.install(train),
            Err(_) => train(),
        }
    }));
    match result {
        Ok(Ok(outcome)) => Trained {
            event: Event::Succeed(Box::new(outcome.meta)),
            weights: Some(outcome.weights),
            verbose: outcome.verbose,
        },
        Ok(Err(SomError::Cancelled { iterations_done })) => Trained {
            event: Event::Stopped { iterations_done },
            weights: None,
            verbose: None,
        },
        Ok(Err(err)) => Trained {
            event: Event::Fail(err.to_string()),
            weights: None,
            verbose: None,
        },
        Err(panic) => {
            let message = (panic.downcast_ref::<&str>().copied())
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(job = %name, panic = message, "training panicked");
            Trained {
                event: Event::Fail("internal error".into()),
                weights: None,
                verbose: None,
            }
        }
    }
}

/// Threads for a job starting now: the cores shared among the jobs training on this process
/// (`max_concurrent` slots, of which `slots` has the free ones), so that trainings do not crowd
/// out each other and the HTTP workers.
pub(crate) fn thread_budget(max_concurrent: usize, slots: &tokio::sync::Semaphore) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let training = max_concurrent.saturating_sub(slots.available_permits());
    (cores / training.max(1)).max(1)
}

/// Runs `work` on the blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
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
    pub(crate) fn apply_to_current_thread(self) {
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
