//! The beat clock: the oscillator behind `beat`, `beat_phase`, `downbeat`, `bar_phase` and
//! `beat_in_bar`. It advances every analysis hop at the current tempo and fires the pulses;
//! a tracker corrects it whenever it has a new estimate (the neural tracker every 20 ms), and
//! taps and resyncs steer it.
//!
//! The position is counted in beats since the start (`pos`); beat `k` fires in the hop where
//! `pos` reaches `k`, so a correction that moves the phase back a little never fires a beat
//! twice, and one that moves it forward fires the next beat a little early. The beat of the bar
//! is `(k + bar_offset) mod meter`; changing which beat starts the bar relabels beats (no
//! extra pulse). Estimates describe a moment in the past (the network's frame is centred 32 ms
//! before it is complete); the clock extrapolates them to now at the estimated tempo, so once
//! locked the pulses are predicted, not late.

/// Smallest phase error, in beats, corrected at the full gain in one step (larger ones too,
/// but they are first held against [`HOLD_SECS`]).
const JUMP_BEATS: f64 = 0.2;
/// How long a large phase error or a different beat-of-the-bar must persist before the clock
/// jumps to it, seconds (a single odd estimate does not move the beat).
const HOLD_SECS: f64 = 0.3;
/// Tempo smoothing per correction (share of the difference taken; 50 corrections a second
/// from the neural tracker: a 0.4 s time constant, so `bpm` does not jitter).
const TEMPO_GAIN: f64 = 0.05;
/// Relative tempo difference taken at once rather than smoothed.
const TEMPO_JUMP: f64 = 0.06;
/// A tapped tempo still follows the audio's phase when the audio's tempo is this close...
const TAP_AGREE: f64 = 0.03;
/// ... and the tracker's confidence at least this.
const TAP_FOLLOW_CONFIDENCE: f32 = 0.5;
/// Confidence decay time constant in silence, seconds.
const SILENT_DECAY_SECS: f64 = 0.5;

/// What the clock says after one hop.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct BeatStep {
    /// A beat falls in this hop (and confidence is at least the minimum).
    pub beat: bool,
    /// That beat starts a bar.
    pub downbeat: bool,
    /// Beat phase 0..1 at the end of the hop.
    pub phase: f32,
    /// Tempo, BPM.
    pub bpm: f32,
    /// Confidence 0..1.
    pub confidence: f32,
    /// Beat of the bar, 0 = the downbeat.
    pub beat_in_bar: u32,
    /// Beats per bar.
    pub beats_per_bar: u32,
    /// Position in the bar 0..1 (0 on the downbeat).
    pub bar_phase: f32,
}

/// A tracker's estimate, describing stream time `at_secs`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Target {
    /// The stream time the estimate describes.
    pub at_secs: f64,
    /// Tempo, BPM.
    pub bpm: f64,
    /// Beat phase 0..1 at `at_secs`.
    pub phase: f64,
    /// Share of the phase error corrected now, 0..1.
    pub gain: f64,
    /// Meter and position in the bar (beats, `0..meter`) at `at_secs`, when the tracker knows.
    pub bar: Option<(usize, f64)>,
    /// Confidence 0..1.
    pub confidence: f32,
}

/// The oscillator; see the module docs.
#[derive(Debug, Clone)]
pub(crate) struct BeatClock {
    min_bpm: f64,
    max_bpm: f64,
    min_confidence: f32,
    bpm: f64,
    /// Beats since the start.
    pos: f64,
    /// Index of the last beat fired.
    fired: i64,
    /// Time of the last beat fired, stream seconds.
    fired_at: f64,
    meter: usize,
    bar_offset: i64,
    confidence: f32,
    locked: bool,
    /// A large phase error waiting for confirmation: its value and since when.
    phase_pending: Option<(f64, f64)>,
    /// A different beat of the bar waiting for confirmation: the shift and since when.
    bar_pending: Option<(i64, f64)>,
    taps: Vec<f64>,
    tapped: bool,
    now: f64,
}

/// A meter (beats per bar, at least 1) as a signed count.
fn meter_i64(meter: usize) -> i64 {
    i64::try_from(meter.max(1)).unwrap_or(4)
}

