//! MIDI clock in: tempo from the spacing of 24-per-quarter-note clocks, position from
//! start / continue / stop and the song position pointer, and the beat position between two
//! clocks extrapolated at the measured tempo. The result is a [`Tempo`], the same shape every
//! external beat source hands the runtime (docs/tempo.md).
//!
//! The tempo is the mean clock interval over the last [`WINDOW`] clocks (about two beats),
//! which filters the jitter of USB and of software senders without lagging a tempo change by
//! more than those two beats. As the MIDI spec says, the clock after a Start (or Continue)
//! plays the first tick at the song position; clocks while stopped measure the tempo but do
//! not move the position.

use std::time::{Duration, Instant};

/// Clocks per quarter note.
pub const PPQN: u32 = 24;
/// Clock intervals averaged for the tempo.
const WINDOW: usize = 48;
/// No clock for this long: the clock is gone (the tempo is forgotten).
const LOST_AFTER: Duration = Duration::from_secs(2);
/// Tempi outside this range are not believed (a burst or a stall).
const BPM_RANGE: [f64; 2] = [20.0, 400.0];

/// Tempo and position from an external source at one instant.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tempo {
    /// Beats per minute.
    pub bpm: f64,
    /// Position in beats (quarter notes) since the start of the song; its fraction is the
    /// beat phase.
    pub beats: f64,
    /// Whether the transport is playing (a stopped clock keeps its position).
    pub running: bool,
}

/// The clock follower; feed it every clock-related message with its arrival time.
#[derive(Debug, Clone)]
pub struct MidiClock {
    /// Arrival times of the newest clocks, oldest first (a ring of `WINDOW + 1`).
    times: [Option<Instant>; WINDOW + 1],
    /// Index of the newest entry in `times`.
    newest: usize,
    /// Clock ticks since the song start (the position).
    ticks: u64,
    running: bool,
    /// The next clock plays the current position (after Start or Continue).
    hold_next: bool,
}

impl Default for MidiClock {
    fn default() -> Self {
        Self::new()
    }
}

impl MidiClock {
    /// A clock that has heard nothing.
    #[must_use]
    pub fn new() -> Self {
        Self {
            times: [None; WINDOW + 1],
            newest: 0,
            ticks: 0,
            running: false,
            hold_next: false,
        }
    }

    /// A timing clock arrived at `at`.
    pub fn clock(&mut self, at: Instant) {
        // A clock after a long gap starts a new measurement (the old one would average the gap).
        if let Some(last) = self.times[self.newest]
            && at.saturating_duration_since(last) > LOST_AFTER
        {
            self.times = [None; WINDOW + 1];
        }
        self.newest = (self.newest + 1) % self.times.len();
        self.times[self.newest] = Some(at);
        if self.running {
            if self.hold_next {
                self.hold_next = false;
            } else {
                self.ticks += 1;
            }
        }
    }

    /// Start: the song plays from its beginning with the next clock.
    pub fn start(&mut self) {
        self.ticks = 0;
        self.running = true;
        self.hold_next = true;
    }

    /// Continue: the song plays on from the current position with the next clock.
    pub fn resume(&mut self) {
        self.running = true;
        self.hold_next = true;
    }

    /// Stop: the position holds.
    pub fn stop(&mut self) {
        self.running = false;
    }

    /// Song position pointer: `sixteenths` from the start (6 clocks each).
    pub fn song_position(&mut self, sixteenths: u16) {
        self.ticks = u64::from(sixteenths) * 6;
    }

    /// The mean clock interval over the window, once two clocks are known.
    fn interval_secs(&self) -> Option<f64> {
        let newest = self.times[self.newest]?;
        let n = self.times.len();
        // Walk back to the oldest known entry.
        let mut oldest = (newest, 0usize);
        for k in 1..n {
            match self.times[(self.newest + n - k) % n] {
                Some(t) => oldest = (t, k),
                None => break,
            }
        }
        let (t0, count) = oldest;
        (count > 0).then(|| newest.saturating_duration_since(t0).as_secs_f64() / count as f64)
    }

