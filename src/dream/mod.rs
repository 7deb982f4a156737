//! The dream compiler (`hypna dreamify`): an ONNX image classifier in, a `DeepDream` model out.
//!
//! The classifier's graph up to the chosen layers is rewritten into opset 17 ([`canon`]), an
//! objective is put on those layers (layer energy, channel weights or class logits), its
//! gradient with respect to the image is appended in standard ONNX operators ([`grad`]), and
//! the ascent step is built around it: normalised gradient, jitter, smoothing, octaves and
//! iterations ([`compile`]). Objective weights, step size, jitter and smoothing are model
//! inputs, so a scene steers the dream live. Pure graph rewriting: no GPU and no ONNX Runtime
//! (the tests run the results through ONNX Runtime). See `docs/dream.md`.

// Graph code converts between ONNX's i64 sizes and Rust's usize indices everywhere; ranks,
// axes and tensor sizes are far below 2^63. The gradient rules name values after the
// mathematics they implement (x, y, dy, w, g).
#![allow(clippy::cast_possible_wrap, clippy::many_single_char_names)]

mod build;
pub mod canon;
mod compile;
mod grad;
mod layers;
pub mod onnx;
pub mod proto;
pub mod shape;

use std::path::PathBuf;

pub use compile::{BenchPair, Compiled, bench_pair, compile, compile_file, truncate};
pub use layers::{LayerInfo, closest_names, layer_table, layers};

/// Everything that can go wrong while compiling a dream model.
#[derive(Debug, thiserror::Error)]
pub enum DreamError {
    /// The model file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The output file cannot be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not an ONNX model.
    #[error("{}: {message}", path.display())]
    Decode {
        /// The file.
        path: PathBuf,
        /// What the protobuf decoder said.
        message: String,
    },
    /// A tensor's external data file is missing or too short.
    #[error("tensor `{tensor}` keeps its data in {}, which cannot be read: {message}", path.display())]
    ExternalData {
        /// The tensor.
        tensor: String,
        /// The data file it names.
        path: PathBuf,
        /// Why it cannot be read.
        message: String,
    },
    /// The model's opset is outside what the compiler reads.
    #[error("the model uses opset {version}; the dream compiler reads opsets {min} to {max}")]
    Opset {
        /// The model's default-domain opset.
        version: i64,
        /// The oldest supported.
        min: i64,
        /// The newest supported.
        max: i64,
    },
    /// The model does not fit what a dream needs (input, shapes, structure).
    #[error("{message}")]
    Model {
        /// What is wrong.
        message: String,
    },
    /// A node the dream needs cannot be rewritten or differentiated.
    #[error(
        "node `{node}` ({op}) cannot be differentiated: {why}; supported operators: {supported}"
    )]
    Unsupported {
        /// The node's name (or its first output).
        node: String,
        /// Its operator.
        op: String,
        /// Why.
        why: String,
        /// Every operator the compiler reads.
        supported: String,
    },
    /// A `--layer` (or `--logits`) names no value of the model.
    #[error("the model has no value `{name}`; closest names: {}; `hypna inspect <model> --layers` lists the candidate layers", canon::names_list(closest.iter().map(String::as_str)))]
    UnknownLayer {
        /// The name asked for.
        name: String,
        /// The most similar names in the model.
        closest: Vec<String>,
    },
    /// The options contradict each other or the model.
    #[error("{message}")]
    Options {
        /// What is wrong.
        message: String,
    },
}

/// What the objective rewards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Objective {
    /// Mean of squared activations of each `--layer`, weighted by input `layer_weights` `[L]`.
    Layer,
    /// Squared activations of one layer weighted per channel by input `channel_weights` `[C]`.
    Channels,
    /// Class logits weighted by input `class_weights` `[K]`.
    Class,
}

/// What the compiled model outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The dreamed image (`dreamed`) after the ascent steps, and the objective.
    Image,
    /// The bare gradient of the objective with respect to the image (`gradient`), and the
    /// objective.
    Gradient,
}

/// How the dream model's RGB 0..1 image becomes the classifier's input:
/// `input = (image[channels] * scale - mean) / std`.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    /// Multiplies the 0..1 image first (255 for classifiers trained on 0..255). Default 1.
    pub scale: f32,
    /// Subtracted per channel after scaling, in the classifier's channel order. Default 0.
    pub mean: [f32; 3],
    /// Divides per channel after the mean, in the classifier's channel order. Default 1.
    pub std: [f32; 3],
    /// The classifier wants BGR (Caffe): channels are reversed first. Default false.
    pub bgr: bool,
}

impl Default for Mapping {
    fn default() -> Self {
        Self {
            scale: 1.0,
            mean: [0.0; 3],
            std: [1.0; 3],
            bgr: false,
        }
    }
}

/// Everything `hypna dreamify` can be asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    /// Value names of the dreamed layers (`--layer`, at least one unless only `Class`).
    pub layers: Vec<String>,
    /// The objectives, summed (default: `Layer`).
    pub objectives: Vec<Objective>,
    /// The layer of the `Channels` objective (default: the only `--layer`).
    pub channels_layer: Option<String>,
    /// The logits of the `Class` objective (default: the first graph output, or the input of
    /// the Softmax that produces it).
    pub logits: Option<String>,
    /// What the model outputs.
    pub output: Output,
    /// Ascent steps per octave in one run. Default 1.
    pub iterations: u32,
    /// Scales the step runs at, each `octave_scale` smaller than the last. Default 1.
    pub octaves: u32,
    /// Size ratio between octaves. Default 1.4.
    pub octave_scale: f32,
    /// Radius in pixels of the Gaussian gradient blur; 0 leaves it (and its `smooth` input)
    /// out. Default 0.
    pub smooth_radius: u32,
    /// Whether the model takes a `jitter` input (whole-pixel rolls per iteration). Default true.
    pub jitter: bool,
    /// Input normalisation folded into the graph.
    pub mapping: Mapping,
    /// Declare the image's height and width free even when the classifier fixes them.
    pub free_size: bool,
    /// The classifier's image input (default: its first input that is not an initializer).
    pub input: Option<String>,
    /// The `Class` objective reads the index of one class from input `class` `[1]` (rounded
    /// to the nearest whole number; outside 0..K no class is dreamed) instead of a weight per
    /// class: a scene binds it to a param, which OSC sets. Default false.
    pub class_index: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            layers: Vec::new(),
            objectives: vec![Objective::Layer],
            channels_layer: None,
            logits: None,
            output: Output::Image,
            iterations: 1,
            octaves: 1,
            octave_scale: 1.4,
            smooth_radius: 0,
            jitter: true,
            mapping: Mapping::default(),
            free_size: false,
            input: None,
            class_index: false,
        }
    }
}
