//! The worker thread's side: the serve loop that takes jobs, runs them with panics caught,
//! and puts outputs and errors in the mailbox, at a lower scheduling priority than the frame.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Instant;

use super::{
    ErrorCount, InFlight, InferError, Mailbox, Output, Phase, RECENT_RUNS, Runner, Shared,
};
use crate::restart::panic_message;

/// Counts an error; logs the first of each kind.
pub(super) fn record_error(shared: &Shared, mb: &mut Mailbox, error: &InferError) {
    shared.errors.fetch_add(1, Ordering::Relaxed);
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
        first: error.clone(),
    });
}

/// The worker thread of one generation: loads (or takes) a runner and serves jobs until it is
/// shut down or abandoned.
pub(super) fn serve(
    shared: &Shared,
    generation: u64,
    first: Option<Box<dyn Runner>>,
    factory: &(dyn Fn() -> Result<Box<dyn Runner>, InferError> + Send + Sync),
) {
    let loaded = match first {
        Some(runner) => Ok(runner),
        None => catch_unwind(AssertUnwindSafe(factory)).unwrap_or_else(|payload| {
            Err(InferError::Panicked {
                model: shared.name.clone(),
                message: panic_message(payload.as_ref()),
            })
        }),
    };
    let mut runner = match loaded {
        Ok(runner) => runner,
        Err(e) => {
            let mut mb = shared.lock();
            if mb.generation != generation || mb.shutdown {
                return;
            }
            if mb.ever_ready {
                // A reload (after a hang or a dead thread) failed, e.g. the file is gone: one
                // more failure; the frame side retries with backoff.
                mb.phase = Phase::Down;
                shared.fail(&mut mb, &e, Instant::now());
            } else {
                tracing::error!("model {}: {e}", shared.name);
                mb.stats.dropped_submissions += u64::from(mb.pending.take().is_some());
                mb.fatal = Some(e);
            }
            drop(mb);
            shared.changed.notify_all();
            return;
        }
    };
    {
        let mut mb = shared.lock();
        if mb.generation != generation {
            return;
        }
        mb.info = runner.info();
        mb.ep = runner.ep();
        if !mb.ever_ready
            && let Some(w) = mb.ep.as_ref().and_then(|ep| ep.warning.clone())
        {
            tracing::warn!("model {}: {w}", shared.name);
        }
        mb.terminator = runner.terminator();
        mb.recent.clear();
        mb.phase = Phase::Serving;
        mb.ever_ready = true;
    }
    shared.changed.notify_all();

    let mut last_end: Option<Instant> = None;
    loop {
        let (id, job) = {
            let mut mb = shared.lock();
            loop {
                if mb.shutdown || mb.generation != generation {
                    return;
                }
                if let Some((id, job)) = mb.pending.take() {
                    if let Some(t) = &mb.terminator {
                        t.reset();
                    }
                    let deadline = mb.run_deadline(&shared.policy);
                    mb.stats.deadline = Some(deadline);
                    mb.in_flight = Some(InFlight {
                        job: id,
                        started: Instant::now(),
                        deadline,
                        terminated_at: None,
                    });
                    break (id, job);
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
        if mb.generation != generation {
            // Abandoned while it ran: a fresh thread has taken over.
            return;
        }
        let hung = mb
            .in_flight
            .take()
            .is_some_and(|r| r.job == id && r.terminated_at.is_some());
        mb.stats.runs += 1;
        mb.stats.last_run = Some(run_time);
        shared.runs.fetch_add(1, Ordering::Relaxed);
        shared.last_run_micros.store(
            u64::try_from(run_time.as_micros()).unwrap_or(u64::MAX - 1),
            Ordering::Relaxed,
        );
        mb.stats.last_gap = last_end.map(|t| start - t);
        last_end = Some(end);
        if hung {
            // Counted when it was found hung; whatever it came back with is too late.
            drop(mb);
            shared.changed.notify_all();
            continue;
        }
        if mb.shutdown {
            // Stopped by `Drop` (a switch or a reload let this model go): an error now is the
            // terminate we asked for, not a failure of the model.
            if let Ok(Err(e)) = &result {
                tracing::debug!("model `{}`: run cancelled at shutdown ({e})", shared.name);
            }
            drop(mb);
            shared.changed.notify_all();
            return;
        }
        match result {
            Ok(Ok(outputs)) => {
                shared.succeed(&mut mb);
                if mb.recent.len() == RECENT_RUNS {
                    mb.recent.pop_front();
                }
                mb.recent.push_back(run_time);
                let output = Output {
                    job: id,
                    outputs,
                    run_time,
                };
                if mb.result.replace(output).is_some() {
                    mb.stats.dropped_results += 1;
                }
            }
            Ok(Err(e)) => shared.fail(&mut mb, &e, end),
            Err(payload) => {
                let e = InferError::Panicked {
                    model: shared.name.clone(),
                    message: panic_message(payload.as_ref()),
                };
                shared.fail(&mut mb, &e, end);
                drop(mb);
                // Dropping a panic payload can itself panic; that ends this thread, which the
                // frame side notices and restarts.
                drop(payload);
            }
        }
        shared.changed.notify_all();
    }
}

/// Crossplatform priority 35 of 0..=99: nice 5 on Linux (a CFS weight about a third of the
/// renderer's), so under contention the model slows down instead of the frame.
const WORKER_PRIORITY: u8 = 35;

/// Lowers the calling (worker) thread's scheduling priority. ONNX Runtime computes on the
/// calling thread when it has one intra-op thread, and threads it creates inherit the value.
/// Failure only costs fairness, so it is logged, not returned.
pub(super) fn lower_priority() {
    let priority = thread_priority::ThreadPriorityValue::try_from(WORKER_PRIORITY)
        .map(thread_priority::ThreadPriority::Crossplatform);
    match priority.map(thread_priority::set_current_thread_priority) {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!("could not lower the inference thread's priority: {e:?}"),
        Err(e) => tracing::debug!("bad inference thread priority: {e:?}"),
    }
}
