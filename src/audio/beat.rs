//! Beat tracking: tempo from the autocorrelation of the onset-strength (spectral flux) curve,
//! phase from a comb matched to that tempo, and a phase-locked oscillator that runs between
//! beats.
//!
//! - Every [`TEMPO_EVERY`] hops the last ~11 s of flux are autocorrelated (via FFT). Each
//!   candidate period scores the mean correlation at its first four multiples, weighted by a
//!   log-normal prior around 120 BPM (one octave wide) that settles octave ambiguities the
//!   way listeners usually do. The winning period is refined to a fraction of a hop from the
//!   interpolated correlation peaks at its multiples, so a 140 BPM period (80.36 hops at
//!   48 kHz / 256) is measured to better than 0.1 BPM.
//! - Every [`PHASE_EVERY`] hops a comb at that period, over the last eight beats (recent
//!   ones weighted more), finds where the beats fall. The flux peak lags the actual onset by
//!   a fixed amount that depends only on window and hop, measured once at start-up (see
//!   `Analyzer::new`); it is subtracted.
//! - The oscillator advances by `1 / period` per hop and is pulled towards the comb's phase
//!   (fully on the first lock, by 30% afterwards). A beat fires in the hop where it wraps. It
//!   runs a quarter hop early, so that estimation jitter never pushes a beat into the hop
//!   after the one holding the onset.
//! - Tapped tempo overrides the estimate until cleared; resync puts a beat at a given time.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Hops between tempo estimates (~0.17 s at 48 kHz / 256).
const TEMPO_EVERY: u32 = 32;
/// Hops between phase estimates.
const PHASE_EVERY: u32 = 8;
/// Seconds of flux history the tempo is estimated from.
const HISTORY_SECS: f64 = 10.0;
/// Seconds of history needed before the first estimate.
const MIN_HISTORY_SECS: f64 = 2.5;
/// Centre of the tempo prior.
const PRIOR_BPM: f64 = 120.0;
/// Width of the tempo prior, octaves.
const PRIOR_OCTAVES: f64 = 1.0;
/// How far ahead of the estimated beat the oscillator runs, hops.
const EARLY_HOPS: f64 = 0.25;
/// Phase grid of the comb search, hops.
const PHASE_STEP_HOPS: f64 = 0.125;
/// Beats the comb looks back over.
const COMB_BEATS: usize = 8;
/// Weight of each older beat in the comb relative to the next newer one.
const COMB_DECAY: f32 = 0.85;
/// Confidence time constant while the input is silent, seconds.
const SILENT_DECAY_SECS: f64 = 0.5;
/// Relative tempo change treated as the same tempo (smoothed rather than switched).
const SAME_TEMPO: f64 = 0.04;

/// What one hop of beat tracking produced.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BeatStep {
    /// A beat falls in this hop (and the pulse gate is open).
    pub beat: bool,
    /// Phase 0..1 at the end of the hop.
    pub phase: f32,
    /// Tempo, beats per minute.
    pub bpm: f32,
    /// Tempo confidence 0..1.
    pub confidence: f32,
}

/// The beat tracker; one flux value in per hop.
pub(crate) struct BeatTracker {
    hops_per_sec: f64,
    min_lag: f64,
    max_lag: f64,
    min_confidence: f32,
    history: Vec<f32>,
    head: usize,
    filled: usize,
    hop_index: u64,
    forward: Arc<dyn RealToComplex<f32>>,
    inverse: Arc<dyn ComplexToReal<f32>>,
    acf_in: Vec<f32>,
    acf_spec: Vec<Complex<f32>>,
    acf_out: Vec<f32>,
    scratch_fwd: Vec<Complex<f32>>,
    scratch_inv: Vec<Complex<f32>>,
    corr: Vec<f32>,
    /// Period in hops.
    period: f64,
    /// Oscillator phase; may briefly exceed 1 after a correction, then wraps.
    phase: f64,
    /// Confidence of the audio estimate.
    audio_confidence: f32,
    /// Period of the audio estimate (may differ from `period` while a tap holds).
    audio_period: f64,
    locked: bool,
    hard_phase: bool,
    candidate: Option<f64>,
    hops_since_beat: f64,
    taps: Vec<f64>,
    tapped: bool,
    odf_delay_hops: f64,
    since_tempo: u32,
    since_phase: u32,
}

