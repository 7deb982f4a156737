//! The inference worker on a real model: latest-wins mailboxes, surviving bad jobs, load
//! failures. Needs ONNX Runtime (`scripts/install-ort.sh`); skips loudly without.

mod infer_support;

use std::time::{Duration, Instant};

use hypna::infer::{Job, Output, SessionOptions, Tensor, Worker, WorkerState};

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
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut last: Option<Output> = None;
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
    match last {
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
