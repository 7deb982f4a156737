//! The Interactive Shader Format (ISF 2.0) as a file format: the JSON header of an ISF file
//! ([`header`]), the size expressions of its passes ([`expr`]), and an ISF file as passes
//! and params of a scene ([`pass`]). No GPU and no GLSL: `render::glsl` wraps the GLSL body
//! for the GPU.
//! The header is part of the scene format (a `[[pass]]` may be an ISF file), hence its
//! place under `scene/`.

pub mod expr;
pub mod header;
pub mod pass;

pub use header::{Input, InputKind, IsfHeader, PassSpec};
