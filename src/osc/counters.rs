//! What the OSC server has seen and dropped, as atomic counters any thread can read.
//!
//! A flood must not turn into a flood of log lines: the first occurrence of each problem is
//! logged with its details, after that only counted, and the socket thread logs a one-line
//! summary of what changed at most every [`SUMMARY_INTERVAL`]. The counters are also sent in
//! the `/hypna/status` reply.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Shortest time between two summary log lines.
pub const SUMMARY_INTERVAL: Duration = Duration::from_secs(10);
/// How often the socket thread reads the kernel's drop count (also when idle).
pub const KERNEL_DROPS_INTERVAL: Duration = Duration::from_millis(200);

/// One thing the OSC server counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Counter {
    /// Datagrams received (before any check).
    Received,
    /// Datagrams the kernel dropped because the socket's receive buffer was full (Linux:
    /// the socket's drop count, read about every [`KERNEL_DROPS_INTERVAL`]; 0 elsewhere).
    KernelDropped,
    /// OSC messages decoded (a bundle counts each message in it).
    Messages,
    /// Events handed to the frame loop by [`super::OscHandle::drain`].
    Applied,
    /// Datagrams from a sender outside the allow list.
    RejectedSender,
    /// Datagrams larger than `max_packet_bytes`.
    Oversized,
    /// Datagrams that are not well-formed OSC (truncated, bad padding, unknown type tags,
    /// bundles nested too deeply...).
    Malformed,
    /// Messages whose address (or pattern) matches nothing.
    UnknownAddress,
    /// Address patterns that do not compile or cost too much to match.
    BadPattern,
    /// Messages with a missing, wrongly typed or non-finite argument.
    WrongArgument,
    /// Events dropped because the frame loop's queue was full (param values are coalesced
    /// instead, see [`Self::Coalesced`]; this counts the other events).
    QueueOverflow,
    /// Param values replaced by a newer value of the same param while the frame loop's queue
    /// was full: the newest value of every param always reaches the frame loop.
    Coalesced,
    /// Bundle messages dropped because the scheduler was full or the timetag too far ahead.
    ScheduledDropped,
    /// Replies or feedback batches dropped because the sender thread's queue was full.
    SendDropped,
    /// Datagrams sent (replies and feedback).
    Sent,
    /// Socket errors while receiving or sending.
    SocketErrors,
    /// Times the socket thread or the sender thread panicked and was restarted.
    ThreadRestarts,
}

impl Counter {
    /// Every counter, in report order.
    pub const ALL: [Self; 17] = [
        Self::Received,
        Self::KernelDropped,
        Self::Messages,
        Self::Applied,
        Self::RejectedSender,
        Self::Oversized,
        Self::Malformed,
        Self::UnknownAddress,
        Self::BadPattern,
        Self::WrongArgument,
        Self::QueueOverflow,
        Self::Coalesced,
        Self::ScheduledDropped,
        Self::SendDropped,
        Self::Sent,
        Self::SocketErrors,
        Self::ThreadRestarts,
    ];

