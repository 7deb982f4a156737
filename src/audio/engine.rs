//! The live engine: a producer thread (the device supervisor, or the WAV player), the ring,
//! the analysis thread and the latest-value cell readers poll.
//!
//! ```text
//!  device callback --CaptureSink (rtrb, mono f32)--> analysis thread --Latest--> FeaturesReader
//!        ^ opened, watched and reopened by the supervisor thread (status, logs)
//!  WAV player thread (paced by the clock) --the same CaptureSink path--^
//! ```
//!
//! When no stream is connected (device lost, not yet found) the analysis thread feeds itself
//! silence at the real-time rate, so every feature decays exactly as it would if the room fell
//! silent, the beat phase keeps running and readers never see a frozen value.
//!
//! A thread that panics is restarted (`crate::restart`: counted in
//! [`AudioStats::thread_restarts`], logged once, a backoff from 100 ms doubling to 10 s).
//! What a restart needs survives in the thread's own frame, outside the restarted body: the
//! analysis thread keeps the control channel and the ring's consumer, so a restarted
//! analysis reads the same stream with a fresh [`Analyzer`] (readers see silence meanwhile);
//! the supervisor keeps the backend and reopens the device; the file player keeps its end of
//! the ring and its place in the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TryRecvError, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rtrb::{Consumer, RingBuffer};

use super::AudioError;
use super::analysis::Analyzer;
use super::capture::{
    CaptureBackend, CaptureSink, Connection, Counters, CpalBackend, OpenedStream, RING_CAPACITY,
};
use super::features::AudioFeatures;
use super::file::decode_wav;
use super::latest::{FeaturesReader, Latest};
use crate::restart::{RestartPolicy, run_restarting};
use crate::scene::audio::{AudioConfig, REFERENCE_RATE_HZ};

/// How often the analysis thread looks for new samples when the ring was empty.
const POLL: Duration = Duration::from_millis(1);
/// How often the supervisor checks a connected stream.
const WATCH: Duration = Duration::from_millis(20);
/// After this long without samples the analysis bridges the gap with generated silence.
const GAP: Duration = Duration::from_millis(250);
/// A stream reporting at least this many errors (other than xruns) per second for
/// [`STORM_SECS`] is reopened: it is broken even if some samples still trickle through.
const STORM_ERRORS_PER_SEC: u64 = 20;
/// See [`STORM_ERRORS_PER_SEC`].
const STORM_SECS: Duration = Duration::from_secs(1);
/// How long `stop` waits for a producer thread stuck in a driver call before leaving it.
const JOIN_PATIENCE: Duration = Duration::from_secs(1);
/// Capacity of the control queue (taps, source changes).
const CONTROL_CAPACITY: usize = 64;

/// Where the samples come from, as the HUD and the logs show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureStatus {
    /// The first connection attempt has not finished.
    Starting,
    /// A device stream is running.
    Connected {
        /// Device name (and id).
        name: String,
        /// Sample rate, Hz.
        sample_rate_hz: u32,
        /// Device channels (mixed down to mono).
        channels: u16,
        /// Device sample format.
        sample_format: String,
    },
    /// No device stream; retrying every `retry_secs`. Features decay to silence meanwhile.
    Reconnecting {
        /// Failed attempts since the stream was lost (0 right after the loss).
        attempts: u32,
        /// Why the stream was lost (or, before any connection, why the first attempt failed).
        reason: String,
        /// Why the latest attempt failed, once one has.
        last_error: Option<String>,
    },
    /// A WAV file plays in real time.
    File {
        /// The file.
        path: PathBuf,
        /// Its sample rate, Hz.
        sample_rate_hz: u32,
    },
    /// The engine was stopped.
    Stopped,
}

impl CaptureStatus {
    fn same_kind(&self, other: &Self) -> bool {
        std::mem::discriminant(self) == std::mem::discriminant(other)
    }
}

