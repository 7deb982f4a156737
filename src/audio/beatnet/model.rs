//! BeatNet's network in ONNX Runtime, one 20 ms frame per call, its LSTM state carried between
//! calls in buffers owned here (the converted model takes and returns it: `h_in`/`c_in` ->
//! `h_out`/`c_out`, see `models/beatnet.py`).

use std::path::{Path, PathBuf};

use super::BeatNetError;
use super::frontend::FEATURES;
use crate::infer::discover::{Probe, SystemProbe};
use crate::infer::{Model, SessionOptions, TensorRef};

/// Where set-up installs the converted models, under a project root.
pub const MODEL_DIR: &str = ".hypna/models";
/// LSTM layers x batch x cells: the shape of `h_in`, `c_in`.
const STATE_SHAPE: [usize; 3] = [2, 1, 150];
const STATE_LEN: usize = 2 * 150;
const FEATURES_SHAPE: [usize; 2] = [1, FEATURES];

/// The file name of trained model `n` (1, 2 or 3).
#[must_use]
pub fn model_file_name(n: u8) -> String {
    format!("beatnet-{n}.onnx")
}

/// The installed model `n`: `.hypna/models/beatnet-N.onnx` under the current directory or one
/// of its ancestors, the executable's ancestors, or the source tree hypna was built from (the
/// places ONNX Runtime itself is looked for). Every place looked at comes back on failure.
///
/// # Errors
/// [`BeatNetError::NotInstalled`].
pub fn installed_model(n: u8) -> Result<PathBuf, BeatNetError> {
    let name = model_file_name(n);
    let mut tried: Vec<PathBuf> = Vec::new();
    for root in SystemProbe.project_roots() {
        let path = root.join(MODEL_DIR).join(&name);
        if tried.contains(&path) {
            continue;
        }
        if path.is_file() {
            return Ok(path);
        }
        tried.push(path);
    }
    Err(BeatNetError::NotInstalled { tried })
}

/// The network with its recurrent state.
pub struct ActivationModel {
    model: Model,
    h: Vec<f32>,
    c: Vec<f32>,
}

impl std::fmt::Debug for ActivationModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivationModel")
            .field("model", &self.model.path())
            .finish_non_exhaustive()
    }
}

impl ActivationModel {
    /// Loads a converted BeatNet model on the CPU, one ONNX Runtime thread, no spinning (the
    /// model is small: spinning threads would cost more than the inference), and checks its
    /// inputs and outputs.
    ///
    /// # Errors
    /// [`BeatNetError::Infer`] when ONNX Runtime or the file cannot be loaded;
    /// [`BeatNetError::Model`] when the model is not a converted BeatNet.
    pub fn load(path: &Path) -> Result<Self, BeatNetError> {
        let opts = SessionOptions {
            intra_threads: 1,
            inter_threads: 1,
            spin: false,
            ..SessionOptions::default()
        };
        let model = Model::load(path, &opts)?;
        let info = model.info();
        let wrong = |message: String| BeatNetError::Model {
            path: path.to_path_buf(),
            message,
        };
        for (name, shape) in [
            ("features", &FEATURES_SHAPE[..]),
            ("h_in", &STATE_SHAPE[..]),
            ("c_in", &STATE_SHAPE[..]),
        ] {
            let Some(io) = info.input(name) else {
                return Err(wrong(format!(
                    "no input `{name}` (not a converted BeatNet model)"
                )));
            };
            if !io.accepts(shape) {
                return Err(wrong(format!(
                    "input `{name}` is {}, expected {}",
                    io.shape_string(),
                    crate::infer::fmt_shape(shape)
                )));
            }
        }
        for name in ["activations", "h_out", "c_out"] {
            if info.output(name).is_none() {
                return Err(wrong(format!(
                    "no output `{name}` (not a converted BeatNet model)"
                )));
            }
        }
        Ok(Self {
            model,
            h: vec![0.0; STATE_LEN],
            c: vec![0.0; STATE_LEN],
        })
    }

    /// The file it was loaded from.
    #[must_use]
    pub fn path(&self) -> &Path {
        self.model.path()
    }

    /// Forgets the recurrent state (as at the start of a stream).
    pub fn reset(&mut self) {
        self.h.fill(0.0);
        self.c.fill(0.0);
    }

    /// Runs one frame of features; returns the softmax `[beat, downbeat, no beat]` and keeps
    /// the new LSTM state for the next call. On an error the state is left as it was.
    ///
    /// # Errors
    /// [`BeatNetError::Infer`] when the run fails, [`BeatNetError::Model`] for outputs of the
    /// wrong size.
    pub fn step(&mut self, features: &[f32; FEATURES]) -> Result<[f32; 3], BeatNetError> {
        let outputs = self.model.run(&[
            ("features", TensorRef::new(&FEATURES_SHAPE, features)),
            ("h_in", TensorRef::new(&STATE_SHAPE, &self.h)),
            ("c_in", TensorRef::new(&STATE_SHAPE, &self.c)),
        ])?;
        let mut probs = None;
        let (mut h, mut c) = (None, None);
        for (name, t) in &outputs {
            match name.as_str() {
                "activations" => probs = <[f32; 3]>::try_from(t.data.as_slice()).ok(),
                "h_out" if t.data.len() == STATE_LEN => h = Some(&t.data),
                "c_out" if t.data.len() == STATE_LEN => c = Some(&t.data),
                _ => {}
            }
        }
        match (probs, h, c) {
            (Some(p), Some(h), Some(c)) => {
                self.h.copy_from_slice(h);
                self.c.copy_from_slice(c);
                Ok(p)
            }
            _ => Err(BeatNetError::Model {
                path: self.model.path().to_path_buf(),
                message: "outputs activations [1, 3], h_out and c_out [2, 1, 150] expected"
                    .to_string(),
            }),
        }
    }
}