/// `x` wrapped into -0.5..0.5.
fn wrap_half(x: f64) -> f64 {
    x - x.round()
}

impl BeatClock {
    /// A clock at 120 BPM (within `bpm_range`), 4/4, not yet locked.
    pub(crate) fn new(bpm_range: [f32; 2], min_confidence: f32) -> Self {
        let (lo, hi) = (f64::from(bpm_range[0]), f64::from(bpm_range[1]));
        Self {
            min_bpm: lo,
            max_bpm: hi,
            min_confidence,
            bpm: 120.0f64.clamp(lo, hi),
            pos: 0.0,
            fired: 0,
            fired_at: f64::NEG_INFINITY,
            meter: 4,
            bar_offset: 0,
            confidence: 0.0,
            locked: false,
            phase_pending: None,
            bar_pending: None,
            taps: Vec::with_capacity(8),
            tapped: false,
            now: 0.0,
        }
    }

    /// Tempo now, BPM.
    #[cfg(test)]
    pub(crate) fn bpm(&self) -> f64 {
        self.bpm
    }

    /// Whether a tapped tempo holds.
    #[cfg(test)]
    pub(crate) fn tapped(&self) -> bool {
        self.tapped
    }

    fn beat_in_bar(&self, beat: i64) -> u32 {
        (beat + self.bar_offset).rem_euclid(meter_i64(self.meter)) as u32
    }

    /// Advances to stream time `now_secs` (the end of a hop); `active` is false in silence.
    pub(crate) fn advance(&mut self, now_secs: f64, active: bool) -> BeatStep {
        let dt = (now_secs - self.now).max(0.0);
        self.now = now_secs;
        self.pos += dt * self.bpm / 60.0;
        if !active && !self.tapped {
            self.confidence *= (-dt / SILENT_DECAY_SECS).exp() as f32;
            if self.confidence < 1e-4 {
                self.confidence = 0.0;
            }
        }
        let confidence = if self.tapped { 1.0 } else { self.confidence };
        let mut beat = false;
        let mut downbeat = false;
        let next = self.fired + 1;
        if self.pos >= next as f64 {
            self.fired = self.pos.floor() as i64;
            // Never two pulses within half a beat (a correction right after a beat).
            let period = 60.0 / self.bpm;
            if now_secs - self.fired_at >= 0.5 * period {
                beat = confidence >= self.min_confidence && self.locked_or_tapped();
                downbeat = beat && self.beat_in_bar(self.fired) == 0;
                self.fired_at = now_secs;
            }
        }
        self.step_values(beat, downbeat, confidence)
    }

    fn locked_or_tapped(&self) -> bool {
        self.locked || self.tapped
    }

    fn step_values(&self, beat: bool, downbeat: bool, confidence: f32) -> BeatStep {
        let whole = self.pos.floor();
        let phase = self.pos - whole;
        let in_bar = self.beat_in_bar(whole as i64);
        BeatStep {
            beat,
            downbeat,
            phase: phase as f32,
            bpm: self.bpm as f32,
            confidence,
            beat_in_bar: in_bar,
            beats_per_bar: self.meter as u32,
            bar_phase: ((f64::from(in_bar) + phase) / self.meter as f64) as f32,
        }
    }

