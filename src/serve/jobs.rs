//! The compute queue of `serve`: jobs run one at a time on a blocking thread, at most `capacity`
//! are accepted at once (the rest are refused, so a flood of requests cannot pile up work), and
//! each has a time limit.
//!
//! A job reports its progress through a [`Reporter`]; the page polls `GET /api/jobs/ID`. A job
//! that panics is caught (`catch_unwind`) and reported as failed, so one bad request never takes
//! the server down. A job past its time limit is told to stop: the next time it reports progress,
//! its reporter unwinds it (`resume_unwind`, which prints nothing) and it is reported as stopped;
//! the worker is free only once it has really stopped.
use serde::Serialize;
use std::collections::HashMap;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Where a job stands.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum State {
    Queued,
    Running,
    Done,
    Failed,
}

/// What the page sees of a job.
#[derive(Serialize, Debug, Clone)]
pub struct JobView {
    pub id: u64,
    pub kind: &'static str,
    pub state: State,
    /// 0 … 1 of the work done.
    pub progress: f64,
    pub phase: String,
    pub error: Option<String>,
    /// Seconds from submission to the end (or until now).
    pub seconds: f64,
    pub result: Option<serde_json::Value>,
}

/// What a finished job hands back: its result for the page, and the files it may serve, by
/// name.
pub struct Outcome {
    pub result: serde_json::Value,
    pub files: HashMap<String, PathBuf>,
}

struct Job {
    view: JobView,
    started: Instant,
    files: HashMap<String, PathBuf>,
}

/// The job table and the queue's bounds.
pub struct Jobs {
    table: Mutex<HashMap<u64, Job>>,
    next: Mutex<u64>,
    /// Jobs accepted and not finished (queued or running).
    slots: Arc<Semaphore>,
    /// The one worker.
    worker: Arc<Semaphore>,
    time_limit: Duration,
}

/// The payload a stopped job unwinds with.
struct Stopped;

/// A job's handle on its own entry: progress, and the order to stop.
#[derive(Clone)]
pub struct Reporter {
    jobs: Arc<Jobs>,
    id: u64,
    stop: Arc<AtomicBool>,
}

impl Reporter {
    /// Records `fraction` of the work done in `phase`; unwinds the job if it must stop.
    pub fn report(&self, fraction: f64, phase: &str) {
        if self.stop.load(Ordering::Relaxed) {
            std::panic::resume_unwind(Box::new(Stopped));
        }
        self.jobs.update(self.id, |v| {
            v.progress = fraction.clamp(0.0, 1.0);
            if v.phase != phase {
                v.phase = phase.to_string();
            }
        });
    }
}

/// Why a job was not accepted.
pub struct Refused(pub String);

impl Jobs {
    /// A queue that holds at most `capacity` unfinished jobs, each stopped after `time_limit`.
    pub fn new(capacity: usize, time_limit: Duration) -> Arc<Jobs> {
        Arc::new(Jobs {
            table: Mutex::new(HashMap::new()),
            next: Mutex::new(1),
            slots: Arc::new(Semaphore::new(capacity.max(1))),
            worker: Arc::new(Semaphore::new(1)),
            time_limit,
        })
    }

    fn table(&self) -> MutexGuard<'_, HashMap<u64, Job>> {
        // A panic never happens while the lock is held; should one, the table is still sound.
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn update(&self, id: u64, change: impl FnOnce(&mut JobView)) {
        if let Some(job) = self.table().get_mut(&id) {
            change(&mut job.view);
            job.view.seconds = job.started.elapsed().as_secs_f64();
        }
    }

    /// The job `id` as the page sees it.
    pub fn view(&self, id: u64) -> Option<JobView> {
        let mut table = self.table();
        let job = table.get_mut(&id)?;
        if matches!(job.view.state, State::Queued | State::Running) {
            job.view.seconds = job.started.elapsed().as_secs_f64();
        }
        Some(job.view.clone())
    }

    /// The file `name` of job `id`, if the job made one of that name.
    pub fn file(&self, id: u64, name: &str) -> Option<PathBuf> {
        self.table().get(&id)?.files.get(name).cloned()
    }

    /// The next job's number (also its folder's), reserving it.
    pub fn next_id(&self) -> u64 {
        let mut next = self.next.lock().unwrap_or_else(|e| e.into_inner());
        let id = *next;
        *next += 1;
        id
    }

    /// Takes a place in the queue, or says why there is none.
    pub fn reserve(&self) -> Result<OwnedSemaphorePermit, Refused> {
        self.slots.clone().try_acquire_owned().map_err(|_| {
            Refused("the compute queue is full: try again when a job has finished".into())
        })
    }

