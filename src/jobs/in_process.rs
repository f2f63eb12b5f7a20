//! The queue of one process: jobs queued in order, at most `max_concurrent` training at once,
//! at most `queue_limit` waiting. A job's record lives in its model's record in the repository,
//! written (on the blocking pool) at every change, so a restart never leaves a job pending.
//! The queue keeps the pending jobs and the last [`ENDED_KEPT`] ended ones, with their records
//! but never their weights.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;
use ndarray::Array3;
use tokio::sync::{Semaphore, oneshot, watch};

use super::{
    Ended, Ending, Event, JobError, JobQueue, JobState, JobView, QueueSettings, Refused, Submitted,
    Trained, blocking, thread_budget, train_here,
};
use crate::som::TrainControl;
use crate::storage::{ModelMeta, ModelStore, StorageError, TrainingStatus};
use crate::training::{TrainingJob, Verbose};

/// Ended jobs the queue remembers (for `GET /jobs`); older ones are read from their records.
pub const ENDED_KEPT: usize = 100;

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

impl Job {
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

/// The jobs of this process, by name: the queue of one process.
#[derive(Debug, Clone)]
pub struct InProcessQueue {
    store: ModelStore,
    jobs: Arc<Mutex<Table>>,
    training_slots: Arc<Semaphore>,
    settings: Arc<QueueSettings>,
    /// Seconds spent training by the jobs that ended, for `/metrics`.
    training_seconds: Arc<Mutex<f64>>,
}

#[derive(Debug, Default)]
struct Table {
    by_name: HashMap<String, Arc<Job>>,
    /// Jobs in the `queued` state: the queue's places taken.
    queued: usize,
    /// The last [`ENDED_KEPT`] jobs that ended, oldest first.
    ended: VecDeque<Arc<Job>>,
    /// Jobs of this process that ended, by status (the order of [`TrainingStatus::ALL`]).
    ended_counts: [usize; 5],
    submitted: u64,
}

impl InProcessQueue {
    /// A queue as `settings` say. Records left queued or running by a crash are marked
    /// failed, before anything else can use the folder.
    pub fn new(store: ModelStore, settings: QueueSettings) -> Self {
        recover_interrupted(&store);
        InProcessQueue {
            store,
            jobs: Arc::default(),
            training_slots: Arc::new(Semaphore::new(settings.max_concurrent)),
            settings: Arc::new(settings),
            training_seconds: Arc::default(),
        }
    }

    /// The job named `name`, if this process ran it and remembers it.
    fn get(&self, name: &str) -> Option<Arc<Job>> {
        self.jobs
            .lock()
            .expect("jobs lock")
            .by_name
            .get(name)
            .cloned()
    }

    /// The pending jobs and the recently ended ones, newest first.
    fn jobs(&self) -> Vec<Arc<Job>> {
        let mut jobs: Vec<_> = (self.jobs.lock().expect("jobs lock").by_name)
            .values()
            .cloned()
            .collect();
        jobs.sort_by_key(|job| std::cmp::Reverse(job.seq));
        jobs
    }

    /// `job` as the API shows it: this replica's id once it started.
    fn view_of(&self, job: &Job) -> JobView {
        let mut view = job.view();
        if view.meta.started_at.is_some() {
            view.worker = Some(self.settings.replica_id.clone());
        }
        view
    }

