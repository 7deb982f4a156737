//! The inference worker: one model on its own thread, fed and read through latest-wins
//! mailboxes so the frame loop never waits on a model.
//!
//! - [`Worker::submit`] puts a job in the one-slot inbox, replacing a job that has not started
//!   yet (counted as dropped). It never waits for a run.
//! - [`Worker::try_result`] takes the newest finished output, if any. An output nobody took
//!   before the next one finished is dropped (counted).
//! - A failed or panicking run is counted by kind (the first of each kind is logged once) and
//!   leaves the last good output in place; the worker keeps serving.
//! - A model that fails to load puts the worker in [`WorkerState::Failed`]; nothing panics.
//! - Dropping the worker asks the thread to stop and waits at most [`SHUTDOWN_TIMEOUT`]
//!   (a run in progress is not interrupted; past the timeout the thread is left to finish).
//!
//! The mailbox lock is only held to swap a job or an output in or out, never during a run.
//! Jobs own their tensors and are moved, not copied, into the worker; outputs are moved out.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::InferError;
use super::env::{EpChoice, SessionOptions};
use super::model::{Model, ModelInfo, Tensor, TensorRef};

/// How long dropping a [`Worker`] waits for its thread.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// Something the worker can run: [`Model`] in hypna; fakes in tests.
pub trait Runner: Send + 'static {
    /// Runs once on `inputs` (named float32 tensors), returning named outputs.
    ///
    /// # Errors
    /// Whatever the run reports; the worker counts it and keeps serving.
    fn run(&mut self, inputs: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>, InferError>;

    /// Inputs and outputs, when known.
    fn info(&self) -> Option<ModelInfo> {
        None
    }

    /// The execution provider in use, when it has one.
    fn ep(&self) -> Option<EpChoice> {
        None
    }
}

impl Runner for Model {
    fn run(&mut self, inputs: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>, InferError> {
        let views: Vec<(&str, TensorRef<'_>)> = inputs
            .iter()
            .map(|(name, t)| (name.as_str(), t.view()))
            .collect();
        Model::run(self, &views)
    }

    fn info(&self) -> Option<ModelInfo> {
        Some(Model::info(self).clone())
    }

    fn ep(&self) -> Option<EpChoice> {
        Some(Model::ep(self).clone())
    }
}

/// One run's inputs, owned (the worker thread needs them after `submit` returns).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Job {
    /// Named float32 inputs.
    pub inputs: Vec<(String, Tensor)>,
}

impl Job {
    /// An empty job.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds an input.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, tensor: Tensor) -> Self {
        self.inputs.push((name.into(), tensor));
        self
    }
}

/// A finished run.
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The id [`Worker::submit`] returned for the job this answers.
    pub job: u64,
    /// Named outputs, in graph order.
    pub outputs: Vec<(String, Tensor)>,
    /// How long the run took.
    pub run_time: Duration,
}

impl Output {
    /// The output called `name`.
    #[must_use]
    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.outputs.iter().find(|(n, _)| n == name).map(|(_, t)| t)
    }
}

/// Where the worker is in its life.
#[derive(Debug, Clone, PartialEq)]
pub enum WorkerState {
    /// Loading the model.
    Loading,
    /// Serving jobs.
    Ready,
    /// The model could not be loaded; jobs are ignored (counted as dropped).
    Failed(InferError),
    /// The thread has ended.
    Stopped,
}

/// How often one kind of error happened.
#[derive(Debug, Clone, PartialEq)]
pub struct ErrorCount {
    /// [`InferError::kind`].
    pub kind: &'static str,
    /// How many times.
    pub count: u64,
    /// The first one, in full (later ones of the same kind are only counted).
    pub first: InferError,
}

/// Counters and timings, for the overlay and the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerStats {
    /// Jobs submitted.
    pub submitted: u64,
    /// Runs finished (successful or not).
    pub runs: u64,
    /// Jobs replaced by a newer one before they started (or ignored after a failed load).
    pub dropped_submissions: u64,
    /// Finished outputs replaced by a newer one before anyone took them.
    pub dropped_results: u64,
    /// How long the last run took.
    pub last_run: Option<Duration>,
    /// Idle time between the end of the previous run and the start of the last one: near zero
    /// means the model is the bottleneck, large means it waits for input.
    pub last_gap: Option<Duration>,
    /// Failed runs by kind, in order of first appearance.
    pub errors: Vec<ErrorCount>,
}

impl WorkerStats {
    /// Failed runs of every kind.
    #[must_use]
    pub fn error_total(&self) -> u64 {
        self.errors.iter().map(|e| e.count).sum()
    }
}

