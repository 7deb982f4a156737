//! The latent driver: a smooth, seeded walk through latent space, in the spirit of Lucid
//! Sonic Dreams. Each component is a sum of slow sinusoids with seeded frequencies and phases,
//! so the walk is a pure function of its phase: deterministic in offline renders, and it never
//! drifts off to infinity in a weeks-long show. Audio "motion" advances the phase faster;
//! audio "pulses" kick the vector along a fixed seeded direction and decay.

use crate::scene::LatentDef;

/// Sinusoids per component (more = less periodic-looking).
const WAVES: usize = 3;

/// A running latent walk.
#[derive(Debug, Clone)]
pub struct LatentWalk {
    def: LatentDef,
    /// Per component and wave: (frequency multiplier, phase offset, amplitude).
    waves: Vec<[(f32, f32, f32); WAVES]>,
    /// Unit direction pulses push along.
    pulse_dir: Vec<f32>,
    /// Accumulated walk phase (cycles at base speed).
    phase: f64,
    /// Current pulse offset (decays).
    kick: f32,
    /// Previous pulse feature value (pulses fire on rises).
    last_pulse: f32,
    value: Vec<f32>,
}

/// `SplitMix64`: small, seedable, good enough for choosing frequencies.
fn splitmix(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 40) as f32 / (1u64 << 24) as f32
}

/// Seconds for a pulse kick to fall to 1/e.
const KICK_DECAY_SECS: f32 = 0.35;

impl LatentWalk {
    /// A walk for `def`, at phase 0.
    #[must_use]
    pub fn new(def: &LatentDef) -> Self {
        let mut state = def.seed ^ 0x6879_706E_615F_6C74; // "hypna_lt"
        let mut waves = Vec::with_capacity(def.dim);
        for _ in 0..def.dim {
            let mut w = [(0.0, 0.0, 0.0); WAVES];
            for (k, wave) in w.iter_mut().enumerate() {
                // Frequencies between 1x and ~3x the base speed, octave-ish apart.
                let freq = (1.0 + splitmix(&mut state)) * (1.0 + k as f32 * 0.7);
                let phase = splitmix(&mut state) * std::f32::consts::TAU;
                let amp = 1.0 / (1.0 + k as f32);
                *wave = (freq, phase, amp);
            }
            waves.push(w);
        }
        // Sum of amplitudes^2 / 2 is the variance of each component: normalise to `scale`.
        let mut pulse_dir: Vec<f32> = (0..def.dim)
            .map(|_| splitmix(&mut state) * 2.0 - 1.0)
            .collect();
        let norm = pulse_dir
            .iter()
            .map(|v| v * v)
            .sum::<f32>()
            .sqrt()
            .max(1e-6);
        for v in &mut pulse_dir {
            *v /= norm;
        }
        let mut walk = Self {
            def: def.clone(),
            waves,
            pulse_dir,
            phase: 0.0,
            kick: 0.0,
            last_pulse: 0.0,
            value: vec![0.0; def.dim],
        };
        walk.evaluate();
        walk
    }

    /// Advances by `dt_secs`. `motion` and `pulse` are the bound audio features (0 when
    /// unbound or silent); `speed_mul` is the speed param (1 when unbound).
    pub fn advance(&mut self, dt_secs: f32, motion: f32, pulse: f32, speed_mul: f32) {
        let speed =
            self.def.speed * speed_mul.max(0.0) * (1.0 + self.def.motion_gain * motion.max(0.0));
        self.phase += f64::from(speed * dt_secs.max(0.0));
        let rise = (pulse - self.last_pulse).max(0.0);
        self.last_pulse = pulse;
        self.kick =
            self.kick * (-dt_secs.max(0.0) / KICK_DECAY_SECS).exp() + rise * self.def.pulse_gain;
        self.evaluate();
    }

    fn evaluate(&mut self) {
        let norm: f32 = (0..WAVES)
            .map(|k| 1.0 / (1.0 + k as f32).powi(2))
            .sum::<f32>()
            .mul_add(0.5, 0.0)
            .sqrt();
        // Keep the phase in a range where f32 trigonometry stays precise over weeks.
        let tau = std::f64::consts::TAU;
        for (i, w) in self.waves.iter().enumerate() {
            let mut v = 0.0;
            for &(freq, phase, amp) in w {
                let angle = ((self.phase * f64::from(freq)) % 1.0 * tau) as f32 + phase;
                v += amp * angle.sin();
            }
            self.value[i] =
                self.def.scale * v / norm + self.kick * self.pulse_dir[i] * self.def.scale;
        }
    }

    /// The current vector.
    #[must_use]
    pub fn value(&self) -> &[f32] {
        &self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(seed: u64) -> LatentDef {
        LatentDef {
            dim: 8,
            seed,
            speed: 0.1,
            scale: 1.0,
            motion: None,
            motion_gain: 2.0,
            pulse: None,
            pulse_gain: 0.6,
            speed_param: None,
        }
    }

    fn dist(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f32>()
            .sqrt()
    }

    #[test]
    fn walk_is_smooth_seeded_and_bounded() {
        let mut a = LatentWalk::new(&def(1));
        let mut b = LatentWalk::new(&def(1));
        let c = LatentWalk::new(&def(2));
        assert!(dist(a.value(), c.value()) > 0.5, "seeds differ");
        let mut max_step = 0.0f32;
        let mut spread = 0.0f32;
        for _ in 0..3000 {
            let before = a.value().to_vec();
            a.advance(1.0 / 60.0, 0.0, 0.0, 1.0);
            b.advance(1.0 / 60.0, 0.0, 0.0, 1.0);
            max_step = max_step.max(dist(&before, a.value()));
            spread = spread.max(a.value().iter().fold(0.0f32, |m, v| m.max(v.abs())));
        }
        assert_eq!(a.value(), b.value(), "deterministic");
        // Smooth: one frame moves the vector by under a tenth of how far it wanders.
        assert!(
            max_step < 0.1 * spread,
            "a frame moves {max_step} of a spread of {spread}"
        );
        assert!(
            spread > 0.8 && spread < 4.0,
            "components wander about the scale: {spread}"
        );
    }

    #[test]
    fn motion_speeds_up_and_pulses_kick() {
        let mut calm = LatentWalk::new(&def(3));
        let mut moved = LatentWalk::new(&def(3));
        let start = calm.value().to_vec();
        for _ in 0..60 {
            calm.advance(1.0 / 60.0, 0.0, 0.0, 1.0);
            moved.advance(1.0 / 60.0, 1.0, 0.0, 1.0);
        }
        assert!(dist(&start, moved.value()) > 2.0 * dist(&start, calm.value()));
        let mut kicked = LatentWalk::new(&def(3));
        let mut plain = LatentWalk::new(&def(3));
        kicked.advance(1.0 / 60.0, 0.0, 1.0, 1.0);
        plain.advance(1.0 / 60.0, 0.0, 0.0, 1.0);
        let jump = dist(kicked.value(), plain.value());
        assert!(
            (jump - 0.6).abs() < 0.05,
            "a full pulse kicks by pulse_gain: {jump}"
        );
        for _ in 0..120 {
            kicked.advance(1.0 / 60.0, 0.0, 1.0, 1.0);
            plain.advance(1.0 / 60.0, 0.0, 0.0, 1.0);
        }
        assert!(
            dist(kicked.value(), plain.value()) < 0.01,
            "a held pulse does not keep kicking"
        );
    }
}
