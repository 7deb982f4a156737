//! The per-frame sequence, shared by the window, headless renders, benchmarks and tests:
//! advance params -> record the pass chain -> (caller presents or reads back).

use std::path::Path;

use crate::audio::{AudioConfig, AudioEngine, AudioError, AudioFeatures, FeaturesReader};
use crate::clock::{Clock, FrameTime};
use crate::diag::{Diagnostic, Diagnostics};
use crate::infer::{Ep, InferError, InitOptions, IoInfo, SessionOptions};
use crate::model::node::{AudioSource, ModelNode, Silence};
use crate::model::plan::{AudioLengths, Dim, TensorSpec, plan};
use crate::osc::{OscEvent, OscHandle, ParamRoute, RouteTable, SceneRequest, StatusInfo};
use crate::params::{ParamError, ParamStore};
use crate::render::blit::{Blitter, Fit};
use crate::render::chain::{ChainError, FrameInputs, PassChain};
use crate::render::context::Gpu;
use crate::render::readback::{ReadImage, Readback};
use crate::render::shader::{PassShader, load_pass_shader};
use crate::scene::{Scene, SceneError};
use std::time::Instant;

/// Errors from loading a scene onto the GPU.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The scene file.
    #[error(transparent)]
    Scene(#[from] SceneError),
    /// A shader.
    #[error("{0}")]
    Shader(Diagnostics),
    /// The GPU side.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// A `--set`.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// A model binding or model file, located in the scene file.
    #[error("{0}")]
    Model(Diagnostics),
    /// ONNX Runtime itself (not found, not loadable).
    #[error(transparent)]
    Infer(#[from] InferError),
    /// Offline audio (the WAV file of a render).
    #[error(transparent)]
    Audio(#[from] AudioError),
    /// Loading itself failed (a loader thread that stopped).
    #[error("{0}")]
    Internal(String),
    /// A playlist file.
    #[error("{0}")]
    Playlist(Diagnostics),
}

impl LoadError {
    /// The located problems, for on-screen and CLI display.
    #[must_use]
    pub fn diagnostics(&self) -> Vec<crate::diag::Diagnostic> {
        match self {
            Self::Scene(e) => e.diagnostics().to_vec(),
            Self::Shader(d) | Self::Model(d) | Self::Playlist(d) => d.0.clone(),
            Self::Chain(_)
            | Self::Param(_)
            | Self::Infer(_)
            | Self::Audio(_)
            | Self::Internal(_) => Vec::new(),
        }
    }
}

/// Loads and validates every pass shader of `scene`, collecting all errors.
///
/// # Errors
/// Every shader problem of every pass.
pub fn load_shaders(scene: &Scene) -> Result<Vec<PassShader>, Diagnostics> {
    let mut shaders = Vec::new();
    let mut errors = Vec::new();
    for pass in &scene.passes {
        match load_pass_shader(scene, pass) {
            Ok(s) => shaders.push(s),
            Err(d) => errors.extend(d.0),
        }
    }
    if errors.is_empty() {
        Ok(shaders)
    } else {
        Err(Diagnostics(errors))
    }
}

/// Checks a scene without a GPU: the file, its references and every shader.
///
/// # Errors
/// Everything found, located.
pub fn check(path: &Path) -> Result<(Scene, Vec<PassShader>), LoadError> {
    let scene = Scene::load(path)?;
    let shaders = load_shaders(&scene).map_err(LoadError::Shader)?;
    Ok((scene, shaders))
}

/// How a scene is loaded: overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct RuntimeOptions {
    /// Internal size (default: the scene's).
    pub size: Option<[u32; 2]>,
    /// `name=value` assignments applied at start.
    pub sets: Vec<String>,
    /// ONNX Runtime library (default: searched).
    pub ort_lib: Option<std::path::PathBuf>,
    /// Execution provider for every model (default: the scene's `[runtime] providers`).
    pub provider: Option<Ep>,
    /// Intra-op threads per model (default: the scene's `[runtime] threads`).
    pub threads: Option<usize>,
    /// Run models in lock-step with frames (offline renders: deterministic).
    pub sync_models: bool,
    /// Whether to listen for OSC. Default: off (tests, benchmarks); `hypna run` turns it on.
    pub osc: OscMode,
    /// Whether and how the runtime analyses audio. Default: off (tests, benchmarks).
    pub audio: AudioMode,
}

/// Whether and where audio comes from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum AudioMode {
    /// No audio: every audio global is 0 and models see silence.
    #[default]
    Off,
    /// Live analysis (`hypna run`), configured by the scene's `[audio]` table with the command
    /// line's `device` / `file` on top. Without either, and without an `[audio]` table,
    /// nothing is captured.
    Live {
        /// Input device selector (`default`, a name substring or an index); replaces the
        /// scene's device and file.
        device: Option<String>,
        /// A WAV file played in real time instead of a device.
        file: Option<std::path::PathBuf>,
    },
    /// Exact analysis of a WAV file for an offline render: frame N sees the audio up to
    /// `N / fps` seconds. Uses `file`, else the scene's `[audio] file`; without either,
    /// no audio.
    Offline {
        /// The WAV file (overrides the scene's).
        file: Option<std::path::PathBuf>,
        /// The render's frame rate.
        fps: f64,
    },
}

/// Where a runtime's audio features come from.
enum AudioInput {
    Live {
        engine: AudioEngine,
        reader: FeaturesReader,
    },
    Offline {
        audio: Box<crate::audio::OfflineAudio>,
        fps: f64,
    },
}

/// Audio state of a runtime: the input and this frame's features.
struct Audio {
    input: AudioInput,
    current: Box<AudioFeatures>,
}

impl Audio {
    /// Starts audio as `mode` asks. Live failures are logged (the show goes on silent);
    /// offline failures are errors.
    fn start(scene: &Scene, mode: &AudioMode) -> Result<Option<Self>, AudioError> {
        let bands = scene.audio_bands();
        match mode {
            AudioMode::Off => Ok(None),
            AudioMode::Live { device, file } => {
                if scene.audio.is_none() && device.is_none() && file.is_none() {
                    return Ok(None);
                }
                let mut config: AudioConfig = scene.audio.clone().unwrap_or_default();
                if let Some(d) = device {
                    config.device = crate::audio::DeviceSelector::parse(d);
                    config.file = None;
                }
                if let Some(f) = file {
                    config.file = Some(f.clone());
                }
                match AudioEngine::start(&config) {
                    Ok(engine) => {
                        let reader = engine.reader();
                        Ok(Some(Self {
                            input: AudioInput::Live { engine, reader },
                            current: Box::new(AudioFeatures::silent(0, bands)),
                        }))
                    }
                    Err(e) => {
                        tracing::error!("audio: {e}; running without audio");
                        Ok(None)
                    }
                }
            }
            AudioMode::Offline { file, fps } => {
                let config: AudioConfig = scene.audio.clone().unwrap_or_default();
                let Some(path) = file.clone().or_else(|| config.file.clone()) else {
                    return Ok(None);
                };
                let audio = crate::audio::OfflineAudio::open(&path, &config)?;
                Ok(Some(Self {
                    input: AudioInput::Offline {
                        audio: Box::new(audio),
                        fps: *fps,
                    },
                    current: Box::new(AudioFeatures::silent(0, bands)),
                }))
            }
        }
    }

