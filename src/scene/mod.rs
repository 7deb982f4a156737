//! Scenes: the TOML file format ([`raw`]), its validation into a typed [`Scene`]
//! ([`validate`]), and loading from disk.
//!
//! A scene is an ordered list of passes plus named parameters. Validation resolves every
//! reference (inputs, shader files) up front, so the renderer never meets a dangling name.

pub mod raw;
pub mod validate;

use std::path::{Path, PathBuf};

pub use raw::{Filter, Format, Wrap};

use crate::diag::{Diagnostic, Diagnostics};

/// Errors from loading a scene.
#[derive(Debug, thiserror::Error)]
pub enum SceneError {
    /// The file could not be read.
    #[error("{}: cannot read scene: {source}", path.display())]
    Io {
        /// The scene file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file was read but is not a valid scene; every problem found is listed.
    #[error("{0}")]
    Invalid(Diagnostics),
}

impl SceneError {
    /// The located problems, if any (empty for I/O errors).
    #[must_use]
    pub fn diagnostics(&self) -> &[Diagnostic] {
        match self {
            Self::Io { .. } => &[],
            Self::Invalid(d) => &d.0,
        }
    }
}

/// A validated scene, ready to build a pass chain from.
#[derive(Debug, Clone, PartialEq)]
pub struct Scene {
    /// The scene file this came from.
    pub path: PathBuf,
    /// Display name.
    pub name: String,
    /// Optional one-line description.
    pub description: Option<String>,
    /// Internal render size in pixels.
    pub size: [u32; 2],
    /// Parameters, in file order (also the order of fields in the WGSL `Params` struct).
    pub params: Vec<ParamDef>,
    /// Passes in render order; the last one is the output.
    pub passes: Vec<PassDef>,
}

/// A validated parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// Name: a WGSL identifier, so `params.<name>` works in shaders.
    pub name: String,
    /// Starting value, inside the range.
    pub default: f32,
    /// Lowest value.
    pub min: f32,
    /// Highest value.
    pub max: f32,
    /// Smoothing time constant in seconds (0 = immediate).
    pub smooth_secs: f32,
    /// Label for UIs.
    pub label: String,
    /// Group for UIs.
    pub group: Option<String>,
}

impl ParamDef {
    /// Clamps `value` into the range.
    #[must_use]
    pub fn clamp(&self, value: f32) -> f32 {
        value.clamp(self.min, self.max)
    }
}

/// A validated pass.
#[derive(Debug, Clone, PartialEq)]
pub struct PassDef {
    /// Unique name.
    pub name: String,
    /// The WGSL file, resolved against the scene file's folder.
    pub shader: PathBuf,
    /// Where `shader = ...` stands in the scene file, for errors about the file itself.
    pub shader_at: Location,
    /// What this pass samples, in declaration order.
    pub inputs: Vec<PassInput>,
    /// Output size relative to the scene size.
    pub scale: [f32; 2],
    /// Output size in pixels, overriding `scale`.
    pub size: Option<[u32; 2]>,
    /// Output texture format.
    pub format: Format,
    /// How readers filter this pass's output.
    pub filter: Filter,
    /// How readers address this pass's output outside 0..1.
    pub wrap: Wrap,
}

impl PassDef {
    /// True when the pass reads its own previous frame (and so owns two textures).
    #[must_use]
    pub fn is_feedback(&self) -> bool {
        self.inputs.iter().any(|i| i.previous_frame)
    }

    /// Output size in pixels for a scene rendered at `scene_size`.
    #[must_use]
    pub fn output_size(&self, scene_size: [u32; 2]) -> [u32; 2] {
        self.size.unwrap_or_else(|| {
            let scaled = |s: u32, k: f32| {
                // Rounded, at least one pixel; sizes are far below f32's exact-integer limit.
                #[allow(
                    clippy::cast_possible_truncation,
                    clippy::cast_sign_loss,
                    clippy::cast_precision_loss
                )]
                let px = (s as f32 * k).round() as u32;
                px.clamp(1, 16384)
            };
            [
                scaled(scene_size[0], self.scale[0]),
                scaled(scene_size[1], self.scale[1]),
            ]
        })
    }
}

/// A declared input of a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PassInput {
    /// The name as written; the shader sees `tex_<name>` and `samp_<name>`.
    pub name: String,
    /// Index of the pass that produces it.
    pub pass: usize,
    /// True when the pass reads its own output of the previous frame.
    pub previous_frame: bool,
}

/// A line and column in the scene file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub col: u32,
}

impl Scene {
    /// Reads and validates the scene at `path`.
    ///
    /// # Errors
    /// [`SceneError::Io`] when the file cannot be read, [`SceneError::Invalid`] with every
    /// problem found (syntax, unknown keys, types, ranges, references, missing shader files).
    pub fn load(path: &Path) -> Result<Self, SceneError> {
        let source = std::fs::read_to_string(path).map_err(|source| SceneError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Self::parse(&source, path)
    }

    /// Validates `source` as if read from `path` (relative files resolve against its folder).
    ///
    /// # Errors
    /// [`SceneError::Invalid`] with every problem found.
    pub fn parse(source: &str, path: &Path) -> Result<Self, SceneError> {
        validate::parse(source, path).map_err(SceneError::Invalid)
    }

    /// The param named `name`.
    #[must_use]
    pub fn param(&self, name: &str) -> Option<&ParamDef> {
        self.params.iter().find(|p| p.name == name)
    }

    /// The pass whose output is shown.
    ///
    /// # Panics
    /// Never for a validated scene: validation requires at least one pass.
    #[must_use]
    pub fn output_pass(&self) -> usize {
        self.passes.len().saturating_sub(1)
    }
}
