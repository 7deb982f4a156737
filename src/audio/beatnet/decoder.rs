//! The causal decoder: exact Bayesian filtering (the HMM forward algorithm) of the bar-pointer
//! model on the network's beat and downbeat activations, then a tempo lock with hysteresis.
//!
//! BeatNet decodes online with a cascade of particle filters over madmom's bar-pointer state
//! space (Krebs, Böck, Widmer, ISMIR 2015): 1500 particles for beat phase and tempo, 250 for the
//! position in the bar, resampled at random. hypna filters the same kind of model exactly
//! instead: the state space is small enough (about 41,000 states for 60..180 BPM and meters
//! 2, 3 and 4) that the forward algorithm costs well under a millisecond per 20 ms frame, is
//! deterministic (tests and renders repeat exactly) and has no sampling noise.
//!
//! The model, per frame:
//! - State: meter `m` (2, 3 or 4 beats), beat `b` of the bar, beat length `q` and position
//!   `p = 0..q` within the beat, both in half frames (10 ms): one beat length per integer in
//!   the tempo range (at most [`MAX_TEMPI`], log-spaced beyond).
//! - Transition: `p` advances by two half frames per frame. A beat that ends continues into
//!   the next (`b + 1` modulo `m`) at the half frame it overshot, with a new length `q'` with
//!   probability proportional to `exp(-lambda_tempo * |q' / q - 1|)` (madmom's
//!   `exponential_transition`). At the end of a bar the meter may change with a small
//!   probability. A small share of the probability is spread uniformly every frame, so that a
//!   lock can always be regained.
//! - Observation (after madmom's downbeat observation model, with the beat and downbeat
//!   evidence separated): with `B` = beat + downbeat activation and `s` = downbeat / `B`, the
//!   first `1 / lambda_obs` of a beat observes `B * (f + (1 - f) * s)` on the first beat of a
//!   bar and `B * (f + (1 - f) * (1 - s))` on the others; elsewhere `(1 - B) / (lambda_obs - 1)`.
//!   madmom uses the downbeat activation alone on the first beat; when the network is unsure
//!   which beat starts the bar (its downbeat output stays low), that makes every hypothesis
//!   with a downbeat on a beat unlikely and drags the beat phase off the beats. With the floor
//!   `f` the beat phase follows `B` and the bar position the split `s`.
//!
//! Half frames matter: with whole frames (madmom's state space at 50 fps) a beat length is a
//! whole number of 20 ms frames, so 140 BPM (21.4 frames) must alternate between 21 and 22 and
//! pay a tempo change every other beat; half its beats then look more likely at 70 BPM (42.9
//! frames, a change every 7 beats), and a half-time groove drifts to half tempo.
//!
//! From the filtered distribution: the tempo distribution, and, within the locked tempo, the
//! phase of the beat and of the bar as circular means (with their concentration as a
//! confidence). The lock follows the most probable tempo but changes to another only when that
//! one has held clearly more probability for a while: briefly for a real tempo change, much
//! longer for a tempo in an octave relation (twice, half, 3/2 ...) once the lock has held for
//! 5 s, so a half-time groove does not make `bpm` flip between 70 and 140.

use std::f64::consts::TAU;

/// Positions per frame: the state space counts in half frames.
const SUBSTEPS: usize = 2;
/// Most beat lengths in the state space (a wide `bpm_range` is covered log-spaced).
pub(crate) const MAX_TEMPI: usize = 80;

/// Tuning of the decoder.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct DecoderParams {
    /// Frames per second of the activations.
    pub fps: f64,
    /// Tempo range, BPM.
    pub bpm_range: [f64; 2],
    /// Meters considered (beats per bar).
    pub meters: [usize; 3],
    /// Tempo change penalty at beat boundaries (madmom's `transition_lambda`).
    pub lambda_tempo: f64,
    /// Share of a beat the beat states cover is `1 / lambda_obs`.
    pub lambda_obs: f64,
    /// Probability of a meter change at a bar end.
    pub meter_switch: f64,
    /// Share of probability spread uniformly every frame.
    pub floor: f64,
    /// Exponent applied to the observation likelihoods (1 = as is; below 1 trusts the network
    /// less).
    pub obs_power: f64,
    /// Floor `f` of the downbeat/beat split (see the module docs).
    pub downbeat_floor: f64,
    /// Half width of the tempo lock window, as a ratio (0.08 = +-8%).
    pub lock_width: f64,
    /// A tempo not in an octave relation takes over after holding `switch_ratio` times the
    /// locked tempo's probability for `switch_secs`.
    pub switch_ratio: f64,
    /// See [`DecoderParams::switch_ratio`].
    pub switch_secs: f64,
    /// The same for tempos in an octave relation (x2, x1/2, x3, x1/3, x3/2, x2/3).
    pub octave_ratio: f64,
    /// See [`DecoderParams::octave_ratio`].
    pub octave_secs: f64,
    /// For this long after a lock (the first one, or a change of tempo) an octave change is
    /// as easy as any other: the first lock may pick the wrong octave.
    pub settle_secs: f64,
}

