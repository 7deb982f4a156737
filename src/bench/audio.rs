//! `hypna bench --audio`: what the analysis costs per hop, and how long a sample takes from
//! the ring to a reader.
//!
//! - Cost: the analyser alone on a synthetic mix (kick, hats, chord, noise floor), fed one hop
//!   at a time and timed per hop; reported as a share of the hop's duration (one core).
//! - Latency: the real engine (ring, analysis thread, latest-value cell) fed by a simulated
//!   device that delivers `buffer_frames` every buffer period on a thread of its own, read by
//!   a reader polling every 0.1 ms. For each new publication: the time since the buffer holding
//!   the hop's newest sample was pushed (what a reader waits for the newest audio), and since
//!   the buffer holding the hop's oldest new sample was pushed (adds up to one hop).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use crate::audio::synthetic::{SyntheticDevice, synthetic_mix};
use crate::audio::{Analyzer, AudioConfig, AudioEngine, AudioError, TrackerKind};

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// Sample rate, Hz. Default 48000.
    pub sample_rate_hz: u32,
    /// Seconds of synthetic audio for the cost measurement. Default 60.
    pub cost_secs: f64,
    /// Seconds of real-time streaming for the latency measurement. Default 5.
    pub latency_secs: f64,
    /// Simulated device buffer, frames. Default 256.
    pub buffer_frames: usize,
    /// The analysis configuration. Default: `AudioConfig::default()`.
    pub config: AudioConfig,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            sample_rate_hz: 48_000,
            cost_secs: 60.0,
            latency_secs: 5.0,
            buffer_frames: 256,
            config: AudioConfig::default(),
        }
    }
}

/// Percentiles of a set of durations, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Spread {
    /// Median.
    pub p50_ms: f64,
    /// 95th percentile.
    pub p95_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// Largest.
    pub max_ms: f64,
    /// Number of samples.
    pub count: usize,
}

impl Spread {
    fn of(mut ms: Vec<f64>) -> Self {
        ms.sort_by(f64::total_cmp);
        Self {
            p50_ms: super::quantile(&ms, 0.5),
            p95_ms: super::quantile(&ms, 0.95),
            p99_ms: super::quantile(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
            count: ms.len(),
        }
    }
}

/// The measured figures.
#[derive(Debug, Clone, PartialEq)]
pub struct BenchReport {
    /// Sample rate, Hz.
    pub sample_rate_hz: u32,
    /// FFT length, samples.
    pub fft_len: usize,
    /// Hop, samples.
    pub hop: usize,
    /// Hop duration, milliseconds.
    pub hop_ms: f64,
    /// The beat tracker that ran (`[audio] tracker`, or the classic one where the neural one
    /// cannot start).
    pub tracker: TrackerKind,
    /// Hops timed.
    pub hops: usize,
    /// Mean analysis time per hop, microseconds.
    pub cost_mean_us: f64,
    /// Per-hop analysis time spread (milliseconds).
    pub cost: Spread,
    /// Mean cost as a share of the hop duration (0.01 = 1% of one core).
    pub cost_share: f64,
    /// Simulated device buffer, frames.
    pub buffer_frames: usize,
    /// Push of the buffer holding a hop's newest sample -> visible to a reader.
    pub latency_newest: Spread,
    /// Push of the buffer holding a hop's oldest sample -> visible to a reader.
    pub latency_oldest: Spread,
    /// Samples dropped by the ring during the latency run (should be 0).
    pub overflow_samples: u64,
}

impl fmt::Display for BenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "audio analysis at {} Hz, FFT {} / hop {} ({:.2} ms), {} beat tracker",
            self.sample_rate_hz, self.fft_len, self.hop, self.hop_ms, self.tracker
        )?;
        writeln!(
            f,
            "  cost per hop: mean {:.1} us, p99 {:.3} ms, max {:.3} ms over {} hops = {:.2}% of one core (goal < 5%)",
            self.cost_mean_us,
            self.cost.p99_ms,
            self.cost.max_ms,
            self.hops,
            self.cost_share * 100.0
        )?;
        writeln!(
            f,
            "  latency, {}-frame buffers, ring -> reader, newest sample of the hop: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms ({} hops)",
            self.buffer_frames,
            self.latency_newest.p50_ms,
            self.latency_newest.p95_ms,
            self.latency_newest.max_ms,
            self.latency_newest.count
        )?;
        writeln!(
            f,
            "  latency, oldest sample of the hop: p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms (goal p95 < 25 ms, at most one hop + 5 ms)",
            self.latency_oldest.p50_ms, self.latency_oldest.p95_ms, self.latency_oldest.max_ms
        )?;
        write!(f, "  ring overflow: {} samples", self.overflow_samples)
    }
}

