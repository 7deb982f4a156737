//! The inference worker keeps the show going with fake runners (no ONNX Runtime needed): hung
//! runs are stopped or their thread abandoned, failures back off and recover, a dead thread
//! and a reload that fails are restarted; the frame-side calls never block.

use std::io::Write;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use hypna::infer::{
    InferError, Job, Output, Runner, Tensor, Terminate, Worker, WorkerPolicy, WorkerState,
};

/// The longest any frame-side call may take.
const FRAME_BUDGET: Duration = Duration::from_millis(50);

/// Every log line of this test binary (the worker logs from its own threads, so a
/// thread-local subscriber would miss them).
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buf: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(move || W(buf))
            .try_init()
            .expect("the test binary's one global subscriber");
        buf
    })
}

/// Appends to the captured log.
struct W(&'static Mutex<Vec<u8>>);

impl Write for W {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Log lines that mention model `name`.
fn log_lines(name: &str) -> Vec<String> {
    let tag = format!("`{name}`");
    String::from_utf8_lossy(&logs().lock().unwrap())
        .lines()
        .filter(|l| l.contains(&tag) || l.contains(&format!("model {name}:")))
        .map(str::to_string)
        .collect()
}

/// A stop flag, as ONNX Runtime's run termination is for a real model.
#[derive(Default)]
struct Flag(AtomicBool);

impl Terminate for Flag {
    fn terminate(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
    fn reset(&self) {
        self.0.store(false, Ordering::SeqCst);
    }
}

/// What a fake run does, chosen by its input's name.
/// - `x`: echo after `delay`;
/// - `hang`: sleep 3 s, stopping early when terminated if `honours_stop`;
/// - `bomb`: panic with a payload whose drop panics again, which kills the thread.
struct Fake {
    delay: Duration,
    honours_stop: bool,
    stop: Arc<Flag>,
    generation: usize,
}

use hypna::testing::Bomb;

impl Runner for Fake {
    fn run(&mut self, inputs: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>, InferError> {
        let has = |n: &str| inputs.iter().any(|(name, _)| name == n);
        if has("bomb") {
            std::panic::panic_any(Bomb);
        }
        if has("hang") {
            let until = Instant::now() + Duration::from_secs(3);
            while Instant::now() < until {
                if self.honours_stop && self.stop.0.load(Ordering::SeqCst) {
                    return Err(InferError::Run {
                        model: "fake".into(),
                        message: "Exiting due to terminate flag being set to true.".into(),
                        inputs: String::new(),
                    });
                }
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        std::thread::sleep(self.delay);
        #[allow(clippy::cast_precision_loss)]
        let generation = self.generation as f32;
        let mut out = inputs.to_vec();
        out.push(("generation".into(), Tensor::filled(&[1], generation)));
        Ok(out)
    }

    fn terminator(&self) -> Option<Arc<dyn Terminate>> {
        Some(Arc::clone(&self.stop) as Arc<dyn Terminate>)
    }
}

/// A worker over [`Fake`]s; the counter says how many were loaded.
fn fake_worker(name: &str, policy: WorkerPolicy, honours_stop: bool) -> (Worker, Arc<AtomicUsize>) {
    logs();
    let loads = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&loads);
    let worker = Worker::spawn_with_policy(name, policy, move || {
        let generation = counter.fetch_add(1, Ordering::SeqCst) + 1;
        Ok(Fake {
            delay: Duration::from_millis(2),
            honours_stop,
            stop: Arc::default(),
            generation,
        })
    })
    .unwrap();
    worker.wait_ready(Duration::from_secs(5)).unwrap();
    (worker, loads)
}

fn named(name: &str, value: f32) -> Job {
    Job::new().with(name, Tensor::filled(&[1], value))
}

/// Runs `f` and fails the test if it took longer than a frame may wait.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let out = f();
    let took = t.elapsed();
    assert!(took < FRAME_BUDGET, "{what} blocked the frame for {took:?}");
    out
}

/// A frame loop: submits `job()` whenever the worker is idle, takes results, checks that no
/// call blocks, until `done` says so or `limit` passes. Returns the outputs taken.
fn frame_loop(
    worker: &Worker,
    limit: Duration,
    mut job: impl FnMut() -> Job,
    mut done: impl FnMut(&Worker, &[Output]) -> bool,
) -> Vec<Output> {
    let end = Instant::now() + limit;
    let mut outputs = Vec::new();
    while Instant::now() < end {
        if let Some(out) = timed("try_result", || worker.try_result()) {
            outputs.push(out);
        }
        if done(worker, &outputs) {
            return outputs;
        }
        if !timed("is_busy", || worker.is_busy()) {
            // A run that ended since `try_result` above has left its output: look at it
            // before handing out the next job (else a loop on a loaded machine starts one
            // more run than it asked for).
            if let Some(out) = timed("try_result", || worker.try_result()) {
                outputs.push(out);
                continue;
            }
            let j = job();
            timed("submit", || worker.submit(j));
        }
        drop(timed("stats", || worker.stats()));
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!(
        "frame loop gave up after {limit:?}; stats {:?}",
        worker.stats()
    );
}

/// Sends one job that hangs, then jobs `x = value` until an output comes back; returns the
/// outputs and when the hang was sent.
fn after_a_hang(worker: &Worker, value: f32) -> (Vec<Output>, Instant) {
    let mut sent_hang = false;
    let t = Instant::now();
    let outputs = frame_loop(
        worker,
        Duration::from_secs(5),
        || {
            if sent_hang {
                named("x", value)
            } else {
                sent_hang = true;
                named("hang", 0.0)
            }
        },
        |_, outs| !outs.is_empty(),
    );
    (outputs, t)
}

fn quick_deadline(deadline_ms: u64, grace_ms: u64) -> WorkerPolicy {
    WorkerPolicy {
        deadline: Some(Duration::from_millis(deadline_ms)),
        warmup_deadline: Duration::ZERO,
        grace: Duration::from_millis(grace_ms),
        ..WorkerPolicy::default()
    }
}

#[test]
fn a_hung_run_is_terminated_and_the_same_thread_serves_on() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let (worker, loads) = fake_worker("stops", quick_deadline(100, 2000), true);
    let (outputs, t) = after_a_hang(&worker, 1.0);
    // The hang was cut at about 100 ms, not after its 3 s.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!(outputs[0].get("x").unwrap().data, vec![1.0]);
    let stats = worker.stats();
    assert_eq!(stats.errors_of("hung"), 1, "{stats:?}");
    assert_eq!(
        stats.errors_of("run"),
        0,
        "the terminated run's error is not counted twice"
    );
    assert_eq!(stats.abandoned_threads, 0, "{stats:?}");
    assert_eq!(stats.restarts, 0, "{stats:?}");
    assert_eq!(loads.load(Ordering::SeqCst), 1);
    assert_eq!(stats.state, WorkerState::Ready, "one success resets");
    let logged = log_lines("stops").join("\n");
    assert!(
        logged.contains("100 ms deadline") && logged.contains("hung"),
        "{logged}"
    );
}

#[test]
fn a_hung_run_that_ignores_termination_is_abandoned_and_the_model_reloaded() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let (worker, loads) = fake_worker("stuck", quick_deadline(100, 100), false);
    let (outputs, t) = after_a_hang(&worker, 2.0);
    // The stuck run would hold its thread for 3 s; a fresh thread answered long before.
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    let out = &outputs[0];
    assert_eq!(out.get("x").unwrap().data, vec![2.0]);
    assert_eq!(
        out.get("generation").unwrap().data,
        vec![2.0],
        "a reloaded model answered"
    );
    let stats = worker.stats();
    assert_eq!(stats.errors_of("hung"), 1, "{stats:?}");
    assert_eq!(stats.abandoned_threads, 1, "{stats:?}");
    assert_eq!(stats.restarts, 1, "{stats:?}");
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    let logged = log_lines("stuck").join("\n");
    assert!(logged.contains("abandoning its thread"), "{logged}");
    // Dropping does not wait for the abandoned thread.
    let t = Instant::now();
    drop(worker);
    assert!(t.elapsed() < Duration::from_millis(500));
}

#[test]
fn failures_back_off_doubling_and_one_success_recovers() {
    const FAILS: usize = 5;
    struct Flaky {
        starts: Arc<Mutex<Vec<Instant>>>,
    }
    impl Runner for Flaky {
        fn run(
            &mut self,
            inputs: &[(String, Tensor)],
        ) -> Result<Vec<(String, Tensor)>, InferError> {
            let mut starts = self.starts.lock().unwrap();
            starts.push(Instant::now());
            if starts.len() <= FAILS {
                return Err(InferError::Run {
                    model: "flaky".into(),
                    message: format!("failure {}", starts.len()),
                    inputs: String::new(),
                });
            }
            Ok(inputs.to_vec())
        }
    }
    crate::common::take_turn(crate::common::Turn::Timing);
    logs();
    let run_starts: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let policy = WorkerPolicy {
        failures_before_backoff: 3,
        backoff_base: Duration::from_millis(40),
        backoff_max: Duration::from_secs(1),
        ..WorkerPolicy::default()
    };
    let shared_starts = Arc::clone(&run_starts);
    let worker = Worker::spawn_with_policy("flaky", policy, move || {
        Ok(Flaky {
            starts: Arc::clone(&shared_starts),
        })
    })
    .unwrap();
    worker.wait_ready(Duration::from_secs(5)).unwrap();

    let mut seen_backing_off = 0;
    let mut seen_failing = false;
    let outputs = frame_loop(
        &worker,
        Duration::from_secs(5),
        || named("x", 3.0),
        |w, outs| {
            match w.state() {
                WorkerState::BackingOff { .. } => seen_backing_off += 1,
                WorkerState::Failing { failures, .. } => {
                    assert!(failures < 3 || failures <= FAILS as u32);
                    seen_failing = true;
                }
                _ => {}
            }
            !outs.is_empty()
        },
    );
    assert_eq!(outputs[0].get("x").unwrap().data, vec![3.0]);
    assert!(seen_backing_off > 0 && seen_failing);

    // Runs 1-3 back to back, then the bypass delays 40, 80, 160 ms before runs 4, 5, 6.
    let begun = run_starts.lock().unwrap().clone();
    assert_eq!(
        begun.len(),
        FAILS + 1,
        "jobs were refused while backing off"
    );
    let gaps: Vec<Duration> = begun.windows(2).map(|w| w[1] - w[0]).collect();
    for (i, want_ms) in [(2, 40), (3, 80), (4, 160)] {
        let want = Duration::from_millis(want_ms);
        assert!(
            gaps[i] >= want && gaps[i] < want * 3 + Duration::from_millis(100),
            "gap before run {} is {:?}, want about {want:?}; gaps {gaps:?}",
            i + 2,
            gaps[i]
        );
    }
    assert!(
        gaps[0] < Duration::from_millis(40) && gaps[1] < Duration::from_millis(40),
        "{gaps:?}"
    );

    let stats = worker.stats();
    assert_eq!(stats.errors_of("run"), FAILS as u64);
    assert_eq!(stats.backoffs, 3, "{stats:?}");
    assert_eq!(stats.last_backoff, Some(Duration::from_millis(160)));
    assert_eq!(stats.recoveries, 1);
    assert_eq!(stats.failure_streak, 0);
    assert!(stats.bypassed > 0, "{stats:?}");
    assert_eq!(stats.state, WorkerState::Ready);

    // One line per state change, not per frame.
    let lines = log_lines("flaky");
    let count = |needle: &str| lines.iter().filter(|l| l.contains(needle)).count();
    assert_eq!(count("failures in a row"), 3, "{lines:#?}");
    assert_eq!(
        count("3 failures in a row (last: model flaky: run failed: failure 3"),
        1,
        "{lines:#?}"
    );
    assert_eq!(count("retrying in 40 ms"), 1, "{lines:#?}");
    assert_eq!(count("retrying in 160 ms"), 1, "{lines:#?}");
    assert_eq!(count("recovered after 5 failures"), 1, "{lines:#?}");
    assert_eq!(
        count("run failed"),
        4,
        "first error + three backoff lines: {lines:#?}"
    );
}

#[test]
fn a_dead_thread_is_noticed_and_restarted() {
    crate::common::take_turn(crate::common::Turn::Timing);
    let (worker, loads) = fake_worker("bomb", WorkerPolicy::default(), true);
    let mut sent_bomb = false;
    let outputs = frame_loop(
        &worker,
        Duration::from_secs(5),
        || {
            if sent_bomb {
                named("x", 4.0)
            } else {
                sent_bomb = true;
                named("bomb", 0.0)
            }
        },
        |_, outs| !outs.is_empty(),
    );
    assert_eq!(outputs[0].get("x").unwrap().data, vec![4.0]);
    assert_eq!(outputs[0].get("generation").unwrap().data, vec![2.0]);
    let stats = worker.stats();
    assert_eq!(stats.errors_of("panic"), 1, "{stats:?}");
    assert_eq!(
        stats.errors_of("worker"),
        1,
        "the thread's death: {stats:?}"
    );
    assert_eq!(stats.restarts, 1, "{stats:?}");
    assert_eq!(loads.load(Ordering::SeqCst), 2);
    let logged = log_lines("bomb").join("\n");
    assert!(logged.contains("the inference thread died"), "{logged}");
}

#[test]
fn a_reload_that_fails_backs_off_and_recovers_when_the_file_is_back() {
    crate::common::take_turn(crate::common::Turn::Timing);
    logs();
    let file_there = Arc::new(AtomicBool::new(true));
    let loads = Arc::new(AtomicUsize::new(0));
    let (there, counter) = (Arc::clone(&file_there), Arc::clone(&loads));
    let policy = WorkerPolicy {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(80),
        ..WorkerPolicy::default()
    };
    let worker = Worker::spawn_with_policy("gone", policy, move || {
        let generation = counter.fetch_add(1, Ordering::SeqCst) + 1;
        if !there.load(Ordering::SeqCst) {
            return Err(InferError::Load {
                path: "scenes/gone.onnx".into(),
                message: "No such file or directory".into(),
            });
        }
        Ok(Fake {
            delay: Duration::from_millis(1),
            honours_stop: true,
            stop: Arc::default(),
            generation,
        })
    })
    .unwrap();
    worker.wait_ready(Duration::from_secs(5)).unwrap();

    // The file goes, then the thread dies: every reload fails, with backoff.
    file_there.store(false, Ordering::SeqCst);
    let mut sent_bomb = false;
    let t = Instant::now();
    let outputs = frame_loop(
        &worker,
        Duration::from_secs(5),
        || {
            if sent_bomb {
                named("x", 5.0)
            } else {
                sent_bomb = true;
                named("bomb", 0.0)
            }
        },
        |_, _| t.elapsed() > Duration::from_millis(600),
    );
    assert!(outputs.is_empty());
    let stats = worker.stats();
    let failed_loads = stats.errors_of("model load");
    // Immediate retries until the third failure in a row, then 20, 40, 80, 80... ms apart:
    // about a dozen in 600 ms, not one per frame.
    assert!(
        (3..=14).contains(&failed_loads),
        "{failed_loads} failed reloads: {stats:?}"
    );
    assert!(
        matches!(
            stats.state,
            WorkerState::BackingOff { .. } | WorkerState::Restarting { .. }
        ),
        "{stats:?}"
    );
    assert!(stats.bypassed > 0);
    let lines = log_lines("gone");
    assert_eq!(
        lines.iter().filter(|l| l.contains("No such file")).count(),
        // The first error of its kind, then one line per backoff until the cap.
        lines
            .iter()
            .filter(|l| l.contains("failures in a row"))
            .count()
            + 1,
        "{lines:#?}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l.contains("failures in a row"))
            .count()
            <= 4,
        "{lines:#?}"
    );

    // The file is back: the next retry loads it and the show goes on.
    file_there.store(true, Ordering::SeqCst);
    let outputs = frame_loop(
        &worker,
        Duration::from_secs(5),
        || named("x", 6.0),
        |_, outs| !outs.is_empty(),
    );
    assert_eq!(outputs[0].get("x").unwrap().data, vec![6.0]);
    let stats = worker.stats();
    assert_eq!(stats.state, WorkerState::Ready, "{stats:?}");
    assert_eq!(stats.recoveries, 1);
    assert!(
        log_lines("gone")
            .iter()
            .any(|l| l.contains("recovered after"))
    );
}

#[test]
fn a_run_cancelled_because_the_model_was_let_go_is_not_reported_as_a_failure() {
    crate::common::take_turn(crate::common::Turn::Timing);
    // A switch or a reload drops the model while it runs: `Drop` terminates the run, which
    // comes back with ONNX Runtime's "terminate flag" error. That is hypna's own doing.
    let (worker, _) = fake_worker("let-go", WorkerPolicy::default(), true);
    worker.submit(named("hang", 0.0));
    let t = Instant::now();
    // The worker sets the run's deadline when it takes the job.
    while worker.stats().deadline.is_none() {
        assert!(
            t.elapsed() < Duration::from_secs(5),
            "the run never started"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    timed("dropping a worker mid-run", || drop(worker));
    // Dropping joins the thread once the terminated run returns (or warns, which fails
    // below): whatever it logged is in the log now.
    let logged = log_lines("let-go");
    assert!(
        logged
            .iter()
            .all(|l| !l.contains("WARN") && !l.contains("ERROR")),
        "expected no warning for a run cancelled at shutdown: {logged:?}"
    );
}
