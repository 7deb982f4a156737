//! The neural beat and downbeat tracker: BeatNet's trained network (Heydari, Cwitkowitz, Duan,
//! ISMIR 2021; weights CC-BY-4.0 from PyPI `beatnet==1.1.3`, converted to ONNX at set-up by
//! `models/beatnet.py`) run by ONNX Runtime on the analysis thread, with hypna's own feature
//! front end and causal decoder.
//!
//! ```text
//!  mono f32, any rate --resample--> 22050 Hz --frontend--> 272 features / 20 ms
//!    --model (ONNX, LSTM state carried)--> beat, downbeat activations
//!    --decoder (forward filter of the bar-pointer model)--> tempo, beat and bar phase
//! ```
//!
//! - [`resample`]: band-limited conversion to 22050 Hz with an exact time base.
//! - [`frontend`]: BeatNet's spectrogram features, frame by frame, matching the Python pipeline.
//! - [`model`]: the ONNX session and its recurrent state.
//! - [`decoder`]: the HMM forward filter and tempo lock.
//!
//! [`NeuralTracker`] ties them together: samples in, one [`Estimate`](decoder::Estimate) per
//! network frame out, with the stream time the frame describes.

pub(crate) mod decoder;
pub(crate) mod frontend;
pub mod model;
pub(crate) mod resample;

use std::path::PathBuf;

pub use model::{ActivationModel, MODEL_DIR, installed_model, model_file_name};

use crate::infer::InferError;

/// Errors of the neural tracker.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BeatNetError {
    /// The converted model is not where set-up puts it.
    #[error(
        "BeatNet model not installed (run scripts/install-models.sh, or make run); looked for: {}",
        .tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotInstalled {
        /// Every file looked for.
        tried: Vec<PathBuf>,
    },
    /// ONNX Runtime, the model file or a run failed.
    #[error(transparent)]
    Infer(#[from] InferError),
    /// The model file is not a converted BeatNet model.
    #[error("{}: {message}", .path.display())]
    Model {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}

use decoder::{BarFilter, DecoderParams, Estimate};
use frontend::{FRAMES_PER_SEC, Frontend, SAMPLE_RATE_HZ};
use resample::Resampler;

/// How much later than the beat the network's beat activation peaks, seconds, measured on
/// hypna's evaluation set (`hypna bench --beats`): the estimates are moved back by this much.
pub(crate) const ACTIVATION_DELAY_SECS: f64 = 0.0;

/// The neural tracker's signal chain, from samples at the stream's rate to decoder estimates.
pub(crate) struct NeuralTracker {
    resampler: Resampler,
    frontend: Frontend,
    model: ActivationModel,
    filter: BarFilter,
    /// Inference failures (the first is logged; each counts as a frame without a beat).
    errors: u64,
}

impl std::fmt::Debug for NeuralTracker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NeuralTracker")
            .field("model", &self.model)
            .field("frames", &self.filter.frames())
            .field("errors", &self.errors)
            .finish_non_exhaustive()
    }
}

impl NeuralTracker {
    /// A tracker for a stream at `sample_rate_hz`, searching `bpm_range`, with `model`.
    pub(crate) fn new(model: ActivationModel, sample_rate_hz: u32, bpm_range: [f32; 2]) -> Self {
        Self {
            resampler: Resampler::new(sample_rate_hz, SAMPLE_RATE_HZ),
            frontend: Frontend::new(),
            model,
            filter: BarFilter::new(DecoderParams::new(bpm_range)),
            errors: 0,
        }
    }

    /// Feeds samples; calls `on_estimate(at_secs, estimate)` for every network frame completed,
    /// `at_secs` being the stream time (from the first sample) the frame describes.
    pub(crate) fn push(&mut self, samples: &[f32], mut on_estimate: impl FnMut(f64, &Estimate)) {
        let Self {
            resampler,
            frontend,
            model,
            filter,
            errors,
        } = self;
        resampler.push(samples, |y| {
            frontend.push(&[y], |index, features| {
                let acts = match model.step(features) {
                    Ok(a) => a,
                    Err(e) => {
                        if *errors == 0 {
                            tracing::error!("neural beat tracker: {e} (counting further failures)");
                        }
                        *errors += 1;
                        [0.0, 0.0, 1.0]
                    }
                };
                let estimate = filter.step(acts[0], acts[1]);
                let at = index as f64 / FRAMES_PER_SEC - ACTIVATION_DELAY_SECS;
                on_estimate(at, &estimate);
            });
        });
    }
}
