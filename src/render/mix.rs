//! The final mix: a crossfade between the frame a transition started from and the live
//! scene, times an output level (the schedule's fade to black). One fullscreen pass into an
//! `Rgba16Float` texture; only recorded while a transition runs or the level is below 1.

use super::fullscreen;

/// The mix's fragment stage (after the fullscreen vertex stage).
const MIX_WGSL: &str = "
struct Mix { amount: f32, level: f32, pad0: f32, pad1: f32 }
@group(0) @binding(0) var from_tex: texture_2d<f32>;
@group(0) @binding(1) var to_tex: texture_2d<f32>;
@group(0) @binding(2) var samp: sampler;
@group(0) @binding(3) var<uniform> mix_u: Mix;
@fragment
fn fs(in: VertexOutput) -> @location(0) vec4<f32> {
    let a = textureSampleLevel(from_tex, samp, in.uv, 0.0);
    let b = textureSampleLevel(to_tex, samp, in.uv, 0.0);
    let t = smoothstep(0.0, 1.0, clamp(mix_u.amount, 0.0, 1.0));
    let c = mix(a, b, t);
    return vec4<f32>(c.rgb * mix_u.level, 1.0);
}
";

/// Format of the mix output (and of transition snapshots).
pub const MIX_FORMAT: wgpu::TextureFormat = wgpu::TextureFormat::Rgba16Float;

/// The crossfade and level pass.
pub struct Mixer {
    pipeline: wgpu::RenderPipeline,
    layout: wgpu::BindGroupLayout,
    sampler: wgpu::Sampler,
    uniform: wgpu::Buffer,
    target: Option<(wgpu::Texture, wgpu::TextureView)>,
}

impl Mixer {
    /// Compiles the mix pipeline.
    #[must_use]
    pub fn new(device: &wgpu::Device) -> Self {
        let module = fullscreen::module(device, "mix.shader", MIX_WGSL);
        let texture_entry = |binding| wgpu::BindGroupLayoutEntry {
            binding,
            visibility: wgpu::ShaderStages::FRAGMENT,
            ty: wgpu::BindingType::Texture {
                sample_type: wgpu::TextureSampleType::Float { filterable: true },
                view_dimension: wgpu::TextureViewDimension::D2,
                multisampled: false,
            },
            count: None,
        };
        let layout = device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
            label: Some("mix.layout"),
            entries: &[
                texture_entry(0),
                texture_entry(1),
                wgpu::BindGroupLayoutEntry {
                    binding: 2,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Sampler(wgpu::SamplerBindingType::Filtering),
                    count: None,
                },
                wgpu::BindGroupLayoutEntry {
                    binding: 3,
                    visibility: wgpu::ShaderStages::FRAGMENT,
                    ty: wgpu::BindingType::Buffer {
                        ty: wgpu::BufferBindingType::Uniform,
                        has_dynamic_offset: false,
                        min_binding_size: None,
                    },
                    count: None,
                },
            ],
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some("mix.pipeline.layout"),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = fullscreen::pipeline(
            device,
            "mix.pipeline",
            &pipeline_layout,
            &module,
            "fs",
            MIX_FORMAT,
        );
        let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
            label: Some("mix.sampler"),
            mag_filter: wgpu::FilterMode::Linear,
            min_filter: wgpu::FilterMode::Linear,
            ..Default::default()
        });
        let uniform = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("mix.uniform"),
            size: 16,
            usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        });
        Self {
            pipeline,
            layout,
            sampler,
            uniform,
            target: None,
        }
    }

    /// Records `from` crossfaded into `to` by `amount` (0 = all `from`), times `level`,
    /// into the mix target of `size` (created or resized as needed).
    #[allow(clippy::too_many_arguments)]
    pub fn draw(
        &mut self,
        device: &wgpu::Device,
        queue: &wgpu::Queue,
        encoder: &mut wgpu::CommandEncoder,
        from: &wgpu::TextureView,
        to: &wgpu::TextureView,
        size: [u32; 2],
        amount: f32,
        level: f32,
    ) {
        if self
            .target
            .as_ref()
            .is_none_or(|(t, _)| [t.width(), t.height()] != size)
        {
            let texture = crate::render::texture_2d(
                device,
                "mix.target",
                size,
                MIX_FORMAT,
                wgpu::TextureUsages::RENDER_ATTACHMENT
                    | wgpu::TextureUsages::TEXTURE_BINDING
                    | wgpu::TextureUsages::COPY_SRC,
            );
            let view = texture.create_view(&wgpu::TextureViewDescriptor::default());
            self.target = Some((texture, view));
        }
        let Some((_, target)) = &self.target else {
            return;
        };
        queue.write_buffer(
            &self.uniform,
            0,
            bytemuck::cast_slice(&[amount, level.clamp(0.0, 1.0), 0.0, 0.0]),
        );
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("mix.group"),
            layout: &self.layout,
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(from),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::TextureView(to),
                },
                wgpu::BindGroupEntry {
                    binding: 2,
                    resource: wgpu::BindingResource::Sampler(&self.sampler),
                },
                wgpu::BindGroupEntry {
                    binding: 3,
                    resource: self.uniform.as_entire_binding(),
                },
            ],
        });
        let mut pass = fullscreen::begin_pass(encoder, "mix", target, fullscreen::CLEAR, None);
        pass.set_pipeline(&self.pipeline);
        pass.set_bind_group(0, &group, &[]);
        pass.draw(0..3, 0..1);
    }

    /// The mix target as last drawn.
    #[must_use]
    pub fn output(&self) -> Option<(&wgpu::Texture, &wgpu::TextureView)> {
        self.target.as_ref().map(|(t, v)| (t, v))
    }
}