    fn counted_by_status(&self) -> [(TrainingStatus, usize); 5] {
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

    fn forget_ended(&self, name: &str) -> Result<(), JobError> {
        let mut jobs = self.jobs.lock().expect("jobs lock");
        match jobs.by_name.get(name) {
            Some(job) if job.status().is_pending() => Err(JobError::Pending(name.to_owned())),
            _ => {
                jobs.by_name.remove(name);
                Ok(())
            }
        }
    }

    /// Names and queues a training (see [`JobQueue::submit`]); gives the job's handle and
    /// the channel its `verbose` additions come by.
    async fn submit_job(
        &self,
        job: TrainingJob,
        accepted: Timestamp,
    ) -> Result<(Arc<Job>, oneshot::Receiver<Verbose>), JobError> {
        {
            let mut jobs = self.jobs.lock().expect("jobs lock");
            if jobs.queued >= self.settings.queue_limit {
                return Err(JobError::QueueFull(jobs.queued));
            }
            jobs.queued += 1;
        }
        let (base, meta) = job.queued(accepted);
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
        Ok((handle, ending))
    }

    async fn cancel_job(&self, name: &str) -> Result<JobView, JobError> {
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
                    Ok(registry.view_of(&job))
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
    async fn interrupt_all(&self, reason: &str) {
        let registry = self.clone();
        let reason = reason.to_owned();
        let interrupted = blocking(move || {
            for job in registry.jobs() {
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
        let threads = thread_budget(self.settings.max_concurrent, &self.training_slots);
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
        let Trained {
            event,
            weights,
            verbose,
        } = train_here(
            &job.name,
            training,
            &job.control,
            threads,
            self.settings.priority,
        );
        *self.training_seconds.lock().expect("training seconds lock") +=
            started.elapsed().as_secs_f64();
        match self.finish(job, event, weights) {
            Ok(()) => {
                let view = job.view();
                tracing::info!(job = %job.name, seconds = view.meta.training_seconds, status = view.meta.status.as_str(), error = view.meta.error, "training ended");
            }
            Err(refused) => tracing::info!(job = %job.name, %refused, "training ended late"),
        }
        verbose.filter(|_| job.status() == TrainingStatus::Succeeded)
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

#[async_trait::async_trait]
impl JobQueue for InProcessQueue {
    async fn submit(&self, job: TrainingJob, accepted: Timestamp) -> Result<Submitted, JobError> {
        let (job, verbose) = self.submit_job(job, accepted).await?;
        let queue = self.clone();
        let name = job.name.clone();
        let ending = Ending::new(Box::pin(async move {
            // The sender is dropped without a word unless the job succeeded with additions.
            let verbose = verbose.await.ok();
            let _ = job.ended.subscribe().wait_for(|&ended| ended).await;
            Ok(Ended {
                view: queue.view_of(&job),
                verbose,
            })
        }));
        Ok(Submitted { name, ending })
    }

    async fn view(&self, name: &str) -> Result<Option<JobView>, JobError> {
        Ok(self.get(name).map(|job| self.view_of(&job)))
    }

    async fn list(&self) -> Result<Vec<JobView>, JobError> {
        Ok(self.jobs().iter().map(|job| self.view_of(job)).collect())
    }

    async fn cancel(&self, name: &str) -> Result<JobView, JobError> {
        self.cancel_job(name).await
    }

    async fn forget(&self, name: &str) -> Result<(), JobError> {
        self.forget_ended(name)
    }

    async fn counts(&self) -> Result<(usize, usize), JobError> {
        let by_status = self.counted_by_status();
        Ok((by_status[0].1, by_status[1].1))
    }

    fn count_by_status(&self) -> [(TrainingStatus, usize); 5] {
        self.counted_by_status()
    }

    fn training_seconds(&self) -> f64 {
        *self.training_seconds.lock().expect("training seconds lock")
    }

    async fn shutdown(&self) {
        self.interrupt_all("interrupted by shutdown").await;
    }
}

/// Ends every record left queued or running (by a crash) as failed, "interrupted".
fn recover_interrupted(store: &ModelStore) {
    let pending = match store.pending_names() {
        Ok(pending) => pending,
        Err(err) => {
            tracing::error!(error = %err, "cannot find the jobs a restart left pending");
            return;
        }
    };
    for name in pending {
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

#[cfg(test)]
mod job_tests {
    use super::*;
    use crate::jobs::TrainingPriority;
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
        let store: ModelStore =
            Arc::new(crate::storage::FolderRepository::open(dir.path()).unwrap());
        let settings = QueueSettings {
            max_concurrent: 1,
            queue_limit: 4,
            priority: TrainingPriority::Normal,
            replica_id: "test".into(),
        };
        let queue = InProcessQueue::new(store.clone(), settings);
        // Holding the only slot keeps the job queued while the fault is set.
        let slot = queue.training_slots.clone().acquire_owned().await;
        let (job, verbose) = queue
            .submit_job(small_training(), Timestamp::now())
            .await
            .unwrap();
        job.control
            .inject(0, 3, |_| panic!("a panic injected by a test"));
        drop(slot);
        assert!(verbose.await.is_err(), "a failed job hands over nothing");
        let meta = job.view().meta;
        assert_eq!(meta.status, TrainingStatus::Failed);
        assert_eq!(meta.error.as_deref(), Some("internal error"));
        let stored = store.meta(&job.name).unwrap().unwrap();
        assert_eq!(stored.status, TrainingStatus::Failed);
        assert_eq!(stored.error.as_deref(), Some("internal error"));
        assert!(!dir.path().join(format!("{}.npy", job.name)).exists());
        assert_eq!(queue.counts().await.unwrap(), (0, 0));
    }
}
