//! What the overlay shows, gathered from the runtime on the frames it is visible: frame and
//! GPU pass times, each model's rate, latency, errors and state, audio and OSC state, the
//! params and the errors on show. Per-frame reads are the workers' atomic counters; nothing
//! is gathered while the overlay is hidden.

use std::time::Instant;

use super::overlay::{
    AudioStatus, FrameTimes, MidiHudStatus, ModelStatus, OscStatus, Overlay, OverlayData,
    ParamChange, RecordStatus,
};
use crate::diag::Diagnostic;
use crate::infer::WorkerState;
use crate::render::context::Gpu;
use crate::runtime::Runtime;

/// A short word for a model worker's state (the HUD colours "ready" green, "fail…" red; the
/// browser remote's dashboard shows the same words).
#[must_use]
pub fn model_state(state: &WorkerState) -> String {
    match state {
        WorkerState::Loading => "loading".into(),
        WorkerState::Ready => "ready".into(),
        WorkerState::Failing { failures, .. } => format!("failing ({failures})"),
        WorkerState::BackingOff { failures, .. } => format!("failing, backing off ({failures})"),
        WorkerState::Restarting { .. } => "restarting".into(),
        WorkerState::Failed(_) => "failed".into(),
        WorkerState::Stopped => "stopped".into(),
    }
}

/// The HUD's own state between frames.
pub(super) struct Hud {
    /// Frame intervals in ms.
    pub(super) frame_times: FrameTimes,
    /// OSC messages/s: (messages at the last sample, when, rate).
    osc_rate: (u64, Instant, f32),
    /// Slider moves of this frame, applied through the runtime's queue next frame.
    changes: Vec<ParamChange>,
}

/// Where the overlay draws this frame.
pub(super) struct Target<'a> {
    pub(super) gpu: &'a Gpu,
    pub(super) encoder: &'a mut wgpu::CommandEncoder,
    pub(super) view: &'a wgpu::TextureView,
    pub(super) size: [u32; 2],
    pub(super) pixels_per_point: f32,
}

impl Hud {
    pub(super) fn new() -> Self {
        Self {
            frame_times: FrameTimes::new(),
            osc_rate: (0, Instant::now(), 0.0),
            changes: Vec::new(),
        }
    }

    /// Draws the HUD, panel, help and the banner of `errors` over the presented image (never
    /// into the internal render); slider moves are kept for [`Self::take_changes`].
    pub(super) fn draw(
        &mut self,
        overlay: &mut Overlay,
        target: &mut Target<'_>,
        runtime: &Runtime,
        errors: &[Diagnostic],
        record: Option<RecordStatus<'_>>,
    ) {
        let probe = OverlayData {
            errors,
            ..OverlayData::empty(&self.frame_times)
        };
        if !overlay.visible(&probe) {
            return;
        }
        let gpu_passes: Vec<(String, f32)> = runtime
            .chain()
            .pass_times()
            .map(|(n, ms)| (n.to_string(), ms))
            .collect();
        let rates = runtime.model_rates();
        let states: Vec<String> = runtime
            .nodes()
            .iter()
            .map(|n| model_state(&n.worker_state()))
            .collect();
        let models: Vec<ModelStatus<'_>> = runtime
            .nodes()
            .iter()
            .zip(&states)
            .enumerate()
            .map(|(i, (node, state))| {
                let counters = node.counters();
                ModelStatus {
                    name: node.name(),
                    rate_hz: rates.get(i).copied().unwrap_or(0.0),
                    latency_ms: counters.last_run.map_or(0.0, |d| d.as_secs_f32() * 1000.0),
                    errors: counters.errors,
                    state,
                }
            })
            .collect();
        let audio_state = runtime.audio_state();
        let audio = runtime.audio_features().map(|f| AudioStatus {
            device: &audio_state,
            level_db: f.level_db,
            peak: f.peak,
            bpm: (f.bpm > 0.0).then_some(f.bpm),
            beat: f.beat > 0.5,
        });
        let osc_info = runtime.osc_status();
        let listen = osc_info
            .as_ref()
            .map(|(addr, _)| addr.to_string())
            .unwrap_or_default();
        let osc = osc_info.as_ref().map(|(_, counters)| {
            let messages = counters.get(crate::osc::Counter::Messages);
            let (last, at, rate) = &mut self.osc_rate;
            let elapsed = at.elapsed().as_secs_f32();
            if elapsed >= 1.0 {
                *rate = messages.saturating_sub(*last) as f32 / elapsed;
                *last = messages;
                *at = Instant::now();
            }
            OscStatus {
                listen: &listen,
                messages_per_sec: *rate,
                dropped: counters.problems(),
            }
        });
        let targets: Vec<f32> = runtime.params().targets().map(|(_, v)| v).collect();
        let data = OverlayData {
            fps: runtime.fps(),
            frame_times: &self.frame_times,
            gpu_passes: &gpu_passes,
            models: &models,
            audio,
            osc,
            record,
            scene: &runtime.scene().name,
            internal_size: runtime.chain().scene_size(),
            media: runtime.media_status(),
            errors,
            params: &runtime.scene().params,
            targets: &targets,
            midi: runtime.midi_status().map(|m| MidiHudStatus {
                inputs: m.inputs,
                outputs: m.outputs,
                received: m.received,
                dropped: m.dropped + m.out_dropped,
                beat_source: runtime.beat_source().name(),
            }),
            midi_learning: runtime.midi_status().map(|_| {
                runtime
                    .midi_learning()
                    .and_then(|n| runtime.scene().params.iter().position(|p| p.name == n))
            }),
        };
        overlay.draw(
            &target.gpu.device,
            &target.gpu.queue,
            target.encoder,
            target.view,
            target.size,
            target.pixels_per_point,
            &data,
            &mut self.changes,
        );
    }

    /// The slider moves of the last frame, taken.
    pub(super) fn take_changes(&mut self) -> std::vec::Drain<'_, ParamChange> {
        self.changes.drain(..)
    }
}
