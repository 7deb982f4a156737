//! The encoder: an `ffmpeg` child process fed raw RGBA frames through its stdin by a thread
//! of its own, behind a bounded queue. An offline render waits for room ([`Encoder::send`]:
//! every frame is encoded, memory stays flat); the live window never waits
//! ([`Encoder::try_send`]: a full queue drops the frame and counts it). Live frames carry the
//! time they were shown, and the writer lays them on the video's fixed frame grid (a late
//! frame repeats the last one, so picture and sound stay in step). A live audio track arrives
//! as mono f32 samples over a loopback TCP connection ffmpeg opens. If ffmpeg dies, the
//! writes fail, frames are dropped and counted, and the error (with ffmpeg's last words)
//! comes back from [`Encoder::finish`]; the show goes on.

use std::io::Write as _;
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::ChildStdin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::codec::{AudioTrack, EncodeSettings, Plan, PlanError, Target, plan};
use super::encoders::{EncoderInfo, encoders};
use super::process::{Ffmpeg, ProcessError, Stdin, program};

/// How long ffmpeg has to open the live audio connection before the track is given up.
const AUDIO_CONNECT: Duration = Duration::from_secs(10);
/// At most this many seconds of repeated frames bridge a stall of the live picture.
const MAX_BRIDGE_SECS: f64 = 5.0;

