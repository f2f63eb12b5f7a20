//! The one place that decides a job's state. A job is queued, then running, then succeeded,
//! failed or cancelled; a running job may carry a cancel request until it stops. Every change
//! (start, cancel, finish, failure, shutdown interrupt, restart recovery) is an [`Event`]
//! applied here, and an event the state does not allow is [`Refused`] with the state left as
//! it was.

use jiff::Timestamp;

use crate::storage::{ModelMeta, TrainingStatus};

/// Something that happens to a job.
#[derive(Debug, Clone)]
pub enum Event {
    /// It got a training slot.
    Start,
    /// A user asked to cancel it: a queued job is cancelled at once, a running one is asked
    /// to stop.
    Cancel,
    /// Its training ended with this record (everything but the name and the times the job
    /// owns).
    Succeed(Box<ModelMeta>),
    /// Its training stopped, as asked, after `iterations_done` iterations.
    Stopped { iterations_done: usize },
    /// Its training failed, for this reason.
    Fail(String),
    /// The server stopped, or restarted after a crash, before the job ended.
    Interrupt(String),
    /// Several replicas: the replica training it stopped renewing its lease (it died, or lost
    /// the database), and another one starts it again from the beginning.
    Restart,
    /// Several replicas: the replica training it is stopping and gives it back to the queue
    /// for the others.
    HandBack,
}

impl Event {
    fn as_str(&self) -> &'static str {
        match self {
            Event::Start => "start",
            Event::Cancel => "be cancelled",
            Event::Succeed(_) => "succeed",
            Event::Stopped { .. } => "stop on request",
            Event::Fail(_) => "fail",
            Event::Interrupt(_) => "be interrupted",
            Event::Restart => "be restarted",
            Event::HandBack => "be handed back",
        }
    }
}

/// An event the job's state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {} job cannot {event}", status.as_str())]
pub struct Refused {
    pub status: TrainingStatus,
    pub event: &'static str,
}

/// Where a job stands: its stored record, and whether a cancel was asked of it while it runs
/// (known only to this process: a restart ends the job anyway).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobState {
    pub meta: ModelMeta,
    pub cancel_requested: bool,
}

impl JobState {
    pub fn status(&self) -> TrainingStatus {
        self.meta.status
    }