    /// Fetches the features for frame `t`.
    fn update(&mut self, t: FrameTime) {
        match &mut self.input {
            AudioInput::Live { reader, .. } => (*self.current).clone_from(reader.latest()),
            AudioInput::Offline { audio, fps } => {
                (*self.current).clone_from(audio.features_at_frame(t.frame, *fps));
            }
        }
    }
}

/// Whether and where the runtime listens for OSC.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum OscMode {
    /// No OSC server.
    #[default]
    Off,
    /// Listen, configured by (later wins) the scene's `[osc]` table, then `settings` (the
    /// settings file's `[osc]` table), then `listen` (the command line).
    On {
        /// Address to listen on instead of the configured one.
        listen: Option<std::net::SocketAddr>,
        /// A whole `[osc]` table replacing the scene's (from a settings file).
        settings: Option<Box<crate::osc::OscConfig>>,
    },
}

/// Live OSC state of a runtime.
struct Osc {
    handle: OscHandle,
    /// Reused every frame (no allocation when nothing arrives).
    events: Vec<OscEvent>,
    warned_tap: bool,
}

/// Longest an offline render waits for one model run before going on without it.
const SYNC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// Checks the model bindings of `scene` against the models' metadata, when ONNX Runtime can
/// be found. Returns a note saying what was or was not checked.
///
/// # Errors
/// [`LoadError::Model`] with every binding problem, located in the scene file.
pub fn check_models(
    scene: &Scene,
    ort_lib: Option<std::path::PathBuf>,
) -> Result<Option<String>, LoadError> {
    if scene.models.is_empty() {
        return Ok(None);
    }
    if let Err(e) = crate::infer::init(&InitOptions {
        ort_lib: ort_lib.clone(),
    }) {
        return Ok(Some(format!(
            "model bindings not checked: {}",
            e.to_string().replace('\n', "\n  ")
        )));
    }
    let options = RuntimeOptions {
        ort_lib,
        ..RuntimeOptions::default()
    };
    let models = load_models(scene, &options, scene.size, None)?;
    Ok(Some(format!(
        "model bindings checked: {} model{} against each one's inputs and outputs",
        models.len(),
        if models.len() == 1 { "" } else { "s" }
    )))
}

/// The CPU side of loading a scene: the parsed scene, its validated shaders and its models
/// (loaded ONNX sessions). Built by [`prepare`], which may run on any thread (hot reload
/// prepares off the frame thread); [`Runtime::apply`] puts it on the GPU.
pub struct Prepared {
    /// The scene.
    pub scene: Scene,
    shaders: Vec<PassShader>,
    models: Vec<PreparedModel>,
}

enum PreparedModel {
    /// Freshly loaded, with its resolved bindings.
    Fresh(Box<(crate::model::plan::Plan, crate::infer::Model, FileStamp)>),
    /// Unchanged since the running instance loaded it: reuse that node (its index there).
    Reuse(usize),
}

/// What a model file looked like when it was loaded (a change means: load it again).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStamp {
    modified: Option<std::time::SystemTime>,
    len: u64,
}

impl FileStamp {
    /// The stamp of the file at `path` now (`None` fields when it cannot be read).
    #[must_use]
    pub fn of(path: &Path) -> Self {
        let meta = std::fs::metadata(path).ok();
        Self {
            modified: meta.as_ref().and_then(|m| m.modified().ok()),
            len: meta.map_or(0, |m| m.len()),
        }
    }
}

/// The running instance's models, so a reload can reuse those that did not change.
#[derive(Debug, Clone, Default)]
pub struct Reusable {
    models: Vec<(crate::scene::ModelDef, FileStamp)>,
}

/// Loads `scene`'s shaders and models (reusing unchanged models of `reuse`), off the GPU.
///
/// # Errors
/// Every shader problem, or model and binding problems.
pub fn prepare(
    scene: Scene,
    options: &RuntimeOptions,
    reuse: Option<&Reusable>,
) -> Result<Prepared, LoadError> {
    let shaders = load_shaders(&scene).map_err(LoadError::Shader)?;
    let size = options.size.unwrap_or(scene.size);
    let models = load_models(&scene, options, size, reuse)?;
    Ok(Prepared {
        scene,
        shaders,
        models,
    })
}

/// Reads the scene at `path` and [`prepare`]s it.
///
/// # Errors
/// Scene file problems, then as [`prepare`].
pub fn prepare_path(
    path: &Path,
    options: &RuntimeOptions,
    reuse: Option<&Reusable>,
) -> Result<Prepared, LoadError> {
    prepare(Scene::load(path)?, options, reuse)
}

/// One scene on the GPU: its chain, model nodes and live params.
struct Instance {
    scene: Scene,
    shaders: Vec<PassShader>,
    params: ParamStore,
    chain: PassChain,
    nodes: Vec<ModelNode>,
    stamps: Vec<FileStamp>,
    model_sizes: Vec<((usize, usize), [u32; 2])>,
}

/// A loaded scene on the GPU with its live params and model nodes, plus the services that
/// outlive scene changes (OSC, audio).
pub struct Runtime {
    /// The scene.
    pub scene: Scene,
    /// Live params.
    pub params: ParamStore,
    chain: PassChain,
    nodes: Vec<ModelNode>,
    shaders: Vec<PassShader>,
    stamps: Vec<FileStamp>,
    model_sizes: Vec<((usize, usize), [u32; 2])>,
    options: RuntimeOptions,
    blitter: Blitter,
    sync_models: bool,
    last_time: FrameTime,
    params_scratch: Vec<f32>,
    osc: Option<Osc>,
    /// The effective OSC configuration the server was started with.
    osc_config: Option<crate::osc::OscConfig>,
    /// Frames per second, smoothed (for `/hypna/status`).
    fps: f32,
    /// Per model: (runs at the last rate sample, when, inferences per second).
    model_rates: Vec<(u64, Option<f64>, f32)>,
    /// The newest scene switch request (from OSC), for whoever manages scenes.
    pub scene_request: Option<SceneRequest>,
    audio: Option<Audio>,
    /// Band count models see (the scene's `[audio] bands`, else 8).
    bands: usize,
    /// Param changes from a UI, applied with the next frame's OSC events.
    ui_changes: Vec<(String, f32)>,
    /// Per-pass GPU timing asked for (kept across reloads and resizes).
    timing: bool,
    mixer: crate::render::mix::Mixer,
    /// The running transition, if any.
    fade: Option<Fade>,
    /// Output level 0..1 (the schedule's fade to black).
    level: f32,
    /// This frame's output is the mixer's (a transition or a level below 1).
    mixed: bool,
    /// Show time when the running scene was switched to: its `globals.time` starts there.
    time_origin: f64,
    /// Where live param changes are recorded, if anywhere.
    recorder: Option<crate::record::ParamRecorder>,
    /// The last frame's show time (what playlists count in).
    show_time: FrameTime,
}

