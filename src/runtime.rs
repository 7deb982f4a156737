//! The per-frame sequence, shared by the window, headless renders, benchmarks and tests:
//! advance params -> record the pass chain -> (caller presents or reads back).

use std::path::Path;

use crate::clock::{Clock, FrameTime};
use crate::diag::Diagnostics;
use crate::params::{ParamError, ParamStore};
use crate::render::blit::{Blitter, Fit};
use crate::render::chain::{ChainError, FrameInputs, PassChain};
use crate::render::context::Gpu;
use crate::render::readback::{ReadImage, Readback};
use crate::render::shader::{PassShader, load_pass_shader};
use crate::scene::{Scene, SceneError};

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
}

impl LoadError {
    /// The located problems, for on-screen and CLI display.
    #[must_use]
    pub fn diagnostics(&self) -> Vec<crate::diag::Diagnostic> {
        match self {
            Self::Scene(e) => e.diagnostics().to_vec(),
            Self::Shader(d) => d.0.clone(),
            Self::Chain(_) | Self::Param(_) => Vec::new(),
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

/// A loaded scene on the GPU with its live params.
pub struct Runtime {
    /// The scene.
    pub scene: Scene,
    /// Live params.
    pub params: ParamStore,
    chain: PassChain,
    params_scratch: Vec<f32>,
}

impl Runtime {
    /// Loads `scene` at `size` (default: the scene's size) and applies `sets` (`name=value`).
    ///
    /// # Errors
    /// Shader, pipeline or `--set` problems.
    pub fn new(
        gpu: &Gpu,
        scene: Scene,
        size: Option<[u32; 2]>,
        sets: &[String],
    ) -> Result<Self, LoadError> {
        let shaders = load_shaders(&scene).map_err(LoadError::Shader)?;
        let chain = PassChain::new(gpu, &scene, &shaders, size.unwrap_or(scene.size))?;
        let mut params = ParamStore::new(&scene.params);
        for s in sets {
            params.assign(s)?;
        }
        Ok(Self {
            scene,
            params,
            chain,
            params_scratch: Vec::new(),
        })
    }

    /// Loads the scene file at `path`; see [`Self::new`].
    ///
    /// # Errors
    /// As [`Self::new`], plus scene file problems.
    pub fn load(
        gpu: &Gpu,
        path: &Path,
        size: Option<[u32; 2]>,
        sets: &[String],
    ) -> Result<Self, LoadError> {
        let scene = Scene::load(path)?;
        Self::new(gpu, scene, size, sets)
    }

    /// Advances params by the frame's `dt` and records the chain into `encoder`.
    pub fn encode_frame(&mut self, gpu: &Gpu, encoder: &mut wgpu::CommandEncoder, t: FrameTime) {
        self.params.advance(t.dt_secs);
        self.params_scratch.clear();
        self.params_scratch
            .extend(self.params.iter().map(|(_, v)| v));
        let inputs = FrameInputs {
            time_secs: t.time_secs,
            dt_secs: t.dt_secs,
            frame: t.frame,
            params: &self.params_scratch,
        };
        self.chain.encode(&gpu.queue, encoder, &inputs);
    }

    /// The chain (output texture, sizes).
    #[must_use]
    pub fn chain(&self) -> &PassChain {
        &self.chain
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
    mut sink: impl FnMut(ReadImage) -> Result<(), E>,
) -> Result<(), E> {
    let Some((size, format)) = runtime.chain().output_info() else {
        return Ok(());
    };
    let device = &gpu.device;
    let mut blitter = Blitter::new(device);
    let rgba = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("render.rgba8"),
        size: wgpu::Extent3d {
            width: size[0],
            height: size[1],
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::Rgba8Unorm,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
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
        let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor {
            label: Some("render.frame"),
        });
        runtime.encode_frame(gpu, &mut encoder, t);
        if let Some(view) = runtime.chain().output_view() {
            blitter.blit(
                device,
                &mut encoder,
                view,
                size,
                format,
                &rgba_view,
                size,
                wgpu::TextureFormat::Rgba8Unorm,
                Fit::Fill,
            );
        }
        readback.copy(&mut encoder, &rgba, t.frame);
        gpu.queue.submit([encoder.finish()]);
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