    /// Applies a tracker's estimate (see [`Target`]).
    pub(crate) fn correct(&mut self, t: &Target) {
        let now = self.now;
        // How far the clock's time is past the estimate's (negative when the estimate
        // describes the end of the hop the clock has not advanced to yet).
        let ahead = now - t.at_secs;
        if self.tapped {
            // The tapped tempo holds; the phase follows the audio only if it agrees and the
            // tracker is sure of it.
            if (t.bpm / self.bpm - 1.0).abs() > TAP_AGREE || t.confidence < TAP_FOLLOW_CONFIDENCE {
                return;
            }
        } else {
            self.confidence = t.confidence;
            let bpm = t.bpm.clamp(self.min_bpm, self.max_bpm);
            if !self.locked || (bpm / self.bpm - 1.0).abs() > TEMPO_JUMP {
                self.bpm = bpm;
            } else {
                self.bpm += TEMPO_GAIN * (bpm - self.bpm);
            }
        }
        let phase_now = t.phase + ahead * self.bpm / 60.0;
        let error = wrap_half(phase_now - self.pos);
        if !self.locked {
            self.pos += error;
            self.locked = true;
            // Beats already passed at the new phase are not fired again.
            self.fired = self.fired.max(self.pos.floor() as i64);
        } else if error.abs() <= JUMP_BEATS {
            self.pos += t.gain * error;
            self.phase_pending = None;
        } else {
            // A large error: only once it has persisted (an odd estimate does not move the
            // beat), then at once.
            let since = match self.phase_pending {
                Some((e, since)) if (e - error).abs() < 0.1 => since,
                _ => now,
            };
            if now - since >= HOLD_SECS {
                self.pos += error;
                self.phase_pending = None;
            } else {
                self.phase_pending = Some((error, since));
            }
        }
        if let Some((meter, bar_pos)) = t.bar {
            self.correct_bar(meter, bar_pos + ahead * self.bpm / 60.0, now);
        }
    }

    /// Aligns the beat of the bar with the estimate's (`bar_now` in beats, `0..meter`).
    fn correct_bar(&mut self, meter: usize, bar_now: f64, now: f64) {
        let meter = meter.max(1);
        let whole = self.pos.round() as i64;
        // The estimate's beat of the bar for the beat nearest now.
        let want = (bar_now - (self.pos - whole as f64)).round() as i64;
        if meter != self.meter {
            self.meter = meter;
            self.bar_offset = (want - whole).rem_euclid(meter_i64(meter));
            self.bar_pending = None;
            return;
        }
        let have = i64::from(self.beat_in_bar(whole));
        let shift = (want - have).rem_euclid(meter_i64(meter));
        if shift == 0 {
            self.bar_pending = None;
            return;
        }
        let since = match self.bar_pending {
            Some((s, since)) if s == shift => since,
            _ => now,
        };
        if now - since >= HOLD_SECS {
            self.bar_offset += shift;
            self.bar_pending = None;
        } else {
            self.bar_pending = Some((shift, since));
        }
    }

    /// A tap at stream time `at_secs`: two or more taps less than 1.5 of the longest period
    /// apart set the tempo (their mean interval) and hold it; each tap also puts a beat there.
    pub(crate) fn tap(&mut self, at_secs: f64) {
        let max_period = 60.0 / self.min_bpm;
        if let Some(&last) = self.taps.last() {
            let gap = at_secs - last;
            if gap < 0.5 * 60.0 / self.max_bpm {
                return;
            }
            if gap > 1.5 * max_period {
                self.taps.clear();
            }
        }
        if self.taps.len() == 8 {
            self.taps.remove(0);
        }
        self.taps.push(at_secs);
        if let (Some(&first), Some(&last)) = (self.taps.first(), self.taps.last())
            && self.taps.len() >= 2
        {
            let mean = (last - first) / (self.taps.len() - 1) as f64;
            self.bpm = (60.0 / mean).clamp(self.min_bpm, self.max_bpm);
            self.tapped = true;
        }
        self.put_beat(at_secs, false);
    }

    /// A beat, the first of a bar, falls at stream time `at_secs`: the phase restarts there
    /// and that beat becomes the downbeat; the tempo stays.
    pub(crate) fn resync(&mut self, at_secs: f64) {
        self.put_beat(at_secs, true);
    }

    fn put_beat(&mut self, at_secs: f64, downbeat: bool) {
        let since = ((self.now - at_secs).max(0.0) * self.bpm / 60.0).min(0.999);
        let beat = self.pos.floor() as i64;
        self.pos = beat as f64 + since;
        self.fired = beat;
        self.fired_at = at_secs;
        // The phase is known now: the tracker's estimates correct it from here, they do not
        // replace it.
        self.locked = true;
        if downbeat {
            self.bar_offset = (-beat).rem_euclid(meter_i64(self.meter));
        }
        self.phase_pending = None;
    }