/// Errors of an encode.
#[derive(Debug, thiserror::Error)]
pub enum EncodeError {
    /// The settings do not fit (found before ffmpeg starts).
    #[error(transparent)]
    Plan(#[from] PlanError),
    /// ffmpeg is missing or could not be started.
    #[error(transparent)]
    Process(#[from] ProcessError),
    /// ffmpeg could not be asked for its encoders.
    #[error("cannot ask {} for its encoders: {source}", program.display())]
    Encoders {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A thread or the audio socket could not be set up.
    #[error("cannot start the encoder: {0}")]
    Setup(#[source] std::io::Error),
    /// ffmpeg failed (or ended before taking every frame).
    #[error("ffmpeg failed writing {target} ({status}): {stderr}")]
    Failed {
        /// The file or URL.
        target: String,
        /// Its exit status, or what went wrong.
        status: String,
        /// Its last lines of messages.
        stderr: String,
    },
    /// The encoder stopped: frames can no longer be sent ([`Encoder::finish`] says why).
    #[error("the encoder stopped")]
    Stopped,
}

/// Counters of an encode, readable from any thread (the HUD, `/hypna/status`).
#[derive(Debug, Default)]
pub struct EncodeCounters {
    /// Frames handed to ffmpeg (each once).
    pub written: AtomicU64,
    /// Frames dropped once ffmpeg ran: the queue was full, or ffmpeg had stopped.
    pub dropped: AtomicU64,
    /// Frames dropped while ffmpeg started (before it had taken the first frame).
    pub startup_dropped: AtomicU64,
    /// ffmpeg has taken the first frame.
    pub running: AtomicBool,
    /// Live: frames written again to bridge a late frame (kept on the time grid).
    pub repeated: AtomicU64,
    /// Live: frames left out because two arrived within one frame of the video.
    pub skipped: AtomicU64,
}

impl EncodeCounters {
    fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }
}

/// What an encode did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EncodeSummary {
    /// Frames encoded once.
    pub written: u64,
    /// Frames dropped once ffmpeg ran (queue full, or ffmpeg gone).
    pub dropped: u64,
    /// Frames dropped while ffmpeg started.
    pub startup_dropped: u64,
    /// Frames repeated to keep live timing.
    pub repeated: u64,
}

struct Frame {
    rgba: Vec<u8>,
    shown: Option<Instant>,
}

/// The live sound of a recording: mono f32 samples at the [`AudioTrack::Live`] rate, as a
/// ring the audio input fills from `since` on. The samples before the first frame are left
/// out, so the sound starts with the picture.
pub struct LiveAudio {
    /// The samples.
    pub samples: rtrb::Consumer<f32>,
    /// When the first sample in the ring was captured (about).
    pub since: Instant,
}

/// A running encode; see the module doc.
pub struct Encoder {
    tx: Option<SyncSender<Frame>>,
    writer: Option<JoinHandle<Result<(), std::io::Error>>>,
    ffmpeg: Option<Ffmpeg>,
    audio: Option<JoinHandle<()>>,
    stop_audio: Arc<AtomicBool>,
    counters: Arc<EncodeCounters>,
    frame_bytes: usize,
    target: String,
    plan: Plan,
}

impl Encoder {
    /// Starts ffmpeg for `settings` with room for `queue` frames waiting. A live audio track
    /// ([`AudioTrack::Live`]) reads its samples from `live_audio`.
    ///
    /// # Errors
    /// Settings that do not fit, no ffmpeg, or a thread that cannot start.
    pub fn start(
        settings: &EncodeSettings,
        queue: usize,
        live_audio: Option<LiveAudio>,
    ) -> Result<Self, EncodeError> {
        let program = program()?;
        let available = cached_encoders(&program)?;
        let listener = match (&settings.audio, &live_audio) {
            (AudioTrack::Live { .. }, Some(_)) => {
                Some(TcpListener::bind("127.0.0.1:0").map_err(EncodeError::Setup)?)
            }
            _ => None,
        };
        let port = listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
            .map(|a| a.port());
        let mut plan = plan(settings, &available, port)?;
        if matches!(settings.audio, AudioTrack::Live { .. }) && listener.is_none() {
            // A live track with no samples to give: encode the picture alone.
            plan = super::codec::plan(
                &EncodeSettings {
                    audio: AudioTrack::None,
                    ..settings.clone()
                },
                &available,
                None,
            )?;
        }
        let target = match &settings.target {
            Target::File(path) => path.display().to_string(),
            Target::Stream(url) => url.clone(),
        };
        if let Target::File(path) = &settings.target
            && let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(EncodeError::Setup)?;
        }
        tracing::debug!("ffmpeg {:?}", plan.args);
        let mut ffmpeg = Ffmpeg::spawn_program(&program, &plan.args, Stdin::Piped)?;
        let counters = Arc::new(EncodeCounters::default());
        let stop_audio = Arc::new(AtomicBool::new(false));
        let mut encoder = Self {
            tx: None,
            writer: None,
            ffmpeg: None,
            audio: None,
            stop_audio: Arc::clone(&stop_audio),
            counters: Arc::clone(&counters),
            frame_bytes: settings.size[0] as usize * settings.size[1] as usize * 4,
            target,
            plan,
        };
        let Some(stdin) = ffmpeg.take_stdin() else {
            return Err(EncodeError::Setup(std::io::Error::other(
                "no pipe to ffmpeg",
            )));
        };
        encoder.ffmpeg = Some(ffmpeg);
        let (tx, rx) = sync_channel(queue.max(1));
        let fps = settings.fps;
        let writer_counters = Arc::clone(&counters);
        let first_frame = Arc::new(OnceLock::new());
        let first = Arc::clone(&first_frame);
        encoder.writer = Some(
            std::thread::Builder::new()
                .name("hypna-encode".into())
                .spawn(move || write_frames(stdin, &rx, fps, &writer_counters, &first))
                .map_err(EncodeError::Setup)?,
        );
        encoder.tx = Some(tx);
        if let (Some(listener), Some(audio), AudioTrack::Live { rate_hz }) =
            (listener, live_audio, &settings.audio)
        {
            let rate_hz = *rate_hz;
            encoder.audio = Some(
                std::thread::Builder::new()
                    .name("hypna-encode-audio".into())
                    .spawn(move || {
                        feed_audio(&listener, audio, rate_hz, &first_frame, &stop_audio);
                    })
                    .map_err(EncodeError::Setup)?,
            );
        }
        Ok(encoder)
    }

    /// The encoder ffmpeg runs (`libx264`, `h264_nvenc`, ...).
    #[must_use]
    pub fn encoder_name(&self) -> &str {
        &self.plan.encoder
    }

    /// The file or URL written.
    #[must_use]
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Counters of this encode (shared, live).
    #[must_use]
    pub fn counters(&self) -> Arc<EncodeCounters> {
        Arc::clone(&self.counters)
    }

    /// Queues a frame (RGBA8, the settings' size), waiting for room: an offline render.
    ///
    /// # Errors
    /// [`EncodeError::Stopped`] when ffmpeg has stopped ([`Self::finish`] says why), or the
    /// frame has the wrong size.
    pub fn send(&self, rgba: Vec<u8>) -> Result<(), EncodeError> {
        if rgba.len() != self.frame_bytes {
            return Err(EncodeError::Failed {
                target: self.target.clone(),
                status: format!("a frame of {} bytes, not {}", rgba.len(), self.frame_bytes),
                stderr: String::new(),
            });
        }
        let tx = self.tx.as_ref().ok_or(EncodeError::Stopped)?;
        tx.send(Frame { rgba, shown: None })
            .map_err(|_| EncodeError::Stopped)
    }

    /// Queues a frame shown at `shown` without waiting: the live window. A frame the queue
    /// cannot take (full, ffmpeg stopped, wrong size) is dropped and counted.
    pub fn try_send(&self, rgba: Vec<u8>, shown: Instant) {
        let sent = rgba.len() == self.frame_bytes
            && self.tx.as_ref().is_some_and(|tx| {
                match tx.try_send(Frame {
                    rgba,
                    shown: Some(shown),
                }) {
                    Ok(()) => true,
                    Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) => false,
                }
            });
        if !sent {
            if self.counters.running.load(Ordering::Acquire) {
                EncodeCounters::add(&self.counters.dropped, 1);
            } else {
                EncodeCounters::add(&self.counters.startup_dropped, 1);
            }
        }
    }

