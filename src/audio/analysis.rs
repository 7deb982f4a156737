//! The analyser: mono samples in, one [`AudioFeatures`] per hop out. No threads, no clocks,
//! no devices: the capture thread, the offline renderer and the tests all feed it `&[f32]`,
//! so its output depends only on the samples (and taps) it was given.
//!
//! Per hop: RMS level and dB over the newest ~21 ms, peak of the hop, a Hann-windowed FFT
//! (realfft) of the newest `fft_len` samples, band powers on log-spaced bands with automatic
//! gain control, spectral centroid, spectral flux (rise of log-compressed magnitudes on a
//! 1/12-octave filterbank against the spectrum two hops back), onset detection on the flux
//! (`onset.rs`), beat tracking (`tracker.rs`: the neural tracker on the samples, or the classic
//! one on the flux), the log-frequency spectrum row and the waveform. Smoothing happens here, per hop, so live and offline runs agree.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

use super::AudioError;
use super::features::{AudioFeatures, MIN_DB, SPECTRUM_BINS, WAVEFORM_LEN};
use super::onset::OnsetDetector;
use super::tracker::Tracker;
use crate::scene::audio::TrackerKind;
use crate::scene::audio::{AgcMode, AudioConfig, MAX_BANDS, Smoothing};

/// Magnitude compression for the flux: `ln(1 + LAMBDA * magnitude)`. Large enough that the
/// flux measures level ratios (so quiet and loud hits register alike) down to about -80 dB
/// per bin, where it fades out so that a noise floor contributes little.
const LAMBDA: f32 = 1.0e4;

/// Flux bands per octave: the flux is taken on a log-frequency filterbank rather than on raw
/// bins, which weighs the bass like the treble and averages out the bin-to-bin randomness of
/// noisy sounds (the cause of false onsets during a snare's tail).
const FLUX_BANDS_PER_OCTAVE: f32 = 12.0;

/// The flux compares with the spectrum this many hops back (with a window 8 hops long,
/// neighbouring hops overlap so much that their difference is mostly noise; two hops back is
/// where the Hann window has fallen to half, as in Böck and Widmer's `SuperFlux`).
const FLUX_LAG_HOPS: usize = 2;

/// Duration of the level (RMS) window, seconds.
const LEVEL_SECS: f64 = 0.021;

/// Upper edge of the "bass" flux the classic tracker weighs for phase and downbeats, Hz (kick
/// drums and bass notes).
const BASS_FLUX_MAX_HZ: f32 = 160.0;

/// Raw level below which a hop counts as silent (for the beat tracker's confidence).
const ACTIVE_DB: f32 = -70.0;

/// Seconds of silence before the beat tracker stops trusting its tempo.
const ACTIVE_HOLD_SECS: f64 = 2.0;

/// Values closer to zero than this snap to zero, so silence ends at exact zeros.
const SNAP: f32 = 1.0e-6;

/// FFT bins a band or spectrum bin reads.
#[derive(Debug, Clone, Copy)]
enum BinSource {
    /// Mean (spectrum) or sum (bands) of the power of bins `lo..=hi`.
    Range(usize, usize),
    /// Between bin `k` and `k + 1`, `frac` of the way: the band is narrower than a bin.
    Interp(usize, f32),
}

/// Attack/release coefficients per hop.
#[derive(Debug, Clone, Copy)]
struct Coefs {
    up: f32,
    down: f32,
}

impl Coefs {
    fn new(s: Smoothing, hop_secs: f64) -> Self {
        Self {
            up: coef(s.attack_secs, hop_secs),
            down: coef(s.release_secs, hop_secs),
        }
    }

    fn apply(self, current: f32, target: f32) -> f32 {
        let k = if target > current { self.up } else { self.down };
        let v = current + (target - current) * k;
        if target == 0.0 && v.abs() < SNAP {
            0.0
        } else {
            v
        }
    }
}

/// One-pole coefficient for time constant `tau_secs` at steps of `dt_secs` (1 = no smoothing).
fn coef(tau_secs: f32, dt_secs: f64) -> f32 {
    if tau_secs <= 0.0 {
        1.0
    } else {
        (1.0 - (-dt_secs / f64::from(tau_secs)).exp()) as f32
    }
}

/// Decay factor per hop for a pulse with time constant `tau_secs`.
fn decay(tau_secs: f32, dt_secs: f64) -> f32 {
    1.0 - coef(tau_secs, dt_secs)
}