impl std::fmt::Display for CaptureStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Starting => write!(f, "audio: starting"),
            Self::Connected {
                name,
                sample_rate_hz,
                channels,
                sample_format,
            } => write!(
                f,
                "audio: {name}, {sample_rate_hz} Hz, {channels} ch {sample_format}"
            ),
            Self::Reconnecting {
                attempts,
                reason,
                last_error,
            } => {
                write!(
                    f,
                    "audio: reconnecting ({reason}; {attempts} failed attempts"
                )?;
                if let Some(e) = last_error {
                    write!(f, ", last: {e}")?;
                }
                write!(f, ")")
            }
            Self::File {
                path,
                sample_rate_hz,
            } => write!(f, "audio: file {} ({sample_rate_hz} Hz)", path.display()),
            Self::Stopped => write!(f, "audio: stopped"),
        }
    }
}

/// Counters for the HUD and diagnostics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioStats {
    /// Mono samples dropped because the ring was full.
    pub overflow_samples: u64,
    /// Over/underruns reported by the driver.
    pub xruns: u64,
    /// Other stream errors reported (device loss included).
    pub stream_errors: u64,
    /// Successful reopenings after a loss.
    pub reconnects: u64,
    /// Hops analysed.
    pub hops: u64,
    /// Taps or resyncs dropped because the control queue was full.
    pub dropped_controls: u64,
    /// Times an engine thread (analysis, device supervisor or file player) panicked and was
    /// restarted.
    pub thread_restarts: u64,
}

/// An engine thread, for [`AudioEngine::inject_panic`].
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioThread {
    /// The analysis thread.
    Analysis,
    /// The device supervisor or the file player, whichever the engine runs.
    Producer,
}

struct Source {
    consumer: Consumer<f32>,
    sample_rate_hz: u32,
}

impl Source {
    /// Drops every sample queued so far (stale after a restart's backoff).
    fn discard_queued(&mut self) {
        let n = self.consumer.slots();
        if let Ok(chunk) = self.consumer.read_chunk(n) {
            chunk.commit_all();
        }
    }
}

enum Control {
    Source(Option<Source>),
    Tap(Instant),
    Resync(Instant),
    ClearTap,
    /// Copy every analysed sample (silence bridging gaps included) into this ring, or stop.
    Record(Option<rtrb::Producer<f32>>),
}

struct Shared {
    stop: AtomicBool,
    status: Mutex<CaptureStatus>,
    counters: Arc<Counters>,
    reconnects: AtomicU64,
    hops: AtomicU64,
    dropped_controls: AtomicU64,
    restarts: AtomicU64,
    /// Samples a recording's ring had no room for.
    record_dropped: AtomicU64,
    /// Test hooks: the thread panics at its next check ([`AudioEngine::inject_panic`]).
    panic_analysis: AtomicBool,
    panic_producer: AtomicBool,
}

impl Shared {
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    /// Sets the status, logging once per change of kind (and on every connection).
    fn set_status(&self, next: CaptureStatus) {
        let mut guard = self
            .status
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let changed = !guard.same_kind(&next) || matches!(next, CaptureStatus::Connected { .. });
        if changed {
            match &next {
                CaptureStatus::Reconnecting { reason, .. } => {
                    if matches!(*guard, CaptureStatus::Starting) {
                        tracing::warn!(
                            "audio input not available ({reason}); retrying, features stay silent"
                        );
                    } else {
                        tracing::warn!(
                            "audio input lost ({reason}); retrying, features decay to silence"
                        );
                    }
                }
                CaptureStatus::Starting => {}
                other => tracing::info!("{other}"),
            }
        } else if let CaptureStatus::Reconnecting {
            attempts,
            last_error: Some(e),
            ..
        } = &next
        {
            tracing::debug!("audio reconnect attempt {attempts} failed: {e}");
        }
        *guard = next;
    }

