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
    pub scene: Spanned<RawSceneMeta>,
    /// `[params.<name>]`: named float parameters, in file order. Default: none.
    #[serde(default)]
    pub params: IndexMap<Spanned<String>, RawParam>,
    /// `[[pass]]`: the passes in render order; the last one is shown. At least one.
    #[serde(default, rename = "pass")]
    pub passes: Vec<Spanned<RawPass>>,
    /// `[[model]]`: ONNX models run as scene nodes. Default: none.
    #[serde(default, rename = "model")]
    pub models: Vec<Spanned<RawModel>>,
    /// `[[media]]`: images, video files, image sequences, cameras and network streams as
    /// textures `tex_<name>` (docs/media.md). Default: none.
    #[serde(default, rename = "media")]
    pub media: Vec<Spanned<RawMedia>>,
    /// `[runtime]`: how models run. Default: CPU, one thread.
    pub runtime: Option<RawRuntime>,
    /// `[osc]`: the OSC server (listen address, allow-list, feedback targets). Default: see
    /// docs/osc.md (listen on `0.0.0.0:9000`).
    pub osc: Option<Spanned<super::osc::OscConfig>>,
    /// `[audio]`: live input and analysis (see docs/audio.md). Default: no audio unless the
    /// command line asks for it.
    pub audio: Option<Spanned<super::audio::AudioConfig>>,
}

/// `[[media]]`: one media source (exactly one of `file`, `sequence`, `camera`, `url`).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMedia {
    /// Unique name: passes sample `tex_<name>`, models bind `{ texture = "<name>" }`.
    /// Required.
    pub name: Spanned<String>,
    /// A still image (png, jpeg, webp, bmp, tiff) or a video file (any format FFmpeg reads),
    /// relative to the scene file. Default: none.
    pub file: Option<Spanned<String>>,
    /// An image sequence: a file pattern with a frame number (`frames/%04d.png`), relative
    /// to the scene file, played at `fps`. Default: none.
    pub sequence: Option<Spanned<String>>,
    /// A camera: `"default"`, a device name (or part of it), or an index. Default: none.
    pub camera: Option<Spanned<RawCamera>>,
    /// A network stream FFmpeg reads (`rtsp://`, `srt://`, `udp://`, `http://`...).
    /// Default: none.
    pub url: Option<Spanned<String>>,
    /// For `camera`: a still image or video file (relative to the scene file) shown instead
    /// when the camera is not there at start (so `check` and `render` pass on a machine
    /// without it). Default: none.
    pub fallback: Option<Spanned<String>>,
    /// For `camera`: the mode asked of the device, `{ size = [w, h], fps = 30, format =
    /// "mjpeg" }` (each key optional; what the camera gives is logged). Default: the
    /// device's own.
    pub mode: Option<Spanned<RawCameraMode>>,
    /// Texture size `[width, height]` in pixels. Default: the scene size.
    #[serde(default, deserialize_with = "crate::untrusted::exact_spanned_opt")]
    pub size: Option<Spanned<[u32; 2]>>,
    /// How the picture fits `size`: `"crop"`, `"letterbox"` or `"stretch"`. Default:
    /// `"crop"`.
    pub fit: Option<MediaFit>,
    /// Video and sequences: start again at the in point after the out point. Default: true.
    #[serde(rename = "loop")]
    pub looped: Option<Spanned<bool>>,
    /// Video and sequences: playback speed, a number or the name of a param. Default: 1.0.
    pub speed: Option<Spanned<RawSpeed>>,
    /// Video and sequences: a param giving the position in seconds after `start`; when
    /// given, it replaces playing at `speed` (scrubbing, scratching). Default: none.
    pub position: Option<Spanned<String>>,
    /// Video and sequences: the in point, seconds into the file. Default: 0.
    pub start: Option<Spanned<f64>>,
    /// Video and sequences: the out point, seconds into the file. Default: the end.
    pub end: Option<Spanned<f64>>,
    /// Video and sequences: frames per second the file is sampled at (a sequence's frame
    /// rate). Default: 30.
    pub fps: Option<Spanned<f64>>,
    /// How readers sample the texture. Default: `"linear"`.
    pub filter: Option<Filter>,
    /// How readers sample outside 0..1. Default: `"clamp"`.
    pub wrap: Option<Wrap>,
}

