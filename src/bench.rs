//! `hypna bench`: hypna's frame against a bare wgpu loop drawing the same shader into the same
//! size, measured in the same run (interleaved rounds, so machine noise hits both alike).

use std::num::NonZeroU64;
use std::path::PathBuf;
use std::time::Instant;

use crate::clock::Clock;
use crate::render::chain::ChainError;
use crate::render::context::Gpu;
use crate::render::globals::Globals;
use crate::render::shader::{VERTEX_ENTRY, texture_format};
use crate::runtime::{LoadError, Runtime, RuntimeOptions, load_shaders};
use crate::scene::Scene;

/// Errors from the benchmark.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The scene did not load.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The bare loop needs a scene it can reproduce by hand.
    #[error("{0}: the bare-loop baseline needs a scene with one pass and no inputs")]
    Unsupported(String),
    /// Setting up a benchmark failed.
    #[error("{0}")]
    Setup(String),
}

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

/// Frame-time statistics in milliseconds.
#[derive(Debug, Clone, Copy, Default)]
pub struct Stats {
    /// Median.
    pub median_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// Mean.
    pub mean_ms: f64,
    /// Number of frames measured.
    pub frames: usize,
}

impl Stats {
    /// Statistics of `samples` (milliseconds).
    #[must_use]
    pub fn of(samples: &[f64]) -> Self {
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let at = |q: f64| {
            #[allow(
                clippy::cast_possible_truncation,
                clippy::cast_sign_loss,
                clippy::cast_precision_loss
            )]
            let i = ((s.len().saturating_sub(1)) as f64 * q).round() as usize;
            s.get(i).copied().unwrap_or(0.0)
        };
        #[allow(clippy::cast_precision_loss)]
        let mean = if s.is_empty() {
            0.0
        } else {
            s.iter().sum::<f64>() / s.len() as f64
        };
        Self {
            median_ms: at(0.5),
            p90_ms: at(0.9),
            mean_ms: mean,
            frames: s.len(),
        }
    }
}

/// The result of a benchmark run.
#[derive(Debug, Clone)]
pub struct BenchReport {
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

/// Runs the benchmark.
///
/// # Errors
/// When the scene does not load or is not a single pass without inputs.
pub fn run(gpu: &Gpu, options: &BenchOptions) -> Result<BenchReport, BenchError> {
    let scene = Scene::load(&options.scene).map_err(LoadError::from)?;
    if scene.passes.len() != 1 || scene.passes.iter().any(|p| !p.inputs.is_empty()) {
        return Err(BenchError::Unsupported(options.scene.display().to_string()));
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
        adapter: gpu.describe(),
        hypna: Stats::of(&hypna_ms),
        bare: Stats::of(&bare_ms),
    })
}

/// One hypna frame as the live loop runs it (record, submit, wait for the GPU, feed the
/// models), in milliseconds.
pub fn timed_frame(gpu: &Gpu, runtime: &mut Runtime, clock: &mut Clock, label: &str) -> f64 {
    let start = Instant::now();
    encode_and_wait(gpu, runtime, clock.tick(), label);
    start.elapsed().as_secs_f64() * 1e3
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
        let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
            label: Some("bare.pipeline"),
            layout: Some(&pipeline_layout),
            vertex: wgpu::VertexState {
                module: &module,
                entry_point: Some(VERTEX_ENTRY),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                buffers: &[],
            },
            primitive: wgpu::PrimitiveState::default(),
            depth_stencil: None,
            multisample: wgpu::MultisampleState::default(),
            fragment: Some(wgpu::FragmentState {
                module: &module,
                entry_point: Some(fragment),
                compilation_options: wgpu::PipelineCompilationOptions::default(),
                targets: &[Some(wgpu::ColorTargetState {
                    format,
                    blend: None,
                    write_mask: wgpu::ColorWrites::ALL,
                })],
            }),
            multiview_mask: None,
            cache: None,
        });
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
            let mut rpass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
                label: Some("bare"),
                color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                    view: &self.view,
                    depth_slice: None,
                    resolve_target: None,
                    ops: wgpu::Operations {
                        load: wgpu::LoadOp::Clear(wgpu::Color::BLACK),
                        store: wgpu::StoreOp::Store,
                    },
                })],
                depth_stencil_attachment: None,
                timestamp_writes: None,
                occlusion_query_set: None,
                multiview_mask: None,
            });
            rpass.set_pipeline(&self.pipeline);
            rpass.set_bind_group(0, &self.group0, &[]);
            rpass.set_bind_group(1, &self.group1, &[]);
            rpass.draw(0..3, 0..1);
        }
        gpu.queue.submit([encoder.finish()]);
        let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
        start.elapsed().as_secs_f64() * 1e3
    }
}

