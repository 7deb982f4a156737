//! Where the beat globals come from (docs/tempo.md): the audio analysis' tracker (the
//! default; taps and resyncs steer it), MIDI clock, an Ableton Link session, or tapped tempo
//! alone. An external source hands a [`Tempo`] (bpm, position in beats, running); this file
//! turns it into the same fields the audio tracker writes (`beat` and `downbeat` pulses with
//! their counts, `bpm`, `beat_phase`, `bar_phase`, `beat_in_bar`, 4 beats to the bar), so
//! shaders, models and modulation see one set of beat globals whatever the source.
//!
//! While the chosen source says nothing (no clock heard, no Link peer, no tap yet), the audio
//! tracker's values stay (or nothing, without audio).

use crate::audio::AudioFeatures;
use crate::midi::Tempo;
use crate::scene::midi::BeatSource;

/// Beats per bar of external sources (MIDI clock and Link's quantum count in quarter notes).
const BEATS_PER_BAR: u32 = 4;
/// Taps further apart than this start a new tempo.
const TAP_RESET_SECS: f64 = 2.0;
/// Tap intervals averaged.
const TAP_INTERVALS: usize = 4;

/// Tapped tempo: the mean of the last intervals, the phase anchored on the newest tap.
#[derive(Debug, Clone, Default)]
pub(super) struct TapTempo {
    /// Recent tap times (seconds), oldest first.
    taps: Vec<f64>,
    bpm: Option<f64>,
    /// Position (beats) at `anchor_secs`.
    anchor: (f64, f64),
}

impl TapTempo {
    /// A tap at `secs`: it lands on a whole beat.
    pub(super) fn tap(&mut self, secs: f64) {
        if self
            .taps
            .last()
            .is_some_and(|t| secs - t > TAP_RESET_SECS || secs < *t)
        {
            self.taps.clear();
        }
        let beat = self.tempo(secs).map_or(0.0, |t| t.beats.round());
        self.taps.push(secs);
        if self.taps.len() > TAP_INTERVALS + 1 {
            self.taps.remove(0);
        }
        if let (Some(first), Some(last)) = (self.taps.first(), self.taps.last())
            && self.taps.len() >= 2
        {
            let interval = (last - first) / (self.taps.len() - 1) as f64;
            if interval > 0.0 {
                self.bpm = Some((60.0 / interval).clamp(20.0, 400.0));
            }
        }
        self.anchor = (beat, secs);
    }

    /// Tempo and position at `secs`, once two taps gave a tempo.
    pub(super) fn tempo(&self, secs: f64) -> Option<Tempo> {
        let bpm = self.bpm?;
        let (beat, at) = self.anchor;
        Some(Tempo {
            bpm,
            beats: beat + (secs - at).max(0.0) * bpm / 60.0,
            running: true,
        })
    }
}

/// The beat globals from an external source; see the module docs.
pub(super) struct Beats {
    pub(super) source: BeatSource,
    pub(super) tap: TapTempo,
    decay_secs: f32,
    /// The last whole beat seen, and when the last beat and downbeat fired.
    last_beat: Option<i64>,
    beat_at: f64,
    downbeat_at: f64,
    beat_count: u64,
    downbeat_count: u64,
    /// This frame's beat came from the external source.
    pub(super) active: bool,
}

impl Beats {
    pub(super) fn new(source: BeatSource, decay_secs: f32) -> Self {
        Self {
            source,
            tap: TapTempo::default(),
            decay_secs: decay_secs.max(1e-3),
            last_beat: None,
            beat_at: f64::NEG_INFINITY,
            downbeat_at: f64::NEG_INFINITY,
            beat_count: 0,
            downbeat_count: 0,
            active: false,
        }
    }