impl std::fmt::Debug for BeatTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BeatTracker")
            .field("period", &self.period)
            .field("phase", &self.phase)
            .field("audio_confidence", &self.audio_confidence)
            .field("tapped", &self.tapped)
            .finish_non_exhaustive()
    }
}

/// The value `age` entries before the newest of a ring whose next write goes to `head`.
fn history_at(history: &[f32], head: usize, filled: usize, age: usize) -> f32 {
    if age >= filled || history.is_empty() {
        return 0.0;
    }
    let len = history.len();
    history
        .get((head + len - 1 - age) % len)
        .copied()
        .unwrap_or(0.0)
}

/// `x` wrapped into -0.5..0.5.
fn wrap_half(x: f64) -> f64 {
    x - x.round()
}

impl BeatTracker {
    /// A tracker for `hops_per_sec` hops per second searching `bpm_range`.
    pub(crate) fn new(hops_per_sec: f64, bpm_range: [f32; 2], min_confidence: f32) -> Self {
        let history_len = ((HISTORY_SECS * hops_per_sec).ceil() as usize).max(64);
        let acf_len = (2 * history_len).next_power_of_two();
        let mut planner = RealFftPlanner::<f32>::new();
        let forward = planner.plan_fft_forward(acf_len);
        let inverse = planner.plan_fft_inverse(acf_len);
        let min_lag = 60.0 * hops_per_sec / f64::from(bpm_range[1]);
        let max_lag = 60.0 * hops_per_sec / f64::from(bpm_range[0]);
        let start_bpm = PRIOR_BPM.clamp(f64::from(bpm_range[0]), f64::from(bpm_range[1]));
        Self {
            hops_per_sec,
            min_lag,
            max_lag,
            min_confidence,
            history: vec![0.0; history_len],
            head: 0,
            filled: 0,
            hop_index: 0,
            acf_in: forward.make_input_vec(),
            acf_spec: forward.make_output_vec(),
            acf_out: inverse.make_output_vec(),
            scratch_fwd: forward.make_scratch_vec(),
            scratch_inv: inverse.make_scratch_vec(),
            forward,
            inverse,
            corr: vec![0.0; history_len],
            period: 60.0 * hops_per_sec / start_bpm,
            phase: 0.0,
            audio_confidence: 0.0,
            audio_period: 60.0 * hops_per_sec / start_bpm,
            locked: false,
            hard_phase: true,
            candidate: None,
            hops_since_beat: 0.0,
            taps: Vec::with_capacity(8),
            tapped: false,
            odf_delay_hops: 0.0,
            since_tempo: 0,
            since_phase: 0,
        }
    }

    /// Sets how many hops the flux peak lags an onset (measured by the analyser).
    pub(crate) fn set_odf_delay(&mut self, hops: f64) {
        self.odf_delay_hops = hops;
    }

    fn bpm_of(&self, period_hops: f64) -> f64 {
        60.0 * self.hops_per_sec / period_hops
    }

    /// Flux `age` hops before the newest (0 = newest), linearly interpolated; 0 outside.
    fn odf_at_age(&self, age: f64) -> f32 {
        if age < 0.0 {
            return 0.0;
        }
        let i = age.floor() as usize;
        let frac = (age - age.floor()) as f32;
        let at = |a| history_at(&self.history, self.head, self.filled, a);
        at(i) * (1.0 - frac) + at(i + 1) * frac
    }