/// What the model benchmark measures.
#[derive(Debug, Clone)]
pub struct ModelBenchOptions {
    /// A scene with at least one model (its rate limits are lifted: the model runs flat out).
    pub scene: PathBuf,
    /// Render size.
    pub size: [u32; 2],
    /// Frames per round and phase.
    pub frames: u32,
    /// Rounds (each runs a phase without and one with the model).
    pub rounds: u32,
    /// ONNX Runtime intra-op threads.
    pub threads: usize,
}

/// Results of the model benchmark.
#[derive(Debug, Clone)]
pub struct ModelBenchReport {
    /// Inference (worker run) times, ms.
    pub inference: Stats,
    /// Readback collection, conversion and upload per inference, ms (all node-side CPU work
    /// divided by the number of runs).
    pub io_per_inference_ms: f64,
    /// Gaps between the end of one run and the start of the next, ms.
    pub gap: Stats,
    /// Compositor frame times with the model paused, ms.
    pub frames_without: Stats,
    /// Compositor frame times with the model running, ms.
    pub frames_with: Stats,
    /// p99 of the above, ms.
    pub p99_without_ms: f64,
    /// p99 of the above, ms.
    pub p99_with_ms: f64,
}

impl ModelBenchReport {
    /// I/O time as a share of inference time.
    #[must_use]
    pub fn io_share(&self) -> f64 {
        self.io_per_inference_ms / self.inference.mean_ms.max(1e-9)
    }

    /// Mean gap as a share of mean run time.
    #[must_use]
    pub fn gap_share(&self) -> f64 {
        self.gap.mean_ms / self.inference.mean_ms.max(1e-9)
    }

    /// p99 frame time with the model over without.
    #[must_use]
    pub fn p99_ratio(&self) -> f64 {
        self.p99_with_ms / self.p99_without_ms.max(1e-9)
    }
}

fn percentile(samples: &[f64], q: f64) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(f64::total_cmp);
    let i = ((s.len().saturating_sub(1)) as f64 * q).round() as usize;
    s.get(i).copied().unwrap_or(0.0)
}