/// A crossfade from a snapshot of the previous output into the live scene.
struct Fade {
    /// Keeps the snapshot alive while its view is sampled.
    _from: wgpu::Texture,
    from_view: wgpu::TextureView,
    /// Scene time the fade started at (set by the first frame after the switch).
    start_secs: Option<f64>,
    secs: f32,
}

/// A scene built on the GPU, ready to be switched to (see [`build`]). Building compiles the
/// pipelines and starts the model workers, so it can run on a loader thread while the
/// current scene keeps playing.
pub struct Built(Instance);

impl Built {
    /// The scene.
    #[must_use]
    pub fn scene(&self) -> &Scene {
        &self.0.scene
    }
}

/// Builds `prepared` on the GPU at the size `options` ask for (default: the scene's).
///
/// # Errors
/// Pipeline or model worker problems.
pub fn build(gpu: &Gpu, prepared: Prepared, options: &RuntimeOptions) -> Result<Built, LoadError> {
    let size = options.size.unwrap_or(prepared.scene.size);
    Instance::build(gpu, prepared, size, None, None).map(Built)
}

/// Longest a pre-warm waits for one model's first run.
pub const WARM_UP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// [`build`], then pre-warms: every model runs once (its output lands in its texture) and
/// one frame is rendered and waited for, so the switch to it costs no more than a frame.
///
/// # Errors
/// As [`build`].
pub fn build_warm(
    gpu: &Gpu,
    prepared: Prepared,
    options: &RuntimeOptions,
) -> Result<Built, LoadError> {
    let mut built = build(gpu, prepared, options)?;
    let instance = &mut built.0;
    let bands = instance.scene.audio_bands();
    for node in &mut instance.nodes {
        if !node.warm_up(&instance.params, bands, WARM_UP_TIMEOUT) {
            tracing::warn!(
                "model `{}` did not finish its warm-up run within {WARM_UP_TIMEOUT:?}",
                node.name()
            );
        }
        node.take_result(gpu, &instance.chain, &mut instance.params);
    }
    // Every pass drawn once over one pixel: first use of every pipeline and binding happens
    // here, not on the frame thread, and costs the shared GPU queue almost nothing.
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("runtime.warm"),
        });
    let values: Vec<f32> = instance.params.iter().map(|(_, v)| v).collect();
    instance.chain.encode_warm(
        &gpu.queue,
        &mut encoder,
        &FrameInputs {
            params: &values,
            ..FrameInputs::default()
        },
    );
    gpu.queue.submit([encoder.finish()]);
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    Ok(built)
}

impl Runtime {
    /// Loads `scene` with `options`.
    ///
    /// # Errors
    /// Shader, pipeline, model or `--set` problems.
    pub fn new(gpu: &Gpu, scene: Scene, options: &RuntimeOptions) -> Result<Self, LoadError> {
        let prepared = prepare(scene, options, None)?;
        Self::from_prepared(gpu, prepared, options)
    }

    /// Puts a [`Prepared`] scene on the GPU and starts the services.
    ///
    /// # Errors
    /// Pipeline, model worker or `--set` problems.
    pub fn from_prepared(
        gpu: &Gpu,
        prepared: Prepared,
        options: &RuntimeOptions,
    ) -> Result<Self, LoadError> {
        let size = options.size.unwrap_or(prepared.scene.size);
        let instance = Instance::build(gpu, prepared, size, None, None)?;
        let Instance {
            scene,
            shaders,
            mut params,
            chain,
            nodes,
            stamps,
            model_sizes,
        } = instance;
        for s in &options.sets {
            params.assign(s)?;
        }
        let osc_config = match &options.osc {
            OscMode::Off => None,
            OscMode::On { .. } => Some(effective_osc(&scene, &options.osc)),
        };
        let osc = osc_config.as_ref().and_then(|c| start_osc(c, &scene));
        let model_rates = vec![(0, None, 0.0); nodes.len()];
        let audio = Audio::start(&scene, &options.audio)?;
        let bands = scene.audio_bands();
        Ok(Self {
            scene,
            params,
            chain,
            nodes,
            shaders,
            stamps,
            model_sizes,
            options: options.clone(),
            blitter: Blitter::new(&gpu.device),
            sync_models: options.sync_models,
            last_time: FrameTime::default(),
            params_scratch: Vec::new(),
            osc,
            osc_config,
            fps: 0.0,
            model_rates,
            scene_request: None,
            audio,
            bands,
            ui_changes: Vec::new(),
            timing: false,
            mixer: crate::render::mix::Mixer::new(&gpu.device),
            fade: None,
            level: 1.0,
            mixed: false,
            time_origin: 0.0,
            show_time: FrameTime::default(),
            recorder: None,
        })
    }

    /// What a reload may reuse from this runtime (its models and their file stamps).
    #[must_use]
    pub fn reusable(&self) -> Reusable {
        Reusable {
            models: self
                .scene
                .models
                .iter()
                .cloned()
                .zip(self.stamps.iter().copied())
                .collect(),
        }
    }

    /// The options the runtime was loaded with (a reload prepares with the same).
    #[must_use]
    pub fn options(&self) -> &RuntimeOptions {
        &self.options
    }

    /// Replaces the running scene with `prepared` (a hot reload): feedback buffers and model
    /// outputs carry over into passes and models of the same name (resampled when sizes
    /// change), params keep the values of those that still exist, unchanged models keep
    /// running, OSC routes follow the new params. On error the running scene is untouched.
    ///
    /// # Errors
    /// Pipeline or model worker problems.
    pub fn apply(&mut self, gpu: &Gpu, prepared: Prepared) -> Result<(), LoadError> {
        let size = self.options.size.unwrap_or(prepared.scene.size);
        let mut old_nodes: Vec<Option<ModelNode>> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(Some)
            .collect();
        let built = Instance::build(
            gpu,
            prepared,
            size,
            Some((&self.chain, &self.scene, &mut self.blitter)),
            Some(&mut old_nodes),
        );
        let instance = match built {
            Ok(i) => i,
            Err(e) => {
                self.nodes = old_nodes.into_iter().flatten().collect();
                return Err(e);
            }
        };
        // Nodes not reused stop here (their workers shut down).
        drop(old_nodes);
        let params = self.params.carried_over(&instance.scene.params);
        // An edited `[osc]` table takes effect (a playlist switch keeps the server as is).
        self.install(gpu, instance, params, true);
        crate::install::memory::release_soon();
        Ok(())
    }

