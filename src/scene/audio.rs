//! The `[audio]` table of a scene: input choice, analysis sizes, gain control, onset and beat
//! tuning, and per-feature smoothing. Every field has a default, so `[audio]` alone (or just
//! `device = "USB"`) is a complete configuration.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// A value of `[audio]` out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("[audio] {key}: {message}")]
pub struct AudioConfigError {
    /// The key, e.g. `bands` or `smoothing.level.attack_secs`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

/// The reference rate `fft_size` and `hop` are given at; other rates scale them so that the
/// analysis covers the same time span (see [`AudioConfig::fft_len_at`]).
pub const REFERENCE_RATE_HZ: u32 = 48_000;

/// Most bands the analysis produces (the `Globals` uniform carries 16).
pub const MAX_BANDS: usize = 16;

/// Which input device to open.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum DeviceSelector {
    /// The position in the list `hypna devices` prints (from 0).
    Index(usize),
    /// `"default"` for the system default input, otherwise a case-insensitive substring of the
    /// device's name or id; an exact match wins over a substring match.
    Name(String),
}

impl DeviceSelector {
    /// Parses a command-line value: all digits is an index, anything else a name.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let t = text.trim();
        match t.parse::<usize>() {
            Ok(i) if !t.is_empty() => Self::Index(i),
            _ => Self::Name(t.to_string()),
        }
    }

    /// True for the system default input (`"default"` or an empty name).
    #[must_use]
    pub fn is_default(&self) -> bool {
        matches!(self, Self::Name(n) if n.is_empty() || n.eq_ignore_ascii_case("default"))
    }
}

impl Default for DeviceSelector {
    fn default() -> Self {
        Self::Name("default".to_string())
    }
}

impl fmt::Display for DeviceSelector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Index(i) => write!(f, "#{i}"),
            Self::Name(n) => write!(f, "\"{n}\""),
        }
    }
}

/// How the band values are normalised to 0..1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgcMode {
    /// One reference for all bands (the loudest band's recent maximum): the bands keep the
    /// shape of the spectrum, so a sine lights one band. The default.
    #[default]
    Global,
    /// Each band follows its own recent maximum: every band uses the whole 0..1 range, at
    /// the price of amplifying bands that carry little energy.
    PerBand,
}

/// Attack and release time constants of one smoothed feature, in seconds. A rising value
/// moves towards its target with the attack constant, a falling one with the release
/// constant; 0 follows at once. Both keys are required when the entry is given.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smoothing {
    /// Time constant for rising values, seconds.
    pub attack_secs: f32,
    /// Time constant for falling values, seconds.
    pub release_secs: f32,
}

impl Smoothing {
    const fn new(attack_secs: f32, release_secs: f32) -> Self {
        Self {
            attack_secs,
            release_secs,
        }
    }
}

/// `[audio.smoothing]`: per-feature smoothing, applied once per analysis hop (so live and
/// offline renders smooth identically).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SmoothingConfig {
    /// `level` and `level_db`. Default: `{ attack_secs = 0.005, release_secs = 0.15 }`.
    pub level: Smoothing,
    /// `peak`. Default: `{ attack_secs = 0.0, release_secs = 0.3 }` (a decaying peak hold).
    pub peak: Smoothing,
    /// `bands`. Default: `{ attack_secs = 0.01, release_secs = 0.12 }`.
    pub bands: Smoothing,
    /// `centroid` and `centroid_hz`. Default: `{ attack_secs = 0.05, release_secs = 0.05 }`.
    pub centroid: Smoothing,
    /// `flux`. Default: `{ attack_secs = 0.0, release_secs = 0.05 }`.
    pub flux: Smoothing,
    /// The spectrum texture row. Default: `{ attack_secs = 0.0, release_secs = 0.1 }`.
    pub spectrum: Smoothing,
    /// Decay time constant of the `onset` pulse (it jumps to 1 on an onset), seconds.
    /// Default: `0.1`.
    pub onset_decay_secs: f32,
    /// Decay time constant of the `beat` pulse (it jumps to 1 on a beat), seconds.
    /// Default: `0.15`.
    pub beat_decay_secs: f32,
}

