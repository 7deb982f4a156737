//! WAV input (hound): decoding to mono, and the offline reader `render` uses.
//!
//! Offline semantics: [`OfflineAudio::features_at`]`(t)` analyses exactly the samples
//! `0..floor(t * rate)` of the file (silence after its end) and returns the features of the
//! last hop completed within them. So frame N of a render at `fps` sees the audio up to
//! `N / fps`, quantised down to the hop (5.3 ms by default), identically on every run and
//! whatever the render speed. Going backwards restarts the analysis from the beginning.

use std::path::{Path, PathBuf};

use super::AudioError;
use super::analysis::Analyzer;
use super::features::AudioFeatures;
use crate::scene::audio::AudioConfig;

fn file_error(path: &Path, message: impl Into<String>) -> AudioError {
    AudioError::File {
        path: path.to_path_buf(),
        message: message.into(),
    }
}

/// Checks, from its header only, that [`decode_wav`] reads the file at `path` (`hypna check`
/// must refuse what `render` refuses).
///
/// # Errors
/// [`AudioError::File`] when the file cannot be opened or is not a supported WAV.
pub fn check_wav(path: &Path) -> Result<(), AudioError> {
    let reader = hound::WavReader::open(path).map_err(|e| file_error(path, e.to_string()))?;
    let spec = reader.spec();
    if spec.sample_rate < 8_000 {
        return Err(file_error(
            path,
            format!("sample rate {} Hz is below 8000", spec.sample_rate),
        ));
    }
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) | (hound::SampleFormat::Int, 8..=32) => Ok(()),
        (format, bits) => Err(file_error(
            path,
            format!("{bits}-bit {format:?} samples are not supported"),
        )),
    }
}

