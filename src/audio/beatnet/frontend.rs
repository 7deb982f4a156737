//! BeatNet's input features, computed as a stream: mono samples at 22050 Hz in, one row of 272
//! values per 20 ms frame out, equal (within float rounding) to what BeatNet's Python pipeline
//! (`BeatNet/log_spect.py` on madmom 0.16.1) computes for the whole file at once.
//!
//! The pipeline, and madmom's exact conventions it follows:
//! - Frames (`FramedSignal`, origin 0): frame `i` holds samples `441 i - 705 .. 441 i + 706`
//!   (1411 samples centred on `441 i`), zeros before the first sample. Streaming, frame `i` is
//!   complete once sample `441 i + 705` has arrived, so a frame describes the sound 32 ms before
//!   it is emitted.
//! - STFT: times a symmetric Hann window (`np.hanning(1411)`), a 1411-point FFT, magnitudes of
//!   the first 705 bins (`fft_size >> 1`: the bin at 11025 Hz is dropped), no scaling.
//! - Filterbank (`LogarithmicFilterbank`, 24 bands per octave, 30 Hz..17 kHz, A4 = 440 Hz,
//!   normalised, unique filters): centre frequencies `440 * 2^(k/24)` within 30..17000 Hz, each
//!   mapped to the nearest bin, duplicates removed; every three consecutive bins make one
//!   triangular filter of area 1 (start, centre, stop; a filter narrower than two bins is one bin
//!   wide). madmom labels bin `k` with frequency `k * 22050 / 1410` (it computes bin frequencies
//!   from `2 * 705` rather than 1411 points); that labelling is kept, since the network was trained
//!   on it. 136 bands.
//! - `log10(1 + x)` of each band (`LogarithmicSpectrogram`, mul 1, add 1).
//! - The positive difference to the previous frame (`SpectrogramDifference`, diff ratio 0.5: the
//!   Hann window falls to half its height 352.5 samples from its centre, 0.8 of a hop, which
//!   rounds to one frame); zero for the first frame.
//! - The 136 log bands then the 136 differences: 272 values.

use std::sync::Arc;

use realfft::num_complex::Complex;
use realfft::{RealFftPlanner, RealToComplex};

/// Sample rate the features are defined at, Hz.
pub(crate) const SAMPLE_RATE_HZ: u32 = 22_050;
/// Frame length in samples (64 ms: `int(0.064 * 22050)`).
pub(crate) const FRAME_LEN: usize = 1411;
/// Hop between frames in samples (20 ms: `int(0.020 * 22050)`).
pub(crate) const HOP_LEN: usize = 441;
/// Frames per second.
pub(crate) const FRAMES_PER_SEC: f64 = SAMPLE_RATE_HZ as f64 / HOP_LEN as f64;
/// Samples from a frame's centre to its last sample (madmom: `frame_size // 2`).
pub(crate) const HALF_FRAME: usize = FRAME_LEN / 2;
/// FFT bins kept (`fft_size >> 1`).
const BINS: usize = FRAME_LEN >> 1;
/// Filter bands (log-spaced, 24 per octave).
pub(crate) const BANDS: usize = 136;
/// Values per frame: log bands, then their positive differences.
pub(crate) const FEATURES: usize = 2 * BANDS;
/// Bands per octave of the filterbank.
const BANDS_PER_OCTAVE: f64 = 24.0;
/// Filterbank range and tuning, Hz.
const MIN_HZ: f64 = 30.0;
const MAX_HZ: f64 = 17_000.0;
const A4_HZ: f64 = 440.0;

/// One triangular filter: weights for bins `start..start + weights.len()`.
#[derive(Debug, Clone, PartialEq)]
struct Filter {
    start: usize,
    weights: Vec<f32>,
}

