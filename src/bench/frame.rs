//! The default benchmark: hypna's frame against a bare wgpu loop drawing the same composed
//! shader into the same size, in interleaved rounds.

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Instant;

use super::{BenchError, Stats, timed_frame};
use crate::clock::Clock;
use crate::render::chain::ChainError;
use crate::render::context::Gpu;
use crate::render::fullscreen;
use crate::render::globals::Globals;
use crate::render::shader::texture_format;
use crate::runtime::{LoadError, Runtime, RuntimeOptions, load_shaders};
use crate::scene::Scene;

/// What to measure.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A single-pass scene without inputs.
    pub scene: PathBuf,
    /// Render size.
    pub size: [u32; 2],
    /// Frames per round and loop.
    pub frames: u32,
    /// Rounds (each runs both loops).
    pub rounds: u32,
}

/// The result of a benchmark run.
#[derive(Debug, Clone)]
pub struct BenchReport {
    /// The scene measured.
    pub scene: PathBuf,
    /// Its render size.
    pub size: [u32; 2],
    /// The adapter measured on.
    pub adapter: String,
    /// hypna's frame (runtime + pass chain), submit and wait included.
    pub hypna: Stats,
    /// The bare wgpu loop, submit and wait included.
    pub bare: Stats,
}

impl BenchReport {
    /// hypna's median frame time over the bare loop's.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        if self.bare.median_ms > 0.0 {
            self.hypna.median_ms / self.bare.median_ms
        } else {
            f64::NAN
        }
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "bench: {} at {}x{} on {}",
            self.scene.display(),
            self.size[0],
            self.size[1],
            self.adapter
        )?;
        for (name, s) in [("hypna", self.hypna), ("bare wgpu", self.bare)] {
            writeln!(f, "  {name:<10} {s}")?;
        }
        write!(
            f,
            "  ratio hypna/bare (median): {:.3} (goal <= 1.10)",
            self.ratio()
        )
    }
}