struct Mailbox {
    pending: Option<(u64, Job)>,
    result: Option<Output>,
    next_id: u64,
    running: bool,
    shutdown: bool,
    state: WorkerState,
    info: Option<ModelInfo>,
    ep: Option<EpChoice>,
    stats: WorkerStats,
}

struct Shared {
    name: String,
    mailbox: Mutex<Mailbox>,
    /// Wakes the worker (a job or shutdown) and waiters on the state (ready or failed).
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        // Runs are caught, so a poisoned lock only means a panic while swapping; the data is
        // still consistent (plain fields), so keep going.
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A model running on its own thread; see the module docs.
pub struct Worker {
    shared: Arc<Shared>,
    handle: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("name", &self.shared.name)
            .finish_non_exhaustive()
    }
}

impl Worker {
    /// Starts a worker that loads `path` on its own thread (so a slow load does not hold up
    /// the caller). See [`Worker::wait_ready`] and [`Worker::state`].
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started. Load errors are reported
    /// through [`Worker::state`], not here.
    pub fn spawn(path: &Path, opts: &SessionOptions) -> Result<Worker, InferError> {
        let name = path.file_stem().map_or_else(
            || path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        );
        let path: PathBuf = path.to_path_buf();
        let opts = opts.clone();
        Self::spawn_with(&name, move || Model::load(&path, &opts))
    }

    /// Starts a worker around a model that is already loaded.
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started.
    pub fn from_model(model: Model) -> Result<Worker, InferError> {
        let name = model.name().to_string();
        Self::spawn_with(&name, move || Ok(model))
    }

    /// Starts a worker around any [`Runner`], built on the worker thread by `load`.
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started.
    pub fn spawn_with<R, F>(name: &str, load: F) -> Result<Worker, InferError>
    where
        R: Runner,
        F: FnOnce() -> Result<R, InferError> + Send + 'static,
    {
        let shared = Arc::new(Shared {
            name: name.to_string(),
            mailbox: Mutex::new(Mailbox {
                pending: None,
                result: None,
                next_id: 0,
                running: false,
                shutdown: false,
                state: WorkerState::Loading,
                info: None,
                ep: None,
                stats: WorkerStats::default(),
            }),
            changed: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name(format!("infer-{name}"))
            .spawn(move || {
                lower_priority();
                serve(&thread_shared, load);
            })
            .map_err(|e| InferError::Worker {
                model: name.to_string(),
                message: format!("cannot start thread: {e}"),
            })?;
        Ok(Worker {
            shared,
            handle: Some(handle),
        })
    }

    /// The model's name (file stem).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Hands a job to the worker, replacing one that has not started yet. Never waits for a
    /// run. Returns the job's id; [`Output::job`] says which job an output answers.
    #[allow(
        clippy::must_use_candidate,
        reason = "the frame loop usually has no use for the id"
    )]
    pub fn submit(&self, job: Job) -> u64 {
        let mut mb = self.shared.lock();
        mb.next_id += 1;
        let id = mb.next_id;
        mb.stats.submitted += 1;
        if matches!(mb.state, WorkerState::Failed(_) | WorkerState::Stopped) {
            mb.stats.dropped_submissions += 1;
            return id;
        }
        if mb.pending.replace((id, job)).is_some() {
            mb.stats.dropped_submissions += 1;
        }
        drop(mb);
        self.shared.changed.notify_all();
        id
    }

    /// The newest finished output nobody has taken yet. Never waits.
    #[must_use]
    pub fn try_result(&self) -> Option<Output> {
        self.shared.lock().result.take()
    }