    /// Counts one thread restart; returns the total.
    fn count_restart(&self) -> u64 {
        self.restarts.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// The restart loop's wait: naps `d`; false when stopping.
    fn backoff(&self, d: Duration) -> bool {
        self.nap(d);
        !self.stopping()
    }

    /// Sleeps up to `d`, waking early when stopping.
    fn nap(&self, d: Duration) {
        let until = Instant::now() + d;
        while !self.stopping() {
            let now = Instant::now();
            if now >= until {
                break;
            }
            thread::park_timeout((until - now).min(Duration::from_millis(50)));
        }
    }
}

/// Live audio input and analysis. Start it with [`AudioEngine::start`]; read features with a
/// [`FeaturesReader`] from [`AudioEngine::reader`]; dropping the engine stops it.
pub struct AudioEngine {
    shared: Arc<Shared>,
    control: SyncSender<Control>,
    cell: Arc<Latest>,
    analysis: Option<JoinHandle<()>>,
    producer: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for AudioEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AudioEngine")
            .field("status", &self.status())
            .finish_non_exhaustive()
    }
}

fn spawn(name: &str, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, AudioError> {
    thread::Builder::new()
        .name(name.to_string())
        .spawn(f)
        .map_err(AudioError::Thread)
}

/// Drops a stream guard on a throwaway thread: closing a dead device can block in the driver.
fn reap(guard: Box<dyn Send>) {
    // If the thread cannot be spawned the closure, and the guard with it, is dropped here.
    if let Err(e) = thread::Builder::new()
        .name("hypna-audio-reap".to_string())
        .spawn(move || drop(guard))
    {
        tracing::debug!("could not spawn a thread to close the old stream ({e}); closed inline");
    }
}

impl AudioEngine {
    /// Starts live input as `config` says: the WAV `file` played in real time when set,
    /// otherwise the `device` through cpal. A missing device is not an error: the engine
    /// retries and reports [`CaptureStatus::Reconnecting`].
    ///
    /// # Errors
    /// [`AudioError::Config`] for an invalid config, [`AudioError::File`] when the WAV file
    /// cannot be read, [`AudioError::Thread`] when a thread cannot be spawned.
    pub fn start(config: &AudioConfig) -> Result<Self, AudioError> {
        match &config.file {
            Some(path) => Self::start_file(config, path),
            None => Self::start_with_backend(config, Box::new(CpalBackend)),
        }
    }

    /// Starts capture from `backend` (the seam tests and benchmarks use).
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_with_backend(
        config: &AudioConfig,
        mut backend: Box<dyn CaptureBackend>,
    ) -> Result<Self, AudioError> {
        let mut engine = Self::start_analysis(config, REFERENCE_RATE_HZ)?;
        let shared = Arc::clone(&engine.shared);
        let tx = engine.control.clone();
        let cfg = config.clone();
        engine.producer = Some(spawn(SUPERVISOR, move || {
            let mut ever_connected = false;
            run_restarting(
                SUPERVISOR,
                RestartPolicy::DEFAULT,
                || shared.count_restart(),
                |d| shared.backoff(d),
                |message| {
                    // The stream went down with the unwinding; the analysis bridges with
                    // silence until the restarted supervisor reopens the device. A full or
                    // closed queue means the analysis is busy or gone: it bridges anyway.
                    drop(tx.try_send(Control::Source(None)));
                    shared.set_status(CaptureStatus::Reconnecting {
                        attempts: 0,
                        reason: format!("the capture thread panicked: {message}"),
                        last_error: None,
                    });
                },
                |_| supervise(backend.as_mut(), &cfg, &tx, &shared, &mut ever_connected),
            );
        })?);
        Ok(engine)
    }

    /// Plays `path` in real time into the analysis, as if it were the microphone.
    ///
    /// # Errors
    /// As [`Self::start`].
    pub fn start_file(config: &AudioConfig, path: &Path) -> Result<Self, AudioError> {
        let (samples, rate) = decode_wav(path)?;
        let mut engine = Self::start_analysis(config, rate)?;
        let shared = Arc::clone(&engine.shared);
        let (producer, consumer) = RingBuffer::new(RING_CAPACITY);
        let conn = Connection::new(Arc::clone(&shared.counters));
        let sink = CaptureSink::new(producer, conn);
        engine
            .control
            .send(Control::Source(Some(Source {
                consumer,
                sample_rate_hz: rate,
            })))
            .map_err(|_| AudioError::Stopped)?;
        shared.set_status(CaptureStatus::File {
            path: path.to_path_buf(),
            sample_rate_hz: rate,
        });
        let chunk = config.buffer_frames.map_or(256, |b| b as usize);
        let looping = config.loop_file;
        engine.producer = Some(spawn(FILE_PLAYER, move || {
            let mut sink = sink;
            let mut read = 0usize;
            run_restarting(
                FILE_PLAYER,
                RestartPolicy::DEFAULT,
                || shared.count_restart(),
                |d| shared.backoff(d),
                |_| {},
                |_| {
                    let file = FileSource {
                        samples: &samples,
                        rate,
                        chunk,
                        looping,
                    };
                    play_file(&file, &mut sink, &mut read, &shared);
                },
            );
        })?);
        Ok(engine)
    }

    fn start_analysis(config: &AudioConfig, rate: u32) -> Result<Self, AudioError> {
        config.validate()?;
        let analyzer = Analyzer::new(config, rate)?;
        let cell = Latest::new(analyzer.features().clone());
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            status: Mutex::new(CaptureStatus::Starting),
            counters: Arc::new(Counters::default()),
            reconnects: AtomicU64::new(0),
            hops: AtomicU64::new(0),
            dropped_controls: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            record_dropped: AtomicU64::new(0),
            panic_analysis: AtomicBool::new(false),
            panic_producer: AtomicBool::new(false),
        });
        let (tx, rx) = mpsc::sync_channel(CONTROL_CAPACITY);
        let a_shared = Arc::clone(&shared);
        let a_cell = Arc::clone(&cell);
        let cfg = config.clone();
        let analysis = spawn(ANALYSIS, move || {
            let mut first = Some(analyzer);
            // Survives restarts: the ring of the connected stream, if any. Shared between the
            // body and the backoff wait, which never run at the same time.
            let source: std::cell::RefCell<Option<Source>> = std::cell::RefCell::new(None);
            run_restarting(
                ANALYSIS,
                RestartPolicy::DEFAULT,
                || a_shared.count_restart(),
                |d| {
                    // Keep the ring drained while waiting, so the producer never overflows
                    // it: what arrives during the backoff is stale anyway.
                    let until = Instant::now() + d;
                    while !a_shared.stopping() && Instant::now() < until {
                        if let Some(src) = source.borrow_mut().as_mut() {
                            src.discard_queued();
                        }
                        a_shared.nap(Duration::from_millis(5).min(until - Instant::now()));
                    }
                    !a_shared.stopping()
                },
                |_| publish_silence(&a_cell),
                |restarted| {
                    let mut source = source.borrow_mut();
                    let fresh = first.take().map_or_else(
                        || {
                            let rate = source.as_ref().map_or(rate, |s| s.sample_rate_hz);
                            Analyzer::new(&cfg, rate)
                        },
                        Ok,
                    );
                    let analyzer = match fresh {
                        Ok(a) => a,
                        // Cannot happen (the config was validated at start); no busy loop if so.
                        Err(e) => {
                            tracing::error!("audio analysis cannot restart: {e}");
                            return;
                        }
                    };
                    if restarted && let Some(src) = source.as_mut() {
                        // What piled up during the backoff is stale: start from now.
                        src.discard_queued();
                    }
                    analyse(analyzer, &cfg, &rx, &mut source, &a_cell, &a_shared);
                },
            );
        })?;
        Ok(Self {
            shared,
            control: tx,
            cell,
            analysis: Some(analysis),
            producer: None,
        })
    }

    /// A reader of the newest features (clone it for each consumer).
    #[must_use]
    pub fn reader(&self) -> FeaturesReader {
        FeaturesReader::new(Arc::clone(&self.cell))
    }

    /// Where the samples come from right now (a short lock the audio callback never takes).
    #[must_use]
    pub fn status(&self) -> CaptureStatus {
        self.shared
            .status
            .lock()
            .map_or(CaptureStatus::Stopped, |g| g.clone())
    }

    /// Counters since start.
    #[must_use]
    pub fn stats(&self) -> AudioStats {
        let c = &self.shared.counters;
        AudioStats {
            overflow_samples: c.overflow_samples.load(Ordering::Relaxed),
            xruns: c.xruns.load(Ordering::Relaxed),
            stream_errors: c.stream_errors.load(Ordering::Relaxed),
            reconnects: self.shared.reconnects.load(Ordering::Relaxed),
            hops: self.shared.hops.load(Ordering::Relaxed),
            dropped_controls: self.shared.dropped_controls.load(Ordering::Relaxed),
            thread_restarts: self.shared.restarts.load(Ordering::Relaxed),
        }
    }

    /// Test hook: makes `thread` panic at its next check (within a few milliseconds), to
    /// prove that it is restarted. Never blocks.
    #[doc(hidden)]
    pub fn inject_panic(&self, thread: AudioThread) {
        let (flag, handle) = match thread {
            AudioThread::Analysis => (&self.shared.panic_analysis, &self.analysis),
            AudioThread::Producer => (&self.shared.panic_producer, &self.producer),
        };
        flag.store(true, Ordering::Release);
        if let Some(h) = handle {
            h.thread().unpark();
        }
    }

    fn send(&self, c: Control) {
        match self.control.try_send(c) {
            Ok(()) => {}
            Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => {
                self.shared.dropped_controls.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(h) = &self.analysis {
            h.thread().unpark();
        }
    }

    /// Tap tempo: call on each tap. Two or more taps set and hold the tempo; each tap puts a
    /// beat at its time. Never blocks.
    pub fn tap(&self) {
        self.send(Control::Tap(Instant::now()));
    }

    /// A beat falls now: restarts the beat phase (the tempo is kept). Never blocks.
    pub fn resync(&self) {
        self.send(Control::Resync(Instant::now()));
    }

    /// Drops a tapped tempo; the tempo follows the audio again. Never blocks.
    pub fn clear_tap(&self) {
        self.send(Control::ClearTap);
    }

    /// From now on, a copy of every sample the analysis reads (mono f32; silence while no
    /// device is connected), for a recording's sound: a ring of `capacity` samples and its
    /// sample rate (the source's now; a device reconnecting at another rate is not followed).
    /// What the ring has no room for is dropped and counted ([`Self::record_dropped`]).
    /// `None` when the analysis thread does not take the request (busy or stopped).
    #[must_use]
    pub fn record_samples(&self, capacity: usize) -> Option<(rtrb::Consumer<f32>, u32)> {
        let rate = match self.status() {
            CaptureStatus::Connected { sample_rate_hz, .. }
            | CaptureStatus::File { sample_rate_hz, .. } => sample_rate_hz,
            _ => REFERENCE_RATE_HZ,
        };
        let (producer, consumer) = RingBuffer::new(capacity.max(1));
        self.control
            .try_send(Control::Record(Some(producer)))
            .ok()
            .map(|()| (consumer, rate))
    }

    /// Samples the recording ring of [`Self::record_samples`] had no room for.
    #[must_use]
    pub fn record_dropped(&self) -> u64 {
        self.shared.record_dropped.load(Ordering::Relaxed)
    }

    /// Stops the threads. A producer thread stuck in a driver call is left behind after a
    /// second rather than blocking the caller.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::Release);
        for handle in [self.analysis.take(), self.producer.take()]
            .into_iter()
            .flatten()
        {
            handle.thread().unpark();
            let deadline = Instant::now() + JOIN_PATIENCE;
            while !handle.is_finished() && Instant::now() < deadline {
                thread::sleep(Duration::from_millis(2));
            }
            if handle.is_finished() {
                if handle.join().is_err() {
                    tracing::error!("an audio thread panicked");
                }
            } else {
                tracing::warn!("an audio thread did not stop within {JOIN_PATIENCE:?}; leaving it");
            }
        }
        self.shared.set_status(CaptureStatus::Stopped);
    }
}