fn power_db(p: f32) -> f32 {
    if p <= 0.0 {
        MIN_DB
    } else {
        (10.0 * p.log10()).max(MIN_DB)
    }
}

/// The windowed FFT and everything computed from one spectrum.
struct Spectral {
    fft_len: usize,
    fft: Arc<dyn RealToComplex<f32>>,
    window: Vec<f32>,
    input: Vec<f32>,
    output: Vec<Complex<f32>>,
    scratch: Vec<Complex<f32>>,
    mag_scale: f32,
    mag: Vec<f32>,
    /// Bin ranges of the flux filterbank.
    flux_bands: Vec<(usize, usize)>,
    /// Log magnitudes of the flux bands for the last `FLUX_LAG_HOPS + 1` hops.
    flux_history: Vec<Vec<f32>>,
    /// Slot of `flux_history` the next hop writes.
    flux_slot: usize,
    /// Flux bands below [`BASS_FLUX_MAX_HZ`] (a prefix of `flux_bands`).
    bass_bands: usize,
    /// The flux of the newest hop over the bass bands only (same scale as the flux).
    bass_flux: f32,
    /// First and last bin used for flux and centroid (`min_hz..max_hz`).
    lo: usize,
    hi: usize,
    bin_hz: f32,
}

impl Spectral {
    fn new(fft_len: usize, sample_rate_hz: u32, min_hz: f32, max_hz: f32) -> Self {
        let mut planner = RealFftPlanner::<f32>::new();
        let fft = planner.plan_fft_forward(fft_len);
        // Periodic Hann.
        let window: Vec<f32> = (0..fft_len)
            .map(|i| {
                let x = std::f64::consts::PI * i as f64 / fft_len as f64;
                (x.sin() * x.sin()) as f32
            })
            .collect();
        let sum: f32 = window.iter().sum();
        let bins = fft_len / 2 + 1;
        let bin_hz = sample_rate_hz as f32 / fft_len as f32;
        let lo = ((min_hz / bin_hz).floor() as usize).clamp(1, bins - 1);
        let hi = ((max_hz / bin_hz).ceil() as usize).clamp(lo, bins - 1);
        // Log-spaced bands of at least one bin each, from `lo` to `hi`.
        let mut flux_bands = Vec::new();
        let mut start = lo;
        let mut k = 1.0f32;
        while start <= hi {
            let edge_hz = min_hz * 2f32.powf(k / FLUX_BANDS_PER_OCTAVE);
            let end = ((edge_hz / bin_hz).ceil() as usize).min(hi + 1);
            if end > start {
                flux_bands.push((start, end - 1));
                start = end;
            }
            k += 1.0;
        }
        let flux_history = vec![vec![0.0; flux_bands.len()]; FLUX_LAG_HOPS + 1];
        let bass_bands = flux_bands
            .iter()
            .take_while(|&&(_, hi)| (hi + 1) as f32 * bin_hz <= BASS_FLUX_MAX_HZ)
            .count()
            .max(1);
        Self {
            fft_len,
            input: fft.make_input_vec(),
            output: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            window,
            mag_scale: 2.0 / sum,
            mag: vec![0.0; bins],
            flux_bands,
            bass_bands,
            bass_flux: 0.0,
            flux_history,
            flux_slot: 0,
            lo,
            hi,
            bin_hz,
        }
    }

    /// Transforms the newest `fft_len` samples of `buf`; returns the flux (0..1).
    fn analyse(&mut self, buf: &[f32]) -> f32 {
        let start = buf.len().saturating_sub(self.fft_len);
        for ((dst, &x), &w) in self.input.iter_mut().zip(&buf[start..]).zip(&self.window) {
            *dst = x * w;
        }
        if self
            .fft
            .process_with_scratch(&mut self.input, &mut self.output, &mut self.scratch)
            .is_err()
        {
            // Cannot happen with buffers made by the plan; treat as silence if it does.
            self.output.fill(Complex::new(0.0, 0.0));
        }
        for (m, c) in self.mag.iter_mut().zip(&self.output) {
            *m = c.norm() * self.mag_scale;
        }
        self.flux()
    }