/// `mode = { ... }` of a camera.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCameraMode {
    /// Capture size `[width, height]`. Default: the device's.
    #[serde(default, deserialize_with = "crate::untrusted::exact_opt")]
    pub size: Option<[u32; 2]>,
    /// Frames per second. Default: the device's.
    pub fps: Option<f64>,
    /// Pixel format or codec as FFmpeg names it (`yuyv422`, `mjpeg`, `nv12`). Default: the
    /// device's.
    pub format: Option<String>,
}

/// `camera = "default" | "name" | index`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawCamera {
    /// By index (`/dev/video<index>` on Linux).
    Index(i64),
    /// `"default"` or a name.
    Name(String),
}

/// `speed = 1.5` or `speed = "param"`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawSpeed {
    /// A fixed speed.
    Value(f64),
    /// A param's value.
    Param(String),
}

/// How a picture fits a media texture of another aspect ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaFit {
    /// Fill the texture, cutting what overflows (centred).
    Crop,
    /// The whole picture, black bars where the aspect differs.
    Letterbox,
    /// Fill the texture, distorting the aspect.
    Stretch,
}

/// `[runtime]`: defaults for every model of the scene (the command line overrides).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRuntime {
    /// Execution providers in order of preference, e.g. `["cuda", "cpu"]`. Default: `["cpu"]`.
    pub providers: Option<Vec<Spanned<String>>>,
    /// Threads inside one operator (ONNX Runtime intra-op), 0..=64 (0 counts as 1).
    /// Default: 1.
    pub threads: Option<Spanned<u32>>,
}

/// `[[model]]`: an ONNX model as a scene node.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModel {
    /// Unique name (shares the namespace of pass names). Required.
    pub name: Spanned<String>,
    /// The `.onnx` file, relative to the scene file. Required.
    pub file: Spanned<String>,
    /// Inference resolution `[width, height]` for image tensors whose height and width are
    /// not fixed by the model. Default: the model's fixed size, else the scene size / 4.
    #[serde(default, deserialize_with = "crate::untrusted::exact_spanned_opt")]
    pub size: Option<Spanned<[u32; 2]>>,
    /// Start a run at most every N frames. Default: 1 (whenever the model is free).
    pub every: Option<Spanned<u32>>,
    /// Start at most this many runs per second of scene time. Default: unlimited.
    pub max_rate_hz: Option<Spanned<f32>>,
    /// A run slower than this many milliseconds is hung: it is stopped, counted and, after
    /// failures in a row, the model is bypassed and retried with backoff (docs/models.md,
    /// "When a model fails"). 1..=3600000. Default: automatic, ten times the median run time,
    /// at least 2000 ms (the first run after each load may take 30 s).
    pub deadline_ms: Option<Spanned<u64>>,
    /// Samples per run, 1..=256: the model's batch dimension (docs/models.md, "Batches").
    /// Default: 1.
    pub batch: Option<Spanned<usize>>,
    /// Input bindings by model input name. Required for every input the model has.
    #[serde(default)]
    pub inputs: IndexMap<Spanned<String>, Spanned<RawBinding>>,
    /// Output bindings by model output name. Outputs not listed are ignored.
    #[serde(default)]
    pub outputs: IndexMap<Spanned<String>, Spanned<RawOutput>>,
}

