//! The Interactive Shader Format (ISF 2.0) as a file format: the JSON header of an ISF file
//! ([`header`]) and the size expressions of its passes ([`expr`]). Pure parsing, no GPU and
//! no GLSL: scene validation reads headers to turn INPUTS into params and PASSES into passes;
//! `render::glsl` wraps the GLSL body for the GPU.
//! The header is part of the scene format (a `[[pass]]` may be an ISF file), hence its
//! place under `scene/`.

pub mod expr;
pub mod header;

pub use header::{Input, InputKind, IsfHeader, PassSpec};
