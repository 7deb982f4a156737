//! Live recording and streaming (`run --record FILE`, `run --stream URL`, key V, OSC
//! `/hypna/record start|stop`): the internal render (never the overlay) is blitted into an
//! RGBA8 target, copied into a pipelined readback ring, and handed to the encoder
//! ([`crate::media::encode`]) with the time it was shown, with the live audio input as its
//! sound. The frame never waits: ffmpeg starts on a job thread (frames are recorded once it
//! runs), a copy with no free staging buffer or a frame the encoder's queue cannot take is
//! dropped and counted (HUD), and stopping closes the file on a thread of its own.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::overlay::RecordStatus;
use crate::media::codec::{AudioTrack, EncodeSettings, Target};
use crate::media::encode::{EncodeCounters, EncodeError, Encoder, LiveAudio};
use crate::render::blit::{Blitter, Fit};
use crate::render::context::Gpu;
use crate::render::readback::Readback;
use crate::runtime::Runtime;
use crate::show::job::{Job, Priority};

/// Staging buffers in flight (frames between the copy and the encoder).
const READBACK_DEPTH: usize = 4;
/// Frames waiting for the encoder at most.
const ENCODER_QUEUE: usize = 4;
/// Seconds of live audio the recording's ring holds (at up to 96 kHz): room for ffmpeg's
/// start, when the samples wait for it to connect.
const AUDIO_RING_SECS: usize = 8;

/// What `hypna run` records or streams to.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// Codec, encoder, quality and frame rate; the target is the first recording's (a
    /// later one, after a stop, gets `-2`, `-3`, ... before the extension; a stream is
    /// restarted at the same URL). The size is the internal render's when it starts.
    pub settings: EncodeSettings,
    /// Start at launch (`--record`, `--stream`); otherwise the V key or OSC starts it.
    pub start: bool,
    /// Record the live audio input as the sound.
    pub audio: bool,
}

impl RecordOptions {
    /// What the V key records without `--record`: `hypna-<scene>-<unix time>.mkv` in `dir`,
    /// H.264 at 30 frames/s with the live audio.
    #[must_use]
    pub fn key_default(dir: &Path, scene: &Path) -> Self {
        let stem = scene
            .file_stem()
            .map_or_else(|| "scene".into(), |s| s.to_string_lossy().into_owned());
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let mut settings = EncodeSettings::new(
            Target::File(dir.join(format!("hypna-{stem}-{stamp}.mkv"))),
            [0, 0],
            30.0,
        );
        settings.live = true;
        Self {
            settings,
            start: false,
            audio: true,
        }
    }
}

/// A recording whose ffmpeg is starting.
struct Starting {
    job: Job<Result<Encoder, EncodeError>>,
    size: [u32; 2],
    fps: f64,
    sound: bool,
}

struct Active {
    encoder: Encoder,
    counters: Arc<EncodeCounters>,
    size: [u32; 2],
    target: wgpu::Texture,
    readback: Readback,
    /// When each frame in the readback ring was shown: (readback frame number, time).
    shown: Vec<(u64, Instant)>,
    started: Instant,
    /// Copies skipped because every staging buffer was busy.
    busy: u64,
    label: String,
}

/// The window's recorder; see the module doc.
pub(super) struct Recorder {
    options: Option<RecordOptions>,
    dir: PathBuf,
    active: Option<Active>,
    starting: Option<Starting>,
    /// Recordings started so far (names the next file).
    count: u32,
    /// Frame numbers of copies (own numbering: the show's frames may repeat after a switch).
    copies: u64,
}

impl Recorder {
    /// `options` from the command line; V-key recordings without them go to `dir`.
    pub(super) fn new(options: Option<RecordOptions>, dir: &Path) -> Self {
        Self {
            options,
            dir: dir.to_path_buf(),
            active: None,
            starting: None,
            count: 0,
            copies: 0,
        }
    }

    /// Whether recording starts with the show.
    pub(super) fn starts_at_launch(&self) -> bool {
        self.options.as_ref().is_some_and(|o| o.start)
    }

    /// Whether a recording runs (or its ffmpeg is starting).
    pub(super) fn recording(&self) -> bool {
        self.active.is_some() || self.starting.is_some()
    }