impl DecoderParams {
    /// The defaults for a tempo range, at BeatNet's 50 frames per second.
    pub(crate) fn new(bpm_range: [f32; 2]) -> Self {
        Self {
            fps: 50.0,
            bpm_range: [f64::from(bpm_range[0]), f64::from(bpm_range[1])],
            meters: [2, 3, 4],
            lambda_tempo: 100.0,
            lambda_obs: 16.0,
            meter_switch: 1e-5,
            floor: 1e-6,
            obs_power: 1.0,
            downbeat_floor: 0.2,
            lock_width: 0.08,
            switch_ratio: 2.0,
            switch_secs: 0.6,
            octave_ratio: 4.0,
            octave_secs: 4.0,
            settle_secs: 5.0,
        }
    }
}

/// One (meter, beat, beat length) block of consecutive states.
#[derive(Debug, Clone, Copy)]
struct Block {
    /// Index into `DecoderParams::meters`.
    meter: usize,
    /// Beat within the bar.
    beat: usize,
    /// Index into `intervals`.
    tempo: usize,
    /// First state.
    start: usize,
    /// Beat length in half frames (= states in the block).
    len: usize,
    /// States at the block's start that observe a beat.
    beat_states: usize,
}

/// What the filtered distribution says at one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Estimate {
    /// Locked tempo, BPM (the probability-weighted mean tempo within the lock window).
    pub bpm: f64,
    /// Beat phase 0..1 at this frame (circular mean within the locked tempo).
    pub beat_phase: f64,
    /// Concentration of the beat phase, 0..1 (1: all probability at one phase).
    pub beat_concentration: f64,
    /// Beats per bar of the most probable meter (with hysteresis).
    pub meter: usize,
    /// Position in the bar in beats, `0..meter` (circular mean within the locked tempo and
    /// meter); its integer part is the beat of the bar.
    pub bar_position: f64,
    /// Concentration of the bar position, 0..1.
    pub bar_concentration: f64,
    /// Probability within the lock window, 0..1.
    pub tempo_mass: f64,
    /// Whether a tempo has been locked at all.
    pub locked: bool,
}

/// The tempo lock with hysteresis (see the module docs).
#[derive(Debug, Clone)]
struct TempoLock {
    /// Locked beat length in half frames (fractional), if any.
    interval: Option<f64>,
    /// The challenger's beat length and for how long it has led, seconds.
    challenger: Option<(f64, f64)>,
    /// Seconds since the tempo was locked or changed.
    held_secs: f64,
    /// Meter index with hysteresis and for how long another has led.
    meter: usize,
    meter_challenger: Option<(usize, f64)>,
}

/// Whether two beat lengths stand in a simple ratio other than 1 (2, 3, 3/2 either way).
fn octave_related(a: f64, b: f64) -> bool {
    let r = (a / b).ln();
    [2.0f64, 3.0, 1.5]
        .iter()
        .any(|k| (r.abs() - k.ln()).abs() < 1.06f64.ln())
}