    /// Makes `instance` the running scene with `params`: GPU timing kept, OSC routes following
    /// the new params (and, with `follow_osc`, a changed `[osc]` table restarting the server),
    /// live audio restarted when `[audio]` changed.
    fn install(&mut self, gpu: &Gpu, instance: Instance, params: ParamStore, follow_osc: bool) {
        let audio_changed = instance.scene.audio != self.scene.audio;
        self.take_instance(gpu, instance);
        self.params = params;
        self.bands = self.scene.audio_bands();
        if let Some(old) = &self.osc_config {
            let config = effective_osc(&self.scene, &self.options.osc);
            if config == *old || !follow_osc {
                if let (Some(osc), Ok(routes)) = (self.osc.as_mut(), routes_for(&self.scene)) {
                    osc.handle.set_routes(routes);
                }
            } else {
                tracing::info!("[osc] changed: restarting the OSC server");
                self.osc = None;
                self.osc = start_osc(&config, &self.scene);
                self.osc_config = Some(config);
            }
        }
        if audio_changed && matches!(self.options.audio, AudioMode::Live { .. }) {
            tracing::info!("[audio] changed: restarting audio input");
            self.audio = None;
            self.audio = Audio::start(&self.scene, &self.options.audio).unwrap_or(None);
        }
    }

    /// Takes `instance`'s scene, shaders, pass chain (GPU timing re-armed when on) and model
    /// nodes; its params are left to the caller.
    fn take_instance(&mut self, gpu: &Gpu, instance: Instance) {
        self.scene = instance.scene;
        self.shaders = instance.shaders;
        self.chain = instance.chain;
        if self.timing {
            self.chain.enable_timing(gpu);
        }
        self.nodes = instance.nodes;
        self.stamps = instance.stamps;
        self.model_sizes = instance.model_sizes;
        self.model_rates = vec![(0, None, 0.0); self.nodes.len()];
    }

    /// Renders at a new internal size from now on. Feedback buffers and model outputs are
    /// resampled into the new size, not cleared.
    ///
    /// # Errors
    /// When the GPU rejects a pipeline at the new size (the old size stays).
    pub fn resize(&mut self, gpu: &Gpu, size: [u32; 2]) -> Result<(), LoadError> {
        let size = [size[0].max(1), size[1].max(1)];
        if size == self.chain.scene_size() {
            return Ok(());
        }
        let mut chain = PassChain::new(gpu, &self.scene, &self.shaders, size, &self.model_sizes)?;
        adopt(
            gpu,
            &mut chain,
            &self.chain,
            &self.scene,
            &self.scene,
            &mut self.blitter,
        );
        self.chain = chain;
        if self.timing {
            self.chain.enable_timing(gpu);
        }
        self.options.size = Some(size);
        Ok(())
    }

    /// Rebuilds every GPU resource on `gpu` (a new device after the old one was lost) from
    /// the running scene as loaded (not re-read from disk): pipelines, targets, model nodes
    /// (models reloaded from their files). Params, OSC and audio carry on; feedback starts
    /// from black (its contents died with the device).
    ///
    /// # Errors
    /// When the new device rejects the scene or a model file cannot be loaded any more (the
    /// caller retries later).
    pub fn recover(&mut self, gpu: &Gpu) -> Result<(), LoadError> {
        let size = self.chain.scene_size();
        let models = load_models(&self.scene, &self.options, size, None)?;
        let prepared = Prepared {
            scene: self.scene.clone(),
            shaders: self.shaders.clone(),
            models,
        };
        let instance = Instance::build(gpu, prepared, size, None, None)?;
        // Params carry on: the instance's fresh ones are dropped.
        self.take_instance(gpu, instance);
        self.blitter = Blitter::new(&gpu.device);
        self.mixer = crate::render::mix::Mixer::new(&gpu.device);
        self.fade = None;
        self.mixed = false;
        tracing::info!("rebuilt `{}` on {}", self.scene.name, gpu.describe());
        crate::install::memory::release_soon();
        Ok(())
    }

    /// Measures per-pass GPU time (for the HUD) when the device has timestamp queries;
    /// returns whether it does.
    pub fn enable_timing(&mut self, gpu: &Gpu) -> bool {
        self.timing = true;
        self.chain.enable_timing(gpu)
    }

    /// Stops measuring per-pass GPU time (nothing is queried or read back).
    pub fn disable_timing(&mut self) {
        self.timing = false;
        self.chain.disable_timing();
    }

    /// Whether per-pass GPU time is being measured.
    #[must_use]
    pub fn timing(&self) -> bool {
        self.timing
    }

    /// A health snapshot for the once-a-minute log line.
    #[must_use]
    pub fn health(&self, uptime_secs: f64, open: bool) -> crate::install::health::HealthLine {
        use crate::install::health::{AudioHealth, HealthLine, ModelHealth, OscHealth};
        let rates = self.model_rates();
        HealthLine {
            uptime_secs,
            fps: self.fps,
            frame: self.last_time.frame,
            scene: self.scene.name.clone(),
            models: self
                .nodes
                .iter()
                .enumerate()
                .map(|(i, n)| ModelHealth {
                    name: n.name().to_string(),
                    rate_hz: rates.get(i).copied().unwrap_or(0.0),
                    errors: n.worker_stats().error_total(),
                })
                .collect(),
            audio: AudioHealth {
                state: self
                    .audio_state()
                    .split_whitespace()
                    .next()
                    .unwrap_or("off")
                    .to_string(),
                level_db: self.audio_features().map(|f| f.level_db),
            },
            osc: self.osc_status().map(|(_, c)| {
                use crate::osc::Counter;
                OscHealth {
                    received: c.get(Counter::Received),
                    dropped: c.problems(),
                }
            }),
            rss_bytes: crate::install::health::resident_memory_bytes(),
            open,
        }
    }

    /// The show time of the last frame encoded (playlists count in it; the scene's own
    /// time restarts at each switch).
    #[must_use]
    pub fn show_time(&self) -> FrameTime {
        self.show_time
    }

    /// Frames per second, smoothed.
    #[must_use]
    pub fn fps(&self) -> f32 {
        self.fps
    }

    /// Inferences per second of each model, sampled about once a second.
    #[must_use]
    pub fn model_rates(&self) -> Vec<f32> {
        self.model_rates.iter().map(|r| r.2).collect()
    }

    /// The newest audio features, when audio runs.
    #[must_use]
    pub fn audio_features(&self) -> Option<&AudioFeatures> {
        self.audio.as_ref().map(|a| &*a.current)
    }