    /// Rectified rise of the log band magnitudes over `FLUX_LAG_HOPS` hops, against the
    /// maximum of each band and its neighbours back then (so a tone that wobbles by a band
    /// is not an onset), averaged over bands and scaled to 0..1.
    fn flux(&mut self) -> f32 {
        let slots = self.flux_history.len();
        let now = self.flux_slot;
        let then = (now + 1) % slots;
        self.flux_slot = then;
        let (mag, bands) = (&self.mag, &self.flux_bands);
        if let Some(current) = self.flux_history.get_mut(now) {
            for (v, &(lo, hi)) in current.iter_mut().zip(bands) {
                let mean = mag[lo..=hi].iter().sum::<f32>() / (hi - lo + 1) as f32;
                *v = (LAMBDA * mean).ln_1p();
            }
        }
        let (Some(current), Some(past)) = (self.flux_history.get(now), self.flux_history.get(then))
        else {
            return 0.0;
        };
        let n = current.len();
        let mut rise = 0.0f32;
        for (b, &v) in current.iter().enumerate() {
            let reference = past[b.saturating_sub(1)..=(b + 1).min(n - 1)]
                .iter()
                .copied()
                .fold(0.0f32, f32::max);
            rise += (v - reference).max(0.0);
            if b + 1 == self.bass_bands {
                self.bass_flux = rise / (self.bass_bands as f32 * LAMBDA.ln_1p());
            }
        }
        rise / (n.max(1) as f32 * LAMBDA.ln_1p())
    }

    /// Power of a band or spectrum bin: the sum (`mean = false`) or mean of the covered bins.
    fn power(&self, src: BinSource, mean: bool) -> f32 {
        match src {
            BinSource::Range(lo, hi) => {
                let s: f32 = self.mag[lo..=hi].iter().map(|m| m * m).sum();
                if mean { s / (hi - lo + 1) as f32 } else { s }
            }
            BinSource::Interp(bin, frac) => {
                let below = self.mag.get(bin).copied().unwrap_or(0.0);
                let above = self.mag.get(bin + 1).copied().unwrap_or(below);
                let m = below + (above - below) * frac;
                m * m
            }
        }
    }

    /// Bins covering `[f0, f1)`, or an interpolation at the geometric centre when none does.
    fn source(&self, f0: f32, f1: f32) -> BinSource {
        let bins = self.mag.len();
        let lo = (f0 / self.bin_hz).ceil() as usize;
        let hi_excl = (f1 / self.bin_hz).ceil() as usize;
        if hi_excl > lo && lo >= 1 && hi_excl <= bins {
            BinSource::Range(lo, hi_excl - 1)
        } else {
            let pos = ((f0 * f1).sqrt() / self.bin_hz).clamp(0.0, (bins - 1) as f32);
            let k = (pos.floor() as usize).min(bins - 1);
            BinSource::Interp(k, pos - k as f32)
        }
    }
}

/// Per-feature smoothing coefficients.
#[derive(Debug, Clone, Copy)]
struct Smoothers {
    level: Coefs,
    peak: Coefs,
    bands: Coefs,
    centroid: Coefs,
    flux: Coefs,
    spectrum: Coefs,
    onset_decay: f32,
    beat_decay: f32,
}

/// The analyser. Feed it mono samples with [`Analyzer::process`]; read
/// [`Analyzer::features`] (or get a callback per hop with [`Analyzer::process_with`]).
pub struct Analyzer {
    sample_rate_hz: u32,
    hop: usize,
    hop_secs: f64,
    level_len: usize,
    buf: Vec<f32>,
    fill: usize,
    pos: u64,
    spectral: Spectral,
    band_sources: Vec<BinSource>,
    spectrum_sources: Vec<BinSource>,
    agc: AgcMode,
    agc_range_db: f32,
    agc_fall_db: f32,
    agc_floor_db: f32,
    spectrum_range_db: f32,
    ref_db: f32,
    band_ref_db: [f32; MAX_BANDS],
    min_hz: f32,
    max_hz: f32,
    onset: OnsetDetector,
    beat: Tracker,
    smooth: Smoothers,
    hops_since_sound: u64,
    active_hops: u64,
    features: AudioFeatures,
}

impl std::fmt::Debug for Analyzer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Analyzer")
            .field("sample_rate_hz", &self.sample_rate_hz)
            .field("fft_len", &self.spectral.fft_len)
            .field("hop", &self.hop)
            .field("pos", &self.pos)
            .finish_non_exhaustive()
    }
}