/// The forward filter and its read-out.
#[derive(Debug, Clone)]
pub(crate) struct BarFilter {
    params: DecoderParams,
    intervals: Vec<usize>,
    blocks: Vec<Block>,
    /// `blocks` index of (meter, beat, tempo): `first_block[meter][beat] + tempo`.
    first_block: Vec<Vec<usize>>,
    /// Tempo transition, `trans[from * n + to]`, rows sum to 1.
    trans: Vec<f64>,
    alpha: Vec<f64>,
    /// Probability at the last `SUBSTEPS` positions of each block (scratch).
    ends: Vec<f64>,
    /// Incoming probability at each block's first `SUBSTEPS` positions (scratch).
    incoming: Vec<f64>,
    /// Per state: cos and sin of the beat angle and of the bar angle.
    beat_cos: Vec<f32>,
    beat_sin: Vec<f32>,
    bar_cos: Vec<f32>,
    bar_sin: Vec<f32>,
    /// Tempo marginal (scratch), per interval.
    tempo_mass: Vec<f64>,
    /// Whether each interval is within the lock window (scratch).
    in_window: Vec<bool>,
    lock: TempoLock,
    frames: u64,
}

impl BarFilter {
    /// A filter at the start of a stream: every state equally likely.
    pub(crate) fn new(params: DecoderParams) -> Self {
        let units = 60.0 * params.fps * SUBSTEPS as f64;
        let lo = (units / params.bpm_range[1])
            .floor()
            .max(2.0 * SUBSTEPS as f64) as usize;
        let hi = ((units / params.bpm_range[0]).ceil() as usize).max(lo + 1);
        let mut intervals: Vec<usize> = if hi - lo < MAX_TEMPI {
            (lo..=hi).collect()
        } else {
            let ratio = (hi as f64 / lo as f64).ln() / (MAX_TEMPI - 1) as f64;
            (0..MAX_TEMPI)
                .map(|i| (lo as f64 * (ratio * i as f64).exp()).round() as usize)
                .collect()
        };
        intervals.dedup();
        let n = intervals.len();
        let mut blocks = Vec::new();
        let mut first_block = Vec::new();
        let mut start = 0;
        for (mi, &m) in params.meters.iter().enumerate() {
            let mut per_beat = Vec::new();
            for beat in 0..m {
                per_beat.push(blocks.len());
                for (ti, &q) in intervals.iter().enumerate() {
                    // At least one state of each half-frame residue observes the beat.
                    let beat_states =
                        ((q as f64 / params.lambda_obs).ceil() as usize).clamp(SUBSTEPS, q);
                    blocks.push(Block {
                        meter: mi,
                        beat,
                        tempo: ti,
                        start,
                        len: q,
                        beat_states,
                    });
                    start += q;
                }
            }
            first_block.push(per_beat);
        }
        let states = start;
        let mut trans = vec![0.0; n * n];
        for (f, &qf) in intervals.iter().enumerate() {
            let row = &mut trans[f * n..(f + 1) * n];
            for (t, &qt) in intervals.iter().enumerate() {
                let p = (-params.lambda_tempo * (qt as f64 / qf as f64 - 1.0).abs()).exp();
                row[t] = if p > f64::EPSILON { p } else { 0.0 };
            }
            let sum: f64 = row.iter().sum();
            for v in row.iter_mut() {
                *v /= sum;
            }
        }
        let (mut beat_cos, mut beat_sin) = (vec![0.0; states], vec![0.0; states]);
        let (mut bar_cos, mut bar_sin) = (vec![0.0; states], vec![0.0; states]);
        for b in &blocks {
            let m = params.meters[b.meter] as f64;
            for p in 0..b.len {
                let phase = p as f64 / b.len as f64;
                let bar = (b.beat as f64 + phase) / m;
                beat_cos[b.start + p] = (TAU * phase).cos() as f32;
                beat_sin[b.start + p] = (TAU * phase).sin() as f32;
                bar_cos[b.start + p] = (TAU * bar).cos() as f32;
                bar_sin[b.start + p] = (TAU * bar).sin() as f32;
            }
        }
        let nb = blocks.len();
        Self {
            params,
            intervals,
            blocks,
            first_block,
            trans,
            alpha: vec![1.0 / states as f64; states],
            ends: vec![0.0; nb * SUBSTEPS],
            incoming: vec![0.0; nb * SUBSTEPS],
            beat_cos,
            beat_sin,
            bar_cos,
            bar_sin,
            tempo_mass: vec![0.0; n],
            in_window: vec![false; n],
            lock: TempoLock {
                interval: None,
                challenger: None,
                held_secs: 0.0,
                meter: params.meters.len() - 1,
                meter_challenger: None,
            },
            frames: 0,
        }
    }

    /// Number of states.
    #[cfg(test)]
    pub(crate) fn states(&self) -> usize {
        self.alpha.len()
    }

