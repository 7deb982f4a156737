//! Transitions and the output level: a switch snapshots what is on screen and crossfades from
//! it into the new scene over scene time (or runs an ISF transition from it into the new
//! scene, [`super::isf_transition`]); the schedule fades the output through a level. Both
//! end in one mix pass after the chain ([`crate::render::mix`]), recorded only while a fade
//! runs or the level is below 1; otherwise the chain's output is shown as it is.

use crate::render::blit::Blitter;
use crate::render::chain::PassChain;
use crate::render::context::Gpu;
use crate::render::mix::{MIX_FORMAT, Mixer};

use super::isf_transition::IsfEffect;

/// Where a crossfade stands, in scene time. Starts at the first frame after the switch (a
/// switch lands between frames).
#[derive(Debug, Clone, Copy, PartialEq)]
struct FadeClock {
    start_secs: Option<f64>,
    secs: f32,
}

impl FadeClock {
    fn new(secs: f32) -> Self {
        Self {
            start_secs: None,
            secs,
        }
    }

    /// How far the fade is at scene time `now_secs`, 0..1; 1 or more means it is over.
    fn amount(&mut self, now_secs: f64) -> f32 {
        let start = *self.start_secs.get_or_insert(now_secs);
        if self.secs > 0.0 {
            ((now_secs - start) / f64::from(self.secs)) as f32
        } else {
            1.0
        }
    }
}

/// An output level as the schedule asks for it: 0..1, and 1 for anything that is not a number.
fn clamp_level(level: f32) -> f32 {
    if level.is_finite() {
        level.clamp(0.0, 1.0)
    } else {
        1.0
    }
}

/// A crossfade from a snapshot of the previous output.
struct Fade {
    /// Keeps the snapshot alive while its view is sampled.
    _from: wgpu::Texture,
    from_view: wgpu::TextureView,
    from_size: [u32; 2],
    clock: FadeClock,
    /// An ISF transition drawing the fade; `None`: a crossfade.
    effect: Option<IsfEffect>,
}

/// A copy of what was on screen when a switch happened.
pub(super) struct Snapshot {
    texture: wgpu::Texture,
    pub(super) view: wgpu::TextureView,
    pub(super) size: [u32; 2],
}

/// The mix pass and its state: the running fade and the output level.
pub(super) struct Transition {
    mixer: Mixer,
    fade: Option<Fade>,
    /// Output level 0..1 (the schedule's fade to black).
    level: f32,
    /// This frame's output is the mixer's (a fade or a level below 1).
    mixed: bool,
}

impl Transition {
    /// No fade, full level.
    pub(super) fn new(device: &wgpu::Device) -> Self {
        Self {
            mixer: Mixer::new(device),
            fade: None,
            level: 1.0,
            mixed: false,
        }
    }

    /// After a device loss: the mix pass rebuilt on `device`, the fade dropped (its snapshot
    /// died with the old device), the level kept.
    pub(super) fn rebuild(&mut self, device: &wgpu::Device) {
        self.mixer = Mixer::new(device);
        self.fade = None;
        self.mixed = false;
    }

    /// Sets the output level, applied from the next frame.
    pub(super) fn set_level(&mut self, level: f32) {
        self.level = clamp_level(level);
    }

    /// The output level.
    pub(super) fn level(&self) -> f32 {
        self.level
    }

    /// Whether a fade is running.
    pub(super) fn fading(&self) -> bool {
        self.fade.is_some()
    }

    /// Dark: the level is 0 and no fade runs, so nothing needs rendering.
    pub(super) fn dark(&self) -> bool {
        self.level <= 0.0 && self.fade.is_none()
    }

    /// What to show: the mix output during a fade or at a level below 1, else the chain's.
    pub(super) fn output_view<'a>(&'a self, chain: &'a PassChain) -> Option<&'a wgpu::TextureView> {
        if self.mixed {
            self.mixer.output().map(|(_, v)| v)
        } else {
            chain.output_view()
        }
    }

    /// The texture behind [`Self::output_view`].
    pub(super) fn output_texture<'a>(&'a self, chain: &'a PassChain) -> Option<&'a wgpu::Texture> {
        if self.mixed {
            self.mixer.output().map(|(t, _)| t)
        } else {
            chain.output()
        }
    }

    /// Size and format of [`Self::output_view`].
    pub(super) fn output_info(&self, chain: &PassChain) -> Option<([u32; 2], wgpu::TextureFormat)> {
        let (size, format) = chain.output_info()?;
        Some(if self.mixed {
            (size, MIX_FORMAT)
        } else {
            (size, format)
        })
    }

