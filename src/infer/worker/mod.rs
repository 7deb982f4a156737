//! The inference worker: one model on its own thread, fed and read through latest-wins
//! mailboxes so the frame loop never waits on a model, and kept alive for weeks.
//!
//! - [`Worker::submit`] puts a job in the one-slot inbox, replacing a job that has not started
//!   yet (counted as dropped). It never waits for a run.
//! - [`Worker::try_result`] takes the newest finished output, if any. An output nobody took
//!   before the next one finished is dropped (counted).
//! - A failed or panicking run is counted by kind (the first of each kind is logged once) and
//!   leaves the last good output in place; the worker keeps serving.
//! - A model that fails its first load puts the worker in [`WorkerState::Failed`]; nothing
//!   panics.
//!
//! Never dark ([`WorkerPolicy`]; the frame-side calls do the watching, no extra thread):
//! - **Deadline**: a run slower than its deadline is hung: it is counted (kind `hung`) and
//!   stopped through the runner's [`Terminate`] handle (ONNX Runtime's run termination). If the
//!   thread is not back within [`WorkerPolicy::grace`], it is abandoned (detached, never
//!   joined) and a fresh thread reloads the model.
//! - **Backoff**: after [`WorkerPolicy::failures_before_backoff`] failures in a row (errors,
//!   panics, hangs, deaths, failed reloads) the worker is bypassed: jobs are refused for a delay
//!   that doubles from [`WorkerPolicy::backoff_base`] up to [`WorkerPolicy::backoff_max`], then
//!   it tries again. One success resets it. Each change is logged once, not per frame.
//! - **Restart**: a thread that dies (a panic outside the caught run) is noticed through its
//!   `JoinHandle` and respawned, reloading the model; a reload that fails (the file is gone)
//!   is one more failure and the worker keeps retrying with backoff.
//! - Dropping the worker stops the run in progress and waits at most [`SHUTDOWN_TIMEOUT`]
//!   (past it the thread is left to finish).
//!
//! The mailbox lock is only held to swap a job or an output in or out, never during a run.
//! Jobs own their tensors and are moved, not copied, into the worker; outputs are moved out.

use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::InferError;
use super::env::{EpChoice, SessionOptions};
use super::model::{Model, ModelInfo, RunStopper, Tensor, TensorRef};
use crate::restart::panic_message;

mod thread;
use thread::{lower_priority, record_error, serve};

/// How long dropping a [`Worker`] waits for its thread.
pub const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(2);

/// Successful run times kept for the automatic deadline's median.
const RECENT_RUNS: usize = 15;

/// Stops a run in progress from another thread: ONNX Runtime's run termination for
/// [`Model`]; a flag for fakes in tests.
pub trait Terminate: Send + Sync {
    /// Asks the run in progress to stop soon (returns at once, without waiting for it).
    fn terminate(&self);
    /// Clears the request before the next run.
    fn reset(&self);
}

impl Terminate for RunStopper {
    fn terminate(&self) {
        RunStopper::terminate(self);
    }

    fn reset(&self) {
        RunStopper::reset(self);
    }
}

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

    /// A handle that stops a run in progress from another thread, when the runner has one.
    /// Without it a hung run can only be abandoned (after [`WorkerPolicy::grace`]).
    fn terminator(&self) -> Option<Arc<dyn Terminate>> {
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

    fn terminator(&self) -> Option<Arc<dyn Terminate>> {
        Some(Arc::new(self.stopper()))
    }
}