impl Analyzer {
    /// An analyser for a mono stream at `sample_rate_hz`, configured by `config` (validated
    /// here).
    ///
    /// # Errors
    /// [`AudioError::Config`] for an invalid configuration or a rate below 8 kHz.
    pub fn new(config: &AudioConfig, sample_rate_hz: u32) -> Result<Self, AudioError> {
        config.validate()?;
        if !(8_000..=768_000).contains(&sample_rate_hz) {
            return Err(AudioError::Config {
                key: "sample rate".into(),
                message: format!("{sample_rate_hz} Hz is outside 8000..=768000"),
            });
        }
        let rate = f64::from(sample_rate_hz);
        let fft_len = config.fft_len_at(sample_rate_hz);
        let hop = config.hop_len_at(sample_rate_hz);
        let hop_secs = hop as f64 / rate;
        let level_len = ((LEVEL_SECS * rate).round() as usize).clamp(hop.min(64), fft_len);
        let buf_len = fft_len.max(WAVEFORM_LEN).max(hop);
        let max_hz = config.max_hz.min(0.95 * sample_rate_hz as f32 / 2.0);
        let min_hz = config.min_hz.min(max_hz / 2.0);
        let spectral = Spectral::new(fft_len, sample_rate_hz, min_hz, max_hz);

        let edges = |n: usize, i: usize| min_hz * (max_hz / min_hz).powf(i as f32 / n as f32);
        let band_sources = (0..config.bands)
            .map(|b| spectral.source(edges(config.bands, b), edges(config.bands, b + 1)))
            .collect();
        let spectrum_sources = (0..SPECTRUM_BINS)
            .map(|j| spectral.source(edges(SPECTRUM_BINS, j), edges(SPECTRUM_BINS, j + 1)))
            .collect();
        let s = &config.smoothing;
        let smooth = Smoothers {
            level: Coefs::new(s.level, hop_secs),
            peak: Coefs::new(s.peak, hop_secs),
            bands: Coefs::new(s.bands, hop_secs),
            centroid: Coefs::new(s.centroid, hop_secs),
            flux: Coefs::new(s.flux, hop_secs),
            spectrum: Coefs::new(s.spectrum, hop_secs),
            onset_decay: decay(s.onset_decay_secs, hop_secs),
            beat_decay: decay(s.beat_decay_secs, hop_secs),
        };
        let mut beat = Tracker::new(config, sample_rate_hz, hop_secs);
        beat.set_odf_delay(measure_flux_delay(
            fft_len,
            hop,
            sample_rate_hz,
            min_hz,
            max_hz,
        ));
        let features = AudioFeatures::silent(sample_rate_hz, config.bands);
        Ok(Self {
            sample_rate_hz,
            hop,
            hop_secs,
            level_len,
            buf: vec![0.0; buf_len],
            fill: 0,
            pos: 0,
            spectral,
            band_sources,
            spectrum_sources,
            agc: config.agc,
            agc_range_db: config.agc_range_db,
            agc_fall_db: (f64::from(config.agc_speed_db_per_sec) * hop_secs) as f32,
            agc_floor_db: config.agc_floor_db,
            spectrum_range_db: config.spectrum_range_db,
            ref_db: config.agc_floor_db,
            band_ref_db: [config.agc_floor_db; MAX_BANDS],
            min_hz,
            max_hz,
            onset: OnsetDetector::new(
                hop_secs,
                config.onset_threshold,
                config.onset_floor,
                config.onset_min_interval_secs,
            ),
            beat,
            smooth,
            hops_since_sound: u64::MAX / 2,
            active_hops: ((ACTIVE_HOLD_SECS / hop_secs).round() as u64).max(1),
            features,
        })
    }

    /// Sample rate the analyser was made for, Hz.
    #[must_use]
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Hop length in samples.
    #[must_use]
    pub fn hop_len(&self) -> usize {
        self.hop
    }

    /// FFT length in samples.
    #[must_use]
    pub fn fft_len(&self) -> usize {
        self.spectral.fft_len
    }

    /// Hop duration in seconds.
    #[must_use]
    pub fn hop_secs(&self) -> f64 {
        self.hop_secs
    }

    /// Samples consumed so far (the stream position).
    #[must_use]
    pub fn position(&self) -> u64 {
        self.pos
    }

    /// The features at the end of the newest completed hop.
    #[must_use]
    pub fn features(&self) -> &AudioFeatures {
        &self.features
    }