/// Runs both measurements and returns the figures (print them with `{}`).
///
/// # Errors
/// [`AudioError::Config`] for a bad configuration, [`AudioError::Thread`] when threads cannot
/// be spawned.
pub fn run(options: &BenchOptions) -> Result<BenchReport, AudioError> {
    let rate = options.sample_rate_hz;
    // Cost.
    let mut analyzer = Analyzer::new(&options.config, rate)?;
    let hop = analyzer.hop_len();
    let hop_secs = analyzer.hop_secs();
    let signal = synthetic_mix(rate, options.cost_secs.max(1.0));
    let mut cost_ms = Vec::with_capacity(signal.len() / hop + 1);
    for chunk in signal.chunks_exact(hop) {
        let t = Instant::now();
        analyzer.process(chunk);
        cost_ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let hops = cost_ms.len();
    let mean_us = if hops == 0 {
        0.0
    } else {
        cost_ms.iter().sum::<f64>() * 1e3 / hops as f64
    };

    // Latency.
    let buffer = options.buffer_frames.max(1);
    let stream = synthetic_mix(rate, options.latency_secs.max(0.5) + 0.5);
    let buffers = stream.len() / buffer;
    let pushed_ns: Arc<Vec<AtomicU64>> =
        Arc::new((0..buffers).map(|_| AtomicU64::new(0)).collect());
    let start = Instant::now();
    let backend = SyntheticDevice::new("bench", stream, rate, buffer)
        .with_push_times(start, Arc::clone(&pushed_ns));
    let mut config = options.config.clone();
    config.buffer_frames = u32::try_from(buffer).ok();
    config.stall_secs = 0.0;
    let engine = AudioEngine::start_with_backend(&config, Box::new(backend))?;
    let mut reader = engine.reader();
    let mut newest = Vec::new();
    let mut oldest = Vec::new();
    let mut seen = 0u64;
    let until = start + Duration::from_secs_f64(options.latency_secs.max(0.5));
    let pushed_at = |sample: u64| -> Option<u64> {
        let b = usize::try_from(sample / buffer as u64).ok()?;
        let ns = pushed_ns.get(b)?.load(Ordering::Acquire);
        (ns > 0).then(|| ns - 1)
    };
    while Instant::now() < until {
        let pos = reader.latest().stream_pos;
        if pos != seen && pos > 0 {
            let now_ns = start.elapsed().as_nanos() as u64;
            if let Some(p) = pushed_at(pos - 1) {
                newest.push(now_ns.saturating_sub(p) as f64 / 1e6);
            }
            let first_new = if seen == 0 {
                pos.saturating_sub(hop as u64)
            } else {
                seen
            };
            if let Some(p) = pushed_at(first_new) {
                oldest.push(now_ns.saturating_sub(p) as f64 / 1e6);
            }
            seen = pos;
        }
        thread::sleep(Duration::from_micros(100));
    }
    let overflow = engine.stats().overflow_samples;
    engine.stop();

    Ok(BenchReport {
        sample_rate_hz: rate,
        fft_len: analyzer.fft_len(),
        hop,
        hop_ms: hop_secs * 1e3,
        tracker: analyzer.tracker(),
        hops,
        cost_mean_us: mean_us,
        cost: Spread::of(cost_ms),
        cost_share: mean_us * 1e-6 / hop_secs,
        buffer_frames: buffer,
        latency_newest: Spread::of(newest),
        latency_oldest: Spread::of(oldest),
        overflow_samples: overflow,
    })
}