    /// Feeds one hop's flux; `active` is false while the input is silent.
    pub(crate) fn step(&mut self, flux: f32, active: bool) -> BeatStep {
        if let Some(slot) = self.history.get_mut(self.head) {
            *slot = flux;
        }
        self.head = (self.head + 1) % self.history.len();
        self.filled = (self.filled + 1).min(self.history.len());
        self.hop_index += 1;

        self.since_tempo += 1;
        if self.since_tempo >= TEMPO_EVERY {
            self.since_tempo = 0;
            if active {
                self.estimate_tempo();
            }
        }
        if !active {
            let k = (-1.0 / (SILENT_DECAY_SECS * self.hops_per_sec)).exp() as f32;
            self.audio_confidence *= k;
            if self.audio_confidence < 1e-4 {
                self.audio_confidence = 0.0;
            }
        }
        // Advance the oscillator: `phase` now describes the end of this hop, the time the
        // newest flux value belongs to, which is what the phase estimate refers to.
        self.phase += 1.0 / self.period;
        self.hops_since_beat += 1.0;

        self.since_phase += 1;
        if self.since_phase >= PHASE_EVERY && active {
            self.since_phase = 0;
            let follow_audio = if self.tapped {
                self.audio_confidence >= 0.5 && (self.audio_period / self.period - 1.0).abs() < 0.03
            } else {
                self.locked
            };
            if follow_audio {
                self.estimate_phase();
            }
        }

        let mut beat = false;
        if self.phase >= 1.0 {
            self.phase = self.phase.fract();
            if self.hops_since_beat >= 0.5 * self.period {
                beat = self.confidence() >= self.min_confidence;
                self.hops_since_beat = 0.0;
            }
        }
        BeatStep {
            beat,
            phase: self.phase.clamp(0.0, 1.0) as f32,
            bpm: self.bpm_of(self.period) as f32,
            confidence: self.confidence(),
        }
    }

    fn confidence(&self) -> f32 {
        if self.tapped {
            1.0
        } else {
            self.audio_confidence.clamp(0.0, 1.0)
        }
    }

    /// Normalised, unbiased autocorrelation of the newest `n` flux values into `self.corr`.
    /// False when the history carries no signal.
    fn autocorrelate(&mut self, n: usize) -> bool {
        let (history, head, filled) = (&self.history, self.head, self.filled);
        let mean = (0..n)
            .map(|a| history_at(history, head, filled, a))
            .sum::<f32>()
            / n as f32;
        self.acf_in.fill(0.0);
        for (i, slot) in self.acf_in.iter_mut().take(n).enumerate() {
            *slot = history_at(history, head, filled, n - 1 - i) - mean;
        }
        let energy: f32 = self.acf_in.iter().map(|x| x * x).sum();
        if energy <= 1e-9 {
            return false;
        }
        if self
            .forward
            .process_with_scratch(&mut self.acf_in, &mut self.acf_spec, &mut self.scratch_fwd)
            .is_err()
        {
            return false;
        }
        for c in &mut self.acf_spec {
            *c = Complex::new(c.norm_sqr(), 0.0);
        }
        // The inverse only complains about non-zero imaginary parts at DC and Nyquist, which
        // are zero here; the output is valid either way, so the complaint is dropped.
        drop(self.inverse.process_with_scratch(
            &mut self.acf_spec,
            &mut self.acf_out,
            &mut self.scratch_inv,
        ));
        let r0 = self.acf_out.first().copied().unwrap_or(0.0) / n as f32;
        if r0 <= 0.0 {
            return false;
        }
        for (lag, c) in self.corr.iter_mut().enumerate() {
            *c = if lag < n {
                let v = self.acf_out.get(lag).copied().unwrap_or(0.0);
                v / (n - lag) as f32 / r0
            } else {
                0.0
            };
        }
        true
    }