/// madmom's `log_frequencies(24, 30, 17000, 440)`.
fn log_frequencies() -> Vec<f64> {
    let left = ((MIN_HZ / A4_HZ).log2() * BANDS_PER_OCTAVE).floor() as i64;
    let right = ((MAX_HZ / A4_HZ).log2() * BANDS_PER_OCTAVE).ceil() as i64;
    (left..right)
        .map(|k| A4_HZ * 2f64.powf(k as f64 / BANDS_PER_OCTAVE))
        .filter(|&f| (MIN_HZ..=MAX_HZ).contains(&f))
        .collect()
}

/// madmom's `frequencies2bins(frequencies, bin_frequencies, unique_bins=True)`: the nearest
/// bin of each frequency (the lower one on a tie), clipped to `1..len`, sorted and unique.
fn frequencies_to_bins(frequencies: &[f64], bin_hz: &[f64]) -> Vec<usize> {
    let mut bins: Vec<usize> = frequencies
        .iter()
        .map(|&f| {
            let i = bin_hz
                .partition_point(|&b| b < f)
                .clamp(1, bin_hz.len() - 1);
            let (left, right) = (bin_hz[i - 1], bin_hz[i]);
            if f - left < right - f { i - 1 } else { i }
        })
        .collect();
    bins.sort_unstable();
    bins.dedup();
    bins
}

/// madmom's overlapping `TriangularFilter`s of area 1 on consecutive triples of `bins`.
fn triangular_filters(bins: &[usize]) -> Vec<Filter> {
    bins.windows(3)
        .map(|w| {
            let (start, mut center, mut stop) = (w[0], w[1], w[2]);
            if stop - start < 2 {
                center = start;
                stop = start + 1;
            }
            let (rise, fall) = (center - start, stop - center);
            // np.linspace(0, 1, rise, endpoint=False) then np.linspace(1, 0, fall, endpoint=False).
            let mut data: Vec<f64> = (0..rise).map(|i| i as f64 / rise as f64).collect();
            data.extend((0..fall).map(|i| 1.0 - i as f64 / fall as f64));
            // madmom casts to float32, then divides by the float32 sum.
            let data32: Vec<f32> = data.iter().map(|&v| v as f32).collect();
            let sum: f32 = data32.iter().sum();
            Filter {
                start,
                weights: data32.iter().map(|&v| v / sum).collect(),
            }
        })
        .collect()
}

/// The BeatNet filterbank: 136 triangular filters over the 705 kept bins.
fn filterbank() -> Vec<Filter> {
    let bin_hz: Vec<f64> = (0..BINS)
        .map(|k| k as f64 * f64::from(SAMPLE_RATE_HZ) / (2 * BINS) as f64)
        .collect();
    triangular_filters(&frequencies_to_bins(&log_frequencies(), &bin_hz))
}

/// The streaming front end. Feed [`Frontend::push`] samples at 22050 Hz; it calls back with
/// every completed frame's 272 features. No allocation after construction.
pub(crate) struct Frontend {
    /// The newest `FRAME_LEN` samples, a ring; zeros stand for the time before the first sample.
    ring: Vec<f32>,
    /// Index in `ring` the next sample goes to.
    head: usize,
    /// Samples received so far.
    received: u64,
    /// Index of the next frame to emit.
    next_frame: u64,
    window: Vec<f64>,
    fft: Arc<dyn RealToComplex<f64>>,
    fft_in: Vec<f64>,
    fft_out: Vec<Complex<f64>>,
    scratch: Vec<Complex<f64>>,
    magnitude: Vec<f32>,
    filters: Vec<Filter>,
    previous: Option<[f32; BANDS]>,
    features: [f32; FEATURES],
}

impl std::fmt::Debug for Frontend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Frontend")
            .field("received", &self.received)
            .field("next_frame", &self.next_frame)
            .finish_non_exhaustive()
    }
}

