//! What the frame publishes for the server threads (the address space, param values, the
//! installation's health) and the server's counters. A [`Cell`] holds the newest snapshot
//! behind an `Arc`: the server threads clone the `Arc` and read at leisure; the frame side
//! only ever `try_lock`s, so it never waits on a server thread.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, TryLockError};
use std::time::Instant;

use serde::Serialize;

/// The newest snapshot of a `T`, numbered.
pub(crate) struct Cell<T> {
    slot: Mutex<(Arc<T>, u64)>,
}

impl<T> Cell<T> {
    pub(crate) fn new(value: T) -> Self {
        Self {
            slot: Mutex::new((Arc::new(value), 0)),
        }
    }

    /// Replaces the snapshot unless a reader holds the lock this instant; then `value` comes
    /// back to be published later.
    pub(crate) fn try_publish(&self, value: T) -> Result<(), T> {
        match self.slot.try_lock() {
            Ok(mut guard) => {
                guard.0 = Arc::new(value);
                guard.1 += 1;
                Ok(())
            }
            Err(TryLockError::Poisoned(p)) => {
                let mut guard = p.into_inner();
                guard.0 = Arc::new(value);
                guard.1 += 1;
                Ok(())
            }
            Err(TryLockError::WouldBlock) => Err(value),
        }
    }

    /// The newest snapshot and its number (0 before the first publication).
    pub(crate) fn get(&self) -> (Arc<T>, u64) {
        let guard = self.slot.lock().unwrap_or_else(PoisonError::into_inner);
        (Arc::clone(&guard.0), guard.1)
    }
}

/// One param as OSCQuery and the page describe it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParamInfo {
    /// The param's name (`/hypna/param/<name>`).
    pub name: String,
    /// Label for UIs (OSCQuery `DESCRIPTION`).
    pub label: String,
    /// Lowest value.
    pub min: f32,
    /// Highest value.
    pub max: f32,
    /// Starting value.
    pub default: f32,
    /// Group for UIs (the panel's grouping; OSCQuery `TAGS`).
    pub group: Option<String>,
    /// Names of the whole values, when the param has them.
    pub names: Vec<String>,
    /// Controller aliases that carry one value (address, the controller's range).
    pub aliases: Vec<(String, [f32; 2])>,
}

impl ParamInfo {
    /// The description of a validated scene param.
    #[must_use]
    pub fn of(def: &crate::scene::ParamDef) -> Self {
        Self {
            name: def.name.clone(),
            label: def.label.clone(),
            min: def.min,
            max: def.max,
            default: def.default,
            group: def.group.clone(),
            names: def.names.clone(),
            aliases: def
                .osc
                .iter()
                .filter(|a| a.arg == 0)
                .map(|a| (a.address.clone(), a.input_range))
                .collect(),
        }
    }
}

/// The address space of the scene on show.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Namespace {
    /// The scene's name.
    pub scene: String,
    /// Its params, in file order.
    pub params: Vec<ParamInfo>,
    /// The playlist's entry names in file order (empty when a single scene plays).
    pub entries: Vec<String>,
}

/// One model in [`Health`].
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ModelHealth {
    /// The model's name in the scene.
    pub name: String,
    /// Completed runs per second, recently.
    pub rate_hz: f32,
    /// Failed runs since the scene started.
    pub errors: u64,
    /// The worker's state in a word or a few (`ready`, `loading`, `failing (3)`, ...).
    pub state: String,
}