    /// Frames filtered so far.
    pub(crate) fn frames(&self) -> u64 {
        self.frames
    }

    /// One frame: the beat and downbeat activations (probabilities 0..1; their sum at most 1).
    /// Returns the read-out after it.
    pub(crate) fn step(&mut self, beat: f32, downbeat: f32) -> Estimate {
        self.predict();
        self.correct(beat, downbeat);
        self.frames += 1;
        self.estimate()
    }

    /// The transition: shift every block by one frame (`SUBSTEPS` positions), and move the
    /// probability that runs past the end of a beat to the start of the next beat, keeping
    /// the overshoot.
    fn predict(&mut self) {
        const K: usize = SUBSTEPS;
        for (i, b) in self.blocks.iter().enumerate() {
            let tail = b.start + b.len - K;
            self.ends[i * K..(i + 1) * K].copy_from_slice(&self.alpha[tail..tail + K]);
            self.alpha.copy_within(b.start..tail, b.start + K);
        }
        self.incoming.fill(0.0);
        let meters = self.params.meters;
        let switch = self.params.meter_switch;
        let stay = 1.0 - switch * (meters.len() - 1) as f64;
        for (mi, &m) in meters.iter().enumerate() {
            for beat in 0..m {
                let from = self.first_block[mi][(beat + m - 1) % m];
                let to = self.first_block[mi][beat];
                // Bar ends may also go to the first beat of another meter.
                let weight = if beat == 0 { stay } else { 1.0 };
                self.carry(from, to, weight);
            }
        }
        if switch > 0.0 {
            for (mi, &m) in meters.iter().enumerate() {
                let last = self.first_block[mi][m - 1];
                for mj in (0..meters.len()).filter(|&mj| mj != mi) {
                    self.carry(last, self.first_block[mj][0], switch);
                }
            }
        }
        for (i, b) in self.blocks.iter().enumerate() {
            self.alpha[b.start..b.start + K].copy_from_slice(&self.incoming[i * K..(i + 1) * K]);
        }
    }

    /// Adds the ends of the beats starting at block `from` (one block per tempo) times
    /// `weight`, through the tempo transition, to the starts of the beats at block `to`.
    fn carry(&mut self, from: usize, to: usize, weight: f64) {
        const K: usize = SUBSTEPS;
        let n = self.intervals.len();
        for f in 0..n {
            let row = &self.trans[f * n..(f + 1) * n];
            for r in 0..K {
                let e = self.ends[(from + f) * K + r] * weight;
                if e == 0.0 {
                    continue;
                }
                for (t, &p) in row.iter().enumerate() {
                    self.incoming[(to + t) * K + r] += e * p;
                }
            }
        }
    }

    /// The observation, normalisation and the uniform floor.
    fn correct(&mut self, beat: f32, downbeat: f32) {
        let beatness = (f64::from(beat) + f64::from(downbeat)).clamp(1e-6, 1.0);
        let split = (f64::from(downbeat) / beatness).clamp(0.0, 1.0);
        let f = self.params.downbeat_floor;
        let down = beatness * (f + (1.0 - f) * split);
        let beat = beatness * (f + (1.0 - f) * (1.0 - split));
        let none = (1.0 - beatness).max(1e-6) / (self.params.lambda_obs - 1.0);
        let k = self.params.obs_power;
        let (beat, down, none) = if (k - 1.0).abs() < 1e-12 {
            (beat, down, none)
        } else {
            (beat.powf(k), down.powf(k), none.powf(k))
        };
        let mut total = 0.0;
        for b in &self.blocks {
            let at_beat = if b.beat == 0 { down } else { beat };
            let states = &mut self.alpha[b.start..b.start + b.len];
            let (on, off) = states.split_at_mut(b.beat_states);
            for v in on {
                *v *= at_beat;
                total += *v;
            }
            for v in off {
                *v *= none;
                total += *v;
            }
        }
        let floor = self.params.floor / self.alpha.len() as f64;
        if total > 0.0 && total.is_finite() {
            let scale = (1.0 - self.params.floor) / total;
            for v in &mut self.alpha {
                *v = *v * scale + floor;
            }
        } else {
            let uniform = 1.0 / self.alpha.len() as f64;
            self.alpha.fill(uniform);
        }
    }

