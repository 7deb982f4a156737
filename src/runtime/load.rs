//! Loading a scene, in stages with one name each, every stage off the frame thread except the
//! last:
//!
//! 1. **read**: the file parsed and validated into a [`Scene`] ([`Scene::read`]);
//! 2. **prepare**: shaders composed and validated, model sessions loaded and their bindings
//!    checked ([`prepare`], [`read_and_prepare`]): CPU only, any thread;
//! 3. **build**: pipelines, render targets and model workers on the GPU ([`build`]): any
//!    thread;
//! 4. **warm**: every model run once and every pass drawn once ([`Built::warm`]), so the
//!    switch costs no more than a frame;
//! 5. **switch** ([`super::Runtime::switch`], with a transition) or **reload**
//!    ([`super::Runtime::reload`], in place, keeping feedback, params and unchanged models):
//!    on the frame thread, no compiling, no file access.
//!
//! "Load" is the whole sequence ([`LoadError`], [`super::Runtime::load`]). `hypna check` runs
//! read and prepare ([`read_and_check`], [`check_models`]) without a GPU.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diag::{Diagnostic, Diagnostics};
use crate::infer::{Ep, InferError, InitOptions, IoInfo, SessionOptions};
use crate::model::node::ModelNode;
use crate::model::plan::{AudioLengths, Dim, Plan, TensorSpec, plan};
use crate::params::{ParamError, ParamStore};
use crate::render::blit::Blitter;
use crate::render::chain::{ChainError, FrameInputs, MODEL_TEXTURE_FORMAT, PassChain};
use crate::render::context::Gpu;
use crate::render::shader::{PassShader, load_pass_shader};
use crate::scene::{ModelDef, Scene, SceneError};

use super::RuntimeOptions;

