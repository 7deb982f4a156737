//! Scenes: the TOML file format ([`raw`]), its validation into a typed [`Scene`]
//! ([`validate`], model tables in `models`), and reading from disk ([`Scene::read`]). The
//! `[osc]` and `[audio]` tables are part of the format ([`osc`], [`audio`]), as are MIDI
//! bindings and the settings file's `[midi]` table ([`midi`]): the services
//! take their configuration from here, and nothing here knows the services.
//!
//! A scene is an ordered list of passes plus named parameters. Validation resolves every
//! reference (inputs, shader files) up front, so the renderer never meets a dangling name.

pub mod audio;
pub mod isf;
pub mod media;
pub mod midi;
mod models;
pub mod osc;
pub mod raw;
mod rules;
pub mod validate;

pub use models::MAX_BATCH;
pub use rules::is_identifier;

use std::path::{Path, PathBuf};

pub use media::{CameraMode, CameraSelect, MediaDef, MediaInput, Playback, Speed};
pub use raw::{Filter, Format, MediaFit, Wrap};

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
        source: crate::untrusted::SourceError,
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

/// The slots an ISF transition's scene reads ([`Scene::read_transition`]): the frame the
/// transition starts from and the new scene, live.
pub const TRANSITION_SLOTS: [&str; 2] = ["startImage", "endImage"];

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
    /// Where `size = ...` stands in `[scene]` (`None`: the default size).
    pub size_at: Option<Location>,
    /// Feedback passes start from the frame on screen when a playlist switches here.
    pub inherit_feedback: bool,
    /// Parameters, in file order (also the order of fields in the WGSL `Params` struct).
    pub params: Vec<ParamDef>,
    /// Passes in render order; the last one is the output.
    pub passes: Vec<PassDef>,
    /// ONNX models run as scene nodes.
    pub models: Vec<ModelDef>,
    /// `[[media]]` sources, each the texture `tex_<name>`.
    pub media: Vec<MediaDef>,
    /// How models run (providers, threads).
    pub runtime: RuntimeDef,
    /// The `[osc]` table (defaults when absent).
    pub osc: osc::OscConfig,
    /// The `[audio]` table, when the scene has one (relative `file` resolved against the
    /// scene's directory).
    pub audio: Option<audio::AudioConfig>,
    /// Where the `[audio]` table stands in the scene file (for errors about its `file`).
    pub audio_at: Option<Location>,
    /// Images passes read that are neither passes nor model outputs ([`TextureSource::Image`]):
    /// ISF `IMPORTED` images, and the start and end images of an ISF transition.
    pub images: Vec<ImageDef>,
}

/// An image a pass reads as [`TextureSource::Image`].
#[derive(Debug, Clone, PartialEq)]
pub struct ImageDef {
    /// Its name (the ISF name of an `IMPORTED` image, or the name the image was declared by).
    pub name: String,
    /// Where its pixels come from.
    pub pixels: ImagePixels,
}

/// Where an [`ImageDef`]'s pixels come from.
#[derive(Debug, Clone, PartialEq)]
pub enum ImagePixels {
    /// Decoded from a file when the scene was read (an ISF `IMPORTED` image); uploaded once
    /// into an `Rgba8Unorm` texture of its size.
    File {
        /// The image file.
        path: PathBuf,
        /// Its pixels.
        image: std::sync::Arc<crate::untrusted::Image>,
    },
    /// Drawn into by the scene's owner every frame (an ISF transition's start and end
    /// images): an `Rgba16Float` texture of the scene's size, transparent black at first.
    Slot,
}

/// The execution providers `[runtime] providers` may name, in documentation order (the
/// inference layer maps each to ONNX Runtime's provider; a test there keeps the lists equal).
pub const PROVIDER_NAMES: [&str; 7] = [
    "cpu", "cuda", "tensorrt", "directml", "coreml", "rocm", "openvino",
];

/// `[runtime]`, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeDef {
    /// Execution providers in order of preference (lowercase names).
    pub providers: Vec<String>,
    /// Intra-op threads per model.
    pub threads: u32,
}

impl Default for RuntimeDef {
    fn default() -> Self {
        Self {
            providers: vec!["cpu".to_string()],
            threads: 1,
        }
    }
}