    /// Probability mass of tempo intervals within the window around `centre` (half frames).
    fn window_mass(&self, centre: f64) -> f64 {
        let w = (1.0 + self.params.lock_width).ln();
        self.intervals
            .iter()
            .zip(&self.tempo_mass)
            .filter(|(q, _)| ((**q as f64) / centre).ln().abs() <= w)
            .map(|(_, m)| m)
            .sum()
    }

    /// The interval whose window holds the most probability, and that probability.
    fn peak(&self) -> (f64, f64) {
        self.intervals
            .iter()
            .map(|&q| (q as f64, self.window_mass(q as f64)))
            .fold((0.0, -1.0), |best, c| if c.1 > best.1 { c } else { best })
    }

    /// Reads the distribution: tempo marginal, lock update, then phases within the lock.
    fn estimate(&mut self) -> Estimate {
        self.tempo_mass.fill(0.0);
        for b in &self.blocks {
            let s: f64 = self.alpha[b.start..b.start + b.len].iter().sum();
            self.tempo_mass[b.tempo] += s;
        }
        self.update_lock();
        let centre = self.lock.interval.unwrap_or_else(|| self.peak().0);
        let w = (1.0 + self.params.lock_width).ln();
        for (inside, &q) in self.in_window.iter_mut().zip(&self.intervals) {
            *inside = (q as f64 / centre).ln().abs() <= w;
        }
        // Tempo: mean of beats per frame within the window (tempo space, not period space).
        let (mut mass, mut rate) = (0.0, 0.0);
        let mut meter_mass = [0.0f64; 3];
        let (mut bc, mut bs) = (0.0f64, 0.0f64);
        for b in &self.blocks {
            if !self.in_window[b.tempo] {
                continue;
            }
            let range = b.start..b.start + b.len;
            let s: f64 = self.alpha[range.clone()].iter().sum();
            mass += s;
            rate += s / b.len as f64;
            meter_mass[b.meter] += s;
            for ((&a, &c), &sn) in self.alpha[range.clone()]
                .iter()
                .zip(&self.beat_cos[range.clone()])
                .zip(&self.beat_sin[range])
            {
                bc += a * f64::from(c);
                bs += a * f64::from(sn);
            }
        }
        self.update_meter(&meter_mass);
        let meter = self.lock.meter;
        let (mut mc, mut ms, mut mm) = (0.0f64, 0.0f64, 0.0f64);
        for b in self
            .blocks
            .iter()
            .filter(|b| b.meter == meter && self.in_window[b.tempo])
        {
            let range = b.start..b.start + b.len;
            for ((&a, &c), &sn) in self.alpha[range.clone()]
                .iter()
                .zip(&self.bar_cos[range.clone()])
                .zip(&self.bar_sin[range])
            {
                mc += a * f64::from(c);
                ms += a * f64::from(sn);
                mm += a;
            }
        }
        let units_per_beat = if rate > 0.0 { mass / rate } else { centre };
        let beats = self.params.meters[meter] as f64;
        let circ = |c: f64, s: f64, total: f64| -> (f64, f64) {
            if total <= 0.0 {
                return (0.0, 0.0);
            }
            (
                (s.atan2(c) / TAU).rem_euclid(1.0),
                (c.hypot(s) / total).min(1.0),
            )
        };
        let (beat_phase, beat_concentration) = circ(bc, bs, mass);
        let (bar, bar_concentration) = circ(mc, ms, mm);
        Estimate {
            bpm: 60.0 * self.params.fps * SUBSTEPS as f64 / units_per_beat,
            beat_phase,
            beat_concentration,
            meter: self.params.meters[meter],
            bar_position: (bar * beats).rem_euclid(beats),
            bar_concentration,
            tempo_mass: mass.min(1.0),
            locked: self.lock.interval.is_some(),
        }
    }