/// How the installation is doing, for the dashboard (`GET /health`).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Health {
    /// Frames per second, smoothed.
    pub fps: f32,
    /// The last frame's duration in milliseconds.
    pub frame_ms: f32,
    /// Frames shown.
    pub frame: u64,
    /// The scene on show.
    pub scene: String,
    /// The playlist entry on show: (index, name).
    pub entry: Option<(usize, String)>,
    /// Every model of the scene.
    pub models: Vec<ModelHealth>,
    /// The audio input's state.
    pub audio_state: String,
    /// The input level in dBFS, while audio runs.
    pub audio_level_db: Option<f32>,
    /// OSC counters by name (empty without an OSC server).
    pub osc: Vec<(String, u64)>,
    /// Errors on show (a failed switch or reload), located.
    pub errors: Vec<String>,
    /// Seconds since the show started.
    pub uptime_secs: f64,
    /// Resident memory in bytes, where known.
    pub memory_bytes: Option<u64>,
    /// Whether the schedule has the show open.
    pub open: bool,
    /// The schedule's next opening or closing, local time, if it changes.
    pub next_change: Option<String>,
}

/// What the frame publishes often: the param values (in the namespace's order) and health.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Values {
    /// The scene these values belong to (the namespace's `scene`).
    pub scene: String,
    /// Each param's value (the target set by controllers), in the namespace's order.
    pub params: Vec<f32>,
    /// The installation's health.
    pub health: Health,
}

/// What the server counts. Read with [`RemoteCounters::snapshot`].
#[derive(Debug, Default)]
pub struct RemoteCounters {
    /// HTTP requests answered (any status).
    pub requests: AtomicU64,
    /// Requests refused for a missing or wrong token where control was asked for.
    pub unauthorized: AtomicU64,
    /// Requests and WebSocket messages refused by the rate limit.
    pub rate_limited: AtomicU64,
    /// Connections from addresses outside the allow list.
    pub not_allowed: AtomicU64,
    /// Connections refused because too many were open.
    pub connections_refused: AtomicU64,
    /// WebSocket sessions open now.
    pub ws_open: AtomicU64,
    /// OSC packets received over WebSocket and queued for the frame.
    pub osc_packets: AtomicU64,
    /// OSC packets dropped because the frame's queue was full.
    pub osc_dropped: AtomicU64,
    /// Value messages streamed to `LISTEN`ers.
    pub streamed: AtomicU64,
    /// Thumbnails encoded.
    pub thumbnails: AtomicU64,
    /// Frames not encoded because the encoder was busy.
    pub thumbnails_dropped: AtomicU64,
    /// Milliseconds after the server started of the last thumbnail request (0: never).
    pub(crate) thumbnail_asked_ms: AtomicU64,
}

/// Copied counters, for JSON.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)] // the fields mirror RemoteCounters
pub struct CounterValues {
    pub requests: u64,
    pub unauthorized: u64,
    pub rate_limited: u64,
    pub not_allowed: u64,
    pub connections_refused: u64,
    pub ws_open: u64,
    pub osc_packets: u64,
    pub osc_dropped: u64,
    pub streamed: u64,
    pub thumbnails: u64,
    pub thumbnails_dropped: u64,
}

impl RemoteCounters {
    /// Adds one to `counter`.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// The counters now.
    #[must_use]
    pub fn snapshot(&self) -> CounterValues {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        CounterValues {
            requests: g(&self.requests),
            unauthorized: g(&self.unauthorized),
            rate_limited: g(&self.rate_limited),
            not_allowed: g(&self.not_allowed),
            connections_refused: g(&self.connections_refused),
            ws_open: g(&self.ws_open),
            osc_packets: g(&self.osc_packets),
            osc_dropped: g(&self.osc_dropped),
            streamed: g(&self.streamed),
            thumbnails: g(&self.thumbnails),
            thumbnails_dropped: g(&self.thumbnails_dropped),
        }
    }

    /// Notes that a client fetched the thumbnail now.
    pub(crate) fn thumbnail_asked(&self, started: Instant) {
        let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.thumbnail_asked_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// Whether a client fetched the thumbnail in the last 5 seconds (only then are frames
    /// read back and encoded).
    pub(crate) fn thumbnail_wanted_recently(&self, started: Instant) -> bool {
        let asked = self.thumbnail_asked_ms.load(Ordering::Relaxed);
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        asked != 0 && now.saturating_sub(asked) < 5000
    }
}
