//! The pass chain: one render target (two for feedback passes) and one pipeline per pass,
//! built when a scene loads; [`PassChain::encode`] only records into an encoder it is given.
//!
//! Feedback passes own a ping and a pong texture. Every feedback pass swaps on the same frame,
//! so one parity bit selects which texture each pass writes, and two bind groups per pass
//! (one per parity) are built up front: a frame creates no GPU objects.

use std::num::NonZeroU64;

use super::audio_image::{AudioImage, AudioImages};
use super::fullscreen;
use super::globals::Globals;
use super::shader::{PassShader, texture_format};
use crate::audio::{TEXTURE_HEIGHT, TEXTURE_WIDTH};
use crate::diag::Diagnostics;
use crate::render::context::Gpu;
use crate::scene::{Filter, Format, Scene, TextureSource, Wrap};

/// Errors from building a chain on the GPU.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A shader did not load or validate.
    #[error("{0}")]
    Shader(Diagnostics),
    /// The scene asks more of the GPU than its limits allow (located in the scene file).
    #[error("{0}")]
    Limits(Diagnostics),
    /// The GPU reported a validation error while the chain was created: the scene did not
    /// load (it would draw nothing and fail on every frame).
    #[error("the GPU rejected the scene: {0}")]
    Gpu(String),
    /// The GPU rejected a pipeline naga accepted (a limit, an interface mismatch).
    #[error("{file}: the GPU rejected pass `{pass}`: {message}")]
    Pipeline {
        /// The pass.
        pass: String,
        /// Its shader file.
        file: String,
        /// What wgpu said.
        message: String,
    },
}

/// What a frame feeds the chain.
#[derive(Debug, Clone, Copy, Default)]
pub struct FrameInputs<'a> {
    /// Seconds since start.
    pub time_secs: f64,
    /// Seconds since the previous frame.
    pub dt_secs: f32,
    /// Frame number.
    pub frame: u64,
    /// Param values in declaration order.
    pub params: &'a [f32],
    /// The newest audio features; `None` leaves every audio global at 0.
    pub audio: Option<&'a crate::audio::AudioFeatures>,
}

struct Target {
    texture: wgpu::Texture,
    view: wgpu::TextureView,
}

/// A texture a model result is uploaded into; passes sample it like a pass output.
pub struct ModelTexture {
    /// Which model and output (indices into the scene).
    pub key: (usize, usize),
    /// Size in pixels.
    pub size: [u32; 2],
    /// The texture (`Rgba16Float`, starts transparent black).
    pub texture: wgpu::Texture,
    view: wgpu::TextureView,
    sampler: wgpu::Sampler,
}

/// The audio texture's entry in the frame layout (group 0, binding 2): `R32Float`, read with
/// `textureLoad` (not filterable).
pub const AUDIO_TEXTURE_LAYOUT_ENTRY: wgpu::BindGroupLayoutEntry = wgpu::BindGroupLayoutEntry {
    binding: 2,
    visibility: wgpu::ShaderStages::FRAGMENT,
    ty: wgpu::BindingType::Texture {
        sample_type: wgpu::TextureSampleType::Float { filterable: false },
        view_dimension: wgpu::TextureViewDimension::D2,
        multisampled: false,
    },
    count: None,
};

/// Creates the [`TEXTURE_WIDTH`] x [`TEXTURE_HEIGHT`] `R32Float` audio texture (zeros: silence).
#[must_use]
pub fn create_audio_texture(device: &wgpu::Device) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some("chain.audio"),
        size: audio_extent(),
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: wgpu::TextureFormat::R32Float,
        usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
        view_formats: &[],
    })
}

#[allow(clippy::cast_possible_truncation)] // 512 x 2
fn audio_extent() -> wgpu::Extent3d {
    wgpu::Extent3d {
        width: TEXTURE_WIDTH as u32,
        height: TEXTURE_HEIGHT as u32,
        depth_or_array_layers: 1,
    }
}

