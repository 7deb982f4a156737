//! The inference worker on a real model: latest-wins mailboxes, surviving bad jobs, load
//! failures. Needs ONNX Runtime (`scripts/install-ort.sh`); skips loudly without.

use crate::infer_support;

use std::time::{Duration, Instant};

use hypna::infer::{
    InferError, Job, Model, Output, Runner, SessionOptions, Tensor, Worker, WorkerPolicy,
    WorkerState,
};

fn cpu1() -> SessionOptions {
    SessionOptions {
        intra_threads: 1,
        ..SessionOptions::default()
    }
}

/// A dream job with step 0, so the output image is the input: `value` everywhere.
fn dream_job(value: f32, h: usize, w: usize) -> Job {
    Job::new()
        .with("image", Tensor::filled(&[1, 3, h, w], value))
        .with("weights", Tensor::filled(&[32], 1.0))
        .with("step", Tensor::filled(&[1], 0.0))
}

/// Polls (as a frame loop would) until the output for job `id` arrives.
fn wait_for(worker: &Worker, id: u64) -> Output {
    match hypna::testing::wait_for_output(worker, id, Duration::from_secs(10)) {
        Some(out) if out.job == id => out,
        other => panic!(
            "no output for job {id} within 10 s (last: {:?}); stats {:?}",
            other.map(|o| o.job),
            worker.stats()
        ),
    }
}