    /// Starts a recording of `runtime`'s output: ffmpeg starts on a job thread, frames are
    /// recorded from the frame after it runs (a failure is logged and the show goes on).
    pub(super) fn start(&mut self, runtime: &Runtime) {
        if self.recording() {
            return;
        }
        let Some((size, _)) = runtime.output_info() else {
            return;
        };
        let mut options = self
            .options
            .clone()
            .unwrap_or_else(|| RecordOptions::key_default(&self.dir, &runtime.scene().path));
        self.count += 1;
        if self.count > 1
            && let Target::File(path) = &options.settings.target
        {
            options.settings.target = Target::File(numbered(path, self.count));
        }
        options.settings.size = size;
        options.settings.live = true;
        let live_audio = if options.audio {
            runtime.record_audio(96_000 * AUDIO_RING_SECS)
        } else {
            None
        };
        let audio = if let Some((samples, rate_hz)) = live_audio {
            options.settings.audio = AudioTrack::Live { rate_hz };
            Some(LiveAudio {
                samples,
                since: Instant::now(),
            })
        } else {
            options.settings.audio = AudioTrack::None;
            None
        };
        let sound = audio.is_some();
        let fps = options.settings.fps;
        let settings = options.settings;
        match Job::spawn("hypna-record-start", Priority::Normal, move || {
            Encoder::start(&settings, ENCODER_QUEUE, audio)
        }) {
            Ok(job) => {
                self.starting = Some(Starting {
                    job,
                    size,
                    fps,
                    sound,
                });
            }
            Err(e) => tracing::error!("cannot record: {e}"),
        }
    }

    /// The recording whose ffmpeg started, made active (or its error logged).
    fn started(&mut self, gpu: &Gpu) {
        let Some(result) = self.starting.as_ref().and_then(|s| s.job.try_take()) else {
            return;
        };
        let Some(Starting {
            size, fps, sound, ..
        }) = self.starting.take()
        else {
            return;
        };
        let encoder = match result {
            Ok(Ok(e)) => e,
            Ok(Err(e)) => {
                tracing::error!("cannot record: {e}");
                return;
            }
            Err(e) => {
                tracing::error!("cannot record: starting ffmpeg {e}");
                return;
            }
        };
        let label = encoder.target().to_string();
        tracing::info!(
            "recording {label} ({}x{}, {fps} frames/s, {}{})",
            size[0],
            size[1],
            encoder.encoder_name(),
            if sound { ", live audio" } else { ", no sound" }
        );
        let target = crate::render::texture_2d(
            &gpu.device,
            "record.rgba8",
            size,
            wgpu::TextureFormat::Rgba8Unorm,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        );
        self.active = Some(Active {
            counters: encoder.counters(),
            encoder,
            size,
            target,
            readback: Readback::new(&gpu.device, size, READBACK_DEPTH),
            shown: Vec::with_capacity(READBACK_DEPTH),
            started: Instant::now(),
            busy: 0,
            label,
        });
    }

    /// Stops the recording; the file is closed on a thread of its own.
    pub(super) fn stop(&mut self) {
        if self.starting.take().is_some() {
            // The job's encoder, when it comes, is dropped with its channel: closed then.
            tracing::info!("recording stopped before ffmpeg had started");
        }
        if let Some(active) = self.active.take() {
            tracing::info!(
                "recording of {} stopped ({} frames, {} dropped)",
                active.label,
                active.counters.written.load(Ordering::Relaxed),
                dropped(&active)
            );
            active.encoder.finish_in_background();
        }
    }

    /// Starts when stopped, stops when recording (the V key).
    pub(super) fn toggle(&mut self, runtime: &Runtime) {
        if self.recording() {
            self.stop();
        } else {
            self.start(runtime);
        }
    }

    /// Records this frame's copy (shown at `shown`) into `encoder`; a busy ring skips it
    /// (counted).
    pub(super) fn record_copy(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        blitter: &mut Blitter,
        runtime: &Runtime,
        shown: Instant,
    ) {
        let Some(active) = self.active.as_mut() else {
            return;
        };
        let (Some(src), Some((size, format))) = (runtime.output_view(), runtime.output_info())
        else {
            return;
        };
        if !active.readback.has_free_slot() {
            active.busy += 1;
            return;
        }
        let view = active
            .target
            .create_view(&wgpu::TextureViewDescriptor::default());
        blitter.blit(
            &gpu.device,
            encoder,
            src,
            size,
            format,
            &view,
            active.size,
            wgpu::TextureFormat::Rgba8Unorm,
            Fit::Letterbox,
        );
        self.copies += 1;
        if active.readback.copy(encoder, &active.target, self.copies) {
            active.shown.push((self.copies, shown));
        }
    }