/// A validated `[[model]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ModelDef {
    /// Unique name.
    pub name: String,
    /// The `.onnx` file, resolved against the scene folder.
    pub file: PathBuf,
    /// Where the model table stands in the scene file.
    pub at: Location,
    /// Inference size for image tensors with free height and width.
    pub size: Option<[u32; 2]>,
    /// Where `size` stands in the scene file, when given.
    pub size_at: Option<Location>,
    /// Start a run at most every N frames.
    pub every: u32,
    /// Start at most this many runs per second.
    pub max_rate_hz: Option<f32>,
    /// A run slower than this is hung (`deadline_ms`); `None` is automatic.
    pub deadline: Option<std::time::Duration>,
    /// Samples per run (`batch`): the model's batch dimension. Vector inputs with a batch
    /// dimension get one row per sample (a latent walk one walk per row, other sources the
    /// same row repeated); image outputs become an atlas of `batch` tiles.
    pub batch: usize,
    /// Input bindings in file order.
    pub inputs: Vec<InputBinding>,
    /// Output bindings in file order.
    pub outputs: Vec<OutputBinding>,
}

/// How an image maps between a texture (0..1 RGBA) and a tensor.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImageMapping {
    /// Channel-first `[1, 3, H, W]` or channel-last `[1, H, W, 3]`.
    pub layout: Layout,
    /// Texture 0..1 maps onto `[lo, hi]`.
    pub range: [f32; 2],
    /// Per-channel mean subtracted after `range`.
    pub mean: [f32; 3],
    /// Per-channel standard deviation divided by after `mean`.
    pub std: [f32; 3],
}

impl Default for ImageMapping {
    fn default() -> Self {
        Self {
            layout: Layout::Nchw,
            range: [0.0, 1.0],
            mean: [0.0; 3],
            std: [1.0; 3],
        }
    }
}

/// Image tensor layouts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `[1, C, H, W]`.
    Nchw,
    /// `[1, H, W, C]`.
    Nhwc,
}

/// A model input binding.
#[derive(Debug, Clone, PartialEq)]
pub struct InputBinding {
    /// The model's input name.
    pub name: String,
    /// Where the binding stands in the scene file.
    pub at: Location,
    /// Where the data comes from.
    pub source: InputSource,
    /// For texture sources: how pixels become tensor values.
    pub image: ImageMapping,
    /// For vector sources: `softmax = t` turns each row into weights that sum to 1,
    /// `softmax(t * v)` (a soft one-hot mix for class labels). `None` feeds values as they are.
    pub softmax: Option<f32>,
}

/// Sources of model input data.
#[derive(Debug, Clone, PartialEq)]
pub enum InputSource {
    /// A texture by name (a pass output or a model output texture).
    Texture(TextureSource),
    /// Param values by index into [`Scene::params`].
    Params(Vec<usize>),
    /// An audio feature (zeros until audio input is running).
    Audio(AudioFeature),
    /// Fixed values.
    Constant(Vec<f32>),
    /// Scene time in seconds.
    Time,
    /// A latent walk.
    Latent(LatentDef),
}

/// A texture a pass or a model can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextureSource {
    /// The output of pass `index` (the latest finished frame).
    Pass(usize),
    /// Output `output` (index into that model's outputs) of model `model`.
    Model {
        /// Index into [`Scene::models`].
        model: usize,
        /// Index into that model's `outputs`.
        output: usize,
    },
    /// The audio input as an image for ISF `audio` (waveform, 0.5 is silence) and
    /// `audioFFT` (spectrum) inputs: one row of 512 texels.
    Audio {
        /// The spectrum; else the waveform.
        spectrum: bool,
    },
    /// The audio input in Shadertoy's music-input layout, for a Shadertoy channel
    /// (`inputs = ["audio"]`): 512 x 2 texels, the spectrum row and the waveform row.
    AudioShadertoy,
    /// Image `index` of [`Scene::images`].
    Image(usize),
    /// Media source `index` (into [`Scene::media`]): its newest frame.
    Media(usize),
}

/// Audio features a binding can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AudioFeature {
    /// Band energies (a vector).
    Bands,
    /// RMS level.
    Level,
    /// Peak.
    Peak,
    /// Onset pulse.
    Onset,
    /// Beat pulse.
    Beat,
    /// Tempo in BPM.
    Bpm,
    /// Position within the beat.
    BeatPhase,
    /// Downbeat pulse.
    Downbeat,
    /// Position within the bar.
    BarPhase,
    /// Beat of the bar (0 = downbeat).
    BeatInBar,
    /// Spectral centroid.
    Centroid,
    /// Spectral flux.
    Flux,
}