/// Uploads `data` (rows of [`TEXTURE_WIDTH`] floats) into the audio texture.
#[allow(clippy::cast_possible_truncation)] // 512 * 4
fn write_audio_texture(queue: &wgpu::Queue, texture: &wgpu::Texture, data: &[f32]) {
    queue.write_texture(
        wgpu::TexelCopyTextureInfo {
            texture,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        bytemuck::cast_slice(data),
        wgpu::TexelCopyBufferLayout {
            offset: 0,
            bytes_per_row: Some((TEXTURE_WIDTH * 4) as u32),
            rows_per_image: Some(TEXTURE_HEIGHT as u32),
        },
        audio_extent(),
    );
}

/// Format of model output textures: filterable, float, half the bytes of f32.
pub const MODEL_TEXTURE_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

struct GpuPass {
    name: String,
    size: [u32; 2],
    format: wgpu::TextureFormat,
    /// One target, or two (ping, pong) for a feedback pass.
    targets: Vec<Target>,
    pipeline: wgpu::RenderPipeline,
    /// Group 1 for parity 0 and 1.
    inputs: [wgpu::BindGroup; 2],
    /// ISF's `PASSINDEX` (0 for WGSL passes).
    pass_index: u32,
    /// An ISF pass's inputs block (group 2), written from the params each frame.
    isf: Option<IsfInputs>,
}

struct IsfInputs {
    block: crate::render::glsl::isf::InputBlock,
    layout: crate::render::glsl::isf::IsfLayout,
    buffer: wgpu::Buffer,
    group: wgpu::BindGroup,
}

impl ModelTexture {
    /// A view of the whole texture.
    #[must_use]
    pub fn view(&self) -> &wgpu::TextureView {
        &self.view
    }
}

impl GpuPass {
    fn written(&self, parity: usize) -> &Target {
        &self.targets[parity % self.targets.len()]
    }

    fn previous(&self, parity: usize) -> &Target {
        &self.targets[(parity + 1) % self.targets.len()]
    }
}

/// A scene's passes on the GPU.
pub struct PassChain {
    scene_size: [u32; 2],
    passes: Vec<GpuPass>,
    /// Model output textures: ((model, output), size, texture).
    model_textures: Vec<ModelTexture>,
    globals: wgpu::Buffer,
    globals_stride: u64,
    params: wgpu::Buffer,
    frame_group: wgpu::BindGroup,
    /// The audio texture (group 0, binding 2): row 0 spectrum, row 1 waveform.
    audio_texture: wgpu::Texture,
    /// Reused every frame for the audio texture upload.
    audio_scratch: Vec<f32>,
    /// The scene's images besides passes and models (`TextureSource::Image`).
    images: Vec<super::images::SceneImage>,
    /// The audio input as images (ISF's `audio`/`audioFFT`, Shadertoy's music input).
    audio_images: AudioImages,
    parity: usize,
    /// Reused every frame for the globals upload (no per-frame allocation).
    scratch: Vec<u8>,
    params_scratch: Vec<f32>,
    /// Reused every frame for ISF inputs blocks.
    isf_scratch: Vec<u8>,
    /// The local time zone, for the date global.
    time_zone: jiff::tz::TimeZone,
    /// Per-pass GPU timestamps, when enabled and supported.
    timer: Option<super::timing::GpuTimer>,
}

impl PassChain {
    /// Builds targets and pipelines for `scene` at `scene_size` from its loaded shaders.
    ///
    /// # Errors
    /// [`ChainError::Pipeline`] when the GPU rejects a pass.
    pub fn new(
        gpu: &Gpu,
        scene: &Scene,
        shaders: &[PassShader],
        scene_size: [u32; 2],
        model_sizes: &[((usize, usize), [u32; 2])],
    ) -> Result<Self, ChainError> {
        let device = &gpu.device;
        let images: Vec<super::limits::ModelImage> = model_sizes
            .iter()
            .map(|&((model, output), size)| super::limits::ModelImage {
                model,
                binding: scene
                    .models
                    .get(model)
                    .and_then(|m| m.outputs.get(output))
                    .map_or_else(|| output.to_string(), |o| o.name.clone()),
                size,
                input: false,
            })
            .collect();
        let source = if scene_size == scene.size {
            super::limits::SizeSource::Scene
        } else {
            super::limits::SizeSource::CommandLine
        };
        super::limits::check(scene, scene_size, source, &images, &device.limits())
            .map_err(ChainError::Limits)?;
        // Whatever the checks above missed: a validation error while creating the chain
        // fails the load, so the last good scene keeps playing.
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let chain = Self::create(gpu, scene, shaders, scene_size, model_sizes)?;
        if let Some(error) = pollster::block_on(scope.pop()) {
            return Err(ChainError::Gpu(error.to_string()));
        }
        Ok(chain)
    }

    fn create(
        gpu: &Gpu,
        scene: &Scene,
        shaders: &[PassShader],
        scene_size: [u32; 2],
        model_sizes: &[((usize, usize), [u32; 2])],
    ) -> Result<Self, ChainError> {
        let device = &gpu.device;
        let align = u64::from(device.limits().min_uniform_buffer_offset_alignment);
        let globals_size = std::mem::size_of::<Globals>() as u64;
        let globals_stride = globals_size.div_ceil(align) * align;
        let pass_count = scene.passes.len().max(1) as u64;
        let globals = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("chain.globals"),
            size: globals_stride * pass_count,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let params_size = ((scene.params.len().max(1) * 4) as u64).div_ceil(16) * 16;
        let params = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("chain.params"),
            size: params_size,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        let uniform_entry = |binding, dynamic, size| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: dynamic,
                min_binding_size: NonZeroU64::new(size),
            },
            count: None,
        };
        let audio_texture = create_audio_texture(device);
        let audio_view = audio_texture.create_view(&wgpu::TextureViewDescriptor::default());
        let frame_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("chain.frame.layout"),
            entries: &[
                uniform_entry(0, true, globals_size),
                uniform_entry(1, false, params_size),
                AUDIO_TEXTURE_LAYOUT_ENTRY,
            ],
        });
        let frame_group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("chain.frame.group"),
            layout: &frame_layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                        buffer: &globals,
                        offset: 0,
                        size: NonZeroU64::new(globals_size),
                    }),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: params.as_entire_binding(),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::TextureView(&audio_view),
                },
            ],
        });

        // Targets and samplers first: a pass's bind groups reference earlier passes' targets.
        let mut targets: Vec<Vec<Target>> = Vec::new();
        let mut samplers = Vec::new();
        for (index, pass) in scene.passes.iter().enumerate() {
            let size = pass.output_size(scene_size);
            let format = texture_format(pass.format);
            let count = if scene.is_double_buffered(index) {
                2
            } else {
                1
            };
            let names = ["ping", "pong"];
            targets.push(
                (0..count)
                    .map(|i| {
                        let label = if count == 2 {
                            format!("{}.{}", pass.name, names[i])
                        } else {
                            format!("{}.target", pass.name)
                        };
                        create_target(device, &label, size, format)
                    })
                    .collect(),
            );
            samplers.push(create_sampler(
                device,
                &format!("{}.sampler", pass.name),
                pass.filter,
                pass.wrap,
            ));
        }

        let model_textures: Vec<ModelTexture> = model_sizes
            .iter()
            .map(|&(key, size)| {
                let label = format!("model{}.output{}", key.0, key.1);
                let texture = crate::render::texture_2d(
                    device,
                    &label,
                    size,
                    MODEL_TEXTURE_FORMAT,
                    wgpu::TextureUsages::TEXTURE_BINDING
                        | wgpu::TextureUsages::COPY_DST
                        | wgpu::TextureUsages::COPY_SRC
                        | wgpu::TextureUsages::RENDER_ATTACHMENT,
                );
                let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
                let sampler = create_sampler(
                    device,
                    &format!("{label}.sampler"),
                    Filter::Linear,
                    Wrap::Clamp,
                );
                ModelTexture {
                    key,
                    size,
                    texture,
                    view,
                    sampler,
                }
            })
            .collect();
        let model_texture = |source: TextureSource| match source {
            TextureSource::Model { model, output } => {
                model_textures.iter().find(|t| t.key == (model, output))
            }
            TextureSource::Pass(_)
            | TextureSource::Audio { .. }
            | TextureSource::AudioShadertoy
            | TextureSource::Image(_) => None,
        };
        let images = super::images::create(device, &gpu.queue, &scene.images, scene_size);
        // The audio input as images (ISF `audio`/`audioFFT`, Shadertoy's music input).
        let audio_images = AudioImages::new(device, &gpu.queue);
        let mut passes = Vec::new();
        let isf_sampler = create_sampler(device, "isf.sampler", Filter::Linear, Wrap::Clamp);
        for (pass, shader) in scene.passes.iter().zip(shaders) {
            // ISF passes bind their images with one shared sampler; Shadertoy and WGSL
            // passes a texture and a sampler per input.
            let shared_sampler = shader.glsl.as_ref().is_some_and(|g| g.isf.is_some());
            // Model textures are Rgba16Float (filterable) and sampled linearly.
            let filterable = |source: TextureSource| match source {
                TextureSource::Pass(i) => scene.passes[i].format != Format::Rgba32float,
                TextureSource::Model { .. }
                | TextureSource::Audio { .. }
                | TextureSource::AudioShadertoy
                | TextureSource::Image(_) => true,
            };
            let linear = |source: TextureSource| match source {
                TextureSource::Pass(i) => scene.passes[i].filter == Filter::Linear,
                TextureSource::Model { .. }
                | TextureSource::Audio { .. }
                | TextureSource::AudioShadertoy
                | TextureSource::Image(_) => true,
            };
            let mut entries = Vec::new();
            // An ISF pass samples every image through one linear sampler (binding 1), so
            // what it reads must be filterable (validation checks it).
            if shared_sampler && !pass.inputs.is_empty() {
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding: 1,
                    visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                });
            }
            for (i, input) in pass.inputs.iter().enumerate() {
                let binding = u32::try_from(2 * i).unwrap_or(u32::MAX);
                if shared_sampler {
                    entries.push(wgpu::BindGroupLayoutEntry {
                        binding,
                        visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
                        ty: wgpu::BindingType::Texture {
                            sample_type: wgpu::TextureSampleType::Float { filterable: true },
                            view_dimension: wgpu::TextureViewDimension::D2,
                            multisampled: false,
                        },
                        count: None,
                    });
                    continue;
                }
                let can_filter = filterable(input.source);
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Texture {
                        sample_type: wgpu::TextureSampleType::Float {
                            filterable: can_filter,
                        },
                        view_dimension: wgpu::TextureViewDimension::D2,
                        multisampled: false,
                    },
                    count: None,
                });
                entries.push(wgpu::BindGroupLayoutEntry {
                    binding: binding + 1,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(if can_filter && linear(input.source) {
                        wgpu::SamplerBindingType::Filtering
                    } else {
                        wgpu::SamplerBindingType::NonFiltering
                    }),
                    count: None,
                });
            }
            let input_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(&format!("{}.inputs.layout", pass.name)),
                entries: &entries,
            });
            if let Some(missing) = pass.inputs.iter().find(|i| {
                matches!(i.source, TextureSource::Model { .. }) && model_texture(i.source).is_none()
            }) {
                return Err(ChainError::Pipeline {
                    pass: pass.name.clone(),
                    file: pass.shader.display().to_string(),
                    message: format!("no texture for model output `{}`", missing.name),
                });
            }
            let inputs = [0usize, 1].map(|parity| {
                let mut group_entries = Vec::new();
                for (i, input) in pass.inputs.iter().enumerate() {
                    let binding = u32::try_from(2 * i).unwrap_or(u32::MAX);
                    let (view, sampler) = match input.source {
                        TextureSource::Pass(i) => {
                            let source = &targets[i];
                            let view = if input.previous_frame {
                                &source[(parity + 1) % source.len()].view
                            } else {
                                &source[parity % source.len()].view
                            };
                            (view, &samplers[i])
                        }
                        // Checked above: every model source has its texture.
                        TextureSource::Model { .. } => match model_texture(input.source) {
                            Some(t) => (&t.view, &t.sampler),
                            None => continue,
                        },
                        TextureSource::Audio { spectrum } => (
                            audio_images.view(if spectrum {
                                AudioImage::Spectrum
                            } else {
                                AudioImage::Waveform
                            }),
                            &isf_sampler,
                        ),
                        TextureSource::AudioShadertoy => {
                            (audio_images.view(AudioImage::Shadertoy), &isf_sampler)
                        }
                        // Validation made the index; a bad one leaves the group short and
                        // the GPU's validation fails the load.
                        TextureSource::Image(i) => match images.get(i) {
                            Some(image) => (&image.view, &isf_sampler),
                            None => continue,
                        },
                    };
                    group_entries.push(wgpu::BindGroupEntry {
                        binding,
                        resource: wgpu::BindingResource::TextureView(view),
                    });
                    if !shared_sampler {
                        group_entries.push(wgpu::BindGroupEntry {
                            binding: binding + 1,
                            resource: wgpu::BindingResource::Sampler(sampler),
                        });
                    }
                }
                if shared_sampler && !pass.inputs.is_empty() {
                    group_entries.push(wgpu::BindGroupEntry {
                        binding: 1,
                        resource: wgpu::BindingResource::Sampler(&isf_sampler),
                    });
                }
                device.create_bind_group(&wgpu::BindGroupDescriptor {
                    label: Some(&format!("{}.inputs.{parity}", pass.name)),
                    layout: &input_layout,
                    entries: &group_entries,
                })
            });
            let isf = shader
                .glsl
                .as_ref()
                .and_then(|glsl| glsl.isf.as_ref())
                .map(|(block, layout)| isf_inputs(device, &pass.name, block, layout));
            let isf_layout = isf.as_ref().map(|(layout, _)| layout);
            let layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some(&format!("{}.layout", pass.name)),
                bind_group_layouts: &[Some(&frame_layout), Some(&input_layout), isf_layout],
                immediate_size: 0,
            });
            let format = texture_format(pass.format);
            let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
            let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(&format!("{}.shader", pass.name)),
                source: wgpu::ShaderSource::Naga(std::borrow::Cow::Owned(shader.module.clone())),
            });
            let pipeline = match &shader.glsl {
                None => fullscreen::pipeline(
                    device,
                    &format!("{}.pipeline", pass.name),
                    &layout,
                    &module,
                    &shader.fragment_entry,
                    format,
                ),
                Some(glsl) => {
                    let (vertex, entry) = match &glsl.vertex {
                        Some(vs) => (
                            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                                label: Some(&format!("{}.vertex", pass.name)),
                                source: wgpu::ShaderSource::Naga(std::borrow::Cow::Owned(
                                    vs.clone(),
                                )),
                            }),
                            "main",
                        ),
                        None => (
                            fullscreen::vertex_module(device, &format!("{}.vertex", pass.name)),
                            fullscreen::VERTEX_ENTRY,
                        ),
                    };
                    fullscreen::pipeline_split(
                        device,
                        &format!("{}.pipeline", pass.name),
                        &layout,
                        (&vertex, entry),
                        (&module, &shader.fragment_entry),
                        format,
                    )
                }
            };
            if let Some(error) = pollster::block_on(scope.pop()) {
                return Err(ChainError::Pipeline {
                    pass: pass.name.clone(),
                    file: pass.shader.display().to_string(),
                    message: error.to_string(),
                });
            }
            let size = pass.output_size(scene_size);
            passes.push(GpuPass {
                name: pass.name.clone(),
                size,
                format,
                targets: Vec::new(),
                pipeline,
                inputs,
                pass_index: shader.glsl.as_ref().map_or(0, |g| g.pass_index),
                isf: isf.map(|(_, inputs)| inputs),
            });
        }
        for (pass, t) in passes.iter_mut().zip(targets) {
            pass.targets = t;
        }
        Ok(Self {
            scene_size,
            passes,
            model_textures,
            globals,
            globals_stride,
            params,
            frame_group,
            audio_texture,
            audio_scratch: vec![0.0; TEXTURE_WIDTH * TEXTURE_HEIGHT],
            images,
            audio_images,
            parity: 0,
            scratch: Vec::new(),
            params_scratch: Vec::new(),
            isf_scratch: Vec::new(),
            time_zone: jiff::tz::TimeZone::system(),
            timer: None,
        })
    }

    /// Writes this frame's uniforms and records every pass into `encoder`. Swaps feedback
    /// buffers first, so a pass reading its own name sees the previous frame.
    pub fn encode(
        &mut self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        inputs: &FrameInputs<'_>,
    ) {
        self.encode_inner(queue, encoder, inputs, false);
    }

    /// Records every pass once over a single pixel, without clearing: every pipeline and
    /// binding gets its first use (drivers that compile on first draw do it now) at almost
    /// no cost, and nothing visible changes. Used to pre-warm a scene before a switch.
    pub fn encode_warm(
        &mut self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        inputs: &FrameInputs<'_>,
    ) {
        self.encode_inner(queue, encoder, inputs, true);
    }

    fn encode_inner(
        &mut self,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        inputs: &FrameInputs<'_>,
        warm: bool,
    ) {
        self.parity ^= 1;
        self.scratch.clear();
        #[allow(clippy::cast_possible_truncation, clippy::cast_precision_loss)]
        let mut base = Globals {
            scene_resolution: [self.scene_size[0] as f32, self.scene_size[1] as f32],
            time: inputs.time_secs as f32,
            dt: inputs.dt_secs,
            frame: u32::try_from(inputs.frame % (1 << 31)).unwrap_or(0),
            ..Globals::default()
        };
        if let Some(audio) = inputs.audio {
            base.set_audio(audio);
            audio.write_texture(&mut self.audio_scratch);
            write_audio_texture(queue, &self.audio_texture, &self.audio_scratch);
            self.audio_images.write(queue, &self.audio_scratch);
        }
        base.date = local_date(&self.time_zone);
        for pass in &self.passes {
            #[allow(clippy::cast_precision_loss)]
            let g = Globals {
                resolution: [pass.size[0] as f32, pass.size[1] as f32],
                pass_index: pass.pass_index,
                ..base
            };
            if let Some(isf) = &pass.isf {
                isf.block
                    .pack(&isf.layout, inputs.params, &mut self.isf_scratch);
                if !self.isf_scratch.is_empty() {
                    queue.write_buffer(&isf.buffer, 0, &self.isf_scratch);
                }
            }
            self.scratch.extend_from_slice(bytemuck::bytes_of(&g));
            let stride = usize::try_from(self.globals_stride).unwrap_or(256);
            self.scratch.resize(
                self.scratch.len() + stride - std::mem::size_of::<Globals>(),
                0,
            );
        }
        queue.write_buffer(&self.globals, 0, &self.scratch);
        self.params_scratch.clear();
        self.params_scratch.extend_from_slice(inputs.params);
        let params_len = usize::try_from(self.params.size() / 4).unwrap_or(4);
        self.params_scratch.resize(params_len, 0.0);
        queue.write_buffer(&self.params, 0, bytemuck::cast_slice(&self.params_scratch));

        for (i, pass) in self.passes.iter().enumerate() {
            let target = pass.written(self.parity);
            let mut rpass = fullscreen::begin_pass(
                encoder,
                &pass.name,
                &target.view,
                if warm {
                    wgpu::LoadOp::Load
                } else {
                    fullscreen::CLEAR
                },
                self.timer.as_ref().and_then(|t| t.writes(i)),
            );
            rpass.set_pipeline(&pass.pipeline);
            let offset = u32::try_from(i as u64 * self.globals_stride).unwrap_or(0);
            rpass.set_bind_group(0, &self.frame_group, &[offset]);
            rpass.set_bind_group(1, &pass.inputs[self.parity], &[]);
            if let Some(isf) = &pass.isf {
                rpass.set_bind_group(2, &isf.group, &[]);
            }
            if warm {
                rpass.set_viewport(0.0, 0.0, 1.0, 1.0, 0.0, 1.0);
                rpass.set_scissor_rect(0, 0, 1, 1);
            }
            rpass.draw(0..3, 0..1);
        }
        if let Some(timer) = &mut self.timer {
            timer.resolve(encoder);
        }
    }

    /// Measures every pass's GPU time from now on, when the device has timestamp queries.
    /// Returns whether it does.
    pub fn enable_timing(&mut self, gpu: &Gpu) -> bool {
        if self.timer.is_none() {
            self.timer = super::timing::GpuTimer::new(&gpu.device, &gpu.queue, self.passes.len());
        }
        self.timer.is_some()
    }

    /// Stops measuring pass times.
    pub fn disable_timing(&mut self) {
        self.timer = None;
    }

    /// Call after the frame's submit: starts reading back the timestamps.
    pub fn after_submit(&mut self) {
        if let Some(timer) = &mut self.timer {
            timer.after_submit();
        }
    }

    /// The newest GPU time of each pass in ms, by name (empty without timestamp queries).
    pub fn pass_times(&self) -> impl Iterator<Item = (&str, f32)> {
        let times = self.timer.as_ref().map_or(&[][..], |t| t.latest());
        self.passes
            .iter()
            .zip(times.iter())
            .map(|(p, ms)| (p.name.as_str(), *ms))
    }

    /// The output pass's texture as written by the last [`Self::encode`].
    #[must_use]
    pub fn output(&self) -> Option<&wgpu::Texture> {
        self.passes.last().map(|p| &p.written(self.parity).texture)
    }

    /// The output pass's view as written by the last [`Self::encode`].
    #[must_use]
    pub fn output_view(&self) -> Option<&wgpu::TextureView> {
        self.passes.last().map(|p| &p.written(self.parity).view)
    }

    /// The output's size and format.
    #[must_use]
    pub fn output_info(&self) -> Option<([u32; 2], wgpu::TextureFormat)> {
        self.passes.last().map(|p| (p.size, p.format))
    }

    /// Names and sizes of the passes (for logs and the HUD).
    pub fn describe(&self) -> impl Iterator<Item = (&str, [u32; 2], bool)> {
        self.passes
            .iter()
            .map(|p| (p.name.as_str(), p.size, p.targets.len() == 2))
    }

    /// The texture pass `name` wrote last frame... or this frame (for inspection in tests).
    #[must_use]
    pub fn pass_texture(&self, name: &str, previous: bool) -> Option<&wgpu::Texture> {
        self.passes.iter().find(|p| p.name == name).map(|p| {
            if previous {
                &p.previous(self.parity).texture
            } else {
                &p.written(self.parity).texture
            }
        })
    }

    /// Image `index` of the scene (`TextureSource::Image`): a slot to draw into, or a file's.
    #[must_use]
    pub fn image(&self, index: usize) -> Option<&super::images::SceneImage> {
        self.images.get(index)
    }

    /// The texture model output `(model, output)` is uploaded into.
    #[must_use]
    pub fn model_texture(&self, key: (usize, usize)) -> Option<&ModelTexture> {
        self.model_textures.iter().find(|t| t.key == key)
    }

    /// The texture pass `index` wrote this frame (what a model reading it gets).
    #[must_use]
    pub fn pass_output(
        &self,
        index: usize,
    ) -> Option<(
        &wgpu::Texture,
        &wgpu::TextureView,
        [u32; 2],
        wgpu::TextureFormat,
    )> {
        self.passes.get(index).map(|p| {
            let t = p.written(self.parity);
            (&t.texture, &t.view, p.size, p.format)
        })
    }

    /// Every target of pass `index` (two for a feedback pass) with its size and format.
    pub fn pass_views(
        &self,
        index: usize,
    ) -> impl Iterator<Item = (&wgpu::TextureView, [u32; 2], wgpu::TextureFormat)> {
        self.passes
            .get(index)
            .into_iter()
            .flat_map(|p| p.targets.iter().map(move |t| (&t.view, p.size, p.format)))
    }

    /// The scene size the chain renders at.
    #[must_use]
    pub fn scene_size(&self) -> [u32; 2] {
        self.scene_size
    }
}

