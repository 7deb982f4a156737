//! Live audio: capture (cpal, device choice, reconnection), WAV input (live and offline), and
//! analysis (FFT, bands with gain control, centroid, flux, onsets, beat and tempo, smoothing).
//!
//! - [`AudioConfig`] is the scene's `[audio]` table (defined with the scene format).
//! - [`AudioEngine::start`] runs live input; [`AudioEngine::reader`] hands out
//!   [`FeaturesReader`]s whose [`FeaturesReader::latest`] never blocks;
//!   [`AudioFeatures::write_texture`] fills the spectrum/waveform texture (the render layer
//!   copies the features into the frame globals).
//! - [`OfflineAudio`] gives the exact features of a WAV file at any time, for `render`.
//! - [`Analyzer`] is the seam under both: mono `&[f32]` in, features per hop out.
//! - [`list_input_devices`] serves `hypna devices`; [`synthetic`] plays generated signals
//!   through the capture seam (`hypna bench --audio` and the tests).
//!
//! Threads: the device callback only pushes into an SPSC ring (see [`capture`]); the analysis
//! thread drains it; a supervisor thread opens, watches and reopens the device (see
//! [`engine`]). `docs/audio.md` describes every feature and key.

pub mod analysis;
mod beat;
mod beat_clock;
pub mod beatnet;
pub mod capture;
pub mod engine;
pub mod features;
pub mod file;
pub mod latest;
mod onset;
pub mod synthetic;
pub mod tracker;

use std::path::PathBuf;

pub use crate::scene::audio::{
    AgcMode, AudioConfig, AudioConfigError, DeviceSelector, MAX_BANDS, Smoothing, SmoothingConfig,
    TrackerKind,
};
pub use analysis::Analyzer;
pub use capture::{
    CaptureBackend, CaptureSink, CpalBackend, ErrorReporter, InputDeviceInfo, OpenedStream,
    StreamErrorKind, list_input_devices,
};
pub use engine::{AudioEngine, AudioStats, AudioThread, CaptureStatus};
pub use features::{
    AudioFeatures, MIN_DB, SPECTRUM_BINS, TEXTURE_HEIGHT, TEXTURE_WIDTH, WAVEFORM_LEN,
};
pub use file::{OfflineAudio, decode_wav};
pub use latest::FeaturesReader;

/// Errors from audio configuration, devices and files.
#[derive(Debug, thiserror::Error)]
pub enum AudioError {
    /// A value in `[audio]` is out of range.
    #[error("[audio] {key}: {message}")]
    Config {
        /// The key, e.g. `bands` or `smoothing.level.attack_secs`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// No input device matches the selector.
    #[error("no audio input matches {selector}; available: {available}")]
    NoDevice {
        /// The selector as written.
        selector: String,
        /// The devices there are, `index: name (id)`.
        available: String,
    },
    /// The device refused to open or stream.
    #[error("audio input {device}: {message}")]
    Device {
        /// Device name.
        device: String,
        /// The driver's message.
        message: String,
    },
    /// A WAV file could not be read.
    #[error("{}: {message}", path.display())]
    File {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// An audio thread could not be started.
    #[error("could not start an audio thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The engine is shutting down.
    #[error("the audio engine has stopped")]
    Stopped,
}

impl From<AudioConfigError> for AudioError {
    fn from(e: AudioConfigError) -> Self {
        Self::Config {
            key: e.key,
            message: e.message,
        }
    }
}
