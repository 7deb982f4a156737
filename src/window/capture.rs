//! Screenshots (S: the internal render, never the overlay) and captured frames (`--capture`:
//! what the window shows, overlay included). Copies are recorded into the frame's encoder,
//! read back when the GPU is done, and written by the PNG writer's thread: the frame never
//! waits, and a writer that falls behind drops images (counted) instead of piling up.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::render::blit::{Blitter, Fit};
use crate::render::context::Gpu;
use crate::render::png::{OnFailure, Pixels, PngWriter};
use crate::render::readback::Readback;
use crate::runtime::Runtime;

/// Images waiting for the PNG writer at most.
const WRITER_QUEUE: usize = 8;

/// Readback and writing of screenshots and captured frames.
pub(super) struct Capture {
    readback: Option<Readback>,
    size: [u32; 2],
    /// Files waiting for their frame: (frame, path, pixel order).
    waiting: Vec<(u64, PathBuf, Pixels)>,
    writer: Option<PngWriter>,
    /// The internal render as RGBA8 for screenshots (created on first use).
    shot_target: Option<wgpu::Texture>,
}

impl Capture {
    /// Nothing read back yet; the writer starts now (without it nothing is saved, logged).
    pub(super) fn new() -> Self {
        let writer = match PngWriter::start(WRITER_QUEUE, OnFailure::Log) {
            Ok(w) => Some(w),
            Err(e) => {
                tracing::warn!("{e}: screenshots and captures are not saved");
                None
            }
        };
        Self {
            readback: None,
            size: [0, 0],
            waiting: Vec::new(),
            writer,
            shot_target: None,
        }
    }

    /// Records a copy of `texture` (4 bytes per pixel) for `frame`, to be saved as `path`.
    /// Returns false when the readback is busy (the copy is skipped).
    pub(super) fn record_copy(
        &mut self,
        device: &wgpu::Device,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        frame: u64,
        path: PathBuf,
        pixels: Pixels,
    ) -> bool {
        let size = [texture.width(), texture.height()];
        if self.readback.is_none() || self.size != size {
            if self.readback.as_ref().is_some_and(Readback::pending) {
                return false;
            }
            self.readback = Some(Readback::new(device, size, 3));
            self.size = size;
        }
        let Some(readback) = self.readback.as_mut() else {
            return false;
        };
        if readback.copy(encoder, texture, frame) {
            self.waiting.push((frame, path, pixels));
            true
        } else {
            false
        }
    }

    /// Records the internal render (never the overlay) for a screenshot into `dir`, named
    /// after the scene file, the time and `frame`.
    pub(super) fn record_screenshot(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        blitter: &mut Blitter,
        runtime: &Runtime,
        dir: &Path,
        frame: u64,
    ) {
        let (Some(src), Some((size, format))) = (runtime.output_view(), runtime.output_info())
        else {
            return;
        };
        if self
            .shot_target
            .as_ref()
            .is_none_or(|t| [t.width(), t.height()] != size)
        {
            self.shot_target = Some(crate::render::texture_2d(
                &gpu.device,
                "window.screenshot",
                size,
                wgpu::TextureFormat::Rgba8Unorm,
                wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
            ));
        }
        let Some(target) = self.shot_target.clone() else {
            return;
        };
        let target_view = target.create_view(&wgpu::TextureViewDescriptor::default());
        blitter.blit(
            &gpu.device,
            encoder,
            src,
            size,
            format,
            &target_view,
            size,
            wgpu::TextureFormat::Rgba8Unorm,
            Fit::Fill,
        );
        let stamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let stem = runtime
            .scene()
            .path
            .file_stem()
            .map_or_else(|| "scene".into(), |s| s.to_string_lossy().into_owned());
        let path = dir.join(format!("hypna-{stem}-{stamp}-{frame:06}.png"));
        // Frame numbers of screenshots and captures share the readback: offset them.
        let key = frame | (1 << 62);
        if !self.record_copy(
            &gpu.device,
            encoder,
            &target,
            key,
            path,
            Pixels::Opaque { bgra: false },
        ) {
            tracing::warn!("screenshot skipped: the previous one is still being read back");
        }
    }

    /// Call after the frame's submit: starts mapping what was copied.
    pub(super) fn after_submit(&mut self) {
        if let Some(r) = &mut self.readback {
            r.after_submit();
        }
    }

    /// Hands every image read back so far to the writer (never waits).
    pub(super) fn collect(&mut self) {
        let Some(r) = &mut self.readback else { return };
        for image in r.collect() {
            let Some(i) = self.waiting.iter().position(|w| w.0 == image.frame) else {
                continue;
            };
            let (_, path, pixels) = self.waiting.swap_remove(i);
            if let Some(writer) = &mut self.writer {
                writer.try_write(image, path, pixels);
            }
        }
    }

    /// At exit: waits (at most 5 s) for the last images and writes them all.
    pub(super) fn finish(&mut self, gpu: &Gpu) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while self.readback.as_ref().is_some_and(Readback::pending) && Instant::now() < deadline {
            gpu.wait_idle();
            self.collect();
        }
        self.collect();
        if let Some(writer) = self.writer.take()
            && let Err(e) = writer.finish()
        {
            tracing::warn!("{e}");
        }
    }

    /// After a device loss: readbacks and targets of the old device are dropped (the images
    /// they held are lost); the writer goes on.
    pub(super) fn reset(&mut self) {
        self.readback = None;
        self.size = [0, 0];
        self.waiting.clear();
        self.shot_target = None;
    }
}