/// The local date as ISF's `DATE` and Shadertoy's `iDate`: year, month, day, seconds since
/// midnight, in `zone` (looked up once per chain: the frame reads no files).
#[allow(clippy::cast_precision_loss)] // calendar numbers are small
fn local_date(zone: &jiff::tz::TimeZone) -> [f32; 4] {
    let now = jiff::Timestamp::now().to_zoned(zone.clone());
    let seconds = f64::from(now.hour()) * 3600.0
        + f64::from(now.minute()) * 60.0
        + f64::from(now.second())
        + f64::from(now.subsec_nanosecond()) * 1e-9;
    #[allow(clippy::cast_possible_truncation)]
    [
        f32::from(now.year()),
        f32::from(now.month()),
        f32::from(now.day()),
        seconds as f32,
    ]
}

/// An ISF pass's inputs block: its layout (group 2) and its buffer and bind group.
fn isf_inputs(
    device: &wgpu::Device,
    pass: &str,
    block: &crate::render::glsl::isf::InputBlock,
    layout: &crate::render::glsl::isf::IsfLayout,
) -> (wgpu::BindGroupLayout, IsfInputs) {
    let size = u64::from(block.size.max(16));
    let group_layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
        label: Some(&format!("{pass}.isf.layout")),
        entries: &[wgpu::BindGroupLayoutEntry {
            binding: 0,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: NonZeroU64::new(size),
            },
            count: None,
        }],
    });
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some(&format!("{pass}.isf.inputs")),
        size,
        usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: Some(&format!("{pass}.isf.group")),
        layout: &group_layout,
        entries: &[wgpu::BindGroupEntry {
            binding: 0,
            resource: buffer.as_entire_binding(),
        }],
    });
    (
        group_layout,
        IsfInputs {
            block: block.clone(),
            layout: layout.clone(),
            buffer,
            group,
        },
    )
}