impl Default for SmoothingConfig {
    fn default() -> Self {
        Self {
            level: Smoothing::new(0.005, 0.15),
            peak: Smoothing::new(0.0, 0.3),
            bands: Smoothing::new(0.01, 0.12),
            centroid: Smoothing::new(0.05, 0.05),
            flux: Smoothing::new(0.0, 0.05),
            spectrum: Smoothing::new(0.0, 0.1),
            onset_decay_secs: 0.1,
            beat_decay_secs: 0.15,
        }
    }
}

/// `[audio]`: live input, analysis and smoothing. The command line may override `device`
/// and `file`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AudioConfig {
    /// Input device: `"default"`, a case-insensitive substring of a device name or id, or an
    /// index from `hypna devices`. Default: `"default"`.
    pub device: DeviceSelector,
    /// A WAV file used instead of the device: played in real time by `run`, read exactly by
    /// `render`. Relative paths are relative to the scene file. Default: none.
    pub file: Option<PathBuf>,
    /// Whether live playback of `file` starts again at its end (otherwise silence follows).
    /// Default: `true`.
    pub loop_file: bool,
    /// Number of log-spaced bands, 1..=16. Default: `8`.
    pub bands: usize,
    /// Lower edge of the lowest band and of the spectrum texture, Hz. Default: `30.0`.
    pub min_hz: f32,
    /// Upper edge of the highest band and of the spectrum texture, Hz (capped just below
    /// the Nyquist frequency). Default: `16000.0`.
    pub max_hz: f32,
    /// FFT window length in samples at 48 kHz; a power of two in 512..=16384. Other rates
    /// use the power of two nearest the same duration. Default: `2048` (43 ms: 23 Hz bins,
    /// enough to separate the bass bands).
    pub fft_size: usize,
    /// Hop between analyses in samples at 48 kHz, 1..=`fft_size`; scaled like `fft_size`.
    /// Default: `256` (5.3 ms: onsets and beats land within 5.3 ms, and features refresh
    /// three times per 60 Hz frame, for well under 1% of a core).
    pub hop: usize,
    /// Device buffer size in frames (cpal `BufferSize::Fixed`); smaller is lower latency.
    /// Default: none (the driver's choice).
    pub buffer_frames: Option<u32>,
    /// How bands are normalised: `"global"` or `"per_band"`. Default: `"global"`.
    pub agc: AgcMode,
    /// Dynamic range mapped onto 0..1 below the gain-control reference, dB. Default: `40.0`.
    pub agc_range_db: f32,
    /// How fast the reference falls after loud passages, dB per second (it rises at once).
    /// Default: `3.0`.
    pub agc_speed_db_per_sec: f32,
    /// Lowest reference, dBFS of band power: quieter input is not amplified further, so
    /// room noise stays near 0. Default: `-50.0`.
    pub agc_floor_db: f32,
    /// Dynamic range of the spectrum texture below the reference, dB. Default: `60.0`.
    pub spectrum_range_db: f32,
    /// Onset threshold: how many median absolute deviations the spectral flux must rise
    /// above its running median. Lower is more sensitive. Default: `3.0`.
    pub onset_threshold: f32,
    /// Smallest flux (0..1) that can be an onset, whatever the running statistics say.
    /// Default: `0.01`.
    pub onset_floor: f32,
    /// Shortest time between two onsets, seconds. Default: `0.05`.
    pub onset_min_interval_secs: f32,
    /// Tempo range searched by the beat tracker, `[min, max]` beats per minute, within
    /// 30..=300 and max >= 1.5 * min. Default: `[60.0, 180.0]`.
    #[serde(deserialize_with = "crate::untrusted::exact")]
    pub bpm_range: [f32; 2],
    /// Beat pulses fire only while `bpm_confidence` is at least this (the phase runs
    /// regardless). Default: `0.25`.
    pub beat_min_confidence: f32,
    /// Seconds between attempts to reopen a lost or missing device. Default: `1.0`.
    pub retry_secs: f32,
    /// A connected device that delivers no samples for this long is treated as lost and
    /// reopened; `0` disables the check. Default: `2.0`.
    pub stall_secs: f32,
    /// `[audio.smoothing]`. Default: see [`SmoothingConfig`].
    pub smoothing: SmoothingConfig,
}

