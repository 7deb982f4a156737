//! `hypna bench --window`: `hypna run`'s frame in a real window (acquire, render, blit,
//! present, wait for the GPU) against the same scene rendered headless on the same device,
//! in interleaved rounds. It drives the window through its [`FrameHook`].

use std::time::Instant;

use super::{BenchError, Stats, timed_frame};
use crate::clock::Clock;
use crate::runtime::Runtime;
use crate::window::{Flow, FrameHook, Live, RunOptions, WindowError};

/// `hypna bench --window`: the present path's cost.
#[derive(Debug, Clone)]
pub struct WindowBenchReport {
    /// The adapter.
    pub adapter: String,
    /// Window size and present mode.
    pub setup: String,
    /// A frame of `hypna run`: acquire, render, blit, present, wait for the GPU.
    pub windowed: Stats,
    /// The same scene headless on the same device: render, wait for the GPU.
    pub headless: Stats,
}

impl WindowBenchReport {
    /// Windowed median over headless median.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        self.windowed.median_ms / self.headless.median_ms
    }
}

impl std::fmt::Display for WindowBenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "adapter:  {}", self.adapter)?;
        writeln!(f, "window:   {}", self.setup)?;
        writeln!(
            f,
            "windowed: median {:.2} ms, p90 {:.2} ms, mean {:.2} ms ({} frames)",
            self.windowed.median_ms,
            self.windowed.p90_ms,
            self.windowed.mean_ms,
            self.windowed.frames
        )?;
        writeln!(
            f,
            "headless: median {:.2} ms, p90 {:.2} ms, mean {:.2} ms ({} frames)",
            self.headless.median_ms,
            self.headless.p90_ms,
            self.headless.mean_ms,
            self.headless.frames
        )?;
        write!(
            f,
            "ratio windowed/headless (median): {:.3} (goal <= 1.10)",
            self.ratio()
        )
    }
}

/// The benchmark's progress, as the window's frame hook.
struct WindowBench {
    /// The same scene rendered headless on the same device (the baseline).
    headless: Option<Runtime>,
    headless_clock: Clock,
    frames: u32,
    rounds: u32,
    round: u32,
    /// Frames done in this round's current half.
    done: u32,
    /// Windowed half first, then headless.
    windowed_half: bool,
    warmup: u32,
    windowed_ms: Vec<f64>,
    headless_ms: Vec<f64>,
    /// Adapter and surface, noted at the start.
    adapter: String,
    setup: String,
}

impl FrameHook for WindowBench {
    fn started(&mut self, live: &mut Live) -> Result<(), WindowError> {
        // The scene the window plays, as loaded (not read from disk again).
        let scene = live.runtime().scene().clone();
        let mut options = live.runtime().options().clone();
        options.size = Some(live.runtime().chain().scene_size());
        self.headless = Some(Runtime::new(live.gpu(), scene, &options)?);
        self.adapter = live.gpu().describe();
        self.setup = live.describe_surface();
        Ok(())
    }

    /// One step: a windowed or a headless frame.
    fn redraw(&mut self, live: &mut Live) -> Result<Flow, WindowError> {
        let Some(headless) = self.headless.as_mut() else {
            return Ok(Flow::Exit);
        };
        if self.warmup > 0 {
            self.warmup -= 1;
            live.draw();
            timed_frame(
                live.gpu(),
                headless,
                &mut self.headless_clock,
                "bench.headless",
            );
            return Ok(Flow::Continue);
        }
        if self.windowed_half {
            let start = Instant::now();
            if live.draw() {
                live.gpu().wait_idle();
                self.windowed_ms.push(start.elapsed().as_secs_f64() * 1e3);
                self.done += 1;
            }
        } else {
            self.headless_ms.push(timed_frame(
                live.gpu(),
                headless,
                &mut self.headless_clock,
                "bench.headless",
            ));
            self.done += 1;
        }
        if self.done >= self.frames {
            self.done = 0;
            if !self.windowed_half {
                self.round += 1;
            }
            self.windowed_half = !self.windowed_half;
        }
        Ok(if self.round >= self.rounds {
            Flow::Exit
        } else {
            Flow::Continue
        })
    }
}

/// Measures `hypna run`'s frame (in a real window) against the same scene rendered headless
/// on the same device, in interleaved rounds of `frames`.
///
/// # Errors
/// When there is no display, no GPU, or the scene does not load.
pub fn run(options: RunOptions, frames: u32, rounds: u32) -> Result<WindowBenchReport, BenchError> {
    let mut bench = WindowBench {
        headless: None,
        headless_clock: Clock::fixed(60.0),
        frames: frames.max(1),
        rounds: rounds.max(1),
        round: 0,
        done: 0,
        windowed_half: true,
        warmup: 3,
        windowed_ms: Vec::new(),
        headless_ms: Vec::new(),
        adapter: String::new(),
        setup: String::new(),
    };
    crate::window::run(options, &mut bench)?;
    if bench.round < bench.rounds {
        return Err(BenchError::Setup(
            "the window closed before the benchmark ended".into(),
        ));
    }
    Ok(WindowBenchReport {
        adapter: bench.adapter,
        setup: bench.setup,
        windowed: Stats::of(&bench.windowed_ms),
        headless: Stats::of(&bench.headless_ms),
    })
}
