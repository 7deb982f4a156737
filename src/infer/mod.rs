//! Inference, the input service under model nodes: finding ONNX Runtime, execution
//! providers, sessions, and the worker thread that keeps the frame loop from ever waiting on
//! a model. It knows nothing of textures or frames: the model nodes above bridge the two.
//!
//! The pieces, in the order a scene uses them:
//! - [`discover`] finds the ONNX Runtime shared library (hypna loads it at run time, so the
//!   binary builds and starts without it) and [`init`] loads it once per process ([`OrtInfo`]).
//! - [`Model::load`] builds a session with the requested execution provider ([`Ep`], falling back
//!   to the CPU with a warning), describes its inputs and outputs ([`ModelInfo`]) and runs it on
//!   float32 tensors ([`Tensor`], [`TensorRef`]).
//! - [`Worker`] owns a model on its own thread with latest-wins mailboxes: the frame loop
//!   submits the newest input and takes the newest output, never blocking.
//!
//! Every fallible call returns [`InferError`]; messages name the model file and, for shapes, the
//! input and both shapes.

pub mod discover;
pub mod env;
pub mod model;
pub mod worker;

use std::path::PathBuf;

pub use discover::{LibSource, Tried};
pub use env::{Ep, EpChoice, InitOptions, OrtInfo, SessionOptions, init};
pub use model::{
    Dim, ElemType, IoInfo, Model, ModelInfo, RawSession, RunStopper, Tensor, TensorRef, inspect,
};
pub use worker::{
    ErrorCount, Job, Output, Runner, Terminate, Worker, WorkerCounters, WorkerPolicy, WorkerState,
    WorkerStats,
};

/// The ONNX Runtime version hypna is built and tested against (`scripts/install-ort.sh`).
pub const ORT_VERSION: &str = "1.31.1";