    fn update_lock(&mut self) {
        let dt = 1.0 / self.params.fps;
        let (peak, peak_mass) = self.peak();
        let Some(locked) = self.lock.interval else {
            // First lock: once a tempo holds a clear majority.
            if peak_mass >= 0.5 {
                self.lock.interval = Some(peak);
                self.lock.held_secs = 0.0;
            }
            return;
        };
        self.lock.held_secs += dt;
        let w = (1.0 + self.params.lock_width).ln();
        // Follow drift within the window: the mean interval there.
        let (mut locked_mass, mut rate) = (0.0, 0.0);
        for (&q, &p) in self.intervals.iter().zip(&self.tempo_mass) {
            if ((q as f64) / locked).ln().abs() <= w {
                locked_mass += p;
                rate += p / q as f64;
            }
        }
        let followed = if rate > 0.0 {
            locked_mass / rate
        } else {
            locked
        };
        self.lock.interval = Some(followed);
        if ((peak / followed).ln()).abs() <= w {
            self.lock.challenger = None;
            return;
        }
        let settled = self.lock.held_secs >= self.params.settle_secs;
        let (ratio, secs) = if settled && octave_related(peak, followed) {
            (self.params.octave_ratio, self.params.octave_secs)
        } else {
            (self.params.switch_ratio, self.params.switch_secs)
        };
        if peak_mass > ratio * locked_mass {
            let held = match self.lock.challenger {
                Some((q, t)) if ((q / peak).ln()).abs() <= w => t + dt,
                _ => dt,
            };
            if held >= secs {
                self.lock.interval = Some(peak);
                self.lock.challenger = None;
                self.lock.held_secs = 0.0;
            } else {
                self.lock.challenger = Some((peak, held));
            }
        } else {
            self.lock.challenger = None;
        }
    }