    /// Whether ffmpeg is still taking frames.
    #[must_use]
    pub fn running(&self) -> bool {
        self.writer.as_ref().is_some_and(|w| !w.is_finished())
    }

    /// Encodes what is queued, closes the video (and the audio) and waits for ffmpeg.
    ///
    /// # Errors
    /// [`EncodeError::Failed`] when ffmpeg failed or stopped early, with its messages.
    pub fn finish(mut self) -> Result<EncodeSummary, EncodeError> {
        self.stop()
    }

    /// [`Self::finish`] on a thread of its own (the live window stops a recording without
    /// waiting); the result is logged.
    pub fn finish_in_background(self) {
        let target = self.target.clone();
        let label = target.clone();
        let spawned = std::thread::Builder::new()
            .name("hypna-encode-finish".into())
            .spawn(move || match self.finish() {
                Ok(s) => tracing::info!(
                    "recorded {target}: {} frames ({} repeated to keep time, {} dropped, {} while ffmpeg started)",
                    s.written,
                    s.repeated,
                    s.dropped,
                    s.startup_dropped
                ),
                Err(e) => tracing::error!("{e}"),
            });
        if let Err(e) = spawned {
            tracing::error!("cannot close the recording of {label}: {e}");
        }
    }

    fn stop(&mut self) -> Result<EncodeSummary, EncodeError> {
        self.tx = None;
        let written = self.writer.take().map(JoinHandle::join);
        self.stop_audio.store(true, Ordering::Release);
        if let Some(audio) = self.audio.take() {
            drop(audio.join());
        }
        let ended = self.ffmpeg.take().map(Ffmpeg::finish);
        let failed = |status: String, stderr: String| EncodeError::Failed {
            target: self.target.clone(),
            status,
            stderr,
        };
        match ended {
            Some(Err(ProcessError::Failed { status, tail })) => {
                return Err(failed(status.to_string(), tail));
            }
            Some(Err(e)) => return Err(failed(e.to_string(), String::new())),
            _ => {}
        }
        let failed = |status: String| failed(status, String::new());
        match written {
            Some(Ok(Err(e))) => return Err(failed(format!("writing frames: {e}"))),
            Some(Err(_)) => return Err(failed("the writer thread panicked".into())),
            _ => {}
        }
        Ok(EncodeSummary {
            written: self.counters.written.load(Ordering::Relaxed),
            dropped: self.counters.dropped.load(Ordering::Relaxed),
            startup_dropped: self.counters.startup_dropped.load(Ordering::Relaxed),
            repeated: self.counters.repeated.load(Ordering::Relaxed),
        })
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        if self.ffmpeg.is_some() {
            // Not finished: close it without waiting here.
            let rest = Self {
                tx: self.tx.take(),
                writer: self.writer.take(),
                ffmpeg: self.ffmpeg.take(),
                audio: self.audio.take(),
                stop_audio: Arc::clone(&self.stop_audio),
                counters: Arc::clone(&self.counters),
                frame_bytes: self.frame_bytes,
                target: std::mem::take(&mut self.target),
                plan: self.plan.clone(),
            };
            rest.finish_in_background();
        }
    }
}

/// The encoders of `program`, asked once per process (`ffmpeg -encoders` takes a while).
fn cached_encoders(program: &std::path::Path) -> Result<Vec<EncoderInfo>, EncodeError> {
    type Cache = std::sync::Mutex<Vec<(PathBuf, Vec<EncoderInfo>)>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    let known = cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .iter()
        .find(|(p, _)| p == program)
        .map(|(_, e)| e.clone());
    if let Some(e) = known {
        return Ok(e);
    }
    let listed = encoders(program).map_err(|source| EncodeError::Encoders {
        program: program.to_path_buf(),
        source,
    })?;
    cache
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push((program.to_path_buf(), listed.clone()));
    Ok(listed)
}

