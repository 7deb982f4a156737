//! The hand-off from the analysis thread to readers (the frame loop, the HUD, model inputs):
//! a latest-value cell that never makes a reader wait.
//!
//! Choice: a `Mutex<Arc<AudioFeatures>>` plus a sequence number, read with `try_lock`. The
//! writer (the analysis thread, never the audio callback) holds the lock only to swap one
//! pointer. A reader first checks the sequence number (one atomic load) and, when something
//! new was published, tries the lock; if the writer happens to hold it at that instant the
//! reader keeps its previous value, which is at most one hop (5 ms) old. So a read is one
//! atomic load in the common case and never blocks. A lock-free triple buffer would need
//! `unsafe` (forbidden in this crate) or another dependency for no measurable gain at 190
//! publications per second.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, TryLockError};

use super::features::AudioFeatures;

/// The shared cell.
#[derive(Debug)]
pub(crate) struct Latest {
    seq: AtomicU64,
    slot: Mutex<Arc<AudioFeatures>>,
}

impl Latest {
    pub(crate) fn new(initial: AudioFeatures) -> Arc<Self> {
        Arc::new(Self {
            seq: AtomicU64::new(0),
            slot: Mutex::new(Arc::new(initial)),
        })
    }

    /// Replaces the value (analysis thread only; may wait for a reader's pointer copy).
    pub(crate) fn publish(&self, value: Arc<AudioFeatures>) {
        let mut guard = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *guard = value;
        drop(guard);
        self.seq.fetch_add(1, Ordering::Release);
    }

    /// The newest value (analysis thread only, like [`Self::publish`]).
    pub(crate) fn get(&self) -> Arc<AudioFeatures> {
        let guard = self
            .slot
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(&guard)
    }

    /// Takes the lock if it is free. A lock poisoned by a panicked (and restarted) analysis
    /// thread still holds a whole value (publishing only swaps a pointer), so it is used.
    fn try_slot(&self) -> Option<std::sync::MutexGuard<'_, Arc<AudioFeatures>>> {
        match self.slot.try_lock() {
            Ok(guard) => Some(guard),
            Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
            Err(TryLockError::WouldBlock) => None,
        }
    }
}

/// A reader of the newest [`AudioFeatures`]; cheap to clone, one per consumer.
#[derive(Debug, Clone)]
pub struct FeaturesReader {
    cell: Arc<Latest>,
    cached: Arc<AudioFeatures>,
    seen: u64,
}

impl FeaturesReader {
    pub(crate) fn new(cell: Arc<Latest>) -> Self {
        let cached = cell
            .try_slot()
            .map_or_else(|| Arc::new(AudioFeatures::default()), |g| Arc::clone(&g));
        Self {
            cell,
            cached,
            seen: 0,
        }
    }

    /// The newest features; never blocks (see the module docs).
    pub fn latest(&mut self) -> &AudioFeatures {
        let seq = self.cell.seq.load(Ordering::Acquire);
        if seq != self.seen
            && let Some(guard) = self.cell.try_slot()
        {
            self.cached = Arc::clone(&guard);
            self.seen = seq;
        }
        &self.cached
    }

    /// How many times the analysis thread has published (hop batches, not hops).
    #[must_use]
    pub fn publications(&self) -> u64 {
        self.cell.seq.load(Ordering::Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_sees_newest_and_keeps_old_while_locked() {
        let cell = Latest::new(AudioFeatures::default());
        let mut r = FeaturesReader::new(Arc::clone(&cell));
        let mut f = AudioFeatures {
            level: 0.5,
            ..AudioFeatures::default()
        };
        cell.publish(Arc::new(f.clone()));
        assert!((r.latest().level - 0.5).abs() < f32::EPSILON);
        let guard = cell.slot.lock().unwrap();
        f.level = 0.7;
        // The writer cannot publish while the lock is held, but a reader must not block.
        cell.seq.fetch_add(1, Ordering::Release);
        assert!((r.latest().level - 0.5).abs() < f32::EPSILON);
        drop(guard);
        cell.publish(Arc::new(f));
        assert!((r.latest().level - 0.7).abs() < f32::EPSILON);
    }
}
