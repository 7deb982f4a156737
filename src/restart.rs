//! Keeping a long-lived thread alive for weeks: its body runs under `catch_unwind`; a panic
//! is counted, logged once per state change (the first panic of a run of failures, with the
//! thread's name and the panic message, and once more when the delay reaches its cap), and
//! the body runs again after a backoff.
//!
//! The backoff doubles from [`RestartPolicy::first_delay`] up to [`RestartPolicy::max_delay`]
//! and starts over once the body has run [`RestartPolicy::healthy_after`] without panicking,
//! so a rare panic costs a tenth of a second and a crash loop costs one log line and a
//! restart every ten seconds, not a spinning core.
//!
//! What must survive a restart (a socket, the ends of a ring, a control channel) lives in
//! the thread's own frame, outside the body, and is lent to each run: unwinding the body
//! drops only the body's locals. Every value lent this way is left consistent by a panic (an
//! `rtrb` end, a socket, a channel), which is why the body is asserted unwind-safe.

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How quickly a panicking thread is restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RestartPolicy {
    /// The delay before the first restart of a run of failures. Default: 100 ms.
    pub(crate) first_delay: Duration,
    /// The longest delay; each further panic doubles it up to this. Default: 10 s.
    pub(crate) max_delay: Duration,
    /// A body that ran this long before panicking counts as healthy: the delay starts over at
    /// `first_delay` and the panic is logged as a new failure. Default: 60 s.
    pub(crate) healthy_after: Duration,
}

impl RestartPolicy {
    /// The policy of every hypna thread that restarts itself.
    pub(crate) const DEFAULT: Self = Self {
        first_delay: Duration::from_millis(100),
        max_delay: Duration::from_secs(10),
        healthy_after: Duration::from_mins(1),
    };
}

/// Panics when a test asked for it by setting `flag` (cleared here): how tests prove that a
/// thread's panic is survived.
pub(crate) fn injected_panic(flag: &AtomicBool) {
    assert!(
        !flag.swap(false, Ordering::AcqRel),
        "panic injected by a test"
    );
}

/// The text of a panic payload (`panic!` with a literal or a formatted message).
pub(crate) fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "(no message)".to_string()
    }
}

/// Runs `body` until it returns normally (shutdown), restarting it after each panic.
///
/// After a panic: `count` is called (it counts one restart and returns the total), `after_panic` is called with the message (to
/// put shared state in a safe place, e.g. publish silence, before the wait), then `wait` is
/// called with the backoff delay and must sleep about that long, returning `false` when the
/// thread should stop instead of restarting. `body` is told whether this run is a restart.
pub(crate) fn run_restarting(
    thread: &str,
    policy: RestartPolicy,
    mut count: impl FnMut() -> u64,
    mut wait: impl FnMut(Duration) -> bool,
    mut after_panic: impl FnMut(&str),
    mut body: impl FnMut(bool),
) {
    let mut delay = Backoff::new(policy.first_delay, policy.max_delay);
    // Panics since the body last ran healthily; 0 means the next panic starts a new streak.
    let mut streak = 0u64;
    let mut cap_logged = false;
    let mut restarted = false;
    loop {
        let started = Instant::now();
        let Err(payload) = catch_unwind(AssertUnwindSafe(|| body(restarted))) else {
            return;
        };
        let message = panic_message(payload.as_ref());
        // Dropping a payload can itself panic; it is only a message, so it is leaked instead.
        std::mem::forget(payload);
        let total = count();
        if started.elapsed() >= policy.healthy_after {
            streak = 0;
            cap_logged = false;
            delay.reset();
        }
        let pause = delay.current();
        streak += 1;
        if streak == 1 {
            tracing::error!(
                "thread {thread} panicked: {message}; restarting it in {pause:?} \
                 ({total} restarts since start)"
            );
        } else if delay.at_cap() && !cap_logged {
            cap_logged = true;
            tracing::warn!(
                "thread {thread} keeps panicking ({streak} times in a row, last: {message}); \
                 restarting it every {pause:?}; further panics are counted, not logged"
            );
        } else {
            tracing::debug!("thread {thread} panicked again ({streak} in a row): {message}");
        }
        // A panic here must not end the thread either; the restart is what matters.
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| after_panic(&message))) {
            std::mem::forget(payload);
        }
        if !wait(pause) {
            return;
        }
        delay.grow();
        restarted = true;
    }
}

/// A retry delay that doubles after each failure, up to a cap, and starts over after a
/// success: the one backoff of threads that restart, media decoders that reconnect and MIDI
/// port scans.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    current: Duration,
}

impl Backoff {
    /// Starts at `first`, doubling up to `max`.
    #[must_use]
    pub fn new(first: Duration, max: Duration) -> Self {
        Self {
            first,
            max,
            current: first,
        }
    }

    /// The delay to wait now.
    #[must_use]
    pub fn current(&self) -> Duration {
        self.current
    }

    /// Whether the delay has reached its cap.
    #[must_use]
    pub fn at_cap(&self) -> bool {
        self.current >= self.max
    }

    /// One more failure: the delay doubles (up to the cap).
    pub fn grow(&mut self) {
        self.current = (self.current * 2).min(self.max);
    }

    /// A success: the delay starts over.
    pub fn reset(&mut self) {
        self.current = self.first;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn counter(c: &AtomicU64) -> impl FnMut() -> u64 + '_ {
        || c.fetch_add(1, Ordering::Relaxed) + 1
    }

    const FAST: RestartPolicy = RestartPolicy {
        first_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(8),
        healthy_after: Duration::from_millis(50),
    };

    #[test]
    fn panics_are_counted_and_the_body_runs_again_with_a_doubling_delay() {
        let restarts = AtomicU64::new(0);
        let mut delays = Vec::new();
        let mut runs = Vec::new();
        let mut messages = Vec::new();
        run_restarting(
            "test",
            FAST,
            counter(&restarts),
            |d| {
                delays.push(d);
                true
            },
            |m| messages.push(m.to_string()),
            |restarted| {
                runs.push(restarted);
                assert!(runs.len() > 6, "boom {}", runs.len());
            },
        );
        assert_eq!(restarts.load(Ordering::Relaxed), 6);
        assert_eq!(runs, [false, true, true, true, true, true, true]);
        let ms: Vec<u64> = delays.iter().map(|d| d.as_millis() as u64).collect();
        assert_eq!(ms, [1, 2, 4, 8, 8, 8]);
        assert_eq!(messages[0], "boom 1");
    }

    #[test]
    fn a_healthy_run_resets_the_delay_and_wait_can_stop_it() {
        let restarts = AtomicU64::new(0);
        let mut delays = Vec::new();
        let mut n = 0;
        run_restarting(
            "test",
            FAST,
            counter(&restarts),
            |d| {
                delays.push(d);
                delays.len() < 5
            },
            |_| {},
            |_| {
                n += 1;
                if n == 4 {
                    std::thread::sleep(FAST.healthy_after);
                }
                panic!("always");
            },
        );
        let ms: Vec<u64> = delays.iter().map(|d| d.as_millis() as u64).collect();
        assert_eq!(ms, [1, 2, 4, 1, 2]);
        assert_eq!(restarts.load(Ordering::Relaxed), 5);
    }
}