/// Runs the benchmark.
///
/// # Errors
/// When the scene does not load or is not a single pass without inputs.
pub fn run(gpu: &Gpu, options: &BenchOptions) -> Result<BenchReport, BenchError> {
    let scene = Scene::read(&options.scene).map_err(LoadError::from)?;
    if scene.passes.len() != 1 || scene.passes.iter().any(|p| !p.inputs.is_empty()) {
        return Err(BenchError::Unsupported(format!(
            "{}: the bare-loop baseline needs a scene with one pass and no inputs",
            options.scene.display()
        )));
    }
    let shaders = load_shaders(&scene).map_err(LoadError::Shader)?;
    let mut bare = BareLoop::new(
        gpu,
        &scene,
        &shaders[0].source,
        &shaders[0].fragment_entry,
        options.size,
    )?;
    let runtime_options = RuntimeOptions {
        size: Some(options.size),
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::new(gpu, scene, &runtime_options)?;
    let mut clock = Clock::fixed(60.0);

    let hypna_frame =
        |runtime: &mut Runtime, clock: &mut Clock| timed_frame(gpu, runtime, clock, "bench.hypna");
    // Warm up both (pipeline caches, first-use allocations).
    for _ in 0..3 {
        hypna_frame(&mut runtime, &mut clock);
        bare.frame(gpu, 0.0);
    }
    let (mut hypna_ms, mut bare_ms) = (Vec::new(), Vec::new());
    for _ in 0..options.rounds {
        for _ in 0..options.frames {
            hypna_ms.push(hypna_frame(&mut runtime, &mut clock));
        }
        for i in 0..options.frames {
            bare_ms.push(bare.frame(gpu, f64::from(i) / 60.0));
        }
    }
    Ok(BenchReport {
        scene: options.scene.clone(),
        size: options.size,
        adapter: gpu.describe(),
        hypna: Stats::of(&hypna_ms),
        bare: Stats::of(&bare_ms),
    })
}

/// The baseline: the same composed WGSL drawn with nothing but wgpu calls.
struct BareLoop {
    view: wgpu::TextureView,
    pipeline: wgpu::RenderPipeline,
    globals: wgpu::Buffer,
    params: wgpu::Buffer,
    group0: wgpu::BindGroup,
    group1: wgpu::BindGroup,
    params_data: Vec<f32>,
    size: [u32; 2],
}

impl BareLoop {
    fn new(
        gpu: &Gpu,
        scene: &Scene,
        source: &str,
        fragment: &str,
        size: [u32; 2],
    ) -> Result<Self, BenchError> {
        let device = &gpu.device;
        let format = texture_format(scene.passes[0].format);
        let texture = crate::render::texture_2d(
            device,
            "bare.target",
            size,
            format,
            wgpu::TextureUsages::RENDER_ATTACHMENT,
        );
        let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let globals_size = std::mem::size_of::<Globals>() as u64;
        let params_data: Vec<f32> = scene.params.iter().map(|p| p.default).collect();
        let params_len = (params_data.len().max(1) * 4).div_ceil(16) * 16;
        let mut padded = params_data.clone();
        padded.resize(params_len / 4, 0.0);
        let buffer = |label, size| {
            device.create_buffer(&wgpu::BufferDescriptor {
                label: Some(label),
                size,
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            })
        };
        let globals = buffer("bare.globals", globals_size);
        let params = buffer("bare.params", params_len as u64);
        let entry = |binding, size| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::VERTEX_FRAGMENT,
            ty: wgpu::BindingType::Buffer {
                ty: wgpu::BufferBindingType::Uniform,
                has_dynamic_offset: false,
                min_binding_size: NonZeroU64::new(size),
            },
            count: None,
        };
        let layout0 = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("bare.layout0"),
            entries: &[
                entry(0, globals_size),
                entry(1, params_len as u64),
                crate::render::chain::AUDIO_TEXTURE_LAYOUT_ENTRY,
            ],
        });
        let audio_texture = crate::render::chain::create_audio_texture(device);
        let audio_view = audio_texture.create_view(&wgpu::TextureViewDescriptor::default());
        let layout1 = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("bare.layout1"),
            entries: &[],
        });
        let group0 = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("bare.group0"),
            layout: &layout0,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: globals.as_entire_binding(),
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
        let group1 = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("bare.group1"),
            layout: &layout1,
            entries: &[],
        });
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some("bare.shader"),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("bare.pipeline.layout"),
            bind_group_layouts: &[Some(&layout0), Some(&layout1)],
            immediate_size: 0,
        });
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let pipeline = fullscreen::pipeline(
            device,
            "bare.pipeline",
            &pipeline_layout,
            &module,
            fragment,
            format,
        );
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(BenchError::Load(LoadError::Chain(ChainError::Pipeline {
                pass: "bare".into(),
                file: scene.passes[0].shader.display().to_string(),
                message: e.to_string(),
            })));
        }
        Ok(Self {
            view,
            pipeline,
            globals,
            params,
            group0,
            group1,
            params_data: padded,
            size,
        })
    }

    fn frame(&mut self, gpu: &Gpu, time_secs: f64) -> f64 {
        let start = Instant::now();
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        let g = Globals {
            resolution: [self.size[0] as f32, self.size[1] as f32],
            scene_resolution: [self.size[0] as f32, self.size[1] as f32],
            time: time_secs as f32,
            dt: 1.0 / 60.0,
            ..Globals::default()
        };
        gpu.queue
            .write_buffer(&self.globals, 0, bytemuck::bytes_of(&g));
        gpu.queue
            .write_buffer(&self.params, 0, bytemuck::cast_slice(&self.params_data));
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("bench.bare"),
            });
        {
            let mut rpass =
                fullscreen::begin_pass(&mut encoder, "bare", &self.view, fullscreen::CLEAR, None);
            rpass.set_pipeline(&self.pipeline);
            rpass.set_bind_group(0, &self.group0, &[]);
            rpass.set_bind_group(1, &self.group1, &[]);
            rpass.draw(0..3, 0..1);
        }
        gpu.queue.submit([encoder.finish()]);
        gpu.wait_idle();
        start.elapsed().as_secs_f64() * 1e3
    }
}