    /// Forgets a tapped tempo; the tracker's tempo takes over at its next estimate.
    pub(crate) fn clear_tap(&mut self) {
        self.taps.clear();
        self.tapped = false;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOP: f64 = 256.0 / 48_000.0;

    fn target(at: f64, bpm: f64, phase: f64, bar: Option<(usize, f64)>) -> Target {
        Target {
            at_secs: at,
            bpm,
            phase,
            gain: 0.3,
            bar,
            confidence: 0.9,
        }
    }

    #[test]
    fn follows_estimates_and_fires_predicted_beats() {
        let mut c = BeatClock::new([60.0, 180.0], 0.25);
        let mut beats = Vec::new();
        let mut downbeats = Vec::new();
        let mut t = 0.0;
        // Truth: 125 BPM, beats at 0.1 + k * 0.48 s, downbeat on beat 0.
        let truth = |t: f64| ((t - 0.1) / 0.48).rem_euclid(1.0);
        let bar = |t: f64| ((t - 0.1) / 0.48).rem_euclid(4.0);
        for hop in 0..(10.0 / HOP) as usize {
            t = (hop + 1) as f64 * HOP;
            let s = c.advance(t, true);
            if s.beat {
                beats.push(t);
            }
            if s.downbeat {
                downbeats.push(t);
            }
            // An estimate every 20 ms about the moment 32 ms ago.
            if hop % 4 == 0 && t > 0.05 {
                let at = t - 0.032;
                c.correct(&target(at, 125.0, truth(at), Some((4, bar(at)))));
            }
        }
        let _ = t;
        // After the first second every beat is within a hop of the truth.
        for b in beats.iter().filter(|&&b| b > 1.0) {
            let err = (b - 0.1) / 0.48 - ((b - 0.1) / 0.48).round();
            assert!(err.abs() * 0.48 <= HOP + 1e-9, "beat at {b}: {err}");
        }
        assert!(beats.len() >= 18, "{beats:?}");
        for d in downbeats.iter().filter(|&&d| d > 1.0) {
            let k = ((d - 0.1) / 0.48).round() as i64;
            assert_eq!(k % 4, 0, "downbeat at {d}");
        }
        assert!(downbeats.len() >= 4);
    }

    #[test]
    fn one_odd_estimate_does_not_move_the_beat() {
        let mut c = BeatClock::new([60.0, 180.0], 0.25);
        c.advance(0.1, true);
        c.correct(&target(0.1, 120.0, 0.0, None));
        let before = c.advance(0.11, true).phase;
        c.correct(&target(0.11, 120.0, 0.5 + f64::from(before), None));
        let after = c.advance(0.12, true).phase;
        assert!((after - before - 0.02).abs() < 0.005, "{before} -> {after}");
    }

    #[test]
    fn taps_hold_the_tempo_and_resync_marks_the_one() {
        let mut c = BeatClock::new([60.0, 180.0], 0.25);
        c.advance(1.0, true);
        c.tap(1.0);
        c.advance(1.6, true);
        c.tap(1.6);
        c.advance(2.2, true);
        c.tap(2.2);
        assert!((c.bpm() - 100.0).abs() < 1e-9);
        assert!(c.tapped());
        // The audio says 130: ignored while the tap holds.
        c.correct(&target(2.2, 130.0, 0.3, None));
        assert!((c.bpm() - 100.0).abs() < 1e-9);
        c.resync(2.2);
        let s = c.advance(2.21, true);
        assert_eq!(s.beat_in_bar, 0);
        let mut fired = Vec::new();
        for i in 1..200 {
            let t = 2.21 + f64::from(i) * 0.01;
            let s = c.advance(t, true);
            if s.beat {
                fired.push((t, s.downbeat, s.beat_in_bar));
            }
        }
        // Beats 0.6 s apart from the resync at 2.2: 2.8, 3.4, 4.0 with beat_in_bar 1, 2, 3.
        assert_eq!(fired.len(), 3, "{fired:?}");
        assert!((fired[0].0 - 2.8).abs() < 0.011);
        assert_eq!(fired[2].2, 3);
        c.clear_tap();
        assert!(!c.tapped());
    }
}