/// Errors from loading a scene, at any stage.
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
    /// The scene's `[audio] file`, located at its `[audio]` table (`hypna check`).
    #[error("{0}")]
    AudioFile(Diagnostics),
    /// Offline audio (the WAV file of a render).
    #[error(transparent)]
    Audio(#[from] crate::audio::AudioError),
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
    pub fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Self::Scene(e) => e.diagnostics().to_vec(),
            Self::Shader(d)
            | Self::Model(d)
            | Self::Playlist(d)
            | Self::AudioFile(d)
            | Self::Chain(ChainError::Limits(d) | ChainError::Shader(d)) => d.0.clone(),
            Self::Chain(_)
            | Self::Param(_)
            | Self::Infer(_)
            | Self::Audio(_)
            | Self::Internal(_) => Vec::new(),
        }
    }

    /// The problems located (printed one per line); problems without a place are reported
    /// at `scene`, the file being loaded.
    #[must_use]
    pub fn located(&self, scene: &Path) -> Diagnostics {
        let d = self.diagnostics();
        Diagnostics(if d.is_empty() {
            vec![Diagnostic::file(scene, self.to_string())]
        } else {
            d
        })
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

/// Reads a scene and checks its shaders, without a GPU or models (`hypna check`).
///
/// # Errors
/// Everything found, located.
pub fn read_and_check(path: &Path) -> Result<(Scene, Vec<PassShader>), LoadError> {
    let scene = Scene::read(path)?;
    let shaders = load_shaders(&scene).map_err(LoadError::Shader)?;
    // What `render` and a live load would refuse: the GPU limits every device grants
    // (`render::limits::portable`) and the WAV file of `[audio] file`.
    crate::render::limits::check(
        &scene,
        scene.size,
        crate::render::limits::SizeSource::Scene,
        &[],
        &crate::render::limits::portable(),
    )
    .map_err(|d| LoadError::Chain(ChainError::Limits(d)))?;
    if let Some(file) = scene.audio.as_ref().and_then(|a| a.file.as_ref())
        && let Err(e) = crate::audio::file::check_wav(file)
    {
        let message = format!("[audio] {e}");
        let d = match scene.audio_at {
            Some(at) => Diagnostic::at(&scene.path, at.line, at.col, message),
            None => Diagnostic::file(&scene.path, message),
        };
        return Err(LoadError::AudioFile(Diagnostics(vec![d])));
    }
    Ok((scene, shaders))
}

/// Checks the model bindings of `scene` against the models' metadata, when ONNX Runtime can
/// be found. Returns a note saying what was or was not checked.
///
/// # Errors
/// [`LoadError::Model`] with every binding problem, located in the scene file.
pub fn check_models(scene: &Scene, ort_lib: Option<PathBuf>) -> Result<Option<String>, LoadError> {
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

/// A prepared scene: the parsed scene, its validated shaders and its models (loaded ONNX
/// sessions). Built by [`prepare`] on any thread; [`build`] or [`super::Runtime::reload`]
/// puts it on the GPU.
pub struct Prepared {
    /// The scene.
    pub scene: Scene,
    pub(super) shaders: Vec<PassShader>,
    pub(super) models: Vec<PreparedModel>,
}

pub(super) enum PreparedModel {
    /// Freshly loaded, with its resolved bindings.
    Fresh(Box<(Plan, crate::infer::Model, FileStamp)>),
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
    pub(super) models: Vec<(ModelDef, FileStamp)>,
}

/// Prepares `scene`: loads its shaders and models (reusing unchanged models of `reuse`).
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
pub fn read_and_prepare(
    path: &Path,
    options: &RuntimeOptions,
    reuse: Option<&Reusable>,
) -> Result<Prepared, LoadError> {
    prepare(Scene::read(path)?, options, reuse)
}

/// One scene on the GPU: its chain, model nodes and live params.
pub(super) struct Instance {
    pub(super) scene: Scene,
    pub(super) shaders: Vec<PassShader>,
    pub(super) params: ParamStore,
    pub(super) chain: PassChain,
    pub(super) nodes: Vec<ModelNode>,
    /// Per model, its file when loaded (a reload reuses unchanged ones).
    pub(super) stamps: Vec<FileStamp>,
    /// Sizes of the model output textures: `((model, output), size)`.
    pub(super) model_sizes: Vec<((usize, usize), [u32; 2])>,
}

/// A scene built on the GPU, ready to be switched to (see [`build`]). Building compiles the
/// pipelines and starts the model workers, so it can run on a loader thread while the
/// current scene keeps playing.
pub struct Built(pub(super) Instance);

impl Built {
    /// The size of the built scene's output (what a transition into it draws at).
    #[must_use]
    pub fn output_size(&self) -> Option<[u32; 2]> {
        self.0.chain.output_info().map(|(size, _)| size)
    }

    /// The scene.
    #[must_use]
    pub fn scene(&self) -> &Scene {
        &self.0.scene
    }

    /// Pre-warms the built scene: every model runs once (its output lands in its texture)
    /// and every pass is drawn once over one pixel and waited for, so the switch to it
    /// costs no more than a frame.
    #[must_use]
    pub fn warm(mut self, gpu: &Gpu) -> Self {
        let instance = &mut self.0;
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
        // First use of every pipeline and binding happens here, not on the frame thread,
        // and costs the shared GPU queue almost nothing.
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
        gpu.wait_idle();
        self
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
pub const WARM_UP_TIMEOUT: Duration = Duration::from_secs(30);

impl Instance {
    /// Builds `prepared` on the GPU at `size`. With `previous`, feedback buffers and model
    /// outputs of the same names are copied over; with `old_nodes`, reused models take their
    /// running node from there.
    pub(super) fn build(
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
            carry_over(gpu, &mut chain, old_chain, old_scene, &scene, blitter);
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

    /// What a reload may reuse from this instance (its models and their file stamps).
    pub(super) fn reusable(&self) -> Reusable {
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
}

/// Copies `old`'s feedback buffers and model outputs into `new` where names match (resampled
/// to the new sizes), so a reload or resize does not start from black.
pub(super) fn carry_over(
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
            label: Some("runtime.carry_over"),
        });
    let mut copied = 0;
    for (i, pass) in new_scene.passes.iter().enumerate() {
        if !new_scene.is_double_buffered(i) {
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
            blitter.copy(
                &gpu.device,
                &mut encoder,
                (src.view(), src.size, MODEL_TEXTURE_FORMAT),
                (dst.view(), dst.size, MODEL_TEXTURE_FORMAT),
            );
            copied += 1;
        }
    }
    if copied > 0 {
        gpu.queue.submit([encoder.finish()]);
    }
}

/// Loads every model of `scene` and checks its bindings against the model's metadata.
pub(super) fn load_models(
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

#[cfg(test)]
mod tests {
    use super::*;

    const SCENE: &str = "[scene]\nname = \"unit\"\nsize = [64, 36]\n\n[[pass]]\nname = \"a\"\n\
                         shader = \"a.wgsl\"\n\n[[pass]]\nname = \"b\"\nshader = \"b.wgsl\"\n";
    const GOOD: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
                        return vec4<f32>(in.uv, 0.0, 1.0);\n}\n";
    const BAD: &str = "@fragment\nfn main(in: VertexOutput) -> @location(0) vec4<f32> {\n    \
                       return vec4<f32>(nope, 0.0, 1.0);\n}\n";

    fn scene(a: &str, b: &str) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.wgsl"), a).unwrap();
        std::fs::write(dir.path().join("b.wgsl"), b).unwrap();
        let path = dir.path().join("unit.toml");
        std::fs::write(&path, SCENE).unwrap();
        (dir, path)
    }

    #[test]
    fn reading_and_checking_gives_one_validated_shader_per_pass() {
        let (dir, path) = scene(GOOD, GOOD);
        let (scene, shaders) = read_and_check(&path).unwrap();
        assert_eq!(shaders.len(), scene.passes.len());
        assert_eq!(shaders[1].files, [dir.path().join("b.wgsl")]);
        // No model: nothing to check, nothing said.
        assert_eq!(check_models(&scene, None).unwrap(), None);
        // Prepared without a GPU: the scene, its shaders, no models.
        let prepared = read_and_prepare(&path, &RuntimeOptions::default(), None).unwrap();
        assert_eq!(prepared.scene, scene);
        assert!(prepared.models.is_empty());
    }

    #[test]
    fn every_pass_with_a_bad_shader_is_reported_at_once() {
        let (dir, path) = scene(BAD, BAD);
        let e = read_and_check(&path).unwrap_err();
        let files: Vec<std::path::PathBuf> = e.diagnostics().into_iter().map(|d| d.file).collect();
        assert_eq!(
            files,
            [dir.path().join("a.wgsl"), dir.path().join("b.wgsl")]
        );
        assert!(matches!(e, LoadError::Shader(_)), "{e:?}");
        // The scene file's own errors come first and stop there.
        std::fs::write(&path, "[scene]\n").unwrap();
        assert!(matches!(read_and_check(&path), Err(LoadError::Scene(_))));
    }

    #[test]
    fn errors_without_a_place_are_located_at_the_scene() {
        let scene = Path::new("show/scene.toml");
        let e = LoadError::Internal("the loader thread stopped".into());
        assert_eq!(
            e.located(scene).to_string(),
            "show/scene.toml: the loader thread stopped"
        );
        let d = Diagnostic::at("a.wgsl", 3, 4, "bad");
        let e = LoadError::Shader(Diagnostics(vec![d.clone()]));
        assert_eq!(e.located(scene).0, [d]);
    }

    #[test]
    fn a_file_stamp_changes_with_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.onnx");
        std::fs::write(&path, b"one").unwrap();
        let first = FileStamp::of(&path);
        assert_eq!(first, FileStamp::of(&path));
        std::fs::write(&path, b"longer").unwrap();
        assert_ne!(first, FileStamp::of(&path));
        let gone = FileStamp::of(&dir.path().join("none"));
        assert_eq!((gone.modified, gone.len), (None, 0));
    }
}
