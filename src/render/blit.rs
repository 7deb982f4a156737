//! Presenting is one blit: the chain's output is drawn into the surface (or an RGBA8 readback
//! target) with a viewport that letterboxes or fills. Pipelines are cached per target format.

use std::collections::HashMap;

use super::fullscreen;

/// The blit's fragment stages (after the fullscreen vertex stage).
const BLIT_WGSL: &str = "
@group(0) @binding(0) var src: texture_2d<f32>;
@group(0) @binding(1) var src_sampler: sampler;
@fragment
fn fs(in: VertexOutput) -> @location(0) vec4<f32> {
    let c = textureSampleLevel(src, src_sampler, in.uv, 0.0);
    return vec4<f32>(clamp(c.rgb, vec3<f32>(0.0), vec3<f32>(1.0)), 1.0);
}
@fragment
fn fs_raw(in: VertexOutput) -> @location(0) vec4<f32> {
    return textureSampleLevel(src, src_sampler, in.uv, 0.0);
}
";

/// How the output fits a target of another aspect ratio.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Fit {
    /// Whole image visible, black bars where the aspects differ.
    #[default]
    Letterbox,
    /// Stretch to the whole target.
    Fill,
}

/// Copies a texture into a target of any size and format.
pub struct Blitter {
    module: wgpu::ShaderModule,
    layouts: [wgpu::BindGroupLayout; 2],
    pipeline_layouts: [wgpu::PipelineLayout; 2],
    samplers: [wgpu::Sampler; 2],
    pipelines: HashMap<(wgpu::TextureFormat, bool, bool), wgpu::RenderPipeline>,
}