    /// A one-line state of the audio input (device, reconnecting, file, off).
    #[must_use]
    pub fn audio_state(&self) -> String {
        match &self.audio {
            None => "off".to_string(),
            Some(Audio {
                input: AudioInput::Offline { .. },
                ..
            }) => "file (offline)".to_string(),
            Some(Audio {
                input: AudioInput::Live { engine, .. },
                ..
            }) => match engine.status() {
                crate::audio::CaptureStatus::Starting => "starting".to_string(),
                crate::audio::CaptureStatus::Connected { name, .. } => format!("ok {name}"),
                crate::audio::CaptureStatus::Reconnecting {
                    attempts, reason, ..
                } => {
                    format!("reconnecting (attempt {attempts}: {reason})")
                }
                crate::audio::CaptureStatus::File { path, .. } => {
                    format!("file {}", path.display())
                }
                crate::audio::CaptureStatus::Stopped => "stopped".to_string(),
            },
        }
    }

    /// Records every live param change (OSC, UI) from now on into `recorder`.
    pub fn set_recorder(&mut self, recorder: Option<crate::record::ParamRecorder>) {
        self.recorder = recorder;
    }

    /// Sets a param from a UI: applied with the next frame's OSC events (smoothed, clamped,
    /// echoed to feedback targets like an OSC change).
    pub fn set_from_ui(&mut self, name: &str, value: f32) {
        self.ui_changes.push((name.to_string(), value));
    }

    /// Every file the running scene was built from: the scene, its shaders and includes,
    /// its model files.
    #[must_use]
    pub fn watched_files(&self) -> Vec<std::path::PathBuf> {
        let mut files = vec![self.scene.path.clone()];
        for s in &self.shaders {
            files.extend(s.files.iter().cloned());
        }
        files.extend(self.scene.models.iter().map(|m| m.file.clone()));
        files.sort();
        files.dedup();
        files
    }

    /// Loads the scene file at `path`; see [`Self::new`].
    ///
    /// # Errors
    /// As [`Self::new`], plus scene file problems.
    pub fn load(gpu: &Gpu, path: &Path, options: &RuntimeOptions) -> Result<Self, LoadError> {
        let scene = Scene::load(path)?;
        Self::new(gpu, scene, options)
    }

    /// Applies finished model results, advances params by the frame's `dt` and records the
    /// chain (and model input copies) into `encoder`.
    pub fn encode_frame(&mut self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, t: FrameTime) {
        // Playlist time goes on; each scene counts its own time from its switch.
        self.show_time = t;
        let t = FrameTime {
            time_secs: t.time_secs - self.time_origin,
            ..t
        };
        for node in &mut self.nodes {
            node.take_result(gpu, &self.chain, &mut self.params);
        }
        if t.dt_secs > 0.0 {
            let instant = 1.0 / t.dt_secs;
            self.fps = if self.fps > 0.0 {
                self.fps + 0.1 * (instant - self.fps)
            } else {
                instant
            };
        }
        self.update_model_rates();
        self.apply_osc(t);
        if let Some(audio) = &mut self.audio {
            audio.update(t);
        }
        self.modulate_params();
        self.params.advance(t.dt_secs);
        self.params_scratch.clear();
        self.params_scratch
            .extend(self.params.iter().map(|(_, v)| v));
        let inputs = FrameInputs {
            time_secs: t.time_secs,
            dt_secs: t.dt_secs,
            frame: t.frame,
            params: &self.params_scratch,
            audio: self.audio.as_ref().map(|a| &*a.current),
        };
        if self.level <= 0.0 && self.fade.is_none() {
            // Dark (closed hours): nothing to render; the mix pass outputs black.
            self.mix(gpu, encoder, self.show_time);
            self.last_time = t;
            return;
        }
        self.chain.encode(&gpu.queue, encoder, &inputs);
        for node in &mut self.nodes {
            node.record_inputs(gpu, encoder, &self.chain, &mut self.blitter, t.frame);
        }
        self.mix(gpu, encoder, self.show_time);
        self.last_time = t;
    }

    /// Records the crossfade / level pass when one is needed this frame.
    fn mix(&mut self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, t: FrameTime) {
        self.mixed = false;
        let amount = match &mut self.fade {
            Some(fade) => {
                let start = *fade.start_secs.get_or_insert(t.time_secs);
                let amount = if fade.secs > 0.0 {
                    ((t.time_secs - start) / f64::from(fade.secs)) as f32
                } else {
                    1.0
                };
                if amount >= 1.0 {
                    self.fade = None;
                    1.0
                } else {
                    amount
                }
            }
            None => 1.0,
        };
        if self.fade.is_none() && self.level >= 1.0 {
            return;
        }
        let (Some(to), Some((size, _))) = (self.chain.output_view(), self.chain.output_info())
        else {
            return;
        };
        let from = self.fade.as_ref().map_or(to, |f| &f.from_view);
        self.mixer.draw(
            &gpu.device,
            &gpu.queue,
            encoder,
            from,
            to,
            size,
            amount,
            self.level,
        );
        self.mixed = true;
    }

    /// What to show: the mix output during a transition or a fade, else the chain's output.
    #[must_use]
    pub fn output_view(&self) -> Option<&wgpu::TextureView> {
        if self.mixed {
            self.mixer.output().map(|(_, v)| v)
        } else {
            self.chain.output_view()
        }
    }

    /// The texture behind [`Self::output_view`].
    #[must_use]
    pub fn output_texture(&self) -> Option<&wgpu::Texture> {
        if self.mixed {
            self.mixer.output().map(|(t, _)| t)
        } else {
            self.chain.output()
        }
    }

    /// Size and format of [`Self::output_view`].
    #[must_use]
    pub fn output_info(&self) -> Option<([u32; 2], wgpu::TextureFormat)> {
        let (size, format) = self.chain.output_info()?;
        Some(if self.mixed {
            (size, crate::render::mix::MIX_FORMAT)
        } else {
            (size, format)
        })
    }

    /// Output level 0..1, applied from the next frame (the schedule fades through it).
    pub fn set_level(&mut self, level: f32) {
        self.level = if level.is_finite() {
            level.clamp(0.0, 1.0)
        } else {
            1.0
        };
    }

    /// The output level.
    #[must_use]
    pub fn level(&self) -> f32 {
        self.level
    }

    /// Whether a transition is running.
    #[must_use]
    pub fn in_transition(&self) -> bool {
        self.fade.is_some()
    }