impl Frontend {
    /// A front end at the start of a stream.
    pub(crate) fn new() -> Self {
        let mut planner = RealFftPlanner::<f64>::new();
        let fft = planner.plan_fft_forward(FRAME_LEN);
        let m = (FRAME_LEN - 1) as f64;
        let window = (0..FRAME_LEN)
            .map(|n| 0.5 - 0.5 * (2.0 * std::f64::consts::PI * n as f64 / m).cos())
            .collect();
        let filters = filterbank();
        debug_assert_eq!(filters.len(), BANDS);
        Self {
            ring: vec![0.0; FRAME_LEN],
            head: 0,
            received: 0,
            next_frame: 0,
            window,
            fft_in: fft.make_input_vec(),
            fft_out: fft.make_output_vec(),
            scratch: fft.make_scratch_vec(),
            fft,
            magnitude: vec![0.0; BINS],
            filters,
            previous: None,
            features: [0.0; FEATURES],
        }
    }

    /// Feeds samples; `on_frame(index, features)` for every frame completed, in order. Frame
    /// `index` is centred on sample `441 * index`.
    pub(crate) fn push(
        &mut self,
        samples: &[f32],
        mut on_frame: impl FnMut(u64, &[f32; FEATURES]),
    ) {
        for &x in samples {
            if let Some(slot) = self.ring.get_mut(self.head) {
                *slot = if x.is_finite() { x } else { 0.0 };
            }
            self.head = (self.head + 1) % FRAME_LEN;
            self.received += 1;
            if self.received == self.next_frame * HOP_LEN as u64 + HALF_FRAME as u64 + 1 {
                self.compute();
                on_frame(self.next_frame, &self.features);
                self.next_frame += 1;
            }
        }
    }