/// Runs the model benchmark: the scene in live mode (the frame never waits on the model),
/// alternating phases with the model paused and running.
///
/// # Errors
/// When the scene or its models do not load.
pub fn run_models(gpu: &Gpu, options: &ModelBenchOptions) -> Result<ModelBenchReport, BenchError> {
    let mut scene = Scene::load(&options.scene).map_err(LoadError::from)?;
    if scene.models.is_empty() {
        return Err(BenchError::Unsupported(format!(
            "{} has no [[model]]",
            options.scene.display()
        )));
    }
    for m in &mut scene.models {
        m.every = 1;
        m.max_rate_hz = None;
    }
    let runtime_options = RuntimeOptions {
        size: Some(options.size),
        threads: Some(options.threads),
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::new(gpu, scene, &runtime_options)?;
    let mut clock = Clock::real();
    let mut frame = |runtime: &mut Runtime| timed_frame(gpu, runtime, &mut clock, "bench.models");
    // Warm up: the first runs allocate inside ONNX Runtime.
    for _ in 0..10 {
        frame(&mut runtime);
    }
    let (mut without, mut with, mut runs, mut gaps) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let io_before = runtime.nodes()[0].io_stats();
    let runs_before = runtime.nodes()[0].worker_stats().runs;
    for _ in 0..options.rounds {
        runtime.set_models_paused(true);
        // Let a run in flight finish before measuring the paused phase.
        while runtime
            .nodes()
            .iter()
            .any(crate::model::node::ModelNode::busy)
        {
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
        for _ in 0..options.frames {
            without.push(frame(&mut runtime));
        }
        runtime.set_models_paused(false);
        let mut last_runs = runtime.nodes()[0].worker_stats().runs;
        let mut first_of_phase = true;
        for _ in 0..options.frames {
            with.push(frame(&mut runtime));
            let stats = runtime.nodes()[0].worker_stats();
            if stats.runs > last_runs {
                if let Some(r) = stats.last_run {
                    runs.push(r.as_secs_f64() * 1e3);
                }
                // The first run of a phase follows the pause: its gap is not the model's.
                if let (Some(g), false) = (stats.last_gap, first_of_phase) {
                    gaps.push(g.as_secs_f64() * 1e3);
                }
                first_of_phase = false;
                last_runs = stats.runs;
            }
        }
    }
    let io = runtime.nodes()[0].io_stats();
    let total_runs = runtime.nodes()[0]
        .worker_stats()
        .runs
        .saturating_sub(runs_before)
        .max(1);
    let io_ms = (io.input_time + io.upload_time)
        .saturating_sub(io_before.input_time + io_before.upload_time)
        .as_secs_f64()
        * 1e3;
    Ok(ModelBenchReport {
        inference: Stats::of(&runs),
        io_per_inference_ms: io_ms / total_runs as f64,
        gap: Stats::of(&gaps),
        p99_without_ms: percentile(&without, 0.99),
        p99_with_ms: percentile(&with, 0.99),
        frames_without: Stats::of(&without),
        frames_with: Stats::of(&with),
    })
}

/// Frame-level OSC figures: how soon a value reaches the uniforms, and what a message flood
/// costs the frame.
#[derive(Debug, Clone)]
pub struct OscFrameReport {
    /// Frame times without OSC traffic, ms.
    pub frames_quiet: Stats,
    /// Frame times while 5,000 messages/s arrive, ms.
    pub frames_loaded: Stats,
    /// For each probe: frames started after the send up to the first whose uniforms carried
    /// the value (1 = the next frame after the send).
    pub latency_frames: Vec<f64>,
    /// For each probe: milliseconds from the send to the start of that frame.
    pub latency_ms: Vec<f64>,
    /// Messages the server counted as received during the run.
    pub received: u64,
}

impl OscFrameReport {
    /// Mean loaded frame time over mean quiet frame time.
    #[must_use]
    pub fn load_ratio(&self) -> f64 {
        self.frames_loaded.mean_ms / self.frames_quiet.mean_ms.max(1e-9)
    }

    /// The 99th percentile of `latency_frames`.
    #[must_use]
    pub fn latency_p99_frames(&self) -> f64 {
        percentile(&self.latency_frames, 0.99)
    }
}

/// Runs `scene` live with OSC on an ephemeral loopback port: quiet and loaded phases
/// alternate (a sender thread pushes `rate_hz` messages/s to a param during loaded phases),
/// and `probes` single messages measure send-to-uniform latency in frames.
///
/// # Errors
/// When the scene does not load or has no params.
pub fn run_osc_frames(
    gpu: &Gpu,
    scene: &std::path::Path,
    size: [u32; 2],
    frames: u32,
    rounds: u32,
    probes: u32,
) -> Result<OscFrameReport, BenchError> {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    let scene_def = Scene::load(scene).map_err(LoadError::from)?;
    let Some(param) = scene_def.params.first().cloned() else {
        return Err(BenchError::Unsupported(format!(
            "{} has no params to drive",
            scene.display()
        )));
    };
    let options = RuntimeOptions {
        size: Some(size),
        osc: crate::runtime::OscMode::On {
            listen: Some(std::net::SocketAddr::from(([127, 0, 0, 1], 0))),
            settings: None,
        },
        ..RuntimeOptions::default()
    };
    let mut runtime = Runtime::new(gpu, scene_def, &options)?;
    let Some((addr, _)) = runtime.osc_status() else {
        return Err(BenchError::Unsupported(
            "the OSC server did not start".into(),
        ));
    };
    let address = format!("/hypna/param/{}", param.name);
    let encode = |value: f32| {
        rosc::encoder::encode(&rosc::OscPacket::Message(rosc::OscMessage {
            addr: address.clone(),
            args: vec![rosc::OscType::Float(value)],
        }))
        .unwrap_or_default()
    };
    let socket = std::net::UdpSocket::bind("127.0.0.1:0")
        .map_err(|e| BenchError::Unsupported(e.to_string()))?;
    let mut clock = Clock::real();
    let mut frame = |runtime: &mut Runtime| timed_frame(gpu, runtime, &mut clock, "bench.osc");
    for _ in 0..5 {
        frame(&mut runtime);
    }
    // Latency probes from their own thread at random moments (a controller does not know
    // the frame phase): each value is timed from its send to the start of the first frame
    // whose uniforms carry it, in units of the mean frame time.
    let probe: Arc<std::sync::Mutex<Option<(f32, Instant)>>> =
        Arc::new(std::sync::Mutex::new(None));
    let done = Arc::new(AtomicBool::new(false));
    let probe_thread = {
        let probe = Arc::clone(&probe);
        let done = Arc::clone(&done);
        let socket = socket
            .try_clone()
            .map_err(|e| BenchError::Unsupported(e.to_string()))?;
        let (min, max) = (param.min, param.max);
        let packets: Vec<(f32, Vec<u8>)> = (0..17)
            .map(|k| {
                let v = min + (max - min) * (0.1 + 0.8 * (k as f32 / 16.0));
                (v, encode(v))
            })
            .collect();
        std::thread::spawn(move || {
            let mut seed: u64 = 0x5eed;
            for i in 0..probes as usize {
                // Wait 100..300 ms, pseudo-randomly, so sends land anywhere in a frame.
                seed = seed
                    .wrapping_mul(6_364_136_223_846_793_005)
                    .wrapping_add(1_442_695_040_888_963_407);
                std::thread::sleep(std::time::Duration::from_millis(100 + (seed >> 33) % 200));
                let (v, bytes) = &packets[i % packets.len()];
                if let Ok(mut slot) = probe.lock() {
                    *slot = Some((*v, Instant::now()));
                }
                let _ = socket.send_to(bytes, addr);
            }
            done.store(true, Ordering::Relaxed);
        })
    };
    let mut latency_ms = Vec::new();
    let mut latency_frames = Vec::new();
    // Frames started since the pending probe was sent.
    let mut started_since_send = 0u32;
    let mut current: Option<Instant> = None;
    while !done.load(Ordering::Relaxed) {
        let pending = probe.lock().ok().and_then(|slot| *slot);
        if pending.map(|(_, sent)| sent) != current {
            current = pending.map(|(_, sent)| sent);
            started_since_send = 0;
        }
        let started = Instant::now();
        if current.is_some_and(|sent| started >= sent) {
            started_since_send += 1;
        }
        frame(&mut runtime);
        if let Some((value, sent)) = pending
            && started >= sent
            && runtime
                .params
                .targets()
                .any(|(name, v)| name == param.name && (v - value).abs() < 1e-6)
        {
            latency_ms.push(started.saturating_duration_since(sent).as_secs_f64() * 1e3);
            latency_frames.push(f64::from(started_since_send));
            if let Ok(mut slot) = probe.lock() {
                *slot = None;
            }
        }
    }
    let _ = probe_thread.join();
    // Load: quiet and loaded phases alternate.
    let (mut quiet, mut loaded) = (Vec::new(), Vec::new());
    let flood = encode(param.min);
    for _ in 0..rounds {
        for _ in 0..frames {
            quiet.push(frame(&mut runtime));
        }
        let stop = Arc::new(AtomicBool::new(false));
        let sender = {
            let stop = Arc::clone(&stop);
            let socket = socket
                .try_clone()
                .map_err(|e| BenchError::Unsupported(e.to_string()))?;
            let flood = flood.clone();
            std::thread::spawn(move || {
                let start = Instant::now();
                let mut sent: u64 = 0;
                while !stop.load(Ordering::Relaxed) {
                    // 5,000 messages per second, paced in small batches.
                    let due = (start.elapsed().as_secs_f64() * 5000.0) as u64;
                    while sent < due {
                        let _ = socket.send_to(&flood, addr);
                        sent += 1;
                    }
                    std::thread::sleep(std::time::Duration::from_micros(500));
                }
            })
        };
        for _ in 0..frames {
            loaded.push(frame(&mut runtime));
        }
        stop.store(true, Ordering::Relaxed);
        let _ = sender.join();
    }
    let received = runtime
        .osc_status()
        .map_or(0, |(_, c)| c.get(crate::osc::Counter::Received));
    Ok(OscFrameReport {
        frames_quiet: Stats::of(&quiet),
        frames_loaded: Stats::of(&loaded),
        latency_frames,
        latency_ms,
        received,
    })
}

/// `hypna bench --transition`: frame times around a pre-warmed playlist switch.
#[derive(Debug, Clone)]
pub struct TransitionReport {
    /// The adapter.
    pub adapter: String,
    /// From and to.
    pub scenes: (String, String),
    /// Every frame of the run.
    pub all: Stats,
    /// Frames of the scene switched from, before the request.
    pub before: Stats,
    /// Frames of the scene switched to, after the crossfade.
    pub after: Stats,
    /// Frames from the switch request to the end of the crossfade.
    pub transition: Stats,
    /// The slowest transition frame.
    pub worst_ms: f64,
    /// The largest ratio of a transition frame to the median of the scene it rendered
    /// (the outgoing scene while the next one loads, the incoming one while fading).
    pub worst_ratio: f64,
    /// Frames from the request to the first crossfaded frame (loading off-thread).
    pub load_frames: usize,
}

impl std::fmt::Display for TransitionReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(f, "adapter:    {}", self.adapter)?;
        writeln!(f, "switch:     {} -> {}", self.scenes.0, self.scenes.1)?;
        writeln!(
            f,
            "all frames: median {:.2} ms, p90 {:.2} ms ({} frames)",
            self.all.median_ms, self.all.p90_ms, self.all.frames
        )?;
        writeln!(
            f,
            "before:     median {:.2} ms ({} frames of {})",
            self.before.median_ms, self.before.frames, self.scenes.0
        )?;
        writeln!(
            f,
            "after:      median {:.2} ms ({} frames of {})",
            self.after.median_ms, self.after.frames, self.scenes.1
        )?;
        writeln!(
            f,
            "transition: median {:.2} ms, worst {:.2} ms ({} frames, {} of them while the next scene loaded off-thread)",
            self.transition.median_ms, self.worst_ms, self.transition.frames, self.load_frames
        )?;
        writeln!(
            f,
            "worst transition frame / median frame of the whole run: {:.3}",
            self.worst_ms / self.all.median_ms
        )?;
        write!(
            f,
            "worst transition frame / median frame of its scene: {:.3} (goal <= 2.0)",
            self.worst_ratio
        )
    }
}