/// How a worker treats slow and failing runs. The defaults suit a show that runs for weeks;
/// tests shrink the delays.
#[derive(Debug, Clone, PartialEq)]
pub struct WorkerPolicy {
    /// A run slower than this is hung. `None` (the default) is automatic: ten times the median
    /// of the last successful runs, at least [`WorkerPolicy::min_auto_deadline`]. Ten times
    /// the median leaves room for a busy machine (a model sharing cores with the renderer can
    /// run a few times slower) while still catching a stall within seconds; a fixed value
    /// would be either too short for a heavy model or far too long for a light one.
    pub deadline: Option<Duration>,
    /// The floor of the automatic deadline: a hang is a stall of seconds, not jitter on a
    /// 5 ms model. Default: 2 s.
    pub min_auto_deadline: Duration,
    /// With the automatic deadline, the first run after each (re)load may take up to this
    /// long: ONNX Runtime allocates and, on a GPU, compiles kernels then. An explicit
    /// `deadline` applies to every run, the first included. Default: 30 s.
    pub warmup_deadline: Duration,
    /// How long a terminated run has to hand its thread back before the thread is abandoned
    /// and the model reloaded on a fresh one. Default: 1 s.
    pub grace: Duration,
    /// Failures in a row (errors, panics, hangs, deaths, failed reloads) before the model is
    /// bypassed for a while. Default: 3.
    pub failures_before_backoff: u32,
    /// The first bypass delay; each further failure doubles it. Default: 1 s.
    pub backoff_base: Duration,
    /// The longest bypass delay. Default: 60 s.
    pub backoff_max: Duration,
    /// Abandoned threads still running (each holds its session's memory) beyond which no new
    /// thread is started until one ends. Default: 2.
    pub max_abandoned: usize,
}

impl Default for WorkerPolicy {
    fn default() -> Self {
        Self {
            deadline: None,
            min_auto_deadline: Duration::from_secs(2),
            warmup_deadline: Duration::from_secs(30),
            grace: Duration::from_secs(1),
            failures_before_backoff: 3,
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_mins(1),
            max_abandoned: 2,
        }
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

/// Where the worker is in its life. In every state but `Ready` and `Failing` jobs are
/// refused (counted) and the last good output stays on screen.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum WorkerState {
    /// Loading the model for the first time.
    #[default]
    Loading,
    /// Serving jobs.
    Ready,
    /// Serving jobs, but the last `failures` runs in a row failed (since `since`).
    Failing {
        /// When the first of them failed.
        since: Instant,
        /// Failures in a row.
        failures: u32,
    },
    /// Bypassed after `failures` failures in a row: jobs are refused until `until`.
    BackingOff {
        /// When jobs are accepted again.
        until: Instant,
        /// Failures in a row.
        failures: u32,
    },
    /// Reloading the model on a fresh thread (after a hang or a dead thread), or waiting to.
    Restarting {
        /// Failures in a row.
        failures: u32,
    },
    /// The model could not be loaded the first time; jobs are ignored (counted as dropped).
    Failed(InferError),
    /// The worker was shut down.
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

/// The counters the frame reads every frame (see [`Worker::counters`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WorkerCounters {
    /// Runs finished (as [`WorkerStats::runs`]).
    pub runs: u64,
    /// Failed runs of every kind (as [`WorkerStats::error_total`]).
    pub errors: u64,
    /// How long the last run took (as [`WorkerStats::last_run`]).
    pub last_run: Option<Duration>,
}

/// Counters and timings, for the overlay and the log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WorkerStats {
    /// Jobs submitted.
    pub submitted: u64,
    /// Runs finished (successful or not; hung runs count when their thread comes back).
    pub runs: u64,
    /// Jobs replaced by a newer one before they started, or refused (see `bypassed`).
    pub dropped_submissions: u64,
    /// Finished outputs replaced by a newer one before anyone took them.
    pub dropped_results: u64,
    /// How long the last run took.
    pub last_run: Option<Duration>,
    /// Idle time between the end of the previous run and the start of the last one: near zero
    /// means the model is the bottleneck, large means it waits for input.
    pub last_gap: Option<Duration>,
    /// Failed runs by kind (`run`, `panic`, `hung`, `worker`, `model load`...), in order of
    /// first appearance.
    pub errors: Vec<ErrorCount>,
    /// The state when the snapshot was taken.
    pub state: WorkerState,
    /// Failures in a row now (0 when the last run succeeded).
    pub failure_streak: u32,
    /// Jobs refused while backing off or restarting (also counted in `dropped_submissions`).
    pub bypassed: u64,
    /// Times the worker started backing off (or backed off again after a failed retry).
    pub backoffs: u64,
    /// The last backoff delay.
    pub last_backoff: Option<Duration>,
    /// Times it succeeded after failures in a row.
    pub recoveries: u64,
    /// Fresh threads started after a hang, a dead thread or a failed reload.
    pub restarts: u64,
    /// Threads abandoned because a terminated run did not return within the grace period.
    pub abandoned_threads: u64,
    /// The deadline of the run in progress, or of the last one.
    pub deadline: Option<Duration>,
}

