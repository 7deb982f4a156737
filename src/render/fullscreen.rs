//! The one fullscreen triangle every hypna pass draws (scene passes, the blit, the mix, the
//! benchmark's bare loop): its vertex stage in WGSL, the pipeline that pairs it with a
//! fragment entry point, and the render pass that draws into one target.

/// Entry point of the fullscreen vertex stage.
pub const VERTEX_ENTRY: &str = "hypna_vertex";

/// What the vertex stage hands the fragment stage: the position and `uv`, 0..1 from the top
/// left of the target.
pub const VERTEX_OUTPUT_WGSL: &str = "struct VertexOutput {
    @builtin(position) position: vec4<f32>,
    @location(0) uv: vec2<f32>,
}
";

/// The vertex stage ([`VERTEX_ENTRY`]): three vertices whose triangle covers the target.
/// Needs [`VERTEX_OUTPUT_WGSL`] declared before it.
pub const VERTEX_STAGE_WGSL: &str = "@vertex
fn hypna_vertex(@builtin(vertex_index) index: u32) -> VertexOutput {
    let uv = vec2<f32>(f32((index << 1u) & 2u), f32(index & 2u));
    var out: VertexOutput;
    out.position = vec4<f32>(uv.x * 2.0 - 1.0, 1.0 - uv.y * 2.0, 0.0, 1.0);
    out.uv = uv;
    return out;
}
";

/// A shader module of the vertex stage followed by `fragments` (WGSL using `VertexOutput`).
#[must_use]
pub fn module(device: &wgpu::Device, label: &str, fragments: &str) -> wgpu::ShaderModule {
    let source = format!("{VERTEX_OUTPUT_WGSL}{VERTEX_STAGE_WGSL}{fragments}");
    device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some(label),
        source: wgpu::ShaderSource::Wgsl(source.into()),
    })
}

/// A pipeline drawing the fullscreen triangle of `module` (which holds the vertex stage) with
/// the fragment entry point `fragment` into one target of `format`, without blending.
#[must_use]
pub fn pipeline(
    device: &wgpu::Device,
    label: &str,
    layout: &wgpu::PipelineLayout,
    module: &wgpu::ShaderModule,
    fragment: &str,
    format: wgpu::TextureFormat,
) -> wgpu::RenderPipeline {
    device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some(label),
        layout: Some(layout),
        vertex: wgpu::VertexState {
            module,
            entry_point: Some(VERTEX_ENTRY),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            buffers: &[],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module,
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
    })
}

/// Begins a render pass into all of `target`: cleared to black first unless `load` keeps
/// what is there (`LoadOp::Load`), with optional GPU timestamps.
pub fn begin_pass<'e>(
    encoder: &'e mut wgpu::CommandEncoder,
    label: &str,
    target: &wgpu::TextureView,
    load: wgpu::LoadOp<wgpu::Color>,
    timestamp_writes: Option<wgpu::RenderPassTimestampWrites<'_>>,
) -> wgpu::RenderPass<'e> {
    encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
        label: Some(label),
        color_attachments: &[Some(wgpu::RenderPassColorAttachment {
            view: target,
            depth_slice: None,
            resolve_target: None,
            ops: wgpu::Operations {
                load,
                store: wgpu::StoreOp::Store,
            },
        })],
        depth_stencil_attachment: None,
        timestamp_writes,
        occlusion_query_set: None,
        multiview_mask: None,
    })
}

/// Clears to black before drawing.
pub const CLEAR: wgpu::LoadOp<wgpu::Color> = wgpu::LoadOp::Clear(wgpu::Color::BLACK);