    /// Draws the transition's own passes once (the snapshot copy and the crossfade) into a
    /// small target, so the first switch does not create or compile them on the frame.
    pub fn warm_transitions(&mut self, gpu: &Gpu) {
        let (Some(view), Some((size, format))) =
            (self.chain.output_view(), self.chain.output_info())
        else {
            return;
        };
        let tiny = [8, 8];
        let texture = crate::render::texture_2d(
            &gpu.device,
            "transition.warm",
            tiny,
            crate::render::mix::MIX_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("runtime.warm_transitions"),
            });
        self.blitter.copy(
            &gpu.device,
            &mut encoder,
            (view, size, format),
            (&target, tiny, crate::render::mix::MIX_FORMAT),
        );
        self.mixer.draw(
            &gpu.device,
            &gpu.queue,
            &mut encoder,
            &target,
            view,
            size,
            0.5,
            1.0,
        );
        gpu.queue.submit([encoder.finish()]);
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    }

    /// Switches to another scene: the current output is snapshotted and crossfaded into
    /// `next` over `fade_secs` of scene time (0 = cut). `next` starts with its own param
    /// defaults plus `sets`; its feedback passes start from the snapshot when its scene says
    /// `inherit_feedback`. OSC routes follow the new params.
    pub fn switch(&mut self, gpu: &Gpu, next: Built, fade_secs: f32, sets: &[(String, f32)]) {
        let Built(mut instance) = next;
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("runtime.switch"),
            });
        let info = self.output_info();
        let view = if self.mixed {
            self.mixer.output().map(|(_, v)| v)
        } else {
            self.chain.output_view()
        };
        let snapshot = match (view, info) {
            (Some(view), Some((size, format))) => {
                let texture = crate::render::texture_2d(
                    &gpu.device,
                    "transition.from",
                    size,
                    crate::render::mix::MIX_FORMAT,
                    wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
                );
                let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
                self.blitter.copy(
                    &gpu.device,
                    &mut encoder,
                    (view, size, format),
                    (&target, size, crate::render::mix::MIX_FORMAT),
                );
                Some((texture, target, size))
            }
            _ => None,
        };
        if instance.scene.inherit_feedback
            && let Some((_, from, size)) = &snapshot
        {
            for (i, pass) in instance.scene.passes.iter().enumerate() {
                if !pass.is_feedback() {
                    continue;
                }
                for (view, dst_size, format) in instance.chain.pass_views(i) {
                    self.blitter.copy(
                        &gpu.device,
                        &mut encoder,
                        (from, *size, crate::render::mix::MIX_FORMAT),
                        (view, dst_size, format),
                    );
                }
            }
        }
        gpu.queue.submit([encoder.finish()]);
        let mut params = std::mem::replace(&mut instance.params, ParamStore::new(&[]));
        for (name, value) in sets {
            if let Err(e) = params.set_now(name, *value) {
                tracing::warn!("playlist set {name}={value}: {e}");
            }
        }
        tracing::info!(
            "switching to {} ({})",
            instance.scene.name,
            if fade_secs > 0.0 {
                format!("{fade_secs} s crossfade")
            } else {
                "cut".to_string()
            }
        );
        self.install(gpu, instance, params, false);
        // The new scene's own time starts now.
        self.time_origin = self.show_time.time_secs;
        self.fade = match snapshot {
            Some((from, from_view, _)) if fade_secs > 0.0 => Some(Fade {
                _from: from,
                from_view,
                start_secs: None,
                secs: fade_secs,
            }),
            _ => None,
        };
        // The old scene was freed on this thread and its model workers' threads.
        crate::install::memory::release_soon();
    }

    /// Call right after the frame's `queue.submit`: feeds the models. Never waits in live
    /// mode; in lock-step mode waits for this frame's model runs.
    pub fn after_submit(&mut self, gpu: &Gpu) {
        self.chain.after_submit();
        if self.nodes.is_empty() {
            return;
        }
        let silence = Silence { bands: self.bands };
        let audio: &dyn AudioSource = match &self.audio {
            Some(a) => &*a.current,
            None => &silence,
        };
        if self.sync_models {
            for node in &mut self.nodes {
                if !node.sync_frame(gpu, self.last_time, &self.params, audio, SYNC_TIMEOUT) {
                    tracing::warn!(
                        "model `{}` did not answer within {SYNC_TIMEOUT:?}",
                        node.name()
                    );
                }
            }
        } else {
            let _ = gpu.device.poll(wgpu::PollType::Poll);
            for node in &mut self.nodes {
                node.after_submit(self.last_time, &self.params, audio);
            }
        }
    }

    /// The chain (output texture, sizes).
    #[must_use]
    pub fn chain(&self) -> &PassChain {
        &self.chain
    }

    /// Applies OSC events that arrived since the last frame (in order: the latest value of a
    /// param wins), answers queries, and echoes param changes to feedback targets.
    fn apply_osc(&mut self, t: FrameTime) {
        for (name, value) in self.ui_changes.drain(..) {
            match self.params.set(&name, value) {
                Ok(v) => {
                    if let Some(r) = &self.recorder {
                        r.record(self.show_time.time_secs, &name, v);
                    }
                }
                Err(e) => tracing::debug!("UI change dropped: {e}"),
            }
        }
        let Some(osc) = self.osc.as_mut() else { return };
        osc.events.clear();
        osc.events.extend(osc.handle.drain(Instant::now()));
        for i in 0..osc.events.len() {
            match &osc.events[i] {
                OscEvent::SetParam { name, value } => {
                    // The route table is built from this scene's params, so names exist;
                    // NaN and infinity were refused by the server.
                    if let (Ok(v), Some(r)) = (self.params.set(name, *value), &self.recorder) {
                        r.record(self.show_time.time_secs, name, v);
                    }
                }
                OscEvent::Query { reply_to } => {
                    let to = *reply_to;
                    let values: Vec<(String, f32)> = self
                        .params
                        .iter()
                        .map(|(n, v)| (n.to_string(), v))
                        .collect();
                    osc.handle
                        .reply_params(to, values.iter().map(|(n, v)| (n.as_str(), *v)));
                }
                OscEvent::Status { reply_to } => {
                    let to = *reply_to;
                    let status = StatusInfo {
                        scene: self.scene.name.clone(),
                        fps: self.fps,
                        frame: t.frame,
                        model_rates_hz: self
                            .nodes
                            .iter()
                            .zip(&self.model_rates)
                            .map(|(n, r)| (n.name().to_string(), r.2))
                            .collect(),
                        counters: self
                            .nodes
                            .iter()
                            .map(|n| {
                                (
                                    format!("model.{}.errors", n.name()),
                                    n.worker_stats().error_total(),
                                )
                            })
                            .collect(),
                    };
                    osc.handle.reply_status(to, &status);
                }
                OscEvent::Scene(request) => {
                    // The show (playlist) acts on it before the next frame.
                    tracing::info!("OSC scene request: {request:?}");
                    self.scene_request = Some(request.clone());
                }
                event @ (OscEvent::Tap | OscEvent::Resync) => {
                    if let Some(Audio {
                        input: AudioInput::Live { engine, .. },
                        ..
                    }) = &self.audio
                    {
                        if matches!(event, OscEvent::Tap) {
                            engine.tap();
                        } else {
                            engine.resync();
                        }
                    } else if !osc.warned_tap {
                        tracing::info!(
                            "OSC tap/resync received: it drives the beat tracker only with live audio input"
                        );
                        osc.warned_tap = true;
                    }
                }
            }
        }
        osc.handle.feedback(self.params.targets());
    }

    /// Params that follow an audio feature get `offset + gain * feature` on top of their
    /// smoothed value (the feature is 0 while audio is off).
    fn modulate_params(&mut self) {
        let mut values = Vec::new();
        for (i, def) in self.scene.params.iter().enumerate() {
            let Some(m) = def.modulation else { continue };
            let feature = match &self.audio {
                Some(a) => {
                    crate::model::node::AudioSource::feature(&*a.current, m.feature, &mut values);
                    values.get(m.index).copied().unwrap_or(0.0)
                }
                None => 0.0,
            };
            self.params.set_modulation(i, m.offset + m.gain * feature);
        }
    }

    /// Inferences per second of each model, sampled about once a second.
    fn update_model_rates(&mut self) {
        let now = self.last_time.time_secs;
        for (node, (runs, at, rate)) in self.nodes.iter().zip(&mut self.model_rates) {
            let current = node.worker_stats().runs;
            match at {
                Some(t0) if now - *t0 >= 1.0 => {
                    *rate = ((current - *runs) as f64 / (now - *t0)) as f32;
                    *runs = current;
                    *at = Some(now);
                }
                None => {
                    *runs = current;
                    *at = Some(now);
                }
                _ => {}
            }
        }
    }

    /// The OSC server's address and counters, when it runs.
    #[must_use]
    pub fn osc_status(&self) -> Option<(std::net::SocketAddr, crate::osc::CounterSnapshot)> {
        self.osc
            .as_ref()
            .map(|o| (o.handle.local_addr(), o.handle.counters()))
    }

    /// Stops (or resumes) handing new jobs to every model; their last outputs stay on screen.
    pub fn set_models_paused(&mut self, paused: bool) {
        for node in &mut self.nodes {
            node.paused = paused;
        }
    }

    /// The model nodes, in scene order.
    #[must_use]
    pub fn nodes(&self) -> &[ModelNode] {
        &self.nodes
    }
}