    fn update_meter(&mut self, meter_mass: &[f64; 3]) {
        let dt = 1.0 / self.params.fps;
        let best = (0..3)
            .max_by(|&a, &b| meter_mass[a].total_cmp(&meter_mass[b]))
            .unwrap_or(2);
        let current = self.lock.meter;
        if best == current || meter_mass[best] < 2.0 * meter_mass[current] {
            self.lock.meter_challenger = None;
            return;
        }
        let held = match self.lock.meter_challenger {
            Some((m, t)) if m == best => t + dt,
            _ => dt,
        };
        if held >= 1.0 {
            self.lock.meter = best;
            self.lock.meter_challenger = None;
        } else {
            self.lock.meter_challenger = Some((best, held));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Activations of a click track: beat `k` at `offset + k * period` frames (fractional;
    /// the activation spreads over the two nearest frames), downbeat every `meter` beats.
    fn clicks(
        frames: usize,
        bpm: f64,
        offset: f64,
        meter: usize,
        downbeats: bool,
    ) -> Vec<[f32; 2]> {
        let period = 60.0 * 50.0 / bpm;
        let mut acts = vec![[0.0f32; 2]; frames];
        let mut k = 0usize;
        loop {
            let t = offset + k as f64 * period;
            if t as usize + 1 >= frames {
                break;
            }
            let i = t.floor() as usize;
            let frac = (t - t.floor()) as f32;
            let col = usize::from(downbeats && k.is_multiple_of(meter));
            acts[i][col] += 0.9 * (1.0 - frac);
            acts[i + 1][col] += 0.9 * frac;
            k += 1;
        }
        for a in &mut acts {
            a[0] = a[0].max(0.01);
            a[1] = a[1].max(0.005);
        }
        acts
    }

    fn run(acts: &[[f32; 2]]) -> Vec<Estimate> {
        let mut f = BarFilter::new(DecoderParams::new([60.0, 180.0]));
        acts.iter().map(|a| f.step(a[0], a[1])).collect()
    }

    /// Beat phase the clicks imply at frame `i`.
    fn true_phase(i: usize, bpm: f64, offset: f64) -> f64 {
        let period = 60.0 * 50.0 / bpm;
        ((i as f64 - offset) / period).rem_euclid(1.0)
    }

    fn phase_error(a: f64, b: f64) -> f64 {
        let d = (a - b).rem_euclid(1.0);
        d.min(1.0 - d)
    }

    #[test]
    fn the_state_space_is_the_size_the_docs_say() {
        let f = BarFilter::new(DecoderParams::new([60.0, 180.0]));
        // Beat lengths 33..=100 half frames, 9 beats over the three meters.
        assert_eq!(f.states(), 9 * (33..=100).sum::<usize>());
    }

    #[test]
    fn a_steady_click_track_locks_tempo_phase_and_bar() {
        for (bpm, meter) in [(120.0, 4), (97.0, 3), (150.0, 4), (72.0, 2)] {
            let acts = clicks(50 * 20, bpm, 7.3, meter, true);
            let est = run(&acts);
            // After 5 s: tempo within 2%, phase within 0.05 beat, right beat of the bar.
            for (i, e) in est.iter().enumerate().skip(250) {
                assert!(e.locked, "{bpm}: not locked at frame {i}");
                assert!((e.bpm / bpm - 1.0).abs() < 0.02, "{bpm}: {e:?} at {i}");
                let err = phase_error(e.beat_phase, true_phase(i, bpm, 7.3));
                assert!(err < 0.05, "{bpm}: phase off by {err} at {i}: {e:?}");
                assert_eq!(e.meter, meter, "{bpm}: {e:?}");
                let beats = (i as f64 - 7.3) / (3000.0 / bpm);
                let want_bar = beats.rem_euclid(meter as f64);
                let d = (e.bar_position - want_bar).rem_euclid(meter as f64);
                assert!(
                    d.min(meter as f64 - d) < 0.1,
                    "{bpm}: bar {e:?} vs {want_bar} at {i}"
                );
            }
        }
    }

    #[test]
    fn a_tempo_step_relocks_within_three_seconds() {
        // 20 s at 108 BPM, then 128 BPM from the last beat on (as the evaluation clip).
        let first: f64 = 3000.0 / 108.0;
        let beats_before = ((1000.0 - 3.0) / first).floor();
        let last_beat = 3.0 + beats_before * first;
        let mut acts = clicks(last_beat.floor() as usize + 1, 108.0, 3.0, 4, true);
        let start = acts.len();
        let frac = last_beat - last_beat.floor();
        // The 128 BPM grid continues from the last 108 BPM beat, with the bar count.
        let next_bar_beat = (beats_before as usize + 1) % 4;
        let after = clicks(1000, 128.0, frac - 1.0 + 3000.0 / 128.0, 4, false);
        acts.extend(after.into_iter().skip(1));
        let _ = next_bar_beat;
        let est = run(&acts);
        let ok = |e: &Estimate| (e.bpm / 128.0 - 1.0).abs() < 0.03;
        let relocked = (start..est.len())
            .find(|&i| est[i..].iter().all(ok))
            .map(|i| (i - start) as f64 / 50.0);
        let secs = relocked.expect("never relocked at 128");
        assert!(secs < 3.0, "relocked after {secs} s");
    }

    #[test]
    fn a_half_time_pattern_does_not_flip_octaves() {
        // Strong beats every other beat at 140 (the snare of a half-time groove), weaker ones
        // in between: whichever level locks, bpm must never flip after the lock.
        let mut acts = clicks(50 * 30, 140.0, 5.0, 4, false);
        for (i, a) in acts.iter_mut().enumerate() {
            let beat = ((i as f64 - 5.0) / (3000.0 / 140.0)).round() as i64;
            if beat % 2 == 1 {
                a[0] *= 0.45;
            }
        }
        let est = run(&acts);
        let locked: Vec<f64> = est.iter().skip(250).map(|e| e.bpm).collect();
        let first = locked[0];
        for b in &locked {
            assert!((b / first - 1.0).abs() < 0.04, "flip from {first} to {b}");
        }
    }

    #[test]
    fn off_beat_syncopation_does_not_steal_the_phase() {
        // Beats at 100 BPM plus extra (weaker) syncopated onsets at the "and" of 2 and the
        // "a" of 3, as a funk groove: the phase stays on the beats.
        let bpm = 100.0;
        let period = 30.0;
        let mut acts = clicks(50 * 20, bpm, 4.0, 4, true);
        for k in 0..(1000.0 / period) as usize {
            for off in [1.5, 2.75] {
                let t = 4.0 + k as f64 * 4.0 * period + off * period;
                if (t as usize) < acts.len() {
                    acts[t as usize][0] = acts[t as usize][0].max(0.35);
                }
            }
        }
        let est = run(&acts);
        for (i, e) in est.iter().enumerate().skip(300) {
            let err = phase_error(e.beat_phase, true_phase(i, bpm, 4.0));
            assert!(err < 0.08, "phase off by {err} at {i}: {e:?}");
        }
    }

    #[test]
    fn octave_relations_are_recognised() {
        assert!(octave_related(25.0, 50.0));
        assert!(octave_related(50.0, 25.0));
        assert!(octave_related(20.0, 30.0));
        assert!(!octave_related(23.4, 27.8));
        assert!(!octave_related(25.0, 26.0));
    }
}
