//! One helper for work done off the frame thread (loading the next scene, preparing a hot
//! reload): the work runs on its own thread under `catch_unwind`, and the frame loop takes
//! its result with [`Job::try_take`], which never waits. A panic or a vanished thread is a
//! result too, so the show goes on either way.

use std::sync::mpsc::{Receiver, TryRecvError, sync_channel};

use crate::restart::panic_message;

/// How a job ended without a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobError {
    /// The work panicked (the message).
    #[error("it panicked: {0}")]
    Panicked(String),
    /// Its thread ended without an answer.
    #[error("its thread stopped")]
    Stopped,
}

/// The thread priority of a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// As the spawning thread.
    Normal,
    /// The lowest the system gives: on a CPU shared with rendering (or a CPU renderer) the
    /// job takes longer, the frames do not.
    Lowest,
}

/// Work running on its own thread (or done in line), whose result is taken without waiting.
#[derive(Debug)]
pub struct Job<T> {
    rx: Receiver<Result<T, JobError>>,
}

impl<T: Send + 'static> Job<T> {
    /// Starts `work` on a thread named `name`.
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn spawn(
        name: &str,
        priority: Priority,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> std::io::Result<Self> {
        let (tx, rx) = sync_channel(1);
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                if priority == Priority::Lowest
                    && let Err(e) = thread_priority::set_current_thread_priority(
                        thread_priority::ThreadPriority::Min,
                    )
                {
                    tracing::debug!("could not lower the priority of a job: {e:?}");
                }
                // The receiver may be gone (a newer job replaced this one): nothing to do.
                drop(tx.send(run(work)));
            })?;
        Ok(Self { rx })
    }

    /// Does `work` now, on this thread (offline renders: a switch lands on the same frame
    /// every run); the result is ready at once.
    pub fn in_line(work: impl FnOnce() -> T) -> Self {
        let (tx, rx) = sync_channel(1);
        // The channel has room for the one result.
        drop(tx.send(run(work)));
        Self { rx }
    }

    /// The result once the work is done; `None` while it runs. Never waits. Call it until
    /// it returns `Some` (after that it reports [`JobError::Stopped`]).
    #[must_use]
    pub fn try_take(&self) -> Option<Result<T, JobError>> {
        match self.rx.try_recv() {
            Ok(result) => Some(result),
            Err(TryRecvError::Empty) => None,
            Err(TryRecvError::Disconnected) => Some(Err(JobError::Stopped)),
        }
    }
}

/// `work` under `catch_unwind`.
fn run<T>(work: impl FnOnce() -> T) -> Result<T, JobError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)).map_err(|payload| {
        let message = panic_message(payload.as_ref());
        // Dropping a payload can itself panic; it is only a message, so it is leaked instead.
        std::mem::forget(payload);
        JobError::Panicked(message)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait<T: Send + 'static>(job: &Job<T>) -> Result<T, JobError> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(r) = job.try_take() {
                return r;
            }
            assert!(Instant::now() < deadline, "the job did not finish in 10 s");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn a_job_hands_back_its_value_or_its_panic() {
        let job = Job::spawn("test-job", Priority::Lowest, || 6 * 7).unwrap();
        assert_eq!(wait(&job), Ok(42));
        assert_eq!(job.try_take(), Some(Err(JobError::Stopped)));
        let job = Job::spawn("test-job", Priority::Normal, || -> u32 {
            panic!("boom {}", 7)
        })
        .unwrap();
        assert_eq!(wait(&job), Err(JobError::Panicked("boom 7".into())));
    }

    #[test]
    fn in_line_work_is_ready_at_once() {
        let job = Job::in_line(|| "done");
        assert_eq!(job.try_take(), Some(Ok("done")));
        let job = Job::in_line(|| -> u8 { panic!("in line") });
        assert_eq!(
            job.try_take(),
            Some(Err(JobError::Panicked("in line".into())))
        );
    }
}