impl Instance {
    /// Builds `prepared` on the GPU at `size`. With `previous`, feedback buffers and model
    /// outputs of the same names are copied over; with `old_nodes`, reused models take their
    /// running node from there.
    fn build(
        gpu: &Gpu,
        prepared: Prepared,
        size: [u32; 2],
        previous: Option<(&PassChain, &Scene, &mut Blitter)>,
        old_nodes: Option<&mut Vec<Option<ModelNode>>>,
    ) -> Result<Self, LoadError> {
        let Prepared {
            scene,
            shaders,
            models,
        } = prepared;
        let mut model_sizes: Vec<((usize, usize), [u32; 2])> = Vec::new();
        for (m, model) in models.iter().enumerate() {
            let outputs: Vec<((usize, usize), [u32; 2])> = match model {
                PreparedModel::Fresh(fresh) => fresh
                    .0
                    .outputs
                    .iter()
                    .filter_map(|o| o.image.map(|(px, _)| ((m, o.binding), px)))
                    .collect(),
                PreparedModel::Reuse(old) => old_nodes
                    .as_ref()
                    .and_then(|n| n.get(*old))
                    .and_then(Option::as_ref)
                    .map(|node| {
                        node.output_image_sizes()
                            .map(|(binding, px)| ((m, binding), px))
                            .collect()
                    })
                    .unwrap_or_default(),
            };
            model_sizes.extend(outputs);
        }
        let mut chain = PassChain::new(gpu, &scene, &shaders, size, &model_sizes)?;
        let mut nodes = Vec::new();
        let mut stamps = Vec::new();
        let mut reused = Vec::new();
        for (m, model) in models.into_iter().enumerate() {
            match model {
                PreparedModel::Fresh(fresh) => {
                    let (plan, model, stamp) = *fresh;
                    let def = &scene.models[m];
                    let node =
                        ModelNode::new(gpu, m, def, plan, model).map_err(LoadError::Infer)?;
                    nodes.push(Some(node));
                    stamps.push(stamp);
                }
                PreparedModel::Reuse(old) => {
                    nodes.push(None);
                    stamps.push(FileStamp::of(&scene.models[m].file));
                    reused.push((m, old));
                }
            }
        }
        // Infallible from here: take the reused nodes out of the old instance.
        if let Some(old_nodes) = old_nodes {
            for (m, old) in reused {
                if let Some(mut node) = old_nodes.get_mut(old).and_then(Option::take) {
                    node.index = m;
                    nodes[m] = Some(node);
                }
            }
        }
        if let Some((old_chain, old_scene, blitter)) = previous {
            adopt(gpu, &mut chain, old_chain, old_scene, &scene, blitter);
        }
        let params = ParamStore::new(&scene.params);
        Ok(Self {
            scene,
            shaders,
            params,
            chain,
            nodes: nodes.into_iter().flatten().collect(),
            stamps,
            model_sizes,
        })
    }
}

/// Copies `old`'s feedback buffers and model outputs into `new` where names match (resampled
/// to the new sizes), so a reload or resize does not start from black.
fn adopt(
    gpu: &Gpu,
    new: &mut PassChain,
    old: &PassChain,
    old_scene: &Scene,
    new_scene: &Scene,
    blitter: &mut Blitter,
) {
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("runtime.adopt"),
        });
    let mut copied = 0;
    for (i, pass) in new_scene.passes.iter().enumerate() {
        if !pass.is_feedback() {
            continue;
        }
        let Some(j) = old_scene.passes.iter().position(|p| p.name == pass.name) else {
            continue;
        };
        let Some((_, src, src_size, src_format)) = old.pass_output(j) else {
            continue;
        };
        for (view, size, format) in new.pass_views(i) {
            blitter.copy(
                &gpu.device,
                &mut encoder,
                (src, src_size, src_format),
                (view, size, format),
            );
            copied += 1;
        }
    }
    for (m, def) in new_scene.models.iter().enumerate() {
        let Some(om) = old_scene.models.iter().position(|d| d.name == def.name) else {
            continue;
        };
        for o in 0..def.outputs.len() {
            let (Some(src), Some(dst)) = (old.model_texture((om, o)), new.model_texture((m, o)))
            else {
                continue;
            };
            let format = crate::render::chain::MODEL_TEXTURE_FORMAT;
            blitter.copy(
                &gpu.device,
                &mut encoder,
                (src.view(), src.size, format),
                (dst.view(), dst.size, format),
            );
            copied += 1;
        }
    }
    if copied > 0 {
        gpu.queue.submit([encoder.finish()]);
    }
}

/// The OSC configuration in effect for `scene` under `mode`.
fn effective_osc(scene: &Scene, mode: &OscMode) -> crate::osc::OscConfig {
    match mode {
        OscMode::Off => scene.osc.clone(),
        OscMode::On { listen, settings } => {
            let mut config = settings
                .as_deref()
                .cloned()
                .unwrap_or_else(|| scene.osc.clone());
            if let Some(listen) = listen {
                config.listen = *listen;
            }
            config
        }
    }
}

