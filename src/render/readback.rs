//! Pipelined readback: a ring of staging buffers. A frame records a copy into a free buffer
//! and moves on; the bytes are collected once the buffer is mapped, frames later. Nothing here
//! waits on the GPU; callers that must (an offline render with a full ring) poll themselves.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const FREE: u8 = 0;
const COPIED: u8 = 1;
const MAPPING: u8 = 2;
const MAPPED: u8 = 3;
const FAILED: u8 = 4;

struct Slot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
    frame: u64,
}

/// A ring of staging buffers for images of one size and pixel format.
pub struct Readback {
    size: [u32; 2],
    bytes_per_pixel: u32,
    padded_row: u32,
    slots: Vec<Slot>,
    /// Copies whose mapping failed (device lost, ...), counted not raised.
    pub failed: u64,
}

/// One image read back: its frame number and tightly packed RGBA8 rows.
#[derive(Debug, Clone)]
pub struct ReadImage {
    /// Frame number given to [`Readback::copy`].
    pub frame: u64,
    /// Width and height.
    pub size: [u32; 2],
    /// `width * height * bytes_per_pixel` bytes, rows top to bottom (RGBA8 for
    /// [`Readback::new`]).
    pub rgba: Vec<u8>,
}

impl Readback {
    /// A ring of `depth` buffers for `size` RGBA8 images.
    #[must_use]
    pub fn new(device: &wgpu::Device, size: [u32; 2], depth: usize) -> Self {
        Self::with_pixel_size(device, size, 4, depth)
    }

    /// A ring of `depth` buffers for `size` images of `bytes_per_pixel` (16 for RGBA f32).
    #[must_use]
    pub fn with_pixel_size(
        device: &wgpu::Device,
        size: [u32; 2],
        bytes_per_pixel: u32,
        depth: usize,
    ) -> Self {
        let padded_row = (size[0] * bytes_per_pixel).div_ceil(wgpu::COPY_BYTES_PER_ROW_ALIGNMENT)
            * wgpu::COPY_BYTES_PER_ROW_ALIGNMENT;
        let slots = (0..depth.max(1))
            .map(|i| Slot {
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("readback.staging.{i}")),
                    size: u64::from(padded_row) * u64::from(size[1]),
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(FREE)),
                frame: 0,
            })
            .collect();
        Self {
            size,
            bytes_per_pixel,
            padded_row,
            slots,
            failed: 0,
        }
    }

    /// True when a copy can be recorded now.
    #[must_use]
    pub fn has_free_slot(&self) -> bool {
        self.slots
            .iter()
            .any(|s| s.state.load(Ordering::Acquire) == FREE)
    }

    /// Records a copy of `texture` (RGBA8, this ring's size) for `frame`. Returns false, and
    /// records nothing, when every buffer is still in flight.
    pub fn copy(
        &mut self,
        encoder: &mut wgpu::CommandEncoder,
        texture: &wgpu::Texture,
        frame: u64,
    ) -> bool {
        let Some(slot) = self
            .slots
            .iter_mut()
            .find(|s| s.state.load(Ordering::Acquire) == FREE)
        else {
            return false;
        };
        encoder.copy_texture_to_buffer(
            texture.as_image_copy(),
            wgpu::TexelCopyBufferInfo {
                buffer: &slot.buffer,
                layout: wgpu::TexelCopyBufferLayout {
                    offset: 0,
                    bytes_per_row: Some(self.padded_row),
                    rows_per_image: None,
                },
            },
            wgpu::Extent3d {
                width: self.size[0],
                height: self.size[1],
                depth_or_array_layers: 1,
            },
        );
        slot.frame = frame;
        slot.state.store(COPIED, Ordering::Release);
        true
    }

    /// Starts mapping the buffers copied into since the last call. Call after `queue.submit`.
    pub fn after_submit(&mut self) {
        for slot in &self.slots {
            if slot
                .state
                .compare_exchange(COPIED, MAPPING, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                let state = Arc::clone(&slot.state);
                slot.buffer.map_async(wgpu::MapMode::Read, .., move |r| {
                    state.store(if r.is_ok() { MAPPED } else { FAILED }, Ordering::Release);
                });
            }
        }
    }

    /// True while any copy is in flight.
    #[must_use]
    pub fn pending(&self) -> bool {
        self.slots
            .iter()
            .any(|s| matches!(s.state.load(Ordering::Acquire), COPIED | MAPPING))
    }

    /// Takes every image whose buffer is mapped, oldest frame first, and frees the buffers.
    pub fn collect(&mut self) -> Vec<ReadImage> {
        let mut out = Vec::new();
        for slot in &mut self.slots {
            match slot.state.load(Ordering::Acquire) {
                MAPPED => {
                    let row = (self.size[0] * self.bytes_per_pixel) as usize;
                    let mut rgba = Vec::with_capacity(row * self.size[1] as usize);
                    match slot.buffer.get_mapped_range(..) {
                        Ok(view) => {
                            for chunk in view.chunks(self.padded_row as usize) {
                                rgba.extend_from_slice(&chunk[..row.min(chunk.len())]);
                            }
                        }
                        Err(_) => self.failed += 1,
                    }
                    slot.buffer.unmap();
                    slot.state.store(FREE, Ordering::Release);
                    if rgba.len() == row * self.size[1] as usize {
                        out.push(ReadImage {
                            frame: slot.frame,
                            size: self.size,
                            rgba,
                        });
                    }
                }
                FAILED => {
                    self.failed += 1;
                    slot.state.store(FREE, Ordering::Release);
                }
                _ => {}
            }
        }
        out.sort_by_key(|i| i.frame);
        out
    }
}
