//! What the analysis publishes: one [`AudioFeatures`] per hop, and how it maps onto the audio
//! texture (the frame globals are written by `render::globals`, which reads these fields).

use crate::scene::audio::MAX_BANDS;

/// Log-frequency bins in [`AudioFeatures::spectrum`].
pub const SPECTRUM_BINS: usize = 256;

/// Samples in [`AudioFeatures::waveform`].
pub const WAVEFORM_LEN: usize = 512;

/// Width of the audio texture written by [`AudioFeatures::write_texture`].
pub const TEXTURE_WIDTH: usize = 512;

/// Height of the audio texture: row 0 is the spectrum, row 1 the waveform.
pub const TEXTURE_HEIGHT: usize = 2;

/// Level in dB reported for digital silence (and the floor of every dB value).
pub const MIN_DB: f32 = -120.0;

/// The analysis result at the end of one hop. All continuous values are smoothed as
/// configured in `[audio.smoothing]`; pulses jump to 1 and decay.
#[derive(Debug, Clone, PartialEq)]
pub struct AudioFeatures {
    /// Sample index (at `sample_rate_hz`) just after the newest sample analysed.
    pub stream_pos: u64,
    /// `stream_pos` in seconds.
    pub time_secs: f64,
    /// Sample rate of the analysed stream, Hz.
    pub sample_rate_hz: u32,
    /// RMS of the newest ~21 ms, linear 0..1 (a full-scale sine gives 0.707).
    pub level: f32,
    /// `level` in dBFS, [`MIN_DB`]..0.
    pub level_db: f32,
    /// Largest absolute sample of the newest hop, 0..1, with a decaying hold.
    pub peak: f32,
    /// Band energies 0..1 after gain control, low to high; entries past `band_count` are 0.
    pub bands: [f32; MAX_BANDS],
    /// How many entries of `bands` are in use (`[audio] bands`).
    pub band_count: usize,
    /// Spectral centroid on a log-frequency scale: 0 at `min_hz`, 1 at `max_hz`; 0 in silence.
    pub centroid: f32,
    /// Spectral centroid in Hz; 0 in silence.
    pub centroid_hz: f32,
    /// Spectral flux: mean rise of the log-magnitude spectrum since the previous hop, 0..1.
    pub flux: f32,
    /// Onset pulse: 1 at an onset, decaying with `onset_decay_secs`.
    pub onset: f32,
    /// Onsets since the analysis started; a reader that polls slower than the hop rate
    /// compares counts so it never misses one.
    pub onset_count: u64,
    /// Beat pulse: 1 on a beat, decaying with `beat_decay_secs`.
    pub beat: f32,
    /// Beats since the analysis started.
    pub beat_count: u64,
    /// Downbeat pulse: 1 on the first beat of a bar, decaying with `beat_decay_secs`.
    pub downbeat: f32,
    /// Downbeats since the analysis started.
    pub downbeat_count: u64,
    /// Tempo in beats per minute (120 until something better is known).
    pub bpm: f32,
    /// Confidence of the tempo, 0..1 (1 while a tapped tempo holds).
    pub bpm_confidence: f32,
    /// Position within the current beat, 0..1; wraps to 0 on each beat and keeps running
    /// between beats and in silence.
    pub beat_phase: f32,
    /// Position within the current bar, 0..1: 0 on the downbeat, `(beat_in_bar +
    /// beat_phase) / beats_per_bar`.
    pub bar_phase: f32,
    /// Beat of the bar, 0 = the downbeat .. `beats_per_bar - 1`.
    pub beat_in_bar: u32,
    /// Beats per bar: 2, 3 or 4 (the neural tracker's meter; 4 with the classic tracker).
    pub beats_per_bar: u32,
    /// Magnitude spectrum on [`SPECTRUM_BINS`] log-spaced bins from `min_hz` to `max_hz`,
    /// dB-mapped to 0..1 over `spectrum_range_db` below the gain-control reference.
    pub spectrum: [f32; SPECTRUM_BINS],
    /// The newest [`WAVEFORM_LEN`] mono samples, -1..1, oldest first (not smoothed).
    pub waveform: [f32; WAVEFORM_LEN],
}

impl Default for AudioFeatures {
    fn default() -> Self {
        Self::silent(0, 8)
    }
}

impl AudioFeatures {
    /// Silence: every value 0 (dB at [`MIN_DB`]), tempo 120 with no confidence.
    #[must_use]
    pub fn silent(sample_rate_hz: u32, band_count: usize) -> Self {
        Self {
            stream_pos: 0,
            time_secs: 0.0,
            sample_rate_hz,
            level: 0.0,
            level_db: MIN_DB,
            peak: 0.0,
            bands: [0.0; MAX_BANDS],
            band_count: band_count.min(MAX_BANDS),
            centroid: 0.0,
            centroid_hz: 0.0,
            flux: 0.0,
            onset: 0.0,
            onset_count: 0,
            beat: 0.0,
            beat_count: 0,
            downbeat: 0.0,
            downbeat_count: 0,
            bpm: 120.0,
            bpm_confidence: 0.0,
            beat_phase: 0.0,
            bar_phase: 0.0,
            beat_in_bar: 0,
            beats_per_bar: 4,
            spectrum: [0.0; SPECTRUM_BINS],
            waveform: [0.0; WAVEFORM_LEN],
        }
    }

    /// The bands in use.
    #[must_use]
    pub fn active_bands(&self) -> &[f32] {
        &self.bands[..self.band_count.min(MAX_BANDS)]
    }

    /// Writes the audio texture, [`TEXTURE_WIDTH`] x [`TEXTURE_HEIGHT`] single floats row
    /// by row (for an `R32Float` texture): row 0 the spectrum (linearly resampled to the
    /// width, 0..1), row 1 the waveform (-1..1). Writes nothing past `out.len()`.
    pub fn write_texture(&self, out: &mut [f32]) {
        let (row0, row1) = out.split_at_mut(TEXTURE_WIDTH.min(out.len()));
        for (x, v) in row0.iter_mut().enumerate() {
            let pos = (x as f32 + 0.5) * SPECTRUM_BINS as f32 / TEXTURE_WIDTH as f32 - 0.5;
            let pos = pos.clamp(0.0, (SPECTRUM_BINS - 1) as f32);
            let bin = pos.floor() as usize;
            let frac = pos - bin as f32;
            let below = self.spectrum.get(bin).copied().unwrap_or(0.0);
            let above = self.spectrum.get(bin + 1).copied().unwrap_or(below);
            *v = below + (above - below) * frac;
        }
        for (v, w) in row1.iter_mut().zip(self.waveform.iter()) {
            *v = *w;
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn texture_rows_hold_spectrum_and_waveform() {
        let mut f = AudioFeatures::silent(48_000, 8);
        f.spectrum[SPECTRUM_BINS - 1] = 1.0;
        f.waveform[3] = -0.5;
        let mut tex = vec![9.0; TEXTURE_WIDTH * TEXTURE_HEIGHT];
        f.write_texture(&mut tex);
        assert_eq!(tex[0], 0.0);
        assert!((tex[TEXTURE_WIDTH - 1] - 1.0).abs() < 1e-6);
        assert_eq!(tex[TEXTURE_WIDTH + 3], -0.5);
    }
}