/// Where a model input comes from: exactly one of the source keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBinding {
    /// A pass or model output texture, read back and converted to a float image tensor.
    pub texture: Option<String>,
    /// One param as a one-element vector.
    pub param: Option<String>,
    /// Several params as a vector, in this order.
    pub params: Option<Vec<String>>,
    /// An audio feature: `"bands"`, `"level"`, `"peak"`, `"onset"`, `"beat"`, `"bpm"`,
    /// `"beat_phase"`, `"downbeat"`, `"bar_phase"`, `"beat_in_bar"`, `"centroid"`, `"flux"`.
    pub audio: Option<String>,
    /// A fixed value or vector.
    pub constant: Option<RawConstant>,
    /// Scene time in seconds (`time = true`).
    pub time: Option<bool>,
    /// A latent vector walking smoothly over time.
    pub latent: Option<RawLatent>,
    /// Image tensor layout: `"nchw"` or `"nhwc"`. Default: `"nchw"`.
    pub layout: Option<String>,
    /// Image values map 0..1 onto `[lo, hi]`. Default: `[0, 1]`.
    #[serde(default, deserialize_with = "crate::untrusted::exact_opt")]
    pub range: Option<[f32; 2]>,
    /// Per-channel mean subtracted after `range` (`ImageNet` style). Default: none.
    #[serde(default, deserialize_with = "crate::untrusted::exact_opt")]
    pub mean: Option<[f32; 3]>,
    /// Per-channel standard deviation divided by after `mean`. Default: none.
    #[serde(default, deserialize_with = "crate::untrusted::exact_opt")]
    pub std: Option<[f32; 3]>,
    /// Vector sources only: feed `softmax(softmax * v)` per row, weights that sum to 1.
    /// Default: none (values as they are).
    pub softmax: Option<f32>,
}

/// A constant: one number or a list.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RawConstant {
    /// One value.
    Scalar(f32),
    /// A vector.
    Vector(Vec<f32>),
}

/// `latent = { dim = 8, ... }`: a smooth walk through latent space (Lucid Sonic Dreams style:
/// audio "motion" speeds it up, audio "pulses" kick it).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLatent {
    /// Length of the vector. Required.
    pub dim: usize,
    /// Seed of the walk. Default: 0.
    pub seed: Option<u64>,
    /// Walk speed in cycles per second of the slowest component. Default: 0.05.
    pub speed: Option<f32>,
    /// Spread of the walk (standard deviation of each component). Default: 1.0.
    pub scale: Option<f32>,
    /// Audio feature that speeds the walk up (`speed * (1 + motion_gain * feature)`).
    /// Default: none.
    pub motion: Option<String>,
    /// Gain of `motion`. Default: 2.0.
    pub motion_gain: Option<f32>,
    /// Audio feature whose rises kick the vector along a fixed random direction. Default: none.
    pub pulse: Option<String>,
    /// Size of a full pulse kick. Default: 0.6.
    pub pulse_gain: Option<f32>,
    /// Param that scales the speed (multiplies). Default: none.
    pub speed_param: Option<String>,
    /// `"waves"` (sums of sinusoids) or `"keyframes"` (seeded keyframes joined by a smooth
    /// spline). Default: `"waves"`.
    pub path: Option<String>,
    /// Param added to `seed` (rounded); a change crossfades to the new walk. Default: none.
    pub seed_param: Option<String>,
    /// Param whose change to a whole number k >= 1 saves the current point as bookmark k.
    /// Default: none.
    pub save_param: Option<String>,
    /// Param whose change to a whole number k >= 1 recalls bookmark k with a crossfade.
    /// Default: none.
    pub recall_param: Option<String>,
    /// Crossfade of a recall or a seed change, seconds. Default: 2.0.
    pub fade_secs: Option<f32>,
}

/// Where a model output goes: exactly one of the target keys.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawOutput {
    /// A texture passes can sample by this name (image outputs).
    pub texture: Option<String>,
    /// One param set from the first element.
    pub param: Option<String>,
    /// Params set from the elements, in order.
    pub params: Option<Vec<String>>,
    /// Image tensor layout: `"nchw"` or `"nhwc"`. Default: `"nchw"`.
    pub layout: Option<String>,
    /// Values `[lo, hi]` map onto 0..1 in the texture. Default: `[0, 1]`.
    #[serde(default, deserialize_with = "crate::untrusted::exact_opt")]
    pub range: Option<[f32; 2]>,
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
    #[serde(default, deserialize_with = "crate::untrusted::exact_spanned_opt")]
    pub size: Option<Spanned<[u32; 2]>>,
    /// When a playlist switches to this scene, its feedback passes start from the frame on
    /// screen instead of black. Default: false.
    pub inherit_feedback: Option<bool>,
}