    /// Whether a job is running or waiting: the frame loop can skip preparing new input
    /// (a readback, a conversion) until the worker is idle.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        let mb = self.shared.lock();
        mb.running || mb.pending.is_some()
    }

    /// A snapshot of the counters.
    #[must_use]
    pub fn stats(&self) -> WorkerStats {
        self.shared.lock().stats.clone()
    }

    /// Loading, ready, failed or stopped.
    #[must_use]
    pub fn state(&self) -> WorkerState {
        self.shared.lock().state.clone()
    }

    /// The model's inputs and outputs, once loaded.
    #[must_use]
    pub fn model_info(&self) -> Option<ModelInfo> {
        self.shared.lock().info.clone()
    }

    /// The execution provider in use, once loaded (with the fallback warning, if any).
    #[must_use]
    pub fn ep(&self) -> Option<EpChoice> {
        self.shared.lock().ep.clone()
    }

    /// Waits up to `timeout` for the model to load: for scene loading and tests, not the frame
    /// loop.
    ///
    /// # Errors
    /// The load error, or [`InferError::Worker`] on timeout or if the thread is gone.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), InferError> {
        let deadline = Instant::now() + timeout;
        let mut mb = self.shared.lock();
        loop {
            match &mb.state {
                WorkerState::Ready => return Ok(()),
                WorkerState::Failed(e) => return Err(e.clone()),
                WorkerState::Stopped => {
                    return Err(InferError::Worker {
                        model: self.shared.name.clone(),
                        message: "the worker has stopped".to_string(),
                    });
                }
                WorkerState::Loading => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(InferError::Worker {
                    model: self.shared.name.clone(),
                    message: format!("still loading after {:.1} s", timeout.as_secs_f64()),
                });
            }
            mb = self
                .shared
                .changed
                .wait_timeout(mb, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        {
            let mut mb = self.shared.lock();
            mb.shutdown = true;
            mb.pending = None;
        }
        self.shared.changed.notify_all();
        let Some(handle) = self.handle.take() else {
            return;
        };
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.is_finished() {
            let _ = handle.join();
        } else {
            // Joining would block on a run we cannot interrupt; the thread ends with its run
            // (or with the process).
            tracing::warn!(
                "model {}: the inference thread is still running after {} s; not waiting for it",
                self.shared.name,
                SHUTDOWN_TIMEOUT.as_secs()
            );
        }
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Counts an error; logs the first of each kind.
fn record_error(shared: &Shared, mb: &mut Mailbox, error: InferError) {
    let kind = error.kind();
    if let Some(entry) = mb.stats.errors.iter_mut().find(|e| e.kind == kind) {
        entry.count += 1;
        return;
    }
    tracing::warn!(
        "model {}: {error} (further {kind} errors are counted, not logged)",
        shared.name
    );
    mb.stats.errors.push(ErrorCount {
        kind,
        count: 1,
        first: error,
    });
}

/// The worker thread.
fn serve<R, F>(shared: &Shared, load: F)
where
    R: Runner,
    F: FnOnce() -> Result<R, InferError>,
{
    let loaded = match catch_unwind(AssertUnwindSafe(load)) {
        Ok(result) => result,
        Err(payload) => Err(InferError::Panicked {
            model: shared.name.clone(),
            message: panic_message(payload.as_ref()),
        }),
    };
    let mut runner = match loaded {
        Ok(runner) => runner,
        Err(e) => {
            tracing::error!("model {}: {e}", shared.name);
            let mut mb = shared.lock();
            mb.state = WorkerState::Failed(e);
            mb.stats.dropped_submissions += u64::from(mb.pending.take().is_some());
            drop(mb);
            shared.changed.notify_all();
            return;
        }
    };
    {
        let mut mb = shared.lock();
        mb.info = runner.info();
        mb.ep = runner.ep();
        if let Some(w) = mb.ep.as_ref().and_then(|ep| ep.warning.clone()) {
            tracing::warn!("model {}: {w}", shared.name);
        }
        mb.state = WorkerState::Ready;
    }
    shared.changed.notify_all();

    let mut last_end: Option<Instant> = None;
    loop {
        let (id, job) = {
            let mut mb = shared.lock();
            loop {
                if mb.shutdown {
                    mb.state = WorkerState::Stopped;
                    return;
                }
                if let Some(job) = mb.pending.take() {
                    mb.running = true;
                    break job;
                }
                mb = shared
                    .changed
                    .wait(mb)
                    .unwrap_or_else(PoisonError::into_inner);
            }
        };
        let start = Instant::now();
        let result = catch_unwind(AssertUnwindSafe(|| runner.run(&job.inputs)));
        let end = Instant::now();
        let run_time = end - start;
        drop(job);

        let mut mb = shared.lock();
        mb.running = false;
        mb.stats.runs += 1;
        mb.stats.last_run = Some(run_time);
        mb.stats.last_gap = last_end.map(|t| start - t);
        last_end = Some(end);
        match result {
            Ok(Ok(outputs)) => {
                let output = Output {
                    job: id,
                    outputs,
                    run_time,
                };
                if mb.result.replace(output).is_some() {
                    mb.stats.dropped_results += 1;
                }
            }
            Ok(Err(e)) => record_error(shared, &mut mb, e),
            Err(payload) => {
                let e = InferError::Panicked {
                    model: shared.name.clone(),
                    message: panic_message(payload.as_ref()),
                };
                record_error(shared, &mut mb, e);
            }
        }
    }
}

/// Crossplatform priority 35 of 0..=99: nice 5 on Linux (a CFS weight about a third of the
/// renderer's), so under contention the model slows down instead of the frame.
const WORKER_PRIORITY: u8 = 35;

/// Lowers the calling (worker) thread's scheduling priority. ONNX Runtime computes on the
/// calling thread when it has one intra-op thread, and threads it creates inherit the value.
/// Failure only costs fairness, so it is logged, not returned.
fn lower_priority() {
    let priority = thread_priority::ThreadPriorityValue::try_from(WORKER_PRIORITY)
        .map(thread_priority::ThreadPriority::Crossplatform);
    match priority.map(thread_priority::set_current_thread_priority) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("could not lower the inference thread's priority: {e:?}"),
        Err(e) => tracing::debug!("bad inference thread priority: {e:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Echoes its input after a delay; panics on an input called `panic`; errors on `fail`.
    struct Echo {
        delay: Duration,
    }

    impl Runner for Echo {
        fn run(
            &mut self,
            inputs: &[(String, Tensor)],
        ) -> Result<Vec<(String, Tensor)>, InferError> {
            std::thread::sleep(self.delay);
            assert!(!inputs.iter().any(|(n, _)| n == "panic"), "boom");
            if inputs.iter().any(|(n, _)| n == "fail") {
                return Err(InferError::Run {
                    model: "echo".into(),
                    message: "asked to fail".into(),
                    inputs: String::new(),
                });
            }
            Ok(inputs.to_vec())
        }
    }

    fn job(value: f32) -> Job {
        Job::new().with("x", Tensor::filled(&[1], value))
    }

    fn wait_for(worker: &Worker, id: u64) -> Output {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut last = None;
        while Instant::now() < deadline {
            if let Some(out) = worker.try_result() {
                let done = out.job >= id;
                last = Some(out);
                if done {
                    break;
                }
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        last.expect("no result within 5 s")
    }

    #[test]
    fn latest_wins_and_nothing_blocks() {
        let worker = Worker::spawn_with("echo", || {
            Ok(Echo {
                delay: Duration::from_millis(20),
            })
        })
        .unwrap();
        worker.wait_ready(Duration::from_secs(5)).unwrap();
        let t = Instant::now();
        let mut last = 0;
        for i in 0..10 {
            last = worker.submit(job(i as f32));
        }
        // Ten runs would take 200 ms.
        assert!(t.elapsed() < Duration::from_millis(100), "submit blocked");
        let out = wait_for(&worker, last);
        assert_eq!(out.job, last);
        assert_eq!(out.get("x").unwrap().data, vec![9.0]);
        let stats = worker.stats();
        assert_eq!(stats.submitted, 10);
        assert!(stats.runs < 10, "{stats:?}");
        assert!(stats.dropped_submissions > 0, "{stats:?}");
        assert!(stats.last_run.unwrap() >= Duration::from_millis(20));
    }

    #[test]
    fn panics_and_errors_are_counted_and_the_worker_keeps_serving() {
        let worker = Worker::spawn_with("echo", || {
            Ok(Echo {
                delay: Duration::ZERO,
            })
        })
        .unwrap();
        worker.wait_ready(Duration::from_secs(5)).unwrap();
        for name in ["panic", "fail", "panic"] {
            let id = worker.submit(Job::new().with(name, Tensor::filled(&[1], 0.0)));
            let deadline = Instant::now() + Duration::from_secs(5);
            while worker.stats().runs < id && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let id = worker.submit(job(7.0));
        let out = wait_for(&worker, id);
        assert_eq!(out.get("x").unwrap().data, vec![7.0]);
        let stats = worker.stats();
        let panics = stats.errors.iter().find(|e| e.kind == "panic").unwrap();
        assert_eq!(panics.count, 2);
        assert!(panics.first.to_string().contains("boom"));
        assert_eq!(stats.error_total(), 3);
    }

    #[test]
    fn a_failed_load_is_reported_not_panicked() {
        let worker = Worker::spawn_with("broken", || -> Result<Echo, InferError> {
            Err(InferError::Load {
                path: "broken.onnx".into(),
                message: "nope".into(),
            })
        })
        .unwrap();
        let err = worker.wait_ready(Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("broken.onnx"), "{err}");
        assert!(matches!(worker.state(), WorkerState::Failed(_)));
        worker.submit(job(1.0));
        assert_eq!(worker.stats().dropped_submissions, 1);
        assert!(worker.try_result().is_none());

        let panicky = Worker::spawn_with("panicky", || -> Result<Echo, InferError> {
            panic!("at load")
        })
        .unwrap();
        let err = panicky.wait_ready(Duration::from_secs(5)).unwrap_err();
        assert!(err.to_string().contains("at load"), "{err}");
    }

    #[test]
    fn drop_does_not_hang_on_a_long_run() {
        let worker = Worker::spawn_with("slow", || {
            Ok(Echo {
                delay: Duration::from_secs(4),
            })
        })
        .unwrap();
        worker.wait_ready(Duration::from_secs(5)).unwrap();
        worker.submit(job(1.0));
        std::thread::sleep(Duration::from_millis(20));
        let t = Instant::now();
        drop(worker);
        let waited = t.elapsed();
        assert!(
            waited <= SHUTDOWN_TIMEOUT + Duration::from_millis(300),
            "{waited:?}"
        );
    }
}