impl Drop for AudioEngine {
    fn drop(&mut self) {
        if self.analysis.is_some() || self.producer.is_some() {
            self.shutdown();
        }
    }
}

/// Names of the engine's threads (also used in logs).
const ANALYSIS: &str = "hypna-audio-analysis";
/// See [`ANALYSIS`].
const SUPERVISOR: &str = "hypna-audio-supervisor";
/// See [`ANALYSIS`].
const FILE_PLAYER: &str = "hypna-audio-file";

/// Publishes silence (at the last published rate and band count), so readers do not see the
/// last loud value frozen while a panicked analysis waits to restart.
fn publish_silence(cell: &Latest) {
    let last = cell.get();
    let (rate, bands) = (last.sample_rate_hz, last.band_count);
    cell.publish(Arc::new(AudioFeatures::silent(rate, bands)));
}

/// The supervisor: open, watch, reopen. `ever_connected` outlives a restart, so the first
/// connection after one counts as a reconnection.
fn supervise(
    backend: &mut dyn CaptureBackend,
    config: &AudioConfig,
    tx: &SyncSender<Control>,
    shared: &Shared,
    ever_connected: &mut bool,
) {
    let retry = Duration::from_secs_f32(config.retry_secs);
    let stall = (config.stall_secs > 0.0).then(|| Duration::from_secs_f32(config.stall_secs));
    let mut attempts = 0u32;
    let mut lost_because: Option<String> = None;
    while !shared.stopping() {
        crate::restart::injected_panic(&shared.panic_producer);
        let (producer, consumer) = RingBuffer::new(RING_CAPACITY);
        let conn = Connection::new(Arc::clone(&shared.counters));
        let sink = CaptureSink::new(producer, Arc::clone(&conn));
        match backend.open(&config.device, config.buffer_frames, sink) {
            Ok(opened) => {
                if *ever_connected {
                    shared.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                *ever_connected = true;
                attempts = 0;
                let OpenedStream {
                    guard,
                    name,
                    sample_rate_hz,
                    channels,
                    sample_format,
                } = opened;
                if tx
                    .send(Control::Source(Some(Source {
                        consumer,
                        sample_rate_hz,
                    })))
                    .is_err()
                {
                    reap(guard);
                    break;
                }
                shared.set_status(CaptureStatus::Connected {
                    name,
                    sample_rate_hz,
                    channels,
                    sample_format,
                });
                let reason = watch(&conn, stall, shared);
                // The analysis thread may already be gone when stopping; nothing to tell then.
                drop(tx.send(Control::Source(None)));
                reap(guard);
                if let Some(reason) = reason {
                    shared.set_status(CaptureStatus::Reconnecting {
                        attempts: 0,
                        reason: reason.clone(),
                        last_error: None,
                    });
                    lost_because = Some(reason);
                }
            }
            Err(e) => {
                attempts = attempts.saturating_add(1);
                let error = e.to_string();
                shared.set_status(CaptureStatus::Reconnecting {
                    attempts,
                    reason: lost_because.clone().unwrap_or_else(|| error.clone()),
                    last_error: Some(error),
                });
                shared.nap(retry);
            }
        }
    }
}

/// Watches a connected stream; returns why it was given up (`None` when stopping).
fn watch(conn: &Connection, stall: Option<Duration>, shared: &Shared) -> Option<String> {
    let mut last_frames = conn.frames.load(Ordering::Acquire);
    let mut last_progress = Instant::now();
    let mut storm_since = Instant::now();
    let mut errors_then = conn.errors.load(Ordering::Acquire);
    loop {
        shared.nap(WATCH);
        if shared.stopping() {
            return None;
        }
        crate::restart::injected_panic(&shared.panic_producer);
        if conn.lost.load(Ordering::Acquire) {
            return Some("the device reported it is gone".to_string());
        }
        let window = storm_since.elapsed();
        if window >= STORM_SECS {
            let errors = conn.errors.load(Ordering::Acquire);
            let n = errors - errors_then;
            if n as f64 >= STORM_ERRORS_PER_SEC as f64 * window.as_secs_f64() {
                return Some(format!(
                    "{n} stream errors in {:.1} s",
                    window.as_secs_f32()
                ));
            }
            storm_since = Instant::now();
            errors_then = errors;
        }
        let frames = conn.frames.load(Ordering::Acquire);
        let now = Instant::now();
        if frames == last_frames {
            if let Some(limit) = stall
                && now - last_progress >= limit
            {
                return Some(format!(
                    "no samples for {:.1} s",
                    (now - last_progress).as_secs_f32()
                ));
            }
        } else {
            last_frames = frames;
            last_progress = now;
        }
    }
}

/// A decoded WAV file and how to play it.
struct FileSource<'a> {
    samples: &'a [f32],
    rate: u32,
    chunk: usize,
    looping: bool,
}