impl WorkerStats {
    /// Failed runs of every kind.
    #[must_use]
    pub fn error_total(&self) -> u64 {
        self.errors.iter().map(|e| e.count).sum()
    }

    /// How many errors of `kind` ([`InferError::kind`]) were counted.
    #[must_use]
    pub fn errors_of(&self, kind: &str) -> u64 {
        self.errors
            .iter()
            .find(|e| e.kind == kind)
            .map_or(0, |e| e.count)
    }
}

/// What the current thread (generation) is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Loading,
    Serving,
    /// No live thread: it died, failed to reload or was abandoned; the frame side respawns.
    Down,
}

struct InFlight {
    job: u64,
    started: Instant,
    deadline: Duration,
    /// Set when the frame side found it hung and asked it to stop.
    terminated_at: Option<Instant>,
}

struct Mailbox {
    pending: Option<(u64, Job)>,
    result: Option<Output>,
    next_id: u64,
    shutdown: bool,
    /// The first load failed: nothing more happens.
    fatal: Option<InferError>,
    /// Bumped when a thread is abandoned, so that thread drops whatever it comes back with.
    generation: u64,
    phase: Phase,
    ever_ready: bool,
    in_flight: Option<InFlight>,
    terminator: Option<Arc<dyn Terminate>>,
    /// Successful run times of the current session, newest last.
    recent: VecDeque<Duration>,
    streak: u32,
    failing_since: Option<Instant>,
    next_backoff: Duration,
    backoff_until: Option<Instant>,
    /// The backoff reached its cap and said so: further retries are counted, not logged.
    cap_logged: bool,
    info: Option<ModelInfo>,
    ep: Option<EpChoice>,
    stats: WorkerStats,
}

impl Mailbox {
    fn state(&self, now: Instant) -> WorkerState {
        if let Some(e) = &self.fatal {
            return WorkerState::Failed(e.clone());
        }
        if self.shutdown {
            return WorkerState::Stopped;
        }
        let failures = self.streak;
        if let Some(until) = self.backoff_until.filter(|&u| u > now) {
            return WorkerState::BackingOff { until, failures };
        }
        match self.phase {
            Phase::Loading if !self.ever_ready => WorkerState::Loading,
            Phase::Loading | Phase::Down => WorkerState::Restarting { failures },
            Phase::Serving => match self.failing_since {
                Some(since) if failures > 0 => WorkerState::Failing { since, failures },
                _ => WorkerState::Ready,
            },
        }
    }

    fn accepting(&self, now: Instant) -> bool {
        self.fatal.is_none()
            && !self.shutdown
            && self.phase != Phase::Down
            && self.backoff_until.is_none_or(|u| u <= now)
    }

    /// The deadline of a run starting now.
    fn run_deadline(&self, policy: &WorkerPolicy) -> Duration {
        if let Some(deadline) = policy.deadline {
            return deadline;
        }
        let auto = {
            let mut recent: Vec<Duration> = self.recent.iter().copied().collect();
            recent.sort_unstable();
            recent
                .get(recent.len() / 2)
                .map_or(policy.min_auto_deadline, |&median| {
                    (median * 10).max(policy.min_auto_deadline)
                })
        };
        if self.recent.is_empty() {
            auto.max(policy.warmup_deadline)
        } else {
            auto
        }
    }
}

type Factory = Arc<dyn Fn() -> Result<Box<dyn Runner>, InferError> + Send + Sync>;

