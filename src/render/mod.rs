//! Everything on the GPU: the device ([`context`]), frame globals written from the frame's
//! inputs ([`globals`]), shader loading ([`shader`]), the one fullscreen vertex stage, pipeline
//! and pass set-up ([`fullscreen`]), the pass chain ([`chain`]) and the images it reads besides passes
//! ([`images`], [`audio_image`]), the final mix ([`mix`]),
//! presenting ([`blit`]), per-pass GPU time ([`timing`]), pipelined readback ([`readback`])
//! and the PNG writer for what is read back ([`png`]).

pub mod audio_image;
pub mod blit;
pub mod chain;
pub mod context;
pub mod fullscreen;
pub mod globals;
pub mod glsl;
pub mod images;
pub mod limits;
pub mod mix;
pub mod png;
pub mod readback;
pub mod shader;
pub mod timing;

/// A plain 2D texture (one mip, one sample) of `size` = `[width, height]`: every render
/// target, model texture and staging source in hypna is one of these.
#[must_use]
pub fn texture_2d(
    device: &wgpu::Device,
    label: &str,
    size: [u32; 2],
    format: wgpu::TextureFormat,
    usage: wgpu::TextureUsages,
) -> wgpu::Texture {
    device.create_texture(&wgpu::TextureDescriptor {
        label: Some(label),
        size: wgpu::Extent3d {
            width: size[0],
            height: size[1],
            depth_or_array_layers: 1,
        },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format,
        usage,
        view_formats: &[],
    })
}