    /// Tempo and position at `now`, or `None` while no tempo is known (fewer than two clocks,
    /// or none for two seconds).
    #[must_use]
    pub fn tempo(&self, now: Instant) -> Option<Tempo> {
        let last = self.times[self.newest]?;
        let since = now.saturating_duration_since(last);
        if since > LOST_AFTER {
            return None;
        }
        let interval = self.interval_secs().filter(|i| *i > 0.0)?;
        let bpm = 60.0 / (interval * f64::from(PPQN));
        if !(BPM_RANGE[0]..=BPM_RANGE[1]).contains(&bpm) {
            return None;
        }
        // Between clocks the position runs on at the tempo, never past the next clock (a late
        // clock must not make the phase jump back).
        let ahead = if self.running && !self.hold_next {
            (since.as_secs_f64() / interval).min(1.0)
        } else {
            0.0
        };
        Some(Tempo {
            bpm,
            beats: (self.ticks as f64 + ahead) / f64::from(PPQN),
            running: self.running,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Clocks at `bpm` from `t0`: the arrival time of clock `k`.
    fn at(t0: Instant, bpm: f64, k: u32) -> Instant {
        t0 + Duration::from_secs_f64(f64::from(k) * 60.0 / (bpm * f64::from(PPQN)))
    }

    #[test]
    fn tempo_and_position_follow_the_clock() {
        let t0 = Instant::now();
        let mut c = MidiClock::new();
        assert_eq!(c.tempo(t0), None);
        c.start();
        for k in 0..=48 {
            c.clock(at(t0, 128.0, k));
        }
        let t = c.tempo(at(t0, 128.0, 48)).unwrap();
        assert!((t.bpm - 128.0).abs() < 1e-6, "{t:?}");
        // The first clock after Start is tick 0: 48 more clocks are two beats.
        assert!((t.beats - 2.0).abs() < 1e-9, "{t:?}");
        assert!(t.running);
        // Half a clock later the position runs on by half a tick, and stops at one tick.
        let half =
            c.tempo(at(t0, 128.0, 48) + Duration::from_secs_f64(0.5 * 60.0 / (128.0 * 24.0)));
        assert!((half.unwrap().beats - (2.0 + 0.5 / 24.0)).abs() < 1e-6);
        let late = c.tempo(at(t0, 128.0, 60)).unwrap();
        assert!((late.beats - (2.0 + 1.0 / 24.0)).abs() < 1e-9, "{late:?}");
    }

    #[test]
    fn jitter_is_averaged_and_a_tempo_change_is_followed() {
        let t0 = Instant::now();
        let mut c = MidiClock::new();
        c.start();
        // +-1 ms of jitter on every clock at 120 BPM (20.8 ms apart).
        for k in 0..=96u32 {
            let jitter = if k % 2 == 0 { 0.001 } else { -0.001 };
            c.clock(at(t0, 120.0, k) + Duration::from_secs_f64(0.002 + jitter));
        }
        let t = c.tempo(at(t0, 120.0, 96)).unwrap();
        assert!((t.bpm - 120.0).abs() < 0.2, "{t:?}");
        // Then 90 BPM: after a full window the tempo is 90.
        // Clock 96 arrived 3 ms late (its offset above).
        let t1 = at(t0, 120.0, 96) + Duration::from_secs_f64(0.003);
        for k in 1..=48 {
            c.clock(at(t1, 90.0, k));
        }
        let t = c.tempo(at(t1, 90.0, 48)).unwrap();
        assert!((t.bpm - 90.0).abs() < 1e-6, "{t:?}");
    }

    #[test]
    fn stop_continue_and_song_position() {
        let t0 = Instant::now();
        let mut c = MidiClock::new();
        c.start();
        for k in 0..=24 {
            c.clock(at(t0, 120.0, k));
        }
        c.stop();
        for k in 25..=48 {
            c.clock(at(t0, 120.0, k));
        }
        let t = c.tempo(at(t0, 120.0, 48)).unwrap();
        assert!(!t.running && (t.beats - 1.0).abs() < 1e-9, "{t:?}");
        // Song position 16 sixteenths = 4 beats; continue plays from there.
        c.song_position(16);
        c.resume();
        c.clock(at(t0, 120.0, 49));
        assert!((c.tempo(at(t0, 120.0, 49)).unwrap().beats - 4.0).abs() < 1e-9);
        c.clock(at(t0, 120.0, 50));
        assert!((c.tempo(at(t0, 120.0, 50)).unwrap().beats - (4.0 + 1.0 / 24.0)).abs() < 1e-9);
        // Start goes back to 0.
        c.start();
        c.clock(at(t0, 120.0, 51));
        assert!(c.tempo(at(t0, 120.0, 51)).unwrap().beats.abs() < 1e-9);
        // Silence: the clock is lost.
        assert_eq!(c.tempo(at(t0, 120.0, 51) + Duration::from_secs(3)), None);
    }
}