struct Shared {
    name: String,
    policy: WorkerPolicy,
    mailbox: Mutex<Mailbox>,
    /// Runs finished, errors counted and the last run time in µs (`u64::MAX`: none yet),
    /// kept beside [`WorkerStats`] so the frame reads them without the lock.
    runs: AtomicU64,
    errors: AtomicU64,
    last_run_micros: AtomicU64,
    /// Wakes the worker (a job or shutdown) and waiters on the state (ready or failed).
    changed: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        // A thread that dies while holding the lock poisons it; the data is plain fields,
        // consistent between statements, and the supervisor repairs the rest.
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Counts a failure of any kind and moves to backoff after enough in a row.
    fn fail(&self, mb: &mut Mailbox, error: &InferError, now: Instant) {
        mb.streak += 1;
        mb.failing_since.get_or_insert(now);
        record_error(self, mb, error);
        mb.stats.failure_streak = mb.streak;
        if mb.streak < self.policy.failures_before_backoff {
            return;
        }
        let delay = mb.next_backoff;
        mb.backoff_until = Some(now + delay);
        mb.next_backoff = (delay * 2).min(self.policy.backoff_max);
        mb.stats.backoffs += 1;
        mb.stats.last_backoff = Some(delay);
        if mb.pending.take().is_some() {
            mb.stats.dropped_submissions += 1;
            mb.stats.bypassed += 1;
        }
        if !mb.cap_logged {
            let at_cap = delay >= self.policy.backoff_max;
            tracing::warn!(
                "model `{}`: {} failures in a row (last: {error}): bypassed, retrying in {}{}",
                self.name,
                mb.streak,
                fmt_delay(delay),
                if at_cap {
                    " (and every so often from now on; further retries are counted, not logged)"
                } else {
                    ""
                }
            );
            mb.cap_logged = at_cap;
        }
    }

    fn succeed(&self, mb: &mut Mailbox) {
        if mb.streak > 0 {
            tracing::info!(
                "model `{}`: recovered after {} failure{}",
                self.name,
                mb.streak,
                if mb.streak == 1 { "" } else { "s" }
            );
            mb.stats.recoveries += 1;
        }
        mb.streak = 0;
        mb.stats.failure_streak = 0;
        mb.failing_since = None;
        mb.next_backoff = self.policy.backoff_base;
        mb.backoff_until = None;
        mb.cap_logged = false;
    }
}

/// `250 ms`, `4 s`, `1.5 s`.
fn fmt_delay(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{} ms", d.as_millis())
    } else if d.subsec_millis() == 0 {
        format!("{} s", d.as_secs())
    } else {
        format!("{:.1} s", d.as_secs_f64())
    }
}

/// The frame side's own state: the thread handles and how to make a new runner.
struct Control {
    factory: Factory,
    /// A runner to use for the first thread instead of calling the factory.
    first: Option<Box<dyn Runner>>,
    handle: Option<JoinHandle<()>>,
    /// Abandoned threads (hung in a run that ignored termination), reaped when they end.
    abandoned: Vec<JoinHandle<()>>,
    /// Said that the abandoned threads hold up a restart.
    abandoned_logged: bool,
}

