//! The scene file exactly as written (TOML, via serde). Nothing here is checked beyond types;
//! [`super::validate`] turns it into a [`super::Scene`]. Spans are kept where a later check
//! must point back into the file.

use indexmap::IndexMap;
use serde::Deserialize;
use toml::Spanned;

/// A whole scene file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawScene {
    /// `[scene]`: required.
    pub scene: RawSceneMeta,
    /// `[params.<name>]`: named float parameters, in file order. Default: none.
    #[serde(default)]
    pub params: IndexMap<Spanned<String>, RawParam>,
    /// `[[pass]]`: the passes in render order; the last one is shown. At least one.
    #[serde(default, rename = "pass")]
    pub passes: Vec<Spanned<RawPass>>,
}

/// `[scene]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSceneMeta {
    /// Display name. Required.
    pub name: String,
    /// One line for playlists and `hypna check`. Default: none.
    pub description: Option<String>,
    /// Internal render size `[width, height]` in pixels. Default: `[1280, 720]`.
    pub size: Option<Spanned<[u32; 2]>>,
}

/// `[params.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    /// Starting value, inside `range`. Required.
    pub default: Spanned<f32>,
    /// `[min, max]`, min < max. Default: `[0.0, 1.0]`.
    pub range: Option<Spanned<[f32; 2]>>,
    /// Smoothing time constant in seconds; 0 applies changes at once. Default: `0.0`.
    pub smooth: Option<Spanned<f32>>,
    /// Label for the parameter panel. Default: the param's name.
    pub label: Option<String>,
    /// Group for the parameter panel. Default: none.
    pub group: Option<String>,
}

/// `[[pass]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPass {
    /// Unique name; also the name other passes read it by. Required.
    pub name: Spanned<String>,
    /// WGSL fragment shader, relative to the scene file. Required.
    pub shader: Spanned<String>,
    /// Passes this one samples, as `tex_<name>`; its own name reads its previous frame.
    /// Default: none.
    #[serde(default)]
    pub inputs: Vec<Spanned<String>>,
    /// Output size relative to the scene size: one number or `[x, y]`. Default: `1.0`.
    pub scale: Option<Spanned<RawScale>>,
    /// Output size in pixels, overriding `scale`. Default: none.
    pub size: Option<Spanned<[u32; 2]>>,
    /// Texture format of the output. Default: `"rgba16float"`.
    pub format: Option<Spanned<Format>>,
    /// How readers sample this pass's output. Default: `"linear"`.
    pub filter: Option<Filter>,
    /// How readers sample outside 0..1. Default: `"clamp"`.
    pub wrap: Option<Wrap>,
}

/// A scale: uniform or per axis.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(untagged)]
pub enum RawScale {
    /// Same factor for width and height.
    Uniform(f32),
    /// `[x, y]`.
    PerAxis([f32; 2]),
}

/// Render target formats a pass may write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// 8 bits per channel, 0..1. Smallest; banding in slow feedback.
    Rgba8unorm,
    /// 16-bit float per channel: the default, good for feedback.
    Rgba16float,
    /// 32-bit float per channel: exact, but only `filter = "nearest"` everywhere.
    Rgba32float,
}

/// Texture filtering for readers of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Filter {
    /// Bilinear.
    Linear,
    /// Nearest texel.
    Nearest,
}

/// Addressing outside 0..1 for readers of a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Wrap {
    /// Clamp to the edge texel.
    Clamp,
    /// Tile.
    Repeat,
    /// Tile, mirrored every other time.
    Mirror,
}