/// Pushes the file's samples into `sink` at the pace of the clock, `chunk` frames at a time,
/// from `read` on (kept by the caller, so a restarted player goes on where it was).
fn play_file(file: &FileSource<'_>, sink: &mut CaptureSink, read: &mut usize, shared: &Shared) {
    let FileSource {
        samples,
        rate,
        chunk,
        looping,
    } = *file;
    let chunk = chunk.max(1);
    let mut buf = vec![0.0f32; chunk];
    let start = Instant::now();
    let mut sent = 0u64;
    let period = Duration::from_secs_f64(chunk as f64 / f64::from(rate));
    while !shared.stopping() {
        crate::restart::injected_panic(&shared.panic_producer);
        let due = (start.elapsed().as_secs_f64() * f64::from(rate)) as u64;
        while sent + chunk as u64 <= due {
            for slot in &mut buf {
                *slot = if samples.is_empty() {
                    0.0
                } else if let Some(&v) = samples.get(*read) {
                    *read += 1;
                    v
                } else if looping {
                    *read = 1;
                    samples[0]
                } else {
                    0.0
                };
            }
            sink.push_mono(&buf);
            sent += chunk as u64;
        }
        shared.nap(period / 2);
    }
}

/// The analysis thread's body: `source` (the ring being read) outlives a restart.
/// Copies `samples` into a recording's ring, counting what does not fit (never waits).
fn copy_to_record(record: &mut Option<rtrb::Producer<f32>>, samples: &[f32], shared: &Shared) {
    let Some(ring) = record else { return };
    if ring.is_abandoned() {
        *record = None;
        return;
    }
    let n = samples.len().min(ring.slots());
    if n > 0
        && let Ok(mut chunk) = ring.write_chunk(n)
    {
        let (a, b) = chunk.as_mut_slices();
        let split = a.len();
        a.copy_from_slice(&samples[..split]);
        b.copy_from_slice(&samples[split..n]);
        chunk.commit_all();
    }
    if n < samples.len() {
        shared
            .record_dropped
            .fetch_add((samples.len() - n) as u64, Ordering::Relaxed);
    }
}