/// Plays `from`, asks for `to` after `before` frames (loaded and pre-warmed on a thread),
/// crossfades over `fade_secs` of a fixed 30 fps clock, and times every frame including the
/// show's work (the switch itself happens inside a frame).
///
/// # Errors
/// When a scene does not load.
pub fn run_transition(
    gpu: &Gpu,
    from: &std::path::Path,
    to: &std::path::Path,
    size: [u32; 2],
    before: usize,
    fade_secs: f64,
) -> Result<TransitionReport, BenchError> {
    let dir = std::env::temp_dir().join(format!("hypna-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| BenchError::Setup(e.to_string()))?;
    let playlist = dir.join("transition.toml");
    let absolute = |p: &std::path::Path| std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let text = format!(
        "[playlist]\nname = \"bench\"\ntransition = {{ kind = \"crossfade\", secs = {fade_secs} }}\n\n[[entry]]\nscene = {:?}\ncue = true\n\n[[entry]]\nscene = {:?}\ncue = true\n",
        absolute(from).display().to_string(),
        absolute(to).display().to_string(),
    );
    std::fs::write(&playlist, text).map_err(|e| BenchError::Setup(e.to_string()))?;
    let options = RuntimeOptions {
        size: Some(size),
        ..RuntimeOptions::default()
    };
    let (mut show, mut runtime) = crate::show::Show::open(gpu, &playlist, &options)?;
    let _ = std::fs::remove_dir_all(&dir);
    let from_name = runtime.scene.name.clone();
    let mut clock = Clock::fixed(30.0);
    let mut all = Vec::new();
    let mut before_ms = Vec::new();
    let mut after_ms = Vec::new();
    // (ms, rendered the incoming scene)
    let mut transition: Vec<(f64, bool)> = Vec::new();
    let mut load_frames = 0;
    let mut requested = false;
    let mut faded = false;
    // Warm-up frames are not measured.
    for _ in 0..3 {
        let t = clock.tick();
        show.before_frame(gpu, &mut runtime, t);
        encode_and_wait(gpu, &mut runtime, t, "bench.transition");
    }
    loop {
        let t = clock.tick();
        if all.len() == before && !requested {
            show.next(gpu, &runtime, t.time_secs);
            requested = true;
        }
        let start = Instant::now();
        show.before_frame(gpu, &mut runtime, t);
        let show_ms = start.elapsed().as_secs_f64() * 1e3;
        encode_and_wait(gpu, &mut runtime, t, "bench.transition");
        let ms = start.elapsed().as_secs_f64() * 1e3;
        tracing::debug!(
            "frame {}: {} {ms:.1} ms (show {show_ms:.1} ms, transition {})",
            all.len(),
            runtime.scene.name,
            runtime.in_transition()
        );
        all.push(ms);
        let incoming = show.switches > 0;
        if !requested {
            before_ms.push(ms);
        } else if !faded {
            transition.push((ms, incoming));
            if runtime.in_transition() {
                faded = true;
            } else if !incoming {
                load_frames += 1;
            }
        } else if runtime.in_transition() {
            transition.push((ms, true));
        } else {
            after_ms.push(ms);
            if after_ms.len() >= before {
                break;
            }
        }
        if all.len() > before + 10_000 {
            return Err(BenchError::Setup("the switch never happened".into()));
        }
    }
    let before_stats = Stats::of(&before_ms);
    let after_stats = Stats::of(&after_ms);
    let worst_ms = transition.iter().map(|t| t.0).fold(0.0, f64::max);
    let worst_ratio = transition
        .iter()
        .map(|&(ms, incoming)| {
            ms / if incoming {
                after_stats.median_ms
            } else {
                before_stats.median_ms
            }
        })
        .fold(0.0, f64::max);
    let transition_ms: Vec<f64> = transition.iter().map(|t| t.0).collect();
    Ok(TransitionReport {
        adapter: gpu.describe(),
        scenes: (from_name, runtime.scene.name.clone()),
        all: Stats::of(&all),
        before: before_stats,
        after: after_stats,
        transition: Stats::of(&transition_ms),
        worst_ms,
        worst_ratio,
        load_frames,
    })
}

/// Encodes, submits and waits for one frame of `runtime` at `t`.
fn encode_and_wait(gpu: &Gpu, runtime: &mut Runtime, t: crate::clock::FrameTime, label: &str) {
    let mut encoder = gpu
        .device
        .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) });
    runtime.encode_frame(gpu, &mut encoder, t);
    gpu.queue.submit([encoder.finish()]);
    let _ = gpu.device.poll(wgpu::PollType::wait_indefinitely());
    runtime.after_submit(gpu);
}