    /// Writes the beat fields of `f` from `tempo` at frame time `secs`.
    pub(super) fn write(&mut self, tempo: Tempo, secs: f64, f: &mut AudioFeatures) {
        let whole = tempo.beats.floor();
        let k = whole as i64;
        if tempo.running && self.last_beat.is_some_and(|last| last != k) {
            self.beat_count += 1;
            self.beat_at = secs;
            if k.rem_euclid(i64::from(BEATS_PER_BAR)) == 0 {
                self.downbeat_count += 1;
                self.downbeat_at = secs;
            }
        }
        self.last_beat = Some(k);
        let pulse = |at: f64| (-((secs - at).max(0.0)) / f64::from(self.decay_secs)).exp() as f32;
        let in_bar = tempo.beats.rem_euclid(f64::from(BEATS_PER_BAR));
        f.beat = pulse(self.beat_at);
        f.beat_count = self.beat_count;
        f.downbeat = pulse(self.downbeat_at);
        f.downbeat_count = self.downbeat_count;
        f.bpm = tempo.bpm as f32;
        f.bpm_confidence = if tempo.running { 1.0 } else { 0.5 };
        f.beat_phase = (tempo.beats - whole) as f32;
        f.beat_in_bar = (in_bar.floor() as u32).min(BEATS_PER_BAR - 1);
        f.beats_per_bar = BEATS_PER_BAR;
        f.bar_phase = (in_bar / f64::from(BEATS_PER_BAR)) as f32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tapped_tempo_lands_beats_on_taps() {
        let mut t = TapTempo::default();
        assert!(t.tempo(0.0).is_none());
        for k in 0..4 {
            t.tap(10.0 + 0.5 * f64::from(k));
        }
        let at = t.tempo(11.5).unwrap();
        assert!(
            (at.bpm - 120.0).abs() < 1e-9 && at.beats.fract().abs() < 1e-9,
            "{at:?}"
        );
        assert!((t.tempo(11.75).unwrap().beats.fract() - 0.5).abs() < 1e-9);
        // A pause starts over: the old tempo holds until two new taps give a new one.
        t.tap(20.0);
        assert!((t.tempo(20.0).unwrap().bpm - 120.0).abs() < 1e-9);
        t.tap(21.0);
        assert!((t.tempo(21.0).unwrap().bpm - 60.0).abs() < 1e-9);
    }

    #[test]
    fn external_tempo_becomes_the_beat_globals() {
        let mut b = Beats::new(BeatSource::Midi, 0.1);
        let mut f = AudioFeatures::silent(0, 4);
        let mut beats_seen = 0;
        let mut downbeats_seen = 0;
        // 120 BPM at 100 frames a second for 4.2 s: positions 0..8.4 beats.
        for frame in 0..=420u32 {
            let secs = f64::from(frame) / 100.0;
            let tempo = Tempo {
                bpm: 120.0,
                beats: secs * 2.0,
                running: true,
            };
            let before = (f.beat_count, f.downbeat_count);
            b.write(tempo, secs, &mut f);
            beats_seen += usize::from(f.beat_count != before.0);
            downbeats_seen += usize::from(f.downbeat_count != before.1);
            if frame == 125 {
                // 2.5 beats: the middle of the third beat of the bar.
                assert!((f.beat_phase - 0.5).abs() < 1e-6, "{}", f.beat_phase);
                assert_eq!(f.beat_in_bar, 2);
                assert!((f.bar_phase - 0.625).abs() < 1e-6);
                assert!((f.beat - (-0.25f32 / 0.1).exp()).abs() < 1e-4, "{}", f.beat);
            }
        }
        assert_eq!(beats_seen, 8, "beats 1..=8");
        assert_eq!(downbeats_seen, 2, "beats 4 and 8");
        assert!((f.bpm - 120.0).abs() < 1e-6 && f.beats_per_bar == 4);
        // Stopped: the position holds and no beat fires.
        let count = f.beat_count;
        b.write(
            Tempo {
                bpm: 120.0,
                beats: 8.4,
                running: false,
            },
            5.0,
            &mut f,
        );
        assert_eq!(f.beat_count, count);
    }
}