/// Errors of the inference layer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum InferError {
    /// No ONNX Runtime library where hypna looked.
    #[error("{}", not_found_message(.tried))]
    LibraryNotFound {
        /// Every place looked at, in order, with what was found there.
        tried: Vec<Tried>,
    },
    /// A library was found but could not be loaded (not a library, wrong architecture, too old).
    #[error("cannot load ONNX Runtime from {} ({source_kind}): {message}\n  hypna needs ONNX Runtime {ORT_VERSION} (any 1.x >= 1.31 works); {INSTALL_HINT}", .path.display())]
    LibraryLoad {
        /// The library file (or bare name left to the dynamic loader).
        path: PathBuf,
        /// How it was found.
        source_kind: LibSource,
        /// The loader's message.
        message: String,
        /// Every place looked at before.
        tried: Vec<Tried>,
    },
    /// ONNX Runtime loaded but its environment could not be created.
    #[error("cannot start ONNX Runtime: {0}")]
    Environment(String),
    /// A model file could not be loaded into a session.
    #[error("{}: cannot load model: {message}", .path.display())]
    Load {
        /// The model file.
        path: PathBuf,
        /// ONNX Runtime's message.
        message: String,
    },
    /// A run was given an input name the model does not have.
    #[error("model {model}: no input named `{input}` (inputs: {known})")]
    UnknownInput {
        /// The model's name (file stem).
        model: String,
        /// The name given.
        input: String,
        /// The model's input names, comma-separated.
        known: String,
    },
    /// A run left out an input the model needs.
    #[error("model {model}: input `{input}` ({expected}) was not given")]
    MissingInput {
        /// The model's name.
        model: String,
        /// The input left out.
        input: String,
        /// What the model expects, e.g. `float32 [1, 3, height, width]`.
        expected: String,
    },
    /// The model wants another element type than float32 for this input.
    #[error("model {model}: input `{input}` is {elem}; hypna feeds float32 tensors only")]
    InputType {
        /// The model's name.
        model: String,
        /// The input.
        input: String,
        /// The model's element type for it.
        elem: ElemType,
    },
    /// A tensor's shape does not fit the model's input.
    #[error("model {model}: input `{input}` expects shape {expected}, got {}", fmt_shape(.got))]
    InputShape {
        /// The model's name.
        model: String,
        /// The input.
        input: String,
        /// The model's declared shape, e.g. `[1, 3, height, width]`.
        expected: String,
        /// The shape given.
        got: Vec<usize>,
    },
    /// A tensor's data length is not the product of its shape.
    #[error("model {model}: input `{input}` has shape {} ({} values) but {len} values of data", fmt_shape(.shape), .shape.iter().product::<usize>())]
    DataLength {
        /// The model's name.
        model: String,
        /// The input.
        input: String,
        /// The shape given.
        shape: Vec<usize>,
        /// The number of values given.
        len: usize,
    },
    /// An output is not a float32 tensor.
    #[error("model {model}: output `{output}` is {elem}; hypna reads float32 tensors only")]
    OutputType {
        /// The model's name.
        model: String,
        /// The output.
        output: String,
        /// Its element type.
        elem: ElemType,
    },
    /// ONNX Runtime rejected a run.
    #[error("model {model}: run failed: {message} (inputs given: {inputs})")]
    Run {
        /// The model's name.
        model: String,
        /// ONNX Runtime's message.
        message: String,
        /// The inputs given with their shapes, e.g. `image [1, 3, 8, 8], step [1]`.
        inputs: String,
    },
    /// A run panicked; the worker caught it and keeps serving.
    #[error("model {model}: run panicked: {message}")]
    Panicked {
        /// The model's name.
        model: String,
        /// The panic payload, when it was a string.
        message: String,
    },
    /// A run took longer than its deadline; the worker stopped it (or abandoned its thread).
    #[error("model {model}: run exceeded its {} ms deadline; treated as hung and stopped", .deadline.as_millis())]
    Hung {
        /// The model's name.
        model: String,
        /// The deadline it exceeded.
        deadline: std::time::Duration,
    },
    /// The worker thread could not be started, or is gone.
    #[error("inference worker for {model}: {message}")]
    Worker {
        /// The model's name.
        model: String,
        /// What went wrong.
        message: String,
    },
}

impl InferError {
    /// A short stable name of the kind of error, used to count repeats (one log line per kind).
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::LibraryNotFound { .. } => "library not found",
            Self::LibraryLoad { .. } => "library load",
            Self::Environment(_) => "environment",
            Self::Load { .. } => "model load",
            Self::UnknownInput { .. } => "unknown input",
            Self::MissingInput { .. } => "missing input",
            Self::InputType { .. } => "input type",
            Self::InputShape { .. } => "input shape",
            Self::DataLength { .. } => "data length",
            Self::OutputType { .. } => "output type",
            Self::Run { .. } => "run",
            Self::Panicked { .. } => "panic",
            Self::Hung { .. } => "hung",
            Self::Worker { .. } => "worker",
        }
    }
}

/// How to get ONNX Runtime, appended to not-found and load errors.
pub const INSTALL_HINT: &str = "install it with `make run` or `scripts/install-ort.sh` \
(project-local, into .hypna/onnxruntime/), or `pip install onnxruntime==1.31.1`, \
or point hypna at a library with `--ort-lib <path>` or ORT_DYLIB_PATH";

fn not_found_message(tried: &[Tried]) -> String {
    let lines: Vec<String> = tried
        .iter()
        .map(ToString::to_string)
        .chain([INSTALL_HINT.to_string()])
        .collect();
    format!(
        "ONNX Runtime library not found; looked in:\n  {}",
        lines.join("\n  ")
    )
}

/// `[1, 3, 8, 8]`.
pub(crate) fn fmt_shape(shape: &[usize]) -> String {
    let dims: Vec<String> = shape.iter().map(ToString::to_string).collect();
    format!("[{}]", dims.join(", "))
}