/// A model running on its own thread; see the module docs.
pub struct Worker {
    shared: Arc<Shared>,
    control: Mutex<Control>,
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
    /// the caller), with the default [`WorkerPolicy`]. See [`Worker::wait_ready`] and
    /// [`Worker::state`].
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
        Self::spawn_with_policy(&name, WorkerPolicy::default(), move || {
            Model::load(&path, &opts)
        })
    }

    /// Starts a worker around a model that is already loaded, with the default policy.
    /// Restarts reload it from its file.
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started.
    pub fn from_model(model: Model) -> Result<Worker, InferError> {
        let name = model.name().to_string();
        Self::from_model_with(model, &name, WorkerPolicy::default())
    }

    /// Starts a worker called `name` (in logs) around a model that is already loaded.
    /// Restarts reload it from its file with the same options.
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started.
    pub fn from_model_with(
        model: Model,
        name: &str,
        policy: WorkerPolicy,
    ) -> Result<Worker, InferError> {
        let path = model.path().to_path_buf();
        let opts = model.options().clone();
        let factory: Factory =
            Arc::new(move || Model::load(&path, &opts).map(|m| Box::new(m) as Box<dyn Runner>));
        Self::start(name, policy, factory, Some(Box::new(model)))
    }

    /// Starts a worker around any [`Runner`], built on the worker thread by `load` (called
    /// again for each restart), with the default policy.
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started.
    pub fn spawn_with<R, F>(name: &str, load: F) -> Result<Worker, InferError>
    where
        R: Runner,
        F: Fn() -> Result<R, InferError> + Send + Sync + 'static,
    {
        Self::spawn_with_policy(name, WorkerPolicy::default(), load)
    }

    /// As [`Worker::spawn_with`], with a policy for slow and failing runs.
    ///
    /// # Errors
    /// [`InferError::Worker`] if the thread cannot be started.
    pub fn spawn_with_policy<R, F>(
        name: &str,
        policy: WorkerPolicy,
        load: F,
    ) -> Result<Worker, InferError>
    where
        R: Runner,
        F: Fn() -> Result<R, InferError> + Send + Sync + 'static,
    {
        let factory: Factory = Arc::new(move || load().map(|r| Box::new(r) as Box<dyn Runner>));
        Self::start(name, policy, factory, None)
    }

    fn start(
        name: &str,
        policy: WorkerPolicy,
        factory: Factory,
        first: Option<Box<dyn Runner>>,
    ) -> Result<Worker, InferError> {
        let next_backoff = policy.backoff_base;
        let shared = Arc::new(Shared {
            name: name.to_string(),
            policy,
            runs: AtomicU64::new(0),
            errors: AtomicU64::new(0),
            last_run_micros: AtomicU64::new(u64::MAX),
            mailbox: Mutex::new(Mailbox {
                pending: None,
                result: None,
                next_id: 0,
                shutdown: false,
                fatal: None,
                generation: 0,
                phase: Phase::Loading,
                ever_ready: false,
                in_flight: None,
                terminator: None,
                recent: VecDeque::with_capacity(RECENT_RUNS),
                streak: 0,
                failing_since: None,
                next_backoff,
                backoff_until: None,
                cap_logged: false,
                info: None,
                ep: None,
                stats: WorkerStats::default(),
            }),
            changed: Condvar::new(),
        });
        let mut control = Control {
            factory,
            first,
            handle: None,
            abandoned: Vec::new(),
            abandoned_logged: false,
        };
        control.handle = Some(spawn_thread(&shared, &mut control, 0)?);
        Ok(Worker {
            shared,
            control: Mutex::new(control),
        })
    }

    /// The model's name (file stem, or the name given).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// The policy for slow and failing runs.
    #[must_use]
    pub fn policy(&self) -> &WorkerPolicy {
        &self.shared.policy
    }

    /// Hands a job to the worker, replacing one that has not started yet. Never waits for a
    /// run. While the worker is backing off, restarting or failed the job is refused
    /// (counted). Returns the job's id; [`Output::job`] says which job an output answers.
    #[allow(
        clippy::must_use_candidate,
        reason = "the frame loop usually has no use for the id"
    )]
    pub fn submit(&self, job: Job) -> u64 {
        self.supervise();
        let now = Instant::now();
        let mut mb = self.shared.lock();
        mb.next_id += 1;
        let id = mb.next_id;
        mb.stats.submitted += 1;
        if !mb.accepting(now) {
            mb.stats.dropped_submissions += 1;
            if mb.fatal.is_none() && !mb.shutdown {
                mb.stats.bypassed += 1;
            }
            return id;
        }
        if mb.pending.replace((id, job)).is_some() {
            mb.stats.dropped_submissions += 1;
        }
        drop(mb);
        self.shared.changed.notify_all();
        id
    }

    /// Whether [`Worker::submit`] would take a job now: false while backing off, restarting
    /// or failed, so the caller can skip preparing one.
    #[must_use]
    pub fn accepting(&self) -> bool {
        self.supervise();
        self.shared.lock().accepting(Instant::now())
    }

    /// The newest finished output nobody has taken yet. Never waits.
    #[must_use]
    pub fn try_result(&self) -> Option<Output> {
        self.supervise();
        self.shared.lock().result.take()
    }

    /// Whether a job is running or waiting: the frame loop can skip preparing new input
    /// (a readback, a conversion) until the worker is idle.
    #[must_use]
    pub fn is_busy(&self) -> bool {
        self.supervise();
        let mb = self.shared.lock();
        mb.in_flight.is_some() || mb.pending.is_some()
    }

    /// Runs, errors and the last run time: what the frame reads every frame, from atomics
    /// (no lock, no copy of [`WorkerStats`]).
    #[must_use]
    pub fn counters(&self) -> WorkerCounters {
        let micros = self.shared.last_run_micros.load(Ordering::Relaxed);
        WorkerCounters {
            runs: self.shared.runs.load(Ordering::Relaxed),
            errors: self.shared.errors.load(Ordering::Relaxed),
            last_run: (micros != u64::MAX).then(|| Duration::from_micros(micros)),
        }
    }

    /// A snapshot of the counters, with the state.
    #[must_use]
    pub fn stats(&self) -> WorkerStats {
        self.supervise();
        let mb = self.shared.lock();
        let mut stats = mb.stats.clone();
        stats.state = mb.state(Instant::now());
        stats
    }

    /// Loading, ready, failing, backing off, restarting, failed or stopped.
    #[must_use]
    pub fn state(&self) -> WorkerState {
        self.supervise();
        self.shared.lock().state(Instant::now())
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
    /// The load error, or [`InferError::Worker`] on timeout or if the worker has stopped.
    pub fn wait_ready(&self, timeout: Duration) -> Result<(), InferError> {
        let deadline = Instant::now() + timeout;
        loop {
            self.supervise();
            let mb = self.shared.lock();
            if let Some(e) = &mb.fatal {
                return Err(e.clone());
            }
            if mb.shutdown {
                return Err(InferError::Worker {
                    model: self.shared.name.clone(),
                    message: "the worker has stopped".to_string(),
                });
            }
            if mb.phase == Phase::Serving {
                return Ok(());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(InferError::Worker {
                    model: self.shared.name.clone(),
                    message: format!("still loading after {:.1} s", timeout.as_secs_f64()),
                });
            }
            // Short slices: a thread that dies while loading wakes nobody.
            let slice = (deadline - now).min(Duration::from_millis(10));
            drop(
                self.shared
                    .changed
                    .wait_timeout(mb, slice)
                    .unwrap_or_else(PoisonError::into_inner),
            );
        }
    }

    /// The watchdog, run by every frame-side call: notices a dead thread, a run past its
    /// deadline (stops it, then abandons its thread) and starts a fresh thread when one is
    /// due. Never waits on the worker thread.
    fn supervise(&self) {
        let mut ctl = self.control.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let mut i = 0;
        while i < ctl.abandoned.len() {
            if ctl.abandoned[i].is_finished() {
                // Finished: joining returns at once.
                if let Err(payload) = ctl.abandoned.swap_remove(i).join() {
                    std::mem::forget(payload);
                }
            } else {
                i += 1;
            }
        }
        let shared = &*self.shared;
        let mut mb = shared.lock();
        if mb.shutdown || mb.fatal.is_some() {
            return;
        }

        if ctl.handle.as_ref().is_some_and(JoinHandle::is_finished) {
            let joined = ctl.handle.take().map(JoinHandle::join);
            if mb.phase != Phase::Down {
                // It ended without being asked to: a panic outside the caught run.
                let message = match joined {
                    Some(Err(payload)) => {
                        let message = panic_message(payload.as_ref());
                        // Its drop could panic again (that may be what killed the thread).
                        std::mem::forget(payload);
                        message
                    }
                    _ => "it ended unexpectedly".to_string(),
                };
                mb.phase = Phase::Down;
                mb.in_flight = None;
                mb.terminator = None;
                let e = InferError::Worker {
                    model: shared.name.clone(),
                    message: format!("the inference thread died: {message}; restarting it"),
                };
                shared.fail(&mut mb, &e, now);
            } else if let Some(Err(payload)) = joined {
                std::mem::forget(payload);
            }
        }

        if mb.phase == Phase::Serving
            && let Some(run) = mb.in_flight.as_mut()
        {
            match run.terminated_at {
                None if now.duration_since(run.started) > run.deadline => {
                    run.terminated_at = Some(now);
                    let deadline = run.deadline;
                    if let Some(t) = &mb.terminator {
                        t.terminate();
                    }
                    mb.stats.deadline = Some(deadline);
                    let e = InferError::Hung {
                        model: shared.name.clone(),
                        deadline,
                    };
                    shared.fail(&mut mb, &e, now);
                }
                Some(at) if now.duration_since(at) > shared.policy.grace => {
                    tracing::warn!(
                        "model `{}`: the hung run did not stop within {} of being terminated: \
                         abandoning its thread and reloading the model on a fresh one",
                        shared.name,
                        fmt_delay(shared.policy.grace)
                    );
                    mb.generation += 1;
                    mb.phase = Phase::Down;
                    mb.in_flight = None;
                    mb.terminator = None;
                    mb.stats.abandoned_threads += 1;
                    if let Some(h) = ctl.handle.take() {
                        ctl.abandoned.push(h);
                    }
                }
                _ => {}
            }
        }

        let due = mb.backoff_until.is_none_or(|u| u <= now);
        if mb.phase == Phase::Down && ctl.handle.is_none() && due {
            if ctl.abandoned.len() >= shared.policy.max_abandoned {
                if !ctl.abandoned_logged {
                    tracing::warn!(
                        "model `{}`: {} abandoned inference threads are still running; \
                         not starting another until one ends",
                        shared.name,
                        ctl.abandoned.len()
                    );
                    ctl.abandoned_logged = true;
                }
                return;
            }
            ctl.abandoned_logged = false;
            mb.phase = Phase::Loading;
            mb.stats.restarts += 1;
            let generation = mb.generation;
            drop(mb);
            match spawn_thread(&self.shared, &mut ctl, generation) {
                Ok(h) => ctl.handle = Some(h),
                Err(e) => {
                    let mut mb = shared.lock();
                    mb.phase = Phase::Down;
                    shared.fail(&mut mb, &e, now);
                }
            }
        }
    }
}