    /// Feeds samples (any length); features update at every completed hop.
    pub fn process(&mut self, samples: &[f32]) {
        self.process_with(samples, |_| {});
    }

    /// Feeds samples and calls `on_hop` with the features of every hop completed.
    pub fn process_with(&mut self, mut samples: &[f32], mut on_hop: impl FnMut(&AudioFeatures)) {
        let len = self.buf.len();
        while !samples.is_empty() {
            let take = (self.hop - self.fill).min(samples.len());
            let start = len - self.hop + self.fill;
            let (now, rest) = samples.split_at(take);
            for (dst, &x) in self.buf[start..start + take].iter_mut().zip(now) {
                *dst = if x.is_finite() { x } else { 0.0 };
            }
            samples = rest;
            self.fill += take;
            self.pos += take as u64;
            if self.fill == self.hop {
                self.analyse_hop();
                on_hop(&self.features);
                self.buf.copy_within(self.hop.., 0);
                self.fill = 0;
            }
        }
    }

    /// Stream time of sample position `at_sample`, seconds (future positions clamp to now).
    fn secs_at(&self, at_sample: u64) -> f64 {
        at_sample.min(self.pos) as f64 / f64::from(self.sample_rate_hz)
    }

    /// Which beat tracker runs (`[audio] tracker`, or the fallback when the neural one
    /// cannot start).
    #[must_use]
    pub fn tracker(&self) -> TrackerKind {
        self.beat.kind()
    }

    /// Tap tempo: a tap at stream position `at_sample`. Two or more taps less than 1.5 of the
    /// longest period apart set the tempo and hold it; each tap puts a beat at its time.
    pub fn tap(&mut self, at_sample: u64) {
        let at = self.secs_at(at_sample);
        self.beat.tap(at);
    }

    /// A beat, the first of a bar, falls at stream position `at_sample`: the phase restarts
    /// there and that beat becomes the downbeat.
    pub fn resync(&mut self, at_sample: u64) {
        let at = self.secs_at(at_sample);
        self.beat.resync(at);
    }

    /// Drops a tapped tempo; the audio estimate takes over.
    pub fn clear_tap(&mut self) {
        self.beat.clear_tap();
    }

