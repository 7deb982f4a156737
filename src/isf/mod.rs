//! The Interactive Shader Format (ISF 2.0) as a file format: the JSON header of an ISF file
//! ([`header`]) and the size expressions of its passes ([`expr`]). Pure parsing, no GPU and
//! no GLSL: the scene layer reads headers to turn INPUTS into params and PASSES into passes;
//! `render::glsl` wraps the GLSL body for the GPU.
//!
//! This sits at the base of the crate (beside `diag`) rather than in `render/`, because
//! scene validation, which is below `render/`, needs the header.

pub mod expr;
pub mod header;

pub use header::{Input, InputKind, IsfHeader, PassSpec};