/// Reads a WAV file (8/16/24/32-bit integer or 32-bit float PCM, any channel count) and mixes
/// it down to mono. Returns the samples and the sample rate. A file truncated mid-way keeps
/// what was read, with a warning.
///
/// # Errors
/// [`AudioError::File`] when the file cannot be opened or is not a supported WAV.
pub fn decode_wav(path: &Path) -> Result<(Vec<f32>, u32), AudioError> {
    let reader = hound::WavReader::open(path).map_err(|e| file_error(path, e.to_string()))?;
    let spec = reader.spec();
    let channels = usize::from(spec.channels.max(1));
    if spec.sample_rate < 8_000 {
        return Err(file_error(
            path,
            format!("sample rate {} Hz is below 8000", spec.sample_rate),
        ));
    }
    let frames = reader.duration() as usize;
    let mut mono = Vec::with_capacity(frames);
    let mut acc = 0.0f32;
    let mut in_frame = 0usize;
    let scale = 1.0 / channels as f32;
    let mut push = |x: f32| {
        acc += x;
        in_frame += 1;
        if in_frame == channels {
            mono.push(acc * scale);
            acc = 0.0;
            in_frame = 0;
        }
    };
    let mut error = None;
    match (spec.sample_format, spec.bits_per_sample) {
        (hound::SampleFormat::Float, 32) => {
            for s in reader.into_samples::<f32>() {
                match s {
                    Ok(x) => push(x),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        (hound::SampleFormat::Int, bits @ 8..=32) => {
            let k = 1.0 / (1u64 << (bits - 1)) as f32;
            for s in reader.into_samples::<i32>() {
                match s {
                    Ok(x) => push(x as f32 * k),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
        }
        (format, bits) => {
            return Err(file_error(
                path,
                format!("unsupported sample format: {bits}-bit {format:?}"),
            ));
        }
    }
    if let Some(e) = error {
        if mono.is_empty() {
            return Err(file_error(path, e.to_string()));
        }
        tracing::warn!(
            "{}: {e}; using the first {:.2} s",
            path.display(),
            mono.len() as f64 / f64::from(spec.sample_rate)
        );
    }
    Ok((mono, spec.sample_rate))
}

/// Deterministic features of a WAV file at any time, for offline renders.
#[derive(Debug)]
pub struct OfflineAudio {
    path: PathBuf,
    samples: Vec<f32>,
    sample_rate_hz: u32,
    config: AudioConfig,
    analyzer: Analyzer,
    fed: u64,
}

impl OfflineAudio {
    /// Decodes `path` and prepares the analysis.
    ///
    /// # Errors
    /// [`AudioError::File`] or [`AudioError::Config`].
    pub fn open(path: &Path, config: &AudioConfig) -> Result<Self, AudioError> {
        let (samples, rate) = decode_wav(path)?;
        let mut s = Self::from_samples(samples, rate, config)?;
        s.path = path.to_path_buf();
        Ok(s)
    }

    /// Offline analysis of mono `samples` at `sample_rate_hz`.
    ///
    /// # Errors
    /// [`AudioError::Config`].
    pub fn from_samples(
        samples: Vec<f32>,
        sample_rate_hz: u32,
        config: &AudioConfig,
    ) -> Result<Self, AudioError> {
        Ok(Self {
            path: PathBuf::new(),
            analyzer: Analyzer::new(config, sample_rate_hz)?,
            samples,
            sample_rate_hz,
            config: config.clone(),
            fed: 0,
        })
    }

    /// The file this reads (empty for [`Self::from_samples`]).
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Sample rate, Hz.
    #[must_use]
    pub fn sample_rate_hz(&self) -> u32 {
        self.sample_rate_hz
    }

    /// Length of the audio, seconds.
    #[must_use]
    pub fn duration_secs(&self) -> f64 {
        self.samples.len() as f64 / f64::from(self.sample_rate_hz)
    }

    /// Hop duration of the analysis, seconds (the time resolution of the features).
    #[must_use]
    pub fn hop_secs(&self) -> f64 {
        self.analyzer.hop_secs()
    }

    /// Features of the audio up to `time_secs` (see the module docs).
    pub fn features_at(&mut self, time_secs: f64) -> &AudioFeatures {
        let target = (time_secs.max(0.0) * f64::from(self.sample_rate_hz) + 1e-6).floor() as u64;
        self.advance_to(target)
    }

    /// Features for frame `frame` of a render at `fps` frames per second: the audio up to
    /// `frame / fps`.
    pub fn features_at_frame(&mut self, frame: u64, fps: f64) -> &AudioFeatures {
        let target = if fps > 0.0 {
            (frame as f64 * f64::from(self.sample_rate_hz) / fps + 1e-6).floor() as u64
        } else {
            0
        };
        self.advance_to(target)
    }

    /// Features of frames 0, 1, 2, ... at `fps` until the end of the audio.
    pub fn frames(&mut self, fps: f64) -> impl Iterator<Item = AudioFeatures> + '_ {
        let duration = self.duration_secs();
        (0u64..)
            .take_while(move |&n| fps > 0.0 && n as f64 / fps <= duration)
            .map(move |n| self.features_at_frame(n, fps).clone())
    }

    fn advance_to(&mut self, target: u64) -> &AudioFeatures {
        if target < self.fed {
            match Analyzer::new(&self.config, self.sample_rate_hz) {
                Ok(a) => {
                    self.analyzer = a;
                    self.fed = 0;
                }
                Err(e) => {
                    // The config was accepted at construction; keep the current state.
                    tracing::error!("offline audio: {e}");
                    return self.analyzer.features();
                }
            }
        }
        let len = self.samples.len() as u64;
        if self.fed < target.min(len) {
            let from = self.fed as usize;
            let to = target.min(len) as usize;
            self.analyzer.process(&self.samples[from..to]);
            self.fed = to as u64;
        }
        if target > self.fed {
            let zeros = [0.0f32; 1024];
            while self.fed < target {
                let k = ((target - self.fed) as usize).min(zeros.len());
                self.analyzer.process(&zeros[..k]);
                self.fed += k as u64;
            }
        }
        self.analyzer.features()
    }
}
