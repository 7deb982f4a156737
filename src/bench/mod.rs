//! `hypna bench`: every benchmark, each measured against its baseline in the same run
//! (interleaved rounds, so machine noise hits both alike).
//!
//! - [`frame`]: hypna's frame against a bare wgpu loop drawing the same shader (default).
//! - [`models`]: model I/O, feeding gaps and frame times with a model running (`--models`).
//! - [`dream`]: the dream step against the forward pass and against ONNX Runtime alone, at
//!   several resolutions (also `--models`).
//! - [`osc`]: OSC ingest, send-to-uniform latency and a message flood's cost (`--osc`).
//! - [`audio`]: analysis cost and capture-to-features latency (`--audio`).
//! - [`beats`]: beat tracking scored on annotated clips, hypna's two trackers and aubio
//!   (`--beats DIR`), with the metrics in [`beat_metrics`].
//! - [`media`]: a playing 1280x720 video source against a still image (`--media`).
//! - [`transition`]: frame times around a pre-warmed playlist switch (`--transition`).
//! - [`window`]: `hypna run`'s frame against the same scene headless (`--window`), driving
//!   the window through its frame hook.
//! - [`record`]: `hypna run`'s frame with live recording against without (`--record`).
//!
//! Every report prints itself (`Display`): the command line only prints it.

pub mod audio;
pub mod beat_metrics;
pub mod beats;
pub mod dream;
pub mod frame;
pub mod media;
pub mod models;
pub mod osc;
pub mod record;
pub mod transition;
pub mod window;

use std::time::Instant;

use crate::clock::Clock;
use crate::render::context::Gpu;
use crate::runtime::{LoadError, Runtime, Submit};

/// Errors from the benchmarks.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The scene did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The benchmark cannot measure this scene.
    #[error("{0}")]
    Unsupported(String),
    /// Setting up a benchmark failed.
    #[error("{0}")]
    Setup(String),
    /// The window benchmark: no display, no window or no GPU.
    #[error(transparent)]
    Window(#[from] crate::window::WindowError),
}

/// Frame-time statistics in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Median.
    pub median_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Number of frames measured.
    pub frames: usize,
}

impl Stats {
    /// Statistics of `samples` (milliseconds).
    #[must_use]
    pub fn of(samples: &[f64]) -> Self {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let mean = if s.is_empty() {
            0.0
        } else {
            s.iter().sum::<f64>() / s.len() as f64
        };
        Self {
            median_ms: quantile(&s, 0.5),
            p90_ms: quantile(&s, 0.9),
            mean_ms: mean,
            frames: s.len(),
        }
    }
}

impl std::fmt::Display for Stats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "median {:8.2} ms  p90 {:8.2} ms  mean {:8.2} ms  ({} frames)",
            self.median_ms, self.p90_ms, self.mean_ms, self.frames
        )
    }
}

/// The `q` quantile (0..1) of `sorted` (nearest rank); 0 when empty.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len().saturating_sub(1)) as f64 * q).round() as usize;
    sorted.get(i).copied().unwrap_or(0.0)
}

/// The `q` quantile (0..1) of `samples`, in any order.
#[must_use]
pub fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    quantile(&s, q)
}

/// One hypna frame as the live loop runs it, at the next tick of `clock`, waited for (record,
/// submit, wait for the GPU, feed the models): its time in milliseconds.
pub fn timed_frame(gpu: &Gpu, runtime: &mut Runtime, clock: &mut Clock, label: &str) -> f64 {
    let start = Instant::now();
    runtime.frame(gpu, clock.tick(), label, Submit::WaitForGpu, |_, _| {});
    start.elapsed().as_secs_f64() * 1e3
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn stats_take_nearest_ranks() {
        let s = Stats::of(&[5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!(
            (s.median_ms, s.p90_ms, s.mean_ms, s.frames),
            (3.0, 5.0, 3.0, 5)
        );
        assert_eq!(percentile(&[3.0, 1.0, 2.0], 0.0), 1.0);
        assert_eq!(Stats::of(&[]).median_ms, 0.0);
    }
}
