//! An ISF transition as the effect of a switch (a playlist's `transition = { isf = ... }`):
//! the file plays as a small scene of its own ([`Scene::read_transition`]) whose
//! `startImage` is the frame on screen when the switch happened, `endImage` the new scene,
//! live, and `progress` how far the transition is (0..1, linear in show time). Its other
//! inputs hold the values the playlist sets (else their defaults).
//!
//! Built on the loader thread with the scene it leads into ([`IsfEffect::build`]), so the
//! switch compiles nothing; each frame of the transition costs a copy of the new scene's
//! output into `endImage` and the file's passes.

use std::path::PathBuf;

use super::load::{LoadError, load_shaders};
use crate::render::blit::Blitter;
use crate::render::chain::{FrameInputs, PassChain};
use crate::render::context::Gpu;
use crate::scene::Scene;

/// Which ISF transition, with which input values.
#[derive(Debug, Clone, PartialEq)]
pub struct IsfTransitionSpec {
    /// The `.fs` file.
    pub file: PathBuf,
    /// Values of its inputs by param name (`point2D` and `color` inputs as `<name>_x`, ...,
    /// as in a scene), applied over the defaults.
    pub values: Vec<(String, f32)>,
}

/// A texture view with its size and format.
pub(super) type Image<'a> = (&'a wgpu::TextureView, [u32; 2], wgpu::TextureFormat);

/// An ISF transition built on the GPU, ready to run.
pub struct IsfEffect {
    /// The transition's scene (the file's passes, its inputs as params).
    scene: Scene,
    chain: PassChain,
    /// Param values, in the scene's order; `progress` is written every frame.
    values: Vec<f32>,
    progress: Option<usize>,
    /// Frames drawn; the first one also copies the start image in.
    frame: u64,
    /// Show time of the previous frame (for `TIMEDELTA`).
    last_secs: Option<f64>,
    /// Show time of the first frame (the transition's `TIME` counts from it).
    first_secs: Option<f64>,
}

impl IsfEffect {
    /// Reads, compiles and builds the transition of `spec` at `size` (the size of the scene
    /// it leads into).
    ///
    /// # Errors
    /// The file does not read, is not a transition, does not compile (each problem located
    /// in the file), or the GPU rejects it.
    pub fn build(gpu: &Gpu, spec: &IsfTransitionSpec, size: [u32; 2]) -> Result<Self, LoadError> {
        let scene = Scene::read_transition(&spec.file, size)?;
        let shaders = load_shaders(&scene).map_err(LoadError::Shader)?;
        let chain = PassChain::new(gpu, &scene, &shaders, size, &[])?;
        let mut values: Vec<f32> = scene.params.iter().map(|p| p.default).collect();
        for (name, value) in &spec.values {
            if let Some(i) = scene.params.iter().position(|p| p.name == *name) {
                values[i] = value.clamp(scene.params[i].min, scene.params[i].max);
            } else {
                // The playlist checked the names; a file edited since is reported here.
                tracing::warn!(
                    "ISF transition {}: no input `{name}`; the value is ignored",
                    spec.file.display()
                );
            }
        }
        let progress = scene.params.iter().position(|p| p.name == "progress");
        Ok(Self {
            scene,
            chain,
            values,
            progress,
            frame: 0,
            last_secs: None,
            first_secs: None,
        })
    }

    /// The transition's file.
    #[must_use]
    pub fn file(&self) -> &std::path::Path {
        &self.scene.path
    }

    /// Draws every pass once (pipelines get their first use before the switch).
    pub fn warm(&mut self, gpu: &Gpu) {
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("isf_transition.warm"),
            });
        let inputs = FrameInputs {
            params: &self.values,
            ..FrameInputs::default()
        };
        self.chain.encode_warm(&gpu.queue, &mut encoder, &inputs);
        gpu.queue.submit([encoder.finish()]);
        gpu.wait_idle();
    }

    /// Records one frame of the transition at `amount` (0..1) and show time `show_secs`:
    /// `from` copied into `startImage` on the first frame, `to` into `endImage` every
    /// frame, then the file's passes. Returns the output to show, `None` when the chain
    /// has none.
    pub(super) fn record<'a>(
        &'a mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        blitter: &mut Blitter,
        (from, to): (Image<'_>, Image<'_>),
        amount: f32,
        show_secs: f64,
    ) -> Option<Image<'a>> {
        // Images 0 and 1 are the slots `startImage` and `endImage` (`TRANSITION_SLOTS`). The
        // start image is a still: copied once. The end image plays: copied every frame.
        let copies = if self.frame == 0 {
            &[(0, from), (1, to)][..]
        } else {
            &[(1, to)][..]
        };
        for &(slot, source) in copies {
            if let Some(image) = self.chain.image(slot) {
                blitter.copy(
                    &gpu.device,
                    encoder,
                    source,
                    (&image.view, image.size, image.format),
                );
            }
        }
        if let Some(p) = self.progress {
            self.values[p] = amount.clamp(0.0, 1.0);
        }
        let first = *self.first_secs.get_or_insert(show_secs);
        #[allow(clippy::cast_possible_truncation)] // frame gaps are short
        let dt = self.last_secs.map_or(0.0, |last| (show_secs - last) as f32);
        self.last_secs = Some(show_secs);
        let inputs = FrameInputs {
            time_secs: show_secs - first,
            dt_secs: dt,
            frame: self.frame,
            params: &self.values,
            audio: None,
        };
        self.chain.encode(&gpu.queue, encoder, &inputs);
        self.frame += 1;
        let view = self.chain.output_view()?;
        let (size, format) = self.chain.output_info()?;
        Some((view, size, format))
    }
}
