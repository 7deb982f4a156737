//! The latent driver: a smooth, seeded walk through latent space, in the spirit of Lucid
//! Sonic Dreams. The walk is a pure function of (seed, phase): sums of slow seeded sinusoids
//! (`path = "waves"`) or seeded Gaussian keyframes joined by a variance-preserving spline
//! (`path = "keyframes"`). So it is deterministic in offline renders and never drifts off to
//! infinity in a weeks-long show. Audio "motion" advances the phase faster; audio "pulses" kick
//! the vector along a fixed seeded direction and decay.
//!
//! Performers steer it through params (so OSC, the panel, MIDI mappings and the param log all
//! reach it the same way): a seed param, and bookmark params that save the current point
//! (seed, phase) and recall one with a crossfade. A batch of `rows` walks shares the phase and
//! the controls; each row has its own seed, so a batched generator paints `rows` different
//! images that move together with the music.

use std::collections::BTreeMap;

use crate::scene::{LatentDef, LatentPath};

/// Sinusoids per component (more = less periodic-looking).
const WAVES: usize = 3;
/// Seconds for a pulse kick to fall to 1/e.
const KICK_DECAY_SECS: f32 = 0.35;
/// Bookmark slots: 1..=`MAX_BOOKMARKS`.
pub const MAX_BOOKMARKS: i64 = 64;
/// Points still fading out at most; a further fade drops the faintest (a tiny step at worst).
const MAX_FADING: usize = 4;

/// A point of the walk: which walk (seed) and where along it (phase).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LatentPoint {
    /// The walk's seed (the scene's `seed` plus the seed param).
    pub seed: u64,
    /// Phase along the walk, in cycles (waves) or keyframes.
    pub phase: f64,
}

/// Per-row sinusoids of one seed (waves path only; keyframes need no table).
#[derive(Debug, Clone)]
struct Field {
    seed: u64,
    /// Per row and component: (frequency multiplier, phase offset, amplitude) per wave.
    waves: Vec<[(f32, f32, f32); WAVES]>,
}

/// A point fading out after a recall or a seed change.
#[derive(Debug, Clone)]
struct Fading {
    field: Field,
    phase: f64,
    /// Its weight when the fade began.
    start_weight: f32,
    elapsed_secs: f32,
}

/// What the scene's params say this frame (each `None` when the walk has no such param).
#[derive(Debug, Clone, Copy)]
pub struct LatentControls {
    /// The speed param's value (multiplies the rate).
    pub speed: f32,
    /// The seed param's value (added to the seed, rounded).
    pub seed: Option<f32>,
    /// The save param's value: a change to k >= 1 saves bookmark k.
    pub save: Option<f32>,
    /// The recall param's value: a change to k >= 1 recalls bookmark k.
    pub recall: Option<f32>,
}

impl Default for LatentControls {
    fn default() -> Self {
        Self {
            speed: 1.0,
            seed: None,
            save: None,
            recall: None,
        }
    }
}

/// A running latent walk of `rows` vectors of `dim` components.
#[derive(Debug, Clone)]
pub struct LatentWalk {
    def: LatentDef,
    rows: usize,
    field: Field,
    /// Unit direction (per row) pulses push along.
    pulse_dir: Vec<f32>,
    phase: f64,
    fading: Vec<Fading>,
    /// Current pulse offset (decays).
    kick: f32,
    /// Previous pulse feature value (pulses fire on rises).
    last_pulse: f32,
    /// Last seen whole values of the seed, save and recall params (`None` before the first).
    last_seed: Option<i64>,
    last_save: Option<i64>,
    last_recall: Option<i64>,
    bookmarks: BTreeMap<i64, LatentPoint>,
    value: Vec<f32>,
    scratch: Vec<f32>,
}

/// `SplitMix64` step: small, seedable, good enough for choosing frequencies.
fn splitmix(state: &mut u64) -> f32 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    (mix64(*state) >> 40) as f32 / (1u64 << 24) as f32
}

fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A standard normal value that depends only on (seed, row, key, component): keyframes are
/// computed where they are needed, never stored.
fn gaussian(seed: u64, row: usize, key: i64, component: usize) -> f32 {
    let mut h = mix64(seed ^ 0x6879_706E_615F_6B66); // "hypna_kf"
    h = mix64(h ^ (row as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    h = mix64(h ^ key.cast_unsigned().wrapping_mul(0xC2B2_AE3D_27D4_EB4F));
    h = mix64(h ^ (component as u64).wrapping_mul(0x1656_67B1_9E37_79F9));
    let u1 = ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    let u2 = (mix64(h) >> 11) as f64 / (1u64 << 53) as f64;
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}

/// Catmull-Rom weights of the four keyframes around `t` in 0..1.
fn catmull_rom(t: f32) -> [f32; 4] {
    let (t2, t3) = (t * t, t * t * t);
    [
        0.5 * (-t3 + 2.0 * t2 - t),
        0.5 * (3.0 * t3 - 5.0 * t2 + 2.0),
        0.5 * (-3.0 * t3 + 4.0 * t2 + t),
        0.5 * (t3 - t2),
    ]
}

/// Smoothstep: a fade with no jump in speed at either end.
fn ease(x: f32) -> f32 {
    let x = x.clamp(0.0, 1.0);
    x * x * (3.0 - 2.0 * x)
}

impl Field {
    fn new(def: &LatentDef, rows: usize, seed: u64) -> Self {
        let waves = match def.path {
            LatentPath::Keyframes => Vec::new(),
            LatentPath::Waves => {
                let mut waves = Vec::with_capacity(rows * def.dim);
                for row in 0..rows {
                    // Row 0 keeps the single-walk sequence of earlier versions.
                    let mut state = (seed ^ 0x6879_706E_615F_6C74)
                        .wrapping_add((row as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
                    for _ in 0..def.dim {
                        let mut w = [(0.0, 0.0, 0.0); WAVES];
                        for (k, wave) in w.iter_mut().enumerate() {
                            // Frequencies between 1x and ~5x the base speed, octave-ish apart.
                            let freq = (1.0 + splitmix(&mut state)) * (1.0 + k as f32 * 0.7);
                            let phase = splitmix(&mut state) * std::f32::consts::TAU;
                            let amp = 1.0 / (1.0 + k as f32);
                            *wave = (freq, phase, amp);
                        }
                        waves.push(w);
                    }
                }
                waves
            }
        };
        Self { seed, waves }
    }

    /// Writes the unit-spread walk of every row at `phase` into `out` (`rows * dim`).
    fn evaluate(&self, def: &LatentDef, rows: usize, phase: f64, out: &mut [f32]) {
        match def.path {
            LatentPath::Waves => {
                let norm: f32 = (0..WAVES)
                    .map(|k| 1.0 / (1.0 + k as f32).powi(2))
                    .sum::<f32>()
                    .mul_add(0.5, 0.0)
                    .sqrt();
                let tau = std::f64::consts::TAU;
                for (v, w) in out.iter_mut().zip(&self.waves) {
                    let mut sum = 0.0;
                    for &(freq, offset, amp) in w {
                        // Wrapped in f64 so f32 trigonometry stays precise over weeks.
                        let angle = ((phase * f64::from(freq)) % 1.0 * tau) as f32 + offset;
                        sum += amp * angle.sin();
                    }
                    *v = sum / norm;
                }
            }
            LatentPath::Keyframes => {
                let key = phase.floor();
                let t = (phase - key) as f32;
                #[allow(clippy::cast_possible_truncation)]
                let key = key as i64;
                let w = catmull_rom(t);
                // Independent unit keyframes mixed with weights w have variance sum(w^2):
                // dividing by its root keeps every point as spread as a keyframe (no dull
                // middles between keyframes, the Gaussian analogue of slerp).
                let norm = w.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-6);
                for row in 0..rows {
                    for i in 0..def.dim {
                        let mut sum = 0.0;
                        for (k, wj) in (key - 1..).zip(&w) {
                            sum += wj * gaussian(self.seed, row, k, i);
                        }
                        out[row * def.dim + i] = sum / norm;
                    }
                }
            }
        }
    }
}

impl LatentWalk {
    /// A walk of one row for `def`, at phase 0.
    #[must_use]
    pub fn new(def: &LatentDef) -> Self {
        Self::with_rows(def, 1)
    }

    /// A walk of `rows` rows (a batch) for `def`, at phase 0.
    #[must_use]
    pub fn with_rows(def: &LatentDef, rows: usize) -> Self {
        let rows = rows.max(1);
        let mut state = def.seed ^ 0x6879_706E_615F_7064; // "hypna_pd"
        let mut pulse_dir: Vec<f32> = (0..rows * def.dim)
            .map(|_| splitmix(&mut state) * 2.0 - 1.0)
            .collect();
        for row in pulse_dir.chunks_mut(def.dim.max(1)) {
            let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-6);
            for v in row {
                *v /= norm;
            }
        }
        let mut walk = Self {
            def: def.clone(),
            rows,
            field: Field::new(def, rows, def.seed),
            pulse_dir,
            phase: 0.0,
            fading: Vec::new(),
            kick: 0.0,
            last_pulse: 0.0,
            last_seed: None,
            last_save: None,
            last_recall: None,
            bookmarks: BTreeMap::new(),
            value: vec![0.0; rows * def.dim],
            scratch: vec![0.0; rows * def.dim],
        };
        walk.evaluate();
        walk
    }

    /// Advances by `dt_secs`. `motion` and `pulse` are the bound audio features (0 when
    /// unbound or silent); `speed_mul` is the speed param (1 when unbound).
    pub fn advance(&mut self, dt_secs: f32, motion: f32, pulse: f32, speed_mul: f32) {
        self.advance_with(
            dt_secs,
            motion,
            pulse,
            LatentControls {
                speed: speed_mul,
                ..LatentControls::default()
            },
        );
    }

    /// Advances by `dt_secs` with the scene's controls: the speed, and the seed, save and
    /// recall params (each acts when its whole value changes; the first value seen sets the
    /// seed at once and saves or recalls nothing).
    pub fn advance_with(&mut self, dt_secs: f32, motion: f32, pulse: f32, c: LatentControls) {
        let dt = dt_secs.max(0.0);
        let speed =
            self.def.speed * c.speed.max(0.0) * (1.0 + self.def.motion_gain * motion.max(0.0));
        let step = f64::from(speed * dt);
        self.phase += step;
        for f in &mut self.fading {
            f.phase += step;
            f.elapsed_secs += dt;
        }
        let fade = self.def.fade_secs;
        self.fading
            .retain(|f| fade > 0.0 && f.elapsed_secs < fade && f.start_weight > 0.0);

        if let Some(seed) = c.seed.and_then(whole) {
            let base = self.def.seed.wrapping_add(seed.cast_unsigned());
            match self.last_seed {
                None => self.field = Field::new(&self.def, self.rows, base),
                Some(last) if last != seed => {
                    let to = LatentPoint {
                        seed: base,
                        phase: self.phase,
                    };
                    self.fade_to(to);
                }
                Some(_) => {}
            }
            self.last_seed = Some(seed);
        }
        if let Some(k) = c.save.and_then(whole) {
            if self.last_save.is_some_and(|last| last != k) {
                self.save(k);
            }
            self.last_save = Some(k);
        }
        if let Some(k) = c.recall.and_then(whole) {
            if self.last_recall.is_some_and(|last| last != k) {
                self.recall(k);
            }
            self.last_recall = Some(k);
        }

        let rise = (pulse - self.last_pulse).max(0.0);
        self.last_pulse = pulse;
        self.kick = self.kick * (-dt / KICK_DECAY_SECS).exp() + rise * self.def.pulse_gain;
        self.evaluate();
    }

    /// Saves the current point as bookmark `slot` (1..=[`MAX_BOOKMARKS`]; others are ignored).
    /// Returns whether it was saved.
    pub fn save(&mut self, slot: i64) -> bool {
        if !(1..=MAX_BOOKMARKS).contains(&slot) {
            return false;
        }
        self.bookmarks.insert(slot, self.point());
        true
    }

    /// Crossfades to bookmark `slot` over `fade_secs`; from there the walk goes on. Returns
    /// false (and does nothing) for a slot never saved.
    pub fn recall(&mut self, slot: i64) -> bool {
        match self.bookmarks.get(&slot).copied() {
            Some(to) => {
                self.fade_to(to);
                true
            }
            None => false,
        }
    }

    /// Where the walk is (the point it heads for during a fade).
    #[must_use]
    pub fn point(&self) -> LatentPoint {
        LatentPoint {
            seed: self.field.seed,
            phase: self.phase,
        }
    }

    fn fade_to(&mut self, to: LatentPoint) {
        let target_weight = 1.0 - self.fading_weights().sum::<f32>();
        if self.def.fade_secs > 0.0 {
            if self.fading.len() >= MAX_FADING {
                // Drop the faintest; what it held passes to the new target.
                if let Some(i) = self
                    .fading
                    .iter()
                    .enumerate()
                    .min_by(|a, b| {
                        weight(a.1, self.def.fade_secs).total_cmp(&weight(b.1, self.def.fade_secs))
                    })
                    .map(|(i, _)| i)
                {
                    self.fading.remove(i);
                }
            }
            let field = if to.seed == self.field.seed {
                self.field.clone()
            } else {
                Field::new(&self.def, self.rows, to.seed)
            };
            let old = std::mem::replace(&mut self.field, field);
            // Fading entries keep their current weight as the start of their own fade.
            for f in &mut self.fading {
                f.start_weight = weight(f, self.def.fade_secs);
                f.elapsed_secs = 0.0;
            }
            self.fading.push(Fading {
                field: old,
                phase: self.phase,
                start_weight: target_weight.clamp(0.0, 1.0),
                elapsed_secs: 0.0,
            });
        } else if to.seed != self.field.seed {
            self.field = Field::new(&self.def, self.rows, to.seed);
        }
        self.phase = to.phase;
    }

    fn fading_weights(&self) -> impl Iterator<Item = f32> + '_ {
        self.fading.iter().map(|f| weight(f, self.def.fade_secs))
    }

    fn evaluate(&mut self) {
        let (def, rows) = (&self.def, self.rows);
        self.field.evaluate(def, rows, self.phase, &mut self.value);
        if !self.fading.is_empty() {
            // At most MAX_FADING entries: a fixed array, nothing allocated per frame.
            let mut weights = [0.0f32; MAX_FADING];
            for (w, f) in weights.iter_mut().zip(self.fading_weights()) {
                *w = f;
            }
            let weights = &weights[..self.fading.len().min(MAX_FADING)];
            let target = (1.0 - weights.iter().sum::<f32>()).max(0.0);
            // Mixed independent walks shrink in spread by sqrt(sum w^2): divide it back out.
            let norm = (target * target + weights.iter().map(|w| w * w).sum::<f32>())
                .sqrt()
                .max(1e-6);
            for v in &mut self.value {
                *v *= target;
            }
            for (f, w) in self.fading.iter().zip(weights) {
                f.field.evaluate(def, rows, f.phase, &mut self.scratch);
                for (v, s) in self.value.iter_mut().zip(&self.scratch) {
                    *v += w * s;
                }
            }
            for v in &mut self.value {
                *v /= norm;
            }
        }
        let scale = self.def.scale;
        for (v, d) in self.value.iter_mut().zip(&self.pulse_dir) {
            *v = scale * (*v + self.kick * d);
        }
    }

    /// The current vectors, row after row (`rows * dim` values).
    #[must_use]
    pub fn value(&self) -> &[f32] {
        &self.value
    }
}

/// The weight a fading point has now.
fn weight(f: &Fading, fade_secs: f32) -> f32 {
    f.start_weight * (1.0 - ease(f.elapsed_secs / fade_secs.max(1e-6)))
}

/// A param value as a whole number (bookmark slot, seed offset); `None` for NaN.
fn whole(v: f32) -> Option<i64> {
    #[allow(clippy::cast_possible_truncation)]
    v.is_finite().then(|| v.round() as i64)
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
            path: LatentPath::Waves,
            seed_param: None,
            save_param: None,
            recall_param: None,
            fade_secs: 2.0,
        }
    }

    fn keyframes(seed: u64, dim: usize) -> LatentDef {
        LatentDef {
            dim,
            speed: 0.5,
            path: LatentPath::Keyframes,
            ..def(seed)
        }
    }

    fn dist(a: &[f32], b: &[f32]) -> f32 {
        a.iter()
            .zip(b)
            .map(|(x, y)| (x - y).powi(2))
            .sum::<f32>()
            .sqrt()
    }

    fn controls(seed: f32, save: f32, recall: f32) -> LatentControls {
        LatentControls {
            speed: 1.0,
            seed: Some(seed),
            save: Some(save),
            recall: Some(recall),
        }
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

    #[test]
    fn keyframes_pass_through_distinct_points_smoothly_with_unit_spread() {
        let d = keyframes(7, 100);
        let mut walk = LatentWalk::with_rows(&d, 4);
        let mut max_step = 0.0f32;
        let mut sum_sq = 0.0f64;
        let mut count = 0usize;
        let first = walk.value()[..100].to_vec();
        for _ in 0..(60 * 20) {
            let before = walk.value().to_vec();
            walk.advance(1.0 / 60.0, 0.0, 0.0, 1.0);
            max_step = max_step.max(dist(&before, walk.value()) / 20.0);
            sum_sq += walk.value().iter().map(|v| f64::from(v * v)).sum::<f64>();
            count += walk.value().len();
        }
        let rms = (sum_sq / count as f64).sqrt();
        assert!(
            (rms - 1.0).abs() < 0.15,
            "spread stays about the scale: {rms}"
        );
        // A 100-dim unit vector is ~10 long; one frame at 0.5 keyframes/s moves it a little.
        assert!(
            max_step < 0.05,
            "smooth: {max_step} per frame (of ~1 per component)"
        );
        assert!(
            dist(&first, &walk.value()[..100]) > 8.0,
            "10 keyframes later it is elsewhere"
        );
        // Rows are different walks.
        assert!(dist(&walk.value()[..100], &walk.value()[100..200]) > 8.0);
        // Exactly on a keyframe the vector is that keyframe.
        let at = LatentWalk::with_rows(&d, 1);
        let k0: Vec<f32> = (0..100).map(|i| gaussian(7, 0, 0, i)).collect();
        assert!(dist(at.value(), &k0) < 1e-4);
    }

    #[test]
    fn bookmarks_save_and_recall_with_a_crossfade_and_no_jump() {
        let d = LatentDef {
            fade_secs: 1.0,
            ..keyframes(11, 32)
        };
        let mut walk = LatentWalk::with_rows(&d, 2);
        let dt = 1.0 / 60.0;
        walk.advance_with(dt, 0.0, 0.0, controls(0.0, 0.0, 0.0));
        // Save slot 3 here.
        walk.advance_with(dt, 0.0, 0.0, controls(0.0, 3.0, 0.0));
        let saved = walk.value().to_vec();
        let saved_point = walk.point();
        for _ in 0..600 {
            walk.advance_with(dt, 0.0, 0.0, controls(0.0, 3.0, 0.0));
        }
        assert!(dist(walk.value(), &saved) > 5.0, "walked away");
        // Recall slot 3: no jump, and after the fade it is where it was saved (plus the way
        // walked during the fade).
        let before = walk.value().to_vec();
        walk.advance_with(dt, 0.0, 0.0, controls(0.0, 3.0, 3.0));
        assert!(
            dist(&before, walk.value()) < 0.5,
            "a recall fades, it does not jump"
        );
        let mut max_step = 0.0f32;
        for _ in 0..59 {
            let b = walk.value().to_vec();
            walk.advance_with(dt, 0.0, 0.0, controls(0.0, 3.0, 3.0));
            max_step = max_step.max(dist(&b, walk.value()));
        }
        assert!(max_step < 1.0, "the crossfade is smooth: {max_step}");
        let p = walk.point();
        assert_eq!(p.seed, saved_point.seed);
        // The recall lands on the saved phase; 59 frames at 0.5 keyframes/s follow.
        let walked = 59.0 * f64::from(0.5 * dt);
        assert!(
            (p.phase - saved_point.phase - walked).abs() < 1e-5,
            "{p:?} {saved_point:?}"
        );
        // A slot never saved does nothing.
        let mut same = walk.clone();
        same.advance_with(dt, 0.0, 0.0, controls(0.0, 3.0, 9.0));
        walk.advance_with(dt, 0.0, 0.0, controls(0.0, 3.0, 3.0));
        assert_eq!(same.value(), walk.value());
    }

    #[test]
    fn the_seed_param_sets_at_start_and_fades_on_change() {
        let d = keyframes(5, 16);
        let mut a = LatentWalk::with_rows(&d, 1);
        let mut b = LatentWalk::with_rows(
            &LatentDef {
                seed: 9,
                ..d.clone()
            },
            1,
        );
        a.advance_with(0.0, 0.0, 0.0, controls(4.0, 0.0, 0.0));
        b.advance(0.0, 0.0, 0.0, 1.0);
        assert_eq!(a.value(), b.value(), "seed 5 + param 4 is seed 9, at once");
        let before = a.value().to_vec();
        a.advance_with(1.0 / 60.0, 0.0, 0.0, controls(5.0, 0.0, 0.0));
        assert!(dist(&before, a.value()) < 0.5, "a seed change fades");
        for _ in 0..200 {
            a.advance_with(1.0 / 60.0, 0.0, 0.0, controls(5.0, 0.0, 0.0));
        }
        assert_eq!(a.point().seed, 10);
    }
}