    /// Records the crossfade (or the ISF transition) and the level pass when one is needed
    /// this frame (`show_secs`: the show time, which fades count in).
    pub(super) fn record(
        &mut self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        blitter: &mut Blitter,
        chain: &PassChain,
        show_secs: f64,
    ) {
        self.mixed = false;
        let amount = match &mut self.fade {
            Some(fade) => {
                let amount = fade.clock.amount(show_secs);
                if amount >= 1.0 {
                    self.fade = None;
                    1.0
                } else {
                    amount
                }
            }
            None => 1.0,
        };
        if self.fade.is_none() && self.level >= 1.0 {
            return;
        }
        let (Some(to), Some((size, format))) = (chain.output_view(), chain.output_info()) else {
            return;
        };
        if let Some(Fade {
            from_view,
            from_size,
            effect: Some(effect),
            ..
        }) = &mut self.fade
        {
            // The ISF transition draws the fade; the mix applies the level.
            let images = ((&*from_view, *from_size, MIX_FORMAT), (to, size, format));
            if let Some((out, _, _)) =
                effect.record(gpu, encoder, blitter, images, amount, show_secs)
            {
                self.mixer.draw(
                    &gpu.device,
                    &gpu.queue,
                    encoder,
                    out,
                    out,
                    size,
                    1.0,
                    self.level,
                );
                self.mixed = true;
            }
            return;
        }
        let from = self.fade.as_ref().map_or(to, |f| &f.from_view);
        self.mixer.draw(
            &gpu.device,
            &gpu.queue,
            encoder,
            from,
            to,
            size,
            amount,
            self.level,
        );
        self.mixed = true;
    }

    /// Records a copy of what is on screen now (the chain's output, or the mix during a fade).
    pub(super) fn snapshot(
        &self,
        gpu: &Gpu,
        encoder: &mut wgpu::CommandEncoder,
        blitter: &mut Blitter,
        chain: &PassChain,
    ) -> Option<Snapshot> {
        let view = self.output_view(chain)?;
        let (size, format) = self.output_info(chain)?;
        let texture = crate::render::texture_2d(
            &gpu.device,
            "transition.from",
            size,
            MIX_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        blitter.copy(
            &gpu.device,
            encoder,
            (view, size, format),
            (&target, size, MIX_FORMAT),
        );
        Some(Snapshot {
            texture,
            view: target,
            size,
        })
    }

    /// Starts a crossfade (or the ISF transition `effect`) from `snapshot` over `fade_secs`
    /// of show time (0: a cut).
    pub(super) fn start(
        &mut self,
        snapshot: Option<Snapshot>,
        fade_secs: f32,
        effect: Option<IsfEffect>,
    ) {
        self.fade = match snapshot {
            Some(s) if fade_secs > 0.0 => Some(Fade {
                _from: s.texture,
                from_view: s.view,
                from_size: s.size,
                clock: FadeClock::new(fade_secs),
                effect,
            }),
            _ => None,
        };
    }

    /// Draws the transition's own passes once (the snapshot copy and the crossfade) into a
    /// small target, so the first switch does not create or compile them on the frame.
    pub(super) fn warm(&mut self, gpu: &Gpu, blitter: &mut Blitter, chain: &PassChain) {
        let (Some(view), Some((size, format))) = (chain.output_view(), chain.output_info()) else {
            return;
        };
        let tiny = [8, 8];
        let texture = crate::render::texture_2d(
            &gpu.device,
            "transition.warm",
            tiny,
            MIX_FORMAT,
            wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::TEXTURE_BINDING,
        );
        let target = texture.create_view(&wgpu::TextureViewDescriptor::default());
        let mut encoder = gpu
            .device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor {
                label: Some("runtime.warm_transitions"),
            });
        blitter.copy(
            &gpu.device,
            &mut encoder,
            (view, size, format),
            (&target, tiny, MIX_FORMAT),
        );
        self.mixer.draw(
            &gpu.device,
            &gpu.queue,
            &mut encoder,
            &target,
            view,
            size,
            0.5,
            1.0,
        );
        gpu.queue.submit([encoder.finish()]);
        gpu.wait_idle();
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // exact values are the point of these tests
mod tests {
    use super::*;

    #[test]
    fn a_fade_starts_at_its_first_frame_and_runs_over_its_length() {
        let mut clock = FadeClock::new(2.0);
        // The switch landed at show time 10; the first frame after it starts the fade.
        assert_eq!(clock.amount(10.5), 0.0);
        assert_eq!(clock.amount(11.0), 0.25);
        assert_eq!(clock.amount(11.5), 0.5);
        assert!(clock.amount(12.5) >= 1.0, "over after 2 s");
        // Time standing still (a paused clock) holds the fade where it is.
        let mut held = FadeClock::new(1.0);
        assert_eq!(held.amount(3.0), 0.0);
        assert_eq!(held.amount(3.0), 0.0);
    }

    #[test]
    fn a_zero_length_fade_is_a_cut() {
        let mut clock = FadeClock::new(0.0);
        assert_eq!(clock.amount(5.0), 1.0);
    }

    #[test]
    fn the_level_is_clamped_and_anything_not_a_number_is_full() {
        assert_eq!(clamp_level(0.5), 0.5);
        assert_eq!(clamp_level(-1.0), 0.0);
        assert_eq!(clamp_level(7.0), 1.0);
        assert_eq!(clamp_level(f32::NAN), 1.0);
        assert_eq!(clamp_level(f32::INFINITY), 1.0);
    }
}
