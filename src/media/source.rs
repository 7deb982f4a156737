//! One media source: a decoding thread (`hypna-media-<name>`) that runs `ffmpeg` and hands
//! the frame loop its newest frame through a latest-frame mailbox of three buffers (the
//! decoder's, the mailbox's, the frame's), swapped, never copied or allocated per frame.
//!
//! Files (images, videos, sequences) have a position: the frame loop says which frame it
//! wants (`want`, counted from the in point at the source's `fps`); the decoder reads
//! forward to it, restarts `ffmpeg` at a seek position to go back or to loop, and skips far
//! ahead by seeking. Offline renders wait until the mailbox holds exactly the wanted frame,
//! so frame N shows the video at N/fps run after run. Live sources (cameras, streams) hand
//! over every frame as it arrives; a capture that ends or fails is restarted with backoff.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::input::InputArgs;
use super::process::{Ffmpeg, KillSwitch, Stdin};
use crate::restart::Backoff;
use crate::scene::{MediaDef, MediaInput, Speed};

/// A live source without a new frame for this long counts as stalled.
pub const STALL_AFTER: Duration = Duration::from_secs(1);
/// Longest wait between two attempts to restart a failed capture.
const MAX_BACKOFF: Duration = Duration::from_secs(5);
/// The first pause before a failed source is tried again.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// A file source more than this many seconds behind the wanted frame seeks instead of
/// decoding its way there.
const SEEK_AHEAD_SECS: f64 = 2.0;

/// What the source is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceState {
    /// Starting: no frame yet.
    Starting,
    /// Frames arrive.
    Running,
    /// The last attempt failed (the message); a live source is retried, a file is not
    /// until the want changes or the scene reloads.
    Failed(String),
}

/// Counters of a source (read any time).
#[derive(Debug, Default)]
pub struct SourceCounters {
    /// Frames read from `ffmpeg`.
    pub decoded: AtomicU64,
    /// Frames handed to the mailbox.
    pub published: AtomicU64,
    /// `ffmpeg` runs started (seeks, loops and reconnects each start one).
    pub starts: AtomicU64,
    /// Failed runs (errors, captures that ended).
    pub failures: AtomicU64,
}

struct Mailbox {
    /// The newest frame (RGBA8, `width * height * 4` bytes).
    frame: Vec<u8>,
    /// Counts frames put in; the frame side remembers which it took.
    seq: u64,
    /// The `want` the frame in the mailbox answers (file sources).
    served: u64,
    /// Frames in the file between the in and out points, once the decoder met the end.
    frame_count: Option<u64>,
    state: SourceState,
    /// When a frame was last put in.
    last_frame: Option<Instant>,
}

struct Shared {
    mailbox: Mutex<Mailbox>,
    /// Signalled when a frame is put in, the state changes, `want` changes, or on stop.
    changed: Condvar,
    want: AtomicU64,
    /// The frame side waits for exact frames (offline): hand over only the wanted one.
    exact: AtomicBool,
    stop: AtomicBool,
    counters: SourceCounters,
    /// Kills the running `ffmpeg` (on drop, and for tests of a crashed capture).
    running: Mutex<Option<KillSwitch>>,
    /// What a live source opened, as FFmpeg describes its stream (the negotiated mode).
    mode: Mutex<Option<String>>,
}

impl Shared {
    fn running(&self, process: Option<&Ffmpeg>) {
        *self.running.lock().unwrap_or_else(PoisonError::into_inner) =
            process.map(Ffmpeg::kill_switch);
    }