impl Default for AudioConfig {
    fn default() -> Self {
        Self {
            device: DeviceSelector::default(),
            file: None,
            loop_file: true,
            bands: 8,
            min_hz: 30.0,
            max_hz: 16_000.0,
            fft_size: 2048,
            hop: 256,
            buffer_frames: None,
            agc: AgcMode::Global,
            agc_range_db: 40.0,
            agc_speed_db_per_sec: 3.0,
            agc_floor_db: -50.0,
            spectrum_range_db: 60.0,
            onset_threshold: 3.0,
            onset_floor: 0.01,
            onset_min_interval_secs: 0.05,
            bpm_range: [60.0, 180.0],
            beat_min_confidence: 0.25,
            retry_secs: 1.0,
            stall_secs: 2.0,
            smoothing: SmoothingConfig::default(),
        }
    }
}

fn bad(key: &str, message: impl Into<String>) -> AudioConfigError {
    AudioConfigError {
        key: key.to_string(),
        message: message.into(),
    }
}

fn check_smoothing(key: &str, s: Smoothing) -> Result<(), AudioConfigError> {
    for (name, v) in [
        ("attack_secs", s.attack_secs),
        ("release_secs", s.release_secs),
    ] {
        if !(v.is_finite() && (0.0..=60.0).contains(&v)) {
            return Err(bad(
                &format!("smoothing.{key}.{name}"),
                format!("must be 0..=60 seconds, got {v}"),
            ));
        }
    }
    Ok(())
}