fn create_target(
    device: &wgpu::Device,
    label: &str,
    size: [u32; 2],
    format: wgpu::TextureFormat,
) -> Target {
    let texture = crate::render::texture_2d(
        device,
        label,
        size,
        format,
        wgpu::TextureUsages::RENDER_ATTACHMENT
            | wgpu::TextureUsages::TEXTURE_BINDING
            | wgpu::TextureUsages::COPY_SRC,
    );
    let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
    Target { texture, view }
}

/// A sampler for readers of a pass with this filter and wrap.
#[must_use]
pub fn create_sampler(
    device: &wgpu::Device,
    label: &str,
    filter: Filter,
    wrap: Wrap,
) -> wgpu::Sampler {
    let address = match wrap {
        Wrap::Clamp => wgpu::AddressMode::ClampToEdge,
        Wrap::Repeat => wgpu::AddressMode::Repeat,
        Wrap::Mirror => wgpu::AddressMode::MirrorRepeat,
    };
    let filter = match filter {
        Filter::Linear => wgpu::FilterMode::Linear,
        Filter::Nearest => wgpu::FilterMode::Nearest,
    };
    device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some(label),
        address_mode_u: address,
        address_mode_v: address,
        address_mode_w: address,
        mag_filter: filter,
        min_filter: filter,
        ..Default::default()
    })
}