    /// After the frame's submit: starts mapping what was copied.
    pub(super) fn after_submit(&mut self) {
        if let Some(active) = &mut self.active {
            active.readback.after_submit();
        }
    }

    /// Hands every frame read back so far to the encoder (never waits); a recording whose
    /// ffmpeg has started becomes active. An encoder that stopped (ffmpeg failed) ends the
    /// recording.
    pub(super) fn collect(&mut self, gpu: &Gpu) {
        self.started(gpu);
        let Some(active) = &mut self.active else {
            return;
        };
        for image in active.readback.collect() {
            let Some(i) = active.shown.iter().position(|s| s.0 == image.frame) else {
                continue;
            };
            let (_, shown) = active.shown.swap_remove(i);
            active.encoder.try_send(image.rgba, shown);
        }
        if !active.encoder.running() {
            tracing::error!("the encoder of {} stopped: recording ends", active.label);
            self.stop();
        }
    }

    /// The HUD line, while recording.
    pub(super) fn status(&self) -> Option<RecordStatus<'_>> {
        self.active.as_ref().map(|a| RecordStatus {
            target: &a.label,
            secs: a.started.elapsed().as_secs_f64(),
            written: a.counters.written.load(Ordering::Relaxed),
            dropped: dropped(a),
        })
    }

    /// Frames dropped by the running recording (readback busy or encoder behind).
    pub(super) fn dropped(&self) -> u64 {
        self.active.as_ref().map_or(0, dropped)
    }

    /// At exit: the frames in flight read back (at most 2 s), then the file closed (waits
    /// for ffmpeg, so the file is complete when `hypna run` returns).
    pub(super) fn finish(&mut self, gpu: &Gpu) {
        if let Some(starting) = self.starting.take() {
            // Starting: wait for it (at most 10 s), so a short run still leaves its file.
            let deadline = Instant::now() + Duration::from_secs(10);
            loop {
                if let Some(result) = starting.job.try_take() {
                    if let Ok(Ok(encoder)) = result {
                        drop(encoder.finish());
                    }
                    break;
                }
                if Instant::now() > deadline {
                    break;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        let Some(mut active) = self.active.take() else {
            return;
        };
        let deadline = Instant::now() + Duration::from_secs(2);
        while active.readback.pending() && Instant::now() < deadline {
            gpu.wait_idle();
            for image in active.readback.collect() {
                if let Some(i) = active.shown.iter().position(|s| s.0 == image.frame) {
                    let (_, shown) = active.shown.swap_remove(i);
                    active.encoder.try_send(image.rgba, shown);
                }
            }
        }
        let busy = active.busy;
        match active.encoder.finish() {
            Ok(s) => tracing::info!(
                "recorded {}: {} frames ({} repeated to keep time; dropped: {} by the encoder, {busy} with the readback busy, {} while ffmpeg started)",
                active.label,
                s.written,
                s.repeated,
                s.dropped,
                s.startup_dropped
            ),
            Err(e) => tracing::error!("{e}"),
        }
    }

    /// After a device loss: the ring and target of the old device are dropped; the
    /// recording goes on with new ones at the next frame.
    pub(super) fn reset(&mut self, gpu: &Gpu) {
        if let Some(active) = &mut self.active {
            active.readback = Readback::new(&gpu.device, active.size, READBACK_DEPTH);
            active.shown.clear();
            active.target = crate::render::texture_2d(
                &gpu.device,
                "record.rgba8",
                active.size,
                wgpu::TextureFormat::Rgba8Unorm,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            );
        }
    }
}

fn dropped(active: &Active) -> u64 {
    active.busy + active.counters.dropped.load(Ordering::Relaxed)
}

/// `show.mkv` -> `show-2.mkv`.
fn numbered(path: &Path, n: u32) -> PathBuf {
    let stem = path
        .file_stem()
        .map_or_else(|| "recording".into(), |s| s.to_string_lossy().into_owned());
    let name = match path.extension() {
        Some(ext) => format!("{stem}-{n}.{}", ext.to_string_lossy()),
        None => format!("{stem}-{n}"),
    };
    path.with_file_name(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn later_recordings_are_numbered() {
        assert_eq!(
            numbered(Path::new("out/show.mkv"), 2),
            PathBuf::from("out/show-2.mkv")
        );
    }
}