    fn analyse_hop(&mut self) {
        let n = self.buf.len();
        let newest = &self.buf[n - self.level_len..];
        let rms = (newest.iter().map(|x| x * x).sum::<f32>() / newest.len() as f32).sqrt();
        let peak = self.buf[n - self.hop..]
            .iter()
            .fold(0.0f32, |m, x| m.max(x.abs()));
        let flux = self.spectral.analyse(&self.buf);

        // Bands and gain control.
        let mut band_db = [MIN_DB; MAX_BANDS];
        for (db, &src) in band_db.iter_mut().zip(&self.band_sources) {
            *db = power_db(self.spectral.power(src, false));
        }
        let bands_used = self.band_sources.len();
        let loudest = band_db[..bands_used].iter().copied().fold(MIN_DB, f32::max);
        self.ref_db = (self.ref_db - self.agc_fall_db)
            .max(loudest)
            .max(self.agc_floor_db);
        let mut bands = [0.0f32; MAX_BANDS];
        for b in 0..bands_used {
            let reference = match self.agc {
                AgcMode::Global => self.ref_db,
                AgcMode::PerBand => {
                    let r = (self.band_ref_db[b] - self.agc_fall_db)
                        .max(band_db[b])
                        .max(self.agc_floor_db);
                    self.band_ref_db[b] = r;
                    r
                }
            };
            bands[b] = ((band_db[b] - (reference - self.agc_range_db)) / self.agc_range_db)
                .clamp(0.0, 1.0);
        }

        // Centroid over min_hz..max_hz, magnitude-weighted.
        let (lo, hi) = (self.spectral.lo, self.spectral.hi);
        let mut weighted = 0.0f64;
        let mut total = 0.0f64;
        for (k, &m) in self.spectral.mag[lo..=hi].iter().enumerate() {
            weighted += f64::from(m) * (lo + k) as f64;
            total += f64::from(m);
        }
        let audible = rms > 1.0e-5 && total > 1.0e-6;
        let (centroid_hz, centroid) = if audible {
            let hz = (weighted / total) as f32 * self.spectral.bin_hz;
            let norm = ((hz / self.min_hz).ln() / (self.max_hz / self.min_hz).ln()).clamp(0.0, 1.0);
            (hz, norm)
        } else {
            (0.0, 0.0)
        };

        let is_onset = self.onset.step(flux);
        let level_db = 20.0 * rms.max(1.0e-9).log10();
        if level_db > ACTIVE_DB {
            self.hops_since_sound = 0;
        } else {
            self.hops_since_sound = self.hops_since_sound.saturating_add(1);
        }
        let active = self.hops_since_sound < self.active_hops;
        let now_secs = self.pos as f64 / f64::from(self.sample_rate_hz);
        let fluxes = [flux, self.spectral.bass_flux];
        let beat = self
            .beat
            .step(&self.buf[n - self.hop..], fluxes, active, now_secs);

        // Smooth into the published features.
        let sm = self.smooth;
        let f = &mut self.features;
        f.stream_pos = self.pos;
        f.time_secs = self.pos as f64 / f64::from(self.sample_rate_hz);
        f.level = sm.level.apply(f.level, rms);
        f.level_db = if f.level > 0.0 {
            (20.0 * f.level.log10()).max(MIN_DB)
        } else {
            MIN_DB
        };
        f.peak = sm.peak.apply(f.peak, peak);
        for (out, &v) in f.bands.iter_mut().zip(&bands) {
            *out = sm.bands.apply(*out, v);
        }
        f.centroid = sm.centroid.apply(f.centroid, centroid);
        f.centroid_hz = sm.centroid.apply(f.centroid_hz, centroid_hz);
        f.flux = sm.flux.apply(f.flux, flux.clamp(0.0, 1.0));
        if is_onset {
            f.onset = 1.0;
            f.onset_count += 1;
        } else {
            f.onset = decay_pulse(f.onset, sm.onset_decay);
        }
        if beat.beat {
            f.beat = 1.0;
            f.beat_count += 1;
        } else {
            f.beat = decay_pulse(f.beat, sm.beat_decay);
        }
        if beat.downbeat {
            f.downbeat = 1.0;
            f.downbeat_count += 1;
        } else {
            f.downbeat = decay_pulse(f.downbeat, sm.beat_decay);
        }
        f.bpm = beat.bpm;
        f.bpm_confidence = beat.confidence;
        f.beat_phase = beat.phase;
        f.bar_phase = beat.bar_phase;
        f.beat_in_bar = beat.beat_in_bar;
        f.beats_per_bar = beat.beats_per_bar;
        let floor = self.ref_db - self.spectrum_range_db;
        for (out, &src) in f.spectrum.iter_mut().zip(&self.spectrum_sources) {
            let db = power_db(self.spectral.power(src, true));
            let v = ((db - floor) / self.spectrum_range_db).clamp(0.0, 1.0);
            *out = sm.spectrum.apply(*out, v);
        }
        f.waveform.copy_from_slice(&self.buf[n - WAVEFORM_LEN..]);
    }
}

/// One hop of a pulse's decay; tiny values end at exact zero.
fn decay_pulse(value: f32, factor: f32) -> f32 {
    let v = value * factor;
    if v < 1.0e-4 { 0.0 } else { v }
}

/// How many hops the flux peak of an impulse lags the impulse, averaged over its position
/// within the hop. The beat tracker finds beats at flux peaks and subtracts this.
fn measure_flux_delay(fft_len: usize, hop: usize, rate: u32, min_hz: f32, max_hz: f32) -> f64 {
    let mut spectral = Spectral::new(fft_len, rate, min_hz, max_hz);
    let offsets = 8usize;
    let hops_after = fft_len / hop + 3;
    let mut total = 0.0f64;
    let mut buf = vec![0.0f32; fft_len];
    for o in 0..offsets {
        for h in &mut spectral.flux_history {
            h.fill(0.0);
        }
        buf.fill(0.0);
        // The impulse sits `within` samples before the end of the first hop that holds it.
        let within = (o * hop) / offsets;
        let mut best = (0usize, f32::MIN);
        for h in 0..hops_after {
            buf.copy_within(hop.., 0);
            let tail = fft_len - hop;
            buf[tail..].fill(0.0);
            if h == 0 {
                buf[fft_len - 1 - within] = 0.5;
            }
            let flux = spectral.analyse(&buf);
            if flux > best.1 {
                best = (h, flux);
            }
        }
        // Hop h ends (h * hop + within + 1) samples after the impulse.
        total += (best.0 * hop + within + 1) as f64 / hop as f64;
    }
    total / offsets as f64
}