/// The writer thread: frames to ffmpeg's stdin, live ones laid on the time grid (the first
/// one's time is published in `first`).
fn write_frames(
    mut stdin: ChildStdin,
    rx: &Receiver<Frame>,
    fps: f64,
    counters: &EncodeCounters,
    first: &OnceLock<Instant>,
) -> Result<(), std::io::Error> {
    let mut grid = Grid::new(fps);
    let mut last: Option<Vec<u8>> = None;
    for frame in rx {
        let repeats = match frame.shown {
            None => 0,
            Some(shown) => {
                // Set once; later frames find it set.
                first.get_or_init(|| shown);
                let Some(repeats) = grid.place(shown) else {
                    EncodeCounters::add(&counters.skipped, 1);
                    continue;
                };
                repeats
            }
        };
        if let Some(prev) = &last {
            for _ in 0..repeats {
                stdin.write_all(prev)?;
                EncodeCounters::add(&counters.repeated, 1);
            }
        }
        if let Err(e) = stdin.write_all(&frame.rgba) {
            // Everything still queued is lost with it.
            EncodeCounters::add(&counters.dropped, 1 + rx.try_iter().count() as u64);
            return Err(e);
        }
        EncodeCounters::add(&counters.written, 1);
        counters.running.store(true, Ordering::Release);
        if frame.shown.is_some() {
            last = Some(frame.rgba);
        }
    }
    stdin.flush()
}

/// Live frames on the video's frame grid: frame k of the video shows at k/fps after the
/// first frame.
struct Grid {
    fps: f64,
    first: Option<Instant>,
    next: u64,
}

impl Grid {
    fn new(fps: f64) -> Self {
        Self {
            fps,
            first: None,
            next: 0,
        }
    }

    /// For a frame shown at `shown`: how many times to repeat the previous frame before it
    /// (a gap), or `None` to leave it out (its slot of the grid is taken).
    fn place(&mut self, shown: Instant) -> Option<u64> {
        let first = *self.first.get_or_insert(shown);
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let slot = (shown.saturating_duration_since(first).as_secs_f64() * self.fps).round() as u64;
        if slot < self.next {
            return None;
        }
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let bridge = (MAX_BRIDGE_SECS * self.fps) as u64;
        let gap = slot - self.next;
        self.next = slot + 1;
        Some(gap.min(bridge))
    }
}

/// The live audio thread: waits for ffmpeg to connect and for the first frame, leaves out
/// the samples from before that frame, then hands ffmpeg every sample.
fn feed_audio(
    listener: &TcpListener,
    audio: LiveAudio,
    rate_hz: u32,
    first_frame: &OnceLock<Instant>,
    stop: &AtomicBool,
) {
    let LiveAudio { mut samples, since } = audio;
    let Some(mut stream) = accept(listener, stop) else {
        return;
    };
    let first = loop {
        if stop.load(Ordering::Acquire) {
            return;
        }
        if let Some(first) = first_frame.get() {
            break *first;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let mut early =
        (first.saturating_duration_since(since).as_secs_f64() * f64::from(rate_hz)) as usize;
    while early > 0 && !stop.load(Ordering::Acquire) {
        let n = samples.slots().min(early);
        if n == 0 {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        if let Ok(chunk) = samples.read_chunk(n) {
            chunk.commit_all();
        }
        early -= n;
    }
    let mut bytes: Vec<u8> = Vec::with_capacity(4096 * 4);
    while !stop.load(Ordering::Acquire) {
        let n = samples.slots().min(4096);
        if n == 0 {
            std::thread::sleep(Duration::from_millis(5));
            continue;
        }
        bytes.clear();
        if let Ok(chunk) = samples.read_chunk(n) {
            for s in chunk {
                bytes.extend_from_slice(&s.to_le_bytes());
            }
        }
        if let Err(e) = stream.write_all(&bytes) {
            tracing::warn!("the recording's audio track stopped: {e}");
            return;
        }
    }
}

fn accept(listener: &TcpListener, stop: &AtomicBool) -> Option<TcpStream> {
    if let Err(e) = listener.set_nonblocking(true) {
        tracing::warn!("the recording has no audio track: {e}");
        return None;
    }
    let deadline = Instant::now() + AUDIO_CONNECT;
    while !stop.load(Ordering::Acquire) && Instant::now() < deadline {
        match listener.accept() {
            Ok((stream, _)) => {
                if stream.set_nonblocking(false).is_err() {
                    return None;
                }
                return Some(stream);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                // The samples wait in the ring meanwhile: the track starts with the
                // recording (the first frame), not when ffmpeg got round to connecting.
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => {
                tracing::warn!("the recording has no audio track: {e}");
                return None;
            }
        }
    }
    if !stop.load(Ordering::Acquire) {
        tracing::warn!("ffmpeg did not open the live audio track: the recording has no sound");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn live_frames_land_on_the_time_grid() {
        let mut grid = Grid::new(10.0);
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        assert_eq!(grid.place(at(0)), Some(0));
        assert_eq!(grid.place(at(100)), Some(0), "on time");
        assert_eq!(grid.place(at(130)), None, "slot 1 is taken");
        assert_eq!(
            grid.place(at(420)),
            Some(2),
            "slot 4: slots 2 and 3 repeat the last frame"
        );
        assert_eq!(
            grid.place(at(60_000)),
            Some(50),
            "a long stall bridged at most 5 s"
        );
    }
}