    /// Applies `event`, which happened at `now`, or refuses it and changes nothing.
    pub fn apply(&mut self, event: Event, now: Timestamp) -> Result<(), Refused> {
        use TrainingStatus::{Cancelled, Failed, Queued, Running, Succeeded};
        let refused = Refused {
            status: self.meta.status,
            event: event.as_str(),
        };
        let meta = &mut self.meta;
        match (meta.status, event) {
            (Queued, Event::Start) => {
                meta.status = Running;
                meta.started_at = Some(now);
            }
            (Queued, Event::Cancel) => {
                meta.status = Cancelled;
                meta.finished_at = Some(now);
            }
            (Running, Event::Cancel) => self.cancel_requested = true,
            (Running, Event::Restart) => {
                meta.started_at = Some(now);
                meta.iterations_done = 0;
            }
            (Running, Event::HandBack) => {
                meta.status = Queued;
                meta.started_at = None;
                meta.iterations_done = 0;
            }
            (Running, Event::Succeed(record)) => {
                *meta = ModelMeta {
                    name: std::mem::take(&mut meta.name),
                    status: Succeeded,
                    created_at: meta.created_at,
                    started_at: meta.started_at,
                    finished_at: Some(now),
                    error: None,
                    ..*record
                };
                self.cancel_requested = false;
            }
            (Running, Event::Stopped { iterations_done }) if self.cancel_requested => {
                meta.status = Cancelled;
                meta.iterations_done = iterations_done;
                meta.finished_at = Some(now);
                self.cancel_requested = false;
            }
            (Running, Event::Fail(reason)) | (Queued | Running, Event::Interrupt(reason)) => {
                meta.status = Failed;
                meta.error = Some(reason);
                meta.finished_at = Some(now);
                self.cancel_requested = false;
            }
            _ => return Err(refused),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use TrainingStatus::{Cancelled, Failed, Queued, Running, Succeeded};

    fn job(status: TrainingStatus) -> JobState {
        JobState {
            meta: ModelMeta {
                name: "job".into(),
                status,
                ..ModelMeta::default()
            },
            cancel_requested: false,
        }
    }

    fn after(mut state: JobState, events: Vec<Event>) -> Result<JobState, Refused> {
        for event in events {
            state.apply(event, Timestamp::UNIX_EPOCH)?;
        }
        Ok(state)
    }

    #[test]
    fn a_queued_job_cancelled_is_cancelled_at_once_and_a_second_cancel_is_refused() {
        let cancelled = after(job(Queued), vec![Event::Cancel]).unwrap();
        assert_eq!(cancelled.status(), Cancelled);
        assert!(cancelled.meta.finished_at.is_some());
        assert_eq!(
            after(cancelled, vec![Event::Cancel]).unwrap_err(),
            Refused {
                status: Cancelled,
                event: "be cancelled"
            }
        );
    }

    #[test]
    fn a_running_job_cancelled_keeps_running_until_it_stops() {
        let asked = after(job(Queued), vec![Event::Start, Event::Cancel]).unwrap();
        assert_eq!((asked.status(), asked.cancel_requested), (Running, true));
        let stopped = after(asked, vec![Event::Stopped { iterations_done: 7 }]).unwrap();
        assert_eq!(stopped.status(), Cancelled);
        assert_eq!(stopped.meta.iterations_done, 7);
        assert!(!stopped.cancel_requested);
    }

    #[test]
    fn a_job_handed_back_is_queued_again_and_a_restart_runs_it_from_the_beginning() {
        let mut running = after(job(Queued), vec![Event::Start]).unwrap();
        running.meta.iterations_done = 40;
        let handed_back = after(running.clone(), vec![Event::HandBack]).unwrap();
        assert_eq!(handed_back.status(), Queued);
        assert_eq!(handed_back.meta.started_at, None);
        assert_eq!(handed_back.meta.iterations_done, 0);
        let restarted = after(running, vec![Event::Restart]).unwrap();
        assert_eq!(restarted.status(), Running);
        assert_eq!(restarted.meta.iterations_done, 0);
        for ended in [Succeeded, Failed, Cancelled] {
            assert!(after(job(ended), vec![Event::Restart]).is_err());
            assert!(after(job(ended), vec![Event::HandBack]).is_err());
        }
        assert!(after(job(Queued), vec![Event::HandBack]).is_err());
    }

    #[test]
    fn a_stop_nobody_asked_for_is_refused() {
        let running = after(job(Queued), vec![Event::Start]).unwrap();
        assert!(after(running, vec![Event::Stopped { iterations_done: 1 }]).is_err());
    }

    #[test]
    fn a_success_keeps_the_jobs_name_and_times_and_takes_the_trainings_record() {
        let mut running = after(job(Queued), vec![Event::Start]).unwrap();
        running.meta.created_at = Some(Timestamp::UNIX_EPOCH);
        let record = ModelMeta {
            name: "other".into(),
            quantization_error: Some(0.5),
            ..ModelMeta::default()
        };
        let done = after(running, vec![Event::Succeed(Box::new(record))]).unwrap();
        assert_eq!(done.status(), Succeeded);
        assert_eq!(done.meta.name, "job");
        assert_eq!(done.meta.created_at, Some(Timestamp::UNIX_EPOCH));
        assert!(done.meta.started_at.is_some() && done.meta.finished_at.is_some());
        assert_eq!(done.meta.quantization_error, Some(0.5));
    }

    #[test]
    fn an_interrupt_fails_a_pending_job_and_nothing_changes_an_ended_one() {
        for pending in [job(Queued), after(job(Queued), vec![Event::Start]).unwrap()] {
            let failed = after(pending, vec![Event::Interrupt("stop".into())]).unwrap();
            assert_eq!(failed.status(), Failed);
            assert_eq!(failed.meta.error.as_deref(), Some("stop"));
        }
        for ended in [Succeeded, Failed, Cancelled] {
            for event in [
                Event::Start,
                Event::Cancel,
                Event::Succeed(Box::default()),
                Event::Stopped { iterations_done: 1 },
                Event::Fail("x".into()),
                Event::Interrupt("x".into()),
            ] {
                let mut state = job(ended);
                let before = state.clone();
                assert!(state.apply(event, Timestamp::UNIX_EPOCH).is_err());
                assert_eq!(state, before, "a refused event changes nothing");
            }
        }
    }

    #[test]
    fn a_queued_job_cannot_finish_without_running() {
        assert!(after(job(Queued), vec![Event::Succeed(Box::default())]).is_err());
        assert!(after(job(Queued), vec![Event::Fail("x".into())]).is_err());
        assert!(after(job(Running), vec![Event::Start]).is_err());
    }
}