    fn kill_running(&self) {
        if let Some(k) = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .as_ref()
        {
            k.kill();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Mailbox> {
        self.mailbox.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn set_state(&self, state: SourceState) {
        let mut m = self.lock();
        if m.state != state {
            m.state = state;
            self.changed.notify_all();
        }
    }

    /// Swaps `buf` into the mailbox (the mailbox's old buffer comes back in `buf`).
    fn publish(&self, buf: &mut Vec<u8>, served: Option<u64>) {
        let mut m = self.lock();
        std::mem::swap(&mut m.frame, buf);
        m.seq += 1;
        if let Some(s) = served {
            m.served = s;
        }
        m.state = SourceState::Running;
        m.last_frame = Some(Instant::now());
        drop(m);
        self.counters.published.fetch_add(1, Ordering::Relaxed);
        self.changed.notify_all();
    }

    /// Sleeps for `duration` unless stopped first.
    fn sleep(&self, duration: Duration) {
        let deadline = Instant::now() + duration;
        let mut m = self.lock();
        while !self.stop.load(Ordering::Relaxed) {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            m = self
                .changed
                .wait_timeout(m, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Waits up to `timeout` for a change (or a stop).
    fn nap(&self, timeout: Duration) {
        let m = self.lock();
        if self.stop.load(Ordering::Relaxed) {
            return;
        }
        drop(
            self.changed
                .wait_timeout(m, timeout)
                .unwrap_or_else(PoisonError::into_inner),
        );
    }
}

/// A running media source: its decoding thread and the frame side of its mailbox.
pub struct Source {
    name: String,
    live: bool,
    still: bool,
    fps: f64,
    start_secs: f64,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
    /// The frame side's buffer: what was last taken.
    frame: Vec<u8>,
    taken_seq: u64,
    /// Position in seconds after the in point (for a speed param, integrated).
    position_secs: f64,
}

impl std::fmt::Debug for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Source")
            .field("name", &self.name)
            .field("live", &self.live)
            .finish_non_exhaustive()
    }
}

impl Source {
    /// Starts decoding `def` on its own thread. Never fails for a file that does not
    /// decode or a camera that is missing: the state says so ([`Self::wait_first`] waits
    /// for the verdict).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start(def: &MediaDef) -> std::io::Result<Self> {
        let live = def.input.is_live();
        let job = if live {
            // Resolved at every attempt: a camera plugged in later is found.
            let def = def.clone();
            Job::Live(Box::new(move || match super::input::live_args(&def) {
                Ok(Some(args)) => Ok(args),
                Ok(None) => Err("not a live source".to_string()),
                Err(e) => Err(e),
            }))
        } else {
            Job::File(Box::new(def.clone()))
        };
        Self::spawn(def, job)
    }

    /// Starts a live source reading `input` (the seam cameras use: tests pass an FFmpeg
    /// virtual source here).
    ///
    /// # Errors
    /// When the thread cannot be started.
    pub fn start_live(def: &MediaDef, input: InputArgs) -> std::io::Result<Self> {
        Self::spawn(def, Job::Live(Box::new(move || Ok(input.clone()))))
    }

    fn spawn(def: &MediaDef, job: Job) -> std::io::Result<Self> {
        let [w, h] = def.size;
        let bytes = w as usize * h as usize * 4;
        let shared = Arc::new(Shared {
            mailbox: Mutex::new(Mailbox {
                frame: vec![0; bytes],
                seq: 0,
                served: u64::MAX,
                frame_count: None,
                state: SourceState::Starting,
                last_frame: None,
            }),
            changed: Condvar::new(),
            want: AtomicU64::new(0),
            exact: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            counters: SourceCounters::default(),
            running: Mutex::new(None),
            mode: Mutex::new(None),
        });
        let thread = {
            let shared = Arc::clone(&shared);
            std::thread::Builder::new()
                .name(format!("hypna-media-{}", def.name))
                .spawn(move || {
                    let mut buf = vec![0; bytes];
                    let run =
                        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| match job {
                            Job::File(def) => decode_file(&shared, &def, &mut buf),
                            Job::Live(args) => capture_live(&shared, &*args, &mut buf),
                        }));
                    if let Err(panic) = run {
                        let message = crate::restart::panic_message(panic.as_ref());
                        shared.set_state(SourceState::Failed(format!(
                            "the decoder thread panicked: {message}"
                        )));
                    }
                    shared.running(None);
                })?
        };
        Ok(Self {
            name: def.name.clone(),
            live: def.input.is_live(),
            still: matches!(def.input, MediaInput::Image(_)),
            fps: def.play.fps,
            start_secs: def.play.start_secs,
            shared,
            thread: Some(thread),
            frame: vec![0; bytes],
            taken_seq: 0,
            position_secs: 0.0,
        })
    }

    /// The source's name.
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// True for cameras and streams.
    #[must_use]
    pub fn is_live(&self) -> bool {
        self.live
    }

    /// Waits up to `timeout` for the first frame. `Err` with the reason when the source
    /// failed first (undecodable, zero-length, missing camera) or nothing came in time.
    ///
    /// # Errors
    /// The failure message.
    pub fn wait_first(&self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        let mut m = self.shared.lock();
        loop {
            if m.seq > 0 {
                return Ok(());
            }
            if let SourceState::Failed(e) = &m.state {
                return Err(e.clone());
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(format!("no frame within {} s", timeout.as_secs_f32()));
            }
            m = self
                .shared
                .changed
                .wait_timeout(m, deadline - now)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
    }

    /// Moves the position to scene time `time_secs` (after a frame of `dt_secs`) and tells
    /// the decoder which frame is wanted. `params` are the scene's param values.
    pub fn advance(&mut self, def: &MediaDef, time_secs: f64, dt_secs: f32, params: &[f32]) {
        if self.live || self.still {
            return;
        }
        let play = &def.play;
        self.position_secs = match (play.position, play.speed) {
            (Some(p), _) => f64::from(params.get(p).copied().unwrap_or(0.0)),
            (None, Speed::Fixed(s)) => time_secs * s,
            (None, Speed::Param(p)) => {
                self.position_secs
                    + f64::from(dt_secs) * f64::from(params.get(p).copied().unwrap_or(1.0))
            }
        };
        let want = frame_index(self.position_secs, self.fps);
        if self.shared.want.swap(want, Ordering::Relaxed) != want {
            self.shared.changed.notify_all();
        }
    }

    /// The newest frame when it is new since the last call (RGBA8 rows of `size[0]` pixels),
    /// else `None`. With `exact` (offline renders), a file source first waits up to
    /// `timeout` for the frame [`Self::advance`] asked for. Never allocates.
    pub fn take(&mut self, exact: bool, timeout: Duration) -> Option<&[u8]> {
        let mut m = if exact && !self.live {
            self.shared.exact.store(true, Ordering::Relaxed);
            let want = self.shared.want.load(Ordering::Relaxed);
            let deadline = Instant::now() + timeout;
            let mut m = self.shared.lock();
            while m.served != want
                && !matches!(m.state, SourceState::Failed(_))
                && !(self.still && m.seq > 0)
            {
                let now = Instant::now();
                if now >= deadline {
                    tracing::warn!(
                        "media `{}`: frame {want} not decoded within {timeout:?}",
                        self.name
                    );
                    break;
                }
                m = self
                    .shared
                    .changed
                    .wait_timeout(m, deadline - now)
                    .unwrap_or_else(PoisonError::into_inner)
                    .0;
            }
            m
        } else {
            // The frame thread never waits: a decoder holding the lock (a swap) is skipped.
            match self.shared.mailbox.try_lock() {
                Ok(m) => m,
                Err(std::sync::TryLockError::Poisoned(p)) => p.into_inner(),
                Err(std::sync::TryLockError::WouldBlock) => return None,
            }
        };
        if m.seq == self.taken_seq {
            return None;
        }
        self.taken_seq = m.seq;
        std::mem::swap(&mut m.frame, &mut self.frame);
        drop(m);
        Some(&self.frame)
    }

    /// The frame last taken with [`Self::take`], if any (to fill a texture made anew).
    #[must_use]
    pub fn last_frame(&self) -> Option<&[u8]> {
        (self.taken_seq > 0).then_some(self.frame.as_slice())
    }

    /// True when the source has no fresh picture: failed, or live without a frame for
    /// [`STALL_AFTER`].
    #[must_use]
    pub fn stalled(&self) -> bool {
        let Ok(m) = self.shared.mailbox.try_lock() else {
            return false;
        };
        match &m.state {
            SourceState::Failed(_) => true,
            SourceState::Starting => self.live,
            SourceState::Running => {
                self.live && m.last_frame.is_none_or(|t| t.elapsed() > STALL_AFTER)
            }
        }
    }

    /// What the source is doing now.
    #[must_use]
    pub fn state(&self) -> SourceState {
        self.shared.lock().state.clone()
    }

    /// Frames in the file between the in and out points, once the decoder met the end.
    #[must_use]
    pub fn frame_count(&self) -> Option<u64> {
        self.shared.lock().frame_count
    }

    /// The counters.
    #[must_use]
    pub fn counters(&self) -> &SourceCounters {
        &self.shared.counters
    }

    /// What a live source opened (FFmpeg's description of the stream: size, pixel format,
    /// frame rate), once known.
    #[must_use]
    pub fn mode(&self) -> Option<String> {
        self.shared
            .mode
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Kills the running `ffmpeg`, as a codec crash or an unplugged camera would: a live
    /// source reconnects, a file source starts again where it was.
    pub fn kill_ffmpeg(&self) {
        self.shared.kill_running();
    }

    /// The in point in seconds (for status lines).
    #[must_use]
    pub fn start_secs(&self) -> f64 {
        self.start_secs
    }
}

impl Drop for Source {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.shared.changed.notify_all();
        // A read blocked on a silent camera ends when its process dies; the thread then
        // sees the stop. Never wait for it on the frame thread: let it go.
        self.shared.kill_running();
        drop(self.thread.take());
    }
}

/// The frame at `position_secs` for a source sampled at `fps` (negative positions: 0).
fn frame_index(position_secs: f64, fps: f64) -> u64 {
    // A hair over: 0.1 s at 30 fps is frame 3, not 2.9999.
    let f = (position_secs * fps + 1e-6).floor();
    if f > 0.0 {
        // Saturating: positions far beyond any file.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let i = f.min(9e15) as u64;
        i
    } else {
        0
    }
}

/// Finds what a live source opens (again at each reconnect).
type Resolve = Box<dyn Fn() -> Result<InputArgs, String> + Send>;

enum Job {
    File(Box<MediaDef>),
    Live(Resolve),
}

/// Where frame `want` lands in a file of `count` frames (when known).
fn map_want(want: u64, count: Option<u64>, looped: bool) -> u64 {
    match count {
        Some(0) | None => want,
        Some(n) if looped => want % n,
        Some(n) => want.min(n - 1),
    }
}

fn decode_file(shared: &Shared, def: &MediaDef, buf: &mut Vec<u8>) {
    let still = matches!(def.input, MediaInput::Image(_));
    // The running `ffmpeg`, the index of its next frame and of its first.
    let mut process: Option<(Ffmpeg, u64, u64)> = None;
    // A seek went past the end before the length was known: read on from a known frame.
    let mut past_end = false;
    // The index of the frame in the mailbox.
    let mut have: Option<u64> = None;
    let mut count: Option<u64> = None;
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let seek_ahead = (SEEK_AHEAD_SECS * def.play.fps).ceil() as u64;
    while !shared.stop.load(Ordering::Relaxed) {
        let want_abs = if still {
            0
        } else {
            shared.want.load(Ordering::Relaxed)
        };
        let want = map_want(want_abs, count, def.play.looped);
        if have == Some(want) {
            let mut m = shared.lock();
            if m.served != want_abs {
                m.served = want_abs;
                shared.changed.notify_all();
            }
            drop(m);
            if still && process.take().is_some() {
                shared.running(None);
            }
            shared.nap(Duration::from_millis(50));
            continue;
        }
        let failed = matches!(shared.lock().state, SourceState::Failed(_));
        if failed && process.is_none() {
            // A crashed or undecodable run: try again after a pause that grows.
            shared.sleep(backoff.current());
            backoff.grow();
        }
        let may_seek = count.is_some() || !past_end;
        let restart = match &process {
            None => true,
            Some((_, next, _)) => *next > want || (may_seek && want > next + seek_ahead),
        };
        if restart {
            process = None;
            let from = if may_seek {
                want
            } else {
                have.map_or(0, |h| h.min(want))
            };
            let Some(args) = super::input::file_args(def, from) else {
                return;
            };
            shared.counters.starts.fetch_add(1, Ordering::Relaxed);
            match Ffmpeg::spawn(&args.command(), Stdin::Null) {
                Ok(p) => {
                    shared.running(Some(&p));
                    process = Some((p, from, from));
                }
                Err(e) => {
                    shared.counters.failures.fetch_add(1, Ordering::Relaxed);
                    shared.set_state(SourceState::Failed(e.to_string()));
                    continue;
                }
            }
        }
        let Some((p, next, first)) = process.as_mut() else {
            continue;
        };
        match p.read_frame(buf) {
            Ok(true) => {
                shared.counters.decoded.fetch_add(1, Ordering::Relaxed);
                let index = *next;
                *next += 1;
                if index == want {
                    shared.publish(buf, Some(want_abs));
                    have = Some(index);
                    backoff.reset();
                } else if !shared.exact.load(Ordering::Relaxed) {
                    // Live and behind: show each frame on the way rather than none.
                    shared.publish(buf, None);
                    have = Some(index);
                }
            }
            Ok(false) => {
                let (end, first) = (*next, *first);
                process = None;
                shared.running(None);
                if end == first && first > 0 {
                    // A seek past the end: the length is below `first`; read up to it.
                    past_end = true;
                    continue;
                }
                if end == 0 {
                    // Nothing before the end: a zero-length video, or an in point past it.
                    shared.counters.failures.fetch_add(1, Ordering::Relaxed);
                    shared.set_state(SourceState::Failed(
                        "no frames: the video is empty or `start` lies past its end".into(),
                    ));
                    continue;
                }
                // A run that started at a seek ends at the same end; a killed run ends
                // early with an error, not here.
                if count.is_none_or(|c| c < end) {
                    count = Some(end);
                    shared.lock().frame_count = Some(end);
                }
            }
            Err(e) => {
                process = None;
                shared.running(None);
                shared.counters.failures.fetch_add(1, Ordering::Relaxed);
                shared.set_state(SourceState::Failed(e.to_string()));
            }
        }
    }
}

/// Frames of a capture during which its stderr is searched for the stream it opened.
const MODE_LOOKS: u64 = 30;

/// Logs (once per capture) the stream a live source opened, from FFmpeg's `Stream #` line.
fn note_mode(shared: &Shared, p: &Ffmpeg, last: bool) {
    let tail = p.stderr_tail();
    let found = tail
        .split(" | ")
        .find(|l| l.contains("Stream #") && l.contains("Video:"))
        .and_then(|l| l.split_once("Video:"))
        .map(|(_, m)| m.trim().to_string());
    let mut mode = shared.mode.lock().unwrap_or_else(PoisonError::into_inner);
    match found {
        Some(m) if mode.as_deref() != Some(m.as_str()) => {
            tracing::info!("media capture opened: {m}");
            *mode = Some(m);
        }
        None if last && mode.is_none() => {
            tracing::info!("media capture: FFmpeg did not describe the stream");
        }
        _ => {}
    }
}

fn capture_live(
    shared: &Shared,
    resolve: &(dyn Fn() -> Result<InputArgs, String> + Send),
    buf: &mut Vec<u8>,
) {
    let mut backoff = Backoff::new(FIRST_BACKOFF, MAX_BACKOFF);
    while !shared.stop.load(Ordering::Relaxed) {
        let attempt = resolve().and_then(|args| {
            Ffmpeg::spawn(&args.command(), Stdin::Null).map_err(|e| e.to_string())
        });
        shared.counters.starts.fetch_add(1, Ordering::Relaxed);
        let error = match attempt {
            Ok(mut p) => {
                shared.running(Some(&p));
                let mut frames = 0u64;
                let end = loop {
                    if shared.stop.load(Ordering::Relaxed) {
                        break None;
                    }
                    match p.read_frame(buf) {
                        Ok(true) => {
                            frames += 1;
                            shared.counters.decoded.fetch_add(1, Ordering::Relaxed);
                            shared.publish(buf, None);
                            if frames <= MODE_LOOKS {
                                note_mode(shared, &p, frames == MODE_LOOKS);
                            }
                        }
                        Ok(false) => break Some("the capture ended".to_string()),
                        Err(e) => break Some(e.to_string()),
                    }
                };
                shared.running(None);
                drop(p);
                if frames > 0 {
                    backoff.reset();
                }
                end
            }
            Err(e) => Some(e),
        };
        let Some(error) = error else { break };
        shared.counters.failures.fetch_add(1, Ordering::Relaxed);
        let pause = backoff.current();
        tracing::warn!("media capture: {error}; retrying in {pause:?}");
        shared.set_state(SourceState::Failed(error));
        shared.sleep(pause);
        backoff.grow();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_map_to_frames_and_loops_wrap() {
        assert_eq!(frame_index(0.1, 30.0), 3);
        assert_eq!(frame_index(-1.0, 30.0), 0);
        assert_eq!(frame_index(1.0 / 30.0 * 7.0, 30.0), 7);
        assert_eq!(map_want(12, Some(10), true), 2);
        assert_eq!(map_want(12, Some(10), false), 9);
        assert_eq!(map_want(12, None, true), 12);
    }
}