fn analyse(
    mut analyzer: Analyzer,
    config: &AudioConfig,
    rx: &Receiver<Control>,
    source: &mut Option<Source>,
    cell: &Latest,
    shared: &Shared,
) {
    let mut last_data = Instant::now();
    let mut silence: Option<(Instant, u64)> = None;
    let zeros = vec![0.0f32; 1024];
    let mut published_pos = u64::MAX;
    let mut hops_before = 0u64;
    let mut pending: Vec<Control> = Vec::with_capacity(CONTROL_CAPACITY);
    let mut record: Option<rtrb::Producer<f32>> = None;
    loop {
        if shared.stopping() {
            return;
        }
        crate::restart::injected_panic(&shared.panic_analysis);
        loop {
            match rx.try_recv() {
                Ok(Control::Source(s)) => {
                    if let Some(s) = &s
                        && s.sample_rate_hz != analyzer.sample_rate_hz()
                    {
                        match Analyzer::new(config, s.sample_rate_hz) {
                            Ok(a) => {
                                analyzer = a;
                                published_pos = u64::MAX;
                                hops_before = 0;
                            }
                            Err(e) => tracing::error!("audio analysis cannot run: {e}"),
                        }
                    }
                    *source = s;
                    last_data = Instant::now();
                    silence = None;
                }
                Ok(Control::Record(ring)) => record = ring,
                // Applied after the ring is drained, when the newest analysed sample is "now".
                Ok(c) => pending.push(c),
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return,
            }
        }
        let now = Instant::now();
        let mut got = false;
        if let Some(src) = source.as_mut() {
            let n = src.consumer.slots();
            if n > 0
                && let Ok(chunk) = src.consumer.read_chunk(n)
            {
                let (a, b) = chunk.as_slices();
                analyzer.process(a);
                analyzer.process(b);
                copy_to_record(&mut record, a, shared);
                copy_to_record(&mut record, b, shared);
                chunk.commit_all();
                got = true;
                last_data = now;
                silence = None;
            }
        }
        // No samples for a while (device lost, stalled, or not yet found): bridge with
        // silence at the real-time rate so features decay and the beat phase runs on.
        if !got && now - last_data >= GAP {
            let (since, generated) = silence.get_or_insert((now, 0));
            let due = (now.duration_since(*since).as_secs_f64()
                * f64::from(analyzer.sample_rate_hz())) as u64;
            while *generated < due {
                let k = ((due - *generated) as usize).min(zeros.len());
                analyzer.process(&zeros[..k]);
                copy_to_record(&mut record, &zeros[..k], shared);
                *generated += k as u64;
            }
        }
        for c in pending.drain(..) {
            match c {
                Control::Tap(at) => {
                    let pos = position_at(&analyzer, at);
                    analyzer.tap(pos);
                }
                Control::Resync(at) => {
                    let pos = position_at(&analyzer, at);
                    analyzer.resync(pos);
                }
                Control::ClearTap => analyzer.clear_tap(),
                Control::Source(_) | Control::Record(_) => {}
            }
        }
        let f = analyzer.features();
        if f.stream_pos != published_pos {
            published_pos = f.stream_pos;
            cell.publish(Arc::new(f.clone()));
            let hops = analyzer.position() / analyzer.hop_len() as u64;
            shared
                .hops
                .fetch_add(hops.saturating_sub(hops_before), Ordering::Relaxed);
            hops_before = hops;
        } else if !got {
            thread::park_timeout(POLL);
        }
    }
}

/// The stream position of wall-clock time `at`, taking the newest analysed sample as now.
fn position_at(analyzer: &Analyzer, at: Instant) -> u64 {
    let ago = Instant::now().saturating_duration_since(at).as_secs_f64();
    let back = (ago * f64::from(analyzer.sample_rate_hz())) as u64;
    analyzer.position().saturating_sub(back)
}

/// Convenience for readers that only want one value now and then.
impl AudioEngine {
    /// The newest features, copied (prefer a long-lived [`FeaturesReader`] per consumer).
    #[must_use]
    pub fn latest(&self) -> AudioFeatures {
        let mut r = self.reader();
        r.latest().clone()
    }
}
