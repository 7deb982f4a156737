//! ONNX models as scene nodes: binding plans checked against model metadata ([`plan`]),
//! pixel <-> tensor conversion ([`convert`]), the latent driver ([`latent`]) and the node that
//! feeds a model from the frame loop without ever waiting on it ([`node`]).

pub mod convert;
pub mod latent;
pub mod node;
pub mod plan;