fn routes_for(scene: &Scene) -> Result<RouteTable, crate::osc::OscError> {
    RouteTable::new(
        scene
            .params
            .iter()
            .map(|p| ParamRoute::from_def(p, p.osc.clone())),
    )
}

/// Starts the OSC server for `scene`; problems are logged and the show runs without OSC.
fn start_osc(config: &crate::osc::OscConfig, scene: &Scene) -> Option<Osc> {
    match routes_for(scene) {
        Ok(routes) => crate::osc::start_or_log(config, routes).map(|handle| Osc {
            handle,
            events: Vec::new(),
            warned_tap: false,
        }),
        Err(e) => {
            tracing::error!("OSC routes: {e}; running without OSC");
            None
        }
    }
}

/// Loads every model of `scene` and checks its bindings against the model's metadata.
fn load_models(
    scene: &Scene,
    options: &RuntimeOptions,
    size: [u32; 2],
    reuse: Option<&Reusable>,
) -> Result<Vec<PreparedModel>, LoadError> {
    if scene.models.is_empty() {
        return Ok(Vec::new());
    }
    crate::infer::init(&InitOptions {
        ort_lib: options.ort_lib.clone(),
    })?;
    let ep = match options.provider {
        Some(ep) => ep,
        None => scene
            .runtime
            .providers
            .first()
            .and_then(|p| p.parse().ok())
            .unwrap_or(Ep::Cpu),
    };
    let session = SessionOptions {
        ep,
        intra_threads: options.threads.unwrap_or(scene.runtime.threads as usize),
        inter_threads: 1,
        ..SessionOptions::default()
    };
    let default_size = [(size[0] / 4).max(1), (size[1] / 4).max(1)];
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for def in &scene.models {
        let at = |message: String| Diagnostic::at(&scene.path, def.at.line, def.at.col, message);
        let stamp = FileStamp::of(&def.file);
        if let Some(old) = reuse.and_then(|r| {
            r.models
                .iter()
                .position(|(d, st)| d == def && *st == stamp && stamp.modified.is_some())
        }) {
            out.push(PreparedModel::Reuse(old));
            continue;
        }
        let model = match crate::infer::Model::load(&def.file, &session) {
            Ok(m) => m,
            Err(e) => {
                errors.push(at(format!("model `{}`: {e}", def.name)));
                continue;
            }
        };
        let info = model.info();
        let inputs: Vec<TensorSpec> = info.inputs.iter().map(spec).collect();
        let outputs: Vec<TensorSpec> = info.outputs.iter().map(spec).collect();
        match plan(
            def,
            &inputs,
            &outputs,
            default_size,
            &AudioLengths {
                bands: scene.audio_bands(),
            },
        ) {
            Ok(p) => out.push(PreparedModel::Fresh(Box::new((p, model, stamp)))),
            Err(es) => errors.extend(es.into_iter().map(at)),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(LoadError::Model(Diagnostics(errors)))
    }
}

fn spec(io: &IoInfo) -> TensorSpec {
    TensorSpec {
        name: io.name.clone(),
        elem: io.elem.to_string(),
        dims: io
            .shape
            .iter()
            .map(|d| match d {
                crate::infer::Dim::Fixed(n) => Dim::Fixed(i64::try_from(*n).unwrap_or(i64::MAX)),
                crate::infer::Dim::Symbolic(name) => Dim::Free(Some(name.clone())),
                crate::infer::Dim::Dynamic => Dim::Free(None),
            })
            .collect(),
    }
}

/// Settings of an offline render.
#[derive(Debug, Clone)]
pub struct RenderSettings {
    /// Frames to render.
    pub frames: u64,
    /// Fixed frame rate of the clock.
    pub fps: f64,
    /// Staging buffers in flight.
    pub readback_depth: usize,
}

impl Default for RenderSettings {
    fn default() -> Self {
        Self {
            frames: 1,
            fps: 30.0,
            readback_depth: 3,
        }
    }
}

/// Renders `settings.frames` frames with a fixed-step clock and hands each as RGBA8 to `sink`,
/// in order. Deterministic: the same scene, size, params and settings give the same bytes.
///
/// # Errors
/// Whatever `sink` returns (rendering stops there).
pub fn render_frames<E>(
    gpu: &Gpu,
    runtime: &mut Runtime,
    settings: &RenderSettings,
    sink: impl FnMut(ReadImage) -> Result<(), E>,
) -> Result<(), E> {
    render_frames_with(gpu, runtime, settings, |_, _, _| {}, sink)
}

/// [`render_frames`] with `before` called ahead of each frame (a playlist switching scenes,
/// a test changing files). Frames keep the first frame's size; a later scene of another
/// size is letterboxed into it.
///
/// # Errors
/// Whatever `sink` returns (rendering stops there).
pub fn render_frames_with<E>(
    gpu: &Gpu,
    runtime: &mut Runtime,
    settings: &RenderSettings,
    mut before: impl FnMut(&Gpu, &mut Runtime, FrameTime),
    mut sink: impl FnMut(ReadImage) -> Result<(), E>,
) -> Result<(), E> {
    let Some((size, _)) = runtime.output_info() else {
        return Ok(());
    };
    let device = &gpu.device;
    let mut blitter = Blitter::new(device);
    let rgba = crate::render::texture_2d(
        device,
        "render.rgba8",
        size,
        wgpu::TextureFormat::Rgba8Unorm,
        wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
    );
    let rgba_view = rgba.create_view(&wgpu::TextureViewDescriptor::default());
    let mut readback = Readback::new(device, size, settings.readback_depth);
    let mut clock = Clock::fixed(settings.fps);
    for _ in 0..settings.frames {
        while !readback.has_free_slot() {
            let _ = device.poll(wgpu::PollType::wait_indefinitely());
            for image in readback.collect() {
                sink(image)?;
            }
        }
        let t = clock.tick();
        before(gpu, runtime, t);
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("render.frame"),
        });
        runtime.encode_frame(gpu, &mut encoder, t);
        if let (Some(view), Some((src_size, format))) =
            (runtime.output_view(), runtime.output_info())
        {
            blitter.blit(
                device,
                &mut encoder,
                view,
                src_size,
                format,
                &rgba_view,
                size,
                wgpu::TextureFormat::Rgba8Unorm,
                Fit::Letterbox,
            );
        }
        readback.copy(&mut encoder, &rgba, t.frame);
        gpu.queue.submit([encoder.finish()]);
        runtime.after_submit(gpu);
        readback.after_submit();
        let _ = device.poll(wgpu::PollType::Poll);
        for image in readback.collect() {
            sink(image)?;
        }
    }
    while readback.pending() {
        let _ = device.poll(wgpu::PollType::wait_indefinitely());
        for image in readback.collect() {
            sink(image)?;
        }
    }
    Ok(())
}