    /// Queues job `id` of `kind`, holding `place` (from [`Jobs::reserve`]) until it ends.
    pub fn submit(
        self: &Arc<Self>,
        id: u64,
        kind: &'static str,
        place: OwnedSemaphorePermit,
        work: impl FnOnce(&Reporter) -> anyhow::Result<Outcome> + Send + 'static,
    ) {
        let stop = Arc::new(AtomicBool::new(false));
        let view = JobView {
            id,
            kind,
            state: State::Queued,
            progress: 0.0,
            phase: "queued".into(),
            error: None,
            seconds: 0.0,
            result: None,
        };
        let job = Job {
            view,
            started: Instant::now(),
            files: HashMap::new(),
        };
        self.table().insert(id, job);
        let reporter = Reporter {
            jobs: self.clone(),
            id,
            stop,
        };
        let jobs = self.clone();
        tokio::spawn(async move {
            let _worker = jobs.worker.clone().acquire_owned().await;
            jobs.update(id, |v| {
                v.state = State::Running;
                v.phase = "starting".into();
            });
            jobs.run(id, reporter, work, place).await;
        });
    }

    /// Runs job `id`'s `work` on a blocking thread within the time limit, catching panics, and
    /// records how it ended. A job past its limit is reported as stopped at once; this returns
    /// (freeing the worker) only when it has really stopped. Its `place` in the queue is given
    /// back as it ends.
    async fn run(
        &self,
        id: u64,
        reporter: Reporter,
        work: impl FnOnce(&Reporter) -> anyhow::Result<Outcome> + Send + 'static,
        place: OwnedSemaphorePermit,
    ) {
        let stop = reporter.stop.clone();
        let mut task = tokio::task::spawn_blocking(move || {
            std::panic::catch_unwind(AssertUnwindSafe(|| work(&reporter)))
        });
        let joined = match tokio::time::timeout(self.time_limit, &mut task).await {
            Ok(joined) => joined,
            Err(_) => {
                stop.store(true, Ordering::Relaxed);
                drop(place);
                self.finish(
                    id,
                    Err(format!(
                        "stopped after the time limit of {} s (serve --time-limit)",
                        self.time_limit.as_secs()
                    )),
                );
                let _ = task.await;
                return;
            }
        };
        let outcome = match joined {
            Ok(Ok(Ok(outcome))) => Ok(outcome),
            Ok(Ok(Err(e))) => Err(format!("{e:#}")),
            Ok(Err(payload)) if payload.is::<Stopped>() => Err("stopped".into()),
            Ok(Err(payload)) => Err(format!("internal error: {}", panic_message(&payload))),
            Err(e) => Err(format!("internal error: {e}")),
        };
        // The place is free by the time anyone can see that the job has ended.
        drop(place);
        self.finish(id, outcome);
    }

    fn finish(&self, id: u64, outcome: Result<Outcome, String>) {
        let mut table = self.table();
        let Some(job) = table.get_mut(&id) else {
            return;
        };
        job.view.seconds = job.started.elapsed().as_secs_f64();
        match outcome {
            Ok(outcome) => {
                job.view.state = State::Done;
                job.view.progress = 1.0;
                job.view.phase = "done".into();
                job.view.result = Some(outcome.result);
                job.files = outcome.files;
            }
            Err(error) => {
                eprintln!("job {id} ({}) failed: {error}", job.view.kind);
                job.view.state = State::Failed;
                job.view.phase = "failed".into();
                job.view.error = Some(error);
            }
        }
    }
}

/// The message of a panic's payload.
fn panic_message(payload: &Box<dyn std::any::Any + Send>) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn wait_for_end(jobs: &Jobs, id: u64) -> JobView {
        loop {
            let view = jobs.view(id).unwrap();
            if matches!(view.state, State::Done | State::Failed) {
                return view;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[test]
    fn a_panicking_job_fails_alone_the_queue_is_bounded_and_places_come_back() {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            let jobs = Jobs::new(2, Duration::from_secs(60));
            let first = jobs.reserve().ok().unwrap();
            let second = jobs.reserve().ok().unwrap();
            assert!(jobs.reserve().is_err(), "a third place in a queue of two");
            jobs.submit(1, "test", first, |_| panic!("boom"));
            jobs.submit(2, "test", second, |reporter| {
                reporter.report(0.5, "half way");
                Ok(Outcome {
                    result: serde_json::json!(42),
                    files: HashMap::new(),
                })
            });
            let failed = wait_for_end(&jobs, 1).await;
            assert_eq!(failed.state, State::Failed);
            assert_eq!(failed.error.as_deref(), Some("internal error: boom"));
            let done = wait_for_end(&jobs, 2).await;
            assert_eq!(
                (done.state, done.result),
                (State::Done, Some(serde_json::json!(42)))
            );
            // Both places are free again.
            let (a, b) = (jobs.reserve(), jobs.reserve());
            assert!(a.is_ok() && b.is_ok());
        });
    }
}