    /// Computes the features of the frame the ring holds (oldest sample at `head`).
    fn compute(&mut self) {
        let (older, newer) = self.ring.split_at(self.head);
        for ((dst, &x), &w) in self
            .fft_in
            .iter_mut()
            .zip(newer.iter().chain(older))
            .zip(&self.window)
        {
            *dst = f64::from(x) * w;
        }
        if self
            .fft
            .process_with_scratch(&mut self.fft_in, &mut self.fft_out, &mut self.scratch)
            .is_err()
        {
            // Cannot happen with buffers made by the plan; silence if it does.
            self.fft_out.fill(Complex::new(0.0, 0.0));
        }
        for (m, c) in self.magnitude.iter_mut().zip(&self.fft_out) {
            // madmom keeps the spectrum as complex64 and its magnitude as float32.
            *m = c.norm() as f32;
        }
        let mut log = [0.0f32; BANDS];
        for (v, f) in log.iter_mut().zip(&self.filters) {
            let band: f32 = f
                .weights
                .iter()
                .zip(&self.magnitude[f.start.min(BINS)..])
                .map(|(w, m)| w * m)
                .sum();
            *v = (1.0 + band).log10();
        }
        let (bands, diffs) = self.features.split_at_mut(BANDS);
        bands.copy_from_slice(&log);
        match &self.previous {
            Some(prev) => {
                for ((d, &now), &then) in diffs.iter_mut().zip(&log).zip(prev) {
                    *d = (now - then).max(0.0);
                }
            }
            None => diffs.fill(0.0),
        }
        self.previous = Some(log);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filterbank_has_madmoms_shape() {
        let fb = filterbank();
        assert_eq!(fb.len(), BANDS);
        // The lowest bands are single bins 3, 4, 5 (madmom: nonzero rows 3..3, 4..4, ...).
        assert_eq!(
            fb[0],
            Filter {
                start: 2,
                weights: vec![0.0, 1.0]
            }
        );
        assert_eq!(fb[1].start, 3);
        // The highest band ends at the last kept bin.
        let last = fb.last().unwrap();
        assert_eq!(last.start + last.weights.len(), BINS - 1);
        for f in &fb {
            let area: f32 = f.weights.iter().sum();
            assert!((area - 1.0).abs() < 1e-5, "{f:?}");
        }
    }

    #[test]
    fn frames_are_emitted_when_their_last_sample_arrives() {
        let mut fe = Frontend::new();
        let mut frames = Vec::new();
        fe.push(&vec![0.0; 705], |i, _| frames.push(i));
        assert!(frames.is_empty());
        fe.push(&[0.0], |i, _| frames.push(i));
        assert_eq!(frames, vec![0]);
        fe.push(&vec![0.0; 440], |i, _| frames.push(i));
        assert_eq!(frames, vec![0]);
        fe.push(&[0.0], |i, _| frames.push(i));
        assert_eq!(frames, vec![0, 1]);
    }

    #[test]
    fn silence_gives_zeros_and_a_tone_lights_its_band() {
        let mut fe = Frontend::new();
        let mut last = [1.0f32; FEATURES];
        fe.push(&vec![0.0; 3000], |_, f| last = *f);
        assert!(last.iter().all(|&v| v == 0.0));
        let tone: Vec<f32> = (0..6000)
            .map(|n| (2.0 * std::f32::consts::PI * 1000.0 * n as f32 / 22_050.0).sin() * 0.5)
            .collect();
        fe.push(&tone, |_, f| last = *f);
        let loudest = (0..BANDS)
            .max_by(|&a, &b| last[a].total_cmp(&last[b]))
            .unwrap();
        // 1000 Hz is 24 * log2(1000 / 30) = 121 bands above 30 Hz on the ideal scale; the low
        // bands are merged (unique bins), so the index is lower: check the centre frequency.
        let fb = filterbank();
        let f = &fb[loudest];
        let centre_bin = f.start
            + f.weights
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .unwrap()
                .0;
        let centre_hz = centre_bin as f64 * 22_050.0 / 1410.0;
        assert!((centre_hz / 1000.0 - 1.0).abs() < 0.03, "{centre_hz}");
    }

    /// The fixture: BeatNet's own pipeline (madmom) on `frontend_input.wav`; see
    /// `models/testdata/beatnet/README.md` for how it was made.
    fn fixture() -> (Vec<f32>, Vec<f32>) {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/testdata/beatnet");
        let (samples, rate) =
            crate::audio::decode_wav(&dir.join("frontend_input.wav")).expect("fixture wav");
        assert_eq!(rate, SAMPLE_RATE_HZ);
        let bytes = std::fs::read(dir.join("frontend_features.f32")).expect("fixture features");
        let features = bytes
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        (samples, features)
    }

    #[test]
    fn matches_beatnets_python_pipeline() {
        let (samples, want) = fixture();
        let frames = want.len() / FEATURES;
        // madmom makes ceil(len / 441) frames, the last ones padded with zeros.
        assert_eq!(frames, samples.len().div_ceil(HOP_LEN));
        let mut got: Vec<f32> = Vec::with_capacity(want.len());
        let mut fe = Frontend::new();
        // In odd chunks, then enough zeros to complete the last frame.
        for chunk in samples.chunks(333) {
            fe.push(chunk, |_, f| got.extend_from_slice(f));
        }
        fe.push(&[0.0; HALF_FRAME + 1], |_, f| got.extend_from_slice(f));
        got.truncate(want.len());
        assert_eq!(got.len(), want.len());
        let mut worst = (0.0f32, 0usize);
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let e = (g - w).abs();
            if e > worst.0 {
                worst = (e, i);
            }
        }
        let (frame, value) = (worst.1 / FEATURES, worst.1 % FEATURES);
        // The values reach 1.9; float32 rounding in madmom's pipeline leaves ~1e-6.
        assert!(
            worst.0 < 2e-5,
            "frame {frame}, value {value}: {} vs {} (error {})",
            got[worst.1],
            want[worst.1],
            worst.0
        );
        // The fixture is not trivial: most bands are lit and the differences are not all 0.
        assert!(want.iter().filter(|&&v| v > 0.01).count() > want.len() / 3);
        assert!(
            want.chunks(FEATURES)
                .skip(1)
                .any(|f| f[BANDS..].iter().any(|&d| d > 0.05))
        );
    }
}