    /// The name used in logs and in the `/hypna/status` reply (`osc.<name>`).
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::Received => "received",
            Self::KernelDropped => "kernel_dropped",
            Self::Messages => "messages",
            Self::Applied => "applied",
            Self::RejectedSender => "rejected_sender",
            Self::Oversized => "oversized",
            Self::Malformed => "malformed",
            Self::UnknownAddress => "unknown_address",
            Self::BadPattern => "bad_pattern",
            Self::WrongArgument => "wrong_argument",
            Self::QueueOverflow => "queue_overflow",
            Self::Coalesced => "coalesced",
            Self::ScheduledDropped => "scheduled_dropped",
            Self::SendDropped => "send_dropped",
            Self::Sent => "sent",
            Self::SocketErrors => "socket_errors",
            Self::ThreadRestarts => "thread_restarts",
        }
    }

    /// True for counters of dropped or refused input (the ones worth a log line).
    #[must_use]
    pub fn is_problem(self) -> bool {
        !matches!(
            self,
            Self::Received | Self::Messages | Self::Applied | Self::Sent
        )
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// The live counters, shared between the socket thread, the sender thread and the handle.
#[derive(Debug, Default)]
pub struct OscCounters {
    values: [AtomicU64; Counter::ALL.len()],
}

impl OscCounters {
    /// The current value of `counter`.
    #[must_use]
    pub fn get(&self, counter: Counter) -> u64 {
        self.values
            .get(counter.index())
            .map_or(0, |v| v.load(Ordering::Relaxed))
    }

    /// All counters at once.
    #[must_use]
    pub fn snapshot(&self) -> CounterSnapshot {
        let mut values = [0; Counter::ALL.len()];
        for (out, v) in values.iter_mut().zip(&self.values) {
            *out = v.load(Ordering::Relaxed);
        }
        CounterSnapshot { values }
    }

    /// Adds `n` and returns the previous value.
    pub(crate) fn add(&self, counter: Counter, n: u64) -> u64 {
        self.values
            .get(counter.index())
            .map_or(0, |v| v.fetch_add(n, Ordering::Relaxed))
    }

    /// Raises `counter` to `total` (a count kept elsewhere, such as the kernel's); returns
    /// how much it grew.
    pub(crate) fn raise_to(&self, counter: Counter, total: u64) -> u64 {
        self.values.get(counter.index()).map_or(0, |v| {
            let before = v.fetch_max(total, Ordering::Relaxed);
            total.saturating_sub(before)
        })
    }

    /// Counts one problem; the very first one of its kind is logged with `detail`.
    pub(crate) fn problem(&self, counter: Counter, detail: impl FnOnce() -> String) {
        if self.add(counter, 1) == 0 {
            tracing::warn!(
                "OSC {}: {}; further ones are only counted (see /hypna/status) and summarised at most every {} s",
                counter.name().replace('_', " "),
                detail(),
                SUMMARY_INTERVAL.as_secs()
            );
        }
    }
}

/// The counters at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CounterSnapshot {
    values: [u64; Counter::ALL.len()],
}

impl CounterSnapshot {
    /// The value of `counter`.
    #[must_use]
    pub fn get(&self, counter: Counter) -> u64 {
        self.values.get(counter.index()).copied().unwrap_or(0)
    }

    /// `(counter, value)` in report order.
    pub fn iter(&self) -> impl Iterator<Item = (Counter, u64)> + '_ {
        Counter::ALL.iter().map(|c| (*c, self.get(*c)))
    }

    /// The sum of every problem counter (see [`Counter::is_problem`]): what the HUD and the
    /// health line report as dropped.
    #[must_use]
    pub fn problems(&self) -> u64 {
        self.iter()
            .filter(|(c, _)| c.is_problem())
            .map(|(_, v)| v)
            .sum()
    }
}

impl std::fmt::Display for CounterSnapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut first = true;
        for (c, v) in self.iter() {
            if !first {
                f.write_str(", ")?;
            }
            first = false;
            write!(f, "{} {v}", c.name())?;
        }
        Ok(())
    }
}

/// Logs what changed among the problem counters, at most once per [`SUMMARY_INTERVAL`].
#[derive(Debug)]
pub(crate) struct Summary {
    last: CounterSnapshot,
    last_at: Instant,
}

impl Summary {
    pub(crate) fn new(now: Instant) -> Self {
        Self {
            last: CounterSnapshot::default(),
            last_at: now,
        }
    }

    pub(crate) fn tick(&mut self, counters: &OscCounters, now: Instant) {
        if now.duration_since(self.last_at) < SUMMARY_INTERVAL {
            return;
        }
        let snap = counters.snapshot();
        let changes: Vec<String> = snap
            .iter()
            .filter(|(c, _)| c.is_problem())
            .filter_map(|(c, v)| {
                let d = v.saturating_sub(self.last.get(c));
                (d > 0).then(|| format!("{d} {}", c.name().replace('_', " ")))
            })
            .collect();
        if !changes.is_empty() {
            tracing::warn!(
                "OSC in the last {:.0} s: {} (totals: {snap})",
                now.duration_since(self.last_at).as_secs_f32(),
                changes.join(", ")
            );
        }
        self.last = snap;
        self.last_at = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_snapshots() {
        let c = OscCounters::default();
        c.problem(Counter::Malformed, || "x".into());
        c.problem(Counter::Malformed, || {
            unreachable!("only the first is formatted")
        });
        c.add(Counter::Received, 3);
        let s = c.snapshot();
        assert_eq!(s.get(Counter::Malformed), 2);
        assert_eq!(s.get(Counter::Received), 3);
        assert_eq!(s.iter().count(), Counter::ALL.len());
        for (i, c) in Counter::ALL.iter().enumerate() {
            assert_eq!(c.index(), i, "ALL is in declaration order");
        }
        assert!(s.to_string().contains("malformed 2"));
    }
}
