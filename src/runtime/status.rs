//! What a runtime reports about itself: the frame rate (smoothed), each model's inference
//! rate (sampled about once a second from the workers' atomic counters: nothing is locked or
//! copied per frame), the OSC `/hypna/status` reply and a [`Status`] snapshot that the
//! operations layer prints as the health line.

use std::net::SocketAddr;

use crate::model::node::ModelNode;
use crate::osc::{CounterSnapshot, StatusInfo};

/// Frame and model rates, updated every frame.
#[derive(Debug, Default)]
pub(super) struct Rates {
    /// Frames per second, smoothed.
    pub(super) fps: f32,
    /// Per model: (runs at the last sample, when, inferences per second).
    models: Vec<(u64, Option<f64>, f32)>,
}

impl Rates {
    /// Rates for `models` models, none measured yet.
    pub(super) fn new(models: usize) -> Self {
        Self {
            fps: 0.0,
            models: vec![(0, None, 0.0); models],
        }
    }

    /// Forgets the model rates (a new scene with `models` models); the frame rate goes on.
    pub(super) fn restart_models(&mut self, models: usize) {
        self.models = vec![(0, None, 0.0); models];
    }

    /// One frame of `dt_secs`, at scene time `now_secs`: smooths the frame rate and samples
    /// each model's run counter about once a second.
    pub(super) fn frame(&mut self, dt_secs: f32, now_secs: f64, nodes: &[ModelNode]) {
        if dt_secs > 0.0 {
            let instant = 1.0 / dt_secs;
            self.fps = if self.fps > 0.0 {
                self.fps + 0.1 * (instant - self.fps)
            } else {
                instant
            };
        }
        for (node, (runs, at, rate)) in nodes.iter().zip(&mut self.models) {
            let current = node.counters().runs;
            match at {
                Some(t0) if now_secs - *t0 >= 1.0 => {
                    *rate = ((current - *runs) as f64 / (now_secs - *t0)) as f32;
                    *runs = current;
                    *at = Some(now_secs);
                }
                None => {
                    *runs = current;
                    *at = Some(now_secs);
                }
                _ => {}
            }
        }
    }

    /// Inferences per second of model `i`.
    pub(super) fn model(&self, i: usize) -> f32 {
        self.models.get(i).map_or(0.0, |r| r.2)
    }

    /// Inferences per second of each model.
    pub(super) fn models(&self) -> Vec<f32> {
        self.models.iter().map(|r| r.2).collect()
    }

    /// The `/hypna/status` reply for scene `scene` at frame `frame`.
    pub(super) fn status_info(&self, scene: &str, frame: u64, nodes: &[ModelNode]) -> StatusInfo {
        StatusInfo {
            scene: scene.to_string(),
            fps: self.fps,
            frame,
            model_rates_hz: nodes
                .iter()
                .enumerate()
                .map(|(i, n)| (n.name().to_string(), self.model(i)))
                .collect(),
            counters: nodes
                .iter()
                .map(|n| (format!("model.{}.errors", n.name()), n.counters().errors))
                .collect(),
        }
    }
}

/// One model in a [`Status`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelRate {
    /// The model's name in the scene.
    pub name: String,
    /// Completed runs per second, recently.
    pub rate_hz: f32,
    /// Failed runs since the scene started.
    pub errors: u64,
}

/// A snapshot of how the runtime is doing (for the health line; built on request, not per
/// frame).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Status {
    /// Frames per second, smoothed.
    pub fps: f32,
    /// The last frame's number.
    pub frame: u64,
    /// The scene on screen.
    pub scene: String,
    /// Every model of the scene.
    pub models: Vec<ModelRate>,
    /// The audio input's state in a word or a few (`off`, `ok <device>`, `reconnecting ...`).
    pub audio_state: String,
    /// The input level in dBFS, while audio runs.
    pub audio_level_db: Option<f32>,
    /// The OSC server's address and counters, while it runs.
    pub osc: Option<(SocketAddr, CounterSnapshot)>,
    /// `[[media]]` sources of the scene, and how many are stalled.
    pub media: (usize, usize),
}