impl AudioFeature {
    /// Every feature with its name in scene files.
    pub const ALL: [(&'static str, Self); 12] = [
        ("bands", Self::Bands),
        ("level", Self::Level),
        ("peak", Self::Peak),
        ("onset", Self::Onset),
        ("beat", Self::Beat),
        ("bpm", Self::Bpm),
        ("beat_phase", Self::BeatPhase),
        ("downbeat", Self::Downbeat),
        ("bar_phase", Self::BarPhase),
        ("beat_in_bar", Self::BeatInBar),
        ("centroid", Self::Centroid),
        ("flux", Self::Flux),
    ];

    /// Parses a feature name.
    #[must_use]
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, f)| *f)
    }
}

/// A validated latent walk.
#[derive(Debug, Clone, PartialEq)]
pub struct LatentDef {
    /// Vector length.
    pub dim: usize,
    /// Seed.
    pub seed: u64,
    /// Cycles per second of the slowest component.
    pub speed: f32,
    /// Standard deviation of each component.
    pub scale: f32,
    /// Feature that speeds the walk up.
    pub motion: Option<AudioFeature>,
    /// Gain of `motion`.
    pub motion_gain: f32,
    /// Feature whose rises kick the vector.
    pub pulse: Option<AudioFeature>,
    /// Size of a full kick.
    pub pulse_gain: f32,
    /// Param (index) multiplying the speed.
    pub speed_param: Option<usize>,
    /// How the walk moves between points.
    pub path: LatentPath,
    /// Param (index) added to `seed`; a change crossfades to the new walk.
    pub seed_param: Option<usize>,
    /// Param (index) whose change to a whole number k >= 1 saves the current point as bookmark k.
    pub save_param: Option<usize>,
    /// Param (index) whose change to a whole number k >= 1 recalls bookmark k with a crossfade.
    pub recall_param: Option<usize>,
    /// Crossfade length of a recall or a seed change, seconds.
    pub fade_secs: f32,
}

/// How a latent walk moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LatentPath {
    /// Each component a sum of slow seeded sinusoids (`path = "waves"`, the default).
    Waves,
    /// Seeded Gaussian keyframes, one per unit of phase, joined by a variance-preserving
    /// Catmull-Rom spline (`path = "keyframes"`): distinct points visited in turn, as in
    /// Lucid Sonic Dreams.
    Keyframes,
}

/// A model output binding.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputBinding {
    /// The model's output name.
    pub name: String,
    /// Where the binding stands in the scene file.
    pub at: Location,
    /// Where results go.
    pub target: OutputTarget,
    /// For texture targets: how tensor values become pixels.
    pub image: ImageMapping,
}

/// Targets of model outputs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutputTarget {
    /// A texture passes sample as `tex_<name>`.
    Texture(String),
    /// Params (indices) set from the leading elements.
    Params(Vec<usize>),
}

/// A validated parameter.
#[derive(Debug, Clone, PartialEq)]
pub struct ParamDef {
    /// Name: a WGSL identifier, so `params.<name>` works in shaders.
    pub name: String,
    /// Where the param is declared (its name) in the scene file.
    pub at: Location,
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
    /// Extra OSC addresses (controller aliases).
    pub osc: Vec<osc::OscAlias>,
    /// The scene's MIDI binding (the settings file may add more per controller).
    pub midi: Option<midi::MidiBinding>,
    /// Audio modulation added to the value shaders see.
    pub modulation: Option<Modulation>,
    /// Names of the whole values (index k names the value k), from the `names` file; empty
    /// when the param has none.
    pub names: Vec<String>,
}

/// A param following an audio feature.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Modulation {
    /// The feature.
    pub feature: AudioFeature,
    /// Element of a vector feature.
    pub index: usize,
    /// Scale.
    pub gain: f32,
    /// Offset.
    pub offset: f32,
}

impl ParamDef {
    /// Clamps `value` into the range.
    #[must_use]
    pub fn clamp(&self, value: f32) -> f32 {
        value.clamp(self.min, self.max)
    }

    /// The name of `value` (rounded to the nearest whole number) from the `names` file, if
    /// the param has names and one covers it.
    #[must_use]
    pub fn name_of(&self, value: f32) -> Option<&str> {
        let k = value.round();
        if !(k >= 0.0 && k < self.names.len() as f32) {
            return None;
        }
        self.names.get(k as usize).map(String::as_str)
    }
}

/// A validated pass.
#[derive(Debug, Clone, PartialEq)]
pub struct PassDef {
    /// Unique name.
    pub name: String,
    /// Where `name = ...` of the pass stands in the scene file.
    pub at: Location,
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
    /// Where `size = ...` of the pass stands, when given.
    pub size_at: Option<Location>,
    /// Output texture format.
    pub format: Format,
    /// How readers filter this pass's output.
    pub filter: Filter,
    /// How readers address this pass's output outside 0..1.
    pub wrap: Wrap,
    /// For a pass of an ISF file: the file's header and this pass's place in it (`shader`
    /// is then the `.fs` file). `None` for a WGSL pass.
    pub isf: Option<isf::pass::IsfPassDef>,
    /// For a Shadertoy pass (`shader` is then its file; `inputs` are its channels).
    pub shadertoy: Option<ShadertoyPassDef>,
}

