//! Unit tests of the worker: mailboxes, failures, deadlines, backoff and restarts.

use super::*;
use crate::testing::Echo;

fn job(value: f32) -> Job {
    Job::new().with("x", Tensor::filled(&[1], value))
}

fn wait_for(worker: &Worker, id: u64) -> Output {
    crate::testing::wait_for_output(worker, id, Duration::from_secs(5))
        .expect("no result within 5 s")
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
    // Three in a row would back off (tested in tests/infer_worker.rs).
    let policy = WorkerPolicy {
        failures_before_backoff: 4,
        ..WorkerPolicy::default()
    };
    let worker = Worker::spawn_with_policy("echo", policy, || {
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