fn spawn_thread(
    shared: &Arc<Shared>,
    ctl: &mut Control,
    generation: u64,
) -> Result<JoinHandle<()>, InferError> {
    let thread_shared = Arc::clone(shared);
    let factory = Arc::clone(&ctl.factory);
    let first = ctl.first.take();
    std::thread::Builder::new()
        .name(format!("infer-{}", shared.name))
        .spawn(move || {
            lower_priority();
            serve(&thread_shared, generation, first, &*factory);
        })
        .map_err(|e| InferError::Worker {
            model: shared.name.clone(),
            message: format!("cannot start thread: {e}"),
        })
}

impl Drop for Worker {
    fn drop(&mut self) {
        {
            let mut mb = self.shared.lock();
            mb.shutdown = true;
            mb.pending = None;
            // Stop the run in progress rather than wait for it.
            if let (Some(t), Some(_)) = (&mb.terminator, &mb.in_flight) {
                t.terminate();
            }
        }
        self.shared.changed.notify_all();
        let ctl = self
            .control
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        // Abandoned threads are left to end with their run (or with the process).
        ctl.abandoned.clear();
        let Some(handle) = ctl.handle.take() else {
            return;
        };
        let deadline = Instant::now() + SHUTDOWN_TIMEOUT;
        while !handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        if handle.is_finished() {
            if let Err(payload) = handle.join() {
                std::mem::forget(payload);
            }
        } else {
            // Joining would block on a run that ignores termination; the thread ends with its
            // run (or with the process).
            tracing::warn!(
                "model {}: the inference thread is still running after {} s; not waiting for it",
                self.shared.name,
                SHUTDOWN_TIMEOUT.as_secs()
            );
        }
    }
}

#[cfg(test)]
mod tests;