/// What a Shadertoy pass adds to a pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShadertoyPassDef {
    /// The file put before the pass's own (Shadertoy's "Common" tab).
    pub common: Option<PathBuf>,
    /// The params (indices) giving `iMouse`.
    pub mouse: Option<[usize; 4]>,
}

impl PassDef {
    /// True when the pass reads its own previous frame.
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
    /// The pass or model output that produces it.
    pub source: TextureSource,
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
    /// The band count models and shaders see: the `[audio] bands`, else 8.
    #[must_use]
    pub fn audio_bands(&self) -> usize {
        self.audio.as_ref().map_or(8, |a| a.bands)
    }

    /// Reads and validates the scene at `path` (the first stage of loading a scene; see
    /// `runtime::load`). A `.fs` file is an ISF file played on its own (see
    /// [`isf::pass::bare_scene_toml`]).
    ///
    /// # Errors
    /// [`SceneError::Io`] when the file cannot be read, [`SceneError::Invalid`] with every
    /// problem found (syntax, unknown keys, types, ranges, references, missing shader files).
    pub fn read(path: &Path) -> Result<Self, SceneError> {
        let source = crate::untrusted::read_toml(path, "scene").map_err(|e| match e {
            crate::untrusted::TomlTextError::Read(source) => SceneError::Io {
                path: path.to_path_buf(),
                source,
            },
            crate::untrusted::TomlTextError::Located(d) => {
                SceneError::Invalid(Diagnostics(vec![d]))
            }
        })?;
        if path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("fs"))
        {
            // A bare ISF file plays as a scene of its own.
            let toml = isf::pass::bare_scene_toml(path, &source);
            return Self::parse(&toml, path);
        }
        Self::parse(&source, path)
    }

    /// Reads the ISF transition at `path` as the scene it plays as between two scenes of a
    /// playlist, at `size`: its passes, its inputs as params (`progress` among them), and
    /// `startImage` and `endImage` reading the slots [`TRANSITION_SLOTS`] (images 0 and 1).
    ///
    /// # Errors
    /// [`SceneError::Io`] when the file cannot be read; [`SceneError::Invalid`] with the
    /// header's problems located in the file, or when the file is not a transition.
    pub fn read_transition(path: &Path, size: [u32; 2]) -> Result<Self, SceneError> {
        let source = crate::untrusted::read_text(path, isf::header::MAX_FILE_BYTES as u64)
            .map_err(|source| SceneError::Io {
                path: path.to_path_buf(),
                source,
            })?;
        let header =
            isf::header::parse(&source, path).map_err(|d| SceneError::Invalid(Diagnostics(d)))?;
        if !header.is_transition() {
            return Err(SceneError::Invalid(Diagnostics(vec![Diagnostic::file(
                path,
                "is not an ISF transition: it needs the image inputs `startImage` and `endImage` and the float input `progress`",
            )])));
        }
        let toml = isf::pass::transition_scene_toml(path, size);
        validate::parse_with_slots(&toml, path, &TRANSITION_SLOTS).map_err(SceneError::Invalid)
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

    /// True when pass `index` owns two textures (ping and pong): some pass reads its
    /// previous frame (itself, or an earlier pass of an ISF file reading a later target).
    #[must_use]
    pub fn is_double_buffered(&self, index: usize) -> bool {
        self.passes.iter().any(|p| {
            p.inputs
                .iter()
                .any(|i| i.previous_frame && i.source == TextureSource::Pass(index))
        })
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

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    const SCENE: &str = r#"[scene]
name = "unit"
size = [64, 36]

[params.speed]
default = 1.0
range = [0.0, 4.0]
smooth = 0.5

[[pass]]
name = "trail"
shader = "trail.wgsl"
inputs = ["trail"]

[[pass]]
name = "out"
shader = "out.wgsl"
inputs = ["trail"]
scale = 0.5
"#;

    fn dir_with_shaders() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for f in ["trail.wgsl", "out.wgsl"] {
            std::fs::write(dir.path().join(f), "// shader\n").unwrap();
        }
        dir
    }

    #[test]
    fn a_scene_reads_into_typed_passes_params_and_defaults() {
        let dir = dir_with_shaders();
        let path = dir.path().join("unit.toml");
        std::fs::write(&path, SCENE).unwrap();
        let scene = Scene::read(&path).unwrap();
        assert_eq!(scene.path, path);
        assert_eq!((scene.name.as_str(), scene.size), ("unit", [64, 36]));
        assert_eq!(scene.params.len(), 1);
        let speed = scene.param("speed").unwrap();
        assert_eq!((speed.default, speed.min, speed.max), (1.0, 0.0, 4.0));
        assert_eq!(speed.label, "speed", "the label defaults to the name");
        assert!(scene.param("nothing").is_none());
        // Passes in file order, references resolved, the last one is the output.
        let [trail, out] = scene.passes.as_slice() else {
            panic!("two passes: {:?}", scene.passes)
        };
        assert!(trail.is_feedback() && !out.is_feedback());
        assert_eq!(out.inputs[0].source, TextureSource::Pass(0));
        assert_eq!(trail.shader, dir.path().join("trail.wgsl"));
        assert_eq!(scene.output_pass(), 1);
        assert_eq!(out.output_size(scene.size), [32, 18]);
        // What the file leaves out takes its default.
        assert_eq!(scene.runtime, RuntimeDef::default());
        assert_eq!(scene.osc, osc::OscConfig::default());
        assert!(scene.audio.is_none());
        assert_eq!(scene.audio_bands(), 8);
        assert!(!scene.inherit_feedback);
    }

    #[test]
    fn reading_and_parsing_agree_and_problems_are_all_located() {
        let dir = dir_with_shaders();
        let path = dir.path().join("bad.toml");
        let text = SCENE
            .replace("default = 1.0", "default = 9.0")
            .replace("\"out.wgsl\"", "\"gone.wgsl\"");
        std::fs::write(&path, &text).unwrap();
        let read = Scene::read(&path).unwrap_err();
        let parsed = Scene::parse(&text, &path).unwrap_err();
        assert_eq!(read.diagnostics(), parsed.diagnostics());
        let lines: Vec<Option<u32>> = read.diagnostics().iter().map(|d| d.line).collect();
        assert_eq!(lines, [Some(6), Some(17)], "{read}");
        // A file that cannot be read has no located problems, only its path.
        let missing = Scene::read(&dir.path().join("none.toml")).unwrap_err();
        assert!(missing.diagnostics().is_empty());
        assert!(missing.to_string().contains("none.toml"), "{missing}");
    }

    #[test]
    fn providers_are_checked_against_the_known_names() {
        let dir = dir_with_shaders();
        let path = dir.path().join("p.toml");
        let text = format!("{SCENE}\n[runtime]\nproviders = [\"CUDA\", \"cpu\"]\nthreads = 0\n");
        let scene = Scene::parse(&text, &path).unwrap();
        assert_eq!(scene.runtime.providers, ["cuda", "cpu"]);
        assert_eq!(scene.runtime.threads, 1, "at least one thread");
        let bad = format!("{SCENE}\n[runtime]\nproviders = [\"quantum\"]\n");
        let e = Scene::parse(&bad, &path).unwrap_err().to_string();
        assert!(e.contains("unknown execution provider `quantum`"), "{e}");
        assert!(e.contains(&PROVIDER_NAMES.join(", ")), "{e}");
    }

    #[test]
    fn a_names_file_names_the_whole_values_and_a_missing_one_is_located() {
        let dir = dir_with_shaders();
        std::fs::write(
            dir.path().join("classes.txt"),
            "tench\ngoldfish\ngreat white shark\n",
        )
        .unwrap();
        let path = dir.path().join("n.toml");
        let text = SCENE.replace("smooth = 0.5\n", "smooth = 0.5\nnames = \"classes.txt\"\n");
        let scene = Scene::parse(&text, &path).unwrap();
        let speed = scene.param("speed").unwrap();
        assert_eq!(speed.name_of(0.0), Some("tench"));
        assert_eq!(speed.name_of(1.4), Some("goldfish"));
        assert_eq!(speed.name_of(1.6), Some("great white shark"));
        assert_eq!(speed.name_of(3.0), None, "no line names 3");
        assert_eq!(speed.name_of(-0.6), None);
        let missing = SCENE.replace("smooth = 0.5\n", "smooth = 0.5\nnames = \"nowhere.txt\"\n");
        let e = Scene::parse(&missing, &path).unwrap_err().to_string();
        assert!(
            e.contains("n.toml:9:9:"),
            "located at the `names` line: {e}"
        );
        assert!(e.contains("names file") && e.contains("nowhere.txt"), "{e}");
    }
}