impl AudioConfig {
    /// Checks ranges and relations between fields; the error names the offending key.
    ///
    /// # Errors
    /// [`AudioConfigError`].
    pub fn validate(&self) -> Result<(), AudioConfigError> {
        if !(1..=MAX_BANDS).contains(&self.bands) {
            return Err(bad(
                "bands",
                format!("must be 1..={MAX_BANDS}, got {}", self.bands),
            ));
        }
        if !(self.min_hz.is_finite() && self.min_hz >= 1.0) {
            return Err(bad("min_hz", format!("must be >= 1, got {}", self.min_hz)));
        }
        if !(self.max_hz.is_finite() && self.max_hz > self.min_hz * 2.0) {
            return Err(bad(
                "max_hz",
                format!(
                    "must be more than twice min_hz ({}), got {}",
                    self.min_hz, self.max_hz
                ),
            ));
        }
        if !self.fft_size.is_power_of_two() || !(512..=16_384).contains(&self.fft_size) {
            return Err(bad(
                "fft_size",
                format!(
                    "must be a power of two in 512..=16384, got {}",
                    self.fft_size
                ),
            ));
        }
        if self.hop == 0 || self.hop > self.fft_size {
            return Err(bad(
                "hop",
                format!("must be 1..=fft_size ({}), got {}", self.fft_size, self.hop),
            ));
        }
        if let Some(b) = self.buffer_frames
            && !(16..=65_536).contains(&b)
        {
            return Err(bad("buffer_frames", format!("must be 16..=65536, got {b}")));
        }
        let positive = [
            ("agc_range_db", self.agc_range_db),
            ("spectrum_range_db", self.spectrum_range_db),
            ("retry_secs", self.retry_secs),
        ];
        for (key, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(bad(key, format!("must be > 0, got {v}")));
            }
        }
        let non_negative = [
            ("agc_speed_db_per_sec", self.agc_speed_db_per_sec),
            ("onset_threshold", self.onset_threshold),
            ("onset_floor", self.onset_floor),
            ("onset_min_interval_secs", self.onset_min_interval_secs),
            ("stall_secs", self.stall_secs),
            (
                "smoothing.onset_decay_secs",
                self.smoothing.onset_decay_secs,
            ),
            ("smoothing.beat_decay_secs", self.smoothing.beat_decay_secs),
        ];
        for (key, v) in non_negative {
            if !(v.is_finite() && v >= 0.0) {
                return Err(bad(key, format!("must be >= 0, got {v}")));
            }
        }
        if !(self.agc_floor_db.is_finite() && (-140.0..=0.0).contains(&self.agc_floor_db)) {
            return Err(bad(
                "agc_floor_db",
                format!("must be -140..=0 dB, got {}", self.agc_floor_db),
            ));
        }
        if !(0.0..=1.0).contains(&self.beat_min_confidence) {
            return Err(bad(
                "beat_min_confidence",
                format!("must be 0..=1, got {}", self.beat_min_confidence),
            ));
        }
        let [lo, hi] = self.bpm_range;
        if !(lo.is_finite() && hi.is_finite() && lo >= 30.0 && hi <= 300.0 && hi >= lo * 1.5) {
            return Err(bad(
                "bpm_range",
                format!(
                    "must be [min, max] within 30..=300 with max >= 1.5 * min, got [{lo}, {hi}]"
                ),
            ));
        }
        let s = &self.smoothing;
        for (key, v) in [
            ("level", s.level),
            ("peak", s.peak),
            ("bands", s.bands),
            ("centroid", s.centroid),
            ("flux", s.flux),
            ("spectrum", s.spectrum),
        ] {
            check_smoothing(key, v)?;
        }
        Ok(())
    }

    /// The FFT length used at `sample_rate_hz`: the power of two nearest
    /// `fft_size * rate / 48000` (at least 256).
    #[must_use]
    pub fn fft_len_at(&self, sample_rate_hz: u32) -> usize {
        let scaled =
            self.fft_size as f64 * f64::from(sample_rate_hz) / f64::from(REFERENCE_RATE_HZ);
        let exp = scaled.max(1.0).log2().round().clamp(8.0, 16.0) as u32;
        1usize << exp
    }

    /// The hop used at `sample_rate_hz`: `hop * rate / 48000`, rounded, within 1..=FFT length.
    #[must_use]
    pub fn hop_len_at(&self, sample_rate_hz: u32) -> usize {
        let scaled = self.hop as f64 * f64::from(sample_rate_hz) / f64::from(REFERENCE_RATE_HZ);
        (scaled.round() as usize).clamp(1, self.fft_len_at(sample_rate_hz))
    }

    /// Makes a relative `file` relative to `dir` (the scene file's directory).
    pub fn resolve_relative_to(&mut self, dir: &Path) {
        if let Some(f) = &self.file
            && f.is_relative()
        {
            self.file = Some(dir.join(f));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_validate_and_parse_from_empty_table() {
        let c: AudioConfig = toml::from_str("").unwrap();
        assert_eq!(c, AudioConfig::default());
        c.validate().unwrap();
    }

    #[test]
    fn device_accepts_index_or_name() {
        let c: AudioConfig = toml::from_str("device = 2").unwrap();
        assert_eq!(c.device, DeviceSelector::Index(2));
        let c: AudioConfig = toml::from_str("device = \"USB\"").unwrap();
        assert_eq!(c.device, DeviceSelector::Name("USB".into()));
        assert_eq!(DeviceSelector::parse("3"), DeviceSelector::Index(3));
        assert_eq!(
            DeviceSelector::parse("Mic 3"),
            DeviceSelector::Name("Mic 3".into())
        );
        assert!(DeviceSelector::parse("Default").is_default());
    }

    #[test]
    fn unknown_keys_and_bad_values_are_rejected() {
        assert!(toml::from_str::<AudioConfig>("bandz = 3").is_err());
        assert!(toml::from_str::<AudioConfig>("[smoothing.level]\nattack_secs = 0.1").is_err());
        let c: AudioConfig = toml::from_str("bands = 17").unwrap();
        let e = c.validate().unwrap_err().to_string();
        assert!(e.contains("bands"), "{e}");
        let c: AudioConfig = toml::from_str("fft_size = 1000").unwrap();
        assert!(c.validate().is_err());
        let c: AudioConfig = toml::from_str("bpm_range = [100.0, 120.0]").unwrap();
        assert!(c.validate().is_err());
    }

    #[test]
    fn sizes_scale_with_rate() {
        let c = AudioConfig::default();
        assert_eq!(c.fft_len_at(48_000), 2048);
        assert_eq!(c.hop_len_at(48_000), 256);
        assert_eq!(c.fft_len_at(44_100), 2048);
        assert_eq!(c.hop_len_at(44_100), 235);
        assert_eq!(c.fft_len_at(96_000), 4096);
        assert_eq!(c.hop_len_at(96_000), 512);
    }
}
