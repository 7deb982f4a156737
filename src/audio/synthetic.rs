//! Generated signals and a simulated device that plays them through the capture seam
//! ([`CaptureBackend`]): what `hypna bench --audio` measures with, and what the tests feed the
//! engine instead of a sound card.

use std::f64::consts::PI;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use super::{AudioError, CaptureBackend, CaptureSink, DeviceSelector, OpenedStream};

/// A small deterministic noise source (xorshift32).
#[derive(Debug, Clone)]
pub struct Noise(u32);

impl Noise {
    /// A source seeded with `seed` (0 counts as 1).
    #[must_use]
    pub fn new(seed: u32) -> Self {
        Self(seed.max(1))
    }

    /// The next value, uniform in -1..1.
    pub fn sample(&mut self) -> f32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        (x as f32 / u32::MAX as f32) * 2.0 - 1.0
    }

    /// Uniform in `lo..hi`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (f64::from(self.sample()) * 0.5 + 0.5) * (hi - lo)
    }
}

/// `secs` of a sine at `freq_hz` and amplitude `amp`, sampled at `rate_hz`.
#[must_use]
pub fn sine(freq_hz: f64, amp: f32, secs: f64, rate_hz: u32) -> Vec<f32> {
    let n = (secs * f64::from(rate_hz)) as usize;
    (0..n)
        .map(|i| {
            (f64::from(amp) * (2.0 * PI * freq_hz * i as f64 / f64::from(rate_hz)).sin()) as f32
        })
        .collect()
}

/// `secs` of something music-like: kick on the beat, hats between, a chord and a noise
/// floor, at 120 BPM.
#[must_use]
pub fn synthetic_mix(rate_hz: u32, secs: f64) -> Vec<f32> {
    let n = (secs * f64::from(rate_hz)) as usize;
    let r = f64::from(rate_hz);
    let beat = 0.5;
    let mut noise = Noise::new(7);
    (0..n)
        .map(|i| {
            let t = i as f64 / r;
            let in_beat = t % beat;
            let in_half = t % (beat / 2.0);
            let kick = (-in_beat * 30.0).exp()
                * (2.0 * PI * (50.0 + 80.0 * (-in_beat * 40.0).exp()) * in_beat).sin();
            let hat = f64::from(noise.sample()) * (-in_half * 80.0).exp() * 0.3;
            let chord: f64 = [220.0, 277.2, 329.6]
                .iter()
                .map(|f| (2.0 * PI * f * t).sin() * 0.08)
                .sum();
            let floor = f64::from(noise.sample()) * 0.003;
            (0.6 * kick + hat + chord + floor) as f32
        })
        .collect()
}

/// A simulated device: plays a mono signal in buffers of `buffer_frames`, each pushed when
/// a real device would deliver it (paced by the clock, late buffers caught up), on a thread
/// of its own.
#[derive(Debug, Clone)]
pub struct SyntheticDevice {
    name: String,
    signal: Arc<Vec<f32>>,
    rate_hz: u32,
    buffer_frames: usize,
    looped: bool,
    opens: Arc<AtomicU32>,
    /// When each buffer was pushed, in ns since a start (+1, so 0 means not yet).
    push_times: Option<(Instant, Arc<Vec<AtomicU64>>)>,
}

impl SyntheticDevice {
    /// A device named `name` playing `signal` once at `rate_hz`.
    #[must_use]
    pub fn new(name: &str, signal: Vec<f32>, rate_hz: u32, buffer_frames: usize) -> Self {
        Self {
            name: name.to_string(),
            signal: Arc::new(signal),
            rate_hz,
            buffer_frames: buffer_frames.max(1),
            looped: false,
            opens: Arc::new(AtomicU32::new(0)),
            push_times: None,
        }
    }

    /// Plays the signal over and over instead of once.
    #[must_use]
    pub fn looped(mut self) -> Self {
        self.looped = true;
        self
    }

    /// Notes when buffer `i` was pushed into `slots[i]`: nanoseconds since `start`, plus 1.
    #[must_use]
    pub fn with_push_times(mut self, start: Instant, slots: Arc<Vec<AtomicU64>>) -> Self {
        self.push_times = Some((start, slots));
        self
    }

    /// How many times the device was opened (shared with every clone).
    #[must_use]
    pub fn opens(&self) -> Arc<AtomicU32> {
        Arc::clone(&self.opens)
    }
}

/// The playing thread of a [`SyntheticDevice`]; stopped and joined when dropped.
struct SyntheticStream {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for SyntheticStream {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Release);
        if let Some(t) = self.thread.take()
            && t.join().is_err()
        {
            tracing::warn!("the synthetic device's thread panicked");
        }
    }
}

impl CaptureBackend for SyntheticDevice {
    fn open(
        &mut self,
        _selector: &DeviceSelector,
        _buffer_frames: Option<u32>,
        mut sink: CaptureSink,
    ) -> Result<OpenedStream, AudioError> {
        self.opens.fetch_add(1, Ordering::AcqRel);
        let stop = Arc::new(AtomicBool::new(false));
        let device = self.clone();
        let stop2 = Arc::clone(&stop);
        let thread = thread::Builder::new()
            .name("hypna-synthetic-device".into())
            .spawn(move || {
                let period = Duration::from_secs_f64(
                    device.buffer_frames as f64 / f64::from(device.rate_hz),
                );
                let mut next = Instant::now();
                loop {
                    for (b, chunk) in device.signal.chunks_exact(device.buffer_frames).enumerate() {
                        if stop2.load(Ordering::Acquire) {
                            return;
                        }
                        next += period;
                        let now = Instant::now();
                        if next > now {
                            thread::sleep(next - now);
                        }
                        sink.push_mono(chunk);
                        if let Some((start, slots)) = &device.push_times
                            && let Some(slot) = slots.get(b)
                        {
                            slot.store(start.elapsed().as_nanos() as u64 + 1, Ordering::Release);
                        }
                    }
                    if !device.looped {
                        return;
                    }
                }
            })
            .map_err(AudioError::Thread)?;
        Ok(OpenedStream {
            guard: Box::new(SyntheticStream {
                stop,
                thread: Some(thread),
            }),
            name: self.name.clone(),
            sample_rate_hz: self.rate_hz,
            channels: 1,
            sample_format: "f32".into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn noise_is_deterministic_and_in_range() {
        let (mut a, mut b) = (Noise::new(3), Noise::new(3));
        for _ in 0..1000 {
            let x = a.sample();
            assert_eq!(x.to_bits(), b.sample().to_bits());
            assert!((-1.0..=1.0).contains(&x));
            let r = a.range(2.0, 4.0);
            b.range(2.0, 4.0);
            assert!((2.0..=4.0).contains(&r));
        }
    }

    #[test]
    fn a_sine_has_its_amplitude_and_length() {
        let s = sine(1000.0, 0.5, 0.1, 48_000);
        assert_eq!(s.len(), 4800);
        let peak = s.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        assert!((peak - 0.5).abs() < 1e-3, "{peak}");
    }
}