/// `[params.<name>]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawParam {
    /// Starting value, inside `range`. Required.
    pub default: Spanned<f32>,
    /// `[min, max]`, min < max. Default: `[0.0, 1.0]`.
    #[serde(default, deserialize_with = "crate::untrusted::exact_spanned_opt")]
    pub range: Option<Spanned<[f32; 2]>>,
    /// Smoothing time constant in seconds; 0 applies changes at once. Default: `0.0`.
    pub smooth: Option<Spanned<f32>>,
    /// Label for the parameter panel. Default: the param's name.
    pub label: Option<String>,
    /// Group for the parameter panel. Default: none.
    pub group: Option<String>,
    /// Extra OSC addresses for fixed controller layouts: `"/1/fader1"`, a table
    /// `{ address, input_range = [0, 1], arg = 0 }`, or a list of them. Default: none.
    pub osc: Option<Spanned<super::osc::OscAliases>>,
    /// A MIDI binding (docs/midi.md): `"cc 1 74"`, `"cc14 1 1"`, `"note 1 60 velocity"`,
    /// `"bend 1"`, or a table `{ cc = 74, channel = 1, range = [0, 0.5] }`. Default: none.
    pub midi: Option<Spanned<super::midi::RawMidiBinding>>,
    /// Audio modulation: `{ feature = "bands", index = 0, gain = 1.0, offset = 0.0 }` adds
    /// `offset + gain * feature[index]` to the value shaders see (clamped to the range; not
    /// echoed as OSC feedback). Default: none.
    pub audio: Option<Spanned<RawModulation>>,
    /// A text file (relative to the scene's folder) naming the param's whole values, one name
    /// a line: line k + 1 names the value k (rounded). The HUD and the panel show the name of
    /// the current value (the class of a class dream). Default: none.
    pub names: Option<Spanned<String>>,
}

/// `audio = { ... }` on a param.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawModulation {
    /// Audio feature: `"bands"`, `"level"`, `"peak"`, `"onset"`, `"beat"`, `"bpm"`,
    /// `"beat_phase"`, `"downbeat"`, `"bar_phase"`, `"beat_in_bar"`, `"centroid"`, `"flux"`.
    /// Required.
    pub feature: String,
    /// Element of a vector feature (`bands`). Default: 0.
    pub index: Option<usize>,
    /// Scale of the feature, in the param's units per feature unit. Default: 1.0.
    pub gain: Option<f32>,
    /// Added to the scaled feature. Default: 0.0.
    pub offset: Option<f32>,
}

/// `[[pass]]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPass {
    /// Unique name; also the name other passes read it by. Required.
    pub name: Spanned<String>,
    /// WGSL fragment shader, relative to the scene file. Required unless `isf` is given.
    pub shader: Option<Spanned<String>>,
    /// An ISF 2.0 file (`.fs`, with its `.vs` beside it if any) instead of `shader`: its
    /// INPUTS become params and its PASSES passes (docs/isf.md). Default: none.
    pub isf: Option<Spanned<String>>,
    /// A Shadertoy shader (`void mainImage(out vec4, in vec2)`) instead of `shader`:
    /// `inputs` are its `iChannel0..3` in order (docs/isf.md, "Shadertoy"). Default: none.
    pub shadertoy: Option<Spanned<String>>,
    /// For a `shadertoy` pass: a file put before it (Shadertoy's "Common" tab). Default: none.
    pub common: Option<Spanned<String>>,
    /// For a `shadertoy` pass: the four params giving `iMouse` (x, y, click x, click y, in
    /// pixels, y up). Default: `iMouse` is zero.
    pub mouse: Option<Spanned<Vec<String>>>,
    /// For an `isf` pass: which texture each image input reads, `{ inputImage = "pass" }`.
    /// Default: every image input reads the pass before this one.
    #[serde(default)]
    pub images: IndexMap<Spanned<String>, Spanned<String>>,
    /// Passes this one samples, as `tex_<name>`; its own name reads its previous frame.
    /// Default: none.
    #[serde(default)]
    pub inputs: Vec<Spanned<String>>,
    /// Output size relative to the scene size: one number or `[x, y]`. Default: `1.0`.
    pub scale: Option<Spanned<RawScale>>,
    /// Output size in pixels, overriding `scale`. Default: none.
    #[serde(default, deserialize_with = "crate::untrusted::exact_spanned_opt")]
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
    PerAxis(#[serde(deserialize_with = "crate::untrusted::exact")] [f32; 2]),
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
