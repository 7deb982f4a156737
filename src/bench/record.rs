//! `hypna bench --record`: `hypna run`'s frame in a real window with live recording on
//! against the same window without it, in interleaved rounds: frame time percentiles (p99
//! against the goal of at most 1.25x) and the frames the recording dropped. Drives the
//! window through its [`FrameHook`]; each recording round writes a file into a temporary
//! folder, removed at the end.

use std::time::Instant;

use super::{BenchError, Stats, percentile};
use crate::window::{Flow, FrameHook, Live, RunOptions, WindowError};

/// Frames left out after a recording starts or stops (ffmpeg starting, the ring filling).
const SETTLE_FRAMES: u32 = 15;

/// `hypna bench --record`: what live recording costs the frame.
#[derive(Debug, Clone)]
pub struct RecordBenchReport {
    /// The adapter.
    pub adapter: String,
    /// Window size, present mode, render size.
    pub setup: String,
    /// The encoder used.
    pub encoder: String,
    /// Frames while recording.
    pub recording: Stats,
    /// p99 while recording, ms.
    pub recording_p99_ms: f64,
    /// Frames without recording.
    pub plain: Stats,
    /// p99 without recording, ms.
    pub plain_p99_ms: f64,
    /// Frames the recordings dropped (readback busy, encoder behind), all rounds.
    pub dropped: u64,
    /// Frames shown while recording (measured or not), all rounds.
    pub shown: u64,
}

impl RecordBenchReport {
    /// p99 with recording over p99 without.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.recording_p99_ms / self.plain_p99_ms.max(1e-9)
    }
}

impl std::fmt::Display for RecordBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "adapter:    {}", self.adapter)?;
        writeln!(f, "window:     {}", self.setup)?;
        writeln!(f, "encoder:    {}", self.encoder)?;
        writeln!(
            f,
            "recording:  {}  p99 {:.2} ms",
            self.recording, self.recording_p99_ms
        )?;
        writeln!(
            f,
            "plain:      {}  p99 {:.2} ms",
            self.plain, self.plain_p99_ms
        )?;
        writeln!(
            f,
            "dropped:    {} of {} frames shown while recording",
            self.dropped, self.shown
        )?;
        write!(
            f,
            "ratio recording/plain (p99): {:.3} (goal <= 1.25)",
            self.ratio()
        )
    }
}

struct RecordBench {
    frames: u32,
    rounds: u32,
    round: u32,
    done: u32,
    settle: u32,
    recording_half: bool,
    recording_ms: Vec<f64>,
    plain_ms: Vec<f64>,
    dropped: u64,
    shown: u64,
    adapter: String,
    setup: String,
    failed: Option<String>,
}

impl RecordBench {
    fn switch_half(&mut self, live: &mut Live) {
        self.done = 0;
        self.settle = SETTLE_FRAMES;
        if self.recording_half {
            self.dropped += live.recording_dropped();
            // Closed here, not in the background: the next plain half must not share the
            // machine with ffmpeg's last work.
            live.finish_recording();
            self.round += 1;
        } else {
            live.start_recording();
            if !live.recording() {
                self.failed = Some("the recording did not start (see the log)".into());
            }
        }
        self.recording_half = !self.recording_half;
    }
}

impl FrameHook for RecordBench {
    fn started(&mut self, live: &mut Live) -> Result<(), WindowError> {
        self.adapter = live.gpu().describe();
        let [w, h] = live.runtime().chain().scene_size();
        self.setup = format!("{}, render {w}x{h}", live.describe_surface());
        Ok(())
    }

    fn redraw(&mut self, live: &mut Live) -> Result<Flow, WindowError> {
        if self.failed.is_some() {
            return Ok(Flow::Exit);
        }
        let start = Instant::now();
        if !live.draw() {
            return Ok(Flow::Continue);
        }
        live.gpu().wait_idle();
        let ms = start.elapsed().as_secs_f64() * 1e3;
        if self.recording_half {
            self.shown += 1;
        }
        if self.settle > 0 {
            self.settle -= 1;
            return Ok(Flow::Continue);
        }
        if self.recording_half {
            self.recording_ms.push(ms);
        } else {
            self.plain_ms.push(ms);
        }
        self.done += 1;
        if self.done >= self.frames {
            self.switch_half(live);
        }
        Ok(if self.round >= self.rounds {
            Flow::Exit
        } else {
            Flow::Continue
        })
    }
}

/// Measures `hypna run`'s frame with live recording (to `options.record`'s settings; the
/// target is replaced by a file in a temporary folder) against without, in interleaved
/// rounds of `frames`.
///
/// # Errors
/// When there is no display, no GPU, the scene does not load, or recording cannot start.
pub fn run(
    mut options: RunOptions,
    mut record: crate::window::RecordOptions,
    frames: u32,
    rounds: u32,
) -> Result<RecordBenchReport, BenchError> {
    let dir = tempfile_dir()?;
    record.settings.target = crate::media::codec::Target::File(dir.join("bench-record.mkv"));
    record.start = false;
    record.audio = false;
    let probe = crate::media::encode::Encoder::start(
        &crate::media::codec::EncodeSettings {
            size: [16, 16],
            target: crate::media::codec::Target::File(dir.join("probe.mkv")),
            ..record.settings.clone()
        },
        1,
        None,
    )
    .map_err(|e| BenchError::Setup(e.to_string()))?;
    let encoder = probe.encoder_name().to_string();
    drop(probe.finish());
    options.record = Some(record);
    let mut bench = RecordBench {
        frames: frames.max(1),
        rounds: rounds.max(1),
        round: 0,
        done: 0,
        settle: SETTLE_FRAMES,
        recording_half: false,
        recording_ms: Vec::new(),
        plain_ms: Vec::new(),
        dropped: 0,
        shown: 0,
        adapter: String::new(),
        setup: String::new(),
        failed: None,
    };
    let result = crate::window::run(options, &mut bench);
    drop(std::fs::remove_dir_all(&dir));
    result?;
    if let Some(why) = bench.failed {
        return Err(BenchError::Setup(why));
    }
    if bench.round < bench.rounds {
        return Err(BenchError::Setup(
            "the window closed before the benchmark ended".into(),
        ));
    }
    Ok(RecordBenchReport {
        adapter: bench.adapter,
        setup: bench.setup,
        encoder,
        recording_p99_ms: percentile(&bench.recording_ms, 0.99),
        recording: Stats::of(&bench.recording_ms),
        plain_p99_ms: percentile(&bench.plain_ms, 0.99),
        plain: Stats::of(&bench.plain_ms),
        dropped: bench.dropped,
        shown: bench.shown,
    })
}

/// A fresh folder under the system's temporary folder.
fn tempfile_dir() -> Result<std::path::PathBuf, BenchError> {
    let stamp = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let dir =
        std::env::temp_dir().join(format!("hypna-bench-record-{}-{stamp}", std::process::id()));
    std::fs::create_dir_all(&dir)
        .map_err(|e| BenchError::Setup(format!("cannot create {}: {e}", dir.display())))?;
    Ok(dir)
}