impl Blitter {
    /// Compiles the blit shader.
    #[must_use]
    pub fn new(device: &wgpu::Device) -> Self {
        let module = fullscreen::module(device, "blit.shader", BLIT_WGSL);
        let make_layout = |filterable: bool| {
            device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(if filterable {
                    "blit.layout.linear"
                } else {
                    "blit.layout.nearest"
                }),
                entries: &[
                    wgpu::BindGroupLayoutEntry {
                        binding: 0,
                        visibility: wgpu::ShaderStages::FRAGMENT,
                        ty: wgpu::BindingType::Texture {
                            sample_type: wgpu::TextureSampleType::Float { filterable },
                            view_dimension: wgpu::TextureViewDimension::D2,
                            multisampled: false,
                        },
                        count: None,
                    },
                    wgpu::BindGroupLayoutEntry {
                        binding: 1,
                        visibility: wgpu::ShaderStages::FRAGMENT,
                        ty: wgpu::BindingType::Sampler(if filterable {
                            wgpu::SamplerBindingType::Filtering
                        } else {
                            wgpu::SamplerBindingType::NonFiltering
                        }),
                        count: None,
                    },
                ],
            })
        };
        let layouts = [make_layout(false), make_layout(true)];
        let pipeline_layouts = [0, 1].map(|i| {
            device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
                label: Some("blit.pipeline.layout"),
                bind_group_layouts: &[Some(&layouts[i])],
                immediate_size: 0,
            })
        });
        let samplers = [wgpu::FilterMode::Nearest, wgpu::FilterMode::Linear].map(|f| {
            device.create_sampler(&wgpu::SamplerDescriptor {
                label: Some("blit.sampler"),
                mag_filter: f,
                min_filter: f,
                ..Default::default()
            })
        });
        Self {
            module,
            layouts,
            pipeline_layouts,
            samplers,
            pipelines: HashMap::new(),
        }
    }

    /// Records a draw of `src` (of `src_format`) into `dst` (of `dst_format`, `dst_size`) for
    /// display: colour clamped to 0..1, alpha 1.
    #[allow(clippy::too_many_arguments)]
    pub fn blit(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        src: &wgpu::TextureView,
        src_size: [u32; 2],
        src_format: wgpu::TextureFormat,
        dst: &wgpu::TextureView,
        dst_size: [u32; 2],
        dst_format: wgpu::TextureFormat,
        fit: Fit,
    ) {
        self.draw(
            device,
            encoder,
            (src, src_size, src_format),
            (dst, dst_size, dst_format),
            fit,
            false,
        );
    }

    /// Records a resampling copy of `src` into all of `dst`, values untouched (model inputs).
    pub fn copy(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        src: (&wgpu::TextureView, [u32; 2], wgpu::TextureFormat),
        dst: (&wgpu::TextureView, [u32; 2], wgpu::TextureFormat),
    ) {
        self.draw(device, encoder, src, dst, Fit::Fill, true);
    }

    fn draw(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        (src, src_size, src_format): (&wgpu::TextureView, [u32; 2], wgpu::TextureFormat),
        (dst, dst_size, dst_format): (&wgpu::TextureView, [u32; 2], wgpu::TextureFormat),
        fit: Fit,
        raw: bool,
    ) {
        let filterable = src_format != wgpu::TextureFormat::Rgba32Float;
        let idx = usize::from(filterable);
        let pipeline = self
            .pipelines
            .entry((dst_format, filterable, raw))
            .or_insert_with(|| {
                fullscreen::pipeline(
                    device,
                    "blit.pipeline",
                    &self.pipeline_layouts[idx],
                    &self.module,
                    if raw { "fs_raw" } else { "fs" },
                    dst_format,
                )
            });
        // A bind group per blit is cheap and keeps no stale views across resizes.
        let group = device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some("blit.group"),
            layout: &self.layouts[idx],
            entries: &[
                wgpu::BindGroupEntry {
                    binding: 0,
                    resource: wgpu::BindingResource::TextureView(src),
                },
                wgpu::BindGroupEntry {
                    binding: 1,
                    resource: wgpu::BindingResource::Sampler(&self.samplers[idx]),
                },
            ],
        });
        let mut rpass = fullscreen::begin_pass(encoder, "blit", dst, fullscreen::CLEAR, None);
        let [x, y, w, h] = viewport(src_size, dst_size, fit);
        rpass.set_viewport(x, y, w, h, 0.0, 1.0);
        rpass.set_pipeline(pipeline);
        rpass.set_bind_group(0, &group, &[]);
        rpass.draw(0..3, 0..1);
    }
}

/// The viewport `[x, y, w, h]` that fits `src` into `dst`.
#[must_use]
#[allow(clippy::cast_precision_loss)]
pub fn viewport(src: [u32; 2], dst: [u32; 2], fit: Fit) -> [f32; 4] {
    let (dw, dh) = (dst[0] as f32, dst[1] as f32);
    match fit {
        Fit::Fill => [0.0, 0.0, dw, dh],
        Fit::Letterbox => {
            let scale = (dw / src[0].max(1) as f32).min(dh / src[1].max(1) as f32);
            let (w, h) = (
                (src[0] as f32 * scale).round().max(1.0),
                (src[1] as f32 * scale).round().max(1.0),
            );
            [
                ((dw - w) / 2.0).floor(),
                ((dh - h) / 2.0).floor(),
                w.min(dw),
                h.min(dh),
            ]
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn letterbox_centres() {
        assert_eq!(
            viewport([1280, 720], [1280, 720], Fit::Letterbox),
            [0.0, 0.0, 1280.0, 720.0]
        );
        assert_eq!(
            viewport([1280, 720], [1000, 1000], Fit::Letterbox),
            [0.0, 218.0, 1000.0, 563.0]
        );
        assert_eq!(
            viewport([100, 100], [300, 200], Fit::Letterbox),
            [50.0, 0.0, 200.0, 200.0]
        );
        assert_eq!(
            viewport([100, 100], [300, 200], Fit::Fill),
            [0.0, 0.0, 300.0, 200.0]
        );
    }
}