    /// Largest correlation within `radius` lags of `centre` and where it is.
    fn peak_near(&self, centre: f64, radius: f64, limit: usize) -> Option<(usize, f32)> {
        let lo = (centre - radius).floor().max(1.0) as usize;
        let hi = ((centre + radius).ceil() as usize).min(limit.saturating_sub(2));
        (lo..=hi)
            .filter_map(|j| self.corr.get(j).map(|&c| (j, c)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    fn estimate_tempo(&mut self) {
        let n = self.filled;
        if (n as f64) < MIN_HISTORY_SECS * self.hops_per_sec || !self.autocorrelate(n) {
            return;
        }
        let usable = n / 2;
        let lo = self.min_lag.ceil() as usize;
        let hi = self.max_lag.floor() as usize;
        let mut best: Option<(usize, f64, f32)> = None;
        for lag in lo..=hi {
            let mut sum = 0.0f32;
            let mut count = 0u32;
            for k in 1..=4usize {
                let centre = (k * lag) as f64;
                if centre > usable as f64 && k > 1 {
                    break;
                }
                if let Some((_, c)) = self.peak_near(centre, k as f64 / 2.0, n) {
                    sum += c;
                    count += 1;
                }
            }
            if count == 0 {
                continue;
            }
            let score = sum / count as f32;
            let octaves = (self.bpm_of(lag as f64) / PRIOR_BPM).log2() / PRIOR_OCTAVES;
            let weighted = f64::from(score.max(0.0)) * (-0.5 * octaves * octaves).exp();
            if best.is_none_or(|(_, w, _)| weighted > w) {
                best = Some((lag, weighted, score));
            }
        }
        let Some((lag0, _, score)) = best else {
            return;
        };
        // Refine: fit the interpolated peaks at the multiples of the period.
        let mut num = 0.0f64;
        let mut den = 0.0f64;
        let mut k = 1usize;
        let mut period = lag0 as f64;
        while (k as f64) * period + k as f64 <= usable as f64 || k == 1 {
            let centre = k as f64 * period;
            let Some((j, _)) = self.peak_near(centre, k as f64 / 2.0 + 1.0, n) else {
                break;
            };
            let (left, mid, right) = (
                self.corr.get(j - 1).copied().unwrap_or(0.0),
                self.corr.get(j).copied().unwrap_or(0.0),
                self.corr.get(j + 1).copied().unwrap_or(0.0),
            );
            // Parabolic interpolation of the peak.
            let denom = left - 2.0 * mid + right;
            let offset = if denom < 0.0 {
                f64::from((0.5 * (left - right) / denom).clamp(-0.5, 0.5))
            } else {
                0.0
            };
            let p = j as f64 + offset;
            num += k as f64 * p;
            den += (k * k) as f64;
            period = num / den;
            k += 1;
            if k > 16 {
                break;
            }
        }
        let period = period.clamp(self.min_lag, self.max_lag);
        let raw_conf = score.clamp(0.0, 1.0);
        self.audio_period = period;
        if self.tapped {
            self.audio_confidence = 0.7 * self.audio_confidence + 0.3 * raw_conf;
            return;
        }
        if !self.locked {
            self.period = period;
            self.locked = true;
            self.hard_phase = true;
            self.audio_confidence = raw_conf;
        } else if (period / self.period - 1.0).abs() < SAME_TEMPO {
            self.period += 0.5 * (period - self.period);
            self.audio_confidence = 0.7 * self.audio_confidence + 0.3 * raw_conf;
            self.candidate = None;
        } else if self
            .candidate
            .is_some_and(|c| (period / c - 1.0).abs() < SAME_TEMPO)
        {
            self.period = period;
            self.hard_phase = true;
            self.candidate = None;
            self.audio_confidence = raw_conf;
        } else {
            self.candidate = Some(period);
            self.audio_confidence = 0.7 * self.audio_confidence + 0.3 * raw_conf * 0.5;
        }
    }

    fn estimate_phase(&mut self) {
        let n = self.filled as f64;
        let beats = (((n - 2.0) / self.period).floor() as usize).min(COMB_BEATS);
        if beats == 0 {
            return;
        }
        let steps = (self.period / PHASE_STEP_HOPS).ceil() as usize;
        let mut best = (0.0f64, f32::MIN);
        for s in 0..steps {
            let theta = s as f64 * PHASE_STEP_HOPS;
            let mut score = 0.0f32;
            let mut w = 1.0f32;
            for k in 0..beats {
                score += w * self.odf_at_age(theta + k as f64 * self.period);
                w *= COMB_DECAY;
            }
            if score > best.1 {
                best = (theta, score);
            }
        }
        if best.1 <= 0.0 {
            return;
        }
        let age_of_beat = best.0 + self.odf_delay_hops + EARLY_HOPS;
        let target = (age_of_beat / self.period).rem_euclid(1.0);
        let error = wrap_half(target - self.phase);
        let gain = if self.hard_phase { 1.0 } else { 0.3 };
        self.hard_phase = false;
        let mut next = self.phase + gain * error;
        if next < 0.0 {
            next += 1.0;
        }
        self.phase = next;
    }

    /// A tap `age_hops` ago. Two or more taps less than 1.5 of the longest period apart set
    /// the tempo (mean interval) and hold it; each tap also puts a beat at its time.
    pub(crate) fn tap(&mut self, age_hops: f64) {
        let at = self.hop_index as f64 - age_hops;
        if let Some(&last) = self.taps.last() {
            let gap = at - last;
            if gap < 0.5 * self.min_lag {
                return;
            }
            if gap > 1.5 * self.max_lag {
                self.taps.clear();
            }
        }
        if self.taps.len() == 8 {
            self.taps.remove(0);
        }
        self.taps.push(at);
        if let (Some(&first), Some(&last)) = (self.taps.first(), self.taps.last())
            && self.taps.len() >= 2
        {
            let mean = (last - first) / (self.taps.len() - 1) as f64;
            self.period = mean.clamp(self.min_lag, self.max_lag);
            self.tapped = true;
            self.locked = true;
        }
        self.resync(age_hops);
    }

    /// Puts a beat `age_hops` ago (the phase restarts there; the tempo is kept).
    pub(crate) fn resync(&mut self, age_hops: f64) {
        self.phase = ((age_hops.max(0.0) + EARLY_HOPS) / self.period).rem_euclid(1.0);
        self.hops_since_beat = age_hops.max(0.0);
        self.hard_phase = false;
    }

    /// Forgets tapped tempo; the audio estimate takes over again.
    pub(crate) fn clear_tap(&mut self) {
        self.taps.clear();
        if self.tapped {
            self.tapped = false;
            self.period = self.audio_period;
            self.hard_phase = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pulse_train(hops_per_sec: f64, bpm: f64, hops: usize) -> Vec<f32> {
        let period = 60.0 * hops_per_sec / bpm;
        let mut v = vec![0.0; hops];
        let mut t = 3.3;
        while (t as usize) < hops {
            let i = t as usize;
            v[i] = 1.0;
            if i + 1 < hops {
                v[i + 1] = 0.4;
            }
            t += period;
        }
        v
    }

    #[test]
    fn finds_tempo_of_an_impulse_train() {
        let hps = 48_000.0 / 256.0;
        for bpm in [75.0, 100.0, 128.0, 150.0, 172.0] {
            let mut b = BeatTracker::new(hps, [60.0, 180.0], 0.2);
            let mut last = None;
            for x in pulse_train(hps, bpm, (hps * 9.0) as usize) {
                last = Some(b.step(x, true));
            }
            let s = last.unwrap();
            assert!((f64::from(s.bpm) - bpm).abs() < 0.5, "{bpm}: {s:?}");
            assert!(s.confidence > 0.5, "{bpm}: {s:?}");
        }
    }

    #[test]
    fn taps_set_and_hold_the_tempo() {
        let hps = 100.0;
        let mut b = BeatTracker::new(hps, [60.0, 180.0], 0.2);
        for _ in 0..100 {
            b.step(0.0, false);
        }
        // Taps every 0.5 s = 120 BPM... then 0.6 s intervals = 100 BPM.
        b.tap(0.0);
        for _ in 0..60 {
            b.step(0.0, false);
        }
        b.tap(0.0);
        for _ in 0..60 {
            b.step(0.0, false);
        }
        b.tap(0.0);
        let s = b.step(0.0, false);
        assert!((s.bpm - 100.0).abs() < 0.01, "{s:?}");
        assert!((s.confidence - 1.0).abs() < f32::EPSILON);
        // A beat 60 hops after the last tap.
        let beats: Vec<usize> = (1..=130).filter(|_| b.step(0.0, false).beat).collect();
        assert_eq!(beats.len(), 2, "{beats:?}");
        b.clear_tap();
        assert!(b.step(0.0, false).confidence < 0.01);
    }
}
