//! Per-pass GPU time from timestamp queries, where the adapter has them: every pass writes a
//! timestamp at its start and end; the results are resolved into a buffer and read back
//! through a small ring (pipelined: the HUD shows times a frame or two old, the frame never
//! waits).

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

const FREE: u8 = 0;
const COPIED: u8 = 1;
const MAPPING: u8 = 2;
const MAPPED: u8 = 3;
const FAILED: u8 = 4;

/// Staging buffers in flight.
const DEPTH: usize = 3;

struct Slot {
    buffer: wgpu::Buffer,
    state: Arc<AtomicU8>,
}

/// Timestamp queries for `passes` render passes.
pub struct GpuTimer {
    query_set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    slots: Vec<Slot>,
    passes: u32,
    /// Nanoseconds per timestamp tick.
    period_ns: f32,
    latest: Vec<f32>,
}

impl GpuTimer {
    /// A timer for `passes` passes, or `None` when the device has no timestamp queries.
    #[must_use]
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue, passes: usize) -> Option<Self> {
        if !device.features().contains(wgpu::Features::TIMESTAMP_QUERY) || passes == 0 {
            return None;
        }
        let passes = u32::try_from(passes).ok()?;
        let count = passes * 2;
        let query_set = device.create_query_set(&wgpu::QuerySetDescriptor {
            label: Some("timing.queries"),
            ty: wgpu::QueryType::Timestamp,
            count,
        });
        let size = u64::from(count) * 8;
        let resolve = device.create_buffer(&wgpu::BufferDescriptor {
            label: Some("timing.resolve"),
            size,
            usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        });
        let slots = (0..DEPTH)
            .map(|i| Slot {
                buffer: device.create_buffer(&wgpu::BufferDescriptor {
                    label: Some(&format!("timing.staging.{i}")),
                    size,
                    usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::MAP_READ,
                    mapped_at_creation: false,
                }),
                state: Arc::new(AtomicU8::new(FREE)),
            })
            .collect();
        Some(Self {
            query_set,
            resolve,
            slots,
            passes,
            period_ns: queue.get_timestamp_period(),
            latest: Vec::new(),
        })
    }

    /// The timestamp writes for pass `index`.
    #[must_use]
    pub fn writes(&self, index: usize) -> Option<wgpu::RenderPassTimestampWrites<'_>> {
        let i = u32::try_from(index).ok()?;
        (i < self.passes).then(|| wgpu::RenderPassTimestampWrites {
            query_set: &self.query_set,
            beginning_of_pass_write_index: Some(2 * i),
            end_of_pass_write_index: Some(2 * i + 1),
        })
    }

    /// Records the resolve and a copy into a free staging buffer (skipped when all are busy).
    pub fn resolve(&mut self, encoder: &mut wgpu::CommandEncoder) {
        let Some(slot) = self
            .slots
            .iter()
            .find(|s| s.state.load(Ordering::Acquire) == FREE)
        else {
            return;
        };
        encoder.resolve_query_set(&self.query_set, 0..self.passes * 2, &self.resolve, 0);
        encoder.copy_buffer_to_buffer(&self.resolve, 0, &slot.buffer, 0, self.resolve.size());
        slot.state.store(COPIED, Ordering::Release);
    }

    /// Starts mapping what was copied. Call after `queue.submit`.
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
        self.collect();
    }

    fn collect(&mut self) {
        for slot in &self.slots {
            match slot.state.load(Ordering::Acquire) {
                MAPPED => {
                    if let Ok(view) = slot.buffer.get_mapped_range(..) {
                        let ticks: &[u64] = bytemuck::cast_slice(&view);
                        self.latest.clear();
                        self.latest.extend(
                            ticks
                                .chunks_exact(2)
                                .map(|p| p[1].saturating_sub(p[0]) as f32 * self.period_ns / 1.0e6),
                        );
                    }
                    slot.buffer.unmap();
                    slot.state.store(FREE, Ordering::Release);
                }
                FAILED => {
                    slot.buffer.unmap();
                    slot.state.store(FREE, Ordering::Release);
                }
                _ => {}
            }
        }
    }

    /// The newest GPU time of each pass in milliseconds (empty until the first arrives).
    #[must_use]
    pub fn latest(&self) -> &[f32] {
        &self.latest
    }
}
