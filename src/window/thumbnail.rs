//! Small copies of the internal render (never the overlay) for the browser remote's live
//! thumbnail: the output is blitted into a target of the asked width, copied into its own
//! pipelined readback and collected frames later. The frame never waits; a request while
//! the last copy is still in flight is skipped.

use crate::render::blit::{Blitter, Fit};
use crate::render::context::Gpu;
use crate::render::readback::{ReadImage, Readback};
use crate::runtime::Runtime;

/// Read-back thumbnails of the output.
#[derive(Default)]
pub(super) struct Thumbnails {
    target: Option<wgpu::Texture>,
    readback: Option<Readback>,
    /// The newest image read back, not yet taken.
    ready: Option<ReadImage>,
    frame: u64,
}

impl Thumbnails {
    /// Records a copy of the output scaled to `width` pixels wide (the aspect kept).
    pub(super) fn record(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        blitter: &mut Blitter,
        runtime: &Runtime,
        width: u32,
    ) {
        let (Some(src), Some((size, format))) = (runtime.output_view(), runtime.output_info())
        else {
            return;
        };
        let width = width.clamp(16, size[0].max(16));
        let height =
            ((u64::from(width) * u64::from(size[1])) / u64::from(size[0].max(1))).clamp(16, 4096);
        let thumb = [width, u32::try_from(height).unwrap_or(16)];
        if self
            .target
            .as_ref()
            .is_none_or(|t| [t.width(), t.height()] != thumb)
        {
            if self.readback.as_ref().is_some_and(Readback::pending) {
                return;
            }
            self.target = Some(crate::render::texture_2d(
                &gpu.device,
                "window.thumbnail",
                thumb,
                wgpu::TextureFormat::Rgba8Unorm,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            ));
            self.readback = Some(Readback::new(&gpu.device, thumb, 2));
        }
        let (Some(target), Some(readback)) = (self.target.as_ref(), self.readback.as_mut()) else {
            return;
        };
        if !readback.has_free_slot() {
            return;
        }
        let view = target.create_view(&wgpu::TextureViewDescriptor::default());
        blitter.blit(
            &gpu.device,
            encoder,
            src,
            size,
            format,
            &view,
            thumb,
            wgpu::TextureFormat::Rgba8Unorm,
            Fit::Fill,
        );
        self.frame += 1;
        readback.copy(encoder, target, self.frame);
    }

    /// Call after the frame's submit.
    pub(super) fn after_submit(&mut self) {
        if let Some(r) = &mut self.readback {
            r.after_submit();
        }
        if let Some(r) = &mut self.readback
            && let Some(newest) = r.collect().pop()
        {
            self.ready = Some(newest);
        }
    }

    /// The newest thumbnail read back since the last call.
    pub(super) fn take(&mut self) -> Option<ReadImage> {
        self.ready.take()
    }

    /// After a device loss: the old device's target and readback are dropped.
    pub(super) fn reset(&mut self) {
        *self = Self::default();
    }
}
