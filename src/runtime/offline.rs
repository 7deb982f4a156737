//! Offline renders: a fixed-step clock, each frame blitted into an RGBA8 target and read back
//! through a pipelined ring of staging buffers, handed to a sink in order. The same frame
//! sequence as the window ([`super::Runtime::frame`]); deterministic for a given scene, size,
//! params and settings.

use crate::clock::{Clock, FrameTime};
use crate::render::blit::{Blitter, Fit};
use crate::render::context::Gpu;
use crate::render::readback::{ReadImage, Readback};

use super::{Runtime, Submit};

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
            gpu.wait_idle();
            for image in readback.collect() {
                sink(image)?;
            }
        }
        let t = clock.tick();
        before(gpu, runtime, t);
        runtime.frame(gpu, t, "render.frame", Submit::Go, |encoder, runtime| {
            if let (Some(view), Some((src_size, format))) =
                (runtime.output_view(), runtime.output_info())
            {
                blitter.blit(
                    device,
                    encoder,
                    view,
                    src_size,
                    format,
                    &rgba_view,
                    size,
                    wgpu::TextureFormat::Rgba8Unorm,
                    Fit::Letterbox,
                );
            }
            readback.copy(encoder, &rgba, t.frame);
        });
        readback.after_submit();
        gpu.poll();
        for image in readback.collect() {
            sink(image)?;
        }
    }
    while readback.pending() {
        gpu.wait_idle();
        for image in readback.collect() {
            sink(image)?;
        }
    }
    Ok(())
}