#[test]
fn latest_submission_wins() {
    if infer_support::ort("worker_latest_wins").is_none() {
        return;
    }
    let worker = Worker::spawn(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    worker.wait_ready(Duration::from_secs(10)).unwrap();
    assert_eq!(worker.state(), WorkerState::Ready);
    assert_eq!(worker.model_info().unwrap().inputs.len(), 3);

    // Jobs built first, so the loop below times `submit` alone. At this size one run takes
    // tens of milliseconds, so ten runs in a row would take far longer than the bound.
    let jobs: Vec<Job> = (0..10)
        .map(|i| dream_job(i as f32 / 10.0, 216, 384))
        .collect();
    let start = Instant::now();
    let ids: Vec<u64> = jobs.into_iter().map(|job| worker.submit(job)).collect();
    let submit_time = start.elapsed();
    assert!(
        submit_time < Duration::from_millis(100),
        "submitting 10 jobs took {submit_time:?}: submit must not wait for runs"
    );
    let last = *ids.last().unwrap();
    let out = wait_for(&worker, last);
    let image = out.get("dreamed").unwrap();
    assert_eq!(image.shape, [1, 3, 216, 384]);
    assert!(
        image.data.iter().all(|&v| v.to_bits() == 0.9_f32.to_bits()),
        "the newest output answers the last submission"
    );

    let stats = worker.stats();
    eprintln!("{stats:?}");
    assert_eq!(stats.submitted, 10);
    assert!(stats.runs < 10, "fewer runs than submissions: {stats:?}");
    assert_eq!(stats.runs + stats.dropped_submissions, 10, "{stats:?}");
    assert!(stats.last_run.is_some());
    assert_eq!(stats.error_total(), 0);
    assert!(worker.try_result().is_none(), "each output is taken once");
    assert!(!worker.is_busy());
}

#[test]
fn a_failing_run_is_counted_and_the_worker_keeps_serving() {
    if infer_support::ort("worker_survives_bad_job").is_none() {
        return;
    }
    let worker = Worker::spawn(&infer_support::model("dream.onnx"), &cpu1()).unwrap();
    worker.wait_ready(Duration::from_secs(10)).unwrap();

    let good = worker.submit(dream_job(0.25, 16, 16));
    let first = wait_for(&worker, good);

    // Bad channel count, twice: counted once by kind, logged once.
    for _ in 0..2 {
        let bad = Job::new()
            .with("image", Tensor::filled(&[1, 4, 16, 16], 0.5))
            .with("weights", Tensor::filled(&[32], 1.0))
            .with("step", Tensor::filled(&[1], 0.0));
        let id = worker.submit(bad);
        let deadline = Instant::now() + Duration::from_secs(10);
        while worker.stats().runs < id && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    assert!(
        worker.try_result().is_none(),
        "a failed run leaves no new output"
    );
    let stats = worker.stats();
    assert_eq!(stats.errors.len(), 1, "{stats:?}");
    let shape_errors = &stats.errors[0];
    assert_eq!(shape_errors.kind, "input shape");
    assert_eq!(shape_errors.count, 2);
    let msg = shape_errors.first.to_string();
    assert!(
        msg.contains("model dream")
            && msg.contains("[1, 4, 16, 16]")
            && msg.contains("[1, 3, height, width]"),
        "{msg}"
    );

    // Still serving.
    let again = worker.submit(dream_job(0.75, 16, 16));
    let out = wait_for(&worker, again);
    assert!(
        out.get("dreamed")
            .unwrap()
            .data
            .iter()
            .all(|&v| v.to_bits() == 0.75_f32.to_bits())
    );
    assert!(
        first
            .get("dreamed")
            .unwrap()
            .data
            .iter()
            .all(|&v| v.to_bits() == 0.25_f32.to_bits())
    );
}

#[test]
fn a_model_that_fails_to_load_is_reported_not_panicked() {
    if infer_support::ort("worker_failed_load").is_none() {
        return;
    }
    let worker = Worker::spawn(
        std::path::Path::new("models/missing.onnx"),
        &SessionOptions::default(),
    )
    .unwrap();
    let err = worker.wait_ready(Duration::from_secs(10)).unwrap_err();
    assert!(err.to_string().contains("models/missing.onnx"), "{err}");
    assert!(matches!(worker.state(), WorkerState::Failed(_)));
    let _ = worker.submit(dream_job(0.5, 8, 8));
    assert!(worker.try_result().is_none());
    assert_eq!(worker.stats().dropped_submissions, 1);
    // Dropping a failed worker is immediate.
    let t = Instant::now();
    drop(worker);
    assert!(t.elapsed() < Duration::from_millis(500));
}

/// `models/testdata/spin.onnx`: a Loop of `n` iterations.
fn spin_job(n: f32) -> Job {
    Job::new().with("n", Tensor::filled(&[1], n))
}

/// Polls as a frame loop would until `done`, failing if any call blocks for 50 ms or more.
fn poll_until(worker: &Worker, limit: Duration, mut done: impl FnMut(&Worker) -> bool) {
    let end = Instant::now() + limit;
    while Instant::now() < end {
        let t = Instant::now();
        let finished = done(worker);
        let took = t.elapsed();
        assert!(
            took < Duration::from_millis(50),
            "a frame-side call took {took:?}"
        );
        if finished {
            return;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    panic!("gave up after {limit:?}; stats {:?}", worker.stats());
}

#[test]
fn onnx_runtime_terminate_stops_a_hung_run() {
    if infer_support::ort("worker_terminate").is_none() {
        return;
    }
    let model = Model::load(
        &infer_support::root().join("models/testdata/spin.onnx"),
        &cpu1(),
    )
    .unwrap();
    let policy = WorkerPolicy {
        deadline: Some(Duration::from_millis(300)),
        warmup_deadline: Duration::ZERO,
        // Long enough that only a real termination brings the thread back in time.
        grace: Duration::from_secs(10),
        ..WorkerPolicy::default()
    };
    let worker = Worker::from_model_with(model, "spin", policy).unwrap();
    worker.wait_ready(Duration::from_secs(10)).unwrap();

    // A billion iterations: minutes of work unless ONNX Runtime stops it.
    let t = Instant::now();
    worker.submit(spin_job(1e9));
    poll_until(&worker, Duration::from_secs(8), |w| {
        let stats = w.stats();
        stats.errors_of("hung") == 1 && !w.is_busy()
    });
    let stopped_after = t.elapsed();
    assert!(
        stopped_after < Duration::from_secs(3),
        "the run came back {stopped_after:?} after it started"
    );
    let stats = worker.stats();
    assert_eq!(stats.abandoned_threads, 0, "{stats:?}");
    assert_eq!(stats.restarts, 0, "{stats:?}");
    assert_eq!(stats.runs, 1, "{stats:?}");
    assert_eq!(
        stats.errors_of("run"),
        0,
        "counted once, as hung: {stats:?}"
    );

    // The terminate flag is cleared: the same session runs the next job to the end.
    let id = worker.submit(spin_job(30.0));
    let out = wait_for(&worker, id);
    assert!(
        out.get("y")
            .unwrap()
            .data
            .iter()
            .all(|&v| (v - 1.0).abs() < 1e-6)
    );
    assert_eq!(worker.stats().state, WorkerState::Ready);
}

/// A real model whose thread can be killed: a job with an input `bomb` panics with a payload
/// whose drop panics again, which ends the thread outside the caught run.
struct Killable(Model);

use hypna::testing::Bomb;

impl Runner for Killable {
    fn run(&mut self, inputs: &[(String, Tensor)]) -> Result<Vec<(String, Tensor)>, InferError> {
        if inputs.iter().any(|(n, _)| n == "bomb") {
            std::panic::panic_any(Bomb);
        }
        Runner::run(&mut self.0, inputs)
    }
}

#[test]
fn a_missing_model_file_at_restart_backs_off_and_the_model_comes_back() {
    if infer_support::ort("worker_missing_at_restart").is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("spin.onnx");
    let source = infer_support::root().join("models/testdata/spin.onnx");
    std::fs::copy(&source, &file).unwrap();
    let policy = WorkerPolicy {
        backoff_base: Duration::from_millis(20),
        backoff_max: Duration::from_millis(100),
        ..WorkerPolicy::default()
    };
    let path = file.clone();
    let worker = Worker::spawn_with_policy("spin", policy, move || {
        Model::load(&path, &cpu1()).map(Killable)
    })
    .unwrap();
    worker.wait_ready(Duration::from_secs(10)).unwrap();
    std::fs::remove_file(&file).unwrap();

    // The thread dies; every reload finds the file gone.
    worker.submit(Job::new().with("bomb", Tensor::filled(&[1], 0.0)));
    poll_until(&worker, Duration::from_secs(8), |w| {
        w.stats().errors_of("model load") >= 3
    });
    let stats = worker.stats();
    assert_eq!(stats.errors_of("worker"), 1, "{stats:?}");
    assert!(
        matches!(
            stats.state,
            WorkerState::BackingOff { .. } | WorkerState::Restarting { .. }
        ),
        "{stats:?}"
    );
    let first = &stats
        .errors
        .iter()
        .find(|e| e.kind == "model load")
        .unwrap()
        .first;
    assert!(first.to_string().contains("spin.onnx"), "{first}");
    // Refused, not queued, while the model is away.
    let _ = worker.submit(spin_job(30.0));
    assert!(worker.try_result().is_none());

    std::fs::copy(&source, &file).unwrap();
    let mut id = 0;
    let mut got = None;
    poll_until(&worker, Duration::from_secs(10), |w| {
        if let Some(out) = w.try_result() {
            got = Some(out);
            return true;
        }
        if !w.is_busy() && w.accepting() {
            id = w.submit(spin_job(30.0));
        }
        false
    });
    let out = got.unwrap();
    assert_eq!(out.job, id);
    let stats = worker.stats();
    assert_eq!(stats.state, WorkerState::Ready, "{stats:?}");
    assert_eq!(stats.recoveries, 1);
}
